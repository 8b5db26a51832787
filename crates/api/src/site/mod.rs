//! The web pages: the public transparency site at `/` and the staff console at `/console`.
//!
//! Both are small HTML shells whose scripts draw the pages from the JSON API, so that every
//! figure a page shows is the one the API gives and every check (role, scope, validation) is the
//! API's own. The console logs in with `POST /v1/auth/session`, which keeps the token in an
//! `HttpOnly`, `SameSite=Strict` cookie; its writes carry the session's CSRF token in
//! `X-CSRF-Token` (checked in `auth.rs`). The scripts and styles are built into the binary, with
//! no outside CDN or font; `RELIEF_WEB_DIR` serves them from a folder instead, for development.

use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};

/// What the pages may load: only their own scripts, styles and API.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";

/// One built-in asset: its name under `/assets/`, its content type and its bytes.
type Asset = (&'static str, &'static str, &'static [u8]);

macro_rules! assets {
    ($($name:literal => $type:expr),* $(,)?) => {
        &[$(($name, $type, include_bytes!(concat!("assets/", $name)))),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const ASSETS: &[Asset] = assets![
    "app.css" => "text/css; charset=utf-8",
    "common.js" => JS,
    "public.js" => JS,
    "console.js" => JS,
    "console-donations.js" => JS,
    "console-relief.js" => JS,
    "console-payouts.js" => JS,
    "console-audit.js" => JS,
];

/// The scripts of each kind of page, in load order.
const PUBLIC_SCRIPTS: &[&str] = &["common.js", "public.js"];
const CONSOLE_SCRIPTS: &[&str] = &[
    "common.js",
    "console.js",
    "console-donations.js",
    "console-relief.js",
    "console-payouts.js",
    "console-audit.js",
];

/// The page paths. Each answers the shell of its site; the script reads the path.
pub const PUBLIC_PAGES: &[&str] = &["/", "/funds/{id}", "/campaigns/{id}", "/incidents/{id}"];
pub const CONSOLE_PAGES: &[&str] = &["/console", "/console/{tail:.*}"];

/// Registers the pages and `/assets/{name}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    for path in PUBLIC_PAGES {
        cfg.route(path, web::get().to(public_page));
    }
    for path in CONSOLE_PAGES {
        cfg.route(path, web::get().to(console_page));
    }
    // The scripts are text that shrinks to a third with gzip; the shells are tiny.
    cfg.service(
        web::resource("/assets/{name}")
            .wrap(actix_web::middleware::Compress::default())
            .route(web::get().to(asset)),
    );
}

async fn public_page() -> HttpResponse {
    shell("public", PUBLIC_SCRIPTS)
}

async fn console_page() -> HttpResponse {
    shell("console", CONSOLE_SCRIPTS)
}

/// The HTML shell: Vietnamese by default (the script switches the language on request), a skip
/// link, and a note for browsers without scripts.
fn shell(site: &str, scripts: &[&str]) -> HttpResponse {
    let mut html = String::with_capacity(1024);
    html.push_str(concat!(
        "<!doctype html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>Quỹ cứu trợ</title>\n<link rel=\"icon\" href=\"data:,\">\n",
        "<link rel=\"stylesheet\" href=\"/assets/app.css\">\n",
    ));
    for s in scripts {
        html.push_str(&format!("<script defer src=\"/assets/{s}\"></script>\n"));
    }
    html.push_str(&format!(
        concat!(
            "</head>\n<body class=\"{site}\">\n",
            "<a class=\"skip\" href=\"#main\">Bỏ qua, đến nội dung chính</a>\n",
            "<header id=\"top\"></header>\n<main id=\"main\" tabindex=\"-1\">\n",
            "<noscript><p>Trang này cần JavaScript. Dữ liệu công khai cũng có qua API: ",
            "<a href=\"/docs\">/docs</a>.</p></noscript>\n</main>\n",
            "<footer id=\"foot\"></footer>\n</body>\n</html>\n"
        ),
        site = site
    ));
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(html)
}

/// `GET /assets/{name}`: a built-in asset, or the file of that name under `RELIEF_WEB_DIR`.
async fn asset(state: web::Data<AppState>, name: web::Path<String>) -> HttpResponse {
    let Some((name, content_type, bytes)) = ASSETS.iter().find(|(n, _, _)| *n == name.as_str())
    else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such asset");
    };
    let body = match &state.web.assets_dir {
        Some(dir) => match std::fs::read(dir.join(name)) {
            Ok(b) => b,
            Err(_) => bytes.to_vec(),
        },
        None => bytes.to_vec(),
    };
    let cache = if state.web.assets_dir.is_some() {
        "no-store"
    } else {
        "public, max-age=300"
    };
    HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_of_a_page_is_an_asset() {
        for s in PUBLIC_SCRIPTS.iter().chain(CONSOLE_SCRIPTS) {
            assert!(ASSETS.iter().any(|(n, t, _)| n == s && *t == JS), "{s}");
        }
    }
}
