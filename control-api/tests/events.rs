//! Events and webhooks on both engines: the outbox commits with its transaction, the cursor reads every event
//! once and in order, deliveries are signed per Standard Webhooks (checked with the `standardwebhooks`
//! crate's verifier), retried on the schedule for 24 hours, logged attempt by attempt, and redelivered on request.

mod common;

use marquee_control_api::on_both_engines;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{Engine, TestDatabase};
use marquee_control_api::events::retry::RetrySchedule;
use marquee_control_api::events::{
    self, DeliveryState, DispatchReport, Dispatcher, DispatcherSettings, EventType, EventsError, NewEndpoint, NewEvent,
};
use marquee_control_api::Database;
use tokio::sync::{oneshot, watch};

/// An hour in milliseconds.
const HOUR: i64 = 60 * 60 * 1000;
/// A fixed start time for tests that drive the dispatcher themselves.
const T0: i64 = 1_800_000_000_000;

async fn open(engine: Engine) -> (TestDatabase, Database) {
    let database = TestDatabase::new(engine);
    let db = Database::connect(&database.url).await.expect("the database opens and migrates");
    (database, db)
}

async fn user(db: &Database, role: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query("INSERT INTO users (id, email, password_hash, role, created_at) VALUES ($1, $2, 'x', $3, 0)")
        .bind(&id)
        .bind(format!("{id}@example.com"))
        .bind(role)
        .execute(db.pool())
        .await
        .unwrap();
    id
}

fn new_event(kind: EventType, owner: &str, at: i64) -> NewEvent {
    let asset = uuid::Uuid::now_v7().to_string();
    NewEvent { kind, owner_id: owner.into(), asset_id: Some(asset.clone()), data: serde_json::json!({"id": asset}), at }
}

/// Records one event in a transaction of its own.
async fn record(db: &Database, event: NewEvent) -> events::Event {
    let mut transaction = db.pool().begin().await.unwrap();
    let event = events::record(&mut transaction, event).await.unwrap();
    transaction.commit().await.unwrap();
    event
}

/// Every event, read page by page from the start.
async fn read_all(db: &Database, page: u32, owner: Option<&str>) -> Vec<events::Event> {
    let (mut all, mut cursor) = (Vec::new(), 0);
    loop {
        let next = events::events_after(db.pool(), cursor, page, owner).await.unwrap();
        if next.events.is_empty() {
            assert_eq!(next.cursor, cursor, "an empty page keeps the cursor");
            return all;
        }
        cursor = next.cursor;
        all.extend(next.events);
    }
}

/// Exact retry times, and receivers on loopback allowed.
fn exact_schedule() -> DispatcherSettings {
    DispatcherSettings {
        schedule: RetrySchedule { jitter: 0.0, ..RetrySchedule::default() },
        allow_private_networks: true,
        ..Default::default()
    }
}

async fn endpoint(db: &Database, owner: &str, receiver: &Receiver, types: Option<&[&str]>) -> events::CreatedEndpoint {
    let new = NewEndpoint {
        url: receiver.url(),
        event_types: types.map(|types| types.iter().map(|t| t.to_string()).collect()),
        description: Some("test receiver".into()),
    };
    events::create_endpoint(db.pool(), owner, new, T0).await.unwrap()
}

/// A webhook receiver on a loopback port: keeps every request and answers with the scripted statuses, then 200.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    state: Arc<ReceiverState>,
}

struct ReceiverState {
    /// When set, the first request waits for the status to answer with.
    held: Mutex<Option<oneshot::Receiver<u16>>>,
    script: Mutex<VecDeque<u16>>,
    otherwise: u16,
    /// A `Retry-After` value sent with every answer that is not 2xx.
    retry_after: Mutex<Option<&'static str>>,
    requests: Mutex<Vec<(HeaderMap, Bytes)>>,
    count: watch::Sender<usize>,
}

impl Receiver {
    async fn start(script: &[u16], otherwise: u16) -> Self {
        Self::start_with(None, script, otherwise).await
    }

