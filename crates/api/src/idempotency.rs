//! `Idempotency-Key` for POSTs that move money or create records: the same key and body replay
//! the stored answer (`Idempotent-Replayed: true`), the same key with another body is a 422, and
//! a refusal is stored like a success so that a rejected request stays rejected on retry.

use crate::audit::{self, Note};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use storage::{DbConnection, StoreError};

pub const HEADER: &str = "Idempotency-Key";

/// The request's key: at most 255 visible ASCII characters. `required` makes a missing key 400.
pub fn key(req: &HttpRequest, required: bool) -> Result<Option<String>, ApiError> {
    match req.headers().get(HEADER) {
        None if required => Err(ApiError::bad_request(
            "idempotency_key_required",
            "this request moves money: send an Idempotency-Key header (a unique value per operation, such as a UUID)",
        )),
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().unwrap_or_default().trim();
            if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                return Err(ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1 to 255 visible ASCII characters",
                ));
            }
            Ok(Some(s.to_owned()))
        }
    }
}

/// What identifies "the same request": method, path, query string and body.
pub fn fingerprint(req: &HttpRequest, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(req.method().as_str());
    h.update(b" ");
    h.update(req.path());
    h.update(b"?");
    h.update(req.query_string());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

/// Runs `work` (which returns a status and a JSON body) at most once per key, in one
/// transaction, and answers with its result or the stored one.
pub async fn run<F>(
    state: &AppState,
    user: &AuthUser,
    key: Option<String>,
    fingerprint: String,
    mut work: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnMut(&mut DbConnection, &mut Note) -> Result<(StatusCode, serde_json::Value), StoreError>
        + Send
        + 'static,
{
    let Some(key) = key else {
        let (status, body) = state.write(user, work).await?;
        return Ok(HttpResponse::build(status).json(body));
    };
    let user = user.clone();
    // The audit event is written with the key, after the work: a replay writes none, and a
    // refusal leaves none.
    let answer = state
        .with_db(move |db| {
            storage::idempotency::run(
                db,
                &user.id,
                &key,
                &fingerprint,
                &mut |c| {
                    let mut note = Note::default();
                    let (s, v) = work(c, &mut note)?;
                    Ok(storage::idempotency::Done {
                        status: s.as_u16(),
                        body: v.to_string(),
                        event: Some(audit::event(c, &user, note)?),
                    })
                },
                &|e| {
                    ApiError::refusal(e).map(|a| {
                        use actix_web::ResponseError;
                        (a.status_code().as_u16(), a.problem_body().to_string())
                    })
                },
            )
        })
        .await?;
    let status = StatusCode::from_u16(answer.status)
        .map_err(|_| ApiError::Internal(format!("stored status {}", answer.status)))?;
    let mut res = HttpResponse::build(status);
    res.content_type(if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    });
    if answer.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.body(answer.body))
}
