use crate::helpers::{json, problem, Backend, TestApp, ADMIN_PASSWORD, JWT_SECRET, PASSWORD};
use api::auth::Claims;
use base64::Engine;
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.to_owned(),
        iss: api::auth::ISSUER.to_owned(),
        aud: api::auth::AUDIENCE.to_owned(),
        iat: now(),
        nbf: now(),
        exp: now() + 600,
    }
}

fn sign(c: &Claims, alg: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        c,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

async fn login_issues_a_working_token(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body = json(r, 200).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    let token = body["access_token"].as_str().unwrap();
    let me = json(app.get("/v1/me", token).await, 200).await;
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
    assert!(me["scope_unit"].is_null());
}

/// Wrong password, unknown user and disabled user get the same 401 body.
async fn failed_logins_look_the_same(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let u = app
        .create_user(&admin, "ward.officer", "fund_manager", Some("C21583"))
        .await;
    let r = app
        .post(
            &format!("/v1/users/{}/disable", u["id"].as_str().unwrap()),
            &admin,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(json(r, 200).await["disabled"], true);
    let wrong = problem(
        app.login("admin", "not the password").await,
        401,
        "unauthorized",
    )
    .await;
    let unknown = problem(
        app.login("nobody", "whatever password").await,
        401,
        "unauthorized",
    )
    .await;
    let disabled = problem(
        app.login("ward.officer", PASSWORD).await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, disabled);
}

async fn bad_tokens_are_401(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let me = json(app.get("/v1/me", &admin).await, 200).await;
    let id = me["id"].as_str().unwrap();

    let mut expired = claims(id);
    expired.iat = now() - 7200;
    expired.nbf = now() - 7200;
    expired.exp = now() - 3600;
    let mut future = claims(id);
    future.nbf = now() + 3600;
    let mut issuer = claims(id);
    issuer.iss = "someone-else".into();
    let mut audience = claims(id);
    audience.aud = "another-api".into();
    let good = sign(&claims(id), Algorithm::HS256, JWT_SECRET);
    let parts: Vec<&str> = good.split('.').collect();
    let mut tampered_claims = claims(id);
    tampered_claims.exp = now() + 999_999;
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_string(&tampered_claims).unwrap()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&serde_json::to_string(&claims(id)).unwrap())
    );

    let cases = [
        ("expired", sign(&expired, Algorithm::HS256, JWT_SECRET)),
        ("not yet valid", sign(&future, Algorithm::HS256, JWT_SECRET)),
        ("wrong issuer", sign(&issuer, Algorithm::HS256, JWT_SECRET)),
        (
            "wrong audience",
            sign(&audience, Algorithm::HS256, JWT_SECRET),
        ),
        (
            "other key",
            sign(
                &claims(id),
                Algorithm::HS256,
                "another-secret-another-secret-0123456",
            ),
        ),
        (
            "other algorithm",
            sign(&claims(id), Algorithm::HS384, JWT_SECRET),
        ),
        ("alg none", none),
        ("tampered payload", tampered),
        ("garbage", "abc.def.ghi".to_owned()),
    ];
    assert_eq!(app.get("/v1/me", &good).await.status(), 200);
    for (what, token) in cases {
        let r = app.get("/v1/me", &token).await;
        assert_eq!(r.status(), 401, "{what}");
        problem(r, 401, "unauthorized").await;
    }
}

/// A token signed over `header` (JSON) and `c` with HMAC-SHA256 under `secret`, whatever
/// algorithm the header names.
fn forge(header: &str, c: &Claims, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header),
        b64(&serde_json::to_string(c).unwrap())
    );
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(secret).unwrap(),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{input}.{sig}")
}

