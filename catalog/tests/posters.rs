//! Posters over HTTP, on SQLite and PostgreSQL: a title without an uploaded poster shows the poster of its
//! video (a movie's feature, a series' or season's first episode's), marked as coming from the asset, until
//! one is uploaded; every poster comes with a URL the origin accepts without a viewer's token.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use marquee_catalog::Catalog;
use marquee_control_api::on_both_engines;
use marquee_control_api::playback::{NoEntitlements, Playback};
use marquee_control_api::Satellites;
use marquee_signing::{ClientContext, KeyRing, Verifier};

const CDN: &str = "https://cdn.example.com";

/// An API with the catalog (on the test clock) that signs playback URLs; the verifier the origin would use.
async fn start(engine: Engine) -> (World, Verifier) {
    let keys = KeyRing::from_toml("keys.toml", &marquee_signing::generate_key_file_toml("k1").unwrap()).unwrap();
    let playback = Playback {
        keys: keys.clone(),
        base_url: CDN.into(),
        ttl: Duration::from_secs(600),
        entitlements: Arc::new(NoEntitlements),
    };
    let index = Arc::new(RecordingIndex::default());
    let catalog = Catalog::new(index.clone());
    let api = TestApi::start_custom(
        TestDatabase::new(engine),
        |_| {},
        Some(playback),
        false,
        Satellites::new().with(catalog),
    )
    .await;
    (World { api, index }, Verifier::new(keys))
}

/// An asset of `owner` whose presentation is published (what a worker's completion does); its folder.
async fn published_asset(w: &World, owner: &str) -> (String, String) {
    let asset = w.api.uploaded(owner).await;
    let prefix = w.api.published(&asset).await;
    (asset, prefix)
}

async fn link(w: &World, token: &str, title: &str, asset: &str, role: &str) {
    let body = json!({"assets": [{"asset_id": asset, "role": role}]});
    w.expect(200, "PUT", &format!("/v1/titles/{title}/assets"), token, Some(body)).await;
}

/// Checks that `artwork` shows the image stored at `key`, from `source`, with a URL the origin serves.
fn assert_poster(verifier: &Verifier, artwork: &Value, key: &str, source: &str) {
    assert_eq!(artwork["poster"], key, "{artwork}");
    assert_eq!(artwork["poster_source"], source, "{artwork}");
    let url = artwork["poster_url"].as_str().unwrap_or_else(|| panic!("a poster URL: {artwork}"));
    let path = url.strip_prefix(CDN).unwrap_or_else(|| panic!("{url}"));
    let (token, rest) = marquee_signing::split_token_path(path).unwrap();
    assert_eq!(rest, format!("/{key}"));
    let now = u64::try_from(marquee_control_api::clock::now_ms() / 1000).unwrap();
    verifier.verify(token, rest, now, ClientContext::default()).expect("the origin serves it to anyone");
    if let Some(presentation) = rest.strip_suffix("images/poster.jpg") {
        let media = format!("{presentation}master.m3u8");
        assert!(verifier.verify(token, &media, now, ClientContext::default()).is_err(), "not the media: {media}");
    }
}

fn item<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["items"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap_or_else(|| panic!("{id} in {page}"))
}

