//! Checked JSON syntax, iterative: full RFC 8259 for text read before serde sees it (the
//! header, read before the MAC, and the payload on the serde path), and the value skipper and
//! token readers the claims scanner (`jwt/scan.rs`) is built from.
//!
//! `serde-json-core` recurses once per nesting level (about 50 bytes of stack each) and skips
//! ignored scalars loosely (`"x":tru!!e` passes). Neither is acceptable for input read before
//! the MAC on a device with a few KiB of stack. These checks are iterative and use a fixed few
//! bytes of stack whatever the input. `tests/tests/differential.rs` checks [`check_syntax`]
//! against `serde_json` (the same texts accepted and refused), and so does the `json_syntax`
//! fuzz target.

/// Why [`check_syntax`] or [`check_depth`] refused a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonCheckError {
    /// Not one JSON value by RFC 8259, with only whitespace around it.
    Syntax,
    /// Arrays and objects nest deeper than the limit.
    TooDeep,
}

/// Deepest `max_depth` [`check_syntax`] supports (the open containers are a bit set).
pub const MAX_CHECK_DEPTH: u32 = 64;

/// Checks that `json` is exactly one JSON value (RFC 8259; strings are checked for escapes and
/// control characters, not for UTF-8, which the caller checks) nested at most `max_depth`
/// deep. `max_depth` above [`MAX_CHECK_DEPTH`] is treated as that.
///
/// # Errors
/// [`JsonCheckError`].
pub fn check_syntax(json: &[u8], max_depth: u32) -> Result<(), JsonCheckError> {
    let end = skip_value(json, skip_ws(json, 0), max_depth)?;
    if skip_ws(json, end) == json.len() {
        Ok(())
    } else {
        Err(JsonCheckError::Syntax)
    }
}

/// Checks the one JSON value that starts at `i` as [`check_syntax`] does, nested at most
/// `max_depth` deep counted from it, and returns the index just after it. Iterative: the open
/// containers are a bit set, so the stack is fixed whatever the input.
///
/// # Errors
/// [`JsonCheckError`].
pub(crate) fn skip_value(
    json: &[u8],
    mut i: usize,
    max_depth: u32,
) -> Result<usize, JsonCheckError> {
    use JsonCheckError::{Syntax, TooDeep};
    let max_depth = max_depth.min(MAX_CHECK_DEPTH);
    // Bit d is set when the container at depth d + 1 is an object.
    let mut objects: u64 = 0;
    let mut depth: u32 = 0;
    'value: loop {
        // A value starts at `i`.
        match json.get(i).copied() {
            Some(open @ (b'{' | b'[')) => {
                if depth >= max_depth {
                    return Err(TooDeep);
                }
                let is_object = open == b'{';
                let bit = 1u64.checked_shl(depth).ok_or(TooDeep)?;
                objects = if is_object {
                    objects | bit
                } else {
                    objects & !bit
                };
                depth = depth.wrapping_add(1);
                i = skip_ws(json, i.wrapping_add(1));
                let close = if is_object { b'}' } else { b']' };
                if json.get(i) == Some(&close) {
                    depth = depth.wrapping_sub(1);
                    i = i.wrapping_add(1);
                } else {
                    if is_object {
                        i = member_name(json, i)?;
                    }
                    continue 'value;
                }
            }
            Some(b'"') => i = string(json, i)?,
            Some(b't') => i = literal(json, i, b"true")?,
            Some(b'f') => i = literal(json, i, b"false")?,
            Some(b'n') => i = literal(json, i, b"null")?,
            Some(b'-' | b'0'..=b'9') => i = number(json, i)?,
            _ => return Err(Syntax),
        }
        // A value ended at `i`: close containers or go on to the next element.
        loop {
            let Some(top) = depth.checked_sub(1) else {
                return Ok(i);
            };
            i = skip_ws(json, i);
            let in_object = objects.checked_shr(top).unwrap_or(0) & 1 == 1;
            match json.get(i).copied() {
                Some(b',') => {
                    i = skip_ws(json, i.wrapping_add(1));
                    if in_object {
                        i = member_name(json, i)?;
                    }
                    continue 'value;
                }
                Some(b'}') if in_object => {}
                Some(b']') if !in_object => {}
                _ => return Err(Syntax),
            }
            depth = top;
            i = i.wrapping_add(1);
        }
    }
}

