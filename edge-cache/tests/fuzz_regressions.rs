//! The fuzz targets' properties on the stable toolchain: every committed crash input
//! (`fuzz/regressions/<target>/`) replayed, and bounded proptests over inputs shaped like the real thing.

use marquee_edge_cache::fuzzing;
use proptest::prelude::*;

#[test]
fn disk_entry_regressions_still_pass() {
    marquee_test_support::fuzz::replay_regressions("disk_entry", fuzzing::disk_entry);
}

#[test]
fn config_file_regressions_still_pass() {
    marquee_test_support::fuzz::replay_regressions("config_file", fuzzing::config_file);
}

/// An `[edge]` section made of real keys with plausible and odd values, in the shapes a person writes them.
fn config_text() -> impl Strategy<Value = String> {
    let key = "(memory|fill_memory|memory_max_object|disk|disk_dir|upstreams|prefetch|listen|max_ttl|negative_ttl|\
               purge_token|cache_query_params|trusted_proxies|max_connections|write_timeout|unknown_key)";
    let value = "(\"[0-9]{1,6}(MiB|KiB|GB|s|ms|m)?\"|[0-9]{1,20}|-1|true|\\[\"http://h:[0-9]{1,5}\"(, \"[a-z0-9./]{0,8}\")?\\]|\
                 \"[0-9.]{7,15}(:[0-9]{1,5}|/[0-9]{1,2})?\"|\"[ -~]{0,12}\"|\\[\\]|\\{\\})";
    let line = (key, value).prop_map(|(key, value)| format!("{key} = {value}\n"));
    (proptest::collection::vec(line, 0..8), "(\\[edge\\]|\\[origin\\]|\\[edge\\.x\\]|edge = 1|)")
        .prop_map(|(lines, header)| format!("{header}\n{}", lines.concat()))
}

proptest! {
    #[test]
    fn config_file_property_holds(text in config_text()) {
        fuzzing::config_file(text.as_bytes());
    }
}

#[test]
fn freshness_regressions_still_pass() {
    marquee_test_support::fuzz::replay_regressions("freshness", fuzzing::freshness);
}

/// A header line as `fuzzing::freshness` reads it: a byte choosing the header, then a value made of real
/// directives with odd arguments, or a date, or anything.
fn freshness_line() -> impl Strategy<Value = Vec<u8>> {
    let directives = "((max-age|s-maxage|stale-while-revalidate|stale-if-error|no-store|no-store-remote|private|public|\
                      no-cache|must-revalidate|proxy-revalidate|immutable)(=(\"?[0-9]{0,12}[+;a-z]{0,3}\"?))?[, ]{0,2}){0,4}";
    let value = prop_oneof![
        3 => directives.prop_map(String::into_bytes),
        1 => "(Sun|Mon), [0-9]{2} (Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT|0|-1|[0-9]{1,20}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
    ];
    (any::<u8>(), value).prop_map(|(which, value)| {
        let mut line = vec![which];
        line.extend(value.into_iter().filter(|&b| b != b'\n'));
        line
    })
}

proptest! {
    #[test]
    fn freshness_property_holds(
        status in any::<[u8; 2]>(),
        lines in proptest::collection::vec(freshness_line(), 0..6),
    ) {
        let mut data = status.to_vec();
        for line in lines {
            data.extend(line);
            data.push(b'\n');
        }
        fuzzing::freshness(&data);
    }

    #[test]
    fn freshness_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        fuzzing::freshness(&data);
    }
}
