//! `marquee.toml`: one file with a section per service, read by `marquee origin --config FILE` and `marquee
//! edge --config FILE`, checked by `marquee config check FILE` and printed, every setting at its default, by
//! `marquee config example`.
//!
//! Reading collects every problem instead of stopping at the first: after the TOML syntax (which has to be
//! right before anything else can be said), each key is checked on its own against its service's settings
//! ([`marquee_settings::Section::check_key`]), so an unknown key or a bad value is reported with its
//! `section.key` and line, and the keys that are fine are kept for the checks that follow.
//!
//! Adding a service: its library's settings struct with `#[derive(Settings)]`, and one line in [`SECTIONS`].
//! (`marquee config check` also runs the service's own checks of the files its settings name: one line in
//! `config_command::SERVICE_CHECKS`.)

pub mod files;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::ArgMatches;
use marquee_edge_cache::EdgeConfig;
use marquee_origin::OriginSettings;
use marquee_settings::{in_help_order, FileSection, Kind, Report, Resolved, Section, Settings};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// Every service's section, in the order of the file `marquee config example` prints. `main.rs` gives the
/// subcommand of the same name the section's arguments ([`service_args`]).
pub const SECTIONS: &[Section] = &[Section::of::<OriginSettings>(), Section::of::<EdgeConfig>()];

/// A service subcommand's arguments: `--config FILE`, then every setting of `section` as a flag with its
/// variable, named and explained by the settings' declaration.
pub fn service_args(section: Section, command: clap::Command) -> clap::Command {
    let config = clap::Arg::new("config")
        .long("config")
        .env("MARQUEE_CONFIG")
        .value_name("FILE")
        .value_parser(clap::value_parser!(PathBuf))
        .help(format!(
            "TOML file whose [{}] section holds these settings (`marquee config example` prints one). Flags and \
             MARQUEE_* variables override it; relative paths in it are taken from the file's directory",
            section.name
        ));
    section.args(command.arg(config))
}

/// The settings of `T`'s service from the flags and variables in `matches` (from [`service_args`]) over the
/// file's section over the defaults, and every value that could not be used, at its place.
pub fn resolve<T: Settings>(matches: &ArgMatches, file: Option<&LoadedFile>) -> (Resolved<T>, Vec<Report>) {
    let section = file.map(|f| f.section(T::SECTION));
    marquee_settings::resolve::<T>(matches, section.as_ref())
}

/// The error that lists every problem, one per line: `WHAT: 2 problems:` then `  place: message`.
pub fn failure(what: &str, problems: &[Report]) -> anyhow::Error {
    let count = match problems.len() {
        1 => "1 problem".to_owned(),
        n => format!("{n} problems"),
    };
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    anyhow::anyhow!("{what}: {count}:\n{}", lines.join("\n"))
}

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

/// Reads and parses the file at `path`, adding every problem found to `problems`. `None` when nothing could
/// be read from it (unreadable, or not TOML); otherwise the keys without problems.
pub fn load(path: &Path, problems: &mut Vec<Report>) -> Option<LoadedFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => load_text(path, &text, problems),
        Err(e) => {
            problems.push(Report::new(path.display().to_string(), format!("cannot read the config file: {e}")));
            None
        }
    }
}

