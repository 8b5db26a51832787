//! Assets, funds and the ledger through the HTTP API.

use crate::helpers::{fields, json, problem, Backend, TestApp};
use serde_json::json;

async fn assets_are_seeded_and_admins_add_more(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let list = json(app.get("/v1/assets", &admin).await, 200).await;
    let find = |code: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["code"] == code)
            .cloned()
    };
    assert_eq!(find("VND").unwrap()["scale"], 0);
    assert_eq!(find("USD").unwrap()["scale"], 2);
    assert_eq!(find("RICE_KG").unwrap()["scale"], 3);
    assert_eq!(find("RICE_KG").unwrap()["kind"], "goods");
    assert!(
        find("LIFE_JACKET").is_some() && find("BLANKET").is_some() && find("NOODLES_BOX").is_some()
    );

    let body = json!({"code": "SOLAR_LAMP", "name": "Đèn năng lượng mặt trời", "unit": "piece", "scale": 0, "kind": "goods"});
    assert_eq!(
        json(app.post("/v1/assets", &admin, &body).await, 201).await["code"],
        "SOLAR_LAMP"
    );
    problem(
        app.post("/v1/assets", &admin, &body).await,
        409,
        "asset_exists",
    )
    .await;
    let bad = json!({"code": "bad code", "name": "", "unit": "x", "scale": 7, "kind": "food"});
    let p = problem(
        app.post("/v1/assets", &admin, &bad).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["code", "name", "kind", "scale"]);
    let fm = app.user_token("fm.p52", "fund_manager", Some("P52")).await;
    problem(app.post("/v1/assets", &fm, &body).await, 403, "forbidden").await;
}

async fn funds_live_inside_scopes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let gialai = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let hanoi = app
        .user_token("hanoi.fm", "fund_manager", Some("P01"))
        .await;
    let auditor = app.user_token("gialai.audit", "auditor", Some("P52")).await;

    let r = app
        .post(
            "/v1/funds",
            &gialai,
            &json!({
                "unit": "C21583", "name": "Quỹ cứu trợ phường Quy Nhơn", "custodian": "Ủy ban MTTQ phường Quy Nhơn",
                "custodian_kind": "fatherland_front",
                "bank_accounts": [{"bank": "Vietcombank", "account_number": "0071000123456", "account_name": "MTTQ phuong Quy Nhon"}]
            }),
        )
        .await;
    let fund = json(r, 201).await;
    assert_eq!(fund["unit"], json!({"edition": 2025, "code": "C21583"}));
    assert_eq!(fund["bank_accounts"][0]["account_number"], "0071000123456");
    assert_eq!(fund["chain_seq"], 0);
    assert_eq!(fund["chain_head"], "0".repeat(64));
    let id = fund["id"].as_str().unwrap();

    // Outside the scope: not creatable, not visible.
    let r = app
        .post(
            "/v1/funds",
            &gialai,
            &json!({"unit": "P01", "name": "x", "custodian": "y", "custodian_kind": "red_cross"}),
        )
        .await;
    problem(r, 403, "forbidden").await;
    problem(
        app.get(&format!("/v1/funds/{id}"), &hanoi).await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.get(&format!("/v1/funds/{id}/balances"), &hanoi).await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.get(&format!("/v1/funds/{id}/ledger"), &hanoi).await,
        404,
        "not_found",
    )
    .await;
    let list = json(app.get("/v1/funds", &hanoi).await, 200).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    for t in [&gialai, &auditor, &admin] {
        let list = json(app.get("/v1/funds", t).await, 200).await;
        assert_eq!(list["items"][0]["id"], id);
        json(app.get(&format!("/v1/funds/{id}"), t).await, 200).await;
    }
    // Auditors and approvers never create funds.
    let r = app
        .post("/v1/funds", &auditor, &json!({"unit": "C21583", "name": "x", "custodian": "y", "custodian_kind": "red_cross"}))
        .await;
    problem(r, 403, "forbidden").await;

    // Field errors.
    let r = app
        .post("/v1/funds", &gialai, &json!({"unit": "C99999", "name": "x", "custodian": "y", "custodian_kind": "red_cross"}))
        .await;
    assert_eq!(
        fields(&problem(r, 422, "validation_failed").await),
        ["unit"]
    );
    let r = app
        .post(
            "/v1/funds",
            &gialai,
            &json!({"unit": "C21583", "name": "", "custodian": "y", "custodian_kind": "bank"}),
        )
        .await;
    assert_eq!(
        fields(&problem(r, 422, "validation_failed").await),
        ["name", "custodian_kind"]
    );
    let r = app
        .post(
            "/v1/funds",
            &gialai,
            &json!({"unit": "C21583", "name": "x", "custodian": "y", "custodian_kind": "red_cross",
                    "bank_accounts": [{"bank": "Vietcombank", "account_number": "0071000123456", "account_name": "z"}]}),
        )
        .await;
    assert_eq!(
        fields(&problem(r, 422, "validation_failed").await),
        ["bank_accounts[0].account_number"]
    );
}

