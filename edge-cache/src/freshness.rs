//! Freshness: whether an upstream response may be stored, how long it may be served, and how long stale.
//!
//! [`FreshnessPolicy::evaluate`] reads a response's status and headers once, when it arrives, and returns a
//! [`Freshness`] (or the [`Uncacheable`] reason); [`Freshness::state`] then says, for any later moment, whether
//! the stored copy is fresh, may be served stale while one background refresh runs, may only stand in for a
//! failed upstream, or is spent. It follows RFC 9111 (HTTP Caching) for a shared cache, RFC 5861 for the
//! stale extensions, RFC 8246 for `immutable`, and the W3C Edge Architecture note for `Surrogate-Control`.
//!
//! Order of precedence for the freshness lifetime (RFC 9111 §4.2.1, with `Surrogate-Control` first):
//! `Surrogate-Control: max-age`, `Cache-Control: s-maxage`, `Cache-Control: max-age`, `Expires` minus
//! `Date`, then a heuristic (§4.2.2). The `Age` the upstream reports is subtracted, so a copy that spent
//! 50 s in a shield before reaching this edge has 50 s less to live here.
//!
//! Decisions beyond the RFC's letter, each for a reason:
//! - **`Surrogate-Control` speaks for the edge.** When it carries `max-age`, `Cache-Control` is left to
//!   browsers: its `no-store`, `private`, `no-cache` and `must-revalidate` do not apply here (as in Varnish's
//!   built-in VCL and Fastly). Its `no-store` (and `no-store-remote`: any edge may be the remote one) always
//!   refuses storage. `max-age=N+M` grants `M` seconds of stale-if-error (Squid's reading of the note).
//!   Directives targeted at a named surrogate (`max-age=60;edge1`) are ignored: edges have no surrogate name.
//! - **Only these statuses are stored:** 200, 203, 204, 300, 301, 308 (heuristically cacheable, RFC 9110
//!   §15.1), 404 and 410 (negative answers, capped at [`FreshnessPolicy::negative_ttl`] so that a newly
//!   published asset shows up quickly), and 302, 303, 307 with explicit freshness or `public` (RFC 9111 §3).
//!   Never: 5xx (an outage must not outlive itself), 206 (the edge fetches whole objects; combining partial
//!   responses, §3.4, is not done), 304 (merge its headers into the stored response and evaluate that,
//!   §4.3.4), and every other 4xx (405, 414 included): an answer such as 401 or 403 may depend on the token,
//!   which is not part of the cache key, and must not be served to every viewer.
//! - **`Set-Cookie` makes a response uncacheable:** a cookie is one viewer's, and the copy would be everyone's.
//! - **`Vary`:** the edge sends `Accept-Encoding: identity` upstream and forwards no other request header that
//!   a response could vary on, so every stored copy is the one variant any later request would get, and
//!   `Vary: Accept-Encoding` (any header in [`CACHEABLE_VARY`]) is stored. `Vary: *` and every other header
//!   make the response uncacheable (reason `vary`): this module cannot know whether the edge forwarded it.
//! - **Qualified `private="…"` and `no-cache="…"`** are treated as unqualified (RFC 9111 §5.2.2.4 and
//!   §5.2.2.7 allow it): the safe reading.
//! - **Invalid freshness information** (`max-age=abc`, an unparsable `Expires`, `Expires: 0`) makes the
//!   response stale on arrival (§4.2.1, §5.3); a repeated directive counts by its first occurrence.
//! - **Stale serving** needs no permission for stale-if-error up to [`FreshnessPolicy::default_stale_if_error`]
//!   (a cache "disconnected" from its upstream may serve stale, §4.2.4); it is forbidden by
//!   `must-revalidate`, `proxy-revalidate` and `no-cache` (§5.2.2.2, §5.2.2.4, §5.2.2.8). `s-maxage` implies
//!   `proxy-revalidate` (§5.2.2.10), so it turns the default stale-if-error off, but explicit
//!   `stale-while-revalidate`/`stale-if-error` next to it still apply: they are the upstream's own, more
//!   specific permission (the usual CDN idiom `s-maxage=60, stale-while-revalidate=30`).
//! - **Age** is the upstream's `Age` header only: the apparent age from `Date` (§4.2.3) is left out because
//!   it turns any clock skew between upstream and edge into lost freshness; `Expires` is read relative to
//!   `Date`, which cancels skew the same way.
//! - Every lifetime and stale window is capped at [`FreshnessPolicy::max_ttl`], so a wrong header on a
//!   mutable object costs at most that long.

use std::time::{Duration, SystemTime};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use marquee_settings::Settings;
use serde::{Deserialize, Serialize};

/// Freshness lifetime when the upstream gives none (no `max-age`, `s-maxage` or `Expires`) and the status
/// may be cached heuristically; also the cap of the `Last-Modified` heuristic. Varnish's `default_ttl`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(120);
/// Longest time a response is served fresh, whatever the upstream says (origin segments say a year).
/// A day: a mistaken header costs at most a day, and a popular object is refetched (or revalidated) about
/// once a day per edge.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Freshness of a 404 or 410 when the upstream gives none, and the cap when it does: short, so an asset
/// published after a miss appears within seconds, long enough to absorb a burst of requests for it.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(10);
/// How long past expiry a response may stand in for a failed upstream when the upstream says nothing
/// (RFC 9111 §4.2.4 lets a disconnected cache serve stale). An hour rides out a typical origin incident.
pub const DEFAULT_STALE_IF_ERROR: Duration = Duration::from_secs(60 * 60);
/// How long past expiry a response may be served while it is refreshed, when the upstream says nothing.
/// Zero: RFC 9111 §4.2.4 forbids serving stale to a connected cache without permission.
pub const DEFAULT_STALE_WHILE_REVALIDATE: Duration = Duration::ZERO;
/// The `Last-Modified` heuristic gives a response this fraction (1/10, RFC 9111 §4.2.2) of its age at `Date`.
pub const HEURISTIC_LAST_MODIFIED_DIVISOR: u32 = 10;
/// Delta-seconds beyond this are read as this (2^31, RFC 9111 §1.2.2).
pub const MAX_DELTA_SECONDS: u64 = 2_147_483_648;
/// `Vary` field values (lowercase) that leave a response cacheable, because the edge always sends the same
/// value for them upstream (`Accept-Encoding: identity`).
pub const CACHEABLE_VARY: &[&str] = &["accept-encoding"];
/// The `Surrogate-Control` response header (W3C Edge Architecture 1.0), which speaks to edges only; the edge
/// should remove it before answering clients.
pub const SURROGATE_CONTROL: HeaderName = HeaderName::from_static("surrogate-control");

