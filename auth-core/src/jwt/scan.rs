//! The purpose-written claims scanner (#26): one pass over the decoded payload, no serde.
//!
//! It reads the registered claims (`sub iss aud exp nbf iat jti`, and the flow's `sid scope
//! uid`) into the types [`super::Claims`] uses, and checks everything else as RFC 8259 JSON
//! without keeping it. The rules are the serde path's ([`super::VerifiedToken::claims`]):
//!
//! - the payload is UTF-8 and one JSON object, with only whitespace around it;
//! - arrays and objects nest at most [`super::MAX_CLAIMS_DEPTH`] deep;
//! - member names are compared decoded (`"\u0065xp"` is `exp`), and a registered member given
//!   twice is refused (other members may repeat);
//! - a NumericDate is a non-negative integer that fits a `u64`; `null` means absent;
//! - strings keep their escapes and are compared decoded ([`crate::JsonStr`]).
//!
//! Skipping a value is [`crate::json_check::skip_value`]: iterative, its open containers a bit
//! set, so the stack does not grow with the input. The `claims_differential` fuzz target checks
//! the scanner against serde-json-core and against `serde_json`.

use super::claims::{Audience, MAX_DECODED_AUDIENCE_LEN, NumericDate};
use crate::error::ClaimsError;
use crate::json::JsonStr;
use crate::json_check::{self, JsonCheckError, skip_ws};

/// Deepest nesting of arrays and objects a payload may have. The registered claims need 2
/// (`aud` is an array); 8 leaves room for nested custom claims. Checked before serde runs, so
/// the stack used to read claims is bounded whatever a key holder signs.
pub const MAX_CLAIMS_DEPTH: u32 = 8;

/// A member the scanner does not read, handed to the callback of
/// [`super::VerifiedToken::registered_with`] after its value was checked as JSON.
#[derive(Clone, Copy, Debug)]
pub struct Value<'a> {
    raw: &'a str,
}

impl<'a> Value<'a> {
    /// The value's JSON text, as written.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The value as a string, when it is one and its escapes are valid.
    pub fn as_str(&self) -> Option<JsonStr<'a>> {
        let inner = self.raw.strip_prefix('"')?.strip_suffix('"')?;
        JsonStr::from_raw_json(inner)
    }

    /// The value as a non-negative integer, when it is one that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        parse_u64(self.raw.as_bytes())
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        self.raw == "null"
    }
}

/// One bit per member the scanner can read; a claims type names the ones it has.
pub(crate) mod member {
    pub(crate) const SUB: u16 = 1;
    pub(crate) const ISS: u16 = 1 << 1;
    pub(crate) const AUD: u16 = 1 << 2;
    pub(crate) const EXP: u16 = 1 << 3;
    pub(crate) const NBF: u16 = 1 << 4;
    pub(crate) const IAT: u16 = 1 << 5;
    pub(crate) const JTI: u16 = 1 << 6;
    pub(crate) const SID: u16 = 1 << 7;
    pub(crate) const SCOPE: u16 = 1 << 8;
    pub(crate) const UID: u16 = 1 << 9;
    /// The members of [`crate::Claims`].
    pub(crate) const CLAIMS: u16 = SUB | ISS | AUD | EXP | NBF | IAT | JTI;
    /// The names, in bit order.
    pub(crate) const NAMES: [&str; 10] = [
        "sub", "iss", "aud", "exp", "nbf", "iat", "jti", "sid", "scope", "uid",
    ];
}

/// A claims type the scanner fills in place (no intermediate struct to move: on a device each
/// copy of a claims value is a few hundred bytes of stack): which members it has, and where
/// each goes.
pub(crate) trait Target<'a> {
    /// The [`member`] bits of the members it has.
    const MEMBERS: u16;
    /// The slot of a string member.
    fn string(&mut self, bit: u16) -> Option<&mut Option<JsonStr<'a>>>;
    /// The slot of a NumericDate member.
    fn date(&mut self, bit: u16) -> Option<&mut Option<NumericDate>>;
    /// The slot of `aud`.
    fn audience(&mut self) -> Option<&mut Option<Audience<'a>>>;
}

