//! tus uploads over HTTP, on SQLite and on PostgreSQL: the protocol's answers with a hand-driven client, and a
//! real tus client (tus-js-client, the web app's) interrupted and resumed. An upload becomes an asset that is
//! queued at its last byte, with `asset.created` and `upload.completed` events in that order.

mod common;

use marquee_control_api::on_both_engines;

use common::{call, node, recorded_events, repo_root, send, Answer, Engine, TestApi};
use marquee_control_api::auth::Role;

const TUS: (&str, &str) = ("tus-resumable", "1.0.0");

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer.headers.get(name).unwrap_or_else(|| panic!("no {name} in {:?}", answer.headers)).to_str().unwrap()
}

fn sha256_header(body: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    format!("sha256 {}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body)))
}

fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from((i * 7 + i / 251) % 256).unwrap()).collect()
}

on_both_engines!(the_tus_protocol_answers_as_specified, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let auth = format!("Bearer {creator}");
    let auth = ("authorization", auth.as_str());

    let offer = send("OPTIONS", &api.url("/v1/uploads"), &[], Vec::new()).await;
    assert_eq!(offer.status, 204);
    assert_eq!(header(&offer, "tus-version"), "1.0.0");
    assert!(header(&offer, "tus-extension").contains("creation-with-upload"));
    assert!(header(&offer, "tus-checksum-algorithm").contains("sha256"));

    // Creation without the protocol header is 412; a viewer may not upload.
    let old = send("POST", &api.url("/v1/uploads"), &[auth, ("upload-length", "10")], Vec::new()).await;
    assert_eq!((old.status, header(&old, "tus-resumable")), (412, "1.0.0"));
    let viewer = api.signed_in("vic@example.com", Role::Viewer).await;
    let refused = call("POST", &api.url("/v1/uploads"), &viewer, None).await;
    assert_eq!(refused.status, 403);

    let data = bytes(3 * 1024 * 1024 + 17);
    let length = data.len().to_string();
    let created = send(
        "POST",
        &api.url("/v1/uploads"),
        &[auth, TUS, ("upload-length", &length), ("upload-metadata", "filename ZmlsbS5tcDQ=,playback_policy cHVibGlj")],
        Vec::new(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let location = header(&created, "location").to_owned();
    let asset_id = header(&created, "marquee-asset-id").to_owned();
    assert_eq!(header(&created, "upload-offset"), "0");
    assert!(header(&created, "upload-expires").ends_with("GMT"));
    let upload_url = api.url(&location);

    let asset = call("GET", &api.url(&format!("/v1/assets/{asset_id}")), &creator, None).await.json();
    assert_eq!((asset["status"].as_str(), asset["playback_policy"].as_str()), (Some("waiting_upload"), Some("public")));

    // A first chunk with its checksum.
    let first = &data[..1_000_000];
    let patch = |offset: usize, body: &[u8], checksum: Option<String>| {
        let (url, body, creator) = (upload_url.clone(), body.to_vec(), creator.clone());
        async move { common::tus_patch(&url, &creator, offset, body, checksum.as_deref()).await }
    };
    let answer = patch(0, first, Some(sha256_header(first))).await;
    assert_eq!((answer.status, header(&answer, "upload-offset")), (204, "1000000"), "{}", answer.text());

    // The wrong offset is 409, a wrong checksum 460 and keeps the offset, the wrong content type 415.
    let wrong = patch(5, &data[5..10], None).await;
    assert_eq!((wrong.status, wrong.json()["error"]["code"].as_str()), (409, Some("upload_offset_mismatch")));
    let second = &data[1_000_000..2_000_000];
    let bad = patch(1_000_000, second, Some(sha256_header(b"something else"))).await;
    assert_eq!((bad.status, bad.json()["error"]["code"].as_str()), (460, Some("checksum_mismatch")));
    let head = send("HEAD", &upload_url, &[auth, TUS], Vec::new()).await;
    assert_eq!(
        (head.status, header(&head, "upload-offset"), header(&head, "upload-length")),
        (200, "1000000", length.as_str())
    );
    assert_eq!(header(&head, "cache-control"), "no-store");
    let typed = send("PATCH", &upload_url, &[auth, TUS, ("upload-offset", "1000000")], second.to_vec()).await;
    assert_eq!(typed.status, 415);

    // Another creator cannot see it.
    let other = api.signed_in("olga@example.com", Role::Creator).await;
    let hidden = send("HEAD", &upload_url, &[("authorization", &format!("Bearer {other}")), TUS], Vec::new()).await;
    assert_eq!(hidden.status, 404);

    // The rest in two chunks; the last byte queues the asset.
    assert_eq!(patch(1_000_000, second, None).await.status, 204);
    let last = patch(2_000_000, &data[2_000_000..], None).await;
    assert_eq!((last.status, header(&last, "upload-offset")), (204, length.as_str()));
    assert!(last.headers.get("upload-expires").is_none(), "a complete upload does not expire");
    let asset = call("GET", &api.url(&format!("/v1/assets/{asset_id}")), &creator, None).await.json();
    assert_eq!(asset["status"], "queued");
    let stored = std::fs::read(api.database.dir.path().join("media/sources").join(&asset_id)).unwrap();
    assert!(stored == data, "the stored source is the file, byte for byte");
    let jobs: Vec<(String, String, String)> =
        sqlx::query_as("SELECT asset_id, kind, state FROM jobs").fetch_all(api.db.pool()).await.unwrap();
    assert_eq!(
        jobs,
        [(asset_id.clone(), "transcode".to_owned(), "queued".to_owned())],
        "one job, queued with the asset"
    );
    // Resending the last chunk (a client that missed the answer) changes nothing.
    let again = patch(2_000_000, &data[2_000_000..], None).await;
    assert_eq!(again.status, 409);
    assert_eq!(
        recorded_events(&api.db).await,
        [("asset.created".to_owned(), Some(asset_id.clone())), ("upload.completed".to_owned(), Some(asset_id.clone()))]
    );

    // Deleting the asset removes its source; it is listed only when asked for deleted ones.
    assert_eq!(call("DELETE", &api.url(&format!("/v1/assets/{asset_id}")), &creator, None).await.status, 204);
    assert!(!api.database.dir.path().join("media/sources").join(&asset_id).exists());
    assert!(call("GET", &api.url("/v1/assets"), &creator, None).await.json()["items"].as_array().unwrap().is_empty());
    let deleted = call("GET", &api.url("/v1/assets?status=deleted"), &creator, None).await.json();
    assert_eq!(deleted["items"][0]["id"], asset_id.as_str());
    assert_eq!(recorded_events(&api.db).await.last().unwrap().0, "asset.deleted");
    api.stop().await;
});

on_both_engines!(termination_removes_the_upload_and_its_asset, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let auth = format!("Bearer {creator}");
    let created = send(
        "POST",
        &api.url("/v1/uploads"),
        &[
            ("authorization", &auth),
            TUS,
            ("upload-length", "2000"),
            ("content-type", "application/offset+octet-stream"),
        ],
        bytes(500),
    )
    .await;
    assert_eq!((created.status, header(&created, "upload-offset")), (201, "500"), "creation-with-upload");
    let url = api.url(header(&created, "location"));
    let asset_id = header(&created, "marquee-asset-id").to_owned();
    assert_eq!(send("DELETE", &url, &[("authorization", &auth), TUS], Vec::new()).await.status, 204);
    assert_eq!(send("HEAD", &url, &[("authorization", &auth), TUS], Vec::new()).await.status, 404);
    let asset = call("GET", &api.url(&format!("/v1/assets/{asset_id}")), &creator, None).await.json();
    assert_eq!(asset["status"], "deleted");
    // Over the size limit: refused before anything is made.
    let huge = send(
        "POST",
        &api.url("/v1/uploads"),
        &[("authorization", &auth), TUS, ("upload-length", "99999999999999999")],
        Vec::new(),
    )
    .await;
    assert_eq!((huge.status, huge.json()["error"]["code"].as_str()), (413, Some("payload_too_large")));
    assert_eq!(recorded_events(&api.db).await.len(), 2, "created and deleted; nothing for the refused one");
    api.stop().await;
});

