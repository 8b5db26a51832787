//! Hostile input and what every response carries: bodies over the limit (declared or streamed),
//! deeply nested JSON, overlong strings, invalid UTF-8, names typed composed or decomposed, the
//! security headers and CORS.

use crate::helpers::{fields, json, problem, Backend, TestApp, ADMIN_PASSWORD};
use serde_json::json;
use std::io::{Read, Write};

/// Sends `head` and then `body` over a raw connection and returns the status code: for what
/// reqwest will not send (a chunked body with no length, a declared length with no body). The
/// answer is read while the body is still being written, since the server may answer and close
/// before it has read everything.
async fn raw_status(app: &TestApp, head: String, body: Vec<u8>) -> u16 {
    let addr = app.base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = w.write_all(head.as_bytes());
            let _ = w.write_all(&body);
        });
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while !out.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        let _ = s.shutdown(std::net::Shutdown::Both);
        let _ = writer.join();
        let text = String::from_utf8_lossy(&out).into_owned();
        text.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"))
    })
    .await
    .unwrap()
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    token: &str,
    ct: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn bodies_over_the_limit_are_413(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.admin_token().await;
    let limit = api::extract::JSON_LIMIT;
    let fund = json(
        app.post(
            "/v1/funds",
            &token,
            &json!({"unit": "C21583", "name": "Quỹ", "custodian": "MTTQ",
                    "custodian_kind": "fatherland_front",
                    "bank_accounts": [{"bank": "Vietcombank", "account_number": "0071000123456",
                                       "account_name": "MTTQ"}]}),
        )
        .await,
        201,
    )
    .await;
    let statements = format!(
        "/v1/bank-statements?bank_account_id={}",
        fund["bank_accounts"][0]["id"].as_str().unwrap()
    );

    // A streamed (chunked) JSON body with no Content-Length is cut off at the limit too: four
    // chunks fill it, a fifth of one byte goes over.
    let chunk = vec![b' '; limit / 4];
    let mut body = Vec::new();
    for c in [&chunk, &chunk, &chunk, &chunk, &vec![b' '; 1]] {
        body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        body.extend_from_slice(c);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw_status(&app, head, body).await, 413);

    // A declared length over the limit is refused before any of the body is read, for JSON and
    // for a CSV statement (whose limit is larger).
    for (path, ct, declared) in [
        ("/v1/users", "application/json", limit + 1),
        (statements.as_str(), "text/csv", 64 * 1024 * 1024),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: {ct}\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(raw_status(&app, head, Vec::new()).await, 413, "{path}");
    }
    // A JSON body one byte over, sent in full.
    let mut over = vec![b' '; limit + 1];
    over[0] = b'{';
    over[limit] = b'}';
    let r = post_raw(&app, "/v1/users", &token, "application/json", over).await;
    problem(r, 413, "payload_too_large").await;
    assert_eq!(app.get("/v1/me", &token).await.status(), 200);
}

