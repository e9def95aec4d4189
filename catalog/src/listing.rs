//! Which titles a caller sees, as SQL: the list filters, the availability rule of [`crate::availability`]
//! written as a predicate over a title and its ancestors, and keyset pagination. The query is built here as
//! text and parameters; [`fetch`] runs it.

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::model::TitleKind;
use crate::store::{self, Title, TITLE_COLUMNS};

/// Where a page ended: the last item's sort key, carried in a signed cursor (`marquee_control_api::cursor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// A number sorted on before the id (a season's or an episode's), when the list is in number order.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    pub id: String,
}

/// Who is looking, as far as seeing titles goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Everything, in any state.
    Admin,
    /// Their own titles in any state, others' when available.
    Creator(String),
    /// Only what is available.
    Public,
}

/// What a list asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub kinds: Vec<TitleKind>,
    pub genre: Option<String>,
    pub year: Option<i64>,
    pub parent_id: Option<String>,
    /// Only titles available now (and whose ancestors are), whoever asks.
    pub available_now: bool,
    /// Where "available" means: windows for this region (ISO 3166-1 alpha-2, upper case) count; `None`: any
    /// window counts.
    pub region: Option<String>,
}

impl Filter {
    /// The filter in a fixed text form: what a cursor is bound to.
    pub fn fingerprint(&self, audience: &Audience) -> String {
        let kinds: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
        format!(
            "titles?kinds={}&genre={}&year={}&parent={}&now={}&region={}&as={audience:?}",
            kinds.join(","),
            self.genre.as_deref().unwrap_or(""),
            self.year.map(|y| y.to_string()).unwrap_or_default(),
            self.parent_id.as_deref().unwrap_or(""),
            self.available_now,
            self.region.as_deref().unwrap_or(""),
        )
    }

    /// Lists under a parent are in number order (seasons, episodes); others newest first.
    pub fn by_number(&self) -> bool {
        self.parent_id.is_some()
    }
}

/// A query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

struct Query {
    sql: String,
    binds: Vec<Bind>,
}

impl Query {
    /// `$n` for a new parameter.
    fn param(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.binds.len())
    }
}

/// The availability rule for the title aliased `alias` at the time in parameter `now`: no windows, or one
/// open now (and, with the parameter `region`, everywhere or listing the region: regions are stored upper
/// case in a JSON array, so `%"FR"%` matches exactly the arrays holding `FR`).
fn available(alias: &str, now: &str, region: Option<&str>) -> String {
    let in_region = region
        .map(|region| format!(" AND (w.regions_json = '[]' OR w.regions_json LIKE {region})"))
        .unwrap_or_default();
    format!(
        "(NOT EXISTS (SELECT 1 FROM catalog_availability w WHERE w.title_id = {alias}.id) \
         OR EXISTS (SELECT 1 FROM catalog_availability w WHERE w.title_id = {alias}.id \
         AND (w.starts_at IS NULL OR w.starts_at <= {now}) AND (w.ends_at IS NULL OR w.ends_at > {now}){in_region}))"
    )
}

/// The title `t` is available, and so are its parent `p` and grandparent `g` where it has them.
fn chain_available(now: &str, region: Option<&str>) -> String {
    format!(
        "({} AND (p.id IS NULL OR {}) AND (g.id IS NULL OR {}))",
        available("t", now, region),
        available("p", now, region),
        available("g", now, region)
    )
}

/// The `LIKE` pattern of a region code (codes are two letters: nothing to escape).
fn region_pattern(region: &str) -> String {
    format!("%\"{region}\"%")
}