on_both_engines!(tus_js_client_uploads_is_interrupted_and_resumes, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let file = api.database.dir.path().join("clip.bin");
    let data = bytes(5 * 1024 * 1024 + 123);
    std::fs::write(&file, &data).unwrap();
    let script = repo_root().join("browser-tests/tus-upload.mjs");
    let run = |extra: Vec<String>| {
        let mut command = node();
        command
            .arg(&script)
            .args(["--endpoint", &api.url("/v1/uploads"), "--token", &creator])
            .arg("--file")
            .arg(&file);
        command.args(["--chunk-size", "1048576", "--metadata", "filename=clip.bin"]).args(extra);
        let output = tokio::task::block_in_place(|| command.output()).expect("node runs");
        assert!(output.status.success(), "tus-js-client: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    // Interrupted after two chunks…
    let first = run(vec!["--stop-after".into(), "2097152".into()]);
    let url = first["url"].as_str().unwrap().to_owned();
    let asset_id = first["asset_id"].as_str().expect("the creation answer names the asset").to_owned();
    assert_eq!(first["offset"], 2_097_152);
    let asset = call("GET", &api.url(&format!("/v1/assets/{asset_id}")), &creator, None).await.json();
    assert_eq!(asset["status"], "waiting_upload");
    // …and resumed by a new client process from where the server says it is.
    let second = run(vec!["--resume".into(), url]);
    assert_eq!(second["offset"], data.len());
    let asset = call("GET", &api.url(&format!("/v1/assets/{asset_id}")), &creator, None).await.json();
    assert_eq!(asset["status"], "queued");
    let stored = std::fs::read(api.database.dir.path().join("media/sources").join(&asset_id)).unwrap();
    assert!(stored == data, "the stored source is the file, byte for byte");
    api.stop().await;
});

on_both_engines!(a_client_that_vanishes_mid_patch_does_not_lock_the_upload, |engine: Engine| async move {
    use tokio::io::AsyncWriteExt;
    let api = TestApi::start(engine).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let auth = format!("Bearer {creator}");
    let created =
        send("POST", &api.url("/v1/uploads"), &[("authorization", &auth), TUS, ("upload-length", "1000")], Vec::new())
            .await;
    let location = header(&created, "location").to_owned();
    // A PATCH announcing 1000 bytes that sends 100 and closes the connection.
    let mut stream = tokio::net::TcpStream::connect(api.addr).await.unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\ntus-resumable: 1.0.0\r\n\
         content-type: application/offset+octet-stream\r\nupload-offset: 0\r\ncontent-length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&bytes(100)).await.unwrap();
    stream.flush().await.unwrap();
    drop(stream);
    // The next client resumes from what arrived within moments, not after the claim's 60 s lease.
    let url = api.url(&location);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let head = send("HEAD", &url, &[("authorization", &auth), TUS], Vec::new()).await;
        let offset = header(&head, "upload-offset").to_owned();
        let answer = send(
            "PATCH",
            &url,
            &[
                ("authorization", &auth),
                TUS,
                ("content-type", "application/offset+octet-stream"),
                ("upload-offset", &offset),
            ],
            bytes(1000)[offset.parse::<usize>().unwrap()..].to_vec(),
        )
        .await;
        if answer.status == 204 {
            assert_eq!(header(&answer, "upload-offset"), "1000");
            break;
        }
        // Still held (423), or the vanished request's bytes landed between our HEAD and PATCH (409).
        assert!(matches!(answer.status, 409 | 423), "{}", answer.text());
        assert!(std::time::Instant::now() < deadline, "still locked 10 s after the client vanished");
        tokio::task::yield_now().await;
    }
    api.stop().await;
});

