use serde::Serialize;

#[cfg(feature = "eddsa")]
use super::eddsa::Ed25519Key;
use super::key::{Hs256Key, MAX_SIGN_HEADER_B64};
use super::ring::{Key, KeyRing};
use super::write::{ClaimsWriter, WriteClaims};
use crate::b64;
use crate::error::EncodeError;
use crate::mac::Partial;

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

/// What signing needs of a key: the header it writes and its signature over `header.payload`.
/// [`Hs256Key`] and [`Ed25519Key`] sign through the same writer, so their tokens differ only
/// there.
trait JwsSigner {
    /// Length of the signature segment in base64url.
    const SIGNATURE_B64_LEN: usize;

    /// Writes the base64url header at the front of `out`; `None` when it does not fit.
    fn header_b64(&self, out: &mut [u8]) -> Option<usize>;

    /// Signs `input` and writes the signature's base64url into `out`. `absorbed` is what a
    /// [`ClaimsWriter`] already hashed of `input` as it wrote it (HS256 only).
    fn signature_b64(
        &self,
        input: &[u8],
        absorbed: Option<Partial>,
        out: &mut [u8],
    ) -> Option<usize>;

    /// The MAC a [`ClaimsWriter`] feeds whole blocks to as it writes (HS256), or `None`.
    fn partial(&self) -> Option<Partial> {
        None
    }
}

impl JwsSigner for Hs256Key {
    const SIGNATURE_B64_LEN: usize = SIGNATURE_B64_LEN;

    fn header_b64(&self, out: &mut [u8]) -> Option<usize> {
        self.write_header_b64(out)
    }

    fn signature_b64(
        &self,
        input: &[u8],
        absorbed: Option<Partial>,
        out: &mut [u8],
    ) -> Option<usize> {
        let tag = match absorbed {
            Some(p) => self.pads().finish(p, input.get(p.absorbed_len()..)?),
            None => self.pads().mac(input),
        };
        b64::encode(&tag, out)
    }

    // On a 64-bit host the writer feeds the MAC as it goes, so the SHA-256 rounds overlap the
    // writing; an in-order device gains nothing from that and keeps the smaller code.
    #[cfg(target_pointer_width = "64")]
    fn partial(&self) -> Option<Partial> {
        Some(self.pads().partial())
    }
}

#[cfg(feature = "eddsa")]
impl JwsSigner for Ed25519Key {
    const SIGNATURE_B64_LEN: usize = super::EDDSA_SIGNATURE_B64_LEN;

    fn header_b64(&self, out: &mut [u8]) -> Option<usize> {
        super::key::write_header_b64(super::key::Algorithm::EdDsa, self.kid(), out)
    }

    fn signature_b64(&self, input: &[u8], _: Option<Partial>, out: &mut [u8]) -> Option<usize> {
        b64::encode(&self.signature(input), out)
    }
}

/// [`Hs256Key::sign_claims`] for any key.
fn sign_claims_with<'b, S: JwsSigner, C: WriteClaims + ?Sized>(
    key: &S,
    claims: &C,
    out: &'b mut [u8],
) -> Result<&'b str, EncodeError> {
    let o = put_header(key, out)?;
    let mut w = ClaimsWriter::new(out, o, key.partial());
    claims.write_claims(&mut w)?;
    let (body, absorbed) = w.finish()?;
    finish_token(key, out, body, absorbed)
}

/// Writes `header.` at the front of `out`; returns where the payload starts.
fn put_header<S: JwsSigner>(key: &S, out: &mut [u8]) -> Result<usize, EncodeError> {
    // Straight into the token: no copy through a buffer of its own.
    let n = key.header_b64(out).ok_or(EncodeError::BufferTooSmall)?;
    *out.get_mut(n).ok_or(EncodeError::BufferTooSmall)? = b'.';
    Ok(n.saturating_add(1))
}

/// Signs `out[..body]` and appends `.signature`; returns the token.
fn finish_token<'b, S: JwsSigner>(
    key: &S,
    out: &'b mut [u8],
    body: usize,
    absorbed: Option<Partial>,
) -> Result<&'b str, EncodeError> {
    let total = body
        .checked_add(1)
        .and_then(|n| n.checked_add(S::SIGNATURE_B64_LEN))
        .ok_or(EncodeError::BufferTooSmall)?;
    if total > out.len() {
        return Err(EncodeError::BufferTooSmall);
    }
    let (input, rest) = out.split_at_mut(body);
    *rest.first_mut().ok_or(EncodeError::BufferTooSmall)? = b'.';
    let sig = rest
        .get_mut(1..=S::SIGNATURE_B64_LEN)
        .ok_or(EncodeError::BufferTooSmall)?;
    key.signature_b64(input, absorbed, sig)
        .ok_or(EncodeError::BufferTooSmall)?;
    let token = out.get(..total).ok_or(EncodeError::BufferTooSmall)?;
    core::str::from_utf8(token).map_err(|_| EncodeError::Serialize)
}

