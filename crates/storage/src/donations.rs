//! Donations: pledges and receipts in cash, by bank transfer and in kind, posted through the
//! ledger's posting path with a gapless receipt number in the same transaction.

use crate::assets::AssetRow;
use crate::schema::{donation_lines, donations, fund_bank_accounts, receipt_counters};
use crate::{now_micros, DbConnection, StoreError};
use diesel::prelude::*;
use domain::donations::{receipt_number, receipt_year, Channel, DonationStatus};
use domain::ledger::{AccountKind, Designation, EntryKind, Leg};
use domain::money::{parse_amount, parse_positive};
use domain::Invalid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = donations)]
pub struct DonationRow {
    pub id: String,
    pub fund_id: String,
    pub campaign_id: Option<String>,
    pub donor_id: Option<String>,
    pub status: String,
    pub channel: String,
    pub bank_account_id: Option<String>,
    pub bank_ref: Option<String>,
    pub received_at: i64,
    pub recorded_at: i64,
    pub receipt_year: Option<i32>,
    pub receipt_seq: Option<i64>,
    pub receipt_no: Option<String>,
    pub entry_id: Option<String>,
    pub fulfills_pledge_id: Option<String>,
    pub designation: String,
    pub earmark_incident_id: Option<String>,
    pub earmark_unit_edition: Option<i32>,
    pub earmark_unit_code: Option<String>,
    pub earmark_household_id: Option<String>,
    pub earmark_purpose: Option<String>,
    pub total_vnd: i64,
    pub note: Option<String>,
    pub reversal_entry_id: Option<String>,
    pub reversed_at: Option<i64>,
    pub reversal_reason: Option<String>,
    pub created_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = donation_lines)]
pub struct LineRow {
    pub donation_id: String,
    pub idx: i32,
    pub asset: String,
    pub amount: i64,
    pub value_vnd: Option<i64>,
    pub description: Option<String>,
}

