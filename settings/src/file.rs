//! A config file with a section per service (`marquee.toml`), read so that every problem is found at once:
//! after the TOML syntax (which has to be right before anything else can be said), each key is checked on
//! its own against its section's settings ([`Section::check_key`]), so an unknown key or a bad value is
//! reported with its `section.key` and line, and the keys that are fine are kept for what follows.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::{FileSection, Report, Section};

/// A config file as read: the keys of each known section that are fine, and the line of each key for
/// messages.
#[derive(Debug)]
pub struct LoadedFile {
    pub path: PathBuf,
    /// Section name to its usable keys.
    pub sections: BTreeMap<String, toml::Table>,
    /// `section` and `section.key` to their 1-based line.
    lines: BTreeMap<String, usize>,
}

impl LoadedFile {
    /// The directory that relative paths in the file are taken from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    /// The section `name` as its settings are resolved from (empty when the file has none).
    pub fn section(&self, name: &str) -> FileSection {
        let prefix = format!("{name}.");
        FileSection {
            values: self.sections.get(name).cloned().unwrap_or_default(),
            lines: self
                .lines
                .iter()
                .filter_map(|(key, line)| Some((key.strip_prefix(&prefix)?.to_owned(), *line)))
                .collect(),
            dir: self.dir().to_owned(),
        }
    }
}

/// Reads and parses the file at `path` with the services' `sections`, adding every problem found to
/// `problems`. `None` when nothing could
/// be read from it (unreadable, or not TOML); otherwise the keys without problems.
pub fn load(path: &Path, sections: &[Section], problems: &mut Vec<Report>) -> Option<LoadedFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => load_text(path, &text, sections, problems),
        Err(e) => {
            problems.push(Report::new(path.display().to_string(), format!("cannot read the config file: {e}")));
            None
        }
    }
}

/// [`load`] for text already in hand; `path` names the file and locates its relative paths.
pub fn load_text(path: &Path, text: &str, sections: &[Section], problems: &mut Vec<Report>) -> Option<LoadedFile> {
    let table: toml::Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(e) => {
            let place = match e.span() {
                Some(span) => {
                    let (line, column) = line_and_column(text, span.start);
                    format!("{} line {line}, column {column}", path.display())
                }
                None => path.display().to_string(),
            };
            let message = e.message().trim().lines().collect::<Vec<_>>().join("; ");
            problems.push(Report::new(place, format!("not valid TOML: {message}")));
            return None;
        }
    };
    // The syntax is right, so this second pass, for the lines of the keys only, succeeds too.
    let lines: BTreeMap<String, usize> = toml::from_str::<KeyOffsets>(text)
        .map(|offsets| offsets.0.into_iter().map(|(name, offset)| (name, line_and_column(text, offset).0)).collect())
        .unwrap_or_default();
    // Each problem with the line it is on, so that they are reported in the file's order.
    let mut found: Vec<(usize, Report)> = Vec::new();
    let mut report = |name: String, shown: String, message: String| {
        let line = lines.get(&name).copied();
        let place = line.map_or(shown.clone(), |line| format!("{shown} (line {line})"));
        found.push((line.unwrap_or(0), Report::new(place, message)));
    };
    let mut kept = BTreeMap::new();
    for (name, value) in table {
        let service = sections.iter().find(|s| s.name == name);
        let toml::Value::Table(keys) = value else {
            let message = if service.is_some() {
                format!("must be a section, written [{name}], not a value ({})", value.type_str())
            } else {
                "is not inside any section: write it under its section's header, such as [origin]".to_owned()
            };
            report(name.clone(), name, message);
            continue;
        };
        let Some(service) = service else {
            let names: Vec<&str> = sections.iter().map(|s| s.name).collect();
            let message = format!("unknown section `{name}`, {}", crate::expected(&names));
            report(name.clone(), format!("[{name}]"), message);
            continue;
        };
        let mut good = toml::Table::new();
        for (key, value) in keys {
            match service.check_key(&key, &value) {
                Ok(()) => {
                    good.insert(key, value);
                }
                Err(message) => {
                    let full = format!("{name}.{key}");
                    report(full.clone(), full, message);
                }
            }
        }
        kept.insert(name, good);
    }
    found.sort_by_key(|(line, _)| *line);
    problems.extend(found.into_iter().map(|(_, problem)| problem));
    Some(LoadedFile { path: path.to_owned(), sections: kept, lines })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// Byte offsets of every section name and `section.key`, read with toml's spans.
struct KeyOffsets(Vec<(String, usize)>);

impl<'de> Deserialize<'de> for KeyOffsets {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(Keys { sections: true }).map(KeyOffsets)
    }
}

/// Collects the keys of a table and where they start; with `sections`, also the keys of each value that is
/// itself a table, as `section.key`.
struct Keys {
    sections: bool,
}

impl<'de> Visitor<'de> for Keys {
    type Value = Vec<(String, usize)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = Vec::new();
        while let Some(key) = map.next_key::<toml::Spanned<String>>()? {
            let name = key.get_ref().clone();
            found.push((name.clone(), key.span().start));
            if self.sections {
                let keys = map.next_value::<SectionKeys>()?.0;
                found.extend(keys.into_iter().map(|(key, at)| (format!("{name}.{key}"), at)));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// The keys of a section, or none when the "section" is a plain value (reported elsewhere).
struct SectionKeys(Vec<(String, usize)>);

impl<'de> Deserialize<'de> for SectionKeys {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SectionVisitor).map(SectionKeys)
    }
}

struct SectionVisitor;

impl<'de> Visitor<'de> for SectionVisitor {
    type Value = Vec<(String, usize)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Keys { sections: false }.visit_map(map)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}