    /// A receiver whose first request is answered only when `held` gives it a status.
    async fn holding_first(held: oneshot::Receiver<u16>, otherwise: u16) -> Self {
        Self::start_with(Some(held), &[], otherwise).await
    }

    async fn start_with(held: Option<oneshot::Receiver<u16>>, script: &[u16], otherwise: u16) -> Self {
        let state = Arc::new(ReceiverState {
            held: Mutex::new(held),
            script: Mutex::new(script.iter().copied().collect()),
            otherwise,
            retry_after: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        });
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn requests(&self) -> Vec<(HeaderMap, Bytes)> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived (10 s at most).
    async fn wait_for(&self, n: usize) {
        let mut count = self.state.count.subscribe();
        tokio::time::timeout(Duration::from_secs(10), count.wait_for(|count| *count >= n))
            .await
            .unwrap_or_else(|_| panic!("{n} webhook requests did not arrive in 10 s"))
            .unwrap();
    }
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> (StatusCode, HeaderMap) {
    let held = state.held.lock().unwrap().take();
    if let Some(held) = held {
        state.requests.lock().unwrap().push((headers, body));
        state.count.send_modify(|count| *count += 1);
        return (StatusCode::from_u16(held.await.unwrap_or(500)).unwrap(), HeaderMap::new());
    }
    let status = state.script.lock().unwrap().pop_front().unwrap_or(state.otherwise);
    state.requests.lock().unwrap().push((headers, body));
    state.count.send_modify(|count| *count += 1);
    let mut answer = HeaderMap::new();
    if let Some(retry_after) = *state.retry_after.lock().unwrap() {
        if !(200..300).contains(&status) {
            answer.insert("retry-after", retry_after.parse().unwrap());
        }
    }
    (StatusCode::from_u16(status).unwrap(), answer)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
}

on_both_engines!(an_event_exists_only_if_its_transaction_commits, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let owner = user(&db, "creator").await;
    let insert_asset = "INSERT INTO assets (id, owner_id, status, playback_policy, preset, created_at, updated_at) \
                        VALUES ($1, $2, 'waiting_upload', 'signed', 'default', 0, 0)";

    // The state change and its event, rolled back together.
    let mut transaction = db.pool().begin().await.unwrap();
    sqlx::query(insert_asset).bind("asset-1").bind(&owner).execute(&mut *transaction).await.unwrap();
    events::record(&mut transaction, new_event(EventType::AssetCreated, &owner, T0)).await.unwrap();
    transaction.rollback().await.unwrap();
    assert!(read_all(&db, 10, None).await.is_empty(), "a rolled-back event is never seen");

    // A transaction dropped without committing (an error, a panic) is rolled back too.
    {
        let mut transaction = db.pool().begin().await.unwrap();
        events::record(&mut transaction, new_event(EventType::AssetCreated, &owner, T0)).await.unwrap();
    }
    assert!(read_all(&db, 10, None).await.is_empty());

    let mut transaction = db.pool().begin().await.unwrap();
    sqlx::query(insert_asset).bind("asset-2").bind(&owner).execute(&mut *transaction).await.unwrap();
    let recorded = events::record(&mut transaction, new_event(EventType::AssetCreated, &owner, T0)).await.unwrap();
    // Not visible to others before the commit.
    assert!(read_all(&db, 10, None).await.is_empty());
    transaction.commit().await.unwrap();
    let seen = read_all(&db, 10, None).await;
    assert_eq!(seen, vec![recorded.clone()]);
    assert_eq!(events::event(db.pool(), &recorded.id, Some(&owner)).await.unwrap(), Some(recorded.clone()));
    assert_eq!(events::event(db.pool(), &recorded.id, Some("someone-else")).await.unwrap(), None);
});

on_both_engines!(the_cursor_reads_every_event_once_in_order, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let (alice, bob) = (user(&db, "creator").await, user(&db, "creator").await);
    let mut recorded = Vec::new();
    for i in 0..25 {
        let owner = if i % 3 == 0 { &bob } else { &alice };
        recorded.push(record(&db, new_event(EventType::ALL[i % EventType::ALL.len()], owner, T0 + i as i64)).await);
        if i % 5 == 0 {
            // A rolled-back event leaves a gap in the sequence that readers step over.
            let mut transaction = db.pool().begin().await.unwrap();
            events::record(&mut transaction, new_event(EventType::AssetReady, &alice, T0)).await.unwrap();
            transaction.rollback().await.unwrap();
        }
    }
    for page in [1, 7, 1000] {
        assert_eq!(read_all(&db, page, None).await, recorded, "pages of {page}");
    }
    let alices: Vec<_> = recorded.iter().filter(|e| e.owner_id == alice).cloned().collect();
    assert_eq!(read_all(&db, 4, Some(&alice)).await, alices);
    assert!(recorded.windows(2).all(|pair| pair[0].seq < pair[1].seq));

    // Writers committing concurrently while a reader follows the cursor: the reader must not step past an
    // event that commits after one with a larger number.
    let writers: Vec<_> = (0..6)
        .map(|writer| {
            let (db, owner) = (db.clone(), alice.clone());
            tokio::spawn(async move {
                for i in 0..15 {
                    let mut transaction = db.pool().begin().await.unwrap();
                    events::record(&mut transaction, new_event(EventType::AssetProcessing, &owner, writer * 100 + i))
                        .await
                        .unwrap();
                    // More work in the transaction after the event, widening the window between number and commit.
                    sqlx::query("UPDATE users SET created_at = created_at WHERE id = $1")
                        .bind(&owner)
                        .execute(&mut *transaction)
                        .await
                        .unwrap();
                    tokio::task::yield_now().await;
                    transaction.commit().await.unwrap();
                }
            })
        })
        .collect();
    let mut followed = Vec::new();
    let mut cursor = recorded.last().unwrap().seq;
    loop {
        let done = writers.iter().all(|writer| writer.is_finished());
        let page = events::events_after(db.pool(), cursor, 5, None).await.unwrap();
        cursor = page.cursor;
        let empty = page.events.is_empty();
        followed.extend(page.events);
        if done && empty {
            break;
        }
        tokio::task::yield_now().await;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let everything = read_all(&db, 1000, None).await;
    assert_eq!(everything.len(), 25 + 6 * 15);
    assert_eq!(followed, everything[25..].to_vec(), "the follower saw every event, in order");
});

on_both_engines!(deliveries_are_signed_per_standard_webhooks, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let (alice, bob, admin) = (user(&db, "creator").await, user(&db, "creator").await, user(&db, "admin").await);
    let receiver = Receiver::start(&[], 200).await;
    let alices = endpoint(&db, &alice, &receiver, None).await;
    let bobs = endpoint(&db, &bob, &receiver, None).await;
    let admins = endpoint(&db, &admin, &receiver, Some(&["asset.ready"])).await;
    let alices_created_only = endpoint(&db, &alice, &receiver, Some(&["asset.created"])).await;

    let now = marquee_control_api::clock::now_ms();
    let event = record(&db, new_event(EventType::AssetReady, &alice, now)).await;
    let dispatcher = Dispatcher::new(db.clone(), exact_schedule()).unwrap();
    let report = dispatcher.run_once(now).await.unwrap();
    // Alice's endpoint for every type and the admin's for asset.ready; not Bob's, not Alice's asset.created one.
    assert_eq!(
        report,
        DispatchReport { events_dispatched: 1, deliveries_queued: 2, attempts: 2, delivered: 2, ..Default::default() }
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    for (headers, body) in &requests {
        assert_eq!(header(headers, "content-type"), "application/json");
        assert_eq!(header(headers, "webhook-id"), event.id);
        assert_eq!(header(headers, "webhook-timestamp"), (now / 1000).to_string());
        // Signed with exactly one of the two receiving endpoints' secrets.
        let verifies = |secret: &str| standardwebhooks::Webhook::new(secret).unwrap().verify(body, headers).is_ok();
        assert!(verifies(&alices.secret) != verifies(&admins.secret), "signed by one receiving endpoint");
        assert!(!verifies(&bobs.secret) && !verifies(&alices_created_only.secret));
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(json["type"], "asset.ready");
        assert_eq!(json["id"], event.id.as_str());
        assert_eq!(json["data"], event.data);
        // A changed body no longer verifies.
        let secret = if verifies(&alices.secret) { &alices.secret } else { &admins.secret };
        let mut tampered = body.to_vec();
        tampered.push(b' ');
        assert!(standardwebhooks::Webhook::new(secret).unwrap().verify(&tampered, headers).is_err());
    }
    for (endpoint, expected) in [(&alices, 1), (&admins, 1), (&bobs, 0), (&alices_created_only, 0)] {
        let deliveries = events::list_deliveries(db.pool(), &endpoint.endpoint.id, None, None, 50).await.unwrap();
        assert_eq!(deliveries.len(), expected);
        for delivery in deliveries {
            assert_eq!(
                (delivery.state, delivery.attempts, delivery.delivered_at),
                (DeliveryState::Delivered, 1, Some(now))
            );
            assert_eq!(delivery.last_status_code, Some(200));
        }
    }
    // The next step finds nothing to do.
    assert_eq!(dispatcher.run_once(now + 1).await.unwrap(), DispatchReport::default());
});

on_both_engines!(a_failing_receiver_is_retried_on_the_schedule, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let alice = user(&db, "creator").await;
    let receiver = Receiver::start(&[500, 500], 200).await;
    let created = endpoint(&db, &alice, &receiver, None).await;
    let event = record(&db, new_event(EventType::AssetErrored, &alice, T0)).await;
    let registry = prometheus::Registry::new();
    let dispatcher = Dispatcher::new(db.clone(), exact_schedule()).unwrap().with_metrics(&registry).unwrap();
    let schedule = RetrySchedule { jitter: 0.0, ..RetrySchedule::default() };
    let (second, third) = (T0 + schedule.delay_ms(1), T0 + schedule.delay_ms(1) + schedule.delay_ms(2));
    assert_eq!((second, third), (T0 + 5_000, T0 + 15_000));

    let report = dispatcher.run_once(T0).await.unwrap();
    assert_eq!((report.attempts, report.retrying), (1, 1));
    let delivery = &events::list_deliveries(db.pool(), &created.endpoint.id, None, None, 10).await.unwrap()[0];
    assert_eq!(
        (delivery.state, delivery.next_attempt_at, delivery.last_status_code),
        (DeliveryState::Pending, Some(second), Some(500))
    );
    // Not before it is due.
    assert_eq!(dispatcher.run_once(second - 1).await.unwrap().attempts, 0);
    assert_eq!(dispatcher.run_once(second).await.unwrap().retrying, 1);
    assert_eq!(dispatcher.run_once(third - 1).await.unwrap().attempts, 0);
    assert_eq!(dispatcher.run_once(third).await.unwrap().delivered, 1);
    assert_eq!(dispatcher.run_once(third + 24 * HOUR).await.unwrap(), DispatchReport::default());

    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    let stamps: Vec<&str> = requests.iter().map(|(headers, _)| header(headers, "webhook-timestamp")).collect();
    assert_eq!(stamps, [(T0 / 1000).to_string(), (second / 1000).to_string(), (third / 1000).to_string()]);
    assert!(requests.iter().all(|(headers, _)| header(headers, "webhook-id") == event.id), "one id on every attempt");

    let delivery = events::delivery(db.pool(), &delivery.id, Some(&alice)).await.unwrap();
    assert_eq!((delivery.state, delivery.attempts, delivery.delivered_at), (DeliveryState::Delivered, 3, Some(third)));
    let log = events::delivery_attempts(db.pool(), &delivery.id, Some(&alice)).await.unwrap();
    let log: Vec<_> = log.iter().map(|a| (a.attempt, a.attempted_at, a.status_code, a.error.clone())).collect();
    assert_eq!(log, [(1, T0, Some(500), None), (2, second, Some(500), None), (3, third, Some(200), None)]);
    let counted = |outcome: &str| {
        let families = registry.gather();
        let family = families.iter().find(|f| f.name() == "marquee_api_webhook_attempts_total").unwrap();
        let metric = family.get_metric().iter().find(|m| m.get_label()[0].value() == outcome).unwrap();
        metric.get_counter().get_value()
    };
    assert_eq!((counted("failed"), counted("delivered")), (2.0, 1.0));
});

