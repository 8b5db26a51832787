//! Allocations between funds (a province allocating to its communes, or upward), by decision and
//! round, with the same maker-checker rule as disbursements.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{decode_cursor, page_limit, Json, Page, Query};
use crate::routes::disbursements::{events_view, holds_view, ReasonBody, CHECKERS, MAKERS};
use crate::routes::funds::fund_in_scope;
use crate::routes::{effective_instant, rfc3339};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::money::{format_amount, parse_positive};
use domain::payouts::Action;
use std::collections::HashMap;
use storage::payouts::{Allocation, NewAllocation, Subject};
use storage::{DbConnection, StoreError};

fn view(a: &Allocation, scales: &HashMap<String, u32>) -> serde_json::Value {
    let r = &a.row;
    serde_json::json!({
        "id": r.id,
        "from_fund_id": r.from_fund_id,
        "to_fund_id": r.to_fund_id,
        "decision_ref": r.decision_ref,
        "round": r.round,
        "purpose": r.purpose,
        "status": r.status,
        "approvals_needed": r.approvals_needed,
        "approvals": a.events.iter().filter(|e| e.action == "approved").count(),
        "lines": a.lines.iter().map(|l| serde_json::json!({
            "asset": l.asset,
            "amount": format_amount(l.amount, scales.get(&l.asset).copied().unwrap_or(0)),
        })).collect::<Vec<_>>(),
        "total_vnd": r.total_vnd.to_string(),
        "draws": holds_view(&a.holds, scales),
        "executed_at": r.executed_at.map(rfc3339),
        "proposed_by": r.proposed_by,
        "proposed_at": rfc3339(r.proposed_at),
        "events": events_view(&a.events),
    })
}

