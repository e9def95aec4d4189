//! Player beacons: the events a player sends under a view id, and their validation. Each event of a batch is
//! accepted or rejected on its own, with a reason from a fixed list (the same strings are the `reason` label of
//! `marquee_analytics_beacons_rejected_total`). Pure: values in, values out.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Ids (view, asset, title, anonymous viewer) are 1 to this many characters of `[A-Za-z0-9._:-]`.
pub const MAX_ID_LEN: usize = 64;
/// Renditions and error codes are at most this many bytes of printable text.
pub const MAX_TEXT_LEN: usize = 64;
/// Positions and media durations above a week are absurd (a long live stream's DVR window is hours).
pub const MAX_POSITION_MS: i64 = 7 * 24 * 3_600_000;
/// Bitrates from 1 kb/s…
pub const MIN_BITRATE_BPS: i64 = 1_000;
/// …to 1 Gb/s (8K HDR streams are about 100 Mb/s).
pub const MAX_BITRATE_BPS: i64 = 1_000_000_000;
/// Events older than a day are refused: players keep unsent beacons for minutes, not days.
pub const MAX_AGE_MS: i64 = 24 * 3_600_000;
/// Events this far ahead of the server's clock are refused (a player's clock may run a little fast).
pub const MAX_SKEW_MS: i64 = 5 * 60_000;

/// What happened in a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The viewer asked to play (the startup clock starts).
    ViewStart,
    /// The first frame is on screen (the startup clock stops).
    FirstFrame,
    /// Periodic, with the position: playing time is counted from how far the position moved.
    Heartbeat,
    /// Playback stalled for want of data.
    RebufferStart,
    /// Playback resumed after a stall.
    RebufferEnd,
    /// The player switched rendition; `bitrate_bps` is the new one.
    RenditionChange,
    /// A playback error (`error_code`).
    Error,
    /// The viewer left or the video ended.
    ViewEnd,
}

impl EventKind {
    pub const ALL: [Self; 8] = [
        Self::ViewStart,
        Self::FirstFrame,
        Self::Heartbeat,
        Self::RebufferStart,
        Self::RebufferEnd,
        Self::RenditionChange,
        Self::Error,
        Self::ViewEnd,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ViewStart => "view_start",
            Self::FirstFrame => "first_frame",
            Self::Heartbeat => "heartbeat",
            Self::RebufferStart => "rebuffer_start",
            Self::RebufferEnd => "rebuffer_end",
            Self::RenditionChange => "rendition_change",
            Self::Error => "error",
            Self::ViewEnd => "view_end",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Why an event was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not a JSON object of the beacon's fields (a field of the wrong type, an unknown field).
    InvalidEvent,
    /// `type` is not one of the event kinds.
    UnknownType,
    /// A field this kind of event needs is missing.
    MissingField,
    /// An id is empty, too long, or has characters outside `[A-Za-z0-9._:-]`.
    InvalidId,
    /// A text field is too long or has control characters.
    InvalidText,
    /// A position or media duration is negative or above a week.
    AbsurdPosition,
    /// A bitrate outside 1 kb/s to 1 Gb/s.
    AbsurdBitrate,
    /// `at` is more than a day ago.
    TooOld,
    /// `at` is more than five minutes ahead of the server's clock.
    InTheFuture,
}

impl RejectReason {
    pub const ALL: [Self; 9] = [
        Self::InvalidEvent,
        Self::UnknownType,
        Self::MissingField,
        Self::InvalidId,
        Self::InvalidText,
        Self::AbsurdPosition,
        Self::AbsurdBitrate,
        Self::TooOld,
        Self::InTheFuture,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEvent => "invalid_event",
            Self::UnknownType => "unknown_type",
            Self::MissingField => "missing_field",
            Self::InvalidId => "invalid_id",
            Self::InvalidText => "invalid_text",
            Self::AbsurdPosition => "absurd_position",
            Self::AbsurdBitrate => "absurd_bitrate",
            Self::TooOld => "too_old",
            Self::InTheFuture => "in_the_future",
        }
    }
}

/// A refused event: why, and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: RejectReason,
    pub message: String,
}

impl Rejection {
    fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }
}

