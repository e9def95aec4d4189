//! What the catalog's integration tests share: an API with the catalog mounted over a recording index and a
//! clock the test moves, and small request helpers.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

pub use marquee_catalog::index::{CatalogIndex, EntryKind, IndexEntry};
use marquee_catalog::{Catalog, Popularity};
pub use marquee_control_api::auth::Role;
pub use marquee_control_api::testing::*;
use marquee_control_api::Satellites;
pub use serde_json::{json, Value};

/// One call the catalog made to the index, with what the index saw of the catalog inside the transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexCall {
    /// The entry, and the title's or person's name as the calling transaction reads it (proof the call runs in
    /// the transaction that wrote it: before the commit no other connection sees the row).
    Upsert(Box<IndexEntry>, Option<String>),
    Remove(String),
}

/// A [`CatalogIndex`] that records every call.
#[derive(Debug, Default)]
pub struct RecordingIndex(pub Mutex<Vec<IndexCall>>);

#[async_trait::async_trait]
impl CatalogIndex for RecordingIndex {
    async fn upsert(&self, connection: &mut sqlx::AnyConnection, entry: &IndexEntry) -> Result<(), sqlx::Error> {
        let sql = match entry.kind {
            EntryKind::Title => "SELECT title FROM catalog_titles WHERE id = $1",
            EntryKind::Person => "SELECT name FROM catalog_people WHERE id = $1",
        };
        let seen: Option<String> = sqlx::query_scalar(sql).bind(&entry.id).fetch_optional(connection).await?;
        self.0.lock().unwrap().push(IndexCall::Upsert(Box::new(entry.clone()), seen));
        Ok(())
    }

    async fn remove(&self, _: &mut sqlx::AnyConnection, id: &str) -> Result<(), sqlx::Error> {
        self.0.lock().unwrap().push(IndexCall::Remove(id.to_owned()));
        Ok(())
    }
}

impl RecordingIndex {
    /// The latest entry upserted for `id`.
    pub fn latest(&self, id: &str) -> Option<IndexEntry> {
        self.0.lock().unwrap().iter().rev().find_map(|call| match call {
            IndexCall::Upsert(entry, _) if entry.id == id => Some(entry.as_ref().clone()),
            _ => None,
        })
    }

    pub fn calls(&self) -> Vec<IndexCall> {
        self.0.lock().unwrap().clone()
    }
}

/// Viewing figures a test sets: the ids it answers, most watched first.
#[derive(Debug, Default)]
pub struct FixedPopularity(pub Mutex<Vec<String>>);

#[async_trait::async_trait]
impl Popularity for FixedPopularity {
    async fn most_watched(&self, from_ms: i64, until_ms: i64, limit: usize) -> Vec<String> {
        assert_eq!(until_ms - from_ms, 7 * 24 * 60 * 60 * 1000, "a week");
        self.0.lock().unwrap().iter().take(limit).cloned().collect()
    }
}

/// An API with the catalog and its recording index; the API's clock (`api.clock`) starts now and moves when told.
pub struct World {
    pub api: TestApi,
    pub index: Arc<RecordingIndex>,
}

impl World {
    pub async fn start(engine: Engine) -> Self {
        Self::start_with(engine, Arc::new(marquee_catalog::NoPopularity)).await
    }

    /// With `popularity` filling the home page's most-watched row.
    pub async fn start_with(engine: Engine, popularity: Arc<dyn Popularity>) -> Self {
        let index = Arc::new(RecordingIndex::default());
        let catalog = Catalog::new(index.clone()).with_popularity(popularity);
        let api = TestApi::start_with_satellites(engine, Satellites::new().with(catalog)).await;
        Self { api, index }
    }

    pub fn now(&self) -> i64 {
        self.api.clock.now_ms()
    }

    pub fn set_now(&self, now: i64) {
        self.api.clock.set(now);
    }

    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    /// A request as `token` (`""`: anonymous).
    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Answer {
        if token.is_empty() {
            let (headers, bytes) = match &body {
                Some(value) => (vec![("content-type", "application/json")], serde_json::to_vec(value).unwrap()),
                None => (Vec::new(), Vec::new()),
            };
            send(method, &self.url(path), &headers, bytes).await
        } else {
            call(method, &self.url(path), token, body.as_ref()).await
        }
    }

    /// A request that must answer `status`; its JSON (or null).
    pub async fn expect(&self, status: u16, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let answer = self.call(method, path, token, body).await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.text());
        if answer.body.is_empty() {
            Value::Null
        } else {
            answer.json()
        }
    }

    /// Makes a title as `token`; its JSON.
    pub async fn title(&self, token: &str, body: Value) -> Value {
        self.expect(201, "POST", "/v1/titles", token, Some(body)).await
    }

    /// Makes a person as `token`; their id.
    pub async fn person(&self, token: &str, name: &str) -> String {
        let person = self.expect(201, "POST", "/v1/people", token, Some(json!({"name": name}))).await;
        person["id"].as_str().unwrap().to_owned()
    }
}

/// The ids of a list's items, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

pub fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// An error answer's code.
pub fn code(value: &Value) -> &str {
    value["error"]["code"].as_str().unwrap_or_default()
}
