//! Bank statements: import of a CSV export of one fund bank account, and reconciliation of its
//! credit lines against the recorded bank-transfer donations.
//!
//! Columns are found by their header, in English or as Vietnamese banks print them (with or
//! without diacritics, any case): date (`date`, `ngày`, `ngày giao dịch`), amount (`amount`,
//! `số tiền`) or separate credit and debit columns (`credit`, `ghi có`, `số tiền ghi có`;
//! `debit`, `ghi nợ`, `số tiền ghi nợ`), reference (`reference`, `số tham chiếu`, `mã giao dịch`,
//! `số bút toán`), counterparty (`counterparty`, `người chuyển`, `tên người chuyển`, `đối ứng`)
//! and message (`message`, `description`, `nội dung`, `nội dung chi tiết`, `diễn giải`). Other
//! columns (such as `STT`, the row number) are ignored.

use crate::schema::{bank_statement_lines, bank_statements};
use crate::units::ImportError;
use crate::{now_micros, DbConnection, StoreError};
use chrono::NaiveDate;
use diesel::prelude::*;
use domain::donations::{parse_bank_date, parse_vnd_text, vn_midnight};
use domain::text::fold;
use std::collections::{HashMap, HashSet};

/// One line of a statement: a credit (positive) or debit (negative) in đồng.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub line_no: i32,
    pub booked_on: NaiveDate,
    pub amount: i64,
    pub reference: Option<String>,
    pub counterparty: Option<String>,
    pub message: Option<String>,
}

const DATE: &[&str] = &[
    "date",
    "ngay",
    "ngay giao dich",
    "transaction date",
    "ngay hach toan",
];
const AMOUNT: &[&str] = &["amount", "so tien"];
const CREDIT: &[&str] = &["credit", "ghi co", "so tien ghi co", "phat sinh co"];
const DEBIT: &[&str] = &["debit", "ghi no", "so tien ghi no", "phat sinh no"];
const REFERENCE: &[&str] = &[
    "reference",
    "bank_ref",
    "so tham chieu",
    "ma giao dich",
    "so but toan",
    "so ct",
];
const COUNTERPARTY: &[&str] = &[
    "counterparty",
    "nguoi chuyen",
    "ten nguoi chuyen",
    "doi ung",
    "ten doi ung",
];
const MESSAGE: &[&str] = &[
    "message",
    "description",
    "noi dung",
    "noi dung chi tiet",
    "dien giai",
];

/// The largest statement accepted, in lines.
pub const MAX_LINES: usize = 200_000;

