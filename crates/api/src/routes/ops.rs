//! Operations endpoints: health, readiness, the API contract and its browser.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

/// The committed contract, served as is.
pub const OPENAPI_YAML: &str = include_str!("../../../../openapi.yaml");
const DOCS_HTML: &str = include_str!("docs.html");

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let ready = web::block(move || db.ready())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match ready {
        Ok(true) => Ok(HttpResponse::Ok().json(serde_json::json!({
            "status": "ready",
            "database": state.db.backend().as_str(),
        }))),
        Ok(false) => Err(ApiError::NotReady("database migrations are pending")),
        Err(_) => Err(ApiError::Unavailable),
    }
}

pub async fn openapi_yaml() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml; charset=utf-8")
        .body(OPENAPI_YAML)
}

pub async fn openapi_json() -> Result<HttpResponse, ApiError> {
    let doc: serde_json::Value = serde_yaml::from_str(OPENAPI_YAML)
        .map_err(|e| ApiError::Internal(format!("openapi.yaml: {e}")))?;
    Ok(HttpResponse::Ok().json(doc))
}

pub async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'"))
        .body(DOCS_HTML)
}
