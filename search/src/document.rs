//! An index entry as the index stores it: its distinct folded words, each with the fields it is in. Values in,
//! values out.

use std::collections::BTreeSet;

use marquee_catalog::index::IndexEntry;

use crate::rank::Field;
use crate::text;

/// Distinct (word, field) pairs one entry may have; the rest of a very long synopsis is not indexed.
pub const MAX_POSTINGS_PER_ENTRY: usize = 1000;

/// The distinct (word, field) pairs of `entry`, fields in order of weight (so a cut loses synopsis words
/// first).
pub fn postings(entry: &IndexEntry) -> BTreeSet<(String, Field)> {
    let mut postings = BTreeSet::new();
    let name = std::iter::once(&entry.name);
    let texts = entry.genres.iter().chain(std::iter::once(&entry.text));
    let fields: [(Field, Vec<&String>); 4] = [
        (Field::Name, name.collect()),
        (Field::OtherName, entry.other_names.iter().collect()),
        (Field::Related, entry.related.iter().collect()),
        (Field::Text, texts.collect()),
    ];
    for (field, values) in fields {
        for value in values {
            for word in text::words(value) {
                if postings.len() >= MAX_POSTINGS_PER_ENTRY {
                    return postings;
                }
                postings.insert((word, field));
            }
        }
    }
    postings
}

/// The words of the entry's name (what the ranking's whole-name bonus compares with).
pub fn name_words(entry: &IndexEntry) -> usize {
    let mut words = text::words(&entry.name);
    words.sort();
    words.dedup();
    words.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use marquee_catalog::index::EntryKind;

    #[test]
    fn words_are_kept_per_field_and_long_texts_are_cut() {
        let entry = IndexEntry {
            id: "t1".into(),
            kind: EntryKind::Title,
            name: "Léon, Léon".into(),
            other_names: vec!["Leon the Professional".into()],
            text: "word ".repeat(10) + &(0..2000).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" "),
            related: vec!["Jean Réno".into()],
            genres: vec!["Thriller".into()],
            title_kind: Some("movie".into()),
            release_year: Some(1994),
            popularity: 1.0,
            visible_from: None,
            visible_until: None,
        };
        let postings = postings(&entry);
        assert_eq!(postings.len(), MAX_POSTINGS_PER_ENTRY);
        for expected in [
            ("leon", Field::Name),
            ("leon", Field::OtherName),
            ("professional", Field::OtherName),
            ("reno", Field::Related),
            ("word", Field::Text),
            ("w0", Field::Text),
        ] {
            assert!(postings.contains(&(expected.0.to_owned(), expected.1)), "{expected:?}");
        }
        assert!(postings.contains(&("thriller".to_owned(), Field::Text)), "genres come before the synopsis");
        assert!(!postings.contains(&("w1999".to_owned(), Field::Text)), "the synopsis' end was cut");
        assert_eq!(name_words(&entry), 1);
    }
}
