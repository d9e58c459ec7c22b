//! JSON strings that are compared *decoded*, without copying.
//!
//! `serde-json-core` hands strings back as the raw text between the quotes, escapes
//! included. [`JsonStr`] keeps that raw slice, checks its escapes once when it is parsed
//! (surrogate pairs included, which `serde-json-core`'s own decoder rejects), and decodes
//! lazily whenever it is compared or copied out. So `"al\u0069ce"` equals `"alice"`, and
//! comparing never looks at raw escape text.

use core::fmt;

use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json_core::str::EscapedStr;

/// A JSON string: either plain text, or raw JSON text with (validated) escapes.
#[derive(Clone, Copy)]
pub struct JsonStr<'a> {
    raw: &'a str,
    /// 1 when `raw` has escapes, else 0. A word, not a `bool`: a `bool` would lend its spare
    /// values to `Option<JsonStr>` and `Result<Option<JsonStr>, _>` as their tags, which puts
    /// those tags in a byte the 8-byte copies of a scanned value read back just after it was
    /// written byte by byte (a store-forwarding stall on every claim, #26). With no spare
    /// values here, `Option` uses the pointer's null instead.
    escaped: usize,
}

impl<'a> JsonStr<'a> {
    /// Wraps plain text (it is escaped when serialized).
    pub const fn new(text: &'a str) -> Self {
        JsonStr {
            raw: text,
            escaped: 0,
        }
    }

    /// Wraps the raw text between a JSON string's quotes, validating its escapes.
    ///
    /// # Errors
    /// `None` when an escape is invalid (unknown escape, bad hex, lone surrogate) or the text
    /// holds a raw control character or quote.
    pub fn from_raw_json(raw: &'a str) -> Option<Self> {
        if needs_no_escaping(raw) {
            return Some(JsonStr { raw, escaped: 0 });
        }
        let it = Chars {
            rest: raw.as_bytes(),
            raw,
        };
        for c in it {
            c.ok()?;
        }
        Some(JsonStr { raw, escaped: 1 })
    }

    /// The text, when it needed no decoding (the common case). `None` when it has escapes.
    pub(crate) fn as_plain(&self) -> Option<&'a str> {
        if self.escaped != 0 {
            None
        } else {
            Some(self.raw)
        }
    }

    /// The text as stored: raw JSON string content when it was read with escapes, else plain.
    #[cfg(feature = "sign")]
    pub(crate) fn raw(&self) -> &'a str {
        self.raw
    }

    /// The text to put between quotes as it is: raw JSON with (checked) escapes, or plain text
    /// that needs none. `None` when plain text must be escaped first.
    #[cfg(feature = "sign")]
    pub(crate) fn raw_if_writable(&self) -> Option<&'a str> {
        (self.escaped != 0 || needs_no_escaping(self.raw)).then_some(self.raw)
    }

    /// Whether the JSON text had escape sequences.
    #[cfg(test)]
    pub(crate) fn is_escaped(&self) -> bool {
        self.escaped != 0
    }

    /// The decoded characters.
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        let escaped = self.escaped != 0;
        let mut it = Chars {
            rest: self.raw.as_bytes(),
            raw: self.raw,
        };
        let mut plain = self.raw.chars();
        core::iter::from_fn(move || {
            if escaped {
                it.next().and_then(Result::ok)
            } else {
                plain.next()
            }
        })
    }

    /// Decoded length in bytes of UTF-8.
    pub fn decoded_len(&self) -> usize {
        if self.escaped != 0 {
            self.chars().map(char::len_utf8).sum()
        } else {
            self.raw.len()
        }
    }

    /// Decodes into `buf` and returns the text; borrows the input when nothing is escaped.
    ///
    /// # Errors
    /// `None` when `buf` is too small for the decoded text.
    pub fn decode_into<'b>(&self, buf: &'b mut [u8]) -> Option<&'b str>
    where
        'a: 'b,
    {
        if self.escaped == 0 {
            return Some(self.raw);
        }
        let mut at = 0usize;
        for c in self.chars() {
            let end = at.checked_add(c.len_utf8())?;
            let dst = buf.get_mut(at..end)?;
            c.encode_utf8(dst);
            at = end;
        }
        core::str::from_utf8(buf.get(..at)?).ok()
    }

    /// Compares the decoded text with `other`, ASCII case-insensitively.
    pub fn eq_ignore_ascii_case(&self, other: &str) -> bool {
        let mut theirs = other.chars();
        for c in self.chars() {
            match theirs.next() {
                Some(o) if o.eq_ignore_ascii_case(&c) => {}
                _ => return false,
            }
        }
        theirs.next().is_none()
    }
}

