//! An asset as values: its status (a state machine with `as_str()`), playback policy, and what the API shows.
//! No I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an asset is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetStatus {
    /// Created; its source is being uploaded.
    WaitingUpload,
    /// The source is complete; a transcode job waits for a worker.
    Queued,
    /// A worker is transcoding it.
    Processing,
    /// Its presentation is published and playable.
    Ready,
    /// Transcoding failed for good; `error` says why.
    Errored,
    /// Deleted with every stored object.
    Deleted,
}

impl AssetStatus {
    pub const ALL: [AssetStatus; 6] =
        [Self::WaitingUpload, Self::Queued, Self::Processing, Self::Ready, Self::Errored, Self::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WaitingUpload => "waiting_upload",
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Errored => "errored",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether an asset may go from `self` to `to`. Deleted is final; anything may be deleted; a finished
    /// asset (ready or errored) may be queued again (a re-transcode); a job that lost its worker goes from
    /// processing back to queued; an upload that expired unfinished leaves its asset errored.
    pub fn may_become(self, to: AssetStatus) -> bool {
        use AssetStatus::*;
        match (self, to) {
            (Deleted, _) => false,
            (_, Deleted) => true,
            (WaitingUpload, Queued) | (WaitingUpload, Errored) => true,
            (Queued, Processing) | (Queued, Errored) => true,
            (Processing, Ready) | (Processing, Errored) | (Processing, Queued) => true,
            (Ready, Queued) | (Errored, Queued) => true,
            _ => false,
        }
    }
}

/// Who may play an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlaybackPolicy {
    /// Anyone who asks for playback gets signed URLs.
    Public,
    /// Only its owner, admins and entitled viewers get signed URLs.
    #[default]
    Signed,
}

impl PlaybackPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Signed => "signed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "public" => Some(Self::Public),
            "signed" => Some(Self::Signed),
            _ => None,
        }
    }
}

/// Why an asset failed: a stable code and the transcoder's one-line reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AssetError {
    pub code: String,
    pub message: String,
}

/// An asset as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Asset {
    pub id: String,
    pub owner_id: String,
    pub status: AssetStatus,
    pub playback_policy: PlaybackPolicy,
    /// The ladder preset it is (or will be) transcoded with.
    pub preset: String,
    /// Where the farm fetches the source from, for an asset created with an `input_url` (assets are shown only
    /// to their owner and admins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_url: Option<String>,
    /// Progress while queued or processing: percent, stage, fps, ETA (from the worker's reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub progress: Option<serde_json::Value>,
    /// What the probe found in the source: container, streams, resolution, frame rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub source: Option<serde_json::Value>,
    /// The published renditions with their sizes and bitrates.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub renditions: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<AssetError>,
    /// The published presentation's poster: a frame the transcoder took from the video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster: Option<Poster>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// A presentation's poster image (JPEG), served by the origin and edges like the presentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Poster {
    /// Its storage key (the origin's path without the leading `/`): `media/{asset}/{attempt}/images/poster.jpg`.
    pub path: String,
    /// A URL anyone may fetch it with from the playback base URL, without a viewer's token: it is signed for
    /// the poster's folder only (not the media), valid for days and the same all day so browsers cache it.
    /// Given on reads when the API signs playback URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What a preset name may be, for error messages.
pub const PRESET_NAME_RULE: &str = "preset must be a preset name (1 to 64 letters, digits, - and _)";

/// Whether `name` has a preset name's shape (the worker that runs the job knows whether it exists).
pub fn is_preset_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Storage keys an asset owns: its uploaded source and everything under its presentation root.
pub mod keys {
    /// The folder every presentation of the asset is published under (one sub-folder per transcode attempt,
    /// so a re-transcode never overwrites what players are fetching).
    pub fn presentation_root(asset_id: &str) -> String {
        format!("media/{asset_id}/")
    }

    /// Where a presentation keeps its poster, relative to it: the transcoder publishes every presentation
    /// with one (`marquee_transcoder::POSTER_PATH`), in a folder of its own so a token can grant it alone.
    pub const POSTER: &str = "images/poster.jpg";

    /// The poster's key of the presentation published under `presentation_prefix` (ending with `/`).
    pub fn poster(presentation_prefix: &str) -> String {
        format!("{presentation_prefix}{POSTER}")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn statuses_round_trip_their_names() {
        for status in AssetStatus::ALL {
            assert_eq!(AssetStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(AssetStatus::parse("done"), None);
        for policy in [PlaybackPolicy::Public, PlaybackPolicy::Signed] {
            assert_eq!(PlaybackPolicy::parse(policy.as_str()), Some(policy));
        }
    }

    #[test]
    fn the_happy_path_is_allowed_and_skipping_is_not() {
        use AssetStatus::*;
        for (from, to) in [(WaitingUpload, Queued), (Queued, Processing), (Processing, Ready), (Ready, Queued)] {
            assert!(from.may_become(to), "{from:?} → {to:?}");
        }
        for (from, to) in [(WaitingUpload, Ready), (WaitingUpload, Processing), (Queued, Ready), (Ready, Processing)] {
            assert!(!from.may_become(to), "{from:?} → {to:?}");
        }
    }

    proptest! {
        /// Deleted is final, and every other status can be deleted.
        #[test]
        fn deleted_is_final(from in 0usize..6, to in 0usize..6) {
            let (from, to) = (AssetStatus::ALL[from], AssetStatus::ALL[to]);
            if from == AssetStatus::Deleted {
                prop_assert!(!from.may_become(to));
            } else if to == AssetStatus::Deleted {
                prop_assert!(from.may_become(to));
            }
            prop_assert!(!from.may_become(from), "no self-transitions");
        }

        /// Nothing reaches ready except from processing (a worker's completion).
        #[test]
        fn ready_only_from_processing(from in 0usize..6) {
            let from = AssetStatus::ALL[from];
            prop_assert_eq!(from.may_become(AssetStatus::Ready), from == AssetStatus::Processing);
        }
    }
}
