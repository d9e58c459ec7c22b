//! The `application/x-www-form-urlencoded` login form (RFC 6749 §4.3.2), as FastAPI's
//! `OAuth2PasswordRequestForm` reads it, but stricter: a repeated field is an error (RFC 6749
//! §3.1) where FastAPI silently takes the last one.

use core::fmt;

use crate::password::MAX_PASSWORD_LEN;

/// A form field the login form knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// `grant_type`
    GrantType,
    /// `username`
    Username,
    /// `password`
    Password,
    /// `scope`
    Scope,
    /// `client_id`
    ClientId,
    /// `client_secret`
    ClientSecret,
}

impl Field {
    /// In FastAPI's declaration order, which is the order its 422 errors list fields in.
    pub const ALL: [Field; 6] = [
        Field::GrantType,
        Field::Username,
        Field::Password,
        Field::Scope,
        Field::ClientId,
        Field::ClientSecret,
    ];

    /// The form field name.
    pub const fn name(self) -> &'static str {
        match self {
            Field::GrantType => "grant_type",
            Field::Username => "username",
            Field::Password => "password",
            Field::Scope => "scope",
            Field::ClientId => "client_id",
            Field::ClientSecret => "client_secret",
        }
    }

    fn from_name(name: &[u8]) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name().as_bytes() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// What is wrong with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldErrorKind {
    /// Absent or empty (`username`, `password`).
    Missing,
    /// Given more than once.
    Repeated,
    /// A bad `%` escape, or the decoded bytes are not UTF-8.
    InvalidEncoding,
    /// `grant_type` is present, non-empty and not exactly `password`.
    PatternMismatch,
    /// The decode buffer is too small for the form.
    TooLarge,
    /// `password` is longer than [`crate::password::MAX_PASSWORD_LEN`] bytes. Refused here,
    /// before any throttle or hashing, so such a request costs nothing and counts nothing.
    TooLong,
}

/// One field's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    /// Which field.
    pub field: Field,
    /// What is wrong.
    pub kind: FieldErrorKind,
}

/// Every field error of a form, in [`Field::ALL`] order. At most three can occur together: a
/// wrong `grant_type` and missing `username` and `password`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError<'b> {
    errors: heapless::Vec<FieldError, 3>,
    grant_type: Option<&'b str>,
}

impl<'b> FormError<'b> {
    fn one(field: Field, kind: FieldErrorKind) -> Self {
        let mut errors = heapless::Vec::new();
        let _ = errors.push(FieldError { field, kind });
        FormError {
            errors,
            grant_type: None,
        }
    }

    /// The errors.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// The rejected `grant_type` value, for [`FieldErrorKind::PatternMismatch`]. Credentials
    /// are never echoed.
    pub fn grant_type_input(&self) -> Option<&'b str> {
        self.grant_type
    }
}

impl fmt::Display for FormError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid login form")
    }
}

impl core::error::Error for FormError<'_> {}

/// A parsed login form. Every value is percent-decoded into the caller's buffer.
///
/// `Debug` hides the password and the client secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LoginForm<'b> {
    /// Non-empty.
    pub username: &'b str,
    /// Non-empty. Bytes of UTF-8, as sent.
    pub password: &'b str,
    /// Space-separated scopes; empty when absent.
    pub scope: &'b str,
    /// `client_id`, if sent and non-empty.
    pub client_id: Option<&'b str>,
    /// `client_secret`, if sent and non-empty.
    pub client_secret: Option<&'b str>,
}

impl fmt::Debug for LoginForm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginForm")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.map(|_| "<redacted>"))
            .finish()
    }
}

impl<'b> LoginForm<'b> {
    /// The scopes, split on spaces.
    pub fn scopes(&self) -> impl Iterator<Item = &'b str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }
}

/// Parses a urlencoded body, decoding values (`%XX`, `+` as space) into `buf`.
///
/// `buf` needs at most `body.len()` bytes. Unknown fields are ignored and not decoded.
///
/// # Errors
/// [`FormError`] listing every bad field: a bad escape, invalid UTF-8, or a repeated field
/// stops parsing at once; otherwise missing `username`/`password` and a wrong `grant_type`
/// are all reported.
pub fn parse_login_form<'b>(
    body: &[u8],
    buf: &'b mut [u8],
) -> Result<LoginForm<'b>, FormError<'b>> {
    let mut spans: [Option<(usize, usize)>; 6] = [None; 6];
    let mut at = 0usize;
    for pair in body.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (raw_key, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (
                pair.get(..eq).unwrap_or_default(),
                pair.get(eq.saturating_add(1)..).unwrap_or_default(),
            ),
            None => (pair, &[][..]),
        };
        let mut key_buf = [0u8; 16];
        let Some(key_len) = decode_component(raw_key, &mut key_buf) else {
            continue; // undecodable or long keys are not ours: ignored like any unknown field
        };
        let Some(field) = key_buf.get(..key_len).and_then(Field::from_name) else {
            continue;
        };
        let slot = vacant(&mut spans, field)?;
        let dst = buf
            .get_mut(at..)
            .ok_or_else(|| FormError::one(field, FieldErrorKind::TooLarge))?;
        if dst.len() < raw_value.len() {
            return Err(FormError::one(field, FieldErrorKind::TooLarge));
        }
        let n = decode_component(raw_value, dst)
            .ok_or_else(|| FormError::one(field, FieldErrorKind::InvalidEncoding))?;
        if core::str::from_utf8(dst.get(..n).unwrap_or_default()).is_err() {
            return Err(FormError::one(field, FieldErrorKind::InvalidEncoding));
        }
        *slot = Some((at, n));
        at = at.saturating_add(n);
    }

    let buf: &'b [u8] = buf;
    let mut values: [Option<&'b str>; 6] = [None; 6];
    for (value, span) in values.iter_mut().zip(spans) {
        *value = span.and_then(|(start, len)| {
            let bytes = buf.get(start..start.checked_add(len)?)?;
            core::str::from_utf8(bytes).ok()
        });
    }
    check_fields(&values)
}

