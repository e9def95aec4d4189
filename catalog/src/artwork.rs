//! Title artwork as values: which image formats are taken (by their magic bytes, not the client's word), the
//! size limit, and where an image is stored. No I/O.

use sha2::{Digest, Sha256};

/// The largest image taken, in bytes.
pub const MAX_ARTWORK_BYTES: usize = 10 * 1024 * 1024;

/// Which picture of a title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtworkKind {
    Poster,
    Backdrop,
}

impl ArtworkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Poster => "poster",
            Self::Backdrop => "backdrop",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Poster, Self::Backdrop].into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Where a title's poster comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PosterSource {
    /// Uploaded for the title (`PUT /v1/titles/{id}/artwork/poster`).
    Upload,
    /// Taken from the title's video by the transcoder: a movie's feature, an episode's video, a season's or a
    /// series' first episode's. An upload replaces it.
    Asset,
}

impl PosterSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Asset => "asset",
        }
    }
}

/// An image format taken for artwork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    /// The format `bytes` start like, if it is one taken.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }
}

/// Where an image is stored: `artwork/<title>/<kind>-<first 16 hex digits of its SHA-256>.<ext>`, so a new
/// image gets a new key (caches never serve the old one under it) and the same image the same key.
pub fn storage_key(title_id: &str, kind: ArtworkKind, format: ImageFormat, bytes: &[u8]) -> String {
    let digest: String = Sha256::digest(bytes)[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("artwork/{title_id}/{}-{digest}.{}", kind.as_str(), format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_bytes() {
        assert_eq!(ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::sniff(b"\x89PNG\r\n\x1a\n...."), Some(ImageFormat::Png));
        assert_eq!(ImageFormat::sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(ImageFormat::Webp));
        assert_eq!(ImageFormat::sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(ImageFormat::sniff(b"GIF89a"), None);
        assert_eq!(ImageFormat::sniff(b""), None);
    }

    #[test]
    fn keys_name_the_title_kind_and_content() {
        let a = storage_key("t1", ArtworkKind::Poster, ImageFormat::Png, b"one");
        assert!(a.starts_with("artwork/t1/poster-") && a.ends_with(".png"), "{a}");
        assert_eq!(a, storage_key("t1", ArtworkKind::Poster, ImageFormat::Png, b"one"));
        assert_ne!(a, storage_key("t1", ArtworkKind::Poster, ImageFormat::Png, b"two"));
        assert_eq!(ArtworkKind::parse("backdrop"), Some(ArtworkKind::Backdrop));
        assert_eq!(ArtworkKind::parse("banner"), None);
    }
}