impl PartialEq<str> for JsonStr<'_> {
    fn eq(&self, other: &str) -> bool {
        match self.as_plain() {
            Some(p) => p == other,
            None => self.chars().eq(other.chars()),
        }
    }
}

impl PartialEq<&str> for JsonStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl PartialEq for JsonStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self.as_plain(), other.as_plain()) {
            (Some(a), Some(b)) => a == b,
            _ => self.chars().eq(other.chars()),
        }
    }
}

impl Eq for JsonStr<'_> {}

impl fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.chars() {
            fmt::Display::fmt(&c.escape_debug(), f)?;
        }
        f.write_str("\"")
    }
}

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.chars() {
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

/// Whether `s` can stand between JSON quotes as it is: no `"`, `\\` or control character.
/// Branch-free over the bytes so it vectorizes.
#[cfg_attr(target_pointer_width = "64", inline(always))]
pub(crate) fn needs_no_escaping(s: &str) -> bool {
    !s.bytes().fold(false, |bad, b| {
        bad | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

impl Serialize for JsonStr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // `EscapedStr` is a newtype: serde-json-core copies its content between quotes as it
        // is (no per-character escaping, the slow part of signing), and any other serializer
        // serializes the inner `&str` normally. So it is the right call both for raw JSON
        // text that already has its escapes and for plain text that needs none.
        if self.escaped != 0 || needs_no_escaping(self.raw) {
            EscapedStr(self.raw).serialize(s)
        } else {
            s.serialize_str(self.raw)
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for JsonStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `EscapedStr` borrows the raw text even when an unescape buffer is in use.
        let raw = EscapedStr::deserialize(d)?;
        JsonStr::from_raw_json(raw.0).ok_or_else(|| de::Error::custom("invalid string escape"))
    }
}

/// Decoding iterator over raw JSON string content. Yields `Err(())` on a bad escape.
struct Chars<'a> {
    rest: &'a [u8],
    raw: &'a str,
}

impl Chars<'_> {
    fn hex4(&mut self) -> Option<u32> {
        let (digits, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        let mut v = 0u32;
        for d in digits {
            let n = char::from(*d).to_digit(16)?;
            v = (v << 4) | n;
        }
        Some(v)
    }

    fn escape(&mut self) -> Option<char> {
        let (&e, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                if (0xD800..0xDC00).contains(&hi) {
                    let (pfx, rest) = self.rest.split_first_chunk::<2>()?;
                    if pfx != b"\\u" {
                        return None;
                    }
                    self.rest = rest;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    // Ranges checked above: the result is at most 0x10FFFF.
                    let c = 0x10000u32
                        .wrapping_add(hi.wrapping_sub(0xD800) << 10)
                        .wrapping_add(lo.wrapping_sub(0xDC00));
                    char::from_u32(c)?
                } else {
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        })
    }
}

impl Iterator for Chars<'_> {
    type Item = Result<char, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        let &first = self.rest.first()?;
        if first == b'\\' {
            self.rest = self.rest.get(1..).unwrap_or_default();
            return Some(self.escape().ok_or(()));
        }
        if first < 0x20 || first == b'"' {
            self.rest = &[];
            return Some(Err(()));
        }
        // `rest` always starts at a char boundary of `raw`.
        let offset = self.raw.len().saturating_sub(self.rest.len());
        let c = self.raw.get(offset..).and_then(|s| s.chars().next())?;
        self.rest = self.rest.get(c.len_utf8()..).unwrap_or_default();
        Some(Ok(c))
    }
}

/// Writing JSON text to an `embedded_io::Write` (the responses and the contract's bodies).
#[cfg(feature = "flow")]
mod write {
    use embedded_io::Write;

    use crate::error::EncodeError;

    /// Writes `bytes`, mapping the writer's error.
    pub(crate) fn put<W: Write>(w: &mut W, bytes: &[u8]) -> Result<(), EncodeError> {
        w.write_all(bytes)
            .map_err(|e| EncodeError::Write(embedded_io::Error::kind(&e)))
    }

