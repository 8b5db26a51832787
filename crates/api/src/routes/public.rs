//! Public disclosure (Decree 93/2021, Art. 14), without login: funds and their statements,
//! campaigns and where their fund's money went, a donation looked up by its receipt number or
//! bank reference, and the support paid per incident with the beneficiaries' names masked.
//!
//! Every view here is built field by field from what the public may see: never a donor's id,
//! contact details or unpublished name, never a household's address, birth years, members or ID
//! digits, never a staff member's id or name, never free-text notes. Answers carry a strong
//! `ETag` (the SHA-256 of the body) and `Cache-Control: public, max-age=60`; the per-address
//! rate limit is the middleware in `crate::ratelimit`.

use crate::error::ApiError;
use crate::extract::{decode_cursor, page_limit, Page, Query};
use crate::routes::{query_unit, rfc3339};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::donations::vn_date;
use domain::money::format_amount;
use domain::text::mask_name;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use storage::public::{
    CommunePaid, ExecutedAllocation, FundInfo, Movement, PaidDisbursement, PaidFilter,
    PublicDonation, Reference, Tally,
};
use storage::DbConnection;

/// What the public sees instead of the name of a donor who did not agree to publication.
pub const ANONYMOUS: &str = "Ẩn danh";

const CACHE_CONTROL: &str = "public, max-age=60";

/// Why the outgoing figures of a campaign are its fund's: payouts are not linked to campaigns.
const FUND_BASIS: &str = "donations to a campaign go to its fund's accounts and payouts are \
    drawn on the fund, not on a campaign, so allocations, payments and balances are the fund's";

// ---------------------------------------------------------------- responses

/// Answers `body` with a strong ETag (the SHA-256 of the body), or 304 without a body when the
/// request's `If-None-Match` names it.
fn cached(req: &HttpRequest, content_type: &str, body: Vec<u8>) -> HttpResponse {
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&body)));
    let matches = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag);
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag.clone()))
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL));
    if matches {
        return res.finish();
    }
    res.content_type(content_type).body(body)
}

fn json(req: &HttpRequest, v: &serde_json::Value) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(v).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(cached(req, "application/json", body))
}

use domain::text::csv_text;

fn csv(req: &HttpRequest, header_row: &[&str], rows: Vec<Vec<String>>) -> HttpResponse {
    let mut out = header_row.join(",");
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.join(","));
        out.push_str("\r\n");
    }
    cached(req, "text/csv; charset=utf-8", out.into_bytes())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

fn format_of(f: Option<&str>) -> Result<Format, ApiError> {
    match f {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(_) => Err(ApiError::query("format", "must be json or csv")),
    }
}

// ---------------------------------------------------------------- shared views

/// An asset's unit and scale, by code.
type Assets = HashMap<String, (String, u32)>;

fn assets(c: &mut DbConnection) -> Result<Assets, storage::StoreError> {
    Ok(asset_map(&storage::assets::list(c)?))
}

fn asset_map(list: &[storage::assets::AssetRow]) -> Assets {
    list.iter()
        .map(|a| (a.code.clone(), (a.unit.clone(), a.scale())))
        .collect()
}

fn amount(assets: &Assets, asset: &str, minor: i64) -> String {
    format_amount(minor, assets.get(asset).map_or(0, |a| a.1))
}

fn unit_of(assets: &Assets, asset: &str) -> String {
    assets.get(asset).map(|a| a.0.clone()).unwrap_or_default()
}

fn day(micros: i64) -> Option<String> {
    vn_date(micros).map(|d| d.format("%Y-%m-%d").to_string())
}

fn fund_view(f: &FundInfo) -> serde_json::Value {
    serde_json::json!({
        "id": f.id,
        "name": f.name,
        "unit": {"edition": f.unit_edition, "code": f.unit_code, "name": f.unit_name},
    })
}

fn tally_view(t: Tally) -> serde_json::Value {
    serde_json::json!({"count": t.count, "total_vnd": t.total_vnd.to_string()})
}

