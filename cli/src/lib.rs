//! The `marquee` binary's subcommands as a library: `main.rs` parses the command line and calls one `run`
//! here, and the integration tests in `cli/tests/` call the same functions.
//!
//! - [`transcode`]: `marquee transcode`, `presets` and `encoders`.
//! - [`origin`], [`edge`] and [`api`] (the control API): the services, with their settings from flags, `MARQUEE_*` variables and
//!   a section of the config file.
//! - [`config`]: the file the services read, and their settings' registration; [`config_command`]: `marquee
//!   config check` and `marquee config example`.
//! - [`sign`]: `marquee sign` and `marquee keygen`.
//! - [`up`]: `marquee up`, every part in one process over one data directory.
//! - [`admin`]: `marquee admin create` (accounts, on the API's database); [`upload`]: `marquee upload`, a tus
//!   client with a progress bar that resumes.

pub mod admin;
pub mod api;
pub mod config;
pub mod config_command;
pub mod edge;
pub mod origin;
pub mod satellites;
pub mod shutdown;
pub mod sign;
pub mod transcode;
pub mod up;
pub mod upload;
pub mod worker;
