//! What kind of packaged object a key names, its exact `Content-Type` and how long caches may keep it.

/// The packaged objects the origin serves. Any other file in storage is not served (404), so stray files
/// (temp files, notes, keys) never leak through the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `.m3u8`: multivariant, media and I-frame playlists.
    HlsPlaylist,
    /// `.mpd`.
    DashManifest,
    /// `.mp4`: CMAF init segments.
    InitSegment,
    /// `.m4s`: CMAF media segments.
    MediaSegment,
    /// `.vtt`.
    Subtitles,
    /// `.jpg` / `.jpeg`: thumbnails and posters.
    Image,
}

/// For "no such object": short, so that edges absorb repeated misses (a player probing, a bad link shared
/// widely) without keeping an object that gets published a little later away for long.
pub const NOT_FOUND_CACHE_CONTROL: &str = "public, max-age=10";
/// Cache lifetime of objects that never change once written: segments and init segments are written under
/// new names for new content.
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
/// VOD manifests never change once published (a re-transcode with `--force` republishes: caches may serve
/// the old one for up to a day). A live playlist would need `max-age` of about half a segment duration and
/// must not use this; the origin serves VOD only today.
pub const VOD_MANIFEST_CACHE_CONTROL: &str = "public, max-age=86400";
/// Subtitles and images may be regenerated without renaming them.
pub const SIDECAR_CACHE_CONTROL: &str = "public, max-age=86400";

impl MediaKind {
    /// The kind of the object stored under `key` (a storage-relative path), from its file extension.
    pub fn of_key(key: &str) -> Option<Self> {
        let file = key.rsplit('/').next().unwrap_or(key);
        let (_, extension) = file.rsplit_once('.')?;
        match extension.to_ascii_lowercase().as_str() {
            "m3u8" => Some(Self::HlsPlaylist),
            "mpd" => Some(Self::DashManifest),
            "mp4" => Some(Self::InitSegment),
            "m4s" => Some(Self::MediaSegment),
            "vtt" => Some(Self::Subtitles),
            "jpg" | "jpeg" => Some(Self::Image),
            _ => None,
        }
    }

    /// The metric label and log field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HlsPlaylist => "hls_playlist",
            Self::DashManifest => "dash_manifest",
            Self::InitSegment => "init_segment",
            Self::MediaSegment => "media_segment",
            Self::Subtitles => "subtitles",
            Self::Image => "image",
        }
    }

    /// The exact `Content-Type` for `key` of this kind. CMAF files in an `audio_*` rendition folder are
    /// `audio/mp4`, so players and proxies do not treat audio-only tracks as video.
    pub fn content_type(self, key: &str) -> &'static str {
        match self {
            Self::HlsPlaylist => "application/vnd.apple.mpegurl",
            Self::DashManifest => "application/dash+xml",
            Self::InitSegment | Self::MediaSegment if in_audio_rendition(key) => "audio/mp4",
            Self::InitSegment | Self::MediaSegment => "video/mp4",
            Self::Subtitles => "text/vtt",
            Self::Image => "image/jpeg",
        }
    }

    pub fn cache_control(self) -> &'static str {
        match self {
            Self::InitSegment | Self::MediaSegment => IMMUTABLE_CACHE_CONTROL,
            Self::HlsPlaylist | Self::DashManifest => VOD_MANIFEST_CACHE_CONTROL,
            Self::Subtitles | Self::Image => SIDECAR_CACHE_CONTROL,
        }
    }
}

/// Whether the folder holding the file is an audio rendition (`…/audio_aac/seg_00001.m4s`).
fn in_audio_rendition(key: &str) -> bool {
    let mut segments = key.rsplit('/');
    segments.next();
    segments.next().is_some_and(|folder| folder.starts_with("audio_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_exact() {
        let cases = [
            ("film/master.m3u8", "application/vnd.apple.mpegurl"),
            ("film/video_720p/iframes.m3u8", "application/vnd.apple.mpegurl"),
            ("film/manifest.mpd", "application/dash+xml"),
            ("film/video_720p/init.mp4", "video/mp4"),
            ("film/video_720p/seg_00001.m4s", "video/mp4"),
            ("film/audio_aac/init.mp4", "audio/mp4"),
            ("film/audio_aac/seg_00001.m4s", "audio/mp4"),
            ("audio_x/video_720p/seg_00001.m4s", "video/mp4"),
            ("film/subs_en/sub.vtt", "text/vtt"),
            ("film/thumbs/0001.jpg", "image/jpeg"),
            ("film/POSTER.JPEG", "image/jpeg"),
        ];
        for (key, expected) in cases {
            let kind = MediaKind::of_key(key).unwrap();
            assert_eq!(kind.content_type(key), expected, "{key}");
        }
    }

    #[test]
    fn other_files_are_not_media() {
        for key in ["film/notes.txt", "film/mp4", "film/.m3u8x", "film/noext", "film/a.m3u8/b"] {
            assert_eq!(MediaKind::of_key(key), None, "{key}");
        }
    }

    #[test]
    fn cache_policy_per_kind() {
        assert_eq!(MediaKind::MediaSegment.cache_control(), "public, max-age=31536000, immutable");
        assert_eq!(MediaKind::InitSegment.cache_control(), "public, max-age=31536000, immutable");
        assert_eq!(MediaKind::HlsPlaylist.cache_control(), "public, max-age=86400");
        assert_eq!(MediaKind::DashManifest.cache_control(), "public, max-age=86400");
    }
}
