//! The `/v1` routes, one module of handlers per resource.

use axum::Router;

use crate::state::AppState;

/// Every `/v1` route.
pub fn v1() -> Router<AppState> {
    Router::new()
        .merge(crate::auth::routes::routes())
        .merge(crate::assets::routes::routes())
        .merge(crate::uploads::routes::routes())
        .merge(crate::uploads::oneshot::routes())
        .merge(crate::playback::routes::routes())
        .merge(crate::events::routes::routes())
        .merge(crate::farm::routes::routes())
}
