//! The one error type at the HTTP boundary. Every error, including malformed JSON, unknown routes
//! and oversized bodies, leaves as `application/problem+json` (RFC 9457) with a stable `code`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use storage::StoreError;

/// A field that failed validation, named by its JSON path.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, a bad query string or path).
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// 401: no token, or a token that is not valid now, or wrong credentials. Never says which.
    #[error("authentication required")]
    Unauthorized,
    /// 403: authenticated but outside the role or scope.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: unknown, or outside the caller's scope for reads.
    #[error("not found")]
    NotFound,
    /// 404: no route serves the path.
    #[error("no route")]
    NoRoute,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: conflicts with the current state.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("request body too large")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422: readable but invalid fields.
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    /// 422: a business rule refuses the request.
    #[error("{detail}")]
    Rule { code: &'static str, detail: String },
    /// 429: too many attempts; retry after the given seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503: the database cannot be reached.
    #[error("service unavailable")]
    Unavailable,
    /// 503: up, but not ready to serve (for `/readyz`).
    #[error("not ready: {0}")]
    NotReady(&'static str),
    /// 500: the cause is logged once and never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// 400 for a query parameter that cannot be used.
    pub fn query(name: &str, message: impl std::fmt::Display) -> Self {
        Self::bad_request(
            "invalid_query",
            format!("query parameter {name}: {message}"),
        )
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::Rule { code, .. } => code,
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::NoRoute => "no_route",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable => "service_unavailable",
            Self::NotReady(_) => "not_ready",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "Malformed request",
            Self::Unauthorized => "Authentication required",
            Self::Forbidden(_) => "Forbidden",
            Self::NotFound | Self::NoRoute => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict { .. } => "Conflict",
            Self::PayloadTooLarge { .. } => "Request body too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::Validation(_) => "Invalid request content",
            Self::Rule { .. } => "Request refused by a rule",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::Unavailable | Self::NotReady(_) => "Service unavailable",
            Self::Internal(_) => "Internal server error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::BadRequest { detail, .. }
            | Self::Conflict { detail, .. }
            | Self::Rule { detail, .. } => detail.clone(),
            Self::Unauthorized => "a valid bearer token or valid credentials are required".into(),
            Self::Forbidden(why) => (*why).to_owned(),
            Self::NotFound => "no such resource".into(),
            Self::NoRoute => "no route serves this path".into(),
            Self::MethodNotAllowed => "this method is not allowed on this resource".into(),
            Self::PayloadTooLarge { limit } => format!("the body must be at most {limit} bytes"),
            Self::UnsupportedMediaType => "the body must be application/json".into(),
            Self::Validation(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            Self::TooManyRequests { retry_after_secs } => {
                format!("too many attempts; retry in {retry_after_secs} seconds")
            }
            Self::Unavailable => "the database is unavailable; retry shortly".into(),
            Self::NotReady(why) => (*why).to_owned(),
            Self::Internal(_) => "an internal error occurred".into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::Rule { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable | Self::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(error.cause = %cause, "internal error"),
            Self::Unavailable => tracing::warn!("database unavailable"),
            _ => {}
        }
        let status = self.status_code();
        let body = self.problem_body();
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            Self::TooManyRequests { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unauthorized => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            _ => {}
        }
        res.body(body.to_string())
    }
}

impl ApiError {
    /// The problem+json document for this error.
    pub fn problem_body(&self) -> serde_json::Value {
        let status = self.status_code();
        let mut body = serde_json::json!({
            "type": format!("/problems/{}", self.code()),
            "title": self.title(),
            "status": status.as_u16(),
            "detail": self.detail(),
            "code": self.code(),
        });
        if let (Self::Validation(errors), Some(obj)) = (self, body.as_object_mut()) {
            obj.insert("errors".into(), serde_json::json!(errors));
        }
        body
    }

    /// The error a storage refusal becomes, if it is a deterministic refusal of the request (one
    /// that an idempotent retry must repeat), as opposed to a passing failure.
    pub fn refusal(e: &StoreError) -> Option<ApiError> {
        match e {
            StoreError::NotFound => Some(Self::NotFound),
            StoreError::Invalid(i) => Some(Self::field(i.field.clone(), i.message.clone())),
            StoreError::Conflict { code, message } => Some(Self::Conflict {
                code,
                detail: message.clone(),
            }),
            StoreError::Rule { code, message } => Some(Self::Rule {
                code,
                detail: message.clone(),
            }),
            _ => None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match Self::refusal(&e) {
            Some(refusal) => refusal,
            None if e.is_connection_lost() => Self::Unavailable,
            None => Self::Internal(e.to_string()),
        }
    }
}

impl From<domain::Invalid> for ApiError {
    fn from(i: domain::Invalid) -> Self {
        Self::field(i.field, i.message)
    }
}

/// The answer for any path no route serves.
pub async fn no_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NoRoute)
}

/// The answer for a known path with a method it does not serve: a 405 whose `Allow` header lists
/// the methods the path does serve, as RFC 9110 requires.
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    let mut res = ApiError::MethodNotAllowed.error_response();
    if let Ok(value) = header::HeaderValue::from_str(allow) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}
