//! The control API: resumable uploads, transcode jobs and their progress, the catalog. Arrives in a later issue; nothing lives here yet.