/// [`load`] for text already in hand; `path` names the file and locates its relative paths.
pub fn load_text(path: &Path, text: &str, problems: &mut Vec<Report>) -> Option<LoadedFile> {
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
    let mut sections = BTreeMap::new();
    for (name, value) in table {
        let service = SECTIONS.iter().find(|s| s.name == name);
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
            let names: Vec<&str> = SECTIONS.iter().map(|s| s.name).collect();
            let message = format!("unknown section `{name}`, {}", marquee_settings::expected(&names));
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
        sections.insert(name, good);
    }
    found.sort_by_key(|(line, _)| *line);
    problems.extend(found.into_iter().map(|(_, problem)| problem));
    Some(LoadedFile { path: path.to_owned(), sections, lines })
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

/// What `marquee config example` prints: a complete file, every setting at its default.
pub fn example() -> String {
    let mut out = String::from(
        "# marquee.toml: settings for the Marquee services, one [section] each.\n\
         #\n\
         # Precedence, highest first: command-line flags, MARQUEE_* environment variables, this file, the\n\
         # defaults shown here. Durations take a unit (\"10s\", \"500ms\", \"1m 30s\"). Sizes are a number of\n\
         # bytes or have a unit: KiB, MiB, GiB are powers of 1024; KB, MB, GB powers of 1000. Relative paths\n\
         # are taken from the directory this file is in. Keep the sections of the services this host runs.\n\
         #\n\
         # Check it with `marquee config check FILE`; serve with `marquee origin --config FILE` and\n\
         # `marquee edge --config FILE`.\n\n",
    );
    let sections: Vec<String> = SECTIONS.iter().map(example_section).collect();
    out.push_str(&sections.join("\n"));
    out
}

/// One `[section]` of the example, written from the settings' declaration in the order `--help` lists them,
/// so that its comments are the `--help` text and its values the defaults `--help` shows (the library's
/// `DEFAULT_*` consts): they cannot drift apart. Settings without a default are shown commented out with
/// their placeholder. A setting that can be repeated is a list in the file, and its placeholder a
/// comma-separated one.
pub fn example_section(section: &Section) -> String {
    let settings = section.settings();
    let defaults = section.defaults();
    let mut out = format!("[{}]\n", section.name);
    let mut heading = None;
    for setting in in_help_order(&settings) {
        let key = setting.key;
        if setting.heading != heading {
            heading = setting.heading;
            out.push_str(&format!("\n# --- {} ---\n", heading.unwrap_or_default()));
        }
        out.push('\n');
        let mut help = setting.long_help.unwrap_or(setting.help).to_owned();
        if !help.ends_with('.') {
            help.push('.'); // the short help is the first paragraph without its final period, as clap shows it
        }
        for line in wrap(&help, 100) {
            out.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
        }
        match &setting.env {
            Some(variable) => out.push_str(&format!("# Flag --{}, variable {variable}.\n", setting.flag)),
            None => out.push_str(&format!("# Flag --{}.\n", setting.flag)),
        }
        let default = defaults.get(key).filter(|value| value.as_array().is_none_or(|items| !items.is_empty()));
        match default {
            Some(value) => out.push_str(&format!("{key} = {value}\n")),
            None => {
                let placeholder = setting.placeholder.unwrap_or_default();
                let literal = match setting.kind {
                    Kind::List => {
                        let items: Vec<String> =
                            placeholder.split(',').filter(|v| !v.is_empty()).map(toml_literal).collect();
                        format!("[{}]", items.join(", "))
                    }
                    _ => toml_literal(placeholder),
                };
                out.push_str(&format!("# {key} = {literal}\n"));
            }
        }
    }
    out
}

/// A placeholder as a TOML value: integers and booleans bare, everything else a string.
fn toml_literal(value: &str) -> String {
    if value.parse::<i64>().is_ok() || value == "true" || value == "false" {
        value.to_owned()
    } else {
        toml::Value::String(value.to_owned()).to_string()
    }
}

/// Greedy word wrap of each paragraph of `text` to `width` columns; paragraphs are kept apart by an empty line.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            lines.push(String::new());
        }
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

/// What the services' tests share: their arguments and config files as `marquee` would read them.
#[cfg(test)]
pub mod test_support {
    use std::path::Path;

    use clap::ArgMatches;
    use marquee_settings::{Report, Resolved, Settings};

    use super::LoadedFile;

    /// Parses `argv` as clap does for `command`, ignoring the environment's MARQUEE_* variables except those
    /// named in `variables` (an argument id and the variable clap reads it from).
    pub fn parse_with(mut command: clap::Command, argv: &[&str], variables: &[(&str, &str)]) -> ArgMatches {
        let ids: Vec<String> = command.get_arguments().map(|a| a.get_id().to_string()).collect();
        for id in ids {
            let variable = variables.iter().find(|(arg, _)| *arg == id).map(|(_, v)| v.to_string());
            command = command.mut_arg(id, |arg| match variable {
                Some(variable) => arg.env(variable),
                None => arg.env(None::<&str>),
            });
        }
        let name = command.get_name().to_owned();
        command.try_get_matches_from(std::iter::once(name.as_str()).chain(argv.iter().copied())).unwrap()
    }