async fn opening_balances_are_exact_and_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fund = app.create_fund(&admin, "C21583", "Quỹ Quy Nhơn").await;
    let id = fund["id"].as_str().unwrap();
    let url = format!("/v1/funds/{id}/opening-balances");

    // Refusals write nothing.
    let cases = [
        (
            json!({"lines": [{"asset": "RICE_KG", "amount": "1.2345"}]}),
            "lines[0].amount",
        ),
        (
            json!({"lines": [{"asset": "VND", "amount": 1000}]}),
            "lines[0].amount",
        ),
        (
            json!({"lines": [{"asset": "VND", "amount": "0"}]}),
            "lines[0].amount",
        ),
        (
            json!({"lines": [{"asset": "VND", "amount": "-5"}]}),
            "lines[0].amount",
        ),
        (
            json!({"lines": [{"asset": "GOLD", "amount": "5"}]}),
            "lines[0].asset",
        ),
        (
            json!({"lines": [{"asset": "VND", "amount": "5"}], "effective_at": "2999-01-01"}),
            "effective_at",
        ),
        (json!({"lines": []}), "lines"),
    ];
    for (body, field) in cases {
        let p = problem(
            app.post(&url, &admin, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    assert!(app.balances(id).is_empty());

    let r = app
        .post(
            &url,
            &admin,
            &json!({"lines": [{"asset": "VND", "amount": "1500000"}, {"asset": "RICE_KG", "amount": "12.5"}],
                    "effective_at": "2026-01-01T00:00:00+07:00", "reason": "số dư chuyển sang"}),
        )
        .await;
    let entry = json(r, 201).await;
    assert_eq!(entry["seq"], 1);
    assert_eq!(entry["kind"], "opening_balance");
    assert_eq!(entry["prev_hash"], "0".repeat(64));
    assert_eq!(entry["effective_at"], "2025-12-31T17:00:00.000000Z");
    let amounts: Vec<(&str, &str, &str)> = entry["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["account_kind"].as_str().unwrap(),
                p["asset"].as_str().unwrap(),
                p["amount"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        amounts,
        [
            ("fund", "VND", "1500000"),
            ("opening", "VND", "-1500000"),
            ("fund", "RICE_KG", "12.500"),
            ("opening", "RICE_KG", "-12.500")
        ]
    );
    let bal = json(
        app.get(&format!("/v1/funds/{id}/balances"), &admin).await,
        200,
    )
    .await;
    assert_eq!(
        bal["balances"],
        json!([
            {"asset": "RICE_KG", "posted": "12.500", "reserved": "0.000", "available": "12.500"},
            {"asset": "VND", "posted": "1500000", "reserved": "0", "available": "1500000"},
        ])
    );
    let r = app
        .post(
            &url,
            &admin,
            &json!({"lines": [{"asset": "VND", "amount": "1"}]}),
        )
        .await;
    problem(r, 409, "opening_balance_exists").await;
    let fm = app.user_token("fm.p52", "fund_manager", Some("P52")).await;
    problem(
        app.post(
            &url,
            &fm,
            &json!({"lines": [{"asset": "USD", "amount": "1"}]}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(app.balances(id).len(), 2);
    let fund = json(app.get(&format!("/v1/funds/{id}"), &admin).await, 200).await;
    assert_eq!(fund["chain_seq"], 1);
    assert_eq!(fund["chain_head"], entry["hash"]);
}

async fn ledger_pages_verifies_and_reverses(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fund = app.create_fund(&admin, "C21583", "Quỹ Quy Nhơn").await;
    let id = fund["id"].as_str().unwrap();
    let url = format!("/v1/funds/{id}/opening-balances");
    let opening = json(
        app.post(
            &url,
            &admin,
            &json!({"lines": [{"asset": "VND", "amount": "1000"}], "effective_at": "2026-01-01"}),
        )
        .await,
        201,
    )
    .await;
    let eid = opening["id"].as_str().unwrap();
    let rev_url = format!("/v1/funds/{id}/ledger/{eid}/reverse");
    let p = problem(
        app.post(&rev_url, &admin, &json!({"reason": " "})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["reason"]);
    let reversal = json(
        app.post(&rev_url, &admin, &json!({"reason": "nhập sai"}))
            .await,
        201,
    )
    .await;
    assert_eq!(reversal["kind"], "reversal");
    assert_eq!(reversal["reverses_entry_id"], eid);
    assert_eq!(reversal["prev_hash"], opening["hash"]);
    assert_eq!(reversal["postings"][0]["amount"], "-1000");
    problem(
        app.post(&rev_url, &admin, &json!({"reason": "again"}))
            .await,
        409,
        "already_reversed",
    )
    .await;
    let rid = reversal["id"].as_str().unwrap();
    problem(
        app.post(
            &format!("/v1/funds/{id}/ledger/{rid}/reverse"),
            &admin,
            &json!({"reason": "x"}),
        )
        .await,
        422,
        "reversal_not_reversible",
    )
    .await;
    // After the reversal, a corrected opening balance may be entered.
    json(
        app.post(
            &url,
            &admin,
            &json!({"lines": [{"asset": "VND", "amount": "2000"}], "effective_at": "2026-01-02"}),
        )
        .await,
        201,
    )
    .await;

    // The ledger in pages of 2, then filtered by effective time.
    let page1 = json(
        app.get(&format!("/v1/funds/{id}/ledger?limit=2"), &admin)
            .await,
        200,
    )
    .await;
    let seqs: Vec<i64> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = json(
        app.get(
            &format!("/v1/funds/{id}/ledger?limit=2&cursor={cursor}"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page2["items"][0]["seq"], 3);
    assert!(page2["next_cursor"].is_null());
    let jan2 = json(
        app.get(
            &format!("/v1/funds/{id}/ledger?from=2026-01-02&to=2026-01-03"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(jan2["items"].as_array().unwrap().len(), 1);
    problem(
        app.get(&format!("/v1/funds/{id}/ledger?from=yesterday"), &admin)
            .await,
        400,
        "invalid_query",
    )
    .await;

    let v = json(
        app.get(&format!("/v1/funds/{id}/ledger/verify"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries_checked"], 3);
    assert_eq!(v["head_seq"], 3);
    assert!(v["first_bad_seq"].is_null());

    // Balances at past instants: before anything, after the first opening, now.
    let at = |t: &str| format!("/v1/funds/{id}/balances?as_of={t}");
    let before = json(app.get(&at("2025-12-31T00:00:00Z"), &admin).await, 200).await;
    assert_eq!(before["balances"][0]["posted"], "0");
    let jan1 = json(app.get(&at("2026-01-01T12:00:00Z"), &admin).await, 200).await;
    assert_eq!(jan1["balances"][0]["posted"], "1000");
    let now = json(
        app.get(&format!("/v1/funds/{id}/balances"), &admin).await,
        200,
    )
    .await;
    assert_eq!(now["balances"][0]["posted"], "2000");
}

crate::both_backends!(
    assets_are_seeded_and_admins_add_more,
    funds_live_inside_scopes,
    opening_balances_are_exact_and_once,
    ledger_pages_verifies_and_reverses,
    opening_balances_replay_with_a_key,
    an_allocation_is_one_transaction_across_both_funds,
);

/// Opening balances and their reversal take an optional Idempotency-Key: a retry replays.
async fn opening_balances_replay_with_a_key(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fund = app.create_fund(&admin, "C21583", "Quỹ Quy Nhơn").await;
    let id = fund["id"].as_str().unwrap();
    let send = |key: &'static str, body: serde_json::Value, url: String| {
        app.client
            .post(app.url(&url))
            .bearer_auth(&admin)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let url = format!("/v1/funds/{id}/opening-balances");
    let body = json!({"lines": [{"asset": "VND", "amount": "1000"}]});
    let first = send("ob-1", body.clone(), url.clone()).await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = json(first, 201).await;
    let again = send("ob-1", body, url).await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json(again, 201).await, first);
    let eid = first["id"].as_str().unwrap();
    let rev = format!("/v1/funds/{id}/ledger/{eid}/reverse");
    let r1 = json(
        send("rev-1", json!({"reason": "nhập sai"}), rev.clone())
            .await
            .unwrap(),
        201,
    )
    .await;
    let r2 = send("rev-1", json!({"reason": "nhập sai"}), rev)
        .await
        .unwrap();
    assert_eq!(r2.headers()["idempotent-replayed"], "true");
    assert_eq!(json(r2, 201).await, r1);
    let fund = json(app.get(&format!("/v1/funds/{id}"), &admin).await, 200).await;
    assert_eq!(fund["chain_seq"], 2, "one entry each, not two");
}

/// An allocation moves money in two funds' chains in one transaction: when the receiving side
/// cannot be posted (its balance would overflow), the sending side is not posted either.
async fn an_allocation_is_one_transaction_across_both_funds(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let approver = app.user_token("ap.p52", "approver", Some("P52")).await;
    let province = app.create_fund(&admin, "P52", "Quỹ tỉnh").await;
    let commune = app.create_fund(&admin, "C21583", "Quỹ phường").await;
    let (pid, cid) = (
        province["id"].as_str().unwrap(),
        commune["id"].as_str().unwrap(),
    );
    for (id, amount) in [(pid, "10000"), (cid, "9223372036854775000")] {
        let body = json!({"lines": [{"asset": "VND", "amount": amount}]});
        let r = app
            .post(&format!("/v1/funds/{id}/opening-balances"), &admin, &body)
            .await;
        json(r, 201).await;
    }
    let a = json(
        app.post(
            "/v1/allocations",
            &admin,
            &json!({"from_fund_id": pid, "to_fund_id": cid, "decision_ref": "QĐ 1", "round": 1,
                    "purpose": "thử", "lines": [{"asset": "VND", "amount": "1000"}]}),
        )
        .await,
        201,
    )
    .await;
    let aid = a["id"].as_str().unwrap();
    let approved = json(
        app.post(
            &format!("/v1/allocations/{aid}/approve"),
            &approver,
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(approved["status"], "approved");
    let state = |id: String| {
        let app = &app;
        let admin = &admin;
        async move {
            let f = json(app.get(&format!("/v1/funds/{id}"), admin).await, 200).await;
            let bal = json(
                app.get(&format!("/v1/funds/{id}/balances"), admin).await,
                200,
            )
            .await;
            (
                f["chain_seq"].clone(),
                f["chain_head"].clone(),
                bal["balances"].clone(),
            )
        }
    };
    let before = (state(pid.to_owned()).await, state(cid.to_owned()).await);
    let r = app
        .post(
            &format!("/v1/allocations/{aid}/execute"),
            &admin,
            &json!({}),
        )
        .await;
    problem(r, 422, "amount_overflow").await;
    assert_eq!(
        (state(pid.to_owned()).await, state(cid.to_owned()).await),
        before
    );
    let after = json(
        app.get(&format!("/v1/allocations/{aid}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(after["status"], "approved");
    for id in [pid, cid] {
        let v = json(
            app.get(&format!("/v1/funds/{id}/ledger/verify"), &admin)
                .await,
            200,
        )
        .await;
        assert_eq!(v["ok"], true, "{v}");
    }
}
