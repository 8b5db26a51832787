//! A fund's ledger: entries with postings and hashes, chain verification, and reversal of
//! opening balances. Business records (donations, disbursements) are reversed through their own
//! resources, so that their state and the ledger never disagree.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{encode_cursor, page_limit, seq_cursor, Json, Query};
use crate::routes::funds::fund_in_scope;
use crate::routes::{query_instant, rfc3339};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use domain::money::format_amount;
use domain::users::Role;
use std::collections::HashMap;
use storage::ledger::{EntryFilter, PostedEntry};

#[derive(serde::Serialize)]
pub struct PostingView {
    idx: i32,
    account_id: String,
    account_kind: String,
    /// The earmark of the account ('' for unrestricted money); part of the hash.
    designation: String,
    asset: String,
    amount: String,
    amount_minor: i64,
}

#[derive(serde::Serialize)]
pub struct EntryView {
    id: String,
    fund_id: String,
    seq: i64,
    kind: String,
    reason: String,
    actor_id: String,
    ref_type: Option<String>,
    ref_id: Option<String>,
    reverses_entry_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reversed_by_entry_id: Option<String>,
    effective_at: String,
    effective_at_micros: i64,
    recorded_at: String,
    recorded_at_micros: i64,
    prev_hash: String,
    hash: String,
    postings: Vec<PostingView>,
}

impl EntryView {
    pub fn new(p: PostedEntry, scales: &HashMap<String, u32>, reversed_by: Option<String>) -> Self {
        let e = p.entry;
        Self {
            postings: p
                .postings
                .into_iter()
                .map(|x| PostingView {
                    idx: x.idx,
                    amount: format_amount(x.amount, scales.get(&x.asset).copied().unwrap_or(0)),
                    amount_minor: x.amount,
                    account_id: x.account_id,
                    account_kind: x.account_kind,
                    designation: x.designation,
                    asset: x.asset,
                })
                .collect(),
            id: e.id,
            fund_id: e.fund_id,
            seq: e.seq,
            kind: e.kind,
            reason: e.reason,
            actor_id: e.actor_id,
            ref_type: e.ref_type,
            ref_id: e.ref_id,
            reverses_entry_id: e.reverses_entry_id,
            reversed_by_entry_id: reversed_by,
            effective_at: rfc3339(e.effective_at),
            effective_at_micros: e.effective_at,
            recorded_at: rfc3339(e.recorded_at),
            recorded_at_micros: e.recorded_at,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

#[derive(serde::Deserialize)]
pub struct LedgerQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/funds/{id}/ledger?from=&to=`: entries in chain order; `from` inclusive and `to`
/// exclusive, on `effective_at`.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: Query<LedgerQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let from = query_instant("from", q.from.as_deref())?;
    let to = query_instant("to", q.to.as_deref())?;
    let limit = page_limit(q.limit)?;
    let after_seq = seq_cursor(q.cursor.as_deref())?;
    let fund = fund_in_scope(&state, &user, path.into_inner()).await?;
    let filter = EntryFilter {
        from,
        to,
        after_seq,
        limit,
    };
    let (mut rows, scales, mut reversals) = state
        .read(move |c| {
            let rows = storage::ledger::entries_page(c, &fund.id, &filter)?;
            let ids: Vec<String> = rows.iter().map(|e| e.entry.id.clone()).collect();
            let reversals = storage::ledger::reversals_of(c, &ids)?;
            Ok((rows, storage::assets::scales(c)?, reversals))
        })
        .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = if more {
        rows.last().map(|e| encode_cursor(&e.entry.seq.to_string()))
    } else {
        None
    };
    let items: Vec<EntryView> = rows
        .into_iter()
        .map(|p| {
            let by = reversals.remove(&p.entry.id);
            EntryView::new(p, &scales, by)
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items, "next_cursor": next_cursor })))
}

/// `GET /v1/funds/{id}/ledger/verify`: recomputes the fund's hash chain and balances.
pub async fn verify(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let fund = fund_in_scope(&state, &user, path.into_inner()).await?;
    let db = state.db.clone();
    let report = web::block(move || storage::ledger::verify(&db, &fund.id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    if !report.ok {
        tracing::warn!(fund.id = %report.fund_id, ledger.first_bad_seq = ?report.first_bad_seq, "ledger verification failed");
    }
    Ok(HttpResponse::Ok().json(report))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseBody {
    reason: String,
}

/// `POST /v1/funds/{id}/ledger/{entry_id}/reverse` (admin): reverses an opening balance entered
/// wrongly, at most once.
pub async fn reverse(
    state: web::Data<AppState>,
    user: AuthUser,
    req: actix_web::HttpRequest,
    path: web::Path<(String, String)>,
    body: Json<ReverseBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let key = crate::idempotency::key(&req, false)?;
    let fp = crate::idempotency::fingerprint(&req, &body.1);
    let (fund_id, entry_id) = path.into_inner();
    let fund = fund_in_scope(&state, &user, fund_id).await?;
    let reason = domain::text::required("reason", &body.0.reason, 1000)?;
    let actor = user.id.clone();
    crate::idempotency::run(&state, &user, key, fp, move |c, note| {
            let original = storage::ledger::entry(c, &entry_id)?;
            if original.entry.fund_id != fund.id {
                return Err(storage::StoreError::NotFound);
            }
            if original.entry.kind != domain::ledger::EntryKind::OpeningBalance.as_str()
                && original.entry.kind != domain::ledger::EntryKind::Reversal.as_str()
            {
                return Err(storage::StoreError::rule(
                    "reverse_through_record",
                    "this entry belongs to a business record; reverse it through that record",
                ));
            }
            let posted = storage::ledger::reverse(c, &entry_id, &reason, &actor)?;
            tracing::info!(fund.id = %posted.entry.fund_id, entry.seq = posted.entry.seq, "entry reversed");
            let entry_id = posted.entry.id.clone();
            let view = serde_json::to_value(EntryView::new(posted, &storage::assets::scales(c)?, None))
                .map_err(|e| storage::StoreError::Internal(e.to_string()))?;
            note.entity("entry", &entry_id).fund(&fund).detail(view.clone());
            Ok((actix_web::http::StatusCode::CREATED, view))
        })
        .await
}
