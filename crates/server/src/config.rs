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
        let config: Config = figment
            .merge(Env::prefixed("RELIEF_").ignore(&["config"]))
            .merge(Env::raw().only(&["database_url"]))
            .extract()
            .map_err(|e| format!("configuration: {e}"))?;
        config.check()?;
        Ok(config)
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
}
