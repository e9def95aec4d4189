//! Progress of a running transcode, as events a terminal bar or a farm worker can consume.

use serde::Serialize;

/// One thing that happened during a transcode. Serialised as one JSON object per line for machines
/// (`{"event":"progress",...}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// The source was probed and the ladder planned.
    Started { input: String, duration_s: Option<f64>, encoder: &'static str, renditions: Vec<String> },
    /// Periodic position update.
    Progress {
        /// Seconds of the input every rendition has encoded.
        position_s: f64,
        duration_s: Option<f64>,
        /// Frames per second of the top rung since the start.
        fps: f64,
        /// Input seconds per wall-clock second.
        speed: f64,
    },
    /// The manifests are being written.
    Publishing { segments: usize },
    /// Everything is published.
    Finished { output: String, duration_s: f64, wall_s: f64, segments: usize },
}

impl ProgressEvent {
    /// The event name, also its `event` field.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Started { .. } => "started",
            Self::Progress { .. } => "progress",
            Self::Publishing { .. } => "publishing",
            Self::Finished { .. } => "finished",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_their_name() {
        let e = ProgressEvent::Progress { position_s: 1.5, duration_s: Some(10.0), fps: 30.0, speed: 1.0 };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"event":"progress","position_s":1.5,"duration_s":10.0,"fps":30.0,"speed":1.0}"#);
        assert!(json.contains(e.as_str()));
    }
}
