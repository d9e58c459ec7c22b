//! Splitting short text on one ASCII separator: PHC and passlib fields on `$`, scope lists on
//! spaces. A byte loop instead of `str::split`: core's `Split` and its searcher cost a device
//! about 600 bytes of flash (#26), and nothing split here is long.

/// `s.split(sep)`, for an ASCII `sep`: the same pieces, in order.
pub(crate) fn split(s: &str, sep: u8) -> Split<'_> {
    debug_assert!(sep.is_ascii());
    Split { rest: Some(s), sep }
}

/// The iterator of [`split`].
pub(crate) struct Split<'a> {
    /// What is left, or `None` after the last piece.
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        match s.bytes().position(|b| b == self.sep) {
            Some(at) => {
                // `sep` is ASCII, so both sides of it are char boundaries.
                self.rest = s.get(at.wrapping_add(1)..);
                s.get(..at)
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

/// `s.rsplit(sep).next()`, for an ASCII `sep`: what follows the last `sep`, or all of `s`.
#[cfg(feature = "password")]
pub(crate) fn last(s: &str, sep: u8) -> &str {
    s.bytes()
        .rposition(|b| b == sep)
        .and_then(|at| s.get(at.wrapping_add(1)..))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string of up to five characters from an alphabet with both separators and a
    /// two-byte character (1,365 of them), against `str::split` and `str::rsplit`.
    #[test]
    fn agrees_with_core_on_every_short_string() {
        let alphabet = ["a", "$", " ", "é"];
        let mut checked = 0;
        for len in 0..=5u32 {
            for mut code in 0..4usize.pow(len) {
                let mut buf = [0u8; 10];
                let mut at = 0;
                for _ in 0..len {
                    let c = alphabet[code % 4].as_bytes();
                    buf[at..at + c.len()].copy_from_slice(c);
                    at += c.len();
                    code /= 4;
                }
                let s = core::str::from_utf8(&buf[..at]).unwrap();
                for (sep, c) in [(b'$', '$'), (b' ', ' ')] {
                    assert!(split(s, sep).eq(s.split(c)), "{s:?} on {c:?}");
                    #[cfg(feature = "password")]
                    assert_eq!(
                        last(s, sep),
                        s.rsplit(c).next().unwrap_or_default(),
                        "{s:?}"
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 1 + 4 + 16 + 64 + 256 + 1024);
    }
}
