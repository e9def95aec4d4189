//! The transcode farm end to end, with the shipped binary: `marquee api` and three `marquee worker`s share
//! six uploaded clips and one file that is not media. One worker is SIGKILLed while it encodes and another
//! while its attempt's segments are being written; replacements start. Every clip ends `ready` exactly once
//! with a presentation from one attempt only (every object in its folder is one the manifests name, and
//! every object they name is there; no other folder is left), and the file that is not media ends `errored`
//! with the transcoder's reason and nothing published. One more asset is created from an `input_url` that the
//! farm fetches itself.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use support::control::ControlApi;
use support::servers::{wait_until, Server};

const CLIPS: usize = 6;
const WORKERS: usize = 3;

fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found
}

/// Every object a presentation's HLS playlists name, relative to its folder (the playlists included).
fn named_by_playlists(folder: &Path) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let mut pending = vec!["master.m3u8".to_string()];
    while let Some(playlist) = pending.pop() {
        if !named.insert(playlist.clone()) {
            continue;
        }
        let text = std::fs::read_to_string(folder.join(&playlist)).unwrap_or_else(|e| panic!("{playlist}: {e}"));
        let base = playlist.rsplit_once('/').map_or(String::new(), |(dir, _)| format!("{dir}/"));
        let mut uris: Vec<String> =
            text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect();
        for line in text.lines().filter(|l| l.starts_with('#')) {
            if let Some((_, rest)) = line.split_once("URI=\"") {
                uris.push(rest.split('"').next().unwrap().to_owned());
            }
        }
        for uri in uris {
            let path = format!("{base}{uri}");
            if path.ends_with(".m3u8") {
                pending.push(path);
            } else {
                named.insert(path);
            }
        }
    }
    named
}

