//! Donations: intake in cash, by bank transfer and in kind; receipts; reversal.

use crate::audit::{page_ids, Note};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{decode_cursor, page_limit, Json, Page, Query};
use crate::routes::donors::{check as check_donor, NewDonor};
use crate::routes::funds::fund_in_scope;
use crate::routes::{effective_instant, query_instant, rfc3339};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::donations::{Channel, DonationStatus};
use domain::ledger::Designation;
use domain::money::format_amount;
use domain::units::{Edition, UnitCode};
use domain::users::Role;
use std::collections::HashMap;
use storage::donations::{Donation, DonationFilter, NewDonation, RawLine};
use storage::{DbConnection, StoreError};

/// The roles that record and reverse donations.
const RECORDERS: &[Role] = &[Role::Admin, Role::FundManager];

/// A donation as staff see it. `scales` formats the line amounts.
pub fn view(
    d: &Donation,
    donor: Option<&storage::donors::DonorRow>,
    scales: &HashMap<String, u32>,
) -> serde_json::Value {
    let r = &d.row;
    let earmark = (!r.designation.is_empty()).then(|| {
        serde_json::json!({
            "incident_id": r.earmark_incident_id,
            "unit": r.earmark_unit_code.as_ref().map(|c| serde_json::json!({"edition": r.earmark_unit_edition, "code": c})),
            "household_id": r.earmark_household_id,
            "purpose": r.earmark_purpose,
        })
    });
    serde_json::json!({
        "id": r.id,
        "fund_id": r.fund_id,
        "campaign_id": r.campaign_id,
        "donor": donor.map(|x| serde_json::json!({
            "id": x.id, "kind": x.kind, "name": x.name, "publish_name": x.publish_name,
        })),
        "status": r.status,
        "channel": r.channel,
        "bank_account_id": r.bank_account_id,
        "bank_ref": r.bank_ref,
        "received_at": rfc3339(r.received_at),
        "recorded_at": rfc3339(r.recorded_at),
        "receipt_no": r.receipt_no,
        "entry_id": r.entry_id,
        "earmark": earmark,
        "designation": r.designation,
        "lines": d.lines.iter().map(|l| serde_json::json!({
            "asset": l.asset,
            "amount": format_amount(l.amount, scales.get(&l.asset).copied().unwrap_or(0)),
            "value_vnd": l.value_vnd.map(|v| v.to_string()),
            "description": l.description,
        })).collect::<Vec<_>>(),
        "total_vnd": r.total_vnd.to_string(),
        "fulfills_pledge_id": r.fulfills_pledge_id,
        "note": r.note,
        "reversal": r.reversal_entry_id.as_ref().map(|e| serde_json::json!({
            "entry_id": e,
            "at": r.reversed_at.map(rfc3339),
            "reason": r.reversal_reason,
        })),
    })
}

/// Reads what a view needs besides the donation: its donor and the asset scales.
pub fn view_in(c: &mut DbConnection, d: &Donation) -> Result<serde_json::Value, StoreError> {
    let donor = d
        .row
        .donor_id
        .as_deref()
        .map(|id| storage::donors::get(c, id))
        .transpose()?;
    let scales = storage::assets::scales(c)?;
    Ok(view(d, donor.as_ref(), &scales))
}

#[derive(serde::Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    asset: String,
    amount: String,
    value_vnd: Option<String>,
    description: Option<String>,
}

#[derive(serde::Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct EarmarkBody {
    incident_id: Option<String>,
    unit: Option<String>,
    unit_edition: Option<i64>,
    household_id: Option<String>,
    purpose: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDonation {
    fund_id: String,
    campaign_id: Option<String>,
    donor_id: Option<String>,
    donor: Option<NewDonor>,
    status: String,
    channel: String,
    received_at: Option<String>,
    bank_ref: Option<String>,
    bank_account_id: Option<String>,
    lines: Vec<LineBody>,
    earmark: Option<EarmarkBody>,
    fulfills_pledge_id: Option<String>,
    note: Option<String>,
}

fn uuid_field(field: &str, v: &Option<String>) -> Result<Option<String>, ApiError> {
    v.as_deref()
        .map(|s| {
            uuid::Uuid::parse_str(s)
                .map(|u| u.hyphenated().to_string())
                .map_err(|_| ApiError::field(field, "must be an id (UUID)"))
        })
        .transpose()
}

