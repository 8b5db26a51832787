use crate::helpers::{fields, json, problem, Backend, TestApp, PASSWORD};
use serde_json::json;

async fn admin_creates_and_lists_users(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let u = app
        .create_user(&admin, "quynhon.fm", "fund_manager", Some("C21583"))
        .await;
    assert_eq!(u["role"], "fund_manager");
    assert_eq!(u["scope_unit"], json!({"edition": 2025, "code": "C21583"}));
    assert!(u.get("password_hash").is_none() && u.get("password").is_none());
    let list = json(app.get("/v1/users", &admin).await, 200).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "quynhon.fm"]);
    let r = app
        .post(
            "/v1/users",
            &admin,
            &json!({"username": "quynhon.fm", "password": PASSWORD, "display_name": "x", "role": "auditor"}),
        )
        .await;
    problem(r, 409, "username_taken").await;
}

async fn user_input_is_validated(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let r = app
        .post("/v1/users", &admin, &json!({"username": "ok.name", "password": PASSWORD, "display_name": "A", "role": "approver"}))
        .await;
    let p = problem(r, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["scope_unit"]);
    let r = app
        .post("/v1/users", &admin, &json!({"username": "ok.name", "password": PASSWORD, "display_name": "A", "role": "approver", "scope_unit": "C99999"}))
        .await;
    let p = problem(r, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["scope_unit"]);
    let r = app
        .post("/v1/users", &admin, &json!({"username": "ok.name", "password": PASSWORD, "display_name": "A", "role": "approver", "scope_unit": "P52", "scope_edition": 1999}))
        .await;
    let p = problem(r, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["scope_edition"]);
}

async fn only_admins_manage_users(b: Backend) {
    let app = TestApp::spawn(b).await;
    for (name, role) in [
        ("fm.one", "fund_manager"),
        ("ap.one", "approver"),
        ("au.one", "auditor"),
    ] {
        let t = app.user_token(name, role, Some("P52")).await;
        problem(app.get("/v1/users", &t).await, 403, "forbidden").await;
        let r = app
            .post("/v1/users", &t, &json!({"username": "sneaky", "password": PASSWORD, "display_name": "x", "role": "admin"}))
            .await;
        problem(r, 403, "forbidden").await;
    }
}

/// A scoped admin sees and manages only the users inside their subtree.
async fn scoped_admins_stay_in_their_subtree(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let hanoi = app
        .create_user(&admin, "hanoi.fm", "fund_manager", Some("P01"))
        .await;
    app.create_user(&admin, "gialai.fm", "fund_manager", Some("P52"))
        .await;
    app.create_user(&admin, "quynhon.fm", "fund_manager", Some("C21583"))
        .await;
    app.create_user(&admin, "gialai.admin", "admin", Some("P52"))
        .await;
    app.create_user(&admin, "quynhon.admin", "admin", Some("C21583"))
        .await;

    let province = app.token("gialai.admin", PASSWORD).await;
    let list = json(app.get("/v1/users", &province).await, 200).await;
    let mut names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["gialai.admin", "gialai.fm", "quynhon.admin", "quynhon.fm"]
    );

    let commune = app.token("quynhon.admin", PASSWORD).await;
    let list = json(app.get("/v1/users", &commune).await, 200).await;
    let mut names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["quynhon.admin", "quynhon.fm"]);

    // Out of scope: creating there is refused, and the user there does not exist for them.
    let r = app
        .post("/v1/users", &commune, &json!({"username": "x.y.z", "password": PASSWORD, "display_name": "x", "role": "fund_manager", "scope_unit": "P52"}))
        .await;
    assert_eq!(
        fields(&problem(r, 422, "validation_failed").await),
        ["scope_unit"]
    );
    let r = app
        .post("/v1/users", &commune, &json!({"username": "x.y.z", "password": PASSWORD, "display_name": "x", "role": "auditor"}))
        .await;
    assert_eq!(
        fields(&problem(r, 422, "validation_failed").await),
        ["scope_unit"]
    );
    let r = app
        .post(
            &format!("/v1/users/{}/disable", hanoi["id"].as_str().unwrap()),
            &province,
            &json!({}),
        )
        .await;
    problem(r, 404, "not_found").await;
    let me = json(app.get("/v1/me", &province).await, 200).await;
    let r = app
        .post(
            &format!("/v1/users/{}/disable", me["id"].as_str().unwrap()),
            &province,
            &json!({}),
        )
        .await;
    problem(r, 409, "cannot_disable_self").await;
}

async fn user_list_pages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    for i in 0..5 {
        app.create_user(&admin, &format!("user{i}"), "auditor", None)
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/users?limit=2&cursor={c}"),
            None => "/v1/users?limit=2".to_owned(),
        };
        let page = json(app.get(&path, &admin).await, 200).await;
        for u in page["items"].as_array().unwrap() {
            seen.push(u["username"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["admin", "user0", "user1", "user2", "user3", "user4"]);
}

crate::both_backends!(
    admin_creates_and_lists_users,
    user_input_is_validated,
    only_admins_manage_users,
    scoped_admins_stay_in_their_subtree,
    user_list_pages,
);
