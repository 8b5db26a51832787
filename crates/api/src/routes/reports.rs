//! Reports for the half-year and year (Decision 488/QĐ-TTg) and per incident, as JSON or as
//! one flat CSV layout (`CSV_HEADER`) shared by both.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Query;
use crate::routes::funds::fund_in_scope;
use crate::routes::incidents::incident_in_scope;
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::money::format_amount;
use domain::reports::{median, percentile, share, Period};
use domain::text::{csv_quote, csv_text};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use storage::reports::{CommuneFigures, Figure, MOVEMENTS};

/// The columns of every report in CSV. `section`, `group`, `key`, `label` and `asset` are text
/// (guarded against formulas); `count`, `amount` and `value_vnd` are numbers or empty.
pub const CSV_HEADER: &str = "section,group,key,label,asset,count,amount,value_vnd";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// `?format=json|csv`, else `Accept: text/csv`, else JSON.
fn format_of(req: &HttpRequest, format: Option<&str>) -> Result<Format, ApiError> {
    match format {
        Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(_) => Err(ApiError::query("format", "must be json or csv")),
        None => {
            let csv = req
                .headers()
                .get_all(header::ACCEPT)
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|m| {
                    m.split(';')
                        .next()
                        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
                });
            Ok(if csv { Format::Csv } else { Format::Json })
        }
    }
}

/// One CSV row; empty cells by default.
#[derive(Default)]
struct Row<'a> {
    section: &'a str,
    group: &'a str,
    key: &'a str,
    label: &'a str,
    asset: &'a str,
    count: Option<i64>,
    amount: Option<String>,
    value_vnd: Option<String>,
}

struct Csv(String);

impl Csv {
    fn new() -> Self {
        Self(format!("{CSV_HEADER}\r\n"))
    }

    fn push(&mut self, r: Row<'_>) {
        let text = [r.section, r.group, r.key, r.label, r.asset].map(csv_text);
        let numbers = [r.count.map(|c| c.to_string()), r.amount, r.value_vnd]
            .map(|n| csv_quote(&n.unwrap_or_default()));
        self.0.push_str(&text.join(","));
        self.0.push(',');
        self.0.push_str(&numbers.join(","));
        self.0.push_str("\r\n");
    }

    fn meta(&mut self, key: &str, value: &str) {
        self.push(Row {
            section: "report",
            key,
            label: value,
            ..Row::default()
        });
    }

    fn respond(self, filename: &str) -> HttpResponse {
        HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ))
            .body(self.0)
    }
}

/// Amounts of an asset at its scale.
struct Scales(HashMap<String, u32>);

impl Scales {
    fn fmt(&self, asset: &str, minor: i64) -> String {
        format_amount(minor, self.0.get(asset).copied().unwrap_or(0))
    }
}

#[derive(serde::Deserialize)]
pub struct ReportQuery {
    period: Option<String>,
    format: Option<String>,
}

fn overflow() -> ApiError {
    ApiError::Rule {
        code: "amount_overflow",
        detail: "the report's totals overflow".into(),
    }
}

