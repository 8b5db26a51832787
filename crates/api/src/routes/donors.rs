//! Donors. Contact details are personal data: shown only to admins, fund managers and auditors
//! whose scope covers the unit where the donor was recorded, and never logged.

use crate::audit::{page_ids, Note};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{decode_cursor, page_limit, Json, Page, Query};
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use domain::donations::DonorKind;
use domain::users::Role;
use storage::donors::DonorRow;

/// The roles that may read donors' contact details.
pub const DONOR_READERS: &[Role] = &[Role::Admin, Role::FundManager, Role::Auditor];

pub fn view(d: DonorRow) -> serde_json::Value {
    serde_json::json!({
        "id": d.id,
        "kind": d.kind,
        "name": d.name,
        "phone": d.phone,
        "email": d.email,
        "address": d.address,
        "tax_code": d.tax_code,
        "country": d.country,
        "publish_name": d.publish_name,
        "created_at": rfc3339(d.created_at),
    })
}

#[derive(serde::Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct NewDonor {
    pub kind: String,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub tax_code: Option<String>,
    pub country: Option<String>,
    pub publish_name: Option<bool>,
}

/// Checks a new donor; `prefix` names the fields (`donor.` when nested in a donation).
pub fn check(user: &AuthUser, b: &NewDonor, prefix: &str) -> Result<DonorRow, ApiError> {
    let f = |n: &str| format!("{prefix}{n}");
    let kind = DonorKind::parse(&b.kind).map_err(|e| ApiError::field(f("kind"), e.message))?;
    let name = domain::text::required(&f("name"), &b.name, 300)?;
    let opt = |v: &Option<String>, n: &str, max: usize| {
        v.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| domain::text::required(&f(n), s, max))
            .transpose()
    };
    let phone = opt(&b.phone, "phone", 30)?;
    if let Some(p) = &phone {
        if !p
            .chars()
            .all(|c| c.is_ascii_digit() || " +-.()".contains(c))
        {
            return Err(ApiError::field(
                f("phone"),
                "must be digits, spaces, +, -, . or parentheses",
            ));
        }
    }
    let email = opt(&b.email, "email", 200)?;
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(ApiError::field(f("email"), "must be an email address"));
    }
    Ok(DonorRow {
        id: domain::ids::EntryId::new().to_string(),
        kind: kind.as_str().to_owned(),
        name_folded: domain::text::fold(&name),
        name,
        phone,
        email,
        address: opt(&b.address, "address", 500)?,
        tax_code: opt(&b.tax_code, "tax_code", 20)?,
        country: opt(&b.country, "country", 100)?,
        publish_name: b.publish_name.unwrap_or(kind.published_by_default()),
        scope_edition: user.scope.as_ref().map(|s| s.edition),
        scope_path: user.scope.as_ref().map(|s| s.path.clone()),
        created_at: storage::now_micros(),
        created_by: user.id.clone(),
    })
}

/// `POST /v1/donors` (admin or fund manager).
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<NewDonor>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let row = check(&user, &body.0, "")?;
    let saved = row.clone();
    state
        .write(&user, move |c, note| {
            note.entity("donor", &row.id).detail(view(row.clone()));
            if let (Some(e), Some(p)) = (row.scope_edition, &row.scope_path) {
                note.unit(e, p);
            }
            storage::donors::insert(c, &row)
        })
        .await?;
    Ok(HttpResponse::Created().json(view(saved)))
}

/// Loads a donor the caller may read, or 404.
pub async fn donor_in_scope(
    state: &AppState,
    user: &AuthUser,
    id: String,
) -> Result<DonorRow, ApiError> {
    user.require(DONOR_READERS)?;
    let d = state.read(move |c| storage::donors::get(c, &id)).await?;
    if user.covers_scope(d.scope_edition, d.scope_path.as_deref()) {
        Ok(d)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `GET /v1/donors/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = donor_in_scope(&state, &user, path.into_inner()).await?;
    let mut note = Note::read("donor", vec![d.id.clone()]);
    if let (Some(e), Some(p)) = (d.scope_edition, &d.scope_path) {
        note.unit(e, p);
    }
    state.log_read(&user, note).await?;
    Ok(HttpResponse::Ok().json(view(d)))
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/donors?q=`: donors recorded in the caller's scope, by name with or without
/// diacritics.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    user.require(DONOR_READERS)?;
    let q = query.0;
    let limit = page_limit(q.limit)?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let within = user.scope.as_ref().map(|s| (s.edition, s.path.clone()));
    let text = q.q.filter(|s| !s.trim().is_empty());
    let rows = state
        .read(move |c| {
            storage::donors::search(
                c,
                within.as_ref().map(|(e, p)| (*e, p.as_str())),
                text.as_deref(),
                after.as_deref(),
                limit,
            )
        })
        .await?;
    let ids = page_ids(rows.iter().map(|d| d.id.clone()), limit);
    state
        .log_read(&user, Note::read("donor", ids).scoped(&user))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |d| d.id.clone(), view)))
}
