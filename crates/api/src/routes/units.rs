//! Administrative units: the official tree of both editions.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{decode_cursor, page_limit, read_body, Page, Query};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use domain::units::{Edition, Level, UnitCode};
use domain::users::Role;
use storage::units::{UnitFilter, UnitRow};

#[derive(serde::Serialize)]
pub struct UnitView {
    edition: i32,
    code: String,
    name: String,
    level: String,
    division_type: String,
    parent_code: Option<String>,
    valid_from: Option<&'static str>,
    valid_to: Option<&'static str>,
}

impl From<UnitRow> for UnitView {
    fn from(u: UnitRow) -> Self {
        let edition = Edition::parse(i64::from(u.edition)).ok();
        Self {
            edition: u.edition,
            valid_from: edition.and_then(Edition::valid_from),
            valid_to: edition.and_then(Edition::valid_to),
            code: u.code,
            name: u.name,
            level: u.level,
            division_type: u.division_type,
            parent_code: u.parent_code,
        }
    }
}

fn edition_param(e: Option<i64>) -> Result<Edition, ApiError> {
    Edition::parse(e.unwrap_or(2025)).map_err(|e| {
        ApiError::bad_request(
            "invalid_query",
            format!("query parameter edition: {}", e.message),
        )
    })
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    edition: Option<i64>,
    parent: Option<String>,
    level: Option<String>,
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/units`.
pub async fn list(
    state: web::Data<AppState>,
    _user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let edition = edition_param(q.edition)?;
    let limit = page_limit(q.limit)?;
    let filter = UnitFilter {
        parent: q
            .parent
            .map(|p| UnitCode::parse("parent", &p).map(|c| c.to_string()))
            .transpose()
            .map_err(|e| ApiError::query("parent", e.message))?,
        level: q
            .level
            .as_deref()
            .map(Level::parse)
            .transpose()
            .map_err(|e| ApiError::query("level", e.message))?,
        query: q
            .q
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.chars().take(100).collect()),
        after_code: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
    };
    let rows = state
        .read(move |c| storage::units::list(c, edition, &filter))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |u| u.code.clone(),
        UnitView::from,
    )))
}

#[derive(serde::Deserialize)]
pub struct GetQuery {
    edition: Option<i64>,
}

/// `GET /v1/units/{code}`: the unit and its ancestors.
pub async fn get(
    state: web::Data<AppState>,
    _user: AuthUser,
    path: web::Path<String>,
    query: Query<GetQuery>,
) -> Result<HttpResponse, ApiError> {
    let edition = edition_param(query.0.edition)?;
    let code = UnitCode::parse("code", &path.into_inner()).map_err(|_| ApiError::NotFound)?;
    let (unit, lineage) = state
        .read(move |c| {
            let unit = storage::units::get(c, edition, code.as_str())?;
            let lineage = storage::units::lineage(c, &unit)?;
            Ok((unit, lineage))
        })
        .await?;
    let ancestors: Vec<UnitView> = lineage
        .into_iter()
        .filter(|u| u.code != unit.code)
        .map(UnitView::from)
        .collect();
    let mut view = serde_json::to_value(UnitView::from(unit))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(obj) = view.as_object_mut() {
        obj.insert("ancestors".into(), serde_json::json!(ancestors));
    }
    Ok(HttpResponse::Ok().json(view))
}

#[derive(serde::Deserialize)]
pub struct ImportQuery {
    edition: i64,
}

/// The largest unit list accepted by the import endpoint.
const IMPORT_LIMIT: usize = 16 * 1024 * 1024;

/// `POST /v1/units/import?edition=`: an unscoped admin loads a list in the official CSV format;
/// a bad row is a 422 naming its line, and nothing is imported.
pub async fn import(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ImportQuery>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    if !user.is_national() {
        return Err(ApiError::Forbidden(
            "only a national admin may import units",
        ));
    }
    let edition = edition_param(Some(query.0.edition))?;
    let body = read_body(&req, payload, IMPORT_LIMIT).await?;
    let text = String::from_utf8(body)
        .map_err(|_| ApiError::field("body", "the file is not UTF-8 text"))?;
    let rows = storage::units::parse_csv(edition, &text)
        .map_err(|e| ApiError::field(format!("line {}", e.line), e.reason))?;
    let year = edition.year();
    let summary = state
        .write(&user, move |c, note| {
            let summary = storage::units::import(c, &rows)?;
            note.entity("unit_list", &year.to_string())
                .detail(serde_json::to_value(summary).unwrap_or_default());
            Ok(summary)
        })
        .await?;
    tracing::info!(
        units.inserted = summary.inserted,
        units.updated = summary.updated,
        "units imported"
    );
    Ok(HttpResponse::Ok().json(summary))
}