fn donation_view(d: &PublicDonation, assets: &Assets) -> serde_json::Value {
    let r = &d.donation.row;
    serde_json::json!({
        "receipt_no": r.receipt_no,
        "fund": fund_view(&d.fund),
        "received_on": day(r.received_at),
        "status": r.status,
        "reversed_on": r.reversed_at.and_then(day),
        "channel": r.channel,
        "earmarked": !r.designation.is_empty(),
        "lines": d.donation.lines.iter().map(|l| serde_json::json!({
            "asset": l.asset,
            "unit": unit_of(assets, &l.asset),
            "amount": amount(assets, &l.asset, l.amount),
            "value_vnd": l.value_vnd.map(|v| v.to_string()),
        })).collect::<Vec<_>>(),
        "total_vnd": r.total_vnd.to_string(),
        "campaign": r.campaign_id.as_ref().map(|id| serde_json::json!({
            "id": id, "name": d.campaign_name,
        })),
        "donor": match &d.donor_name {
            Some(name) => serde_json::json!({"name": name, "anonymous": false}),
            None => serde_json::json!({"name": ANONYMOUS, "anonymous": true}),
        },
    })
}

fn lines_view<'a>(
    assets: &Assets,
    lines: impl Iterator<Item = (Option<&'a str>, &'a str, i64)>,
) -> Vec<serde_json::Value> {
    lines
        .map(|(category, asset, minor)| {
            let mut v = serde_json::json!({
                "asset": asset,
                "unit": unit_of(assets, asset),
                "amount": amount(assets, asset, minor),
            });
            if let (Some(c), Some(o)) = (category, v.as_object_mut()) {
                o.insert("category".into(), serde_json::json!(c));
            }
            v
        })
        .collect()
}

/// A paid disbursement as the public sees it: the head of household's masked name, the commune,
/// what was paid and when.
fn payment_view(p: &PaidDisbursement, assets: &Assets) -> serde_json::Value {
    serde_json::json!({
        "name": mask_name(&p.head_name),
        "unit": {"edition": p.unit_edition, "code": p.unit_code},
        "incident_id": p.row.incident_id,
        "lines": lines_view(assets, p.lines.iter().map(|l| (Some(l.category.as_str()), l.asset.as_str(), l.amount))),
        "total_vnd": p.row.total_vnd.to_string(),
        "paid_on": p.row.paid_at.and_then(day),
    })
}

fn overflow() -> ApiError {
    ApiError::Rule {
        code: "amount_overflow",
        detail: "the totals overflow".into(),
    }
}

fn add(to: &mut i64, v: i64) -> Result<(), ApiError> {
    *to = to.checked_add(v).ok_or_else(overflow)?;
    Ok(())
}

fn sub(a: i64, b: i64) -> Result<i64, ApiError> {
    a.checked_sub(b).ok_or_else(overflow)
}

// ---------------------------------------------------------------- fund figures

/// One asset of a fund's statement, in minor units. `opening + received - reversed +
/// allocated_in - allocated_out - paid + other = balance`, and `balance` and `reserved` are the
/// ledger's (`GET /v1/funds/{id}/balances`).
#[derive(Default, Clone, Copy)]
struct Figures {
    opening: i64,
    received: i64,
    reversed: i64,
    allocated_in: i64,
    allocated_out: i64,
    paid: i64,
    other: i64,
    balance: i64,
    reserved: i64,
}

fn figures(
    movements: &[Movement],
    balances: &[storage::ledger::AssetBalance],
) -> Result<BTreeMap<String, Figures>, ApiError> {
    let mut out: BTreeMap<String, Figures> = BTreeMap::new();
    for m in movements {
        let f = out.entry(m.asset.clone()).or_default();
        let net = sub(m.inflow, m.outflow)?;
        match (m.entry_kind.as_str(), m.ref_type.as_deref()) {
            ("opening_balance", _) | ("reversal", Some("fund")) => add(&mut f.opening, net)?,
            ("donation", _) => add(&mut f.received, net)?,
            ("reversal", Some("donation")) => add(&mut f.reversed, sub(0, net)?)?,
            ("allocation", _) => {
                add(&mut f.allocated_in, m.inflow)?;
                add(&mut f.allocated_out, m.outflow)?;
            }
            ("disbursement", _) => add(&mut f.paid, sub(0, net)?)?,
            _ => add(&mut f.other, net)?,
        }
    }
    for b in balances {
        let f = out.entry(b.asset.clone()).or_default();
        add(&mut f.balance, b.posted)?;
        add(&mut f.reserved, b.reserved)?;
    }
    Ok(out)
}

