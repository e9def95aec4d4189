//! What a webhook endpoint accepts, as values: which URLs can be endpoints, which event types an endpoint
//! wants, and which events reach which endpoint.

use std::collections::BTreeSet;

use reqwest::Url;

use super::kind::{EventType, UnknownEventType};

/// The longest endpoint URL accepted.
pub const MAX_URL_LENGTH: usize = 2048;

/// Why a URL cannot be a webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url:?} cannot be a webhook endpoint: {reason}")]
pub struct InvalidEndpointUrl {
    pub url: String,
    pub reason: &'static str,
}

/// Checks that `text` is an absolute `http` or `https` URL with a host, no credentials and no fragment.
pub fn endpoint_url(text: &str) -> Result<Url, InvalidEndpointUrl> {
    let invalid = |reason| InvalidEndpointUrl { url: text.chars().take(200).collect(), reason };
    if text.len() > MAX_URL_LENGTH {
        return Err(invalid("longer than 2048 bytes"));
    }
    let url = Url::parse(text).map_err(|_| invalid("not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http and https URLs can receive webhooks"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials in the URL would be logged; authenticate the webhooks by their signature"));
    }
    if url.fragment().is_some() {
        return Err(invalid("a fragment is never sent to a server"));
    }
    Ok(url)
}

/// The event types an endpoint receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    All,
    Only(BTreeSet<EventType>),
}

impl EventFilter {
    /// From the names a client gave (`None`: every type). An empty list is refused: it would receive nothing.
    pub fn from_names<S: AsRef<str>>(names: Option<&[S]>) -> Result<Self, FilterProblem> {
        let Some(names) = names else { return Ok(EventFilter::All) };
        if names.is_empty() {
            return Err(FilterProblem::Empty);
        }
        let kinds = names.iter().map(|name| name.as_ref().parse()).collect::<Result<BTreeSet<EventType>, _>>()?;
        Ok(EventFilter::Only(kinds))
    }

    pub fn matches(&self, kind: EventType) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Only(kinds) => kinds.contains(&kind),
        }
    }

    /// The stored form: a JSON array of names, or `None` for every type.
    pub fn to_stored(&self) -> Option<String> {
        match self {
            EventFilter::All => None,
            EventFilter::Only(kinds) => {
                Some(serde_json::to_string(&kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()).unwrap_or_default())
            }
        }
    }

    /// Reads the stored form back. A name this version does not know (written by a newer one) is skipped.
    pub fn from_stored(stored: Option<&str>) -> Self {
        match stored {
            None => EventFilter::All,
            Some(text) => EventFilter::Only(
                serde_json::from_str::<Vec<String>>(text)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|name| name.parse().ok())
                    .collect(),
            ),
        }
    }

    /// The types as a list for answers; `None` for every type.
    pub fn types(&self) -> Option<Vec<EventType>> {
        match self {
            EventFilter::All => None,
            EventFilter::Only(kinds) => Some(kinds.iter().copied().collect()),
        }
    }
}

/// Why an event type list cannot be an endpoint's filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterProblem {
    #[error("event_types is empty: leave it out to receive every type")]
    Empty,
    #[error(transparent)]
    Unknown(#[from] UnknownEventType),
}

/// Whether an endpoint receives an event: creators' endpoints get their own assets' events, admins' endpoints
/// every event; and only the types the endpoint asked for.
pub fn endpoint_receives(
    endpoint_owner: &str,
    owner_is_admin: bool,
    filter: &EventFilter,
    event_owner: &str,
    kind: EventType,
) -> bool {
    (owner_is_admin || endpoint_owner == event_owner) && filter.matches(kind)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn endpoint_urls_are_absolute_http_without_credentials() {
        assert!(endpoint_url("https://hooks.example.com/marquee?x=1").is_ok());
        assert!(endpoint_url("http://127.0.0.1:8080/hook").is_ok());
        for (text, reason) in [
            ("hooks.example.com/marquee", "not an absolute URL"),
            ("ftp://hooks.example.com/", "only http and https"),
            ("file:///etc/passwd", "only http and https"),
            ("https://user:pw@hooks.example.com/", "credentials"),
            ("https://hooks.example.com/#top", "fragment"),
        ] {
            let error = endpoint_url(text).unwrap_err();
            assert!(error.reason.contains(reason), "{text}: {error}");
        }
        assert!(endpoint_url(&format!("https://h.example/{}", "a".repeat(MAX_URL_LENGTH))).is_err());
    }

    #[test]
    fn filters_from_names() {
        assert_eq!(EventFilter::from_names::<&str>(None), Ok(EventFilter::All));
        assert_eq!(EventFilter::from_names::<&str>(Some(&[])), Err(FilterProblem::Empty));
        let filter = EventFilter::from_names(Some(&["asset.ready", "asset.errored", "asset.ready"])).unwrap();
        assert!(filter.matches(EventType::AssetReady) && filter.matches(EventType::AssetErrored));
        assert!(!filter.matches(EventType::AssetCreated));
        assert_eq!(filter.types(), Some(vec![EventType::AssetReady, EventType::AssetErrored]));
        assert!(matches!(EventFilter::from_names(Some(&["asset.redy"])), Err(FilterProblem::Unknown(_))));
    }

    #[test]
    fn creators_get_their_own_events_and_admins_all() {
        let all = EventFilter::All;
        assert!(endpoint_receives("alice", false, &all, "alice", EventType::AssetReady));
        assert!(!endpoint_receives("alice", false, &all, "bob", EventType::AssetReady));
        assert!(endpoint_receives("root", true, &all, "bob", EventType::AssetReady));
        let ready_only = EventFilter::Only([EventType::AssetReady].into());
        assert!(!endpoint_receives("root", true, &ready_only, "bob", EventType::AssetCreated));
    }

    fn any_filter() -> impl Strategy<Value = EventFilter> {
        prop_oneof![
            Just(EventFilter::All),
            proptest::sample::subsequence(EventType::ALL.to_vec(), 1..=EventType::ALL.len())
                .prop_map(|kinds| EventFilter::Only(kinds.into_iter().collect())),
        ]
    }

    proptest! {
        #[test]
        fn stored_filters_read_back_the_same(filter in any_filter()) {
            prop_assert_eq!(EventFilter::from_stored(filter.to_stored().as_deref()), filter);
        }

        #[test]
        fn a_filter_matches_exactly_its_types(filter in any_filter(), kind in proptest::sample::select(EventType::ALL.to_vec())) {
            let listed = filter.types().is_none_or(|types| types.contains(&kind));
            prop_assert_eq!(filter.matches(kind), listed);
        }
    }
}
