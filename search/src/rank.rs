//! How well an entry answers a query, and the order of the answers. Values in, values out: the index finds
//! the candidates and the words they have, this decides. The same candidates give the same order whatever
//! the engine that found them, since nothing here depends on the order they come in.
//!
//! A query word matches an entry's word exactly, as a prefix (`incep` → `inception`, words of
//! [`MIN_PREFIX_CHARS`] or more), or within [`max_edits`] Damerau-Levenshtein edits (two for words of
//! [`MIN_FUZZY_CHARS`] letters or more, none for shorter ones). Short words get none because two edits of a
//! four-letter word leave half of it: "leon" would find "lean", "neon", "loan", "lion" and hundreds more,
//! and every one of them would crowd out the word meant; from five letters, three or more letters stay
//! in place and the ranking (exact > prefix > one edit > two edits) puts the word meant first. Each match is worth its kind's points times its field's weight (the name above
//! other names above cast and credits above the synopsis); an entry's points are its best match per query
//! word, plus a bonus when every query word is in its name and another when its name is exactly the query.
//! Entries are ordered by how many query words they match, then points, then popularity, then id.

use std::cmp::Ordering;

/// Query words this long or longer also match the words they start.
pub const MIN_PREFIX_CHARS: usize = 3;
/// Query words this long or longer also match words one or two edits away (the issue: "one or two typos in
/// a word of five or more letters still find it").
pub const MIN_FUZZY_CHARS: usize = 5;
/// The most edits a query word may be away from the word it finds.
pub const MAX_EDITS: usize = 2;

/// Points when every query word is in the entry's name.
pub const ALL_IN_NAME_BONUS: i64 = 2000;
/// More points when the name is exactly the query's words.
pub const EXACT_NAME_BONUS: i64 = 1000;
/// Points off, when every query word is in the name, for each word of the name the query does not match (at
/// most [`MAX_UNMATCHED_PENALTY`]), so that "the silent harbour" puts "The Silent Harbour" above "The Silent Harbour of Lisbon".
pub const UNMATCHED_NAME_WORD_PENALTY: i64 = 5;
pub const MAX_UNMATCHED_PENALTY: i64 = 50;

/// Where in an entry a word is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// The title, or the person's name.
    Name,
    /// Original titles, a series' title, other spellings.
    OtherName,
    /// Cast and crew of a title; a person's titles.
    Related,
    /// Synopsis, biography, genres.
    Text,
}

impl Field {
    pub const ALL: [Field; 4] = [Field::Name, Field::OtherName, Field::Related, Field::Text];

    /// What a match in this field is worth, relative to the others.
    pub fn weight(self) -> i64 {
        match self {
            Self::Name => 10,
            Self::OtherName => 8,
            Self::Related => 5,
            Self::Text => 3,
        }
    }

    /// Its number in the index.
    pub fn code(self) -> i64 {
        match self {
            Self::Name => 0,
            Self::OtherName => 1,
            Self::Related => 2,
            Self::Text => 3,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// How an entry's word matches a query word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Match {
    Exact,
    Prefix,
    /// One or two edits away.
    Edits(u8),
}

impl Match {
    /// What the match is worth before its field's weight.
    pub fn points(self) -> i64 {
        match self {
            Self::Exact => 100,
            Self::Prefix => 80,
            Self::Edits(1) => 70,
            Self::Edits(_) => 50,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Prefix => "prefix",
            Self::Edits(1) => "one_edit",
            Self::Edits(_) => "two_edits",
        }
    }
}

/// The edits a query word of `chars` characters may be away from the word it finds.
pub fn max_edits(chars: usize) -> usize {
    if chars >= MIN_FUZZY_CHARS {
        MAX_EDITS
    } else {
        0
    }
}

/// How the (folded) entry word `term` matches the (folded) query word `word`, if it does; the best way when
/// several hold.
pub fn match_word(word: &str, term: &str) -> Option<Match> {
    if term == word {
        return Some(Match::Exact);
    }
    let chars = word.chars().count();
    if chars >= MIN_PREFIX_CHARS && term.starts_with(word) {
        return Some(Match::Prefix);
    }
    let edits = max_edits(chars);
    if edits == 0 || term.chars().count().abs_diff(chars) > edits {
        return None;
    }
    let distance = strsim::damerau_levenshtein(word, term);
    (distance <= edits).then(|| Match::Edits(u8::try_from(distance).unwrap_or(u8::MAX)))
}

/// One of a candidate's words that matched query word `word` (its index in the query) in `field`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub word: usize,
    pub field: Field,
    pub how: Match,
}

/// An entry the index found for a query, with every match of its words.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub popularity: f64,
    /// How many words its name has.
    pub name_words: usize,
    pub hits: Vec<Hit>,
}

