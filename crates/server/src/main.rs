use clap::{Parser, Subcommand};
use domain::units::Edition;
use server::config::Config;
use server::Application;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the service allocates on one thread and frees on another
/// all the time (rows read on a blocking thread, answered on a worker; an export's batches
/// formatted on a second thread), and glibc then serialises threads on its arena locks (perf:
/// 14% of an export's time in futex waits and wake-ups under `free`). See docs/PERFORMANCE.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The relief ledger service: emergency-relief funds, their donations, disbursements and
/// tamper-evident ledger.
#[derive(Parser)]
#[command(name = "relief", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default): applies migrations, loads the units on first start.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Copy the SQLite database, while the service runs, into a new file (for PostgreSQL use
    /// pg_dump). Restore by pointing DATABASE_URL at the copy.
    Backup {
        /// The new file to write.
        to: std::path::PathBuf,
    },
    /// Manage users: `users add`.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage administrative units: `units import`.
    #[command(subcommand)]
    Units(UnitsCommand),
    /// Check the ledger: `ledger verify`, `ledger checkpoint`.
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Sign every chain head that has changed since its last checkpoint (the service also does
    /// this every RELIEF_CHECKPOINT_INTERVAL_SECS).
    Checkpoint,
    /// Recompute every fund's hash chain (or one fund's) and check balances against postings.
    /// Prints one line per fund and exits non-zero if any fund fails, naming the first bad seq.
    Verify {
        /// Only this fund.
        #[arg(long)]
        fund: Option<String>,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user. The password is read from standard input (one line) with
    /// --password-stdin; otherwise a strong one is generated and printed once.
    Add {
        #[arg(long)]
        username: String,
        /// admin, fund_manager, approver or auditor.
        #[arg(long)]
        role: String,
        /// The unit whose subtree the user acts within (required except for admin and auditor).
        #[arg(long)]
        scope_unit: Option<String>,
        /// The edition of the scope unit.
        #[arg(long, default_value_t = 2025)]
        scope_edition: i64,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum UnitsCommand {
    /// Import a unit list (code,name,level,division_type,parent_code). Without FILE, the official
    /// list of the edition bundled in the binary. A bad row aborts with its line; nothing is
    /// imported then.
    Import {
        /// A CSV file in the official format.
        file: Option<std::path::PathBuf>,
        /// 2024 (three tiers, until 2025-06-30) or 2025 (two tiers, from 2025-07-01).
        #[arg(long)]
        edition: i64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    server::telemetry::init(config.log_format);
    match run(cli.command.unwrap_or(Command::Serve), &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, config: &Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config),
        Command::Migrate => {
            server::open_database(config)?;
            println!("migrations applied");
            Ok(())
        }
        Command::Backup { to } => {
            let db = server::open_database(config)?;
            db.backup(&to)?;
            println!("backed up to {}", to.display());
            Ok(())
        }
        Command::Ledger(LedgerCommand::Checkpoint) => {
            config.check_secrets().map_err(anyhow::Error::msg)?;
            let db = server::open_database(config)?;
            let key = server::checkpoint_key(&db, config)?;
            let n = api::routes::export::sign_all(&db, &key)?;
            println!("{n} chain heads signed with key {}", key.key_id());
            Ok(())
        }
        Command::Ledger(LedgerCommand::Verify { fund }) => {
            let db = server::open_database(config)?;
            let ids = match fund {
                Some(id) => vec![id],
                None => db.read(storage::ledger::fund_ids)?,
            };
            let mut failed = 0;
            for id in &ids {
                let v = storage::ledger::verify(&db, id)?;
                if v.ok {
                    println!(
                        "ok    fund {id}: {} entries, head seq {} {}",
                        v.entries_checked, v.head_seq, v.head_hash
                    );
                } else {
                    failed += 1;
                    println!(
                        "FAIL  fund {id}: first bad seq {}: {}",
                        v.first_bad_seq.map_or("-".to_owned(), |s| s.to_string()),
                        v.problem.unwrap_or_default()
                    );
                }
            }
            if failed > 0 {
                anyhow::bail!("{failed} of {} funds failed verification", ids.len());
            }
            println!("{} funds verified", ids.len());
            Ok(())
        }
        Command::Units(UnitsCommand::Import { file, edition }) => {
            let edition = Edition::parse(edition)?;
            let db = server::open_database(config)?;
            let text = match &file {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
                None => server::bundled_units(edition).to_owned(),
            };
            let s = server::import_units(&db, edition, &text)?;
            println!(
                "edition {edition}: {} inserted, {} updated, {} unchanged",
                s.inserted, s.updated, s.unchanged
            );
            Ok(())
        }
        Command::Users(UsersCommand::Add {
            username,
            role,
            scope_unit,
            scope_edition,
            display_name,
            password_stdin,
        }) => {
            let username = domain::users::Username::parse(&username)?;
            let role = domain::users::Role::parse(&role)?;
            let scope = match scope_unit {
                Some(code) => Some((
                    Edition::parse(scope_edition)?,
                    domain::units::UnitCode::parse("scope_unit", &code)?,
                )),
                None if role.may_be_unscoped() => None,
                None => anyhow::bail!("--scope-unit is required for the role {}", role.as_str()),
            };
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (server::random_secret(12), true)
            };
            let password = domain::users::NewPassword::parse(&password)?;
            let db = server::open_database(config)?;
            let hash = domain::users::hash_password(password.expose())
                .map_err(|e| anyhow::anyhow!("password hashing: {e}"))?;
            let user = storage::users::NewUser {
                display_name: display_name.unwrap_or_else(|| username.as_str().to_owned()),
                username,
                password_hash: hash,
                role,
                scope,
                created_by: None,
            };
            let row = db.write(|c| storage::users::create(c, &user, None))?;
            println!("created user {} ({}) id {}", row.username, row.role, row.id);
            if generated {
                println!("password (shown only this once): {}", password.expose());
            }
            Ok(())
        }
    }
}

fn serve(config: &Config) -> anyhow::Result<()> {
    let rt = tokio_runtime()?;
    rt.block_on(async {
        let app = Application::build(config)?;
        tracing::info!(
            bind = %config.bind,
            port = app.port(),
            database = app.db.backend().as_str(),
            "listening"
        );
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn tokio_runtime() -> std::io::Result<actix_web::rt::Runtime> {
    actix_web::rt::Runtime::new()
}
