//! The purpose-written claims writer (#26): JSON straight into base64url, in one pass, no serde.
//!
//! [`ClaimsWriter`] stages the JSON text in a small stack buffer and encodes each full buffer
//! into the token as it goes, so the claims are never held whole. Its output is byte for byte
//! what serde-json-core writes for the same claims (the same member order, the same escapes:
//! `\"` `\\` `\b` `\t` `\n` `\f` `\r`, other control characters as `\u00XX`), which
//! `tests/properties.rs` and the `sign_verify_roundtrip` fuzz target check.

use super::claims::{Audience, Claims, NumericDate};
use crate::b64;
use crate::error::EncodeError;
use crate::json::JsonStr;
use crate::mac::Partial;

/// Staged JSON bytes per base64url step: a multiple of 3, so steps join without padding.
const STAGE: usize = 48;

/// Claims that write themselves with a [`ClaimsWriter`]: [`Claims`], the flow's claims, or
/// your own type. Signing such claims with [`crate::Hs256Key::sign_claims`] links no serde.
///
/// Write each member once; the writer does not check names for duplicates.
pub trait WriteClaims {
    /// Writes the members, in order.
    ///
    /// # Errors
    /// What the writer returns ([`EncodeError::BufferTooSmall`]).
    fn write_claims(&self, w: &mut ClaimsWriter<'_>) -> Result<(), EncodeError>;
}

/// Writes one JSON object's members as base64url into a token buffer. See [`WriteClaims`].
pub struct ClaimsWriter<'o> {
    out: &'o mut [u8],
    /// Where the next base64url character goes.
    at: usize,
    stage: [u8; STAGE],
    staged: usize,
    members: usize,
    full: bool,
    /// HS256: the MAC, fed each whole 64-byte block of the token as soon as it is written, so
    /// the SHA-256 rounds run beside the writing instead of after it (#26).
    /// It has absorbed the first [`Partial::absorbed_len`] bytes of `out` (the header is
    /// written first).
    mac: Option<Partial>,
}

impl<'o> ClaimsWriter<'o> {
    /// A writer whose base64url starts at `out[at]`, after the header; it writes the opening
    /// brace. With `mac`, it hashes the token's whole blocks as it goes.
    #[cfg_attr(target_pointer_width = "64", inline)]
    pub(crate) fn new(out: &'o mut [u8], at: usize, mac: Option<Partial>) -> Self {
        let mut w = ClaimsWriter {
            out,
            at,
            stage: [0; STAGE],
            staged: 0,
            members: 0,
            full: false,
            mac,
        };
        w.put(b"{");
        w
    }

    /// Closes the object and encodes what is staged; returns where the base64url ends, and
    /// what the MAC absorbed.
    #[cfg_attr(target_pointer_width = "64", inline)]
    pub(crate) fn finish(mut self) -> Result<(usize, Option<Partial>), EncodeError> {
        self.put(b"}");
        let staged = self.staged;
        self.flush(staged);
        if self.full {
            return Err(EncodeError::BufferTooSmall);
        }
        Ok((self.at, self.mac))
    }

    /// A string member; `value` is plain text, escaped as needed.
    ///
    /// # Errors
    /// [`EncodeError::BufferTooSmall`] (also reported by the signing call itself).
    pub fn string(&mut self, name: &str, value: &str) -> Result<(), EncodeError> {
        self.json_str(name, JsonStr::new(value))
    }

    /// A string member from a [`JsonStr`], written as it was read (escapes kept) or escaped.
    ///
    /// # Errors
    /// As [`ClaimsWriter::string`].
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn json_str(&mut self, name: &str, value: JsonStr<'_>) -> Result<(), EncodeError> {
        self.name(name);
        self.quoted(value);
        self.status()
    }

    /// A non-negative integer member (a NumericDate, say).
    ///
    /// # Errors
    /// As [`ClaimsWriter::string`].
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn number(&mut self, name: &str, value: u64) -> Result<(), EncodeError> {
        self.name(name);
        self.digits(value);
        self.status()
    }

