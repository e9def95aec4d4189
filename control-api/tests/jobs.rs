//! The transcode job queue on both engines: claim, heartbeat and complete; retries with backoff; fencing after
//! a lease expires; fair order and encoder routing (checked against the pure model in `jobs::choice`);
//! cancel; capacity and draining; depth by state; and concurrent claims taking every job exactly once.

mod common;

use marquee_control_api::on_both_engines;

use std::collections::HashSet;
use std::time::Duration;

use common::{Engine, TestDatabase};
use marquee_control_api::jobs::choice::{self, Candidate, Offer};
use marquee_control_api::jobs::store::{job_from_row, JOB_COLUMNS};
use marquee_control_api::jobs::{
    ClaimedJob, Encoder, EncoderNeed, FailOutcome, Job, JobError, JobFailure, JobQueue, JobState, NewJob, NewWorker,
    RetrySchedule,
};
use marquee_control_api::Database;
use serde_json::json;

const T0: i64 = 1_800_000_000_000;
const LEASE: Duration = Duration::from_secs(30);
const TRANSCODE: &[&str] = &["transcode"];

async fn open(engine: Engine) -> (TestDatabase, JobQueue) {
    let database = TestDatabase::new(engine);
    let db = Database::connect(&database.url).await.expect("the database opens and migrates");
    (database, JobQueue::new(db))
}

async fn worker(queue: &JobQueue, name: &str, encoders: &[Encoder], capacity: i64) -> String {
    let new = NewWorker { name: name.into(), encoders: encoders.to_vec(), capacity };
    queue.register_worker(&new, T0).await.unwrap().id
}

fn transcode(owner: &str, need: EncoderNeed) -> NewJob {
    NewJob { need, ..NewJob::transcode(format!("asset-of-{owner}"), owner, "default") }
}

async fn claim(queue: &JobQueue, worker: &str, encoders: &[Encoder], now: i64) -> Option<ClaimedJob> {
    queue.claim(worker, TRANSCODE, encoders, LEASE, now).await.unwrap()
}

async fn job(queue: &JobQueue, id: &str) -> Job {
    queue.get(id).await.unwrap().expect("the job exists")
}

async fn queued(queue: &JobQueue) -> Vec<Job> {
    let rows = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'queued'"))
        .fetch_all(queue.database().pool())
        .await
        .unwrap();
    rows.iter().map(|r| job_from_row(r).unwrap()).collect()
}

fn assert_lease_lost(result: Result<impl std::fmt::Debug, JobError>, current: i64, state: JobState) {
    match result {
        Err(JobError::LeaseLost { current_attempt, state: found, .. }) => {
            assert_eq!((current_attempt, found), (current, state))
        }
        other => panic!("expected LeaseLost at attempt {current} ({state}), got {other:?}"),
    }
}

