//! The time as the database keeps it: milliseconds since the Unix epoch. The one clock of the API's code.

/// Milliseconds since the Unix epoch: the times the database keeps.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
