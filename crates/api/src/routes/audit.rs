//! `GET /v1/audit-events`: the audit trail, read-only, for admins and auditors within their
//! scope (a scoped reader sees the events of units in it, never national ones).

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{decode_cursor, page_limit, Page, Query};
use crate::routes::{query_instant, rfc3339};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use domain::users::Role;
use storage::audit::{AuditEvent, AuditFilter};

#[derive(serde::Deserialize)]
pub struct ListQuery {
    actor_id: Option<String>,
    entity_type: Option<String>,
    entity_id: Option<String>,
    fund_id: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn view(e: AuditEvent) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "occurred_at": rfc3339(e.occurred_at),
        "actor": {"id": e.actor_id, "role": e.actor_role},
        "request_id": e.request_id,
        "action": e.action,
        "entity": e.entity_type.map(|t| serde_json::json!({"type": t, "id": e.entity_id})),
        "fund_id": e.fund_id,
        "unit": e.unit_path.map(|p| serde_json::json!({"edition": e.unit_edition, "path": p})),
        "detail": serde_json::from_str::<serde_json::Value>(&e.detail).unwrap_or_default(),
    })
}

/// `GET /v1/audit-events?actor_id=&entity_type=&entity_id=&fund_id=&action=&from=&to=`.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::Auditor])?;
    let q = query.0;
    let limit = page_limit(q.limit)?;
    let after = match q.cursor.as_deref().map(decode_cursor).transpose()? {
        None => None,
        Some(c) => {
            let bad = || {
                ApiError::bad_request(
                    "invalid_cursor",
                    "query parameter cursor: not a cursor this service issued",
                )
            };
            let (t, id) = c.split_once('|').ok_or_else(bad)?;
            Some((t.parse::<i64>().map_err(|_| bad())?, id.to_owned()))
        }
    };
    let filter = AuditFilter {
        actor_id: q.actor_id,
        entity_type: q.entity_type,
        entity_id: q.entity_id,
        fund_id: q.fund_id,
        action: q.action,
        from: query_instant("from", q.from.as_deref())?,
        to: query_instant("to", q.to.as_deref())?,
        scope: user.scope.as_ref().map(|s| (s.edition, s.path.clone())),
        after,
        limit,
    };
    let rows = state
        .read(move |c| storage::audit::list(c, &filter))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |e| format!("{}|{}", e.occurred_at, e.id),
        view,
    )))
}