/// A reference to an incident the caller can see, or a 422 naming `field`.
pub async fn incident_ref(
    state: &AppState,
    user: &AuthUser,
    field: &str,
    id: &Option<String>,
) -> Result<Option<String>, ApiError> {
    let Some(id) = uuid_field(field, id)? else {
        return Ok(None);
    };
    match crate::routes::incidents::incident_in_scope(state, user, id.clone()).await {
        Ok(_) => Ok(Some(id)),
        Err(ApiError::NotFound) => Err(ApiError::field(field, "no such incident in your scope")),
        Err(e) => Err(e),
    }
}

/// A reference to a household the caller can see, or a 422 naming `field`.
async fn household_ref(
    state: &AppState,
    user: &AuthUser,
    field: &str,
    id: &Option<String>,
) -> Result<Option<String>, ApiError> {
    let Some(id) = uuid_field(field, id)? else {
        return Ok(None);
    };
    match crate::routes::households::household_in_scope(state, user, id.clone()).await {
        Ok(_) => Ok(Some(id)),
        Err(ApiError::NotFound) => Err(ApiError::field(field, "no such household in your scope")),
        Err(e) => Err(e),
    }
}

/// A reference to a donor the caller can see, or a 422 naming `donor_id`.
pub async fn donor_ref(
    state: &AppState,
    user: &AuthUser,
    id: &Option<String>,
) -> Result<Option<String>, ApiError> {
    let Some(id) = uuid_field("donor_id", id)? else {
        return Ok(None);
    };
    match crate::routes::donors::donor_in_scope(state, user, id.clone()).await {
        Ok(_) => Ok(Some(id)),
        Err(ApiError::NotFound) => Err(ApiError::field("donor_id", "no such donor")),
        Err(e) => Err(e),
    }
}

/// Checks an earmark: an existing unit, an incident and a household the caller can see, a short
/// purpose.
pub async fn earmark(
    state: &AppState,
    user: &AuthUser,
    e: Option<EarmarkBody>,
) -> Result<Designation, ApiError> {
    let Some(e) = e else {
        return Ok(Designation::default());
    };
    let unit = match &e.unit {
        Some(code) => {
            let edition = Edition::parse(e.unit_edition.unwrap_or(2025))
                .map_err(|x| ApiError::field("earmark.unit_edition", x.message))?;
            let code = UnitCode::parse("earmark.unit", code)?;
            let c = code.clone();
            match state
                .read(move |conn| storage::units::get(conn, edition, c.as_str()))
                .await
            {
                Ok(u) => Some((u.edition, u.code)),
                Err(ApiError::NotFound) => {
                    return Err(ApiError::field("earmark.unit", "no such unit"))
                }
                Err(err) => return Err(err),
            }
        }
        None => None,
    };
    let d = Designation {
        incident: incident_ref(state, user, "earmark.incident_id", &e.incident_id).await?,
        unit,
        household: household_ref(state, user, "earmark.household_id", &e.household_id).await?,
        purpose: e
            .purpose
            .as_deref()
            .map(|p| domain::text::required("earmark.purpose", p, 200))
            .transpose()?,
    };
    if d.is_unrestricted() {
        return Err(ApiError::field(
            "earmark",
            "names nothing: give an incident, unit, household or purpose, or leave it out",
        ));
    }
    Ok(d)
}