on_both_engines!(claim_heartbeat_complete, |engine: Engine| async move {
    let (_db, queue) = open(engine).await;
    let w = worker(&queue, "w1", &[Encoder::X264], 1).await;
    let other = worker(&queue, "w2", &[Encoder::X264], 1).await;
    let enqueued = queue.enqueue(&transcode("alice", EncoderNeed::ANY), T0).await.unwrap();
    assert_eq!((enqueued.state, enqueued.attempt, enqueued.lease()), (JobState::Queued, 0, None));

    let claimed = claim(&queue, &w, &[Encoder::X264], T0 + 5).await.expect("a job is queued");
    assert_eq!(claimed.job.id, enqueued.id);
    assert_eq!((claimed.lease.attempt, claimed.lease.worker_id.as_str()), (1, w.as_str()));
    assert_eq!(claimed.lease_expires_at, T0 + 5 + 30_000);
    assert_eq!((claimed.job.state, claimed.job.started_at), (JobState::Running, Some(T0 + 5)));
    assert!(claim(&queue, &other, &[Encoder::X264], T0 + 6).await.is_none(), "the only job is taken");

    let progress = json!({"percent": 40, "stage": "encoding"});
    let until = queue.heartbeat(&claimed.lease, Some(&progress), T0 + 20_000).await.unwrap();
    assert_eq!(until, T0 + 20_000 + 30_000);
    // A heartbeat without progress extends the lease and keeps the last progress.
    queue.heartbeat(&claimed.lease, None, T0 + 25_000).await.unwrap();
    let running = job(&queue, &enqueued.id).await;
    assert_eq!((running.progress.as_ref(), running.lease_expires_at), (Some(&progress), Some(T0 + 55_000)));

    let result = json!({"renditions": 5});
    queue.complete(&claimed.lease, &result, T0 + 30_000).await.unwrap();
    let done = job(&queue, &enqueued.id).await;
    assert_eq!(
        (done.state, done.result.as_ref(), done.finished_at),
        (JobState::Succeeded, Some(&result), Some(T0 + 30_000))
    );
    assert_eq!(done.lease_expires_at, None);
    // The same claim completing again (a retried request) is fine; a heartbeat after the end is not.
    queue.complete(&claimed.lease, &result, T0 + 31_000).await.unwrap();
    assert_lease_lost(queue.heartbeat(&claimed.lease, None, T0 + 31_000).await, 1, JobState::Succeeded);
    assert!(claim(&queue, &w, &[Encoder::X264], T0 + 40_000).await.is_none());
});

on_both_engines!(failures_retry_with_backoff_then_fail_with_the_error_kept, |engine: Engine| async move {
    let (_db, queue) = open(engine).await;
    let schedule = RetrySchedule { base: Duration::from_secs(1), max: Duration::from_secs(3) };
    let queue = queue.with_retry_schedule(schedule);
    let w = worker(&queue, "w", &[Encoder::X264], 1).await;
    let id = queue.enqueue(&NewJob { max_attempts: 3, ..transcode("a", EncoderNeed::ANY) }, T0).await.unwrap().id;
    let failure = |n: i64| JobFailure::new("storage_unreachable", format!("attempt {n}: connection refused"));

    let mut now = T0;
    let mut expected_delays = vec![1_000, 2_000].into_iter();
    for attempt in 1..=3 {
        let claimed = claim(&queue, &w, &[Encoder::X264], now).await.expect("claimable once the backoff passed");
        assert_eq!(claimed.lease.attempt, attempt);
        let outcome = queue.fail(&claimed.lease, &failure(attempt), true, now + 100).await.unwrap();
        match expected_delays.next() {
            Some(delay) => {
                assert_eq!(outcome, FailOutcome::Retrying { run_after: now + 100 + delay });
                let waiting = job(&queue, &id).await;
                assert_eq!((waiting.state, waiting.finished_at), (JobState::Queued, None));
                assert_eq!(waiting.error, Some(failure(attempt)));
                assert!(claim(&queue, &w, &[Encoder::X264], now + 100 + delay - 1).await.is_none(), "backoff");
                now += 100 + delay;
            }
            None => assert_eq!(outcome, FailOutcome::Failed),
        }
    }
    let failed = job(&queue, &id).await;
    assert_eq!((failed.state, failed.attempt, failed.finished_at), (JobState::Failed, 3, Some(now + 100)));
    assert_eq!(failed.error, Some(failure(3)));
    assert!(claim(&queue, &w, &[Encoder::X264], now + 1_000_000).await.is_none());

    // A failure that is not retryable ends the job at once, whatever attempts are left.
    let id = queue.enqueue(&transcode("a", EncoderNeed::ANY), now).await.unwrap().id;
    let claimed = claim(&queue, &w, &[Encoder::X264], now).await.unwrap();
    let not_media = JobFailure::new("not_media", "the upload is not a video file");
    assert_eq!(queue.fail(&claimed.lease, &not_media, false, now + 1).await.unwrap(), FailOutcome::Failed);
    let failed = job(&queue, &id).await;
    assert_eq!((failed.state, failed.error), (JobState::Failed, Some(not_media)));
});