/// `GET /v1/reports/funds/{id}?period=2026-H1|2026-H2|2026&format=json|csv`: any role whose
/// scope covers the fund.
pub async fn fund(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
    query: Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let format = format_of(&req, q.format.as_deref())?;
    let period = match q.period.as_deref() {
        None => {
            return Err(ApiError::field(
                "period",
                "is required: a year such as 2026 or a half-year such as 2026-H1",
            ))
        }
        Some(p) => Period::parse("period", p)?,
    };
    let (Some(from), Some(to)) = (period.start_micros(), period.end_micros()) else {
        return Err(ApiError::field("period", "is out of range"));
    };
    let fund = fund_in_scope(&state, &user, path.into_inner()).await?;
    let id = fund.id.clone();
    let (f, scales) = state
        .read(move |c| {
            Ok((
                storage::reports::fund_figures(c, &id, from, to)?,
                storage::assets::scales(c)?,
            ))
        })
        .await?;
    let scales = Scales(scales);
    tracing::info!(fund.id = %fund.id, report.period = %period.label, "fund report read");

    // The balance table: opening + each movement = closing, per asset.
    let assets: BTreeSet<&String> = f
        .opening
        .keys()
        .chain(f.closing.keys())
        .chain(f.movements.iter().map(|m| &m.asset))
        .collect();
    let mut reconciled = true;
    let mut table = Vec::new();
    for asset in &assets {
        let opening = f.opening.get(*asset).copied().unwrap_or(0);
        let closing = f.closing.get(*asset).copied().unwrap_or(0);
        let mut sum = opening;
        let mut row = vec![("opening", opening)];
        for kind in MOVEMENTS {
            let amount = f
                .movements
                .iter()
                .filter(|m| m.key == *kind && &&m.asset == asset)
                .map(|m| m.amount)
                .sum::<i64>();
            sum = sum.checked_add(amount).ok_or_else(overflow)?;
            row.push((kind, amount));
        }
        row.push(("closing", closing));
        reconciled &= sum == closing;
        table.push((asset.as_str(), row));
    }

    if format == Format::Csv {
        let mut csv = Csv::new();
        csv.meta("fund_id", &fund.id);
        csv.meta("fund_name", &fund.name);
        csv.meta("period", &period.label);
        csv.meta("first_day", &period.first_day.to_string());
        csv.meta("last_day", &period.last_day.to_string());
        csv.meta("reconciled", if reconciled { "true" } else { "false" });
        for (asset, row) in &table {
            for (key, amount) in row {
                csv.push(Row {
                    section: "balance",
                    key,
                    asset,
                    amount: Some(scales.fmt(asset, *amount)),
                    ..Row::default()
                });
            }
        }
        let sections: [(&str, &[Figure]); 9] = [
            ("movement", &f.movements),
            ("receipts_by_donor_kind", &f.receipts_by_donor_kind),
            ("receipts_by_channel", &f.receipts_by_channel),
            ("receipts_by_asset", &f.receipts_by_asset),
            ("in_kind", &f.in_kind),
            ("disbursements_by_category", &f.disbursements_by_category),
            ("disbursements_by_incident", &f.disbursements_by_incident),
            ("allocations", &f.allocations),
            ("reversals", &f.reversals),
        ];
        for (section, figures) in sections {
            for x in figures {
                csv.push(Row {
                    section,
                    group: &x.group,
                    key: &x.key,
                    label: x.label.as_deref().unwrap_or_default(),
                    asset: &x.asset,
                    count: Some(x.count),
                    amount: Some(scales.fmt(&x.asset, x.amount)),
                    value_vnd: x.value_vnd.map(|v| v.to_string()),
                });
            }
        }
        return Ok(csv.respond(&format!("fund-{}-{}.csv", fund.id, period.label)));
    }

    let amount = |x: &Figure| scales.fmt(&x.asset, x.amount);
    let list = |figures: &[Figure], each: &dyn Fn(&Figure) -> Value| -> Vec<Value> {
        figures.iter().map(each).collect()
    };
    let allocations = |group: &str| -> Vec<Value> {
        f.allocations
            .iter()
            .filter(|x| x.group == group)
            .map(|x| json!({"fund_id": x.key, "fund_name": x.label, "asset": x.asset, "allocations": x.count, "amount": amount(x)}))
            .collect()
    };
    Ok(HttpResponse::Ok().json(json!({
        "fund": {
            "id": fund.id,
            "name": fund.name,
            "unit": {"edition": fund.unit_edition, "code": fund.unit_code},
        },
        "period": {
            "label": period.label,
            "first_day": period.first_day.to_string(),
            "last_day": period.last_day.to_string(),
            "from": rfc3339(from),
            "to": rfc3339(to),
        },
        "reconciled": reconciled,
        "balances": table.iter().map(|(asset, row)| {
            let mut o = serde_json::Map::new();
            o.insert("asset".into(), json!(asset));
            for (k, v) in row {
                o.insert((*k).into(), json!(scales.fmt(asset, *v)));
            }
            Value::Object(o)
        }).collect::<Vec<_>>(),
        "movements": list(&f.movements, &|x| json!({"kind": x.key, "asset": x.asset, "entries": x.count, "amount": amount(x)})),
        "receipts": {
            "by_donor_kind": list(&f.receipts_by_donor_kind, &|x| json!({"donor_kind": x.key, "donations": x.count, "total_vnd": amount(x)})),
            "by_channel": list(&f.receipts_by_channel, &|x| json!({"channel": x.key, "donations": x.count, "total_vnd": amount(x)})),
            "by_asset": list(&f.receipts_by_asset, &|x| json!({"asset": x.asset, "donations": x.count, "amount": amount(x)})),
            "in_kind": list(&f.in_kind, &|x| json!({"asset": x.asset, "donations": x.count, "quantity": amount(x), "value_vnd": x.value_vnd.unwrap_or(0).to_string()})),
        },
        "disbursements": {
            "by_category": list(&f.disbursements_by_category, &|x| json!({"category": x.key, "asset": x.asset, "disbursements": x.count, "amount": amount(x)})),
            "by_incident": list(&f.disbursements_by_incident, &|x| json!({
                "incident_id": (!x.key.is_empty()).then_some(&x.key),
                "incident_name": x.label,
                "asset": x.asset, "disbursements": x.count, "amount": amount(x),
            })),
        },
        "allocations": {"in": allocations("in"), "out": allocations("out")},
        "reversals": list(&f.reversals, &|x| json!({"reverses": x.key, "asset": x.asset, "entries": x.count, "amount": amount(x)})),
    })))
}

