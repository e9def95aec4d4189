//! Signed playback URLs, on SQLite and on PostgreSQL: who may have them, for which assets, and that the
//! origin's verifier accepts them for the asset's files only.

mod common;

use marquee_control_api::on_both_engines;

use std::sync::Arc;
use std::time::Duration;

use common::{call, send, Engine, TestApi};
use marquee_control_api::auth::Role;
use marquee_control_api::playback::{NoEntitlements, Playback};
use marquee_signing::{ClientContext, KeyRing, Verifier};

fn keys() -> KeyRing {
    let text = marquee_signing::generate_key_file_toml("k1").unwrap();
    KeyRing::from_toml("keys.toml", &text).unwrap()
}

on_both_engines!(owners_and_admins_get_signed_urls_others_do_not, |engine: Engine| async move {
    let playback = Playback {
        keys: keys(),
        base_url: "https://cdn.example.com".into(),
        ttl: Duration::from_secs(3600),
        entitlements: Arc::new(NoEntitlements),
    };
    let verifier = Verifier::new(playback.keys.clone());
    let api = TestApi::start_with_playback(engine, playback).await;
    let owner = api.signed_in("cora@example.com", Role::Creator).await;
    let other = api.signed_in("olga@example.com", Role::Creator).await;
    let viewer = api.signed_in("vic@example.com", Role::Viewer).await;
    let admin = api.signed_in("ada@example.com", Role::Admin).await;
    let asset = api.uploaded(&owner).await;
    let url = api.url(&format!("/v1/assets/{asset}/playback"));

    let early = call("POST", &url, &owner, None).await;
    assert_eq!((early.status, early.json()["error"]["code"].as_str()), (409, Some("asset_not_ready")));

    let prefix = format!("media/{asset}/a1/");
    api.publish(&asset, &prefix).await;
    let answer = call("POST", &url, &owner, None).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let urls = answer.json();
    // Valid for the TTL from now by the API's clock, with a time to ask again a minute before.
    let now = api.clock.clock().now_s();
    let (expires_at, refresh_at) = (urls["expires_at"].as_u64().unwrap(), urls["refresh_at"].as_u64().unwrap());
    assert_eq!((expires_at, refresh_at), (now + 3600, now + 3540), "{urls}");
    for (field, file) in [("hls_url", "master.m3u8"), ("dash_url", "manifest.mpd")] {
        let url = urls[field].as_str().unwrap();
        let path = url.strip_prefix("https://cdn.example.com").unwrap_or_else(|| panic!("{url}"));
        assert!(path.ends_with(&format!("/{prefix}{file}")), "{path}");
        // What the origin does with the path: the token authorises this asset's files, and no other's.
        let (token, rest) = marquee_signing::split_token_path(path).unwrap();
        let client = ClientContext::default();
        verifier.verify(token, rest, now, client).expect("the origin accepts it");
        verifier.verify(token, rest, expires_at - 1, client).expect("until its last second");
        let late = verifier.verify(token, rest, expires_at, client);
        assert!(matches!(late, Err(marquee_signing::TokenError::Expired { .. })), "{late:?}");
        verifier.verify(token, &format!("/{prefix}video_1080p/seg_00001.m4s"), now, client).expect("and its segments");
        assert!(verifier.verify(token, &format!("/media/someone-else/a1/{file}"), now, client).is_err());
    }

    // The poster: its storage key, and a URL that needs no viewer: signed for the poster's folder only.
    let read = call("GET", &api.url(&format!("/v1/assets/{asset}")), &owner, None).await.json();
    let poster_key = format!("{prefix}images/poster.jpg");
    assert_eq!(read["poster"]["path"], poster_key.as_str(), "{read}");
    let poster_url = read["poster"]["url"].as_str().unwrap_or_else(|| panic!("a poster URL: {read}"));
    let path = poster_url.strip_prefix("https://cdn.example.com").unwrap_or_else(|| panic!("{poster_url}"));
    let (token, rest) = marquee_signing::split_token_path(path).unwrap();
    assert_eq!(rest, format!("/{poster_key}"));
    let claims = verifier.verify(token, rest, now, ClientContext::default()).expect("the origin serves the poster");
    assert!(claims.grant.expires_at() >= now + 7 * 24 * 3600, "valid for a week at least");
    assert_eq!(claims.grant.expires_at() % (24 * 3600), 0, "the same URL all day");
    for media in ["master.m3u8", "manifest.mpd", "video_1080p/seg_00001.m4s"] {
        let media = format!("/{prefix}{media}");
        assert!(verifier.verify(token, &media, now, ClientContext::default()).is_err(), "{media} is not granted");
    }
    let listed = call("GET", &api.url("/v1/assets"), &owner, None).await.json();
    assert_eq!(listed["items"][0]["poster"]["url"], poster_url, "listed with the same URL");

    assert_eq!(call("POST", &url, &admin, None).await.status, 200);
    for token in [&other, &viewer] {
        let refused = call("POST", &url, token, None).await;
        assert_eq!((refused.status, refused.json()["error"]["code"].as_str()), (403, Some("forbidden")));
    }
    assert_eq!(send("POST", &url, &[], Vec::new()).await.status, 401, "a signed asset needs a signed-in caller");

    // A public asset plays for anyone, signed in or not.
    sqlx::query("UPDATE assets SET playback_policy = 'public' WHERE id = $1")
        .bind(&asset)
        .execute(api.db.pool())
        .await
        .unwrap();
    assert_eq!(send("POST", &url, &[], Vec::new()).await.status, 200);
    assert_eq!(call("POST", &url, &viewer, None).await.status, 200);

    // Gone once deleted.
    assert_eq!(call("DELETE", &api.url(&format!("/v1/assets/{asset}")), &owner, None).await.status, 204);
    assert_eq!(call("POST", &url, &owner, None).await.status, 404);
    api.stop().await;
});

on_both_engines!(without_keys_playback_says_what_to_configure, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let owner = api.signed_in("cora@example.com", Role::Creator).await;
    let asset = api.uploaded(&owner).await;
    let answer = call("POST", &api.url(&format!("/v1/assets/{asset}/playback")), &owner, None).await;
    assert_eq!((answer.status, answer.json()["error"]["code"].as_str()), (503, Some("playback_not_configured")));
    assert!(answer.json()["error"]["message"].as_str().unwrap().contains("--key-file"));
    // Without keys the poster is named by its key only; none before a presentation is published.
    let read = || async { call("GET", &api.url(&format!("/v1/assets/{asset}")), &owner, None).await.json() };
    assert!(read().await.get("poster").is_none());
    api.published(&asset).await;
    let poster = read().await["poster"].clone();
    assert_eq!(poster, serde_json::json!({ "path": format!("media/{asset}/a1/images/poster.jpg") }));
    api.stop().await;
});