fn figures_view(assets: &Assets, figures: &BTreeMap<String, Figures>) -> Vec<serde_json::Value> {
    figures
        .iter()
        .map(|(asset, f)| {
            let a = |v: i64| amount(assets, asset, v);
            serde_json::json!({
                "asset": asset,
                "unit": unit_of(assets, asset),
                "opening": a(f.opening),
                "received": a(f.received),
                "reversed": a(f.reversed),
                "allocated_in": a(f.allocated_in),
                "allocated_out": a(f.allocated_out),
                "paid": a(f.paid),
                "other": a(f.other),
                "balance": a(f.balance),
                "reserved": a(f.reserved),
                "available": a(f.balance.saturating_sub(f.reserved)),
            })
        })
        .collect()
}

const STATEMENT_CSV: &[&str] = &[
    "scope",
    "asset",
    "unit",
    "opening",
    "received",
    "reversed",
    "allocated_in",
    "allocated_out",
    "paid",
    "other",
    "balance",
    "reserved",
    "available",
];

fn figures_csv(
    scope: &str,
    assets: &Assets,
    figures: &BTreeMap<String, Figures>,
) -> Vec<Vec<String>> {
    figures
        .iter()
        .map(|(asset, f)| {
            let a = |v: i64| amount(assets, asset, v);
            vec![
                csv_text(scope),
                csv_text(asset),
                csv_text(&unit_of(assets, asset)),
                a(f.opening),
                a(f.received),
                a(f.reversed),
                a(f.allocated_in),
                a(f.allocated_out),
                a(f.paid),
                a(f.other),
                a(f.balance),
                a(f.reserved),
                a(f.balance.saturating_sub(f.reserved)),
            ]
        })
        .collect()
}

/// Everything a fund's statement is made of, read in one go.
struct FundData {
    fund: FundInfo,
    figures: BTreeMap<String, Figures>,
    received: Tally,
    paid: Tally,
}

/// A fund's rows as read, before the figures are computed.
struct FundRows {
    fund: FundInfo,
    movements: Vec<Movement>,
    balances: Vec<storage::ledger::AssetBalance>,
    received: Tally,
    paid: Tally,
}

fn fund_rows(c: &mut DbConnection, fund_id: &str) -> Result<FundRows, storage::StoreError> {
    Ok(FundRows {
        fund: storage::public::fund(c, fund_id)?,
        movements: storage::public::movements(c, fund_id)?,
        balances: storage::ledger::balances(c, fund_id, None)?,
        received: storage::public::received_tally(c, fund_id, None)?,
        paid: storage::public::paid_tally(c, fund_id)?,
    })
}

impl FundRows {
    fn figures(self) -> Result<FundData, ApiError> {
        Ok(FundData {
            figures: figures(&self.movements, &self.balances)?,
            fund: self.fund,
            received: self.received,
            paid: self.paid,
        })
    }
}

fn fund_statement_view(d: &FundData, assets: &Assets) -> serde_json::Value {
    serde_json::json!({
        "fund": fund_view(&d.fund),
        "assets": figures_view(assets, &d.figures),
        "donations_received": tally_view(d.received),
        "disbursements_paid": tally_view(d.paid),
    })
}

/// The funds on the other side of `fund_id`'s allocations.
fn counterparts(
    c: &mut DbConnection,
    fund_id: &str,
    allocations: &[ExecutedAllocation],
) -> Result<HashMap<String, FundInfo>, storage::StoreError> {
    let ids: Vec<String> = allocations
        .iter()
        .map(|a| {
            if a.row.from_fund_id == fund_id {
                a.row.to_fund_id.clone()
            } else {
                a.row.from_fund_id.clone()
            }
        })
        .collect();
    storage::public::funds_by_id(c, &ids)
}

