//! Appeals: receiving periods, extensions by decision, closing.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::routes::funds::fund_in_scope;
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::donations::{parse_date, vn_date};
use domain::users::Role;
use storage::campaigns::{CampaignRow, ExtensionRow};

/// Decree 93/2021: distribution ends within 20 days after receiving closes.
const DISTRIBUTION_DAYS: i64 = 20;

pub fn view(c: CampaignRow, extensions: Vec<ExtensionRow>) -> serde_json::Value {
    let today = vn_date(storage::now_micros())
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let status = if c.closed_at.is_some() || today > c.closes_on {
        "closed"
    } else if today < c.opens_on {
        "scheduled"
    } else {
        "open"
    };
    // Receiving ends on the closing date, or earlier when the campaign was closed early.
    let receiving_ended = parse_date("closes_on", &c.closes_on).ok().map(|d| {
        c.closed_at
            .and_then(vn_date)
            .map_or(d, |closed| closed.min(d))
    });
    let distribution_deadline =
        receiving_ended.map(|d| (d + chrono::Duration::days(DISTRIBUTION_DAYS)).to_string());
    serde_json::json!({
        "id": c.id,
        "fund_id": c.fund_id,
        "name": c.name,
        "appeal_ref": c.appeal_ref,
        "opens_on": c.opens_on,
        "closes_on": c.closes_on,
        "status": status,
        "distribution_deadline": distribution_deadline,
        "incident_id": c.incident_id,
        "bank_account_id": c.bank_account_id,
        "closed_at": c.closed_at.map(rfc3339),
        "extensions": extensions.into_iter().map(|e| serde_json::json!({
            "previous_closes_on": e.previous_closes_on,
            "closes_on": e.closes_on,
            "decision_ref": e.decision_ref,
            "at": rfc3339(e.created_at),
            "by": e.created_by,
        })).collect::<Vec<_>>(),
        "created_at": rfc3339(c.created_at),
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    fund_id: String,
    name: String,
    appeal_ref: String,
    opens_on: String,
    closes_on: String,
    incident_id: Option<String>,
    bank_account_id: Option<String>,
}

/// `POST /v1/campaigns` (admin or fund manager of the fund).
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: Json<CreateCampaign>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let key = crate::idempotency::key(&req, false)?;
    let fp = crate::idempotency::fingerprint(&req, &body.1);
    let b = body.0;
    let fund = fund_in_scope(&state, &user, b.fund_id.clone()).await?;
    let incident_id =
        crate::routes::donations::incident_ref(&state, &user, "incident_id", &b.incident_id)
            .await?;
    let row = CampaignRow {
        id: domain::ids::EntryId::new().to_string(),
        fund_id: fund.id,
        name: domain::text::required("name", &b.name, 300)?,
        appeal_ref: domain::text::required("appeal_ref", &b.appeal_ref, 200)?,
        opens_on: parse_date("opens_on", &b.opens_on)?.to_string(),
        closes_on: parse_date("closes_on", &b.closes_on)?.to_string(),
        incident_id,
        bank_account_id: b.bank_account_id,
        closed_at: None,
        closed_by: None,
        created_at: storage::now_micros(),
        created_by: user.id.clone(),
    };
    crate::idempotency::run(&state, &user, key, fp, move |c, note| {
        storage::campaigns::insert(c, &row)?;
        let saved = storage::campaigns::get(c, &row.id)?;
        let v = view(saved, Vec::new());
        note.entity("campaign", &row.id)
            .fund_id(&row.fund_id)
            .detail(v.clone());
        Ok((StatusCode::CREATED, v))
    })
    .await
}

/// Loads a campaign whose fund the caller may see, or 404.
async fn campaign_in_scope(
    state: &AppState,
    user: &AuthUser,
    id: String,
) -> Result<CampaignRow, ApiError> {
    let c = state.read(move |c| storage::campaigns::get(c, &id)).await?;
    fund_in_scope(state, user, c.fund_id.clone()).await?;
    Ok(c)
}

/// `GET /v1/campaigns/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = campaign_in_scope(&state, &user, path.into_inner()).await?;
    let id = c.id.clone();
    let ext = state
        .read(move |conn| storage::campaigns::extensions(conn, &id))
        .await?;
    Ok(HttpResponse::Ok().json(view(c, ext)))
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    fund_id: String,
}

/// `GET /v1/campaigns?fund_id=`: a fund's campaigns.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let fund = fund_in_scope(&state, &user, query.0.fund_id).await?;
    let rows = state
        .read(move |c| {
            let mut out = Vec::new();
            for row in storage::campaigns::list_for_fund(c, &fund.id)? {
                let ext = storage::campaigns::extensions(c, &row.id)?;
                out.push(view(row, ext));
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": rows, "next_cursor": null })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extend {
    closes_on: String,
    decision_ref: String,
}

/// `POST /v1/campaigns/{id}/extend`: a later closing date, by a recorded decision.
pub async fn extend(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: Json<Extend>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let c = campaign_in_scope(&state, &user, path.into_inner()).await?;
    let b = body.0;
    let closes_on = parse_date("closes_on", &b.closes_on)?.to_string();
    let actor = user.id.clone();
    let v = state
        .write(&user, move |conn, note| {
            let row = storage::campaigns::extend(conn, &c.id, &closes_on, &b.decision_ref, &actor)?;
            let ext = storage::campaigns::extensions(conn, &row.id)?;
            note.entity("campaign", &row.id).fund_id(&row.fund_id);
            let v = view(row, ext);
            note.detail(v.clone());
            Ok(v)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// `POST /v1/campaigns/{id}/close`: no more receipts.
pub async fn close(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let c = campaign_in_scope(&state, &user, path.into_inner()).await?;
    let actor = user.id.clone();
    let v = state
        .write(&user, move |conn, note| {
            let row = storage::campaigns::close(conn, &c.id, &actor)?;
            let ext = storage::campaigns::extensions(conn, &row.id)?;
            note.entity("campaign", &row.id).fund_id(&row.fund_id);
            let v = view(row, ext);
            note.detail(v.clone());
            Ok(v)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}
