//! Content similarity: titles as sets of features (genres and people, each prefixed so that a genre and a
//! person of one name differ), compared by Jaccard similarity. Pure.

use std::collections::HashMap;

/// A title's content: its genres and people (ids or names; compared as given).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TitleFeatures {
    pub title_id: String,
    pub genres: Vec<String>,
    pub people: Vec<String>,
}

/// Each title's features as a sorted set of small ids, with the title's index from `index_of`. Titles without
/// features are left out.
pub fn feature_sets(titles: &[TitleFeatures], index_of: impl Fn(&str) -> u32) -> Vec<(u32, Vec<u32>)> {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut sets = Vec::with_capacity(titles.len());
    for title in titles {
        let names = title
            .genres
            .iter()
            .map(|g| format!("genre:{}", g.to_lowercase()))
            .chain(title.people.iter().map(|p| format!("person:{p}")));
        let mut set: Vec<u32> = names
            .map(|name| {
                let next = ids.len() as u32;
                *ids.entry(name).or_insert(next)
            })
            .collect();
        set.sort_unstable();
        set.dedup();
        if !set.is_empty() {
            sets.push((index_of(&title.title_id), set));
        }
    }
    sets
}

/// |a ∩ b| / |a ∪ b| of two sorted sets without duplicates; 0 when both are empty.
pub fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - both;
    if union == 0 {
        0.0
    } else {
        both as f64 / union as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn genres_and_people_are_compared_as_one_set() {
        let titles = vec![
            TitleFeatures {
                title_id: "a".into(),
                genres: vec!["Drama".into(), "noir".into()],
                people: vec!["p1".into()],
            },
            TitleFeatures {
                title_id: "b".into(),
                genres: vec!["drama".into()],
                people: vec!["p1".into(), "p2".into()],
            },
            TitleFeatures { title_id: "c".into(), genres: vec![], people: vec![] },
            TitleFeatures { title_id: "d".into(), genres: vec!["p1".into()], people: vec![] },
        ];
        let sets = feature_sets(&titles, |id| u32::from(id.as_bytes()[0] - b'a'));
        assert_eq!(sets.len(), 3, "c has no features");
        // a: {drama, noir, p1}, b: {drama, p1, p2}: two of four.
        assert_eq!(jaccard(&sets[0].1, &sets[1].1), 0.5);
        // The genre named p1 is not the person p1.
        assert_eq!(jaccard(&sets[0].1, &sets[2].1), 0.0);
    }

    proptest! {
        /// Jaccard agrees with set arithmetic, is symmetric and in [0, 1], and 1 exactly for equal sets.
        #[test]
        fn jaccard_matches_sets(a in prop::collection::btree_set(0u32..30, 0..12), b in prop::collection::btree_set(0u32..30, 0..12)) {
            let (va, vb): (Vec<u32>, Vec<u32>) = (a.iter().copied().collect(), b.iter().copied().collect());
            let both = a.intersection(&b).count() as f64;
            let union = a.union(&b).collect::<BTreeSet<_>>().len() as f64;
            let expected = if union == 0.0 { 0.0 } else { both / union };
            prop_assert_eq!(jaccard(&va, &vb), expected);
            prop_assert_eq!(jaccard(&va, &vb), jaccard(&vb, &va));
            prop_assert_eq!(jaccard(&va, &vb) == 1.0, !a.is_empty() && a == b);
        }
    }
}