on_both_engines!(a_delivery_is_given_up_after_24_hours, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let alice = user(&db, "creator").await;
    let receiver = Receiver::start(&[], 503).await;
    let created = endpoint(&db, &alice, &receiver, None).await;
    record(&db, new_event(EventType::AssetReady, &alice, T0)).await;
    let dispatcher = Dispatcher::new(db.clone(), exact_schedule()).unwrap();

    let mut now = T0;
    let mut attempted_at = Vec::new();
    let delivery = loop {
        let report = dispatcher.run_once(now).await.unwrap();
        assert_eq!(report.attempts, 1, "one attempt at {now}");
        attempted_at.push(now);
        let delivery =
            events::list_deliveries(db.pool(), &created.endpoint.id, None, None, 10).await.unwrap().remove(0);
        match delivery.next_attempt_at {
            Some(next) => now = next,
            None => break delivery,
        }
        assert!(attempted_at.len() < 100, "never gives up");
    };
    let expected = RetrySchedule { jitter: 0.0, ..RetrySchedule::default() }.attempt_times(T0);
    assert_eq!(attempted_at, expected);
    assert!(*attempted_at.last().unwrap() <= T0 + 24 * HOUR);
    assert_eq!(delivery.state, DeliveryState::GivenUp);
    assert_eq!(delivery.given_up_at, attempted_at.last().copied());
    assert_eq!(delivery.attempts, expected.len() as i64);
    assert_eq!(receiver.requests().len(), expected.len());
    // Every attempt is in the log.
    let log = events::delivery_attempts(db.pool(), &delivery.id, None).await.unwrap();
    assert_eq!(log.iter().map(|a| a.attempted_at).collect::<Vec<_>>(), expected);
    assert!(log.iter().all(|a| a.status_code == Some(503)));
    assert_eq!(dispatcher.run_once(T0 + 48 * HOUR).await.unwrap(), DispatchReport::default());
});