fn build(filter: &Filter, audience: &Audience, now_ms: i64, after: Option<&Position>, limit: i64) -> Query {
    let mut query = Query {
        sql: format!(
            "SELECT {TITLE_COLUMNS} FROM catalog_titles t LEFT JOIN catalog_titles p ON p.id = t.parent_id \
             LEFT JOIN catalog_titles g ON g.id = p.parent_id WHERE 1 = 1"
        ),
        binds: Vec::new(),
    };
    if !filter.kinds.is_empty() {
        let names: Vec<String> =
            filter.kinds.iter().map(|kind| query.param(Bind::Text(kind.as_str().to_owned()))).collect();
        query.sql += &format!(" AND t.kind IN ({})", names.join(", "));
    }
    if let Some(genre) = &filter.genre {
        let genre = query.param(Bind::Text(genre.clone()));
        query.sql += &format!(
            " AND EXISTS (SELECT 1 FROM catalog_title_genres tg WHERE tg.title_id = t.id AND tg.genre = {genre})"
        );
    }
    if let Some(year) = filter.year {
        let year = query.param(Bind::Int(year));
        query.sql += &format!(" AND t.release_year = {year}");
    }
    if let Some(parent) = &filter.parent_id {
        let parent = query.param(Bind::Text(parent.clone()));
        query.sql += &format!(" AND t.parent_id = {parent}");
    }
    let visible = match (audience, filter.available_now) {
        (Audience::Admin, false) => None,
        (Audience::Creator(me), false) => {
            let me = query.param(Bind::Text(me.clone()));
            let now = query.param(Bind::Int(now_ms));
            let region = filter.region.as_deref().map(|r| query.param(Bind::Text(region_pattern(r))));
            Some(format!("(t.owner_id = {me} OR {})", chain_available(&now, region.as_deref())))
        }
        _ => {
            let now = query.param(Bind::Int(now_ms));
            let region = filter.region.as_deref().map(|r| query.param(Bind::Text(region_pattern(r))));
            Some(chain_available(&now, region.as_deref()))
        }
    };
    if let Some(visible) = visible {
        query.sql += &format!(" AND {visible}");
    }
    if filter.by_number() {
        if let Some(after) = after {
            let number = query.param(Bind::Int(after.number.unwrap_or(i64::MIN)));
            let id = query.param(Bind::Text(after.id.clone()));
            query.sql += &format!(" AND (t.number > {number} OR (t.number = {number} AND t.id > {id}))");
        }
        query.sql += " ORDER BY t.number, t.id";
    } else {
        if let Some(after) = after {
            let id = query.param(Bind::Text(after.id.clone()));
            query.sql += &format!(" AND t.id < {id}");
        }
        query.sql += " ORDER BY t.id DESC";
    }
    let limit = query.param(Bind::Int(limit));
    query.sql += &format!(" LIMIT {limit}");
    query
}

/// The titles `audience` sees through `filter` at `now_ms`, after `after`, at most `limit`.
pub async fn fetch(
    conn: &mut AnyConnection,
    filter: &Filter,
    audience: &Audience,
    now_ms: i64,
    after: Option<&Position>,
    limit: i64,
) -> Result<Vec<Title>, sqlx::Error> {
    let query = build(filter, audience, now_ms, after, limit);
    let mut statement = sqlx::query(&query.sql);
    for bind in query.binds {
        statement = match bind {
            Bind::Text(text) => statement.bind(text),
            Bind::Int(number) => statement.bind(number),
        };
    }
    statement.fetch_all(conn).await?.iter().map(store::title_of).collect()
}

/// The genres with the most movies or series of `kinds` available now (in `region`, if given), most first, at
/// most `limit`.
pub async fn top_genres(
    conn: &mut AnyConnection,
    kinds: &[TitleKind],
    now_ms: i64,
    region: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let kinds: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
    let sql = format!(
        "SELECT tg.genre FROM catalog_title_genres tg JOIN catalog_titles t ON t.id = tg.title_id \
         LEFT JOIN catalog_titles p ON p.id = t.parent_id LEFT JOIN catalog_titles g ON g.id = p.parent_id \
         WHERE t.kind IN ({}) AND {} GROUP BY tg.genre ORDER BY COUNT(*) DESC, tg.genre LIMIT $2",
        kinds.join(", "),
        chain_available("$1", region.map(|_| "$3"))
    );
    let query = sqlx::query_scalar(&sql).bind(now_ms).bind(limit);
    // A parameter the statement does not name is an error on PostgreSQL: bind it only when used.
    let query = match region {
        Some(region) => query.bind(region_pattern(region)),
        None => query,
    };
    query.fetch_all(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_order() {
        let filter = Filter {
            kinds: vec![TitleKind::Movie, TitleKind::Series],
            genre: Some("drama".into()),
            year: Some(1999),
            parent_id: None,
            available_now: false,
            region: None,
        };
        let query =
            build(&filter, &Audience::Creator("me".into()), 5, Some(&Position { number: None, id: "x".into() }), 10);
        assert_eq!(query.binds.len(), 8);
        for n in 1..=8 {
            assert!(query.sql.contains(&format!("${n}")), "${n} in {}", query.sql);
        }
        assert!(!query.sql.contains("$9"));
        assert!(query.sql.ends_with("ORDER BY t.id DESC LIMIT $8"), "{}", query.sql);
        let admin = build(&filter, &Audience::Admin, 5, None, 10);
        assert!(!admin.sql.contains("catalog_availability"), "admins see everything");
    }

    #[test]
    fn fingerprints_differ_by_filter_and_audience() {
        let a = Filter { genre: Some("drama".into()), ..Filter::default() };
        let b = Filter { genre: Some("comedy".into()), ..Filter::default() };
        assert_ne!(a.fingerprint(&Audience::Public), b.fingerprint(&Audience::Public));
        assert_ne!(a.fingerprint(&Audience::Public), a.fingerprint(&Audience::Admin));
    }
}
