pub mod allocations;
pub mod assessments;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod bank;
pub mod campaigns;
pub mod disbursements;
pub mod donations;
pub mod donors;
pub mod export;
pub mod funds;
pub mod households;
pub mod incidents;
pub mod ledger;
pub mod ops;
pub mod policies;
pub mod public;
pub mod reports;
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

/// Parses an instant given as RFC 3339 (`2026-09-08T10:00:00+07:00`) or a calendar date
/// (`2026-09-08`, midnight UTC) into microseconds since the epoch.
pub fn parse_instant(field: &str, s: &str) -> Result<i64, domain::Invalid> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_micros());
        }
    }
    Err(domain::Invalid::new(
        field,
        "must be an RFC 3339 instant such as 2026-09-08T10:00:00+07:00 or a date such as 2026-09-08",
    ))
}

/// The unit named by `?unit=&edition=` query parameters (edition 2025 by default); a bad or
/// unknown one is a 400 naming the parameter.
pub async fn query_unit(
    state: &crate::state::AppState,
    code: &str,
    edition: Option<i64>,
) -> Result<storage::units::UnitRow, crate::error::ApiError> {
    use crate::error::ApiError;
    let edition = domain::units::Edition::parse(edition.unwrap_or(2025))
        .map_err(|e| ApiError::query("edition", e.message))?;
    let code = domain::units::UnitCode::parse("unit", code)
        .map_err(|e| ApiError::query("unit", e.message))?;
    match state
        .read(move |c| storage::units::get(c, edition, code.as_str()))
        .await
    {
        Ok(u) => Ok(u),
        Err(ApiError::NotFound) => Err(ApiError::query("unit", "no such unit")),
        Err(e) => Err(e),
    }
}

/// A query parameter instant; a bad one is a 400 naming the parameter.
pub fn query_instant(field: &str, s: Option<&str>) -> Result<Option<i64>, crate::error::ApiError> {
    s.map(|s| {
        parse_instant(field, s).map_err(|e| {
            crate::error::ApiError::bad_request(
                "invalid_query",
                format!("query parameter {field}: {}", e.message),
            )
        })
    })
    .transpose()
}

/// An `effective_at` given by a user: it may be back-dated but not in the future (five minutes
/// of clock skew allowed).
pub fn effective_instant(field: &str, s: Option<&str>) -> Result<i64, domain::Invalid> {
    let now = storage::now_micros();
    match s {
        None => Ok(now),
        Some(s) => {
            let t = parse_instant(field, s)?;
            if t > now + 300_000_000 {
                return Err(domain::Invalid::new(field, "must not be in the future"));
            }
            Ok(t)
        }
    }
}
