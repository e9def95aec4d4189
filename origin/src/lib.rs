//! The origin server: serves what the packager publishes, from local disk or S3, behind signed URLs. Arrives with issue #3; nothing lives here yet.
