//! The config file (#25 item 1): `--config PATH` (`AUTH_CONFIG`), TOML, one key per `serve`
//! option, named like its long option in snake_case (`token_ttl = 2700`); lists are arrays.
//!
//! The file is read before the real parse and its values are appended to the command line as
//! `--long=value`, only for options the command line and the environment left at their default.
//! So the precedence is clap's own (command line > environment > file > default), and each
//! value from the file goes through the same value parser as its flag. Every value is checked
//! here first, so an unknown key or a wrong value is one line naming the file, the line and the
//! key (exit 2). The reference file (`config example`) is generated from the same clap
//! definitions as `--help`, so it cannot drift from them.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, CommandFactory as _};
use toml::de::{DeTable, DeValue};

use crate::cli::Cli;

/// The largest config file read: a reference file with every key is about 12 KiB.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;

/// Options that are not keys: the file's own path, and clap's.
const NOT_KEYS: [&str; 3] = ["config", "help", "version"];

/// The command line with the config file's values appended, and the ids the file set.
pub struct Merged {
    /// What to parse.
    pub argv: Vec<OsString>,
    /// The keys whose value came from the file, each with its line there.
    pub from_file: BTreeMap<String, usize>,
    /// The file, when one was named.
    pub path: Option<PathBuf>,
}

/// `argv` with the values of the config file its command names, if any.
///
/// # Errors
/// A one-line message naming the file (and the line and key, where there is one).
pub fn merge(argv: Vec<OsString>) -> Result<Merged, String> {
    let cmd = Cli::command();
    let unchanged = |argv| Merged {
        argv,
        from_file: BTreeMap::new(),
        path: None,
    };
    // A command line clap refuses, or --help/--version: clap answers it, as without a file.
    let Ok(matches) = cmd.clone().try_get_matches_from(&argv) else {
        return Ok(unchanged(argv));
    };
    let (leaf, leaf_matches) = leaf(&cmd, &matches);
    let has_config = leaf.get_arguments().any(|a| a.get_id() == "config");
    let path = has_config
        .then(|| leaf_matches.get_one::<PathBuf>("config").cloned())
        .flatten();
    let Some(path) = path else {
        return Ok(unchanged(argv));
    };
    let text = read(&path)?;
    let (extra, from_file) = values(&text, &path, leaf, leaf_matches)?;
    let mut argv = argv;
    argv.extend(extra);
    // Each value through its flag's own parser: a refusal of one the file gave names its line.
    if let Err(e) = cmd.try_get_matches_from(&argv) {
        let long = e.get(ContextKind::InvalidArg).and_then(|v| match v {
            ContextValue::String(s) => s.strip_prefix("--").map(|s| {
                let end = s.find([' ', '=']).unwrap_or(s.len());
                s[..end].to_owned()
            }),
            _ => None,
        });
        let key = long.map(|l| l.replace('-', "_"));
        if let Some((key, line)) = key.and_then(|k| from_file.get_key_value(&k)) {
            return Err(format!(
                "config file {} line {line}: '{key}': {}",
                path.display(),
                first_line(&e)
            ));
        }
    }
    Ok(Merged {
        argv,
        from_file,
        path: Some(path),
    })
}

/// The innermost subcommand clap matched, and its matches.
fn leaf<'a>(
    cmd: &'a clap::Command,
    matches: &'a ArgMatches,
) -> (&'a clap::Command, &'a ArgMatches) {
    let (mut c, mut m) = (cmd, matches);
    while let Some((name, sub)) = m.subcommand() {
        match c.find_subcommand(name) {
            Some(found) => (c, m) = (found, sub),
            None => break,
        }
    }
    (c, m)
}

fn read(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG_FILE + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    if text.len() as u64 > MAX_CONFIG_FILE {
        return Err(format!(
            "config file {} is over {MAX_CONFIG_FILE} bytes",
            path.display()
        ));
    }
    Ok(text)
}

/// The options `serve` takes, which are the file's keys.
fn keys() -> Vec<Arg> {
    let cmd = Cli::command();
    let serve = cmd.find_subcommand("serve").expect("serve is a subcommand");
    serve
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !a.is_hide_set())
        .filter(|a| !NOT_KEYS.contains(&a.get_id().as_str()))
        .cloned()
        .collect()
}