/// Why a response is not stored. `as_str()` is the log field and metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Uncacheable {
    /// The status is never stored (5xx, 206, 304, most 4xx), or is a redirect without explicit freshness.
    #[error("status is not cacheable")]
    Status,
    /// `no-store` in `Surrogate-Control`, or in `Cache-Control` when `Surrogate-Control` gives no `max-age`.
    #[error("no-store")]
    NoStore,
    /// `Cache-Control: private` (a shared cache must not store it, RFC 9111 §5.2.2.7).
    #[error("private")]
    Private,
    /// The response sets a cookie.
    #[error("response sets a cookie")]
    SetCookie,
    /// `Vary: *` or a `Vary` on a header outside [`CACHEABLE_VARY`].
    #[error("response varies on a request header the cache does not control")]
    Vary,
}

impl Uncacheable {
    /// Every variant's label, in declaration order (for pre-registering metric series).
    pub const LABELS: [&'static str; 5] = ["status", "no_store", "private", "set_cookie", "vary"];

    /// Short, stable snake_case label for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Uncacheable::Status => "status",
            Uncacheable::NoStore => "no_store",
            Uncacheable::Private => "private",
            Uncacheable::SetCookie => "set_cookie",
            Uncacheable::Vary => "vary",
        }
    }
}

/// What a stored response may be used for, at some age. `as_str()` is the log field and metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CacheState {
    /// Serve it; the upstream is not asked.
    Fresh,
    /// Serve it, and refresh it in the background once (RFC 5861 §3). Also usable if that refresh fails.
    StaleWhileRevalidate,
    /// Do not serve it while the upstream answers; serve it in place of an upstream error, timeout or 5xx
    /// (RFC 5861 §4).
    StaleIfError,
    /// Of no use without revalidation: fetch (or revalidate) before answering.
    Expired,
}

impl CacheState {
    /// Every variant's label, in declaration order (for pre-registering metric series).
    pub const LABELS: [&'static str; 4] = ["fresh", "stale_while_revalidate", "stale_if_error", "expired"];

    /// Short, stable snake_case label for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheState::Fresh => "fresh",
            CacheState::StaleWhileRevalidate => "stale_while_revalidate",
            CacheState::StaleIfError => "stale_if_error",
            CacheState::Expired => "expired",
        }
    }

    /// Whether the stored copy may answer a request now, without waiting for the upstream.
    pub fn usable_now(self) -> bool {
        matches!(self, CacheState::Fresh | CacheState::StaleWhileRevalidate)
    }

    /// Whether the stored copy may answer a request whose upstream fetch failed.
    pub fn usable_on_error(self) -> bool {
        self != CacheState::Expired
    }
}

/// Where a response's freshness lifetime came from. `as_str()` is the log field and metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FreshnessSource {
    /// `Surrogate-Control: max-age`.
    SurrogateControl,
    /// `Cache-Control: s-maxage`.
    SMaxAge,
    /// `Cache-Control: max-age`.
    MaxAge,
    /// `Expires` minus `Date`.
    Expires,
    /// None given: [`FreshnessPolicy::default_ttl`], the `Last-Modified` heuristic, or (404, 410)
    /// [`FreshnessPolicy::negative_ttl`].
    Heuristic,
}

impl FreshnessSource {
    /// Short, stable snake_case label for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            FreshnessSource::SurrogateControl => "surrogate_control",
            FreshnessSource::SMaxAge => "s_maxage",
            FreshnessSource::MaxAge => "max_age",
            FreshnessSource::Expires => "expires",
            FreshnessSource::Heuristic => "heuristic",
        }
    }
}

/// How long a stored response may be used, counted from the moment it was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Fresh for this long after receipt (the upstream's `Age` already subtracted, capped by the policy).
    /// Zero for `no-cache` and for responses that arrived stale: storable, but every use needs revalidation.
    pub ttl: Duration,
    /// After `ttl`, servable stale for this long while a refresh runs.
    pub stale_while_revalidate: Duration,
    /// After `ttl`, usable for this long in place of a failed upstream.
    pub stale_if_error: Duration,
    /// The upstream's `Age` at receipt. The `Age` sent downstream is this plus the time held here (RFC 9111 §5.1).
    pub initial_age: Duration,
    /// Where the lifetime came from.
    pub source: FreshnessSource,
    /// `Cache-Control: immutable` (RFC 8246): a client's reload need not revalidate a fresh copy.
    pub immutable: bool,
}

impl Freshness {
    /// What the copy may be used for `age` after it was received (time held here, not counting
    /// [`Freshness::initial_age`]). The stale windows both start when freshness ends; while both are open,
    /// [`CacheState::StaleWhileRevalidate`] wins, as it also allows use on error.
    pub fn state(&self, age: Duration) -> CacheState {
        let Some(stale_for) = age.checked_sub(self.ttl) else {
            return CacheState::Fresh;
        };
        if stale_for < self.stale_while_revalidate {
            CacheState::StaleWhileRevalidate
        } else if stale_for < self.stale_if_error {
            CacheState::StaleIfError
        } else {
            CacheState::Expired
        }
    }

