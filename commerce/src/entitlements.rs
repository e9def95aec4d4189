//! The control API's [`Entitlements`] hook: playback asks it for signed assets the caller does not own.

use std::sync::Arc;

use http::StatusCode;
use marquee_control_api::assets::model::Asset;
use marquee_control_api::playback::{Entitlements, Viewer};
use marquee_control_api::{ApiError, Database};

use crate::domain::entitlement::{entitled_to_any, Grant};
use crate::state::Core;
use crate::store;

/// Entitled viewers watch; others get 403 with the [`crate::domain::entitlement::Denial`]'s code. An asset in
/// no title is not for sale: a plain `forbidden`. A rental's first play starts its window.
#[derive(Debug, Clone)]
pub struct CommerceEntitlements {
    pub(crate) core: Arc<Core>,
}

#[async_trait::async_trait]
impl Entitlements for CommerceEntitlements {
    async fn may_watch(&self, db: &Database, viewer: &Viewer<'_>, asset: &Asset) -> Result<bool, ApiError> {
        let titles = self.core.titles.titles_of_asset(&asset.id).await?;
        if titles.is_empty() {
            return Ok(false);
        }
        let holdings = store::holdings(db.pool(), &viewer.caller.user_id).await?;
        // The API's clock, read once for the request (the same time playback signs with).
        let now = viewer.now_ms;
        match entitled_to_any(&holdings, &titles, now, viewer.region) {
            None => Ok(false),
            Some(Ok(Grant::Rental { id, first_play: true })) => {
                store::first_play(db.pool(), &id, now).await?;
                tracing::info!(rental = %id, "Rental's watch window started.");
                Ok(true)
            }
            Some(Ok(_)) => Ok(true),
            Some(Err(denial)) => Err(ApiError::new(StatusCode::FORBIDDEN, denial.code(), denial.message())),
        }
    }
}