on_both_engines!(redeliver_queues_a_new_attempt, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let (alice, bob) = (user(&db, "creator").await, user(&db, "creator").await);
    let receiver = Receiver::start(&[500], 200).await;
    let created = endpoint(&db, &alice, &receiver, None).await;
    let event = record(&db, new_event(EventType::AssetReady, &alice, T0)).await;
    // A one-second window: the first retry (5 s later) would fall outside it, so one failure gives up.
    let settings = DispatcherSettings {
        schedule: RetrySchedule { jitter: 0.0, window_ms: 1_000, ..RetrySchedule::default() },
        allow_private_networks: true,
        ..Default::default()
    };
    let dispatcher = Dispatcher::new(db.clone(), settings).unwrap();
    assert_eq!(dispatcher.run_once(T0).await.unwrap().given_up, 1);
    let given_up = events::list_deliveries(db.pool(), &created.endpoint.id, None, None, 10).await.unwrap().remove(0);
    assert_eq!(given_up.state, DeliveryState::GivenUp);

    // Only the endpoint's owner (or an admin) may redeliver.
    assert!(matches!(
        events::redeliver(db.pool(), &given_up.id, Some(&bob), T0 + HOUR).await,
        Err(EventsError::NotFound(_))
    ));
    let again = events::redeliver(db.pool(), &given_up.id, Some(&alice), T0 + HOUR).await.unwrap();
    assert_ne!(again.id, given_up.id, "a finished delivery gets a new one");
    assert_eq!((again.state, again.next_attempt_at, again.attempts), (DeliveryState::Pending, Some(T0 + HOUR), 0));
    // Redelivering a pending delivery does not add another.
    let same = events::redeliver(db.pool(), &again.id, None, T0 + HOUR).await.unwrap();
    assert_eq!(same.id, again.id);
    assert_eq!(dispatcher.run_once(T0 + HOUR).await.unwrap().delivered, 1);

    // Redelivering the event reaches every endpoint that receives it, including one registered since.
    let later = Receiver::start(&[], 200).await;
    let later_endpoint = endpoint(&db, &alice, &later, None).await;
    assert!(matches!(
        events::redeliver_event(db.pool(), &event.id, Some(&bob), T0 + 2 * HOUR).await,
        Err(EventsError::NotFound(_))
    ));
    let queued = events::redeliver_event(db.pool(), &event.id, Some(&alice), T0 + 2 * HOUR).await.unwrap();
    let mut endpoints: Vec<_> = queued.iter().map(|d| d.endpoint_id.clone()).collect();
    endpoints.sort();
    assert_eq!(endpoints, [created.endpoint.id.clone(), later_endpoint.endpoint.id.clone()]);
    assert_eq!(dispatcher.run_once(T0 + 2 * HOUR).await.unwrap().delivered, 2);

    let all_ids: Vec<_> = receiver
        .requests()
        .iter()
        .chain(later.requests().iter())
        .map(|(h, _)| header(h, "webhook-id").to_string())
        .collect();
    assert_eq!(all_ids.len(), 4, "first try, redelivery, and the event redelivered to two endpoints");
    assert!(all_ids.iter().all(|id| *id == event.id));
    // The log of the first endpoint: three deliveries, newest first, with their attempts.
    let log = events::list_deliveries(db.pool(), &created.endpoint.id, Some(&alice), None, 10).await.unwrap();
    let states: Vec<_> = log.iter().map(|d| (d.state, d.attempts)).collect();
    assert_eq!(states, [(DeliveryState::Delivered, 1), (DeliveryState::Delivered, 1), (DeliveryState::GivenUp, 1)]);
    let older = events::list_deliveries(db.pool(), &created.endpoint.id, None, Some(&log[0].id), 10).await.unwrap();
    assert_eq!(older, log[1..].to_vec());
});

