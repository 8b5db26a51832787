//! The household registry: heads and members, poverty status and vulnerability flags. National
//! ID numbers are kept as a keyed hash and shown only by their last four digits; names and
//! flags are personal data, never logged.

use crate::audit::{page_ids, Note};
use crate::auth::AuthUser;
use crate::error::{ApiError, FieldError};
use crate::extract::{decode_cursor, page_limit, Json, Page, Query};
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::Datelike;
use domain::relief::{check_birth_year, MemberFlag, NationalId, PovertyStatus, Sex};
use domain::units::{Edition, Level, UnitCode};
use domain::users::Role;
use storage::relief::{Household, HouseholdFilter, HouseholdRow, MemberRow};

pub fn view(h: &Household) -> serde_json::Value {
    serde_json::json!({
        "id": h.row.id,
        "unit": {"edition": h.row.unit_edition, "code": h.row.unit_code},
        "head_name": h.row.head_name,
        "address": h.row.address,
        "poverty_status": h.row.poverty_status,
        "members": h.members.iter().map(|m| serde_json::json!({
            "name": m.name,
            "birth_year": m.birth_year,
            "sex": m.sex,
            "flags": if m.flags.is_empty() { Vec::new() } else { m.flags.split(',').collect::<Vec<_>>() },
            "head": m.is_head,
            "national_id_last4": m.id_last4,
        })).collect::<Vec<_>>(),
        "created_at": rfc3339(h.row.created_at),
    })
}

