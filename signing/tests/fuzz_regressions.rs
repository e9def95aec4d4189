//! The fuzz targets' properties on the stable toolchain: every committed crash input
//! (`fuzz/regressions/<target>/`) replayed, and bounded proptests over inputs shaped like the real thing.

use marquee_signing::{fuzzing, generate_key_file_toml, Grant, KeyRing, SigningKey};
use proptest::prelude::*;

#[test]
fn token_regressions_still_pass() {
    marquee_test_support::fuzz::replay_regressions("token", fuzzing::token);
}

#[test]
fn key_file_regressions_still_pass() {
    marquee_test_support::fuzz::replay_regressions("key_file", fuzzing::key_file);
}

#[test]
fn a_generated_key_file_passes() {
    fuzzing::key_file(generate_key_file_toml("k1").unwrap().as_bytes());
}

/// Key files made of the real fields with odd values, sometimes missing or repeated.
fn key_file_text() -> impl Strategy<Value = String> {
    let key = (
        "[A-Za-z0-9_-]{0,34}|k1|k 1|",
        prop_oneof!["[0-9a-fA-F]{60,130}", "[0-9a-g]{0,8}", Just("00".repeat(32))],
        prop_oneof![Just(""), Just("current = true\n"), Just("current = false\n"), Just("current = 1\n")],
        prop_oneof![Just(""), Just("extra = 1\n")],
    )
        .prop_map(|(id, secret, current, extra)| {
            format!("[[keys]]\nid = \"{id}\"\nsecret_hex = \"{secret}\"\n{current}{extra}")
        });
    proptest::collection::vec(key, 0..4).prop_map(|keys| keys.join("\n"))
}

proptest! {
    #[test]
    fn key_file_property_holds(text in key_file_text()) {
        fuzzing::key_file(text.as_bytes());
    }

    #[test]
    fn key_file_never_panics_on_arbitrary_text(text in any::<String>()) {
        fuzzing::key_file(text.as_bytes());
    }

    /// Real tokens, one character changed: the parser's canonical-spelling and re-signing properties.
    #[test]
    fn token_property_holds_near_real_tokens(
        expires in 1u64..u64::MAX, session in proptest::option::of("[a-z]{1,8}"),
        at in any::<proptest::sample::Index>(), replacement in "[A-Za-z0-9._-]",
    ) {
        let keys = KeyRing::single(SigningKey::new("k1", &[1; 32]).unwrap());
        let mut grant = Grant::new("/film/", expires).unwrap();
        if let Some(session) = &session {
            grant = grant.bind_session(session).unwrap();
        }
        let token = keys.sign(&grant);
        fuzzing::token(token.as_bytes());
        let i = at.index(token.len());
        let mut changed = token.clone();
        changed.replace_range(i..=i, &replacement);
        fuzzing::token(changed.as_bytes());
        fuzzing::token(format!("/t/{changed}/film/seg.m4s").as_bytes());
    }

    #[test]
    fn token_property_holds_on_arbitrary_text(text in any::<String>()) {
        fuzzing::token(text.as_bytes());
    }
}