on_both_engines!(endpoints_are_the_owners, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let (alice, bob) = (user(&db, "creator").await, user(&db, "creator").await);
    let receiver = Receiver::start(&[], 200).await;
    let created = endpoint(&db, &alice, &receiver, Some(&["asset.ready", "asset.errored"])).await;
    assert!(created.secret.starts_with("whsec_"));
    assert_eq!(created.endpoint.event_types, Some(vec![EventType::AssetReady, EventType::AssetErrored]));
    let listed = events::list_endpoints(db.pool(), Some(&alice)).await.unwrap();
    assert_eq!(listed, vec![created.endpoint.clone()]);
    // The secret is shown once: no other answer carries it.
    assert!(!serde_json::to_string(&listed).unwrap().contains(&created.secret));
    assert!(serde_json::to_value(&created).unwrap()["secret"].is_string());
    assert!(events::list_endpoints(db.pool(), Some(&bob)).await.unwrap().is_empty());
    assert_eq!(events::list_endpoints(db.pool(), None).await.unwrap().len(), 1);
    assert!(matches!(
        events::endpoint(db.pool(), &created.endpoint.id, Some(&bob)).await,
        Err(EventsError::NotFound(_))
    ));

    for (url, types) in
        [("ftp://example.com/", None), ("https://example.com/", Some(vec!["asset.exploded".to_string()]))]
    {
        let new = NewEndpoint { url: url.into(), event_types: types, description: None };
        let error = events::create_endpoint(db.pool(), &alice, new, T0).await.unwrap_err();
        let api: marquee_control_api::ApiError = error.into();
        assert_eq!(api.status.as_u16(), 400, "{api}");
    }

    // Deleting removes the endpoint with its deliveries and their log; only its owner (or an admin) can.
    record(&db, new_event(EventType::AssetReady, &alice, T0)).await;
    Dispatcher::new(db.clone(), exact_schedule()).unwrap().run_once(T0).await.unwrap();
    assert_eq!(receiver.requests().len(), 1);
    assert!(matches!(
        events::delete_endpoint(db.pool(), &created.endpoint.id, Some(&bob)).await,
        Err(EventsError::NotFound(_))
    ));
    events::delete_endpoint(db.pool(), &created.endpoint.id, Some(&alice)).await.unwrap();
    assert!(events::list_endpoints(db.pool(), None).await.unwrap().is_empty());
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries").fetch_one(db.pool()).await.unwrap();
    let logged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_attempts").fetch_one(db.pool()).await.unwrap();
    assert_eq!((left, logged), (0, 0));
});

