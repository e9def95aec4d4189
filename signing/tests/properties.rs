//! Property tests: round trips, tamper resistance, parser robustness, and that no traversal trick verifies.

use std::net::IpAddr;

use marquee_signing::{
    check_plain_path, query_token, split_token_path, ClientContext, Grant, KeyRing, SigningKey, TokenError, Verifier,
};
use proptest::prelude::*;
use proptest::sample::Index;

const SECRET: [u8; 32] = [0x5a; 32];

/// k1 signs; k2 has the same secret, so only the key id in the signed text tells them apart; k3 differs.
fn keys() -> KeyRing {
    let k1 = SigningKey::new("k1", &SECRET).unwrap();
    let k2 = SigningKey::new("k2", &SECRET).unwrap();
    let k3 = SigningKey::new("k3", &[0xa5; 32]).unwrap();
    KeyRing::new(vec![k1, k2, k3], "k1").unwrap()
}

fn segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_~-][A-Za-z0-9_.~-]{0,7}"
}

fn prefix() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 1..4).prop_map(|s| format!("/{}/", s.join("/")))
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![any::<[u8; 4]>().prop_map(IpAddr::from), any::<[u8; 16]>().prop_map(IpAddr::from)]
}

/// A grant, a time inside its lifetime, and the client it was made for.
#[derive(Debug, Clone)]
struct Case {
    grant: Grant,
    now: u64,
    ip: Option<IpAddr>,
    session: Option<String>,
}

impl Case {
    fn client(&self) -> ClientContext<'_> {
        ClientContext { ip: self.ip, session: self.session.as_deref() }
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        prefix(),
        1..u64::MAX,
        any::<Option<Index>>(),
        any::<Index>(),
        prop::option::of(ip()),
        prop::option::of("[^\\p{Cc}]{1,30}"),
    )
        .prop_map(|(prefix, expires_at, nbf, now, ip, session)| {
            let mut grant = Grant::new(&prefix, expires_at).unwrap();
            let not_before = nbf.map(|i| i.index(expires_at as usize) as u64);
            if let Some(nbf) = not_before {
                grant = grant.valid_from(nbf).unwrap();
            }
            let start = not_before.unwrap_or(0);
            let now = start + now.index((expires_at - start) as usize) as u64;
            if let Some(ip) = ip {
                grant = grant.bind_ip(ip);
            }
            if let Some(session) = &session {
                grant = grant.bind_session(session).unwrap();
            }
            Case { grant, now, ip, session }
        })
}

/// Builds the grant `case` would have with one claim changed.
fn rebuild(g: &Grant, prefix: &str, expires_at: u64, ip: Option<IpAddr>, session: Option<&str>) -> Option<Grant> {
    let mut out = Grant::new(prefix, expires_at).ok()?;
    if let Some(nbf) = g.not_before() {
        out = out.valid_from(nbf).ok()?;
    }
    if let Some(ip) = ip {
        out = out.bind_ip(ip);
    }
    if let Some(session) = session {
        out = out.bind_session(session).ok()?;
    }
    Some(out)
}

/// Puts `from`'s MAC on `to`'s claims: what an attacker who edits claims in a valid token produces.
fn splice_mac(from: &str, to: &str) -> String {
    let (_, mac) = from.rsplit_once('.').unwrap();
    let (payload, _) = to.rsplit_once('.').unwrap();
    format!("{payload}.{mac}")
}

