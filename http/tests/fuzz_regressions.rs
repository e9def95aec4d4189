//! The fuzz targets' properties on the stable toolchain: every committed crash input
//! (`fuzz/regressions/<target>/`) replayed, and bounded proptests over inputs shaped like the real thing.

use marquee_http::fuzzing;
use proptest::prelude::*;

#[test]
fn request_path_regressions_still_pass() {
    marquee_test_support::fuzz::replay_regressions("request_path", fuzzing::request_path);
}

#[test]
fn range_regressions_still_pass() {
    marquee_test_support::fuzz::replay_regressions("range", fuzzing::range);
}

#[test]
fn conditional_regressions_still_pass() {
    marquee_test_support::fuzz::replay_regressions("conditional", fuzzing::conditional);
}

/// A conditional header line as `fuzzing::conditional` reads it: a byte choosing the header, then a value
/// made of entity tags, dates, ranges, or anything.
fn conditional_line() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        "((W/)?\"[0-9a-f-]{0,12}\"|\\*|,| ){0,4}".prop_map(String::into_bytes),
        "(Sun|Tue), [0-9]{2} (Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT".prop_map(String::into_bytes),
        "(bytes|BYTES|x)?=?[-0-9, ]{0,24}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..30),
    ];
    (any::<u8>(), value).prop_map(|(which, value)| {
        let mut line = vec![which];
        line.extend(value.into_iter().filter(|&b| b != b'\n'));
        line
    })
}

proptest! {
    #[test]
    fn request_path_property_holds(raw in "(/([a-z.]{0,3}|%2[eEfF]|%5[cC]|%00|%[0-9a-fA-F]{2}|[^/]{0,4})){1,6}") {
        fuzzing::request_path(raw.as_bytes());
    }

    #[test]
    fn range_property_holds(len in any::<[u8; 8]>(), header in "(bytes|BYTES|x)? ?=?[-0-9, ]{0,24}") {
        let mut data = len.to_vec();
        data.extend_from_slice(header.as_bytes());
        fuzzing::range(&data);
    }

    #[test]
    fn conditional_property_holds(
        head in any::<[u8; 9]>(),
        lines in proptest::collection::vec(conditional_line(), 0..5),
    ) {
        let mut data = head.to_vec();
        for line in lines {
            data.extend(line);
            data.push(b'\n');
        }
        fuzzing::conditional(&data);
    }
}
