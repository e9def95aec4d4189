//! The worker protocol of the transcode farm, as values: what `marquee worker` sends the control API and what
//! it gets back. No I/O; the API (`marquee-control-api`) serves it and the worker (`marquee-worker`) speaks
//! it, and neither depends on the other.
//!
//! ```text
//! worker                                   control API
//!   POST /v1/workers            (admin key) ─► RegisteredWorker { worker_id, token }      once per start
//!   POST /v1/workers/claim      (token)     ─► 200 ClaimedJob | 204 nothing (long poll)
//!   POST /v1/workers/jobs/{id}/heartbeat    ─► 200 HeartbeatAck | 409 lease_lost / job_canceled: stop
//!   POST /v1/workers/jobs/{id}/complete     ─► 204 (the asset is ready)  | 409: publish nothing more
//!   POST /v1/workers/jobs/{id}/fail         ─► 200 FailAck { retrying }
//!   POST /v1/workers/jobs/{id}/abort        ─► 204 (handed back, SIGTERM)
//!   POST /v1/workers/drain                  ─► 204 (no more claims for this worker)
//! ```
//!
//! Every job write names the claim's `attempt`, the fencing token: the API changes nothing for a claim that
//! is no longer the job's current one. Each attempt publishes under a folder of its own
//! ([`attempt_prefix`]); the API points the asset at that folder only when the attempt completes, so players
//! never see a mixture of two attempts.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The prefix of worker tokens (API keys are `mqk_`, refresh tokens `mqr_`).
pub const WORKER_TOKEN_PREFIX: &str = "mqw_";

/// The job kind the farm knows today.
pub const TRANSCODE: &str = "transcode";

/// The folder attempt `attempt` of job `job_id` publishes asset `asset_id`'s presentation under. Only the API's
/// choice of folder for a completed attempt is ever served.
pub fn attempt_prefix(asset_id: &str, job_id: &str, attempt: i64) -> String {
    format!("media/{asset_id}/{job_id}-{attempt}/")
}

/// `POST /v1/workers`: a worker introduces itself (with an admin credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWorker {
    /// A name for people (host name by default).
    pub name: String,
    /// The H.264 encoders it has: `x264`, `nvenc`, `vaapi`, `qsv`.
    pub encoders: Vec<String>,
    /// Jobs it runs at once (1 to 64).
    pub capacity: i64,
}

/// The worker's identity and its token for every later call (shown once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegisteredWorker {
    pub worker_id: String,
    /// `mqw_…`: send as `Authorization: Bearer` on every worker call.
    pub token: String,
    /// How long a claim lasts without a heartbeat.
    pub lease_seconds: u64,
    /// How often to send heartbeats (well inside the lease, and often enough that a cancel stops a job fast).
    pub heartbeat_seconds: f64,
}

/// `POST /v1/workers/claim`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The job kinds it does (default: `transcode`).
    #[serde(default = "default_kinds")]
    pub kinds: Vec<String>,
    /// Wait up to this many seconds for a job before answering 204 (0 to 30; default 0).
    #[serde(default)]
    pub wait_seconds: u32,
}

fn default_kinds() -> Vec<String> {
    vec![TRANSCODE.to_string()]
}

impl Default for ClaimRequest {
    fn default() -> Self {
        Self { kinds: default_kinds(), wait_seconds: 0 }
    }
}

/// Where a job's source is: a stored object (an upload) or a URL the worker fetches itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobSource {
    /// A key in the farm's storage.
    Stored { key: String },
    /// An `http(s)` URL (an asset created with `input_url`).
    Url { url: String },
}

/// A job the worker now holds, until its lease ends or it reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaimedJob {
    pub job_id: String,
    /// The claim's number, the fencing token to send with every write.
    pub attempt: i64,
    pub asset_id: String,
    pub kind: String,
    /// The ladder preset's name.
    pub preset: String,
    /// The encoder the preset asks for (none: any), and whether x264 may stand in for it.
    pub encoder: Option<String>,
    pub x264_fallback: bool,
    pub source: JobSource,
    /// Where to publish (a storage folder ending with `/`): [`attempt_prefix`].
    pub output_prefix: String,
    /// Unix milliseconds.
    pub lease_expires_at: i64,
}

