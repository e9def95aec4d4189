//! Events and webhooks over HTTP, on SQLite and on PostgreSQL, with the dispatcher running beside the API as
//! in `marquee api`: a creator registers an endpoint on a loopback receiver and gets its events there, signed
//! (checked with the `standardwebhooks` crate's verifier); `GET /v1/events` pages in order; other creators see
//! neither the endpoint nor the events; viewers get 403; the delivery log shows each attempt; redelivery sends
//! again; bad input gets a 400 that names it.

mod common;

use marquee_control_api::on_both_engines;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use common::{call, send, Engine, TestApi, TestDatabase};
use marquee_control_api::auth::Role;
use marquee_control_api::events::{self, EventType, NewEvent};
use marquee_control_api::Database;
use serde_json::{json, Value};
use tokio::sync::watch;

/// How long a test waits for something the dispatcher does in the background.
const PATIENCE: Duration = Duration::from_secs(15);

/// A webhook receiver on a loopback port: answers 200 and keeps every request.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    count: Arc<watch::Sender<usize>>,
}

impl Receiver {
    async fn start() -> Self {
        let receiver = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            requests: Arc::default(),
            count: Arc::new(watch::channel(0).0),
        };
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, ..receiver }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn requests(&self) -> Vec<(HeaderMap, Bytes)> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived.
    async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        let mut count = self.count.subscribe();
        tokio::time::timeout(PATIENCE, count.wait_for(|count| *count >= n))
            .await
            .unwrap_or_else(|_| panic!("{n} webhook requests did not arrive in {PATIENCE:?}"))
            .unwrap();
        self.requests()
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> &'static str {
    receiver.requests.lock().unwrap().push((headers, body));
    receiver.count.send_modify(|count| *count += 1);
    "thanks"
}

/// The API with its dispatcher, which may send to loopback receivers and looks for work every 20 ms.
async fn api_with_dispatcher(engine: Engine) -> TestApi {
    TestApi::start_with_dispatcher(TestDatabase::new(engine), |settings| {
        settings.webhook_allow_private_networks = true;
        settings.webhook_poll_interval = Duration::from_millis(20);
    })
    .await
}

/// Records an event about an asset of `owner`'s, as asset changes do: in a transaction of its own.
async fn record(db: &Database, kind: EventType, owner: &str) -> events::Event {
    let asset = uuid::Uuid::now_v7().to_string();
    let event = NewEvent {
        kind,
        owner_id: owner.into(),
        asset_id: Some(asset.clone()),
        data: json!({"id": asset, "status": "ready"}),
        at: marquee_control_api::clock::now_ms(),
    };
    let mut transaction = db.pool().begin().await.unwrap();
    let event = events::record(&mut transaction, event).await.unwrap();
    transaction.commit().await.unwrap();
    event
}

/// Makes a user with `role` and signs in: (user id, access token).
async fn account(api: &TestApi, email: &str, role: Role) -> (String, String) {
    let id = api.user(email, "a good long password", role).await;
    let token = api.login(email, "a good long password").await["access_token"].as_str().unwrap().to_owned();
    (id, token)
}

/// Asks `check` until it gives a value (every 20 ms, for up to [`PATIENCE`]): for what the dispatcher writes
/// after the receiver has answered.
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The endpoint's deliveries once every one of them is delivered.
async fn all_delivered(api: &TestApi, token: &str, endpoint: &str, expected: usize) -> Vec<Value> {
    let url = api.url(&format!("/v1/webhooks/{endpoint}/deliveries"));
    eventually("the deliveries are delivered", || async {
        let page = call("GET", &url, token, None).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let items = page.json()["items"].as_array().unwrap().clone();
        (items.len() == expected && items.iter().all(|d| d["state"] == "delivered")).then_some(items)
    })
    .await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
}