    /// How long after receipt the copy is of any use without revalidation: `ttl` plus the longer stale
    /// window. A tier may evict it after this (or keep it longer for conditional revalidation).
    pub fn retain_for(&self) -> Duration {
        self.ttl.saturating_add(self.stale_while_revalidate.max(self.stale_if_error))
    }
}

/// The edge's caching rules where upstream headers leave room: defaults, caps and the negative TTL. A group of
/// settings flattened into `[edge]`; each field's doc is its `--help` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
#[settings(heading = "Freshness, where the upstream's headers leave room")]
pub struct FreshnessPolicy {
    /// How long a response is served fresh when the upstream gives no lifetime (no max-age, s-maxage or
    /// Expires) and its status may be cached heuristically; also the cap of the Last-Modified heuristic.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub default_ttl: Duration,
    /// Longest time a response is served fresh, whatever the upstream says; also the cap of every stale
    /// window. A wrong header on a changing object costs at most this long.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub max_ttl: Duration,
    /// How long a 404 or 410 is served when the upstream gives no lifetime, and the cap when it gives one:
    /// an asset published after a miss appears within this long.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub negative_ttl: Duration,
    /// How long past expiry a response may be served while it is refreshed, when the upstream says nothing
    /// (0s: never without the upstream's permission, as RFC 9111 asks of a connected cache).
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub default_stale_while_revalidate: Duration,
    /// How long past expiry a response may stand in for a failing upstream, when the upstream says nothing.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub default_stale_if_error: Duration,
}

impl Default for FreshnessPolicy {
    fn default() -> Self {
        Self {
            default_ttl: DEFAULT_TTL,
            max_ttl: DEFAULT_MAX_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            default_stale_while_revalidate: DEFAULT_STALE_WHILE_REVALIDATE,
            default_stale_if_error: DEFAULT_STALE_IF_ERROR,
        }
    }
}

impl FreshnessPolicy {
    /// Decides whether a response to a `GET` (the edge's only upstream method) may be stored and for how
    /// long. `received_at` is when its headers arrived; it stands in for a missing or invalid `Date`. See
    /// the module documentation for the rules.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use http::{header, HeaderMap, HeaderValue, StatusCode};
    /// use marquee_edge_cache::freshness::{CacheState, FreshnessPolicy};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60, stale-while-revalidate=30"));
    /// let freshness = FreshnessPolicy::default().evaluate(StatusCode::OK, &headers, SystemTime::now())?;
    /// assert_eq!(freshness.ttl, Duration::from_secs(60));
    /// assert_eq!(freshness.state(Duration::from_secs(75)), CacheState::StaleWhileRevalidate);
    /// # Ok::<(), marquee_edge_cache::freshness::Uncacheable>(())
    /// ```
    pub fn evaluate(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        received_at: SystemTime,
    ) -> Result<Freshness, Uncacheable> {
        let class = StatusClass::of(status);
        if class == StatusClass::Never {
            return Err(Uncacheable::Status);
        }
        let surrogate = SurrogateControl::parse(headers.get_all(SURROGATE_CONTROL));
        let cache_control = CacheControl::parse(headers.get_all(header::CACHE_CONTROL));
        if surrogate.no_store {
            return Err(Uncacheable::NoStore);
        }
        // With a Surrogate-Control lifetime, Cache-Control's restrictions are the browser's business.
        let surrogate_decides = surrogate.max_age.is_some();
        if !surrogate_decides && cache_control.no_store {
            return Err(Uncacheable::NoStore);
        }
        if !surrogate_decides && cache_control.private {
            return Err(Uncacheable::Private);
        }
        if headers.contains_key(header::SET_COOKIE) {
            return Err(Uncacheable::SetCookie);
        }
        if !vary_is_cacheable(headers) {
            return Err(Uncacheable::Vary);
        }

        let date = header_date(headers.get(header::DATE)).unwrap_or(received_at);
        let (lifetime, source) = if let Some(max_age) = surrogate.max_age {
            (max_age.duration(), FreshnessSource::SurrogateControl)
        } else if let Some(s_maxage) = cache_control.s_maxage {
            (s_maxage.duration(), FreshnessSource::SMaxAge)
        } else if let Some(max_age) = cache_control.max_age {
            (max_age.duration(), FreshnessSource::MaxAge)
        } else if let Some(expires) = headers.get(header::EXPIRES) {
            // An invalid date, `0` included, is in the past (RFC 9111 §5.3).
            let lifetime = header_date(Some(expires))
                .and_then(|expires| expires.duration_since(date).ok())
                .unwrap_or(Duration::ZERO);
            (lifetime, FreshnessSource::Expires)
        } else if class == StatusClass::ExplicitOnly && !cache_control.public {
            return Err(Uncacheable::Status);
        } else if class == StatusClass::Negative {
            (self.negative_ttl, FreshnessSource::Heuristic)
        } else {
            (self.heuristic_lifetime(headers, date), FreshnessSource::Heuristic)
        };

        let revalidate_every_use = !surrogate_decides && cache_control.no_cache;
        let lifetime = if revalidate_every_use { Duration::ZERO } else { lifetime };
        let never_stale = !surrogate_decides
            && (cache_control.no_cache || cache_control.must_revalidate || cache_control.proxy_revalidate);
        let defaults_apply = class != StatusClass::Negative && source != FreshnessSource::SMaxAge;
        let window = |explicit: Option<Delta>, default: Duration| {
            if never_stale {
                Duration::ZERO
            } else if let Some(explicit) = explicit {
                explicit.duration()
            } else if defaults_apply {
                default
            } else {
                Duration::ZERO
            }
        };
        let stale_while_revalidate = window(
            surrogate.stale_while_revalidate.or(cache_control.stale_while_revalidate),
            self.default_stale_while_revalidate,
        );
        let stale_if_error = window(
            surrogate.max_stale.or(surrogate.stale_if_error).or(cache_control.stale_if_error),
            self.default_stale_if_error,
        );

        let initial_age = headers
            .get(header::AGE)
            .map(|age| Delta::parse(std::str::from_utf8(age.as_bytes()).ok().map(str::trim)))
            .filter(|age| *age != Delta::Invalid)
            .map_or(Duration::ZERO, Delta::duration);
        // Stale windows start when the response became stale, which may have been before it got here.
        let stale_at_receipt = initial_age.saturating_sub(lifetime);
        let cap = if class == StatusClass::Negative { self.negative_ttl.min(self.max_ttl) } else { self.max_ttl };
        Ok(Freshness {
            ttl: lifetime.saturating_sub(initial_age).min(cap),
            stale_while_revalidate: stale_while_revalidate.saturating_sub(stale_at_receipt).min(self.max_ttl),
            stale_if_error: stale_if_error.saturating_sub(stale_at_receipt).min(self.max_ttl),
            initial_age,
            source,
            immutable: cache_control.immutable,
        })
    }

