//! The shared corpus (1,200 generated titles and their people) on SQLite and on PostgreSQL at once: at least
//! 95 % of the checked-in misspelled queries find their title in the top 3, both engines give identical
//! answers to every query, and the index's bookkeeping stays exact through updates and removals.

use std::collections::HashMap;

use marquee_catalog::index::{CatalogIndex, IndexEntry};
use marquee_control_api::db::begin_write;
use marquee_control_api::testing::{Engine, TestDatabase};
use marquee_control_api::{Database, Satellites};
use marquee_search::corpus::{self, Misspelling};
use marquee_search::{query, Search, SearchIndex};
use sqlx::Row;

const QUERIES: &str = include_str!("data/misspellings.tsv");
/// Queries in the checked-in list, and the seed that made them from the corpus.
const QUERY_COUNT: usize = 150;
const QUERY_SEED: u64 = 7;

fn checked_in() -> Vec<Misspelling> {
    QUERIES.lines().filter_map(corpus::from_tsv).collect()
}

/// The checked-in list is what the generator makes (set MARQUEE_WRITE_MISSPELLINGS=1 to rewrite it after
/// changing the generator on purpose).
#[test]
fn the_checked_in_queries_are_the_generators() {
    let entries = corpus::generate(corpus::TEST_TITLES, corpus::SEED);
    let made = corpus::misspellings(&entries, QUERY_COUNT, QUERY_SEED);
    if std::env::var_os("MARQUEE_WRITE_MISSPELLINGS").is_some() {
        let mut text = String::from(
            "# Misspelled, cut-short and accent-less queries of the search corpus (corpus::generate(1200, 11)), each\n\
             # with the title it must find in its top 3: kind, query, title id, title. Made by\n\
             # corpus::misspellings(.., 150, 7); tests/corpus.rs checks that it still is.\n",
        );
        for m in &made {
            text.push_str(&corpus::to_tsv(m));
            text.push('\n');
        }
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/misspellings.tsv"), text).unwrap();
        return;
    }
    assert_eq!(checked_in(), made);
    assert!(made.len() >= 100);
    // Two typos in words of five, six and seven letters (the shortest that allow them) are among them.
    let mut two_typo_lengths = std::collections::BTreeSet::new();
    for m in made.iter().filter(|m| m.kind == "typo2") {
        let (query, title) = (marquee_search::text::words(&m.query), marquee_search::text::words(&m.title));
        for (q, t) in query.iter().zip(&title).filter(|(q, t)| q != t) {
            assert_eq!(distance(q, t), 2, "{m:?}");
            two_typo_lengths.insert(t.chars().count());
        }
    }
    for letters in 5..=7 {
        assert!(two_typo_lengths.contains(&letters), "no two-typo query on a word of {letters} letters");
    }
}

/// The edits between a query word and the word it finds, as the ranking measures them.
fn distance(query_word: &str, word: &str) -> usize {
    match marquee_search::rank::match_word(query_word, word) {
        Some(marquee_search::rank::Match::Edits(n)) => usize::from(n),
        other => panic!("{query_word} vs {word}: {other:?}"),
    }
}

async fn open(engine: Engine) -> (TestDatabase, Database) {
    let test = TestDatabase::new(engine);
    let db = Database::connect(&test.url).await.unwrap();
    Satellites::new().with(Search::new()).migrate(&db).await.unwrap();
    (test, db)
}

async fn load(db: &Database, entries: &[IndexEntry]) {
    for chunk in entries.chunks(500) {
        let mut tx = begin_write(db.pool()).await.unwrap();
        for entry in chunk {
            SearchIndex::new().upsert(&mut tx, entry).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
}

async fn answers(db: &Database, queries: &[Misspelling], now: i64) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for m in queries {
        let words = query::parse(&m.query).unwrap();
        let ranked = SearchIndex::new().ranked(db.pool(), &words, now).await.unwrap();
        out.push(ranked.into_iter().map(|r| r.id).collect());
    }
    out
}

/// Every vocabulary word counts exactly the entries that have it, and has exactly its trigrams.
async fn bookkeeping_is_exact(db: &Database) {
    let counted: HashMap<String, i64> = sqlx::query("SELECT term, entries FROM search_terms")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let actual: HashMap<String, i64> =
        sqlx::query("SELECT term, COUNT(DISTINCT entry_id) FROM search_postings GROUP BY term")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    assert_eq!(counted, actual);
    let grams: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM search_trigrams").fetch_one(db.pool()).await.unwrap();
    let expected: usize = counted
        .keys()
        .filter(|t| t.chars().count() >= marquee_search::store::MIN_TRIGRAM_CHARS)
        .map(|t| marquee_search::text::trigrams(t).len())
        .sum();
    assert_eq!(grams, i64::try_from(expected).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misspelled_queries_find_their_titles_alike_on_both_engines() {
    let entries = corpus::generate(corpus::TEST_TITLES, corpus::SEED);
    let queries = checked_in();
    assert!(queries.len() >= 100, "{} queries", queries.len());
    let now = marquee_control_api::clock::now_ms();
    let (_sqlite_dir, sqlite) = open(Engine::Sqlite).await;
    let (_postgres_server, postgres) = open(Engine::Postgres).await;
    load(&sqlite, &entries).await;
    load(&postgres, &entries).await;

    let on_sqlite = answers(&sqlite, &queries, now).await;
    let on_postgres = answers(&postgres, &queries, now).await;
    let mut missed = Vec::new();
    for ((m, a), b) in queries.iter().zip(&on_sqlite).zip(&on_postgres) {
        assert_eq!(a, b, "the engines differ on {:?}", m.query);
        if !a.iter().take(3).any(|id| *id == m.id) {
            let top: Vec<&str> = a
                .iter()
                .take(3)
                .map(|id| entries.iter().find(|e| e.id == *id).map_or(id.as_str(), |e| e.name.as_str()))
                .collect();
            missed.push(format!("{} {:?} → {:?}, not {:?}", m.kind, m.query, top, m.title));
        }
    }
    let share = 1.0 - missed.len() as f64 / queries.len() as f64;
    println!("top-3 share {share:.3}; missed:\n{}", missed.join("\n"));
    assert!(share >= 0.95, "top-3 share {share:.3}; missed:\n{}", missed.join("\n"));
    let hidden: Vec<&str> = entries
        .iter()
        .filter(|e| e.visible_from.is_some() || e.visible_until.is_some())
        .map(|e| e.id.as_str())
        .collect();
    assert!(!hidden.is_empty());
    assert!(on_sqlite.iter().flatten().all(|id| !hidden.contains(&id.as_str())), "unavailable titles are never found");

    // Updates and removals keep the index exact, alike on both.
    for db in [&sqlite, &postgres] {
        bookkeeping_is_exact(db).await;
        let mut tx = begin_write(db.pool()).await.unwrap();
        for (n, entry) in entries.iter().enumerate().filter(|(n, _)| n % 7 == 0) {
            if n % 2 == 0 {
                SearchIndex::new().remove(&mut tx, &entry.id).await.unwrap();
            } else {
                let mut changed = entry.clone();
                changed.name = format!("{} Redux", entry.name);
                changed.text = String::new();
                SearchIndex::new().upsert(&mut tx, &changed).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
        bookkeeping_is_exact(db).await;
    }
    assert_eq!(answers(&sqlite, &queries, now).await, answers(&postgres, &queries, now).await);
}