/// One event as a player sends it (the `events` of `POST /v1/beacons`).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BeaconInput {
    /// The view (one playback session) this event belongs to: the player makes one per play.
    pub view_id: String,
    /// `view_start`, `first_frame`, `heartbeat`, `rebuffer_start`, `rebuffer_end`, `rendition_change`,
    /// `error`, `view_end`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened, by the player's clock: Unix milliseconds.
    pub at: i64,
    /// The asset played.
    pub asset_id: String,
    /// The catalog title the asset is played as, if any: aggregates and recommendations per title use it.
    #[serde(default)]
    pub title_id: Option<String>,
    /// The playhead, in milliseconds from the start of the media (needed by `heartbeat`).
    #[serde(default)]
    pub position_ms: Option<i64>,
    /// The media's duration in milliseconds, when the player knows it (a view is finished at 90 %).
    #[serde(default)]
    pub duration_ms: Option<i64>,
    /// The bitrate of the rendition playing (needed by `rendition_change`).
    #[serde(default)]
    pub bitrate_bps: Option<i64>,
    /// The rendition's name (`720p`).
    #[serde(default)]
    pub rendition: Option<String>,
    /// What failed (needed by `error`).
    #[serde(default)]
    pub error_code: Option<String>,
    /// A stable anonymous id of the device, for unique viewers when the player is not signed in.
    #[serde(default)]
    pub viewer: Option<String>,
}

/// An accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beacon {
    pub view_id: String,
    pub kind: EventKind,
    pub at: i64,
    pub asset_id: String,
    pub title_id: Option<String>,
    pub position_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub bitrate_bps: Option<i64>,
    pub rendition: Option<String>,
    pub error_code: Option<String>,
    /// Who watched: `user:ID` for a signed-in player, `device:ID` for an anonymous one that sent `viewer`,
    /// else `view:VIEW_ID` (each view its own viewer). See [`viewer_key`].
    pub viewer_key: String,
}

/// Who watched, as stored: a signed-in user, else the player's anonymous device id, else the view itself.
pub fn viewer_key(user_id: Option<&str>, device: Option<&str>, view_id: &str) -> String {
    match (user_id, device) {
        (Some(user), _) => format!("user:{user}"),
        (None, Some(device)) => format!("device:{device}"),
        (None, None) => format!("view:{view_id}"),
    }
}

fn check_id(field: &str, value: &str) -> Result<(), Rejection> {
    let fine = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if fine {
        Ok(())
    } else {
        Err(Rejection::new(
            RejectReason::InvalidId,
            format!("{field} must be 1 to {MAX_ID_LEN} characters of A-Z, a-z, 0-9, '.', '_', ':', '-'"),
        ))
    }
}

fn check_text(field: &str, value: &str) -> Result<(), Rejection> {
    if value.is_empty() || value.len() > MAX_TEXT_LEN || value.chars().any(char::is_control) {
        Err(Rejection::new(
            RejectReason::InvalidText,
            format!("{field} must be 1 to {MAX_TEXT_LEN} bytes of text without control characters"),
        ))
    } else {
        Ok(())
    }
}

fn check_position(field: &str, value: Option<i64>) -> Result<(), Rejection> {
    match value {
        Some(ms) if !(0..=MAX_POSITION_MS).contains(&ms) => Err(Rejection::new(
            RejectReason::AbsurdPosition,
            format!("{field} must be between 0 and {MAX_POSITION_MS} ms (a week); it is {ms}"),
        )),
        _ => Ok(()),
    }
}

fn require<T>(kind: EventKind, field: &str, value: &Option<T>) -> Result<(), Rejection> {
    if value.is_some() {
        Ok(())
    } else {
        Err(Rejection::new(RejectReason::MissingField, format!("a {} event needs {field}", kind.as_str())))
    }
}

/// Checks one event of a batch, as the server at `now_ms` sees it, for a player signed in as `user_id` (or
/// anonymous): the accepted [`Beacon`] or why not.
pub fn validate(event: &serde_json::Value, now_ms: i64, user_id: Option<&str>) -> Result<Beacon, Rejection> {
    let input = BeaconInput::deserialize(event).map_err(|e| {
        let message = if event.is_object() {
            format!("the event is not valid: {e}")
        } else {
            "each event must be a JSON object".to_string()
        };
        Rejection::new(RejectReason::InvalidEvent, message)
    })?;
    validate_input(input, now_ms, user_id)
}

