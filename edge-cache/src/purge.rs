//! The purge API: `POST /.marquee/purge?target=…` with a bearer token removes an object, its query variants or
//! a prefix from memory, disk and the fills in flight.

use std::sync::atomic::Ordering;

use http::header;
use http::{Method, Request, Response, StatusCode};
use marquee_http::response::{method_not_allowed, plain, text};
use marquee_http::RequestBody;
use tracing::{info, warn};

use crate::key::PurgeTarget;
use crate::metrics::Tier;
use crate::response::EdgeBody;
use crate::state::Edge;

/// `POST /.marquee/purge?target=film/` (an asset or directory prefix) or `?target=film/master.m3u8` (one
/// object), with `Authorization: Bearer <purge_token>`. Removes from memory and disk; answers JSON counts.
pub(crate) async fn purge(edge: &Edge, request: &Request<RequestBody>) -> Response<EdgeBody> {
    let Some(expected) = &edge.config.purge_token else { return plain(StatusCode::NOT_FOUND) };
    if request.method() != Method::POST {
        return method_not_allowed("POST");
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        return plain(StatusCode::UNAUTHORIZED);
    }
    let target = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("target="))
        .map(percent_decode);
    let target = match target.as_deref().map(PurgeTarget::parse) {
        Some(Ok(target)) => target,
        Some(Err(error)) => return text(StatusCode::BAD_REQUEST, "text/plain", format!("bad purge target: {error}\n")),
        None => return text(StatusCode::BAD_REQUEST, "text/plain", "give ?target=asset/ or ?target=asset/file\n"),
    };
    // Before anything is removed: disk hits read until now are not promoted into memory any more.
    edge.purges.fetch_add(1, Ordering::AcqRel);
    // Fills next: one that stores after this point sees its mark and removes what it stored.
    let fills = edge.fills.purge(|key| target.matches_path(key.split_once('?').map_or(key, |(path, _)| path)));
    // An object target covers its query variants too (`path?v=2`), which exist only with an allow-list.
    let (exact, prefix) = match &target {
        PurgeTarget::Object(path) => (Some(path.clone()), (!edge.allow.is_empty()).then(|| format!("{path}?"))),
        PurgeTarget::Prefix(prefix) => (None, Some(prefix.clone())),
    };
    let memory = exact.as_deref().map_or(0, |path| usize::from(edge.memory.remove(path)))
        + prefix.as_deref().map_or(0, |prefix| edge.memory.remove_prefix(prefix));
    let disk = match edge.disk.clone() {
        Some(disk) => {
            let removed = tokio::task::spawn_blocking(move || -> Result<usize, crate::disk::DiskError> {
                let exact = match exact {
                    Some(path) => usize::from(disk.remove(&path)?),
                    None => 0,
                };
                Ok(exact + prefix.map_or(Ok(0), |prefix| disk.purge_prefix(&prefix))?)
            });
            match removed.await {
                Ok(Ok(removed)) => removed,
                Ok(Err(error)) => {
                    warn!(target = %target, %error, "Purge could not remove every disk entry.");
                    0
                }
                Err(_) => 0,
            }
        }
        None => 0,
    };
    edge.metrics.observe_purge(Tier::Memory, memory as u64);
    edge.metrics.observe_purge(Tier::Disk, disk as u64);
    info!(target = %target, memory, disk, fills, "Purged.");
    let body = format!(
        "{{\"target\":\"{}\",\"memory\":{memory},\"disk\":{disk},\"fills\":{fills}}}\n",
        target.as_path().replace('"', "\\\"")
    );
    text(StatusCode::OK, "application/json", body)
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
