//! Request extractors whose failures are problem+json and name the offending field.

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

/// The largest JSON body accepted.
pub const JSON_LIMIT: usize = 256 * 1024;

/// A JSON body: 415 if not JSON, 413 if over [`JSON_LIMIT`], 400 if malformed, 422 naming the
/// field if well formed but of the wrong shape. The raw bytes are kept for idempotency
/// fingerprints.
pub struct Json<T>(pub T, pub web::Bytes);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json") || m.ends_with("+json")
            })
            .unwrap_or(false);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > JSON_LIMIT) {
                return Err(ApiError::PayloadTooLarge { limit: JSON_LIMIT });
            }
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|e| ApiError::bad_request("body_unreadable", e.to_string()))?;
                if body.len() + chunk.len() > JSON_LIMIT {
                    return Err(ApiError::PayloadTooLarge { limit: JSON_LIMIT });
                }
                body.extend_from_slice(&chunk);
            }
            let body = body.freeze();
            parse_json(&body).map(|v| Json(v, body))
        })
    }
}

/// Parses JSON, telling a malformed document (400) from a well-formed one of the wrong shape
/// (422 with the path of the field).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de);
    if parsed.is_ok() {
        de.end().map_err(|e| {
            ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        })?;
    }
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            // A shape error in a document that is not even valid JSON is a malformed body, and
            // so is one nested deeper than serde_json's recursion limit (128 levels) allows,
            // which `Value` enforces (`IgnoredAny` would skip any depth without a limit).
            if let Err(syntax) = serde_json::from_slice::<serde_json::Value>(body) {
                return Err(ApiError::bad_request(
                    "malformed_json",
                    format!("the body is not valid JSON: {syntax}"),
                ));
            }
            if inner.is_data() {
                let field = if path == "." {
                    missing_field(&inner)
                } else {
                    path
                };
                Err(ApiError::field(
                    field,
                    clean_serde_message(&inner.to_string()),
                ))
            } else {
                Err(ApiError::bad_request(
                    "malformed_json",
                    format!("the body is not valid JSON: {inner}"),
                ))
            }
        }
    }
}

/// serde reports a missing field at the parent's path; take the name from its message.
fn missing_field(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    msg.split('`')
        .nth(1)
        .filter(|_| msg.starts_with("missing field"))
        .unwrap_or(".")
        .to_owned()
}

/// Drops serde's "at line 1 column 7" suffix, which means nothing to an API user.
fn clean_serde_message(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// A query string: 400 naming the parameter when it cannot be read.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes());
        // No stored text holds a NUL (PostgreSQL cannot store one), so a parameter with one matches
        // nothing; refused here, it never reaches a query, where PostgreSQL would fail on it.
        if let Some((name, _)) = pairs
            .clone()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            let name = if name.contains('\0') {
                "name"
            } else {
                name.as_ref()
            };
            return std::future::ready(Err(ApiError::query(
                name,
                "must not contain NUL characters",
            )));
        }
        let de = serde_urlencoded::Deserializer::new(pairs);
        std::future::ready(
            serde_path_to_error::deserialize::<_, T>(de)
                .map(Query)
                .map_err(|e| {
                    let path = e.path().to_string();
                    let msg = e.into_inner().to_string();
                    let field = if path == "." {
                        msg.split('`').nth(1).unwrap_or("query").to_owned()
                    } else {
                        path
                    };
                    ApiError::BadRequest {
                        code: "invalid_query",
                        detail: format!("query parameter {field}: {msg}"),
                    }
                }),
        )
    }
}

/// An opaque list cursor: the last key of the previous page, hex-encoded.
pub fn encode_cursor(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_cursor",
            "query parameter cursor: not a cursor this service issued",
        )
    };
    if !cursor.len().is_multiple_of(2) || cursor.len() > 512 {
        return Err(bad());
    }
    let bytes: Result<Vec<u8>, _> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2).unwrap_or("zz"), 16))
        .collect();
    let key = String::from_utf8(bytes.map_err(|_| bad())?).map_err(|_| bad())?;
    // Keys are stored text, which never holds a NUL (PostgreSQL would refuse it in a query).
    if key.contains('\0') {
        return Err(bad());
    }
    Ok(key)
}

/// A cursor that holds a ledger seq (entries, checkpoints).
pub fn seq_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    cursor
        .map(|c| {
            decode_cursor(c)?.parse::<i64>().map_err(|_| {
                ApiError::bad_request(
                    "invalid_cursor",
                    "query parameter cursor: not a cursor this service issued",
                )
            })
        })
        .transpose()
}

/// A page size from `?limit=`: 50 by default, 1 to 500.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_request(
            "invalid_query",
            "query parameter limit: must be between 1 and 500",
        )),
    }
}

/// A page of a list response.
#[derive(serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` rows: the extra row only says that there is a next page.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: i64,
        key: impl Fn(&R) -> String,
        map: impl FnMut(R) -> T,
    ) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&key(r)))
        } else {
            None
        };
        Self {
            items: rows.into_iter().map(map).collect(),
            next_cursor,
        }
    }
}

/// Reads a raw body of at most `limit` bytes (413 beyond).
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("body_unreadable", e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    fn fields(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Validation(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        assert!(matches!(
            parse_json::<Body>(b"{nope"),
            Err(ApiError::BadRequest { .. })
        ));
        assert_eq!(
            fields(parse_json::<Body>(br#"{"name":"a","inner":{"n":"x"}}"#).unwrap_err()),
            ["inner.n"]
        );
        assert_eq!(
            fields(parse_json::<Body>(br#"{"inner":{"n":1}}"#).unwrap_err()),
            ["name"]
        );
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor("C21550")).unwrap(), "C21550");
        assert!(decode_cursor("zz").is_err());
        // A NUL could not have been issued, and PostgreSQL would fail on it.
        assert!(decode_cursor("00").is_err());
        assert!(decode_cursor("410042").is_err());
    }
}