/// An executed allocation seen from `fund_id`: sent (`out`) or received (`in`).
fn allocation_view(
    a: &ExecutedAllocation,
    fund_id: &str,
    others: &HashMap<String, FundInfo>,
    assets: &Assets,
) -> serde_json::Value {
    let out = a.row.from_fund_id == fund_id;
    let other = if out {
        &a.row.to_fund_id
    } else {
        &a.row.from_fund_id
    };
    serde_json::json!({
        "direction": if out { "out" } else { "in" },
        "decision_ref": a.row.decision_ref,
        "round": a.row.round,
        "counterpart": others.get(other).map(fund_view),
        "executed_on": a.row.executed_at.and_then(day),
        "lines": lines_view(assets, a.lines.iter().map(|l| (None, l.asset.as_str(), l.amount))),
        "total_vnd": a.row.total_vnd.to_string(),
    })
}

/// How many of a fund's most recent allocation rounds its statement lists.
const STATEMENT_ALLOCATIONS: i64 = 100;

/// What a fund's statement lists besides its figures: its campaigns, its most recent executed
/// allocations, what it paid per commune of the households, and the incidents it paid for or
/// its campaigns are linked to.
struct FundLists {
    campaigns: Vec<storage::campaigns::CampaignRow>,
    allocations: Vec<ExecutedAllocation>,
    others: HashMap<String, FundInfo>,
    communes: Vec<CommunePaid>,
    unit_names: HashMap<(i32, String), String>,
    incidents: Vec<storage::relief::IncidentRow>,
}

fn fund_lists(c: &mut DbConnection, fund_id: &str) -> Result<FundLists, storage::StoreError> {
    let campaigns = storage::campaigns::list_for_fund(c, fund_id)?;
    let allocations = storage::public::executed_allocations(c, fund_id, STATEMENT_ALLOCATIONS)?;
    let others = counterparts(c, fund_id, &allocations)?;
    let communes = storage::public::paid_by_commune(c, fund_id)?;
    let unit_names = unit_names(
        c,
        communes
            .iter()
            .map(|p| (p.unit_edition, p.unit_code.clone())),
    )?;
    let paid_incidents = storage::public::paid_incidents(c, fund_id)?;
    let incident_ids: BTreeSet<&str> = paid_incidents
        .iter()
        .map(String::as_str)
        .chain(campaigns.iter().filter_map(|k| k.incident_id.as_deref()))
        .collect();
    let mut incidents = Vec::new();
    for id in incident_ids {
        match storage::relief::incident(c, id) {
            Ok(i) => incidents.push(i.row),
            Err(storage::StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(FundLists {
        campaigns,
        allocations,
        others,
        communes,
        unit_names,
        incidents,
    })
}

/// The lists of a fund's statement, as JSON fields.
fn fund_lists_view(
    fund_id: &str,
    l: &FundLists,
    assets: &Assets,
) -> serde_json::Map<String, serde_json::Value> {
    let communes: Vec<serde_json::Value> = l
        .communes
        .iter()
        .map(|p| {
            let unit = (p.unit_edition, p.unit_code.clone());
            serde_json::json!({
                "unit": {"edition": p.unit_edition, "code": p.unit_code,
                    "name": l.unit_names.get(&unit)},
                "households_supported": p.households,
                "disbursements_paid": p.disbursements,
                "paid": lines_view(assets, p.lines.iter().map(|(a, v)| (None, a.as_str(), *v))),
                "paid_total_vnd": p.total_vnd.to_string(),
            })
        })
        .collect();
    let mut out = serde_json::Map::new();
    out.insert(
        "campaigns".into(),
        l.campaigns.iter().map(campaign_view).collect(),
    );
    out.insert(
        "allocations".into(),
        serde_json::json!({"items": l.allocations.iter()
            .map(|a| allocation_view(a, fund_id, &l.others, assets))
            .collect::<Vec<_>>()}),
    );
    out.insert("communes".into(), communes.into());
    out.insert(
        "incidents".into(),
        l.incidents
            .iter()
            .map(|i| {
                serde_json::json!({"id": i.id, "kind": i.kind, "name": i.name,
                "started_at": rfc3339(i.started_at)})
            })
            .collect(),
    );
    out
}

// ---------------------------------------------------------------- funds

#[derive(serde::Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/public/funds`: every fund, with its name and unit.
pub async fn funds(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.0.limit)?;
    let after = query.0.cursor.as_deref().map(decode_cursor).transpose()?;
    let rows = state
        .read(move |c| storage::public::funds(c, after.as_deref(), limit))
        .await?;
    let page = Page::from_rows(rows, limit, |f| f.id.clone(), |f| fund_view(&f));
    json(&req, &serde_json::json!(page))
}

#[derive(serde::Deserialize)]
pub struct StatementQuery {
    format: Option<String>,
}

/// `GET /v1/public/funds/{id}/statement?format=json|csv`: what the fund received, allocated,
/// paid and holds, per asset; in JSON also its campaigns, allocation rounds, payments per
/// commune and incidents (`fund_lists`), so that one answer draws the fund's public page.
pub async fn fund_statement(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: Query<StatementQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = format_of(query.0.format.as_deref())?;
    let id = path.into_inner();
    let (raw, lists, assets) = state
        .read(move |c| {
            let raw = fund_rows(c, &id)?;
            let lists = match format {
                Format::Json => Some(fund_lists(c, &id)?),
                Format::Csv => None,
            };
            Ok((raw, lists, assets(c)?))
        })
        .await?;
    let data = raw.figures()?;
    match format {
        Format::Json => {
            let mut v = fund_statement_view(&data, &assets);
            if let (Some(o), Some(l)) = (v.as_object_mut(), &lists) {
                o.extend(fund_lists_view(&data.fund.id, l, &assets));
            }
            json(&req, &v)
        }
        Format::Csv => Ok(csv(
            &req,
            STATEMENT_CSV,
            figures_csv("fund", &assets, &data.figures),
        )),
    }
}

// ---------------------------------------------------------------- campaigns

fn campaign_view(c: &storage::campaigns::CampaignRow) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "name": c.name,
        "appeal_ref": c.appeal_ref,
        "opens_on": c.opens_on,
        "closes_on": c.closes_on,
        "closed": c.closed_at.is_some(),
        "incident_id": c.incident_id,
    })
}

