//! Where commerce learns about titles: the catalog implements [`Titles`] (the lead glues it in `marquee api`);
//! [`InMemoryTitles`] serves tests.

use std::collections::HashMap;
use std::sync::Mutex;

use marquee_control_api::ApiError;

pub use crate::domain::title::{AvailabilityWindow, TitleFacts};

/// The titles an asset plays in, and a title by id.
#[async_trait::async_trait]
pub trait Titles: Send + Sync + std::fmt::Debug {
    /// Every title the asset is the feature (or an episode) of; empty for an asset in no title.
    async fn titles_of_asset(&self, asset_id: &str) -> Result<Vec<TitleFacts>, ApiError>;
    async fn title(&self, title_id: &str) -> Result<Option<TitleFacts>, ApiError>;
}

/// Titles kept in memory, with the assets that play in them.
#[derive(Debug, Default)]
pub struct InMemoryTitles {
    titles: Mutex<HashMap<String, (TitleFacts, Vec<String>)>>,
}

impl InMemoryTitles {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `title`, played by `assets`.
    pub fn put(&self, title: TitleFacts, assets: &[&str]) {
        let assets = assets.iter().map(|a| a.to_string()).collect();
        self.titles.lock().unwrap_or_else(|e| e.into_inner()).insert(title.id.clone(), (title, assets));
    }
}

#[async_trait::async_trait]
impl Titles for InMemoryTitles {
    async fn titles_of_asset(&self, asset_id: &str) -> Result<Vec<TitleFacts>, ApiError> {
        let titles = self.titles.lock().unwrap_or_else(|e| e.into_inner());
        let mut found: Vec<TitleFacts> = titles
            .values()
            .filter(|(_, assets)| assets.iter().any(|a| a == asset_id))
            .map(|(t, _)| t.clone())
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }

    async fn title(&self, title_id: &str) -> Result<Option<TitleFacts>, ApiError> {
        Ok(self.titles.lock().unwrap_or_else(|e| e.into_inner()).get(title_id).map(|(t, _)| t.clone()))
    }
}
