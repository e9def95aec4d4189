//! The OpenAPI 3.1 document, generated from the handlers and types by utoipa and served at `/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use crate::error::{ErrorBody, ErrorDetail};
use crate::events;

/// Every endpoint, schema and error of the API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Marquee control API", description = "Uploads, assets, transcode jobs, events and playback URLs."),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        events::Event,
        events::EventPage,
        events::EventType,
        events::NewEndpoint,
        events::Endpoint,
        events::CreatedEndpoint,
        events::Delivery,
        events::DeliveryState,
        events::Attempt
    ))
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
