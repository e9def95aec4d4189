//! `Range: bytes=…` parsing (RFC 9110 §14): one range is served, anything else falls back to the whole object.

/// An inclusive byte range that lies inside the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    pub fn len(self) -> u64 {
        self.last - self.first + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }

    /// The `Content-Range` value for this range of an object of `total` bytes.
    pub fn content_range(self, total: u64) -> String {
        format!("bytes {}-{}/{total}", self.first, self.last)
    }
}

/// What to send for a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeDecision {
    /// 200 with the whole object: no header, a syntax error, another unit, or several ranges. Multi-range
    /// requests are answered whole because a multipart/byteranges body costs more to build than it saves and
    /// players never send one; RFC 9110 lets a server ignore `Range`.
    Full,
    /// 206 with this range.
    Partial(ByteRange),
    /// 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// Decides how to answer `header` (the `Range` value, if any) for an object of `len` bytes.
pub fn decide(header: Option<&str>, len: u64) -> RangeDecision {
    let Some(header) = header else { return RangeDecision::Full };
    let Some(spec) = strip_bytes_unit(header.trim()) else { return RangeDecision::Full };
    if spec.contains(',') {
        return RangeDecision::Full;
    }
    match parse_spec(spec.trim()) {
        None => RangeDecision::Full,
        Some(spec) => resolve(spec, len),
    }
}

/// `bytes=` is case-insensitive, like every range unit.
fn strip_bytes_unit(header: &str) -> Option<&str> {
    let (unit, spec) = header.split_once('=')?;
    unit.trim().eq_ignore_ascii_case("bytes").then_some(spec)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-last` or `first-`.
    From { first: u64, last: Option<u64> },
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

fn parse_spec(spec: &str) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    if first.is_empty() {
        return Some(Spec::Suffix(parse_digits(last)?));
    }
    let first = parse_digits(first)?;
    let last = if last.is_empty() { None } else { Some(parse_digits(last)?) };
    if last.is_some_and(|last| last < first) {
        return None;
    }
    Some(Spec::From { first, last })
}

/// Decimal digits only (no sign, no spaces), saturating: a position past `u64::MAX` is still past the end.
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |n, b| n.saturating_mul(10).saturating_add(u64::from(b - b'0'))))
}

fn resolve(spec: Spec, len: u64) -> RangeDecision {
    match spec {
        Spec::From { first, .. } if first >= len => RangeDecision::Unsatisfiable,
        Spec::From { first, last } => {
            let last = last.map_or(len - 1, |last| last.min(len - 1));
            RangeDecision::Partial(ByteRange { first, last })
        }
        Spec::Suffix(0) => RangeDecision::Unsatisfiable,
        Spec::Suffix(_) if len == 0 => RangeDecision::Unsatisfiable,
        Spec::Suffix(n) => RangeDecision::Partial(ByteRange { first: len - n.min(len), last: len - 1 }),
    }
}

/// What to ask storage for to answer `header` without knowing the object's size first: `Some(None)` for the
/// whole object (no header, or one answered whole), `Some(Some(first..end))` for a `first-last` or `first-`
/// range (`end` past the object is clamped by storage, as [`decide`] clamps it), and `None` for a suffix range
/// (`-n`), which needs the size before its first byte is known.
pub fn storage_range(header: Option<&str>) -> Option<Option<std::ops::Range<u64>>> {
    let Some(header) = header else { return Some(None) };
    let Some(spec) = strip_bytes_unit(header.trim()) else { return Some(None) };
    if spec.contains(',') {
        return Some(None);
    }
    match parse_spec(spec.trim()) {
        None => Some(None),
        Some(Spec::From { first, last }) => Some(Some(first..last.map_or(u64::MAX, |last| last.saturating_add(1)))),
        Some(Spec::Suffix(_)) => None,
    }
}

/// The `Content-Range` value of a 416 answer.
pub fn unsatisfied_content_range(len: u64) -> String {
    format!("bytes */{len}")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use RangeDecision::*;

    fn partial(first: u64, last: u64) -> RangeDecision {
        Partial(ByteRange { first, last })
    }

    #[test]
    fn single_ranges() {
        assert_eq!(decide(None, 100), Full);
        assert_eq!(decide(Some("bytes=0-9"), 100), partial(0, 9));
        assert_eq!(decide(Some("bytes=90-"), 100), partial(90, 99));
        assert_eq!(decide(Some("bytes=90-500"), 100), partial(90, 99));
        assert_eq!(decide(Some("bytes=-10"), 100), partial(90, 99));
        assert_eq!(decide(Some("bytes=-1000"), 100), partial(0, 99));
        assert_eq!(decide(Some("Bytes = 5-5"), 100), partial(5, 5));
        assert_eq!(decide(Some("bytes=0-99999999999999999999999"), 100), partial(0, 99));
    }

    #[test]
    fn storage_ranges_agree_with_decide() {
        assert_eq!(storage_range(None), Some(None));
        assert_eq!(storage_range(Some("bytes=0-9")), Some(Some(0..10)));
        assert_eq!(storage_range(Some("bytes=90-")), Some(Some(90..u64::MAX)));
        assert_eq!(storage_range(Some("bytes=0-99999999999999999999999")), Some(Some(0..u64::MAX)));
        assert_eq!(storage_range(Some("bytes=-10")), None);
        assert_eq!(storage_range(Some("bytes=0-1,5-6")), Some(None));
        assert_eq!(storage_range(Some("items=0-9")), Some(None));
        assert_eq!(storage_range(Some("bytes=9-0")), Some(None));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(decide(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(decide(Some("bytes=100-200"), 100), Unsatisfiable);
        assert_eq!(decide(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(decide(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(decide(Some("bytes=-5"), 0), Unsatisfiable);
        assert_eq!(unsatisfied_content_range(100), "bytes */100");
    }

    #[test]
    fn invalid_or_multiple_ranges_get_the_whole_object() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=+1-2",
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=0-1, 0-1, 0-1",
            "bytes= 1 -2",
        ] {
            assert_eq!(decide(Some(header), 100), Full, "{header:?}");
        }
    }

    #[test]
    fn content_range_header() {
        assert_eq!(ByteRange { first: 0, last: 9 }.content_range(100), "bytes 0-9/100");
        assert_eq!(ByteRange { first: 0, last: 9 }.len(), 10);
    }

    proptest! {
        #[test]
        fn never_panics_and_partial_ranges_lie_inside_the_object(header in "(bytes|BYTES|x)?=?[-0-9, ]{0,24}", len in 0u64..1000) {
            if let Partial(range) = decide(Some(&header), len) {
                prop_assert!(range.first <= range.last && range.last < len, "{header:?} {len} {range:?}");
            }
        }

        #[test]
        fn arbitrary_text_never_panics(header in any::<String>(), len in any::<u64>()) {
            let _ = decide(Some(&header), len);
        }

        #[test]
        fn explicit_ranges_match_a_model(first in 0u64..200, extra in 0u64..200, len in 0u64..200) {
            let last = first + extra;
            let expected = if first >= len { Unsatisfiable } else { partial(first, last.min(len - 1)) };
            prop_assert_eq!(decide(Some(&format!("bytes={first}-{last}")), len), expected);
        }

        #[test]
        fn suffix_ranges_match_a_model(n in 0u64..300, len in 0u64..200) {
            let expected = if n == 0 || len == 0 { Unsatisfiable } else { partial(len - n.min(len), len - 1) };
            prop_assert_eq!(decide(Some(&format!("bytes=-{n}")), len), expected);
        }
    }
}
