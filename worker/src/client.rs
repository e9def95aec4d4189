//! The worker's side of the farm protocol over HTTP (reqwest): one method per call, answers decoded into
//! `marquee-farm-protocol` values, refusals into [`CallError`] so the worker can tell "stop this job" from
//! "try again".

use std::time::Duration;

use marquee_farm_protocol::{
    codes, AbortJob, ClaimRequest, ClaimedJob, CompleteJob, FailAck, FailJob, Heartbeat, HeartbeatAck, RegisterWorker,
    RegisteredWorker,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The claim is no longer this worker's (lease lost, job canceled): stop the job, publish nothing.
    #[error("the API took the job back ({code}): {message}")]
    Stop { code: String, message: String },
    /// The API refused the call for another reason (a bad request, an unknown token).
    #[error("the API refused the call ({status} {code}): {message}")]
    Refused { status: u16, code: String, message: String },
    /// The API could not be reached or failed (5xx): the call may be tried again.
    #[error("the API is unreachable or failing: {0}")]
    Unavailable(String),
}

impl CallError {
    /// Whether trying the same call again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, CallError::Unavailable(_))
    }
}

/// A client of one API, as one registered worker.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ApiClient {
    /// Registers a worker with an admin credential (`api_key`) and returns a client acting as it.
    pub async fn register(
        base: &str,
        api_key: &str,
        request: &RegisterWorker,
    ) -> Result<(Self, RegisteredWorker), CallError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| CallError::Unavailable(e.to_string()))?;
        let base = base.trim_end_matches('/').to_string();
        let mut client = Self { http, base, token: api_key.to_string() };
        let registered: RegisteredWorker =
            client.call("/v1/workers", request, Duration::from_secs(30)).await?.json()?;
        client.token = registered.token.clone();
        Ok((client, registered))
    }

    /// The next job, waiting up to `request.wait_seconds` for one; `None` when none came.
    pub async fn claim(&self, request: &ClaimRequest) -> Result<Option<ClaimedJob>, CallError> {
        let timeout = Duration::from_secs(u64::from(request.wait_seconds) + 30);
        let answer = self.call("/v1/workers/claim", request, timeout).await?;
        if answer.status == 204 {
            return Ok(None);
        }
        answer.json().map(Some)
    }

    pub async fn heartbeat(&self, job_id: &str, beat: &Heartbeat) -> Result<HeartbeatAck, CallError> {
        self.call(&format!("/v1/workers/jobs/{job_id}/heartbeat"), beat, Duration::from_secs(10)).await?.json()
    }

    pub async fn complete(&self, job_id: &str, done: &CompleteJob) -> Result<(), CallError> {
        self.call(&format!("/v1/workers/jobs/{job_id}/complete"), done, Duration::from_secs(60)).await.map(|_| ())
    }

    pub async fn fail(&self, job_id: &str, failed: &FailJob) -> Result<FailAck, CallError> {
        self.call(&format!("/v1/workers/jobs/{job_id}/fail"), failed, Duration::from_secs(30)).await?.json()
    }

    pub async fn abort(&self, job_id: &str, attempt: i64) -> Result<(), CallError> {
        let body = AbortJob { attempt };
        self.call(&format!("/v1/workers/jobs/{job_id}/abort"), &body, Duration::from_secs(30)).await.map(|_| ())
    }

    pub async fn drain(&self) -> Result<(), CallError> {
        self.call("/v1/workers/drain", &serde_json::json!({}), Duration::from_secs(30)).await.map(|_| ())
    }

    async fn call(&self, path: &str, body: &impl Serialize, timeout: Duration) -> Result<Answer, CallError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| CallError::Unavailable(format!("POST {path}: {e}")))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| CallError::Unavailable(format!("POST {path}: {e}")))?;
        if (200..300).contains(&status) {
            return Ok(Answer { status, bytes: bytes.to_vec() });
        }
        let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let code = error["error"]["code"].as_str().unwrap_or("unknown").to_string();
        let message =
            error["error"]["message"].as_str().map_or_else(|| String::from_utf8_lossy(&bytes).into(), str::to_string);
        Err(match status {
            409 if code == codes::LEASE_LOST || code == codes::JOB_CANCELED => CallError::Stop { code, message },
            500.. | 429 | 408 => CallError::Unavailable(format!("POST {path}: {status} {code}: {message}")),
            _ => CallError::Refused { status, code, message },
        })
    }
}

struct Answer {
    status: u16,
    bytes: Vec<u8>,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        serde_json::from_slice(&self.bytes)
            .map_err(|e| CallError::Unavailable(format!("the API's answer does not read as expected: {e}")))
    }
}