/// What a campaign's donations brought in per asset: received (including what was later
/// reversed) and reversed.
fn campaign_received(
    rows: &[(String, String, i64)],
) -> Result<BTreeMap<String, Figures>, ApiError> {
    let mut out: BTreeMap<String, Figures> = BTreeMap::new();
    for (asset, status, sum) in rows {
        let f = out.entry(asset.clone()).or_default();
        add(&mut f.received, *sum)?;
        if status == "reversed" {
            add(&mut f.reversed, *sum)?;
        }
    }
    Ok(out)
}

fn campaign_received_view(
    assets: &Assets,
    r: &BTreeMap<String, Figures>,
) -> Vec<serde_json::Value> {
    r.iter()
        .map(|(asset, f)| {
            serde_json::json!({
                "asset": asset,
                "unit": unit_of(assets, asset),
                "received": amount(assets, asset, f.received),
                "reversed": amount(assets, asset, f.reversed),
            })
        })
        .collect()
}

struct CampaignData {
    campaign: storage::campaigns::CampaignRow,
    received: BTreeMap<String, Figures>,
    tally: Tally,
    fund: FundData,
}

async fn campaign_data(state: &AppState, id: String) -> Result<(CampaignData, Assets), ApiError> {
    let (campaign, lines, tally, raw, assets) = state
        .read(move |c| {
            let campaign = storage::campaigns::get(c, &id)?;
            let lines = storage::public::campaign_lines(c, &id)?;
            let tally = storage::public::received_tally(c, &campaign.fund_id, Some(&id))?;
            let raw = fund_rows(c, &campaign.fund_id)?;
            Ok((campaign, lines, tally, raw, assets(c)?))
        })
        .await?;
    Ok((
        CampaignData {
            campaign,
            received: campaign_received(&lines)?,
            tally,
            fund: raw.figures()?,
        },
        assets,
    ))
}