impl<'a> Target<'a> for super::Claims<'a> {
    const MEMBERS: u16 = member::CLAIMS;
    fn string(&mut self, bit: u16) -> Option<&mut Option<JsonStr<'a>>> {
        match bit {
            member::SUB => Some(&mut self.sub),
            member::ISS => Some(&mut self.iss),
            member::JTI => Some(&mut self.jti),
            _ => None,
        }
    }
    fn date(&mut self, bit: u16) -> Option<&mut Option<NumericDate>> {
        date_slot(bit, &mut self.exp, &mut self.nbf, &mut self.iat)
    }
    fn audience(&mut self) -> Option<&mut Option<Audience<'a>>> {
        Some(&mut self.aud)
    }
}

/// The slot of the NumericDate member `bit`, for [`Target::date`]: every claims type has the
/// same three.
pub(crate) fn date_slot<'s>(
    bit: u16,
    exp: &'s mut Option<NumericDate>,
    nbf: &'s mut Option<NumericDate>,
    iat: &'s mut Option<NumericDate>,
) -> Option<&'s mut Option<NumericDate>> {
    match bit {
        member::EXP => Some(exp),
        member::NBF => Some(nbf),
        member::IAT => Some(iat),
        _ => None,
    }
}

fn syntax(e: JsonCheckError) -> ClaimsError {
    match e {
        JsonCheckError::Syntax => ClaimsError::Json,
        JsonCheckError::TooDeep => ClaimsError::Nesting,
    }
}

/// The member bit `name` stands for, or 0. Inlined: a call would take the name through
/// memory, read back in pieces just after it was written (a store-forwarding stall per member).
#[inline(always)]
fn member_bit(name: JsonStr<'_>) -> u16 {
    let plain = match name.as_plain() {
        Some(p) if p.len() <= 5 => p,
        Some(_) => return 0,
        // An escaped name is compared decoded, name by name (rare: nobody writes `\u0065xp`).
        None => {
            return member::NAMES
                .iter()
                .zip(0u16..)
                .find(|(n, _)| name == **n)
                .map_or(0, |(_, bit)| 1 << bit);
        }
    };
    // Three-letter names as one integer compare each (a `match` on byte strings calls `memcmp`).
    const fn word(n: &[u8; 3]) -> u32 {
        u32::from_le_bytes([n[0], n[1], n[2], 0])
    }
    match *plain.as_bytes() {
        [a, b, c] => match u32::from_le_bytes([a, b, c, 0]) {
            w if w == word(b"sub") => member::SUB,
            w if w == word(b"iss") => member::ISS,
            w if w == word(b"aud") => member::AUD,
            w if w == word(b"exp") => member::EXP,
            w if w == word(b"nbf") => member::NBF,
            w if w == word(b"iat") => member::IAT,
            w if w == word(b"jti") => member::JTI,
            w if w == word(b"sid") => member::SID,
            w if w == word(b"uid") => member::UID,
            _ => 0,
        },
        [b's', b'c', b'o', b'p', b'e'] => member::SCOPE,
        _ => 0,
    }
}

/// Digits only, no sign, fraction or exponent, at most `u64::MAX`.
fn parse_u64(text: &[u8]) -> Option<u64> {
    let (digits, value) = leading_digits(text);
    let leading_zero = digits > 1 && text.first() == Some(&b'0');
    if digits == 0 || digits != text.len() || leading_zero {
        return None;
    }
    value
}

/// How many ASCII digits `text` starts with, and their value (`None` over `u64::MAX`).
/// Nineteen digits always fit a u64: no overflow checks until the twentieth.
#[cfg_attr(target_pointer_width = "64", inline)]
fn leading_digits(text: &[u8]) -> (usize, Option<u64>) {
    let mut n = Some(0u64);
    let mut count = 0usize;
    // The host takes eight leading digits at once (a NumericDate has ten): their value from
    // three multiplications instead of a chain of eight multiply-adds, which matters because
    // the claims are scanned after the MAC, on the critical path of verifying.
    #[cfg(target_pointer_width = "64")]
    if let Some(first) = text.first_chunk::<8>()
        && let Some(v) = eight_digits(u64::from_le_bytes(*first))
    {
        n = Some(v);
        count = 8;
    }
    for &d in text.get(count..).unwrap_or_default() {
        let digit = d.wrapping_sub(b'0');
        if digit >= 10 {
            break;
        }
        n = match n {
            Some(n) if count < 19 => Some(n.wrapping_mul(10).wrapping_add(u64::from(digit))),
            n => n.and_then(|n| n.checked_mul(10)?.checked_add(u64::from(digit))),
        };
        count = count.wrapping_add(1);
    }
    (count, n)
}

