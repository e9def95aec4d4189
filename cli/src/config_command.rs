//! `marquee config check` and `marquee config example`: a config file checked as every service it configures
//! would start with it, or printed whole with every default.

use std::path::{Path, PathBuf};

use crate::config::{example, failure, load, LoadedFile};
use marquee_settings::Report;

/// What `marquee config check` runs for a service's section, besides checking its values: the service's own
/// check of the files and directories its settings name. Adds the problems and notes; returns a summary line
/// when the service would start.
pub type ServiceCheck = fn(&LoadedFile, &mut Vec<Report>, &mut Vec<String>) -> Option<String>;

/// Each service section's check, by section name.
pub const SERVICE_CHECKS: &[(&str, ServiceCheck)] = &[
    ("origin", crate::origin::check),
    ("edge", crate::edge::check),
    ("api", crate::api::check),
    ("commerce", crate::api::check_commerce),
    ("analytics", crate::api::check_analytics),
    ("worker", crate::worker::check),
];

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
        for (_, check) in SERVICE_CHECKS.iter().filter(|(section, _)| file.sections.contains_key(*section)) {
            summaries.extend(check(&file, &mut problems, &mut notes));
        }
        if file.sections.is_empty() && problems.is_empty() {
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
