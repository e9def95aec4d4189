//! The webhook dispatcher: a background task (one per API instance) that turns new events into deliveries for
//! the endpoints that receive them, and sends due deliveries, signed, with retries on the [`RetrySchedule`].
//!
//! Each step ([`Dispatcher::run_once`]) works at a given time, so tests drive it step by step:
//! 1. **Fan out**: events not yet dispatched (oldest first) get one delivery per receiving endpoint, and are
//!    marked dispatched, in one transaction. On PostgreSQL the events are taken `FOR UPDATE SKIP LOCKED`, so
//!    instances sharing a database split the work and never fan an event out twice.
//! 2. **Claim**: up to [`DispatcherSettings::concurrency`] due deliveries are leased to this step (a new claim
//!    token, `next_attempt_at` moved to the end of the lease) in one statement, again `FOR UPDATE SKIP LOCKED`
//!    on PostgreSQL; SQLite has one API process. A step sends all it claimed at once, so it lasts at most one
//!    request timeout, which the lease outlasts.
//!    No row lock is held while sending. If the instance dies mid-send, the lease runs out and another instance
//!    sends again: delivery is at least once, and the receivers drop duplicates by `webhook-id`.
//! 3. **Send** the claimed deliveries concurrently, then write each attempt to the log and the delivery's next
//!    state, only if the claim token is still this step's (a step whose lease ran out cannot overwrite the
//!    outcome of the one that took over).

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use marquee_outbound::PublicAddressesOnly;
use reqwest::header::CONTENT_TYPE;
use sqlx::AnyConnection;
use tracing::{info, warn};

use super::deliveries::{insert_delivery, receiving_endpoints};
use super::error::EventsError;
use super::metrics::WebhookMetrics;
use super::outbox::{EventRow, EVENT_COLUMNS};
use super::outcome::{retry_after_ms, verdict, Answer, Verdict};
use super::retry::{AfterFailure, RetrySchedule};
use super::signing::SignatureHeaders;
use crate::clock::now_ms;
use crate::db::{Database, Engine};

/// Events fanned out per step, at most.
pub const DEFAULT_BATCH_SIZE: u32 = 100;
/// Deliveries claimed and sent at once per step, at most.
pub const DEFAULT_CONCURRENCY: u32 = 16;
/// How long a receiver has to answer (the spec recommends 15 to 30 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a claimed delivery is this step's before another instance may send it: well past the request
/// timeout (it is never shorter than the timeout plus [`LEASE_MARGIN`]).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// What a lease keeps beyond the request timeout, for the database work around the request.
pub const LEASE_MARGIN: Duration = Duration::from_secs(10);
/// The pause between steps when there was nothing more to do.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How the dispatcher works.
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    pub batch_size: u32,
    pub concurrency: u32,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub schedule: RetrySchedule,
    /// Whether webhooks may go to loopback, private and link-local addresses. Off by default: endpoint URLs
    /// are chosen by users, who must not reach the API's own machine or network through them.
    pub allow_private_networks: bool,
}

impl Default for DispatcherSettings {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            lease: DEFAULT_LEASE,
            poll_interval: DEFAULT_POLL_INTERVAL,
            schedule: RetrySchedule::default(),
            allow_private_networks: false,
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Events turned into deliveries.
    pub events_dispatched: usize,
    /// Deliveries those events made.
    pub deliveries_queued: usize,
    /// Requests sent.
    pub attempts: usize,
    pub delivered: usize,
    /// Failed attempts that will be retried.
    pub retrying: usize,
    /// Deliveries given up (retry window over, endpoint gone or disabled).
    pub given_up: usize,
    /// Attempts that outlived their lease: another step had claimed the delivery meanwhile, so this attempt
    /// is in the log but the other step decides what happens next.
    pub superseded: usize,
}

impl DispatchReport {
    /// Whether a batch was full, so there may be more to do right away.
    fn was_full(&self, settings: &DispatcherSettings) -> bool {
        self.events_dispatched >= settings.batch_size as usize
            || self.delivered + self.retrying + self.given_up + self.superseded >= settings.concurrency as usize
    }
}

/// Sends the webhooks of one API instance. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    db: Database,
    client: reqwest::Client,
    settings: DispatcherSettings,
    metrics: Option<WebhookMetrics>,
}

/// A delivery claimed by a step, with what sending it needs.
#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    delivery_id: String,
    attempts: i64,
    queued_at: i64,
    endpoint_id: String,
    url: String,
    secret: String,
    endpoint_disabled_at: Option<i64>,
    #[sqlx(flatten)]
    event: EventRow,
}

/// How a claimed delivery ended this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Delivered,
    Retrying,
    GivenUp {
        attempted: bool,
    },
    /// The lease ran out before the outcome was written.
    Superseded,
}

