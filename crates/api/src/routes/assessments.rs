//! Damage assessments and the support they entitle a household to.

use crate::audit::Note;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::households::household_in_scope;
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use domain::policy::{entitlements, in_force, Entitlement, Facts, RuleSet};
use domain::relief::{HouseDamage, PovertyStatus};
use storage::relief::{AssessmentRow, HouseholdRow};

pub fn view(a: &AssessmentRow) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "incident_id": a.incident_id,
        "household_id": a.household_id,
        "version": a.version,
        "supersedes_id": a.supersedes_id,
        "current": a.is_current,
        "deaths": a.deaths,
        "missing": a.missing,
        "severely_injured": a.severely_injured,
        "house_damage": a.house_damage,
        "people_needing_food": a.people_needing_food,
        "months_of_food": a.months_of_food,
        "assessor": a.assessor,
        "assessed_on": a.assessed_on,
        "note": a.note,
        "recorded_at": rfc3339(a.recorded_at),
        "recorded_by": a.recorded_by,
    })
}

/// The facts the rules read from an assessment and its household.
pub fn facts_of(a: &AssessmentRow, h: &HouseholdRow) -> Result<Facts, ApiError> {
    let stored = |e: domain::Invalid| ApiError::Internal(format!("stored value: {e}"));
    Ok(Facts {
        poverty: PovertyStatus::parse(&h.poverty_status).map_err(stored)?,
        deaths: i64::from(a.deaths),
        missing: i64::from(a.missing),
        severely_injured: i64::from(a.severely_injured),
        house_damage: HouseDamage::parse(&a.house_damage).map_err(stored)?,
        people_needing_food: i64::from(a.people_needing_food),
        months_of_food: i64::from(a.months_of_food),
    })
}

/// The support lines for an assessment, under the rules in force on the incident's start date
/// (Vietnam time) for the household's province.
pub fn entitlement_views(
    sets: &[RuleSet],
    incident_started_at: i64,
    a: &AssessmentRow,
    h: &HouseholdRow,
) -> Result<Vec<Entitlement>, ApiError> {
    let day = domain::donations::vn_date(incident_started_at)
        .ok_or_else(|| ApiError::Internal("incident date out of range".into()))?;
    let province = (
        h.unit_edition,
        h.unit_path.split('/').next().unwrap_or_default().to_owned(),
    );
    let (national, prov) = in_force(sets, day, &province);
    let national = national.ok_or_else(|| ApiError::Rule {
        code: "no_policy_in_force",
        detail: format!("no national rule set is in force on {day}"),
    })?;
    entitlements(national, prov, &facts_of(a, h)?).map_err(|_| ApiError::Rule {
        code: "amount_overflow",
        detail: "the entitlement amount overflows".into(),
    })
}

/// `GET /v1/assessments/{id}`: one version, with the household's whole history for the incident.
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let a = state
        .read(move |c| storage::relief::assessment(c, &id))
        .await?;
    let h = household_in_scope(&state, &user, a.household_id.clone()).await?;
    let mut note = Note::read("assessment", vec![a.id.clone()]);
    note.unit(h.row.unit_edition, &h.row.unit_path);
    state.log_read(&user, note).await?;
    let (inc, hh) = (a.incident_id.clone(), a.household_id.clone());
    let history = state
        .read(move |c| storage::relief::assessment_history(c, &inc, &hh))
        .await?;
    let mut v = view(&a);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "versions".into(),
            history.iter().map(view).collect::<Vec<_>>().into(),
        );
    }
    Ok(HttpResponse::Ok().json(v))
}

/// `GET /v1/assessments/{id}/entitlements`: the support owed, line by line, with the rule and
/// legal basis that produced each.
pub async fn get_entitlements(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let a = state
        .read(move |c| storage::relief::assessment(c, &id))
        .await?;
    let h = household_in_scope(&state, &user, a.household_id.clone()).await?;
    let inc_id = a.incident_id.clone();
    let (inc, sets) = state
        .read(move |c| {
            Ok((
                storage::relief::incident(c, &inc_id)?,
                storage::relief::rule_sets(c)?,
            ))
        })
        .await?;
    let lines = entitlement_views(&sets, inc.row.started_at, &a, &h.row)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "assessment_id": a.id,
        "assessment_version": a.version,
        "current": a.is_current,
        "household_id": h.row.id,
        "incident_id": inc.row.id,
        "rules_on": domain::donations::vn_date(inc.row.started_at).map(|d| d.to_string()),
        "lines": lines.iter().map(|l| serde_json::json!({
            "category": l.category,
            "asset": l.asset,
            "amount": domain::money::format_amount(l.amount, if l.asset == "RICE_KG" { 3 } else { 0 }),
            "amount_minor": l.amount,
            "basis": l.basis,
            "rule_set_id": l.rule_set_id,
            "legal_basis": l.legal_basis,
            "legal_ref": l.legal_ref,
        })).collect::<Vec<_>>(),
    })))
}