/// How a lenient layer (a decoder, a Windows filesystem, a servlet container) might read a path: decode
/// percent-escapes until nothing changes, treat `\` as `/`, drop `;params`, resolve `.` and `..`, squash `//`.
fn lenient_resolve(path: &str) -> String {
    let mut text = path.to_owned();
    for _ in 0..4 {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() && text.is_char_boundary(i + 3) {
                if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        let decoded = String::from_utf8_lossy(&out).into_owned();
        if decoded == text {
            break;
        }
        text = decoded;
    }
    let text = text.replace('\\', "/");
    let mut stack: Vec<&str> = Vec::new();
    for segment in text.split('/') {
        let segment = segment.split(';').next().unwrap_or("");
        match segment {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
    }
    let trailing = if text.ends_with('/') && !stack.is_empty() { "/" } else { "" };
    format!("/{}{trailing}", stack.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever is signed verifies, inside its lifetime, for any file under its prefix, and gives back
    /// exactly the claims that were signed.
    #[test]
    fn sign_then_verify_round_trips(case in case(), file in "[a-z0-9_]{1,8}(\\.m4s|\\.m3u8)?") {
        let keys = keys();
        let token = keys.sign(&case.grant);
        prop_assert!(token.len() <= marquee_signing::token::MAX_TOKEN_LEN);
        prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{}", token);
        let path = format!("{}{file}", case.grant.prefix());
        let claims = Verifier::new(keys.clone()).verify(&token, &path, case.now, case.client()).unwrap();
        prop_assert_eq!(&claims.key_id, "k1");
        prop_assert_eq!(&claims.grant, &case.grant);
        let url = keys.signed_path(&case.grant, &file).unwrap();
        prop_assert_eq!(split_token_path(&url), Some((token.as_str(), path.as_str())));
    }

    /// Editing any claim (prefix, expiry, IP, session, key id) while keeping the MAC never verifies.
    #[test]
    fn edited_claims_never_verify(case in case(), other_prefix in prefix(), other_ip in ip(), other_session in "[a-z]{1,12}", delta in 1..1000u64) {
        let keys = keys();
        let verifier = Verifier::new(keys.clone());
        let token = keys.sign(&case.grant);
        let g = &case.grant;
        let mut edits = Vec::new();
        if other_prefix != g.prefix() {
            edits.push(rebuild(g, &other_prefix, g.expires_at(), g.ip(), g.session()));
        }
        edits.push(rebuild(g, g.prefix(), g.expires_at().saturating_add(delta), g.ip(), g.session()));
        edits.push(rebuild(g, g.prefix(), g.expires_at().saturating_sub(delta).max(1), g.ip(), g.session()));
        edits.push(rebuild(g, g.prefix(), g.expires_at(), Some(other_ip), g.session()));
        edits.push(rebuild(g, g.prefix(), g.expires_at(), None, g.session()));
        edits.push(rebuild(g, g.prefix(), g.expires_at(), g.ip(), Some(&other_session)));
        edits.push(rebuild(g, g.prefix(), g.expires_at(), g.ip(), None));
        for edited in edits.into_iter().flatten().filter(|e| e != g) {
            let forged = splice_mac(&token, &keys.sign(&edited));
            let path = format!("{}x", edited.prefix());
            let client = ClientContext { ip: edited.ip(), session: edited.session() };
            let now = edited.not_before().unwrap_or(0).max(case.now.min(edited.expires_at() - 1));
            let result = verifier.verify(&forged, &path, now, client);
            prop_assert!(result.is_err(), "{:?} verified as {:?}", edited, result);
        }
        // Same secret, other key id: the id is signed too.
        for kid in ["k2", "k3", "k9"] {
            let forged = token.replacen("v1.k1.", &format!("v1.{kid}."), 1);
            let path = format!("{}x", g.prefix());
            let result = verifier.verify(&forged, &path, case.now, case.client());
            let expected = if kid == "k9" { TokenError::UnknownKey } else { TokenError::BadSignature };
            prop_assert_eq!(result, Err(expected));
        }
    }

    /// Changing, deleting or inserting any single character of a valid token never verifies.
    #[test]
    fn any_single_character_change_fails(case in case(), at in any::<Index>(), replacement in any::<char>(), kind in 0..3u8) {
        let keys = keys();
        let token = keys.sign(&case.grant);
        let i = at.index(token.len());
        let original = token.as_bytes()[i] as char;
        let mut chars: Vec<char> = token.chars().collect();
        match kind {
            0 => {
                prop_assume!(replacement != original);
                chars[i] = replacement;
            }
            1 => {
                chars.remove(i);
            }
            _ => chars.insert(i, replacement),
        }
        let tampered: String = chars.into_iter().collect();
        let path = format!("{}x", case.grant.prefix());
        let result = Verifier::new(keys).verify(&tampered, &path, case.now, case.client());
        prop_assert!(result.is_err(), "{} verified", tampered);
    }

    /// Arbitrary text never panics any parser, and never verifies.
    #[test]
    fn arbitrary_input_never_panics(token in any::<String>(), path in any::<String>(), query in any::<String>()) {
        let verifier = Verifier::new(keys());
        prop_assert!(verifier.verify(&token, &path, 1, ClientContext::default()).is_err());
        prop_assert!(verifier.verify_token_path(&path, 1, ClientContext::default()).is_err());
        let _ = check_plain_path(&path);
        let _ = split_token_path(&path);
        let _ = query_token(&query);
    }

    /// Token-shaped text (the token alphabet, dots, known field tags) never panics and never verifies.
    #[test]
    fn token_shaped_input_never_verifies(token in "v1\\.(k1|k2|k9)(\\.[pensi]?[A-Za-z0-9_-]{0,12}){0,7}") {
        let result = Verifier::new(keys()).verify(&token, "/a/x", 1, ClientContext::default());
        prop_assert!(result.is_err());
    }

    /// A path that verifies for a prefix lies inside that prefix however leniently a later layer reads it:
    /// no mix of dots, slashes, backslashes, `;` and percent-escapes (any case, double-encoded) escapes.
    #[test]
    fn traversal_never_escapes_the_prefix(
        tail in prop::collection::vec(
            prop_oneof![
                Just(".."), Just("."), Just("/"), Just("\\"), Just(";"), Just("%2e"), Just("%2E"), Just("%2f"),
                Just("%2F"), Just("%5c"), Just("%5C"), Just("%25"), Just("%00"), Just("\0"), Just("\u{ff0e}"),
                Just("b"), Just("secret"), Just("a"), Just("%20"),
            ],
            0..14,
        ),
    ) {
        let keys = keys();
        let grant = Grant::new("/a/", 10).unwrap();
        let token = keys.sign(&grant);
        let path = format!("/a/{}", tail.concat());
        let result = Verifier::new(keys).verify(&token, &path, 1, ClientContext::default());
        if result.is_ok() {
            let resolved = lenient_resolve(&path);
            prop_assert!(resolved.starts_with("/a/"), "{:?} verified but resolves to {:?}", path, resolved);
            prop_assert_eq!(check_plain_path(&path), Ok(()));
        }
    }

    /// Prefix matching is by whole segments: a plain path verifies exactly when the prefix's segments
    /// are the first segments of the path.
    #[test]
    fn prefix_matches_whole_segments(p in prop::collection::vec("[ab]{1,2}", 1..3), q in prop::collection::vec("[ab]{1,2}", 1..4)) {
        let keys = keys();
        let prefix = format!("/{}/", p.join("/"));
        let path = format!("/{}", q.join("/"));
        let token = keys.sign(&Grant::new(&prefix, 10).unwrap());
        let inside = q.len() > p.len() && q[..p.len()] == p[..];
        let result = Verifier::new(keys).verify(&token, &path, 1, ClientContext::default());
        prop_assert_eq!(result.is_ok(), inside, "{} for {}: {:?}", path, prefix, result);
        if !inside {
            prop_assert_eq!(result, Err(TokenError::WrongPrefix));
        }
    }
}

#[test]
fn lenient_resolve_model_sees_the_tricks() {
    assert_eq!(lenient_resolve("/a/..%2Fb"), "/b");
    assert_eq!(lenient_resolve("/a/%252e%252e/b"), "/b");
    assert_eq!(lenient_resolve("/a/..\\b"), "/b");
    assert_eq!(lenient_resolve("/a/..;x/b"), "/b");
    assert_eq!(lenient_resolve("/a/b/"), "/a/b/");
}

#[test]
fn known_traversal_attacks_are_refused() {
    let keys = keys();
    let token = keys.sign(&Grant::new("/film42/", 10).unwrap());
    let verifier = Verifier::new(keys);
    let attacks = [
        "/film42/../film43/master.m3u8",
        "/film42/./../film43/x",
        "/film42/%2e%2e/film43/x",
        "/film42/%2E%2E/film43/x",
        "/film42/.%2e/film43/x",
        "/film42/%2e./film43/x",
        "/film42/..%2ffilm43/x",
        "/film42/..%2Ffilm43/x",
        "/film42/..%5cfilm43/x",
        "/film42/..%5Cfilm43/x",
        "/film42/..\\film43/x",
        "/film42/..;/film43/x",
        "/film42/%252e%252e/film43/x",
        "/film42/%c0%ae%c0%ae/film43/x",
        "/film42/\u{ff0e}\u{ff0e}/film43/x",
        "/film42//../film43/x",
        "//film42/x",
        "/film42/x%00.m3u8",
        "/film42/x\0",
        "/film42/x\n",
        "film42/x",
        "/film42%2f../film43/x",
        "/film42/...",
        "/film42/x?y=1",
    ];
    for path in attacks {
        let result = verifier.verify(&token, path, 1, ClientContext::default());
        assert_eq!(result, Err(TokenError::UnsafePath), "{path:?}");
    }
    for path in ["/film43/x", "/film42", "/film421/x", "/film4/x", "/"] {
        assert_eq!(
            verifier.verify(&token, path, 1, ClientContext::default()),
            Err(TokenError::WrongPrefix),
            "{path:?}"
        );
    }
}
