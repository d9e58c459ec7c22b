//! The token endpoint's forms: the password grant (RFC 6749 §4.3.2), as FastAPI's
//! `OAuth2PasswordRequestForm` reads it, the refresh grant (RFC 6749 §6), and the revocation
//! request (RFC 7009 §2.1). Stricter than FastAPI: a repeated field is an error (RFC 6749 §3.1)
//! where FastAPI silently takes the last one.

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
    /// `refresh_token` (RFC 6749 §6)
    RefreshToken,
    /// `token` (RFC 7009 §2.1)
    Token,
    /// `token_type_hint` (RFC 7009 §2.1)
    TokenTypeHint,
}

impl Field {
    /// In FastAPI's declaration order, which is the order its 422 errors list fields in, then
    /// the refresh grant's and the revocation request's.
    pub const ALL: [Field; FIELDS] = [
        Field::GrantType,
        Field::Username,
        Field::Password,
        Field::Scope,
        Field::ClientId,
        Field::ClientSecret,
        Field::RefreshToken,
        Field::Token,
        Field::TokenTypeHint,
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
            Field::RefreshToken => "refresh_token",
            Field::Token => "token",
            Field::TokenTypeHint => "token_type_hint",
        }
    }

    fn from_name(name: &[u8], known: &[Field]) -> Option<Field> {
        known.iter().copied().find(|f| f.name().as_bytes() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// How many fields the forms know.
const FIELDS: usize = 9;

/// The password grant's fields (FastAPI's form).
const LOGIN_FIELDS: &[Field] = &[
    Field::GrantType,
    Field::Username,
    Field::Password,
    Field::Scope,
    Field::ClientId,
    Field::ClientSecret,
];

/// The token endpoint's fields: both grants'.
const TOKEN_FIELDS: &[Field] = &[
    Field::GrantType,
    Field::Username,
    Field::Password,
    Field::Scope,
    Field::ClientId,
    Field::ClientSecret,
    Field::RefreshToken,
];

/// The revocation request's fields.
const REVOKE_FIELDS: &[Field] = &[
    Field::Token,
    Field::TokenTypeHint,
    Field::ClientId,
    Field::ClientSecret,
];

/// The values of a form's fields, in [`Field::ALL`] order.
type Values<'b> = [Option<&'b str>; FIELDS];

/// What is wrong with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldErrorKind {
    /// Absent or empty (`username`, `password`, `refresh_token`, `token`).
    Missing,
    /// Given more than once.
    Repeated,
    /// A bad `%` escape, or the decoded bytes are not UTF-8.
    InvalidEncoding,
    /// `grant_type` is present, non-empty and not exactly `password` (or, at the token
    /// endpoint, `refresh_token`).
    PatternMismatch,
    /// The decode buffer is too small for the form.
    TooLarge,
    /// `password` is longer than [`crate::password::MAX_PASSWORD_LEN`] bytes, or `username`
    /// longer than [`MAX_USERNAME_LEN`]. Refused here, before any throttle or hashing, so such
    /// a request costs nothing, counts nothing and logs nothing.
    TooLong,
    /// `scope` holds something other than RFC 6749 §3.3 scope tokens (printable ASCII but `"`
    /// and `\`) separated by spaces: a control character, say, which no store should keep.
    InvalidScope,
    /// `scope` is over [`crate::scope::MAX_SCOPE_LEN`] bytes or names more than
    /// [`crate::scope::MAX_SCOPES`] scopes (#24): never stored or signed.
    TooManyScopes,
}

/// One field's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    /// Which field.
    pub field: Field,
    /// What is wrong.
    pub kind: FieldErrorKind,
}

/// Every field error of a form, in [`Field::ALL`] order. At most four can occur together: a
/// wrong `grant_type`, missing `username` and `password`, and a malformed `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError<'b> {
    errors: heapless::Vec<FieldError, 4>,
    grant_type: Option<&'b str>,
    refresh: bool,
}

impl<'b> FormError<'b> {
    fn one(field: Field, kind: FieldErrorKind) -> Self {
        let mut errors = heapless::Vec::new();
        let _ = errors.push(FieldError { field, kind });
        FormError {
            errors,
            grant_type: None,
            refresh: false,
        }
    }

    /// The same error, of a refresh-grant request: answered with an RFC 6749 §5.2 body.
    fn of_refresh(mut self) -> Self {
        self.refresh = true;
        self
    }

    /// Whether the request was a refresh grant (`grant_type=refresh_token`) whose token or
    /// scope is bad: RFC 6749 §5.2 answers it (`invalid_request`, or `invalid_scope` for a
    /// scope error), not the password grant's 422.
    pub fn is_refresh_grant(&self) -> bool {
        self.refresh
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
        crate::scope::names(self.scope)
    }
}

/// Parses a password-grant body, decoding values (`%XX`, `+` as space) into `buf`.
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
    parse(
        Source::<NoFields<'b>>::Urlencoded(body, buf),
        LOGIN_FIELDS,
        check_login,
    )
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
    parse(Source::Fields(fields), LOGIN_FIELDS, check_login)
}

