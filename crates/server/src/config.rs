//! Configuration: defaults, then an optional TOML file, then environment variables.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// `RELIEF_ENV`: `development` (the default: missing keys are generated and kept in the
/// database) or `production` (every key must be configured and strong, see
/// [`Config::check_secrets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    Development,
    Production,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Config {
    /// `DATABASE_URL`: a `postgres://` URL, or a SQLite file path (optionally `sqlite://`).
    #[serde(deserialize_with = "scalar::string")]
    pub database_url: String,
    /// `RELIEF_BIND`: the address to listen on.
    #[serde(deserialize_with = "scalar::string")]
    pub bind: String,
    /// `RELIEF_JWT_SECRET`: the token signing key (32 bytes or more). When unset, a random key is
    /// generated once and kept in the database.
    #[serde(default, deserialize_with = "scalar::optional_string")]
    pub jwt_secret: Option<String>,
    /// `RELIEF_ID_HASH_KEY`: the HMAC key of national-ID hashes (32 bytes or more). When unset, a
    /// random key is generated once and kept in the database.
    #[serde(default, deserialize_with = "scalar::optional_string")]
    pub id_hash_key: Option<String>,
    /// `RELIEF_CHECKPOINT_KEY`: the Ed25519 seed that signs checkpoints, 64 hex digits. When
    /// unset, a random seed is generated once and kept in the database.
    #[serde(default, deserialize_with = "scalar::optional_string")]
    pub checkpoint_key: Option<String>,
    /// `RELIEF_CHECKPOINT_INTERVAL_SECS`: how often every changed chain head is signed; 0 never
    /// (checkpoints are then made on demand only).
    pub checkpoint_interval_secs: u64,
    /// `RELIEF_TOKEN_TTL_SECS`: how long an access token lives.
    pub token_ttl_secs: u64,
    /// `RELIEF_LOG_FORMAT`: `pretty` or `json`.
    pub log_format: LogFormat,
    /// `RELIEF_ADMIN_PASSWORD`: the password of the first `admin`, used only on an empty database.
    #[serde(default, deserialize_with = "scalar::optional_string")]
    pub admin_password: Option<String>,
    /// `RELIEF_DB_MAX_CONNECTIONS`: pool size.
    pub db_max_connections: u32,
    /// `RELIEF_DB_ACQUIRE_TIMEOUT_MS`: how long a request waits for a connection before a 503.
    pub db_acquire_timeout_ms: u64,
    /// `RELIEF_WORKERS`: HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// `RELIEF_PUBLIC_RATE_PER_SEC`: requests a second each client address may make to the
    /// public routes (`/v1/public/...`), once its burst is spent.
    pub public_rate_per_sec: u32,
    /// `RELIEF_PUBLIC_BURST`: requests a client address may make to the public routes at once.
    pub public_burst: u32,
    /// `RELIEF_ENV`: see [`RunMode`].
    #[serde(default = "development")]
    pub env: RunMode,
    /// `RELIEF_JWT_SECRET_FILE`: a file holding `RELIEF_JWT_SECRET` (one trailing line break
    /// is ignored), such as a Docker or Kubernetes secret. Not both.
    #[serde(default, deserialize_with = "scalar::optional_string")]
    pub jwt_secret_file: Option<String>,
    /// `RELIEF_ID_HASH_KEY_FILE`: a file holding `RELIEF_ID_HASH_KEY`.
    #[serde(default, deserialize_with = "scalar::optional_string")]
    pub id_hash_key_file: Option<String>,
    /// `RELIEF_CHECKPOINT_KEY_FILE`: a file holding `RELIEF_CHECKPOINT_KEY`.
    #[serde(default, deserialize_with = "scalar::optional_string")]
    pub checkpoint_key_file: Option<String>,
    /// `RELIEF_CORS_ORIGINS`: comma-separated origins (`https://relief.example.org`) whose
    /// browser pages may call the API; unset, no cross-origin call is allowed.
    #[serde(default, deserialize_with = "scalar::optional_string")]
    pub cors_origins: Option<String>,
    /// `RELIEF_HSTS_MAX_AGE_SECS`: when above 0, responses carry `Strict-Transport-Security` with
    /// this `max-age`; set it only when the service is reached over HTTPS only.
    #[serde(default)]
    pub hsts_max_age_secs: u64,
    /// `RELIEF_WEB_DIR`: serve the web pages' scripts and styles from this folder instead of
    /// the copies built into the binary (for working on them without rebuilding).
    #[serde(default, deserialize_with = "scalar::optional_string")]
    pub web_dir: Option<String>,
}

