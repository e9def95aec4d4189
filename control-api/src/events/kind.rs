//! The event types an asset's life produces: the `type` of every event and webhook.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What happened. The same strings are the events' `type`, the webhooks' `type` and endpoints' filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// An asset was created (by an upload's creation, a one-shot upload or an `input_url`).
    #[serde(rename = "asset.created")]
    AssetCreated,
    /// Its source is completely uploaded (or fetched) and the asset is queued for transcoding.
    #[serde(rename = "upload.completed")]
    UploadCompleted,
    /// A worker started transcoding it.
    #[serde(rename = "asset.processing")]
    AssetProcessing,
    /// Its presentation is published and playable.
    #[serde(rename = "asset.ready")]
    AssetReady,
    /// Transcoding failed for good; the asset carries the error.
    #[serde(rename = "asset.errored")]
    AssetErrored,
    /// It was deleted, with every stored object.
    #[serde(rename = "asset.deleted")]
    AssetDeleted,
}

impl EventType {
    /// Every type, in the order of an asset's life.
    pub const ALL: [EventType; 6] = [
        EventType::AssetCreated,
        EventType::UploadCompleted,
        EventType::AssetProcessing,
        EventType::AssetReady,
        EventType::AssetErrored,
        EventType::AssetDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AssetCreated => "asset.created",
            EventType::UploadCompleted => "upload.completed",
            EventType::AssetProcessing => "asset.processing",
            EventType::AssetReady => "asset.ready",
            EventType::AssetErrored => "asset.errored",
            EventType::AssetDeleted => "asset.deleted",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?} (known: asset.created, upload.completed, asset.processing, asset.ready, asset.errored, asset.deleted)")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        EventType::ALL.into_iter().find(|kind| kind.as_str() == text).ok_or_else(|| UnknownEventType(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_json() {
        for kind in EventType::ALL {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(serde_json::from_value::<EventType>(kind.as_str().into()).unwrap(), kind);
        }
    }

    #[test]
    fn unknown_names_are_refused_by_name() {
        let error = "asset.exploded".parse::<EventType>().unwrap_err();
        assert!(error.to_string().contains("\"asset.exploded\""), "{error}");
        assert!("Asset.Ready".parse::<EventType>().is_err(), "names are exact");
    }
}