/// [`Hs256Key::sign`] for any key.
fn sign_with<'b, S: JwsSigner, C: Serialize + ?Sized>(
    key: &S,
    claims: &C,
    out: &'b mut [u8],
) -> Result<&'b str, EncodeError> {
    let o = put_header(key, out)?;

    let tail = out.get_mut(o..).ok_or(EncodeError::BufferTooSmall)?;
    let n = serde_json_core::to_slice(claims, tail).map_err(ser_error)?;
    let p = b64::encoded_len(n).ok_or(EncodeError::BufferTooSmall)?;
    let body = o.checked_add(p).ok_or(EncodeError::BufferTooSmall)?;
    let total = body
        .checked_add(1)
        .and_then(|n| n.checked_add(S::SIGNATURE_B64_LEN))
        .ok_or(EncodeError::BufferTooSmall)?;
    if total > out.len() {
        return Err(EncodeError::BufferTooSmall);
    }

    // Move the JSON to the very end, then encode it forward into place. While a chunk
    // remains, the write position trails its read position: `o + 4n/3 + 1 + SIGNATURE_B64_LEN <= len` gives
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

    finish_token(key, out, body, None)
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
        sign_claims_with(self, claims, out)
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
        sign_with(self, claims, out)
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
        let mut put = |bytes: &[u8], mac: Option<&mut crate::mac::Mac<'_>>| {
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
        let tag = mac.finalize();
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

#[cfg(feature = "eddsa")]
impl Ed25519Key {
    /// Signs claims that write themselves ([`WriteClaims`]) into `out` and returns the token,
    /// as [`Hs256Key::sign_claims`] does, with an `EdDSA` header and an RFC 8032 signature.
    ///
    /// # Errors
    /// [`EncodeError::BufferTooSmall`] when the token does not fit.
    pub fn sign_claims<'b, C: WriteClaims + ?Sized>(
        &self,
        claims: &C,
        out: &'b mut [u8],
    ) -> Result<&'b str, EncodeError> {
        sign_claims_with(self, claims, out)
    }

    /// Signs `claims` with serde into `out` and returns the token, as [`Hs256Key::sign`] does.
    ///
    /// # Errors
    /// As [`Hs256Key::sign`].
    pub fn sign<'b, C: Serialize + ?Sized>(
        &self,
        claims: &C,
        out: &'b mut [u8],
    ) -> Result<&'b str, EncodeError> {
        sign_with(self, claims, out)
    }

    /// Signs `claims` and writes the token to `w`. Ed25519 hashes the message twice (RFC 8032
    /// §5.1.6: the nonce, then the challenge), so the whole token is built in `scratch` first:
    /// `scratch` needs room for the token, not only for the claims JSON as with HS256.
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
        let token = sign_with(self, claims, scratch)?;
        w.write_all(token.as_bytes())
            .map_err(|e| EncodeError::Write(embedded_io::Error::kind(&e)))?;
        Ok(token.len())
    }
}

impl Key {
    /// Signs with this key; see [`Hs256Key::sign_claims`].
    ///
    /// # Errors
    /// As [`Hs256Key::sign_claims`]; [`EncodeError::CannotSign`] for a public key.
    pub fn sign_claims<'b, C: WriteClaims + ?Sized>(
        &self,
        claims: &C,
        out: &'b mut [u8],
    ) -> Result<&'b str, EncodeError> {
        match self {
            Key::Hs256(k) => k.sign_claims(claims, out),
            #[cfg(feature = "eddsa")]
            Key::Ed25519(_) => Err(EncodeError::CannotSign),
            #[cfg(feature = "eddsa")]
            Key::Ed25519Signing(k) => k.sign_claims(claims, out),
        }
    }

    /// Signs with this key; see [`Hs256Key::sign`].
    ///
    /// # Errors
    /// As [`Hs256Key::sign`]; [`EncodeError::CannotSign`] for a public key.
    pub fn sign<'b, C: Serialize + ?Sized>(
        &self,
        claims: &C,
        out: &'b mut [u8],
    ) -> Result<&'b str, EncodeError> {
        match self {
            Key::Hs256(k) => k.sign(claims, out),
            #[cfg(feature = "eddsa")]
            Key::Ed25519(_) => Err(EncodeError::CannotSign),
            #[cfg(feature = "eddsa")]
            Key::Ed25519Signing(k) => k.sign(claims, out),
        }
    }

    /// Streams a token signed with this key; see [`Hs256Key::sign_to`] and
    /// [`Ed25519Key::sign_to`] (whose `scratch` holds the whole token).
    ///
    /// # Errors
    /// As [`Hs256Key::sign_to`]; [`EncodeError::CannotSign`] for a public key.
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
        match self {
            Key::Hs256(k) => k.sign_to(claims, scratch, w),
            #[cfg(feature = "eddsa")]
            Key::Ed25519(_) => Err(EncodeError::CannotSign),
            #[cfg(feature = "eddsa")]
            Key::Ed25519Signing(k) => k.sign_to(claims, scratch, w),
        }
    }
}

impl<const N: usize> KeyRing<N> {
    /// Signs with the ring's signing key; see [`Key::sign_claims`].
    ///
    /// # Errors
    /// As [`Key::sign_claims`].
    pub fn sign_claims<'b, C: WriteClaims + ?Sized>(
        &self,
        claims: &C,
        out: &'b mut [u8],
    ) -> Result<&'b str, EncodeError> {
        self.signing_key().sign_claims(claims, out)
    }

    /// Signs with the ring's signing key; see [`Key::sign`].
    ///
    /// # Errors
    /// As [`Key::sign`].
    pub fn sign<'b, C: Serialize + ?Sized>(
        &self,
        claims: &C,
        out: &'b mut [u8],
    ) -> Result<&'b str, EncodeError> {
        self.signing_key().sign(claims, out)
    }

    /// Streams a token signed with the ring's signing key; see [`Key::sign_to`].
    ///
    /// # Errors
    /// As [`Key::sign_to`].
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