#[derive(serde::Deserialize)]
pub struct IncidentQuery {
    format: Option<String>,
}

/// The support figures of one commune, or of all of them together.
struct Support {
    assessed: i64,
    days: Vec<i64>,
    disbursements: i64,
    paid_vnd: i64,
    /// asset -> (disbursements, amount)
    paid: BTreeMap<String, (i64, i64)>,
}

impl Support {
    fn of(c: &CommuneFigures) -> Self {
        Self {
            assessed: c.assessed,
            days: c.days_to_payment.clone(),
            disbursements: c.disbursements_paid,
            paid_vnd: c.paid_vnd,
            paid: c
                .paid
                .iter()
                .map(|x| (x.asset.clone(), (x.count, x.amount)))
                .collect(),
        }
    }

    fn total(communes: &[CommuneFigures]) -> Result<Self, ApiError> {
        let mut t = Self {
            assessed: 0,
            days: Vec::new(),
            disbursements: 0,
            paid_vnd: 0,
            paid: BTreeMap::new(),
        };
        let add = |a: i64, b: i64| a.checked_add(b).ok_or_else(overflow);
        for c in communes {
            t.assessed = add(t.assessed, c.assessed)?;
            t.days.extend_from_slice(&c.days_to_payment);
            t.disbursements = add(t.disbursements, c.disbursements_paid)?;
            t.paid_vnd = add(t.paid_vnd, c.paid_vnd)?;
            for x in &c.paid {
                let e = t.paid.entry(x.asset.clone()).or_default();
                *e = (add(e.0, x.count)?, add(e.1, x.amount)?);
            }
        }
        t.days.sort_unstable();
        Ok(t)
    }

    fn supported(&self) -> i64 {
        i64::try_from(self.days.len()).unwrap_or(i64::MAX)
    }

    /// The share of assessed households paid within `days` days of their first assessment.
    fn within(&self, days: i64) -> Option<String> {
        let n = self.days.iter().filter(|d| **d <= days).count();
        share(
            u64::try_from(n).unwrap_or(u64::MAX),
            u64::try_from(self.assessed).unwrap_or(0),
        )
    }

    fn median(&self) -> Option<String> {
        median(&self.days)
    }

    fn p90(&self) -> Option<String> {
        percentile(&self.days, 90).map(|d| d.to_string())
    }

    fn view(&self, scales: &Scales) -> Value {
        json!({
            "households": {
                "assessed": self.assessed,
                "supported": self.supported(),
                "waiting": self.assessed - self.supported(),
            },
            "paid": {
                "disbursements": self.disbursements,
                "total_vnd": self.paid_vnd.to_string(),
                "by_asset": self.paid.iter().map(|(asset, (n, amount))| json!({
                    "asset": asset, "disbursements": n, "amount": scales.fmt(asset, *amount),
                })).collect::<Vec<_>>(),
            },
            "days_to_first_payment": {"median": self.median(), "p90": self.p90()},
            "supported_within_7_days": self.within(7),
            "supported_within_20_days": self.within(20),
        })
    }

