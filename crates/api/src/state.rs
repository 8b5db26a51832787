use crate::auth::{Keys, LoginThrottle};
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
    /// The per-address rate limit of the public routes.
    pub public_limit: crate::ratelimit::RateLimiter,
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

    /// Runs one write transaction off the async workers (see [`Db::write`]).
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnMut(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        let span = tracing::Span::current();
        web::block(move || span.in_scope(|| db.write(f)))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(ApiError::from)
    }
}
