use crate::audit::{self, Note};
use crate::auth::{AuthUser, Keys, LoginThrottle};
use crate::error::ApiError;
use actix_web::web;
use storage::{Db, DbConnection, StoreError};

/// Everything a handler needs, shared by all workers.
pub struct AppState {
    pub db: Db,
    /// The HMAC key of national-ID hashes.
    pub id_key: Vec<u8>,
    pub keys: Keys,
    pub token_ttl_secs: u64,
    pub throttle: LoginThrottle,
    /// Signs checkpoints of the chain heads.
    pub checkpoint_key: std::sync::Arc<domain::checkpoint::CheckpointKey>,
    /// The per-address rate limit of the public routes.
    pub public_limit: crate::ratelimit::RateLimiter,
    /// CORS origins and HSTS, for the security headers (`headers.rs`).
    pub web: crate::headers::WebSettings,
    /// Every asset, read once and again only when a request names one it does not hold.
    pub assets: std::sync::Arc<storage::assets::Cache>,
}

impl AppState {
    /// Runs read-only database work off the async workers.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        // The request's span follows the work onto the blocking thread, so its log lines carry
        // the request id.
        let span = tracing::Span::current();
        web::block(move || span.in_scope(|| db.read(f)))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(ApiError::from)
    }

    /// Runs one write transaction off the async workers (see [`Db::write`]) and records its
    /// audit event in the same transaction, with what `f` notes about the entity it changed.
    pub async fn write<T: Send + 'static>(
        &self,
        user: &AuthUser,
        mut f: impl FnMut(&mut DbConnection, &mut Note) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let user = user.clone();
        self.with_db(move |db| {
            db.write(|c| {
                let mut note = Note::default();
                let out = f(c, &mut note)?;
                audit::record(c, &user, note)?;
                Ok(out)
            })
        })
        .await
    }

    /// Records that `user` read the personal data that `note` names; the caller answers only
    /// once this is written.
    pub async fn log_read(&self, user: &AuthUser, note: Note) -> Result<(), ApiError> {
        self.write(user, move |_, n| {
            *n = note.clone();
            Ok(())
        })
        .await
    }

    /// Runs `f` with the database off the async workers, for work that runs its own
    /// transactions (such as [`storage::idempotency::run`]).
    pub async fn with_db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        let span = tracing::Span::current();
        web::block(move || span.in_scope(|| f(&db)))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(ApiError::from)
    }
}
