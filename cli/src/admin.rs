//! `marquee admin`: account chores run against the API's database directly, e.g. the first admin before the
//! API has ever started (`marquee api` also makes one on an empty database and prints its password once).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{bail, Context};
use marquee_control_api::auth::{now_ms, password, store, Role};
use marquee_control_api::{ApiSettings, Database};

/// Account chores on the API's database.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AdminCommand {
    /// Make a user (an admin unless --role says otherwise). The password is read from standard input when it is
    /// not a terminal (one line), else asked for twice without echo.
    ///
    /// Example: marquee admin create --email ops@example.com --database sqlite:/var/lib/marquee/api.db
    ///
    /// Example: printf '%s\n' "$PASSWORD" | marquee admin create --email ops@example.com --config marquee.toml
    Create(CreateArgs),
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The user's email, which they sign in with.
    #[arg(long)]
    email: String,
    /// The user's role.
    #[arg(long, value_enum, default_value_t = RoleArg::Admin)]
    role: RoleArg,
    /// The API's database (as `marquee api --database`). Default: the [api] section of --config, else the API's
    /// default.
    #[arg(long, env = "MARQUEE_DATABASE", value_name = "URL", hide_env_values = true)]
    database: Option<String>,
    /// A marquee.toml whose [api] section names the database.
    #[arg(long, env = "MARQUEE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Viewer,
    Creator,
    Admin,
}

pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        AdminCommand::Create(args) => create(args),
    }
}

fn create(args: CreateArgs) -> anyhow::Result<()> {
    if let Some(problem) = store::email_problem(&args.email) {
        bail!("{problem}");
    }
    let database = match (args.database, args.config) {
        (Some(url), _) => url,
        (None, Some(path)) => database_in(&path)?,
        (None, None) => ApiSettings::default().database,
    };
    let password = read_password()?;
    if let Some(problem) = password::password_problem(&password) {
        bail!("{problem}");
    }
    let role = match args.role {
        RoleArg::Viewer => Role::Viewer,
        RoleArg::Creator => Role::Creator,
        RoleArg::Admin => Role::Admin,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let db = Database::connect(&database).await?;
        let hash = password::hash(password).await;
        match store::create_user(&db, &args.email, &hash, role, now_ms()).await {
            Ok(user) => {
                println!("Made the {} {} (id {}).", role.as_str(), user.email, user.id);
                Ok(())
            }
            Err(store::CreateUserError::EmailTaken) => bail!("a user with the email {} already exists", args.email),
            Err(store::CreateUserError::Database(e)) => Err(e).context("cannot write the user"),
        }
    })
}

/// The database the `[api]` section of the file at `path` names (with the `MARQUEE_*` environment over it).
fn database_in(path: &std::path::Path) -> anyhow::Result<String> {
    let mut problems = Vec::new();
    let Some(file) = crate::config::load(path, &mut problems) else {
        return Err(crate::config::failure(&path.display().to_string(), &problems));
    };
    let matches = crate::api::command().try_get_matches_from(["api"])?;
    let (resolved, reports) = crate::config::resolve::<ApiSettings>(&matches, Some(&file));
    if !reports.is_empty() {
        return Err(crate::config::failure(&path.display().to_string(), &reports));
    }
    Ok(resolved.value.database)
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\n', '\r']).to_owned();
        if password.is_empty() {
            bail!("no password on standard input: pipe one line, or run in a terminal to be asked");
        }
        return Ok(password);
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Again: ")?;
    if first != second {
        bail!("the two passwords differ; nothing was made");
    }
    Ok(first)
}