on_both_engines!(a_gone_endpoint_is_disabled, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let alice = user(&db, "creator").await;
    let receiver = Receiver::start(&[410], 200).await;
    let created = endpoint(&db, &alice, &receiver, None).await;
    record(&db, new_event(EventType::AssetReady, &alice, T0)).await;
    let dispatcher = Dispatcher::new(db.clone(), exact_schedule()).unwrap();
    assert_eq!(dispatcher.run_once(T0).await.unwrap().given_up, 1);
    let endpoint = events::endpoint(db.pool(), &created.endpoint.id, None).await.unwrap();
    assert_eq!(endpoint.disabled_at, Some(T0));
    // Later events are not sent to it.
    record(&db, new_event(EventType::AssetDeleted, &alice, T0 + 1)).await;
    let report = dispatcher.run_once(T0 + HOUR).await.unwrap();
    assert_eq!((report.events_dispatched, report.deliveries_queued, report.attempts), (1, 0, 0));
    assert_eq!(receiver.requests().len(), 1);
});

on_both_engines!(two_dispatchers_send_each_delivery_once, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let alice = user(&db, "creator").await;
    let receiver = Receiver::start(&[], 200).await;
    endpoint(&db, &alice, &receiver, None).await;
    for i in 0..40 {
        record(&db, new_event(EventType::AssetCreated, &alice, T0 + i)).await;
    }
    // Small batches, so both dispatchers have work at once.
    let settings = DispatcherSettings { batch_size: 7, concurrency: 5, ..exact_schedule() };
    let dispatchers =
        [Dispatcher::new(db.clone(), settings.clone()).unwrap(), Dispatcher::new(db.clone(), settings).unwrap()];
    let mut runs = Vec::new();
    for dispatcher in dispatchers {
        runs.push(tokio::spawn(async move {
            let mut total = DispatchReport::default();
            loop {
                let report = dispatcher.run_once(T0 + 100).await.unwrap();
                if report == DispatchReport::default() {
                    return total;
                }
                total.events_dispatched += report.events_dispatched;
                total.delivered += report.delivered;
            }
        }));
    }
    let mut dispatched = 0;
    for run in runs {
        let total = run.await.unwrap();
        dispatched += total.events_dispatched;
    }
    assert_eq!(dispatched, 40, "every event fanned out once");
    let mut ids: Vec<_> = receiver.requests().iter().map(|(h, _)| header(h, "webhook-id").to_string()).collect();
    assert_eq!(ids.len(), 40);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "no event sent twice");
});

