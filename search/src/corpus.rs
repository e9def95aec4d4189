//! A made-up but realistic catalog (titles with accents, casts, synopses that reuse title words, people with
//! their credits), generated from a seed, and misspelled queries made from its titles by a seeded typo
//! model: the shared corpus of the search tests (quality, both engines alike) and benchmarks.
//!
//! The generator uses its own small PRNG (SplitMix64) rather than `rand`'s, whose streams may change between
//! versions: the checked-in query list (`search/tests/data/misspellings.tsv`) names titles by id, and must
//! name the same titles for as long as the seed is the same.

use marquee_catalog::index::{EntryKind, IndexEntry};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::{rank, text};

/// The seed of the test corpus.
pub const SEED: u64 = 11;
/// Titles in the test corpus.
pub const TEST_TITLES: usize = 1200;
/// Unix milliseconds of 2000-01-01: the end of the corpus' expired titles' window.
pub const EXPIRED_UNTIL: i64 = 946_684_800_000;
/// Unix milliseconds of 2100-01-01: the start of the corpus' upcoming titles' window.
pub const UPCOMING_FROM: i64 = 4_102_444_800_000;

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and its stream is fixed by its definition.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n).unwrap_or(u64::MAX)).unwrap_or(0)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True `percent` times in 100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const ADJECTIVES: &[&str] = &[
    "Silent",
    "Hidden",
    "Broken",
    "Golden",
    "Crimson",
    "Distant",
    "Endless",
    "Frozen",
    "Burning",
    "Forgotten",
    "Wandering",
    "Hollow",
    "Scarlet",
    "Quiet",
    "Savage",
    "Gentle",
    "Bitter",
    "Velvet",
    "Electric",
    "Ancient",
    "Restless",
    "Lonely",
    "Secret",
    "Shattered",
    "Sacred",
    "Wicked",
    "Luminous",
    "Fragile",
    "Stolen",
    "Northern",
    "Southern",
    "Eternal",
    "Invisible",
    "Radiant",
    "Crooked",
    "Tender",
    "Furious",
    "Silver",
    "Emerald",
    "Final",
    "Midnight",
    "Painted",
    "Borrowed",
    "Reckless",
    "Sleeping",
    "Drifting",
    "Burnished",
    "Obsidian",
    "Wild",
    "Fading",
    "Perfect",
    "Glass",
    "Iron",
    "Paper",
    "Wounded",
    "Dancing",
    "Little",
    "Strange",
    "Dangerous",
    "Beautiful",
    "Lucky",
    "Lost",
    "Last",
    "Blue",
    "Black",
    "White",
    "Dark",
    "Bright",
    "Royal",
    "Hungry",
];

const NOUNS: &[&str] = &[
    "Harbour",
    "Garden",
    "River",
    "Kingdom",
    "Mirror",
    "Shadow",
    "Lantern",
    "Orchard",
    "Voyage",
    "Empire",
    "Frontier",
    "Carnival",
    "Letters",
    "Winter",
    "Summer",
    "Horizon",
    "Cathedral",
    "Lighthouse",
    "Symphony",
    "Labyrinth",
    "Compass",
    "Meridian",
    "Station",
    "Island",
    "Mountain",
    "Desert",
    "Forest",
    "Canyon",
    "Paradise",
    "Inheritance",
    "Conspiracy",
    "Reckoning",
    "Awakening",
    "Promise",
    "Memory",
    "Silence",
    "Thunder",
    "Orchestra",
    "Highway",
    "Vineyard",
    "Monastery",
    "Circus",
    "Archive",
    "Passenger",
    "Stranger",
    "Daughter",
    "Brother",
    "Soldier",
    "Painter",
    "Detective",
    "Witness",
    "Surgeon",
    "Pilgrim",
    "Heiress",
    "Smuggler",
    "Gambler",
    "Tailor",
    "Astronomer",
    "Ballerina",
    "Cartographer",
    "Machine",
    "Engine",
    "Signal",
    "Frequency",
    "Comet",
    "Eclipse",
    "Tide",
    "Avalanche",
    "Hurricane",
    "Wildfire",
    "Ember",
    "Crown",
    "Dagger",
    "Feather",
    "Violin",
    "Piano",
    "Telegram",
    "Postcard",
    "Diary",
    "Photograph",
    "Ransom",
    "Bargain",
    "Wedding",
    "Funeral",
    "Festival",
    "Heist",
    "Escape",
    "Journey",
    "Rebellion",
    "Revolution",
    "Kingdoms",
    "Nightingale",
    "Falcon",
    "Wolves",
    "Tigers",
    "Butterfly",
    "Serpent",
    "Glacier",
    "Volcano",
    "Meadow",
];

