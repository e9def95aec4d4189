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

pub mod analytics;
pub mod files;

use std::path::{Path, PathBuf};

use clap::ArgMatches;
use marquee_commerce::CommerceSettings;
use marquee_control_api::ApiSettings;
use marquee_edge_cache::EdgeConfig;
use marquee_origin::OriginSettings;
use marquee_settings::{in_help_order, Kind, Report, Resolved, Section, Settings};

/// Every service's section, in the order of the file `marquee config example` prints. `main.rs` gives the
/// subcommand that reads it ([`served_by`]) the section's arguments ([`section_args`]).
pub const SECTIONS: &[Section] = &[
    Section::of::<OriginSettings>(),
    Section::of::<EdgeConfig>(),
    Section::of::<ApiSettings>(),
    Section::of::<CommerceSettings>(),
    Section::of::<analytics::AnalyticsSection>(),
    Section::of::<marquee_worker::WorkerSettings>(),
];

/// The subcommand that reads `section`: its namesake, except the satellites' sections, which `marquee api`
/// reads beside `[api]`.
pub fn served_by(section: &str) -> &str {
    match section {
        "commerce" | "analytics" => "api",
        other => other,
    }
}

/// `section`'s arguments on the subcommand that reads it: [`service_args`] for the service's own section, the
/// settings alone for another section it reads (its `--config` is there already).
pub fn section_args(section: Section, command: clap::Command) -> clap::Command {
    if served_by(section.name) == section.name {
        service_args(section, command)
    } else {
        section.args(command)
    }
}

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

pub use marquee_settings::file::LoadedFile;

/// Reads and parses the file at `path`, adding every problem found to `problems`. `None` when nothing could
/// be read from it (unreadable, or not TOML); otherwise the keys without problems.
pub fn load(path: &Path, problems: &mut Vec<Report>) -> Option<LoadedFile> {
    marquee_settings::file::load(path, SECTIONS, problems)
}

/// [`load`] for text already in hand; `path` names the file and locates its relative paths.
pub fn load_text(path: &Path, text: &str, problems: &mut Vec<Report>) -> Option<LoadedFile> {
    marquee_settings::file::load_text(path, text, SECTIONS, problems)
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
