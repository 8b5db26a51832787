//! Authentication (JWT bearer tokens) and the one place where role and scope are checked.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::ResponseError;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use domain::units::path_within;
use domain::users::Role;
use futures_util::future::LocalBoxFuture;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const ISSUER: &str = "relief";
pub const AUDIENCE: &str = "relief-api";
/// The routes that write without a user: logging in (they take credentials) and out.
const ANONYMOUS_WRITES: &[&str] = &["/v1/auth/token", "/v1/auth/session", "/v1/auth/logout"];
/// The web console's session cookie: the same token as a bearer token, `HttpOnly`.
pub const SESSION_COOKIE: &str = "relief_session";
/// The header that must carry the session's CSRF token on every write made with the cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The HMAC key that signs and checks tokens.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Derives a session's CSRF token from its session token.
    csrf: Vec<u8>,
}

impl Keys {
    pub fn from_secret(secret: &[u8]) -> Result<Self, jsonwebtoken::errors::Error> {
        let mut csrf = Vec::with_capacity(secret.len() + 5);
        csrf.extend_from_slice(b"csrf:");
        csrf.extend_from_slice(secret);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            csrf,
        })
    }

    /// The CSRF token of a session: an HMAC of its session token, so that only a page that was
    /// given it (by `/v1/auth/session`) can write with the session's cookie.
    pub fn csrf_token(&self, session_token: &str) -> String {
        hex::encode(self.csrf_mac(session_token).finalize().into_bytes())
    }

    /// Checks a CSRF token in constant time.
    fn csrf_matches(&self, session_token: &str, presented: &str) -> bool {
        hex::decode(presented)
            .map(|bytes| self.csrf_mac(session_token).verify_slice(&bytes).is_ok())
            .unwrap_or(false)
    }

    fn csrf_mac(&self, session_token: &str) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.csrf)
            .unwrap_or_else(|_| unreachable!("HMAC keys have no length limit"));
        mac.update(session_token.as_bytes());
        mac
    }
}

/// Where a request's token came from.
enum Credential {
    Bearer(String),
    /// The console's cookie, with the CSRF header the request carried, if any.
    Cookie {
        token: String,
        csrf: Option<String>,
    },
}

fn credential(req: &HttpRequest) -> Option<Credential> {
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| Credential::Bearer(t.trim().to_owned()));
    bearer.or_else(|| {
        req.cookie(SESSION_COOKIE).map(|c| Credential::Cookie {
            token: c.value().to_owned(),
            csrf: req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    })
}

/// Whether a request carries a bearer token or a session cookie.
fn has_credential(req: &HttpRequest) -> bool {
    req.headers()
        .contains_key(actix_web::http::header::AUTHORIZATION)
        || req.cookie(SESSION_COOKIE).is_some()
}

/// The session token of a request made with the console's cookie.
pub fn session_token(req: &HttpRequest) -> Option<String> {
    match credential(req)? {
        Credential::Cookie { token, .. } => Some(token),
        Credential::Bearer(_) => None,
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

pub fn issue_token(keys: &Keys, user_id: &str, ttl_secs: u64) -> Result<String, ApiError> {
    let now = unix_now();
    let claims = Claims {
        sub: user_id.to_owned(),
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        iat: now,
        nbf: now,
        exp: now + ttl_secs,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .map_err(|e| ApiError::Internal(format!("cannot sign token: {e}")))
}

/// Checks signature (HS256 only, so `alg: none` and other algorithms fail), issuer, audience,
/// expiry and not-before; returns the user id.
pub fn verify_token(keys: &Keys, token: &str) -> Option<String> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.validate_nbf = true;
    v.leeway = 5;
    v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Claims>(token, &keys.decoding, &v)
        .ok()
        .map(|d| d.claims.sub)
}

/// The unit subtree a user acts within.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scope {
    pub edition: i32,
    pub code: String,
    #[serde(skip)]
    pub path: String,
}

/// The authenticated caller, loaded from the database on every request so that a disabled or
/// deleted user's tokens stop working at once.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub scope: Option<Scope>,
    /// The request being served, for the audit trail.
    pub request: RequestMeta,
}

/// The request an [`AuthUser`] was loaded for.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    /// The method and route pattern, such as `POST /v1/donations/{id}/reverse`.
    pub action: String,
}

