//! The audit trail of the API: every write transaction ([`AppState::write`]) and every staff
//! read of personal data ([`AppState::log_read`]) records one event in the same
//! transaction, with who (user and role), when, the request id, the action (method and route
//! pattern) and what the handler notes about the entity it touched.
//!
//! [`AppState::write`]: crate::state::AppState::write
//! [`AppState::log_read`]: crate::state::AppState::log_read

use crate::auth::AuthUser;
use storage::audit::AuditEvent;
use storage::funds::FundRow;
use storage::{DbConnection, StoreError};

/// What a handler says about the entity its transaction touched.
#[derive(Debug, Default, Clone)]
pub struct Note {
    entity_type: Option<&'static str>,
    entity_id: Option<String>,
    fund_id: Option<String>,
    unit: Option<(i32, String)>,
    detail: Option<serde_json::Value>,
}

impl Note {
    /// The entity changed or read.
    pub fn entity(&mut self, kind: &'static str, id: &str) -> &mut Self {
        self.entity_type = Some(kind);
        self.entity_id = Some(id.to_owned());
        self
    }

    /// The fund the entity belongs to (also its unit, for scoping).
    pub fn fund(&mut self, fund: &FundRow) -> &mut Self {
        self.fund_id = Some(fund.id.clone());
        self.unit(fund.unit_edition, &fund.unit_path)
    }

    /// The fund the entity belongs to, by id: its unit is read when the event is written.
    pub fn fund_id(&mut self, fund_id: &str) -> &mut Self {
        self.fund_id = Some(fund_id.to_owned());
        self
    }

    /// The unit the entity belongs to, when there is no fund.
    pub fn unit(&mut self, edition: i32, path: &str) -> &mut Self {
        self.unit = Some((edition, path.to_owned()));
        self
    }

    /// A read of personal data: the entity kind and the ids read.
    pub fn read(kind: &'static str, ids: Vec<String>) -> Self {
        let mut note = Note {
            entity_type: Some(kind),
            ..Note::default()
        };
        if let [id] = ids.as_slice() {
            note.entity_id = Some(id.clone());
        }
        note.detail(serde_json::json!({ "read": ids }));
        note
    }

    /// Scoped to the caller's own unit (for reads of lists within it).
    pub fn scoped(mut self, user: &AuthUser) -> Self {
        if let Some(s) = &user.scope {
            self.unit(s.edition, &s.path);
        }
        self
    }

    /// What changed: the entity as written, or the fields read.
    pub fn detail(&mut self, detail: serde_json::Value) -> &mut Self {
        self.detail = Some(detail);
        self
    }
}

/// The ids a page of `limit` items shows (lists read one more row to know whether more follow).
pub fn page_ids(ids: impl Iterator<Item = String>, limit: i64) -> Vec<String> {
    ids.take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect()
}

/// Writes the event of `user`'s request in the current transaction.
pub fn record(conn: &mut DbConnection, user: &AuthUser, note: Note) -> Result<(), StoreError> {
    let e = event(conn, user, note)?;
    storage::audit::insert(conn, &e)
}

/// The event [`record`] writes, not yet written.
pub fn event(
    conn: &mut DbConnection,
    user: &AuthUser,
    note: Note,
) -> Result<AuditEvent, StoreError> {
    let unit = match (note.unit, &note.fund_id) {
        (Some(u), _) => Some(u),
        (None, Some(id)) => {
            let f = storage::funds::get(conn, id)?;
            Some((f.unit_edition, f.unit_path))
        }
        (None, None) => None,
    };
    let (unit_edition, unit_path) = unit.unzip();
    Ok(AuditEvent {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        occurred_at: storage::now_micros(),
        actor_id: user.id.clone(),
        actor_role: user.role.as_str().to_owned(),
        request_id: user.request.request_id.clone(),
        action: user.request.action.clone(),
        entity_type: note.entity_type.map(str::to_owned),
        entity_id: note.entity_id,
        fund_id: note.fund_id,
        unit_edition,
        unit_path,
        detail: note
            .detail
            .unwrap_or_else(|| serde_json::json!({}))
            .to_string(),
    })
}