/// The attacks `bad_tokens_are_401` leaves out: algorithm confusion (an RS256 or EdDSA header
/// over an HMAC made with the real secret, and an HS256 token keyed with the service's public
/// checkpoint key), `alg: none` spelled other ways or with a signature, a changed `sub` under
/// the original signature, missing time claims, and a disabled user's still unexpired token.
async fn token_attacks_are_401(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let admin_id = json(app.get("/v1/me", &admin).await, 200).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let auditor = app.user_token("nat.auditor", "auditor", None).await;
    let public_key = json(
        app.client
            .get(app.url("/v1/checkpoints/key"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await["public_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // Sanity: the forging itself is right, since HS256 over the real secret is accepted.
    let hs = forge(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &claims(&admin_id),
        JWT_SECRET.as_bytes(),
    );
    assert_eq!(app.get("/v1/me", &hs).await.status(), 200);

    // A changed `sub` under the auditor's genuine signature.
    let parts: Vec<&str> = auditor.split('.').collect();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1])
        .unwrap();
    let mut payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    payload["sub"] = serde_json::json!(admin_id);
    let swapped_sub = format!("{}.{}.{}", parts[0], b64(&payload.to_string()), parts[2]);

    let mut no_nbf = serde_json::to_value(claims(&admin_id)).unwrap();
    no_nbf.as_object_mut().unwrap().remove("nbf");
    let mut no_exp = serde_json::to_value(claims(&admin_id)).unwrap();
    no_exp.as_object_mut().unwrap().remove("exp");
    let raw = |header: &str, body: &serde_json::Value| {
        let input = format!("{}.{}", b64(header), b64(&body.to_string()));
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{input}.{sig}")
    };
    let none_payload = b64(&serde_json::to_string(&claims(&admin_id)).unwrap());
    let cases = [
        (
            "RS256 header, HMAC with the secret",
            forge(
                r#"{"alg":"RS256","typ":"JWT"}"#,
                &claims(&admin_id),
                JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "EdDSA header, HMAC with the public key",
            forge(
                r#"{"alg":"EdDSA","typ":"JWT"}"#,
                &claims(&admin_id),
                public_key.as_bytes(),
            ),
        ),
        (
            "HS256 keyed with the public checkpoint key",
            forge(
                r#"{"alg":"HS256","typ":"JWT"}"#,
                &claims(&admin_id),
                public_key.as_bytes(),
            ),
        ),
        (
            "alg None",
            format!("{}.{none_payload}.", b64(r#"{"alg":"None","typ":"JWT"}"#)),
        ),
        (
            "alg NONE",
            format!("{}.{none_payload}.", b64(r#"{"alg":"NONE"}"#)),
        ),
        (
            "alg none with a signature",
            format!(
                "{}.{none_payload}.{}",
                b64(r#"{"alg":"none","typ":"JWT"}"#),
                hs.split('.').nth(2).unwrap()
            ),
        ),
        ("changed sub", swapped_sub),
        ("no nbf", raw(r#"{"alg":"HS256","typ":"JWT"}"#, &no_nbf)),
        ("no exp", raw(r#"{"alg":"HS256","typ":"JWT"}"#, &no_exp)),
        ("empty", String::new()),
        ("two parts", "abc.def".to_owned()),
    ];
    for (what, token) in cases {
        let r = app.get("/v1/me", &token).await;
        assert_eq!(r.status(), 401, "{what}");
        problem(r, 401, "unauthorized").await;
        // A write with the same token is refused the same way, before its body is read.
        let r = app.post("/v1/assets", &token, &serde_json::json!({})).await;
        assert_eq!(r.status(), 401, "{what} (write)");
    }

    // A disabled user's token dies at once, on reads and on writes.
    let fm = app.user_token("nat.fm", "fund_manager", Some("P52")).await;
    let fm_id = app.user_id("nat.fm");
    json(
        app.post(
            &format!("/v1/users/{fm_id}/disable"),
            &admin,
            &serde_json::json!({}),
        )
        .await,
        200,
    )
    .await;
    problem(app.get("/v1/me", &fm).await, 401, "unauthorized").await;
    problem(
        app.post("/v1/funds", &fm, &serde_json::json!({})).await,
        401,
        "unauthorized",
    )
    .await;
}

async fn disabled_and_deleted_users_lose_their_tokens(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let a = app
        .create_user(&admin, "officer.a", "fund_manager", Some("P52"))
        .await;
    let bu = app
        .create_user(&admin, "officer.b", "approver", Some("P52"))
        .await;
    let ta = app.token("officer.a", PASSWORD).await;
    let tb = app.token("officer.b", PASSWORD).await;
    assert_eq!(app.get("/v1/me", &ta).await.status(), 200);
    assert_eq!(app.get("/v1/me", &tb).await.status(), 200);

    let r = app
        .post(
            &format!("/v1/users/{}/disable", a["id"].as_str().unwrap()),
            &admin,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    problem(app.get("/v1/me", &ta).await, 401, "unauthorized").await;

    let id = bu["id"].as_str().unwrap().to_owned();
    app.db
        .write(move |c| {
            diesel::delete(storage::schema::users::table.find(&id))
                .execute(c)
                .map_err(Into::into)
        })
        .unwrap();
    problem(app.get("/v1/me", &tb).await, 401, "unauthorized").await;
}

async fn repeated_failures_are_throttled(b: Backend) {
    let app = TestApp::spawn(b).await;
    for _ in 0..api::auth::LoginThrottle::MAX_FAILURES {
        problem(
            app.login("admin", "wrong password!").await,
            401,
            "unauthorized",
        )
        .await;
    }
    let r = app.login("admin", ADMIN_PASSWORD).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0);
    problem(r, 429, "too_many_requests").await;
    // Another username is not affected.
    problem(
        app.login("someone", "wrong password!").await,
        401,
        "unauthorized",
    )
    .await;
}

crate::both_backends!(
    login_issues_a_working_token,
    failed_logins_look_the_same,
    bad_tokens_are_401,
    token_attacks_are_401,
    disabled_and_deleted_users_lose_their_tokens,
    repeated_failures_are_throttled,
);
