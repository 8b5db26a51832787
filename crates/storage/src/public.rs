//! Read-only queries behind public disclosure: funds and their movements, campaigns, donations
//! looked up by their printed reference, and paid support per incident. Rows come back as they
//! are stored; the api chooses the few fields the public may see.

use crate::donations::{Donation, DonationRow, LineRow};
use crate::payouts::{AllocationLineRow, AllocationRow, DisbursementLineRow, DisbursementRow};
use crate::schema::{
    accounts, allocation_lines, allocations, campaigns, disbursement_lines, disbursements,
    donation_lines, donations, donors, entries, funds, households, postings, units,
};
use crate::{DbConnection, StoreError};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use domain::donations::DonationStatus;
use domain::ledger::AccountKind;
use std::collections::HashMap;

/// The donation statuses the public sees: money that arrived, including what was later reversed.
/// Pledges are promises, not money, and stay private.
const PUBLIC_STATUSES: [&str; 2] = ["received", "reversed"];

/// A fund as the public sees it: its name and unit.
#[derive(Debug, Clone, Queryable)]
pub struct FundInfo {
    pub id: String,
    pub name: String,
    pub unit_edition: i32,
    pub unit_code: String,
    pub unit_name: String,
}

type FundInfoColumns = (
    funds::id,
    funds::name,
    funds::unit_edition,
    funds::unit_code,
    units::name,
);

const FUND_INFO: FundInfoColumns = (
    funds::id,
    funds::name,
    funds::unit_edition,
    funds::unit_code,
    units::name,
);

/// Funds in id order after `after_id`; `limit + 1` are read.
pub fn funds(
    conn: &mut DbConnection,
    after_id: Option<&str>,
    limit: i64,
) -> Result<Vec<FundInfo>, StoreError> {
    let mut q = funds::table
        .inner_join(
            units::table.on(units::edition
                .eq(funds::unit_edition)
                .and(units::code.eq(funds::unit_code))),
        )
        .select(FUND_INFO)
        .order(funds::id.asc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(a) = after_id {
        q = q.filter(funds::id.gt(a.to_owned()));
    }
    Ok(q.load(conn)?)
}

pub fn fund(conn: &mut DbConnection, id: &str) -> Result<FundInfo, StoreError> {
    funds_by_id(conn, &[id.to_owned()])?
        .remove(id)
        .ok_or(StoreError::NotFound)
}

/// Funds by id (for donations, and the other side of an allocation).
pub fn funds_by_id(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, FundInfo>, StoreError> {
    let rows: Vec<FundInfo> = funds::table
        .inner_join(
            units::table.on(units::edition
                .eq(funds::unit_edition)
                .and(units::code.eq(funds::unit_code))),
        )
        .filter(funds::id.eq_any(ids))
        .select(FUND_INFO)
        .load(conn)?;
    Ok(rows.into_iter().map(|f| (f.id.clone(), f)).collect())
}

/// Money of one kind of entry that reached or left the fund's own accounts, per asset:
/// `inflow` is the sum of the positive postings, `outflow` of the negative ones (as a positive
/// number). Summed over every group, `inflow - outflow` is the fund's posted balance.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Movement {
    pub entry_kind: String,
    pub ref_type: Option<String>,
    pub asset: String,
    pub inflow: i64,
    pub outflow: i64,
}

/// The fund's movements grouped by entry kind, reference type and asset, read from the postings
/// on its `fund` accounts: the same postings its balances are made of.
pub fn movements(conn: &mut DbConnection, fund_id: &str) -> Result<Vec<Movement>, StoreError> {
    Ok(postings::table
        .inner_join(accounts::table)
        .inner_join(entries::table)
        .filter(accounts::fund_id.eq(fund_id))
        .filter(accounts::kind.eq(AccountKind::Fund.as_str()))
        .group_by((entries::kind, entries::ref_type, postings::asset))
        .select((
            entries::kind,
            entries::ref_type,
            postings::asset,
            sql::<BigInt>(
                "CAST(SUM(CASE WHEN postings.amount > 0 THEN postings.amount ELSE 0 END) AS BIGINT)",
            ),
            sql::<BigInt>(
                "CAST(SUM(CASE WHEN postings.amount < 0 THEN -postings.amount ELSE 0 END) AS BIGINT)",
            ),
        ))
        .order((entries::kind.asc(), postings::asset.asc()))
        .load(conn)?)
}

/// A count and a total in đồng.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: i64,
    pub total_vnd: i64,
}

