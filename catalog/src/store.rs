//! The catalog's tables (`migrations/`): reading and writing titles, people, credits, windows and asset links,
//! on one connection so that a handler's writes and the index calls share its transaction. Queries are written
//! once with `$n` parameters for both engines.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use crate::artwork::PosterSource;
use crate::availability::Window;
use crate::model::{AssetRole, CreditKind, TitleKind};

/// A title as stored.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Title {
    pub id: String,
    pub kind: TitleKind,
    /// A season's series, an episode's season.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// A season's or an episode's number within its parent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_title: Option<String>,
    pub synopsis: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_year: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_minutes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maturity_rating: Option<String>,
    /// BCP 47 tags.
    pub languages: Vec<String>,
    /// Lowercase, in the order given.
    pub genres: Vec<String>,
    pub tags: Vec<String>,
    pub artwork: Artwork,
    pub owner_id: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a title's images are stored (storage keys, served by origin and edge like presentations). Reads
/// also say where the poster comes from, and give the URLs browsers fetch the images with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Artwork {
    /// The uploaded poster or, without one, the poster of the title's video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backdrop: Option<String>,
    /// Whether `poster` was uploaded or taken from the title's video (which an upload replaces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster_source: Option<PosterSource>,
    /// URLs anyone fetches the images with from the playback base URL (signed for the images' folder, not for
    /// a viewer), when the API signs playback URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backdrop_url: Option<String>,
}

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub other_names: Vec<String>,
    pub biography: String,
    pub owner_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One credit of a title, in billing order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Credit {
    pub person_id: String,
    /// The person's name.
    pub name: String,
    pub kind: CreditKind,
    /// The character a cast member plays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub character: Option<String>,
    /// A crew member's job (`director`, `writer`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// An asset a title plays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TitleAsset {
    pub asset_id: String,
    pub role: AssetRole,
    /// The asset's playback policy: `public` plays for anyone (the title is free to watch), `signed` needs an
    /// entitlement (a plan, a rental, a purchase). Shown when reading; not part of what `PUT .../assets` takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playback_policy: Option<String>,
}

pub const TITLE_COLUMNS: &str = "t.id, t.kind, t.parent_id, t.number, t.title, t.original_title, t.synopsis, \
    t.release_year, t.runtime_minutes, t.maturity_rating, t.languages_json, t.genres_json, t.tags_json, \
    t.poster_key, t.backdrop_key, t.owner_id, t.created_at, t.updated_at";

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