/// Loads a household the caller may see, or 404.
pub async fn household_in_scope(
    state: &AppState,
    user: &AuthUser,
    id: String,
) -> Result<Household, ApiError> {
    let h = state
        .read(move |c| storage::relief::household(c, &id))
        .await?;
    user.visible(h.row.unit_edition, &h.row.unit_path)?;
    Ok(h)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    name: String,
    birth_year: i64,
    sex: String,
    #[serde(default)]
    flags: Vec<String>,
    national_id: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateHousehold {
    unit: String,
    edition: Option<i64>,
    head_name: String,
    head_birth_year: i64,
    head_sex: String,
    #[serde(default)]
    head_flags: Vec<String>,
    national_id: Option<String>,
    address: String,
    poverty_status: String,
    #[serde(default)]
    members: Vec<MemberBody>,
}

/// `POST /v1/households` (admin or fund manager): a household of a commune in scope; the head is
/// its first member.
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateHousehold>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let b = body.0;
    let edition = Edition::parse(b.edition.unwrap_or(2025))
        .map_err(|e| ApiError::field("edition", e.message))?;
    let code = UnitCode::parse("unit", &b.unit)?;
    let c2 = code.clone();
    let unit = match state
        .read(move |c| storage::units::get(c, edition, c2.as_str()))
        .await
    {
        Ok(u) => u,
        Err(ApiError::NotFound) => {
            return Err(ApiError::field(
                "unit",
                format!("no unit {code} in the {edition} edition"),
            ))
        }
        Err(e) => return Err(e),
    };
    if unit.level != Level::Commune.as_str() {
        return Err(ApiError::field(
            "unit",
            "households are registered in a commune",
        ));
    }
    user.require_covers(unit.edition, &unit.path)?;
    let year = domain::donations::vn_date(storage::now_micros()).map_or(2026, |d| d.year());
    let mut errors: Vec<FieldError> = Vec::new();
    let mut push = |e: domain::Invalid| {
        errors.push(FieldError {
            field: e.field,
            message: e.message,
        })
    };
    // The head's name is checked with the members (the head is member 0).
    let head_name = domain::text::required("head_name", &b.head_name, 200).ok();
    let address = domain::text::required("address", &b.address, 500)
        .map_err(&mut push)
        .ok();
    let poverty = PovertyStatus::parse(&b.poverty_status)
        .map_err(&mut push)
        .ok();
    if b.members.len() > 50 {
        push(domain::Invalid::new(
            "members",
            "at most 50 members besides the head",
        ));
    }
    let household_id = domain::ids::EntryId::new().to_string();
    let mut members = Vec::new();
    let all = std::iter::once((
        None,
        b.head_name.clone(),
        b.head_birth_year,
        b.head_sex.clone(),
        b.head_flags.clone(),
        b.national_id.clone(),
    ))
    .chain(b.members.iter().enumerate().map(|(i, m)| {
        (
            Some(i),
            m.name.clone(),
            m.birth_year,
            m.sex.clone(),
            m.flags.clone(),
            m.national_id.clone(),
        )
    }));
    for (idx, (i, name, birth_year, sex, flags, national_id)) in all.enumerate() {
        let f = |n: &str| match (i, n) {
            (None, "name") => "head_name".to_owned(),
            (None, "national_id") => "national_id".to_owned(),
            (None, n) => format!("head_{n}"),
            (Some(i), n) => format!("members[{i}].{n}"),
        };
        let name = domain::text::required(&f("name"), &name, 200)
            .map_err(&mut push)
            .ok();
        let birth = check_birth_year(&f("birth_year"), birth_year, year)
            .map_err(&mut push)
            .ok();
        let sex = Sex::parse(&sex)
            .map_err(|e| domain::Invalid::new(f("sex"), e.message))
            .map_err(&mut push)
            .ok();
        let mut flag_list = Vec::new();
        for fl in &flags {
            match MemberFlag::parse(fl) {
                Ok(x) if !flag_list.contains(&x) => flag_list.push(x),
                Ok(_) => {}
                Err(e) => push(domain::Invalid::new(f("flags"), e.message)),
            }
        }
        let id = national_id
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| NationalId::parse(&f("national_id"), s))
            .transpose()
            .map_err(&mut push)
            .ok()
            .flatten();
        if let (Some(name), Some(birth), Some(sex)) = (name, birth, sex) {
            members.push(MemberRow {
                id: domain::ids::EntryId::new().to_string(),
                household_id: household_id.clone(),
                idx: i32::try_from(idx).unwrap_or(i32::MAX),
                name,
                birth_year: birth,
                sex: sex.as_str().to_owned(),
                flags: flag_list
                    .iter()
                    .map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                is_head: i.is_none(),
                id_hmac: id.as_ref().map(|n| n.keyed_hash(&state.id_key)),
                id_last4: id.as_ref().map(NationalId::last4),
                unit_edition: unit.edition,
                unit_code: unit.code.clone(),
            });
        }
    }
    let (Some(head_name), Some(address), Some(poverty), true) =
        (head_name, address, poverty, errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };
    let row = HouseholdRow {
        id: household_id,
        unit_edition: unit.edition,
        unit_code: unit.code.clone(),
        unit_path: unit.path.clone(),
        head_name_folded: domain::text::fold(&head_name),
        head_name,
        address,
        poverty_status: poverty.as_str().to_owned(),
        created_at: storage::now_micros(),
        created_by: user.id.clone(),
    };
    let v = state
        .write(&user, move |c, note| {
            let h = storage::relief::create_household(c, &row, &members)?;
            let v = view(&h);
            note.entity("household", &h.row.id)
                .unit(h.row.unit_edition, &h.row.unit_path)
                .detail(v.clone());
            Ok(v)
        })
        .await?;
    tracing::info!(household.id = %v["id"].as_str().unwrap_or_default(), "household registered");
    Ok(HttpResponse::Created().json(v))
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    unit: Option<String>,
    edition: Option<i64>,
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/households?unit=&q=`: households in the caller's scope (and under the given unit),
/// by head's name with or without diacritics.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let limit = page_limit(q.limit)?;
    let within = match &q.unit {
        Some(code) => {
            let u = crate::routes::query_unit(&state, code, q.edition).await?;
            user.visible(u.edition, &u.path)?;
            Some((u.edition, u.path))
        }
        None => user.scope.as_ref().map(|s| (s.edition, s.path.clone())),
    };
    let filter = HouseholdFilter {
        within,
        query: q.q.filter(|s| !s.trim().is_empty()),
        after_id: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
    };
    let mut note = Note::read("household", Vec::new());
    if let Some((e, p)) = &filter.within {
        note.unit(*e, p);
    }
    let rows = state
        .read(move |c| storage::relief::households(c, &filter))
        .await?;
    let ids = page_ids(rows.iter().map(|h| h.row.id.clone()), limit);
    note.detail(serde_json::json!({ "read": ids }));
    state.log_read(&user, note).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |h| h.row.id.clone(),
        |h| view(&h),
    )))
}

/// `GET /v1/households/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let h = household_in_scope(&state, &user, path.into_inner()).await?;
    let mut note = Note::read("household", vec![h.row.id.clone()]);
    note.unit(h.row.unit_edition, &h.row.unit_path);
    state.log_read(&user, note).await?;
    Ok(HttpResponse::Ok().json(view(&h)))
}