fn tally(rows: Vec<(i64, Option<i64>)>) -> Tally {
    rows.into_iter()
        .next()
        .map(|(count, total)| Tally {
            count,
            total_vnd: total.unwrap_or(0),
        })
        .unwrap_or_default()
}

/// Donations received by the fund (or one campaign) and not reversed: how many, and their value
/// in đồng.
pub fn received_tally(
    conn: &mut DbConnection,
    fund_id: &str,
    campaign_id: Option<&str>,
) -> Result<Tally, StoreError> {
    let mut q = donations::table
        .filter(donations::fund_id.eq(fund_id))
        .filter(donations::status.eq(DonationStatus::Received.as_str()))
        .select((
            diesel::dsl::count_star(),
            sql::<diesel::sql_types::Nullable<BigInt>>("CAST(SUM(donations.total_vnd) AS BIGINT)"),
        ))
        .into_boxed();
    if let Some(c) = campaign_id {
        q = q.filter(donations::campaign_id.eq(c.to_owned()));
    }
    Ok(tally(q.load(conn)?))
}

/// Disbursements paid out of the fund: how many, and their đồng.
pub fn paid_tally(conn: &mut DbConnection, fund_id: &str) -> Result<Tally, StoreError> {
    Ok(tally(
        disbursements::table
            .filter(disbursements::fund_id.eq(fund_id))
            .filter(disbursements::status.eq("paid"))
            .select((
                diesel::dsl::count_star(),
                sql::<diesel::sql_types::Nullable<BigInt>>(
                    "CAST(SUM(disbursements.total_vnd) AS BIGINT)",
                ),
            ))
            .load(conn)?,
    ))
}

/// What a campaign's donations brought in, per asset and status (`received` or `reversed`).
pub fn campaign_lines(
    conn: &mut DbConnection,
    campaign_id: &str,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(donation_lines::table
        .inner_join(donations::table)
        .filter(donations::campaign_id.eq(campaign_id))
        .filter(donations::status.eq_any(PUBLIC_STATUSES))
        .group_by((donation_lines::asset, donations::status))
        .select((
            donation_lines::asset,
            donations::status,
            sql::<BigInt>("CAST(SUM(donation_lines.amount) AS BIGINT)"),
        ))
        .order(donation_lines::asset.asc())
        .load(conn)?)
}

/// A donation the public may see, with its fund, its campaign's name and the donor's name if
/// the donor agreed to publication (`None`: anonymous, or no donor on record).
#[derive(Debug, Clone)]
pub struct PublicDonation {
    pub donation: Donation,
    pub fund: FundInfo,
    pub campaign_name: Option<String>,
    pub donor_name: Option<String>,
}