/// `POST /v1/donations` (admin or fund manager; `Idempotency-Key` required).
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: Json<CreateDonation>,
) -> Result<HttpResponse, ApiError> {
    user.require(RECORDERS)?;
    let key = crate::idempotency::key(&req, true)?;
    let fp = crate::idempotency::fingerprint(&req, &body.1);
    let b = body.0;
    let fund = fund_in_scope(&state, &user, b.fund_id.clone()).await?;
    let status = DonationStatus::parse(&b.status)?;
    let channel = Channel::parse(&b.channel)?;
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
    let new = NewDonation {
        fund_id: fund.id.clone(),
        campaign_id: uuid_field("campaign_id", &b.campaign_id)?,
        donor_id,
        status,
        channel,
        bank_account_id: uuid_field("bank_account_id", &b.bank_account_id)?,
        bank_ref: b.bank_ref,
        received_at: effective_instant("received_at", b.received_at.as_deref())?,
        lines: b
            .lines
            .into_iter()
            .map(|l| RawLine {
                asset: l.asset,
                amount: l.amount,
                value_vnd: l.value_vnd,
                description: l.description,
            })
            .collect(),
        earmark: earmark(&state, &user, b.earmark).await?,
        fulfills_pledge_id: uuid_field("fulfills_pledge_id", &b.fulfills_pledge_id)?,
        note: b.note,
        actor_id: user.id.clone(),
    };
    let asset_cache = state.assets.clone();
    crate::idempotency::run(&state, &user, key, fp, move |c, note| {
        if let Some(d) = &new_donor {
            storage::donors::insert(c, d)?;
        }
        // What the answer shows besides the donation is read before `record` takes the fund's
        // lock, not while holding it. An unknown donor is left to `record` to refuse.
        let assets = asset_cache.covering(c, new.lines.iter().map(|l| l.asset.as_str()))?;
        let scales = storage::assets::scales_of(&assets);
        let donor = match new
            .donor_id
            .as_deref()
            .map(|id| storage::donors::get(c, id))
        {
            Some(Ok(donor)) => Some(donor),
            None | Some(Err(StoreError::NotFound)) => None,
            Some(Err(e)) => return Err(e),
        };
        let d = storage::donations::record(c, &new, &assets)?;
        tracing::info!(donation.id = %d.row.id, receipt = ?d.row.receipt_no, "donation recorded");
        let v = view(&d, donor.as_ref(), &scales);
        note.entity("donation", &d.row.id)
            .fund(&fund)
            .detail(v.clone());
        Ok((StatusCode::CREATED, v))
    })
    .await
}

/// Loads a donation whose fund the caller may see, or 404.
async fn donation_in_scope(
    state: &AppState,
    user: &AuthUser,
    id: String,
) -> Result<Donation, ApiError> {
    let d = state.read(move |c| storage::donations::get(c, &id)).await?;
    fund_in_scope(state, user, d.row.fund_id.clone()).await?;
    Ok(d)
}

