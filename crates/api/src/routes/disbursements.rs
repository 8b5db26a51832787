//! Disbursements to households, with maker-checker approval.

use crate::audit::{page_ids, Note};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{decode_cursor, page_limit, Json, Page, Query};
use crate::routes::assessments::entitlement_views;
use crate::routes::funds::fund_in_scope;
use crate::routes::households::household_in_scope;
use crate::routes::incidents::incident_in_scope;
use crate::routes::{effective_instant, rfc3339};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::money::{format_amount, parse_positive};
use domain::payouts::{Action, DisbursementStatus, PayMethod, SpendCategory, Target};
use domain::users::Role;
use std::collections::HashMap;
use storage::payouts::{
    Disbursement, DisbursementFilter, EventRow, HoldRow, NewDisbursement, Payment, Subject,
};
use storage::{DbConnection, StoreError};

/// Who proposes, cancels and pays.
pub const MAKERS: &[Role] = &[Role::Admin, Role::FundManager];
/// Who approves and rejects.
pub const CHECKERS: &[Role] = &[Role::Approver];

pub fn events_view(events: &[EventRow]) -> Vec<serde_json::Value> {
    events
        .iter()
        .map(|e| serde_json::json!({"action": e.action, "actor_id": e.actor_id, "at": rfc3339(e.at), "note": e.note}))
        .collect()
}

pub fn holds_view(
    holds: &[(HoldRow, String)],
    scales: &HashMap<String, u32>,
) -> Vec<serde_json::Value> {
    holds
        .iter()
        .map(|(h, designation)| {
            let scale = scales.get(&h.asset).copied().unwrap_or(0);
            serde_json::json!({
                "hold_id": h.id,
                "asset": h.asset,
                "designation": designation,
                "amount": format_amount(h.amount, scale),
                "status": h.status,
                "entry_id": h.entry_id,
            })
        })
        .collect()
}

pub fn view(d: &Disbursement, scales: &HashMap<String, u32>) -> serde_json::Value {
    let r = &d.row;
    serde_json::json!({
        "id": r.id,
        "fund_id": r.fund_id,
        "incident_id": r.incident_id,
        "household_id": r.household_id,
        "assessment_id": r.assessment_id,
        "purpose": r.purpose,
        "status": r.status,
        "approvals_needed": r.approvals_needed,
        "approvals": d.events.iter().filter(|e| e.action == "approved").count(),
        "lines": d.lines.iter().map(|l| serde_json::json!({
            "category": l.category,
            "asset": l.asset,
            "amount": format_amount(l.amount, scales.get(&l.asset).copied().unwrap_or(0)),
        })).collect::<Vec<_>>(),
        "total_vnd": r.total_vnd.to_string(),
        "draws": holds_view(&d.holds, scales),
        "payment": r.paid_at.map(|at| serde_json::json!({
            "method": r.method, "reference": r.reference, "received_by": r.received_by, "paid_at": rfc3339(at),
            "days_since_incident": r.days_since_incident, "days_since_assessment": r.days_since_assessment,
        })),
        "proposed_by": r.proposed_by,
        "proposed_at": rfc3339(r.proposed_at),
        "events": events_view(&d.events),
    })
}

fn view_in(c: &mut DbConnection, d: &Disbursement) -> Result<serde_json::Value, StoreError> {
    Ok(view(d, &storage::assets::scales(c)?))
}

#[derive(serde::Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    category: String,
    asset: String,
    amount: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDisbursement {
    fund_id: String,
    household_id: String,
    incident_id: Option<String>,
    assessment_id: Option<String>,
    purpose: String,
    /// By hand; or leave out and give `assessment_id` to propose the household's entitlements.
    lines: Option<Vec<LineBody>>,
}

