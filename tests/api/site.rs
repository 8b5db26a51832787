//! The web console's session (cookie + CSRF token) and the page shells and assets. The pages
//! themselves are exercised in a browser by the `browser` test target.

use crate::both_backends;
use crate::helpers::*;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A console session: the cookie header to send and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
    set_cookie: String,
}

async fn session(app: &TestApp, username: &str, password: &str) -> Session {
    let r = app
        .client
        .post(app.url("/v1/auth/session"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let set_cookie = r
        .headers()
        .get(SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = r.json().await.unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    Session {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        set_cookie,
    }
}

/// Posts `body` with the session's cookie and, if given, a CSRF header.
async fn post_with(
    app: &TestApp,
    s: &Session,
    path: &str,
    csrf: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .header(COOKIE, &s.cookie)
        .json(body);
    if let Some(c) = csrf {
        req = req.header("X-CSRF-Token", c);
    }
    req.send().await.unwrap()
}

fn new_asset(code: &str) -> Value {
    json!({"code": code, "name": "Chăn", "unit": "cái", "scale": 0, "kind": "goods"})
}

async fn login_sets_an_httponly_strict_cookie_and_gives_a_csrf_token(b: Backend) {
    let app = TestApp::spawn(b).await;
    let s = session(&app, "admin", ADMIN_PASSWORD).await;
    let attrs: Vec<String> = s
        .set_cookie
        .split(';')
        .map(|a| a.trim().to_lowercase())
        .collect();
    assert!(s.cookie.starts_with("relief_session=ey"), "{}", s.cookie);
    for want in ["httponly", "samesite=strict", "path=/"] {
        assert!(attrs.iter().any(|a| a == want), "{want} in {attrs:?}");
    }
    // The cookie lives as long as the token (the tests' tokens live 600 s).
    assert!(attrs.iter().any(|a| a == "max-age=600"), "{attrs:?}");
    // Served over plain HTTP here, so not `Secure` (a browser would drop it).
    assert!(!attrs.iter().any(|a| a == "secure"), "{attrs:?}");
    assert_eq!(s.csrf.len(), 64);

    // The cookie authenticates reads, and the session tells a reloaded page its CSRF token.
    let r = app
        .client
        .get(app.url("/v1/auth/session"))
        .header(COOKIE, &s.cookie)
        .send()
        .await
        .unwrap();
    let body = json(r, 200).await;
    assert_eq!(body["csrf_token"], s.csrf.as_str());
    assert_eq!(body["user"]["username"], "admin");
    assert_eq!(body["user"]["role"], "admin");

    // With a bearer token there is no CSRF token to give.
    let token = app.admin_token().await;
    let body = json(app.get("/v1/auth/session", &token).await, 200).await;
    assert_eq!(body["csrf_token"], Value::Null);

    // Behind a TLS proxy (which says so in X-Forwarded-Proto), the cookie is `Secure`.
    let r = app
        .client
        .post(app.url("/v1/auth/session"))
        .header("X-Forwarded-Proto", "https")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let set_cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_lowercase();
    assert!(
        set_cookie.split(';').any(|a| a.trim() == "secure"),
        "{set_cookie}"
    );

    // A wrong password sets no cookie.
    let r = app
        .client
        .post(app.url("/v1/auth/session"))
        .json(&json!({"username": "admin", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get(SET_COOKIE).is_none());
    problem(r, 401, "unauthorized").await;
}

async fn writes_with_the_cookie_need_the_csrf_token(b: Backend) {
    let app = TestApp::spawn(b).await;
    let s = session(&app, "admin", ADMIN_PASSWORD).await;

    let r = post_with(&app, &s, "/v1/assets", None, &new_asset("CHAN1")).await;
    problem(r, 403, "forbidden").await;
    let other = session(&app, "admin", ADMIN_PASSWORD).await;
    let wrong = if other.csrf == s.csrf {
        "00".repeat(32)
    } else {
        other.csrf.clone()
    };
    for bad in [wrong.as_str(), "", "not hex", &s.csrf[..32]] {
        let r = post_with(&app, &s, "/v1/assets", Some(bad), &new_asset("CHAN1")).await;
        problem(r, 403, "forbidden").await;
    }
    // Nothing was written by the refused requests.
    let token = app.admin_token().await;
    let assets = json(app.get("/v1/assets", &token).await, 200).await;
    assert!(!assets.to_string().contains("CHAN1"));

    let r = post_with(&app, &s, "/v1/assets", Some(&s.csrf), &new_asset("CHAN1")).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // A bearer token needs no CSRF token, and wins over a cookie.
    let r = app
        .client
        .post(app.url("/v1/assets"))
        .bearer_auth(&token)
        .header(COOKIE, "relief_session=garbage")
        .json(&new_asset("CHAN2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

async fn an_auditor_session_cannot_write_and_a_disabled_user_is_logged_out(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let auditor = app.create_user(&admin, "kiemtoan", "auditor", None).await;
    let s = session(&app, "kiemtoan", PASSWORD).await;
    let r = post_with(&app, &s, "/v1/assets", Some(&s.csrf), &new_asset("CHAN3")).await;
    problem(r, 403, "forbidden").await;

    let r = app
        .post(
            &format!("/v1/users/{}/disable", auditor["id"].as_str().unwrap()),
            &admin,
            &json!({}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let r = app
        .client
        .get(app.url("/v1/auth/session"))
        .header(COOKIE, &s.cookie)
        .send()
        .await
        .unwrap();
    problem(r, 401, "unauthorized").await;
}

async fn logout_removes_the_cookie_even_when_stale(b: Backend) {
    let app = TestApp::spawn(b).await;
    let s = session(&app, "admin", ADMIN_PASSWORD).await;
    for cookie in [s.cookie.as_str(), "relief_session=stale"] {
        let r = app
            .client
            .post(app.url("/v1/auth/logout"))
            .header(COOKIE, cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let removal = r.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
        assert!(removal.starts_with("relief_session=;"), "{removal}");
        assert!(removal.to_lowercase().contains("max-age=0"), "{removal}");
    }
}

async fn pages_are_shells_with_a_strict_policy_and_built_in_assets(b: Backend) {
    let app = TestApp::spawn(b).await;
    for path in [
        "/",
        "/funds/x",
        "/campaigns/x",
        "/incidents/x",
        "/console",
        "/console/login",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let csp = r.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(r.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = r.text().await.unwrap();
        assert!(html.contains("<html lang=\"vi\">"), "{path}");
        // No outside address: offices may be cut off from the internet.
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{path}"
        );
        let script = if path.starts_with("/console") {
            "/assets/console.js"
        } else {
            "/assets/public.js"
        };
        assert!(html.contains(script), "{path}");
    }
    let r = app
        .client
        .get(app.url("/assets/common.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    // Every script inserts text as text: none of them parses HTML from strings.
    for name in ["common.js", "public.js", "console.js"] {
        let js = app
            .client
            .get(app.url(&format!("/assets/{name}")))
            .send()
            .await
            .unwrap();
        let js = js.text().await.unwrap();
        assert!(
            !js.contains("innerHTML") && !js.contains("insertAdjacentHTML"),
            "{name}"
        );
    }
    for path in [
        "/assets/nothing.js",
        "/assets/..%2fmod.rs",
        "/assets/mod.rs",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

both_backends!(
    login_sets_an_httponly_strict_cookie_and_gives_a_csrf_token,
    writes_with_the_cookie_need_the_csrf_token,
    an_auditor_session_cannot_write_and_a_disabled_user_is_logged_out,
    logout_removes_the_cookie_even_when_stale,
    pages_are_shells_with_a_strict_policy_and_built_in_assets,
);