fn view_in(c: &mut DbConnection, a: &Allocation) -> Result<serde_json::Value, StoreError> {
    Ok(view(a, &storage::assets::scales(c)?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    asset: String,
    amount: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAllocation {
    from_fund_id: String,
    to_fund_id: String,
    decision_ref: String,
    round: u32,
    purpose: String,
    lines: Vec<LineBody>,
}

/// `POST /v1/allocations` (fund manager or admin of the sending fund).
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: Json<CreateAllocation>,
) -> Result<HttpResponse, ApiError> {
    user.require(MAKERS)?;
    let key = crate::idempotency::key(&req, false)?;
    let fp = crate::idempotency::fingerprint(&req, &body.1);
    let b = body.0;
    let from = fund_in_scope(&state, &user, b.from_fund_id.clone()).await?;
    let to_id = b.to_fund_id.clone();
    let to = match state.read(move |c| storage::funds::get(c, &to_id)).await {
        Ok(f) => f,
        Err(ApiError::NotFound) => return Err(ApiError::field("to_fund_id", "no such fund")),
        Err(e) => return Err(e),
    };
    if to.id == from.id {
        return Err(ApiError::field(
            "to_fund_id",
            "a fund cannot allocate to itself",
        ));
    }
    if b.round == 0 || b.round > 1000 {
        return Err(ApiError::field("round", "must be from 1 to 1000"));
    }
    if b.lines.is_empty() || b.lines.len() > 50 {
        return Err(ApiError::field("lines", "must have 1 to 50 lines"));
    }
    let assets = state.read(storage::assets::list).await?;
    let mut lines = Vec::new();
    for (i, l) in b.lines.iter().enumerate() {
        let asset = assets.iter().find(|a| a.code == l.asset).ok_or_else(|| {
            ApiError::field(
                format!("lines[{i}].asset"),
                format!("unknown asset {}", l.asset),
            )
        })?;
        lines.push((
            asset.code.clone(),
            parse_positive(&format!("lines[{i}].amount"), &l.amount, asset.scale())?,
        ));
    }
    let new = NewAllocation {
        from_fund_id: from.id,
        to_fund_id: to.id,
        decision_ref: domain::text::required("decision_ref", &b.decision_ref, 200)?,
        round: i32::try_from(b.round).map_err(|_| ApiError::field("round", "is too large"))?,
        purpose: domain::text::required("purpose", &b.purpose, 500)?,
        lines,
        actor_id: user.id.clone(),
    };
    crate::idempotency::run(&state, &user, key, fp, move |c, note| {
        let a = storage::payouts::propose_allocation(c, &new)?;
        let v = view_in(c, &a)?;
        note.entity("allocation", &a.row.id)
            .fund_id(&a.row.from_fund_id)
            .detail(v.clone());
        Ok((StatusCode::CREATED, v))
    })
    .await
}

/// An allocation the caller may see: they see the sending or the receiving fund.
async fn in_scope(state: &AppState, user: &AuthUser, id: String) -> Result<Allocation, ApiError> {
    let a = state
        .read(move |c| storage::payouts::allocation(c, &id))
        .await?;
    if fund_in_scope(state, user, a.row.from_fund_id.clone())
        .await
        .is_err()
    {
        fund_in_scope(state, user, a.row.to_fund_id.clone()).await?;
    }
    Ok(a)
}

/// An allocation the caller acts on: they see the sending fund.
async fn sender_in_scope(
    state: &AppState,
    user: &AuthUser,
    id: String,
) -> Result<Allocation, ApiError> {
    let a = state
        .read(move |c| storage::payouts::allocation(c, &id))
        .await?;
    fund_in_scope(state, user, a.row.from_fund_id.clone()).await?;
    Ok(a)
}

/// `GET /v1/allocations/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let a = in_scope(&state, &user, path.into_inner()).await?;
    let v = state.read(move |c| view_in(c, &a)).await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    fund_id: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/allocations?fund_id=`: allocations sent or received by funds in scope.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let limit = page_limit(q.limit)?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let funds = match q.fund_id {
        Some(f) => Some(vec![fund_in_scope(&state, &user, f).await?.id]),
        None => match &user.scope {
            None => None,
            Some(s) => {
                let filter = storage::funds::FundFilter {
                    within: Some((s.edition, s.path.clone())),
                    edition: None,
                    after_id: None,
                    limit: 100_000,
                };
                Some(
                    state
                        .read(move |c| storage::funds::list(c, &filter))
                        .await?
                        .into_iter()
                        .map(|f| f.id)
                        .collect(),
                )
            }
        },
    };
    let rows = state
        .read(move |c| {
            let rows = storage::payouts::allocations_list(c, funds, after.as_deref(), limit)?;
            let scales = storage::assets::scales(c)?;
            Ok(rows
                .into_iter()
                .map(|a| (a.row.id.clone(), view(&a, &scales)))
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |(id, _)| id.clone(),
        |(_, v)| v,
    )))
}

/// `POST /v1/allocations/{id}/approve` (an approver covering the sending fund, not the proposer).
pub async fn approve(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(CHECKERS)?;
    let a = sender_in_scope(&state, &user, path.into_inner()).await?;
    let actor = user.id.clone();
    let v = state
        .write(&user, move |c, note| {
            let a = storage::payouts::approve_allocation(c, &a.row.id, &actor)?;
            let v = view_in(c, &a)?;
            note.entity("allocation", &a.row.id)
                .fund_id(&a.row.from_fund_id)
                .detail(v.clone());
            Ok(v)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

async fn end(
    state: &AppState,
    user: &AuthUser,
    id: String,
    action: Action,
    reason: String,
) -> Result<HttpResponse, ApiError> {
    let a = sender_in_scope(state, user, id).await?;
    let actor = user.id.clone();
    let v = state
        .write(user, move |c, note| {
            storage::payouts::reject_or_cancel(
                c,
                Subject::Allocation,
                &a.row.id,
                action,
                &actor,
                &reason,
            )?;
            let a = storage::payouts::allocation(c, &a.row.id)?;
            let v = view_in(c, &a)?;
            note.entity("allocation", &a.row.id)
                .fund_id(&a.row.from_fund_id)
                .detail(v.clone());
            Ok(v)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// `POST /v1/allocations/{id}/reject` (an approver).
pub async fn reject(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: Json<ReasonBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(CHECKERS)?;
    end(
        &state,
        &user,
        path.into_inner(),
        Action::Reject,
        body.0.reason.clone(),
    )
    .await
}

/// `POST /v1/allocations/{id}/cancel` (fund manager or admin of the sending fund).
pub async fn cancel(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: Json<ReasonBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(MAKERS)?;
    end(
        &state,
        &user,
        path.into_inner(),
        Action::Cancel,
        body.0.reason.clone(),
    )
    .await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecuteBody {
    executed_at: Option<String>,
}

/// `POST /v1/allocations/{id}/execute` (fund manager or admin of the sending fund): moves the
/// reserved money through the in-transit accounts into the receiving fund; both chains show it.
pub async fn execute(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<ExecuteBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(MAKERS)?;
    let key = crate::idempotency::key(&req, false)?;
    let fp = crate::idempotency::fingerprint(&req, &body.1);
    let a = sender_in_scope(&state, &user, path.into_inner()).await?;
    let at = effective_instant("executed_at", body.0.executed_at.as_deref())?;
    let actor = user.id.clone();
    crate::idempotency::run(&state, &user, key, fp, move |c, note| {
        let a = storage::payouts::execute_allocation(c, &a.row.id, &actor, at)?;
        let v = view_in(c, &a)?;
        note.entity("allocation", &a.row.id)
            .fund_id(&a.row.from_fund_id)
            .detail(v.clone());
        Ok((StatusCode::OK, v))
    })
    .await
}