    fn csv(&self, csv: &mut Csv, group: &str, label: &str, scales: &Scales) {
        for (key, n) in [
            ("assessed", self.assessed),
            ("supported", self.supported()),
            ("waiting", self.assessed - self.supported()),
        ] {
            csv.push(Row {
                section: "households",
                group,
                key,
                label,
                count: Some(n),
                ..Row::default()
            });
        }
        csv.push(Row {
            section: "paid",
            group,
            key: "total_vnd",
            label,
            asset: "VND",
            count: Some(self.disbursements),
            amount: Some(self.paid_vnd.to_string()),
            ..Row::default()
        });
        for (asset, (n, amount)) in &self.paid {
            csv.push(Row {
                section: "paid",
                group,
                key: "by_asset",
                label,
                asset,
                count: Some(*n),
                amount: Some(scales.fmt(asset, *amount)),
                ..Row::default()
            });
        }
        for (key, v) in [
            ("median_days", self.median()),
            ("p90_days", self.p90()),
            ("share_within_7_days", self.within(7)),
            ("share_within_20_days", self.within(20)),
        ] {
            csv.push(Row {
                section: "timeliness",
                group,
                key,
                label,
                amount: v,
                ..Row::default()
            });
        }
    }
}

/// `GET /v1/reports/incidents/{id}?format=json|csv`: any role that sees the incident; the
/// figures cover the funds and households in the caller's scope.
pub async fn incident(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
    query: Query<IncidentQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = format_of(&req, query.0.format.as_deref())?;
    let inc = incident_in_scope(&state, &user, path.into_inner()).await?;
    let id = inc.row.id.clone();
    let within = user.scope.as_ref().map(|s| (s.edition, s.path.clone()));
    let (f, scales) = state
        .read(move |c| {
            let within = within.as_ref().map(|(e, p)| (*e, p.as_str()));
            Ok((
                storage::reports::incident_figures(c, &id, within)?,
                storage::assets::scales(c)?,
            ))
        })
        .await?;
    let scales = Scales(scales);
    let total = Support::total(&f.communes)?;
    tracing::info!(incident.id = %inc.row.id, "incident report read");

    if format == Format::Csv {
        let mut csv = Csv::new();
        csv.meta("incident_id", &inc.row.id);
        csv.meta("incident_name", &inc.row.name);
        csv.push(Row {
            section: "raised",
            key: "total_vnd",
            asset: "VND",
            count: Some(f.donations),
            amount: Some(f.raised_vnd.to_string()),
            ..Row::default()
        });
        for x in &f.raised {
            csv.push(Row {
                section: "raised",
                key: "by_asset",
                asset: &x.asset,
                count: Some(x.count),
                amount: Some(scales.fmt(&x.asset, x.amount)),
                ..Row::default()
            });
        }
        for c in &f.communes {
            Support::of(c).csv(&mut csv, &c.unit_code, &c.unit_name, &scales);
        }
        total.csv(&mut csv, "total", "", &scales);
        return Ok(csv.respond(&format!("incident-{}.csv", inc.row.id)));
    }

    let communes: Vec<Value> = f
        .communes
        .iter()
        .map(|c| {
            let mut v = Support::of(c).view(&scales);
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "unit".into(),
                    json!({"edition": c.unit_edition, "code": c.unit_code, "name": c.unit_name}),
                );
            }
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "incident": {
            "id": inc.row.id,
            "kind": inc.row.kind,
            "name": inc.row.name,
            "status": inc.row.status,
            "started_at": rfc3339(inc.row.started_at),
        },
        "raised": {
            "donations": f.donations,
            "total_vnd": f.raised_vnd.to_string(),
            "by_asset": f.raised.iter().map(|x| json!({
                "asset": x.asset, "donations": x.count, "amount": scales.fmt(&x.asset, x.amount),
            })).collect::<Vec<_>>(),
        },
        "communes": communes,
        "totals": total.view(&scales),
    })))
}