/// Lines checked against their assets and categories.
async fn check_lines(
    state: &AppState,
    lines: Vec<LineBody>,
) -> Result<Vec<(SpendCategory, String, i64)>, ApiError> {
    if lines.is_empty() || lines.len() > 50 {
        return Err(ApiError::field("lines", "must have 1 to 50 lines"));
    }
    let assets = state.read(storage::assets::list).await?;
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let category = SpendCategory::parse(&l.category)
            .map_err(|e| ApiError::field(format!("lines[{i}].category"), e.message))?;
        let asset = assets.iter().find(|a| a.code == l.asset).ok_or_else(|| {
            ApiError::field(
                format!("lines[{i}].asset"),
                format!("unknown asset {}", l.asset),
            )
        })?;
        let amount = parse_positive(&format!("lines[{i}].amount"), &l.amount, asset.scale())?;
        out.push((category, asset.code.clone(), amount));
    }
    Ok(out)
}

/// Proposal lines from an assessment's entitlements.
async fn entitlement_lines(
    state: &AppState,
    assessment: &storage::relief::AssessmentRow,
    household: &storage::relief::HouseholdRow,
) -> Result<Vec<(SpendCategory, String, i64)>, ApiError> {
    let inc_id = assessment.incident_id.clone();
    let (inc, sets) = state
        .read(move |c| {
            Ok((
                storage::relief::incident(c, &inc_id)?,
                storage::relief::rule_sets(c)?,
            ))
        })
        .await?;
    let lines = entitlement_views(&sets, inc.row.started_at, assessment, household)?;
    lines
        .into_iter()
        .map(|l| {
            let c = SpendCategory::parse(l.category.as_str())
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok((c, l.asset.to_owned(), l.amount))
        })
        .collect()
}

/// Checks what a proposal refers to and builds it; shared by single and bulk proposals.
async fn build(
    state: &AppState,
    user: &AuthUser,
    b: CreateDisbursement,
) -> Result<NewDisbursement, ApiError> {
    let fund = fund_in_scope(state, user, b.fund_id.clone()).await?;
    let household = household_in_scope(state, user, b.household_id.clone())
        .await
        .map_err(|e| match e {
            ApiError::NotFound => {
                ApiError::field("household_id", "no such household in your scope")
            }
            e => e,
        })?;
    let mut incident_id = match &b.incident_id {
        Some(id) => Some(
            incident_in_scope(state, user, id.clone())
                .await
                .map_err(|e| match e {
                    ApiError::NotFound => {
                        ApiError::field("incident_id", "no such incident in your scope")
                    }
                    e => e,
                })?
                .row
                .id,
        ),
        None => None,
    };
    let assessment = match &b.assessment_id {
        Some(id) => {
            let id = id.clone();
            let a = state
                .read(move |c| storage::relief::assessment(c, &id))
                .await
                .map_err(|e| match e {
                    ApiError::NotFound => ApiError::field("assessment_id", "no such assessment"),
                    e => e,
                })?;
            if a.household_id != household.row.id
                || incident_id.as_ref().is_some_and(|i| i != &a.incident_id)
            {
                return Err(ApiError::field(
                    "assessment_id",
                    "is not an assessment of this household and incident",
                ));
            }
            if !a.is_current {
                return Err(ApiError::field(
                    "assessment_id",
                    "has been corrected: use the current version",
                ));
            }
            incident_id = Some(a.incident_id.clone());
            Some(a)
        }
        None => None,
    };
    let lines = match (b.lines, &assessment) {
        (Some(lines), _) => check_lines(state, lines).await?,
        (None, Some(a)) => {
            let lines = entitlement_lines(state, a, &household.row).await?;
            if lines.is_empty() {
                return Err(ApiError::Rule {
                    code: "nothing_owed",
                    detail: "the assessment entitles the household to nothing".into(),
                });
            }
            lines
        }
        (None, None) => {
            return Err(ApiError::field(
                "lines",
                "give lines, or an assessment_id to propose its entitlements",
            ))
        }
    };
    Ok(NewDisbursement {
        fund_id: fund.id,
        incident_id,
        household_id: household.row.id,
        assessment_id: assessment.map(|a| a.id),
        purpose: domain::text::required("purpose", &b.purpose, 500)?,
        lines,
        actor_id: user.id.clone(),
    })
}

