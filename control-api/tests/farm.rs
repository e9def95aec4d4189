//! The worker protocol over HTTP, on SQLite and PostgreSQL, with the test playing the worker: registration,
//! claims that start the asset processing, heartbeats with progress, completion only with the manifests in
//! storage and only by the current claim, lease expiry handing the job to another worker whose attempt is
//! the one published, failures, cancel, re-transcode, hand-back, and the farm's metrics.

mod common;

use marquee_control_api::on_both_engines;

use std::time::{Duration, Instant};

use common::{call, recorded_events, Engine, TestApi, TestDatabase};
use marquee_control_api::auth::Role;
use marquee_storage::{Bytes, ObjectKey, ObjectStore};
use serde_json::{json, Value};

/// Registers a worker as `admin`: its token.
async fn worker(api: &TestApi, admin: &str, name: &str) -> String {
    let body = json!({"name": name, "encoders": ["x264"], "capacity": 1});
    let answer = call("POST", &api.url("/v1/workers"), admin, Some(&body)).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let token = answer.json()["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mqw_"), "{token}");
    token
}

async fn claim(api: &TestApi, worker: &str) -> Option<Value> {
    let answer = call("POST", &api.url("/v1/workers/claim"), worker, Some(&json!({}))).await;
    match answer.status {
        200 => Some(answer.json()),
        204 => None,
        status => panic!("claim answered {status}: {}", answer.text()),
    }
}

async fn job_call(api: &TestApi, worker: &str, job: &Value, what: &str, body: Value) -> common::Answer {
    let url = api.url(&format!("/v1/workers/jobs/{}/{what}", job["job_id"].as_str().unwrap()));
    call("POST", &url, worker, Some(&body)).await
}

fn completion(job: &Value) -> Value {
    json!({
        "attempt": job["attempt"],
        "duration_seconds": 4.0,
        "source": {"video": {"width": 640, "height": 360}},
        "renditions": [{"name": "video_360p", "width": 640, "height": 360, "bandwidth": 900000, "codecs": "avc1.64001e"}],
        "encoder": "x264enc",
    })
}

fn storage(database: &TestDatabase) -> std::sync::Arc<dyn ObjectStore> {
    marquee_storage::open(database.dir.path().join("media").to_str().unwrap()).unwrap()
}

/// Writes a presentation's objects under `prefix`, manifests last (as the transcoder does).
async fn publish_files(store: &dyn ObjectStore, prefix: &str) {
    for name in ["video_360p/init.mp4", "video_360p/seg_00001.m4s", "manifest.mpd", "master.m3u8"] {
        store.put(&ObjectKey::parse(&format!("{prefix}{name}")).unwrap(), Bytes::from_static(b"x")).await.unwrap();
    }
}

async fn asset(api: &TestApi, token: &str, id: &str) -> Value {
    let answer = call("GET", &api.url(&format!("/v1/assets/{id}")), token, None).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

/// Waits (up to 20 s) until `check` holds.
async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_both_engines!(a_claim_runs_to_a_published_asset, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let admin = api.signed_in("admin@example.com", Role::Admin).await;
    let creator = api.signed_in("creator@example.com", Role::Creator).await;
    let id = api.uploaded(&creator).await;
    let w = worker(&api, &admin, "w1").await;

    let job = claim(&api, &w).await.expect("the upload's job is queued");
    assert_eq!(job["asset_id"], id.as_str());
    assert_eq!(job["attempt"], 1);
    assert_eq!(job["source"], json!({"type": "stored", "key": format!("sources/{id}")}));
    let prefix = job["output_prefix"].as_str().unwrap().to_owned();
    assert_eq!(prefix, format!("media/{id}/{}-1/", job["job_id"].as_str().unwrap()));
    assert_eq!(asset(&api, &creator, &id).await["status"], "processing");
    assert!(claim(&api, &w).await.is_none(), "one job only, and the worker is at capacity");

    let beat =
        json!({"attempt": 1, "progress": {"stage": "encoding", "percent": 42.5, "fps": 30.0, "eta_seconds": 3.0}});
    let answer = job_call(&api, &w, &job, "heartbeat", beat).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.json()["lease_expires_at"].as_i64().unwrap() > 0);
    assert_eq!(asset(&api, &creator, &id).await["progress"]["percent"], 42.5);

    // Without its manifests in storage the attempt is not complete.
    let answer = job_call(&api, &w, &job, "complete", completion(&job)).await;
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert_eq!(answer.json()["error"]["code"], "incomplete_output");

    let store = storage(&api.database);
    publish_files(store.as_ref(), &prefix).await;
    // Something an abandoned attempt of this asset left behind.
    let leftover = ObjectKey::parse(&format!("media/{id}/old-9/master.m3u8")).unwrap();
    store.put(&leftover, Bytes::from_static(b"old")).await.unwrap();

    let answer = job_call(&api, &w, &job, "complete", completion(&job)).await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    let ready = asset(&api, &creator, &id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["duration_seconds"], 4.0);
    assert_eq!(ready["renditions"][0]["bandwidth"], 900000);
    assert_eq!(ready["source"]["video"]["width"], 640);
    assert!(ready.get("progress").is_none(), "{ready}");
    // A repeated completion by the same claim is fine; another attempt number is not.
    assert_eq!(job_call(&api, &w, &job, "complete", completion(&job)).await.status, 204);
    let mut stale = completion(&job);
    stale["attempt"] = json!(2);
    let answer = job_call(&api, &w, &job, "complete", stale).await;
    assert_eq!((answer.status, answer.json()["error"]["code"].clone()), (409, json!("lease_lost")));

    // Only the published attempt's objects stay.
    wait_until("the leftover is removed", || async { store.list(&format!("media/{id}/")).await.unwrap().len() == 4 })
        .await;
    assert!(store.list(&prefix).await.unwrap().len() == 4);

    let kinds: Vec<String> = recorded_events(&api.db)
        .await
        .into_iter()
        .filter(|(_, asset)| asset.as_deref() == Some(id.as_str()))
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(kinds, ["asset.created", "upload.completed", "asset.processing", "asset.ready"]);

    let workers = call("GET", &api.url("/v1/workers"), &admin, None).await;
    assert_eq!(workers.status, 200);
    assert_eq!(workers.json()[0]["name"], "w1");
    let metrics = String::from_utf8(common::get(&api.url("/metrics")).await.body).unwrap();
    assert!(metrics.contains("marquee_api_job_claims_total 1"), "{metrics}");
    assert!(metrics.contains("marquee_api_job_attempts_finished_total{outcome=\"succeeded\"} 1"), "{metrics}");
    api.stop().await;
});

