//! What the home page's "most watched this week" row is made from. The viewing-analytics satellite
//! implements [`Popularity`] from its aggregates when it is mounted; a catalog mounted without it uses
//! [`NoPopularity`], and the row is left out.

/// Which titles were watched most over a time span.
#[async_trait::async_trait]
pub trait Popularity: Send + Sync + std::fmt::Debug {
    /// The ids of the titles watched most between `from_ms` and `until_ms` (Unix milliseconds), most first,
    /// at most `limit`. A failure is the implementation's to log; it answers with what it has (an empty list
    /// leaves the row out rather than failing the home page).
    async fn most_watched(&self, from_ms: i64, until_ms: i64, limit: usize) -> Vec<String>;
}

/// No viewing figures: nothing is most watched.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPopularity;

#[async_trait::async_trait]
impl Popularity for NoPopularity {
    async fn most_watched(&self, _: i64, _: i64, _: usize) -> Vec<String> {
        Vec::new()
    }
}