/// `GET /v1/donations/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = donation_in_scope(&state, &user, path.into_inner()).await?;
    let mut note = Note::read("donation", vec![d.row.id.clone()]);
    note.fund_id(&d.row.fund_id);
    state.log_read(&user, note).await?;
    let v = state.read(move |c| view_in(c, &d)).await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    fund_id: Option<String>,
    campaign_id: Option<String>,
    donor_id: Option<String>,
    channel: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/donations`: donations to funds in the caller's scope, filtered.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let channel = q
        .channel
        .as_deref()
        .map(Channel::parse)
        .transpose()
        .map_err(|e| ApiError::query("channel", e.message))?;
    let status = q
        .status
        .as_deref()
        .map(DonationStatus::parse)
        .transpose()
        .map_err(|e| ApiError::query("status", e.message))?;
    let limit = page_limit(q.limit)?;
    let filter = DonationFilter {
        within: user.scope.as_ref().map(|s| (s.edition, s.path.clone())),
        fund_id: q.fund_id,
        campaign_id: q.campaign_id,
        donor_id: q.donor_id,
        channel: channel.map(|c| c.as_str().to_owned()),
        status: status.map(|s| s.as_str().to_owned()),
        from: query_instant("from", q.from.as_deref())?,
        to: query_instant("to", q.to.as_deref())?,
        after_id: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
    };
    let rows = state
        .read(move |c| {
            let rows = storage::donations::list(c, &filter)?;
            // Scales and each donor are read once for the page, not once per donation.
            let scales = storage::assets::scales(c)?;
            let mut donors = HashMap::new();
            let mut out = Vec::with_capacity(rows.len());
            for d in rows {
                if let Some(id) = &d.row.donor_id {
                    if !donors.contains_key(id) {
                        donors.insert(id.clone(), storage::donors::get(c, id)?);
                    }
                }
                let donor = d.row.donor_id.as_ref().and_then(|id| donors.get(id));
                out.push((d.row.id.clone(), view(&d, donor, &scales)));
            }
            Ok(out)
        })
        .await?;
    let ids = page_ids(rows.iter().map(|(id, _)| id.clone()), limit);
    state
        .log_read(&user, Note::read("donation", ids).scoped(&user))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |(id, _)| id.clone(),
        |(_, v)| v,
    )))
}

/// `GET /v1/donations/{id}/receipt`: what the printed biên nhận shows.
pub async fn receipt(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = donation_in_scope(&state, &user, path.into_inner()).await?;
    let show_address = crate::routes::donors::DONOR_READERS.contains(&user.role);
    let Some(receipt_no) = d.row.receipt_no.clone() else {
        return Err(ApiError::Rule {
            code: "no_receipt",
            detail: "a pledge has no receipt until it is received".into(),
        });
    };
    let mut note = Note::read("donation", vec![d.row.id.clone()]);
    note.fund_id(&d.row.fund_id);
    state.log_read(&user, note).await?;
    let v = state
        .read(move |c| {
            let fund = storage::funds::get(c, &d.row.fund_id)?;
            let unit = storage::units::get(c, Edition::parse(i64::from(fund.unit_edition))?, &fund.unit_code)?;
            let donor = d.row.donor_id.as_deref().map(|id| storage::donors::get(c, id)).transpose()?;
            let campaign = d.row.campaign_id.as_deref().map(|id| storage::campaigns::get(c, id)).transpose()?;
            let assets: HashMap<String, storage::assets::AssetRow> =
                storage::assets::list(c)?.into_iter().map(|a| (a.code.clone(), a)).collect();
            Ok(serde_json::json!({
                "receipt_no": receipt_no,
                "title": "BIÊN NHẬN",
                "fund": {"id": fund.id, "name": fund.name, "custodian": fund.custodian,
                         "unit": {"edition": unit.edition, "code": unit.code, "name": unit.name}},
                "campaign": campaign.map(|c| serde_json::json!({"name": c.name, "appeal_ref": c.appeal_ref})),
                "donor": donor.map(|x| serde_json::json!({
                    "name": x.name,
                    "kind": x.kind,
                    "address": if show_address { x.address } else { None },
                })),
                "received_on": domain::donations::vn_date(d.row.received_at).map(|x| x.format("%d/%m/%Y").to_string()),
                "received_at": rfc3339(d.row.received_at),
                "channel": d.row.channel,
                "bank_ref": d.row.bank_ref,
                "lines": d.lines.iter().map(|l| {
                    let a = assets.get(&l.asset);
                    serde_json::json!({
                        "asset": l.asset,
                        "name": a.map(|a| a.name.clone()),
                        "unit": a.map(|a| a.unit.clone()),
                        "amount": format_amount(l.amount, a.map_or(0, |a| a.scale())),
                        "value_vnd": l.value_vnd.map(|v| v.to_string()),
                        "description": l.description,
                    })
                }).collect::<Vec<_>>(),
                "total_vnd": d.row.total_vnd.to_string(),
                "earmark": (!d.row.designation.is_empty()).then_some(&d.row.designation),
                "status": d.row.status,
                "reversed": d.row.reversed_at.map(|at| serde_json::json!({"at": rfc3339(at), "reason": d.row.reversal_reason})),
            }))
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseBody {
    reason: String,
}

/// `POST /v1/donations/{id}/reverse`: through a reversal entry, at most once.
pub async fn reverse(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<ReverseBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(RECORDERS)?;
    let key = crate::idempotency::key(&req, false)?;
    let fp = crate::idempotency::fingerprint(&req, &body.1);
    let d = donation_in_scope(&state, &user, path.into_inner()).await?;
    let reason = body.0.reason;
    let actor = user.id.clone();
    crate::idempotency::run(&state, &user, key, fp, move |c, note| {
        let d = storage::donations::reverse(c, &d.row.id, &reason, &actor)?;
        tracing::info!(donation.id = %d.row.id, "donation reversed");
        let v = view_in(c, &d)?;
        note.entity("donation", &d.row.id)
            .fund_id(&d.row.fund_id)
            .detail(v.clone());
        Ok((StatusCode::OK, v))
    })
    .await
}