/// How a donor is looked up: the printed receipt number or the bank transfer's reference.
#[derive(Debug, Clone, Copy)]
pub enum Reference<'a> {
    Receipt(&'a str),
    BankRef(&'a str),
}

/// A donation the public may see, with its fund (and unit), its campaign's name, and its
/// donor's name if the donor agreed to publication.
type PublicRow = (DonationRow, FundInfo, Option<String>, Option<String>);

/// The query behind [`PublicRow`]: one statement for the donation and what is shown beside it.
macro_rules! public_rows {
    () => {
        donations::table
            .inner_join(funds::table.on(funds::id.eq(donations::fund_id)))
            .inner_join(
                units::table.on(units::edition
                    .eq(funds::unit_edition)
                    .and(units::code.eq(funds::unit_code))),
            )
            .left_join(campaigns::table.on(donations::campaign_id.eq(campaigns::id.nullable())))
            // Only the names of donors who agreed to publication leave the database.
            .left_join(
                donors::table.on(donations::donor_id
                    .eq(donors::id.nullable())
                    .and(donors::publish_name.eq(true))),
            )
            .filter(donations::status.eq_any(PUBLIC_STATUSES))
            .select((
                DonationRow::as_select(),
                FUND_INFO,
                campaigns::name.nullable(),
                donors::name.nullable(),
            ))
    };
}

/// Received (or reversed) donations with this reference, optionally of one fund, in id order
/// after `after_id`; `limit + 1` are read. Receipt numbers restart per fund and year, so one
/// number may name a donation in several funds.
pub fn by_reference(
    conn: &mut DbConnection,
    reference: Reference<'_>,
    fund_id: Option<&str>,
    after_id: Option<&str>,
    limit: i64,
) -> Result<Vec<PublicDonation>, StoreError> {
    let mut q = public_rows!()
        .order(donations::id.asc())
        .limit(limit + 1)
        .into_boxed();
    q = match reference {
        Reference::Receipt(r) => q.filter(donations::receipt_no.eq(r.to_owned())),
        Reference::BankRef(r) => q.filter(donations::bank_ref.eq(r.to_owned())),
    };
    if let Some(f) = fund_id {
        q = q.filter(donations::fund_id.eq(f.to_owned()));
    }
    if let Some(a) = after_id {
        q = q.filter(donations::id.gt(a.to_owned()));
    }
    // A fixed set of filters (eight shapes): kept prepared, which SQLite otherwise prepares
    // anew on every lookup (a boxed query).
    let rows = crate::db::cached(q).load(conn)?;
    public_donations(conn, rows)
}

/// A campaign's received (or reversed) donations, newest first; at most `limit`.
pub fn campaign_donations(
    conn: &mut DbConnection,
    campaign_id: &str,
    limit: i64,
) -> Result<Vec<PublicDonation>, StoreError> {
    let rows = public_rows!()
        .filter(donations::campaign_id.eq(campaign_id))
        .order(donations::id.desc())
        .limit(limit)
        .load(conn)?;
    public_donations(conn, rows)
}

/// How many of a campaign's donations the public sees.
pub fn campaign_donation_count(
    conn: &mut DbConnection,
    campaign_id: &str,
) -> Result<i64, StoreError> {
    Ok(donations::table
        .filter(donations::campaign_id.eq(campaign_id))
        .filter(donations::status.eq_any(PUBLIC_STATUSES))
        .count()
        .get_result(conn)?)
}

/// Up to this many donations, their lines are read by a prepared statement ([`crate::db::Cached`]).
const CACHED_IDS: usize = 2;

fn public_donations(
    conn: &mut DbConnection,
    rows: Vec<PublicRow>,
) -> Result<Vec<PublicDonation>, StoreError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.0.id.as_str()).collect();
    let mut lines: HashMap<String, Vec<LineRow>> = HashMap::new();
    // One statement per number of donations (SQLite binds each id): the usual one or two are
    // kept prepared, a page of them is not.
    let query = crate::db::Cached {
        cache: ids.len() <= CACHED_IDS,
        query: donation_lines::table
            .filter(donation_lines::donation_id.eq_any(&ids))
            .order((donation_lines::donation_id.asc(), donation_lines::idx.asc()))
            .select(LineRow::as_select()),
    };
    for l in query.load::<LineRow>(conn)? {
        lines.entry(l.donation_id.clone()).or_default().push(l);
    }
    Ok(rows
        .into_iter()
        .map(|(row, fund, campaign_name, donor_name)| PublicDonation {
            fund,
            campaign_name,
            donor_name,
            donation: Donation {
                lines: lines.remove(&row.id).unwrap_or_default(),
                row,
            },
        })
        .collect())
}

