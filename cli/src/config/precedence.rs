//! Which value each setting of a service takes, and where it came from: its flag, its `MARQUEE_*` variable,
//! the service's section of the config file, or the default, highest first. The place is what a problem
//! with the value is reported against (`edge.memory (line 7)`, `--memory`, `MARQUEE_EDGE_MEMORY`).

use std::collections::BTreeMap;

use clap::parser::ValueSource;
use clap::ArgMatches;

use super::{LoadedFile, Problem};

/// How a setting was given on the command-line side of the precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    Flag,
    /// Through its environment variable, named here.
    Env(String),
}

/// Which settings clap took from a flag or a variable (not from its default), read from `matches` of
/// `command`.
pub fn given_in<'a>(command: &clap::Command, matches: &'a ArgMatches) -> impl Fn(&str) -> Option<Given> + 'a {
    let variables: BTreeMap<String, String> = command
        .get_arguments()
        .filter_map(|arg| Some((arg.get_id().to_string(), arg.get_env()?.to_string_lossy().into_owned())))
        .collect();
    move |id| match matches.value_source(id) {
        Some(ValueSource::CommandLine) => Some(Given::Flag),
        Some(ValueSource::EnvVariable) => Some(Given::Env(variables.get(id).cloned().unwrap_or_default())),
        _ => None,
    }
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
}

/// Applies the precedence one setting at a time and remembers where each value came from.
pub struct Precedence<'a> {
    given: &'a dyn Fn(&str) -> Option<Given>,
    file: Option<&'a LoadedFile>,
    /// Argument id to its `--flag`, which is not always the id with dashes (`upstreams` is `--upstream`).
    flags: BTreeMap<String, String>,
    places: Places,
}

impl<'a> Precedence<'a> {
    /// For the `[section]` settings of `command`, whose arguments are named like the section's keys.
    pub fn new(
        section: &'static str,
        command: &clap::Command,
        given: &'a dyn Fn(&str) -> Option<Given>,
        file: Option<&'a LoadedFile>,
    ) -> Self {
        let flags = command
            .get_arguments()
            .filter_map(|arg| Some((arg.get_id().to_string(), format!("--{}", arg.get_long()?))))
            .collect();
        let places = Places { section, ..Places::default() };
        Self { given, file, flags, places }
    }

    /// `from_clap` is what clap holds (a flag's value, its variable's, or the default); the file's value beats
    /// only the default.
    pub fn pick<T>(&mut self, key: &'static str, from_clap: T, in_file: Option<T>) -> T {
        let flag = || self.flags.get(key).cloned().unwrap_or_else(|| format!("--{}", key.replace('_', "-")));
        let (value, place) = match ((self.given)(key), in_file, self.file) {
            (Some(Given::Flag), _, _) => (from_clap, flag()),
            (Some(Given::Env(variable)), _, _) => {
                self.places.from_env.push(variable.clone());
                (from_clap, variable)
            }
            (None, Some(value), Some(file)) => (value, file.place(self.places.section, key)),
            (None, _, Some(_)) => (from_clap, format!("{}.{key}", self.places.section)),
            (None, _, None) => (from_clap, flag()),
        };
        self.places.by_key.insert(key, place);
        value
    }

    /// Where every picked setting came from.
    pub fn finish(self) -> Places {
        self.places
    }
}

/// A variable clap could not parse, named by the variable rather than by the flag clap's message names.
pub fn environment_problem(command: &clap::Command, error: &clap::Error) -> Problem {
    use clap::error::{ContextKind, ContextValue};
    let message = error.to_string();
    let message = message.lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned();
    let variable = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(flag)) => command.get_arguments().find_map(|arg| {
            let long = arg.get_long()?;
            let names_it = flag
                .strip_prefix("--")
                .and_then(|f| f.strip_prefix(long))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' ') || rest.starts_with('='));
            names_it.then(|| arg.get_env().map(|v| v.to_string_lossy().into_owned())).flatten()
        }),
        _ => None,
    };
    Problem::new(variable.unwrap_or_else(|| "environment".to_owned()), message)
}
