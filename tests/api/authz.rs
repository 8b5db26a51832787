//! The auth matrix: every route of `openapi.yaml` x every role (scoped to Gia Lai, P52) and an
//! anonymous caller x a resource inside the scope (P52) and one outside it (Hà Nội, P01).
//!
//! `TABLE` says, per route, who may call it. The test fails when `openapi.yaml` has a route the
//! table lacks (or the other way round), so that no route ships without its row. Beyond the
//! table, two rules are checked on every answer: a 2xx answer to a P52 caller never contains the
//! id of a P01 fixture (lists and nested views leak nothing), and a public answer never
//! contains personal data of the fixtures (names, phone numbers, addresses).

use crate::helpers::{json, Backend, TestApp, ADMIN_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// What a P52 caller allowed by its role gets for the P01 resource of the same route.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Out {
    /// 404: reads never reveal what exists outside the scope; writes on a resource that is
    /// loaded first answer the same.
    NotFound,
    /// 403: a write naming a unit outside the scope (a new fund, household, incident or user).
    Forbidden,
    /// 422 naming the field: a new user (`scope_unit`) or incident (`units[i].code`) outside
    /// the scope.
    Invalid,
    /// The route names no scoped resource (lists filter by scope instead, which the leak check
    /// covers; reference data is national).
    Unscoped,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// No token needed.
    Public,
    /// A token is needed (401 without). One letter per role, in the order admin, fund_manager,
    /// approver, auditor: `A` allowed (not 401, 403; a 4xx on the body is fine), `F` 403.
    Auth(&'static str, Out),
}

use Access::{Auth, Public};
use Out::{Forbidden, Invalid, NotFound, Unscoped};

/// Every route, with its access. Auditors never write: every non-GET row ends in `F`.
const TABLE: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/metrics", Public),
    ("GET", "/openapi.yaml", Public),
    ("GET", "/openapi.json", Public),
    ("GET", "/docs", Public),
    ("POST", "/v1/auth/token", Public),
    ("POST", "/v1/auth/session", Public),
    ("GET", "/v1/auth/session", Auth("AAAA", Unscoped)),
    ("POST", "/v1/auth/logout", Public),
    ("GET", "/v1/me", Auth("AAAA", Unscoped)),
    ("GET", "/v1/users", Auth("AFFF", Unscoped)),
    ("POST", "/v1/users", Auth("AFFF", Invalid)),
    ("POST", "/v1/users/{id}/disable", Auth("AFFF", NotFound)),
    ("GET", "/v1/units", Auth("AAAA", Unscoped)),
    ("POST", "/v1/units/import", Auth("FFFF", Unscoped)),
    ("GET", "/v1/units/{code}", Auth("AAAA", Unscoped)),
    ("GET", "/v1/assets", Auth("AAAA", Unscoped)),
    ("POST", "/v1/assets", Auth("FFFF", Unscoped)),
    ("GET", "/v1/funds", Auth("AAAA", Unscoped)),
    ("POST", "/v1/funds", Auth("AAFF", Forbidden)),
    ("GET", "/v1/funds/{id}", Auth("AAAA", NotFound)),
    ("GET", "/v1/funds/{id}/balances", Auth("AAAA", NotFound)),
    (
        "POST",
        "/v1/funds/{id}/opening-balances",
        Auth("AFFF", NotFound),
    ),
    ("GET", "/v1/funds/{id}/ledger", Auth("AAAA", NotFound)),
    (
        "GET",
        "/v1/funds/{id}/ledger/verify",
        Auth("AAAA", NotFound),
    ),
    (
        "GET",
        "/v1/funds/{id}/ledger/export",
        Auth("AAAA", NotFound),
    ),
    ("GET", "/v1/funds/{id}/checkpoints", Auth("AAAA", NotFound)),
    ("POST", "/v1/funds/{id}/checkpoints", Auth("AAAF", NotFound)),
    ("GET", "/v1/checkpoints/key", Public),
    ("GET", "/v1/audit-events", Auth("AFFA", Unscoped)),
    (
        "POST",
        "/v1/funds/{id}/ledger/{entry_id}/reverse",
        Auth("AFFF", NotFound),
    ),
    ("GET", "/v1/campaigns", Auth("AAAA", Unscoped)),
    ("POST", "/v1/campaigns", Auth("AAFF", NotFound)),
    ("GET", "/v1/campaigns/{id}", Auth("AAAA", NotFound)),
    ("POST", "/v1/campaigns/{id}/extend", Auth("AAFF", NotFound)),
    ("POST", "/v1/campaigns/{id}/close", Auth("AAFF", NotFound)),
    ("GET", "/v1/donors", Auth("AAFA", Unscoped)),
    ("POST", "/v1/donors", Auth("AAFF", Unscoped)),
    ("GET", "/v1/donors/{id}", Auth("AAFA", NotFound)),
    ("GET", "/v1/donations", Auth("AAAA", Unscoped)),
    ("POST", "/v1/donations", Auth("AAFF", NotFound)),
    ("GET", "/v1/donations/{id}", Auth("AAAA", NotFound)),
    ("GET", "/v1/donations/{id}/receipt", Auth("AAAA", NotFound)),
    ("POST", "/v1/donations/{id}/reverse", Auth("AAFF", NotFound)),
    ("GET", "/v1/bank-statements", Auth("AAAA", NotFound)),
    ("POST", "/v1/bank-statements", Auth("AAFF", NotFound)),
    (
        "GET",
        "/v1/bank-statements/{id}/reconciliation",
        Auth("AAAA", NotFound),
    ),
    (
        "POST",
        "/v1/bank-statements/{id}/lines/{line_id}/donation",
        Auth("AAFF", NotFound),
    ),
    ("GET", "/v1/incidents", Auth("AAAA", Unscoped)),
    ("POST", "/v1/incidents", Auth("AAFF", Invalid)),
    ("GET", "/v1/incidents/{id}", Auth("AAAA", NotFound)),
    ("POST", "/v1/incidents/{id}/close", Auth("AAFF", NotFound)),
    (
        "GET",
        "/v1/incidents/{id}/assessments",
        Auth("AAAA", NotFound),
    ),
    (
        "POST",
        "/v1/incidents/{id}/assessments",
        Auth("AAFF", NotFound),
    ),
    (
        "GET",
        "/v1/incidents/{id}/entitlements",
        Auth("AAAA", NotFound),
    ),
    ("GET", "/v1/households", Auth("AAAA", Unscoped)),
    ("POST", "/v1/households", Auth("AAFF", Forbidden)),
    ("GET", "/v1/households/{id}", Auth("AAAA", NotFound)),
    ("GET", "/v1/assessments/{id}", Auth("AAAA", NotFound)),
    (
        "GET",
        "/v1/assessments/{id}/entitlements",
        Auth("AAAA", NotFound),
    ),
    ("GET", "/v1/policies", Auth("AAAA", Unscoped)),
    ("POST", "/v1/policies", Auth("FFFF", Unscoped)),
    (
        "POST",
        "/v1/funds/{id}/approval-policy",
        Auth("AFFF", NotFound),
    ),
    ("POST", "/v1/disbursements/bulk", Auth("AAFF", NotFound)),
    (
        "POST",
        "/v1/disbursements/bulk-approve",
        Auth("FFAF", Unscoped),
    ),
    ("GET", "/v1/disbursements", Auth("AAAA", Unscoped)),
    ("POST", "/v1/disbursements", Auth("AAFF", NotFound)),
    ("GET", "/v1/disbursements/{id}", Auth("AAAA", NotFound)),
    (
        "POST",
        "/v1/disbursements/{id}/approve",
        Auth("FFAF", NotFound),
    ),
    (
        "POST",
        "/v1/disbursements/{id}/reject",
        Auth("FFAF", NotFound),
    ),
    (
        "POST",
        "/v1/disbursements/{id}/cancel",
        Auth("AAFF", NotFound),
    ),
    ("POST", "/v1/disbursements/{id}/pay", Auth("AAFF", NotFound)),
    ("GET", "/v1/allocations", Auth("AAAA", Unscoped)),
    ("POST", "/v1/allocations", Auth("AAFF", NotFound)),
    ("GET", "/v1/allocations/{id}", Auth("AAAA", NotFound)),
    (
        "POST",
        "/v1/allocations/{id}/approve",
        Auth("FFAF", NotFound),
    ),
    (
        "POST",
        "/v1/allocations/{id}/reject",
        Auth("FFAF", NotFound),
    ),
    (
        "POST",
        "/v1/allocations/{id}/cancel",
        Auth("AAFF", NotFound),
    ),
    (
        "POST",
        "/v1/allocations/{id}/execute",
        Auth("AAFF", NotFound),
    ),
    ("GET", "/v1/public/funds", Public),
    ("GET", "/v1/public/funds/{id}/statement", Public),
    ("GET", "/v1/public/campaigns/{id}/statement", Public),
    ("GET", "/v1/public/campaigns/{id}/flow", Public),
    ("GET", "/v1/public/donations", Public),
    ("GET", "/v1/public/incidents/{id}", Public),
    ("GET", "/v1/public/incidents/{id}/beneficiaries", Public),
    ("GET", "/v1/reports/funds/{id}", Auth("AAAA", NotFound)),
    ("GET", "/v1/reports/incidents/{id}", Auth("AAAA", NotFound)),
];

