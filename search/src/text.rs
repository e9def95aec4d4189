//! Text as the index and the queries see it: words folded to lowercase without accents (Unicode NFKD with
//! the combining marks removed, and the few letters NFKD leaves whole folded by hand), split on everything
//! that is not a letter or a digit; and the trigrams of a word, by which near spellings are found. Values in,
//! values out.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Words are cut to this many characters: nobody types more, and it bounds the index and the queries.
pub const MAX_WORD_CHARS: usize = 32;

/// The words of `text`, folded: `"Amélie’s  Straße"` → `["amelie", "s", "strasse"]`.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut chars = 0;
    for c in text.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() {
            for lower in c.to_lowercase().filter(|l| !is_combining_mark(*l)) {
                let mut buffer = [0; 4];
                for folded in fold(lower, &mut buffer).chars() {
                    if chars < MAX_WORD_CHARS {
                        current.push(folded);
                        chars += 1;
                    }
                }
            }
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
            chars = 0;
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `c` as plain letters: those NFKD does not decompose (ß, æ, ø, ł, …) become their usual Latin spelling,
/// so that "Bjork" finds "Bjørk".
fn fold(c: char, buffer: &mut [u8; 4]) -> &str {
    match c {
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'þ' => "th",
        'ı' => "i",
        _ => c.encode_utf8(buffer),
    }
}

/// The distinct trigrams of a (folded) word with a space before and after it, sorted: `"cat"` → `[" ca",
/// "at ", "cat"]`. Words that are a few edits apart share some of them, which is how the index finds
/// candidate spellings before measuring the distance.
pub fn trigrams(word: &str) -> Vec<String> {
    let padded: Vec<char> = std::iter::once(' ').chain(word.chars()).chain(std::iter::once(' ')).collect();
    let mut grams: Vec<String> = padded.windows(3).map(|w| w.iter().collect()).collect();
    grams.sort();
    grams.dedup();
    grams
}

/// The smallest string greater than every string that starts with `prefix` (so that `term >= prefix AND
/// term < successor` is a prefix search the B-tree answers), or `None` when there is none.
pub fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accents_case_and_punctuation_go() {
        assert_eq!(words("Amélie’s  STRASSE, Straße!"), ["amelie", "s", "strasse", "strasse"]);
        assert_eq!(words("Léon: The Professional (1994)"), ["leon", "the", "professional", "1994"]);
        assert_eq!(words("Bjørk — Ærø Œuvre Łódź"), ["bjork", "aero", "oeuvre", "lodz"]);
        assert_eq!(words("Ｆｕｌｌｗｉｄｔｈ ﬁlm"), ["fullwidth", "film"], "compatibility forms fold");
        assert_eq!(words("İstanbul"), ["istanbul"], "a lowercase that adds a combining dot loses it");
        assert_eq!(words("千と千尋の神隠し"), ["千と千尋の神隠し"], "letters of any script are kept");
        assert!(words("!!! ??? ---").is_empty());
        assert!(words("").is_empty());
    }

    #[test]
    fn long_words_are_cut() {
        let long = "a".repeat(100);
        assert_eq!(words(&format!("{long} b")), ["a".repeat(MAX_WORD_CHARS), "b".into()]);
    }

    #[test]
    fn trigrams_are_padded_and_distinct() {
        assert_eq!(trigrams("cat"), [" ca", "at ", "cat"]);
        assert_eq!(trigrams("aaaa"), [" aa", "aa ", "aaa"]);
        assert_eq!(trigrams("é"), [" é "]);
    }

    #[test]
    fn successors_bound_prefixes() {
        assert_eq!(prefix_successor("incep").as_deref(), Some("inceq"));
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor(""), None);
    }

    proptest! {
        /// Folding is idempotent: a folded word's words are itself, so the index and the queries agree.
        #[test]
        fn folding_twice_changes_nothing(text in "\\PC{0,40}") {
            for word in words(&text) {
                prop_assert_eq!(words(&word), vec![word.clone()]);
                prop_assert!(word.chars().count() <= MAX_WORD_CHARS);
            }
        }

        /// Accented Latin folds to what a person types without accents.
        #[test]
        fn latin_accents_fold_to_ascii(text in "[a-zA-ZàáâäãåçèéêëìíîïñòóôöõùúûüýÿÀÉÎÕÜÇ ]{0,40}") {
            for word in words(&text) {
                prop_assert!(word.chars().all(|c| c.is_ascii_lowercase()), "{}", word);
            }
        }

        /// Every string that starts with the prefix sorts between it and its successor (byte order, as
        /// SQLite and PostgreSQL's "C" collation compare).
        #[test]
        fn prefix_ranges_hold_their_strings(prefix in "\\PC{1,6}", rest in "\\PC{0,6}") {
            let successor = prefix_successor(&prefix).unwrap();
            let word = format!("{prefix}{rest}");
            prop_assert!(prefix.as_str() <= word.as_str() && word.as_str() < successor.as_str());
        }
    }
}
