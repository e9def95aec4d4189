//! A service's settings, declared once: as the serde struct its library crate already has, with
//! `#[derive(Settings)]`. From that one declaration come the service's flags, its `MARQUEE_*` environment
//! variables, its section of `marquee.toml`, its part of `marquee config example`, and problems placed where the
//! user wrote the value (`--memory`, `MARQUEE_EDGE_MEMORY`, `edge.memory (line 7)`).
//!
//! ```ignore
//! /// Everything `marquee edge` can be told.
//! #[derive(Debug, Clone, Serialize, Deserialize, Settings)]
//! #[serde(default, deny_unknown_fields)]
//! #[settings(section = "edge", env_prefix = "MARQUEE_EDGE")]
//! pub struct EdgeConfig {
//!     /// Memory budget for object bodies.
//!     ///
//!     /// The process needs this plus a few tens of MB.
//!     #[serde(rename = "memory", with = "marquee_settings::human::bytes")]
//!     #[setting(value_name = "SIZE", heading = "Cache tiers")]
//!     pub memory_bytes: u64,
//!     #[setting(flatten)]
//!     pub connections: ConnectionSettings,
//! }
//! ```
//!
//! Each field's doc comment is its help, as clap's derive reads it: the first paragraph (without its final
//! period) is the short help, the whole the long help. Its key is the serde name (`rename`) or the field's
//! name. Attributes, all optional:
//! - `#[settings(section = "edge", env_prefix = "MARQUEE_EDGE", heading = "…")]` on the struct: the file's
//!   section, the prefix of the default variable names, and the heading of fields that name none.
//! - `#[setting(flag = "upstream")]`: the long flag (default: the key with dashes).
//! - `#[setting(env = "MARQUEE_KEY_FILE")]` or `#[setting(no_env)]`: the variable (default
//!   `{ENV_PREFIX}_{KEY}` of the top-level struct, so a flattened group gets each service's own names).
//! - `#[setting(heading = "Access", value_name = "FILE", placeholder = "keys.toml")]`: the `--help` heading,
//!   the value's name, and the value shown commented out in the example for a setting without a default.
//! - `#[setting(hide_env_values)]`: a secret, whose variable's value `--help` does not show.
//! - `#[setting(location)]`: a string that is a path (taken from the config file's directory, when
//!   relative) unless it is a URL; `PathBuf` fields are paths without saying so.
//! - `#[setting(flatten)]`: a nested settings struct whose keys appear flat in the section. The nesting is
//!   undone and redone here, so both structs keep `deny_unknown_fields` (serde's `flatten` cannot).
//! - `#[setting(skip)]` with `#[serde(skip)]`: a field that is not a setting.
//!
//! The values are layered on [`toml::Table`]s, lowest first: the defaults (the serialized `Default`, so the
//! `DEFAULT_*` consts behind it), the file's section, variables, flags; each value is checked on its own
//! (so every bad one is reported, at its place) and the result is deserialized once. A library says what is
//! wrong with a value as a [`Problem`] about a key, which may name other settings by key; [`Places::report`]
//! renders it with the names the user used.

extern crate self as marquee_settings;

pub mod file;
pub mod human;
mod problem;
mod resolve;

use std::collections::BTreeMap;

pub use marquee_settings_derive::Settings;
pub use problem::{Message, Part, Problem, Report};
pub use resolve::{names_a_scheme, resolve, FileSection, Places, Resolved};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A settings struct: implemented by `#[derive(Settings)]`.
pub trait Settings: Serialize + DeserializeOwned + Default {
    /// The section of the config file (`edge`); empty for a group that is only flattened into others.
    const SECTION: &'static str;
    /// What variable names start with (`MARQUEE_EDGE`); empty for a flattened group.
    const ENV_PREFIX: &'static str;

    /// Adds each setting, in declaration order, to `fields`.
    fn describe(fields: &mut Fields);
}

/// How a setting takes its value on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `bool`: a flag without a value.
    Switch,
    /// A `Vec`: the flag repeated, or a comma-separated variable; a list in the file.
    List,
    /// Anything else: one value.
    Value,
}

/// Whether a relative value in the config file is taken from the file's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relative {
    No,
    /// A path.
    Path,
    /// A path, unless it names a scheme (`s3://bucket/prefix`).
    Location,
}