const PLACES: &[&str] = &[
    "Lisbon",
    "Montréal",
    "Kraków",
    "São Paulo",
    "Zürich",
    "Reykjavík",
    "Málaga",
    "Marseille",
    "Bogotá",
    "Istanbul",
    "Kyoto",
    "Nairobi",
    "Tromsø",
    "Córdoba",
    "Valparaíso",
    "Düsseldorf",
    "Besançon",
    "Gdańsk",
    "Brașov",
    "Ljubljana",
    "Sevilla",
    "Tbilisi",
    "Havana",
    "Dakar",
    "Manila",
    "Hanoi",
    "Odesa",
    "Porto",
    "Naples",
    "Vienna",
    "Prague",
    "Budapest",
    "Tangier",
    "Cartagena",
    "Mendoza",
    "Quebec",
    "Avignon",
    "Genève",
    "Salzburg",
    "Trondheim",
];

const GIVEN: &[&str] = &[
    "Amélie",
    "Léon",
    "Zoë",
    "Renée",
    "José",
    "Inès",
    "Björn",
    "Søren",
    "Chloé",
    "Hélène",
    "Mathéo",
    "Noémie",
    "Raúl",
    "Agnès",
    "Jürgen",
    "Ana",
    "Marco",
    "Elena",
    "Tomás",
    "Léa",
    "Oskar",
    "Frida",
    "Jonas",
    "Clara",
    "Mateo",
    "Sofía",
    "Émile",
    "Aurélien",
    "Maëlle",
    "Joaquín",
    "Ingrid",
    "Kenji",
    "Amara",
    "Dmitri",
    "Yara",
    "Lucía",
    "François",
    "Zoltán",
    "Astrid",
    "Nikolaj",
];

const FAMILY: &[&str] = &[
    "Moreau",
    "Núñez",
    "Dubois",
    "Kowalski",
    "Lindqvist",
    "García",
    "Okafor",
    "Tanaka",
    "Müller",
    "Rossi",
    "Fernández",
    "Petrov",
    "Haddad",
    "O'Brien",
    "Nakamura",
    "Álvarez",
    "Lefèvre",
    "Šimek",
    "Öztürk",
    "Nørgaard",
    "Castillo",
    "Brennan",
    "Achebe",
    "Sørensen",
    "Esposito",
    "Kovač",
    "Laurent",
    "Mbeki",
    "Quintero",
    "Halvorsen",
    "Delacroix",
    "Ibáñez",
    "Wójcik",
    "Takahashi",
    "Vasquez",
    "Fontaine",
    "Oyelaran",
    "Bergström",
    "Yilmaz",
    "Carvalho",
];

const GENRES: &[&str] = &[
    "Drama",
    "Comedy",
    "Thriller",
    "Documentary",
    "Romance",
    "Science fiction",
    "Animation",
    "Western",
    "Horror",
    "Mystery",
    "Adventure",
    "Musical",
];

const OCCUPATIONS: &[&str] = &[
    "fisherman",
    "widow",
    "journalist",
    "schoolteacher",
    "boxer",
    "chef",
    "pianist",
    "nurse",
    "thief",
    "architect",
    "lawyer",
    "farmer",
    "pilot",
    "priest",
    "student",
    "singer",
];

const VERBS: &[&str] = &[
    "returns to",
    "flees",
    "arrives in",
    "searches",
    "dreams of",
    "leaves",
    "rebuilds",
    "defends",
    "remembers",
    "explores",
];

fn title_name(rng: &mut SplitMix64) -> String {
    let adjective = rng.pick(ADJECTIVES);
    let noun = rng.pick(NOUNS);
    let place = rng.pick(PLACES);
    let given = rng.pick(GIVEN);
    match rng.below(10) {
        0 | 1 => format!("The {adjective} {noun}"),
        2 => format!("{adjective} {noun}"),
        3 => format!("The {noun} of {place}"),
        4 => format!("{given}'s {noun}"),
        5 => format!("{noun} in {place}"),
        6 => format!("A {noun} for {given}"),
        7 => format!("{noun} and {}", rng.pick(NOUNS)),
        _ => format!("The {adjective} {noun} of {place}"),
    }
}