fn development() -> RunMode {
    RunMode::Development
}

/// Words that mark a value copied from an example or a test rather than generated.
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change-me",
    "placeholder",
    "example",
    "secret",
    "password",
];

/// Why `value` is too weak for a production key: fewer than 32 bytes, fewer than 8 distinct
/// characters (`aaaa...`, `abababab...`), or a placeholder word.
fn weakness(value: &str) -> Option<&'static str> {
    let distinct: std::collections::BTreeSet<u8> = value.bytes().collect();
    let lower = value.to_ascii_lowercase();
    if value.len() < 32 {
        Some("is shorter than 32 bytes")
    } else if distinct.len() < 8 {
        Some("has fewer than 8 distinct characters")
    } else if PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w)) {
        Some("looks like a placeholder; generate one with `openssl rand -hex 32`")
    } else {
        None
    }
}

/// Reads a secret from `path`, dropping one trailing line break.
fn read_secret_file(name: &str, path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("configuration: {name}_FILE: cannot read {path}: {e}"))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if text.is_empty() {
        return Err(format!("configuration: {name}_FILE: {path} is empty"));
    }
    Ok(text.to_owned())
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field(
                "database_url",
                &storage::Backend::of_url(&self.database_url),
            )
            .field("bind", &self.bind)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("log_format", &self.log_format)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://relief.db".into(),
            bind: "127.0.0.1:8080".into(),
            jwt_secret: None,
            id_hash_key: None,
            checkpoint_key: None,
            checkpoint_interval_secs: 3600,
            token_ttl_secs: 3600,
            log_format: LogFormat::Pretty,
            admin_password: None,
            db_max_connections: 16,
            db_acquire_timeout_ms: 3000,
            workers: None,
            public_rate_per_sec: 20,
            public_burst: 40,
            env: RunMode::Development,
            jwt_secret_file: None,
            id_hash_key_file: None,
            checkpoint_key_file: None,
            cors_origins: None,
            hsts_max_age_secs: 0,
            web_dir: None,
        }
    }
}

impl Config {
    /// Reads the configuration. The file is `RELIEF_CONFIG` if set, else `relief.toml` in the
    /// working directory if it exists.
    pub fn load() -> Result<Self, String> {
        let file = match std::env::var("RELIEF_CONFIG") {
            Ok(path) => {
                if !std::path::Path::new(&path).is_file() {
                    return Err(format!(
                        "configuration: RELIEF_CONFIG names {path}, which is not a file"
                    ));
                }
                path
            }
            Err(_) => "relief.toml".into(),
        };
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if std::path::Path::new(&file).is_file() {
            figment = figment.merge(Toml::file_exact(&file));
        }
        let mut config: Config = figment
            .merge(Env::prefixed("RELIEF_").ignore(&["config"]))
            .merge(Env::raw().only(&["database_url"]))
            .extract()
            .map_err(|e| format!("configuration: {e}"))?;
        config.read_secret_files()?;
        config.check()?;
        Ok(config)
    }

