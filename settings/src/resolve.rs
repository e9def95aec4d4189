//! Which value each setting takes and where it came from: its flag, its variable, the service's section of
//! the config file, or the default, highest first. The place is what a problem with the value is reported
//! against (`edge.memory (line 7)`, `--memory`, `MARQUEE_EDGE_MEMORY`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::ArgMatches;

use crate::{defaults_of, nest, probe, settings_of, Kind, Problem, Relative, Report, Setting, Settings};

/// A service's section of a config file, as read: the keys that passed [`crate::Section::check_key`].
#[derive(Debug, Clone, Default)]
pub struct FileSection {
    pub values: toml::Table,
    /// Each key's 1-based line.
    pub lines: BTreeMap<String, usize>,
    /// The file's directory, which relative paths in it are taken from.
    pub dir: PathBuf,
}

/// A service's settings after precedence, and where each came from.
#[derive(Debug, Clone)]
pub struct Resolved<T> {
    pub value: T,
    pub places: Places,
}

/// Where each setting of one section took its value from.
#[derive(Debug, Clone, Default)]
pub struct Places {
    section: &'static str,
    by_key: BTreeMap<&'static str, String>,
    /// The variables that set something, for `config check` to mention.
    pub from_env: Vec<String>,
}

impl Places {
    /// `edge.memory (line 7)`, `--memory` or `MARQUEE_EDGE_MEMORY`: what a message about `key` names.
    pub fn place(&self, key: &str) -> String {
        self.by_key.get(key).cloned().unwrap_or_else(|| format!("{}.{key}", self.section))
    }

    /// [`Self::place`] without the line, for naming another setting inside a message.
    pub fn name(&self, key: &str) -> String {
        let place = self.place(key);
        place.split(" (line ").next().unwrap_or_default().to_owned()
    }

    /// Whether `key` is one of the section's settings.
    pub fn has(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// `problem` placed at its setting, with the settings its message names named as the user gave them.
    pub fn report(&self, problem: &Problem) -> Report {
        Report::new(self.place(problem.key), problem.message.render(|key| self.name(key)))
    }
}

/// Layers the defaults, the file's section, the variables and the flags clap read into `matches` (whose
/// arguments came from [`crate::Section::args`]), checks each value on its own, and deserializes the result.
/// Every value that is not usable is reported at its place and left out, so the rest can still be checked.
pub fn resolve<T: Settings>(matches: &ArgMatches, file: Option<&FileSection>) -> (Resolved<T>, Vec<Report>) {
    let settings = settings_of::<T>();
    let section = T::SECTION;
    let mut layers = Layers { settings: &settings, flat: defaults_of::<T>(), reports: Vec::new(), probe: probe::<T> };
    let mut places = Places { section, ..Places::default() };
    for setting in &settings {
        let place = match file {
            Some(_) => format!("{section}.{}", setting.key),
            None => format!("--{}", setting.flag),
        };
        places.by_key.insert(setting.key, place);
    }
    if let Some(file) = file {
        for setting in &settings {
            let Some(value) = file.values.get(setting.key) else { continue };
            let place = match file.lines.get(setting.key) {
                Some(line) => format!("{section}.{} (line {line})", setting.key),
                None => format!("{section}.{}", setting.key),
            };
            if layers.set(setting, vec![relative_to(&file.dir, setting.relative, value)], &place) {
                places.by_key.insert(setting.key, place);
            }
        }
    }
    for setting in &settings {
        let place = match matches.value_source(setting.key) {
            Some(ValueSource::CommandLine) => format!("--{}", setting.flag),
            Some(ValueSource::EnvVariable) => setting.env.clone().unwrap_or_default(),
            _ => continue,
        };
        if layers.set(setting, given(matches, setting), &place) {
            if matches.value_source(setting.key) == Some(ValueSource::EnvVariable) {
                places.from_env.push(place.clone());
            }
            places.by_key.insert(setting.key, place);
        }
    }
    let mut reports = layers.reports;
    let value = match toml::Value::Table(nest(&layers.flat, &settings)).try_into::<T>() {
        Ok(value) => value,
        Err(e) => {
            // Every value was checked on its own; this would be a combination serde refuses.
            reports.push(Report::new(section, e.message()));
            T::default()
        }
    };
    (Resolved { value, places }, reports)
}

struct Layers<'a> {
    settings: &'a [Setting],
    flat: toml::Table,
    reports: Vec<Report>,
    probe: fn(&toml::Table, &[Setting]) -> Result<(), String>,
}

impl Layers<'_> {
    /// Sets `setting` to the first of `candidates` that deserializes; otherwise reports why the first does not.
    fn set(&mut self, setting: &Setting, candidates: Vec<toml::Value>, place: &str) -> bool {
        let mut first_error = None;
        for candidate in candidates {
            let mut flat = self.flat.clone();
            flat.insert(setting.key.to_owned(), candidate);
            match (self.probe)(&flat, self.settings) {
                Ok(()) => {
                    self.flat = flat;
                    return true;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        self.reports.push(Report::new(place, first_error.unwrap_or_default()));
        false
    }
}

/// A flag's or variable's text as the TOML values it could stand for: a string first (`"10s"`, a token of
/// digits), then a number or a boolean, for settings whose type is one.
fn given(matches: &ArgMatches, setting: &Setting) -> Vec<toml::Value> {
    match setting.kind {
        Kind::Switch => vec![toml::Value::Boolean(matches.get_flag(setting.key))],
        Kind::List => {
            let items = matches.get_many::<String>(setting.key).into_iter().flatten();
            vec![toml::Value::Array(items.map(|item| toml::Value::String(item.clone())).collect())]
        }
        Kind::Value => {
            let Some(text) = matches.get_one::<String>(setting.key) else { return Vec::new() };
            let mut candidates = vec![toml::Value::String(text.clone())];
            candidates.extend(text.trim().parse::<i64>().ok().map(toml::Value::Integer));
            candidates.extend(text.trim().parse::<f64>().ok().map(toml::Value::Float));
            candidates.extend(text.trim().parse::<bool>().ok().map(toml::Value::Boolean));
            candidates
        }
    }
}

/// A relative path in the file, taken from the file's directory.
fn relative_to(dir: &Path, relative: Relative, value: &toml::Value) -> toml::Value {
    let toml::Value::String(text) = value else { return value.clone() };
    let joined = match relative {
        Relative::No => return value.clone(),
        Relative::Path => dir.join(text),
        Relative::Location if text.is_empty() || names_a_scheme(text) || Path::new(text).is_absolute() => {
            return value.clone()
        }
        Relative::Location => dir.join(text),
    };
    toml::Value::String(joined.to_string_lossy().into_owned())
}

/// Whether `location` is a URL (`s3://…`, `file://…`) rather than a path: it starts with a scheme of two or
/// more characters, a letter first, and a `:` (as `marquee_storage::open` reads it).
pub fn names_a_scheme(location: &str) -> bool {
    location.split_once(':').is_some_and(|(scheme, _)| {
        scheme.len() >= 2
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}