fn synopsis(rng: &mut SplitMix64, lead: &str) -> String {
    let sentences = 2 + rng.below(2);
    let mut text = Vec::new();
    for _ in 0..sentences {
        text.push(format!(
            "A {} {} {} {} to find the {} {} {} left behind.",
            rng.pick(ADJECTIVES).to_lowercase(),
            rng.pick(OCCUPATIONS),
            rng.pick(VERBS),
            rng.pick(PLACES),
            rng.pick(ADJECTIVES).to_lowercase(),
            rng.pick(NOUNS).to_lowercase(),
            if rng.chance(50) { lead } else { rng.pick(GIVEN) },
        ));
    }
    text.join(" ")
}

/// `titles` titles (distinct names; about 3 % no longer or not yet available) and their people, from `seed`.
/// Ids are `t000001`… and `p00001`….
pub fn generate(titles: usize, seed: u64) -> Vec<IndexEntry> {
    let mut rng = SplitMix64::new(seed);
    let people_count = (titles / 5 + 20).min(GIVEN.len() * FAMILY.len());
    let mut people_names = Vec::with_capacity(people_count);
    let mut seen = std::collections::HashSet::new();
    while people_names.len() < people_count {
        let name = format!("{} {}", rng.pick(GIVEN), rng.pick(FAMILY));
        if seen.insert(name.clone()) {
            people_names.push(name);
        }
    }
    let mut credits: Vec<Vec<String>> = vec![Vec::new(); people_count];
    let mut entries = Vec::with_capacity(titles + people_count);
    let mut names = std::collections::HashSet::new();
    for n in 1..=titles {
        let mut name = title_name(&mut rng);
        let mut attempt = 0;
        while !names.insert(text::words(&name)) {
            attempt += 1;
            name = if attempt < 20 { title_name(&mut rng) } else { format!("{} {}", title_name(&mut rng), n) };
        }
        let cast: Vec<usize> = (0..3 + rng.below(3)).map(|_| rng.below(people_count)).collect();
        for &person in &cast {
            if credits[person].len() < 40 {
                credits[person].push(name.clone());
            }
        }
        let lead = people_names[cast[0]].split(' ').next().unwrap_or_default().to_owned();
        let (visible_from, visible_until) = match rng.below(100) {
            0 => (None, Some(EXPIRED_UNTIL)),
            1 | 2 => (Some(UPCOMING_FROM), None),
            _ => (None, None),
        };
        let series = rng.chance(15);
        entries.push(IndexEntry {
            id: format!("t{n:06}"),
            kind: EntryKind::Title,
            other_names: Vec::new(),
            text: synopsis(&mut rng, &lead),
            related: cast.iter().map(|&p| people_names[p].clone()).collect(),
            genres: (0..1 + rng.below(2)).map(|_| (*rng.pick(GENRES)).to_owned()).collect(),
            title_kind: Some(if series { "series" } else { "movie" }.to_owned()),
            release_year: Some(1950 + i32::try_from(rng.below(76)).unwrap_or(0)),
            popularity: rng.below(10_000) as f64,
            visible_from,
            visible_until,
            name,
        });
    }
    for (i, name) in people_names.into_iter().enumerate() {
        entries.push(IndexEntry {
            id: format!("p{:05}", i + 1),
            kind: EntryKind::Person,
            text: format!("{} is an actor and director.", name),
            other_names: Vec::new(),
            related: std::mem::take(&mut credits[i]),
            genres: Vec::new(),
            title_kind: None,
            release_year: None,
            popularity: rng.below(10_000) as f64,
            visible_from: None,
            visible_until: None,
            name,
        });
    }
    entries
}

/// A query made from a title, and the title it must find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misspelling {
    /// `typo` (one edit in a word of 5 letters or more), `typo2` (two edits), `prefix` (the last word cut to 4
    /// letters or more) or `plain` (as written, without accents).
    pub kind: String,
    pub query: String,
    pub id: String,
    pub title: String,
}

/// Without accents, as typed on a keyboard without them: `"Amélie's Garden"` → `"Amelie's Garden"`.
pub fn without_accents(text: &str) -> String {
    text.nfkd().filter(|c| !is_combining_mark(*c)).collect()
}

/// One or two (40 % of the time) random edits (substitution, deletion, insertion, transposition) in `word`
/// that it still matches under the ranking's rules, and that are not themselves a word of `vocabulary`.
fn typo(rng: &mut SplitMix64, word: &str, vocabulary: &std::collections::HashSet<String>) -> Option<String> {
    for _ in 0..20 {
        let mut chars: Vec<char> = word.chars().collect();
        let edits = if rng.chance(40) { rank::MAX_EDITS } else { 1 };
        for _ in 0..edits {
            let at = rng.below(chars.len());
            let letter = char::from(b'a' + u8::try_from(rng.below(26)).unwrap_or(0));
            match rng.below(4) {
                0 => chars[at] = letter,
                1 if chars.len() > 5 => {
                    chars.remove(at);
                }
                2 => chars.insert(at, letter),
                _ if at + 1 < chars.len() => chars.swap(at, at + 1),
                _ => chars[at] = letter,
            }
        }
        let typed: String = chars.into_iter().collect();
        if typed != word && !vocabulary.contains(&typed) && rank::match_word(&typed, word).is_some() {
            return Some(typed);
        }
    }
    None
}