/// `GET /v1/public/campaigns/{id}/statement?format=json|csv`: what the campaign received, and
/// its fund's figures (payouts are not traced to campaigns: `basis` is `fund`).
pub async fn campaign_statement(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: Query<StatementQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = format_of(query.0.format.as_deref())?;
    let (d, assets) = campaign_data(&state, path.into_inner()).await?;
    match format {
        Format::Json => json(
            &req,
            &serde_json::json!({
                "campaign": campaign_view(&d.campaign),
                "fund": fund_view(&d.fund.fund),
                "received": campaign_received_view(&assets, &d.received),
                "donations_received": tally_view(d.tally),
                "basis": "fund",
                "basis_note": FUND_BASIS,
                "fund_statement": fund_statement_view(&d.fund, &assets),
            }),
        ),
        Format::Csv => {
            let mut rows: Vec<Vec<String>> = d
                .received
                .iter()
                .map(|(asset, f)| {
                    let mut row = vec![
                        csv_text("campaign"),
                        csv_text(asset),
                        csv_text(&unit_of(&assets, asset)),
                        String::new(),
                        amount(&assets, asset, f.received),
                        amount(&assets, asset, f.reversed),
                    ];
                    row.resize(STATEMENT_CSV.len(), String::new());
                    row
                })
                .collect();
            rows.extend(figures_csv("fund", &assets, &d.fund.figures));
            Ok(csv(&req, STATEMENT_CSV, rows))
        }
    }
}

#[derive(serde::Deserialize)]
pub struct FlowQuery {
    limit: Option<i64>,
}

/// `GET /v1/public/campaigns/{id}/flow?limit=`: from the campaign to its donations, and on to
/// the allocations and payments of its fund (the most recent `limit` of each, with counts and
/// totals), with `basis: fund`.
pub async fn campaign_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.0.limit)?;
    let id = path.into_inner();
    let (d, assets) = campaign_data(&state, id.clone()).await?;
    let fund_id = d.campaign.fund_id.clone();
    let (donations, donation_count, allocations, payments, others) = state
        .read(move |c| {
            let donations = storage::public::campaign_donations(c, &id, limit)?;
            let count = storage::public::campaign_donation_count(c, &id)?;
            let allocations = storage::public::executed_allocations(c, &fund_id, limit)?;
            let payments = storage::public::paid(
                c,
                &PaidFilter {
                    fund_id: Some(fund_id.clone()),
                    newest_first: true,
                    limit: Some(limit),
                    ..PaidFilter::default()
                },
            )?;
            let others = counterparts(c, &fund_id, &allocations)?;
            Ok((donations, count, allocations, payments, others))
        })
        .await?;
    let fund_id = &d.campaign.fund_id;
    let allocations: Vec<serde_json::Value> = allocations
        .iter()
        .map(|a| allocation_view(a, fund_id, &others, &assets))
        .collect();
    json(
        &req,
        &serde_json::json!({
            "campaign": campaign_view(&d.campaign),
            "fund": fund_view(&d.fund.fund),
            "basis": "fund",
            "basis_note": FUND_BASIS,
            "received": campaign_received_view(&assets, &d.received),
            "donations": {
                "count": donation_count,
                "total_vnd": d.tally.total_vnd.to_string(),
                "items": donations.iter().map(|x| donation_view(x, &assets)).collect::<Vec<_>>(),
            },
            "allocations": {
                "items": allocations,
            },
            "payments": {
                "count": d.fund.paid.count,
                "total_vnd": d.fund.paid.total_vnd.to_string(),
                "items": payments.iter().map(|p| payment_view(p, &assets)).collect::<Vec<_>>(),
            },
            "fund_figures": figures_view(&assets, &d.fund.figures),
        }),
    )
}

// ---------------------------------------------------------------- donations

