use crate::helpers::{json, Backend, TestApp};
use std::collections::BTreeSet;

async fn health_and_readiness(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(json(r, 200).await["status"], "ok");
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    let body = json(r, 200).await;
    assert_eq!(body["status"], "ready");
    let expected = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
    };
    assert_eq!(body["database"], expected);
}

async fn metrics_count_requests_by_route(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.admin_token().await;
    app.get("/v1/units/P52", &token).await;
    app.get("/v1/units/P01", &token).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("relief_http_requests_total")
                && l.contains("endpoint=\"/v1/units/{code}\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no counter for the units route in:\n{text}"));
    assert!(line.ends_with(" 2"), "{line}");
    assert!(text.contains("relief_http_requests_duration_seconds_bucket"));
}

async fn docs_and_contract_are_served(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app
        .client
        .get(app.url("/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), api::routes::ops::OPENAPI_YAML);
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert!(json(r, 200).await["paths"].is_object());
    let r = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("/openapi.json"));
    assert!(
        !html.contains("https://"),
        "the API browser must work offline"
    );
}

/// Every served route is in `openapi.yaml`, every path there is served with exactly its methods,
/// and probing each one never reaches the no-route or wrong-method answer.
async fn openapi_matches_served_routes(b: Backend) {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(api::routes::ops::OPENAPI_YAML).expect("openapi.yaml parses");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        let path = path.as_str().unwrap().to_owned();
        for (method, _) in item.as_mapping().unwrap() {
            let m = method.as_str().unwrap();
            if ["get", "post", "put", "patch", "delete"].contains(&m) {
                documented.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = api::route_list().into_iter().collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in openapi.yaml: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "in openapi.yaml but not served: {unserved:?}"
    );

    let app = TestApp::spawn(b).await;
    for (method, path) in &documented {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let req = match method.as_str() {
            "GET" => app.client.get(app.url(&concrete)),
            _ => app
                .client
                .request(method.parse().unwrap(), app.url(&concrete))
                .header("content-type", "application/json")
                .body("{}"),
        };
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        assert!(status != 405, "{method} {path} answered 405");
        assert!(
            !body.contains("\"no_route\""),
            "{method} {path} is not routed"
        );
    }
}

crate::both_backends!(
    health_and_readiness,
    metrics_count_requests_by_route,
    docs_and_contract_are_served,
    openapi_matches_served_routes,
);
