//! What the catalog tells a search index. Every change to a title or a person calls the mounted
//! [`CatalogIndex`] inside the transaction that makes the change, so the index and the catalog never
//! disagree after a crash. The search satellite implements it; a catalog mounted without search uses
//! [`NoIndex`].

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Title,
    Person,
}

/// One title or person as a search index sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The title's or person's id.
    pub id: String,
    pub kind: EntryKind,
    /// The title, or the person's name.
    pub name: String,
    /// Other names it is found by: a title's original title, an episode's series title; a person's other
    /// spellings.
    pub other_names: Vec<String>,
    /// A title's synopsis or a person's biography.
    pub text: String,
    /// A title's cast and crew names; a person's credited titles.
    pub related: Vec<String>,
    pub genres: Vec<String>,
    /// A title's kind (`movie`, `series`, `season`, `episode`); `None` for people.
    pub title_kind: Option<String>,
    pub release_year: Option<i32>,
    /// A tie-break between equally good matches: higher first (views in the last weeks, when analytics
    /// reports them).
    pub popularity: f64,
    /// When the entry may be shown, in Unix milliseconds: the union of a title's availability windows
    /// (`None`: unbounded on that side). People are always visible.
    pub visible_from: Option<i64>,
    pub visible_until: Option<i64>,
}

/// A search index the catalog keeps current, in the catalog's own transactions.
#[async_trait::async_trait]
pub trait CatalogIndex: Send + Sync + std::fmt::Debug {
    /// Adds `entry` or replaces the entry with its id.
    async fn upsert(&self, connection: &mut sqlx::AnyConnection, entry: &IndexEntry) -> Result<(), sqlx::Error>;

    /// Removes the entry with `id`, if there is one.
    async fn remove(&self, connection: &mut sqlx::AnyConnection, id: &str) -> Result<(), sqlx::Error>;
}

/// No search index: the catalog mounted alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoIndex;

#[async_trait::async_trait]
impl CatalogIndex for NoIndex {
    async fn upsert(&self, _: &mut sqlx::AnyConnection, _: &IndexEntry) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn remove(&self, _: &mut sqlx::AnyConnection, _: &str) -> Result<(), sqlx::Error> {
        Ok(())
    }
}