#[derive(serde::Deserialize)]
pub struct LookupQuery {
    receipt_no: Option<String>,
    bank_ref: Option<String>,
    fund_id: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn reference_param<'a>(name: &str, v: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    match v.map(str::trim) {
        None => Ok(None),
        Some("") => Err(ApiError::query(name, "must not be empty")),
        Some(s) if s.chars().count() > 100 => {
            Err(ApiError::query(name, "must be at most 100 characters"))
        }
        Some(s) => Ok(Some(s)),
    }
}

/// `GET /v1/public/donations?receipt_no=` or `?bank_ref=` (exactly one; `fund_id` narrows): the
/// received donations with that reference. A reference that names nothing public (unknown, or
/// a pledge) is the same 404.
pub async fn donations(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Query<LookupQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let receipt = reference_param("receipt_no", q.receipt_no.as_deref())?.map(str::to_owned);
    let bank_ref = reference_param("bank_ref", q.bank_ref.as_deref())?.map(str::to_owned);
    if receipt.is_some() && bank_ref.is_some() {
        return Err(ApiError::query(
            "bank_ref",
            "give either receipt_no or bank_ref, not both",
        ));
    }
    if receipt.is_none() && bank_ref.is_none() {
        return Err(ApiError::query(
            "receipt_no",
            "give receipt_no (such as BN-2026-000123) or bank_ref",
        ));
    }
    let limit = page_limit(q.limit)?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let first_page = after.is_none();
    let fund_id = q.fund_id;
    let asset_cache = state.assets.clone();
    let (rows, assets) = state
        .read(move |c| {
            let reference = match (&receipt, &bank_ref) {
                (Some(r), _) => Reference::Receipt(r),
                (None, Some(b)) => Reference::BankRef(b),
                (None, None) => return Err(storage::StoreError::NotFound),
            };
            let rows = storage::public::by_reference(
                c,
                reference,
                fund_id.as_deref(),
                after.as_deref(),
                limit,
            )?;
            let codes = rows
                .iter()
                .flat_map(|r| r.donation.lines.iter().map(|l| l.asset.as_str()));
            let assets = asset_map(&asset_cache.covering(c, codes)?);
            Ok((rows, assets))
        })
        .await?;
    if rows.is_empty() && first_page {
        return Err(ApiError::NotFound);
    }
    let page = Page::from_rows(
        rows,
        limit,
        |d| d.donation.row.id.clone(),
        |d| donation_view(&d, &assets),
    );
    json(&req, &serde_json::json!(page))
}

// ---------------------------------------------------------------- incidents

