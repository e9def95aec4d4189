//! `marquee sign` and `marquee keygen`, called through the `marquee` library: the URLs they print verify
//! with the signing crate's own verifier.

use std::time::Duration;

use clap::Parser;
use marquee::sign::{self, KeygenArgs, SignArgs};
use marquee_signing::{split_token_path, ClientContext, KeyRing, TokenError, Verifier};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: SignArgs,
}

const KEY_FILE: &str = "[[keys]]\nid = \"k2\"\n\
    secret_hex = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\ncurrent = true\n";
const NOW: u64 = 1_790_000_000;

fn parse(extra: &[&str]) -> SignArgs {
    let mut argv = vec!["sign", "--key-file", "keys.toml", "--path", "/film42/"];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).unwrap().args
}

fn keys() -> KeyRing {
    KeyRing::from_toml("test", KEY_FILE).unwrap()
}

#[test]
fn defaults_print_a_path_to_the_master_playlist_valid_for_an_hour() {
    let args = parse(&[]);
    assert_eq!(args.ttl, Duration::from_secs(3600));
    assert_eq!(args.file, "master.m3u8");
    let url = sign::signed_url(&args, &keys(), NOW).unwrap();
    let (token, rest) = split_token_path(&url).unwrap();
    assert!(token.starts_with("v1.k2."), "{url}");
    assert_eq!(rest, "/film42/master.m3u8");
    let verifier = Verifier::new(keys());
    let claims = verifier.verify_token_path(&url, NOW + 3599, ClientContext::default()).unwrap();
    assert_eq!(claims.grant.expires_at(), NOW + 3600);
    assert!(matches!(
        verifier.verify_token_path(&url, NOW + 3600, ClientContext::default()),
        Err(TokenError::Expired { .. })
    ));
    // The same token covers the segments next to the playlist.
    assert!(verifier.verify(token, "/film42/video_1080p/seg_00001.m4s", NOW, ClientContext::default()).is_ok());
}

#[test]
fn base_url_ttl_and_bindings() {
    let args = parse(&[
        "--base-url",
        "http://localhost:8080/",
        "--ttl",
        "30m",
        "--ip",
        "192.0.2.7",
        "--session",
        "abc",
        "--file",
        "manifest.mpd",
    ]);
    let url = sign::signed_url(&args, &keys(), NOW).unwrap();
    let path = url.strip_prefix("http://localhost:8080").unwrap();
    assert!(path.ends_with("/film42/manifest.mpd"), "{url}");
    let verifier = Verifier::new(keys());
    let client = ClientContext { ip: Some("192.0.2.7".parse().unwrap()), session: Some("abc") };
    let claims = verifier.verify_token_path(path, NOW, client).unwrap();
    assert_eq!(claims.grant.expires_at(), NOW + 1800);
    assert_eq!(
        verifier.verify_token_path(path, NOW, ClientContext { ip: None, ..client }),
        Err(TokenError::IpMismatch)
    );
}

#[test]
fn bad_input_is_explained() {
    let cases: [(&[&str], &str); 5] = [
        (&["--ttl", "0s"], "--ttl"),
        (&["--base-url", "localhost:8080"], "http://"),
        (&["--base-url", "http://host/prefix"], "scheme and host"),
        (&["--file", "../other/master.m3u8"], "--file"),
        (&["--session", ""], "--session"),
    ];
    for (extra, needle) in cases {
        let err = sign::signed_url(&parse(extra), &keys(), NOW).unwrap_err();
        assert!(format!("{err:#}").contains(needle), "{extra:?}: {err:#}");
    }
    let mut args = parse(&[]);
    args.path = "/film42/../secret/".into();
    assert!(format!("{:#}", sign::signed_url(&args, &keys(), NOW).unwrap_err()).contains("--path"));
    assert!(Cli::try_parse_from(["sign", "--key-file", "k", "--path", "/a/", "--ttl", "soon"]).is_err());
    assert!(Cli::try_parse_from(["sign", "--key-file", "k", "--path", "/a/", "--ip", "1.2.3"]).is_err());
}

#[test]
fn run_reads_the_key_file_and_reports_its_problems() {
    let dir = std::env::temp_dir().join(format!("marquee-signing-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("keys.toml");
    std::fs::write(&good, KEY_FILE).unwrap();
    let mut args = parse(&[]);
    args.key_file = good;
    sign::run(args).unwrap();

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[keys]]\nid = \"k 1\"\nsecret_hex = \"00\"\n").unwrap();
    let mut args = parse(&[]);
    args.key_file = bad;
    let message = format!("{:#}", sign::run(args).unwrap_err());
    assert!(message.contains("3 problem(s)"), "{message}");
    let mut args = parse(&[]);
    args.key_file = dir.join("missing.toml");
    assert!(format!("{:#}", sign::run(args).unwrap_err()).contains("cannot read key file"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keygen_runs() {
    sign::run_keygen(KeygenArgs { id: "k1".into() }).unwrap();
    assert!(sign::run_keygen(KeygenArgs { id: "bad id".into() }).is_err());
}

#[test]
fn help_documents_every_flag() {
    use clap::CommandFactory;
    let help = Cli::command().render_long_help().to_string();
    for flag in ["--key-file", "--path", "--ttl", "--ip", "--session", "--base-url", "--file", "MARQUEE_KEY_FILE"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