/// A donation line as given: decimal strings, checked against the asset here.
#[derive(Debug, Clone)]
pub struct RawLine {
    pub asset: String,
    pub amount: String,
    pub value_vnd: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewDonation {
    pub fund_id: String,
    pub campaign_id: Option<String>,
    pub donor_id: Option<String>,
    pub status: DonationStatus,
    pub channel: Channel,
    pub bank_account_id: Option<String>,
    pub bank_ref: Option<String>,
    pub received_at: i64,
    pub lines: Vec<RawLine>,
    pub earmark: Designation,
    pub fulfills_pledge_id: Option<String>,
    pub note: Option<String>,
    pub actor_id: String,
}

/// A donation with its lines.
#[derive(Debug, Clone)]
pub struct Donation {
    pub row: DonationRow,
    pub lines: Vec<LineRow>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> StoreError {
    Invalid::new(field, message).into()
}

/// Checks the lines against their assets (`assets`: every asset, [`crate::assets::list`]):
/// known asset, positive amount within the asset's scale, a VND valuation for goods. Returns the
/// lines and the total value in đồng.
fn check_lines(
    donation_id: &str,
    raw: &[RawLine],
    assets: &[AssetRow],
) -> Result<(Vec<LineRow>, i64), StoreError> {
    if raw.is_empty() || raw.len() > 100 {
        return Err(invalid("lines", "must have 1 to 100 lines"));
    }
    let mut lines = Vec::with_capacity(raw.len());
    let mut total: i64 = 0;
    for (i, l) in raw.iter().enumerate() {
        let asset = assets
            .iter()
            .find(|a| a.code == l.asset)
            .ok_or_else(|| crate::assets::unknown(&format!("lines[{i}].asset"), &l.asset))?;
        let amount = parse_positive(&format!("lines[{i}].amount"), &l.amount, asset.scale())?;
        let value_vnd = match &l.value_vnd {
            Some(v) => {
                let v = parse_amount(&format!("lines[{i}].value_vnd"), v, 0)?;
                if v < 0 {
                    return Err(invalid(
                        format!("lines[{i}].value_vnd"),
                        "must not be negative",
                    ));
                }
                Some(v)
            }
            None if asset.kind == "goods" => {
                return Err(invalid(
                    format!("lines[{i}].value_vnd"),
                    "is required for goods: their value in đồng",
                ))
            }
            None => None,
        };
        let value = if asset.code == "VND" {
            Some(amount)
        } else {
            value_vnd
        };
        total = total
            .checked_add(value.unwrap_or(0))
            .ok_or_else(|| invalid("lines", "the total is out of range"))?;
        let description = l
            .description
            .as_deref()
            .map(|d| domain::text::required(&format!("lines[{i}].description"), d, 500))
            .transpose()?;
        lines.push(LineRow {
            donation_id: donation_id.to_owned(),
            idx: i32::try_from(i).map_err(|_| invalid("lines", "too many lines"))?,
            asset: asset.code.clone(),
            amount,
            value_vnd,
            description,
        });
    }
    Ok((lines, total))
}

/// Up to this many lines, a donation's insert is kept prepared on the PostgreSQL connection
/// (one prepared statement per number of lines: [`crate::db::Cached`]).
const CACHED_LINES: usize = 4;

/// Advances the fund's receipt counter for the year and returns the new number. The caller holds
/// the fund's lock, so numbers are handed out one at a time; a rollback returns the number.
fn next_receipt(conn: &mut DbConnection, fund_id: &str, year: i32) -> Result<i64, StoreError> {
    if let DbConnection::Pg(c) = conn {
        // One round trip: insert the year's first number or advance the counter.
        return Ok(crate::db::cached(
            diesel::insert_into(receipt_counters::table)
                .values((
                    receipt_counters::fund_id.eq(fund_id),
                    receipt_counters::year.eq(year),
                    receipt_counters::last_seq.eq(1),
                ))
                .on_conflict((receipt_counters::fund_id, receipt_counters::year))
                .do_update()
                .set(receipt_counters::last_seq.eq(receipt_counters::last_seq + 1))
                .returning(receipt_counters::last_seq),
        )
        .get_result(c)?);
    }
    let last: Option<i64> = receipt_counters::table
        .find((fund_id, year))
        .select(receipt_counters::last_seq)
        .first(conn)
        .optional()?;
    let next = last.unwrap_or(0) + 1;
    match last {
        Some(_) => {
            diesel::update(receipt_counters::table.find((fund_id, year)))
                .set(receipt_counters::last_seq.eq(next))
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(receipt_counters::table)
                .values((
                    receipt_counters::fund_id.eq(fund_id),
                    receipt_counters::year.eq(year),
                    receipt_counters::last_seq.eq(next),
                ))
                .execute(conn)?;
        }
    }
    Ok(next)
}

/// Records a donation. A received one is posted to the fund's ledger (per line: fund account of
/// the earmark's designation up, the fund's donors account down) and numbered; a pledge is only
/// recorded. `assets` is every asset ([`crate::assets::list`], which the caller reads anyway to
/// show the amounts). Call inside [`crate::Db::write`].
pub fn record(
    conn: &mut DbConnection,
    d: &NewDonation,
    assets: &[AssetRow],
) -> Result<Donation, StoreError> {
    // Lock late: what does not depend on the fund's other writes (the lines, the status, the
    // note) is checked before the fund's lock is taken, so that donations to one fund wait for
    // each other only for what must be serialised. The lock reads the fund's row.
    let id = crate::new_row_id();
    let (lines, total_vnd) = check_lines(&id, &d.lines, assets)?;
    let received = match d.status {
        DonationStatus::Received => true,
        DonationStatus::Pledged => false,
        _ => return Err(invalid("status", "must be received or pledged")),
    };
    let note = d
        .note
        .as_deref()
        .map(|n| domain::text::required("note", n, 1000))
        .transpose()?;
    let fund = crate::ledger::lock_fund(conn, &d.fund_id)?;
    let head = (fund.chain_seq, fund.chain_head.clone());
    let campaign = match &d.campaign_id {
        None => None,
        Some(cid) => Some(match crate::campaigns::get(conn, cid) {
            Err(StoreError::NotFound) => return Err(invalid("campaign_id", "no such campaign")),
            other => other?,
        }),
    };
    if let Some(c) = &campaign {
        if c.fund_id != fund.id {
            return Err(invalid(
                "campaign_id",
                "the campaign belongs to another fund",
            ));
        }
        c.accepts(d.received_at)?;
    }
    if let Some(donor) = &d.donor_id {
        if let Err(StoreError::NotFound) = crate::donors::get(conn, donor) {
            return Err(invalid("donor_id", "no such donor"));
        }
    }
    // A bank transfer names its reference and lands on one of the fund's accounts.
    let (bank_account_id, bank_ref) = match d.channel {
        Channel::BankTransfer => {
            let bank_ref = d
                .bank_ref
                .as_deref()
                .map(|r| domain::text::required("bank_ref", r, 100))
                .transpose()?
                .ok_or_else(|| invalid("bank_ref", "is required for a bank transfer"))?;
            let banks = crate::funds::bank_accounts(conn, &fund.id)?;
            let campaign_bank = campaign.as_ref().and_then(|c| c.bank_account_id.clone());
            let account = match (&d.bank_account_id, campaign_bank, banks.as_slice()) {
                (Some(b), _, _) => b.clone(),
                (None, Some(b), _) => b,
                (None, None, [only]) => only.id.clone(),
                (None, None, []) => {
                    return Err(invalid("bank_account_id", "the fund has no bank account"))
                }
                (None, None, _) => {
                    return Err(invalid(
                        "bank_account_id",
                        "is required: the fund has several bank accounts",
                    ))
                }
            };
            if !banks.iter().any(|b| b.id == account) {
                return Err(invalid(
                    "bank_account_id",
                    "is not a bank account of this fund",
                ));
            }
            let taken: bool = diesel::select(diesel::dsl::exists(
                donations::table
                    .filter(donations::bank_account_id.eq(&account))
                    .filter(donations::bank_ref.eq(&bank_ref))
                    .filter(donations::status.ne(DonationStatus::Reversed.as_str())),
            ))
            .get_result(conn)?;
            if taken {
                return Err(StoreError::conflict(
                    "duplicate_bank_ref",
                    "bank_ref: a donation with this bank reference is already recorded on this account",
                ));
            }
            (Some(account), Some(bank_ref))
        }
        _ => {
            if d.bank_ref.is_some() {
                return Err(invalid("bank_ref", "is only for bank transfers"));
            }
            (None, None)
        }
    };
    if let Some(pid) = &d.fulfills_pledge_id {
        let pledge = match get(conn, pid) {
            Err(StoreError::NotFound) => {
                return Err(invalid("fulfills_pledge_id", "no such pledge"))
            }
            other => other?,
        };
        if pledge.row.fund_id != fund.id
            || pledge.row.status != DonationStatus::Pledged.as_str()
            || !received
        {
            return Err(StoreError::conflict(
                "pledge_not_open",
                "fulfills_pledge_id: the pledge is not an open pledge of this fund, or this donation is not received",
            ));
        }
        diesel::update(donations::table.find(pid))
            .set(donations::status.eq(DonationStatus::Fulfilled.as_str()))
            .execute(conn)?;
    }
    let designation = d.earmark.key();
    let mut row = DonationRow {
        id: id.clone(),
        fund_id: fund.id.clone(),
        campaign_id: d.campaign_id.clone(),
        donor_id: d.donor_id.clone(),
        status: d.status.as_str().to_owned(),
        channel: d.channel.as_str().to_owned(),
        bank_account_id,
        bank_ref,
        received_at: d.received_at,
        recorded_at: now_micros(),
        receipt_year: None,
        receipt_seq: None,
        receipt_no: None,
        entry_id: None,
        fulfills_pledge_id: d.fulfills_pledge_id.clone(),
        designation: designation.clone(),
        earmark_incident_id: d.earmark.incident.clone(),
        earmark_unit_edition: d.earmark.unit.as_ref().map(|u| u.0),
        earmark_unit_code: d.earmark.unit.as_ref().map(|u| u.1.clone()),
        earmark_household_id: d.earmark.household.clone(),
        earmark_purpose: d.earmark.purpose.clone(),
        total_vnd,
        note,
        reversal_entry_id: None,
        reversed_at: None,
        reversal_reason: None,
        created_by: d.actor_id.clone(),
    };
    if received {
        let mut legs = Vec::with_capacity(lines.len() * 2);
        for l in &lines {
            legs.push(Leg {
                account: AccountKind::Fund,
                asset: l.asset.clone(),
                designation: designation.clone(),
                amount: l.amount,
            });
            legs.push(Leg {
                account: AccountKind::Donations,
                asset: l.asset.clone(),
                designation: designation.clone(),
                amount: -l.amount,
            });
        }
        let year =
            receipt_year(d.received_at).ok_or_else(|| invalid("received_at", "is out of range"))?;
        let seq = next_receipt(conn, &fund.id, year)?;
        let receipt = receipt_number(year, seq);
        let entry = crate::ledger::post_locked(
            conn,
            &crate::ledger::NewEntry {
                fund_id: fund.id.clone(),
                kind: EntryKind::Donation,
                reason: format!("donation {receipt}"),
                actor_id: d.actor_id.clone(),
                ref_type: Some("donation".into()),
                ref_id: Some(id.clone()),
                effective_at: d.received_at,
                legs,
            },
            head,
        )?;
        row.receipt_year = Some(year);
        row.receipt_seq = Some(seq);
        row.receipt_no = Some(receipt);
        row.entry_id = Some(entry.entry.id);
    }
    crate::db::execute_together(
        conn,
        diesel::insert_into(donations::table).values(&row),
        diesel::insert_into(donation_lines::table).values(&lines),
        // A donation's usual one to a few lines: prepared; a longer list is sent unnamed.
        lines.len() <= CACHED_LINES,
    )
    .map_err(|e| {
        crate::error::unique_as(e, || {
            StoreError::conflict(
                "duplicate_bank_ref",
                "bank_ref: a donation with this bank reference is already recorded on this account",
            )
        })
    })?;
    Ok(Donation { row, lines })
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Donation, StoreError> {
    let row = donations::table
        .find(id)
        .select(DonationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let lines = donation_lines::table
        .filter(donation_lines::donation_id.eq(id))
        .order(donation_lines::idx.asc())
        .select(LineRow::as_select())
        .load(conn)?;
    Ok(Donation { row, lines })
}

/// Reverses a received donation through a reversal entry, at most once. The receipt number stays
/// used; the donation shows it was reversed.
pub fn reverse(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    actor_id: &str,
) -> Result<Donation, StoreError> {
    let reason = domain::text::required("reason", reason, 1000)?;
    let d = get(conn, id)?;
    crate::ledger::lock_fund(conn, &d.row.fund_id)?;
    let d = get(conn, id)?;
    match DonationStatus::parse(&d.row.status)? {
        DonationStatus::Received => {}
        DonationStatus::Reversed => {
            return Err(StoreError::conflict(
                "already_reversed",
                "this donation has already been reversed",
            ))
        }
        _ => {
            return Err(StoreError::rule(
                "not_received",
                "only a received donation can be reversed",
            ))
        }
    }
    let entry_id = d
        .row
        .entry_id
        .clone()
        .ok_or_else(|| StoreError::Internal("received donation without entry".into()))?;
    let reversal = crate::ledger::reverse(conn, &entry_id, &reason, actor_id)?;
    diesel::update(
        donations::table
            .find(id)
            .filter(donations::status.eq(DonationStatus::Received.as_str())),
    )
    .set((
        donations::status.eq(DonationStatus::Reversed.as_str()),
        donations::reversal_entry_id.eq(Some(&reversal.entry.id)),
        donations::reversed_at.eq(Some(reversal.entry.recorded_at)),
        donations::reversal_reason.eq(Some(&reason)),
    ))
    .execute(conn)?;
    get(conn, id)
}

#[derive(Debug, Default, Clone)]
pub struct DonationFilter {
    /// Only donations to funds of units inside this subtree.
    pub within: Option<(i32, String)>,
    pub fund_id: Option<String>,
    pub campaign_id: Option<String>,
    pub donor_id: Option<String>,
    pub channel: Option<String>,
    pub status: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub after_id: Option<String>,
    pub limit: i64,
}

/// Donations matching the filter, in id (time) order; `limit + 1` are read.
pub fn list(conn: &mut DbConnection, f: &DonationFilter) -> Result<Vec<Donation>, StoreError> {
    use crate::schema::funds;
    let mut q = donations::table
        .select(DonationRow::as_select())
        .order(donations::id.asc())
        .limit(f.limit + 1)
        .into_boxed();
    if let Some((edition, root)) = &f.within {
        let below = format!("{}/%", crate::units::like_escape(root));
        let in_scope = funds::table
            .filter(funds::unit_edition.eq(*edition))
            .filter(
                funds::unit_path
                    .eq(root.clone())
                    .or(funds::unit_path.like(below).escape('\\')),
            )
            .select(funds::id);
        q = q.filter(donations::fund_id.eq_any(in_scope));
    }
    if let Some(v) = &f.fund_id {
        q = q.filter(donations::fund_id.eq(v.clone()));
    }
    if let Some(v) = &f.campaign_id {
        q = q.filter(donations::campaign_id.eq(v.clone()));
    }
    if let Some(v) = &f.donor_id {
        q = q.filter(donations::donor_id.eq(v.clone()));
    }
    if let Some(v) = &f.channel {
        q = q.filter(donations::channel.eq(v.clone()));
    }
    if let Some(v) = &f.status {
        q = q.filter(donations::status.eq(v.clone()));
    }
    if let Some(v) = f.from {
        q = q.filter(donations::received_at.ge(v));
    }
    if let Some(v) = f.to {
        q = q.filter(donations::received_at.lt(v));
    }
    if let Some(v) = &f.after_id {
        q = q.filter(donations::id.gt(v.clone()));
    }
    let rows: Vec<DonationRow> = q.load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut lines: std::collections::HashMap<String, Vec<LineRow>> = Default::default();
    for l in donation_lines::table
        .filter(donation_lines::donation_id.eq_any(&ids))
        .order((donation_lines::donation_id.asc(), donation_lines::idx.asc()))
        .select(LineRow::as_select())
        .load::<LineRow>(conn)?
    {
        lines.entry(l.donation_id.clone()).or_default().push(l);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let lines = lines.remove(&row.id).unwrap_or_default();
            Donation { row, lines }
        })
        .collect())
}

/// Received bank-transfer donations on a bank account, received between two instants.
pub fn bank_transfers(
    conn: &mut DbConnection,
    bank_account_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<DonationRow>, StoreError> {
    Ok(donations::table
        .filter(donations::bank_account_id.eq(bank_account_id))
        .filter(donations::status.eq(DonationStatus::Received.as_str()))
        .filter(donations::received_at.ge(from))
        .filter(donations::received_at.lt(to))
        .order(donations::received_at.asc())
        .select(DonationRow::as_select())
        .load(conn)?)
}

/// The fund that owns a bank account.
pub fn bank_account_fund(
    conn: &mut DbConnection,
    bank_account_id: &str,
) -> Result<String, StoreError> {
    fund_bank_accounts::table
        .find(bank_account_id)
        .select(fund_bank_accounts::fund_id)
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}
