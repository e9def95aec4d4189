//! The output of a run: refusing or unpublishing what is already there, writing objects through the storage
//! layer while remembering them, publishing the manifests last, and removing everything written when the
//! run fails.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use marquee_packager::{presentation, Presentation};
use marquee_storage::{ObjectKey, ObjectStore};

use crate::TranscodeError;

/// Writes through the storage layer and remembers what it wrote, so a failed run can be removed.
pub(crate) struct Publisher {
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Handle,
    written: Mutex<Vec<ObjectKey>>,
}

impl Publisher {
    /// `runtime` runs the storage calls; every method blocks on it, so call them from plain threads.
    pub(crate) fn new(store: Arc<dyn ObjectStore>, runtime: tokio::runtime::Handle) -> Self {
        Self { store, runtime, written: Mutex::new(Vec::new()) }
    }

    /// Where the output goes, as the store names it.
    pub(crate) fn location(&self) -> String {
        self.store.location()
    }

    fn key(name: &str) -> Result<ObjectKey, TranscodeError> {
        Ok(ObjectKey::parse(name)?)
    }

    pub(crate) fn put(&self, name: &str, body: Bytes) -> Result<(), TranscodeError> {
        let key = Self::key(name)?;
        self.runtime.block_on(self.store.put(&key, body))?;
        self.written.lock().expect("written lock").push(key);
        Ok(())
    }

    /// Refuses to write over a published presentation unless `force`; with `force`, unpublishes it
    /// (manifests first, so it never looks finished while half replaced) and removes its other objects.
    pub(crate) fn prepare(&self, force: bool) -> Result<(), TranscodeError> {
        let existing = self.runtime.block_on(self.store.list(""))?;
        let markers = [presentation::MULTIVARIANT_PLAYLIST_NAME, presentation::MPD_NAME];
        let published: Vec<&ObjectKey> = existing.iter().filter(|k| markers.contains(&k.as_str())).collect();
        if let Some(marker) = published.first() {
            if !force {
                return Err(TranscodeError::AlreadyPublished {
                    location: self.store.location(),
                    marker: marker.as_str().to_owned(),
                });
            }
        }
        if force {
            for key in published.iter().copied().chain(existing.iter().filter(|k| !markers.contains(&k.as_str()))) {
                self.runtime.block_on(self.store.delete(key))?;
            }
        }
        Ok(())
    }

    /// Playlists of each rendition, then the DASH manifest, then the multivariant playlist: the two
    /// top-level manifests are what marks a presentation finished, so they go last.
    pub(crate) fn publish_manifests(&self, p: &Presentation) -> Result<(), TranscodeError> {
        let render = |r: Result<String, marquee_packager::PackagerError>, what: &str| {
            r.map_err(|source| TranscodeError::Packaging { rendition: what.to_owned(), source })
        };
        for r in p.video.iter().chain(&p.audio) {
            let media = render(marquee_packager::hls::media_playlist(r), &r.id)?;
            self.put(&r.media_playlist_path(), Bytes::from(media))?;
            if r.track.is_video() {
                let iframes = render(marquee_packager::hls::iframe_playlist(r), &r.id)?;
                self.put(&r.iframe_playlist_path(), Bytes::from(iframes))?;
            }
        }
        let mpd = render(marquee_packager::dash::mpd(p), presentation::MPD_NAME)?;
        let master = render(marquee_packager::hls::multivariant_playlist(p), presentation::MULTIVARIANT_PLAYLIST_NAME)?;
        self.put(presentation::MPD_NAME, Bytes::from(mpd))?;
        self.put(presentation::MULTIVARIANT_PLAYLIST_NAME, Bytes::from(master))?;
        Ok(())
    }

    /// Removes everything this run wrote, newest first (manifests before segments).
    pub(crate) fn remove_written(&self) {
        let written = std::mem::take(&mut *self.written.lock().expect("written lock"));
        for key in written.iter().rev() {
            if let Err(e) = self.runtime.block_on(self.store.delete(key)) {
                tracing::error!(key = %key.as_str(), error = %e, "Could not remove a partial output object.");
            }
        }
    }
}