/// A setting's variable as declared.
#[derive(Debug, Clone, Copy)]
pub enum EnvName {
    /// `{ENV_PREFIX}_{KEY}`.
    Prefixed,
    Named(&'static str),
    None,
}

/// One field as `#[derive(Settings)]` declares it.
#[derive(Debug, Clone)]
pub struct Declared {
    pub key: &'static str,
    pub flag: Option<&'static str>,
    pub env: EnvName,
    pub help: &'static str,
    pub long_help: Option<&'static str>,
    pub heading: Option<&'static str>,
    pub value_name: Option<&'static str>,
    pub placeholder: Option<&'static str>,
    pub kind: Kind,
    pub relative: Relative,
    pub hide_env_values: bool,
}

/// One setting of a section, with its names resolved.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The key in the section (`memory`); keys of flattened groups are flat too.
    pub key: &'static str,
    /// The serde fields of the flattened groups it is inside (`["connections"]`).
    pub nest: Vec<&'static str>,
    /// The long flag, without dashes.
    pub flag: String,
    /// The environment variable, if it has one.
    pub env: Option<String>,
    pub help: &'static str,
    pub long_help: Option<&'static str>,
    pub heading: Option<&'static str>,
    pub value_name: Option<&'static str>,
    pub placeholder: Option<&'static str>,
    pub kind: Kind,
    pub relative: Relative,
    pub hide_env_values: bool,
}

/// The settings of one struct, collected by [`Settings::describe`].
#[derive(Debug)]
pub struct Fields {
    env_prefix: &'static str,
    nest: Vec<&'static str>,
    headings: Vec<Option<&'static str>>,
    list: Vec<Setting>,
}

impl Fields {
    /// Adds one declared field.
    pub fn push(&mut self, declared: Declared) {
        let env = match declared.env {
            EnvName::Prefixed => Some(format!("{}_{}", self.env_prefix, declared.key.to_ascii_uppercase())),
            EnvName::Named(name) => Some(name.to_owned()),
            EnvName::None => None,
        };
        let inherited = self.headings.iter().rev().flatten().next().copied();
        self.list.push(Setting {
            key: declared.key,
            nest: self.nest.clone(),
            flag: declared.flag.map_or_else(|| declared.key.replace('_', "-"), str::to_owned),
            env,
            help: declared.help,
            long_help: declared.long_help,
            heading: declared.heading.or(inherited),
            value_name: declared.value_name,
            placeholder: declared.placeholder,
            kind: declared.kind,
            relative: declared.relative,
            hide_env_values: declared.hide_env_values,
        });
    }

    /// Adds the fields of `G`, a struct nested in serde field `field` whose keys appear flat in the section.
    /// `heading` is the heading of its fields that name none, unless `G` names one for them.
    pub fn group<G: Settings>(&mut self, field: &'static str, heading: Option<&'static str>) {
        self.nest.push(field);
        self.headings.push(heading);
        G::describe(self);
        self.nest.pop();
        self.headings.pop();
    }
}

/// Every setting of `T`, in declaration order, with the names of `T`'s section.
pub fn settings_of<T: Settings>() -> Vec<Setting> {
    let mut fields = Fields { env_prefix: T::ENV_PREFIX, nest: Vec::new(), headings: Vec::new(), list: Vec::new() };
    T::describe(&mut fields);
    fields.list
}

/// A section of the config file, for code that handles every service alike (`marquee config check`,
/// `marquee config example`, reading the file): `Section::of::<EdgeConfig>()`.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// The section's name in the file (`edge`).
    pub name: &'static str,
    settings: fn() -> Vec<Setting>,
    defaults: fn() -> toml::Table,
    probe: fn(&toml::Table, &[Setting]) -> Result<(), String>,
}

impl Section {
    pub const fn of<T: Settings>() -> Self {
        Self { name: T::SECTION, settings: settings_of::<T>, defaults: defaults_of::<T>, probe: probe::<T> }
    }

    /// Every setting, in declaration order.
    pub fn settings(&self) -> Vec<Setting> {
        (self.settings)()
    }

    /// The defaults, flat (one entry per setting that has a default).
    pub fn defaults(&self) -> toml::Table {
        (self.defaults)()
    }

    /// Whether the section may hold `key` with `value`: the message says why not (an unknown key in serde's
    /// words, with "key" for "field", or what the value's deserializer says).
    pub fn check_key(&self, key: &str, value: &toml::Value) -> Result<(), String> {
        let settings = self.settings();
        if !settings.iter().any(|s| s.key == key) {
            let keys: Vec<&str> = settings.iter().map(|s| s.key).collect();
            return Err(format!("unknown key `{key}`, {}", expected(&keys)));
        }
        let mut flat = self.defaults();
        flat.insert(key.to_owned(), value.clone());
        (self.probe)(&flat, &settings)
    }

