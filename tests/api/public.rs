//! Public disclosure through the HTTP API, without a token: fund and campaign statements that
//! equal the ledger, the flow of a campaign's money, donation lookup, incident summaries and
//! masked beneficiary lists, CSV, ETags and the rate limit; and no personal data in any answer.

use crate::helpers::{json, Backend, TestApp};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::sync::Mutex;

/// Phường Quy Nhơn, a commune of Gia Lai (P52), 2025 edition.
const QN: &str = "C21583";
const DAY_MICROS: i64 = 86_400_000_000;

/// The Vietnamese calendar day `offset` days from now, as `YYYY-MM-DD`.
fn day(offset: i64) -> String {
    domain::donations::vn_date(storage::now_micros() + offset * DAY_MICROS)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// Requests without a token, keeping every answer's body for the personal-data scan.
struct Public<'a> {
    app: &'a TestApp,
    seen: Mutex<Vec<String>>,
}

impl<'a> Public<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            seen: Mutex::new(Vec::new()),
        }
    }

    async fn fetch(&self, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, String) {
        let mut req = self.app.client.get(self.app.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let h = r.headers().clone();
        let body = r.text().await.expect("body");
        self.seen.lock().unwrap().push(body.clone());
        (status, h, body)
    }

    async fn json(&self, path: &str) -> Value {
        let (status, h, body) = self.fetch(path, &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(h["content-type"], "application/json");
        serde_json::from_str(&body).expect("json")
    }

    async fn text(&self, path: &str) -> (HeaderMap, String) {
        let (status, h, body) = self.fetch(path, &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
        (h, body)
    }

    /// A problem+json answer with `status` and `code`.
    async fn problem(&self, path: &str, status: u16, code: &str) -> Value {
        let (got, h, body) = self.fetch(path, &[]).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(h["content-type"], "application/problem+json");
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["code"], code, "{v}");
        v
    }

    /// Fails if any answer seen so far contains one of `secrets`.
    fn assert_none_contains(&self, secrets: &[String]) {
        let seen = self.seen.lock().unwrap();
        assert!(seen.len() > 20, "too few answers scanned: {}", seen.len());
        for body in seen.iter() {
            for s in secrets {
                assert!(
                    !body.contains(s.as_str()),
                    "a public answer contains {s:?}: {body}"
                );
            }
        }
    }
}

/// Posts a donation with a fresh Idempotency-Key and returns it.
async fn donate(app: &TestApp, token: &str, body: &Value) -> Value {
    let r = app
        .client
        .post(app.url("/v1/donations"))
        .bearer_auth(token)
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .json(body)
        .send()
        .await
        .expect("request");
    json(r, 201).await
}

fn vnd(amount: i64) -> Value {
    json!([{"asset": "VND", "amount": amount.to_string()}])
}

/// Proposes, approves (by `ap`) and executes (by `fm`) an allocation of `amount` đồng.
async fn allocate(app: &TestApp, fm: &str, ap: &str, from: &str, to: &str, amount: i64) {
    let body = json!({
        "from_fund_id": from, "to_fund_id": to, "decision_ref": "QĐ 123/QĐ-UBND", "round": 1,
        "purpose": "Hỗ trợ khắc phục lũ", "lines": vnd(amount),
    });
    let a = json(app.post("/v1/allocations", fm, &body).await, 201).await;
    let path = |action: &str| format!("/v1/allocations/{}/{action}", id(&a));
    json(app.post(&path("approve"), ap, &json!({})).await, 200).await;
    json(app.post(&path("execute"), fm, &json!({})).await, 200).await;
}

/// Proposes and approves a food disbursement; pays it when `pay`.
#[allow(clippy::too_many_arguments)]
async fn support(
    app: &TestApp,
    fm: &str,
    ap: &str,
    fund: &str,
    incident: &str,
    household: &str,
    lines: Value,
    pay: bool,
) -> Value {
    let body = json!({
        "fund_id": fund, "household_id": household, "incident_id": incident,
        "purpose": "Hỗ trợ lương thực", "lines": lines,
    });
    let d = json(app.post("/v1/disbursements", fm, &body).await, 201).await;
    let path = |action: &str| format!("/v1/disbursements/{}/{action}", id(&d));
    let mut d = json(app.post(&path("approve"), ap, &json!({})).await, 200).await;
    if pay {
        d = json(
            app.post(
                &path("pay"),
                fm,
                &json!({"method": "cash", "received_by": "Trần Thị Bình"}),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(d["status"], "paid");
    }
    d
}

/// A commune fund with money in, out, reversed, allocated and paid; a campaign; an incident with
/// two assessed households, one of them paid.
struct World {
    app: TestApp,
    fm: String,
    fund: String,
    province: String,
    campaign: String,
    incident: String,
    anonymous_cash: Value,
    from_company: Value,
    reversed: Value,
    province_cash: Value,
    households: Vec<String>,
}

async fn world(b: Backend) -> World {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let ap = app
        .user_token("gialai.approver", "approver", Some("P52"))
        .await;
    let fund_body = json!({
        "unit": QN, "name": "Quỹ cứu trợ phường Quy Nhơn", "custodian": "Ủy ban MTTQ phường Quy Nhơn",
        "custodian_kind": "fatherland_front",
        "bank_accounts": [{"bank": "Vietcombank", "account_number": "0071000123456",
                           "account_name": "MTTQ phuong Quy Nhon"}],
    });
    let fund = id(&json(app.post("/v1/funds", &fm, &fund_body).await, 201).await);
    let province = id(&app
        .create_fund(&fm, "P52", "Quỹ cứu trợ tỉnh Gia Lai")
        .await);
    let campaign = json(
        app.post(
            "/v1/campaigns",
            &fm,
            &json!({"fund_id": fund, "name": "Ủng hộ đồng bào bị lũ", "appeal_ref": "45/TB-MTTQ",
                    "opens_on": day(-10), "closes_on": day(10)}),
        )
        .await,
        201,
    )
    .await;
    let campaign = id(&campaign);
    let at = format!("{}T00:01:00+07:00", day(0));

    // An individual who did not agree to publication, with contact details and a private note.
    let anonymous_cash = donate(
        &app,
        &fm,
        &json!({"fund_id": fund, "campaign_id": campaign, "status": "received", "channel": "cash",
                "received_at": at, "lines": vnd(1_500_000),
                "note": "Gọi lại cho anh An sau 5 giờ chiều",
                "donor": {"kind": "individual", "name": "Nguyễn Văn An", "phone": "0905 123 456",
                          "address": "12 Lê Lợi, Quy Nhơn"}}),
    )
    .await;
    assert_eq!(anonymous_cash["donor"]["publish_name"], false);
    let company = json(
        app.post(
            "/v1/donors",
            &fm,
            &json!({"kind": "enterprise", "name": "Công ty TNHH Minh Phát", "tax_code": "4100123456",
                    "phone": "0256 3822 999"}),
        )
        .await,
        201,
    )
    .await;
    let from_company = donate(
        &app,
        &fm,
        &json!({"fund_id": fund, "campaign_id": campaign, "donor_id": company["id"],
                "status": "received", "channel": "bank_transfer", "bank_ref": "FT26001234567",
                "received_at": at, "lines": vnd(2_000_000)}),
    )
    .await;
    donate(
        &app,
        &fm,
        &json!({"fund_id": fund, "status": "received", "channel": "in_kind", "received_at": at,
                "lines": [{"asset": "RICE_KG", "amount": "250.5", "value_vnd": "5000000"}]}),
    )
    .await;
    let reversed = donate(
        &app,
        &fm,
        &json!({"fund_id": fund, "campaign_id": campaign, "status": "received", "channel": "cash",
                "received_at": at, "lines": vnd(300_000)}),
    )
    .await;
    json(
        app.post(
            &format!("/v1/donations/{}/reverse", id(&reversed)),
            &fm,
            &json!({"reason": "nhầm quỹ, hoàn lại cho người gửi"}),
        )
        .await,
        200,
    )
    .await;
    // A pledge is a promise, not money: not public.
    donate(
        &app,
        &fm,
        &json!({"fund_id": fund, "campaign_id": campaign, "status": "pledged",
                "channel": "bank_transfer", "bank_ref": "FT26009999999", "received_at": at,
                "lines": vnd(700_000)}),
    )
    .await;
    let province_cash = donate(
        &app,
        &fm,
        &json!({"fund_id": province, "status": "received", "channel": "cash", "received_at": at,
                "lines": vnd(50_000_000)}),
    )
    .await;
    allocate(&app, &fm, &ap, &province, &fund, 20_000_000).await;
    allocate(&app, &fm, &ap, &fund, &province, 1_000_000).await;

    let incident = json(
        app.post(
            "/v1/incidents",
            &fm,
            &json!({"kind": "flood", "name": "Lũ tháng 11", "units": [{"code": QN}],
                    "started_at": format!("{}T08:00:00+07:00", day(-3))}),
        )
        .await,
        201,
    )
    .await;
    let incident = id(&incident);
    let mut households = Vec::new();
    for body in [
        json!({"unit": QN, "head_name": "Trần Thị Bình", "head_birth_year": 1975, "head_sex": "female",
               "national_id": "052198001234", "address": "Tổ 5, khu phố 2", "poverty_status": "poor",
               "members": [{"name": "Phạm Thị Hoa", "birth_year": 2001, "sex": "female",
                            "national_id": "052199005678", "flags": []}]}),
        json!({"unit": QN, "head_name": "Lê Văn Cường", "head_birth_year": 1960, "head_sex": "male",
               "address": "Tổ 9, khu phố 4", "poverty_status": "near_poor", "members": []}),
    ] {
        let h = json(app.post("/v1/households", &fm, &body).await, 201).await;
        json(
            app.post(
                &format!("/v1/incidents/{incident}/assessments"),
                &fm,
                &json!({"household_id": h["id"], "deaths": 0, "missing": 0, "severely_injured": 0,
                        "house_damage": "none", "people_needing_food": 1, "months_of_food": 1,
                        "assessor": "Cán bộ phường", "assessed_on": day(-1)}),
            )
            .await,
            201,
        )
        .await;
        households.push(id(&h));
    }
    let lines = json!([
        {"category": "food", "asset": "VND", "amount": "2000000"},
        {"category": "food", "asset": "RICE_KG", "amount": "50"},
    ]);
    support(
        &app,
        &fm,
        &ap,
        &fund,
        &incident,
        &households[0],
        lines,
        true,
    )
    .await;
    // Approved but not paid: reserved, not public as a payment.
    let lines = json!([{"category": "food", "asset": "VND", "amount": "1000000"}]);
    support(
        &app,
        &fm,
        &ap,
        &fund,
        &incident,
        &households[1],
        lines,
        false,
    )
    .await;
    World {
        app,
        fm,
        fund,
        province,
        campaign,
        incident,
        anonymous_cash,
        from_company,
        reversed,
        province_cash,
        households,
    }
}

/// What must never appear in a public answer of the world above.
fn secrets(w: &World) -> Vec<String> {
    let mut s: Vec<String> = [
        "Nguyễn Văn An",
        "0905 123 456",
        "0905123456",
        "12 Lê Lợi",
        "Gọi lại cho anh An",
        "0256 3822 999",
        "4100123456",
        "Trần Thị Bình",
        "Lê Văn Cường",
        "Phạm Thị Hoa",
        "Phạm T.",
        "052198001234",
        "052199005678",
        "Tổ 5, khu phố 2",
        "Tổ 9, khu phố 4",
        "nhầm quỹ",
        "gialai.fm",
        "gialai.approver",
        "Cán bộ phường",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    s.extend(["admin", "gialai.fm", "gialai.approver"].map(|u| w.app.user_id(u)));
    s.push(id(&w.anonymous_cash["donor"]));
    s.extend(w.households.iter().cloned());
    s
}

// ---------------------------------------------------------------------------------------------

async fn statements_equal_the_ledger_and_name_no_one(b: Backend) {
    let w = world(b).await;
    let p = Public::new(&w.app);

    // Funds can be found without a token.
    let funds = p.json("/v1/public/funds").await;
    assert_eq!(funds["next_cursor"], Value::Null);
    let names: Vec<(&str, &str, &str)> = funds["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["unit"]["code"].as_str().unwrap(),
                f["unit"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("Quỹ cứu trợ phường Quy Nhơn", QN, "Phường Quy Nhơn"),
            ("Quỹ cứu trợ tỉnh Gia Lai", "P52", "Gia Lai"),
        ]
    );
    let page = p.json("/v1/public/funds?limit=1").await;
    assert_eq!(page["items"][0]["id"], w.fund);
    let next = page["next_cursor"].as_str().unwrap();
    let page = p
        .json(&format!("/v1/public/funds?limit=1&cursor={next}"))
        .await;
    assert_eq!(page["items"][0]["id"], w.province);

    // The fund's statement, per asset.
    let st = p
        .json(&format!("/v1/public/funds/{}/statement", w.fund))
        .await;
    assert_eq!(st["fund"]["id"], w.fund);
    assert_eq!(st["fund"]["unit"]["code"], QN);
    assert_eq!(
        st["assets"],
        json!([
            {"asset": "RICE_KG", "unit": "kg", "opening": "0.000", "received": "250.500",
             "reversed": "0.000", "allocated_in": "0.000", "allocated_out": "0.000",
             "paid": "50.000", "other": "0.000", "balance": "200.500", "reserved": "0.000",
             "available": "200.500"},
            {"asset": "VND", "unit": "đồng", "opening": "0", "received": "3800000",
             "reversed": "300000", "allocated_in": "20000000", "allocated_out": "1000000",
             "paid": "2000000", "other": "0", "balance": "20500000", "reserved": "1000000",
             "available": "19500000"},
        ])
    );
    assert_eq!(
        st["donations_received"],
        json!({"count": 3, "total_vnd": "8500000"})
    );
    assert_eq!(
        st["disbursements_paid"],
        json!({"count": 1, "total_vnd": "2000000"})
    );
    // What the fund's page lists besides its figures: campaigns, allocation rounds (newest
    // first), what was paid per commune, and the incidents it paid for.
    let campaigns = st["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 1, "{st}");
    assert_eq!(campaigns[0]["id"], w.campaign);
    assert_eq!(campaigns[0]["appeal_ref"], "45/TB-MTTQ");
    let rounds: Vec<(&str, &str, &str)> = st["allocations"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["direction"].as_str().unwrap(),
                a["counterpart"]["id"].as_str().unwrap(),
                a["total_vnd"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rounds,
        [
            ("out", w.province.as_str(), "1000000"),
            ("in", w.province.as_str(), "20000000")
        ]
    );
    assert_eq!(
        st["communes"],
        json!([{
            "unit": {"edition": 2025, "code": QN, "name": "Phường Quy Nhơn"},
            "households_supported": 1, "disbursements_paid": 1,
            "paid": [
                {"asset": "RICE_KG", "unit": "kg", "amount": "50.000"},
                {"asset": "VND", "unit": "đồng", "amount": "2000000"},
            ],
            "paid_total_vnd": "2000000",
        }])
    );
    let per_commune: i64 = st["communes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["paid_total_vnd"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        per_commune.to_string(),
        st["disbursements_paid"]["total_vnd"]
    );
    let incidents = st["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{st}");
    assert_eq!(incidents[0]["id"], w.incident);
    assert_eq!(incidents[0]["name"], "Lũ tháng 11");

    // The same figures as the staff balances, for both funds.
    for fund in [&w.fund, &w.province] {
        let st = p.json(&format!("/v1/public/funds/{fund}/statement")).await;
        let staff = json(
            w.app
                .get(&format!("/v1/funds/{fund}/balances"), &w.fm)
                .await,
            200,
        )
        .await;
        let staff = staff["balances"].as_array().unwrap();
        let public = st["assets"].as_array().unwrap();
        assert_eq!(public.len(), staff.len(), "{st} {staff:?}");
        for (pub_row, staff_row) in public.iter().zip(staff) {
            assert_eq!(pub_row["asset"], staff_row["asset"]);
            assert_eq!(pub_row["balance"], staff_row["posted"]);
            assert_eq!(pub_row["reserved"], staff_row["reserved"]);
            assert_eq!(pub_row["available"], staff_row["available"]);
        }
    }
    let province = p
        .json(&format!("/v1/public/funds/{}/statement", w.province))
        .await;
    assert_eq!(
        province["assets"][0],
        json!({"asset": "VND", "unit": "đồng", "opening": "0", "received": "50000000",
               "reversed": "0", "allocated_in": "1000000", "allocated_out": "20000000",
               "paid": "0", "other": "0", "balance": "31000000", "reserved": "0",
               "available": "31000000"})
    );

    // The statement as CSV.
    let (h, csv) = p
        .text(&format!("/v1/public/funds/{}/statement?format=csv", w.fund))
        .await;
    assert_eq!(h["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        csv.split("\r\n").collect::<Vec<_>>(),
        [
            "scope,asset,unit,opening,received,reversed,allocated_in,allocated_out,paid,other,balance,reserved,available",
            "fund,RICE_KG,kg,0.000,250.500,0.000,0.000,0.000,50.000,0.000,200.500,0.000,200.500",
            "fund,VND,đồng,0,3800000,300000,20000000,1000000,2000000,0,20500000,1000000,19500000",
            "",
        ]
    );
    let bad = p
        .problem(
            &format!("/v1/public/funds/{}/statement?format=xml", w.fund),
            400,
            "invalid_query",
        )
        .await;
    assert!(bad["detail"].as_str().unwrap().contains("format"), "{bad}");

    // The campaign: what it received, and its fund's figures.
    let cs = p
        .json(&format!("/v1/public/campaigns/{}/statement", w.campaign))
        .await;
    assert_eq!(cs["campaign"]["id"], w.campaign);
    assert_eq!(cs["campaign"]["name"], "Ủng hộ đồng bào bị lũ");
    assert_eq!(cs["campaign"]["appeal_ref"], "45/TB-MTTQ");
    assert_eq!(cs["fund"]["id"], w.fund);
    assert_eq!(cs["basis"], "fund");
    assert!(cs["basis_note"].is_string());
    assert_eq!(
        cs["received"],
        json!([{"asset": "VND", "unit": "đồng", "received": "3800000", "reversed": "300000"}])
    );
    assert_eq!(
        cs["donations_received"],
        json!({"count": 2, "total_vnd": "3500000"})
    );
    // The fund's figures; the lists stay on the fund's own statement.
    for k in ["fund", "assets", "donations_received", "disbursements_paid"] {
        assert_eq!(cs["fund_statement"][k], st[k], "{k}");
    }
    assert_eq!(cs["fund_statement"]["campaigns"], Value::Null);
    let (h, csv) = p
        .text(&format!(
            "/v1/public/campaigns/{}/statement?format=csv",
            w.campaign
        ))
        .await;
    assert_eq!(h["content-type"], "text/csv; charset=utf-8");
    let rows: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(rows[1], "campaign,VND,đồng,,3800000,300000,,,,,,,");
    assert_eq!(
        rows[3],
        "fund,VND,đồng,0,3800000,300000,20000000,1000000,2000000,0,20500000,1000000,19500000"
    );

    // Following the money: donations, then the fund's allocations and payments.
    let today = day(0);
    let flow = p
        .json(&format!("/v1/public/campaigns/{}/flow", w.campaign))
        .await;
    assert_eq!(flow["basis"], "fund");
    assert_eq!(flow["donations"]["count"], 3);
    assert_eq!(flow["donations"]["total_vnd"], "3500000");
    let receipts: Vec<&Value> = flow["donations"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["receipt_no"])
        .collect();
    assert_eq!(
        receipts,
        [
            &w.reversed["receipt_no"],
            &w.from_company["receipt_no"],
            &w.anonymous_cash["receipt_no"]
        ]
    );
    let items = flow["donations"]["items"].as_array().unwrap();
    assert_eq!(items[0]["status"], "reversed");
    assert_eq!(items[0]["reversed_on"], today);
    assert_eq!(
        items[1]["donor"],
        json!({"name": "Công ty TNHH Minh Phát", "anonymous": false})
    );
    assert_eq!(
        items[2]["donor"],
        json!({"name": "Ẩn danh", "anonymous": true})
    );
    let allocations = flow["allocations"]["items"].as_array().unwrap();
    assert_eq!(allocations.len(), 2);
    assert_eq!(allocations[0]["direction"], "out");
    assert_eq!(allocations[0]["counterpart"]["id"], w.province);
    assert_eq!(allocations[0]["total_vnd"], "1000000");
    assert_eq!(allocations[1]["direction"], "in");
    assert_eq!(allocations[1]["decision_ref"], "QĐ 123/QĐ-UBND");
    assert_eq!(allocations[1]["executed_on"], today);
    assert_eq!(
        allocations[1]["lines"],
        json!([{"asset": "VND", "unit": "đồng", "amount": "20000000"}])
    );
    assert_eq!(flow["payments"]["count"], 1);
    assert_eq!(flow["payments"]["total_vnd"], "2000000");
    assert_eq!(
        flow["payments"]["items"],
        json!([{
            "name": "Trần T. B.", "unit": {"edition": 2025, "code": QN},
            "incident_id": w.incident,
            "lines": [
                {"category": "food", "asset": "VND", "unit": "đồng", "amount": "2000000"},
                {"category": "food", "asset": "RICE_KG", "unit": "kg", "amount": "50.000"},
            ],
            "total_vnd": "2000000", "paid_on": today,
        }])
    );
    assert_eq!(flow["fund_figures"], st["assets"]);
    let small = p
        .json(&format!("/v1/public/campaigns/{}/flow?limit=1", w.campaign))
        .await;
    assert_eq!(small["donations"]["count"], 3);
    assert_eq!(small["donations"]["items"].as_array().unwrap().len(), 1);

    // The incident: households assessed and supported, what was paid, per commune.
    let inc = p
        .json(&format!("/v1/public/incidents/{}", w.incident))
        .await;
    assert_eq!(inc["name"], "Lũ tháng 11");
    assert_eq!(inc["kind"], "flood");
    assert_eq!(
        inc["units"],
        json!([{"edition": 2025, "code": QN, "name": "Phường Quy Nhơn"}])
    );
    assert_eq!(inc["households_assessed"], 2);
    assert_eq!(inc["households_supported"], 1);
    assert_eq!(inc["disbursements_paid"], 1);
    let paid = json!([
        {"asset": "RICE_KG", "unit": "kg", "amount": "50.000"},
        {"asset": "VND", "unit": "đồng", "amount": "2000000"},
    ]);
    assert_eq!(inc["paid"], paid);
    assert_eq!(inc["paid_total_vnd"], "2000000");
    assert_eq!(
        inc["communes"],
        json!([{
            "unit": {"edition": 2025, "code": QN, "name": "Phường Quy Nhơn"},
            "households_assessed": 2, "households_supported": 1, "disbursements_paid": 1,
            "paid": paid, "paid_total_vnd": "2000000",
        }])
    );

    // The commune's beneficiaries: masked names only.
    let list = p
        .json(&format!(
            "/v1/public/incidents/{}/beneficiaries?unit={QN}&edition=2025",
            w.incident
        ))
        .await;
    assert_eq!(
        list["unit"],
        json!({"edition": 2025, "code": QN, "name": "Phường Quy Nhơn"})
    );
    assert_eq!(list["items"], flow["payments"]["items"]);
    assert_eq!(list["next_cursor"], Value::Null);
    let other = p
        .json(&format!(
            "/v1/public/incidents/{}/beneficiaries?unit=C21601",
            w.incident
        ))
        .await;
    assert_eq!(other["items"], json!([]));
    let path = format!("/v1/public/incidents/{}/beneficiaries", w.incident);
    let e = p.problem(&path, 400, "invalid_query").await;
    assert!(e["detail"].as_str().unwrap().contains("unit"), "{e}");
    let e = p
        .problem(&format!("{path}?unit=C99999"), 400, "invalid_query")
        .await;
    assert!(e["detail"].as_str().unwrap().contains("unit"), "{e}");

    // Unknown ids are 404.
    let nobody = "01890000-0000-7000-8000-000000000000";
    for path in [
        format!("/v1/public/funds/{nobody}/statement"),
        format!("/v1/public/campaigns/{nobody}/statement"),
        format!("/v1/public/campaigns/{nobody}/flow"),
        format!("/v1/public/incidents/{nobody}"),
        format!("/v1/public/incidents/{nobody}/beneficiaries?unit={QN}"),
    ] {
        p.problem(&path, 404, "not_found").await;
    }

    donations_are_found_by_reference(&w, &p).await;
    p.assert_none_contains(&secrets(&w));
}

async fn donations_are_found_by_reference(w: &World, p: &Public<'_>) {
    let today = day(0);
    // Receipt numbers restart per fund: the commune's first receipt and the province's share a
    // number, and `fund_id` tells them apart.
    let no = w.anonymous_cash["receipt_no"].as_str().unwrap();
    assert_eq!(no, w.province_cash["receipt_no"].as_str().unwrap());
    let both = p
        .json(&format!("/v1/public/donations?receipt_no={no}"))
        .await;
    let funds: Vec<&Value> = both["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["fund"]["id"])
        .collect();
    assert_eq!(funds.len(), 2);
    assert!(funds.contains(&&json!(w.fund)) && funds.contains(&&json!(w.province)));
    let one = p
        .json(&format!(
            "/v1/public/donations?receipt_no={no}&fund_id={}",
            w.fund
        ))
        .await;
    assert_eq!(
        one["items"],
        json!([{
            "receipt_no": no,
            "fund": {"id": w.fund, "name": "Quỹ cứu trợ phường Quy Nhơn",
                     "unit": {"edition": 2025, "code": QN, "name": "Phường Quy Nhơn"}},
            "received_on": today, "status": "received", "reversed_on": null, "channel": "cash",
            "earmarked": false,
            "lines": [{"asset": "VND", "unit": "đồng", "amount": "1500000", "value_vnd": null}],
            "total_vnd": "1500000",
            "campaign": {"id": w.campaign, "name": "Ủng hộ đồng bào bị lũ"},
            "donor": {"name": "Ẩn danh", "anonymous": true},
        }])
    );
    assert_eq!(one["next_cursor"], Value::Null);

    let by_bank = p.json("/v1/public/donations?bank_ref=FT26001234567").await;
    assert_eq!(by_bank["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_bank["items"][0]["channel"], "bank_transfer");
    assert_eq!(by_bank["items"][0]["total_vnd"], "2000000");
    assert_eq!(
        by_bank["items"][0]["donor"]["name"],
        "Công ty TNHH Minh Phát"
    );
    let rev = p
        .json(&format!(
            "/v1/public/donations?receipt_no={}",
            w.reversed["receipt_no"].as_str().unwrap()
        ))
        .await;
    assert_eq!(rev["items"][0]["status"], "reversed");
    assert_eq!(rev["items"][0]["reversed_on"], today);

    // A pledge's reference reveals no more than an unknown one.
    let pledge = p
        .problem(
            "/v1/public/donations?bank_ref=FT26009999999",
            404,
            "not_found",
        )
        .await;
    let unknown = p
        .problem(
            "/v1/public/donations?bank_ref=FT26000000000",
            404,
            "not_found",
        )
        .await;
    assert_eq!(pledge, unknown);
    let unknown_receipt = p
        .problem(
            "/v1/public/donations?receipt_no=BN-2026-999999",
            404,
            "not_found",
        )
        .await;
    assert_eq!(pledge, unknown_receipt);

    // Exactly one of the two references.
    let e = p
        .problem("/v1/public/donations", 400, "invalid_query")
        .await;
    assert!(e["detail"].as_str().unwrap().contains("receipt_no"), "{e}");
    let e = p
        .problem(
            "/v1/public/donations?receipt_no=BN-2026-000001&bank_ref=FT1",
            400,
            "invalid_query",
        )
        .await;
    assert!(e["detail"].as_str().unwrap().contains("bank_ref"), "{e}");
    let e = p
        .problem("/v1/public/donations?receipt_no=", 400, "invalid_query")
        .await;
    assert!(e["detail"].as_str().unwrap().contains("receipt_no"), "{e}");
}

async fn answers_carry_etags_and_revalidate(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let p = Public::new(&app);
    let fund = id(&app.create_fund(&admin, QN, "Quỹ phường").await);
    // An asset whose unit a spreadsheet would read as a formula.
    json(
        app.post(
            "/v1/assets",
            &admin,
            &json!({"code": "SANDBAG", "name": "Sandbag", "unit": "=1+2", "scale": 0, "kind": "goods"}),
        )
        .await,
        201,
    )
    .await;
    donate(
        &app,
        &admin,
        &json!({"fund_id": fund, "status": "received", "channel": "in_kind",
                "lines": [{"asset": "SANDBAG", "amount": "40", "value_vnd": "400000"}]}),
    )
    .await;

    for path in [
        format!("/v1/public/funds/{fund}/statement"),
        format!("/v1/public/funds/{fund}/statement?format=csv"),
        "/v1/public/funds".to_owned(),
    ] {
        let (status, h, body) = p.fetch(&path, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(h["cache-control"], "public, max-age=60");
        let etag = h["etag"].to_str().unwrap().to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() == 66,
            "{etag}"
        );
        // The same answer again has the same tag; asking with it gives 304 without a body.
        let (_, h2, body2) = p.fetch(&path, &[]).await;
        assert_eq!(body2, body);
        assert_eq!(h2["etag"], etag.as_str());
        let (status, h3, body3) = p.fetch(&path, &[("if-none-match", &etag)]).await;
        assert_eq!(status, 304, "{path}");
        assert_eq!(body3, "");
        assert_eq!(h3["etag"], etag.as_str());
        assert_eq!(h3["cache-control"], "public, max-age=60");
        let list = format!("\"other\", {etag}");
        let (status, _, _) = p.fetch(&path, &[("if-none-match", &list)]).await;
        assert_eq!(status, 304);
        let (status, _, again) = p.fetch(&path, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(status, 200);
        assert_eq!(again, body);
    }

    // The CSV defuses the formula.
    let (_, csv) = p
        .text(&format!("/v1/public/funds/{fund}/statement?format=csv"))
        .await;
    assert!(
        csv.contains("\r\nfund,SANDBAG,'=1+2,0,40,0,0,0,0,0,40,0,40\r\n"),
        "{csv}"
    );

    // New money changes the answer and its tag: the old tag no longer matches.
    let path = format!("/v1/public/funds/{fund}/statement");
    let (_, h, before) = p.fetch(&path, &[]).await;
    let old = h["etag"].to_str().unwrap().to_owned();
    donate(
        &app,
        &admin,
        &json!({"fund_id": fund, "status": "received", "channel": "cash", "lines": vnd(100_000)}),
    )
    .await;
    let (status, h, after) = p.fetch(&path, &[("if-none-match", &old)]).await;
    assert_eq!(status, 200);
    assert_ne!(h["etag"].to_str().unwrap(), old);
    assert_ne!(after, before);
    let v: Value = serde_json::from_str(&after).unwrap();
    assert_eq!(v["assets"][1]["asset"], "VND");
    assert_eq!(v["assets"][1]["received"], "100000");
}

async fn public_routes_are_rate_limited_per_address(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        c.public_rate_per_sec = 1;
        c.public_burst = 3;
    })
    .await;
    let p = Public::new(&app);
    // The burst is served at once.
    for _ in 0..3 {
        let (status, _, _) = p.fetch("/v1/public/funds", &[]).await;
        assert_eq!(status, 200);
    }
    // Then at most one a second: well within a few dozen quick requests, one is refused.
    let mut refused = None;
    for _ in 0..50 {
        let (status, h, body) = p.fetch("/v1/public/funds", &[]).await;
        if status == 429 {
            refused = Some((h, body));
            break;
        }
        assert_eq!(status, 200);
    }
    let (h, body) = refused.expect("a 429 within 50 requests");
    assert_eq!(h["content-type"], "application/problem+json");
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(h.contains_key("x-request-id"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["code"], "too_many_requests");
    assert_eq!(v["status"], 429);
    // Unknown public paths count too (404 while tokens last); other routes are not limited.
    let mut statuses = Vec::new();
    for _ in 0..50 {
        let (status, _, _) = p.fetch("/v1/public/nothing-here", &[]).await;
        statuses.push(status);
        if status == 429 {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [404, 429].contains(s)),
        "{statuses:?}"
    );
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token = app.admin_token().await;
    assert_eq!(app.get("/v1/funds", &token).await.status(), 200);
}

crate::both_backends!(
    statements_equal_the_ledger_and_name_no_one,
    answers_carry_etags_and_revalidate,
    public_routes_are_rate_limited_per_address,
);
