pub mod auth;
pub mod ops;
pub mod units;
pub mod users;

use serde::Serialize;

/// Formats microseconds since the epoch as RFC 3339 UTC with microseconds.
pub fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// A unit reference in responses: its edition and code.
#[derive(Debug, Clone, Serialize)]
pub struct UnitRef {
    pub edition: i32,
    pub code: String,
}