/// A paid disbursement with its lines and the household's head and commune.
#[derive(Debug, Clone)]
pub struct PaidDisbursement {
    pub row: DisbursementRow,
    pub lines: Vec<DisbursementLineRow>,
    pub head_name: String,
    pub unit_edition: i32,
    pub unit_code: String,
}

#[derive(Debug, Clone, Default)]
pub struct PaidFilter {
    pub incident_id: Option<String>,
    pub fund_id: Option<String>,
    /// Only households of this commune: (edition, code).
    pub unit: Option<(i32, String)>,
    pub after_id: Option<String>,
    pub newest_first: bool,
    /// At most this many (`limit + 1` are read when paging with `after_id`); all when `None`.
    pub limit: Option<i64>,
}

/// Paid disbursements matching the filter, in id order (or newest first).
pub fn paid(conn: &mut DbConnection, f: &PaidFilter) -> Result<Vec<PaidDisbursement>, StoreError> {
    let mut q = disbursements::table
        .filter(disbursements::status.eq("paid"))
        .select(DisbursementRow::as_select())
        .into_boxed();
    if let Some(v) = &f.incident_id {
        q = q.filter(disbursements::incident_id.eq(v.clone()));
    }
    if let Some(v) = &f.fund_id {
        q = q.filter(disbursements::fund_id.eq(v.clone()));
    }
    if let Some((edition, code)) = &f.unit {
        let ids: Vec<String> = households::table
            .filter(households::unit_edition.eq(*edition))
            .filter(households::unit_code.eq(code.clone()))
            .select(households::id)
            .load(conn)?;
        q = q.filter(disbursements::household_id.eq_any(ids));
    }
    if let Some(a) = &f.after_id {
        q = q.filter(disbursements::id.gt(a.clone()));
    }
    q = if f.newest_first {
        q.order(disbursements::id.desc())
    } else {
        q.order(disbursements::id.asc())
    };
    if let Some(n) = f.limit {
        q = q.limit(n);
    }
    let rows: Vec<DisbursementRow> = q.load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut lines: HashMap<String, Vec<DisbursementLineRow>> = HashMap::new();
    for l in disbursement_lines::table
        .filter(disbursement_lines::disbursement_id.eq_any(&ids))
        .order((
            disbursement_lines::disbursement_id.asc(),
            disbursement_lines::idx.asc(),
        ))
        .select(DisbursementLineRow::as_select())
        .load::<DisbursementLineRow>(conn)?
    {
        lines.entry(l.disbursement_id.clone()).or_default().push(l);
    }
    let household_ids: Vec<&str> = rows.iter().map(|r| r.household_id.as_str()).collect();
    let heads: HashMap<String, (String, i32, String)> = households::table
        .filter(households::id.eq_any(&household_ids))
        .select((
            households::id,
            households::head_name,
            households::unit_edition,
            households::unit_code,
        ))
        .load::<(String, String, i32, String)>(conn)?
        .into_iter()
        .map(|(id, name, e, c)| (id, (name, e, c)))
        .collect();
    rows.into_iter()
        .map(|row| {
            let (head_name, unit_edition, unit_code) =
                heads.get(&row.household_id).cloned().ok_or_else(|| {
                    StoreError::Internal("disbursement of an unknown household".into())
                })?;
            Ok(PaidDisbursement {
                lines: lines.remove(&row.id).unwrap_or_default(),
                head_name,
                unit_edition,
                unit_code,
                row,
            })
        })
        .collect()
}

/// What a fund paid to the households of one commune.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommunePaid {
    pub unit_edition: i32,
    pub unit_code: String,
    pub households: i64,
    pub disbursements: i64,
    pub total_vnd: i64,
    /// Per asset, in asset order: (asset, minor units).
    pub lines: Vec<(String, i64)>,
}

