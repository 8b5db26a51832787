//! Idempotency keys: a POST with an `Idempotency-Key` takes effect at most once. The key row is
//! inserted with its answer in the same transaction as the effect, so a concurrent request with
//! the same key waits on the unique index, fails, and its retry replays the stored answer.

use crate::schema::idempotency_keys;
use crate::{now_micros, DbConnection, StoreError};
use diesel::prelude::*;

/// A stored answer: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

/// The effect of a request: a status and a JSON body, or a refusal.
pub type Work<'a> = dyn FnMut(&mut DbConnection) -> Result<(u16, String), StoreError> + 'a;

/// Runs `work` once per (user, key). A replay with the same fingerprint returns the stored
/// answer; another fingerprint is refused. A deterministic refusal (`reject` returns its answer)
/// is stored too, so that a rejected request stays rejected on retry. Call inside
/// [`crate::Db::write`].
pub fn run(
    conn: &mut DbConnection,
    user_id: &str,
    key: &str,
    fingerprint: &str,
    work: &mut Work<'_>,
    reject: &dyn Fn(&StoreError) -> Option<(u16, String)>,
) -> Result<Answer, StoreError> {
    let stored: Option<(String, i32, String)> = idempotency_keys::table
        .find((user_id, key))
        .select((
            idempotency_keys::fingerprint,
            idempotency_keys::status,
            idempotency_keys::body,
        ))
        .first(conn)
        .optional()?;
    if let Some((fp, status, body)) = stored {
        if fp != fingerprint {
            return Err(StoreError::rule(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            ));
        }
        return Ok(Answer {
            status: u16::try_from(status).unwrap_or(500),
            body,
            replayed: true,
        });
    }
    let outcome = conn.transaction(|c| work(c));
    let (status, body) = match outcome {
        Ok(answer) => answer,
        Err(e) => match reject(&e) {
            Some(answer) => answer,
            None => return Err(e),
        },
    };
    // The key is stored with its answer, in one statement at the end (not claimed first and
    // updated): a concurrent holder of the same key makes this wait on the unique index, then
    // fail, and the retried transaction finds the stored answer above.
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::user_id.eq(user_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::fingerprint.eq(fingerprint),
            idempotency_keys::status.eq(i32::from(status)),
            idempotency_keys::body.eq(&body),
            idempotency_keys::created_at.eq(now_micros()),
        ))
        .execute(conn)
        .map_err(|e| crate::error::unique_as(e, || StoreError::Retry))?;
    Ok(Answer {
        status,
        body,
        replayed: false,
    })
}