    /// The section's settings as clap arguments, after whatever `command` has; their ids are the keys. Defaults
    /// are shown (and filled in by clap, which [`Places`] tells from given values by their source).
    pub fn args(&self, mut command: clap::Command) -> clap::Command {
        let defaults = self.defaults();
        for setting in self.settings() {
            command = command.arg(argument(&setting, defaults.get(setting.key)));
        }
        command
    }
}

/// "expected `a`", "expected `a` or `b`", "expected one of `a`, `b`, `c`": serde's words for the known names.
pub fn expected(names: &[&str]) -> String {
    match names {
        [] => "there are none".to_owned(),
        [one] => format!("expected `{one}`"),
        [a, b] => format!("expected `{a}` or `{b}`"),
        many => {
            let quoted: Vec<String> = many.iter().map(|n| format!("`{n}`")).collect();
            format!("expected one of {}", quoted.join(", "))
        }
    }
}

fn argument(setting: &Setting, default: Option<&toml::Value>) -> clap::Arg {
    use clap::{Arg, ArgAction};
    let mut arg = Arg::new(setting.key).long(setting.flag.clone()).help(setting.help);
    if let Some(long) = setting.long_help {
        arg = arg.long_help(long);
    }
    if let Some(heading) = setting.heading {
        arg = arg.help_heading(heading);
    }
    arg = match setting.kind {
        Kind::Switch => arg.action(ArgAction::SetTrue),
        Kind::List => arg.action(ArgAction::Append).value_delimiter(','),
        Kind::Value => arg.action(ArgAction::Set),
    };
    if setting.kind != Kind::Switch {
        let value_name = setting.value_name.map_or_else(|| setting.key.to_ascii_uppercase(), str::to_owned);
        arg = arg.value_name(value_name);
        if let Some(default) = default.and_then(shown) {
            arg = arg.default_value(default);
        }
    }
    if let Some(env) = &setting.env {
        arg = arg.env(env.clone()).hide_env_values(setting.hide_env_values);
    }
    arg
}

/// A default as `--help` shows it: strings without quotes, lists comma-separated, an empty list not at all.
pub fn shown(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Array(items) if items.is_empty() => None,
        toml::Value::Array(items) => Some(items.iter().filter_map(shown).collect::<Vec<_>>().join(",")),
        other => Some(other.to_string()),
    }
}

fn defaults_of<T: Settings>() -> toml::Table {
    let nested = toml::Table::try_from(T::default()).expect("a settings struct's defaults serialize to TOML");
    unnest(&nested, &settings_of::<T>())
}

fn probe<T: Settings>(flat: &toml::Table, settings: &[Setting]) -> Result<(), String> {
    toml::Value::Table(nest(flat, settings)).try_into::<T>().map(drop).map_err(|e| e.message().to_owned())
}

/// The flat section (`max_headers = 64`) as serde reads it (`connections = { max_headers = 64 }`).
fn nest(flat: &toml::Table, settings: &[Setting]) -> toml::Table {
    let mut nested = toml::Table::new();
    for (key, value) in flat {
        let path = settings.iter().find(|s| s.key == key).map(|s| s.nest.as_slice()).unwrap_or_default();
        let mut table = &mut nested;
        for group in path {
            let entry = table.entry(group.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = entry.as_table_mut().expect("a group is a table");
        }
        table.insert(key.clone(), value.clone());
    }
    nested
}

/// The inverse of [`nest`].
fn unnest(nested: &toml::Table, settings: &[Setting]) -> toml::Table {
    let mut flat = toml::Table::new();
    for setting in settings {
        let mut table = Some(nested);
        for group in &setting.nest {
            table = table.and_then(|t| t.get(*group)).and_then(toml::Value::as_table);
        }
        if let Some(value) = table.and_then(|t| t.get(setting.key)) {
            flat.insert(setting.key.to_owned(), value.clone());
        }
    }
    flat
}

/// Settings in the order `--help` lists them: those without a heading first, then each heading in the order
/// it first appears, each in declaration order. `marquee config example` uses the same order.
pub fn in_help_order(settings: &[Setting]) -> Vec<&Setting> {
    let mut headings: Vec<Option<&str>> = vec![None];
    for setting in settings {
        if !headings.contains(&setting.heading) {
            headings.push(setting.heading);
        }
    }
    let mut by_heading: BTreeMap<usize, Vec<&Setting>> = BTreeMap::new();
    for setting in settings {
        let at = headings.iter().position(|h| *h == setting.heading).expect("collected above");
        by_heading.entry(at).or_default().push(setting);
    }
    by_heading.into_values().flatten().collect()
}