/// The value of eight ASCII digits read as a little-endian word (the first digit in the low
/// byte), or `None` when any byte is not a digit. SWAR: digit pairs, then fours, then eight.
#[cfg(target_pointer_width = "64")]
fn eight_digits(w: u64) -> Option<u64> {
    const LANES: u64 = 0x0101_0101_0101_0101;
    // Every byte 0x30..=0x39: its high nibble is 3, and adding 6 keeps it 3.
    let high = |v: u64| v & LANES.wrapping_mul(0xf0);
    if high(w) != LANES.wrapping_mul(0x30)
        || high(w.wrapping_add(LANES.wrapping_mul(6))) != LANES.wrapping_mul(0x30)
    {
        return None;
    }
    let v = w.wrapping_sub(LANES.wrapping_mul(0x30));
    // Each even byte becomes 10 * its digit + the next one (the odd bytes become junk).
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    // Pairs to fours to eight: bytes 0 and 4 weigh 10^6 and 10^2 ... folded into the top half.
    const MASK: u64 = 0x0000_00ff_0000_00ff;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    let v = (v & MASK)
        .wrapping_mul(MUL1)
        .wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2));
    Some(v >> 32)
}

/// The payload text being scanned and the position in it.
struct Cursor<'a> {
    text: &'a str,
    i: usize,
}