/// What a running job has done so far, as the asset shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct JobProgress {
    /// `fetching`, `encoding`, `publishing`.
    pub stage: String,
    /// 0 to 100, when the duration is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Frames per second of the top rendition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    /// Seconds until done, at the current speed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<f64>,
}

/// `POST /v1/workers/jobs/{id}/heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub attempt: i64,
    #[serde(default)]
    pub progress: Option<JobProgress>,
}

/// The lease, extended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatAck {
    /// Unix milliseconds.
    pub lease_expires_at: i64,
}

/// One published rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rendition {
    /// Its name in the presentation (`video_720p`, `audio`).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Peak bits per second (the HLS `BANDWIDTH`).
    pub bandwidth: u64,
    /// Average bits per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_bandwidth: Option<u64>,
    /// RFC 6381 codecs.
    pub codecs: String,
}

/// `POST /v1/workers/jobs/{id}/complete`: the attempt has published its whole presentation under its
/// `output_prefix` (master playlist last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteJob {
    pub attempt: i64,
    pub duration_seconds: f64,
    /// What the probe found in the source.
    #[schema(value_type = Object)]
    pub source: serde_json::Value,
    pub renditions: Vec<Rendition>,
    /// The encoder that ran (`x264enc`, `nvh264enc`, …).
    pub encoder: String,
}

/// `POST /v1/workers/jobs/{id}/fail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailJob {
    pub attempt: i64,
    /// Stable: `invalid_media`, `source_unavailable`, `transcode_failed`, `encoder_unavailable`, …
    pub code: String,
    /// The transcoder's one-line reason.
    pub message: String,
    /// Whether another attempt may succeed (a network error yes, a file that is not media no).
    pub retryable: bool,
}

/// What became of a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FailAck {
    /// Queued again for another attempt (else failed for good: the asset is errored).
    pub retrying: bool,
}

/// `POST /v1/workers/jobs/{id}/abort`: hand the job back unfinished (the worker is stopping); it does not
/// count as an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortJob {
    pub attempt: i64,
}

/// The error codes of worker calls a worker acts on.
pub mod codes {
    /// 409: the claim is no longer the job's current one; stop and publish nothing.
    pub const LEASE_LOST: &str = "lease_lost";
    /// 409: the job was canceled; stop.
    pub const JOB_CANCELED: &str = "job_canceled";
    /// The source is not media the transcoder can read (not retried).
    pub const INVALID_MEDIA: &str = "invalid_media";
    /// The source could not be fetched.
    pub const SOURCE_UNAVAILABLE: &str = "source_unavailable";
    /// The transcode failed for another reason (retried).
    pub const TRANSCODE_FAILED: &str = "transcode_failed";
    /// The attempt published, but not a whole presentation.
    pub const INCOMPLETE_OUTPUT: &str = "incomplete_output";
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_claim_defaults_to_transcode_without_waiting() {
        let claim: ClaimRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(claim, ClaimRequest::default());
        assert_eq!(claim.kinds, vec!["transcode"]);
        assert!(serde_json::from_str::<ClaimRequest>(r#"{"kind": []}"#).is_err(), "unknown fields are refused");
    }

    #[test]
    fn sources_are_tagged() {
        let source = JobSource::Stored { key: "sources/a".into() };
        assert_eq!(serde_json::to_value(&source).unwrap(), serde_json::json!({"type": "stored", "key": "sources/a"}));
        let url: JobSource = serde_json::from_str(r#"{"type":"url","url":"https://x/y.mp4"}"#).unwrap();
        assert_eq!(url, JobSource::Url { url: "https://x/y.mp4".into() });
    }

    proptest! {
        /// Two different claims never share a folder, and every folder is under the asset's.
        #[test]
        fn attempt_folders_are_distinct(job_a in "[a-f0-9]{8}", job_b in "[a-f0-9]{8}", a in 1i64..1000, b in 1i64..1000) {
            let (pa, pb) = (attempt_prefix("asset", &job_a, a), attempt_prefix("asset", &job_b, b));
            prop_assert!(pa.starts_with("media/asset/") && pa.ends_with('/'));
            prop_assert_eq!(pa == pb, job_a == job_b && a == b);
            // Neither folder is inside the other (a prefix match would mix their objects in a listing).
            if pa != pb {
                prop_assert!(!pa.starts_with(&pb) && !pb.starts_with(&pa));
            }
        }
    }
}
