//! `marquee.toml`: one file with a section per service, read by `marquee origin --config FILE` and `marquee
//! edge --config FILE`, checked by `marquee config check FILE` and printed, every setting at its default, by
//! `marquee config example`.
//!
//! Reading collects every problem instead of stopping at the first: after the TOML syntax (which has to be
//! right before anything else can be said), each key is deserialized on its own through [`ConfigFile`], so
//! an unknown key or a bad value is reported with its `section.key` and line, and the keys that are fine are
//! kept for the checks that follow.
//!
//! Adding a service's section: give [`ConfigFile`] a field with the section's serde type, check it in
//! [`run_check`] and print it in [`example`] with [`example_section`].

pub mod connections;
pub mod files;
pub mod precedence;
pub mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::edge::EdgeSection;
use crate::origin::OriginSection;

/// The whole file. Each service reads only its own section, so one file can serve every service on a host.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[origin]`: the settings of `marquee origin`.
    pub origin: Option<OriginSection>,
    /// `[edge]`: the settings of `marquee edge`.
    pub edge: Option<EdgeSection>,
}

/// One thing wrong with the settings, and where: `origin.max_headers (line 7)`, `--listen`, a `MARQUEE_*`
/// variable, or `line 3, column 9` for a syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub place: String,
    pub message: String,
}

impl Problem {
    pub fn new(place: impl Into<String>, message: impl Into<String>) -> Self {
        Self { place: place.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

/// The error that lists every problem, one per line: `WHAT: 2 problems:` then `  place: message`.
pub fn failure(what: &str, problems: &[Problem]) -> anyhow::Error {
    let count = match problems.len() {
        1 => "1 problem".to_owned(),
        n => format!("{n} problems"),
    };
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    anyhow::anyhow!("{what}: {count}:\n{}", lines.join("\n"))
}

/// A config file as read: the settings that parsed, and the line of each key for messages.
#[derive(Debug)]
pub struct LoadedFile {
    pub path: PathBuf,
    pub settings: ConfigFile,
    /// `section` and `section.key` to their 1-based line.
    lines: BTreeMap<String, usize>,
}

impl LoadedFile {
    /// The directory that relative paths in the file are taken from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    /// `section.key (line N)`, for messages about a key of this file.
    pub fn place(&self, section: &str, key: &str) -> String {
        let name = format!("{section}.{key}");
        match self.lines.get(&name) {
            Some(line) => format!("{name} (line {line})"),
            None => name,
        }
    }
}

/// Reads and parses the file at `path`, adding every problem found to `problems`. `None` when nothing could
/// be read from it (unreadable, or not TOML); otherwise the keys without problems.
pub fn load(path: &Path, problems: &mut Vec<Problem>) -> Option<LoadedFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => load_text(path, &text, problems),
        Err(e) => {
            problems.push(Problem::new(path.display().to_string(), format!("cannot read the config file: {e}")));
            None
        }
    }
}

/// [`load`] for text already in hand; `path` names the file and locates its relative paths.
pub fn load_text(path: &Path, text: &str, problems: &mut Vec<Problem>) -> Option<LoadedFile> {
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
            problems.push(Problem::new(place, format!("not valid TOML: {message}")));
            return None;
        }
    };
    // The syntax is right, so this second pass, for the lines of the keys only, succeeds too.
    let lines: BTreeMap<String, usize> = toml::from_str::<KeyOffsets>(text)
        .map(|offsets| offsets.0.into_iter().map(|(name, offset)| (name, line_and_column(text, offset).0)).collect())
        .unwrap_or_default();
    // Each problem with the line it is on, so that they are reported in the file's order.
    let mut found: Vec<(usize, Problem)> = Vec::new();
    let mut report = |name: String, shown: String, message: String| {
        let line = lines.get(&name).copied();
        let place = line.map_or(shown.clone(), |line| format!("{shown} (line {line})"));
        found.push((line.unwrap_or(0), Problem::new(place, message)));
    };
    let mut kept = toml::Table::new();
    for (name, value) in table {
        let empty_section = || toml::Value::Table(toml::Table::new());
        let toml::Value::Table(keys) = value else {
            let message = if probe(&name, empty_section()).is_ok() {
                format!("must be a section, written [{name}], not a value ({})", value.type_str())
            } else {
                "is not inside any section: write it under its section's header, such as [origin]".to_owned()
            };
            report(name.clone(), name, message);
            continue;
        };
        if let Err(e) = probe(&name, empty_section()) {
            report(name.clone(), format!("[{name}]"), e.message().replacen("unknown field", "unknown section", 1));
            continue;
        }
        let mut good = toml::Table::new();
        for (key, value) in keys {
            let single = toml::Value::Table(toml::Table::from_iter([(key.clone(), value.clone())]));
            match probe(&name, single) {
                Ok(_) => {
                    good.insert(key, value);
                }
                Err(e) => {
                    let full = format!("{name}.{key}");
                    report(full.clone(), full, e.message().replacen("unknown field", "unknown key", 1));
                }
            }
        }
        kept.insert(name, toml::Value::Table(good));
    }
    found.sort_by_key(|(line, _)| *line);
    problems.extend(found.into_iter().map(|(_, problem)| problem));
    let settings = match toml::Value::Table(kept).try_into::<ConfigFile>() {
        Ok(settings) => settings,
        Err(e) => {
            // Every key parsed on its own; this would be a combination serde refuses, such as a duplicate.
            problems.push(Problem::new(path.display().to_string(), e.message().to_owned()));
            ConfigFile::default()
        }
    };
    Some(LoadedFile { path: path.to_owned(), settings, lines })
}