// On 64-bit targets the readers below are `#[inline]`. `scan` is generic, so it is built in
// the caller's crate, where without the hint each reader is an out-of-line call that returns
// its `Result` through memory, read back at once with other widths: store-forwarding stalls
// that cost the small token's verify about 10% (#26). Devices keep the calls (smaller).
impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        // Whitespace is at most 0x20: the common case, none, without the call.
        if self.peek().is_some_and(|b| b > b' ') {
            return;
        }
        self.i = skip_ws(self.bytes(), self.i);
    }

    /// A member name: three lower-case letters (every registered name but `scope`) taken
    /// whole, which is what [`Cursor::string`] reads for them; anything else through it.
    ///
    /// An `Option`, not a `Result`: a `Result<JsonStr, _>` keeps its error in the first byte
    /// of the length, so each name was copied as a byte and fifteen more, then read back as
    /// words (a store-forwarding stall per member on the host, #26).
    #[cfg_attr(target_pointer_width = "64", inline)]
    fn name(&mut self) -> Option<JsonStr<'a>> {
        #[cfg(target_pointer_width = "64")]
        if let Some(name) = self.short_name() {
            return Some(name);
        }
        self.string().ok()
    }

    /// The host's shortcut for [`Cursor::name`]; a device takes the string reader (smaller).
    #[cfg(target_pointer_width = "64")]
    #[inline]
    fn short_name(&mut self) -> Option<JsonStr<'a>> {
        let start = self.i.wrapping_add(1);
        if let Some(&[a, b, c, b'"']) = self.bytes().get(start..).and_then(|r| r.first_chunk::<4>())
            && [a, b, c].iter().all(u8::is_ascii_lowercase)
            && let Some(name) = self.text.get(start..start.wrapping_add(3))
        {
            self.i = start.wrapping_add(4);
            return Some(JsonStr::new(name));
        }
        None
    }

    /// `null`, consumed, if it comes next.
    #[cfg_attr(target_pointer_width = "64", inline)]
    fn null(&mut self) -> Result<bool, ClaimsError> {
        if self.peek() != Some(b'n') {
            return Ok(false);
        }
        self.i = json_check::literal(self.bytes(), self.i, b"null").map_err(syntax)?;
        Ok(true)
    }

    /// A string, its raw text between the quotes with escapes checked.
    #[cfg_attr(target_pointer_width = "64", inline)]
    fn string(&mut self) -> Result<JsonStr<'a>, ClaimsError> {
        if self.peek() != Some(b'"') {
            return Err(ClaimsError::WrongType);
        }
        let start = self.i.wrapping_add(1);
        let (end, escaped) = json_check::string_body(self.bytes(), start).map_err(syntax)?;
        let raw = self
            .text
            .get(start..end.wrapping_sub(1))
            .ok_or(ClaimsError::Json)?;
        self.i = end;
        if escaped {
            // A lone surrogate is the one escape the syntax check lets through.
            JsonStr::from_raw_json(raw).ok_or(ClaimsError::Shape)
        } else {
            // No backslash, quote or control character: plain text as it is.
            Ok(JsonStr::new(raw))
        }
    }

    #[cfg_attr(target_pointer_width = "64", inline)]
    fn opt_string(&mut self) -> Result<Option<JsonStr<'a>>, ClaimsError> {
        if self.null()? {
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// A NumericDate: digits, read as they are checked. A sign, fraction or exponent, or a
    /// value over `u64::MAX`, is the wrong type; `01` is bad syntax.
    #[cfg_attr(target_pointer_width = "64", inline)]
    fn opt_date(&mut self) -> Result<Option<NumericDate>, ClaimsError> {
        if self.null()? {
            return Ok(None);
        }
        let b = self.bytes();
        let first = self.i;
        let (digits, value) = leading_digits(b.get(first..).unwrap_or_default());
        self.i = first.wrapping_add(digits);
        match b.get(self.i) {
            _ if digits == 0 => Err(ClaimsError::WrongType),
            Some(b'.' | b'e' | b'E') => Err(ClaimsError::WrongType),
            _ if digits > 1 && b.get(first) == Some(&b'0') => Err(ClaimsError::Json),
            _ => value.map(Some).ok_or(ClaimsError::WrongType),
        }
    }

    /// `aud` (a string, an array of at most [`super::MAX_AUDIENCES`] strings, or `null`) into
    /// `slot`, in place (an `Audience` is a few hundred bytes: building one on the
    /// stack and moving it costs a device that much again).
    #[cfg_attr(target_pointer_width = "64", inline)]
    fn read_audience(&mut self, slot: &mut Option<Audience<'a>>) -> Result<(), ClaimsError> {
        if self.null()? {
            *slot = None;
            return Ok(());
        }
        if self.peek() != Some(b'[') {
            let one = self.string()?;
            // The serde path decodes an escaped audience into inline storage of this size.
            if one.as_plain().is_none() && one.decoded_len() > MAX_DECODED_AUDIENCE_LEN {
                return Err(ClaimsError::Shape);
            }
            *slot = Some(Audience::one(one));
            return Ok(());
        }
        let all = slot.insert(Audience::none_yet());
        self.i = self.i.wrapping_add(1);
        self.ws();
        if self.peek() == Some(b']') {
            self.i = self.i.wrapping_add(1);
            return Ok(());
        }
        loop {
            let s = self.string()?;
            all.push(s).map_err(|_| ClaimsError::Shape)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i = self.i.wrapping_add(1);
                    self.ws();
                }
                Some(b']') => {
                    self.i = self.i.wrapping_add(1);
                    return Ok(());
                }
                _ => return Err(ClaimsError::Json),
            }
        }
    }

    /// Reads the value of the registered member `bit` into its slot in `t`.
    fn read<T: Target<'a>>(&mut self, bit: u16, t: &mut T) -> Result<(), ClaimsError> {
        const DATES: u16 = member::EXP | member::NBF | member::IAT;
        if bit == member::AUD {
            match t.audience() {
                Some(slot) => self.read_audience(slot)?,
                None => self.read_audience(&mut None)?,
            }
        } else if bit & DATES != 0 {
            let date = self.opt_date()?;
            if let Some(slot) = t.date(bit) {
                *slot = date;
            }
        } else {
            let s = self.opt_string()?;
            if let Some(slot) = t.string(bit) {
                *slot = s;
            }
        }
        Ok(())
    }

    /// Checks the value at the cursor without keeping it; returns it for the callback.
    #[cfg_attr(target_pointer_width = "64", inline)]
    fn skip(&mut self) -> Result<Value<'a>, ClaimsError> {
        // The payload object is level 1, so its members' values may nest one less.
        let end = json_check::skip_value(self.bytes(), self.i, MAX_CLAIMS_DEPTH.saturating_sub(1))
            .map_err(syntax)?;
        let raw = self.text.get(self.i..end).ok_or(ClaimsError::Json)?;
        self.i = end;
        Ok(Value { raw })
    }
}

