//! Funds, their balances and opening balances.

use crate::auth::AuthUser;
use crate::error::{ApiError, FieldError};
use crate::extract::{decode_cursor, page_limit, Json, Page, Query};
use crate::routes::ledger::EntryView;
use crate::routes::{effective_instant, query_instant, rfc3339, UnitRef};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use domain::ledger::{AccountKind, EntryKind, Leg};
use domain::money::{format_amount, parse_positive};
use domain::units::{Edition, UnitCode};
use domain::users::Role;
use storage::funds::{BankAccountRow, FundFilter, FundRow, NewBankAccount, NewFund};

#[derive(serde::Serialize)]
pub struct BankAccountView {
    id: String,
    bank: String,
    account_number: String,
    account_name: String,
}

impl From<BankAccountRow> for BankAccountView {
    fn from(b: BankAccountRow) -> Self {
        Self {
            id: b.id,
            bank: b.bank,
            account_number: b.account_number,
            account_name: b.account_name,
        }
    }
}

#[derive(serde::Serialize)]
pub struct FundView {
    id: String,
    unit: UnitRef,
    name: String,
    custodian: String,
    custodian_kind: String,
    bank_accounts: Vec<BankAccountView>,
    chain_seq: i64,
    chain_head: String,
    /// Payouts above this total in đồng need two approvers; `null`: one.
    dual_approval_above_vnd: Option<String>,
    created_at: String,
}

impl FundView {
    fn new(f: FundRow, banks: Vec<BankAccountRow>) -> Self {
        Self {
            id: f.id,
            unit: UnitRef {
                edition: f.unit_edition,
                code: f.unit_code,
            },
            name: f.name,
            custodian: f.custodian,
            custodian_kind: f.custodian_kind,
            bank_accounts: banks.into_iter().map(BankAccountView::from).collect(),
            chain_seq: f.chain_seq,
            chain_head: f.chain_head,
            dual_approval_above_vnd: f.dual_approval_above_vnd.map(|v| v.to_string()),
            created_at: rfc3339(f.created_at),
        }
    }
}

/// Loads a fund the caller may see, or 404 (a fund outside the scope does not exist for them).
pub async fn fund_in_scope(
    state: &AppState,
    user: &AuthUser,
    id: String,
) -> Result<FundRow, ApiError> {
    let fund = state.read(move |c| storage::funds::get(c, &id)).await?;
    user.visible(fund.unit_edition, &fund.unit_path)?;
    Ok(fund)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBankAccount {
    bank: String,
    account_number: String,
    account_name: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFund {
    unit: String,
    edition: Option<i64>,
    name: String,
    custodian: String,
    custodian_kind: String,
    #[serde(default)]
    bank_accounts: Vec<CreateBankAccount>,
}

fn push(errors: &mut Vec<FieldError>, e: domain::Invalid) {
    errors.push(FieldError {
        field: e.field,
        message: e.message,
    });
}

/// `POST /v1/funds` (admin or fund manager, for a unit in scope).
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateFund>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager])?;
    let b = body.0;
    let mut errors = Vec::new();
    let edition = Edition::parse(b.edition.unwrap_or(2025))
        .map_err(|e| push(&mut errors, e))
        .ok();
    let code = UnitCode::parse("unit", &b.unit)
        .map_err(|e| push(&mut errors, e))
        .ok();
    let name = domain::text::required("name", &b.name, 200)
        .map_err(|e| push(&mut errors, e))
        .ok();
    let custodian = domain::text::required("custodian", &b.custodian, 200)
        .map_err(|e| push(&mut errors, e))
        .ok();
    if !storage::funds::CUSTODIAN_KINDS.contains(&b.custodian_kind.as_str()) {
        errors.push(FieldError {
            field: "custodian_kind".into(),
            message: format!(
                "must be one of {}",
                storage::funds::CUSTODIAN_KINDS.join(", ")
            ),
        });
    }
    if b.bank_accounts.len() > 20 {
        errors.push(FieldError {
            field: "bank_accounts".into(),
            message: "at most 20 bank accounts".into(),
        });
    }
    let mut banks = Vec::new();
    for (i, a) in b.bank_accounts.iter().enumerate() {
        let f = |n: &str| format!("bank_accounts[{i}].{n}");
        let bank = domain::text::required(&f("bank"), &a.bank, 100);
        let number =
            domain::text::required(&f("account_number"), &a.account_number, 40).and_then(|n| {
                if n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    Ok(n)
                } else {
                    Err(domain::Invalid::new(
                        f("account_number"),
                        "must be letters, digits or '-'",
                    ))
                }
            });
        let holder = domain::text::required(&f("account_name"), &a.account_name, 200);
        match (bank, number, holder) {
            (Ok(bank), Ok(account_number), Ok(account_name)) => banks.push(NewBankAccount {
                bank,
                account_number,
                account_name,
            }),
            (b, n, h) => {
                for e in [b.err(), n.err(), h.err()].into_iter().flatten() {
                    push(&mut errors, e);
                }
            }
        }
    }
    let (Some(edition), Some(code), Some(name), Some(custodian), true) =
        (edition, code, name, custodian, errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };
    let unit = match state
        .read(move |c| storage::units::get(c, edition, code.as_str()))
        .await
    {
        Ok(u) => u,
        Err(ApiError::NotFound) => {
            return Err(ApiError::field(
                "unit",
                format!("no unit {} in the {edition} edition", b.unit),
            ))
        }
        Err(e) => return Err(e),
    };
    user.require_covers(unit.edition, &unit.path)?;
    let new = NewFund {
        unit,
        name,
        custodian,
        custodian_kind: b.custodian_kind,
        bank_accounts: banks,
        created_by: user.id.clone(),
    };
    let (id, view) = state
        .write(&user, move |c, note| {
            let f = storage::funds::create(c, &new)?;
            let b = storage::funds::bank_accounts(c, &f.id)?;
            note.entity("fund", &f.id).fund(&f);
            let view = FundView::new(f, b);
            note.detail(serde_json::to_value(&view).unwrap_or_default());
            Ok((view.id.clone(), view))
        })
        .await?;
    tracing::info!(fund.id = %id, "fund created");
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/funds/{id}")))
        .json(view))
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    edition: Option<i64>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/funds`: the funds in the caller's scope.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let limit = page_limit(q.limit)?;
    let edition = q
        .edition
        .map(|e| {
            Edition::parse(e).map_err(|e| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("query parameter edition: {}", e.message),
                )
            })
        })
        .transpose()?;
    let filter = FundFilter {
        within: user.scope.as_ref().map(|s| (s.edition, s.path.clone())),
        edition: edition.map(Edition::year),
        after_id: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
    };
    let rows = state
        .read(move |c| {
            let funds = storage::funds::list(c, &filter)?;
            let mut out = Vec::with_capacity(funds.len());
            for f in funds {
                let banks = storage::funds::bank_accounts(c, &f.id)?;
                out.push((f, banks));
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |(f, _)| f.id.clone(),
        |(f, b)| FundView::new(f, b),
    )))
}

/// `GET /v1/funds/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let fund = fund_in_scope(&state, &user, path.into_inner()).await?;
    let id = fund.id.clone();
    let banks = state
        .read(move |c| storage::funds::bank_accounts(c, &id))
        .await?;
    Ok(HttpResponse::Ok().json(FundView::new(fund, banks)))
}

