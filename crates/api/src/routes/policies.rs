//! Entitlement rule sets: the national defaults and province overrides, versioned by dates.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use domain::policy::RuleSetDoc;
use domain::units::{Edition, Level, UnitCode};
use domain::users::Role;
use storage::relief::PolicyRow;

fn view(p: &PolicyRow) -> serde_json::Value {
    let rules: serde_json::Value =
        serde_json::from_str(&p.rules).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "id": p.id,
        "legal_basis": p.legal_basis,
        "province": p.province_code.as_ref().map(|c| serde_json::json!({"edition": p.province_edition, "code": c})),
        "effective_from": p.effective_from,
        "effective_to": p.effective_to,
        "standard_level_vnd": p.standard_level_vnd.to_string(),
        "rules": rules,
        "created_at": rfc3339(p.created_at),
    })
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    province: Option<String>,
    edition: Option<i64>,
    on: Option<String>,
}

/// `GET /v1/policies?province=&on=`: rule sets, national and of the province, in force on a date
/// when `on` is given.
pub async fn list(
    state: web::Data<AppState>,
    _user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let on =
        q.on.as_deref()
            .map(|s| domain::donations::parse_date("on", s))
            .transpose()
            .map_err(|e| ApiError::query("on", e.message))?;
    let edition = Edition::parse(q.edition.unwrap_or(2025))
        .map_err(|e| ApiError::query("edition", e.message))?
        .year();
    let rows = state.read(storage::relief::policies).await?;
    let items: Vec<serde_json::Value> = rows
        .iter()
        .filter(|p| match (&q.province, &p.province_code) {
            (_, None) => true,
            (Some(want), Some(code)) => want == code && p.province_edition == Some(edition),
            (None, Some(_)) => true,
        })
        .filter(|p| match on {
            None => true,
            Some(day) => p.rule_set().is_ok_and(|s| s.in_force_on(day)),
        })
        .map(view)
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items, "next_cursor": null })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicy {
    province: String,
    edition: Option<i64>,
    #[serde(flatten)]
    doc: RuleSetDoc,
}

/// `POST /v1/policies` (national admin): a province's rule set. It may only pay more than the
/// national rules in force over its dates.
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreatePolicy>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    if !user.is_national() {
        return Err(ApiError::Forbidden(
            "only a national admin may add entitlement rules",
        ));
    }
    let b = body.0;
    let edition = Edition::parse(b.edition.unwrap_or(2025))
        .map_err(|e| ApiError::field("edition", e.message))?;
    let code = UnitCode::parse("province", &b.province)?;
    if code.level() != Level::Province {
        return Err(ApiError::field(
            "province",
            "must be a province code such as P48",
        ));
    }
    let c2 = code.clone();
    let province = match state
        .read(move |c| storage::units::get(c, edition, c2.as_str()))
        .await
    {
        Ok(u) => u,
        Err(ApiError::NotFound) => {
            return Err(ApiError::field(
                "province",
                format!("no province {code} in the {edition} edition"),
            ))
        }
        Err(e) => return Err(e),
    };
    let set = b.doc.parse(
        domain::ids::EntryId::new().to_string(),
        Some((edition.year(), code.to_string())),
    )?;
    let rules = b.doc.rules.clone();
    let actor = user.id.clone();
    let row = state
        .write(&user, move |c, note| {
            let row = storage::relief::insert_policy(c, &set, &rules, Some(&actor))?;
            note.entity("policy", &row.id)
                .unit(province.edition, &province.path)
                .detail(view(&row));
            Ok(row)
        })
        .await?;
    tracing::info!(policy.id = %row.id, "province rule set added");
    Ok(HttpResponse::Created().json(view(&row)))
}
