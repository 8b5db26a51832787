//! What people do on the site, in a real browser, against the hooks of the web contract
//! (stable ids and classes): a citizen looks up a donation; a fund manager records one and sees
//! it on the public fund page; an approver approves someone else's proposal and cannot approve
//! their own; an auditor verifies and exports. Each takes screenshots of the pages it visits.

use crate::driver::Browser;
use crate::helpers::{json, problem, Backend, TestApp, PASSWORD};
use diesel::connection::SimpleConnection;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Phường Quy Nhơn, a commune of Gia Lai (P52), 2025 edition.
const QN: &str = "C21583";

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// A đồng amount as the pages show it: "1500000" -> "1.500.000 ₫".
fn money(amount: &str) -> String {
    let digits: Vec<char> = amount.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(*c);
    }
    format!("{out} ₫")
}

/// An app with a Gia Lai fund manager and a fund of Phường Quy Nhơn.
struct Ctx {
    app: TestApp,
    fm: String,
    fund: String,
}

async fn setup(b: Backend) -> Ctx {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let fund = id(&app
        .create_fund(&fm, QN, "Quỹ cứu trợ phường Quy Nhơn")
        .await);
    Ctx { app, fm, fund }
}

async fn browser(app: &TestApp) -> Browser {
    let tag = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    Browser::start(&app.base, tag).await
}

/// A received cash donation of `amount` đồng, through the API.
async fn donate(app: &TestApp, token: &str, fund: &str, amount: &str) -> Value {
    let body = json!({"fund_id": fund, "status": "received", "channel": "cash",
                      "lines": [{"asset": "VND", "amount": amount}]});
    let r = app
        .client
        .post(app.url("/v1/donations"))
        .bearer_auth(token)
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .json(&body)
        .send()
        .await
        .expect("request");
    json(r, 201).await
}

/// Polls `check` (an API read) until it holds, up to ten seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: not so after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The harness and what exists already: login and the dashboard.

async fn staff_logs_in_and_sees_the_dashboard(b: Backend) {
    let c = setup(b).await;
    let web = browser(&c.app).await;
    web.goto("/console/login").await;
    web.wait("form#login-form").await;
    web.screenshots("console-login").await;
    web.login("gialai.fm", PASSWORD).await;
    web.wait(&format!("ul#fund-cards li[data-fund-id=\"{}\"]", c.fund))
        .await;
    web.screenshots("console").await;
    web.close().await;
}

// ---------------------------------------------------------------------------------------------
// a. A citizen finds a donation by its receipt number.

async fn citizen_finds_a_donation_by_receipt_number(b: Backend) {
    let c = setup(b).await;
    let d = donate(&c.app, &c.fm, &c.fund, "1500000").await;
    let receipt = d["receipt_no"].as_str().expect("receipt_no").to_owned();

    let web = browser(&c.app).await;
    web.goto("/").await;
    web.wait("form#lookup-form").await;
    web.screenshots("home").await;
    web.fill("form#lookup-form", "q", &receipt).await;
    web.click("form#lookup-form [type=submit]").await;
    let shown = web
        .wait_text("#lookup-result", "show the receipt", |t| {
            t.contains(&receipt)
        })
        .await;
    for want in [money("1500000").as_str(), "Quỹ cứu trợ phường Quy Nhơn"] {
        assert!(
            shown.contains(want),
            "{want:?} is not in the lookup result: {shown:?}"
        );
    }
    web.screenshots("home-lookup").await;
    web.close().await;
}

// ---------------------------------------------------------------------------------------------
// b. A fund manager records a donation through the form; it appears on the public fund page.

