//! The index's tables (`search_entries`, `search_terms`, `search_trigrams`, `search_postings`, migrations in
//! `search/migrations/`) and the queries over them. The database finds candidates; [`crate::rank`] orders
//! them.
//!
//! Every query here is an exact set query, or ordered by byte-compared text and numbers only, so SQLite and
//! PostgreSQL find the same candidates and the ranking, in Rust, gives the same answers. That is why near
//! spellings are found through our own trigram table rather than FTS5's trigram tokenizer (a substring
//! match, not a similarity) or `pg_trgm` (a similarity threshold of its own): both would find different
//! words on the two engines.
//!
//! A search: each query word is expanded to the vocabulary words it matches (exact, prefix, near spelling:
//! [`rank::match_word`]); the words whose expansions few entries have (few next to the rarest word, and
//! at most [`DRIVER_MAX_ENTRIES`]) bring the candidates (or, when every word is common, the rarest word's
//! best [`COMMON_WORD_CANDIDATES`], names first); then the other words' matches are read for those
//! candidates only. The work per search is bounded by the query's
//! words, not by the size of the catalog.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use marquee_catalog::index::{EntryKind, IndexEntry};
use sqlx::{AnyConnection, Row};

use crate::rank::{self, Candidate, Field, Hit, Match};
use crate::{document, text};