/// What the fund paid per commune of the households, in unit order: grouped in the database,
/// so that a fund with many payouts is read as one row per commune.
pub fn paid_by_commune(
    conn: &mut DbConnection,
    fund_id: &str,
) -> Result<Vec<CommunePaid>, StoreError> {
    let on_household = households::id.eq(disbursements::household_id);
    let heads: Vec<(i32, String, i64, i64, i64)> = disbursements::table
        .inner_join(households::table.on(on_household))
        .filter(disbursements::fund_id.eq(fund_id))
        .filter(disbursements::status.eq("paid"))
        .group_by((households::unit_edition, households::unit_code))
        .select((
            households::unit_edition,
            households::unit_code,
            sql::<BigInt>("COUNT(DISTINCT disbursements.household_id)"),
            sql::<BigInt>("COUNT(*)"),
            sql::<BigInt>("CAST(SUM(disbursements.total_vnd) AS BIGINT)"),
        ))
        .order((households::unit_edition.asc(), households::unit_code.asc()))
        .load(conn)?;
    let lines: Vec<(i32, String, String, i64)> = disbursement_lines::table
        .inner_join(
            disbursements::table.on(disbursements::id.eq(disbursement_lines::disbursement_id)),
        )
        .inner_join(households::table.on(on_household))
        .filter(disbursements::fund_id.eq(fund_id))
        .filter(disbursements::status.eq("paid"))
        .group_by((
            households::unit_edition,
            households::unit_code,
            disbursement_lines::asset,
        ))
        .select((
            households::unit_edition,
            households::unit_code,
            disbursement_lines::asset,
            sql::<BigInt>("CAST(SUM(disbursement_lines.amount) AS BIGINT)"),
        ))
        .order(disbursement_lines::asset.asc())
        .load(conn)?;
    let mut out: Vec<CommunePaid> = heads
        .into_iter()
        .map(|(e, c, households, disbursements, total_vnd)| CommunePaid {
            unit_edition: e,
            unit_code: c,
            households,
            disbursements,
            total_vnd,
            lines: Vec::new(),
        })
        .collect();
    for (e, c, asset, amount) in lines {
        if let Some(p) = out
            .iter_mut()
            .find(|p| p.unit_edition == e && p.unit_code == c)
        {
            p.lines.push((asset, amount));
        }
    }
    Ok(out)
}

/// The incidents of a fund's paid disbursements, in id order.
pub fn paid_incidents(conn: &mut DbConnection, fund_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(disbursements::table
        .filter(disbursements::fund_id.eq(fund_id))
        .filter(disbursements::status.eq("paid"))
        .select(disbursements::incident_id)
        .distinct()
        .order(disbursements::incident_id.asc())
        .load::<Option<String>>(conn)?
        .into_iter()
        .flatten()
        .collect())
}

/// An executed allocation with its lines.
#[derive(Debug, Clone)]
pub struct ExecutedAllocation {
    pub row: AllocationRow,
    pub lines: Vec<AllocationLineRow>,
}

/// Executed allocations sent or received by the fund, newest first; at most `limit`.
pub fn executed_allocations(
    conn: &mut DbConnection,
    fund_id: &str,
    limit: i64,
) -> Result<Vec<ExecutedAllocation>, StoreError> {
    let rows: Vec<AllocationRow> = allocations::table
        .filter(
            allocations::from_fund_id
                .eq(fund_id)
                .or(allocations::to_fund_id.eq(fund_id)),
        )
        .filter(allocations::status.eq("paid"))
        .select(AllocationRow::as_select())
        .order(allocations::id.desc())
        .limit(limit)
        .load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut lines: HashMap<String, Vec<AllocationLineRow>> = HashMap::new();
    for l in allocation_lines::table
        .filter(allocation_lines::allocation_id.eq_any(&ids))
        .order((
            allocation_lines::allocation_id.asc(),
            allocation_lines::idx.asc(),
        ))
        .select(AllocationLineRow::as_select())
        .load::<AllocationLineRow>(conn)?
    {
        lines.entry(l.allocation_id.clone()).or_default().push(l);
    }
    Ok(rows
        .into_iter()
        .map(|row| ExecutedAllocation {
            lines: lines.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}