on_both_engines!(titles_show_their_videos_poster_until_one_is_uploaded, |engine: Engine| async move {
    let (w, verifier) = start(engine).await;
    let admin = w.api.signed_in("ada@example.com", Role::Admin).await;

    // A film with a published feature, and one with no video.
    let film = id(&w.title(&admin, json!({"kind": "movie", "title": "The Glass Harbour"})).await);
    let (feature, feature_prefix) = published_asset(&w, &admin).await;
    link(&w, &admin, &film, &feature, "feature").await;
    let bare = id(&w.title(&admin, json!({"kind": "movie", "title": "No Video Yet"})).await);

    // A series: specials (season 0) and season 1, whose episode 1 is made after episode 2.
    let series = id(&w.title(&admin, json!({"kind": "series", "title": "Northern Lights"})).await);
    let specials =
        id(&w.title(&admin, json!({"kind": "season", "title": "Specials", "parent_id": series, "number": 0})).await);
    let season = id(&w.title(&admin, json!({"kind": "season", "title": "S1", "parent_id": series, "number": 1})).await);
    let mut episode_prefixes = Vec::new();
    for (parent, number) in [(&specials, 1), (&season, 2), (&season, 1)] {
        let episode = json!({"kind": "episode", "title": format!("E{number}"), "parent_id": parent, "number": number});
        let episode = id(&w.title(&admin, episode).await);
        let (asset, prefix) = published_asset(&w, &admin).await;
        link(&w, &admin, &episode, &asset, "episode").await;
        episode_prefixes.push((episode, asset, prefix));
    }
    let (first_episode, first_asset, first_prefix) = episode_prefixes[2].clone();
    let second_prefix = episode_prefixes[1].2.clone();

    // Anyone's list: the film shows its feature's poster, the series its first episode's (not a special's).
    let page = w.expect(200, "GET", "/v1/titles", "", None).await;
    assert_poster(&verifier, &item(&page, &film)["artwork"], &format!("{feature_prefix}images/poster.jpg"), "asset");
    assert_poster(&verifier, &item(&page, &series)["artwork"], &format!("{first_prefix}images/poster.jpg"), "asset");
    assert_eq!(item(&page, &bare)["artwork"], json!({}), "no video, no upload: no poster");

    // The detail: the title, its seasons and their episodes.
    let read = w.expect(200, "GET", &format!("/v1/titles/{series}"), "", None).await;
    assert_poster(&verifier, &read["artwork"], &format!("{first_prefix}images/poster.jpg"), "asset");
    let s1 = read["seasons"].as_array().unwrap().iter().find(|s| s["id"] == season).unwrap();
    assert_poster(&verifier, &s1["artwork"], &format!("{first_prefix}images/poster.jpg"), "asset");
    assert_eq!(s1["episodes"][0]["id"], first_episode);
    assert_poster(&verifier, &s1["episodes"][0]["artwork"], &format!("{first_prefix}images/poster.jpg"), "asset");
    let read = w.expect(200, "GET", &format!("/v1/titles/{season}"), "", None).await;
    assert_poster(&verifier, &read["artwork"], &format!("{first_prefix}images/poster.jpg"), "asset");

    // Once the first episode's video is deleted, the next episode's poster stands in.
    w.expect(204, "DELETE", &format!("/v1/assets/{first_asset}"), &admin, None).await;
    let read = w.expect(200, "GET", &format!("/v1/titles/{series}"), "", None).await;
    assert_poster(&verifier, &read["artwork"], &format!("{second_prefix}images/poster.jpg"), "asset");

    // An upload replaces the video's poster, and is served the same way.
    let auth = format!("Bearer {admin}");
    let jpeg = b"\xFF\xD8\xFF\xE0 a jpeg, as far as its start goes".to_vec();
    let put =
        send("PUT", &w.url(&format!("/v1/titles/{film}/artwork/poster")), &[("authorization", auth.as_str())], jpeg)
            .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let uploaded = put.json()["artwork"]["poster"].as_str().unwrap().to_owned();
    assert!(uploaded.starts_with(&format!("artwork/{film}/poster-")), "{uploaded}");
    assert_poster(&verifier, &put.json()["artwork"], &uploaded, "upload");
    let read = w.expect(200, "GET", &format!("/v1/titles/{film}"), "", None).await;
    assert_poster(&verifier, &read["artwork"], &uploaded, "upload");
    let page = w.expect(200, "GET", "/v1/titles?kind=movie", "", None).await;
    assert_poster(&verifier, &item(&page, &film)["artwork"], &uploaded, "upload");

    // The home page's rows show them too.
    let home = w.expect(200, "GET", "/v1/home", "", None).await;
    let newest = &home["rows"][0];
    assert_poster(&verifier, &item(newest, &series)["artwork"], &format!("{second_prefix}images/poster.jpg"), "asset");
    w.api.stop().await;
});