impl AuthUser {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("your role does not allow this action"))
        }
    }

    /// Whether the unit at `path` of `edition` lies in the caller's scope. An unscoped caller
    /// sees every unit; a scoped one only its subtree, in its scope's edition.
    pub fn covers(&self, edition: i32, path: &str) -> bool {
        match &self.scope {
            None => true,
            Some(s) => s.edition == edition && path_within(path, &s.path),
        }
    }

    /// Whether the caller acts for the whole country (no unit scope).
    pub fn is_national(&self) -> bool {
        self.scope.is_none()
    }

    /// Whether the caller may administer a user with the given scope: a national caller anyone,
    /// a scoped caller only users scoped inside their own subtree.
    pub fn covers_scope(&self, edition: Option<i32>, path: Option<&str>) -> bool {
        match (edition, path) {
            (Some(e), Some(p)) => self.covers(e, p),
            _ => self.is_national(),
        }
    }

    /// 403 unless the unit is in scope (for writes; reads answer 404 instead, see
    /// [`AuthUser::visible`]).
    pub fn require_covers(&self, edition: i32, path: &str) -> Result<(), ApiError> {
        if self.covers(edition, path) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("the unit is outside your scope"))
        }
    }

    /// 404 unless the unit is in scope, so that a read does not reveal what exists elsewhere.
    pub fn visible(&self, edition: i32, path: &str) -> Result<(), ApiError> {
        if self.covers(edition, path) {
            Ok(())
        } else {
            Err(ApiError::NotFound)
        }
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Loaded already by `writes_authenticated_first`.
        if let Some(user) = req.extensions().get::<AuthUser>().cloned() {
            return Box::pin(async move { Ok(user) });
        }
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let credential = credential(req);
        let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let request = RequestMeta {
            request_id: req
                .extensions()
                .get::<tracing_actix_web::RequestId>()
                .map(|r| r.to_string())
                .unwrap_or_default(),
            action: format!(
                "{} {}",
                req.method(),
                req.match_pattern().unwrap_or_else(|| req.path().to_owned())
            ),
        };
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let token = match credential.ok_or(ApiError::Unauthorized)? {
                Credential::Bearer(token) => token,
                // A write made with the cookie must show the session's CSRF token, which a page
                // of another site cannot know.
                Credential::Cookie { token, csrf } => {
                    if writes
                        && !csrf
                            .is_some_and(|presented| state.keys.csrf_matches(&token, &presented))
                    {
                        return Err(ApiError::Forbidden(
                            "a write with the session cookie needs its CSRF token in X-CSRF-Token",
                        ));
                    }
                    token
                }
            };
            let user_id = verify_token(&state.keys, &token).ok_or(ApiError::Unauthorized)?;
            let row = match state.read(move |c| storage::users::get(c, &user_id)).await {
                Ok(row) => row,
                Err(ApiError::NotFound) => return Err(ApiError::Unauthorized),
                Err(e) => return Err(e),
            };
            if row.disabled {
                return Err(ApiError::Unauthorized);
            }
            let role = Role::parse(&row.role)
                .map_err(|e| ApiError::Internal(format!("stored role: {e}")))?;

            let scope = match (row.scope_edition, row.scope_code, row.scope_path) {
                (Some(edition), Some(code), Some(path)) => Some(Scope {
                    edition,
                    code,
                    path,
                }),
                _ => None,
            };
            let user = AuthUser {
                id: row.id,
                username: row.username,
                role,
                scope,
                request,
            };
            tracing::Span::current().record("user.id", tracing::field::display(&user.id));
            Ok(user)
        })
    }
}