/// Vocabulary words one query word expands to by prefix, at most (those most entries have first).
pub const MAX_PREFIX_TERMS: i64 = 64;
/// Query words whose expansions this many entries have, or fewer, bring candidates...
pub const DRIVER_MAX_ENTRIES: i64 = 4000;
/// ... if no more than this many times as many entries have them as have the rarest query word's ...
pub const DRIVER_RARITY: i64 = 4;
/// ... or if this many entries have them, or fewer. An entry that has none of these words has only common
/// ones ("the", "of") and is not worth finding.
pub const DRIVER_MIN_ENTRIES: i64 = 200;
/// Candidates taken from the rarest query word when every word is more common than [`DRIVER_MAX_ENTRIES`].
pub const COMMON_WORD_CANDIDATES: i64 = 4000;
/// Vocabulary words shorter than this have no trigrams (no query word is near enough to need them).
pub const MIN_TRIGRAM_CHARS: usize = rank::MIN_FUZZY_CHARS - 1;
/// Query words longer than this are not looked up by near spelling.
pub const MAX_FUZZY_CHARS: usize = 24;
/// Rows per multi-row statement.
const CHUNK: usize = 200;
/// Candidate ids per statement that reads other words' matches (far below both engines' parameter limits).
const ID_CHUNK: usize = 2000;

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` values, numbered from `$first`.
fn placeholders(rows: usize, columns: usize, first: usize) -> String {
    let mut out = String::new();
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${}", first + row * columns + column));
        }
        out.push(')');
    }
    out
}

/// `$first, …` for `n` values (an `IN` list).
fn list(n: usize, first: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn kind_str(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Title => "title",
        EntryKind::Person => "person",
    }
}

/// Adds `entry` or replaces the one with its id, on the caller's connection (inside its transaction).
pub async fn upsert(conn: &mut AnyConnection, entry: &IndexEntry) -> Result<(), sqlx::Error> {
    let postings = document::postings(entry);
    let old = terms_of(conn, &entry.id).await?;
    sqlx::query("DELETE FROM search_postings WHERE entry_id = $1").bind(&entry.id).execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO search_entries (id, kind, name, name_words, title_kind, release_year, genres, popularity, \
         visible_from, visible_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, name_words = excluded.name_words, \
         title_kind = excluded.title_kind, release_year = excluded.release_year, genres = excluded.genres, \
         popularity = excluded.popularity, visible_from = excluded.visible_from, visible_until = excluded.visible_until",
    )
    .bind(&entry.id)
    .bind(kind_str(entry.kind))
    .bind(&entry.name)
    .bind(i64::try_from(document::name_words(entry)).unwrap_or(i64::MAX))
    .bind(entry.title_kind.clone())
    .bind(entry.release_year.map(i64::from))
    .bind(serde_json::to_string(&entry.genres).unwrap_or_else(|_| "[]".into()))
    .bind(if entry.popularity.is_finite() { entry.popularity } else { 0.0 })
    .bind(entry.visible_from)
    .bind(entry.visible_until)
    .execute(&mut *conn)
    .await?;
    let rows: Vec<&(String, Field)> = postings.iter().collect();
    for chunk in rows.chunks(CHUNK) {
        let sql =
            format!("INSERT INTO search_postings (term, entry_id, field) VALUES {}", placeholders(chunk.len(), 3, 1));
        let mut insert = sqlx::query(&sql);
        for (term, field) in chunk {
            insert = insert.bind(term.as_str()).bind(entry.id.as_str()).bind(field.code());
        }
        insert.execute(&mut *conn).await?;
    }
    let new: BTreeSet<String> = postings.into_iter().map(|(term, _)| term).collect();
    count_in(conn, new.difference(&old).collect()).await?;
    count_out(conn, old.difference(&new).collect()).await
}

/// Removes the entry `id`, if there is one, on the caller's connection.
pub async fn remove(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    let old = terms_of(conn, id).await?;
    sqlx::query("DELETE FROM search_postings WHERE entry_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM search_entries WHERE id = $1").bind(id).execute(&mut *conn).await?;
    count_out(conn, old.iter().collect()).await
}

async fn terms_of(conn: &mut AnyConnection, id: &str) -> Result<BTreeSet<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT DISTINCT term FROM search_postings WHERE entry_id = $1")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|row| row.try_get::<String, _>(0)).collect()
}

/// One more entry has each of `terms` (sorted, so concurrent writers lock rows in one order); words new to
/// the vocabulary get their trigrams.
async fn count_in(conn: &mut AnyConnection, terms: Vec<&String>) -> Result<(), sqlx::Error> {
    let mut fresh = Vec::new();
    for chunk in terms.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO search_terms (term, chars, entries) VALUES {} \
             ON CONFLICT (term) DO UPDATE SET entries = search_terms.entries + 1 RETURNING term, entries",
            placeholders(chunk.len(), 3, 1)
        );
        let mut insert = sqlx::query(&sql);
        for term in chunk {
            insert = insert.bind(term.as_str()).bind(chars(term)).bind(1i64);
        }
        for row in insert.fetch_all(&mut *conn).await? {
            if row.try_get::<i64, _>(1)? == 1 {
                fresh.push(row.try_get::<String, _>(0)?);
            }
        }
    }
    let grams: Vec<(String, i64, &String)> = fresh
        .iter()
        .filter(|term| term.chars().count() >= MIN_TRIGRAM_CHARS)
        .flat_map(|term| text::trigrams(term).into_iter().map(move |gram| (gram, chars(term), term)))
        .collect();
    for chunk in grams.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO search_trigrams (trigram, chars, term) VALUES {} ON CONFLICT DO NOTHING",
            placeholders(chunk.len(), 3, 1)
        );
        let mut insert = sqlx::query(&sql);
        for (gram, chars, term) in chunk {
            insert = insert.bind(gram.as_str()).bind(*chars).bind(term.as_str());
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}

/// One entry fewer has each of `terms` (sorted); words no entry has any more leave the vocabulary.
async fn count_out(conn: &mut AnyConnection, terms: Vec<&String>) -> Result<(), sqlx::Error> {
    for chunk in terms.chunks(CHUNK) {
        let sql = format!("UPDATE search_terms SET entries = entries - 1 WHERE term IN ({})", list(chunk.len(), 1));
        let mut update = sqlx::query(&sql);
        for term in chunk {
            update = update.bind(term.as_str());
        }
        update.execute(&mut *conn).await?;
        let sql = format!(
            "DELETE FROM search_terms WHERE entries <= 0 AND term IN ({}) RETURNING term",
            list(chunk.len(), 1)
        );
        let mut delete = sqlx::query(&sql);
        for term in chunk {
            delete = delete.bind(term.as_str());
        }
        let gone: Vec<String> =
            delete.fetch_all(&mut *conn).await?.iter().map(|row| row.try_get(0)).collect::<Result<_, _>>()?;
        if !gone.is_empty() {
            let sql = format!("DELETE FROM search_trigrams WHERE term IN ({})", list(gone.len(), 1));
            let mut delete = sqlx::query(&sql);
            for term in &gone {
                delete = delete.bind(term.as_str());
            }
            delete.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

fn chars(term: &str) -> i64 {
    i64::try_from(term.chars().count()).unwrap_or(i64::MAX)
}

/// A vocabulary word a query word matches.
#[derive(Debug, Clone)]
struct Expansion {
    term: String,
    entries: i64,
    how: Match,
}

/// The vocabulary words `word` matches: itself, the words it starts (the most common
/// [`MAX_PREFIX_TERMS`]), and the words within its edits.
async fn expand(conn: &mut AnyConnection, word: &str) -> Result<Vec<Expansion>, sqlx::Error> {
    let word_chars = word.chars().count();
    let mut found: BTreeMap<String, i64> = BTreeMap::new();
    let rows = match text::prefix_successor(word).filter(|_| word_chars >= rank::MIN_PREFIX_CHARS) {
        Some(successor) => {
            sqlx::query(
                "SELECT term, entries FROM search_terms WHERE term >= $1 AND term < $2 \
                 ORDER BY CASE WHEN term = $1 THEN 0 ELSE 1 END, entries DESC, term LIMIT $3",
            )
            .bind(word)
            .bind(successor)
            .bind(MAX_PREFIX_TERMS)
            .fetch_all(&mut *conn)
            .await?
        }
        None => {
            sqlx::query("SELECT term, entries FROM search_terms WHERE term = $1")
                .bind(word)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    for row in rows {
        found.insert(row.try_get(0)?, row.try_get(1)?);
    }
    let edits = rank::max_edits(word_chars);
    if edits > 0 && word_chars <= MAX_FUZZY_CHARS {
        let grams = text::trigrams(word);
        let shared = grams.len().saturating_sub(4 * edits).max(1);
        let n = grams.len();
        let sql = format!(
            "SELECT term FROM search_trigrams WHERE trigram IN ({}) AND chars BETWEEN ${} AND ${} \
             GROUP BY term HAVING COUNT(*) >= ${}",
            list(n, 1),
            n + 1,
            n + 2,
            n + 3
        );
        let mut select = sqlx::query(&sql);
        for gram in &grams {
            select = select.bind(gram.as_str());
        }
        let near = word_chars as i64;
        let edits = edits as i64;
        let rows = select
            .bind(near - edits)
            .bind(near + edits)
            .bind(i64::try_from(shared).unwrap_or(1))
            .fetch_all(&mut *conn)
            .await?;
        let mut close = Vec::new();
        for row in rows {
            let term: String = row.try_get(0)?;
            if !found.contains_key(&term) && rank::match_word(word, &term).is_some() {
                close.push(term);
            }
        }
        for chunk in close.chunks(CHUNK) {
            let sql = format!("SELECT term, entries FROM search_terms WHERE term IN ({})", list(chunk.len(), 1));
            let mut select = sqlx::query(&sql);
            for term in chunk {
                select = select.bind(term.as_str());
            }
            for row in select.fetch_all(&mut *conn).await? {
                found.insert(row.try_get(0)?, row.try_get(1)?);
            }
        }
    }
    Ok(found
        .into_iter()
        .filter_map(|(term, entries)| rank::match_word(word, &term).map(|how| Expansion { term, entries, how }))
        .collect())
}

/// What a page of answers shows of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryView {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub title_kind: Option<String>,
    pub release_year: Option<i64>,
    pub genres: Vec<String>,
}

const VISIBLE: &str =
    "(e.visible_from IS NULL OR e.visible_from <= $1) AND (e.visible_until IS NULL OR e.visible_until > $1)";

/// The entries visible at `now` that match any of `words` (folded, distinct), with their matches.
pub async fn candidates(conn: &mut AnyConnection, words: &[String], now: i64) -> Result<Vec<Candidate>, sqlx::Error> {
    let mut expansions = Vec::with_capacity(words.len());
    for word in words {
        expansions.push(expand(conn, word).await?);
    }
    // Which query words each vocabulary word matches, and how.
    let mut matches: HashMap<&str, Vec<(usize, Match)>> = HashMap::new();
    for (i, expansion) in expansions.iter().enumerate() {
        for e in expansion {
            matches.entry(e.term.as_str()).or_default().push((i, e.how));
        }
    }
    let entries: Vec<i64> = expansions.iter().map(|e| e.iter().map(|x| x.entries).sum()).collect();
    let rarest = entries.iter().copied().filter(|&n| n > 0).min().unwrap_or(0);
    let driver_max = rarest.saturating_mul(DRIVER_RARITY).clamp(DRIVER_MIN_ENTRIES, DRIVER_MAX_ENTRIES);
    let mut drivers: Vec<usize> = (0..words.len()).filter(|&i| entries[i] > 0 && entries[i] <= driver_max).collect();
    let common = drivers.is_empty();
    if common {
        match (0..words.len()).filter(|&i| entries[i] > 0).min_by_key(|&i| (entries[i], i)) {
            Some(rarest) => drivers.push(rarest),
            None => return Ok(Vec::new()),
        }
    }
    let driver_terms: BTreeSet<&str> =
        drivers.iter().flat_map(|&i| expansions[i].iter().map(|e| e.term.as_str())).collect();
    let mut found: BTreeMap<String, Candidate> = BTreeMap::new();
    let add = |found: &mut BTreeMap<String, Candidate>, id: String, term: &str, field: i64| {
        let (Some(field), Some(how)) = (Field::from_code(field), matches.get(term)) else { return };
        if let Some(candidate) = found.get_mut(&id) {
            candidate.hits.extend(how.iter().map(|&(word, how)| Hit { word, field, how }));
        }
    };
    let terms: Vec<&str> = driver_terms.iter().copied().collect();
    for chunk in terms.chunks(CHUNK) {
        let mut sql = format!(
            "SELECT p.entry_id, p.term, p.field, e.popularity, e.name_words FROM search_postings p \
             JOIN search_entries e ON e.id = p.entry_id WHERE {VISIBLE} AND p.term IN ({})",
            list(chunk.len(), 2)
        );
        if common {
            sql.push_str(&format!(" ORDER BY p.field, e.popularity DESC, p.entry_id LIMIT ${}", chunk.len() + 2));
        }
        let mut select = sqlx::query(&sql).bind(now);
        for term in chunk {
            select = select.bind(*term);
        }
        if common {
            select = select.bind(COMMON_WORD_CANDIDATES);
        }
        for row in select.fetch_all(&mut *conn).await? {
            let id: String = row.try_get(0)?;
            let term: String = row.try_get(1)?;
            if !found.contains_key(&id) {
                let name_words: i64 = row.try_get(4)?;
                found.insert(
                    id.clone(),
                    Candidate {
                        id: id.clone(),
                        popularity: row.try_get(3)?,
                        name_words: usize::try_from(name_words).unwrap_or(0),
                        hits: Vec::new(),
                    },
                );
            }
            add(&mut found, id, &term, row.try_get(2)?);
        }
        if common {
            // The rarest word's best candidates are enough; its other terms would only add more of them.
            break;
        }
    }
    // The other words' matches, for these candidates only.
    let others: Vec<&str> = (0..words.len())
        .filter(|i| !drivers.contains(i))
        .flat_map(|i| expansions[i].iter().map(|e| e.term.as_str()))
        .filter(|term| !driver_terms.contains(term))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !others.is_empty() && !found.is_empty() {
        let ids: Vec<String> = found.keys().cloned().collect();
        for terms in others.chunks(CHUNK) {
            for chunk in ids.chunks(ID_CHUNK) {
                let sql = format!(
                    "SELECT entry_id, term, field FROM search_postings WHERE term IN ({}) AND entry_id IN ({})",
                    list(terms.len(), 1),
                    list(chunk.len(), terms.len() + 1)
                );
                let mut select = sqlx::query(&sql);
                for term in terms {
                    select = select.bind(*term);
                }
                for id in chunk {
                    select = select.bind(id.as_str());
                }
                for row in select.fetch_all(&mut *conn).await? {
                    let term: String = row.try_get(1)?;
                    add(&mut found, row.try_get(0)?, &term, row.try_get(2)?);
                }
            }
        }
    }
    Ok(found.into_values().collect())
}

/// What the answers show of the entries `ids`, in that order (entries removed since are left out).
pub async fn views(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<EntryView>, sqlx::Error> {
    let mut by_id = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, kind, name, title_kind, release_year, genres FROM search_entries WHERE id IN ({})",
            list(chunk.len(), 1)
        );
        let mut select = sqlx::query(&sql);
        for id in chunk {
            select = select.bind(id.as_str());
        }
        for row in select.fetch_all(&mut *conn).await? {
            let genres: String = row.try_get(5)?;
            let view = EntryView {
                id: row.try_get(0)?,
                kind: row.try_get(1)?,
                name: row.try_get(2)?,
                title_kind: row.try_get(3)?,
                release_year: row.try_get(4)?,
                genres: serde_json::from_str(&genres).unwrap_or_default(),
            };
            by_id.insert(view.id.clone(), view);
        }
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_and_lists() {
        assert_eq!(placeholders(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(list(3, 2), "$2, $3, $4");
    }
}