    fn digits(&mut self, value: u64) {
        // Two digits per division, from a table of "00".."99".
        #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)] // reason: compile-time table; a bad index fails the build
        const PAIRS: [[u8; 2]; 100] = {
            let mut t = [[0u8; 2]; 100];
            let mut i = 0u8;
            while i < 100 {
                t[i as usize] = [b'0' + i / 10, b'0' + i % 10];
                i += 1;
            }
            t
        };
        let pair = |n: u64| PAIRS.get(n as usize).copied().unwrap_or([b'0'; 2]);
        let mut digits = [0u8; 20];
        let mut n = value;
        let mut start = digits.len();
        while n >= 100 {
            start = start.saturating_sub(2);
            let (q, r) = crate::divide::div_rem(n, 100);
            if let Some(d) = digits.get_mut(start..start.saturating_add(2)) {
                d.copy_from_slice(&pair(u64::from(r)));
            }
            n = q;
        }
        if n >= 10 {
            start = start.saturating_sub(2);
            if let Some(d) = digits.get_mut(start..start.saturating_add(2)) {
                d.copy_from_slice(&pair(n));
            }
        } else {
            start = start.saturating_sub(1);
            if let Some(d) = digits.get_mut(start) {
                *d = b'0'.wrapping_add(n as u8);
            }
        }
        self.put(digits.get(start..).unwrap_or_default());
    }

    /// An audience member: a string, or an array for several.
    ///
    /// # Errors
    /// As [`ClaimsWriter::string`].
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn audience(&mut self, name: &str, aud: &Audience<'_>) -> Result<(), EncodeError> {
        self.name(name);
        if aud.is_array() {
            self.put(b"[");
            for (i, a) in aud.iter().enumerate() {
                if i > 0 {
                    self.put(b",");
                }
                self.quoted(a);
            }
            self.put(b"]");
        } else {
            for a in aud.iter() {
                self.quoted(a);
            }
        }
        self.status()
    }

    fn status(&self) -> Result<(), EncodeError> {
        if self.full {
            Err(EncodeError::BufferTooSmall)
        } else {
            Ok(())
        }
    }

