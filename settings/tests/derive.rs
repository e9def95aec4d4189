//! `#[derive(Settings)]` on a small service: its arguments, its defaults, the layering of file, variables and
//! flags, and problems placed where each value came from.

use std::time::Duration;

use marquee_settings::{in_help_order, resolve, FileSection, Kind, Problem, Report, Section, Settings};
use serde::{Deserialize, Serialize};

/// A group flattened into the service, as `ConnectionSettings` is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
#[settings(heading = "Limits")]
struct Limits {
    /// Most of them at once.
    #[setting(value_name = "N")]
    max_things: usize,
    /// How long to wait.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = "Timeouts")]
    timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_things: 10, timeout: Duration::from_secs(5) }
    }
}

/// The service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
#[settings(section = "toy", env_prefix = "MARQUEE_TOY")]
struct Toy {
    /// Upstreams; repeat the flag.
    #[serde(rename = "upstreams")]
    #[setting(flag = "upstream", value_name = "URL", placeholder = "http://a:1,http://b:2")]
    upstream_urls: Vec<String>,
    /// Memory budget.
    ///
    /// The second paragraph.
    #[serde(rename = "memory", with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE")]
    memory_bytes: u64,
    /// Serve without tokens.
    #[setting(no_env, heading = "Access")]
    unsigned: bool,
    /// A key file.
    #[setting(env = "MARQUEE_KEY_FILE", value_name = "FILE", heading = "Access")]
    key_file: Option<std::path::PathBuf>,
    #[setting(flatten)]
    limits: Limits,
}

impl Default for Toy {
    fn default() -> Self {
        Self {
            upstream_urls: Vec::new(),
            memory_bytes: 512 << 20,
            unsigned: false,
            key_file: None,
            limits: Limits::default(),
        }
    }
}

impl Toy {
    fn problems(&self) -> Vec<Problem> {
        let mut found = Vec::new();
        if self.limits.max_things * 1024 > self.memory_bytes as usize {
            found.push(Problem::new("max_things", "must fit in ").setting("memory").text(" (1 KiB each)"));
        }
        found
    }
}

const TOY: Section = Section::of::<Toy>();

fn parse(argv: &[&str]) -> clap::ArgMatches {
    let command = TOY.args(clap::Command::new("toy"));
    let mut command = command;
    let ids: Vec<String> = command.get_arguments().map(|a| a.get_id().to_string()).collect();
    for id in ids {
        command = command.mut_arg(id, |arg| arg.env(None::<&str>));
    }
    command.try_get_matches_from(std::iter::once("toy").chain(argv.iter().copied())).unwrap()
}

fn file(text: &str) -> FileSection {
    let values: toml::Table = toml::from_str(text).unwrap();
    let line_of = |key: &str| text.lines().position(|line| line.starts_with(key)).unwrap() + 1;
    let lines = values.keys().map(|key| (key.clone(), line_of(key))).collect();
    FileSection { values, lines, dir: "/etc/toy".into() }
}

#[test]
fn fields_are_declared_once_with_their_names_and_help() {
    let settings = TOY.settings();
    let keys: Vec<&str> = settings.iter().map(|s| s.key).collect();
    assert_eq!(keys, ["upstreams", "memory", "unsigned", "key_file", "max_things", "timeout"]);
    let by_key = |key: &str| settings.iter().find(|s| s.key == key).unwrap().clone();
    assert_eq!(by_key("upstreams").flag, "upstream");
    assert_eq!(by_key("upstreams").kind, Kind::List);
    assert_eq!(by_key("upstreams").env.as_deref(), Some("MARQUEE_TOY_UPSTREAMS"));
    assert_eq!(by_key("unsigned").env, None);
    assert_eq!(by_key("key_file").env.as_deref(), Some("MARQUEE_KEY_FILE"));
    assert_eq!(by_key("max_things").env.as_deref(), Some("MARQUEE_TOY_MAX_THINGS"), "the service's prefix");
    assert_eq!(by_key("max_things").heading, Some("Limits"), "the group's heading");
    assert_eq!(by_key("timeout").heading, Some("Timeouts"), "its own heading");
    assert_eq!(by_key("max_things").nest, ["limits"]);
    let memory = by_key("memory");
    assert_eq!((memory.help, memory.long_help), ("Memory budget", Some("Memory budget.\n\nThe second paragraph.")));
}