/// Builds a login form from fields that arrive already separated and decoded, such as the parts
/// of a `multipart/form-data` body, with exactly the rules of [`parse_login_form`]: unknown
/// fields are ignored, a repeated field is an error, values must be UTF-8, and missing
/// `username`/`password`, a too-long password and a wrong `grant_type` are all reported.
///
/// # Errors
/// As [`parse_login_form`] (never [`FieldErrorKind::TooLarge`]).
pub fn login_form_from_fields<'b, I>(fields: I) -> Result<LoginForm<'b>, FormError<'b>>
where
    I: IntoIterator<Item = (&'b str, &'b [u8])>,
{
    let mut values: [Option<&'b str>; 6] = [None; 6];
    for (name, value) in fields {
        let Some(field) = Field::from_name(name.as_bytes()) else {
            continue;
        };
        let slot = vacant(&mut values, field)?;
        let text = core::str::from_utf8(value)
            .map_err(|_| FormError::one(field, FieldErrorKind::InvalidEncoding))?;
        *slot = Some(text);
    }
    check_fields(&values)
}

/// The field's slot, if it is still empty: a field given twice is an error (RFC 6749 §3.1).
fn vacant<'b, T>(
    slots: &mut [Option<T>; 6],
    field: Field,
) -> Result<&mut Option<T>, FormError<'b>> {
    match slots.get_mut(field.index()) {
        Some(slot) if slot.is_none() => Ok(slot),
        _ => Err(FormError::one(field, FieldErrorKind::Repeated)),
    }
}

/// The rules both front doors share, over the fields' values in [`Field::ALL`] order.
fn check_fields<'b>(values: &[Option<&'b str>; 6]) -> Result<LoginForm<'b>, FormError<'b>> {
    let get = |f: Field| -> Option<&'b str> { *values.get(f.index())? };
    let non_empty = |f: Field| get(f).filter(|s| !s.is_empty());

    let mut errors = heapless::Vec::<FieldError, 3>::new();
    let grant_type = non_empty(Field::GrantType).filter(|g| *g != "password");
    if grant_type.is_some() {
        let _ = errors.push(FieldError {
            field: Field::GrantType,
            kind: FieldErrorKind::PatternMismatch,
        });
    }
    for field in [Field::Username, Field::Password] {
        let kind = match non_empty(field) {
            None => FieldErrorKind::Missing,
            Some(p) if field == Field::Password && p.len() > MAX_PASSWORD_LEN => {
                FieldErrorKind::TooLong
            }
            Some(_) => continue,
        };
        let _ = errors.push(FieldError { field, kind });
    }
    match (non_empty(Field::Username), non_empty(Field::Password)) {
        (Some(username), Some(password)) if errors.is_empty() => Ok(LoginForm {
            username,
            password,
            scope: get(Field::Scope).unwrap_or_default(),
            client_id: non_empty(Field::ClientId),
            client_secret: non_empty(Field::ClientSecret),
        }),
        _ => Err(FormError { errors, grant_type }),
    }
}

/// Decodes one urlencoded component into `out`; `None` on a bad escape or a short `out`.
fn decode_component(src: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut n = 0usize;
    let mut i = src.iter();
    while let Some(&b) = i.next() {
        let byte = match b {
            b'+' => b' ',
            b'%' => {
                let hi = hex(*i.next()?)?;
                let lo = hex(*i.next()?)?;
                (hi << 4) | lo
            }
            other => other,
        };
        *out.get_mut(n)? = byte;
        n = n.checked_add(1)?;
    }
    Some(n)
}

const fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(b.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(b.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

/// Writes `value` urlencoded (`application/x-www-form-urlencoded`: unreserved bytes as is,
/// space as `+`, everything else `%XX`). The inverse of the parser, for clients and tests.
///
/// # Errors
/// `None` when `out` is too small.
pub fn encode_component<'o>(value: &[u8], out: &'o mut [u8]) -> Option<&'o str> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut n = 0usize;
    for &b in value {
        let mut put = |c: u8| -> Option<()> {
            *out.get_mut(n)? = c;
            n = n.checked_add(1)?;
            Some(())
        };
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => put(b)?,
            b' ' => put(b'+')?,
            _ => {
                put(b'%')?;
                put(*HEX.get(usize::from(b >> 4))?)?;
                put(*HEX.get(usize::from(b & 0xf))?)?;
            }
        }
    }
    core::str::from_utf8(out.get(..n)?).ok()
}