/// Checks that `body` is `event`'s webhook, signed with `secret`.
fn assert_signed(headers: &HeaderMap, body: &Bytes, secret: &str, event: &events::Event) {
    let webhook = standardwebhooks::Webhook::new(secret).unwrap();
    webhook.verify(body, headers).expect("the signature verifies with the secret from the create answer");
    assert_eq!(header(headers, "webhook-id"), event.id);
    let json: Value = serde_json::from_slice(body).unwrap();
    assert_eq!((json["id"].as_str(), json["type"].as_str()), (Some(event.id.as_str()), Some(event.kind.as_str())));
    assert_eq!(json["data"], event.data);
    let mut tampered = body.to_vec();
    tampered.extend_from_slice(b" ");
    assert!(webhook.verify(&tampered, headers).is_err(), "a changed body does not verify");
}

on_both_engines!(a_creators_endpoint_gets_their_events_signed_and_logged, |engine: Engine| async move {
    let api = api_with_dispatcher(engine).await;
    let (cora, token) = account(&api, "cora@example.com", Role::Creator).await;
    let receiver = Receiver::start().await;

    let created = call(
        "POST",
        &api.url("/v1/webhooks"),
        &token,
        Some(&json!({"url": receiver.url(), "event_types": ["asset.ready"], "description": "our CMS"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    let endpoint = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["owner_id"], cora.as_str());
    assert_eq!(created["event_types"], json!(["asset.ready"]));
    assert_eq!(created["description"], "our CMS");

    // The secret is shown once: neither the list nor the endpoint carries it.
    let listed = call("GET", &api.url("/v1/webhooks"), &token, None).await;
    assert_eq!(listed.status, 200);
    assert!(!listed.text().contains(&secret));
    assert_eq!(listed.json()["items"].as_array().unwrap().len(), 1);
    let one = call("GET", &api.url(&format!("/v1/webhooks/{endpoint}")), &token, None).await;
    assert_eq!((one.status, one.json()["url"].as_str()), (200, Some(receiver.url().as_str())));
    assert!(!one.text().contains(&secret));

    // An event of a type the endpoint did not ask for is not sent; asset.ready is, signed.
    record(&api.db, EventType::AssetCreated, &cora).await;
    let ready = record(&api.db, EventType::AssetReady, &cora).await;
    let requests = receiver.wait_for(1).await;
    assert_signed(&requests[0].0, &requests[0].1, &secret, &ready);

    // The delivery log shows the delivery and its attempt.
    let deliveries = all_delivered(&api, &token, &endpoint, 1).await;
    assert_eq!(receiver.requests().len(), 1, "asset.created was not sent");
    let first = &deliveries[0];
    assert_eq!(
        (first["event_id"].as_str(), first["event_type"].as_str()),
        (Some(ready.id.as_str()), Some("asset.ready"))
    );
    assert_eq!((first["attempts"].as_i64(), first["last_status_code"].as_i64()), (Some(1), Some(200)));
    let delivery = first["id"].as_str().unwrap().to_owned();
    let detail = call("GET", &api.url(&format!("/v1/webhooks/{endpoint}/deliveries/{delivery}")), &token, None).await;
    assert_eq!(detail.status, 200, "{}", detail.text());
    let detail = detail.json();
    assert_eq!(detail["delivery"]["id"], delivery.as_str());
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{detail}");
    assert_eq!((attempts[0]["attempt"].as_i64(), attempts[0]["status_code"].as_i64()), (Some(1), Some(200)));
    assert!(attempts[0]["error"].is_null());

    // Redelivering the delivery sends the event again, with the same webhook-id and a valid signature.
    let again =
        call("POST", &api.url(&format!("/v1/webhooks/{endpoint}/deliveries/{delivery}/redeliver")), &token, None).await;
    assert_eq!(again.status, 202, "{}", again.text());
    assert_ne!(again.json()["id"], delivery.as_str(), "a delivered delivery gets a new one");
    let requests = receiver.wait_for(2).await;
    assert_signed(&requests[1].0, &requests[1].1, &secret, &ready);

    // Redelivering the event sends it to every endpoint of Cora's that receives it.
    let queued = call("POST", &api.url(&format!("/v1/events/{}/redeliver", ready.id)), &token, None).await;
    assert_eq!(queued.status, 202, "{}", queued.text());
    let queued = queued.json();
    assert_eq!(queued["items"].as_array().unwrap().len(), 1, "{queued}");
    assert_eq!(queued["items"][0]["endpoint_id"], endpoint.as_str());
    let requests = receiver.wait_for(3).await;
    assert_signed(&requests[2].0, &requests[2].1, &secret, &ready);
    assert_eq!(requests.len(), 3);

    // The log pages newest first.
    let log = all_delivered(&api, &token, &endpoint, 3).await;
    let ids: Vec<&str> = log.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids[2], delivery, "the first delivery is the oldest");
    let page = call("GET", &api.url(&format!("/v1/webhooks/{endpoint}/deliveries?limit=2")), &token, None).await.json();
    let page_ids: Vec<&str> = page["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(page_ids, ids[..2]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest =
        call("GET", &api.url(&format!("/v1/webhooks/{endpoint}/deliveries?limit=2&after={cursor}")), &token, None)
            .await
            .json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["items"][0]["id"], delivery.as_str());
    assert!(rest.get("next_cursor").is_none(), "{rest}");

    // The dispatcher's metrics are the API's.
    let metrics = send("GET", &api.url("/metrics"), &[], Vec::new()).await.text();
    assert!(metrics.contains("marquee_api_webhook_attempts_total{outcome=\"delivered\"} 3"), "{metrics}");

    // Deleted, the endpoint is gone with its log, and later events are not sent.
    assert_eq!(call("DELETE", &api.url(&format!("/v1/webhooks/{endpoint}")), &token, None).await.status, 204);
    assert_eq!(call("GET", &api.url(&format!("/v1/webhooks/{endpoint}")), &token, None).await.status, 404);
    let deliveries = call("GET", &api.url(&format!("/v1/webhooks/{endpoint}/deliveries")), &token, None).await;
    assert_eq!(deliveries.status, 404);
    api.stop().await;
});

on_both_engines!(events_page_in_order_and_stay_with_their_owner, |engine: Engine| async move {
    let api = api_with_dispatcher(engine).await;
    let (cora, cora_token) = account(&api, "cora@example.com", Role::Creator).await;
    let (olga, olga_token) = account(&api, "olga@example.com", Role::Creator).await;
    let (_, admin_token) = account(&api, "root@example.com", Role::Admin).await;
    let (_, viewer_token) = account(&api, "vic@example.com", Role::Viewer).await;
    let (coras_receiver, olgas_receiver) = (Receiver::start().await, Receiver::start().await);
    let register = |token: &str, url: String| {
        let (endpoint, token) = (api.url("/v1/webhooks"), token.to_owned());
        async move {
            let answer = call("POST", &endpoint, &token, Some(&json!({"url": url}))).await;
            assert_eq!(answer.status, 201, "{}", answer.text());
            answer.json()["id"].as_str().unwrap().to_owned()
        }
    };
    let coras_endpoint = register(&cora_token, coras_receiver.url()).await;
    let olgas_endpoint = register(&olga_token, olgas_receiver.url()).await;

    let mut coras = Vec::new();
    let mut everyone = Vec::new();
    for (i, kind) in EventType::ALL.into_iter().enumerate() {
        let event = record(&api.db, kind, &cora).await;
        coras.push(event.id.clone());
        everyone.push(event.id);
        if i % 3 == 0 {
            everyone.push(record(&api.db, EventType::AssetCreated, &olga).await.id);
        }
    }

    // Cora pages through her own events, in order, two at a time; an empty page keeps the cursor.
    let read = |token: &str, limit: u32| {
        let (url, token) = (api.url("/v1/events"), token.to_owned());
        async move {
            let (mut ids, mut cursor, mut pages) = (Vec::new(), 0, 0);
            loop {
                let page = call("GET", &format!("{url}?after={cursor}&limit={limit}"), &token, None).await;
                assert_eq!(page.status, 200, "{}", page.text());
                let page = page.json();
                let events = page["events"].as_array().unwrap();
                if events.is_empty() {
                    assert_eq!(page["cursor"], cursor);
                    return (ids, pages);
                }
                assert!(events.len() <= limit as usize);
                let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
                assert!(seqs[0] > cursor && seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
                assert_eq!(page["cursor"].as_i64(), seqs.last().copied());
                cursor = page["cursor"].as_i64().unwrap();
                ids.extend(events.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
                pages += 1;
            }
        }
    };
    assert_eq!(read(&cora_token, 2).await, (coras.clone(), 3));
    // Olga sees only hers; an admin sees everyone's.
    let (olgas, _) = read(&olga_token, 100).await;
    assert_eq!(olgas, everyone.iter().filter(|id| !coras.contains(id)).cloned().collect::<Vec<_>>());
    assert_eq!(olgas.len(), 2);
    assert_eq!(read(&admin_token, 3).await.0, everyone);
    let first = call("GET", &api.url("/v1/events"), &cora_token, None).await.json();
    assert_eq!(first["events"][0]["type"], "asset.created");
    assert_eq!(first["events"][0]["owner_id"], cora.as_str());

    // Viewers may not read events or manage webhooks; nobody may without signing in.
    for (method, path) in [("GET", "/v1/events"), ("GET", "/v1/webhooks"), ("POST", "/v1/webhooks")] {
        let body = (method == "POST").then(|| json!({"url": "https://hooks.example.com/"}));
        let refused = call(method, &api.url(path), &viewer_token, body.as_ref()).await;
        assert_eq!((refused.status, refused.json()["error"]["code"].as_str()), (403, Some("forbidden")), "{path}");
    }
    let anonymous = send("GET", &api.url("/v1/events"), &[], Vec::new()).await;
    assert_eq!((anonymous.status, anonymous.json()["error"]["code"].as_str()), (401, Some("unauthorized")));

    // Each receiver gets only its owner's events.
    let delivered = all_delivered(&api, &cora_token, &coras_endpoint, coras.len()).await;
    assert_eq!(coras_receiver.requests().len(), coras.len());
    all_delivered(&api, &olga_token, &olgas_endpoint, olgas.len()).await;
    let sent_to_olga: Vec<String> =
        olgas_receiver.requests().iter().map(|(h, _)| header(h, "webhook-id").to_owned()).collect();
    assert_eq!(sent_to_olga.len(), olgas.len());
    assert!(sent_to_olga.iter().all(|id| olgas.contains(id)), "{sent_to_olga:?}");

    // Olga cannot see or touch Cora's endpoint, deliveries or events: 404, as if they did not exist.
    let coras_delivery = delivered[0]["id"].as_str().unwrap();
    let not_hers = [
        ("GET", format!("/v1/webhooks/{coras_endpoint}")),
        ("GET", format!("/v1/webhooks/{coras_endpoint}/deliveries")),
        ("GET", format!("/v1/webhooks/{coras_endpoint}/deliveries/{coras_delivery}")),
        ("POST", format!("/v1/webhooks/{coras_endpoint}/deliveries/{coras_delivery}/redeliver")),
        // Cora's delivery under Olga's own endpoint is not found either.
        ("GET", format!("/v1/webhooks/{olgas_endpoint}/deliveries/{coras_delivery}")),
        ("POST", format!("/v1/webhooks/{olgas_endpoint}/deliveries/{coras_delivery}/redeliver")),
        ("POST", format!("/v1/events/{}/redeliver", coras[0])),
        ("DELETE", format!("/v1/webhooks/{coras_endpoint}")),
    ];
    for (method, path) in &not_hers {
        let answer = call(method, &api.url(path), &olga_token, None).await;
        assert_eq!((answer.status, answer.json()["error"]["code"].as_str()), (404, Some("not_found")), "{path}");
    }
    let olgas_list = call("GET", &api.url("/v1/webhooks"), &olga_token, None).await.json();
    assert_eq!(olgas_list["items"].as_array().unwrap().len(), 1);
    assert_eq!(olgas_list["items"][0]["id"], olgas_endpoint.as_str());
    let coras_log =
        call("GET", &api.url(&format!("/v1/webhooks/{coras_endpoint}/deliveries")), &cora_token, None).await;
    assert_eq!(coras_log.json()["items"].as_array().unwrap().len(), coras.len(), "Olga's redeliveries queued nothing");

    // An admin sees and manages everyone's.
    let all = call("GET", &api.url("/v1/webhooks"), &admin_token, None).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let seen = call(
        "GET",
        &api.url(&format!("/v1/webhooks/{coras_endpoint}/deliveries/{coras_delivery}")),
        &admin_token,
        None,
    )
    .await;
    assert_eq!(seen.status, 200);
    assert_eq!(
        call("DELETE", &api.url(&format!("/v1/webhooks/{olgas_endpoint}")), &admin_token, None).await.status,
        204
    );
    assert!(call("GET", &api.url("/v1/webhooks"), &olga_token, None).await.json()["items"]
        .as_array()
        .unwrap()
        .is_empty());
    api.stop().await;
});

on_both_engines!(loopback_receivers_need_the_setting, |engine: Engine| async move {
    // The default: webhooks may not reach the API's own machine or network.
    let api = TestApi::start_with_dispatcher(TestDatabase::new(engine), |settings| {
        settings.webhook_poll_interval = Duration::from_millis(20);
    })
    .await;
    let (cora, token) = account(&api, "cora@example.com", Role::Creator).await;
    let receiver = Receiver::start().await;
    let created = call("POST", &api.url("/v1/webhooks"), &token, Some(&json!({"url": receiver.url()}))).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let endpoint = created.json()["id"].as_str().unwrap().to_owned();
    record(&api.db, EventType::AssetReady, &cora).await;
    let url = api.url(&format!("/v1/webhooks/{endpoint}/deliveries"));
    let delivery = eventually("the first attempt is logged", || async {
        let items = call("GET", &url, &token, None).await.json()["items"].as_array().unwrap().clone();
        items.into_iter().find(|d| d["attempts"].as_i64() == Some(1))
    })
    .await;
    assert_eq!(delivery["state"], "pending", "it will be retried: {delivery}");
    assert!(delivery["last_status_code"].is_null());
    let error = delivery["last_error"].as_str().unwrap();
    assert!(error.contains("private networks are not allowed"), "{error}");
    assert!(receiver.requests().is_empty());
    api.stop().await;
});

on_both_engines!(bad_input_is_refused_naming_it, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let (_, token) = account(&api, "cora@example.com", Role::Creator).await;
    let webhooks = api.url("/v1/webhooks");
    let cases = [
        (json!({"url": "https://hooks.example.com/", "colour": "red"}), "invalid_body", "unknown field `colour`"),
        (json!({"url": 42}), "invalid_body", "invalid type"),
        (json!({"event_types": ["asset.ready"]}), "invalid_body", "missing field `url`"),
        (json!({"url": "ftp://hooks.example.com/"}), "invalid_webhook_url", "only http and https"),
        (json!({"url": "hooks.example.com/marquee"}), "invalid_webhook_url", "not an absolute URL"),
        (json!({"url": "https://user:pw@hooks.example.com/"}), "invalid_webhook_url", "credentials"),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["asset.ready", "asset.exploded"]}),
            "invalid_event_types",
            "\"asset.exploded\"",
        ),
        (json!({"url": "https://hooks.example.com/", "event_types": []}), "invalid_event_types", "empty"),
        (json!({"url": "https://hooks.example.com/'; DROP TABLE webhook_endpoints; --"}), "", ""),
    ];
    for (body, code, words) in cases {
        let answer = call("POST", &webhooks, &token, Some(&body)).await;
        if code.is_empty() {
            // SQL-looking text is only text: a valid URL, kept as given.
            assert_eq!(answer.status, 201, "{}", answer.text());
            continue;
        }
        let json = answer.json();
        assert_eq!((answer.status, json["error"]["code"].as_str()), (400, Some(code)), "{body}: {json}");
        assert!(json["error"]["message"].as_str().unwrap().contains(words), "{body}: {json}");
        assert!(json["error"]["request_id"].is_string());
    }
    let listed = call("GET", &webhooks, &token, None).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "only the valid one was made");

    let auth = format!("Bearer {token}");
    let untyped =
        send("POST", &webhooks, &[("authorization", &auth)], br#"{"url": "https://x.example/"}"#.to_vec()).await;
    assert_eq!((untyped.status, untyped.json()["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
    let json_header = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let broken = send("POST", &webhooks, &json_header, b"{\"url\": ".to_vec()).await;
    assert_eq!((broken.status, broken.json()["error"]["code"].as_str()), (400, Some("invalid_json")));

    for (query, words) in [
        ("after=yesterday", "after"),
        ("limit=0", "between 1 and 1000"),
        ("limit=1001", "between 1 and 1000"),
        ("limit=-5", "limit"),
        ("after=-1", "after"),
        ("colour=red", "unknown field `colour`"),
    ] {
        let answer = call("GET", &api.url(&format!("/v1/events?{query}")), &token, None).await;
        let json = answer.json();
        assert_eq!((answer.status, json["error"]["code"].as_str()), (400, Some("invalid_query")), "{query}: {json}");
        assert!(json["error"]["message"].as_str().unwrap().contains(words), "{query}: {json}");
    }
    let endpoint = listed["items"][0]["id"].as_str().unwrap();
    let answer = call("GET", &api.url(&format!("/v1/webhooks/{endpoint}/deliveries?limit=501")), &token, None).await;
    assert_eq!((answer.status, answer.json()["error"]["code"].as_str()), (400, Some("invalid_query")));
    for path in ["/v1/webhooks/no-such-endpoint", "/v1/webhooks/no-such-endpoint/deliveries"] {
        let answer = call("GET", &api.url(path), &token, None).await;
        assert_eq!((answer.status, answer.json()["error"]["code"].as_str()), (404, Some("not_found")), "{path}");
    }
    let answer = call("POST", &api.url("/v1/events/no-such-event/redeliver"), &token, None).await;
    assert_eq!((answer.status, answer.json()["error"]["message"].as_str()), (404, Some("no such event")));
    api.stop().await;
});

on_both_engines!(the_openapi_document_has_the_webhook_endpoints, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let doc = send("GET", &api.url("/openapi.json"), &[], Vec::new()).await.json();
    for (path, method) in [
        ("/v1/events", "get"),
        ("/v1/events/{id}/redeliver", "post"),
        ("/v1/webhooks", "post"),
        ("/v1/webhooks", "get"),
        ("/v1/webhooks/{id}", "get"),
        ("/v1/webhooks/{id}", "delete"),
        ("/v1/webhooks/{id}/deliveries", "get"),
        ("/v1/webhooks/{id}/deliveries/{delivery}", "get"),
        ("/v1/webhooks/{id}/deliveries/{delivery}/redeliver", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is not in the document");
    }
    for schema in ["EventPage", "CreatedEndpoint", "EndpointList", "DeliveryPage", "DeliveryDetail", "DeliveryList"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema} is not in the document");
    }
    api.stop().await;
});