/// The key naming `arg`: its long option in snake_case.
fn key_of(arg: &Arg) -> String {
    arg.get_long().unwrap_or_default().replace('-', "_")
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The arguments the file adds for `leaf`, and the keys they set with their lines.
fn values(
    text: &str,
    path: &Path,
    leaf: &clap::Command,
    leaf_matches: &ArgMatches,
) -> Result<(Vec<OsString>, BTreeMap<String, usize>), String> {
    let file = path.display();
    let table = DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        let message = e.message().lines().next().unwrap_or("").trim();
        format!("config file {file} line {line}: {message}")
    })?;
    let known = keys();
    let mut extra = Vec::new();
    let mut set = BTreeMap::new();
    for (key, value) in table.get_ref() {
        let line = line_of(text, key.span().start);
        let at = |what: String| format!("config file {file} line {line}: {what}");
        let name = key.get_ref().as_ref();
        let Some(arg) = known.iter().find(|a| key_of(a) == name) else {
            return Err(at(format!(
                "unknown key '{name}' (`auth-std-server config example` lists every key)"
            )));
        };
        let words =
            words_of(arg, value.get_ref()).map_err(|want| at(format!("'{name}' takes {want}")))?;
        // The option as this command has it (`user …` commands take only some keys).
        let Some(here) = leaf.get_arguments().find(|a| a.get_id() == arg.get_id()) else {
            continue;
        };
        let source = leaf_matches.value_source(here.get_id().as_str());
        if matches!(source, None | Some(ValueSource::DefaultValue)) {
            let long = here.get_long().unwrap_or_default();
            for w in words {
                extra.push(match w {
                    Some(v) => OsString::from(format!("--{long}={v}")),
                    None => OsString::from(format!("--{long}")),
                });
            }
            set.insert(key_of(here), line);
        }
    }
    Ok((extra, set))
}

/// clap's message, one line, without its `error: `.
fn first_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or("");
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// What a value of `arg` is in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A switch: `true` or `false`.
    Flag,
    /// A whole number.
    Integer,
    /// Text.
    Text,
}

fn kind(arg: &Arg) -> Kind {
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return Kind::Flag;
    }
    let t = arg.get_value_parser().type_id();
    let integers = [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<i64>(),
    ];
    if integers.iter().any(|i| t == *i) {
        Kind::Integer
    } else {
        Kind::Text
    }
}

