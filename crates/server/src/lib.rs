//! The `relief` service: configuration, start-up and the command-line tasks.

pub mod config;
pub mod telemetry;

use actix_web::dev::Server;
use actix_web::web;
use api::auth::{Keys, LoginThrottle};
use api::AppState;
use config::Config;
use domain::checkpoint::CheckpointKey;
use domain::units::Edition;
use std::net::TcpListener;
use std::time::Duration;
use storage::{Db, DbOptions};

/// A random printable secret of `n` bytes of entropy, hex-encoded.
pub fn random_secret(n: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Connects to the configured database and applies pending migrations.
pub fn open_database(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(
        &config.database_url,
        &DbOptions {
            max_connections: config.db_max_connections,
            acquire_timeout: Duration::from_millis(config.db_acquire_timeout_ms),
        },
    )?;
    let applied = db.migrate()?;
    if applied > 0 {
        tracing::info!(migrations = applied, "migrations applied");
    }
    seed_reference_data(&db)?;
    Ok(db)
}

/// First start, whatever the command: the current edition of the units and the national
/// entitlement rules.
fn seed_reference_data(db: &Db) -> anyhow::Result<()> {
    if !db.read(|c| storage::units::edition_loaded(c, Edition::CURRENT))? {
        let s = import_units(db, Edition::CURRENT, bundled_units(Edition::CURRENT))?;
        tracing::info!(
            units = s.inserted,
            edition = 2025,
            "administrative units loaded"
        );
    }
    let seeded = db.write(storage::relief::seed_national_policies)?;
    if seeded > 0 {
        tracing::info!(rule_sets = seeded, "national entitlement rules loaded");
    }
    Ok(())
}

/// Loads the bundled official list of `edition` (or the given CSV text) in one transaction.
pub fn import_units(
    db: &Db,
    edition: Edition,
    csv: &str,
) -> anyhow::Result<storage::units::ImportSummary> {
    let rows = storage::units::parse_csv(edition, csv)?;
    Ok(db.write(|c| storage::units::import(c, &rows))?)
}

pub fn bundled_units(edition: Edition) -> &'static str {
    if edition.year() == 2024 {
        storage::units::EDITION_2024_CSV
    } else {
        storage::units::EDITION_2025_CSV
    }
}

/// First start of the service on a database without users: creates `admin`. Returns the
/// generated password when one had to be generated, for the caller to print once.
pub fn bootstrap(db: &Db, config: &Config) -> anyhow::Result<Option<String>> {
    if db.read(storage::users::count)? > 0 {
        return Ok(None);
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (p.clone(), false),
        None => (random_secret(12), true),
    };
    domain::users::NewPassword::parse(&password)
        .map_err(|e| anyhow::anyhow!("RELIEF_ADMIN_PASSWORD {}", e.message))?;
    let hash = domain::users::hash_password(&password)
        .map_err(|e| anyhow::anyhow!("password hashing: {e}"))?;
    let admin = storage::users::NewUser {
        username: domain::users::Username::parse("admin")?,
        display_name: "Administrator".into(),
        password_hash: hash,
        role: domain::users::Role::Admin,
        scope: None,
        created_by: None,
    };
    db.write(|c| storage::users::create(c, &admin, None))?;
    tracing::info!("first start: user admin created");
    Ok(generated.then_some(password))
}

/// The key that signs checkpoints: configured, or generated once and kept in the database.
pub fn checkpoint_key(db: &Db, config: &Config) -> anyhow::Result<CheckpointKey> {
    let seed = match &config.checkpoint_key {
        Some(k) => k.clone(),
        None => {
            tracing::warn!(
                "RELIEF_CHECKPOINT_KEY is not set: the checkpoint key is kept in the database, \
                 so whoever can read the database can sign new checkpoints (saved ones stay valid)"
            );
            db.write(|c| {
                storage::settings::get_or_insert(c, "checkpoint_key", || {
                    hex::encode(CheckpointKey::generate_seed())
                })
            })?
        }
    };
    let seed: [u8; 32] = hex::decode(seed.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("the checkpoint key must be 64 hex digits"))?;
    Ok(CheckpointKey::from_seed(&seed))
}

/// Signs every changed chain head every `every`, on a thread of its own.
fn spawn_checkpoints(db: Db, key: std::sync::Arc<CheckpointKey>, every: Duration) {
    std::thread::spawn(move || loop {
        std::thread::sleep(every);
        match api::routes::export::sign_all(&db, &key) {
            Ok(0) => {}
            Ok(n) => tracing::info!(checkpoints = n, "chain heads signed"),
            Err(e) => tracing::warn!(error = %e, "signing chain heads failed; will retry"),
        }
    });
}

/// The running service.
pub struct Application {
    port: u16,
    server: Server,
    pub db: Db,
}

impl Application {
    /// Connects, migrates, bootstraps and binds. Call [`Application::run_until_stopped`] to serve.
    pub fn build(config: &Config) -> anyhow::Result<Self> {
        config.check_secrets().map_err(anyhow::Error::msg)?;
        let db = open_database(config)?;
        if let Some(password) = bootstrap(&db, config)? {
            println!(
                "\nFirst start: created user `admin` with password\n\n    {password}\n\n\
                 It is shown only this once. Log in to the staff console at\n\
                 http://{bind}/console (the public site is http://{bind}/),\n\
                 or to the API with POST /v1/auth/token.\n",
                bind = config.bind
            );
        }
        let secret = match &config.jwt_secret {
            Some(s) => s.clone(),
            None => db.write(|c| {
                storage::settings::get_or_insert(c, "jwt_secret", || random_secret(32))
            })?,
        };
        // The key of the national-ID hashes: losing or changing it breaks deduplication, so it
        // is generated once and kept in the database unless configured.
        let id_key = match &config.id_hash_key {
            Some(k) => k.clone(),
            None => db.write(|c| {
                storage::settings::get_or_insert(c, "id_hash_key", || random_secret(32))
            })?,
        };
        let checkpoint_key = std::sync::Arc::new(checkpoint_key(&db, config)?);
        if config.checkpoint_interval_secs > 0 {
            spawn_checkpoints(
                db.clone(),
                checkpoint_key.clone(),
                Duration::from_secs(config.checkpoint_interval_secs),
            );
        }
        let state = web::Data::new(AppState {
            db: db.clone(),
            id_key: id_key.into_bytes(),
            keys: Keys::from_secret(secret.as_bytes())?,
            token_ttl_secs: config.token_ttl_secs,
            throttle: LoginThrottle::default(),
            checkpoint_key,
            public_limit: api::ratelimit::RateLimiter::new(
                config.public_rate_per_sec,
                config.public_burst,
            ),
            web: api::headers::WebSettings {
                cors_origins: config.cors_origin_list(),
                hsts_max_age_secs: config.hsts_max_age_secs,
                assets_dir: config.web_dir.as_ref().map(std::path::PathBuf::from),
            },
            assets: Default::default(),
        });
        let listener = TcpListener::bind(&config.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
        let port = listener.local_addr()?.port();
        let server = api::serve(state, listener, config.workers)?;
        Ok(Self { port, server, db })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