/// Deserializes a file holding only `[section]` with `value`: how one key (or one section name) is checked.
fn probe(section: &str, value: toml::Value) -> Result<ConfigFile, toml::de::Error> {
    toml::Value::Table(toml::Table::from_iter([(section.to_owned(), value)])).try_into()
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

/// Check a marquee.toml, or print an example of one.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ConfigCommand {
    /// Check a config file and report every problem at once: TOML syntax (with line and column), unknown
    /// keys, bad values, settings that do not work together, a missing or unreadable key file or TLS files, a
    /// storage or cache directory that cannot be used.
    ///
    /// Checks what `marquee origin --config FILE` and `marquee edge --config FILE` would start with on this
    /// machine, for each section the file has: the file, the MARQUEE_* environment variables that override
    /// it, and the defaults. Nothing is contacted and nothing is created. Exit status 0 when the file is
    /// fine, 1 when it is not.
    ///
    /// Example: marquee config check /etc/marquee/marquee.toml
    Check {
        /// The config file.
        file: PathBuf,
    },
    /// Print a complete config file: every setting, what it does, its flag and variable, and its default.
    ///
    /// Example: marquee config example > marquee.toml
    Example,
}

pub fn run(args: ConfigArgs) -> anyhow::Result<()> {
    match args.command {
        ConfigCommand::Check { file } => run_check(&file),
        ConfigCommand::Example => {
            print!("{}", example());
            Ok(())
        }
    }
}

fn run_check(path: &Path) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut summaries = Vec::new();
    if let Some(file) = load(path, &mut problems) {
        if file.settings.origin.is_some() {
            summaries.extend(crate::origin::check(&file, &mut problems, &mut notes));
        }
        if file.settings.edge.is_some() {
            summaries.extend(crate::edge::check(&file, &mut problems, &mut notes));
        }
        if file.settings == ConfigFile::default() && problems.is_empty() {
            notes.push("no section: nothing is configured".into());
        }
    }
    for note in &notes {
        println!("note: {note}");
    }
    if !problems.is_empty() {
        return Err(failure(&path.display().to_string(), &problems));
    }
    println!("{} is fine.", path.display());
    for summary in summaries {
        println!("  {summary}");
    }
    Ok(())
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
    out.push_str(&example_section(
        "origin",
        &crate::origin::command(),
        crate::origin::NOT_IN_FILE,
        crate::origin::EXAMPLE_PLACEHOLDERS,
    ));
    out.push('\n');
    out.push_str(&example_section(
        "edge",
        &crate::edge::command(),
        crate::edge::NOT_IN_FILE,
        crate::edge::EXAMPLE_PLACEHOLDERS,
    ));
    out
}