async fn fund_manager_records_a_donation_seen_on_the_fund_page(b: Backend) {
    let c = setup(b).await;
    let web = browser(&c.app).await;
    web.login("gialai.fm", PASSWORD).await;
    web.goto("/console/donations/new").await;
    let form = "form#donation-form";
    web.wait(form).await;
    web.screenshots("console-donation-new").await;
    web.select(form, "fund_id", &c.fund).await;
    if web
        .exists(&format!("{form} select[name=\"channel\"]"))
        .await
    {
        web.select(form, "channel", "cash").await;
    }
    if web
        .exists(&format!(
            "{form} select[name=\"status\"] option[value=\"received\"]"
        ))
        .await
    {
        web.select(form, "status", "received").await;
    }
    if web.visible(&format!("{form} [name=\"donor.name\"]")).await {
        web.fill(form, "donor.name", "Nguyễn Văn An").await;
    }
    web.fill(form, "lines[0].amount", "2500000").await;
    web.click("button#donation-submit").await;
    let receipt = web
        .wait_text("#receipt #receipt-no", "show a receipt number", |t| {
            !t.trim().is_empty()
        })
        .await
        .trim()
        .to_owned();
    web.screenshots("console-donation-receipt").await;

    // The public API knows the donation under that number.
    let found = c
        .app
        .client
        .get(c.app.url("/v1/public/donations"))
        .query(&[
            ("receipt_no", receipt.as_str()),
            ("fund_id", c.fund.as_str()),
        ])
        .send()
        .await
        .expect("request");
    let found = json(found, 200).await;
    assert_eq!(found["items"][0]["total_vnd"], "2500000", "{found}");

    // The fund page shows what the public statement says was received.
    let path = format!("/v1/public/funds/{}/statement", c.fund);
    let st = json(
        c.app
            .client
            .get(c.app.url(&path))
            .send()
            .await
            .expect("request"),
        200,
    )
    .await;
    let vnd = st["assets"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["asset"] == "VND"))
        .unwrap_or_else(|| panic!("no VND figures in {st}"))
        .clone();
    assert_eq!(vnd["received"], "2500000", "{st}");
    web.goto(&format!("/funds/{}", c.fund)).await;
    // Each figure of the page and the statement's field it shows.
    for (fig, field) in [
        ("received", "received"),
        ("allocated", "allocated_out"),
        ("paid", "paid"),
        ("balance", "balance"),
    ] {
        let want = money(vnd[field].as_str().unwrap_or_default());
        web.wait_text(&format!("ul.figures li#fig-{fig} .value"), &want, |t| {
            t.trim() == want
        })
        .await;
    }
    web.screenshots("fund").await;
    // The statement downloads answer.
    for css in ["a.download-csv", "a.download-json"] {
        let href = web
            .wait(css)
            .await
            .prop("href")
            .await
            .expect("href")
            .unwrap_or_else(|| panic!("{css} has no href"));
        let got = web.fetch(&href).await;
        assert_eq!(got["status"], 200, "{css} {href}: {got}");
        assert!(
            got["body"].as_str().is_some_and(|b| b.contains("2500000")),
            "{css}: {got}"
        );
    }
    web.close().await;
}

// ---------------------------------------------------------------------------------------------
// c. An approver approves a proposal made by someone else, and cannot approve their own.

/// A poor household of Phường Quy Nhơn.
async fn household(app: &TestApp, token: &str) -> Value {
    let body = json!({
        "unit": QN, "head_name": "Trần Thị Bình", "head_birth_year": 1975, "head_sex": "female",
        "address": "Tổ 5, khu phố 2", "poverty_status": "poor",
        "members": [{"name": "Nguyễn Văn Tư", "birth_year": 1990, "sex": "male", "flags": []}],
    });
    json(app.post("/v1/households", token, &body).await, 201).await
}

/// A proposal by hand of `amount` đồng of food for `hh`.
async fn propose(app: &TestApp, token: &str, fund: &str, hh: &Value, amount: &str) -> String {
    let body = json!({
        "fund_id": fund, "household_id": hh["id"], "purpose": "Hỗ trợ khẩn cấp",
        "lines": [{"category": "food", "asset": "VND", "amount": amount}],
    });
    let d = json(app.post("/v1/disbursements", token, &body).await, 201).await;
    assert_eq!(d["status"], "proposed", "{d}");
    id(&d)
}

async fn approver_approves_others_but_not_their_own(b: Backend) {
    let c = setup(b).await;
    let app = &c.app;
    let ap = app
        .user_token("gialai.approver", "approver", Some("P52"))
        .await;
    donate(app, &c.fm, &c.fund, "50000000").await;
    let hh = household(app, &c.fm).await;
    let theirs = propose(app, &c.fm, &c.fund, &hh, "1000000").await;
    // No role may both propose (admins, fund managers) and approve (approvers) over HTTP, so
    // an approver's own proposal is made by handing a fund manager's proposal to the approver
    // in the database: what an approver would meet had their role changed after proposing.
    let own = propose(app, &c.fm, &c.fund, &hh, "2000000").await;
    let ap_id = app.user_id("gialai.approver");
    let (o, a) = (own.clone(), ap_id.clone());
    app.db
        .write(move |conn| {
            conn.batch_execute(&format!(
                "UPDATE disbursements SET proposed_by = '{a}' WHERE id = '{o}';
                 UPDATE payout_events SET actor_id = '{a}'
                   WHERE subject_type = 'disbursement' AND subject_id = '{o}' AND action = 'proposed';"
            ))?;
            Ok(())
        })
        .expect("hand the proposal to the approver");
    let d = json(app.get(&format!("/v1/disbursements/{own}"), &ap).await, 200).await;
    assert_eq!(d["proposed_by"], ap_id.as_str());

    let web = browser(app).await;
    web.login("gialai.approver", PASSWORD).await;
    web.goto("/console/approvals").await;
    let row = |d: &str| format!("tr[data-id=\"{d}\"]");
    web.wait(&format!("{} button.approve", row(&theirs))).await;
    web.wait(&format!("{} span.own-proposal", row(&own))).await;
    assert!(
        !web.exists(&format!("{} button.approve", row(&own))).await,
        "the approver's own proposal has an approve button"
    );
    web.screenshots("console-approvals").await;

    web.click(&format!("{} button.approve", row(&theirs))).await;
    // A confirmation dialog, if the page asks for one.
    let _ = web.client.accept_alert().await;
    eventually("the disbursement is approved", || async {
        let d = json(
            app.get(&format!("/v1/disbursements/{theirs}"), &ap).await,
            200,
        )
        .await;
        d["status"] == "approved"
    })
    .await;
    web.wait_text("#approvals-status", "report the approval", |t| {
        !t.trim().is_empty()
    })
    .await;
    // The own proposal is still waiting, and the API refuses it to the approver too.
    let d = json(app.get(&format!("/v1/disbursements/{own}"), &ap).await, 200).await;
    assert_eq!(d["status"], "proposed", "{d}");
    let r = app
        .post(&format!("/v1/disbursements/{own}/approve"), &ap, &json!({}))
        .await;
    problem(r, 422, "own_proposal").await;

    // Without any database change: the fund manager who proposes sees their own proposal in the
    // queue without an approve button.
    let mine = propose(app, &c.fm, &c.fund, &hh, "500000").await;
    web.login("gialai.fm", PASSWORD).await;
    web.goto("/console/approvals").await;
    web.wait(&format!("{} span.own-proposal", row(&mine))).await;
    assert!(
        !web.exists(&format!("{} button.approve", row(&mine))).await,
        "the fund manager's own proposal has an approve button"
    );
    web.close().await;
}