    // Inlined into the public members, so that a literal name's escape check and copy fold
    // away at compile time.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn name(&mut self, name: &str) {
        self.comma();
        self.put(b"\"");
        if crate::json::needs_no_escaping(name) {
            self.put(name.as_bytes());
        } else {
            self.escaped(name);
        }
        self.put(b"\":");
    }

    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn comma(&mut self) {
        if self.members > 0 {
            self.put(b",");
        }
        self.members = self.members.saturating_add(1);
    }

    /// A registered member's name, already quoted with its colon (`"sub":`).
    fn key(&mut self, quoted: &[u8]) {
        self.comma();
        self.put(quoted);
    }

    /// A string member under a pre-quoted name.
    pub(crate) fn keyed_str(
        &mut self,
        quoted: &[u8],
        value: JsonStr<'_>,
    ) -> Result<(), EncodeError> {
        self.key(quoted);
        self.quoted(value);
        self.status()
    }

    /// A NumericDate member under a pre-quoted name.
    pub(crate) fn keyed_number(&mut self, quoted: &[u8], value: u64) -> Result<(), EncodeError> {
        self.key(quoted);
        self.digits(value);
        self.status()
    }

    /// `s` between quotes: its raw text when it has (checked) escapes or needs none, else
    /// escaped as serde-json-core escapes.
    fn quoted(&mut self, s: JsonStr<'_>) {
        self.put(b"\"");
        match s.raw_if_writable() {
            Some(raw) => self.put(raw.as_bytes()),
            None => self.escaped(s.raw()),
        }
        self.put(b"\"");
    }

    fn escaped(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut start = 0usize;
        for (i, &b) in bytes.iter().enumerate() {
            let short = match b {
                b'"' => b'"',
                b'\\' => b'\\',
                0x08 => b'b',
                b'\t' => b't',
                b'\n' => b'n',
                0x0c => b'f',
                b'\r' => b'r',
                0..=0x1f => 0,
                _ => continue,
            };
            self.put(bytes.get(start..i).unwrap_or_default());
            if short == 0 {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                let hex = |n: u8| HEX.get(usize::from(n & 0xf)).copied().unwrap_or(b'0');
                self.put(&[b'\\', b'u', b'0', b'0', hex(b >> 4), hex(b)]);
            } else {
                self.put(&[b'\\', short]);
            }
            start = i.saturating_add(1);
        }
        self.put(bytes.get(start..).unwrap_or_default());
    }

    /// Stages `bytes`, encoding each full stage into the output.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.staged.wrapping_add(bytes.len());
        if end < STAGE
            && let Some(dst) = self.stage.get_mut(self.staged..end)
        {
            // The common case: it fits. Short pieces (quotes, commas, names) by hand, which is
            // cheaper than a call to `memcpy`.
            if bytes.len() <= 8 {
                dst.iter_mut().zip(bytes).for_each(|(d, s)| *d = *s);
            } else {
                dst.copy_from_slice(bytes);
            }
            self.staged = end;
            return;
        }
        self.put_across(bytes);
    }

    #[inline(never)]
    fn put_across(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = STAGE.saturating_sub(self.staged);
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            if let Some(dst) = self
                .stage
                .get_mut(self.staged..self.staged.saturating_add(now.len()))
            {
                dst.copy_from_slice(now);
            }
            self.staged = self.staged.saturating_add(now.len());
            bytes = later;
            if self.staged == STAGE {
                self.flush(STAGE);
            }
        }
    }

    /// Encodes the first `n` staged bytes (all of them, or a multiple of 3).
    fn flush(&mut self, n: usize) {
        let Some(len) = b64::encoded_len(n) else {
            self.full = true;
            return;
        };
        let end = self.at.saturating_add(len);
        let done = match (self.out.get_mut(self.at..end), self.stage.get(..n)) {
            (Some(dst), Some(src)) => b64::encode(src, dst).is_some(),
            _ => false,
        };
        if done {
            self.at = end;
            self.absorb();
        } else {
            self.full = true;
        }
        self.staged = 0;
    }

    /// Feeds the MAC the whole blocks written since it was last fed.
    fn absorb(&mut self) {
        if let Some(p) = &mut self.mac
            && let Some(new) = self.out.get(p.absorbed_len()..self.at)
        {
            p.absorb(new.as_chunks::<64>().0);
        }
    }
}

/// Writes the optional members that are present, in serde's order for each type. `key` is the
/// member's name quoted, with its colon.
pub(crate) fn opt_str(
    w: &mut ClaimsWriter<'_>,
    key: &[u8],
    v: Option<JsonStr<'_>>,
) -> Result<(), EncodeError> {
    v.map_or(Ok(()), |v| w.keyed_str(key, v))
}

pub(crate) fn opt_date(
    w: &mut ClaimsWriter<'_>,
    key: &[u8],
    v: Option<NumericDate>,
) -> Result<(), EncodeError> {
    v.map_or(Ok(()), |v| w.keyed_number(key, v))
}

impl WriteClaims for Claims<'_> {
    fn write_claims(&self, w: &mut ClaimsWriter<'_>) -> Result<(), EncodeError> {
        opt_str(w, br#""sub":"#, self.sub)?;
        opt_str(w, br#""iss":"#, self.iss)?;
        if let Some(aud) = &self.aud {
            w.audience("aud", aud)?;
        }
        opt_date(w, br#""exp":"#, self.exp)?;
        opt_date(w, br#""nbf":"#, self.nbf)?;
        opt_date(w, br#""iat":"#, self.iat)?;
        opt_str(w, br#""jti":"#, self.jti)
    }
}
