//! Idempotency keys: a POST with an `Idempotency-Key` takes effect at most once. The key row is
//! inserted with its answer in the same transaction as the effect, so a concurrent request with
//! the same key waits on the unique index, fails, and its retry replays the stored answer. The
//! work runs in that transaction without a savepoint (two round trips fewer on PostgreSQL): a
//! refusal rolls the transaction back and is stored by a second one.

use crate::audit::AuditEvent;
use crate::schema::{audit_events, idempotency_keys};
use crate::{now_micros, DbConnection, StoreError};
use diesel::prelude::*;

/// A stored answer: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

/// What a request did: its status and JSON body, and the audit event of its change, which is
/// written with the key (one statement on PostgreSQL).
pub struct Done {
    pub status: u16,
    pub body: String,
    pub event: Option<AuditEvent>,
}

/// The effect of a request, or a refusal.
pub type Work<'a> = dyn FnMut(&mut DbConnection) -> Result<Done, StoreError> + 'a;

/// Runs `work` once per (user, key), in one transaction with the key. A replay with the same
/// fingerprint returns the stored answer; another fingerprint is refused. A deterministic
/// refusal (`reject` returns its answer) rolls back what the work wrote and is stored in a
/// second transaction, so that a rejected request stays rejected on retry; if a concurrent
/// request with the same key stored its answer in between, that answer is returned.
pub fn run(
    db: &crate::Db,
    user_id: &str,
    key: &str,
    fingerprint: &str,
    work: &mut Work<'_>,
    reject: &dyn Fn(&StoreError) -> Option<(u16, String)>,
) -> Result<Answer, StoreError> {
    let mut refused = None;
    let outcome = db.write(|c| {
        refused = None;
        if let Some(answer) = stored(c, user_id, key, fingerprint)? {
            return Ok(answer);
        }
        match work(c) {
            Ok(done) => store(c, user_id, key, fingerprint, done),
            Err(e) => {
                refused = reject(&e);
                Err(e)
            }
        }
    });
    match (outcome, refused) {
        (Err(_), Some((status, body))) => db.write(|c| {
            if let Some(answer) = stored(c, user_id, key, fingerprint)? {
                return Ok(answer);
            }
            let done = Done {
                status,
                body: body.clone(),
                event: None,
            };
            store(c, user_id, key, fingerprint, done)
        }),
        (outcome, _) => outcome,
    }
}

/// The answer stored under the key, if any; a stored key with another fingerprint is refused.
fn stored(
    conn: &mut DbConnection,
    user_id: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Option<Answer>, StoreError> {
    let stored: Option<(String, i32, String)> = idempotency_keys::table
        .find((user_id, key))
        .select((
            idempotency_keys::fingerprint,
            idempotency_keys::status,
            idempotency_keys::body,
        ))
        .first(conn)
        .optional()?;
    let Some((fp, status, body)) = stored else {
        return Ok(None);
    };
    if fp != fingerprint {
        return Err(StoreError::rule(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        ));
    }
    Ok(Some(Answer {
        status: u16::try_from(status).unwrap_or(500),
        body,
        replayed: true,
    }))
}

/// Stores the key with its answer, and the work's audit event, in one statement at the end
/// (not claimed first and updated): a concurrent holder of the same key makes this wait on the
/// unique index, then fail, and the retried transaction finds the stored answer.
fn store(
    conn: &mut DbConnection,
    user_id: &str,
    key: &str,
    fingerprint: &str,
    done: Done,
) -> Result<Answer, StoreError> {
    let row = diesel::insert_into(idempotency_keys::table).values((
        idempotency_keys::user_id.eq(user_id),
        idempotency_keys::key.eq(key),
        idempotency_keys::fingerprint.eq(fingerprint),
        idempotency_keys::status.eq(i32::from(done.status)),
        idempotency_keys::body.eq(&done.body),
        idempotency_keys::created_at.eq(now_micros()),
    ));
    match &done.event {
        Some(event) => crate::db::execute_together(
            conn,
            diesel::insert_into(audit_events::table).values(event),
            row,
            true,
        ),
        None => row.execute(conn).map(|_| ()),
    }
    .map_err(|e| crate::error::unique_as(e, || StoreError::Retry))?;
    Ok(Answer {
        status: done.status,
        body: done.body,
        replayed: false,
    })
}