/// serde_json stops at 128 levels: 10,000 (or 100,000) open brackets are a 400, never a stack
/// overflow, and the service keeps answering.
async fn deeply_nested_json_is_400(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.admin_token().await;
    let deep_open = "[".repeat(10_000);
    let deep_closed = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_field = format!(
        "{{\"username\":\"abc\",\"password\":{}{}}}",
        "{\"a\":".repeat(20_000),
        "}".repeat(20_000)
    );
    let deep_in_array = format!(
        "{{\"fund_id\":\"x\",\"lines\":{}{}}}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    for (path, body) in [
        ("/v1/users", deep_open.clone()),
        ("/v1/users", deep_closed.clone()),
        ("/v1/users", deep_field),
        ("/v1/donations", deep_in_array),
        ("/v1/auth/token", deep_open),
        ("/v1/funds", deep_closed),
    ] {
        let r = post_raw(&app, path, &token, "application/json", body.into_bytes()).await;
        let p = problem(r, 400, "malformed_json").await;
        assert!(
            p["detail"].as_str().unwrap().contains("recursion limit"),
            "{path}: {p}"
        );
    }
    // The guard is serde_json's recursion limit (128 levels).
    let e = serde_json::from_str::<serde_json::Value>(&"[".repeat(200)).unwrap_err();
    assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
    assert!(serde_json::from_str::<serde_json::Value>(&format!(
        "{}{}",
        "[".repeat(127),
        "]".repeat(127)
    ))
    .is_ok());
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// A string far over a field's maximum is a 422 naming the field, not a 500 or a database
/// error.
async fn overlong_strings_name_their_field(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let long = "Nguyễn ".repeat(20_000);
    let cases = [
        (
            "/v1/donors",
            json!({"kind": "individual", "name": long}),
            "name",
        ),
        (
            "/v1/donors",
            json!({"kind": "individual", "name": "An", "address": long}),
            "address",
        ),
        (
            "/v1/funds",
            json!({"unit": "C21583", "name": long, "custodian": "MTTQ",
                   "custodian_kind": "fatherland_front"}),
            "name",
        ),
        (
            "/v1/households",
            json!({"unit": "C21583", "head_name": long, "head_birth_year": 1975,
                   "head_sex": "female", "address": "Tổ 5", "poverty_status": "poor",
                   "members": []}),
            "head_name",
        ),
        (
            "/v1/incidents",
            json!({"kind": "flood", "name": long, "started_at": "2026-09-01T08:00:00+07:00",
                   "units": [{"code": "C21583"}]}),
            "name",
        ),
    ];
    for (path, body, field) in cases {
        let p = problem(app.post(path, &fm, &body).await, 422, "validation_failed").await;
        assert!(fields(&p).contains(&field.to_owned()), "{path}: {p}");
    }
    let p = problem(
        app.post(
            "/v1/users",
            &admin,
            &json!({"username": "a".repeat(5_000), "password": "a-good-long-password",
                    "display_name": "x", "role": "auditor"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["username"]);
    // An overlong password is refused before it is hashed.
    let p = problem(
        app.login("admin", &"p".repeat(100_000)).await,
        401,
        "unauthorized",
    )
    .await;
    assert!(p["errors"].is_null());
    assert_eq!(app.login("admin", ADMIN_PASSWORD).await.status(), 200);
}

async fn invalid_utf8_is_400(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.admin_token().await;
    for body in [
        b"{\"kind\":\"individual\",\"name\":\"\xff\xfe\"}".to_vec(),
        b"{\"kind\":\"individual\",\"name\":\"Nguy\xe1\xbb\"}".to_vec(),
        b"{\"kind\":\"individual\",\"na\xc0me\":\"x\"}".to_vec(),
        b"\xef\xbb\xbf{}".to_vec(),
    ] {
        let r = post_raw(&app, "/v1/donors", &token, "application/json", body).await;
        problem(r, 400, "malformed_json").await;
    }
    // A lone surrogate escape is not text either.
    let r = post_raw(
        &app,
        "/v1/donors",
        &token,
        "application/json",
        br#"{"kind":"individual","name":"\ud800"}"#.to_vec(),
    )
    .await;
    problem(r, 400, "malformed_json").await;
    // Bytes that are not UTF-8 in a query string or a path never reach a 500.
    for path in [
        "/v1/donors?q=%FF%FE",
        "/v1/funds/%FF%FE",
        "/v1/units/%C0%AF",
    ] {
        let r = app.get(path, &token).await;
        assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
    }
}

/// "Nguyễn" typed with one code point per letter or with combining marks is one name: stored
/// composed (NFC), found by either form.
async fn names_are_normalised_to_nfc(b: Backend) {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let composed = "Nguy\u{1ec5}n Th\u{1ecb} H\u{1ed3}ng";
    let decomposed = "Nguye\u{302}\u{303}n Thi\u{323} Ho\u{302}\u{300}ng";
    assert_ne!(composed, decomposed);

    let d = json(
        app.post(
            "/v1/donors",
            &fm,
            &json!({"kind": "individual", "name": decomposed}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(d["name"], composed);
    for q in [composed, decomposed, "nguyen thi hong"] {
        let url = format!("/v1/donors?q={}", encode(q));
        let found = json(app.get(&url, &fm).await, 200).await;
        let ids: Vec<&str> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [d["id"].as_str().unwrap()], "{q}");
    }

    let h = json(
        app.post(
            "/v1/households",
            &fm,
            &json!({"unit": "C21583", "head_name": decomposed, "head_birth_year": 1975,
                    "head_sex": "female", "address": "T\u{1ed5} 5", "poverty_status": "poor",
                    "members": [{"name": decomposed, "birth_year": 1990, "sex": "male",
                                 "flags": []}]}),
        )
        .await,
        201,
    )
    .await;
    let h = json(
        app.get(
            &format!("/v1/households/{}", h["id"].as_str().unwrap()),
            &fm,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(h["head_name"], composed, "{h}");
    assert!(!h.to_string().contains('\u{302}'), "{h}");
    let url = format!("/v1/households?q={}", encode(decomposed));
    let found = json(app.get(&url, &fm).await, 200).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");

    let f = json(
        app.post(
            "/v1/funds",
            &fm,
            &json!({"unit": "C21583", "name": format!("Qu\u{1ef9} {decomposed}"),
                    "custodian": decomposed, "custodian_kind": "fatherland_front"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(f["custodian"], composed);
}

fn encode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
];

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Every response, success or error, public or not, carries the security headers; only the
/// public routes may be cached; no CORS header without configuration; no HSTS unless set.
async fn security_headers_on_every_response(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.admin_token().await;
    let fund = app.create_fund(&token, "C21583", "Quỹ Quy Nhơn").await;
    let fund_id = fund["id"].as_str().unwrap();
    let get = |path: &str, auth: bool| {
        let mut r = app
            .client
            .get(app.url(path))
            .header("origin", "https://evil.example");
        if auth {
            r = r.bearer_auth(&token);
        }
        r.send()
    };
    let statement = format!("/v1/public/funds/{fund_id}/statement");
    let cases: Vec<(String, bool, u16, &str)> = vec![
        ("/v1/me".into(), true, 200, "no-store"),
        ("/v1/funds".into(), true, 200, "no-store"),
        ("/v1/funds".into(), false, 401, "no-store"),
        ("/v1/nothing".into(), true, 404, "no-store"),
        ("/healthz".into(), false, 200, "no-store"),
        ("/metrics".into(), false, 200, "no-store"),
        ("/v1/public/funds".into(), false, 200, "public, max-age=60"),
        (statement, false, 200, "public, max-age=60"),
    ];
    for (path, auth, status, cache) in cases {
        let r = get(&path, auth).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(header(&r, name), Some(value), "{path} {name}");
        }
        assert_eq!(
            header(&r, "content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(header(&r, "cache-control"), Some(cache), "{path}");
        assert!(
            header(&r, "access-control-allow-origin").is_none(),
            "{path}"
        );
        assert!(header(&r, "strict-transport-security").is_none(), "{path}");
    }
    // Writes, the login and errors from the middleware (an auditor's write) too.
    let auditor = app.user_token("nat.auditor", "auditor", None).await;
    let r = app.post("/v1/assets", &auditor, &json!({})).await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "x-frame-options"), Some("DENY"));
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    let r = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    assert_eq!(header(&r, "x-content-type-options"), Some("nosniff"));
    // The API browser keeps its own policy, which lets its inline script run.
    let r = app.client.get(app.url("/docs")).send().await.unwrap();
    let csp = header(&r, "content-security-policy").unwrap();
    assert!(
        csp.contains("script-src") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(header(&r, "x-frame-options"), Some("DENY"));
    // A preflight from anywhere is not answered with CORS headers.
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/funds"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(header(&r, "access-control-allow-origin").is_none());
}

/// With `RELIEF_CORS_ORIGINS` set, exactly those origins get CORS answers and preflights; with
/// `RELIEF_HSTS_MAX_AGE_SECS`, every response carries HSTS.
async fn cors_only_for_configured_origins(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        c.cors_origins = Some("https://relief.example.org, http://localhost:5173".into());
        c.hsts_max_age_secs = 31_536_000;
    })
    .await;
    let token = app.admin_token().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/donations"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let r = preflight("https://relief.example.org").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        Some("https://relief.example.org")
    );
    let methods = header(&r, "access-control-allow-methods").unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = header(&r, "access-control-allow-headers").unwrap();
    assert!(allowed.contains("authorization") && allowed.contains("idempotency-key"));
    assert!(header(&r, "access-control-allow-credentials").is_none());
    assert_eq!(header(&r, "x-content-type-options"), Some("nosniff"));

    let r = preflight("https://evil.example").await.unwrap();
    assert_ne!(r.status(), 204);
    assert!(header(&r, "access-control-allow-origin").is_none());

    for (origin, allowed) in [
        ("http://localhost:5173", true),
        ("https://relief.example.org.evil.example", false),
        ("https://RELIEF.example.org", false),
        ("null", false),
    ] {
        let r = app
            .client
            .get(app.url("/v1/me"))
            .bearer_auth(&token)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let acao = header(&r, "access-control-allow-origin");
        assert_eq!(acao, allowed.then_some(origin), "{origin}");
        assert!(r
            .headers()
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("origin")));
        assert_eq!(
            header(&r, "strict-transport-security"),
            Some("max-age=31536000; includeSubDomains")
        );
    }
}

crate::both_backends!(
    bodies_over_the_limit_are_413,
    deeply_nested_json_is_400,
    overlong_strings_name_their_field,
    invalid_utf8_is_400,
    names_are_normalised_to_nfc,
    security_headers_on_every_response,
    cors_only_for_configured_origins,
);
