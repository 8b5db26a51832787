//! Incidents: what happened, where and when; their damage assessments and the support owed.

use crate::audit::Note;
use crate::auth::AuthUser;
use crate::error::{ApiError, FieldError};
use crate::extract::{decode_cursor, page_limit, Json, Page, Query};
use crate::routes::assessments::{entitlement_views, view as assessment_view};
use crate::routes::households::household_in_scope;
use crate::routes::{parse_instant, query_instant, rfc3339};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use domain::relief::{HouseDamage, IncidentKind};
use domain::units::{Edition, UnitCode};
use domain::users::Role;
use std::collections::BTreeMap;
use storage::relief::{AssessmentRow, Incident, IncidentFilter, IncidentRow};

pub fn view(i: &Incident) -> serde_json::Value {
    let r = &i.row;
    serde_json::json!({
        "id": r.id,
        "kind": r.kind,
        "name": r.name,
        "started_at": rfc3339(r.started_at),
        "ended_at": r.ended_at.map(rfc3339),
        "status": r.status,
        "closed_at": r.closed_at.map(rfc3339),
        "units": i.units.iter().map(|u| serde_json::json!({"edition": u.unit_edition, "code": u.unit_code})).collect::<Vec<_>>(),
        "created_at": rfc3339(r.created_at),
    })
}

/// Whether the caller's scope overlaps one of the incident's units (an incident in their area,
/// or one covering it).
fn overlaps(user: &AuthUser, i: &Incident) -> bool {
    match &user.scope {
        None => true,
        Some(s) => i.units.iter().any(|u| {
            u.unit_edition == s.edition
                && (domain::units::path_within(&u.unit_path, &s.path)
                    || domain::units::path_within(&s.path, &u.unit_path))
        }),
    }
}

/// Loads an incident the caller may see, or 404.
pub async fn incident_in_scope(
    state: &AppState,
    user: &AuthUser,
    id: String,
) -> Result<Incident, ApiError> {
    let i = state
        .read(move |c| storage::relief::incident(c, &id))
        .await?;
    if overlaps(user, &i) {
        Ok(i)
    } else {
        Err(ApiError::NotFound)
    }
}

#[derive(serde::Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct UnitBody {
    code: String,
    edition: Option<i64>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIncident {
    kind: String,
    name: String,
    started_at: String,
    ended_at: Option<String>,
    units: Vec<UnitBody>,
}