impl Dispatcher {
    pub fn new(db: Database, settings: DispatcherSettings) -> Result<Self, EventsError> {
        let mut client = reqwest::Client::builder();
        if !settings.allow_private_networks {
            client = client.dns_resolver(std::sync::Arc::new(PublicAddressesOnly));
        }
        let client = client
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.request_timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("marquee-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(EventsError::Client)?;
        Ok(Self { db, client, settings, metrics: None })
    }

    /// Counts attempts and deliveries given up in `registry` (the API's, so `/metrics` shows them).
    pub fn with_metrics(mut self, registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        self.metrics = Some(WebhookMetrics::register(registry)?);
        Ok(self)
    }

    /// Runs steps until `stop` completes, pausing [`DispatcherSettings::poll_interval`] whenever a step
    /// found less than a full batch. A step in progress when `stop` comes is finished first.
    pub fn spawn(self, stop: impl Future<Output = ()> + Send + 'static) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                let pause = match self.run_once(now_ms()).await {
                    Ok(report) if report.was_full(&self.settings) => Duration::ZERO,
                    Ok(_) => self.settings.poll_interval,
                    Err(error) => {
                        warn!(%error, "Webhook dispatch step failed.");
                        self.settings.poll_interval
                    }
                };
                tokio::select! {
                    biased;
                    () = &mut stop => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        })
    }

    /// One step at time `now` (Unix milliseconds): fan out new events, then send the deliveries due by `now`.
    /// Attempts are logged at `now` and signed with its second.
    pub async fn run_once(&self, now: i64) -> Result<DispatchReport, sqlx::Error> {
        let mut report = DispatchReport::default();
        (report.events_dispatched, report.deliveries_queued) = self.fan_out(now).await?;
        let token = uuid::Uuid::new_v4().to_string();
        let claimed = self.claim_due(now, &token).await?;
        let endings: Vec<Result<Ending, sqlx::Error>> = futures_util::stream::iter(claimed)
            .map(|claimed| self.send(claimed, now, &token))
            .buffer_unordered(self.settings.concurrency.max(1) as usize)
            .collect()
            .await;
        for ending in endings {
            let ending = ending?;
            report.attempts += usize::from(!matches!(ending, Ending::GivenUp { attempted: false }));
            match ending {
                Ending::Delivered => report.delivered += 1,
                Ending::Retrying => report.retrying += 1,
                Ending::GivenUp { .. } => report.given_up += 1,
                Ending::Superseded => report.superseded += 1,
            }
        }
        Ok(report)
    }

    /// Makes the deliveries of up to one batch of undispatched events.
    async fn fan_out(&self, now: i64) -> Result<(usize, usize), sqlx::Error> {
        let mut transaction = super::begin_write(self.db.pool()).await?;
        let lock = match self.db.engine() {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let events: Vec<(String, String, String)> = sqlx::query_as(&format!(
            "SELECT id, owner_id, type FROM events WHERE dispatched_at IS NULL ORDER BY seq LIMIT $1{lock}"
        ))
        .bind(i64::from(self.settings.batch_size))
        .fetch_all(&mut *transaction)
        .await?;
        let mut queued = 0;
        for (event_id, owner_id, kind) in &events {
            // A type this version does not know (written by a newer one) is left to that version.
            let Ok(kind) = kind.parse() else { continue };
            for endpoint in receiving_endpoints(&mut transaction, owner_id, kind).await? {
                insert_delivery(&mut transaction, &endpoint.id, event_id, now).await?;
                queued += 1;
            }
            sqlx::query("UPDATE events SET dispatched_at = $1 WHERE id = $2")
                .bind(now)
                .bind(event_id)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok((events.len(), queued))
    }

    /// Leases up to [`DispatcherSettings::concurrency`] deliveries due by `now` to `token`.
    async fn claim_due(&self, now: i64, token: &str) -> Result<Vec<Claimed>, sqlx::Error> {
        let lock = match self.db.engine() {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let lease = self.settings.lease.max(self.settings.request_timeout + LEASE_MARGIN);
        let lease_end = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let mut transaction = super::begin_write(self.db.pool()).await?;
        sqlx::query(&format!(
            "UPDATE webhook_deliveries SET claim_token = $1, next_attempt_at = $2 WHERE id IN \
             (SELECT id FROM webhook_deliveries WHERE next_attempt_at <= $3 ORDER BY next_attempt_at, id LIMIT $4{lock})"
        ))
        .bind(token)
        .bind(lease_end)
        .bind(now)
        .bind(i64::from(self.settings.concurrency.max(1)))
        .execute(&mut *transaction)
        .await?;
        let claimed = sqlx::query_as(&format!(
            "SELECT d.id AS delivery_id, d.attempts, d.created_at AS queued_at, e.id AS endpoint_id, e.url, e.secret, \
             e.disabled_at AS endpoint_disabled_at, {EVENT_COLUMNS} \
             FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             JOIN events ev ON ev.id = d.event_id WHERE d.claim_token = $1 ORDER BY d.next_attempt_at, d.id"
        ))
        .bind(token)
        .fetch_all(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(claimed)
    }

    /// Sends one claimed delivery and writes down how it went.
    async fn send(&self, claimed: Claimed, now: i64, token: &str) -> Result<Ending, sqlx::Error> {
        let Claimed { delivery_id, attempts, queued_at, endpoint_id, url, secret, endpoint_disabled_at, event } =
            claimed;
        let event = match (endpoint_disabled_at, event.into_event()) {
            (None, Some(event)) => event,
            (disabled, _) => {
                let why = if disabled.is_some() { "the endpoint is disabled" } else { "unknown event type" };
                let mut connection = self.db.pool().acquire().await?;
                let outcome = Outcome { attempted: false, status_code: None, error: Some(why) };
                finish(&mut connection, &delivery_id, token, now, outcome, Next::GiveUp).await?;
                if let Some(metrics) = &self.metrics {
                    metrics.gave_up();
                }
                return Ok(Ending::GivenUp { attempted: false });
            }
        };
        let body = event.webhook_body();
        let started = Instant::now();
        let mut retry_after = None;
        let answer = match SignatureHeaders::sign(&secret, &event.id, now.div_euclid(1000), &body) {
            Err(error) => Answer::NoAnswer(format!("cannot sign with the endpoint's secret: {error}")),
            // Names are checked by the resolver; addresses written in the URL never reach it.
            Ok(_) if !self.settings.allow_private_networks && literal_private_address(&url) => {
                Answer::NoAnswer("the URL is a private address (private networks are not allowed)".into())
            }
            Ok(signature) => {
                let mut request = self.client.post(&url).header(CONTENT_TYPE, "application/json").body(body);
                for (name, value) in signature.pairs() {
                    request = request.header(name, value);
                }
                match request.send().await {
                    Ok(response) => {
                        let asked = response.headers().get(reqwest::header::RETRY_AFTER);
                        retry_after = asked.and_then(|value| value.to_str().ok()).and_then(|v| retry_after_ms(v, now));
                        Answer::Status(response.status().as_u16())
                    }
                    Err(error) => Answer::NoAnswer(describe(&error, self.settings.request_timeout)),
                }
            }
        };
        let took = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let attempt = attempts + 1;
        let verdict = verdict(&answer);
        let (next, ending) = match verdict {
            Verdict::Delivered => (Next::Delivered, Ending::Delivered),
            Verdict::EndpointGone => (Next::GiveUp, Ending::GivenUp { attempted: true }),
            Verdict::Failed => {
                let failures = u32::try_from(attempt).unwrap_or(u32::MAX);
                match self.settings.schedule.after_failure_asked(queued_at, failures, now, rand::random(), retry_after)
                {
                    AfterFailure::RetryAt(at) => (Next::RetryAt(at), Ending::Retrying),
                    AfterFailure::GiveUp => (Next::GiveUp, Ending::GivenUp { attempted: true }),
                }
            }
        };
        let (status_code, error) = match &answer {
            Answer::Status(code) => (Some(i64::from(*code)), None),
            Answer::NoAnswer(why) => (None, Some(why.as_str())),
        };
        match &answer {
            Answer::Status(code) => info!(delivery = %delivery_id, endpoint = %endpoint_id, event = %event.id,
                attempt, status = code, outcome = verdict.as_str(), "Webhook sent."),
            Answer::NoAnswer(why) => warn!(delivery = %delivery_id, endpoint = %endpoint_id, event = %event.id,
                attempt, error = %why, outcome = verdict.as_str(), "Webhook not answered."),
        }
        let mut transaction = super::begin_write(self.db.pool()).await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (id, delivery_id, attempt, attempted_at, status_code, error, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&delivery_id)
        .bind(attempt)
        .bind(now)
        .bind(status_code)
        .bind(error)
        .bind(took)
        .execute(&mut *transaction)
        .await?;
        let outcome = Outcome { attempted: true, status_code, error };
        let ours = finish(&mut transaction, &delivery_id, token, now, outcome, next).await?;
        if ours && verdict == Verdict::EndpointGone {
            sqlx::query("UPDATE webhook_endpoints SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                .bind(now)
                .bind(&endpoint_id)
                .execute(&mut *transaction)
                .await?;
            warn!(endpoint = %endpoint_id, "Webhook endpoint answered 410 Gone; disabled.");
        }
        transaction.commit().await?;
        if !ours {
            warn!(delivery = %delivery_id, "Webhook attempt outlived its lease; another step took the delivery over.");
            return Ok(Ending::Superseded);
        }
        if let Some(metrics) = &self.metrics {
            metrics.attempted(verdict);
            if matches!(ending, Ending::GivenUp { .. }) {
                metrics.gave_up();
            }
        }
        Ok(ending)
    }
}

/// A delivery's next state after an attempt (or a refusal to attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Delivered,
    RetryAt(i64),
    GiveUp,
}

/// What an attempt (or a refusal to attempt) found.
#[derive(Debug, Clone, Copy)]
struct Outcome<'a> {
    attempted: bool,
    status_code: Option<i64>,
    error: Option<&'a str>,
}

/// Writes the outcome of an attempt at `now` into the delivery, if `token` still holds its claim; whether it did.
async fn finish(
    connection: &mut AnyConnection,
    delivery_id: &str,
    token: &str,
    now: i64,
    outcome: Outcome<'_>,
    next: Next,
) -> Result<bool, sqlx::Error> {
    let (next_attempt_at, delivered_at, given_up_at) = match next {
        Next::Delivered => (None, Some(now), None),
        Next::RetryAt(at) => (Some(at), None, None),
        Next::GiveUp => (None, None, Some(now)),
    };
    let last_attempt_at = outcome.attempted.then_some(now);
    let updated = sqlx::query(
        "UPDATE webhook_deliveries SET attempts = attempts + $1, last_attempt_at = COALESCE($2, last_attempt_at), \
         last_status_code = $3, last_error = $4, next_attempt_at = $5, delivered_at = $6, given_up_at = $7, \
         claim_token = NULL WHERE id = $8 AND claim_token = $9",
    )
    .bind(i64::from(outcome.attempted))
    .bind(last_attempt_at)
    .bind(outcome.status_code)
    .bind(outcome.error)
    .bind(next_attempt_at)
    .bind(delivered_at)
    .bind(given_up_at)
    .bind(delivery_id)
    .bind(token)
    .execute(&mut *connection)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Whether `url`'s host is an IP address (not a name) on a private network.
fn literal_private_address(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|url| marquee_outbound::literal_private_host(&url))
}

/// A reqwest error in a few words: the innermost cause says what happened (refused, reset, bad certificate).
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs());
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let what = if error.is_connect() { "cannot connect" } else { "request failed" };
    format!("{what}: {cause}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_written_in_urls() {
        assert!(literal_private_address("http://127.0.0.1:8080/hook"));
        assert!(literal_private_address("http://[::1]/hook"));
        assert!(literal_private_address("https://169.254.169.254/latest/meta-data"));
        assert!(!literal_private_address("https://8.8.8.8/hook"));
        assert!(!literal_private_address("https://localhost/hook"), "names are the resolver's to check");
    }

    #[test]
    fn the_apis_settings_choose_the_timeout_polling_and_private_networks() {
        use crate::settings::ApiSettings;
        let defaults = DispatcherSettings::from(&ApiSettings::default());
        assert_eq!(
            (defaults.request_timeout, defaults.poll_interval, defaults.allow_private_networks),
            (DEFAULT_REQUEST_TIMEOUT, DEFAULT_POLL_INTERVAL, false)
        );
        let api = ApiSettings {
            webhook_timeout: Duration::from_secs(3),
            webhook_poll_interval: Duration::from_millis(50),
            webhook_allow_private_networks: true,
            ..ApiSettings::default()
        };
        let settings = DispatcherSettings::from(&api);
        assert_eq!(
            (settings.request_timeout, settings.poll_interval, settings.allow_private_networks),
            (Duration::from_secs(3), Duration::from_millis(50), true)
        );
        assert_eq!(settings.lease, DEFAULT_LEASE, "the lease outlasts any allowed timeout");
        assert!(api.problems().is_empty());
        let keys = |api: ApiSettings| api.problems().into_iter().map(|p| p.key).collect::<Vec<_>>();
        let too_long = ApiSettings { webhook_timeout: Duration::from_secs(61), ..ApiSettings::default() };
        assert_eq!(keys(too_long), ["webhook_timeout"]);
        let too_short = ApiSettings { webhook_timeout: Duration::from_millis(999), ..ApiSettings::default() };
        assert_eq!(keys(too_short), ["webhook_timeout"]);
        let busy = ApiSettings { webhook_poll_interval: Duration::from_millis(1), ..ApiSettings::default() };
        assert_eq!(keys(busy), ["webhook_poll_interval"]);
    }
}