/// Middleware: a request that writes and carries a token has its user loaded before anything
/// else, so that an auditor's write is a 403 whatever its body (auditors never write), and the
/// handler's [`AuthUser`] is the one loaded here. A token that does not verify is a 401 at once,
/// so that a refused caller learns nothing about how its body would have been judged.
pub async fn writes_authenticated_first(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if writes && !ANONYMOUS_WRITES.contains(&req.path()) && has_credential(req.request()) {
        match AuthUser::from_request(req.request(), &mut Payload::None).await {
            Ok(user) if user.role == Role::Auditor => {
                let res = ApiError::Forbidden("auditors have read-only access").error_response();
                return Ok(req.into_response(res).map_into_right_body());
            }
            Ok(user) => {
                req.extensions_mut().insert(user);
            }
            // A token that does not verify, or whose user is disabled or gone, is a 401 before
            // the body is looked at, whatever the body (logging in and out take no user, so a
            // stale token does not stop them).
            // The database being down is a 503 here too, not a second wait in the handler.
            Err(e) => {
                let res = e.error_response();
                return Ok(req.into_response(res).map_into_right_body());
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Counts failed logins per key (username and client address); after
/// [`LoginThrottle::MAX_FAILURES`] failures within [`LoginThrottle::WINDOW`], the key is refused
/// (429) until the window has passed. Kept in
/// memory: a restart forgets it, which is acceptable for a single-instance service.
#[derive(Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    pub const MAX_FAILURES: u32 = 5;
    /// Failures for one username from all addresses together before it is refused everywhere:
    /// guessing from many addresses is slowed too.
    pub const MAX_FAILURES_PER_USERNAME: u32 = 50;
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    const MAX_TRACKED: usize = 100_000;

    /// `Err` with the seconds to wait while the key is locked.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        self.check_limit(key, Self::MAX_FAILURES)
    }

    /// `Err` while the username as a whole is locked (see [`Self::MAX_FAILURES_PER_USERNAME`]).
    pub fn check_username(&self, username: &str) -> Result<(), ApiError> {
        self.check_limit(&format!("user:{username}"), Self::MAX_FAILURES_PER_USERNAME)
    }

    /// Counts a failure against the username from every address.
    pub fn failed_username(&self, username: &str) {
        self.failed(&format!("user:{username}"));
    }

    fn check_limit(&self, key: &str, max: u32) -> Result<(), ApiError> {
        let entries = self
            .entries
            .lock()
            .map_err(|_| ApiError::Internal("throttle lock".into()))?;
        match entries.get(key) {
            Some(&(n, since)) if n >= max && since.elapsed() < Self::WINDOW => {
                Err(ApiError::TooManyRequests {
                    retry_after_secs: (Self::WINDOW - since.elapsed()).as_secs().max(1),
                })
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, username: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::MAX_TRACKED {
                entries.retain(|_, (_, since)| since.elapsed() < Self::WINDOW);
            }
            let e = entries
                .entry(username.to_owned())
                .or_insert((0, Instant::now()));
            if e.1.elapsed() >= Self::WINDOW {
                *e = (0, Instant::now());
            }
            e.0 += 1;
        }
    }

    pub fn succeeded(&self, username: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(username);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_other_keys() {
        let k = Keys::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
        let other = Keys::from_secret(b"another key entirely, 32 bytes!!").unwrap();
        let t = issue_token(&k, "u1", 60).unwrap();
        assert_eq!(verify_token(&k, &t).as_deref(), Some("u1"));
        assert_eq!(verify_token(&other, &t), None);
        assert_eq!(verify_token(&k, "not.a.token"), None);
    }

    #[test]
    fn throttle_locks_after_max_failures() {
        let t = LoginThrottle::default();
        for _ in 0..LoginThrottle::MAX_FAILURES {
            assert!(t.check("a").is_ok());
            t.failed("a");
        }
        assert!(matches!(
            t.check("a"),
            Err(ApiError::TooManyRequests { .. })
        ));
        assert!(t.check("b").is_ok());
        t.succeeded("a");
        assert!(t.check("a").is_ok());
    }

    #[test]
    fn a_username_is_locked_after_failures_from_many_addresses() {
        let t = LoginThrottle::default();
        for i in 0..LoginThrottle::MAX_FAILURES_PER_USERNAME {
            assert!(t.check_username("admin").is_ok());
            t.failed(&format!("admin|10.0.0.{i}"));
            t.failed_username("admin");
        }
        assert!(matches!(
            t.check_username("admin"),
            Err(ApiError::TooManyRequests { .. })
        ));
        assert!(t.check_username("other").is_ok());
    }
}