/// `POST /v1/incidents` (admin or fund manager; every affected unit in scope).
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateIncident>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let b = body.0;
    let kind = IncidentKind::parse(&b.kind)?;
    let name = domain::text::required("name", &b.name, 300)?;
    let started_at = parse_instant("started_at", &b.started_at)?;
    let ended_at = b
        .ended_at
        .as_deref()
        .map(|s| parse_instant("ended_at", s))
        .transpose()?;
    if ended_at.is_some_and(|e| e < started_at) {
        return Err(ApiError::field("ended_at", "must not be before started_at"));
    }
    if started_at > storage::now_micros() + 300_000_000 {
        return Err(ApiError::field("started_at", "must not be in the future"));
    }
    if b.units.is_empty() || b.units.len() > 500 {
        return Err(ApiError::field(
            "units",
            "must list 1 to 500 affected units",
        ));
    }
    let mut wanted = Vec::new();
    for (i, u) in b.units.iter().enumerate() {
        let edition = Edition::parse(u.edition.unwrap_or(2025))
            .map_err(|e| ApiError::field(format!("units[{i}].edition"), e.message))?;
        let code = UnitCode::parse(&format!("units[{i}].code"), &u.code)?;
        wanted.push((i, edition, code));
    }
    let units = state
        .read(move |c| {
            let mut out = Vec::new();
            for (i, edition, code) in &wanted {
                match storage::units::get(c, *edition, code.as_str()) {
                    Ok(u) => out.push(u),
                    Err(storage::StoreError::NotFound) => {
                        return Err(domain::Invalid::new(
                            format!("units[{i}].code"),
                            format!("no unit {code} in the {edition} edition"),
                        )
                        .into())
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
        .await?;
    let mut errors = Vec::new();
    for (i, u) in units.iter().enumerate() {
        if !user.covers(u.edition, &u.path) {
            errors.push(FieldError {
                field: format!("units[{i}].code"),
                message: "is outside your scope".into(),
            });
        }
        if units[..i]
            .iter()
            .any(|x| x.edition == u.edition && x.code == u.code)
        {
            errors.push(FieldError {
                field: format!("units[{i}].code"),
                message: "appears twice".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let row = IncidentRow {
        id: domain::ids::EntryId::new().to_string(),
        kind: kind.as_str().to_owned(),
        name,
        started_at,
        ended_at,
        status: "open".into(),
        closed_at: None,
        created_at: storage::now_micros(),
        created_by: user.id.clone(),
    };
    let inc = state
        .write(&user, move |c, note| {
            let inc = storage::relief::create_incident(c, &row, &units)?;
            note_incident(note, &inc);
            Ok(inc)
        })
        .await?;
    tracing::info!(incident.id = %inc.row.id, "incident recorded");
    Ok(HttpResponse::Created().json(view(&inc)))
}

/// The audit note of a change to an incident: its first unit scopes it.
fn note_incident(note: &mut Note, inc: &Incident) {
    note.entity("incident", &inc.row.id).detail(view(inc));
    if let Some(u) = inc.units.first() {
        note.unit(u.unit_edition, &u.unit_path);
    }
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    unit: Option<String>,
    edition: Option<i64>,
    kind: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/incidents?unit=&kind=&status=&from=&to=`: incidents overlapping the caller's scope
/// (and the given unit), of a kind, over a period.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let limit = page_limit(q.limit)?;
    let kind = q
        .kind
        .as_deref()
        .map(IncidentKind::parse)
        .transpose()
        .map_err(|e| ApiError::query("kind", e.message))?;
    if q.status
        .as_deref()
        .is_some_and(|s| s != "open" && s != "closed")
    {
        return Err(ApiError::query("status", "must be open or closed"));
    }
    let unit = match &q.unit {
        Some(code) => {
            let u = crate::routes::query_unit(&state, code, q.edition).await?;
            Some((u.edition, u.path))
        }
        None => None,
    };
    // The narrower of the unit asked for and the caller's scope: an incident overlapping the
    // narrower one overlaps both. Disjoint ones leave nothing to list.
    let scope = user.scope.as_ref().map(|s| (s.edition, s.path.clone()));
    let overlapping = match (unit, scope) {
        (Some(u), Some(s)) if u.0 == s.0 && domain::units::path_within(&u.1, &s.1) => Some(u),
        (Some(u), Some(s)) if u.0 == s.0 && domain::units::path_within(&s.1, &u.1) => Some(s),
        (Some(_), Some(_)) => {
            return Ok(
                HttpResponse::Ok().json(serde_json::json!({"items": [], "next_cursor": null}))
            )
        }
        (u, s) => u.or(s),
    };
    let filter = IncidentFilter {
        overlapping,
        kind: kind.map(|k| k.as_str().to_owned()),
        status: q.status,
        from: query_instant("from", q.from.as_deref())?,
        to: query_instant("to", q.to.as_deref())?,
        after_id: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
    };
    let rows = state
        .read(move |c| storage::relief::incidents(c, &filter))
        .await?;
    let rows: Vec<Incident> = rows.into_iter().filter(|i| overlaps(&user, i)).collect();
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |i| i.row.id.clone(),
        |i| view(&i),
    )))
}

/// `GET /v1/incidents/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let i = incident_in_scope(&state, &user, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view(&i)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    ended_at: Option<String>,
}

/// `POST /v1/incidents/{id}/close`.
pub async fn close(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: Json<CloseBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let i = incident_in_scope(&state, &user, path.into_inner()).await?;
    // Closing ends the incident for everyone it affects: only someone whose scope covers every
    // affected unit (as when creating it) may close it.
    if !i
        .units
        .iter()
        .all(|u| user.covers(u.unit_edition, &u.unit_path))
    {
        return Err(ApiError::Forbidden(
            "the incident affects units outside your scope",
        ));
    }
    let ended = body
        .0
        .ended_at
        .as_deref()
        .map(|s| parse_instant("ended_at", s))
        .transpose()?;
    let inc = state
        .write(&user, move |c, note| {
            let inc = storage::relief::close_incident(c, &i.row.id, ended)?;
            note_incident(note, &inc);
            Ok(inc)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view(&inc)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAssessment {
    household_id: String,
    deaths: u32,
    missing: u32,
    severely_injured: u32,
    house_damage: String,
    people_needing_food: u32,
    months_of_food: u32,
    assessor: String,
    assessed_on: Option<String>,
    note: Option<String>,
}

/// `POST /v1/incidents/{id}/assessments`: a household's damage; for a household already assessed
/// in this incident, a correction (a new version; the old one is kept).
pub async fn assess(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: Json<CreateAssessment>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let inc = incident_in_scope(&state, &user, path.into_inner()).await?;
    let b = body.0;
    let household = household_in_scope(&state, &user, b.household_id.clone())
        .await
        .map_err(|e| match e {
            ApiError::NotFound => {
                ApiError::field("household_id", "no such household in your scope")
            }
            e => e,
        })?;
    if !inc.affects(household.row.unit_edition, &household.row.unit_path) {
        return Err(ApiError::field(
            "household_id",
            "the household is not in a unit this incident affected",
        ));
    }
    let house_damage = HouseDamage::parse(&b.house_damage)?;
    let members = i64::try_from(household.members.len()).unwrap_or(i64::MAX);
    let mut errors = Vec::new();
    if i64::from(b.people_needing_food) > members {
        errors.push(FieldError {
            field: "people_needing_food".into(),
            message: format!("must not exceed the {members} household members"),
        });
    }
    if i64::from(b.severely_injured) > members {
        errors.push(FieldError {
            field: "severely_injured".into(),
            message: format!("must not exceed the {members} household members"),
        });
    }
    if i64::from(b.deaths) + i64::from(b.missing) > members {
        errors.push(FieldError {
            field: "deaths".into(),
            message: format!("deaths and missing must not exceed the {members} household members"),
        });
    }
    if b.months_of_food > 12 {
        errors.push(FieldError {
            field: "months_of_food".into(),
            message: "must be at most 12".into(),
        });
    }
    if b.people_needing_food > 0 && b.months_of_food == 0 {
        errors.push(FieldError {
            field: "months_of_food".into(),
            message: "must be at least 1 when people need food".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let today = domain::donations::vn_date(storage::now_micros()).unwrap_or_default();
    let assessed_on = match &b.assessed_on {
        Some(s) => domain::donations::parse_date("assessed_on", s)?,
        None => today,
    };
    if assessed_on > today {
        return Err(ApiError::field("assessed_on", "must not be in the future"));
    }
    if domain::donations::vn_date(inc.row.started_at).is_some_and(|start| assessed_on < start) {
        return Err(ApiError::field(
            "assessed_on",
            "must not be before the incident started",
        ));
    }
    let int =
        |field: &str, v: u32| i32::try_from(v).map_err(|_| ApiError::field(field, "is too large"));
    let row = AssessmentRow {
        id: domain::ids::EntryId::new().to_string(),
        incident_id: inc.row.id.clone(),
        household_id: household.row.id.clone(),
        version: 1,
        supersedes_id: None,
        is_current: true,
        deaths: int("deaths", b.deaths)?,
        missing: int("missing", b.missing)?,
        severely_injured: int("severely_injured", b.severely_injured)?,
        house_damage: house_damage.as_str().to_owned(),
        people_needing_food: int("people_needing_food", b.people_needing_food)?,
        months_of_food: int("months_of_food", b.months_of_food)?,
        assessor: domain::text::required("assessor", &b.assessor, 200)?,
        assessed_on: assessed_on.to_string(),
        note: b
            .note
            .as_deref()
            .map(|n| domain::text::required("note", n, 1000))
            .transpose()?,
        recorded_at: storage::now_micros(),
        recorded_by: user.id.clone(),
    };
    let (edition, path) = (household.row.unit_edition, household.row.unit_path.clone());
    let saved = state
        .write(&user, move |c, note| {
            storage::relief::incident(c, &row.incident_id)?;
            let saved = storage::relief::record_assessment(c, row.clone())?;
            note.entity("assessment", &saved.id)
                .unit(edition, &path)
                .detail(assessment_view(&saved));
            Ok(saved)
        })
        .await?;
    Ok(HttpResponse::Created().json(assessment_view(&saved)))
}

/// `GET /v1/incidents/{id}/assessments`: the current assessments of households in scope.
pub async fn assessments(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let inc = incident_in_scope(&state, &user, path.into_inner()).await?;
    let rows = state
        .read(move |c| storage::relief::current_assessments(c, &inc.row.id))
        .await?;
    let items: Vec<serde_json::Value> = rows
        .iter()
        .filter(|(_, h)| user.covers(h.unit_edition, &h.unit_path))
        .map(|(a, _)| assessment_view(a))
        .collect();
    let ids = items
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_owned))
        .collect();
    state
        .log_read(&user, Note::read("assessment", ids).scoped(&user))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items, "next_cursor": null })))
}

/// `GET /v1/incidents/{id}/entitlements`: the support owed per commune for the current
/// assessments of households in scope, with totals.
pub async fn entitlements(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let inc = incident_in_scope(&state, &user, path.into_inner()).await?;
    let started = inc.row.started_at;
    let incident_id = inc.row.id.clone();
    let (rows, sets) = state
        .read(move |c| {
            Ok((
                storage::relief::current_assessments(c, &inc.row.id)?,
                storage::relief::rule_sets(c)?,
            ))
        })
        .await?;
    let mut communes: BTreeMap<(i32, String), (i64, BTreeMap<String, i64>)> = BTreeMap::new();
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for (a, h) in rows
        .iter()
        .filter(|(_, h)| user.covers(h.unit_edition, &h.unit_path))
    {
        let lines = entitlement_views(&sets, started, a, h)?;
        let entry = communes
            .entry((h.unit_edition, h.unit_code.clone()))
            .or_default();
        entry.0 += 1;
        let overflow = || ApiError::Rule {
            code: "amount_overflow",
            detail: "the totals overflow".into(),
        };
        for l in lines {
            let c = entry.1.entry(l.asset.to_owned()).or_default();
            *c = c.checked_add(l.amount).ok_or_else(overflow)?;
            let t = totals.entry(l.asset.to_owned()).or_default();
            *t = t.checked_add(l.amount).ok_or_else(overflow)?;
        }
    }
    let fmt = |m: &BTreeMap<String, i64>| -> serde_json::Value {
        m.iter()
            .map(|(asset, v)| {
                let scale = if asset == "RICE_KG" { 3 } else { 0 };
                (
                    asset.clone(),
                    serde_json::json!(domain::money::format_amount(*v, scale)),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "incident_id": incident_id,
        "communes": communes.iter().map(|((e, c), (n, t))| serde_json::json!({
            "unit": {"edition": e, "code": c}, "households_assessed": n, "totals": fmt(t),
        })).collect::<Vec<_>>(),
        "totals": fmt(&totals),
    })))
}
