//! The OpenAPI 3.1 document, generated from the handlers and types by utoipa and served at `/openapi.json`.

use axum::extract::State;
use axum::response::IntoResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::assets::routes as assets;
use crate::auth::routes as auth;
use crate::error::{ErrorBody, ErrorDetail};
use crate::events;
use crate::events::routes as webhooks;
use crate::farm::routes as farm;
use crate::layer_responses::LayerResponses;
use crate::satellite::Satellites;
use crate::uploads::routes as uploads;

/// Every endpoint, schema and error of the API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Marquee control API", description = "Uploads, assets, transcode jobs, events and playback URLs."),
    paths(
        auth::login, auth::refresh, auth::logout, auth::register, auth::me, auth::change_password,
        auth::create_user, auth::list_users, auth::update_user,
        auth::create_api_key, auth::list_api_keys, auth::revoke_api_key,
        assets::list, assets::read, assets::delete,
        crate::assets::from_url::create, crate::uploads::oneshot::upload,
        uploads::options, uploads::create, uploads::head, uploads::patch, uploads::terminate,
        crate::playback::routes::playback,
        webhooks::list_events, webhooks::redeliver_event, webhooks::create_webhook, webhooks::list_webhooks,
        webhooks::get_webhook, webhooks::delete_webhook, webhooks::list_deliveries, webhooks::get_delivery,
        webhooks::redeliver,
        farm::register, farm::list, farm::claim, farm::drain, farm::heartbeat, farm::complete, farm::fail,
        farm::abort, farm::cancel, farm::transcode,
    ),
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
        events::Attempt,
        webhooks::DeliveryList,
        webhooks::EndpointList,
        webhooks::DeliveryPage,
        webhooks::DeliveryDetail,
        farm::WorkerView,
        farm::RunningJob,
        farm::TranscodeRequest,
        marquee_farm_protocol::RegisterWorker,
        marquee_farm_protocol::RegisteredWorker,
        marquee_farm_protocol::ClaimRequest,
        marquee_farm_protocol::ClaimedJob,
        marquee_farm_protocol::JobSource,
        marquee_farm_protocol::JobProgress,
        marquee_farm_protocol::Heartbeat,
        marquee_farm_protocol::HeartbeatAck,
        marquee_farm_protocol::Rendition,
        marquee_farm_protocol::CompleteJob,
        marquee_farm_protocol::FailJob,
        marquee_farm_protocol::FailAck,
        marquee_farm_protocol::AbortJob
    )),
    modifiers(&BearerAuth, &LayerResponses)
)]
pub struct ApiDoc;

/// The `bearer` security scheme: an access token from /v1/auth/login or an API key.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An access token from POST /v1/auth/login, or an API key (mqk_…)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "worker",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A worker's token (mqw_…) from POST /v1/workers"))
                    .build(),
            ),
        );
    }
}

/// The served document: the control API's and every mounted satellite's, made (and written as JSON) once when the
/// router is built.
#[derive(Debug, Clone)]
pub struct Document(bytes::Bytes);

impl Document {
    /// The control API's document with every satellite's paths and schemas merged in, each satellite's
    /// operations listing the answers the API's layers give (as the control API's own do).
    pub fn of(satellites: &Satellites) -> Self {
        let mut document = ApiDoc::openapi();
        for satellite in satellites.iter() {
            let mut part = satellite.openapi();
            LayerResponses.modify(&mut part);
            document.merge(part);
        }
        Self(serde_json::to_vec(&document).expect("an OpenAPI document is JSON").into())
    }
}

/// `GET /openapi.json`.
pub async fn document(State(document): State<Document>) -> impl IntoResponse {
    ([(http::header::CONTENT_TYPE, "application/json")], document.0)
}