/// [`validate`] after parsing.
pub fn validate_input(input: BeaconInput, now_ms: i64, user_id: Option<&str>) -> Result<Beacon, Rejection> {
    let kind = EventKind::parse(&input.kind).ok_or_else(|| {
        let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        Rejection::new(
            RejectReason::UnknownType,
            format!("type must be one of {}; it is {:?}", kinds.join(", "), truncated(&input.kind)),
        )
    })?;
    check_id("view_id", &input.view_id)?;
    check_id("asset_id", &input.asset_id)?;
    if let Some(title) = &input.title_id {
        check_id("title_id", title)?;
    }
    if let Some(viewer) = &input.viewer {
        check_id("viewer", viewer)?;
    }
    if let Some(rendition) = &input.rendition {
        check_text("rendition", rendition)?;
    }
    if let Some(code) = &input.error_code {
        check_text("error_code", code)?;
    }
    if input.at < now_ms.saturating_sub(MAX_AGE_MS) {
        return Err(Rejection::new(RejectReason::TooOld, "at is more than a day ago (Unix milliseconds expected)"));
    }
    if input.at > now_ms.saturating_add(MAX_SKEW_MS) {
        return Err(Rejection::new(
            RejectReason::InTheFuture,
            "at is more than five minutes ahead of the server's clock (Unix milliseconds expected)",
        ));
    }
    check_position("position_ms", input.position_ms)?;
    check_position("duration_ms", input.duration_ms)?;
    if let Some(bps) = input.bitrate_bps {
        if !(MIN_BITRATE_BPS..=MAX_BITRATE_BPS).contains(&bps) {
            return Err(Rejection::new(
                RejectReason::AbsurdBitrate,
                format!("bitrate_bps must be between {MIN_BITRATE_BPS} and {MAX_BITRATE_BPS}; it is {bps}"),
            ));
        }
    }
    match kind {
        EventKind::Heartbeat => require(kind, "position_ms", &input.position_ms)?,
        EventKind::RenditionChange => require(kind, "bitrate_bps", &input.bitrate_bps)?,
        EventKind::Error => require(kind, "error_code", &input.error_code)?,
        _ => {}
    }
    let viewer_key = viewer_key(user_id, input.viewer.as_deref(), &input.view_id);
    Ok(Beacon {
        view_id: input.view_id,
        kind,
        at: input.at,
        asset_id: input.asset_id,
        title_id: input.title_id,
        position_ms: input.position_ms,
        duration_ms: input.duration_ms,
        bitrate_bps: input.bitrate_bps,
        rendition: input.rendition,
        error_code: input.error_code,
        viewer_key,
    })
}