/// Scans the decoded payload `json` into `target`, reading the members it has and handing
/// every other member to `other`.
///
/// # Errors
/// [`ClaimsError::Json`] (not UTF-8, not one JSON object, bad syntax anywhere),
/// [`ClaimsError::Nesting`], [`ClaimsError::WrongType`], [`ClaimsError::Shape`] (a registered
/// member twice, more than [`super::MAX_AUDIENCES`] audiences, a lone surrogate), or what `other`
/// returns.
pub(crate) fn scan<'a, T, F>(
    json: &'a [u8],
    target: &mut T,
    mut other: F,
) -> Result<(), ClaimsError>
where
    T: Target<'a>,
    F: FnMut(JsonStr<'a>, Value<'a>) -> Result<(), ClaimsError>,
{
    let mut seen = 0u16;
    members(json, |c, name| {
        let bit = member_bit(name) & T::MEMBERS;
        if bit == 0 {
            let value = c.skip()?;
            other(name, value)
        } else if seen & bit != 0 {
            Err(ClaimsError::Shape)
        } else {
            seen |= bit;
            c.read(bit, target)
        }
    })
}

/// What a JOSE header says, read by [`header`].
#[derive(Default)]
pub(crate) struct Header<'a> {
    pub(crate) alg: Option<JsonStr<'a>>,
    pub(crate) typ: Option<JsonStr<'a>>,
    pub(crate) kid: Option<JsonStr<'a>>,
    pub(crate) crit: bool,
}

/// Reads a decoded JOSE header: `alg`, `typ` and `kid` as strings, whether `crit` is present,
/// each at most once (names compared decoded); every other member is checked and skipped,
/// however often it appears.
///
/// # Errors
/// Any [`ClaimsError`]; the header parser reports them all as one parse error.
pub(crate) fn header(json: &[u8]) -> Result<Header<'_>, ClaimsError> {
    let mut h = Header::default();
    members(json, |c, name| {
        let slot = if name == "alg" {
            &mut h.alg
        } else if name == "typ" {
            &mut h.typ
        } else if name == "kid" {
            &mut h.kid
        } else {
            if name == "crit" {
                if h.crit {
                    return Err(ClaimsError::Shape);
                }
                h.crit = true;
            }
            return c.skip().map(|_| ());
        };
        if slot.is_some() {
            return Err(ClaimsError::Shape);
        }
        *slot = Some(c.string()?);
        Ok(())
    })?;
    Ok(h)
}

/// Walks the one JSON object that is `json` (UTF-8, only whitespace around it), calling
/// `member` with the cursor at each member's value and the member's decoded name; `member`
/// must consume the value.
fn members<'a, F>(json: &'a [u8], member: F) -> Result<(), ClaimsError>
where
    F: FnMut(&mut Cursor<'a>, JsonStr<'a>) -> Result<(), ClaimsError>,
{
    #[cfg(target_pointer_width = "64")]
    return members_inline(json, member);
    #[cfg(not(target_pointer_width = "64"))]
    return members_shared(json, member);
}

