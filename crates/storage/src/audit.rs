//! The audit log: who did what to which entity, written in the caller's transaction so that an
//! event exists exactly when its change does. Append-only (triggers refuse updates and deletes).

use crate::schema::audit_events;
use crate::{DbConnection, StoreError};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: String,
    pub occurred_at: i64,
    pub actor_id: String,
    pub actor_role: String,
    pub request_id: String,
    pub action: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub fund_id: Option<String>,
    pub unit_edition: Option<i32>,
    pub unit_path: Option<String>,
    pub detail: String,
}

pub fn insert(conn: &mut DbConnection, e: &AuditEvent) -> Result<(), StoreError> {
    diesel::insert_into(audit_events::table)
        .values(e)
        .execute(conn)?;
    Ok(())
}

/// What a reader may filter on. `scope` limits events to a unit subtree (edition, path prefix):
/// events with no unit (national data) are then left out.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub fund_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub scope: Option<(i32, String)>,
    /// Keyset cursor: events after (occurred_at, id).
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// Events in time order; `limit + 1` are read so that the caller knows whether more follow.
pub fn list(conn: &mut DbConnection, f: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
    let mut q = audit_events::table
        .select(AuditEvent::as_select())
        .order((audit_events::occurred_at.asc(), audit_events::id.asc()))
        .limit(f.limit + 1)
        .into_boxed();
    if let Some(v) = &f.actor_id {
        q = q.filter(audit_events::actor_id.eq(v.clone()));
    }
    if let Some(v) = &f.entity_type {
        q = q.filter(audit_events::entity_type.eq(v.clone()));
    }
    if let Some(v) = &f.entity_id {
        q = q.filter(audit_events::entity_id.eq(v.clone()));
    }
    if let Some(v) = &f.fund_id {
        q = q.filter(audit_events::fund_id.eq(v.clone()));
    }
    if let Some(v) = &f.action {
        q = q.filter(audit_events::action.eq(v.clone()));
    }
    if let Some(t) = f.from {
        q = q.filter(audit_events::occurred_at.ge(t));
    }
    if let Some(t) = f.to {
        q = q.filter(audit_events::occurred_at.lt(t));
    }
    if let Some((edition, path)) = &f.scope {
        q = q.filter(audit_events::unit_edition.eq(*edition)).filter(
            audit_events::unit_path
                .eq(path.clone())
                .or(audit_events::unit_path
                    .like(format!("{}/%", crate::units::like_escape(path)))
                    .escape('\\')),
        );
    }
    if let Some((t, id)) = &f.after {
        q = q.filter(
            audit_events::occurred_at
                .gt(*t)
                .or(audit_events::occurred_at
                    .eq(*t)
                    .and(audit_events::id.gt(id.clone()))),
        );
    }
    Ok(q.load(conn)?)
}