on_both_engines!(a_silent_worker_loses_its_job_to_another, |engine: Engine| async move {
    let api = TestApi::start_with(TestDatabase::new(engine), |s| {
        s.job_lease = Duration::from_secs(1);
        s.heartbeat_interval = Duration::from_millis(300);
    })
    .await;
    let admin = api.signed_in("admin@example.com", Role::Admin).await;
    let creator = api.signed_in("creator@example.com", Role::Creator).await;
    let id = api.uploaded(&creator).await;
    let (a, b) = (worker(&api, &admin, "a").await, worker(&api, &admin, "b").await);
    let store = storage(&api.database);

    let first = claim(&api, &a).await.unwrap();
    let first_prefix = first["output_prefix"].as_str().unwrap().to_owned();
    store
        .put(
            &ObjectKey::parse(&format!("{first_prefix}video_360p/seg_00001.m4s")).unwrap(),
            Bytes::from_static(b"half"),
        )
        .await
        .unwrap();
    // Worker a goes quiet; once its lease passes the sweeper queues the job again for b.
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        if let Some(job) = claim(&api, &b).await {
            break job;
        }
        assert!(Instant::now() < deadline, "timed out waiting until the job is claimed again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(second["job_id"], first["job_id"]);
    assert_eq!(second["attempt"], 2);
    let second_prefix = second["output_prefix"].as_str().unwrap().to_owned();
    assert_ne!(first_prefix, second_prefix);
    wait_until("the abandoned attempt's objects are removed", || async {
        store.list(&first_prefix).await.unwrap().is_empty()
    })
    .await;

    // a learns it lost the job and can report nothing.
    let answer = job_call(&api, &a, &first, "heartbeat", json!({"attempt": 1})).await;
    assert_eq!((answer.status, answer.json()["error"]["code"].clone()), (409, json!("lease_lost")));
    let answer = job_call(&api, &a, &first, "complete", completion(&first)).await;
    assert_eq!(answer.status, 409, "{}", answer.text());
    let answer =
        job_call(&api, &a, &first, "fail", json!({"attempt": 1, "code": "x", "message": "m", "retryable": false}))
            .await;
    assert_eq!(answer.status, 409, "{}", answer.text());
    // b's attempt is the one published.
    publish_files(store.as_ref(), &second_prefix).await;
    assert_eq!(job_call(&api, &b, &second, "complete", completion(&second)).await.status, 204);
    assert_eq!(asset(&api, &creator, &id).await["status"], "ready");
    let metrics = String::from_utf8(common::get(&api.url("/metrics")).await.body).unwrap();
    assert!(metrics.contains("marquee_api_job_lease_expiries_total 1"), "{metrics}");
    api.stop().await;
});

on_both_engines!(failures_retry_or_error_the_asset_with_the_reason, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let admin = api.signed_in("admin@example.com", Role::Admin).await;
    let creator = api.signed_in("creator@example.com", Role::Creator).await;
    let w = worker(&api, &admin, "w").await;

    let retried = api.uploaded(&creator).await;
    let job = claim(&api, &w).await.unwrap();
    let answer = job_call(
        &api,
        &w,
        &job,
        "fail",
        json!({"attempt": 1, "code": "transcode_failed", "message": "the pipeline stalled", "retryable": true}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["retrying"], true);
    assert_eq!(asset(&api, &creator, &retried).await["status"], "queued");
    assert!(claim(&api, &w).await.is_none(), "a retry waits for its backoff");

    let broken = api.uploaded(&creator).await;
    let job = claim(&api, &w).await.unwrap();
    assert_eq!(job["asset_id"], broken.as_str());
    let reason = "the input is not media GStreamer can read (no demuxer for text/plain)";
    let answer = job_call(
        &api,
        &w,
        &job,
        "fail",
        json!({"attempt": 1, "code": "invalid_media", "message": reason, "retryable": false}),
    )
    .await;
    assert_eq!(answer.json()["retrying"], false);
    let errored = asset(&api, &creator, &broken).await;
    assert_eq!(errored["status"], "errored");
    assert_eq!(errored["error"], json!({"code": "invalid_media", "message": reason}));
    assert!(recorded_events(&api.db).await.contains(&("asset.errored".into(), Some(broken.clone()))));
    api.stop().await;
});

on_both_engines!(cancel_retranscode_hand_back_and_delete, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let admin = api.signed_in("admin@example.com", Role::Admin).await;
    let creator = api.signed_in("creator@example.com", Role::Creator).await;
    let other = api.signed_in("other@example.com", Role::Creator).await;
    let w = worker(&api, &admin, "w").await;
    let id = api.uploaded(&creator).await;
    let job = claim(&api, &w).await.unwrap();

    let cancel = api.url(&format!("/v1/assets/{id}/cancel"));
    assert_eq!(call("POST", &cancel, &other, None).await.status, 404, "another creator's asset is not theirs");
    let answer = call("POST", &cancel, &creator, None).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["status"], "errored");
    assert_eq!(answer.json()["error"]["code"], "canceled");
    let answer = job_call(&api, &w, &job, "heartbeat", json!({"attempt": 1})).await;
    assert_eq!((answer.status, answer.json()["error"]["code"].clone()), (409, json!("job_canceled")));
    assert_eq!(call("POST", &cancel, &creator, None).await.status, 409, "nothing left to cancel");

    // Transcode it again with another preset: a new job, whose hand-back does not use up an attempt.
    let again = api.url(&format!("/v1/assets/{id}/transcode"));
    assert_eq!(call("POST", &again, &creator, Some(&json!({"preset": "no spaces"}))).await.status, 400);
    let answer = call("POST", &again, &creator, Some(&json!({"preset": "fast"}))).await;
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!((answer.json()["status"].clone(), answer.json()["preset"].clone()), (json!("queued"), json!("fast")));
    assert_eq!(call("POST", &again, &creator, Some(&json!({}))).await.status, 409, "already queued");
    let second = claim(&api, &w).await.unwrap();
    assert_ne!(second["job_id"], job["job_id"]);
    assert_eq!(second["preset"], "fast");
    assert_eq!(job_call(&api, &w, &second, "abort", json!({"attempt": 1})).await.status, 204);
    assert_eq!(asset(&api, &creator, &id).await["status"], "queued");
    let third = claim(&api, &w).await.unwrap();
    assert_eq!((third["job_id"].clone(), third["attempt"].clone()), (second["job_id"].clone(), json!(2)));

    // Deleting the asset cancels its running job.
    assert_eq!(call("DELETE", &api.url(&format!("/v1/assets/{id}")), &creator, None).await.status, 204);
    let answer = job_call(&api, &w, &third, "heartbeat", json!({"attempt": 2})).await;
    assert_eq!(answer.json()["error"]["code"], "job_canceled");
    api.stop().await;
});