/// Unit names, by (edition, code).
fn unit_names(
    c: &mut DbConnection,
    units: impl IntoIterator<Item = (i32, String)>,
) -> Result<HashMap<(i32, String), String>, storage::StoreError> {
    let mut out = HashMap::new();
    for (edition, code) in units {
        let Ok(e) = domain::units::Edition::parse(i64::from(edition)) else {
            continue;
        };
        match storage::units::get(c, e, &code) {
            Ok(u) => {
                out.insert((edition, code), u.name);
            }
            Err(storage::StoreError::NotFound) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Support {
    assessed: BTreeSet<String>,
    supported: BTreeSet<String>,
    payments: i64,
    paid: BTreeMap<String, i64>,
    paid_vnd: i64,
}

impl Support {
    fn add_payment(&mut self, p: &PaidDisbursement) -> Result<(), ApiError> {
        self.supported.insert(p.row.household_id.clone());
        self.payments += 1;
        add(&mut self.paid_vnd, p.row.total_vnd)?;
        for l in &p.lines {
            add(self.paid.entry(l.asset.clone()).or_default(), l.amount)?;
        }
        Ok(())
    }

    fn view(&self, assets: &Assets) -> serde_json::Value {
        serde_json::json!({
            "households_assessed": self.assessed.len(),
            "households_supported": self.supported.len(),
            "disbursements_paid": self.payments,
            "paid": lines_view(assets, self.paid.iter().map(|(a, v)| (None, a.as_str(), *v))),
            "paid_total_vnd": self.paid_vnd.to_string(),
        })
    }
}

/// `GET /v1/public/incidents/{id}`: the incident, the households assessed and supported and
/// what was paid, in total and per commune.
pub async fn incident(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (inc, assessed, paid, names, assets) = state
        .read(move |c| {
            let inc = storage::relief::incident(c, &id)?;
            let assessed: Vec<(String, i32, String)> =
                storage::relief::current_assessments(c, &id)?
                    .into_iter()
                    .map(|(_, h)| (h.id, h.unit_edition, h.unit_code))
                    .collect();
            let paid = storage::public::paid(
                c,
                &PaidFilter {
                    incident_id: Some(id.clone()),
                    ..PaidFilter::default()
                },
            )?;
            let units: BTreeSet<(i32, String)> = inc
                .units
                .iter()
                .map(|u| (u.unit_edition, u.unit_code.clone()))
                .chain(assessed.iter().map(|(_, e, c)| (*e, c.clone())))
                .chain(paid.iter().map(|p| (p.unit_edition, p.unit_code.clone())))
                .collect();
            let names = unit_names(c, units)?;
            Ok((inc, assessed, paid, names, assets(c)?))
        })
        .await?;
    let mut total = Support::default();
    let mut communes: BTreeMap<(i32, String), Support> = BTreeMap::new();
    for (household, edition, code) in &assessed {
        total.assessed.insert(household.clone());
        communes
            .entry((*edition, code.clone()))
            .or_default()
            .assessed
            .insert(household.clone());
    }
    for p in &paid {
        total.add_payment(p)?;
        communes
            .entry((p.unit_edition, p.unit_code.clone()))
            .or_default()
            .add_payment(p)?;
    }
    let unit = |e: i32, c: &str| serde_json::json!({"edition": e, "code": c, "name": names.get(&(e, c.to_owned()))});
    let r = &inc.row;
    let mut body = serde_json::json!({
        "id": r.id,
        "kind": r.kind,
        "name": r.name,
        "status": r.status,
        "started_at": rfc3339(r.started_at),
        "ended_at": r.ended_at.map(rfc3339),
        "closed_at": r.closed_at.map(rfc3339),
        "units": inc.units.iter().map(|u| unit(u.unit_edition, &u.unit_code)).collect::<Vec<_>>(),
        "communes": communes.iter().map(|((e, c), s)| {
            let mut v = s.view(&assets);
            if let Some(o) = v.as_object_mut() {
                o.insert("unit".into(), unit(*e, c));
            }
            v
        }).collect::<Vec<_>>(),
    });
    if let (Some(o), serde_json::Value::Object(t)) = (body.as_object_mut(), total.view(&assets)) {
        o.extend(t);
    }
    json(&req, &body)
}

#[derive(serde::Deserialize)]
pub struct BeneficiariesQuery {
    unit: Option<String>,
    edition: Option<i64>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/public/incidents/{id}/beneficiaries?unit=&edition=`: the paid disbursements of the
/// incident to households of one commune, with the head of household's name masked.
pub async fn beneficiaries(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: Query<BeneficiariesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let code = q
        .unit
        .ok_or_else(|| ApiError::query("unit", "is required: the code of a commune"))?;
    let unit = query_unit(&state, &code, q.edition).await?;
    let limit = page_limit(q.limit)?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let id = path.into_inner();
    let (edition, code, name) = (unit.edition, unit.code, unit.name);
    let filter = PaidFilter {
        incident_id: Some(id.clone()),
        unit: Some((edition, code.clone())),
        after_id: after,
        limit: Some(limit + 1),
        ..PaidFilter::default()
    };
    let (rows, assets) = state
        .read(move |c| {
            storage::relief::incident(c, &id)?;
            Ok((storage::public::paid(c, &filter)?, assets(c)?))
        })
        .await?;
    let page = Page::from_rows(
        rows,
        limit,
        |p| p.row.id.clone(),
        |p| payment_view(&p, &assets),
    );
    json(
        &req,
        &serde_json::json!({
            "unit": {"edition": edition, "code": code, "name": name},
            "items": page.items,
            "next_cursor": page.next_cursor,
        }),
    )
}