#[test]
fn help_order_groups_each_heading_once_in_the_order_it_first_appears() {
    let settings = TOY.settings();
    let keys: Vec<&str> = in_help_order(&settings).iter().map(|s| s.key).collect();
    assert_eq!(keys, ["upstreams", "memory", "unsigned", "key_file", "max_things", "timeout"]);
    let help = TOY.args(clap::Command::new("toy")).render_help().to_string();
    let at = |text: &str| help.find(text).unwrap_or_else(|| panic!("{text} in {help}"));
    assert!(at("Access:") < at("Limits:") && at("Limits:") < at("Timeouts:"), "{help}");
}

#[test]
fn defaults_come_from_default_in_their_human_forms() {
    let defaults = TOY.defaults();
    assert_eq!(defaults["memory"].as_str(), Some("512MiB"));
    assert_eq!(defaults["timeout"].as_str(), Some("5s"));
    assert_eq!(defaults["max_things"].as_integer(), Some(10));
    assert!(!defaults.contains_key("key_file"));
    let help = TOY.args(clap::Command::new("toy")).render_help().to_string();
    assert!(help.contains("[default: 512MiB]") && help.contains("[env: MARQUEE_TOY_TIMEOUT=]"), "{help}");
}

#[test]
fn flags_beat_variables_beat_the_file_beats_the_defaults() {
    let f = file("memory = \"1GiB\"\nkey_file = \"keys.toml\"\ntimeout = \"1s\"\n");
    let (resolved, reports) =
        resolve::<Toy>(&parse(&["--upstream", "http://a:1", "--upstream", "http://b:2", "--timeout", "2s"]), Some(&f));
    assert_eq!(reports, []);
    let toy = resolved.value;
    assert_eq!(toy.upstream_urls, ["http://a:1", "http://b:2"]);
    assert_eq!(toy.memory_bytes, 1 << 30);
    assert_eq!(toy.limits.timeout, Duration::from_secs(2));
    assert_eq!(toy.key_file, Some("/etc/toy/keys.toml".into()), "relative to the file's directory");
    let places = resolved.places;
    assert_eq!(places.place("memory"), "toy.memory (line 1)");
    assert_eq!(places.place("timeout"), "--timeout");
    assert_eq!(places.place("max_things"), "toy.max_things");
    let (resolved, _) = resolve::<Toy>(&parse(&[]), None);
    assert_eq!(resolved.value, Toy::default());
    assert_eq!(resolved.places.place("max_things"), "--max-things");
}

#[test]
fn every_bad_value_is_reported_at_its_place_and_problems_name_settings_as_given() {
    assert!(TOY
        .check_key("memory", &toml::Value::String("lots".into()))
        .unwrap_err()
        .contains("\"lots\" is not a size"));
    assert!(TOY
        .check_key("memroy", &toml::Value::Integer(1))
        .unwrap_err()
        .starts_with("unknown key `memroy`, expected one of"));
    let f = file("max_things = 2000\n");
    let (resolved, reports) = resolve::<Toy>(&parse(&["--timeout", "10", "--memory", "1MiB"]), Some(&f));
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].place, "--timeout");
    assert!(reports[0].message.contains("\"10\" is not a duration"), "{reports:?}");
    let shown: Vec<Report> = resolved.value.problems().iter().map(|p| resolved.places.report(p)).collect();
    assert_eq!(shown, [Report::new("toy.max_things (line 1)", "must fit in --memory (1 KiB each)")]);
    assert_eq!(resolved.value.problems()[0].to_string(), "max_things: must fit in memory (1 KiB each)");
}