on_both_engines!(worker_calls_need_a_worker_token, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let admin = api.signed_in("admin@example.com", Role::Admin).await;
    let creator = api.signed_in("creator@example.com", Role::Creator).await;
    let register = api.url("/v1/workers");
    let good = json!({"name": "w", "encoders": ["x264"], "capacity": 1});
    assert_eq!(call("POST", &register, &creator, Some(&good)).await.status, 403);
    let answer =
        call("POST", &register, &admin, Some(&json!({"name": "w", "encoders": ["h265"], "capacity": 1}))).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(
        call("POST", &register, &admin, Some(&json!({"name": "w", "encoders": [], "capacity": 0}))).await.status,
        400
    );
    let claim_url = api.url("/v1/workers/claim");
    for token in [admin.as_str(), "mqw_forged", "nonsense"] {
        let answer = call("POST", &claim_url, token, Some(&json!({}))).await;
        assert_eq!(answer.status, 401, "{token}: {}", answer.text());
    }
    let w = worker(&api, &admin, "w").await;
    let answer = call("POST", &claim_url, &w, Some(&json!({"kinds": []}))).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    // A claim that waits returns as soon as a job is enqueued.
    let waiting = {
        let url = claim_url.clone();
        let w = w.clone();
        tokio::spawn(async move { call("POST", &url, &w, Some(&json!({"wait_seconds": 20}))).await })
    };
    let started = Instant::now();
    let id = api.uploaded(&creator).await;
    let answer = waiting.await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["asset_id"], id.as_str());
    assert!(started.elapsed() < Duration::from_secs(10), "woken by the enqueue, not the wait's end");
    api.stop().await;
});
