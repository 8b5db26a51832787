//! Bank statements: CSV import for one fund bank account, reconciliation against recorded
//! bank-transfer donations, and turning an unmatched bank line into a donation.

use crate::audit::Note;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{decode_cursor, page_limit, read_body, Json, Page, Query};
use crate::routes::donations::{donor_ref, earmark, view_in, EarmarkBody};
use crate::routes::donors::{check as check_donor, NewDonor};
use crate::routes::funds::fund_in_scope;
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::donations::{Channel, DonationStatus};
use domain::users::Role;
use storage::bank::{LineRow, StatementRow};
use storage::donations::{NewDonation, RawLine};

const STATEMENT_LIMIT: usize = 32 * 1024 * 1024;

fn statement_view(s: &StatementRow) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "fund_id": s.fund_id,
        "bank_account_id": s.bank_account_id,
        "lines_total": s.lines_total,
        "lines_new": s.lines_new,
        "first_date": s.first_date,
        "last_date": s.last_date,
        "imported_at": rfc3339(s.imported_at),
    })
}

fn line_view(l: &LineRow) -> serde_json::Value {
    serde_json::json!({
        "id": l.id,
        "line_no": l.line_no,
        "booked_on": l.booked_on,
        "amount_vnd": l.amount.to_string(),
        "reference": l.reference,
        "counterparty": l.counterparty,
        "message": l.message,
        "donation_id": l.donation_id,
    })
}

#[derive(serde::Deserialize)]
pub struct ImportQuery {
    bank_account_id: String,
}

/// `POST /v1/bank-statements?bank_account_id=` with a CSV body (admin or fund manager). A bad
/// line is a 422 naming it, and nothing is imported; lines already imported are skipped.
pub async fn import(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ImportQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let account = query.0.bank_account_id;
    let a = account.clone();
    let fund_id = match state
        .read(move |c| storage::donations::bank_account_fund(c, &a))
        .await
    {
        Ok(f) => f,
        Err(ApiError::NotFound) => return Err(ApiError::NotFound),
        Err(e) => return Err(e),
    };
    let fund = fund_in_scope(&state, &user, fund_id).await?;
    let body = read_body(&req, payload, STATEMENT_LIMIT).await?;
    let text = String::from_utf8(body)
        .map_err(|_| ApiError::field("body", "the statement is not UTF-8 text"))?;
    let lines = storage::bank::parse_statement(&text)
        .map_err(|e| ApiError::field(format!("line {}", e.line), e.reason))?;
    let actor = user.id.clone();
    let s = state
        .write(&user, move |c, note| {
            let s = storage::bank::import(c, &fund.id, &account, &lines, &actor)?;
            note.entity("bank_statement", &s.id)
                .fund(&fund)
                .detail(statement_view(&s));
            Ok(s)
        })
        .await?;
    tracing::info!(statement.id = %s.id, lines.new = s.lines_new, "bank statement imported");
    Ok(HttpResponse::Created().json(statement_view(&s)))
}

async fn statement_in_scope(
    state: &AppState,
    user: &AuthUser,
    id: String,
) -> Result<StatementRow, ApiError> {
    let s = state.read(move |c| storage::bank::get(c, &id)).await?;
    fund_in_scope(state, user, s.fund_id.clone()).await?;
    Ok(s)
}

/// `GET /v1/bank-statements/{id}/reconciliation`.
pub async fn reconciliation(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = statement_in_scope(&state, &user, path.into_inner()).await?;
    // Bank lines name the payers.
    let mut note = Note::read("bank_statement", vec![s.id.clone()]);
    note.fund_id(&s.fund_id);
    state.log_read(&user, note).await?;
    let r = state
        .read(move |c| storage::bank::reconcile(c, &s.id))
        .await?;
    let donation = |d: &storage::donations::DonationRow| {
        serde_json::json!({
            "donation_id": d.id,
            "receipt_no": d.receipt_no,
            "bank_ref": d.bank_ref,
            "total_vnd": d.total_vnd.to_string(),
            "received_at": rfc3339(d.received_at),
        })
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "statement": statement_view(&r.statement),
        "summary": {
            "matched": r.matched.len(),
            "unmatched_in_bank": r.unmatched_in_bank.len(),
            "unmatched_in_ledger": r.unmatched_in_ledger.len(),
            "debit_lines": r.debits,
        },
        "matched": r.matched.iter().map(|(l, d, by)| serde_json::json!({
            "line": line_view(l), "donation": donation(d), "matched_by": by,
        })).collect::<Vec<_>>(),
        "unmatched_in_bank": r.unmatched_in_bank.iter().map(line_view).collect::<Vec<_>>(),
        "unmatched_in_ledger": r.unmatched_in_ledger.iter().map(donation).collect::<Vec<_>>(),
    })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineDonation {
    campaign_id: Option<String>,
    donor_id: Option<String>,
    donor: Option<NewDonor>,
    earmark: Option<EarmarkBody>,
    note: Option<String>,
}