/// The host's walk: one loop, inlined into each reader (the shared steps below measured 7%
/// slower on the small token's verify).
#[cfg(any(target_pointer_width = "64", test, feature = "fuzzing"))]
fn members_inline<'a, F>(json: &'a [u8], mut member: F) -> Result<(), ClaimsError>
where
    F: FnMut(&mut Cursor<'a>, JsonStr<'a>) -> Result<(), ClaimsError>,
{
    let text = core::str::from_utf8(json).map_err(|_| ClaimsError::Json)?;
    let mut c = Cursor { text, i: 0 };
    c.ws();
    if c.peek() != Some(b'{') {
        return Err(ClaimsError::Json);
    }
    c.i = c.i.wrapping_add(1);
    c.ws();
    if c.peek() == Some(b'}') {
        c.i = c.i.wrapping_add(1);
    } else {
        loop {
            if c.peek() != Some(b'"') {
                return Err(ClaimsError::Json);
            }
            let Some(name) = c.name() else {
                return Err(ClaimsError::Json);
            };
            c.ws();
            if c.peek() != Some(b':') {
                return Err(ClaimsError::Json);
            }
            c.i = c.i.wrapping_add(1);
            c.ws();
            member(&mut c, name)?;
            c.ws();
            match c.peek() {
                Some(b',') => {
                    c.i = c.i.wrapping_add(1);
                    c.ws();
                }
                Some(b'}') => {
                    c.i = c.i.wrapping_add(1);
                    break;
                }
                _ => return Err(ClaimsError::Json),
            }
        }
    }
    c.ws();
    if c.i == json.len() {
        Ok(())
    } else {
        Err(ClaimsError::Json)
    }
}

/// The device's walk: each reader's loop calls the shared steps below. Built on the host for
/// [`walks_agree`].
#[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
fn members_shared<'a, F>(json: &'a [u8], mut member: F) -> Result<(), ClaimsError>
where
    F: FnMut(&mut Cursor<'a>, JsonStr<'a>) -> Result<(), ClaimsError>,
{
    let mut c = Cursor::open(json)?;
    let mut first = true;
    while let Some(name) = c.next_member(&mut first)? {
        member(&mut c, name)?;
    }
    Ok(())
}

/// Whether the host's walk and the device's agree on `json`: the same verdict and the same
/// members, each value skipped (checked) by both. For the `claims_differential` fuzz target
/// and the unit tests.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn walks_agree(json: &[u8]) -> bool {
    type Walk = (Result<(), ClaimsError>, usize, [(usize, usize); 64]);
    fn record(json: &[u8], shared: bool) -> Walk {
        let mut seen = [(0usize, 0usize); 64];
        let mut n = 0usize;
        let f = |c: &mut Cursor<'_>, name: JsonStr<'_>| {
            c.skip()?;
            if let Some(slot) = seen.get_mut(n) {
                *slot = (name.raw().len(), c.i);
            }
            n = n.wrapping_add(1);
            Ok(())
        };
        let verdict = if shared {
            members_shared(json, f)
        } else {
            members_inline(json, f)
        };
        (verdict, n, seen)
    }
    record(json, false) == record(json, true)
}

