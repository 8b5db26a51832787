//! Assets: currencies and relief goods.

use crate::auth::AuthUser;
use crate::error::{ApiError, FieldError};
use crate::extract::Json;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use domain::users::Role;
use storage::assets::AssetRow;

#[derive(serde::Serialize)]
pub struct AssetView {
    code: String,
    name: String,
    unit: String,
    scale: i32,
    kind: String,
}

impl From<AssetRow> for AssetView {
    fn from(a: AssetRow) -> Self {
        Self {
            code: a.code,
            name: a.name,
            unit: a.unit,
            scale: a.scale,
            kind: a.kind,
        }
    }
}

/// `GET /v1/assets`.
pub async fn list(state: web::Data<AppState>, _user: AuthUser) -> Result<HttpResponse, ApiError> {
    let rows = state.read(storage::assets::list).await?;
    let items: Vec<AssetView> = rows.into_iter().map(AssetView::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items, "next_cursor": null })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAsset {
    code: String,
    name: String,
    unit: String,
    scale: i64,
    kind: String,
}

/// `POST /v1/assets` (admin).
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateAsset>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    if !user.is_national() {
        return Err(ApiError::Forbidden(
            "assets are shared by every fund: only a national admin may add one",
        ));
    }
    let b = body.0;
    let mut errors = Vec::new();
    let mut check = |r: Result<String, domain::Invalid>| match r {
        Ok(v) => v,
        Err(e) => {
            errors.push(FieldError {
                field: e.field,
                message: e.message,
            });
            String::new()
        }
    };
    let code = check(domain::money::parse_asset_code("code", &b.code));
    let name = check(domain::text::required("name", &b.name, 200));
    let unit = check(domain::text::required("unit", &b.unit, 50));
    let kind = check(if b.kind == "currency" || b.kind == "goods" {
        Ok(b.kind.clone())
    } else {
        Err(domain::Invalid::new("kind", "must be currency or goods"))
    });
    if !(0..=i64::from(domain::money::MAX_SCALE)).contains(&b.scale) {
        errors.push(FieldError {
            field: "scale".into(),
            message: format!("must be between 0 and {}", domain::money::MAX_SCALE),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let row = AssetRow {
        code,
        name,
        unit,
        scale: i32::try_from(b.scale).map_err(|_| ApiError::field("scale", "out of range"))?,
        kind,
        created_at: storage::now_micros(),
    };
    let view = AssetView::from(row.clone());
    let detail = serde_json::to_value(&view).unwrap_or_default();
    state
        .write(&user, move |c, note| {
            note.entity("asset", &row.code).detail(detail.clone());
            storage::assets::insert(c, &row)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}