on_both_engines!(a_worker_whose_lease_expired_is_fenced_off, |engine: Engine| async move {
    let (_db, queue) = open(engine).await;
    let slow = worker(&queue, "slow", &[Encoder::X264], 1).await;
    let next = worker(&queue, "next", &[Encoder::X264], 1).await;
    let id = queue.enqueue(&transcode("a", EncoderNeed::ANY), T0).await.unwrap().id;
    let first = claim(&queue, &slow, &[Encoder::X264], T0).await.unwrap().lease;
    let progress = json!({"percent": 10});
    queue.heartbeat(&first, Some(&progress), T0 + 20_000).await.unwrap();

    // The heartbeat moved the lease to T0 + 50 s: nothing expires before that.
    assert!(queue.expire_leases(T0 + 49_000).await.unwrap().is_empty());
    let expired = queue.expire_leases(T0 + 50_001).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!((expired[0].job_id.as_str(), expired[0].attempt, expired[0].state), (id.as_str(), 1, JobState::Queued));
    let requeued = job(&queue, &id).await;
    assert_eq!((requeued.state, requeued.lease_expires_at), (JobState::Queued, None));
    assert_eq!(requeued.error.map(|e| e.code), Some("lease_expired".to_string()));
    // Taken back but not yet claimed again: the old claim can no longer write.
    assert_lease_lost(queue.heartbeat(&first, None, T0 + 50_002).await, 1, JobState::Queued);

    let second = claim(&queue, &next, &[Encoder::X264], T0 + 51_000).await.unwrap().lease;
    assert_eq!(second.attempt, 2);
    let before = job(&queue, &id).await;
    assert_lease_lost(queue.heartbeat(&first, Some(&json!({"percent": 99})), T0 + 52_000).await, 2, JobState::Running);
    assert_lease_lost(queue.complete(&first, &json!({"stale": true}), T0 + 52_000).await, 2, JobState::Running);
    let stale_failure = JobFailure::new("encoder_crashed", "stale");
    assert_lease_lost(queue.fail(&first, &stale_failure, true, T0 + 52_000).await, 2, JobState::Running);
    // The same attempt number from another worker is refused too: the lease names its worker.
    let forged = marquee_control_api::jobs::Lease { worker_id: slow.clone(), ..second.clone() };
    assert_lease_lost(queue.complete(&forged, &json!({}), T0 + 52_000).await, 2, JobState::Running);
    assert_eq!(job(&queue, &id).await, before, "refused writes changed nothing");

    queue.complete(&second, &json!({"ok": true}), T0 + 53_000).await.unwrap();
    assert_eq!(job(&queue, &id).await.state, JobState::Succeeded);

    // A lease that expires on the last attempt fails the job for good.
    let id =
        queue.enqueue(&NewJob { max_attempts: 1, ..transcode("a", EncoderNeed::ANY) }, T0 + 60_000).await.unwrap().id;
    let lease = claim(&queue, &next, &[Encoder::X264], T0 + 60_000).await.unwrap().lease;
    let expired = queue.expire_leases(T0 + 60_000 + 30_001).await.unwrap();
    assert_eq!(
        expired.iter().map(|e| (e.job_id.as_str(), e.state)).collect::<Vec<_>>(),
        [(id.as_str(), JobState::Failed)]
    );
    assert_lease_lost(queue.complete(&lease, &json!({}), T0 + 100_000).await, 1, JobState::Failed);
    assert_eq!(job(&queue, &id).await.error.map(|e| e.code), Some("lease_expired".to_string()));
});