/// `POST /v1/bank-statements/{id}/lines/{line_id}/donation`: records a received bank transfer
/// from an unmatched credit line, at most once per line.
pub async fn line_donation(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: Json<LineDonation>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let key = crate::idempotency::key(&req, false)?;
    let fp = crate::idempotency::fingerprint(&req, &body.1);
    let (statement_id, line_id) = path.into_inner();
    let s = statement_in_scope(&state, &user, statement_id).await?;
    let lid = line_id.clone();
    let line = state.read(move |c| storage::bank::line(c, &lid)).await?;
    if line.statement_id != s.id {
        return Err(ApiError::NotFound);
    }
    if line.amount <= 0 {
        return Err(ApiError::Rule {
            code: "not_a_credit",
            detail: "only a credit line can become a donation".into(),
        });
    }
    let b = body.0;
    if b.donor.is_some() && b.donor_id.is_some() {
        return Err(ApiError::field("donor", "give donor_id or donor, not both"));
    }
    let new_donor = b
        .donor
        .as_ref()
        .map(|d| check_donor(&user, d, "donor."))
        .transpose()?;
    let donor_id = match &new_donor {
        Some(d) => Some(d.id.clone()),
        None => donor_ref(&state, &user, &b.donor_id).await?,
    };
    let campaign_id = b
        .campaign_id
        .as_deref()
        .map(|c| uuid::Uuid::parse_str(c).map(|u| u.hyphenated().to_string()))
        .transpose()
        .map_err(|_| ApiError::field("campaign_id", "must be an id (UUID)"))?;
    let booked = chrono::NaiveDate::parse_from_str(&line.booked_on, "%Y-%m-%d")
        .ok()
        .and_then(domain::donations::vn_midnight)
        .ok_or_else(|| ApiError::Internal("stored booking date".into()))?;
    let new = NewDonation {
        fund_id: s.fund_id.clone(),
        campaign_id,
        donor_id,
        status: DonationStatus::Received,
        channel: Channel::BankTransfer,
        bank_account_id: Some(s.bank_account_id.clone()),
        bank_ref: Some(
            line.reference
                .clone()
                .unwrap_or_else(|| line.line_key.clone()),
        ),
        received_at: booked,
        lines: vec![RawLine {
            asset: "VND".into(),
            amount: line.amount.to_string(),
            value_vnd: None,
            description: line.message.clone(),
        }],
        earmark: earmark(&state, &user, b.earmark).await?,
        fulfills_pledge_id: None,
        note: b.note,
        actor_id: user.id.clone(),
    };
    crate::idempotency::run(&state, &user, key, fp, move |c, note| {
        // Checked again inside the transaction: another request may have recorded it meanwhile.
        if storage::bank::line(c, &line_id)?.donation_id.is_some() {
            return Err(storage::StoreError::conflict(
                "line_already_recorded",
                "a donation was already made from this line",
            ));
        }
        if let Some(d) = &new_donor {
            storage::donors::insert(c, d)?;
        }
        let assets = storage::assets::list(c)?;
        let d = storage::donations::record(c, &new, &assets)?;
        storage::bank::link_donation(c, &line_id, &d.row.id)?;
        let v = view_in(c, &d)?;
        note.entity("donation", &d.row.id)
            .fund_id(&d.row.fund_id)
            .detail(v.clone());
        Ok((StatusCode::CREATED, v))
    })
    .await
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    fund_id: String,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/bank-statements?fund_id=`: the statements imported for a fund in the caller's scope,
/// newest first. They hold no personal data (the lines do, and are read through the
/// reconciliation, which is logged).
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let limit = page_limit(q.limit)?;
    let before = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let fund = fund_in_scope(&state, &user, q.fund_id).await?;
    let rows = state
        .read(move |c| storage::bank::list(c, &fund.id, before.as_deref(), limit))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |s| s.id.clone(),
        |s| statement_view(&s),
    )))
}
