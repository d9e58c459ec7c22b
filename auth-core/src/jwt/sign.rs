use hmac::Mac;
use serde::Serialize;

use super::key::{Hs256Key, KeyRing, MAX_SIGN_HEADER_B64};
use super::write::{ClaimsWriter, WriteClaims};
use crate::b64;
use crate::error::EncodeError;

use super::SIGNATURE_B64_LEN;

/// Payload bytes base64-encoded per step; a multiple of 3 so chunks join without padding, and
/// large enough for the encoder's fast path (48-byte chunks spent a tenth of signing in its
/// scalar tail).
const CHUNK: usize = 192;
const CHUNK_B64: usize = CHUNK / 3 * 4;

fn ser_error(e: serde_json_core::ser::Error) -> EncodeError {
    match e {
        serde_json_core::ser::Error::BufferFull => EncodeError::BufferTooSmall,
        _ => EncodeError::Serialize,
    }
}

impl Hs256Key {
    /// Signs claims that write themselves ([`WriteClaims`]: [`crate::Claims`], the flow's
    /// claims, or your own type) into `out` and returns the token. The fast path, and the one a
    /// device links: the JSON is written straight into base64url in `out`, one pass, no serde.
    /// The token is byte for byte the one [`Hs256Key::sign`] makes of the same claims.
    ///
    /// # Errors
    /// [`EncodeError::BufferTooSmall`] when the token does not fit.
    pub fn sign_claims<'b, C: WriteClaims + ?Sized>(
        &self,
        claims: &C,
        out: &'b mut [u8],
    ) -> Result<&'b str, EncodeError> {
        let o = self.put_header(out)?;
        let mut w = ClaimsWriter::new(out, o);
        claims.write_claims(&mut w)?;
        let body = w.finish()?;
        self.finish_token(out, body)
    }

    /// Writes `header.` at the front of `out`; returns where the payload starts.
    fn put_header(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        // Straight into the token: no copy through a buffer of its own.
        let n = self
            .write_header_b64(out)
            .ok_or(EncodeError::BufferTooSmall)?;
        *out.get_mut(n).ok_or(EncodeError::BufferTooSmall)? = b'.';
        Ok(n.saturating_add(1))
    }

    /// MACs `out[..body]` and appends `.signature`; returns the token.
    fn finish_token<'b>(&self, out: &'b mut [u8], body: usize) -> Result<&'b str, EncodeError> {
        let total = body
            .checked_add(1 + SIGNATURE_B64_LEN)
            .ok_or(EncodeError::BufferTooSmall)?;
        let mut mac = self.mac();
        mac.update(out.get(..body).ok_or(EncodeError::BufferTooSmall)?);
        let tag = mac.finalize().into_bytes();
        *out.get_mut(body).ok_or(EncodeError::BufferTooSmall)? = b'.';
        let sig = out
            .get_mut(body.saturating_add(1)..total)
            .ok_or(EncodeError::BufferTooSmall)?;
        b64::encode(&tag, sig).ok_or(EncodeError::BufferTooSmall)?;
        let token = out.get(..total).ok_or(EncodeError::BufferTooSmall)?;
        core::str::from_utf8(token).map_err(|_| EncodeError::Serialize)
    }

    /// Signs `claims` into `out` and returns the token.
    ///
    /// The header is fixed: `{"alg":"HS256","typ":"JWT"}`, with `kid` when the key has one.
    /// The claims JSON is serialized into the tail of `out` and base64url-encoded forward in
    /// place, so no other buffer is needed.
    ///
    /// # Errors
    /// [`EncodeError::BufferTooSmall`] when the token does not fit (nothing usable is left in
    /// `out`), [`EncodeError::Serialize`] when `claims` cannot be written as JSON.
    pub fn sign<'b, C: Serialize + ?Sized>(
        &self,
        claims: &C,
        out: &'b mut [u8],
    ) -> Result<&'b str, EncodeError> {
        let o = self.put_header(out)?;

        let tail = out.get_mut(o..).ok_or(EncodeError::BufferTooSmall)?;
        let n = serde_json_core::to_slice(claims, tail).map_err(ser_error)?;
        let p = b64::encoded_len(n).ok_or(EncodeError::BufferTooSmall)?;
        let body = o.checked_add(p).ok_or(EncodeError::BufferTooSmall)?;
        let total = body
            .checked_add(1 + SIGNATURE_B64_LEN)
            .ok_or(EncodeError::BufferTooSmall)?;
        if total > out.len() {
            return Err(EncodeError::BufferTooSmall);
        }

        // Move the JSON to the very end, then encode it forward into place. While a chunk
        // remains, the write position trails its read position: `o + 4n/3 + 44 <= len` gives
        // `o + 4C(k+1)/3 <= (len - n) + C(k+1)` for every chunk `k` (of C bytes) that has a
        // successor, since then `C(k+1) < n`.
        let s = out.len().saturating_sub(n);
        out.copy_within(o..o.saturating_add(n), s);
        let (mut r, mut w) = (s, o);
        let mut tmp = [0u8; CHUNK];
        while r < out.len() {
            let take = CHUNK.min(out.len().saturating_sub(r));
            let src = out
                .get(r..r.saturating_add(take))
                .ok_or(EncodeError::BufferTooSmall)?;
            let chunk = tmp.get_mut(..take).ok_or(EncodeError::BufferTooSmall)?;
            chunk.copy_from_slice(src);
            let enc = b64::encoded_len(take).ok_or(EncodeError::BufferTooSmall)?;
            let dst = out
                .get_mut(w..w.saturating_add(enc))
                .ok_or(EncodeError::BufferTooSmall)?;
            b64::encode(chunk, dst).ok_or(EncodeError::BufferTooSmall)?;
            r = r.saturating_add(take);
            w = w.saturating_add(enc);
        }

        self.finish_token(out, body)
    }

    /// Signs `claims` and streams the token to `w`, using `scratch` for the claims JSON.
    /// Returns the number of bytes written.
    ///
    /// # Errors
    /// [`EncodeError::BufferTooSmall`] when the JSON does not fit `scratch`,
    /// [`EncodeError::Serialize`], or [`EncodeError::Write`] from the sink (which may then hold
    /// a partial token).
    pub fn sign_to<C, W>(
        &self,
        claims: &C,
        scratch: &mut [u8],
        w: &mut W,
    ) -> Result<usize, EncodeError>
    where
        C: Serialize + ?Sized,
        W: embedded_io::Write,
    {
        let n = serde_json_core::to_slice(claims, scratch).map_err(ser_error)?;
        let json = scratch.get(..n).ok_or(EncodeError::BufferTooSmall)?;
        let mut mac = self.mac();
        let mut put = |bytes: &[u8], mac: Option<&mut crate::mac::HmacSha256>| {
            if let Some(mac) = mac {
                mac.update(bytes);
            }
            w.write_all(bytes)
                .map_err(|e| EncodeError::Write(embedded_io::Error::kind(&e)))
        };
        let mut hbuf = [0u8; MAX_SIGN_HEADER_B64];
        let header_len = self
            .write_header_b64(&mut hbuf)
            .ok_or(EncodeError::BufferTooSmall)?;
        let header = hbuf.get(..header_len).ok_or(EncodeError::BufferTooSmall)?;
        put(header, Some(&mut mac))?;
        put(b".", Some(&mut mac))?;
        let mut enc = [0u8; CHUNK_B64];
        for chunk in json.chunks(CHUNK) {
            let len = b64::encode(chunk, &mut enc).ok_or(EncodeError::BufferTooSmall)?;
            put(
                enc.get(..len).ok_or(EncodeError::BufferTooSmall)?,
                Some(&mut mac),
            )?;
        }
        let tag = mac.finalize().into_bytes();
        let len = b64::encode(&tag, &mut enc).ok_or(EncodeError::BufferTooSmall)?;
        put(b".", None)?;
        put(enc.get(..len).ok_or(EncodeError::BufferTooSmall)?, None)?;
        let total = header
            .len()
            .saturating_add(2)
            .saturating_add(b64::encoded_len(n).unwrap_or(usize::MAX))
            .saturating_add(SIGNATURE_B64_LEN);
        Ok(total)
    }
}

