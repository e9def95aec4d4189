//! A search query as the index takes it: its folded words, within the limits that keep each search's work
//! bounded. Values in, values out.

use crate::text;

/// Characters a query may have (more is refused: nobody types a title that long).
pub const MAX_QUERY_CHARS: usize = 256;
/// Distinct words a query may have.
pub const MAX_QUERY_WORDS: usize = 8;

/// Why a query is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the query has {0} characters; at most {MAX_QUERY_CHARS} are searched")]
    TooLong(usize),
    #[error("the query has no letters or digits to search for")]
    NoWords,
    #[error("the query has {0} different words; at most {MAX_QUERY_WORDS} are searched")]
    TooManyWords(usize),
}

/// The distinct folded words of `q`, in their order.
pub fn parse(q: &str) -> Result<Vec<String>, QueryError> {
    let chars = q.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong(chars));
    }
    let mut words = text::words(q);
    let mut seen = std::collections::HashSet::new();
    words.retain(|w| seen.insert(w.clone()));
    match words.len() {
        0 => Err(QueryError::NoWords),
        n if n > MAX_QUERY_WORDS => Err(QueryError::TooManyWords(n)),
        _ => Ok(words),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn queries_are_folded_deduplicated_and_bounded() {
        assert_eq!(parse("  Amélie,  amelie  Poulain ").unwrap(), ["amelie", "poulain"]);
        assert_eq!(parse(&"x".repeat(10_000)), Err(QueryError::TooLong(10_000)));
        assert_eq!(parse("?!* -- ..."), Err(QueryError::NoWords));
        assert_eq!(parse(""), Err(QueryError::NoWords));
        assert_eq!(parse("a b c d e f g h i"), Err(QueryError::TooManyWords(9)));
        assert_eq!(parse("a a a a a a a a a a").unwrap(), ["a"]);
    }

    proptest! {
        /// Any text is parsed or refused, and what is parsed is within the limits.
        #[test]
        fn any_text_is_parsed_within_limits_or_refused(q in "\\PC{0,300}") {
            if let Ok(words) = parse(&q) {
                prop_assert!(!words.is_empty() && words.len() <= MAX_QUERY_WORDS);
                prop_assert!(words.iter().all(|w| !w.is_empty() && w.chars().count() <= text::MAX_WORD_CHARS));
            }
        }
    }
}