/// Reads a statement. Either every line is good or the first bad one is reported with its line
/// number (the header is line 1).
pub fn parse_statement(data: &str) -> Result<Vec<StatementLine>, ImportError> {
    let data = data.strip_prefix('\u{feff}').unwrap_or(data);
    let delimiter = match data.lines().next() {
        Some(h) if h.matches(';').count() > h.matches(',').count() => b';',
        _ => b',',
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(data.as_bytes());
    let header_err = |reason: String| ImportError { line: 1, reason };
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| header_err(e.to_string()))?
        .iter()
        .map(|h| {
            fold(h)
                .trim_matches(|c: char| !c.is_alphanumeric() && c != '_')
                .to_owned()
        })
        .collect();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let date =
        find(DATE).ok_or_else(|| header_err("no date column (date, ngày giao dịch)".into()))?;
    let amount = find(AMOUNT);
    let credit = find(CREDIT);
    let debit = find(DEBIT);
    if amount.is_none() && credit.is_none() {
        return Err(header_err(
            "no amount column (amount, số tiền, or credit/ghi có)".into(),
        ));
    }
    let (reference, counterparty, message) = (find(REFERENCE), find(COUNTERPARTY), find(MESSAGE));
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(2);
        let bad = |reason: String| ImportError { line, reason };
        let record = record.map_err(|e| bad(e.to_string()))?;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if out.len() >= MAX_LINES {
            return Err(bad(format!("a statement has at most {MAX_LINES} lines")));
        }
        let cell = |col: Option<usize>| {
            col.and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let text =
            |col: Option<usize>, what: &str, max: usize| -> Result<Option<String>, ImportError> {
                cell(col)
                    .map(|s| domain::text::required(what, s, max).map_err(|e| bad(e.to_string())))
                    .transpose()
            };
        let booked_on = cell(Some(date))
            .and_then(parse_bank_date)
            .ok_or_else(|| bad("the date is not a date such as 08/09/2024".into()))?;
        let money = |col: Option<usize>, what: &str| -> Result<Option<i64>, ImportError> {
            cell(col)
                .map(|s| {
                    parse_vnd_text(s)
                        .ok_or_else(|| bad(format!("the {what} is not an amount of đồng")))
                })
                .transpose()
        };
        let value = match amount {
            Some(_) => money(amount, "amount")?.unwrap_or(0),
            None => {
                let c = money(credit, "credit")?.unwrap_or(0);
                let d = money(debit, "debit")?.unwrap_or(0);
                c.checked_sub(d.abs())
                    .ok_or_else(|| bad("the amount is out of range".into()))?
            }
        };
        if value == 0 {
            return Err(bad("the line has no amount".into()));
        }
        out.push(StatementLine {
            line_no: i32::try_from(line).unwrap_or(i32::MAX),
            booked_on,
            amount: value,
            reference: text(reference, "reference", 100)?,
            counterparty: text(counterparty, "counterparty", 300)?,
            message: text(message, "message", 1000)?,
        });
    }
    if out.is_empty() {
        return Err(ImportError {
            line: 2,
            reason: "the statement has no lines".into(),
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bank_statements)]
pub struct StatementRow {
    pub id: String,
    pub fund_id: String,
    pub bank_account_id: String,
    pub lines_total: i32,
    pub lines_new: i32,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
    pub imported_at: i64,
    pub imported_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bank_statement_lines)]
#[diesel(treat_none_as_default_value = false)]
pub struct LineRow {
    pub id: String,
    pub statement_id: String,
    pub bank_account_id: String,
    pub line_no: i32,
    pub line_key: String,
    pub booked_on: String,
    pub amount: i64,
    pub reference: Option<String>,
    pub counterparty: Option<String>,
    pub message: Option<String>,
    pub donation_id: Option<String>,
}

/// The identity of a line on its account: its bank reference, or a hash of its content and of
/// how many identical lines precede it in the file.
fn line_key(l: &StatementLine, seen: &mut HashMap<String, u32>) -> String {
    if let Some(r) = &l.reference {
        return format!("ref:{r}");
    }
    use sha2::{Digest, Sha256};
    let content = format!(
        "{}|{}|{}|{}",
        l.booked_on,
        l.amount,
        l.counterparty.as_deref().unwrap_or_default(),
        l.message.as_deref().unwrap_or_default()
    );
    let n = seen.entry(content.clone()).or_default();
    *n += 1;
    format!(
        "h:{}",
        hex::encode(Sha256::digest(format!("{content}|{n}")))
    )
}

/// Imports a statement of one bank account: lines already imported (by an earlier, overlapping
/// statement) are skipped. Call inside [`crate::Db::write`].
pub fn import(
    conn: &mut DbConnection,
    fund_id: &str,
    bank_account_id: &str,
    lines: &[StatementLine],
    actor_id: &str,
) -> Result<StatementRow, StoreError> {
    let id = crate::new_row_id();
    let mut seen = HashMap::new();
    let keyed: Vec<(String, &StatementLine)> =
        lines.iter().map(|l| (line_key(l, &mut seen), l)).collect();
    let existing: HashSet<String> = bank_statement_lines::table
        .filter(bank_statement_lines::bank_account_id.eq(bank_account_id))
        .select(bank_statement_lines::line_key)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut in_file = HashSet::new();
    let rows: Vec<LineRow> = keyed
        .into_iter()
        .filter(|(k, _)| !existing.contains(k) && in_file.insert(k.clone()))
        .map(|(line_key, l)| LineRow {
            id: crate::new_row_id(),
            statement_id: id.clone(),
            bank_account_id: bank_account_id.to_owned(),
            line_no: l.line_no,
            line_key,
            booked_on: l.booked_on.to_string(),
            amount: l.amount,
            reference: l.reference.clone(),
            counterparty: l.counterparty.clone(),
            message: l.message.clone(),
            donation_id: None,
        })
        .collect();
    let statement = StatementRow {
        id: id.clone(),
        fund_id: fund_id.to_owned(),
        bank_account_id: bank_account_id.to_owned(),
        lines_total: i32::try_from(lines.len()).unwrap_or(i32::MAX),
        lines_new: i32::try_from(rows.len()).unwrap_or(i32::MAX),
        first_date: lines
            .iter()
            .map(|l| l.booked_on)
            .min()
            .map(|d| d.to_string()),
        last_date: lines
            .iter()
            .map(|l| l.booked_on)
            .max()
            .map(|d| d.to_string()),
        imported_at: now_micros(),
        imported_by: actor_id.to_owned(),
    };
    diesel::insert_into(bank_statements::table)
        .values(&statement)
        .execute(conn)?;
    // A concurrent import of an overlapping statement inserted some of these lines first: the
    // retried transaction sees them and skips them.
    // PostgreSQL takes the lines by COPY (binary), SQLite by multi-row inserts of 500.
    let inserted = match conn {
        DbConnection::Pg(c) => diesel::copy_from(bank_statement_lines::table)
            .from_insertable(&rows)
            .execute(c)
            .map(drop),
        DbConnection::Sqlite(c) => rows.chunks(500).try_for_each(|chunk| {
            diesel::insert_into(bank_statement_lines::table)
                .values(chunk)
                .execute(c)
                .map(drop)
        }),
    };
    inserted.map_err(|e| crate::error::unique_as(e, || StoreError::Retry))?;
    Ok(statement)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<StatementRow, StoreError> {
    bank_statements::table
        .find(id)
        .select(StatementRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

pub fn line(conn: &mut DbConnection, line_id: &str) -> Result<LineRow, StoreError> {
    bank_statement_lines::table
        .find(line_id)
        .select(LineRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Links a line to the donation made from it, at most once.
pub fn link_donation(
    conn: &mut DbConnection,
    line_id: &str,
    donation_id: &str,
) -> Result<(), StoreError> {
    let n = diesel::update(
        bank_statement_lines::table
            .find(line_id)
            .filter(bank_statement_lines::donation_id.is_null()),
    )
    .set(bank_statement_lines::donation_id.eq(Some(donation_id)))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::conflict(
            "line_already_recorded",
            "a donation was already made from this line",
        ));
    }
    Ok(())
}

/// How a statement line was matched to a donation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The donation was recorded from this line.
    Line,
    /// The bank reference is the same.
    Reference,
    /// Same amount in đồng, received within a day of the booking date.
    AmountAndDate,
}

#[derive(Debug, Clone)]
pub struct Reconciliation {
    pub statement: StatementRow,
    pub matched: Vec<(LineRow, crate::donations::DonationRow, MatchedBy)>,
    pub unmatched_in_bank: Vec<LineRow>,
    pub unmatched_in_ledger: Vec<crate::donations::DonationRow>,
    /// Debit lines: money leaving the account, reconciled against disbursements, not donations.
    pub debits: usize,
}

/// Matches a statement's credit lines to the received bank-transfer donations of the same account
/// over the statement's dates (one day of slack on each side): first the lines donations were
/// made from, then by reference, then by amount and date (nearest date first).
pub fn reconcile(
    conn: &mut DbConnection,
    statement_id: &str,
) -> Result<Reconciliation, StoreError> {
    const DAY: i64 = 86_400_000_000;
    let statement = get(conn, statement_id)?;
    // Every line of the account over the statement's dates, whichever import brought it in: a
    // re-imported or overlapping statement reconciles the same lines.
    let all: Vec<LineRow> = bank_statement_lines::table
        .filter(bank_statement_lines::bank_account_id.eq(&statement.bank_account_id))
        .filter(
            bank_statement_lines::booked_on.ge(statement.first_date.clone().unwrap_or_default()),
        )
        .filter(bank_statement_lines::booked_on.le(statement.last_date.clone().unwrap_or_default()))
        .order((
            bank_statement_lines::booked_on.asc(),
            bank_statement_lines::line_no.asc(),
        ))
        .select(LineRow::as_select())
        .load(conn)?;
    let debits = all.iter().filter(|l| l.amount < 0).count();
    let credits: Vec<LineRow> = all.into_iter().filter(|l| l.amount > 0).collect();
    let date = |s: &Option<String>| {
        s.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .and_then(vn_midnight)
    };
    let from = date(&statement.first_date).unwrap_or(0) - DAY;
    let to = date(&statement.last_date).unwrap_or(0) + 2 * DAY;
    let mut donations: Vec<Option<crate::donations::DonationRow>> =
        crate::donations::bank_transfers(conn, &statement.bank_account_id, from, to)?
            .into_iter()
            .map(Some)
            .collect();
    let mut matched = Vec::new();
    let mut rest = Vec::new();
    let take = |pred: &dyn Fn(&crate::donations::DonationRow) -> bool,
                donations: &mut Vec<Option<crate::donations::DonationRow>>| {
        donations
            .iter_mut()
            .find(|d| d.as_ref().is_some_and(pred))
            .and_then(Option::take)
    };
    for l in credits {
        let by_line = l.donation_id.clone();
        let found = match &by_line {
            Some(id) => take(&|d| &d.id == id, &mut donations).map(|d| (d, MatchedBy::Line)),
            None => None,
        }
        .or_else(|| {
            let r = l.reference.clone()?;
            take(
                &|d| d.bank_ref.as_deref() == Some(r.as_str()),
                &mut donations,
            )
            .map(|d| (d, MatchedBy::Reference))
        });
        match found {
            Some((d, by)) => matched.push((l, d, by)),
            None => rest.push(l),
        }
    }
    let mut unmatched_in_bank = Vec::new();
    for l in rest {
        let Ok(booked) = NaiveDate::parse_from_str(&l.booked_on, "%Y-%m-%d") else {
            unmatched_in_bank.push(l);
            continue;
        };
        // Days between the booking date and the donation's date in Vietnam: at most one.
        let gap = |d: &crate::donations::DonationRow| {
            domain::donations::vn_date(d.received_at).map(|day| (day - booked).num_days().abs())
        };
        let best = donations
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_ref().map(|d| (i, d)))
            .filter(|(_, d)| d.total_vnd == l.amount && gap(d).is_some_and(|g| g <= 1))
            .min_by_key(|(_, d)| (gap(d), d.received_at, d.id.clone()))
            .map(|(i, _)| i);
        match best.and_then(|i| donations.get_mut(i).and_then(Option::take)) {
            Some(d) => matched.push((l, d, MatchedBy::AmountAndDate)),
            None => unmatched_in_bank.push(l),
        }
    }
    matched
        .sort_by(|(a, _, _), (b, _, _)| (&a.booked_on, a.line_no).cmp(&(&b.booked_on, b.line_no)));
    Ok(Reconciliation {
        statement,
        matched,
        unmatched_in_bank,
        unmatched_in_ledger: donations.into_iter().flatten().collect(),
        debits,
    })
}

/// The statements imported for a fund, newest first, `limit + 1` of them (to tell whether there
/// are more) before the statement `before_id`, if given. Ids are UUIDv7, so by import time.
pub fn list(
    conn: &mut DbConnection,
    fund_id: &str,
    before_id: Option<&str>,
    limit: i64,
) -> Result<Vec<StatementRow>, StoreError> {
    let mut q = bank_statements::table
        .filter(bank_statements::fund_id.eq(fund_id))
        .select(StatementRow::as_select())
        .order(bank_statements::id.desc())
        .limit(limit.saturating_add(1))
        .into_boxed();
    if let Some(before) = before_id {
        q = q.filter(bank_statements::id.lt(before.to_owned()));
    }
    Ok(q.load(conn)?)
}