/// `count` queries (each from a different title visible now, or as many as there are) from `seed`.
pub fn misspellings(entries: &[IndexEntry], count: usize, seed: u64) -> Vec<Misspelling> {
    let mut rng = SplitMix64::new(seed);
    let vocabulary: std::collections::HashSet<String> = entries
        .iter()
        .flat_map(|e| std::iter::once(&e.name).chain(&e.related).chain(std::iter::once(&e.text)))
        .flat_map(|t| text::words(t))
        .collect();
    let mut titles: Vec<&IndexEntry> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Title && e.visible_from.is_none() && e.visible_until.is_none())
        .collect();
    let mut out = Vec::new();
    while out.len() < count && !titles.is_empty() {
        let title = titles.swap_remove(rng.below(titles.len()));
        let words = text::words(&title.name);
        let long: Vec<usize> = (0..words.len()).filter(|&i| words[i].chars().count() >= 5).collect();
        let roll = rng.below(100);
        let (kind, query) = if roll < 60 && !long.is_empty() {
            let at = *rng.pick(&long);
            let Some(typed) = typo(&mut rng, &words[at], &vocabulary) else { continue };
            let kind = if strsim::damerau_levenshtein(&typed, &words[at]) >= 2 { "typo2" } else { "typo" };
            let mut words = words.clone();
            words[at] = typed;
            (kind, words.join(" "))
        } else if roll < 85 && words.last().is_some_and(|w| w.chars().count() >= 5) {
            let last = words.last().map(|w| w.chars().collect::<Vec<_>>()).unwrap_or_default();
            let keep = 4 + rng.below(last.len() - 4);
            let mut words = words.clone();
            let cut = last[..keep].iter().collect();
            if let Some(w) = words.last_mut() {
                *w = cut;
            }
            ("prefix", words.join(" "))
        } else {
            ("plain", without_accents(&title.name))
        };
        out.push(Misspelling { kind: kind.into(), query, id: title.id.clone(), title: title.name.clone() });
    }
    out
}

/// The TSV line of a query: kind, query, id, title.
pub fn to_tsv(m: &Misspelling) -> String {
    format!("{}\t{}\t{}\t{}", m.kind, m.query, m.id, m.title)
}

/// A TSV line back (None for comments and blank lines).
pub fn from_tsv(line: &str) -> Option<Misspelling> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let mut fields = line.split('\t');
    Some(Misspelling {
        kind: fields.next()?.into(),
        query: fields.next()?.into(),
        id: fields.next()?.into(),
        title: fields.next()?.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_the_same_for_the_same_seed() {
        let a = generate(300, 5);
        assert_eq!(a, generate(300, 5));
        assert_ne!(a, generate(300, 6));
        assert_eq!(a.iter().filter(|e| e.kind == EntryKind::Title).count(), 300);
        let names: std::collections::HashSet<_> =
            a.iter().filter(|e| e.kind == EntryKind::Title).map(|e| text::words(&e.name)).collect();
        assert_eq!(names.len(), 300, "title names are distinct");
        assert!(a.iter().any(|e| e.name != without_accents(&e.name)), "some have accents");
    }

    #[test]
    fn misspellings_are_near_their_title_and_round_trip_as_tsv() {
        let entries = generate(300, 5);
        let queries = misspellings(&entries, 100, 9);
        assert_eq!(queries.len(), 100);
        for kind in ["typo", "typo2", "prefix", "plain"] {
            assert!(queries.iter().any(|q| q.kind == kind), "{kind}");
        }
        for m in &queries {
            assert_eq!(from_tsv(&to_tsv(m)).as_ref(), Some(m));
            let title = entries.iter().find(|e| e.id == m.id).unwrap();
            assert_eq!(title.name, m.title);
            let (query, name) = (text::words(&m.query), text::words(&title.name));
            assert_eq!(query.len(), name.len(), "{m:?}");
            for (q, n) in query.iter().zip(&name) {
                assert!(rank::match_word(q, n).is_some(), "{q} vs {n} in {m:?}");
            }
        }
    }
}