on_both_engines!(the_background_dispatcher_delivers_until_stopped, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let alice = user(&db, "creator").await;
    let receiver = Receiver::start(&[], 200).await;
    let created = endpoint(&db, &alice, &receiver, None).await;
    let settings = DispatcherSettings {
        poll_interval: Duration::from_millis(50),
        allow_private_networks: true,
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = Dispatcher::new(db.clone(), settings).unwrap().spawn(async move {
        let _ = stopped.await;
    });
    let event = record(&db, new_event(EventType::AssetReady, &alice, marquee_control_api::clock::now_ms())).await;
    receiver.wait_for(1).await;
    let (headers, body) = receiver.requests().remove(0);
    assert_eq!(header(&headers, "webhook-id"), event.id);
    standardwebhooks::Webhook::new(&created.secret).unwrap().verify(&body, &headers).expect("the signature verifies");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("the dispatcher stops").unwrap();
});

on_both_engines!(private_addresses_are_refused_unless_allowed, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let alice = user(&db, "creator").await;
    let receiver = Receiver::start(&[], 200).await;
    let by_address = endpoint(&db, &alice, &receiver, None).await;
    let by_name = events::create_endpoint(
        db.pool(),
        &alice,
        NewEndpoint {
            url: format!("http://localhost:{}/hook", receiver.addr.port()),
            event_types: None,
            description: None,
        },
        T0,
    )
    .await
    .unwrap();
    record(&db, new_event(EventType::AssetReady, &alice, T0)).await;
    let settings = DispatcherSettings { allow_private_networks: false, ..exact_schedule() };
    let report = Dispatcher::new(db.clone(), settings).unwrap().run_once(T0).await.unwrap();
    assert_eq!((report.attempts, report.retrying), (2, 2));
    assert!(receiver.requests().is_empty(), "nothing reached the loopback receiver");
    for created in [by_address, by_name] {
        let delivery =
            events::list_deliveries(db.pool(), &created.endpoint.id, None, None, 10).await.unwrap().remove(0);
        let error = delivery.last_error.unwrap_or_default();
        assert!(error.contains("private networks are not allowed"), "{}: {error}", created.endpoint.url);
    }
    // The same deliveries go through once private networks are allowed.
    let report = Dispatcher::new(db.clone(), exact_schedule()).unwrap().run_once(T0 + HOUR).await.unwrap();
    assert_eq!(report.delivered, 2);
    assert_eq!(receiver.requests().len(), 2);
});