on_both_engines!(one_owners_fifty_jobs_do_not_starve_anothers_one, |engine: Engine| async move {
    let (_db, queue) = open(engine).await;
    let w = worker(&queue, "w", &[Encoder::X264], 100).await;
    for i in 0..50 {
        queue.enqueue(&transcode("a", EncoderNeed::ANY), T0 + i).await.unwrap();
    }
    queue.enqueue(&transcode("b", EncoderNeed::ANY), T0 + 50).await.unwrap();
    let mut owners = Vec::new();
    while let Some(claimed) = claim(&queue, &w, &[Encoder::X264], T0 + 100).await {
        owners.push(claimed.job.owner_id);
    }
    assert_eq!(owners.len(), 51);
    assert!(owners[..2].contains(&"b".to_string()), "b's job is among the first two claims: {owners:?}");
});

on_both_engines!(claims_follow_the_pure_choice_rules, |engine: Engine| async move {
    // A mix of owners, ages and encoder needs, claimed by workers of different encoders in turn; every claim
    // must be what `choice::choose` picks from the queued jobs at that moment.
    let (_db, queue) = open(engine).await;
    let owners = ["ann", "bob", "cat", "dan"];
    let needs = [
        EncoderNeed::ANY,
        EncoderNeed::exactly(Encoder::Nvenc),
        EncoderNeed::or_x264(Encoder::Nvenc),
        EncoderNeed::exactly(Encoder::Vaapi),
        EncoderNeed::or_x264(Encoder::Qsv),
        EncoderNeed::exactly(Encoder::X264),
    ];
    let mut state = 7u64;
    let mut next = move |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % n
    };
    for i in 0..60 {
        let owner = owners[if i < 20 { 0 } else { next(owners.len()) }];
        queue.enqueue(&transcode(owner, needs[next(needs.len())]), T0 + i).await.unwrap();
    }
    let fleets: [&[Encoder]; 4] =
        [&[Encoder::X264], &[Encoder::Nvenc], &[Encoder::X264, Encoder::Vaapi], &[Encoder::Qsv]];
    let mut workers = Vec::new();
    for (i, encoders) in fleets.iter().enumerate() {
        workers.push(worker(&queue, &format!("w{i}"), encoders, 1000).await);
    }
    let mut claims = 0;
    for turn in 0..200 {
        let which = turn % fleets.len();
        let candidates: Vec<Candidate> = queued(&queue)
            .await
            .into_iter()
            .map(|j| Candidate {
                id: j.id,
                owner_id: j.owner_id,
                kind: j.kind,
                need: j.need,
                fair_round: j.fair_round,
                created_at: j.created_at,
                run_after: j.run_after,
            })
            .collect();
        let now = T0 + 1_000;
        let expected = choice::choose(&candidates, &Offer { kinds: TRANSCODE, encoders: fleets[which], now });
        let got = claim(&queue, &workers[which], fleets[which], now).await;
        assert_eq!(got.as_ref().map(|c| c.job.id.as_str()), expected.map(|c| c.id.as_str()), "turn {turn}");
        if let Some(claimed) = got {
            assert!(claimed.job.need.met_by(fleets[which]));
            claims += 1;
        }
    }
    assert_eq!(claims, 60, "every job found a worker that may run it");
});

