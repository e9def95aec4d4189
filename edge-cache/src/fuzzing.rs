//! Properties of this crate's parsers of untrusted input, shared by the cargo-fuzz targets (`fuzz/`), the
//! bounded proptests and the replay of committed crash inputs (`fuzz/regressions/<target>/`). Each takes raw
//! bytes and panics when a property fails. Not part of the API.

use std::path::Path;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use xxhash_rust::xxh3::xxh3_64;

use crate::disk::entry;
use crate::freshness::FreshnessPolicy;

/// The disk entry codec: `decode` never panics; what it accepts re-encodes to an entry that decodes the same
/// and is as long (byte for byte the same unless the reserved flags were set). The bytes are also decoded
/// with their checksum made right, so that the header and length checks behind it are explored too.
pub fn disk_entry(data: &[u8]) {
    check_entry(data);
    if data.len() >= 8 {
        let mut fixed = data.to_vec();
        let covered = fixed.len() - 8;
        let checksum = xxh3_64(&fixed[..covered]).to_le_bytes();
        fixed[covered..].copy_from_slice(&checksum);
        check_entry(&fixed);
    }
}

fn check_entry(data: &[u8]) {
    let Ok(decoded) = entry::decode(data) else { return };
    let encoded = entry::encode(decoded.key, decoded.meta, decoded.body);
    assert_eq!(entry::decode(&encoded), Ok(decoded), "a decoded entry must survive a round trip");
    assert_eq!(encoded.len(), data.len());
    if data[10..12] == [0, 0] {
        assert_eq!(encoded, data, "an entry without flags must re-encode to the same bytes");
    }
}

/// Header names a fuzz input's lines can pick (by their first byte).
const FRESHNESS_HEADERS: [&str; 8] =
    ["cache-control", "surrogate-control", "expires", "date", "age", "vary", "last-modified", "set-cookie"];

/// `Cache-Control`, `Surrogate-Control`, `Expires` (and the `Date`, `Age`, `Vary` and `Last-Modified` they are
/// read with): `FreshnessPolicy::evaluate` never panics on any header values, and every lifetime and stale
/// window it grants stays within the policy's cap (the negative TTL for 404 and 410).
///
/// Input: two bytes of status, then lines (`\n`): a byte choosing the header name, then the value.
pub fn freshness(data: &[u8]) {
    let Some((status, rest)) = data.split_first_chunk::<2>() else { return };
    let Ok(status) = StatusCode::from_u16(100 + u16::from_le_bytes(*status) % 500) else { return };
    let mut headers = HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        let Some((&which, value)) = line.split_first() else { continue };
        let name = HeaderName::from_static(FRESHNESS_HEADERS[usize::from(which) % FRESHNESS_HEADERS.len()]);
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    let policy = FreshnessPolicy::default();
    let received = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    let Ok(freshness) = policy.evaluate(status, &headers, received) else { return };
    let cap = if matches!(status.as_u16(), 404 | 410) { policy.negative_ttl } else { policy.max_ttl };
    assert!(freshness.ttl <= cap, "ttl {:?} over the cap for {status}", freshness.ttl);
    assert!(freshness.stale_while_revalidate <= policy.max_ttl);
    assert!(freshness.stale_if_error <= policy.max_ttl);
    for age in [Duration::ZERO, freshness.ttl, freshness.retain_for(), Duration::MAX] {
        let _ = freshness.state(age);
    }
}

/// A config file (`marquee.toml`) with the edge's section: reading never panics and says why when it gives
/// up; every key it keeps passes its own check again; the kept keys together resolve into an `EdgeConfig`
/// with no further problem (each was checked alone, so together they must deserialize), and checking that
/// config never panics.
pub fn config_file(data: &[u8]) {
    use std::sync::OnceLock;

    use marquee_settings::Section;

    use crate::EdgeConfig;

    static NO_FLAGS: OnceLock<clap::ArgMatches> = OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else { return };
    let sections = [Section::of::<EdgeConfig>()];
    let mut problems = Vec::new();
    let Some(file) = marquee_settings::file::load_text(Path::new("marquee.toml"), text, &sections, &mut problems)
    else {
        assert!(!problems.is_empty(), "a file that cannot be read says why");
        return;
    };
    for (name, keys) in &file.sections {
        assert_eq!(name, "edge", "only known sections are kept");
        for (key, value) in keys {
            assert_eq!(sections[0].check_key(key, value), Ok(()), "a kept key passes its check: {key}");
        }
    }
    let matches = NO_FLAGS.get_or_init(|| {
        let command = sections[0].args(clap::Command::new("edge").no_binary_name(true));
        let ids: Vec<String> = command.get_arguments().map(|arg| arg.get_id().to_string()).collect();
        let command = ids.into_iter().fold(command, |command, id| command.mut_arg(id, |arg| arg.env(None::<&str>)));
        command.try_get_matches_from(Vec::<String>::new()).expect("no arguments parse")
    });
    let section = file.section("edge");
    let (resolved, reports) = marquee_settings::resolve::<EdgeConfig>(matches, Some(&section));
    assert!(reports.is_empty(), "keys that passed alone resolve together: {reports:?}");
    let _ = resolved.value.problems();
}