/// Checks only that arrays and objects in `json` nest at most `max_depth` deep, tracking
/// strings so that brackets inside them do not count. Cheaper than [`check_syntax`]: for
/// input that was authenticated and is parsed strictly afterwards.
///
/// # Errors
/// [`JsonCheckError::TooDeep`].
pub fn check_depth(json: &[u8], max_depth: u32) -> Result<(), JsonCheckError> {
    // Fast path: a text with no more opening brackets than the limit cannot nest deeper. The
    // count is branch-free and vectorizes; almost every token takes this path.
    let opens = json.chunks(64).fold(0usize, |n, chunk| {
        // At most 64 per chunk: a u8 counter, which LLVM vectorizes.
        let c = chunk.iter().fold(0u8, |c, &b| {
            c.wrapping_add(u8::from((b == b'[') | (b == b'{')))
        });
        n.wrapping_add(usize::from(c))
    });
    if opens <= usize::try_from(max_depth).unwrap_or(usize::MAX) {
        return Ok(());
    }
    let mut depth: u32 = 0;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth = depth.wrapping_add(1);
                if depth > max_depth {
                    return Err(JsonCheckError::TooDeep);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = json.get(i) {
        i = i.wrapping_add(1);
    }
    i
}

/// A member name, the colon and the whitespace after it; returns where the value starts.
fn member_name(json: &[u8], i: usize) -> Result<usize, JsonCheckError> {
    if json.get(i) != Some(&b'"') {
        return Err(JsonCheckError::Syntax);
    }
    let i = skip_ws(json, string(json, i)?);
    if json.get(i) != Some(&b':') {
        return Err(JsonCheckError::Syntax);
    }
    Ok(skip_ws(json, i.wrapping_add(1)))
}

/// A string starting at the quote at `i`; returns the index after its closing quote.
pub(crate) fn string(json: &[u8], i: usize) -> Result<usize, JsonCheckError> {
    string_body(json, i.wrapping_add(1)).map(|(end, _)| end)
}

/// A string's content from `i` (just after its opening quote): returns the index after its
/// closing quote, and whether it has escapes. Escapes are checked for syntax (a lone surrogate
/// is syntax too; [`crate::JsonStr`] refuses it), control characters refused.
pub(crate) fn string_body(json: &[u8], mut i: usize) -> Result<(usize, bool), JsonCheckError> {
    let mut escaped = false;
    loop {
        // Eight bytes per step; the mask's lowest set bit is exactly the first byte that is
        // `"`, `\` or a control character, so the step lands on it.
        if let Some(&word) = json.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
            let m = special(u64::from_le_bytes(word));
            if m == 0 {
                i = i.wrapping_add(8);
                continue;
            }
            i = i.wrapping_add((m.trailing_zeros() / 8) as usize);
        }
        match json.get(i).copied().ok_or(JsonCheckError::Syntax)? {
            b'"' => return Ok((i.wrapping_add(1), escaped)),
            b'\\' => {
                escaped = true;
                i = escape(json, i)?;
            }
            0..=0x1f => return Err(JsonCheckError::Syntax),
            _ => i = i.wrapping_add(1),
        }
    }
}

/// The escape whose backslash is at `i`; returns the index after it.
fn escape(json: &[u8], i: usize) -> Result<usize, JsonCheckError> {
    let i = i.wrapping_add(1);
    match json.get(i).copied() {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i.wrapping_add(1)),
        Some(b'u') => {
            let hex = json
                .get(i.wrapping_add(1)..i.wrapping_add(5))
                .ok_or(JsonCheckError::Syntax)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(JsonCheckError::Syntax);
            }
            Ok(i.wrapping_add(5))
        }
        _ => Err(JsonCheckError::Syntax),
    }
}

/// A mask with bit 7 of each byte of `x` that may be `"`, `\` or below 0x20. Its lowest set
/// bit is exact (the zero-byte test's borrow runs only upward, so it can flag a plain byte
/// above a matching one, never below); zero means none.
fn special(x: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let quote = zero(x ^ LO.wrapping_mul(u64::from(b'"')));
    let backslash = zero(x ^ LO.wrapping_mul(u64::from(b'\\')));
    let control = x.wrapping_sub(LO.wrapping_mul(0x20)) & !x & HI;
    quote | backslash | control
}