#[test]
fn three_workers_share_six_jobs_through_two_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let api = ControlApi::start(
        dir.path(),
        &["--job-lease", "4s", "--heartbeat-interval", "500ms", "--allow-private-input-urls"],
    );
    let admin_key = api.user_key("ops@example.com", "admin");
    let creator_key = api.user_key("cora@example.com", "creator");

    let clip = support::make_sample(dir.path(), "clip.mp4", &["--duration", "8", "--size", "640x360"]);
    let mut clips = Vec::new();
    for i in 0..CLIPS {
        let copy = dir.path().join(format!("clip{i}.mp4"));
        std::fs::copy(&clip, &copy).unwrap();
        clips.push(api.upload(&copy, &creator_key, &[]));
    }
    let not_media = dir.path().join("notes.mp4");
    std::fs::write(&not_media, "these are meeting notes, not a film\n".repeat(100)).unwrap();
    let broken = api.upload(&not_media, &creator_key, &[]);
    let sources = support::StaticServer::start(dir.path());
    let (status, from_url) = support::control::post(
        &api.server.url,
        "/v1/assets",
        Some(&creator_key),
        serde_json::json!({"input_url": sources.url("clip.mp4")}),
    );
    assert_eq!(status, 201, "{from_url}");
    clips.push(from_url["id"].as_str().unwrap().to_owned());

    let mut workers: HashMap<String, Server> =
        (0..WORKERS).map(|i| (format!("w{i}"), api.worker(dir.path(), &admin_key, &format!("w{i}")))).collect();
    let media = dir.path().join("media");
    let mut killed_assets = Vec::new();
    // Kill one worker once it reports encoding progress, another once its attempt has written a segment
    // but not yet its master playlist; start a replacement for each.
    for (replacement, moment) in ["encoding", "writing segments"].into_iter().enumerate() {
        let mut victim = None;
        wait_until(&format!("a worker is {moment}"), Duration::from_secs(120), || {
            let farm = api.get("/v1/workers", &api.admin);
            for worker in farm.as_array().unwrap() {
                let name = worker["name"].as_str().unwrap();
                if !workers.contains_key(name) {
                    continue;
                }
                for job in worker["running"].as_array().unwrap() {
                    let asset = job["asset_id"].as_str().unwrap().to_owned();
                    if killed_assets.contains(&asset) {
                        continue;
                    }
                    let folder =
                        media.join(format!("media/{asset}/{}-{}", job["job_id"].as_str().unwrap(), job["attempt"]));
                    let files = files_under(&folder);
                    let hit = match moment {
                        "encoding" => {
                            job["progress"]["stage"] == "encoding" && job["progress"]["percent"].as_f64() > Some(0.0)
                        }
                        _ => files.iter().any(|f| f.ends_with(".m4s")) && !files.contains("master.m3u8"),
                    };
                    if hit {
                        victim = Some((name.to_owned(), asset));
                        return true;
                    }
                }
            }
            false
        });
        let (name, asset) = victim.unwrap();
        drop(workers.remove(&name)); // SIGKILL
        killed_assets.push(asset);
        let replacement = format!("w{}", WORKERS + replacement);
        workers.insert(replacement.clone(), api.worker(dir.path(), &admin_key, &replacement));
    }

    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let assets = api.get("/v1/assets?limit=200", &api.admin);
        let status: HashMap<String, String> = assets["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["id"].as_str().unwrap().to_owned(), a["status"].as_str().unwrap().to_owned()))
            .collect();
        if clips.iter().all(|id| status[id] == "ready") && status[&broken] == "errored" {
            break;
        }
        if std::time::Instant::now() > deadline {
            let logs: Vec<String> = workers.iter().map(|(name, w)| format!("--- {name}:\n{}", w.stderr())).collect();
            panic!(
                "not every clip is ready and the notes errored within 300 s: {assets:#}\n{}\n--- api:\n{}",
                logs.join("\n"),
                api.server.stderr()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let errored = api.get(&format!("/v1/assets/{broken}"), &api.admin);
    assert_eq!(errored["error"]["code"], "invalid_media", "{errored}");
    assert!(errored["error"]["message"].as_str().unwrap().len() > 10, "{errored}");
    assert!(files_under(&media.join(format!("media/{broken}"))).is_empty(), "nothing is published for it");

    let events = api.get("/v1/events?after=0&limit=1000", &api.admin);
    let count = |kind: &str, asset: &str| {
        events["events"].as_array().unwrap().iter().filter(|e| e["type"] == kind && e["asset_id"] == asset).count()
    };
    for id in &clips {
        assert_eq!(count("asset.ready", id), 1, "asset {id} is ready exactly once");
        let ready = api.get(&format!("/v1/assets/{id}"), &api.admin);
        assert!(ready["renditions"].as_array().is_some_and(|r| !r.is_empty()), "{ready}");
        assert!((ready["duration_seconds"].as_f64().unwrap() - 8.0).abs() < 0.5, "{ready}");
    }
    for id in &killed_assets {
        assert!(count("asset.processing", id) >= 2, "asset {id}'s job was redone after its worker was killed");
    }

    // One folder per asset holds objects once the leftovers are removed (the local store may leave empty
    // directories), exactly those its manifests name.
    let folder_of = |id: &str| {
        let root = media.join(format!("media/{id}"));
        let folders: BTreeSet<String> =
            files_under(&root).iter().map(|f| f.split('/').next().unwrap().to_owned()).collect();
        (folders.len() == 1).then(|| root.join(folders.first().unwrap()))
    };
    for id in &clips {
        wait_until(&format!("asset {id} has one presentation folder"), Duration::from_secs(30), || {
            folder_of(id).is_some()
        });
        let folder = folder_of(id).unwrap();
        let stored = files_under(&folder);
        let mut named = named_by_playlists(&folder);
        named.insert("manifest.mpd".into());
        // The poster is the one object no manifest names (the API and the catalog point at it).
        named.insert(marquee_transcoder::poster::POSTER_PATH.into());
        assert_eq!(stored, named, "asset {id}: stored objects and the objects the manifests and poster name differ");
        support::validate_mpd(&folder.join("manifest.mpd")).unwrap_or_else(|e| panic!("asset {id}: {e}"));
    }
    let folder = folder_of(&clips[0]).unwrap();
    let probe = support::ffprobe_json(folder.join("master.m3u8").to_str().unwrap(), &["-show_streams"]);
    assert!(probe["streams"].as_array().unwrap().iter().any(|s| s["codec_type"] == "video"), "{probe}");

    // Cancel: a running job stops within 2 s (its worker learns it from its next heartbeat, every 500 ms here,
    // and the transcoder removes what the attempt wrote); the asset is errored with `canceled`.
    let canceled = clips[2].clone();
    let (status, again) = support::control::post(
        &api.server.url,
        &format!("/v1/assets/{canceled}/transcode"),
        Some(&creator_key),
        serde_json::json!({}),
    );
    assert_eq!(status, 202, "{again}");
    let mut running = None;
    wait_until("the re-transcode is encoding", Duration::from_secs(60), || {
        let farm = api.get("/v1/workers", &api.admin);
        running = farm
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|w| w["running"].as_array().unwrap().clone())
            .find(|job| job["asset_id"] == canceled.as_str() && job["progress"]["percent"].as_f64() > Some(0.0));
        running.is_some()
    });
    let job = running.unwrap();
    let attempt_folder = media.join(format!("media/{canceled}/{}-{}", job["job_id"].as_str().unwrap(), job["attempt"]));
    let (status, answer) = support::control::post(
        &api.server.url,
        &format!("/v1/assets/{canceled}/cancel"),
        Some(&creator_key),
        serde_json::json!({}),
    );
    assert_eq!((status, answer["error"]["code"].clone()), (200, serde_json::json!("canceled")), "{answer}");
    wait_until("the canceled attempt stops and its objects are gone", Duration::from_secs(2), || {
        files_under(&attempt_folder).is_empty()
    });
    wait_until("the worker has stopped the job", Duration::from_secs(2), || {
        workers.values().any(|w| w.stderr().contains("The API took the job back"))
    });

    // SIGTERM drains: a worker told to stop while it transcodes finishes the job, then exits.
    let (status, again) = support::control::post(
        &api.server.url,
        &format!("/v1/assets/{}/transcode", clips[1]),
        Some(&creator_key),
        serde_json::json!({}),
    );
    assert_eq!(status, 202, "{again}");
    let mut busy = None;
    wait_until("a worker takes the re-transcode", Duration::from_secs(60), || {
        let farm = api.get("/v1/workers", &api.admin);
        busy = farm.as_array().unwrap().iter().find_map(|w| {
            let name = w["name"].as_str().unwrap();
            (workers.contains_key(name) && !w["running"].as_array().unwrap().is_empty()).then(|| name.to_owned())
        });
        busy.is_some()
    });
    let draining = workers.remove(&busy.unwrap()).unwrap();
    let (status, stderr) = draining.terminate();
    assert!(status.success() && stderr.contains("Draining"), "{stderr}");
    let ready = api.get(&format!("/v1/assets/{}", clips[1]), &api.admin);
    assert_eq!(ready["status"], "ready", "the draining worker finished its job before exiting: {ready}");
    let events = api.get("/v1/events?after=0&limit=1000", &api.admin);
    let readies = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "asset.ready" && e["asset_id"] == clips[1].as_str())
        .count();
    assert_eq!(readies, 2, "ready again after the re-transcode");

    for (name, worker) in workers {
        let (status, stderr) = worker.terminate();
        assert!(status.success(), "{name}: {stderr}");
        assert!(stderr.contains("Stopped"), "{name}: {stderr}");
    }
}
