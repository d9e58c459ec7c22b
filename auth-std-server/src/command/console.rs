//! What `serve` tells the person who started it, besides the log: where it listens, the
//! first-run account, an import of the old users file. On a terminal or in text logs these are
//! plain lines on stdout. With `--log-format json`, stdout carries JSON log lines only (#25
//! item 5: a log shipper reading stdout choked on `Listening on …`): each message is also a
//! JSON log event, and the plain line goes to stderr.

use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// Sets where [`say`] writes: `true` with `--log-format json`.
pub fn set_json(json: bool) {
    JSON.store(json, Ordering::Relaxed);
}

/// Writes `line` for the operator: stdout in text mode, stderr in JSON mode (where the caller
/// logs the same as a JSON event). A closed stream (`config example | head`) is not an error:
/// `println!` panicked on it.
pub fn say(line: &str) {
    use std::io::Write as _;
    let _ = if JSON.load(Ordering::Relaxed) {
        writeln!(std::io::stderr().lock(), "{line}")
    } else {
        writeln!(std::io::stdout().lock(), "{line}")
    };
}