on_both_engines!(hardware_jobs_go_only_to_workers_with_the_encoder, |engine: Engine| async move {
    let (_db, queue) = open(engine).await;
    let cpu = worker(&queue, "cpu", &[Encoder::X264], 10).await;
    let gpu = worker(&queue, "gpu", &[Encoder::Nvenc], 10).await;
    let nvenc_only = queue.enqueue(&transcode("a", EncoderNeed::exactly(Encoder::Nvenc)), T0).await.unwrap().id;
    let nvenc_or_x264 = queue.enqueue(&transcode("a", EncoderNeed::or_x264(Encoder::Nvenc)), T0 + 1).await.unwrap().id;
    let vaapi_only = queue.enqueue(&transcode("a", EncoderNeed::exactly(Encoder::Vaapi)), T0 + 2).await.unwrap().id;

    let first = claim(&queue, &cpu, &[Encoder::X264], T0 + 10).await.unwrap();
    assert_eq!(first.job.id, nvenc_or_x264, "an x264 worker gets the job that allows the fallback");
    assert!(claim(&queue, &cpu, &[Encoder::X264], T0 + 10).await.is_none(), "and nothing that needs hardware");
    let on_gpu = claim(&queue, &gpu, &[Encoder::Nvenc], T0 + 10).await.unwrap();
    assert_eq!(on_gpu.job.id, nvenc_only);
    assert!(claim(&queue, &gpu, &[Encoder::Nvenc], T0 + 10).await.is_none(), "vaapi is not nvenc");
    assert_eq!(job(&queue, &vaapi_only).await.state, JobState::Queued);
    let intel = worker(&queue, "intel", &[Encoder::Vaapi, Encoder::X264], 1).await;
    let on_intel = claim(&queue, &intel, &[Encoder::Vaapi, Encoder::X264], T0 + 10).await.unwrap();
    assert_eq!(on_intel.job.id, vaapi_only);
    // A worker that claims for other kinds only gets nothing.
    queue.enqueue(&transcode("a", EncoderNeed::ANY), T0 + 20).await.unwrap();
    assert!(queue.claim(&cpu, &["thumbnail"], &[Encoder::X264], LEASE, T0 + 30).await.unwrap().is_none());
    assert!(queue.claim(&cpu, &[], &[Encoder::X264], LEASE, T0 + 30).await.unwrap().is_none());
});

on_both_engines!(cancel_stops_queued_and_running_jobs, |engine: Engine| async move {
    let (_db, queue) = open(engine).await;
    let w = worker(&queue, "w", &[Encoder::X264], 5).await;
    let running = queue.enqueue(&transcode("a", EncoderNeed::ANY), T0).await.unwrap().id;
    let lease = claim(&queue, &w, &[Encoder::X264], T0).await.unwrap().lease;
    let waiting = queue.enqueue(&transcode("a", EncoderNeed::ANY), T0 + 1).await.unwrap().id;

    assert_eq!(queue.cancel(&waiting, T0 + 2).await.unwrap(), JobState::Canceled);
    assert!(claim(&queue, &w, &[Encoder::X264], T0 + 3).await.is_none(), "a canceled job is not claimed");
    assert_eq!(queue.cancel(&running, T0 + 4).await.unwrap(), JobState::Canceled);
    assert!(matches!(queue.heartbeat(&lease, None, T0 + 5).await, Err(JobError::Canceled(id)) if id == running));
    assert!(matches!(queue.complete(&lease, &json!({}), T0 + 5).await, Err(JobError::Canceled(_))));
    let canceled = job(&queue, &running).await;
    assert_eq!((canceled.state, canceled.finished_at, canceled.result), (JobState::Canceled, Some(T0 + 4), None));
    assert!(queue.expire_leases(T0 + 1_000_000).await.unwrap().is_empty(), "a canceled job holds no lease");

    // Canceling a finished job changes nothing and says how it ended; an unknown job is an error.
    let done = queue.enqueue(&transcode("a", EncoderNeed::ANY), T0 + 10).await.unwrap().id;
    let lease = claim(&queue, &w, &[Encoder::X264], T0 + 10).await.unwrap().lease;
    queue.complete(&lease, &json!({}), T0 + 11).await.unwrap();
    assert_eq!(queue.cancel(&done, T0 + 12).await.unwrap(), JobState::Succeeded);
    assert!(matches!(queue.cancel("no-such-job", T0).await, Err(JobError::NotFound(_))));
});

