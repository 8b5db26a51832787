//! Donations through the HTTP API: campaigns, donors, intake in cash, by transfer and in kind,
//! receipts, idempotency, reversal and pledges, earmarks, and bank statement reconciliation.

use crate::helpers::{fields, json, problem, Backend, TestApp};
use reqwest::Response;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const DAY_MICROS: i64 = 86_400_000_000;

// ---------------------------------------------------------------------------------------------
// Dates

/// Calendar days in Vietnam (UTC+7) relative to one instant, so that one test never straddles
/// midnight between two computations.
struct Calendar {
    now: i64,
}

impl Calendar {
    fn new() -> Self {
        Self {
            now: storage::now_micros(),
        }
    }

    /// The Vietnamese day `offset` days from today, as `YYYY-MM-DD`.
    fn day(&self, offset: i64) -> String {
        domain::donations::vn_date(self.now + offset * DAY_MICROS)
            .unwrap()
            .format("%Y-%m-%d")
            .to_string()
    }

    /// The receipt year of today.
    fn year(&self) -> String {
        self.day(0)[..4].to_owned()
    }

    /// `offset` (<= 0) days from today, but not before the first of January of this year: receipt
    /// numbers restart every year, and the tests count them within one year.
    fn day_this_year(&self, offset: i64) -> String {
        let d = self.day(offset);
        if d[..4] == self.year() {
            d
        } else {
            format!("{}-01-01", self.year())
        }
    }
}

/// One minute past midnight in Vietnam on `day`: never in the future once `day` has begun.
fn early(day: &str) -> String {
    format!("{day}T00:01:00+07:00")
}

/// Midnight in Vietnam starting `day`, for a query string (`+` encoded).
fn midnight_query(day: &str) -> String {
    format!("{day}T00:00:00%2B07:00")
}

/// `YYYY-MM-DD` as printed on a receipt: `dd/mm/yyyy`.
fn printed(day: &str) -> String {
    let p: Vec<&str> = day.split('-').collect();
    format!("{}/{}/{}", p[2], p[1], p[0])
}

fn receipt_no(year: &str, n: usize) -> String {
    format!("BN-{year}-{n:06}")
}

// ---------------------------------------------------------------------------------------------
// Funds, campaigns and donations

/// A fund of unit C21583 (in P52) with one bank account; returns (fund id, bank account id).
async fn fund_with_account(
    app: &TestApp,
    token: &str,
    name: &str,
    account_number: &str,
) -> (String, String) {
    let body = json!({
        "unit": "C21583", "name": name, "custodian": "Ủy ban MTTQ phường Quy Nhơn",
        "custodian_kind": "fatherland_front",
        "bank_accounts": [{"bank": "Vietcombank", "account_number": account_number,
                           "account_name": "MTTQ phuong Quy Nhon"}],
    });
    let f = json(app.post("/v1/funds", token, &body).await, 201).await;
    (
        f["id"].as_str().unwrap().to_owned(),
        f["bank_accounts"][0]["id"].as_str().unwrap().to_owned(),
    )
}

fn campaign_body(fund: &str, opens_on: &str, closes_on: &str) -> Value {
    json!({
        "fund_id": fund, "name": "Ủng hộ đồng bào bị bão lũ", "appeal_ref": "45/TB-MTTQ",
        "opens_on": opens_on, "closes_on": closes_on,
    })
}

fn new_key() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn vnd_line(amount: &str) -> Value {
    json!({"asset": "VND", "amount": amount})
}

/// A received donation in cash.
fn cash(fund: &str, lines: Value, received_at: &str) -> Value {
    json!({"fund_id": fund, "status": "received", "channel": "cash", "received_at": received_at,
           "lines": lines})
}

/// A received bank transfer of `amount` đồng.
fn transfer(fund: &str, bank_ref: &str, amount: i64, received_at: &str) -> Value {
    json!({"fund_id": fund, "status": "received", "channel": "bank_transfer", "bank_ref": bank_ref,
           "received_at": received_at, "lines": [vnd_line(&amount.to_string())]})
}

async fn send_donation(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> Response {
    client
        .post(url)
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("request")
}

/// `POST /v1/donations` with `key`.
async fn post_donation(app: &TestApp, token: &str, key: &str, body: &Value) -> Response {
    send_donation(&app.client, &app.url("/v1/donations"), token, key, body).await
}

/// Records a donation with a fresh key and returns it.
async fn donate(app: &TestApp, token: &str, body: &Value) -> Value {
    json(post_donation(app, token, &new_key(), body).await, 201).await
}

/// Posts a donation with a fresh key and expects a problem with `status` and `code`.
async fn refused(app: &TestApp, token: &str, body: &Value, status: u16, code: &str) -> Value {
    refused_under(app, token, &new_key(), body, status, code).await
}

/// Posts a donation under `key` and expects a problem with `status` and `code`.
async fn refused_under(
    app: &TestApp,
    token: &str,
    key: &str,
    body: &Value,
    status: u16,
    code: &str,
) -> Value {
    problem(post_donation(app, token, key, body).await, status, code).await
}

/// Posts a donation and expects a 422 naming exactly `field`.
async fn refused_naming(app: &TestApp, token: &str, body: &Value, field: &str) {
    let p = refused(app, token, body, 422, "validation_failed").await;
    assert_eq!(fields(&p), [field], "{body}");
}

/// Records `bodies` from `writers` concurrent tasks, each with its own keys, and returns them.
async fn donate_concurrently(
    app: &TestApp,
    token: &str,
    bodies: Vec<Value>,
    writers: usize,
) -> Vec<Value> {
    let mut set = tokio::task::JoinSet::new();
    for part in bodies.chunks(bodies.len().div_ceil(writers)) {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/v1/donations"),
            token.to_owned(),
        );
        let part = part.to_vec();
        set.spawn(async move {
            let mut out = Vec::with_capacity(part.len());
            for body in part {
                let r = send_donation(&client, &url, &token, &new_key(), &body).await;
                out.push(json(r, 201).await);
            }
            out
        });
    }
    let mut all = Vec::with_capacity(bodies.len());
    while let Some(done) = set.join_next().await {
        all.extend(done.unwrap());
    }
    all
}

fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// The ids in a list response, in order.
fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| str_of(&d["id"]))
        .collect()
}

/// Every donation id `GET /v1/donations?{query}` lists, following the cursor.
async fn list_all(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = json(
            app.get(&format!("/v1/donations?{query}&limit=500{cursor}"), token)
                .await,
            200,
        )
        .await;
        out.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

async fn balances(app: &TestApp, token: &str, fund: &str) -> Value {
    json(
        app.get(&format!("/v1/funds/{fund}/balances"), token).await,
        200,
    )
    .await
}

/// Posted amount per asset.
async fn posted(app: &TestApp, token: &str, fund: &str) -> BTreeMap<String, String> {
    balances(app, token, fund).await["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (str_of(&b["asset"]), str_of(&b["posted"])))
        .collect()
}

fn assets(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, v)| ((*a).to_owned(), (*v).to_owned()))
        .collect()
}

/// Everything a refusal must leave untouched: balances (with designations), the chain head and
/// the fund's donations.
async fn snapshot(app: &TestApp, token: &str, fund: &str) -> Value {
    let bal = balances(app, token, fund).await;
    let f = json(app.get(&format!("/v1/funds/{fund}"), token).await, 200).await;
    let donations = list_all(app, token, &format!("fund_id={fund}")).await;
    json!({
        "balances": bal["balances"], "designated": bal["designated"],
        "chain_seq": f["chain_seq"], "chain_head": f["chain_head"], "donations": donations,
    })
}