    /// RFC 9111 §4.2.2: a tenth of the time since `Last-Modified` (at `Date`), at most `default_ttl`;
    /// `default_ttl` without `Last-Modified`; zero for a `Last-Modified` after `Date`.
    fn heuristic_lifetime(&self, headers: &HeaderMap, date: SystemTime) -> Duration {
        match header_date(headers.get(header::LAST_MODIFIED)) {
            Some(modified) => date
                .duration_since(modified)
                .map_or(Duration::ZERO, |age| (age / HEURISTIC_LAST_MODIFIED_DIVISOR).min(self.default_ttl)),
            None => self.default_ttl,
        }
    }
}

/// How a status code may be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusClass {
    /// Heuristically cacheable (RFC 9110 §15.1).
    Heuristic,
    /// 404 and 410: short-lived, capped by the negative TTL.
    Negative,
    /// Redirects cacheable only with explicit freshness or `public`.
    ExplicitOnly,
    /// Never stored.
    Never,
}

impl StatusClass {
    fn of(status: StatusCode) -> Self {
        match status.as_u16() {
            200 | 203 | 204 | 300 | 301 | 308 => StatusClass::Heuristic,
            404 | 410 => StatusClass::Negative,
            302 | 303 | 307 => StatusClass::ExplicitOnly,
            _ => StatusClass::Never,
        }
    }
}

/// A delta-seconds value (RFC 9111 §1.2.2): a count of seconds, or something that was meant to be one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delta {
    Seconds(u64),
    /// Missing, empty, negative or not a number: freshness information that makes a response stale.
    Invalid,
}

impl Delta {
    /// Digits only (no sign, no space); too many digits saturate at [`MAX_DELTA_SECONDS`].
    fn parse(value: Option<&str>) -> Self {
        match value {
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Delta::Seconds(digits.parse::<u64>().map_or(MAX_DELTA_SECONDS, |s| s.min(MAX_DELTA_SECONDS)))
            }
            _ => Delta::Invalid,
        }
    }

    /// The duration; an invalid value counts as zero.
    fn duration(self) -> Duration {
        match self {
            Delta::Seconds(seconds) => Duration::from_secs(seconds),
            Delta::Invalid => Duration::ZERO,
        }
    }
}

/// One `name[=value][;target]` directive of a `Cache-Control` or `Surrogate-Control` field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Directive {
    /// As written; compare case-insensitively.
    name: String,
    /// The value, unquoted (`max-age="60"` reads as `60`, RFC 9111 §5.2).
    value: Option<String>,
    /// `;target` after the value (Edge Architecture targeting; junk in `Cache-Control`).
    targeted: bool,
}

/// Splits a field value into directives. Commas inside quoted strings do not split; anything unparsable
/// between a directive and the next comma is skipped. Never fails.
fn parse_directives(text: &str) -> Vec<Directive> {
    const OWS: [char; 2] = [' ', '\t'];
    let mut directives = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return directives;
        }
        let name_end = rest.find(['=', ',', ';', ' ', '\t']).unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start_matches(OWS);
        let mut value = None;
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start_matches(OWS);
            if let Some(quoted) = after.strip_prefix('"') {
                let mut unquoted = String::new();
                let mut end = quoted.len();
                let mut chars = quoted.char_indices();
                while let Some((at, c)) = chars.next() {
                    match c {
                        '\\' => unquoted.extend(chars.next().map(|(_, escaped)| escaped)),
                        '"' => {
                            end = at + 1;
                            break;
                        }
                        c => unquoted.push(c),
                    }
                }
                value = Some(unquoted);
                rest = &quoted[end..];
            } else {
                let end = after.find([',', ';', ' ', '\t']).unwrap_or(after.len());
                value = Some(after[..end].to_owned());
                rest = &after[end..];
            }
        }
        rest = rest.trim_start_matches(OWS);
        let targeted = rest.starts_with(';');
        rest = &rest[rest.find(',').unwrap_or(rest.len())..];
        if !name.is_empty() {
            directives.push(Directive { name: name.to_owned(), value, targeted });
        }
    }
}

/// Every directive of every field line of one header, in order. Bytes that are not UTF-8 are replaced, not
/// dropped, so a stray byte cannot hide a `no-store`.
fn header_directives<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> Vec<Directive> {
    values.into_iter().flat_map(|value| parse_directives(&String::from_utf8_lossy(value.as_bytes()))).collect()
}

/// The `Cache-Control` response directives a shared cache acts on (RFC 9111 §5.2.2, RFC 5861, RFC 8246).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct CacheControl {
    no_store: bool,
    no_cache: bool,
    private: bool,
    public: bool,
    must_revalidate: bool,
    proxy_revalidate: bool,
    immutable: bool,
    max_age: Option<Delta>,
    s_maxage: Option<Delta>,
    stale_while_revalidate: Option<Delta>,
    stale_if_error: Option<Delta>,
}