    /// The settings of `T`'s service from `argv` (no variables) over `file`; every value must be usable.
    pub fn resolve<T: Settings>(command: clap::Command, argv: &[&str], file: Option<&LoadedFile>) -> Resolved<T> {
        let (resolved, reports) = super::resolve::<T>(&parse_with(command, argv, &[]), file);
        assert_eq!(reports, Vec::<Report>::new(), "{argv:?}");
        resolved
    }

    /// The config file at `path` holding `text`, which must have no problems.
    pub fn file(path: &str, text: &str) -> LoadedFile {
        let mut problems = Vec::new();
        let file = super::load_text(Path::new(path), text, &mut problems);
        assert_eq!(problems, [], "{text}");
        file.unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> (Option<LoadedFile>, Vec<Report>) {
        let mut problems = Vec::new();
        let file = load_text(Path::new("dir/marquee.toml"), text, &mut problems);
        (file, problems)
    }

    #[test]
    fn a_syntax_error_has_its_line_and_column() {
        let (file, problems) = load_str("[origin]\nlisten = = 3\n");
        assert!(file.is_none());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].place, "dir/marquee.toml line 2, column 10");
        assert!(problems[0].message.starts_with("not valid TOML: "), "{problems:?}");
    }

    #[test]
    fn every_bad_key_is_reported_and_the_good_ones_kept() {
        let text = "stray = 1\n[origin]\nmax_headers = 12\nmax_conections = 5\nwrite_timeout = \"10x\"\n\
                    listen = \"localhost\"\nhot_cache_bytes = \"lots\"\n[orgin]\nx = 1\n[edge]\nanything = true\n\
                    memory = \"1GiB\"\n";
        let (file, problems) = load_str(text);
        let places: Vec<&str> = problems.iter().map(|p| p.place.as_str()).collect();
        assert_eq!(
            places,
            [
                "stray (line 1)",
                "origin.max_conections (line 4)",
                "origin.write_timeout (line 5)",
                "origin.listen (line 6)",
                "origin.hot_cache_bytes (line 7)",
                "[orgin] (line 8)",
                "edge.anything (line 11)",
            ],
            "{problems:#?}"
        );
        assert!(problems[0].message.contains("not inside any section"), "{problems:?}");
        assert!(problems[1].message.starts_with("unknown key `max_conections`, expected one of"), "{problems:?}");
        assert!(problems[2].message.contains("\"10x\" is not a duration"), "{problems:?}");
        assert!(problems[5].message.starts_with("unknown section `orgin`"), "{problems:?}");
        let file = file.unwrap();
        assert_eq!(file.sections["origin"], toml::Table::from_iter([("max_headers".to_owned(), 12.into())]));
        assert_eq!(file.sections["edge"], toml::Table::from_iter([("memory".to_owned(), "1GiB".into())]));
    }

    #[test]
    fn a_section_must_be_a_table() {
        let (_, problems) = load_str("origin = 5\n");
        assert_eq!(
            problems,
            [Report::new("origin (line 1)", "must be a section, written [origin], not a value (integer)")]
        );
    }

    #[test]
    fn dotted_keys_and_inline_tables_have_lines_too() {
        let (_, problems) = load_str("\n\norigin = { max_headers = \"x\" }\n");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].place, "origin.max_headers (line 3)");
        let (_, problems) = load_str("origin.max_headers = -1\n");
        assert_eq!(problems[0].place, "origin.max_headers (line 1)");
    }

    #[test]
    fn the_example_parses_without_problems() {
        let (file, problems) = load_str(&example());
        assert_eq!(problems, []);
        let sections = file.unwrap().sections;
        assert!(sections.contains_key("origin") && sections.contains_key("edge"));
    }

    #[test]
    fn wrapping_keeps_words_and_paragraphs() {
        assert_eq!(wrap("aa bb cc\n\ndd", 5), ["aa bb", "cc", "", "dd"]);
    }
}