/// What a candidate is worth for a query of `query_words` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Score {
    /// Query words it matches, anywhere.
    pub matched: usize,
    pub points: i64,
}

pub fn score(query_words: usize, candidate: &Candidate) -> Score {
    let mut best = vec![0i64; query_words];
    let mut in_name = vec![false; query_words];
    let mut exact_in_name = vec![false; query_words];
    for hit in candidate.hits.iter().filter(|h| h.word < query_words) {
        best[hit.word] = best[hit.word].max(hit.how.points() * hit.field.weight());
        if hit.field == Field::Name {
            in_name[hit.word] = true;
            exact_in_name[hit.word] |= hit.how == Match::Exact;
        }
    }
    let matched = best.iter().filter(|p| **p > 0).count();
    let named = in_name.iter().filter(|n| **n).count();
    let mut points: i64 = best.iter().sum();
    if named == query_words && query_words > 0 {
        points += ALL_IN_NAME_BONUS;
        if candidate.name_words == query_words && exact_in_name.iter().all(|e| *e) {
            points += EXACT_NAME_BONUS;
        }
        let unmatched = i64::try_from(candidate.name_words.saturating_sub(named)).unwrap_or(i64::MAX);
        points -= unmatched.saturating_mul(UNMATCHED_NAME_WORD_PENALTY).min(MAX_UNMATCHED_PENALTY);
    }
    Score { matched, points }
}

/// A candidate in the answer's order, with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub id: String,
    pub score: Score,
    pub popularity: f64,
}

/// The candidates that match at least one query word, best first: more query words matched, then more
/// points, then more popular, then by id (so equal entries keep one order).
pub fn rank(query_words: usize, candidates: &[Candidate]) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = candidates
        .iter()
        .map(|c| Ranked { id: c.id.clone(), score: score(query_words, c), popularity: c.popularity })
        .filter(|r| r.score.matched > 0)
        .collect();
    ranked.sort_by(order);
    ranked.dedup_by(|a, b| a.id == b.id);
    ranked
}