on_both_engines!(an_attempt_that_outlives_its_lease_cannot_overwrite_the_next, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let alice = user(&db, "creator").await;
    let (release, held) = oneshot::channel();
    let receiver = Receiver::holding_first(held, 200).await;
    let created = endpoint(&db, &alice, &receiver, None).await;
    record(&db, new_event(EventType::AssetReady, &alice, T0)).await;

    // Instance A claims the delivery and its request hangs (as if A were stuck or cut off).
    let a = Dispatcher::new(db.clone(), exact_schedule()).unwrap();
    let a_step = tokio::spawn(async move { a.run_once(T0).await.unwrap() });
    receiver.wait_for(1).await;
    // Instance B leaves it alone while A's lease lasts, and takes it over once the lease is over.
    let b = Dispatcher::new(db.clone(), exact_schedule()).unwrap();
    let lease = i64::try_from(DispatcherSettings::default().lease.as_millis()).unwrap();
    assert_eq!(b.run_once(T0 + lease - 1).await.unwrap().attempts, 0);
    assert_eq!(b.run_once(T0 + lease).await.unwrap().delivered, 1);
    // A's late failure is logged but does not undo B's delivery.
    release.send(500).unwrap();
    let a_report = a_step.await.unwrap();
    assert_eq!((a_report.attempts, a_report.superseded, a_report.retrying), (1, 1, 0));

    let delivery = events::list_deliveries(db.pool(), &created.endpoint.id, None, None, 10).await.unwrap().remove(0);
    assert_eq!(
        (delivery.state, delivery.delivered_at, delivery.last_status_code),
        (DeliveryState::Delivered, Some(T0 + lease), Some(200))
    );
    let log = events::delivery_attempts(db.pool(), &delivery.id, None).await.unwrap();
    let log: Vec<_> = log.iter().map(|a| (a.attempted_at, a.status_code)).collect();
    assert_eq!(log, [(T0, Some(500)), (T0 + lease, Some(200))]);
    assert_eq!(receiver.requests().len(), 2);
});

on_both_engines!(a_receiver_can_ask_for_a_longer_wait, |engine: Engine| async move {
    let (_database, db) = open(engine).await;
    let alice = user(&db, "creator").await;
    let receiver = Receiver::start(&[503], 200).await;
    *receiver.state.retry_after.lock().unwrap() = Some("60");
    let created = endpoint(&db, &alice, &receiver, None).await;
    record(&db, new_event(EventType::AssetReady, &alice, T0)).await;
    let dispatcher = Dispatcher::new(db.clone(), exact_schedule()).unwrap();
    assert_eq!(dispatcher.run_once(T0).await.unwrap().retrying, 1);
    let delivery = events::list_deliveries(db.pool(), &created.endpoint.id, None, None, 10).await.unwrap().remove(0);
    // 60 s as asked, not the schedule's 5 s.
    assert_eq!(delivery.next_attempt_at, Some(T0 + 60_000));
    assert_eq!(dispatcher.run_once(T0 + 59_999).await.unwrap().attempts, 0);
    assert_eq!(dispatcher.run_once(T0 + 60_000).await.unwrap().delivered, 1);
});