pub(crate) fn literal(json: &[u8], i: usize, word: &[u8]) -> Result<usize, JsonCheckError> {
    let end = i.wrapping_add(word.len());
    if json.get(i..end) == Some(word) {
        Ok(end)
    } else {
        Err(JsonCheckError::Syntax)
    }
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
pub(crate) fn number(json: &[u8], mut i: usize) -> Result<usize, JsonCheckError> {
    let digits = |mut i: usize| -> Result<usize, JsonCheckError> {
        let start = i;
        while json.get(i).is_some_and(u8::is_ascii_digit) {
            i = i.wrapping_add(1);
        }
        if i == start {
            Err(JsonCheckError::Syntax)
        } else {
            Ok(i)
        }
    };
    if json.get(i) == Some(&b'-') {
        i = i.wrapping_add(1);
    }
    i = if json.get(i) == Some(&b'0') {
        i.wrapping_add(1)
    } else {
        digits(i)?
    };
    if json.get(i) == Some(&b'.') {
        i = digits(i.wrapping_add(1))?;
    }
    if let Some(b'e' | b'E') = json.get(i) {
        i = i.wrapping_add(1);
        if let Some(b'+' | b'-') = json.get(i) {
            i = i.wrapping_add(1);
        }
        i = digits(i)?;
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use JsonCheckError::{Syntax, TooDeep};

    #[test]
    fn accepts_and_refuses() {
        let ok: &[&str] = &[
            r#"{}"#,
            r#" { "a" : [ 1 , -0.5e+3 , true , false , null , "x\u00e9\n" , { } , [ ] ] } "#,
            r#"[]"#,
            r#""s""#,
            "0",
            "-0",
            "1E9",
            r#"{"alg":"HS256","typ":"JWT"}"#,
        ];
        for s in ok {
            assert_eq!(check_syntax(s.as_bytes(), 8), Ok(()), "{s}");
        }
        let bad: &[&str] = &[
            "",
            " ",
            r#"{"x":tru!!e}"#,
            r#"{"x":true,}"#,
            r#"{"x" 1}"#,
            r#"{x:1}"#,
            r#"[1,]"#,
            r#"[1 2]"#,
            r#"{"a":1}}"#,
            r#"{"a":1} x"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.1}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12g4"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":"open}"#,
            r#"{"a":[}"#,
            r#"{"a":{]}"#,
            r#"["a":1]"#,
            r#"{"a"}"#,
            // A container closed by the other kind's bracket, after a value.
            r#"[1}"#,
            r#"{"a":1]"#,
            r#"{"a":[1}}"#,
            r#"[{"a":1]]"#,
            "nul",
        ];
        for s in bad {
            assert_eq!(check_syntax(s.as_bytes(), 8), Err(Syntax), "{s}");
        }
    }

    /// `special`'s mask against a byte-by-byte reference: zero exactly when no byte of the
    /// word is `"`, `\` or a control character, and otherwise its lowest set bit on the first
    /// such byte (a later byte may be flagged too; an earlier one never is). Words are drawn
    /// with the special bytes, their neighbours and high bytes made common.
    #[test]
    fn special_flags_the_first_special_byte_exactly() {
        const PICK: [u8; 16] = [
            b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff,
            b'a', b'0',
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200_000 {
            let r = next();
            let mut word = [0u8; 8];
            for (k, b) in word.iter_mut().enumerate() {
                let bits = (r >> (k * 8)) as u8;
                // Half the bytes from the table, half any byte at all.
                *b = if bits & 1 == 0 {
                    PICK[usize::from(bits >> 4)]
                } else {
                    (next() >> 32) as u8
                };
            }
            let first = word
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            let m = special(u64::from_le_bytes(word));
            match first {
                None => assert_eq!(m, 0, "{word:02x?}"),
                Some(at) => assert_eq!(m.trailing_zeros() / 8, at as u32, "{word:02x?}"),
            }
        }
    }

    /// `depth` opening brackets then `depth` closing ones (or `1` for 0), in `buf`.
    fn nested(depth: usize, buf: &mut [u8; 160]) -> &[u8] {
        if depth == 0 {
            buf[0] = b'1';
            return &buf[..1];
        }
        buf[..depth].fill(b'[');
        buf[depth..2 * depth].fill(b']');
        &buf[..2 * depth]
    }

    #[test]
    fn depth_limits() {
        let mut buf = [0u8; 160];
        for depth in 0..=10 {
            let text = nested(depth, &mut buf);
            let want = if depth <= 4 { Ok(()) } else { Err(TooDeep) };
            assert_eq!(check_syntax(text, 4), want, "{depth}");
            assert_eq!(check_depth(text, 4), want, "{depth}");
        }
        let objects = br#"{"a":{"b":{"c":{"d":1}}}}"#;
        assert_eq!(check_syntax(objects, 4), Ok(()));
        assert_eq!(check_syntax(objects, 3), Err(TooDeep));
        // Brackets inside strings are text, escaped quotes included.
        let quoted = br#"{"a":"[[[[\"[[[[","b":["{{{{"]}"#;
        assert_eq!(check_syntax(quoted, 2), Ok(()));
        assert_eq!(check_depth(quoted, 2), Ok(()));
        // Strings end, and brackets after them count again: an escaped backslash does not
        // escape the closing quote.
        for text in [
            &br#"{"a":"x","b":[[1]]}"#[..],
            br#"{"a":"\\","b":[[1]]}"#,
            br#"["\"",[[1]]]"#,
        ] {
            assert_eq!(check_syntax(text, 2), Err(TooDeep), "{text:?}");
            assert_eq!(check_depth(text, 2), Err(TooDeep), "{text:?}");
            assert_eq!(check_depth(text, 3), Ok(()), "{text:?}");
        }
        // Closed containers no longer count: siblings are as deep as one of them.
        for siblings in [
            &br#"[[1],[2],{"a":3},[4]]"#[..],
            br#"{"a":[1],"b":[2],"c":{"d":3}}"#,
        ] {
            assert_eq!(check_syntax(siblings, 2), Ok(()), "{siblings:?}");
            assert_eq!(check_depth(siblings, 2), Ok(()), "{siblings:?}");
        }
        // The bit set covers MAX_CHECK_DEPTH levels; deeper limits are clamped, not wrapped.
        assert_eq!(check_syntax(nested(64, &mut buf), 1000), Ok(()));
        assert_eq!(check_syntax(nested(65, &mut buf), 1000), Err(TooDeep));
        // Mixed containers close in the right order.
        assert_eq!(check_syntax(br#"[{"a":[{}]}]"#, 4), Ok(()));
        assert_eq!(check_syntax(br#"[{"a":[{}}]]"#, 4), Err(Syntax));
    }
}
