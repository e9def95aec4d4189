//! `GET /v1/search` through the API on SQLite and on PostgreSQL: ranking, typos, prefixes, accents,
//! visibility, index updates, pagination and the refusals of bad input.

use marquee_catalog::index::{CatalogIndex, EntryKind, IndexEntry};
use marquee_control_api::auth::Role;
use marquee_control_api::db::begin_write;
use marquee_control_api::on_both_engines;
use marquee_control_api::testing::*;
use marquee_control_api::Satellites;
use marquee_search::{Search, SearchIndex};
use serde_json::json;

fn title(id: &str, name: &str, text: &str, popularity: f64) -> IndexEntry {
    IndexEntry {
        id: id.into(),
        kind: EntryKind::Title,
        name: name.into(),
        other_names: Vec::new(),
        text: text.into(),
        related: Vec::new(),
        genres: vec!["Drama".into()],
        title_kind: Some("movie".into()),
        release_year: Some(2010),
        popularity,
        visible_from: None,
        visible_until: None,
    }
}

async fn start(engine: Engine) -> TestApi {
    TestApi::start_with_satellites(engine, Satellites::new().with(Search::new())).await
}

/// Writes `entries` as the catalog does: through the index, in a write transaction.
async fn index(api: &TestApi, entries: &[IndexEntry]) {
    let mut tx = begin_write(api.db.pool()).await.unwrap();
    for entry in entries {
        SearchIndex::new().upsert(&mut tx, entry).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn remove(api: &TestApi, id: &str) {
    let mut tx = begin_write(api.db.pool()).await.unwrap();
    SearchIndex::new().remove(&mut tx, id).await.unwrap();
    tx.commit().await.unwrap();
}

/// Every byte but the unreserved ones percent-encoded.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn search(api: &TestApi, q: &str, rest: &str) -> Answer {
    get(&api.url(&format!("/v1/search?q={}{rest}", encode(q)))).await
}

/// The ids of a successful answer, in order.
async fn ids(api: &TestApi, q: &str) -> Vec<String> {
    let answer = search(api, q, "").await;
    assert_eq!(answer.status, 200, "{q}: {}", answer.text());
    answer.json()["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

fn refused(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text());
    assert_eq!(answer.json()["error"]["code"], code, "{}", answer.text());
    assert!(answer.json()["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

on_both_engines!(search_ranks_and_forgives_typos_prefixes_and_accents, |engine: Engine| async move {
    let api = start(engine).await;
    let now = marquee_control_api::clock::now_ms();
    let hour = 3_600_000;
    let mut nolan = title("p-nolan", "Christopher Nolan", "A director.", 1.0);
    nolan.kind = EntryKind::Person;
    nolan.related = vec!["Inception".into()];
    nolan.title_kind = None;
    nolan.release_year = None;
    nolan.genres = Vec::new();
    let mut expired = title("t-expired", "Inception Returns", "", 1e6);
    expired.visible_until = Some(now - hour);
    let mut upcoming = title("t-upcoming", "Inception Forever", "", 1e6);
    upcoming.visible_from = Some(now + 24 * hour);
    let mut showing = title("t-showing", "Inception Again", "", 0.5);
    (showing.visible_from, showing.visible_until) = (Some(now - hour), Some(now + hour));
    index(
        &api,
        &[
            title("t-inception", "Inception", "A thief who steals secrets through dreams.", 10.0),
            title("t-heist", "Heist Night", "Like inception, with a heist.", 1000.0),
            nolan,
            title("t-amelie", "Amélie", "A waitress in Montmartre.", 3.0),
            title("t-leon", "Léon", "A hitman and a girl.", 3.0),
            title("t-lights", "Harbour Lights", "", 5.0),
            title("t-nights", "Harbour Nights", "", 50.0),
            expired,
            upcoming,
            showing,
        ],
    )
    .await;

    // The title itself, then one that has the word in another name, then the cast, then synopses.
    assert_eq!(ids(&api, "inception").await, ["t-inception", "t-showing", "p-nolan", "t-heist"]);
    assert_eq!(ids(&api, "Incpetion").await[0], "t-inception", "one typo");
    assert_eq!(ids(&api, "incep").await[0], "t-inception", "a prefix");
    assert_eq!(ids(&api, "amelie").await, ["t-amelie"], "accents do not matter");
    assert_eq!(ids(&api, "LÉON").await, ["t-leon"]);
    assert_eq!(ids(&api, "harbour").await, ["t-nights", "t-lights"], "popularity breaks the tie");
    assert_eq!(ids(&api, "harbuor lihgts").await, ["t-lights", "t-nights"], "typos in two words");
    assert_eq!(ids(&api, "zzzzzz").await, Vec::<String>::new());

    let answer = search(&api, "inception", "&limit=3").await.json();
    assert_eq!(
        answer["items"][0],
        json!({"kind": "title", "id": "t-inception", "title": "Inception", "title_kind": "movie",
            "release_year": 2010, "genres": ["Drama"]})
    );
    assert_eq!(answer["items"][2], json!({"kind": "person", "id": "p-nolan", "name": "Christopher Nolan"}));

    // The catalog's changes show at once: a removal, a renamed title.
    remove(&api, "t-heist").await;
    assert_eq!(ids(&api, "inception").await, ["t-inception", "t-showing", "p-nolan"]);
    assert_eq!(ids(&api, "heist").await, Vec::<String>::new(), "its words left with it");
    index(&api, &[title("t-leon", "Léon: The Professional", "A hitman and a girl.", 3.0)]).await;
    assert_eq!(ids(&api, "professional").await, ["t-leon"]);
    let left: Vec<String> = sqlx::query_scalar("SELECT term FROM search_terms WHERE term = 'heist'")
        .fetch_all(api.db.pool())
        .await
        .unwrap();
    assert!(left.is_empty(), "a word no entry has leaves the vocabulary");

    // Signed-in callers search too; wrong credentials are refused rather than ignored.
    let token = api.signed_in("vic@example.com", Role::Viewer).await;
    let url = api.url("/v1/search?q=amelie");
    assert_eq!(call("GET", &url, &token, None).await.json()["items"][0]["id"], "t-amelie");
    refused(&call("GET", &url, "not-a-token", None).await, 401, "unauthorized");
});

on_both_engines!(search_pages_and_refuses_bad_input, |engine: Engine| async move {
    let api = start(engine).await;
    let entries: Vec<IndexEntry> =
        (0..45).map(|n| title(&format!("t{n:02}"), &format!("Harbour Story {n}"), "", f64::from(n % 7))).collect();
    index(&api, &entries).await;

    let all = search(&api, "harbour story", "&limit=50").await.json();
    let all: Vec<&str> = all["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(all.len(), 45);
    let mut paged = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let answer = search(&api, "harbour story", &format!("&limit=10{after}")).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let page = answer.json();
        paged.extend(page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => after = format!("&after={cursor}"),
            None => break,
        }
    }
    assert_eq!((pages, paged), (5, all.iter().map(|s| s.to_string()).collect::<Vec<_>>()));

    let first = search(&api, "harbour story", "&limit=10").await.json();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // The same words, differently typed, are the same query.
    assert_eq!(search(&api, "HARBOUR, story!", &format!("&limit=10&after={cursor}")).await.status, 200);
    let mut altered = cursor.clone().into_bytes();
    altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    refused(&search(&api, "harbour story", &format!("&after={altered}")).await, 400, "invalid_cursor");
    refused(&search(&api, "harbour", &format!("&after={cursor}")).await, 400, "invalid_cursor");
    refused(&search(&api, "harbour story", "&after=%21%21%21").await, 400, "invalid_cursor");
    refused(&search(&api, "harbour story", &format!("&after={}", "A".repeat(5000))).await, 400, "invalid_cursor");

    refused(&search(&api, &"harbour ".repeat(1250), "").await, 400, "query_too_long");
    refused(&search(&api, "?!* -- ...", "").await, 400, "query_empty");
    refused(&search(&api, "", "").await, 400, "query_empty");
    refused(&search(&api, "a b c d e f g h i", "").await, 400, "query_too_many_words");
    refused(&get(&api.url("/v1/search")).await, 400, "invalid_query");
    refused(&get(&api.url("/v1/search?q=a%00b")).await, 400, "invalid_query");
    for rest in ["&limit=0", "&limit=51", "&limit=ten", "&colour=red"] {
        refused(&search(&api, "harbour", rest).await, 400, "invalid_query");
    }

    // The route is in the API's OpenAPI document.
    let document = get(&api.url("/openapi.json")).await.json();
    assert!(document["paths"]["/v1/search"]["get"].is_object(), "{}", document["paths"]);
    assert!(document["components"]["schemas"]["SearchPage"].is_object());
});
