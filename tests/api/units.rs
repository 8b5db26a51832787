use crate::helpers::{fields, json, problem, Backend, TestApp};

fn names(page: &serde_json::Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn search_ignores_diacritics(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.user_token("viewer", "auditor", None).await;
    for q in ["Quy%20Nhon", "quy%20nh%C6%A1n", "QUY%20NHON"] {
        let page = json(app.get(&format!("/v1/units?q={q}"), &t).await, 200).await;
        let n = names(&page);
        assert!(n.contains(&"Phường Quy Nhơn".to_owned()), "{q}: {n:?}");
        assert!(
            n.iter().all(|s| domain::text::fold(s).contains("quy nhon")),
            "{n:?}"
        );
    }
    let page = json(
        app.get("/v1/units?q=%C4%90%C3%A0%20N%E1%BA%B5ng&level=province", &t)
            .await,
        200,
    )
    .await;
    assert_eq!(names(&page), ["Thành phố Đà Nẵng"]);
    // LIKE wildcards in a query are literal.
    let page = json(app.get("/v1/units?q=%25", &t).await, 200).await;
    assert!(names(&page).is_empty());
}

async fn filters_and_pages_by_parent_and_level(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.admin_token().await;
    let provinces = json(app.get("/v1/units?level=province&limit=500", &t).await, 200).await;
    assert_eq!(provinces["items"].as_array().unwrap().len(), 34);
    let mut codes = Vec::new();
    let mut path = "/v1/units?parent=P52&level=commune&limit=50".to_owned();
    loop {
        let page = json(app.get(&path, &t).await, 200).await;
        for u in page["items"].as_array().unwrap() {
            assert_eq!(u["parent_code"], "P52");
            codes.push(u["code"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/units?parent=P52&level=commune&limit=50&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(codes.len(), 135, "Gia Lai has 135 communes in 2025");
    let mut sorted = codes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, codes);
    let p = problem(
        app.get("/v1/units?edition=2023", &t).await,
        400,
        "invalid_query",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("edition"));
    let p = problem(
        app.get("/v1/units?level=hamlet", &t).await,
        400,
        "invalid_query",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("level"));
}

async fn a_unit_with_its_ancestors(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.admin_token().await;
    let u = json(app.get("/v1/units/C21583", &t).await, 200).await;
    assert_eq!(u["name"], "Phường Quy Nhơn");
    assert_eq!(u["valid_from"], "2025-07-01");
    assert_eq!(u["ancestors"][0]["code"], "P52");
    problem(app.get("/v1/units/C99999", &t).await, 404, "not_found").await;
    problem(app.get("/v1/units/nonsense", &t).await, 404, "not_found").await;
    // The 2024 edition is not loaded on first start.
    problem(
        app.get("/v1/units/D540?edition=2024", &t).await,
        404,
        "not_found",
    )
    .await;
}

async fn import_loads_an_edition_or_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.admin_token().await;
    let post = |body: String, edition: u32| {
        app.client
            .post(app.url(&format!("/v1/units/import?edition={edition}")))
            .bearer_auth(&t)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let bad = "code,name,level,division_type,parent_code\nP52,Bình Định,province,tỉnh,\nD540,Quy Nhơn,district,huyện,P52\nC1,Xã Lạ,commune,xã,D999\n";
    let p = problem(
        post(bad.to_owned(), 2024).await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["line 4"]);
    problem(
        app.get("/v1/units/P52?edition=2024", &t).await,
        404,
        "not_found",
    )
    .await;

    let r = post(storage::units::EDITION_2024_CSV.to_owned(), 2024)
        .await
        .unwrap();
    let s = json(r, 200).await;
    assert_eq!(s["inserted"], 10_810);
    let u = json(app.get("/v1/units/D540?edition=2024", &t).await, 200).await;
    assert_eq!(u["parent_code"], "P52");
    assert_eq!(u["valid_to"], "2025-06-30");
    let p52 = json(app.get("/v1/units/P52?edition=2024", &t).await, 200).await;
    assert_eq!(p52["name"], "Tỉnh Bình Định");
    let again = json(
        post(storage::units::EDITION_2024_CSV.to_owned(), 2024)
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(again["inserted"], 0);
    assert_eq!(again["unchanged"], 10_810);

    let scoped = app.user_token("p52.admin", "admin", Some("P52")).await;
    let r = app
        .client
        .post(app.url("/v1/units/import?edition=2025"))
        .bearer_auth(&scoped)
        .header("content-type", "text/csv")
        .body("x")
        .send()
        .await
        .unwrap();
    problem(r, 403, "forbidden").await;
}

crate::both_backends!(
    search_ignores_diacritics,
    filters_and_pages_by_parent_and_level,
    a_unit_with_its_ancestors,
    import_loads_an_edition_or_nothing,
);
