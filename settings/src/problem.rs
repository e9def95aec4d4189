//! What is wrong with settings, as values: a library's [`Problem`] is about one key and may name others; the
//! [`Report`] is what the user reads, placed where the value came from.

use std::fmt;

/// One thing wrong with a service's settings, found by its library (`EdgeConfig::problems`) or by the
/// service's checks of the files a setting names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The setting it is about (its key, such as `memory_max_object`).
    pub key: &'static str,
    pub message: Message,
}

/// A message that may name other settings, which are rendered as the user gave them (`edge.memory`,
/// `--memory`, `MARQUEE_EDGE_MEMORY`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message(pub Vec<Part>);

/// A piece of a [`Message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// Another setting, by key.
    Setting(&'static str),
}

impl Problem {
    /// A problem with `key` whose message starts with `text`.
    pub fn new(key: &'static str, text: impl Into<String>) -> Self {
        Self { key, message: Message(vec![Part::Text(text.into())]) }
    }

    /// Continues the message with the name of the setting `key`.
    pub fn setting(mut self, key: &'static str) -> Self {
        self.message.0.push(Part::Setting(key));
        self
    }

    /// Continues the message with `text`.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.message.0.push(Part::Text(text.into()));
        self
    }
}

impl Problem {
    /// Problems as one text, `separator` between them, each as [`fmt::Display`] writes it.
    pub fn list(problems: &[Problem], separator: &str) -> String {
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join(separator)
    }
}

impl Message {
    /// The text, with each setting named by `name` (its key, for instance).
    pub fn render(&self, name: impl Fn(&'static str) -> String) -> String {
        self.0
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.clone(),
                Part::Setting(key) => name(key),
            })
            .collect()
    }
}

/// `key: message`, with settings named by key: for logs and tests of the libraries.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message.render(str::to_owned))
    }
}

/// A problem as the user reads it, and where: `edge.memory (line 7)`, `--listen`, a `MARQUEE_*` variable, or
/// `marquee.toml line 3, column 9` for a syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub place: String,
    pub message: String,
}

impl Report {
    pub fn new(place: impl Into<String>, message: impl Into<String>) -> Self {
        Self { place: place.into(), message: message.into() }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}