/// `POST /v1/disbursements` (fund manager or admin): a proposal, by hand or from an assessment's
/// entitlements. No money moves until it is approved.
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: Json<CreateDisbursement>,
) -> Result<HttpResponse, ApiError> {
    user.require(MAKERS)?;
    let key = crate::idempotency::key(&req, false)?;
    let fp = crate::idempotency::fingerprint(&req, &body.1);
    let new = build(&state, &user, body.0).await?;
    crate::idempotency::run(&state, &user, key, fp, move |c, note| {
        let d = storage::payouts::propose_disbursement(c, &new)?;
        let v = view_in(c, &d)?;
        note.entity("disbursement", &d.row.id)
            .fund_id(&d.row.fund_id)
            .detail(v.clone());
        Ok((StatusCode::CREATED, v))
    })
    .await
}

/// Loads a disbursement whose fund the caller may see, or 404.
async fn in_scope(state: &AppState, user: &AuthUser, id: String) -> Result<Disbursement, ApiError> {
    let d = state
        .read(move |c| storage::payouts::disbursement(c, &id))
        .await?;
    fund_in_scope(state, user, d.row.fund_id.clone()).await?;
    Ok(d)
}

/// `GET /v1/disbursements/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = in_scope(&state, &user, path.into_inner()).await?;
    // A disbursement names its household and who received the money.
    let mut note = Note::read("disbursement", vec![d.row.id.clone()]);
    note.fund_id(&d.row.fund_id);
    state.log_read(&user, note).await?;
    let v = state.read(move |c| view_in(c, &d)).await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    fund_id: Option<String>,
    incident_id: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/disbursements?fund_id=&incident_id=&status=`.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let limit = page_limit(q.limit)?;
    let status = q
        .status
        .as_deref()
        .map(DisbursementStatus::parse)
        .transpose()
        .map_err(|e| ApiError::query("status", e.message))?;
    let filter = DisbursementFilter {
        within: user.scope.as_ref().map(|s| (s.edition, s.path.clone())),
        fund_id: q.fund_id,
        incident_id: q.incident_id,
        status: status.map(|s| s.as_str().to_owned()),
        after_id: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
    };
    let rows = state
        .read(move |c| {
            let rows = storage::payouts::disbursements(c, &filter)?;
            let scales = storage::assets::scales(c)?;
            Ok(rows
                .into_iter()
                .map(|d| (d.row.id.clone(), view(&d, &scales)))
                .collect::<Vec<_>>())
        })
        .await?;
    let ids = page_ids(rows.iter().map(|(id, _)| id.clone()), limit);
    state
        .log_read(&user, Note::read("disbursement", ids).scoped(&user))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |(id, _)| id.clone(),
        |(_, v)| v,
    )))
}

/// What earmarked money may pay for this disbursement.
async fn target_of(state: &AppState, d: &Disbursement) -> Result<Target, ApiError> {
    let hid = d.row.household_id.clone();
    let h = state
        .read(move |c| storage::relief::household(c, &hid))
        .await?;
    Ok(Target {
        incident: d.row.incident_id.clone(),
        unit: Some((h.row.unit_edition, h.row.unit_path)),
        household: Some(d.row.household_id.clone()),
        purposes: vec![d.row.purpose.clone()],
    })
}

/// Approves one disbursement as `user`; the answer as (status, body) for single and bulk use.
async fn approve_one(
    state: &AppState,
    user: &AuthUser,
    id: String,
) -> Result<serde_json::Value, ApiError> {
    user.require(CHECKERS)?;
    let d = in_scope(state, user, id).await?;
    let target = target_of(state, &d).await?;
    let actor = user.id.clone();
    let id = d.row.id.clone();
    state
        .write(user, move |c, note| {
            let d = storage::payouts::approve_disbursement(c, &id, &actor, &target)?;
            let v = view_in(c, &d)?;
            note.entity("disbursement", &d.row.id)
                .fund_id(&d.row.fund_id)
                .detail(v.clone());
            Ok(v)
        })
        .await
}

/// `POST /v1/disbursements/{id}/approve` (an approver in scope, never the proposer): the last
/// approval needed reserves the money.
pub async fn approve(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(approve_one(&state, &user, path.into_inner()).await?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: String,
}

async fn end(
    state: &AppState,
    user: &AuthUser,
    id: String,
    action: Action,
    reason: String,
) -> Result<HttpResponse, ApiError> {
    let d = in_scope(state, user, id).await?;
    let actor = user.id.clone();
    let v = state
        .write(user, move |c, note| {
            storage::payouts::reject_or_cancel(
                c,
                Subject::Disbursement,
                &d.row.id,
                action,
                &actor,
                &reason,
            )?;
            let d = storage::payouts::disbursement(c, &d.row.id)?;
            let v = view_in(c, &d)?;
            note.entity("disbursement", &d.row.id)
                .fund_id(&d.row.fund_id)
                .detail(v.clone());
            Ok(v)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// `POST /v1/disbursements/{id}/reject` (an approver): releases any reservation.
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
        body.0.reason,
    )
    .await
}

/// `POST /v1/disbursements/{id}/cancel` (fund manager or admin): releases any reservation.
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
        body.0.reason,
    )
    .await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    method: String,
    paid_at: Option<String>,
    reference: Option<String>,
    received_by: String,
}

/// `POST /v1/disbursements/{id}/pay` (fund manager or admin): records the payment and posts the
/// reserved money to the ledger.
pub async fn pay(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<PayBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(MAKERS)?;
    let key = crate::idempotency::key(&req, false)?;
    let fp = crate::idempotency::fingerprint(&req, &body.1);
    let d = in_scope(&state, &user, path.into_inner()).await?;
    let b = body.0;
    let method = PayMethod::parse(&b.method)?;
    let paid_at = effective_instant("paid_at", b.paid_at.as_deref())?;
    let received_by = domain::text::required("received_by", &b.received_by, 200)?;
    let reference = b
        .reference
        .as_deref()
        .map(|r| domain::text::required("reference", r, 200))
        .transpose()?;
    if method == PayMethod::Bank && reference.is_none() {
        return Err(ApiError::field(
            "reference",
            "is required for a bank payment",
        ));
    }
    // Timeliness: days from the incident's start and from the assessment to the payment.
    let paid_day = domain::donations::vn_date(paid_at)
        .ok_or_else(|| ApiError::field("paid_at", "is out of range"))?;
    let (incident_id, assessment_id) = (d.row.incident_id.clone(), d.row.assessment_id.clone());
    let (started, assessed_on) = state
        .read(move |c| {
            let started = incident_id
                .map(|i| storage::relief::incident(c, &i))
                .transpose()?
                .map(|i| i.row.started_at);
            let assessed = assessment_id
                .map(|a| storage::relief::assessment(c, &a))
                .transpose()?
                .map(|a| a.assessed_on);
            Ok((started, assessed))
        })
        .await?;
    let days = |from: Option<chrono::NaiveDate>| {
        from.and_then(|f| i32::try_from((paid_day - f).num_days()).ok())
    };
    let payment = Payment {
        method: method.as_str().to_owned(),
        reference,
        received_by,
        paid_at,
        days_since_incident: days(started.and_then(domain::donations::vn_date)),
        days_since_assessment: days(
            assessed_on.and_then(|s| chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()),
        ),
    };
    let actor = user.id.clone();
    let id = d.row.id.clone();
    crate::idempotency::run(&state, &user, key, fp, move |c, note| {
        let d = storage::payouts::pay_disbursement(c, &id, &actor, &payment)?;
        tracing::info!(disbursement.id = %d.row.id, "disbursement paid");
        let v = view_in(c, &d)?;
        note.entity("disbursement", &d.row.id)
            .fund_id(&d.row.fund_id)
            .detail(v.clone());
        Ok((StatusCode::OK, v))
    })
    .await
}

fn item_result(id: &str, r: Result<serde_json::Value, ApiError>) -> serde_json::Value {
    use actix_web::ResponseError;
    match r {
        Ok(v) => serde_json::json!({"id": id, "ok": true, "disbursement": v}),
        Err(e) => {
            serde_json::json!({"id": id, "ok": false, "status": e.status_code().as_u16(), "error": e.problem_body()})
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkPropose {
    fund_id: String,
    incident_id: String,
    unit: String,
    edition: Option<i64>,
    purpose: Option<String>,
}

/// `POST /v1/disbursements/bulk`: one proposal per assessed household of the incident in one
/// commune, from its entitlements; each household succeeds or fails on its own. Households that
/// already have a live disbursement for the incident are reported and skipped.
pub async fn bulk_propose(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<BulkPropose>,
) -> Result<HttpResponse, ApiError> {
    user.require(MAKERS)?;
    let b = body.0;
    fund_in_scope(&state, &user, b.fund_id.clone()).await?;
    let inc = incident_in_scope(&state, &user, b.incident_id.clone())
        .await
        .map_err(|e| match e {
            ApiError::NotFound => ApiError::field("incident_id", "no such incident in your scope"),
            e => e,
        })?;
    let unit = crate::routes::query_unit(&state, &b.unit, b.edition)
        .await
        .map_err(|_| ApiError::field("unit", "no such unit"))?;
    if unit.level != "commune" {
        return Err(ApiError::field("unit", "must be a commune"));
    }
    user.visible(unit.edition, &unit.path)?;
    let inc_id = inc.row.id.clone();
    let rows = state
        .read(move |c| storage::relief::current_assessments(c, &inc_id))
        .await?;
    let mut results = Vec::new();
    for (a, h) in rows
        .into_iter()
        .filter(|(_, h)| h.unit_edition == unit.edition && h.unit_code == unit.code)
    {
        let (iid, hid) = (inc.row.id.clone(), h.id.clone());
        let live = state
            .read(move |c| storage::payouts::has_live_disbursement(c, &iid, &hid))
            .await?;
        let r = if live {
            Err(ApiError::Conflict {
                code: "already_proposed",
                detail: "the household already has a disbursement for this incident".into(),
            })
        } else {
            let req = CreateDisbursement {
                fund_id: b.fund_id.clone(),
                household_id: h.id.clone(),
                incident_id: Some(inc.row.id.clone()),
                assessment_id: Some(a.id.clone()),
                purpose: b
                    .purpose
                    .clone()
                    .unwrap_or_else(|| format!("hỗ trợ khẩn cấp: {}", inc.row.name)),
                lines: None,
            };
            match build(&state, &user, req).await {
                Ok(new) => {
                    state
                        .write(&user, move |c, note| {
                            let d = storage::payouts::propose_disbursement(c, &new)?;
                            let v = view_in(c, &d)?;
                            note.entity("disbursement", &d.row.id)
                                .fund_id(&d.row.fund_id)
                                .detail(v.clone());
                            Ok(v)
                        })
                        .await
                }
                Err(e) => Err(e),
            }
        };
        results.push(serde_json::json!({"household_id": h.id, "result": item_result(&h.id, r)}));
    }
    let ok = results.iter().filter(|r| r["result"]["ok"] == true).count();
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"proposed": ok, "failed": results.len() - ok, "items": results})))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkApprove {
    ids: Vec<String>,
}

/// `POST /v1/disbursements/bulk-approve`: approves each listed disbursement on its own; a
/// refusal (own proposal, no money left) affects only that item.
pub async fn bulk_approve(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<BulkApprove>,
) -> Result<HttpResponse, ApiError> {
    user.require(CHECKERS)?;
    if body.0.ids.is_empty() || body.0.ids.len() > 500 {
        return Err(ApiError::field("ids", "must list 1 to 500 disbursements"));
    }
    let mut items = Vec::new();
    for id in body.0.ids {
        let r = approve_one(&state, &user, id.clone()).await;
        items.push(item_result(&id, r));
    }
    let ok = items.iter().filter(|r| r["ok"] == true).count();
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"approved": ok, "failed": items.len() - ok, "items": items})))
}