impl CacheControl {
    fn parse<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> Self {
        let mut cc = Self::default();
        for directive in header_directives(values) {
            let value = || Some(Delta::parse(directive.value.as_deref()));
            let name = directive.name.to_ascii_lowercase();
            match name.as_str() {
                "no-store" => cc.no_store = true,
                "no-cache" => cc.no_cache = true,
                "private" => cc.private = true,
                "public" => cc.public = true,
                "must-revalidate" => cc.must_revalidate = true,
                "proxy-revalidate" => cc.proxy_revalidate = true,
                "immutable" => cc.immutable = true,
                // First occurrence wins (RFC 9111 §4.2.1).
                "max-age" => cc.max_age = cc.max_age.or_else(value),
                "s-maxage" => cc.s_maxage = cc.s_maxage.or_else(value),
                "stale-while-revalidate" => cc.stale_while_revalidate = cc.stale_while_revalidate.or_else(value),
                "stale-if-error" => cc.stale_if_error = cc.stale_if_error.or_else(value),
                _ => {}
            }
        }
        cc
    }
}

/// The `Surrogate-Control` directives this edge acts on (W3C Edge Architecture 1.0, plus Fastly's stale
/// extensions). Targeted directives are skipped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct SurrogateControl {
    no_store: bool,
    max_age: Option<Delta>,
    /// The `+M` of `max-age=N+M`.
    max_stale: Option<Delta>,
    stale_while_revalidate: Option<Delta>,
    stale_if_error: Option<Delta>,
}

impl SurrogateControl {
    fn parse<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> Self {
        let mut sc = Self::default();
        for directive in header_directives(values).into_iter().filter(|d| !d.targeted) {
            let value = directive.value.as_deref();
            let name = directive.name.to_ascii_lowercase();
            match name.as_str() {
                "no-store" | "no-store-remote" => sc.no_store = true,
                "max-age" if sc.max_age.is_none() => {
                    let (max_age, max_stale) = match value.and_then(|v| v.split_once('+')) {
                        Some((max_age, max_stale)) => (Some(max_age), Some(Delta::parse(Some(max_stale)))),
                        None => (value, None),
                    };
                    sc.max_age = Some(Delta::parse(max_age));
                    sc.max_stale = max_stale;
                }
                "stale-while-revalidate" => {
                    sc.stale_while_revalidate = sc.stale_while_revalidate.or(Some(Delta::parse(value)))
                }
                "stale-if-error" => sc.stale_if_error = sc.stale_if_error.or(Some(Delta::parse(value))),
                _ => {}
            }
        }
        sc
    }
}

/// Whether every `Vary` member is in [`CACHEABLE_VARY`] (no `Vary` at all passes).
fn vary_is_cacheable(headers: &HeaderMap) -> bool {
    headers.get_all(header::VARY).iter().all(|value| {
        String::from_utf8_lossy(value.as_bytes())
            .split(',')
            .map(|member| member.trim_matches([' ', '\t']))
            .filter(|member| !member.is_empty())
            .all(|member| CACHEABLE_VARY.iter().any(|ok| ok.eq_ignore_ascii_case(member)))
    })
}