/// A refresh-grant request (RFC 6749 §6). `Debug` hides the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RefreshForm<'b> {
    /// The refresh token as sent: not yet checked; see [`crate::session::RefreshToken::parse`].
    pub refresh_token: &'b str,
    /// The scope asked for, if sent and non-empty: it may not be wider than the session's.
    pub scope: Option<&'b str>,
    /// `client_id`, if sent and non-empty.
    pub client_id: Option<&'b str>,
}

impl fmt::Debug for RefreshForm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshForm")
            .field("refresh_token", &"<redacted>")
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// What a token-endpoint request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRequest<'b> {
    /// `grant_type=password`, or no `grant_type` (FastAPI's form makes it optional).
    Password(LoginForm<'b>),
    /// `grant_type=refresh_token`.
    Refresh(RefreshForm<'b>),
}

/// Parses a token-endpoint body: the password grant exactly as [`parse_login_form`] does,
/// or, for `grant_type=refresh_token`, a [`RefreshForm`].
///
/// # Errors
/// [`FormError`]: a bad escape, invalid UTF-8 or a repeated field, whatever the grant; for the
/// refresh grant, a missing `refresh_token`; for the password grant, as [`parse_login_form`].
pub fn parse_token_form<'b>(
    body: &[u8],
    buf: &'b mut [u8],
) -> Result<TokenRequest<'b>, FormError<'b>> {
    parse(
        Source::<NoFields<'b>>::Urlencoded(body, buf),
        TOKEN_FIELDS,
        token_request,
    )
}

/// [`parse_token_form`] over fields already separated and decoded (multipart).
///
/// # Errors
/// As [`parse_token_form`] (never [`FieldErrorKind::TooLarge`]).
pub fn token_request_from_fields<'b, I>(fields: I) -> Result<TokenRequest<'b>, FormError<'b>>
where
    I: IntoIterator<Item = (&'b str, &'b [u8])>,
{
    parse(Source::Fields(fields), TOKEN_FIELDS, token_request)
}

/// A revocation request (RFC 7009 §2.1). `Debug` hides the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RevokeForm<'b> {
    /// The token to revoke, as sent: a refresh token or an access token.
    pub token: &'b str,
    /// `token_type_hint`, if sent and non-empty. Only a hint (RFC 7009 §2.1): an unknown value
    /// is not an error here, and the server may look the token up as either kind.
    pub token_type_hint: Option<&'b str>,
}

impl fmt::Debug for RevokeForm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevokeForm")
            .field("token", &"<redacted>")
            .field("token_type_hint", &self.token_type_hint)
            .finish()
    }
}

/// Parses a revocation body (`token`, optional `token_type_hint`).
///
/// # Errors
/// [`FormError`]: a bad escape, invalid UTF-8, a repeated field, or no `token`.
pub fn parse_revoke_form<'b>(
    body: &[u8],
    buf: &'b mut [u8],
) -> Result<RevokeForm<'b>, FormError<'b>> {
    parse(
        Source::<NoFields<'b>>::Urlencoded(body, buf),
        REVOKE_FIELDS,
        check_revoke,
    )
}

/// [`parse_revoke_form`] over fields already separated and decoded (multipart).
///
/// # Errors
/// As [`parse_revoke_form`] (never [`FieldErrorKind::TooLarge`]).
pub fn revoke_form_from_fields<'b, I>(fields: I) -> Result<RevokeForm<'b>, FormError<'b>>
where
    I: IntoIterator<Item = (&'b str, &'b [u8])>,
{
    parse(Source::Fields(fields), REVOKE_FIELDS, check_revoke)
}

/// Where a form's values come from: a urlencoded body (decoded into the buffer), or fields
/// already separated and decoded (the parts of a multipart body).
enum Source<'s, 'b, I> {
    Urlencoded(&'s [u8], &'b mut [u8]),
    Fields(I),
}

/// The field iterator type of a urlencoded [`Source`], which has none.
type NoFields<'b> = core::iter::Empty<(&'b str, &'b [u8])>;

/// The one shape of the six public parsers: the `known` fields of `source`, checked by `check`
/// into a request of its kind.
fn parse<'b, I, T>(
    source: Source<'_, 'b, I>,
    known: &[Field],
    check: fn(&Values<'b>) -> Result<T, FormError<'b>>,
) -> Result<T, FormError<'b>>
where
    I: IntoIterator<Item = (&'b str, &'b [u8])>,
{
    let values = match source {
        Source::Urlencoded(body, buf) => collect_urlencoded(body, buf, known)?,
        Source::Fields(fields) => collect_fields(fields, known)?,
    };
    check(&values)
}