const ROLES: [&str; 4] = ["admin", "fund_manager", "approver", "auditor"];

/// The (method, path) pairs of `openapi.yaml`.
fn documented_routes() -> BTreeSet<(String, String)> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(api::routes::ops::OPENAPI_YAML).expect("openapi.yaml parses");
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().unwrap() {
            let m = method.as_str().unwrap();
            if ["get", "post", "put", "patch", "delete"].contains(&m) {
                out.insert((m.to_uppercase(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    out
}

#[test]
fn every_documented_route_has_a_row() {
    let documented = documented_routes();
    let table: BTreeSet<(String, String)> = TABLE
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(table.len(), TABLE.len(), "a route is listed twice");
    let missing: Vec<_> = documented.difference(&table).collect();
    let stale: Vec<_> = table.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes in openapi.yaml without a row in tests/api/authz.rs TABLE: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for routes not in openapi.yaml: {stale:?}"
    );
    for (m, p, access) in TABLE {
        if let Auth(roles, _) = access {
            assert_eq!(roles.len(), 4, "{m} {p}");
            if *m != "GET" {
                assert!(roles.ends_with('F'), "{m} {p}: auditors never write");
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    In,
    Out,
}

/// One of everything, in one unit.
#[derive(Debug, Default, Clone)]
struct Fixture {
    commune: String,
    province: String,
    fund: String,
    province_fund: String,
    bank_account: String,
    campaign: String,
    donor: String,
    donation: String,
    entry: String,
    statement: String,
    line: String,
    incident: String,
    household: String,
    assessment: String,
    disbursement: String,
    allocation: String,
    user: String,
}

impl Fixture {
    fn ids(&self) -> Vec<&str> {
        [
            &self.fund,
            &self.province_fund,
            &self.bank_account,
            &self.campaign,
            &self.donor,
            &self.donation,
            &self.entry,
            &self.statement,
            &self.line,
            &self.incident,
            &self.household,
            &self.assessment,
            &self.disbursement,
            &self.allocation,
            &self.user,
        ]
        .into_iter()
        .map(String::as_str)
        .collect()
    }
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn day(offset: i64) -> String {
    domain::donations::vn_date(storage::now_micros() + offset * 86_400_000_000)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

/// Personal data of every fixture, which no public answer may contain.
const PERSONAL: [&str; 5] = [
    "Bí Mật",
    "0905123456",
    "bi.mat@example.org",
    "Số 7 ngõ Kín",
    "Tổ 9 khu phố Kín",
];

async fn post_with_key(app: &TestApp, token: &str, path: &str, body: &Value) -> Value {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key())
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status == 200 || status == 201, "{path}: {status} {body}");
    body
}

/// Builds the fixture of `commune` in `province` with the token of a fund manager of the
/// province, and a user scoped there.
async fn fixture(app: &TestApp, admin: &str, fm: &str, commune: &str, province: &str) -> Fixture {
    let fund = json(
        app.post(
            "/v1/funds",
            fm,
            &json!({"unit": commune, "name": "Quỹ cứu trợ", "custodian": "MTTQ",
                    "custodian_kind": "fatherland_front",
                    "bank_accounts": [{"bank": "Vietcombank",
                                       "account_number": format!("0071{commune}"),
                                       "account_name": "MTTQ"}]}),
        )
        .await,
        201,
    )
    .await;
    let province_fund = id(&app.create_fund(fm, province, "Quỹ cứu trợ tỉnh").await);
    let bank_account = fund["bank_accounts"][0]["id"].as_str().unwrap().to_owned();
    let fund = id(&fund);
    let campaign = id(&post_with_key(
        app,
        fm,
        "/v1/campaigns",
        &json!({"fund_id": fund, "name": "Ủng hộ đồng bào bị lũ", "appeal_ref": "45/TB-MTTQ",
                "opens_on": day(-1), "closes_on": day(30)}),
    )
    .await);
    let donor = id(&json(
        app.post(
            "/v1/donors",
            fm,
            &json!({"kind": "individual", "name": "Lê Thị Bí Mật", "phone": "0905123456",
                    "email": "bi.mat@example.org", "address": "Số 7 ngõ Kín"}),
        )
        .await,
        201,
    )
    .await);
    let donation = id(&post_with_key(
        app,
        fm,
        "/v1/donations",
        &json!({"fund_id": fund, "campaign_id": campaign, "donor_id": donor,
                "status": "received", "channel": "cash",
                "lines": [{"asset": "VND", "amount": "50000000"}]}),
    )
    .await);
    post_with_key(
        app,
        fm,
        "/v1/donations",
        &json!({"fund_id": province_fund, "status": "received", "channel": "cash",
                "lines": [{"asset": "VND", "amount": "50000000"}]}),
    )
    .await;
    let ledger = json(app.get(&format!("/v1/funds/{fund}/ledger"), fm).await, 200).await;
    let entry = id(&ledger["items"][0]);
    let csv = "STT,Ngày giao dịch,Số tham chiếu,Số tiền ghi có,Số tiền ghi nợ,Nội dung chi tiết\n\
               1,01/09/2025,FT999,1.000.000,,Ủng hộ\n";
    let r = app
        .client
        .post(app.url(&format!(
            "/v1/bank-statements?bank_account_id={bank_account}"
        )))
        .bearer_auth(fm)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let statement = id(&json(r, 201).await);
    let rec = json(
        app.get(
            &format!("/v1/bank-statements/{statement}/reconciliation"),
            fm,
        )
        .await,
        200,
    )
    .await;
    let line = id(&rec["unmatched_in_bank"][0]);
    let incident = id(&json(
        app.post(
            "/v1/incidents",
            fm,
            &json!({"kind": "flood", "name": "Lũ tháng 9",
                    "started_at": format!("{}T08:00:00+07:00", day(-3)),
                    "units": [{"code": commune}]}),
        )
        .await,
        201,
    )
    .await);
    let household = json(
        app.post(
            "/v1/households",
            fm,
            &json!({"unit": commune, "head_name": "Phạm Thị Bí Mật", "head_birth_year": 1975,
                    "head_sex": "female", "address": "Tổ 9 khu phố Kín",
                    "poverty_status": "poor", "members": []}),
        )
        .await,
        201,
    )
    .await;
    let assessment = id(&json(
        app.post(
            &format!("/v1/incidents/{incident}/assessments"),
            fm,
            &json!({"household_id": household["id"], "deaths": 0, "missing": 0,
                    "severely_injured": 0, "house_damage": "collapsed",
                    "people_needing_food": 1, "months_of_food": 1,
                    "assessor": "Cán bộ", "assessed_on": day(-1)}),
        )
        .await,
        201,
    )
    .await);
    let household = id(&household);
    let disbursement = id(&post_with_key(
        app,
        fm,
        "/v1/disbursements",
        &json!({"fund_id": fund, "household_id": household, "purpose": "Hỗ trợ khẩn cấp",
                "lines": [{"category": "food", "asset": "VND", "amount": "1000000"}]}),
    )
    .await);
    let allocation = id(&post_with_key(
        app,
        fm,
        "/v1/allocations",
        &json!({"from_fund_id": province_fund, "to_fund_id": fund,
                "decision_ref": "QĐ 1/QĐ-UBND", "round": 1, "purpose": "Hỗ trợ xã",
                "lines": [{"asset": "VND", "amount": "1000000"}]}),
    )
    .await);
    let user = id(&app
        .create_user(
            admin,
            &format!("target.{}", commune.to_lowercase()),
            "fund_manager",
            Some(commune),
        )
        .await);
    Fixture {
        commune: commune.into(),
        province: province.into(),
        fund,
        province_fund,
        bank_account,
        campaign,
        donor,
        donation,
        entry,
        statement,
        line,
        incident,
        household,
        assessment,
        disbursement,
        allocation,
        user,
    }
}

/// The concrete path of `template` for the fixture `f`.
fn concrete(template: &str, f: &Fixture) -> String {
    let resource = template.split('/').nth(2).unwrap_or_default();
    let target = match resource {
        "users" => &f.user,
        "units" => &f.province,
        "funds" | "reports" if template.contains("/incidents/") => &f.incident,
        "funds" | "reports" => &f.fund,
        "campaigns" => &f.campaign,
        "donors" => &f.donor,
        "donations" => &f.donation,
        "bank-statements" => &f.statement,
        "incidents" => &f.incident,
        "households" => &f.household,
        "assessments" => &f.assessment,
        "disbursements" => &f.disbursement,
        "allocations" => &f.allocation,
        "public" => {
            if template.contains("/funds/") {
                &f.fund
            } else if template.contains("/campaigns/") {
                &f.campaign
            } else {
                &f.incident
            }
        }
        _ => &f.fund,
    };
    template
        .replace("{id}", target)
        .replace("{code}", target)
        .replace("{entry_id}", &f.entry)
        .replace("{line_id}", &f.line)
}

/// A body (and query) that passes parsing, so that the answer shows the role and scope checks
/// rather than a shape error.
fn request_body(
    method: &str,
    path: &str,
    f: &Fixture,
) -> (String, Option<(&'static str, Vec<u8>)>) {
    let j = |v: Value| Some(("application/json", v.to_string().into_bytes()));
    if method == "GET" {
        let query = match path {
            "/v1/reports/funds/{id}" => format!("?period={}", &day(0)[..4]),
            "/v1/bank-statements" => format!("?fund_id={}", f.fund),
            _ => String::new(),
        };
        return (query, None);
    }
    let unique = key().replace('-', "");
    let reason = json!({"reason": "kiểm tra quyền"});
    match path {
        "/v1/auth/token" | "/v1/auth/session" => (
            String::new(),
            j(json!({"username": "admin", "password": ADMIN_PASSWORD})),
        ),
        "/v1/users" => (
            String::new(),
            j(json!({"username": format!("u{}", &unique[..20]), "password": "a-good-long-password",
                     "display_name": "Cán bộ", "role": "approver", "scope_unit": f.commune})),
        ),
        "/v1/units/import" => (
            "?edition=2025".into(),
            Some(("text/csv", b"code,name,level,division_type,parent_code\n".to_vec())),
        ),
        "/v1/assets" => (
            String::new(),
            j(json!({"code": format!("X{}", &unique[..8]).to_uppercase(), "name": "Chăn",
                     "unit": "cái", "scale": 0, "kind": "goods"})),
        ),
        "/v1/funds" => (
            String::new(),
            j(json!({"unit": f.commune, "name": "Quỹ mới", "custodian": "MTTQ",
                     "custodian_kind": "fatherland_front"})),
        ),
        "/v1/funds/{id}/opening-balances" => (
            String::new(),
            j(json!({"lines": [{"asset": "VND", "amount": "1000"}]})),
        ),
        "/v1/funds/{id}/approval-policy" => (
            String::new(),
            j(json!({"dual_approval_above_vnd": "10000000"})),
        ),
        "/v1/campaigns" => (
            String::new(),
            j(json!({"fund_id": f.fund, "name": "Đợt 2", "appeal_ref": "46/TB-MTTQ",
                     "opens_on": day(0), "closes_on": day(20)})),
        ),
        "/v1/campaigns/{id}/extend" => (
            String::new(),
            j(json!({"closes_on": day(40), "decision_ref": "QĐ 2"})),
        ),
        "/v1/donors" => (
            String::new(),
            j(json!({"kind": "organisation", "name": "Công ty Minh Phát"})),
        ),
        "/v1/donations" => (
            String::new(),
            j(json!({"fund_id": f.fund, "status": "received", "channel": "cash",
                     "lines": [{"asset": "VND", "amount": "100000"}]})),
        ),
        "/v1/bank-statements" => (
            format!("?bank_account_id={}", f.bank_account),
            Some((
                "text/csv",
                "STT,Ngày giao dịch,Số tham chiếu,Số tiền ghi có,Số tiền ghi nợ,Nội dung chi tiết\n\
                 1,02/09/2025,FT998,2.000.000,,Ủng hộ\n"
                    .as_bytes()
                    .to_vec(),
            )),
        ),
        "/v1/bank-statements/{id}/lines/{line_id}/donation" => {
            (String::new(), j(json!({"note": "từ sao kê"})))
        }
        "/v1/incidents" => (
            String::new(),
            j(json!({"kind": "typhoon", "name": "Bão", "started_at": format!("{}T08:00:00+07:00", day(-1)),
                     "units": [{"code": f.commune}]})),
        ),
        "/v1/incidents/{id}/assessments" => (
            String::new(),
            j(json!({"household_id": f.household, "deaths": 0, "missing": 0,
                     "severely_injured": 0, "house_damage": "none", "people_needing_food": 0,
                     "months_of_food": 0, "assessor": "Cán bộ", "assessed_on": day(0)})),
        ),
        "/v1/households" => (
            String::new(),
            j(json!({"unit": f.commune, "head_name": "Trần Văn Mới", "head_birth_year": 1980,
                     "head_sex": "male", "address": "Tổ 1", "poverty_status": "none",
                     "members": []})),
        ),
        "/v1/policies" => (
            String::new(),
            j(json!({"province": f.province, "legal_basis": "Nghị quyết 1/2025",
                     "effective_from": "2025-07-01", "standard_level_vnd": "500000",
                     "rules": [{"category": "house_collapsed", "amount_vnd": "60000000",
                                "poverty_status": ["poor"], "legal_ref": "Điều 2"}]})),
        ),
        "/v1/disbursements/bulk" => (
            String::new(),
            j(json!({"fund_id": f.fund, "incident_id": f.incident, "unit": f.commune})),
        ),
        "/v1/disbursements/bulk-approve" => (String::new(), j(json!({"ids": [f.disbursement]}))),
        "/v1/disbursements" => (
            String::new(),
            j(json!({"fund_id": f.fund, "household_id": f.household, "purpose": "Hỗ trợ",
                     "lines": [{"category": "water", "asset": "VND", "amount": "1000"}]})),
        ),
        "/v1/disbursements/{id}/pay" => (
            String::new(),
            j(json!({"method": "cash", "received_by": "Người nhận"})),
        ),
        "/v1/allocations" => (
            String::new(),
            j(json!({"from_fund_id": f.province_fund, "to_fund_id": f.fund,
                     "decision_ref": "QĐ 3", "round": 2, "purpose": "Hỗ trợ",
                     "lines": [{"asset": "VND", "amount": "1000"}]})),
        ),
        "/v1/incidents/{id}/close"
        | "/v1/allocations/{id}/execute"
        | "/v1/funds/{id}/checkpoints"
        | "/v1/users/{id}/disable"
        | "/v1/campaigns/{id}/close"
        | "/v1/disbursements/{id}/approve"
        | "/v1/allocations/{id}/approve" => (String::new(), j(json!({}))),
        _ => (String::new(), j(reason)),
    }
}

/// Sends the request; returns the status, the answer and the text of the request (URL and body).
async fn send(
    app: &TestApp,
    method: &str,
    template: &str,
    f: &Fixture,
    token: Option<&str>,
) -> (u16, String, String) {
    let (query, body) = request_body(method, template, f);
    let url = app.url(&format!("{}{query}", concrete(template, f)));
    let sent = format!(
        "{url} {}",
        body.as_ref()
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    );
    let mut req = app
        .client
        .request(Method::from_bytes(method.as_bytes()).unwrap(), url)
        .header("Idempotency-Key", key());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some((ct, bytes)) = body {
        req = req.header("content-type", ct).body(bytes);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default(), sent)
}

async fn matrix_of_roles_and_scopes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let helper52 = app
        .user_token("helper.p52", "fund_manager", Some("P52"))
        .await;
    let helper01 = app
        .user_token("helper.p01", "fund_manager", Some("P01"))
        .await;
    let inside = fixture(&app, &admin, &helper52, "C21583", "P52").await;
    let outside = fixture(&app, &admin, &helper01, "C00070", "P01").await;
    let mut callers = Vec::new();
    for role in ROLES {
        let name = format!("matrix.{role}");
        callers.push((role, app.user_token(&name, role, Some("P52")).await));
    }

    let mut failures = Vec::new();
    for (method, template, access) in TABLE {
        for (side, f) in [(Side::In, &inside), (Side::Out, &outside)] {
            let what = |who: &str, status: u16, body: &str| {
                format!(
                    "{method} {template} as {who} on {side:?}: {status} {}",
                    body.chars().take(300).collect::<String>()
                )
            };
            let (status, body, _) = send(&app, method, template, f, None).await;
            let anonymous_ok = match access {
                Public => status != 401 && status != 403 && status < 500,
                Auth(..) => status == 401,
            };
            if !anonymous_ok {
                failures.push(what("anonymous", status, &body));
            }
            if matches!(access, Public) {
                if PERSONAL.iter().any(|p| body.contains(p)) {
                    failures.push(format!(
                        "PERSONAL DATA {}",
                        what("anonymous", status, &body)
                    ));
                }
                continue;
            }
            let Auth(roles, out) = access else { continue };
            for ((role, token), allowed) in callers.iter().zip(roles.chars()) {
                let (status, body, sent) = send(&app, method, template, f, Some(token)).await;
                let ok = match (allowed, side, out) {
                    (_, _, _) if status >= 500 => false,
                    ('F', Side::In, _) | ('F', Side::Out, Unscoped) => status == 403,
                    ('F', Side::Out, _) => status == 403 || status == 404,
                    (_, Side::Out, NotFound) => status == 404,
                    (_, Side::Out, Forbidden) => status == 403,
                    (_, Side::Out, Invalid) => status == 422,
                    _ => ![401, 403, 404].contains(&status),
                };
                if !ok {
                    failures.push(what(role, status, &body));
                }
                // An id the request itself names may be echoed (a bulk item refused as 404).
                if (200..300).contains(&status) {
                    let leaked = outside
                        .ids()
                        .into_iter()
                        .find(|i| body.contains(i) && !sent.contains(i));
                    if let Some(leak) = leaked {
                        failures.push(format!("LEAK of {leak}: {}", what(role, status, &body)));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} unexpected answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

crate::both_backends!(matrix_of_roles_and_scopes);