impl<const N: usize> KeyRing<N> {
    /// Signs with the ring's signing key; see [`Hs256Key::sign_claims`].
    ///
    /// # Errors
    /// As [`Hs256Key::sign_claims`].
    pub fn sign_claims<'b, C: WriteClaims + ?Sized>(
        &self,
        claims: &C,
        out: &'b mut [u8],
    ) -> Result<&'b str, EncodeError> {
        self.signing_key().sign_claims(claims, out)
    }

    /// Signs with the ring's signing key; see [`Hs256Key::sign`].
    ///
    /// # Errors
    /// As [`Hs256Key::sign`].
    pub fn sign<'b, C: Serialize + ?Sized>(
        &self,
        claims: &C,
        out: &'b mut [u8],
    ) -> Result<&'b str, EncodeError> {
        self.signing_key().sign(claims, out)
    }

    /// Streams a token signed with the ring's signing key; see [`Hs256Key::sign_to`].
    ///
    /// # Errors
    /// As [`Hs256Key::sign_to`].
    pub fn sign_to<C, W>(
        &self,
        claims: &C,
        scratch: &mut [u8],
        w: &mut W,
    ) -> Result<usize, EncodeError>
    where
        C: Serialize + ?Sized,
        W: embedded_io::Write,
    {
        self.signing_key().sign_to(claims, scratch, w)
    }
}
