//! What can go wrong managing endpoints and deliveries, and the API answer for each.

use crate::error::ApiError;

use super::endpoint_rules::{FilterProblem, InvalidEndpointUrl};

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error(transparent)]
    InvalidUrl(#[from] InvalidEndpointUrl),
    #[error(transparent)]
    InvalidFilter(#[from] FilterProblem),
    /// No such thing, or not the caller's.
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

impl From<EventsError> for ApiError {
    fn from(error: EventsError) -> Self {
        match error {
            EventsError::InvalidUrl(e) => ApiError::bad_request("invalid_webhook_url", e.to_string()),
            EventsError::InvalidFilter(e) => ApiError::bad_request("invalid_event_types", e.to_string()),
            EventsError::NotFound(what) => ApiError::not_found(what),
            EventsError::Database(e) => ApiError::internal("database error", e),
            EventsError::Client(e) => ApiError::internal("webhook client error", e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::endpoint_rules::endpoint_url;

    #[test]
    fn client_mistakes_are_400_with_their_own_codes() {
        let error: ApiError = EventsError::from(endpoint_url("ftp://x").unwrap_err()).into();
        assert_eq!((error.status.as_u16(), error.code), (400, "invalid_webhook_url"));
        let error: ApiError = EventsError::from(FilterProblem::Empty).into();
        assert_eq!((error.status.as_u16(), error.code), (400, "invalid_event_types"));
        let error: ApiError = EventsError::NotFound("webhook endpoint").into();
        assert_eq!((error.status.as_u16(), error.message.as_str()), (404, "no such webhook endpoint"));
    }
}
