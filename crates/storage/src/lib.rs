//! Storage: the diesel schema, rows and repositories over one `MultiConnection` that speaks
//! PostgreSQL or SQLite. Every write runs in one transaction through [`Db::write`].

pub mod assets;
pub mod audit;
pub mod bank;
pub mod campaigns;
pub mod checkpoints;
mod db;
pub mod donations;
pub mod donors;
mod error;
pub mod export;
pub mod funds;
pub mod idempotency;
pub mod ledger;
pub mod payouts;
pub mod public;
pub mod relief;
pub mod reports;
pub mod schema;
pub mod settings;
pub mod units;
pub mod users;

pub use db::{now_micros, Backend, Db, DbConnection, DbOptions};
pub use error::StoreError;

/// A new time-ordered (UUIDv7) id for a row whose entity has no newtype of its own.
pub(crate) fn new_row_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// Runs `$body` with `$c` bound to the inner connection of either backend, for the few operations
/// that `MultiConnection` does not offer (row locks, batch inserts, migrations).
#[macro_export]
macro_rules! with_inner {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::DbConnection::Pg($c) => $body,
            $crate::DbConnection::Sqlite($c) => $body,
        }
    };
}