    /// Replaces each `*_FILE` setting by the secret its file holds.
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        let pairs = [
            (
                "RELIEF_JWT_SECRET",
                &mut self.jwt_secret,
                &self.jwt_secret_file,
            ),
            (
                "RELIEF_ID_HASH_KEY",
                &mut self.id_hash_key,
                &self.id_hash_key_file,
            ),
            (
                "RELIEF_CHECKPOINT_KEY",
                &mut self.checkpoint_key,
                &self.checkpoint_key_file,
            ),
        ];
        for (name, value, file) in pairs {
            if let Some(path) = file {
                if value.is_some() {
                    return Err(format!(
                        "configuration: set {name} or {name}_FILE, not both"
                    ));
                }
                *value = Some(read_secret_file(name, path)?);
            }
        }
        Ok(())
    }

    /// In production, every key must be configured (none is generated into the database, where
    /// whoever reads a backup would hold it) and strong; in development, anything
    /// [`Config::check`] accepts. Checked before the service starts.
    pub fn check_secrets(&self) -> Result<(), String> {
        if self.env != RunMode::Production {
            return Ok(());
        }
        for (name, value) in [
            ("RELIEF_JWT_SECRET", &self.jwt_secret),
            ("RELIEF_ID_HASH_KEY", &self.id_hash_key),
            ("RELIEF_CHECKPOINT_KEY", &self.checkpoint_key),
        ] {
            let value = value.as_deref().ok_or_else(|| {
                format!("configuration: RELIEF_ENV=production requires {name} or {name}_FILE")
            })?;
            if let Some(why) = weakness(value) {
                return Err(format!("configuration: {name} {why}"));
            }
        }
        Ok(())
    }

    /// The configured CORS origins (checked by [`Config::check`]).
    pub fn cors_origin_list(&self) -> Vec<String> {
        self.cors_origins
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn check(&self) -> Result<(), String> {
        if let Some(s) = &self.jwt_secret {
            if s.len() < 32 {
                return Err("configuration: RELIEF_JWT_SECRET must be at least 32 bytes".into());
            }
        }
        if self.id_hash_key.as_ref().is_some_and(|k| k.len() < 32) {
            return Err("configuration: RELIEF_ID_HASH_KEY must be at least 32 bytes".into());
        }
        if self
            .checkpoint_key
            .as_ref()
            .is_some_and(|k| k.len() != 64 || hex::decode(k).is_err())
        {
            return Err("configuration: RELIEF_CHECKPOINT_KEY must be 64 hex digits".into());
        }
        if !(60..=86_400).contains(&self.token_ttl_secs) {
            return Err("configuration: RELIEF_TOKEN_TTL_SECS must be between 60 and 86400".into());
        }
        for origin in self.cors_origin_list() {
            api::headers::check_origin(&origin)
                .map_err(|e| format!("configuration: RELIEF_CORS_ORIGINS: {e}"))?;
        }
        if self.public_rate_per_sec == 0 || self.public_burst == 0 {
            return Err(
                "configuration: RELIEF_PUBLIC_RATE_PER_SEC and RELIEF_PUBLIC_BURST must be at least 1"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Figment reads environment values as typed values (`123456789012` is a number, `[a]` a
/// list); text settings such as passwords accept any scalar as its text.
mod scalar {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Signed(i64),
        Unsigned(u64),
        Float(f64),
        Bool(bool),
    }

    impl Scalar {
        fn text(self) -> String {
            match self {
                Scalar::Text(s) => s,
                Scalar::Signed(n) => n.to_string(),
                Scalar::Unsigned(n) => n.to_string(),
                Scalar::Float(n) => n.to_string(),
                Scalar::Bool(b) => b.to_string(),
            }
        }
    }

    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Scalar::deserialize(d).map(Scalar::text)
    }

    pub fn optional_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Option::<Scalar>::deserialize(d).map(|o| o.map(Scalar::text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    #[test]
    fn numeric_and_list_like_secrets_stay_text() {
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(("admin_password", 123456789012u64))
            .merge(("jwt_secret", "[abc]"))
            .extract()
            .unwrap();
        assert_eq!(c.admin_password.as_deref(), Some("123456789012"));
        assert_eq!(c.jwt_secret.as_deref(), Some("[abc]"));
    }

    #[test]
    fn short_secrets_and_odd_lifetimes_are_refused() {
        let mut c = Config {
            jwt_secret: Some("short".into()),
            ..Config::default()
        };
        assert!(c.check().is_err());
        c.jwt_secret = None;
        c.token_ttl_secs = 5;
        assert!(c.check().is_err());
    }

    fn production() -> Config {
        Config {
            env: RunMode::Production,
            jwt_secret: Some("9f2c4e7a1b3d5f60a8c2e4f6b1d3a5c7e9f0b2d4".into()),
            id_hash_key: Some("0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c".into()),
            checkpoint_key: Some(
                "3f1e2d4c5b6a79880f1e2d3c4b5a69788f9e0d1c2b3a49586f7e8d9c0b1a2938".into(),
            ),
            ..Config::default()
        }
    }

    #[test]
    fn development_generates_what_is_missing() {
        assert!(Config::default().check_secrets().is_ok());
    }

    #[test]
    fn production_refuses_missing_or_weak_keys() {
        assert!(production().check_secrets().is_ok());
        for missing in 0..3 {
            let mut c = production();
            match missing {
                0 => c.jwt_secret = None,
                1 => c.id_hash_key = None,
                _ => c.checkpoint_key = None,
            }
            let e = c.check_secrets().unwrap_err();
            assert!(e.contains("requires"), "{e}");
        }
        for weak in [
            "short-but-random-7f3a",
            &"a".repeat(64),
            &"ab".repeat(32),
            "changeme-changeme-changeme-changeme-0123456789",
            "my-jwt-secret-that-is-long-enough-0123456789",
        ] {
            let c = Config {
                jwt_secret: Some(weak.to_owned()),
                ..production()
            };
            assert!(c.check_secrets().is_err(), "{weak}");
        }
        let c = Config {
            checkpoint_key: Some("0".repeat(64)),
            ..production()
        };
        assert!(c.check_secrets().is_err());
    }

    #[test]
    fn secrets_are_read_from_files() {
        let dir = std::env::temp_dir().join(format!("relief-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("jwt");
        std::fs::write(&file, "9f2c4e7a1b3d5f60a8c2e4f6b1d3a5c7e9f0b2d4\n").unwrap();
        let path = file.display().to_string();
        let mut c = Config {
            jwt_secret_file: Some(path.clone()),
            ..Config::default()
        };
        c.read_secret_files().unwrap();
        assert_eq!(
            c.jwt_secret.as_deref(),
            Some("9f2c4e7a1b3d5f60a8c2e4f6b1d3a5c7e9f0b2d4")
        );
        // The value and the file together are ambiguous.
        let mut both = Config {
            jwt_secret: Some("x".repeat(40)),
            jwt_secret_file: Some(path),
            ..Config::default()
        };
        assert!(both.read_secret_files().unwrap_err().contains("not both"));
        let mut missing = Config {
            id_hash_key_file: Some(dir.join("absent").display().to_string()),
            ..Config::default()
        };
        assert!(missing.read_secret_files().is_err());
        std::fs::write(dir.join("empty"), "\n").unwrap();
        let mut empty = Config {
            checkpoint_key_file: Some(dir.join("empty").display().to_string()),
            ..Config::default()
        };
        assert!(empty.read_secret_files().unwrap_err().contains("empty"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cors_origins_are_a_checked_list() {
        let c = Config {
            cors_origins: Some(" https://a.example.org, http://localhost:5173 ,".into()),
            ..Config::default()
        };
        assert_eq!(
            c.cors_origin_list(),
            ["https://a.example.org", "http://localhost:5173"]
        );
        assert!(c.check().is_ok());
        let c = Config {
            cors_origins: Some("*".into()),
            ..Config::default()
        };
        assert!(c.check().is_err());
        assert!(Config::default().cors_origin_list().is_empty());
    }
}
