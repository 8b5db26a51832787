//! Security headers on every response, and CORS for the configured origins only.
//!
//! Every response gets `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
//! `Referrer-Policy: no-referrer` and, unless its handler chose one (the API browser at `/docs`
//! does), `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`. A response
//! whose handler set no `Cache-Control` gets `no-store`, so that no cache keeps what one user was
//! shown; the public routes set their own caching and keep it. `Strict-Transport-Security` is
//! sent only when configured, since the service itself does not terminate TLS.
//!
//! CORS is closed by default: no `Access-Control-Allow-Origin` is ever sent unless the request's
//! `Origin` is one of the configured origins, and credentials are never allowed: API clients send
//! their token in the `Authorization` header, and the web console's session cookie is
//! `SameSite=Strict` and only ever sent by the service's own pages.

use crate::state::AppState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

/// What the security headers depend on, from the configuration.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// Exact origins (`https://example.org`) that may call the API from a browser.
    pub cors_origins: Vec<String>,
    /// `max-age` of `Strict-Transport-Security`; 0 sends no such header.
    pub hsts_max_age_secs: u64,
    /// Where to read the web pages' assets from instead of the built-in copies (development).
    pub assets_dir: Option<std::path::PathBuf>,
}

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";
const ALLOW_METHODS: &str = "GET, POST";
const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key, if-none-match";
const EXPOSE_HEADERS: &str = "etag, location, retry-after, x-request-id, idempotent-replayed";
/// How long a browser may keep a preflight answer.
const PREFLIGHT_MAX_AGE_SECS: &str = "600";

/// Middleware: answers CORS preflights from allowed origins and adds the headers above to every
/// response, errors included.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let settings = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.web.clone())
        .unwrap_or_default();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| settings.cors_origins.iter().any(|allowed| allowed == o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let preflight = *req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if let (Some(origin), true) = (&origin, preflight) {
        let mut res = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECS))
            .finish();
        res.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        add_headers(res.headers_mut(), &settings, None);
        return Ok(req.into_response(res).map_into_right_body());
    }
    // Handlers and extractors turn their errors into responses, which get the headers; the
    // middleware inside this one answer their refusals as responses too.
    let mut res = next.call(req).await?.map_into_left_body();
    add_headers(res.headers_mut(), &settings, origin);
    Ok(res)
}

fn add_headers(h: &mut HeaderMap, settings: &WebSettings, origin: Option<HeaderValue>) {
    let set = |h: &mut HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    let set_default = |h: &mut HeaderMap, name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set_default(h, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set_default(h, header::CACHE_CONTROL, "no-store");
    if settings.hsts_max_age_secs > 0 {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "max-age={}; includeSubDomains",
            settings.hsts_max_age_secs
        )) {
            h.insert(header::STRICT_TRANSPORT_SECURITY, v);
        }
    }
    if let Some(origin) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    // The answer depends on the Origin whenever CORS is configured, so caches must keep them
    // apart.
    if !settings.cors_origins.is_empty() {
        h.append(header::VARY, HeaderValue::from_static("origin"));
    }
}

/// Checks a configured origin: a scheme and a host (and port), nothing more, as browsers send it.
pub fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("{origin}: an origin starts with https:// or http://"))?;
    let ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{origin}: an origin is a scheme and a host with an optional port, without a path or a trailing /"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host_only() {
        assert!(check_origin("https://relief.example.org").is_ok());
        assert!(check_origin("http://localhost:5173").is_ok());
        assert!(check_origin("*").is_err());
        assert!(check_origin("relief.example.org").is_err());
        assert!(check_origin("https://relief.example.org/").is_err());
        assert!(check_origin("https://a.org/path").is_err());
        assert!(check_origin("https://").is_err());
    }
}