    /// Writes `s` as a JSON string literal, quotes included: `"`, `\` and control characters are
    /// escaped; everything else is written as UTF-8.
    ///
    /// # Errors
    /// [`EncodeError::Write`].
    pub fn write_json_str<W: Write>(s: &str, w: &mut W) -> Result<(), EncodeError> {
        put(w, b"\"")?;
        let bytes = s.as_bytes();
        let mut start = 0usize;
        for (i, &b) in bytes.iter().enumerate() {
            let esc: Option<&[u8]> = match b {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0..=0x1f => None,
                _ => continue,
            };
            put(w, bytes.get(start..i).unwrap_or_default())?;
            match esc {
                Some(e) => put(w, e)?,
                None => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let u = [
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
                        HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'),
                    ];
                    put(w, &u)?;
                }
            }
            start = i.saturating_add(1);
        }
        put(w, bytes.get(start..).unwrap_or_default())?;
        put(w, b"\"")
    }
}
#[cfg(feature = "flow")]
pub(crate) use write::put;
#[cfg(feature = "flow")]
pub use write::write_json_str;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_surrogate_pairs() {
        let s = JsonStr::from_raw_json(r"al\u0069ce").unwrap();
        assert!(s.is_escaped());
        assert_eq!(s, "alice");
        assert_ne!(s, r"al\u0069ce");
        let emoji = JsonStr::from_raw_json(r"\ud83d\ude00 \/ \n").unwrap();
        assert_eq!(emoji, "\u{1F600} / \n");
        let mut buf = [0u8; 16];
        assert_eq!(emoji.decode_into(&mut buf), Some("\u{1F600} / \n"));
        assert_eq!(emoji.decoded_len(), 8);
        assert_eq!(emoji.decode_into(&mut [0u8; 3]), None);
    }

    #[test]
    fn compares_decoded_and_unequal_when_the_text_differs() {
        let raw = |s| JsonStr::from_raw_json(s).unwrap();
        // Plain against plain, escaped against plain, escaped against escaped.
        assert_eq!(raw("alice"), raw("alice"));
        assert_ne!(raw("alice"), raw("alicf"));
        assert_ne!(raw("alice"), raw("alic"));
        assert_eq!(raw(r"al\u0069ce"), raw("alice"));
        assert_ne!(raw(r"al\u0069ce"), raw("alide"));
        assert_eq!(raw(r"\u0061"), raw(r"\u0061"));
        assert_ne!(raw(r"\u0061"), raw(r"\u0062"));
        // Case-insensitively (a header's `typ`): ASCII case only, every character, same length.
        assert!(raw("jWt").eq_ignore_ascii_case("JWT"));
        assert!(raw(r"\u006Awt").eq_ignore_ascii_case("JWT"));
        assert!(!raw("JWS").eq_ignore_ascii_case("JWT"));
        assert!(!raw("XWT").eq_ignore_ascii_case("JWT"));
        assert!(!raw("JW").eq_ignore_ascii_case("JWT") && !raw("JWTS").eq_ignore_ascii_case("JWT"));
    }

    #[test]
    fn rejects_bad_escapes() {
        for bad in [
            r"\x", r"\u12", r"\uZZZZ", r"\ud83d", r"\ud83dx", r"\ude00", "a\\", "\u{1}", "a\"b",
        ] {
            assert!(JsonStr::from_raw_json(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn serializes_plain_text_with_and_without_escapes() {
        for (text, json) in [
            ("alice", r#""alice""#),
            ("a\"b\\c\n\u{1}", r#""a\"b\\c\n\u0001""#),
            ("ünï 😀 /", "\"ünï 😀 /\""),
        ] {
            let mut out = [0u8; 64];
            let n = serde_json_core::to_slice(&JsonStr::new(text), &mut out).unwrap();
            assert_eq!(core::str::from_utf8(&out[..n]).unwrap(), json);
            let back = JsonStr::from_raw_json(&json[1..json.len() - 1]).unwrap();
            assert_eq!(back, *text);
        }
    }

    #[test]
    fn case_insensitive_compare() {
        assert!(JsonStr::new("jwt").eq_ignore_ascii_case("JWT"));
        assert!(
            JsonStr::from_raw_json(r"J\u0057T")
                .unwrap()
                .eq_ignore_ascii_case("jwt")
        );
        assert!(!JsonStr::new("JW").eq_ignore_ascii_case("JWT"));
        assert!(!JsonStr::new("JWTX").eq_ignore_ascii_case("JWT"));
    }
}