// ---------------------------------------------------------------------------------------------
// d. An auditor verifies a fund and exports its ledger.

async fn auditor_verifies_and_exports(b: Backend) {
    let c = setup(b).await;
    let app = &c.app;
    let auditor = app
        .user_token("gialai.auditor", "auditor", Some("P52"))
        .await;
    for amount in ["1500000", "700000", "300000"] {
        donate(app, &c.fm, &c.fund, amount).await;
    }
    let v = json(
        app.get(&format!("/v1/funds/{}/ledger/verify", c.fund), &auditor)
            .await,
        200,
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    let head_seq = v["head_seq"].as_i64().expect("head_seq").to_string();
    let head_hash = v["head_hash"].as_str().expect("head_hash").to_owned();
    let checked = v["entries_checked"]
        .as_i64()
        .expect("entries_checked")
        .to_string();

    let web = browser(app).await;
    web.login("gialai.auditor", PASSWORD).await;
    web.goto("/console/audit").await;
    let form = "form#audit-form";
    web.select(form, "fund_id", &c.fund).await;
    web.click("#verify-button").await;
    let result = web
        .wait_text("#verify-result", "show the verdict", |t| {
            t.contains(&head_seq) && t.contains(&checked) && t.contains(&head_hash)
        })
        .await;
    // The verdict in words (Vietnamese by default), marked as a pass.
    web.wait("#verify-result .verdict[data-ok=\"true\"]").await;
    assert!(
        result.contains("ĐẠT:") && !result.contains("KHÔNG ĐẠT"),
        "{result}"
    );
    let failed = web
        .client
        .execute(
            "const r = document.getElementById('verify-result');
             return r.matches('.error, [role=alert]') || !!r.querySelector('.error, [role=alert]');",
            vec![],
        )
        .await
        .expect("read the verdict");
    assert_eq!(
        failed,
        json!(false),
        "the verdict is shown as an error: {result:?}"
    );
    web.screenshots("console-audit").await;

    // The export links work with the console session.
    for (css, kind) in [("a.export-ndjson", "ndjson"), ("a.export-csv", "csv")] {
        let href = web
            .wait(css)
            .await
            .prop("href")
            .await
            .expect("href")
            .unwrap_or_else(|| panic!("{css} has no href"));
        assert!(href.contains(&c.fund), "{css} is not of the fund: {href}");
        let got = web.fetch(&href).await;
        assert_eq!(got["status"], 200, "{css} {href}: {got}");
        let body = got["body"].as_str().unwrap_or_default();
        assert!(!body.is_empty(), "{css}: empty export");
        if kind == "ndjson" {
            let first = body.lines().next().unwrap_or_default();
            serde_json::from_str::<Value>(first)
                .unwrap_or_else(|e| panic!("{css}: the first line is not JSON ({e}): {first}"));
        } else {
            let t = got["type"].as_str().unwrap_or_default();
            assert!(t.contains("csv"), "{css}: content type {t}");
        }
    }
    web.close().await;
}

crate::both_backends!(
    staff_logs_in_and_sees_the_dashboard,
    citizen_finds_a_donation_by_receipt_number,
    fund_manager_records_a_donation_seen_on_the_fund_page,
    approver_approves_others_but_not_their_own,
    auditor_verifies_and_exports,
);