on_both_engines!(workers_take_no_more_than_their_capacity_and_nothing_while_draining, |engine: Engine| async move {
    let (_db, queue) = open(engine).await;
    let w = worker(&queue, "w", &[Encoder::X264], 2).await;
    for i in 0..4 {
        queue.enqueue(&transcode("a", EncoderNeed::ANY), T0 + i).await.unwrap();
    }
    let first = claim(&queue, &w, &[Encoder::X264], T0 + 10).await.unwrap().lease;
    claim(&queue, &w, &[Encoder::X264], T0 + 10).await.unwrap();
    assert!(claim(&queue, &w, &[Encoder::X264], T0 + 10).await.is_none(), "capacity 2");
    queue.complete(&first, &json!({}), T0 + 11).await.unwrap();
    assert!(claim(&queue, &w, &[Encoder::X264], T0 + 12).await.is_some(), "a slot is free again");

    queue.touch_worker(&w, T0 + 13).await.unwrap();
    queue.drain_worker(&w, T0 + 14).await.unwrap();
    queue.drain_worker(&w, T0 + 15).await.unwrap();
    let drained = queue.worker(&w).await.unwrap().unwrap();
    assert_eq!((drained.draining_at, drained.last_seen_at), (Some(T0 + 14), T0 + 15));
    assert_eq!(drained.encoders, [Encoder::X264]);
    let fresh = worker(&queue, "fresh", &[Encoder::X264], 1).await;
    assert!(claim(&queue, &w, &[Encoder::X264], T0 + 16).await.is_none(), "a draining worker claims nothing");
    assert!(claim(&queue, &fresh, &[Encoder::X264], T0 + 16).await.is_some(), "another worker still does");
    assert!(claim(&queue, "unregistered", &[Encoder::X264], T0 + 16).await.is_none());
    assert!(matches!(queue.touch_worker("unregistered", T0).await, Err(JobError::UnknownWorker(_))));
});

on_both_engines!(depth_and_age_by_state, |engine: Engine| async move {
    let (_db, queue) = open(engine).await;
    let w = worker(&queue, "w", &[Encoder::X264], 5).await;
    for i in 0..3 {
        queue.enqueue(&transcode("a", EncoderNeed::ANY), T0 + i * 1_000).await.unwrap();
    }
    let lease = claim(&queue, &w, &[Encoder::X264], T0 + 5_000).await.unwrap().lease;
    queue.heartbeat(&lease, None, T0 + 6_000).await.unwrap();
    let depths = queue.depth_by_state(T0 + 10_000).await.unwrap();
    let of = |state| depths.iter().find(|d| d.state == state).copied().unwrap();
    assert_eq!((of(JobState::Queued).jobs, of(JobState::Queued).oldest_age_ms), (2, Some(9_000)));
    assert_eq!((of(JobState::Running).jobs, of(JobState::Running).oldest_age_ms), (1, Some(5_000)));
    assert_eq!((of(JobState::Succeeded).jobs, of(JobState::Succeeded).oldest_age_ms), (0, None));
    assert_eq!(depths.len(), JobState::ALL.len());
});

on_both_engines!(eight_concurrent_workers_claim_every_job_exactly_once, |engine: Engine| async move {
    let (_db, queue) = open(engine).await;
    for i in 0..200 {
        queue.enqueue(&transcode(["a", "b", "c"][i % 3], EncoderNeed::ANY), T0 + i as i64).await.unwrap();
    }
    let mut tasks = Vec::new();
    for n in 0..8 {
        let queue = queue.clone();
        let w = worker(&queue, &format!("w{n}"), &[Encoder::X264], 1_000).await;
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(claimed) = claim(&queue, &w, &[Encoder::X264], T0 + 1_000).await {
                queue.complete(&claimed.lease, &json!({}), T0 + 1_001).await.unwrap();
                mine.push(claimed.job.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    let mut busy_workers = 0;
    for task in tasks {
        let mine = task.await.unwrap();
        busy_workers += usize::from(!mine.is_empty());
        all.extend(mine);
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (200, 200), "every job claimed exactly once");
    assert!(busy_workers > 1, "the claims were concurrent");
    let depths = queue.depth_by_state(T0 + 2_000).await.unwrap();
    assert_eq!(depths.iter().find(|d| d.state == JobState::Succeeded).unwrap().jobs, 200);
});