// The object walk's steps, out of line on a device: one copy for the header and every claims
// reader (each reader's loop is a few instructions). A member's value is still read in the
// reader's own frame, not below the walk's, so the deepest stack is what it was.
impl<'a> Cursor<'a> {
    /// The cursor just inside the object that is `json`, which must be UTF-8.
    #[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn open(json: &'a [u8]) -> Result<Self, ClaimsError> {
        let text = core::str::from_utf8(json).map_err(|_| ClaimsError::Json)?;
        let mut c = Cursor { text, i: 0 };
        c.ws();
        if c.peek() != Some(b'{') {
            return Err(ClaimsError::Json);
        }
        c.i = c.i.wrapping_add(1);
        Ok(c)
    }

    /// After the opening brace (`first`) or a member's value: the next member's name, with the
    /// cursor at its value; `None` after the closing brace, when only whitespace follows it.
    #[cfg(any(not(target_pointer_width = "64"), test, feature = "fuzzing"))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn next_member(&mut self, first: &mut bool) -> Result<Option<JsonStr<'a>>, ClaimsError> {
        self.ws();
        let close = match self.peek() {
            Some(b'}') => true,
            Some(b',') if !*first => false,
            _ if *first => false,
            _ => return Err(ClaimsError::Json),
        };
        if close {
            self.i = self.i.wrapping_add(1);
            self.ws();
            return if self.i == self.text.len() {
                Ok(None)
            } else {
                Err(ClaimsError::Json)
            };
        }
        if !*first {
            self.i = self.i.wrapping_add(1);
            self.ws();
        }
        *first = false;
        if self.peek() != Some(b'"') {
            return Err(ClaimsError::Json);
        }
        let Some(name) = self.name() else {
            return Err(ClaimsError::Json);
        };
        self.ws();
        if self.peek() != Some(b':') {
            return Err(ClaimsError::Json);
        }
        self.i = self.i.wrapping_add(1);
        self.ws();
        Ok(Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::Claims;

    /// `Value::as_u64` (an app's own claims read through the scanner): a non-negative JSON
    /// integer that fits a `u64`, and nothing else that is valid JSON. Nineteen digits take the
    /// unchecked path, the twentieth the checked one.
    #[test]
    fn as_u64_takes_plain_integers_only() {
        for (raw, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("1700000000", Some(1_700_000_000)),
            ("9999999999999999999", Some(9_999_999_999_999_999_999)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("99999999999999999999", None),
            ("100000000000000000000", None),
            ("1.5", None),
            ("1.0", None),
            ("1e3", None),
            ("1E3", None),
            ("-1", None),
            ("-0", None),
            ("00", None),
            ("01", None),
            ("", None),
            ("true", None),
            ("\"1\"", None),
        ] {
            assert_eq!(Value { raw }.as_u64(), want, "{raw}");
        }
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn eight_digits_agrees_with_the_digit_loop() {
        let check = |c: [u8; 8]| {
            let want = c
                .iter()
                .all(u8::is_ascii_digit)
                .then(|| c.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')));
            assert_eq!(eight_digits(u64::from_le_bytes(c)), want, "{c:?}");
        };
        for c in [*b"00000000", *b"99999999", *b"12345678", *b"10000001"] {
            check(c);
        }
        // Every position holding each byte around the digits, the rest digits.
        for pos in 0..8 {
            for b in [
                0u8, b' ', b'/', b'0', b'5', b'9', b':', b'a', 0x80, 0xb0, 0xb9, 0xff,
            ] {
                let mut c = *b"31415926";
                c[pos] = b;
                check(c);
            }
        }
    }

    #[test]
    fn the_devices_walk_agrees_with_the_hosts() {
        let base = [
            r#"{}"#,
            r#" { } "#,
            r#"{"a":1}"#,
            r#"{"a":1,"b":[1,{"c":null}],"sub":"x"}"#,
            r#"{ "a" : 1 , "b" : "2" }"#,
            r#"{"a":1,}"#,
            r#"{,"a":1}"#,
            r#"{"a" 1}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":1}}"#,
            r#"{"a":1} x"#,
            r#"{"a":}"#,
            r#"{"a":1,"a"b":"c"}"#,
            r#"["a"]"#,
            r#"{"#,
            "",
            r#"{"a":1"#,
            r#"{"a":[[[[[[[[1]]]]]]]]}"#,
        ];
        for json in base {
            assert!(walks_agree(json.as_bytes()), "{json}");
            // Every prefix too: each place the text can end.
            for end in 0..json.len() {
                assert!(walks_agree(&json.as_bytes()[..end]), "{json} cut at {end}");
            }
        }
    }

    #[test]
    fn hands_other_members_to_the_callback() {
        let mut seen = heapless::Vec::<(heapless::String<8>, heapless::String<16>), 4>::new();
        scan(
            br#"{"data":"x\"y","n":12,"exp":3,"o":{"a":[]}}"#,
            &mut Claims::new(),
            |n, v| {
                let mut name = heapless::String::new();
                name.push_str(n.as_plain().unwrap()).unwrap();
                let mut raw = heapless::String::new();
                raw.push_str(v.raw()).unwrap();
                seen.push((name, raw)).unwrap();
                Ok(())
            },
        )
        .unwrap();
        let got: heapless::Vec<(&str, &str), 4> =
            seen.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            got.as_slice(),
            &[("data", r#""x\"y""#), ("n", "12"), ("o", r#"{"a":[]}"#)]
        );
        let v = Value { raw: r#""x\"y""# };
        assert_eq!(v.as_str().unwrap(), "x\"y");
        assert_eq!(Value { raw: "12" }.as_u64(), Some(12));
        assert!(Value { raw: "null" }.is_null());
        for raw in ["0", r#""null""#, "nul", "[]", "false"] {
            assert!(!Value { raw }.is_null(), "{raw}");
        }
    }
}
