//! Reports through the HTTP API: a fund's half-year and year (balances that reconcile, receipts,
//! payouts, allocations, reversals), an incident's support per commune (timeliness statistics),
//! the CSV layout, bad periods and scope.

use crate::helpers::{fields, json, problem, Backend, TestApp};
use reqwest::Response;
use serde_json::{json, Value};

/// Phường Quy Nhơn and Phường Quy Nhơn Đông, communes of Gia Lai (P52), 2025 edition.
const QN: &str = "C21583";
const QND: &str = "C21601";
const DAY_MICROS: i64 = 86_400_000_000;
/// An incident name a spreadsheet would run as a formula.
const FLOOD: &str = "=SUM(1,2) Lũ tháng 11";

/// The Vietnamese calendar day `offset` days from today, as `YYYY-MM-DD`.
fn day(offset: i64) -> String {
    domain::donations::vn_date(storage::now_micros() + offset * DAY_MICROS)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

/// The half-year we are in, as a period (`2026-H2`), and its year.
fn this_half() -> (String, i32) {
    let today = day(0);
    let year: i32 = today[..4].parse().unwrap();
    let month: u32 = today[5..7].parse().unwrap();
    let half = if month <= 6 { 1 } else { 2 };
    (format!("{year}-H{half}"), year)
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

async fn post_keyed(app: &TestApp, path: &str, token: &str, body: &Value) -> Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn donate(app: &TestApp, token: &str, body: Value) -> Value {
    json(post_keyed(app, "/v1/donations", token, &body).await, 201).await
}

fn cash(fund: &str, amount: &str) -> Value {
    json!({"fund_id": fund, "status": "received", "channel": "cash",
           "lines": [{"asset": "VND", "amount": amount}]})
}

fn with(mut v: Value, extra: Value) -> Value {
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

async fn household(app: &TestApp, token: &str, unit: &str, head: &str) -> Value {
    let body = json!({
        "unit": unit, "head_name": head, "head_birth_year": 1975, "head_sex": "female",
        "address": "Tổ 5, khu phố 2", "poverty_status": "poor",
        "members": [{"name": "Nguyễn Văn Tư", "birth_year": 1990, "sex": "male", "flags": []}],
    });
    json(app.post("/v1/households", token, &body).await, 201).await
}

async fn assess(app: &TestApp, token: &str, incident: &str, household: &Value, on: &str) {
    let body = json!({
        "household_id": household["id"], "deaths": 0, "missing": 0, "severely_injured": 0,
        "house_damage": "severely_damaged", "people_needing_food": 1, "months_of_food": 1,
        "assessor": "Cán bộ địa chính phường", "assessed_on": on,
    });
    let path = format!("/v1/incidents/{incident}/assessments");
    json(app.post(&path, token, &body).await, 201).await;
}

/// Proposes a disbursement of `lines` ([category, asset, amount]) for the incident, has it
/// approved and, if `pay`, paid in cash. Returns its id.
async fn disburse(
    app: &TestApp,
    (fm, ap): (&str, &str),
    fund: &str,
    incident: &str,
    household: &Value,
    lines: &[[&str; 3]],
    pay: bool,
) -> String {
    let body = json!({
        "fund_id": fund, "household_id": household["id"], "incident_id": incident,
        "purpose": "Hỗ trợ khẩn cấp sau lũ",
        "lines": lines.iter().map(|[c, a, n]| json!({"category": c, "asset": a, "amount": n})).collect::<Vec<_>>(),
    });
    let d = id(&json(app.post("/v1/disbursements", fm, &body).await, 201).await);
    let approved = json(
        app.post(&format!("/v1/disbursements/{d}/approve"), ap, &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(approved["status"], "approved", "{approved}");
    if pay {
        let paid = json(
            post_keyed(
                app,
                &format!("/v1/disbursements/{d}/pay"),
                fm,
                &json!({"method": "cash", "received_by": "Trần Thị Bình"}),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(paid["status"], "paid", "{paid}");
    }
    d
}

/// Proposes, approves and executes an allocation of `amount` đồng.
async fn allocate(app: &TestApp, (fm, ap): (&str, &str), from: &str, to: &str, amount: &str) {
    let body = json!({"from_fund_id": from, "to_fund_id": to, "decision_ref": "QĐ 45/QĐ-UBND",
                      "round": 1, "purpose": "Hỗ trợ khắc phục lũ",
                      "lines": [{"asset": "VND", "amount": amount}]});
    let a = id(&json(app.post("/v1/allocations", fm, &body).await, 201).await);
    json(
        app.post(&format!("/v1/allocations/{a}/approve"), ap, &json!({}))
            .await,
        200,
    )
    .await;
    let done = json(
        post_keyed(app, &format!("/v1/allocations/{a}/execute"), fm, &json!({})).await,
        200,
    )
    .await;
    assert_eq!(done["status"], "paid", "{done}");
}

/// The scenario: a commune fund with opening balances, donations of every kind and channel
/// (one in kind, one reversed, one earmarked to the flood), a reversed opening balance, paid
/// and approved disbursements for five households of two communes, and allocations in and out.
struct World {
    app: TestApp,
    fm: String,
    fund: String,
    incident: String,
    province: String,
}

async fn world(b: Backend) -> World {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let ap = app
        .user_token("gialai.approver", "approver", Some("P52"))
        .await;
    let (_, year) = this_half();
    let fund = id(&json(
        app.post(
            "/v1/funds",
            &fm,
            &json!({
                "unit": QN, "name": "Quỹ cứu trợ phường Quy Nhơn",
                "custodian": "Ủy ban MTTQ phường", "custodian_kind": "fatherland_front",
                "bank_accounts": [{"bank": "Vietcombank", "account_number": "0071001234567",
                                   "account_name": "UB MTTQ phuong Quy Nhon"}],
            }),
        )
        .await,
        201,
    )
    .await);

    // Before this year: an opening balance (first half of last year) and a donation (second).
    json(
        post_keyed(
            &app,
            &format!("/v1/funds/{fund}/opening-balances"),
            &admin,
            &json!({"lines": [{"asset": "VND", "amount": "10000000"}],
                    "effective_at": format!("{}-06-01T09:00:00+07:00", year - 1)}),
        )
        .await,
        201,
    )
    .await;
    donate(
        &app,
        &fm,
        with(
            cash(&fund, "1000000"),
            json!({"received_at": format!("{}-12-15T09:00:00+07:00", year - 1),
                   "donor": {"kind": "individual", "name": "Lê Văn Cường"}}),
        ),
    )
    .await;

    // This half-year.
    let incident = id(&json(
        app.post(
            "/v1/incidents",
            &fm,
            &json!({"kind": "flood", "name": FLOOD,
                    "started_at": format!("{}T08:00:00+07:00", day(-30)),
                    "units": [{"code": QN}, {"code": QND}]}),
        )
        .await,
        201,
    )
    .await);
    let donor = |kind: &str, name: &str| json!({"donor": {"kind": kind, "name": name}});
    donate(
        &app,
        &fm,
        with(
            cash(&fund, "2000000"),
            donor("individual", "Nguyễn Thị Hoa"),
        ),
    )
    .await;
    donate(
        &app,
        &fm,
        with(
            with(
                cash(&fund, "5000000"),
                donor("enterprise", "Công ty CP Xây dựng Gia Lai"),
            ),
            json!({"channel": "bank_transfer", "bank_ref": "FT26330123456"}),
        ),
    )
    .await;
    donate(
        &app,
        &fm,
        with(
            json!({"fund_id": fund, "status": "received", "channel": "in_kind",
                   "lines": [{"asset": "RICE_KG", "amount": "500", "value_vnd": "7500000"},
                             {"asset": "WATER_L", "amount": "200", "value_vnd": "1000000"}]}),
            donor("organisation", "Hội Chữ thập đỏ tỉnh"),
        ),
    )
    .await;
    donate(
        &app,
        &fm,
        with(
            cash(&fund, "3000000"),
            json!({"earmark": {"incident_id": incident}}),
        ),
    )
    .await;
    let foreign = donate(
        &app,
        &fm,
        with(
            cash(&fund, "4000000"),
            donor("foreign", "Global Relief Ltd"),
        ),
    )
    .await;
    json(
        post_keyed(
            &app,
            &format!("/v1/donations/{}/reverse", id(&foreign)),
            &fm,
            &json!({"reason": "chuyển nhầm quỹ"}),
        )
        .await,
        200,
    )
    .await;
    // An opening balance of water posted in error, and reversed.
    let water = json(
        post_keyed(
            &app,
            &format!("/v1/funds/{fund}/opening-balances"),
            &admin,
            &json!({"lines": [{"asset": "WATER_L", "amount": "100"}]}),
        )
        .await,
        201,
    )
    .await;
    json(
        post_keyed(
            &app,
            &format!("/v1/funds/{fund}/ledger/{}/reverse", id(&water)),
            &admin,
            &json!({"reason": "nhập nhầm số dư"}),
        )
        .await,
        201,
    )
    .await;

    // Allocations: 5 000 000 in from the province, 1 000 000 out to the neighbouring commune.
    let province = id(&app
        .create_fund(&fm, "P52", "Quỹ cứu trợ tỉnh Gia Lai")
        .await);
    donate(&app, &fm, cash(&province, "20000000")).await;
    allocate(&app, (&fm, &ap), &province, &fund, "5000000").await;
    let neighbour = id(&app
        .create_fund(&fm, QND, "Quỹ cứu trợ phường Quy Nhơn Đông")
        .await);
    allocate(&app, (&fm, &ap), &fund, &neighbour, "1000000").await;

    // Households: three in Quy Nhơn, two in Quy Nhơn Đông. The third was first assessed 25
    // days ago and corrected 2 days ago: its wait counts from the first assessment.
    let hh: Vec<Value> = {
        let mut v = Vec::new();
        for (unit, head) in [
            (QN, "Trần Thị Bình"),
            (QN, "Phạm Văn Dũng"),
            (QN, "Võ Thị Em"),
            (QND, "Đặng Văn Giang"),
            (QND, "Huỳnh Thị Hạnh"),
        ] {
            v.push(household(&app, &fm, unit, head).await);
        }
        v
    };
    for (h, ago) in hh.iter().zip([10, 5, 25, 3, 15]) {
        assess(&app, &fm, &incident, h, &day(-ago)).await;
    }
    assess(&app, &fm, &incident, &hh[2], &day(-2)).await;
    let roles = (fm.as_str(), ap.as_str());
    disburse(
        &app,
        roles,
        &fund,
        &incident,
        &hh[0],
        &[
            ["house_severely_damaged", "VND", "2000000"],
            ["food", "RICE_KG", "45"],
        ],
        true,
    )
    .await;
    disburse(
        &app,
        roles,
        &fund,
        &incident,
        &hh[1],
        &[["food", "VND", "1000000"]],
        true,
    )
    .await;
    disburse(
        &app,
        roles,
        &fund,
        &incident,
        &hh[2],
        &[["house_collapsed", "VND", "3000000"]],
        true,
    )
    .await;
    disburse(
        &app,
        roles,
        &fund,
        &incident,
        &hh[3],
        &[["food", "VND", "500000"]],
        true,
    )
    .await;
    // Approved, not paid: reserved, not moved.
    disburse(
        &app,
        roles,
        &fund,
        &incident,
        &hh[4],
        &[["food", "VND", "700000"]],
        false,
    )
    .await;
    World {
        app,
        fm,
        fund,
        incident,
        province,
    }
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .find(|x| x[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

fn balance_row(r: &Value, asset: &str) -> Value {
    find(&r["balances"], "asset", asset).clone()
}

/// opening + every movement = closing, for every asset, by decimal arithmetic on the strings.
fn assert_reconciles(r: &Value) {
    assert_eq!(r["reconciled"], true, "{r}");
    for row in r["balances"].as_array().unwrap() {
        let asset = row["asset"].as_str().unwrap();
        let scale: u32 = match asset {
            "RICE_KG" => 3,
            "WATER_L" => 1,
            _ => 0,
        };
        let minor =
            |k: &str| domain::money::parse_amount(k, row[k].as_str().unwrap(), scale).unwrap();
        let moved: i64 = [
            "opening_balances",
            "receipts",
            "disbursements",
            "allocations_in",
            "allocations_out",
            "reversals",
        ]
        .iter()
        .map(|k| minor(k))
        .sum();
        assert_eq!(minor("opening") + moved, minor("closing"), "{row}");
    }
}

async fn fund_report(w: &World, query: &str) -> Value {
    json(
        w.app
            .get(&format!("/v1/reports/funds/{}?{query}", w.fund), &w.fm)
            .await,
        200,
    )
    .await
}

async fn fund_report_reconciles_with_the_ledger(b: Backend) {
    let w = world(b).await;
    let (half, year) = this_half();
    let r = fund_report(&w, &format!("period={half}")).await;
    assert_eq!(r["fund"]["id"], w.fund.as_str());
    assert_eq!(r["period"]["label"], half.as_str());
    assert_reconciles(&r);

    assert_eq!(
        balance_row(&r, "VND"),
        json!({"asset": "VND", "opening": "11000000", "opening_balances": "0",
               "receipts": "14000000", "disbursements": "-6500000", "allocations_in": "5000000",
               "allocations_out": "-1000000", "reversals": "-4000000", "closing": "18500000"})
    );
    assert_eq!(
        balance_row(&r, "RICE_KG"),
        json!({"asset": "RICE_KG", "opening": "0.000", "opening_balances": "0.000",
               "receipts": "500.000", "disbursements": "-45.000", "allocations_in": "0.000",
               "allocations_out": "0.000", "reversals": "0.000", "closing": "455.000"})
    );
    assert_eq!(
        balance_row(&r, "WATER_L"),
        json!({"asset": "WATER_L", "opening": "0.0", "opening_balances": "100.0",
               "receipts": "200.0", "disbursements": "0.0", "allocations_in": "0.0",
               "allocations_out": "0.0", "reversals": "-100.0", "closing": "200.0"})
    );

    // The closing balances are the fund's posted balances now; the approved, unpaid
    // disbursement is reserved, not moved.
    let now = json(
        w.app
            .get(&format!("/v1/funds/{}/balances", w.fund), &w.fm)
            .await,
        200,
    )
    .await;
    for b in now["balances"].as_array().unwrap() {
        let asset = b["asset"].as_str().unwrap();
        assert_eq!(balance_row(&r, asset)["closing"], b["posted"], "{asset}");
    }
    assert_eq!(find(&now["balances"], "asset", "VND")["reserved"], "700000");

    // Receipts: gross, the reversed one included (its reversal is a movement of its own).
    let receipts = &r["receipts"];
    let kinds: Vec<(String, i64, String)> = receipts["by_donor_kind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["donor_kind"].as_str().unwrap().to_owned(),
                x["donations"].as_i64().unwrap(),
                x["total_vnd"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let k = |kind: &str, n: i64, vnd: &str| (kind.to_owned(), n, vnd.to_owned());
    assert_eq!(
        kinds,
        [
            k("individual", 1, "2000000"),
            k("organisation", 1, "8500000"),
            k("enterprise", 1, "5000000"),
            k("foreign", 1, "4000000"),
            k("no_donor", 1, "3000000"),
        ]
    );
    assert_eq!(
        receipts["by_channel"],
        json!([
            {"channel": "cash", "donations": 3, "total_vnd": "9000000"},
            {"channel": "bank_transfer", "donations": 1, "total_vnd": "5000000"},
            {"channel": "in_kind", "donations": 1, "total_vnd": "8500000"},
        ])
    );
    assert_eq!(
        receipts["by_asset"],
        json!([
            {"asset": "RICE_KG", "donations": 1, "amount": "500.000"},
            {"asset": "VND", "donations": 4, "amount": "14000000"},
            {"asset": "WATER_L", "donations": 1, "amount": "200.0"},
        ])
    );
    assert_eq!(
        receipts["in_kind"],
        json!([
            {"asset": "RICE_KG", "donations": 1, "quantity": "500.000", "value_vnd": "7500000"},
            {"asset": "WATER_L", "donations": 1, "quantity": "200.0", "value_vnd": "1000000"},
        ])
    );
    // The sections agree with the ledger's movements.
    for x in receipts["by_asset"].as_array().unwrap() {
        let asset = x["asset"].as_str().unwrap();
        assert_eq!(balance_row(&r, asset)["receipts"], x["amount"]);
    }

    assert_eq!(
        r["disbursements"]["by_category"],
        json!([
            {"category": "food", "asset": "RICE_KG", "disbursements": 1, "amount": "45.000"},
            {"category": "food", "asset": "VND", "disbursements": 2, "amount": "1500000"},
            {"category": "house_collapsed", "asset": "VND", "disbursements": 1, "amount": "3000000"},
            {"category": "house_severely_damaged", "asset": "VND", "disbursements": 1, "amount": "2000000"},
        ])
    );
    assert_eq!(
        r["disbursements"]["by_incident"],
        json!([
            {"incident_id": w.incident, "incident_name": FLOOD, "asset": "RICE_KG", "disbursements": 1, "amount": "45.000"},
            {"incident_id": w.incident, "incident_name": FLOOD, "asset": "VND", "disbursements": 4, "amount": "6500000"},
        ])
    );
    let neighbour = r["allocations"]["out"][0]["fund_id"].clone();
    assert_eq!(
        r["allocations"],
        json!({
            "in": [{"fund_id": w.province, "fund_name": "Quỹ cứu trợ tỉnh Gia Lai", "asset": "VND", "allocations": 1, "amount": "5000000"}],
            "out": [{"fund_id": neighbour, "fund_name": "Quỹ cứu trợ phường Quy Nhơn Đông", "asset": "VND", "allocations": 1, "amount": "1000000"}],
        })
    );
    assert_eq!(
        r["reversals"],
        json!([
            {"reverses": "donation", "asset": "VND", "entries": 1, "amount": "-4000000"},
            {"reverses": "opening_balance", "asset": "WATER_L", "entries": 1, "amount": "-100.0"},
        ])
    );
    let movement = |kind: &str, asset: &str| {
        r["movements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == kind && m["asset"] == asset)
            .unwrap_or_else(|| panic!("no {kind} {asset} in {}", r["movements"]))
            .clone()
    };
    assert_eq!(
        movement("receipts", "VND"),
        json!({"kind": "receipts", "asset": "VND", "entries": 4, "amount": "14000000"})
    );
    assert_eq!(movement("allocations_in", "VND")["entries"], 1);

    // The whole year holds the same half-year's movements over the same opening.
    let y = fund_report(&w, &format!("period={year}")).await;
    assert_reconciles(&y);
    assert_eq!(y["balances"], r["balances"]);
    assert_eq!(y["period"]["first_day"], format!("{year}-01-01"));
    assert_eq!(y["period"]["last_day"], format!("{year}-12-31"));

    // Last year, half by half: the opening balance in the first, the back-dated donation in the
    // second; the first half's closing is the second's opening.
    let h1 = fund_report(&w, &format!("period={}-H1", year - 1)).await;
    assert_reconciles(&h1);
    let vnd = balance_row(&h1, "VND");
    assert_eq!(
        (
            &vnd["opening"],
            &vnd["opening_balances"],
            &vnd["receipts"],
            &vnd["closing"]
        ),
        (
            &json!("0"),
            &json!("10000000"),
            &json!("0"),
            &json!("10000000")
        )
    );
    let h2 = fund_report(&w, &format!("period={}-H2", year - 1)).await;
    assert_reconciles(&h2);
    let vnd = balance_row(&h2, "VND");
    assert_eq!(
        (&vnd["opening"], &vnd["receipts"], &vnd["closing"]),
        (&json!("10000000"), &json!("1000000"), &json!("11000000"))
    );
    assert_eq!(
        find(&h2["receipts"]["by_donor_kind"], "donor_kind", "individual")["donations"],
        1
    );
    assert_eq!(h2["disbursements"]["by_category"], json!([]));
    assert_eq!(h2["reversals"], json!([]));
}

async fn fund_report_csv_and_refusals(b: Backend) {
    let w = world(b).await;
    let (half, _) = this_half();
    let app = &w.app;
    let path = format!("/v1/reports/funds/{}", w.fund);

    // CSV by ?format=csv, and by Accept.
    let r = app
        .get(&format!("{path}?period={half}&format=csv"), &w.fm)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let csv = r.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "section,group,key,label,asset,count,amount,value_vnd"
    );
    for want in [
        format!("report,,fund_id,{},,,,", w.fund),
        format!("report,,period,{half},,,,"),
        "report,,reconciled,true,,,,".to_owned(),
        "balance,,opening,,VND,,11000000,".to_owned(),
        "balance,,closing,,VND,,18500000,".to_owned(),
        "balance,,disbursements,,VND,,-6500000,".to_owned(),
        "receipts_by_channel,,cash,,VND,3,9000000,".to_owned(),
        "receipts_by_donor_kind,,no_donor,,VND,1,3000000,".to_owned(),
        "in_kind,,RICE_KG,,RICE_KG,1,500.000,7500000".to_owned(),
        "reversals,,donation,,VND,1,-4000000,".to_owned(),
        // The incident's name starts with `=`: quoted and guarded, so that no spreadsheet
        // runs it.
        format!(
            "disbursements_by_incident,,{},\"'=SUM(1,2) Lũ tháng 11\",VND,4,6500000,",
            w.incident
        ),
    ] {
        assert!(rows.contains(&want.as_str()), "no row {want} in\n{csv}");
    }
    // No text cell starts a formula.
    for row in &rows[1..] {
        assert!(!row.starts_with(['=', '+', '-', '@']), "{row}");
        assert!(!row.contains(",=") && !row.contains(",\"="), "{row}");
    }

    let r = app
        .client
        .get(app.url(&format!("{path}?period={half}")))
        .bearer_auth(&w.fm)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert_eq!(r.text().await.unwrap(), csv);
    // ?format wins over Accept.
    let r = app
        .client
        .get(app.url(&format!("{path}?period={half}&format=json")))
        .bearer_auth(&w.fm)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(json(r, 200).await["reconciled"], true);

    // Periods that are not a year or a half-year, or none: 422 naming `period`.
    for q in [
        "period=2026-Q1",
        "period=abc",
        "period=2026-H3",
        "format=json",
    ] {
        let p = problem(
            app.get(&format!("{path}?{q}"), &w.fm).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), ["period"], "{q}");
    }
    problem(
        app.get(&format!("{path}?period={half}&format=xml"), &w.fm)
            .await,
        400,
        "invalid_query",
    )
    .await;

    // Any role in scope reads it: an auditor of the commune. Out of scope: 404, as for funds.
    let auditor = app.user_token("qn.audit", "auditor", Some(QN)).await;
    let r = json(
        app.get(&format!("{path}?period={half}"), &auditor).await,
        200,
    )
    .await;
    assert_eq!(balance_row(&r, "VND")["closing"], "18500000");
    let hanoi = app
        .user_token("hanoi.fm", "fund_manager", Some("P01"))
        .await;
    problem(
        app.get(&format!("{path}?period={half}"), &hanoi).await,
        404,
        "not_found",
    )
    .await;
    let neighbour = app.user_token("qnd.audit", "auditor", Some(QND)).await;
    problem(
        app.get(&format!("{path}?period={half}"), &neighbour).await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.get(
            &format!("/v1/reports/funds/{}?period={half}", uuid::Uuid::now_v7()),
            &w.fm,
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

async fn incident_report_counts_support_per_commune(b: Backend) {
    let w = world(b).await;
    let app = &w.app;
    let path = format!("/v1/reports/incidents/{}", w.incident);
    let r = json(app.get(&path, &w.fm).await, 200).await;
    assert_eq!(r["incident"]["id"], w.incident.as_str());
    assert_eq!(r["incident"]["name"], FLOOD);
    // Raised: the earmarked donation only.
    assert_eq!(
        r["raised"],
        json!({"donations": 1, "total_vnd": "3000000",
               "by_asset": [{"asset": "VND", "donations": 1, "amount": "3000000"}]})
    );
    // Quy Nhơn: waits of 5, 10 and 25 days (the corrected household counts from its first
    // assessment). Quy Nhơn Đông: 3 days, and one household still waiting.
    let qn = json!({
        "unit": {"edition": 2025, "code": QN, "name": "Phường Quy Nhơn"},
        "households": {"assessed": 3, "supported": 3, "waiting": 0},
        "paid": {"disbursements": 3, "total_vnd": "6000000", "by_asset": [
            {"asset": "RICE_KG", "disbursements": 1, "amount": "45.000"},
            {"asset": "VND", "disbursements": 3, "amount": "6000000"},
        ]},
        "days_to_first_payment": {"median": "10", "p90": "25"},
        "supported_within_7_days": "0.3333",
        "supported_within_20_days": "0.6667",
    });
    let qnd = json!({
        "unit": {"edition": 2025, "code": QND, "name": "Phường Quy Nhơn Đông"},
        "households": {"assessed": 2, "supported": 1, "waiting": 1},
        "paid": {"disbursements": 1, "total_vnd": "500000", "by_asset": [
            {"asset": "VND", "disbursements": 1, "amount": "500000"},
        ]},
        "days_to_first_payment": {"median": "3", "p90": "3"},
        "supported_within_7_days": "0.5000",
        "supported_within_20_days": "0.5000",
    });
    assert_eq!(r["communes"], json!([qn, qnd]));
    assert_eq!(
        r["totals"],
        json!({
            "households": {"assessed": 5, "supported": 4, "waiting": 1},
            "paid": {"disbursements": 4, "total_vnd": "6500000", "by_asset": [
                {"asset": "RICE_KG", "disbursements": 1, "amount": "45.000"},
                {"asset": "VND", "disbursements": 4, "amount": "6500000"},
            ]},
            "days_to_first_payment": {"median": "7.5", "p90": "25"},
            "supported_within_7_days": "0.4000",
            "supported_within_20_days": "0.6000",
        })
    );

    // CSV.
    let r = app.get(&format!("{path}?format=csv"), &w.fm).await;
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let csv = r.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "section,group,key,label,asset,count,amount,value_vnd"
    );
    for want in [
        "report,,incident_name,\"'=SUM(1,2) Lũ tháng 11\",,,,",
        "raised,,total_vnd,,VND,1,3000000,",
        "households,C21583,assessed,Phường Quy Nhơn,,3,,",
        "households,C21601,waiting,Phường Quy Nhơn Đông,,1,,",
        "paid,total,by_asset,,RICE_KG,1,45.000,",
        "timeliness,total,median_days,,,,7.5,",
        "timeliness,total,p90_days,,,,25,",
        "timeliness,C21583,share_within_7_days,Phường Quy Nhơn,,,0.3333,",
        "timeliness,total,share_within_20_days,,,,0.6000,",
    ] {
        assert!(rows.contains(&want), "no row {want} in\n{csv}");
    }

    // An officer of Quy Nhơn Đông sees the incident, but only its commune's households, and no
    // money raised by funds outside the commune.
    let officer = app
        .user_token("qnd.officer", "fund_manager", Some(QND))
        .await;
    let r = json(app.get(&path, &officer).await, 200).await;
    assert_eq!(r["communes"], json!([qnd]));
    assert_eq!(r["totals"]["households"]["assessed"], 2);
    assert_eq!(r["raised"]["donations"], 0);
    assert_eq!(r["raised"]["total_vnd"], "0");
    // Elsewhere: 404, as for incidents.
    let hanoi = app
        .user_token("hanoi.fm", "fund_manager", Some("P01"))
        .await;
    problem(app.get(&path, &hanoi).await, 404, "not_found").await;
    problem(
        app.get(&format!("{path}?format=pdf"), &w.fm).await,
        400,
        "invalid_query",
    )
    .await;
}

async fn empty_reports_are_zero(b: Backend) {
    let app = TestApp::spawn(b).await;
    let fm = app
        .user_token("gialai.fm", "fund_manager", Some("P52"))
        .await;
    let fund = id(&app.create_fund(&fm, QN, "Quỹ mới").await);
    let r = json(
        app.get(&format!("/v1/reports/funds/{fund}?period=2026"), &fm)
            .await,
        200,
    )
    .await;
    assert_eq!(r["reconciled"], true);
    assert_eq!(r["balances"], json!([]));
    assert_eq!(r["movements"], json!([]));
    assert_eq!(
        r["receipts"]["by_channel"],
        json!([
            {"channel": "cash", "donations": 0, "total_vnd": "0"},
            {"channel": "bank_transfer", "donations": 0, "total_vnd": "0"},
            {"channel": "in_kind", "donations": 0, "total_vnd": "0"},
        ])
    );
    let inc = id(&json(
        app.post(
            "/v1/incidents",
            &fm,
            &json!({"kind": "fire", "name": "Cháy chợ", "started_at": format!("{}T08:00:00+07:00", day(-1)),
                    "units": [{"code": QN}]}),
        )
        .await,
        201,
    )
    .await);
    let r = json(
        app.get(&format!("/v1/reports/incidents/{inc}"), &fm).await,
        200,
    )
    .await;
    assert_eq!(r["communes"], json!([]));
    assert_eq!(
        r["totals"]["days_to_first_payment"],
        json!({"median": null, "p90": null})
    );
    assert!(r["totals"]["supported_within_7_days"].is_null());
    assert_eq!(r["totals"]["households"]["assessed"], 0);
}

crate::both_backends!(
    fund_report_reconciles_with_the_ledger,
    fund_report_csv_and_refusals,
    incident_report_counts_support_per_commune,
    empty_reports_are_zero,
);