/// A client's text quoted back in a message, cut to a sane length.
fn truncated(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;

    fn heartbeat() -> serde_json::Value {
        json!({"view_id": "v1", "type": "heartbeat", "at": NOW - 1000, "asset_id": "a1", "position_ms": 5000})
    }

    fn reason(event: serde_json::Value) -> RejectReason {
        validate(&event, NOW, None).unwrap_err().reason
    }

    fn with(field: &str, value: serde_json::Value) -> serde_json::Value {
        let mut event = heartbeat();
        event[field] = value;
        event
    }

    #[test]
    fn a_good_event_is_accepted_with_its_viewer() {
        let beacon = validate(&heartbeat(), NOW, Some("u7")).unwrap();
        assert_eq!(
            (beacon.kind, beacon.position_ms, beacon.viewer_key.as_str()),
            (EventKind::Heartbeat, Some(5000), "user:u7")
        );
        let anonymous = validate(&with("viewer", json!("device-9")), NOW, None).unwrap();
        assert_eq!(anonymous.viewer_key, "device:device-9");
        assert_eq!(validate(&heartbeat(), NOW, None).unwrap().viewer_key, "view:v1");
    }

    #[test]
    fn garbage_is_rejected_with_a_reason() {
        assert_eq!(reason(json!(42)), RejectReason::InvalidEvent);
        assert_eq!(reason(json!("heartbeat")), RejectReason::InvalidEvent);
        assert_eq!(reason(with("colour", json!("red"))), RejectReason::InvalidEvent);
        assert_eq!(reason(with("at", json!("yesterday"))), RejectReason::InvalidEvent);
        assert_eq!(reason(with("type", json!("teleport"))), RejectReason::UnknownType);
        assert_eq!(reason(with("view_id", json!(""))), RejectReason::InvalidId);
        assert_eq!(reason(with("asset_id", json!("a/../b"))), RejectReason::InvalidId);
        assert_eq!(reason(with("title_id", json!("t".repeat(65)))), RejectReason::InvalidId);
        assert_eq!(reason(with("rendition", json!("x".repeat(65)))), RejectReason::InvalidText);
        assert_eq!(reason(with("rendition", json!("720p\n"))), RejectReason::InvalidText);
        assert_eq!(reason(with("position_ms", json!(-1))), RejectReason::AbsurdPosition);
        assert_eq!(reason(with("position_ms", json!(MAX_POSITION_MS + 1))), RejectReason::AbsurdPosition);
        assert_eq!(reason(with("duration_ms", json!(i64::MAX))), RejectReason::AbsurdPosition);
        assert_eq!(reason(with("bitrate_bps", json!(0))), RejectReason::AbsurdBitrate);
        assert_eq!(reason(with("bitrate_bps", json!(10_000_000_000_i64))), RejectReason::AbsurdBitrate);
        assert_eq!(reason(with("at", json!(NOW - MAX_AGE_MS - 1))), RejectReason::TooOld);
        assert_eq!(reason(with("at", json!(NOW + MAX_SKEW_MS + 1))), RejectReason::InTheFuture);
        assert_eq!(reason(with("position_ms", json!(null))), RejectReason::MissingField);
        let error = json!({"view_id": "v1", "type": "error", "at": NOW, "asset_id": "a1"});
        assert_eq!(reason(error), RejectReason::MissingField);
        let switch = json!({"view_id": "v1", "type": "rendition_change", "at": NOW, "asset_id": "a1"});
        assert_eq!(reason(switch), RejectReason::MissingField);
    }

    #[test]
    fn kinds_and_reasons_have_distinct_names() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        let names: std::collections::HashSet<&str> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), RejectReason::ALL.len());
        for reason in RejectReason::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            ".{0,80}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("view_id".to_string()),
                        Just("type".to_string()),
                        Just("at".to_string()),
                        Just("asset_id".to_string()),
                        Just("position_ms".to_string()),
                        Just("bitrate_bps".to_string()),
                        "[a-z_]{1,12}",
                    ],
                    inner,
                    0..8
                )
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever a client sends, validation answers (never panics), and what it accepts is within the limits.
        #[test]
        fn accepted_events_are_within_the_limits(event in arbitrary_json(), field in 0usize..6, value in any::<i64>()) {
            let mut event = event;
            if field < 3 {
                // Often a nearly good event with one field changed, so the semantic checks run too.
                let mut good = heartbeat();
                good[["position_ms", "bitrate_bps", "at"][field]] = value.into();
                event = good;
            }
            if let Ok(beacon) = validate(&event, NOW, None) {
                prop_assert!(beacon.at >= NOW - MAX_AGE_MS && beacon.at <= NOW + MAX_SKEW_MS);
                prop_assert!(beacon.position_ms.is_none_or(|p| (0..=MAX_POSITION_MS).contains(&p)));
                prop_assert!(beacon.bitrate_bps.is_none_or(|b| (MIN_BITRATE_BPS..=MAX_BITRATE_BPS).contains(&b)));
                prop_assert!(beacon.view_id.len() <= MAX_ID_LEN && beacon.asset_id.len() <= MAX_ID_LEN);
            }
        }

        /// Every well-formed event is accepted as sent.
        #[test]
        fn well_formed_events_are_accepted(kind in prop::sample::select(EventKind::ALL.to_vec()),
            view in "[a-z0-9-]{1,64}", ago in 0..MAX_AGE_MS, position in 0..=MAX_POSITION_MS,
            bitrate in MIN_BITRATE_BPS..=MAX_BITRATE_BPS) {
            let event = json!({"view_id": view, "type": kind.as_str(), "at": NOW - ago, "asset_id": "a1",
                "position_ms": position, "bitrate_bps": bitrate, "error_code": "decode"});
            let beacon = validate(&event, NOW, None).unwrap();
            prop_assert_eq!((beacon.kind, beacon.at, beacon.position_ms), (kind, NOW - ago, Some(position)));
        }
    }
}