/// The fund's hash chain verifies and holds `entries` entries.
async fn assert_chain_ok(app: &TestApp, token: &str, fund: &str, entries: i64) {
    let v = json(
        app.get(&format!("/v1/funds/{fund}/ledger/verify"), token)
            .await,
        200,
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries_checked"], entries, "{v}");
}

async fn receipt(app: &TestApp, token: &str, id: &Value) -> Response {
    app.get(&format!("/v1/donations/{}/receipt", str_of(id)), token)
        .await
}

async fn reverse(app: &TestApp, token: &str, id: &Value, reason: &str) -> Response {
    app.post(
        &format!("/v1/donations/{}/reverse", str_of(id)),
        token,
        &json!({ "reason": reason }),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// 1. The whole intake flow

async fn intake_flow_numbers_lists_and_prints_receipts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let hanoi = app
        .user_token("hanoi.fm", "fund_manager", Some("P01"))
        .await;
    let (fund, bank) = fund_with_account(&app, &fm, "Quỹ cứu trợ Quy Nhơn", "0071000123456").await;
    let cal = Calendar::new();
    let year = cal.year();

    // The appeal: open today, distribution ends 20 days after receiving closes.
    let mut body = campaign_body(&fund, &cal.day(-30), &cal.day(30));
    body["bank_account_id"] = json!(bank);
    let campaign = json(app.post("/v1/campaigns", &fm, &body).await, 201).await;
    assert_eq!(campaign["status"], "open");
    assert_eq!(campaign["distribution_deadline"], cal.day(50));
    assert_eq!(campaign["bank_account_id"], bank);
    assert_eq!(campaign["extensions"], json!([]));
    let cid = str_of(&campaign["id"]);

    let days: Vec<String> = (0..4).map(|i| cal.day_this_year(i - 3)).collect();

    // Cash from an individual recorded inline: anonymous unless they agree.
    let mut body = cash(&fund, json!([vnd_line("1500000")]), &early(&days[0]));
    body["campaign_id"] = json!(cid);
    body["donor"] = json!({"kind": "individual", "name": "Nguyễn Văn An", "phone": "0905 123 456",
                           "address": "12 Lê Lợi, Quy Nhơn"});
    let d_cash = donate(&app, &fm, &body).await;
    assert_eq!(d_cash["status"], "received");
    assert_eq!(d_cash["channel"], "cash");
    assert_eq!(d_cash["receipt_no"], receipt_no(&year, 1));
    assert_eq!(d_cash["donor"]["name"], "Nguyễn Văn An");
    assert_eq!(d_cash["donor"]["kind"], "individual");
    assert_eq!(d_cash["donor"]["publish_name"], false);
    assert_eq!(d_cash["total_vnd"], "1500000");
    assert!(d_cash["entry_id"].is_string());

    // A bank transfer lands on the campaign's account.
    let mut body = transfer(&fund, "FT25300123456", 2_000_000, &early(&days[1]));
    body["campaign_id"] = json!(cid);
    let d_bank = donate(&app, &fm, &body).await;
    assert_eq!(d_bank["receipt_no"], receipt_no(&year, 2));
    assert_eq!(d_bank["bank_ref"], "FT25300123456");
    assert_eq!(d_bank["bank_account_id"], bank);
    assert_eq!(d_bank["channel"], "bank_transfer");

    // Goods in kind from an organisation on record: two lines, valued in đồng.
    let org = json(
        app.post(
            "/v1/donors",
            &fm,
            &json!({"kind": "organisation", "name": "Công ty TNHH Minh Phát", "tax_code": "4100123456"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(org["publish_name"], true);
    let mut body = json!({
        "fund_id": fund, "campaign_id": cid, "donor_id": org["id"], "status": "received",
        "channel": "in_kind", "received_at": early(&days[2]),
        "lines": [
            {"asset": "RICE_KG", "amount": "250.5", "value_vnd": "5000000", "description": "Gạo tẻ"},
            {"asset": "NOODLES_BOX", "amount": "20", "value_vnd": "2000000"},
        ],
    });
    let d_goods = donate(&app, &fm, &body).await;
    assert_eq!(d_goods["receipt_no"], receipt_no(&year, 3));
    assert_eq!(d_goods["total_vnd"], "7000000");
    assert_eq!(d_goods["lines"][0]["amount"], "250.500");
    assert_eq!(d_goods["lines"][0]["value_vnd"], "5000000");
    assert_eq!(d_goods["donor"]["name"], "Công ty TNHH Minh Phát");

    // US dollars in cash, outside the campaign.
    body = cash(
        &fund,
        json!([{"asset": "USD", "amount": "100.00"}]),
        &early(&days[3]),
    );
    let d_usd = donate(&app, &fm, &body).await;
    assert_eq!(d_usd["receipt_no"], receipt_no(&year, 4));
    assert_eq!(d_usd["lines"][0]["amount"], "100.00");
    assert!(d_usd["campaign_id"].is_null());

    // Another fund's donation (a pledge: receipt numbers per fund are tested on their own) never
    // shows in this fund's lists.
    let (other, _) = fund_with_account(&app, &admin, "Quỹ khác", "0071000999999").await;
    let mut body = cash(&other, json!([vnd_line("10000")]), &early(&days[3]));
    body["status"] = json!("pledged");
    donate(&app, &admin, &body).await;

    // Balances are the sums.
    assert_eq!(
        posted(&app, &fm, &fund).await,
        assets(&[
            ("NOODLES_BOX", "20"),
            ("RICE_KG", "250.500"),
            ("USD", "100.00"),
            ("VND", "3500000"),
        ])
    );
    let bal = balances(&app, &fm, &fund).await;
    assert_eq!(
        bal["balances"][3],
        json!({"asset": "VND", "posted": "3500000", "reserved": "0", "available": "3500000"})
    );
    assert_eq!(bal["designated"], json!([]));

    // Listing and filters.
    let all: Vec<Value> = vec![d_cash, d_bank, d_goods, d_usd];
    let all_ids: Vec<String> = all.iter().map(|d| str_of(&d["id"])).collect();
    let pick = |pred: &dyn Fn(usize) -> bool| -> Vec<String> {
        (0..4)
            .filter(|i| pred(*i))
            .map(|i| all_ids[i].clone())
            .collect()
    };
    let list = |q: String| {
        let app = &app;
        let fm = &fm;
        async move { ids(&json(app.get(&format!("/v1/donations?{q}"), fm).await, 200).await) }
    };
    assert_eq!(list(format!("fund_id={fund}")).await, all_ids);
    assert_eq!(
        list(format!("fund_id={fund}&channel=cash")).await,
        pick(&|i| i == 0 || i == 3)
    );
    assert_eq!(
        list(format!("fund_id={fund}&channel=bank_transfer")).await,
        pick(&|i| i == 1)
    );
    assert_eq!(
        list(format!("fund_id={fund}&status=received")).await,
        all_ids
    );
    assert_eq!(
        list(format!("fund_id={fund}&status=pledged")).await,
        Vec::<String>::new()
    );
    assert_eq!(list(format!("campaign_id={cid}")).await, pick(&|i| i < 3));
    let (from, to) = (&days[1], &days[3]);
    assert_eq!(
        list(format!(
            "fund_id={fund}&from={}&to={}",
            midnight_query(from),
            midnight_query(to)
        ))
        .await,
        pick(&|i| days[i] >= *from && days[i] < *to)
    );
    // Without a fund filter the scope decides: the other fund is in it for this manager.
    assert_eq!(list(String::new()).await.len(), 5);
    let hanoi_list = json(app.get("/v1/donations", &hanoi).await, 200).await;
    assert_eq!(hanoi_list["items"], json!([]));
    problem(
        app.get(&format!("/v1/donations/{}", all_ids[0]), &hanoi)
            .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.get("/v1/donations?channel=crypto", &fm).await,
        400,
        "invalid_query",
    )
    .await;

    // Cursor paging: 3, then 1.
    let page1 = json(
        app.get(&format!("/v1/donations?fund_id={fund}&limit=3"), &fm)
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&page1), all_ids[..3]);
    let cursor = str_of(&page1["next_cursor"]);
    let page2 = json(
        app.get(
            &format!("/v1/donations?fund_id={fund}&limit=3&cursor={cursor}"),
            &fm,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ids(&page2), all_ids[3..]);
    assert!(page2["next_cursor"].is_null());

    // One donation.
    let one = json(
        app.get(&format!("/v1/donations/{}", all_ids[1]), &fm).await,
        200,
    )
    .await;
    assert_eq!(one, all[1]);

    // The printed receipt: fund, donor as recorded (even when anonymous to the public), lines with
    // their unit names, the Vietnamese date and the number.
    let r = json(receipt(&app, &fm, &all[2]["id"]).await, 200).await;
    assert_eq!(r["receipt_no"], receipt_no(&year, 3));
    assert_eq!(r["title"], "BIÊN NHẬN");
    assert_eq!(r["fund"]["id"], fund);
    assert_eq!(r["fund"]["name"], "Quỹ cứu trợ Quy Nhơn");
    assert_eq!(r["fund"]["unit"]["code"], "C21583");
    assert!(r["fund"]["unit"]["name"].is_string());
    assert_eq!(r["campaign"]["appeal_ref"], "45/TB-MTTQ");
    assert_eq!(r["donor"]["name"], "Công ty TNHH Minh Phát");
    assert_eq!(r["received_on"], printed(&days[2]));
    assert_eq!(r["total_vnd"], "7000000");
    assert_eq!(r["status"], "received");
    assert!(r["reversed"].is_null());
    let lines: Vec<(String, String, String, String)> = r["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                str_of(&l["asset"]),
                str_of(&l["name"]),
                str_of(&l["unit"]),
                str_of(&l["amount"]),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                "RICE_KG".into(),
                "Rice".into(),
                "kg".into(),
                "250.500".into()
            ),
            (
                "NOODLES_BOX".into(),
                "Instant noodles".into(),
                "box".into(),
                "20".into()
            ),
        ]
    );
    let r = json(receipt(&app, &fm, &all[0]["id"]).await, 200).await;
    assert_eq!(r["donor"]["name"], "Nguyễn Văn An");
    assert_eq!(r["donor"]["address"], "12 Lê Lợi, Quy Nhơn");
    assert_eq!(r["lines"][0]["unit"], "đồng");
    assert_eq!(r["received_on"], printed(&days[0]));
    let r = json(receipt(&app, &fm, &all[1]["id"]).await, 200).await;
    assert_eq!(r["bank_ref"], "FT25300123456");
    assert_eq!(r["receipt_no"], receipt_no(&year, 2));

    assert_chain_ok(&app, &admin, &fund, 4).await;
}

/// Receipt numbers are gapless per fund and per year of the Vietnamese calendar: every fund and
/// every year starts at 000001.
async fn receipt_numbers_restart_per_fund_and_year(b: Backend) {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let cal = Calendar::new();
    let at = early(&cal.day(0));
    let (first, _) = fund_with_account(&app, &fm, "Quỹ phường", "0071000123456").await;
    let (second, _) = fund_with_account(&app, &fm, "Quỹ tỉnh", "0071000999999").await;
    let d = donate(&app, &fm, &cash(&first, json!([vnd_line("10000")]), &at)).await;
    assert_eq!(d["receipt_no"], receipt_no(&cal.year(), 1));

    // New Year's Eve at 23:59 in Vietnam is still 2024; a minute later it is 2025 there.
    for (received_at, number) in [
        ("2024-12-31T16:59:00Z", "BN-2024-000001"),
        ("2024-12-31T17:00:00Z", "BN-2025-000001"),
        ("2024-06-01T10:00:00+07:00", "BN-2024-000002"),
    ] {
        let d = donate(
            &app,
            &fm,
            &cash(&first, json!([vnd_line("10")]), received_at),
        )
        .await;
        assert_eq!(d["receipt_no"], number, "{received_at}");
    }
    let d = donate(&app, &fm, &cash(&first, json!([vnd_line("10")]), &at)).await;
    assert_eq!(d["receipt_no"], receipt_no(&cal.year(), 2));

    // BUG (at commit 8347357): the second fund's first receipt was refused with 409
    // duplicate_bank_ref: the donations table made receipt_no unique across all funds
    // (migrations/*/2026-11-29-000003_donations/up.sql:64), and storage::donations::record
    // reports any unique violation on insert as a duplicate bank reference.
    let r = post_donation(
        &app,
        &fm,
        &new_key(),
        &cash(&second, json!([vnd_line("20000")]), &at),
    )
    .await;
    let d = json(r, 201).await;
    assert_eq!(d["receipt_no"], receipt_no(&cal.year(), 1));
    assert_eq!(
        posted(&app, &fm, &second).await,
        assets(&[("VND", "20000")])
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Campaign rules

async fn campaigns_bound_the_receiving_period(b: Backend) {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let (fund, _) = fund_with_account(&app, &fm, "Quỹ Quy Nhơn", "0071000123456").await;
    let cal = Calendar::new();

    // At most 90 days, both ends included.
    let p = problem(
        app.post(
            "/v1/campaigns",
            &fm,
            &campaign_body(&fund, "2026-09-01", "2026-11-30"),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["closes_on"]);
    let p = problem(
        app.post(
            "/v1/campaigns",
            &fm,
            &campaign_body(&fund, "2026-09-02", "2026-09-01"),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["closes_on"]);
    json(
        app.post(
            "/v1/campaigns",
            &fm,
            &campaign_body(&fund, "2026-09-01", "2026-11-29"),
        )
        .await,
        201,
    )
    .await;

    let (opens, closes) = (cal.day(-30), cal.day(59));
    let c = json(
        app.post("/v1/campaigns", &fm, &campaign_body(&fund, &opens, &closes))
            .await,
        201,
    )
    .await;
    let cid = str_of(&c["id"]);
    let into_campaign = |at: &str| {
        let mut body = cash(&fund, json!([vnd_line("500000")]), at);
        body["campaign_id"] = json!(cid);
        body
    };

    // Before the period opens: refused, nothing written.
    let before = snapshot(&app, &fm, &fund).await;
    refused(
        &app,
        &fm,
        &into_campaign(&early(&cal.day(-31))),
        422,
        "campaign_not_open",
    )
    .await;
    assert_eq!(snapshot(&app, &fm, &fund).await, before);
    // The period is in Vietnamese days: 23:59 the evening before is too early, one minute past
    // midnight (17:01 UTC the day before) is inside.
    let p = refused(
        &app,
        &fm,
        &into_campaign(&format!("{}T23:59:00+07:00", cal.day(-31))),
        422,
        "campaign_not_open",
    )
    .await;
    assert!(str_of(&p["detail"]).contains(&opens), "{p}");
    assert_eq!(snapshot(&app, &fm, &fund).await, before);
    donate(&app, &fm, &into_campaign(&early(&opens))).await;

    // Extended beyond 90 days by a recorded decision.
    let url = format!("/v1/campaigns/{cid}/extend");
    let p = problem(
        app.post(
            &url,
            &fm,
            &json!({"closes_on": cal.day(10), "decision_ref": "QĐ 1"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["closes_on"]);
    let p = problem(
        app.post(
            &url,
            &fm,
            &json!({"closes_on": cal.day(120), "decision_ref": " "}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["decision_ref"]);
    let decision = "Quyết định 123/QĐ-UBND";
    let ext = json(
        app.post(
            &url,
            &fm,
            &json!({"closes_on": cal.day(120), "decision_ref": decision}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ext["closes_on"], cal.day(120));
    assert_eq!(ext["distribution_deadline"], cal.day(140));
    assert_eq!(ext["extensions"].as_array().unwrap().len(), 1);
    assert_eq!(ext["extensions"][0]["previous_closes_on"], closes);
    assert_eq!(ext["extensions"][0]["closes_on"], cal.day(120));
    assert_eq!(ext["extensions"][0]["decision_ref"], decision);
    let got = json(app.get(&format!("/v1/campaigns/{cid}"), &fm).await, 200).await;
    assert_eq!(got["extensions"], ext["extensions"]);
    assert_eq!(got["status"], "open");
    let listed = json(
        app.get(&format!("/v1/campaigns?fund_id={fund}"), &fm).await,
        200,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);

    // Closed: no more receipts, and nothing is written by the refusal.
    let closed = json(
        app.post(&format!("/v1/campaigns/{cid}/close"), &fm, &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(closed["status"], "closed");
    assert!(closed["closed_at"].is_string());
    let before = snapshot(&app, &fm, &fund).await;
    assert_eq!(before["chain_seq"], 1);
    refused(
        &app,
        &fm,
        &into_campaign(&early(&cal.day(0))),
        422,
        "campaign_closed",
    )
    .await;
    assert_eq!(snapshot(&app, &fm, &fund).await, before);
    problem(
        app.post(&format!("/v1/campaigns/{cid}/close"), &fm, &json!({}))
            .await,
        409,
        "campaign_closed",
    )
    .await;
    problem(
        app.post(
            &url,
            &fm,
            &json!({"closes_on": cal.day(150), "decision_ref": decision}),
        )
        .await,
        409,
        "campaign_closed",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// 3. Bad input

async fn bad_donations_are_refused_and_write_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let (fund, _) = fund_with_account(&app, &fm, "Quỹ Quy Nhơn", "0071000123456").await;
    let at = early(&Calendar::new().day_this_year(-1));
    let with_lines = |lines: Value| cash(&fund, lines, &at);
    let empty = snapshot(&app, &fm, &fund).await;

    let mut cases = vec![
        (
            with_lines(json!([{"asset": "GOLD", "amount": "5"}])),
            "lines[0].asset",
        ),
        (with_lines(json!([vnd_line("1.5")])), "lines[0].amount"),
        (
            with_lines(json!([{"asset": "USD", "amount": "1.005"}])),
            "lines[0].amount",
        ),
        (
            with_lines(json!([{"asset": "VND", "amount": 1000}])),
            "lines[0].amount",
        ),
        (with_lines(json!([vnd_line("-5")])), "lines[0].amount"),
        (with_lines(json!([vnd_line("0")])), "lines[0].amount"),
        (
            with_lines(json!([vnd_line("10"), {"asset": "RICE_KG", "amount": "10"}])),
            "lines[1].value_vnd",
        ),
        (
            with_lines(json!([{"asset": "RICE_KG", "amount": "-1", "value_vnd": "1"}])),
            "lines[0].amount",
        ),
        (with_lines(json!([])), "lines"),
        (
            cash(&fund, json!([vnd_line("10")]), "2999-01-01T00:00:00+07:00"),
            "received_at",
        ),
    ];
    let mut body = with_lines(json!([vnd_line("10")]));
    body["channel"] = json!("bank_transfer");
    cases.push((body.clone(), "bank_ref"));
    body["channel"] = json!("crypto");
    cases.push((body.clone(), "channel"));
    body["channel"] = json!("cash");
    body["bank_ref"] = json!("FT1");
    cases.push((body, "bank_ref"));
    let mut body = with_lines(json!([vnd_line("10")]));
    body["status"] = json!("fulfilled");
    cases.push((body, "status"));
    let mut body = with_lines(json!([vnd_line("10")]));
    body["donor"] = json!({"kind": "alien", "name": "X"});
    cases.push((body.clone(), "donor.kind"));
    body["donor"] = json!({"kind": "individual", "name": "X"});
    body["donor_id"] = json!(uuid::Uuid::now_v7().to_string());
    cases.push((body, "donor"));
    let mut body = with_lines(json!([vnd_line("10")]));
    body["campaign_id"] = json!(uuid::Uuid::now_v7().to_string());
    cases.push((body, "campaign_id"));
    for (body, field) in &cases {
        refused_naming(&app, &fm, body, field).await;
    }
    assert_eq!(snapshot(&app, &fm, &fund).await, empty);

    // A bank reference is recorded once per account.
    let first = donate(&app, &fm, &transfer(&fund, "FT25001", 100_000, &at)).await;
    assert_eq!(first["bank_ref"], "FT25001");
    let before = snapshot(&app, &fm, &fund).await;
    let p = refused(
        &app,
        &fm,
        &transfer(&fund, "FT25001", 200_000, &at),
        409,
        "duplicate_bank_ref",
    )
    .await;
    assert!(str_of(&p["detail"]).contains("bank_ref"), "{p}");

    // No key: refused before anything else.
    let r = app
        .post("/v1/donations", &fm, &with_lines(json!([vnd_line("10")])))
        .await;
    problem(r, 400, "idempotency_key_required").await;

    // Outside the caller's scope, or not a recorder: nothing written.
    let hanoi = app
        .user_token("hanoi.fm", "fund_manager", Some("P01"))
        .await;
    let good = with_lines(json!([vnd_line("10")]));
    refused(&app, &hanoi, &good, 404, "not_found").await;
    let mut unknown = good.clone();
    unknown["fund_id"] = json!(uuid::Uuid::now_v7().to_string());
    refused(&app, &fm, &unknown, 404, "not_found").await;
    let approver = app
        .user_token("gialai.approver", "approver", Some("P52"))
        .await;
    let auditor = app.user_token("gialai.audit", "auditor", Some("P52")).await;
    refused(&app, &approver, &good, 403, "forbidden").await;
    refused(&app, &auditor, &good, 403, "forbidden").await;
    assert_eq!(snapshot(&app, &fm, &fund).await, before);
    assert_eq!(before["chain_seq"], 1);
}

// ---------------------------------------------------------------------------------------------
// 4. Idempotency

async fn idempotent_retries_replay_the_answer(b: Backend) {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let (fund, _) = fund_with_account(&app, &fm, "Quỹ Quy Nhơn", "0071000123456").await;
    let cal = Calendar::new();
    let at = early(&cal.day(0));
    let body = cash(&fund, json!([vnd_line("250000")]), &at);

    // Same key, same body: one donation, the same answer, marked as a replay.
    let key = new_key();
    let r1 = post_donation(&app, &fm, &key, &body).await;
    assert!(r1.headers().get("Idempotent-Replayed").is_none());
    let first = json(r1, 201).await;
    let r2 = post_donation(&app, &fm, &key, &body).await;
    assert_eq!(r2.headers()["Idempotent-Replayed"], "true");
    assert_eq!(json(r2, 201).await, first);
    assert_eq!(first["receipt_no"], receipt_no(&cal.year(), 1));

    // Same key, another body.
    let other = cash(&fund, json!([vnd_line("250001")]), &at);
    refused_under(&app, &fm, &key, &other, 422, "idempotency_key_reused").await;

    // A rejected request stays rejected, with the same answer.
    let bad = cash(&fund, json!([{"asset": "RICE_KG", "amount": "5"}]), &at);
    let bad_key = new_key();
    let p1 = refused_under(&app, &fm, &bad_key, &bad, 422, "validation_failed").await;
    assert_eq!(fields(&p1), ["lines[0].value_vnd"]);
    let r = post_donation(&app, &fm, &bad_key, &bad).await;
    assert_eq!(r.headers()["Idempotent-Replayed"], "true");
    assert_eq!(problem(r, 422, "validation_failed").await, p1);

    // A refusal after the work has written something (here the inline donor, inserted before
    // the lines are checked) rolls all of it back; only the refusal is stored under the key.
    let mut with_donor = bad.clone();
    with_donor["donor"] = json!({"kind": "individual", "name": "Phạm Văn Khiêm"});
    let donor_key = new_key();
    let p2 = refused_under(&app, &fm, &donor_key, &with_donor, 422, "validation_failed").await;
    assert_eq!(fields(&p2), ["lines[0].value_vnd"]);
    let found = json(app.get("/v1/donors?q=khiem", &fm).await, 200).await;
    assert!(
        ids(&found).is_empty(),
        "the refused request left a donor: {found}"
    );
    let r = post_donation(&app, &fm, &donor_key, &with_donor).await;
    assert_eq!(r.headers()["Idempotent-Replayed"], "true");
    assert_eq!(problem(r, 422, "validation_failed").await, p2);

    // Exactly one receipt number was used by all of the above.
    let next = donate(&app, &fm, &other).await;
    assert_eq!(next["receipt_no"], receipt_no(&cal.year(), 2));
    assert_eq!(
        list_all(&app, &fm, &format!("fund_id={fund}")).await,
        [str_of(&first["id"]), str_of(&next["id"])]
    );
    assert_eq!(posted(&app, &fm, &fund).await, assets(&[("VND", "500001")]));
}

async fn concurrent_retries_record_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let (fund, _) = fund_with_account(&app, &fm, "Quỹ Quy Nhơn", "0071000123456").await;
    let cal = Calendar::new();
    let body = cash(&fund, json!([vnd_line("300000")]), &early(&cal.day(0)));
    let key = new_key();

    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url, token) = (app.client.clone(), app.url("/v1/donations"), fm.clone());
        let (key, body) = (key.clone(), body.clone());
        set.spawn(async move {
            let r = send_donation(&client, &url, &token, &key, &body).await;
            let replayed = r.headers().contains_key("Idempotent-Replayed");
            (r.status().as_u16(), replayed, r.text().await.unwrap())
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = set.join_next().await {
        answers.push(done.unwrap());
    }
    for (status, _, text) in &answers {
        assert_eq!(*status, 201, "{text}");
        assert_eq!(text, &answers[0].2);
    }
    assert_eq!(
        answers.iter().filter(|(_, replayed, _)| !replayed).count(),
        1,
        "exactly one request did the work"
    );
    let d: Value = serde_json::from_str(&answers[0].2).unwrap();
    assert_eq!(d["receipt_no"], receipt_no(&cal.year(), 1));
    assert_eq!(
        list_all(&app, &fm, &format!("fund_id={fund}")).await,
        [str_of(&d["id"])]
    );
    assert_eq!(posted(&app, &fm, &fund).await, assets(&[("VND", "300000")]));
    let next = donate(&app, &fm, &body).await;
    assert_eq!(next["receipt_no"], receipt_no(&cal.year(), 2));
}

// ---------------------------------------------------------------------------------------------
// 5. Gapless receipts under concurrent writers

async fn receipts_are_gapless_under_concurrent_writers(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let (fund, _) = fund_with_account(&app, &fm, "Quỹ Quy Nhơn", "0071000123456").await;
    let cal = Calendar::new();
    let at = early(&cal.day(0));
    let amounts: Vec<i64> = (1..=40).map(|i| i * 10_000 + i).collect();
    let bodies = amounts
        .iter()
        .map(|a| cash(&fund, json!([vnd_line(&a.to_string())]), &at))
        .collect();

    let done = donate_concurrently(&app, &fm, bodies, 8).await;
    let mut numbers: Vec<String> = done.iter().map(|d| str_of(&d["receipt_no"])).collect();
    numbers.sort();
    let expected: Vec<String> = (1..=40).map(|n| receipt_no(&cal.year(), n)).collect();
    assert_eq!(numbers, expected, "no gaps, no duplicates");
    let total: i64 = amounts.iter().sum();
    assert_eq!(
        posted(&app, &fm, &fund).await,
        assets(&[("VND", &total.to_string())])
    );
    assert_chain_ok(&app, &admin, &fund, 40).await;
}

// ---------------------------------------------------------------------------------------------
// 6. Reversal and pledges

async fn reversal_is_once_and_pledges_are_fulfilled_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let (fund, _) = fund_with_account(&app, &fm, "Quỹ Quy Nhơn", "0071000123456").await;
    let cal = Calendar::new();
    let year = cal.year();
    let at = early(&cal.day(0));

    let d = donate(&app, &fm, &cash(&fund, json!([vnd_line("1000000")]), &at)).await;
    assert_eq!(
        posted(&app, &fm, &fund).await,
        assets(&[("VND", "1000000")])
    );
    let p = problem(
        reverse(&app, &fm, &d["id"], " ").await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["reason"]);
    let auditor = app.user_token("gialai.audit", "auditor", Some("P52")).await;
    problem(
        reverse(&app, &auditor, &d["id"], "nhập sai").await,
        403,
        "forbidden",
    )
    .await;

    let reversed = json(reverse(&app, &fm, &d["id"], "nhập sai số tiền").await, 200).await;
    assert_eq!(reversed["status"], "reversed");
    assert_eq!(reversed["receipt_no"], receipt_no(&year, 1));
    assert_eq!(reversed["reversal"]["reason"], "nhập sai số tiền");
    assert!(reversed["reversal"]["entry_id"].is_string());
    assert_eq!(posted(&app, &fm, &fund).await, assets(&[("VND", "0")]));
    let r = json(receipt(&app, &fm, &d["id"]).await, 200).await;
    assert_eq!(r["receipt_no"], receipt_no(&year, 1));
    assert_eq!(r["status"], "reversed");
    assert_eq!(r["reversed"]["reason"], "nhập sai số tiền");
    assert!(r["reversed"]["at"].is_string());
    let before = snapshot(&app, &fm, &fund).await;
    problem(
        reverse(&app, &fm, &d["id"], "again").await,
        409,
        "already_reversed",
    )
    .await;
    assert_eq!(snapshot(&app, &fm, &fund).await, before);

    // A pledge counts nowhere and has no receipt.
    let mut body = cash(&fund, json!([vnd_line("5000000")]), &at);
    body["status"] = json!("pledged");
    body["donor"] = json!({"kind": "enterprise", "name": "Công ty CP Thép Hòa Phát"});
    let pledge = donate(&app, &fm, &body).await;
    assert_eq!(pledge["status"], "pledged");
    assert!(pledge["receipt_no"].is_null());
    assert!(pledge["entry_id"].is_null());
    let after = snapshot(&app, &fm, &fund).await;
    assert_eq!(after["balances"], before["balances"]);
    assert_eq!(after["chain_seq"], before["chain_seq"]);
    problem(receipt(&app, &fm, &pledge["id"]).await, 422, "no_receipt").await;
    problem(
        reverse(&app, &fm, &pledge["id"], "x").await,
        422,
        "not_received",
    )
    .await;

    // Fulfilled by a received donation, once.
    let mut body = transfer(&fund, "FT25999001", 5_000_000, &at);
    body["fulfills_pledge_id"] = pledge["id"].clone();
    let paid = donate(&app, &fm, &body).await;
    assert_eq!(paid["fulfills_pledge_id"], pledge["id"]);
    assert_eq!(paid["receipt_no"], receipt_no(&year, 2));
    let p = json(
        app.get(&format!("/v1/donations/{}", str_of(&pledge["id"])), &fm)
            .await,
        200,
    )
    .await;
    assert_eq!(p["status"], "fulfilled");
    assert_eq!(
        posted(&app, &fm, &fund).await,
        assets(&[("VND", "5000000")])
    );
    let before = snapshot(&app, &fm, &fund).await;
    body["bank_ref"] = json!("FT25999002");
    refused(&app, &fm, &body, 409, "pledge_not_open").await;
    assert_eq!(snapshot(&app, &fm, &fund).await, before);
    problem(
        reverse(&app, &fm, &pledge["id"], "x").await,
        422,
        "not_received",
    )
    .await;
    assert_eq!(
        list_all(&app, &fm, &format!("fund_id={fund}&status=fulfilled")).await,
        [str_of(&pledge["id"])]
    );
    assert_chain_ok(&app, &admin, &fund, 3).await;
}

// ---------------------------------------------------------------------------------------------
// 7. Earmarks

async fn earmarks_are_designated_balances(b: Backend) {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let (fund, _) = fund_with_account(&app, &fm, "Quỹ Quy Nhơn", "0071000123456").await;
    let at = early(&Calendar::new().day(0));

    let mut body = cash(&fund, json!([vnd_line("3000000")]), &at);
    body["earmark"] = json!({"unit": "C21583", "purpose": "Sửa nhà sau bão"});
    let d = donate(&app, &fm, &body).await;
    let designation = "unit=2025:C21583;purpose=Sửa nhà sau bão";
    assert_eq!(d["designation"], designation);
    assert_eq!(
        d["earmark"]["unit"],
        json!({"edition": 2025, "code": "C21583"})
    );
    assert_eq!(d["earmark"]["purpose"], "Sửa nhà sau bão");
    donate(&app, &fm, &cash(&fund, json!([vnd_line("1000000")]), &at)).await;

    let bal = balances(&app, &fm, &fund).await;
    assert_eq!(bal["balances"][0]["posted"], "4000000");
    assert_eq!(
        bal["designated"],
        json!([{"asset": "VND", "posted": "3000000", "reserved": "0", "available": "3000000",
                "designation": designation}])
    );
    let r = json(receipt(&app, &fm, &d["id"]).await, 200).await;
    assert_eq!(r["earmark"], designation);

    let before = snapshot(&app, &fm, &fund).await;
    for (earmark, field) in [
        (json!({}), "earmark"),
        (json!({"unit": "C99999"}), "earmark.unit"),
        (json!({"purpose": " "}), "earmark.purpose"),
        (json!({"incident_id": "not-an-id"}), "earmark.incident_id"),
    ] {
        let mut body = cash(&fund, json!([vnd_line("10")]), &at);
        body["earmark"] = earmark;
        refused_naming(&app, &fm, &body, field).await;
    }
    assert_eq!(snapshot(&app, &fm, &fund).await, before);
}

// ---------------------------------------------------------------------------------------------
// 8. Donors

async fn donors_are_visible_only_to_those_who_need_them(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let hanoi = app
        .user_token("hanoi.fm", "fund_manager", Some("P01"))
        .await;
    let auditor = app.user_token("gialai.audit", "auditor", Some("P52")).await;
    let approver = app
        .user_token("gialai.approver", "approver", Some("P52"))
        .await;

    let create = |body: Value| {
        let (app, fm) = (&app, &fm);
        async move { json(app.post("/v1/donors", fm, &body).await, 201).await }
    };
    let hoa = create(json!({
        "kind": "individual", "name": "Nguyễn Thị Hoa", "phone": "0905 123 456",
        "email": "hoa@example.vn", "address": "34 Trần Hưng Đạo, Quy Nhơn",
    }))
    .await;
    assert_eq!(hoa["publish_name"], false);
    assert_eq!(hoa["phone"], "0905 123 456");
    let nguyen = create(json!({
        "kind": "foreign", "name": "Trần Văn Nguyên", "country": "Úc", "publish_name": false,
    }))
    .await;
    let company = create(json!({"kind": "enterprise", "name": "Công ty TNHH Minh Phát"})).await;
    assert_eq!(company["publish_name"], true);
    let hanoi_donor = json(
        app.post(
            "/v1/donors",
            &hanoi,
            &json!({"kind": "individual", "name": "Nguyễn Văn Bình"}),
        )
        .await,
        201,
    )
    .await;

    let hoa_url = format!("/v1/donors/{}", str_of(&hoa["id"]));
    for t in [&admin, &fm, &auditor] {
        assert_eq!(json(app.get(&hoa_url, t).await, 200).await, hoa);
    }
    let search = |token: &str, q: &str| {
        let (app, token, q) = (&app, token.to_owned(), q.to_owned());
        async move {
            let page = json(app.get(&format!("/v1/donors?q={q}"), &token).await, 200).await;
            let mut out = ids(&page);
            out.sort();
            out
        }
    };
    let mut in_p52 = vec![str_of(&hoa["id"]), str_of(&nguyen["id"])];
    in_p52.sort();
    assert_eq!(search(&fm, "nguyen").await, in_p52);
    assert_eq!(search(&auditor, "NGUYỄN").await, in_p52);
    let mut everywhere = [in_p52.clone(), vec![str_of(&hanoi_donor["id"])]].concat();
    everywhere.sort();
    assert_eq!(search(&admin, "nguyen").await, everywhere);
    assert_eq!(search(&hanoi, "nguyen").await, [str_of(&hanoi_donor["id"])]);
    assert_eq!(search(&fm, "minh phat").await, [str_of(&company["id"])]);

    // Approvers never see donors; another province's manager does not either.
    problem(app.get(&hoa_url, &approver).await, 403, "forbidden").await;
    problem(
        app.get("/v1/donors?q=nguyen", &approver).await,
        403,
        "forbidden",
    )
    .await;
    problem(app.get(&hoa_url, &hanoi).await, 404, "not_found").await;
    problem(
        app.post(
            "/v1/donors",
            &auditor,
            &json!({"kind": "individual", "name": "X"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    // Field errors, and a donor out of scope cannot be named on a donation.
    for (body, field) in [
        (json!({"kind": "alien", "name": "X"}), "kind"),
        (json!({"kind": "individual", "name": " "}), "name"),
        (
            json!({"kind": "individual", "name": "X", "email": "x"}),
            "email",
        ),
        (
            json!({"kind": "individual", "name": "X", "phone": "abc"}),
            "phone",
        ),
    ] {
        let p = problem(
            app.post("/v1/donors", &fm, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    let (fund, _) = fund_with_account(&app, &fm, "Quỹ Quy Nhơn", "0071000123456").await;
    let mut body = cash(
        &fund,
        json!([vnd_line("10")]),
        &early(&Calendar::new().day(0)),
    );
    body["donor_id"] = hanoi_donor["id"].clone();
    refused_naming(&app, &fm, &body, "donor_id").await;
    body["donor_id"] = hoa["id"].clone();
    let d = donate(&app, &fm, &body).await;
    assert_eq!(d["donor"]["name"], "Nguyễn Thị Hoa");
    assert_eq!(
        list_all(&app, &fm, &format!("donor_id={}", str_of(&hoa["id"]))).await,
        [str_of(&d["id"])]
    );

    // The printed receipt names the donor; only the roles that read donors see the address.
    let r = json(receipt(&app, &fm, &d["id"]).await, 200).await;
    assert_eq!(r["donor"]["address"], "34 Trần Hưng Đạo, Quy Nhơn");
    let r = json(receipt(&app, &approver, &d["id"]).await, 200).await;
    assert_eq!(r["donor"]["name"], "Nguyễn Thị Hoa");
    // BUG (at commit 8347357): routes::donations::receipt gave every role in the fund's scope the
    // donor's address, including approvers, who get 403 on GET /v1/donors/{id}.
    assert!(r["donor"]["address"].is_null(), "{r}");
}

// ---------------------------------------------------------------------------------------------
// 9. Bank statements

const STATEMENT_HEADER: &str =
    "STT,Ngày giao dịch,Số tham chiếu,Số tiền ghi có,Số tiền ghi nợ,Nội dung chi tiết";

/// Credit lines in the statement, and which of them the ledger records by reference or only by
/// amount and date.
const CREDITS: usize = 3000;
const BY_REFERENCE: usize = 150;
const BY_AMOUNT_AND_DATE: usize = 60;
const LEDGER_ONLY: usize = 40;
const DEBITS: usize = 5;

/// One line of a statement: a credit (positive) or a debit (negative), booked in September 2025.
#[derive(Clone)]
struct BankLine {
    day: u32,
    reference: String,
    amount: i64,
}

impl BankLine {
    fn iso_date(&self) -> String {
        format!("2025-09-{:02}", self.day)
    }

    fn csv(&self, stt: usize) -> String {
        let (credit, debit) = if self.amount > 0 {
            (dotted(self.amount), String::new())
        } else {
            (String::new(), dotted(-self.amount))
        };
        format!(
            "{stt},{:02}/09/2025,{},{credit},{debit},Ủng hộ đồng bào bị lũ {stt}",
            self.day, self.reference
        )
    }
}

/// Đồng as a Vietnamese bank prints them: `1.500.000`.
fn dotted(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// Credit `i`: a distinct amount, so amount-and-date matching can only find the intended line.
fn credit_line(i: usize) -> BankLine {
    BankLine {
        day: 8 + u32::try_from(i % 13).unwrap(),
        reference: format!("FT25{i:08}"),
        amount: 100_000 + 1_000 * i64::try_from(i).unwrap(),
    }
}

/// The statement: the credits with a debit after every 600th.
fn statement_lines() -> Vec<BankLine> {
    let mut out = Vec::new();
    for i in 0..CREDITS {
        out.push(credit_line(i));
        if (i + 1) % 600 == 0 {
            let k = i64::try_from(out.len()).unwrap();
            out.push(BankLine {
                day: 20,
                reference: format!("CK-OUT-{k}"),
                amount: -(7_000_000 + k),
            });
        }
    }
    assert_eq!(out.len(), CREDITS + DEBITS);
    out
}

fn statement_csv(lines: &[BankLine]) -> String {
    let mut out = String::from(STATEMENT_HEADER);
    for (i, l) in lines.iter().enumerate() {
        out.push('\n');
        out.push_str(&l.csv(i + 1));
    }
    out.push('\n');
    out
}

async fn import_statement(app: &TestApp, token: &str, bank: &str, csv: String) -> Response {
    app.client
        .post(app.url(&format!("/v1/bank-statements?bank_account_id={bank}")))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("request")
}

async fn reconciliation(app: &TestApp, token: &str, statement: &str) -> Value {
    json(
        app.get(
            &format!("/v1/bank-statements/{statement}/reconciliation"),
            token,
        )
        .await,
        200,
    )
    .await
}

/// How many matched lines each rule matched.
fn matched_by(r: &Value) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for m in r["matched"].as_array().unwrap() {
        *out.entry(str_of(&m["matched_by"])).or_default() += 1;
    }
    out
}

async fn bank_statements_reconcile_against_transfers(b: Backend) {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let (fund, bank) = fund_with_account(&app, &fm, "Quỹ Quy Nhơn", "0071000123456").await;
    let lines = statement_lines();

    // A malformed file: the line named, nothing imported (the good file later imports in full).
    let mut bad: Vec<String> = statement_csv(&lines[..6])
        .lines()
        .map(str::to_owned)
        .collect();
    bad[4] = bad[4].replacen("/09/2025", "/13/2025", 1);
    let p = problem(
        import_statement(&app, &fm, &bank, bad.join("\n")).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["line 5"]);

    // The ledger: transfers that carry a line's reference, transfers that only agree with a line
    // in amount and date, transfers the bank never saw, and one outside the statement's dates.
    let credits: Vec<BankLine> = (0..CREDITS).map(credit_line).collect();
    let at = |l: &BankLine, hour: u32| format!("{}T{hour:02}:00:00+07:00", l.iso_date());
    let mut bodies = Vec::new();
    for i in 0..BY_REFERENCE {
        let l = &credits[i * 7];
        bodies.push(transfer(&fund, &l.reference, l.amount, &at(l, 10)));
    }
    for i in 0..BY_AMOUNT_AND_DATE {
        let l = &credits[1500 + i * 5];
        bodies.push(transfer(&fund, &format!("MB-{i}"), l.amount, &at(l, 14)));
    }
    let mut ledger_only = BTreeSet::new();
    for j in 0..LEDGER_ONLY {
        let amount = 50_500 + 1_000 * i64::try_from(j).unwrap();
        let r = format!("VCB-{j}");
        bodies.push(transfer(&fund, &r, amount, "2025-09-12T09:00:00+07:00"));
        ledger_only.insert(r);
    }
    // Same amount as a line booked the day before: matched. Same amount as a line booked two days
    // later: too far apart, unmatched on both sides.
    let next_day = &credits[2001];
    bodies.push(transfer(
        &fund,
        "MB-NEXT",
        next_day.amount,
        &format!("2025-09-{:02}T10:00:00+07:00", next_day.day + 1),
    ));
    let too_early = &credits[2000];
    bodies.push(transfer(
        &fund,
        "MB-EARLY",
        too_early.amount,
        &format!("2025-09-{:02}T10:00:00+07:00", too_early.day - 2),
    ));
    ledger_only.insert("MB-EARLY".to_owned());
    bodies.push(transfer(
        &fund,
        "OLD-1",
        77_777,
        "2025-08-01T09:00:00+07:00",
    ));
    let total: i64 = bodies
        .iter()
        .map(|b| {
            b["lines"][0]["amount"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    let recorded = donate_concurrently(&app, &fm, bodies, 8).await;
    let n_recorded = recorded.len();

    // Import: every line is new.
    let s = json(
        import_statement(&app, &fm, &bank, statement_csv(&lines)).await,
        201,
    )
    .await;
    assert_eq!(s["lines_total"], CREDITS + DEBITS);
    assert_eq!(s["lines_new"], CREDITS + DEBITS);
    assert_eq!(s["first_date"], "2025-09-08");
    assert_eq!(s["last_date"], "2025-09-20");
    assert_eq!(s["fund_id"], fund);
    let sid = str_of(&s["id"]);

    let r = reconciliation(&app, &fm, &sid).await;
    // BUG (at commit 8347357): storage::bank::reconcile matched by amount any donation within
    // two days of the line's booking midnight, so MB-EARLY (received 1 day 14 hours before it)
    // was matched, against the documented "within a day of the booking date".
    let matched = BY_REFERENCE + BY_AMOUNT_AND_DATE + 1;
    assert_eq!(
        r["summary"],
        json!({"matched": matched, "unmatched_in_bank": CREDITS - matched,
               "unmatched_in_ledger": LEDGER_ONLY + 1, "debit_lines": DEBITS})
    );
    assert_eq!(
        matched_by(&r),
        BTreeMap::from([
            ("amount_and_date".to_owned(), BY_AMOUNT_AND_DATE + 1),
            ("reference".to_owned(), BY_REFERENCE),
        ])
    );
    for m in r["matched"].as_array().unwrap() {
        assert_eq!(m["line"]["amount_vnd"], m["donation"]["total_vnd"], "{m}");
        if m["matched_by"] == "reference" {
            assert_eq!(m["line"]["reference"], m["donation"]["bank_ref"], "{m}");
        }
    }
    let unmatched_refs: BTreeSet<String> = r["unmatched_in_ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| str_of(&d["bank_ref"]))
        .collect();
    assert_eq!(unmatched_refs, ledger_only);

    // The same file again adds nothing.
    let again = json(
        import_statement(&app, &fm, &bank, statement_csv(&lines)).await,
        201,
    )
    .await;
    assert_eq!(again["lines_total"], CREDITS + DEBITS);
    assert_eq!(again["lines_new"], 0);
    let hanoi = app
        .user_token("hanoi.fm", "fund_manager", Some("P01"))
        .await;
    problem(
        import_statement(&app, &hanoi, &bank, statement_csv(&lines[..3])).await,
        404,
        "not_found",
    )
    .await;

    // Both imports are listed for the fund, newest first, a page at a time; not outside the scope.
    let listed = json(
        app.get(&format!("/v1/bank-statements?fund_id={fund}&limit=1"), &fm)
            .await,
        200,
    )
    .await;
    assert_eq!(listed["items"][0]["id"], again["id"]);
    assert_eq!(listed["items"][0]["lines_new"], 0);
    let cursor = str_of(&listed["next_cursor"]);
    let rest = json(
        app.get(
            &format!("/v1/bank-statements?fund_id={fund}&limit=1&cursor={cursor}"),
            &fm,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rest["items"][0]["id"], sid.as_str());
    assert_eq!(rest["next_cursor"], Value::Null);
    problem(
        app.get(&format!("/v1/bank-statements?fund_id={fund}"), &hanoi)
            .await,
        404,
        "not_found",
    )
    .await;

    // An unmatched bank line becomes a donation in one call, once.
    let line = r["unmatched_in_bank"][0].clone();
    let url = format!(
        "/v1/bank-statements/{sid}/lines/{}/donation",
        str_of(&line["id"])
    );
    let d = json(
        app.post(&url, &fm, &json!({"note": "từ sao kê"})).await,
        201,
    )
    .await;
    assert_eq!(d["status"], "received");
    assert_eq!(d["channel"], "bank_transfer");
    assert_eq!(d["bank_ref"], line["reference"]);
    assert_eq!(d["bank_account_id"], bank);
    assert_eq!(d["lines"][0]["amount"], line["amount_vnd"]);
    assert_eq!(d["receipt_no"], receipt_no("2025", n_recorded + 1));
    let r2 = reconciliation(&app, &fm, &sid).await;
    assert_eq!(r2["summary"]["matched"], matched + 1);
    assert_eq!(r2["summary"]["unmatched_in_bank"], CREDITS - matched - 1);
    assert_eq!(r2["summary"]["unmatched_in_ledger"], LEDGER_ONLY + 1);
    let by_line: Vec<&Value> = r2["matched"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["matched_by"] == "line")
        .collect();
    assert_eq!(by_line.len(), 1);
    assert_eq!(by_line[0]["line"]["id"], line["id"]);
    assert_eq!(by_line[0]["donation"]["donation_id"], d["id"]);

    // Once only: the second call writes nothing.
    let before = snapshot(&app, &fm, &fund).await;
    let twice = app.post(&url, &fm, &json!({"note": "từ sao kê"})).await;
    assert_eq!(snapshot(&app, &fm, &fund).await, before);
    let line_amount: i64 = str_of(&line["amount_vnd"]).parse().unwrap();
    assert_eq!(
        posted(&app, &fm, &fund).await,
        assets(&[("VND", &(total + line_amount).to_string())])
    );
    assert_chain_ok(&app, &fm, &fund, i64::try_from(n_recorded).unwrap() + 1).await;
    // BUG (at commit 8347357): the second call answered 409 duplicate_bank_ref:
    // routes::bank::line_donation never looked at the line's donation_id, and
    // storage::donations::record refuses the line's bank reference (already used by the first
    // donation) before storage::bank::link_donation can say the line was already recorded.
    problem(twice, 409, "line_already_recorded").await;
}

/// The assets are kept in memory between requests (`storage::assets::Cache`): an asset created
/// after donations and public look-ups have read them is accepted, shown with its own scale, and
/// an unknown code is still refused.
async fn assets_created_later_are_accepted_and_shown(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let (fund, _) = fund_with_account(&app, &fm, "Quỹ cứu trợ Quy Nhơn", "0071000123456").await;
    let cal = Calendar::new();
    let lookup = |no: &str| {
        app.client
            .get(app.url(&format!(
                "/v1/public/donations?receipt_no={no}&fund_id={fund}"
            )))
            .send()
    };
    // Both paths read the assets before the new one exists.
    let first = donate(
        &app,
        &fm,
        &cash(&fund, json!([vnd_line("100000")]), &early(&cal.day(0))),
    )
    .await;
    let r = lookup(first["receipt_no"].as_str().unwrap()).await.unwrap();
    assert_eq!(
        json(r, 200).await["items"][0]["lines"][0]["amount"],
        "100000"
    );
    let lamp = json!({"asset": "SOLAR_LAMP_W", "amount": "12.5", "value_vnd": "50000"});
    refused_naming(
        &app,
        &fm,
        &cash(&fund, json!([lamp.clone()]), &early(&cal.day(0))),
        "lines[0].asset",
    )
    .await;

    let body = json!({"code": "SOLAR_LAMP_W", "name": "Đèn năng lượng mặt trời (W)", "unit": "W", "scale": 1, "kind": "goods"});
    json(app.post("/v1/assets", &admin, &body).await, 201).await;
    let d = donate(&app, &fm, &cash(&fund, json!([lamp]), &early(&cal.day(0)))).await;
    assert_eq!(d["lines"][0]["asset"], "SOLAR_LAMP_W");
    assert_eq!(d["lines"][0]["amount"], "12.5");
    let r = lookup(d["receipt_no"].as_str().unwrap()).await.unwrap();
    let shown = json(r, 200).await;
    assert_eq!(shown["items"][0]["lines"][0]["asset"], "SOLAR_LAMP_W");
    assert_eq!(shown["items"][0]["lines"][0]["amount"], "12.5");
    // More places than the new asset allows, and a code that names no asset: refused.
    for (line, field) in [
        (
            json!({"asset": "SOLAR_LAMP_W", "amount": "1.25", "value_vnd": "5000"}),
            "lines[0].amount",
        ),
        (
            json!({"asset": "NO_SUCH", "amount": "1", "value_vnd": "5000"}),
            "lines[0].asset",
        ),
    ] {
        let body = cash(&fund, json!([line]), &early(&cal.day(0)));
        refused_naming(&app, &fm, &body, field).await;
    }
}

crate::both_backends!(
    assets_created_later_are_accepted_and_shown,
    intake_flow_numbers_lists_and_prints_receipts,
    receipt_numbers_restart_per_fund_and_year,
    campaigns_bound_the_receiving_period,
    bad_donations_are_refused_and_write_nothing,
    idempotent_retries_replay_the_answer,
    concurrent_retries_record_once,
    receipts_are_gapless_under_concurrent_writers,
    reversal_is_once_and_pledges_are_fulfilled_once,
    earmarks_are_designated_balances,
    donors_are_visible_only_to_those_who_need_them,
    bank_statements_reconcile_against_transfers,
);