#[derive(serde::Deserialize)]
pub struct BalancesQuery {
    as_of: Option<String>,
}

#[derive(serde::Serialize)]
struct BalanceView {
    asset: String,
    posted: String,
    reserved: String,
    available: String,
}

/// `GET /v1/funds/{id}/balances?as_of=`: posted, reserved and available per asset, now or at a
/// past instant.
pub async fn balances(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: Query<BalancesQuery>,
) -> Result<HttpResponse, ApiError> {
    let as_of = query_instant("as_of", query.0.as_of.as_deref())?;
    let fund = fund_in_scope(&state, &user, path.into_inner()).await?;
    let id = fund.id.clone();
    let (rows, scales) = state
        .read(move |c| {
            let rows = storage::ledger::balances(c, &id, as_of)?;
            let scales = storage::assets::scales(c)?;
            Ok((rows, scales))
        })
        .await?;
    // Totals per asset, and the earmarked part of each asset by designation.
    let mut totals: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    let mut designated = Vec::new();
    for b in &rows {
        let t = totals.entry(b.asset.clone()).or_default();
        t.0 = t.0.saturating_add(b.posted);
        t.1 = t.1.saturating_add(b.reserved);
        if !b.designation.is_empty() {
            designated.push(b.clone());
        }
    }
    let view = |asset: &str, posted: i64, reserved: i64| {
        let scale = scales.get(asset).copied().unwrap_or(0);
        BalanceView {
            asset: asset.to_owned(),
            posted: format_amount(posted, scale),
            reserved: format_amount(reserved, scale),
            available: format_amount(posted.saturating_sub(reserved), scale),
        }
    };
    let balances: Vec<BalanceView> = totals
        .iter()
        .map(|(asset, (p, r))| view(asset, *p, *r))
        .collect();
    let designated: Vec<serde_json::Value> = designated
        .into_iter()
        .map(|b| {
            let mut v = serde_json::json!(view(&b.asset, b.posted, b.reserved));
            if let Some(o) = v.as_object_mut() {
                o.insert("designation".into(), serde_json::json!(b.designation));
            }
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "fund_id": fund.id,
        "as_of": as_of.map(rfc3339),
        "balances": balances,
        "designated": designated,
    })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningLine {
    asset: String,
    amount: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningBalances {
    lines: Vec<OpeningLine>,
    effective_at: Option<String>,
    reason: Option<String>,
}

/// `POST /v1/funds/{id}/opening-balances` (admin): balances a fund held before it joined the
/// system, once per fund and asset (unless the earlier one was reversed).
pub async fn opening_balances(
    state: web::Data<AppState>,
    user: AuthUser,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
    body: Json<OpeningBalances>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let key = crate::idempotency::key(&req, false)?;
    let fp = crate::idempotency::fingerprint(&req, &body.1);
    let fund = fund_in_scope(&state, &user, path.into_inner()).await?;
    let b = body.0;
    if b.lines.is_empty() || b.lines.len() > 100 {
        return Err(ApiError::field("lines", "must have 1 to 100 lines"));
    }
    let effective_at = effective_instant("effective_at", b.effective_at.as_deref())?;
    let reason = b.reason.unwrap_or_else(|| "opening balance".to_owned());
    let actor = user.id.clone();
    let fund_id = fund.id.clone();
    let lines = b.lines;
    crate::idempotency::run(&state, &user, key, fp, move |c, note| {
        // Lock first, so that two concurrent requests cannot both pass the check below.
        storage::ledger::lock_fund(c, &fund_id)?;
        let mut legs = Vec::new();
        let mut errors = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, line) in lines.iter().enumerate() {
            let asset = match storage::assets::get(c, &format!("lines[{i}].asset"), &line.asset) {
                Ok(a) => a,
                Err(storage::StoreError::Invalid(e)) => {
                    errors.push(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if !seen.insert(asset.code.clone()) {
                errors.push(domain::Invalid::new(
                    format!("lines[{i}].asset"),
                    "appears twice",
                ));
                continue;
            }
            match parse_positive(&format!("lines[{i}].amount"), &line.amount, asset.scale()) {
                Ok(amount) => {
                    if storage::ledger::has_opening_balance(c, &fund_id, &asset.code)? {
                        return Err(storage::StoreError::conflict(
                            "opening_balance_exists",
                            format!("the fund already has an opening balance of {}", asset.code),
                        ));
                    }
                    legs.push(Leg::new(AccountKind::Fund, &asset.code, amount));
                    legs.push(Leg::new(AccountKind::Opening, &asset.code, -amount));
                }
                Err(e) => errors.push(e),
            }
        }
        if let Some(e) = errors.into_iter().next() {
            return Err(e.into());
        }
        let entry = storage::ledger::post(
            c,
            &storage::ledger::NewEntry {
                fund_id: fund_id.clone(),
                kind: EntryKind::OpeningBalance,
                reason: reason.clone(),
                actor_id: actor.clone(),
                ref_type: Some("fund".into()),
                ref_id: Some(fund_id.clone()),
                effective_at,
                legs,
            },
        )?;
        let scales = storage::assets::scales(c)?;
        tracing::info!(fund.id = %fund_id, entry.seq = entry.entry.seq, "opening balance posted");
        let entry_id = entry.entry.id.clone();
        let view = serde_json::to_value(EntryView::new(entry, &scales, None))
            .map_err(|e| storage::StoreError::Internal(e.to_string()))?;
        note.entity("entry", &entry_id)
            .fund(&fund)
            .detail(view.clone());
        Ok((actix_web::http::StatusCode::CREATED, view))
    })
    .await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicy {
    /// Payouts above this total in đồng need two distinct approvers; `null` for one always.
    dual_approval_above_vnd: Option<String>,
}

/// `POST /v1/funds/{id}/approval-policy` (admin): the threshold above which payouts out of the
/// fund need a second approver. It applies to proposals made from then on.
pub async fn approval_policy(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: Json<ApprovalPolicy>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let fund = fund_in_scope(&state, &user, path.into_inner()).await?;
    let above = body
        .0
        .dual_approval_above_vnd
        .as_deref()
        .map(|v| domain::money::parse_amount("dual_approval_above_vnd", v, 0))
        .transpose()?;
    if above.is_some_and(|v| v < 0) {
        return Err(ApiError::field(
            "dual_approval_above_vnd",
            "must not be negative",
        ));
    }
    let f = fund.clone();
    state
        .write(&user, move |c, note| {
            note.entity("fund", &f.id)
                .fund(&f)
                .detail(serde_json::json!({
                    "dual_approval_above_vnd": {
                        "from": f.dual_approval_above_vnd.map(|v| v.to_string()),
                        "to": above.map(|v| v.to_string()),
                    }
                }));
            storage::payouts::set_dual_approval(c, &f.id, above)
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "fund_id": fund.id,
        "dual_approval_above_vnd": above.map(|v| v.to_string()),
    })))
}
