//! The [`IndexEntry`] of a title or a person, read in the transaction of the change that calls the index, and
//! the fan-out of one change to every entry it touches (a person's new name is in each credited title's entry;
//! a series' new title is in its seasons' and episodes' entries).

use sqlx::AnyConnection;

use crate::availability::visible_span;
use crate::index::{CatalogIndex, EntryKind, IndexEntry};
use crate::store::{self, Person, Title};

/// A title's entry: its names (an episode is also found by its season's and series' titles), synopsis,
/// credited names, genres, and the span its windows allow.
pub async fn title_entry(conn: &mut AnyConnection, title: &Title) -> Result<IndexEntry, sqlx::Error> {
    let mut other_names: Vec<String> = title.original_title.iter().cloned().collect();
    for ancestor in store::ancestors(conn, title).await? {
        other_names.push(ancestor.title);
    }
    let related = store::credits(conn, &title.id).await?.into_iter().map(|credit| credit.name).collect();
    let (visible_from, visible_until) = visible_span(&store::windows(conn, &title.id).await?);
    Ok(IndexEntry {
        id: title.id.clone(),
        kind: EntryKind::Title,
        name: title.title.clone(),
        other_names,
        text: title.synopsis.clone(),
        related,
        genres: title.genres.clone(),
        title_kind: Some(title.kind.as_str().to_owned()),
        release_year: title.release_year.and_then(|year| i32::try_from(year).ok()),
        popularity: 0.0,
        visible_from,
        visible_until,
    })
}

/// A person's entry: names, biography and the titles credited.
pub async fn person_entry(conn: &mut AnyConnection, person: &Person) -> Result<IndexEntry, sqlx::Error> {
    let related = store::credited_titles(conn, &person.id).await?.into_iter().map(|(_, name)| name).collect();
    Ok(IndexEntry {
        id: person.id.clone(),
        kind: EntryKind::Person,
        name: person.name.clone(),
        other_names: person.other_names.clone(),
        text: person.biography.clone(),
        related,
        genres: Vec::new(),
        title_kind: None,
        release_year: None,
        popularity: 0.0,
        visible_from: None,
        visible_until: None,
    })
}

/// Tells the index of the title `id` (if it still exists) and of its seasons and episodes.
pub async fn title_and_descendants(
    conn: &mut AnyConnection,
    index: &dyn CatalogIndex,
    id: &str,
) -> Result<(), sqlx::Error> {
    let Some(title) = store::title(conn, id).await? else { return Ok(()) };
    let mut pending = vec![title];
    while let Some(title) = pending.pop() {
        let entry = title_entry(conn, &title).await?;
        index.upsert(conn, &entry).await?;
        pending.extend(store::children(conn, &title.id).await?);
    }
    Ok(())
}

/// Tells the index of the title `id` only.
pub async fn title(conn: &mut AnyConnection, index: &dyn CatalogIndex, id: &str) -> Result<(), sqlx::Error> {
    if let Some(title) = store::title(conn, id).await? {
        let entry = title_entry(conn, &title).await?;
        index.upsert(conn, &entry).await?;
    }
    Ok(())
}

/// Tells the index of each person in `ids` that still exists.
pub async fn people(conn: &mut AnyConnection, index: &dyn CatalogIndex, ids: &[String]) -> Result<(), sqlx::Error> {
    for id in ids {
        if let Some(person) = store::person(conn, id).await? {
            let entry = person_entry(conn, &person).await?;
            index.upsert(conn, &entry).await?;
        }
    }
    Ok(())
}
