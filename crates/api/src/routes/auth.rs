//! Logging in and asking who one is.

use crate::auth::{issue_token, AuthUser};
use crate::error::ApiError;
use crate::extract::Json;
use crate::routes::UnitRef;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

#[derive(serde::Deserialize)]
pub struct TokenRequest {
    username: String,
    password: String,
}

/// `POST /v1/auth/token`: every failure (unknown user, wrong password, disabled user) is the same
/// 401, and costs the same argon2 verification, so the answer reveals nothing.
pub async fn token(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let TokenRequest { username, password } = body.0;
    let username = username.trim().to_lowercase();
    if username.is_empty() || username.len() > 64 || password.len() > 1024 {
        return Err(ApiError::Unauthorized);
    }
    // Failures count per username and client address, so that a stranger cannot lock a user
    // out from elsewhere by guessing wrong on purpose.
    let client = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let throttle_key = format!("{username}|{client}");
    state.throttle.check(&throttle_key)?;
    state.throttle.check_username(&username)?;
    let lookup = username.clone();
    let user = state
        .read(move |c| storage::users::by_username(c, &lookup))
        .await?;
    let verified = web::block(move || {
        let hash = user
            .as_ref()
            .map_or(domain::users::decoy_hash(), |u| u.password_hash.as_str());
        let ok = domain::users::verify_password(&password, hash);
        user.filter(|u| ok && !u.disabled)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(user) = verified else {
        state.throttle.failed(&throttle_key);
        state.throttle.failed_username(&username);
        tracing::info!("login refused");
        return Err(ApiError::Unauthorized);
    };
    state.throttle.succeeded(&throttle_key);
    let access_token = issue_token(&state.keys, &user.id, state.token_ttl_secs)?;
    tracing::info!(user.id = %user.id, "login");
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": state.token_ttl_secs,
        })))
}

#[derive(serde::Serialize)]
pub struct Me {
    id: String,
    username: String,
    role: domain::users::Role,
    scope_unit: Option<UnitRef>,
}

/// `GET /v1/me`.
pub async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        id: user.id,
        username: user.username,
        role: user.role,
        scope_unit: user.scope.map(|s| UnitRef {
            edition: s.edition,
            code: s.code,
        }),
    })
}
