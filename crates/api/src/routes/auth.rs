//! Logging in and asking who one is.

use crate::auth::{issue_token, session_token, AuthUser, SESSION_COOKIE};
use crate::error::ApiError;
use crate::extract::Json;
use crate::routes::UnitRef;
use crate::state::AppState;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};

#[derive(serde::Deserialize)]
pub struct TokenRequest {
    username: String,
    password: String,
}

/// `POST /v1/auth/token`: every failure (unknown user, wrong password, disabled user) is the same
/// 401, and costs the same argon2 verification, so the answer reveals nothing.
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let access_token = log_in(&state, &req, body.0).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": state.token_ttl_secs,
        })))
}

/// `POST /v1/auth/session`: the web console's login. The same checks as `/v1/auth/token`; the
/// token goes into an `HttpOnly`, `SameSite=Strict` cookie (`Secure` over HTTPS) instead of the
/// body, and the body carries the session's CSRF token and who logged in.
pub async fn session_create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = log_in(&state, &req, body.0).await?;
    let user_id = crate::auth::verify_token(&state.keys, &token).ok_or(ApiError::Unauthorized)?;
    let row = state
        .read(move |c| storage::users::get(c, &user_id))
        .await?;
    let secure = req.connection_info().scheme() == "https";
    let max_age = i64::try_from(state.token_ttl_secs).unwrap_or(i64::MAX);
    let cookie = Cookie::build(SESSION_COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(max_age))
        .finish();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .cookie(cookie)
        .json(serde_json::json!({
            "csrf_token": state.keys.csrf_token(&token),
            "expires_in": state.token_ttl_secs,
            "user": {
                "id": row.id,
                "username": row.username,
                "role": row.role,
                "scope_unit": row.scope_code.map(|code| UnitRef {
                    edition: row.scope_edition.unwrap_or(2025),
                    code,
                }),
            },
        })))
}

/// `GET /v1/auth/session`: who the session cookie belongs to and its CSRF token, for a console
/// page that was reloaded. Without the cookie (a bearer token) there is no CSRF token.
pub async fn session(state: web::Data<AppState>, req: HttpRequest, user: AuthUser) -> HttpResponse {
    let csrf = session_token(&req).map(|t| state.keys.csrf_token(&t));
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({"csrf_token": csrf, "user": me_of(user)}))
}

/// `POST /v1/auth/logout`: clears the session cookie. Tokens are stateless and stop working when
/// they expire or their user is disabled; the cookie holding one is removed here.
pub async fn logout(req: HttpRequest) -> HttpResponse {
    let secure = req.connection_info().scheme() == "https";
    let mut cookie = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish();
    cookie.make_removal();
    HttpResponse::NoContent().cookie(cookie).finish()
}

/// Checks credentials and issues a token; every failure is the same 401.
async fn log_in(
    state: &AppState,
    req: &HttpRequest,
    body: TokenRequest,
) -> Result<String, ApiError> {
    let TokenRequest { username, password } = body;
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
    Ok(access_token)
}

#[derive(serde::Serialize)]
pub struct Me {
    id: String,
    username: String,
    role: domain::users::Role,
    scope_unit: Option<UnitRef>,
}

fn me_of(user: AuthUser) -> Me {
    Me {
        id: user.id,
        username: user.username,
        role: user.role,
        scope_unit: user.scope.map(|s| UnitRef {
            edition: s.edition,
            code: s.code,
        }),
    }
}

/// `GET /v1/me`.
pub async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(me_of(user))
}