pub fn json_text(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

pub fn title_of(row: &sqlx::any::AnyRow) -> Result<Title, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    Ok(Title {
        id: row.try_get("id")?,
        // The column's CHECK allows only the four names.
        kind: TitleKind::parse(&kind).unwrap_or(TitleKind::Movie),
        parent_id: row.try_get("parent_id")?,
        number: row.try_get("number")?,
        title: row.try_get("title")?,
        original_title: row.try_get("original_title")?,
        synopsis: row.try_get("synopsis")?,
        release_year: row.try_get("release_year")?,
        runtime_minutes: row.try_get("runtime_minutes")?,
        maturity_rating: row.try_get("maturity_rating")?,
        languages: json_list(&row.try_get::<String, _>("languages_json")?),
        genres: json_list(&row.try_get::<String, _>("genres_json")?),
        tags: json_list(&row.try_get::<String, _>("tags_json")?),
        artwork: Artwork {
            poster: row.try_get("poster_key")?,
            backdrop: row.try_get("backdrop_key")?,
            ..Artwork::default()
        },
        owner_id: row.try_get("owner_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn person_of(row: &sqlx::any::AnyRow) -> Result<Person, sqlx::Error> {
    Ok(Person {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        other_names: json_list(&row.try_get::<String, _>("other_names_json")?),
        biography: row.try_get("biography")?,
        owner_id: row.try_get("owner_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn title(conn: &mut AnyConnection, id: &str) -> Result<Option<Title>, sqlx::Error> {
    let sql = format!("SELECT {TITLE_COLUMNS} FROM catalog_titles t WHERE t.id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(conn).await?.as_ref().map(title_of).transpose()
}

/// The title's parent, grandparent: nearest first.
pub async fn ancestors(conn: &mut AnyConnection, title: &Title) -> Result<Vec<Title>, sqlx::Error> {
    let mut chain = Vec::new();
    let mut next = title.parent_id.clone();
    // Kinds nest two deep at most; the bound guards against a cycle no write can make.
    while let Some(id) = next.take() {
        if chain.len() >= 2 {
            break;
        }
        if let Some(parent) = self::title(conn, &id).await? {
            next = parent.parent_id.clone();
            chain.push(parent);
        }
    }
    Ok(chain)
}

/// The title's children in number order.
pub async fn children(conn: &mut AnyConnection, id: &str) -> Result<Vec<Title>, sqlx::Error> {
    let sql = format!("SELECT {TITLE_COLUMNS} FROM catalog_titles t WHERE t.parent_id = $1 ORDER BY t.number, t.id");
    sqlx::query(&sql).bind(id).fetch_all(conn).await?.iter().map(title_of).collect()
}

pub async fn has_children(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM catalog_titles WHERE parent_id = $1 LIMIT 1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

pub async fn number_taken(
    conn: &mut AnyConnection,
    parent_id: &str,
    number: i64,
    except: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM catalog_titles WHERE parent_id = $1 AND number = $2 AND id <> $3")
            .bind(parent_id)
            .bind(number)
            .bind(except.unwrap_or(""))
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

pub async fn insert_title(conn: &mut AnyConnection, title: &Title) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO catalog_titles (id, kind, parent_id, number, title, original_title, synopsis, release_year, \
         runtime_minutes, maturity_rating, languages_json, genres_json, tags_json, poster_key, backdrop_key, owner_id, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(&title.id)
    .bind(title.kind.as_str())
    .bind(&title.parent_id)
    .bind(title.number)
    .bind(&title.title)
    .bind(&title.original_title)
    .bind(&title.synopsis)
    .bind(title.release_year)
    .bind(title.runtime_minutes)
    .bind(&title.maturity_rating)
    .bind(json_text(&title.languages))
    .bind(json_text(&title.genres))
    .bind(json_text(&title.tags))
    .bind(&title.artwork.poster)
    .bind(&title.artwork.backdrop)
    .bind(&title.owner_id)
    .bind(title.created_at)
    .bind(title.updated_at)
    .execute(&mut *conn)
    .await?;
    set_genres(conn, &title.id, &title.genres).await
}

/// Writes every field an edit may change (not the kind, parent, owner or artwork).
pub async fn update_title(conn: &mut AnyConnection, title: &Title) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE catalog_titles SET number = $2, title = $3, original_title = $4, synopsis = $5, release_year = $6, \
         runtime_minutes = $7, maturity_rating = $8, languages_json = $9, genres_json = $10, tags_json = $11, \
         updated_at = $12 WHERE id = $1",
    )
    .bind(&title.id)
    .bind(title.number)
    .bind(&title.title)
    .bind(&title.original_title)
    .bind(&title.synopsis)
    .bind(title.release_year)
    .bind(title.runtime_minutes)
    .bind(&title.maturity_rating)
    .bind(json_text(&title.languages))
    .bind(json_text(&title.genres))
    .bind(json_text(&title.tags))
    .bind(title.updated_at)
    .execute(&mut *conn)
    .await?;
    set_genres(conn, &title.id, &title.genres).await
}

pub async fn touch_title(conn: &mut AnyConnection, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE catalog_titles SET updated_at = $2 WHERE id = $1").bind(id).bind(now).execute(conn).await?;
    Ok(())
}

/// Points the title's `poster` or `backdrop` at `key`.
pub async fn set_artwork(
    conn: &mut AnyConnection,
    id: &str,
    poster: bool,
    key: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let sql = if poster {
        "UPDATE catalog_titles SET poster_key = $2, updated_at = $3 WHERE id = $1"
    } else {
        "UPDATE catalog_titles SET backdrop_key = $2, updated_at = $3 WHERE id = $1"
    };
    sqlx::query(sql).bind(id).bind(key).bind(now).execute(conn).await?;
    Ok(())
}

async fn set_genres(conn: &mut AnyConnection, id: &str, genres: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM catalog_title_genres WHERE title_id = $1").bind(id).execute(&mut *conn).await?;
    for genre in genres {
        sqlx::query("INSERT INTO catalog_title_genres (title_id, genre) VALUES ($1, $2)")
            .bind(id)
            .bind(genre)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn delete_title(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM catalog_titles WHERE id = $1").bind(id).execute(conn).await?;
    Ok(())
}

pub async fn windows(conn: &mut AnyConnection, title_id: &str) -> Result<Vec<Window>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT starts_at, ends_at, regions_json FROM catalog_availability WHERE title_id = $1 ORDER BY position",
    )
    .bind(title_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Window {
                starts_at: row.try_get("starts_at")?,
                ends_at: row.try_get("ends_at")?,
                regions: json_list(&row.try_get::<String, _>("regions_json")?),
            })
        })
        .collect()
}

pub async fn set_windows(conn: &mut AnyConnection, title_id: &str, windows: &[Window]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM catalog_availability WHERE title_id = $1").bind(title_id).execute(&mut *conn).await?;
    for (position, window) in windows.iter().enumerate() {
        sqlx::query(
            "INSERT INTO catalog_availability (title_id, position, starts_at, ends_at, regions_json) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(title_id)
        .bind(position as i64)
        .bind(window.starts_at)
        .bind(window.ends_at)
        .bind(json_text(&window.regions))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn credits(conn: &mut AnyConnection, title_id: &str) -> Result<Vec<Credit>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.person_id, p.name, c.kind, c.character_name, c.role FROM catalog_credits c \
         JOIN catalog_people p ON p.id = c.person_id WHERE c.title_id = $1 ORDER BY c.position",
    )
    .bind(title_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(Credit {
                person_id: row.try_get("person_id")?,
                name: row.try_get("name")?,
                kind: CreditKind::parse(&kind).unwrap_or(CreditKind::Crew),
                character: row.try_get("character_name")?,
                role: row.try_get("role")?,
            })
        })
        .collect()
}

pub async fn set_credits(conn: &mut AnyConnection, title_id: &str, credits: &[Credit]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM catalog_credits WHERE title_id = $1").bind(title_id).execute(&mut *conn).await?;
    for (position, credit) in credits.iter().enumerate() {
        sqlx::query(
            "INSERT INTO catalog_credits (title_id, position, person_id, kind, character_name, role) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(title_id)
        .bind(position as i64)
        .bind(&credit.person_id)
        .bind(credit.kind.as_str())
        .bind(&credit.character)
        .bind(&credit.role)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The presentation folder of the video a title's poster falls back to: a movie's feature or an episode's
/// video; a season's first episode's, a series' first season's first episode's (by number, specials last),
/// skipping episodes whose video has no published presentation. `None` when there is none.
pub async fn video_presentation(
    conn: &mut AnyConnection,
    title_id: &str,
    kind: TitleKind,
) -> Result<Option<String>, sqlx::Error> {
    const PUBLISHED: &str = "JOIN catalog_title_assets ta ON ta.title_id = e.id JOIN assets a ON a.id = ta.asset_id \
        WHERE ta.role IN ('feature', 'episode') AND a.status <> 'deleted' AND a.presentation_prefix IS NOT NULL";
    let sql = match kind {
        TitleKind::Movie | TitleKind::Episode => format!(
            "SELECT a.presentation_prefix FROM catalog_titles e {PUBLISHED} AND e.id = $1 ORDER BY ta.position LIMIT 1"
        ),
        TitleKind::Season => format!(
            "SELECT a.presentation_prefix FROM catalog_titles e {PUBLISHED} AND e.parent_id = $1 \
             ORDER BY CASE WHEN e.number = 0 THEN 1 ELSE 0 END, e.number, ta.position LIMIT 1"
        ),
        TitleKind::Series => format!(
            "SELECT a.presentation_prefix FROM catalog_titles s JOIN catalog_titles e ON e.parent_id = s.id \
             {PUBLISHED} AND s.parent_id = $1 ORDER BY CASE WHEN s.number = 0 THEN 1 ELSE 0 END, s.number, \
             CASE WHEN e.number = 0 THEN 1 ELSE 0 END, e.number, ta.position LIMIT 1"
        ),
    };
    sqlx::query_scalar::<_, String>(&sql).bind(title_id).fetch_optional(conn).await
}

pub async fn title_assets(conn: &mut AnyConnection, title_id: &str) -> Result<Vec<TitleAsset>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT ta.asset_id, ta.role, a.playback_policy FROM catalog_title_assets ta \
         LEFT JOIN assets a ON a.id = ta.asset_id WHERE ta.title_id = $1 ORDER BY ta.position",
    )
    .bind(title_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let role: String = row.try_get("role")?;
            Ok(TitleAsset {
                asset_id: row.try_get("asset_id")?,
                role: AssetRole::parse(&role).unwrap_or(AssetRole::Trailer),
                playback_policy: row.try_get("playback_policy")?,
            })
        })
        .collect()
}

pub async fn set_title_assets(
    conn: &mut AnyConnection,
    title_id: &str,
    assets: &[TitleAsset],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM catalog_title_assets WHERE title_id = $1").bind(title_id).execute(&mut *conn).await?;
    for (position, asset) in assets.iter().enumerate() {
        sqlx::query("INSERT INTO catalog_title_assets (title_id, position, asset_id, role) VALUES ($1, $2, $3, $4)")
            .bind(title_id)
            .bind(position as i64)
            .bind(&asset.asset_id)
            .bind(asset.role.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The owner of a control-API asset that is not deleted.
pub async fn asset_owner(conn: &mut AnyConnection, asset_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT owner_id FROM assets WHERE id = $1 AND status <> 'deleted'")
        .bind(asset_id)
        .fetch_optional(conn)
        .await
}

pub async fn person(conn: &mut AnyConnection, id: &str) -> Result<Option<Person>, sqlx::Error> {
    sqlx::query(
        "SELECT id, name, other_names_json, biography, owner_id, created_at, updated_at FROM catalog_people \
         WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(person_of)
    .transpose()
}

/// People in id (creation) order after `after`, at most `limit`.
pub async fn people(conn: &mut AnyConnection, after: Option<&str>, limit: i64) -> Result<Vec<Person>, sqlx::Error> {
    sqlx::query(
        "SELECT id, name, other_names_json, biography, owner_id, created_at, updated_at FROM catalog_people \
         WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(conn)
    .await?
    .iter()
    .map(person_of)
    .collect()
}

pub async fn insert_person(conn: &mut AnyConnection, person: &Person) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO catalog_people (id, name, other_names_json, biography, owner_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&person.id)
    .bind(&person.name)
    .bind(json_text(&person.other_names))
    .bind(&person.biography)
    .bind(&person.owner_id)
    .bind(person.created_at)
    .bind(person.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update_person(conn: &mut AnyConnection, person: &Person) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE catalog_people SET name = $2, other_names_json = $3, biography = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(&person.id)
    .bind(&person.name)
    .bind(json_text(&person.other_names))
    .bind(&person.biography)
    .bind(person.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_person(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM catalog_people WHERE id = $1").bind(id).execute(conn).await?;
    Ok(())
}

/// The titles crediting a person: (title id, title name), in title id order, each once.
pub async fn credited_titles(conn: &mut AnyConnection, person_id: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT t.id, t.title FROM catalog_credits c JOIN catalog_titles t ON t.id = c.title_id \
         WHERE c.person_id = $1 ORDER BY t.id",
    )
    .bind(person_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| Ok((row.try_get("id")?, row.try_get("title")?))).collect()
}

/// The ids of the people credited on a title.
pub async fn credited_people(conn: &mut AnyConnection, title_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT person_id FROM catalog_credits WHERE title_id = $1 ORDER BY person_id")
        .bind(title_id)
        .fetch_all(conn)
        .await
}

/// Whether a unique constraint refused a write (two seasons with one number written at once).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}