/// Decodes the `known` fields of a urlencoded body into `buf`.
fn collect_urlencoded<'b>(
    body: &[u8],
    buf: &'b mut [u8],
    known: &[Field],
) -> Result<Values<'b>, FormError<'b>> {
    let mut spans: [Option<(usize, usize)>; FIELDS] = [None; FIELDS];
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
        let Some(field) = key_buf
            .get(..key_len)
            .and_then(|k| Field::from_name(k, known))
        else {
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
    let mut values: Values<'b> = [None; FIELDS];
    for (value, span) in values.iter_mut().zip(spans) {
        *value = span.and_then(|(start, len)| {
            let bytes = buf.get(start..start.checked_add(len)?)?;
            core::str::from_utf8(bytes).ok()
        });
    }
    Ok(values)
}

/// The `known` fields of an already separated form.
fn collect_fields<'b, I>(fields: I, known: &[Field]) -> Result<Values<'b>, FormError<'b>>
where
    I: IntoIterator<Item = (&'b str, &'b [u8])>,
{
    let mut values: Values<'b> = [None; FIELDS];
    for (name, value) in fields {
        let Some(field) = Field::from_name(name.as_bytes(), known) else {
            continue;
        };
        let slot = vacant(&mut values, field)?;
        let text = core::str::from_utf8(value)
            .map_err(|_| FormError::one(field, FieldErrorKind::InvalidEncoding))?;
        *slot = Some(text);
    }
    Ok(values)
}

/// The field's slot, if it is still empty: a field given twice is an error (RFC 6749 §3.1).
fn vacant<'b, T>(
    slots: &mut [Option<T>; FIELDS],
    field: Field,
) -> Result<&mut Option<T>, FormError<'b>> {
    match slots.get_mut(field.index()) {
        Some(slot) if slot.is_none() => Ok(slot),
        _ => Err(FormError::one(field, FieldErrorKind::Repeated)),
    }
}

fn get<'b>(values: &Values<'b>, f: Field) -> Option<&'b str> {
    *values.get(f.index())?
}

fn non_empty<'b>(values: &Values<'b>, f: Field) -> Option<&'b str> {
    get(values, f).filter(|s| !s.is_empty())
}

/// The token endpoint: the grant decides the rules.
fn token_request<'b>(values: &Values<'b>) -> Result<TokenRequest<'b>, FormError<'b>> {
    if non_empty(values, Field::GrantType) != Some("refresh_token") {
        return check_login(values).map(TokenRequest::Password);
    }
    if let Some(kind) = get(values, Field::Scope).and_then(scope_problem) {
        return Err(FormError::one(Field::Scope, kind).of_refresh());
    }
    match non_empty(values, Field::RefreshToken) {
        Some(refresh_token) => Ok(TokenRequest::Refresh(RefreshForm {
            refresh_token,
            scope: non_empty(values, Field::Scope),
            client_id: non_empty(values, Field::ClientId),
        })),
        None => Err(FormError::one(Field::RefreshToken, FieldErrorKind::Missing).of_refresh()),
    }
}

fn check_revoke<'b>(values: &Values<'b>) -> Result<RevokeForm<'b>, FormError<'b>> {
    match non_empty(values, Field::Token) {
        Some(token) => Ok(RevokeForm {
            token,
            token_type_hint: non_empty(values, Field::TokenTypeHint),
        }),
        None => Err(FormError::one(Field::Token, FieldErrorKind::Missing)),
    }
}

/// Longest `username` the password grant accepts, in bytes: the longest name an account can
/// have. A longer one names no account, so it is refused as malformed (422) before any
/// throttle, lookup or log line (round 3 item 7: attacker-chosen 27 KB names were logged
/// with every throttled attempt).
pub const MAX_USERNAME_LEN: usize = 64;

/// The password grant's rules, which both front doors share.
fn check_login<'b>(values: &Values<'b>) -> Result<LoginForm<'b>, FormError<'b>> {
    let non_empty = |f: Field| non_empty(values, f);

    let mut errors = heapless::Vec::<FieldError, 4>::new();
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
            Some(u) if field == Field::Username && u.len() > MAX_USERNAME_LEN => {
                FieldErrorKind::TooLong
            }
            Some(_) => continue,
        };
        let _ = errors.push(FieldError { field, kind });
    }
    if let Some(kind) = get(values, Field::Scope).and_then(scope_problem) {
        let _ = errors.push(FieldError {
            field: Field::Scope,
            kind,
        });
    }
    match (non_empty(Field::Username), non_empty(Field::Password)) {
        (Some(username), Some(password)) if errors.is_empty() => Ok(LoginForm {
            username,
            password,
            scope: get(values, Field::Scope).unwrap_or_default(),
            client_id: non_empty(Field::ClientId),
            client_secret: non_empty(Field::ClientSecret),
        }),
        _ => Err(FormError {
            errors,
            grant_type,
            refresh: false,
        }),
    }
}

/// What is wrong with a `scope`, if anything.
fn scope_problem(s: &str) -> Option<FieldErrorKind> {
    if !crate::scope::within_limits(s) {
        Some(FieldErrorKind::TooManyScopes)
    } else if !crate::scope::is_syntax(s) {
        Some(FieldErrorKind::InvalidScope)
    } else {
        None
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
