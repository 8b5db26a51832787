use domain::Invalid;

/// What can go wrong in storage. Each variant keeps its cause; nothing is turned into `None`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A value broke a rule of its own (a field-level validation error).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The request conflicts with the current state (a duplicate, an already resolved item).
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    /// The request is well formed but a business rule refuses it (an overdraft, a closed campaign).
    #[error("{code}: {message}")]
    Rule { code: &'static str, message: String },
    /// The database cannot be reached (pool exhausted or server down).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("{0}")]
    Internal(String),
    /// The transaction lost a race it can win by running again (see [`crate::Db::write`]).
    #[error("transaction must be retried")]
    Retry,
}

/// Maps a unique-index violation (a concurrent duplicate that passed the existence check) to the
/// same error the check gives; any other error is kept.
pub(crate) fn unique_as(e: diesel::result::Error, make: impl FnOnce() -> StoreError) -> StoreError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => make(),
        e => e.into(),
    }
}

impl StoreError {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn rule(code: &'static str, message: impl Into<String>) -> Self {
        Self::Rule {
            code,
            message: message.into(),
        }
    }

    /// Whether the transaction may succeed if simply run again (serialization failure, deadlock).
    pub fn is_retryable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            Self::Retry => true,
            Self::Db(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => true,
            Self::Db(Error::DatabaseError(_, info)) => info.message().contains("deadlock detected"),
            _ => false,
        }
    }

    /// Whether the error says the connection to the database is gone (the server stopped or
    /// the network dropped): libpq reports some of these only by their message.
    pub fn is_connection_lost(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        const LOST: &[&str] = &[
            "server closed the connection",
            "no connection to the server",
            "could not receive data from server",
            "could not send data to server",
            "connection to server",
            "terminating connection",
            "SSL SYSCALL error",
            "Broken pipe",
            "Connection reset",
            "Connection refused",
        ];
        match self {
            Self::Unavailable(_) | Self::Db(Error::BrokenTransactionManager) => true,
            Self::Db(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            )) => true,
            Self::Db(Error::DatabaseError(_, info)) => {
                LOST.iter().any(|m| info.message().contains(m))
            }
            _ => false,
        }
    }
}