/// One `[section]` of the example, written from the service's clap arguments, so that its comments are the
/// `--help` text and its values the defaults `--help` shows (which are the library's `DEFAULT_*` consts):
/// they cannot drift apart. Arguments without a default are shown commented out with a placeholder from
/// `placeholders`; those named in `skip` are left out. An argument that can be repeated is a list in the
/// file, and its placeholder a comma-separated one.
pub fn example_section(section: &str, command: &clap::Command, skip: &[&str], placeholders: &[(&str, &str)]) -> String {
    let mut out = format!("[{section}]\n");
    let mut heading = None;
    for arg in command.get_arguments().filter(|a| !skip.contains(&a.get_id().as_str())) {
        let key = arg.get_id().as_str();
        if arg.get_help_heading() != heading {
            heading = arg.get_help_heading();
            out.push_str(&format!("\n# --- {} ---\n", heading.unwrap_or_default()));
        }
        out.push('\n');
        let mut help = arg.get_long_help().or(arg.get_help()).map(|h| h.to_string()).unwrap_or_default();
        if !help.ends_with('.') {
            help.push('.'); // clap drops the final period of a one-paragraph help
        }
        for line in wrap(&help, 100) {
            out.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
        }
        let flag = arg.get_long().map(|l| format!("--{l}")).unwrap_or_default();
        match arg.get_env() {
            Some(variable) => out.push_str(&format!("# Flag {flag}, variable {}.\n", variable.to_string_lossy())),
            None => out.push_str(&format!("# Flag {flag}.\n")),
        }
        // A switch's default (false) is only filled in when clap builds the command for parsing.
        let switch = matches!(arg.get_action(), clap::ArgAction::SetTrue).then(|| "false".into());
        let literal = |value: &str| match arg.get_action() {
            clap::ArgAction::Append => {
                let items: Vec<String> = value.split(',').filter(|v| !v.is_empty()).map(toml_literal).collect();
                format!("[{}]", items.join(", "))
            }
            _ => toml_literal(value),
        };
        match arg.get_default_values().first().map(|d| d.to_string_lossy()).or(switch) {
            Some(default) => out.push_str(&format!("{key} = {}\n", literal(&default))),
            None => {
                let placeholder = placeholders.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v);
                out.push_str(&format!("# {key} = {}\n", literal(placeholder)));
            }
        }
    }
    out
}

/// A default as clap shows it, as a TOML value: integers and booleans bare, everything else a string.
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

    use clap::{ArgMatches, FromArgMatches};

    use super::LoadedFile;

    /// Parses `argv` as clap does for the subcommand `command`, ignoring the environment's MARQUEE_* variables.
    pub fn parse<A: FromArgMatches>(mut command: clap::Command, argv: &[&str]) -> (A, ArgMatches) {
        let ids: Vec<String> = command.get_arguments().map(|a| a.get_id().to_string()).collect();
        for id in ids {
            command = command.mut_arg(id, |arg| arg.env(None::<&str>));
        }
        let name = command.get_name().to_owned();
        let matches = command.try_get_matches_from(std::iter::once(name.as_str()).chain(argv.iter().copied())).unwrap();
        (A::from_arg_matches(&matches).unwrap(), matches)
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

    fn load_str(text: &str) -> (Option<LoadedFile>, Vec<Problem>) {
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
        let origin = file.settings.origin.unwrap();
        assert_eq!(origin, OriginSection { max_headers: Some(12), ..OriginSection::default() });
        assert_eq!(file.settings.edge.unwrap().memory, Some(units::HumanBytes(1 << 30)));
    }

    #[test]
    fn a_section_must_be_a_table() {
        let (_, problems) = load_str("origin = 5\n");
        assert_eq!(
            problems,
            [Problem::new("origin (line 1)", "must be a section, written [origin], not a value (integer)")]
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
        let settings = file.unwrap().settings;
        assert!(settings.origin.is_some() && settings.edge.is_some());
    }

    #[test]
    fn wrapping_keeps_words_and_paragraphs() {
        assert_eq!(wrap("aa bb cc\n\ndd", 5), ["aa bb", "cc", "", "dd"]);
    }
}