/// An HTTP-date (RFC 9110 §5.6.7, all three formats); `None` when absent or invalid.
fn header_date(value: Option<&HeaderValue>) -> Option<SystemTime> {
    let text = value?.to_str().ok()?;
    httpdate::parse_http_date(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const RECEIVED_SECS: u64 = 1_800_000_000;

    fn received() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(RECEIVED_SECS)
    }

    /// An HTTP-date `offset_secs` from the time of receipt.
    fn date(offset_secs: i64) -> String {
        let offset = Duration::from_secs(offset_secs.unsigned_abs());
        httpdate::fmt_http_date(if offset_secs < 0 { received() - offset } else { received() + offset })
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn eval_status(status: u16, pairs: &[(&str, &str)]) -> Result<Freshness, Uncacheable> {
        FreshnessPolicy::default().evaluate(StatusCode::from_u16(status).unwrap(), &headers(pairs), received())
    }

    fn eval(pairs: &[(&str, &str)]) -> Result<Freshness, Uncacheable> {
        eval_status(200, pairs)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn origin_segments_are_capped_at_the_max_ttl() {
        let f = eval(&[("cache-control", "public, max-age=31536000, immutable")]).unwrap();
        assert_eq!(f.ttl, DEFAULT_MAX_TTL);
        assert_eq!((f.source, f.immutable), (FreshnessSource::MaxAge, true));
        assert_eq!(f.stale_if_error, DEFAULT_STALE_IF_ERROR);
        assert_eq!(f.stale_while_revalidate, Duration::ZERO);
        let manifest = eval(&[("cache-control", "public, max-age=86400")]).unwrap();
        assert_eq!((manifest.ttl, manifest.immutable), (secs(86_400), false));
    }

    #[test]
    fn lifetime_precedence() {
        let f = eval(&[("cache-control", "max-age=10, s-maxage=20"), ("expires", &date(30))]).unwrap();
        assert_eq!((f.ttl, f.source), (secs(20), FreshnessSource::SMaxAge));
        let f = eval(&[("cache-control", "max-age=10"), ("expires", &date(30))]).unwrap();
        assert_eq!((f.ttl, f.source), (secs(10), FreshnessSource::MaxAge));
        let f = eval(&[("expires", &date(30)), ("date", &date(0))]).unwrap();
        assert_eq!((f.ttl, f.source), (secs(30), FreshnessSource::Expires));
        let f = eval(&[("surrogate-control", "max-age=40"), ("cache-control", "s-maxage=20")]).unwrap();
        assert_eq!((f.ttl, f.source), (secs(40), FreshnessSource::SurrogateControl));
        let f = eval(&[]).unwrap();
        assert_eq!((f.ttl, f.source), (DEFAULT_TTL, FreshnessSource::Heuristic));
    }

    #[test]
    fn expires_is_read_relative_to_date() {
        // The upstream's clock is an hour behind: Expires one minute after its Date still means one minute.
        let f = eval(&[("date", &date(-3600)), ("expires", &date(-3540))]).unwrap();
        assert_eq!(f.ttl, secs(60));
        // Without a Date, the time of receipt stands in.
        assert_eq!(eval(&[("expires", &date(90))]).unwrap().ttl, secs(90));
        assert_eq!(eval(&[("expires", &date(90)), ("date", "garbage")]).unwrap().ttl, secs(90));
        // Invalid and past dates are stale on arrival, but stored (for revalidation).
        let past = date(-10);
        for expires in ["0", "-1", "yesterday", past.as_str()] {
            let f = eval(&[("expires", expires)]).unwrap();
            assert_eq!((f.ttl, f.source), (Duration::ZERO, FreshnessSource::Expires), "{expires}");
        }
        // RFC 850 and asctime dates are accepted too (RFC 9110 §5.6.7).
        let f = eval(&[("date", "Sunday, 06-Nov-94 08:49:37 GMT"), ("expires", "Sun Nov  6 08:50:37 1994")]).unwrap();
        assert_eq!(f.ttl, secs(60));
    }

    #[test]
    fn age_is_subtracted() {
        let f = eval(&[("cache-control", "max-age=100, stale-while-revalidate=50"), ("age", "30")]).unwrap();
        assert_eq!((f.ttl, f.initial_age, f.stale_while_revalidate), (secs(70), secs(30), secs(50)));
        // Arrived 20 s past its lifetime: 30 s of its stale window are left.
        let f = eval(&[("cache-control", "max-age=100, stale-while-revalidate=50"), ("age", "120")]).unwrap();
        assert_eq!((f.ttl, f.stale_while_revalidate), (Duration::ZERO, secs(30)));
        assert_eq!(f.state(Duration::ZERO), CacheState::StaleWhileRevalidate);
        // An invalid Age is ignored.
        assert_eq!(eval(&[("cache-control", "max-age=100"), ("age", "-5")]).unwrap().ttl, secs(100));
        assert_eq!(eval(&[("cache-control", "max-age=100"), ("age", " 5 ")]).unwrap().ttl, secs(95));
    }

    #[test]
    fn surrogate_control_speaks_for_the_edge() {
        let f = eval(&[("surrogate-control", "max-age=60"), ("cache-control", "private, no-store, no-cache")]).unwrap();
        assert_eq!((f.ttl, f.stale_if_error), (secs(60), DEFAULT_STALE_IF_ERROR));
        let f = eval(&[("surrogate-control", "max-age=60"), ("cache-control", "must-revalidate, stale-if-error=5")]);
        assert_eq!(f.unwrap().stale_if_error, secs(5));
        assert_eq!(
            eval(&[("surrogate-control", "no-store"), ("cache-control", "max-age=60")]),
            Err(Uncacheable::NoStore)
        );
        assert_eq!(eval(&[("surrogate-control", "no-store-remote")]), Err(Uncacheable::NoStore));
        let f = eval(&[("surrogate-control", "max-age=30+600, stale-while-revalidate=10")]).unwrap();
        assert_eq!((f.ttl, f.stale_if_error, f.stale_while_revalidate), (secs(30), secs(600), secs(10)));
        // Targeted at another surrogate: ignored, Cache-Control decides.
        let f = eval(&[("surrogate-control", "max-age=600;edge1, no-store;edge2"), ("cache-control", "max-age=5")]);
        assert_eq!(f.unwrap().ttl, secs(5));
        // Without max-age (ESI only), Cache-Control's restrictions hold.
        assert_eq!(
            eval(&[("surrogate-control", "content=\"ESI/1.0\""), ("cache-control", "private")]),
            Err(Uncacheable::Private)
        );
    }

    #[test]
    fn storage_refusals() {
        assert_eq!(eval(&[("cache-control", "no-store")]), Err(Uncacheable::NoStore));
        assert_eq!(eval(&[("cache-control", "max-age=60, NO-STORE")]), Err(Uncacheable::NoStore));
        assert_eq!(eval(&[("cache-control", "private")]), Err(Uncacheable::Private));
        assert_eq!(eval(&[("cache-control", "private=\"x-user\", max-age=60")]), Err(Uncacheable::Private));
        assert_eq!(eval(&[("cache-control", "max-age=60"), ("set-cookie", "a=b")]), Err(Uncacheable::SetCookie));
        assert_eq!(eval(&[("vary", "*")]), Err(Uncacheable::Vary));
        assert_eq!(eval(&[("vary", "Accept-Encoding, Origin")]), Err(Uncacheable::Vary));
        assert_eq!(eval(&[("vary", "accept-encoding"), ("vary", "cookie")]), Err(Uncacheable::Vary));
        assert!(eval(&[("vary", "Accept-Encoding"), ("vary", " accept-encoding ,")]).is_ok());
        assert!(eval(&[("vary", "")]).is_ok());
    }

    #[test]
    fn revalidation_directives_forbid_stale() {
        let f = eval(&[("cache-control", "no-cache, max-age=60, stale-while-revalidate=30")]).unwrap();
        assert_eq!(
            (f.ttl, f.stale_while_revalidate, f.stale_if_error),
            (Duration::ZERO, Duration::ZERO, Duration::ZERO)
        );
        assert_eq!(f.state(Duration::ZERO), CacheState::Expired);
        assert_eq!(eval(&[("cache-control", "no-cache=\"set-cookie\", max-age=60")]).unwrap().ttl, Duration::ZERO);
        for directive in ["must-revalidate", "proxy-revalidate"] {
            let cc = format!("max-age=60, {directive}, stale-if-error=600");
            let f = eval(&[("cache-control", &cc)]).unwrap();
            assert_eq!((f.ttl, f.stale_if_error), (secs(60), Duration::ZERO), "{directive}");
        }
        // s-maxage implies proxy-revalidate for the default, not for explicit windows.
        let f = eval(&[("cache-control", "s-maxage=60")]).unwrap();
        assert_eq!(f.stale_if_error, Duration::ZERO);
        let f = eval(&[("cache-control", "s-maxage=60, stale-while-revalidate=30, stale-if-error=90")]).unwrap();
        assert_eq!((f.stale_while_revalidate, f.stale_if_error), (secs(30), secs(90)));
    }

    #[test]
    fn statuses() {
        for status in [200, 203, 204, 300, 301, 308] {
            assert_eq!(eval_status(status, &[]).unwrap().ttl, DEFAULT_TTL, "{status}");
        }
        for status in [100, 206, 304, 400, 401, 403, 405, 414, 429, 500, 501, 502, 503, 504] {
            assert_eq!(eval_status(status, &[("cache-control", "public, max-age=60")]), Err(Uncacheable::Status));
        }
        for status in [302, 303, 307] {
            assert_eq!(eval_status(status, &[]), Err(Uncacheable::Status), "{status}");
            assert_eq!(eval_status(status, &[("cache-control", "max-age=60")]).unwrap().ttl, secs(60));
            assert_eq!(eval_status(status, &[("cache-control", "public")]).unwrap().ttl, DEFAULT_TTL);
            assert_eq!(eval_status(status, &[("expires", &date(5))]).unwrap().ttl, secs(5));
        }
    }

    #[test]
    fn negative_answers_are_short_lived() {
        for status in [404, 410] {
            let f = eval_status(status, &[]).unwrap();
            assert_eq!(
                (f.ttl, f.stale_if_error, f.stale_while_revalidate),
                (DEFAULT_NEGATIVE_TTL, Duration::ZERO, Duration::ZERO)
            );
            assert_eq!(eval_status(status, &[("cache-control", "max-age=3600")]).unwrap().ttl, DEFAULT_NEGATIVE_TTL);
            assert_eq!(eval_status(status, &[("cache-control", "max-age=3")]).unwrap().ttl, secs(3));
            let sie = eval_status(status, &[("cache-control", "max-age=3, stale-if-error=30")]).unwrap();
            assert_eq!(sie.stale_if_error, secs(30));
            // The origin marks its 404s no-store: honoured (Surrogate-Control can ask for negative caching).
            assert_eq!(eval_status(status, &[("cache-control", "no-store")]), Err(Uncacheable::NoStore));
            let asked = eval_status(status, &[("cache-control", "no-store"), ("surrogate-control", "max-age=10")]);
            assert_eq!(asked.unwrap().ttl, DEFAULT_NEGATIVE_TTL);
        }
        let policy = FreshnessPolicy { negative_ttl: secs(30), max_ttl: secs(20), ..FreshnessPolicy::default() };
        let f = policy.evaluate(StatusCode::NOT_FOUND, &HeaderMap::new(), received()).unwrap();
        assert_eq!(f.ttl, secs(20));
    }

    #[test]
    fn last_modified_heuristic() {
        let f = eval(&[("date", &date(0)), ("last-modified", &date(-100))]).unwrap();
        assert_eq!((f.ttl, f.source), (secs(10), FreshnessSource::Heuristic));
        assert_eq!(eval(&[("date", &date(0)), ("last-modified", &date(-100_000))]).unwrap().ttl, DEFAULT_TTL);
        assert_eq!(eval(&[("date", &date(0)), ("last-modified", &date(50))]).unwrap().ttl, Duration::ZERO);
        assert_eq!(eval(&[("last-modified", "not a date")]).unwrap().ttl, DEFAULT_TTL);
        // Relative to Date, not to the time of receipt.
        assert_eq!(eval(&[("date", &date(-1000)), ("last-modified", &date(-1100))]).unwrap().ttl, secs(10));
    }

    #[test]
    fn delta_seconds_parsing() {
        assert_eq!(eval(&[("cache-control", "max-age=\"60\"")]).unwrap().ttl, secs(60));
        assert_eq!(eval(&[("cache-control", "Max-Age = 60")]).unwrap().ttl, secs(60));
        for bad in ["max-age=abc", "max-age=-1", "max-age=", "max-age", "max-age=1.5", "max-age=+5", "max-age=\"\""] {
            let f = eval(&[("cache-control", bad)]).unwrap();
            assert_eq!((f.ttl, f.source), (Duration::ZERO, FreshnessSource::MaxAge), "{bad}");
        }
        let huge = eval(&[("cache-control", "max-age=99999999999999999999999999")]).unwrap();
        assert_eq!(huge.ttl, DEFAULT_MAX_TTL);
        let no_cap = FreshnessPolicy { max_ttl: Duration::MAX, ..FreshnessPolicy::default() };
        let f =
            no_cap.evaluate(StatusCode::OK, &headers(&[("cache-control", "max-age=99999999999999999999")]), received());
        assert_eq!(f.unwrap().ttl, secs(MAX_DELTA_SECONDS));
        // First occurrence wins, across field lines too.
        assert_eq!(eval(&[("cache-control", "max-age=5, max-age=50")]).unwrap().ttl, secs(5));
        assert_eq!(eval(&[("cache-control", "public"), ("cache-control", "max-age=7")]).unwrap().ttl, secs(7));
        assert_eq!(eval(&[("cache-control", "max-age=7"), ("cache-control", "no-store")]), Err(Uncacheable::NoStore));
    }

    #[test]
    fn quoted_strings_hide_commas() {
        let f = eval(&[("cache-control", "ext=\"a, max-age=5, no-store\", max-age=60")]).unwrap();
        assert_eq!(f.ttl, secs(60));
        let f = eval(&[("cache-control", "ext=\"a\\\", no-store\", max-age=60")]).unwrap();
        assert_eq!(f.ttl, secs(60));
        // Unterminated: the rest of the field is the value.
        assert_eq!(eval(&[("cache-control", "max-age=60, ext=\"no-store")]).unwrap().ttl, secs(60));
        assert_eq!(
            parse_directives(" a , b=1;t ,c=\"x,y\" junk, d"),
            [
                Directive { name: "a".into(), value: None, targeted: false },
                Directive { name: "b".into(), value: Some("1".into()), targeted: true },
                Directive { name: "c".into(), value: Some("x,y".into()), targeted: false },
                Directive { name: "d".into(), value: None, targeted: false },
            ]
        );
    }

    #[test]
    fn stale_windows_and_states() {
        let f = eval(&[("cache-control", "max-age=10, stale-while-revalidate=5, stale-if-error=60")]).unwrap();
        assert_eq!(f.state(secs(0)), CacheState::Fresh);
        assert_eq!(f.state(secs(9)), CacheState::Fresh);
        assert_eq!(f.state(secs(10)), CacheState::StaleWhileRevalidate);
        assert_eq!(f.state(secs(14)), CacheState::StaleWhileRevalidate);
        assert_eq!(f.state(secs(15)), CacheState::StaleIfError);
        assert_eq!(f.state(secs(69)), CacheState::StaleIfError);
        assert_eq!(f.state(secs(70)), CacheState::Expired);
        assert_eq!(f.state(Duration::MAX), CacheState::Expired);
        assert_eq!(f.retain_for(), secs(70));
        // A longer revalidate window covers the error window.
        let f = eval(&[("cache-control", "max-age=10, stale-while-revalidate=100, stale-if-error=60")]).unwrap();
        assert_eq!(f.state(secs(80)), CacheState::StaleWhileRevalidate);
        assert_eq!(f.state(secs(110)), CacheState::Expired);
        assert!(CacheState::StaleWhileRevalidate.usable_now() && !CacheState::StaleIfError.usable_now());
        assert!(CacheState::StaleIfError.usable_on_error() && !CacheState::Expired.usable_on_error());
        // Windows are capped like lifetimes.
        let f = eval(&[("cache-control", "max-age=10, stale-if-error=31536000")]).unwrap();
        assert_eq!(f.stale_if_error, DEFAULT_MAX_TTL);
        // Policy defaults.
        let policy = FreshnessPolicy { default_stale_while_revalidate: secs(7), ..FreshnessPolicy::default() };
        let f = policy.evaluate(StatusCode::OK, &headers(&[("cache-control", "max-age=10")]), received()).unwrap();
        assert_eq!(f.stale_while_revalidate, secs(7));
    }

    #[test]
    fn labels_match_as_str() {
        use Uncacheable::*;
        let all = [Status, NoStore, Private, SetCookie, Vary];
        assert_eq!(all.map(Uncacheable::as_str), Uncacheable::LABELS);
        use CacheState::*;
        let states = [Fresh, StaleWhileRevalidate, StaleIfError, Expired];
        assert_eq!(states.map(CacheState::as_str), CacheState::LABELS);
        assert_eq!(FreshnessSource::SMaxAge.as_str(), "s_maxage");
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_headers(
            fields in proptest::collection::vec(
                (prop::sample::select(vec!["cache-control", "surrogate-control", "expires", "date", "age", "vary", "last-modified"]),
                 proptest::collection::vec(any::<u8>(), 0..60)),
                0..6),
            status in 100u16..600,
        ) {
            let mut map = HeaderMap::new();
            for (name, bytes) in &fields {
                if let Ok(value) = HeaderValue::from_bytes(bytes) {
                    map.append(*name, value);
                }
            }
            let status = StatusCode::from_u16(status).unwrap();
            let _ = FreshnessPolicy::default().evaluate(status, &map, received());
        }

        #[test]
        fn directive_text_never_panics(text in any::<String>()) {
            let _ = parse_directives(&text);
        }

        #[test]
        fn lifetimes_round_trip_and_stay_capped(
            max_age in 0u64..200_000, s_maxage in proptest::option::of(0u64..200_000),
            swr in 0u64..200_000, age in 0u64..300_000,
        ) {
            let mut cc = format!("max-age={max_age}, stale-while-revalidate={swr}");
            if let Some(s) = s_maxage {
                cc.push_str(&format!(", s-maxage={s}"));
            }
            let f = eval(&[("cache-control", &cc), ("age", &age.to_string())]).unwrap();
            let lifetime = s_maxage.unwrap_or(max_age);
            prop_assert_eq!(f.ttl, secs(lifetime.saturating_sub(age)).min(DEFAULT_MAX_TTL));
            prop_assert!(f.stale_while_revalidate <= DEFAULT_MAX_TTL && f.stale_if_error <= DEFAULT_MAX_TTL);
            prop_assert_eq!(f.initial_age, secs(age));
        }

        #[test]
        fn states_only_move_forward(
            ttl in 0u64..1000, swr in 0u64..1000, sie in 0u64..1000, a in 0u64..5000, b in 0u64..5000,
        ) {
            let f = Freshness {
                ttl: secs(ttl), stale_while_revalidate: secs(swr), stale_if_error: secs(sie),
                initial_age: Duration::ZERO, source: FreshnessSource::MaxAge, immutable: false,
            };
            let (early, late) = (a.min(b), a.max(b));
            prop_assert!(f.state(secs(early)) <= f.state(secs(late)));
            prop_assert_eq!(f.state(secs(late)) == CacheState::Expired, secs(late) >= f.retain_for());
        }
    }
}