/// A sample's value in a Prometheus text exposition (0 when absent).
fn sample(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0, |value| value.trim().parse().unwrap_or_else(|e| panic!("{name}: {e}")))
}

on_both_engines!(metrics_count_upload_bytes_and_what_happened_to_uploads, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let auth = format!("Bearer {creator}");
    let metrics = || async { common::get(&api.url("/metrics")).await.text() };
    let before = metrics().await;
    for event in ["created", "completed", "terminated", "expired"] {
        assert!(before.contains(&format!("marquee_api_uploads_total{{event=\"{event}\"}} 0")), "{before}");
    }
    assert!(before.contains("marquee_api_upload_bytes_total 0"), "{before}");

    let patch = |url: String, offset: usize, body: Vec<u8>, checksum: Option<String>| {
        let creator = creator.clone();
        async move { common::tus_patch(&url, &creator, offset, body, checksum.as_deref()).await }
    };
    let create = |length: usize, first: Vec<u8>| {
        let auth = auth.clone();
        let api = &api;
        async move {
            let length = length.to_string();
            let mut headers = vec![("authorization", auth.as_str()), TUS, ("upload-length", length.as_str())];
            if !first.is_empty() {
                headers.push(("content-type", "application/offset+octet-stream"));
            }
            let created = send("POST", &api.url("/v1/uploads"), &headers, first).await;
            assert_eq!(created.status, 201, "{}", created.text());
            api.url(header(&created, "location"))
        }
    };

    // One upload in three pieces (creation-with-upload, a whole part and more, the rest), with refusals between
    // that store nothing: a wrong offset and a wrong checksum.
    let data = bytes(9 * 1024 * 1024 + 5);
    let url = create(data.len(), data[..1000].to_vec()).await;
    assert_eq!(patch(url.clone(), 7, data[7..100].to_vec(), None).await.status, 409);
    let middle = data[1000..8_500_000].to_vec();
    assert_eq!(patch(url.clone(), 1000, middle.clone(), Some(sha256_header(b"not it"))).await.status, 460);
    assert_eq!(patch(url.clone(), 1000, middle, None).await.status, 204);
    assert_eq!(sample(&metrics().await, "marquee_api_upload_bytes_total"), 8_500_000);
    let last = patch(url.clone(), 8_500_000, data[8_500_000..].to_vec(), None).await;
    assert_eq!((last.status, header(&last, "upload-offset")), (204, data.len().to_string().as_str()));

    // A second upload gets 300 bytes and is terminated; an empty one is complete at its creation.
    let abandoned = create(5000, Vec::new()).await;
    assert_eq!(patch(abandoned.clone(), 0, bytes(300), None).await.status, 204);
    assert_eq!(send("DELETE", &abandoned, &[("authorization", &auth), TUS], Vec::new()).await.status, 204);
    create(0, Vec::new()).await;

    let after = metrics().await;
    assert_eq!(sample(&after, "marquee_api_upload_bytes_total"), data.len() as u64 + 300, "{after}");
    let counted = |event: &str| sample(&after, &format!("marquee_api_uploads_total{{event=\"{event}\"}}"));
    assert_eq!(
        (counted("created"), counted("completed"), counted("terminated"), counted("expired")),
        (3, 2, 1, 0),
        "{after}"
    );
    api.stop().await;
});
