//! What commerce and playback ask the catalog about an asset: the titles that play it, with what entitlement
//! and availability rules need (kind, tags, genres, windows, and the same for the season and series above).

use marquee_control_api::Database;

use crate::availability::{availability_of_chain, Availability, Window};
use crate::model::{AssetRole, TitleKind};
use crate::store;

/// A title as entitlement rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleFacts {
    pub title_id: String,
    /// The user who owns it (and may sell it).
    pub owner_id: String,
    pub kind: TitleKind,
    /// What the asset is to this title (absent for the ancestors in [`Self::ancestors`]).
    pub role: Option<AssetRole>,
    pub tags: Vec<String>,
    pub genres: Vec<String>,
    pub windows: Vec<Window>,
    /// The season and series above it, nearest first, with their own facts.
    pub ancestors: Vec<TitleFacts>,
}

impl TitleFacts {
    /// The ids of the season and series above it, nearest first.
    pub fn parent_ids(&self) -> Vec<&str> {
        self.ancestors.iter().map(|a| a.title_id.as_str()).collect()
    }

    /// Whether it may be watched at `now_ms` in `region`: its windows and its ancestors' (see
    /// [`crate::availability::availability_of_chain`]).
    pub fn availability(&self, now_ms: i64, region: Option<&str>) -> Availability {
        let mut chain: Vec<&[Window]> = vec![&self.windows];
        chain.extend(self.ancestors.iter().map(|a| a.windows.as_slice()));
        availability_of_chain(&chain, now_ms, region)
    }

    /// Its tags and its ancestors' (a tag on a series covers its episodes).
    pub fn all_tags(&self) -> Vec<&str> {
        let mut tags: Vec<&str> = Vec::new();
        for tag in self.tags.iter().chain(self.ancestors.iter().flat_map(|a| a.tags.iter())) {
            if !tags.contains(&tag.as_str()) {
                tags.push(tag);
            }
        }
        tags
    }
}

/// The titles that play `asset_id` (a movie's feature, an episode's video, a trailer), in title id order.
pub async fn titles_of_asset(db: &Database, asset_id: &str) -> Result<Vec<TitleFacts>, sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    let links: Vec<(String, String)> = sqlx::query_as(
        "SELECT title_id, role FROM catalog_title_assets WHERE asset_id = $1 ORDER BY title_id, position",
    )
    .bind(asset_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut facts = Vec::with_capacity(links.len());
    for (title_id, role) in links {
        if let Some(mut title) = facts_of(&mut conn, &title_id).await? {
            title.role = AssetRole::parse(&role);
            facts.push(title);
        }
    }
    Ok(facts)
}

/// The title `title_id` as entitlement rules see it (no asset role), or `None` if there is no such title.
pub async fn title_facts(db: &Database, title_id: &str) -> Result<Option<TitleFacts>, sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    facts_of(&mut conn, title_id).await
}

async fn facts_of(conn: &mut sqlx::AnyConnection, title_id: &str) -> Result<Option<TitleFacts>, sqlx::Error> {
    let Some(title) = store::title(conn, title_id).await? else { return Ok(None) };
    let mut ancestors = Vec::new();
    for ancestor in store::ancestors(conn, &title).await? {
        let windows = store::windows(conn, &ancestor.id).await?;
        ancestors.push(TitleFacts {
            title_id: ancestor.id,
            owner_id: ancestor.owner_id,
            kind: ancestor.kind,
            role: None,
            tags: ancestor.tags,
            genres: ancestor.genres,
            windows,
            ancestors: Vec::new(),
        });
    }
    let windows = store::windows(conn, &title.id).await?;
    Ok(Some(TitleFacts {
        title_id: title.id,
        owner_id: title.owner_id,
        kind: title.kind,
        role: None,
        tags: title.tags,
        genres: title.genres,
        windows,
        ancestors,
    }))
}

/// A title's genres and credited people: what content similarity compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleFeatures {
    pub title_id: String,
    pub genres: Vec<String>,
    /// The ids of the people credited on it, in billing order.
    pub people: Vec<String>,
}

/// Every title that has genres or credits, with them, in title id order.
pub async fn title_features(db: &Database) -> Result<Vec<TitleFeatures>, sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    let genres: Vec<(String, String)> =
        sqlx::query_as("SELECT title_id, genre FROM catalog_title_genres ORDER BY title_id, genre")
            .fetch_all(&mut *conn)
            .await?;
    let people: Vec<(String, String)> =
        sqlx::query_as("SELECT title_id, person_id FROM catalog_credits ORDER BY title_id, position")
            .fetch_all(&mut *conn)
            .await?;
    let mut features: std::collections::BTreeMap<String, TitleFeatures> = std::collections::BTreeMap::new();
    let new = |title_id: &str| TitleFeatures { title_id: title_id.to_owned(), genres: Vec::new(), people: Vec::new() };
    for (title_id, genre) in genres {
        features.entry(title_id.clone()).or_insert_with(|| new(&title_id)).genres.push(genre);
    }
    for (title_id, person) in people {
        let title = features.entry(title_id.clone()).or_insert_with(|| new(&title_id));
        if !title.people.contains(&person) {
            title.people.push(person);
        }
    }
    Ok(features.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(id: &str, tags: &[&str], windows: Vec<Window>, ancestors: Vec<TitleFacts>) -> TitleFacts {
        TitleFacts {
            title_id: id.into(),
            owner_id: "u1".into(),
            kind: TitleKind::Episode,
            role: None,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            genres: Vec::new(),
            windows,
            ancestors,
        }
    }

    #[test]
    fn an_episode_carries_its_series_tags_and_windows() {
        let later = Window { starts_at: Some(100), ends_at: None, regions: Vec::new() };
        let series = facts("series", &["premium", "kids"], vec![later], Vec::new());
        let season = facts("season", &["kids"], Vec::new(), Vec::new());
        let episode = facts("episode", &["pilot"], Vec::new(), vec![season, series]);
        assert_eq!(episode.parent_ids(), vec!["season", "series"]);
        assert_eq!(episode.all_tags(), vec!["pilot", "kids", "premium"]);
        assert_eq!(episode.availability(50, Some("US")), Availability::NotYetAvailable { from: 100 });
        assert_eq!(episode.availability(100, Some("US")), Availability::Available);
    }
}