fn is_list(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// The option's words for `value`: `Some(text)` per value, `None` for a switch that is on
/// (nothing for one that is off). `Err` says what the key takes.
fn words_of(arg: &Arg, value: &DeValue<'_>) -> Result<Vec<Option<String>>, &'static str> {
    let kind = kind(arg);
    if is_list(arg) {
        let Some(items) = value.as_array() else {
            return Err("an array of strings");
        };
        return items
            .iter()
            .map(|v| scalar(Kind::Text, v.get_ref()).ok_or("an array of strings"))
            .map(|r| r.map(Some))
            .collect();
    }
    match (kind, value) {
        (Kind::Flag, DeValue::Boolean(true)) => Ok(vec![None]),
        (Kind::Flag, DeValue::Boolean(false)) => Ok(vec![]),
        (Kind::Flag, _) => Err("true or false"),
        (Kind::Integer, v) => scalar(kind, v).map(|w| vec![Some(w)]).ok_or("an integer"),
        (Kind::Text, v) => scalar(kind, v).map(|w| vec![Some(w)]).ok_or("a string"),
    }
}

/// A scalar of `kind` as the option's text.
fn scalar(kind: Kind, value: &DeValue<'_>) -> Option<String> {
    match (kind, value) {
        (Kind::Text, DeValue::String(s)) => Some(s.to_string()),
        (Kind::Integer, DeValue::Integer(i)) => {
            let n = i64::from_str_radix(i.as_str(), i.radix()).ok()?;
            Some(n.to_string())
        }
        _ => None,
    }
}

/// `config example`: every key, commented out at its default, with its meaning, its default
/// and its environment variable, from the clap definitions `--help` prints.
pub fn example() -> String {
    let mut out = String::from(
        "# auth-std-server config file (TOML). Pass it with --config PATH or AUTH_CONFIG.\n\
         # Every key is a `serve` option's long name in snake_case. The command line, then the\n\
         # environment, win over this file; the built-in default applies when none sets it.\n\
         # Generated by `auth-std-server config example`.\n",
    );
    for arg in keys() {
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let meaning = help.split(". ").next().unwrap_or("").trim_end_matches('.');
        let env = arg
            .get_env()
            .map_or("none".to_owned(), |e| e.to_string_lossy().into_owned());
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        let shown = if defaults.is_empty() {
            "unset".to_owned()
        } else {
            defaults.join(",")
        };
        out.push('\n');
        wrap(&mut out, &format!("{meaning}."));
        let _ = write!(
            out,
            "# default: {shown} · env: {env}\n# {} = {}\n",
            key_of(&arg),
            toml_value(&arg, &defaults)
        );
    }
    out
}

/// `text` as `# ` comment lines of at most 96 characters.
fn wrap(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 96 && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// `arg`'s value as TOML: its default, or a placeholder.
fn toml_value(arg: &Arg, defaults: &[String]) -> String {
    let placeholder = || {
        arg.get_value_names()
            .and_then(|n| n.first())
            .map_or("VALUE".to_owned(), ToString::to_string)
    };
    if is_list(arg) {
        return format!("[\"{}\"]", placeholder());
    }
    match (kind(arg), defaults.first()) {
        (Kind::Flag, _) => "false".to_owned(),
        (Kind::Integer, Some(d)) => d.clone(),
        (Kind::Integer, None) => "1".to_owned(),
        (Kind::Text, Some(d)) => toml_string(d),
        (Kind::Text, None) => toml_string(&placeholder()),
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `config check`: the effective configuration of `matches` (the `config check` subcommand's),
/// one `key = value  # source` line per key, the store URL's password hidden.
pub fn effective(matches: &ArgMatches, merged: &Merged) -> String {
    let mut out = match &merged.path {
        Some(p) => format!("# config file {}: ok\n", p.display()),
        None => "# no config file (--config, AUTH_CONFIG)\n".to_owned(),
    };
    for arg in keys() {
        let id = arg.get_id().as_str();
        let raw: Vec<String> = matches
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let raw = if id == "store" {
            raw.iter().map(|u| shown_store(u)).collect()
        } else {
            raw
        };
        let value = match (is_list(&arg), kind(&arg), raw.first()) {
            (true, _, _) => format!(
                "[{}]",
                raw.iter()
                    .map(|v| toml_string(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (_, _, None) => {
                let _ = writeln!(out, "# {} is unset", key_of(&arg));
                continue;
            }
            (_, Kind::Flag | Kind::Integer, Some(v)) => v.clone(),
            (_, Kind::Text, Some(v)) => toml_string(v),
        };
        let source = source_of(matches, id, merged, &arg);
        let _ = writeln!(out, "{} = {value}  # {source}", key_of(&arg));
    }
    out
}

fn source_of(matches: &ArgMatches, id: &str, merged: &Merged, arg: &Arg) -> String {
    match matches.value_source(id) {
        _ if merged.from_file.contains_key(&key_of(arg)) => "config file".to_owned(),
        Some(ValueSource::CommandLine) => "command line".to_owned(),
        Some(ValueSource::EnvVariable) => arg
            .get_env()
            .map_or("env".to_owned(), |e| format!("env {}", e.to_string_lossy())),
        _ => "default".to_owned(),
    }
}

/// A store URL as logs show it: the password hidden.
fn shown_store(url: &str) -> String {
    url.parse::<crate::store::StoreUrl>()
        .map_or_else(|_| "(not a store URL)".to_owned(), |u| u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_serve_option_is_a_key_of_the_example() {
        let text = example();
        let keys = keys();
        assert!(keys.len() > 30, "{}", keys.len());
        for arg in &keys {
            let line = format!("\n# {} = ", key_of(arg));
            assert!(text.contains(&line), "{} missing", key_of(arg));
            if let Some(env) = arg.get_env() {
                assert!(text.contains(&*env.to_string_lossy()), "{env:?}");
            }
        }
        // Uncommented, the example is a valid config file of defaults and placeholders.
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = "))
            .map(|l| format!("{l}\n"))
            .collect();
        let table = DeTable::parse(&uncommented).unwrap();
        assert_eq!(table.get_ref().len(), keys.len());
    }

    #[test]
    fn kinds_follow_the_value_parsers() {
        let by_key = |k: &str| keys().into_iter().find(|a| key_of(a) == k).unwrap();
        assert_eq!(kind(&by_key("token_ttl")), Kind::Integer);
        assert_eq!(kind(&by_key("no_docs")), Kind::Flag);
        assert_eq!(kind(&by_key("listen")), Kind::Text);
        assert!(is_list(&by_key("trusted_proxy")));
        assert!(is_list(&by_key("scope")));
    }
}