fn order(a: &Ranked, b: &Ranked) -> Ordering {
    b.score.cmp(&a.score).then_with(|| b.popularity.total_cmp(&a.popularity)).then_with(|| a.id.cmp(&b.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hit(word: usize, field: Field, how: Match) -> Hit {
        Hit { word, field, how }
    }

    fn candidate(id: &str, popularity: f64, name_words: usize, hits: Vec<Hit>) -> Candidate {
        Candidate { id: id.into(), popularity, name_words, hits }
    }

    #[test]
    fn words_match_exactly_by_prefix_or_within_their_edits() {
        assert_eq!(match_word("inception", "inception"), Some(Match::Exact));
        assert_eq!(match_word("incep", "inception"), Some(Match::Prefix));
        assert_eq!(match_word("in", "inception"), None, "two letters are no prefix");
        assert_eq!(match_word("incpetion", "inception"), Some(Match::Edits(1)), "a transposition is one edit");
        assert_eq!(match_word("incpetoin", "inception"), Some(Match::Edits(2)));
        assert_eq!(match_word("icnpetoin", "inception"), None, "three edits");
        assert_eq!(match_word("harbr", "harbor"), Some(Match::Edits(1)));
        assert_eq!(match_word("harbr", "harbour"), Some(Match::Edits(2)), "five letters allow two edits");
        assert_eq!(match_word("hrabr", "harbour"), None, "three edits");
        assert_eq!(match_word("gradne", "garden"), Some(Match::Edits(2)), "two transpositions");
        assert_eq!(match_word("leon", "lean"), None, "four letters allow none");
        assert_eq!(match_word("amelie", "amelie"), Some(Match::Exact));
    }

    #[test]
    fn a_title_match_beats_a_synopsis_match_and_an_exact_name_beats_both() {
        let exact = candidate("c", 0.0, 1, vec![hit(0, Field::Name, Match::Exact)]);
        let longer = candidate("b", 0.0, 3, vec![hit(0, Field::Name, Match::Exact)]);
        let fuzzy_name = candidate("e", 0.0, 3, vec![hit(0, Field::Name, Match::Edits(2))]);
        let synopsis = candidate("a", 1e9, 4, vec![hit(0, Field::Text, Match::Exact)]);
        let cast = candidate("d", 1e9, 2, vec![hit(0, Field::Related, Match::Exact)]);
        let ranked: Vec<String> =
            rank(1, &[synopsis, cast, fuzzy_name, longer, exact]).into_iter().map(|r| r.id).collect();
        assert_eq!(ranked, ["c", "b", "e", "d", "a"]);
    }

    #[test]
    fn more_query_words_matched_come_first_then_popularity_breaks_ties() {
        let both_in_text =
            candidate("z", 1.0, 2, vec![hit(0, Field::Text, Match::Exact), hit(1, Field::Text, Match::Exact)]);
        let one_in_name = candidate("y", 9.0, 1, vec![hit(0, Field::Name, Match::Exact)]);
        let popular = candidate("b", 5.0, 2, vec![hit(0, Field::Text, Match::Exact)]);
        let unpopular = candidate("a", 4.0, 2, vec![hit(0, Field::Text, Match::Exact)]);
        let same = candidate("c", 4.0, 2, vec![hit(0, Field::Text, Match::Exact)]);
        let ranked: Vec<String> =
            rank(2, &[unpopular, same, popular, one_in_name, both_in_text]).into_iter().map(|r| r.id).collect();
        assert_eq!(ranked, ["z", "y", "b", "a", "c"], "then by id");
    }

    #[test]
    fn candidates_that_match_nothing_are_dropped() {
        assert!(rank(1, &[candidate("a", 0.0, 1, vec![hit(3, Field::Name, Match::Exact)])]).is_empty());
        assert!(rank(1, &[candidate("a", 0.0, 1, vec![])]).is_empty());
    }

    #[test]
    fn fields_round_trip_their_codes() {
        for field in Field::ALL {
            assert_eq!(Field::from_code(field.code()), Some(field));
        }
        assert_eq!(Field::from_code(9), None);
    }

    fn any_match() -> impl Strategy<Value = Match> {
        prop_oneof![Just(Match::Exact), Just(Match::Prefix), Just(Match::Edits(1)), Just(Match::Edits(2))]
    }

    fn any_candidate() -> impl Strategy<Value = Candidate> {
        let hits = proptest::collection::vec(
            (0usize..4, 0usize..4, any_match()).prop_map(|(w, f, how)| hit(w, Field::ALL[f], how)),
            0..6,
        );
        ("[a-f]{1,3}", 0u8..4, 1usize..6, hits).prop_map(|(id, p, n, hits)| candidate(&id, f64::from(p), n, hits))
    }

    proptest! {
        /// The order depends on the candidates, not on the order the index returned them in.
        #[test]
        fn order_does_not_depend_on_input_order(mut candidates in proptest::collection::vec(any_candidate(), 0..12), seed in any::<u64>()) {
            // One entry per id, as the index gives them.
            candidates.sort_by(|a, b| a.id.cmp(&b.id));
            candidates.dedup_by(|a, b| a.id == b.id);
            let once = rank(3, &candidates);
            let mut shuffled = candidates.clone();
            let len = shuffled.len().max(1);
            shuffled.rotate_left(usize::try_from(seed).unwrap_or(0) % len);
            shuffled.reverse();
            prop_assert_eq!(rank(3, &shuffled), once);
        }

        /// Another match never lowers a candidate's score.
        #[test]
        fn more_matches_never_score_less(mut candidate in any_candidate(), extra in (0usize..3, 0usize..4, any_match())) {
            let before = score(3, &candidate);
            candidate.hits.push(hit(extra.0, Field::ALL[extra.1], extra.2));
            let after = score(3, &candidate);
            prop_assert!(after.matched >= before.matched);
            prop_assert!(after >= before || after.matched > before.matched, "{:?} then {:?}", before, after);
        }

        /// Any word of five letters or more, typed with one or two edits (substitution, insertion, deletion,
        /// transposition) that leave five letters or more, still finds it, and no better than it should.
        #[test]
        fn one_or_two_edits_in_a_word_of_five_letters_or_more_still_match(
            word in "[a-z]{5,12}",
            edits in proptest::collection::vec((0u8..4, any::<prop::sample::Index>(), "[a-z]"), 1..=2),
        ) {
            let mut chars: Vec<char> = word.chars().collect();
            for (kind, at, c) in &edits {
                let c = c.chars().next().unwrap();
                let i = at.index(chars.len());
                match kind {
                    0 => chars[i] = c,
                    1 if chars.len() > MIN_FUZZY_CHARS => { chars.remove(i); }
                    2 => chars.insert(i, c),
                    _ if i + 1 < chars.len() => chars.swap(i, i + 1),
                    _ => chars[i] = c,
                }
            }
            let typo: String = chars.into_iter().collect();
            let found = match_word(&typo, &word);
            prop_assert!(found.is_some(), "{} vs {}", typo, word);
            if typo != word && !word.starts_with(&typo) {
                let distance = strsim::damerau_levenshtein(&typo, &word);
                prop_assert_eq!(found, Some(Match::Edits(u8::try_from(distance).unwrap())));
                prop_assert!(distance <= edits.len());
            }
        }

        /// Words shorter than five letters match only exactly or as a prefix.
        #[test]
        fn short_words_need_no_typo(word in "[a-z]{1,4}", term in "[a-z]{1,8}") {
            let found = match_word(&word, &term);
            prop_assert!(matches!(found, None | Some(Match::Exact) | Some(Match::Prefix)), "{} vs {}: {:?}", word, term, found);
        }
    }
}
