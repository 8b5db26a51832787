//! Reports, read only: what a fund held, received, paid and moved over a period, and how an
//! incident's households were supported. Large sets (postings, donations) are summed by the
//! database, cast to BIGINT so that both backends answer exact integers; the smaller ones
//! (payouts, reversals, assessments) are read and summed here with checked arithmetic.

use crate::schema::{
    accounts, allocation_lines, allocations, assessments, disbursement_lines, disbursements,
    donation_lines, donations, donors, entries, funds, households, incidents, postings, units,
};
use crate::{DbConnection, StoreError};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use domain::donations::{vn_date, Channel, DonationStatus, DonorKind};
use domain::ledger::{AccountKind, EntryKind};
use domain::payouts::DisbursementStatus;
use std::collections::{BTreeMap, BTreeSet};

/// One figure of a report: a `group` (a direction, a commune), a `key` (a channel, a category,
/// an id), a `label` (the name behind an id), the asset, a count and an amount in the asset's
/// minor units, and the value in đồng of goods where it applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figure {
    pub group: String,
    pub key: String,
    pub label: Option<String>,
    pub asset: String,
    pub count: i64,
    pub amount: i64,
    pub value_vnd: Option<i64>,
}

fn add(a: i64, b: i64) -> Result<i64, StoreError> {
    a.checked_add(b)
        .ok_or_else(|| StoreError::rule("amount_overflow", "the report's totals overflow"))
}

fn count_of(n: usize) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Internal("count out of range".into()))
}

/// Sums of amounts and sets of the items counted, per (group, key, asset).
#[derive(Default)]
struct Tally(BTreeMap<(String, String, String), (BTreeSet<String>, i64)>);

impl Tally {
    fn add(
        &mut self,
        group: &str,
        key: &str,
        asset: &str,
        item: &str,
        amount: i64,
    ) -> Result<(), StoreError> {
        let e = self
            .0
            .entry((group.to_owned(), key.to_owned(), asset.to_owned()))
            .or_default();
        e.0.insert(item.to_owned());
        e.1 = add(e.1, amount)?;
        Ok(())
    }

    fn figures(self, labels: &BTreeMap<String, String>) -> Result<Vec<Figure>, StoreError> {
        self.0
            .into_iter()
            .map(|((group, key, asset), (items, amount))| {
                Ok(Figure {
                    label: labels.get(&key).cloned(),
                    group,
                    key,
                    asset,
                    count: count_of(items.len())?,
                    amount,
                    value_vnd: None,
                })
            })
            .collect()
    }
}

/// The movement kinds of a fund report, in the order a reader adds them up.
pub const MOVEMENTS: &[&str] = &[
    "opening_balances",
    "receipts",
    "disbursements",
    "allocations_in",
    "allocations_out",
    "reversals",
];

/// A fund's figures over `[from, to)` (microseconds, effective time).
#[derive(Debug, Clone, Default)]
pub struct FundFigures {
    /// Posted holdings per asset (all designations) before `from` and before `to`.
    pub opening: BTreeMap<String, i64>,
    pub closing: BTreeMap<String, i64>,
    /// The ledger's net change of the fund's holdings, by movement kind ([`MOVEMENTS`], as
    /// `key`) and asset: entries counted, amount signed as it changed the fund.
    pub movements: Vec<Figure>,
    /// Received donations (reversed ones included: their reversal is a movement of its own), by
    /// donor kind and by channel: count and value in đồng (asset `VND`).
    pub receipts_by_donor_kind: Vec<Figure>,
    pub receipts_by_channel: Vec<Figure>,
    /// Their lines per asset: donations counted, amount.
    pub receipts_by_asset: Vec<Figure>,
    /// The lines of in-kind donations per asset: quantity and value in đồng.
    pub in_kind: Vec<Figure>,
    /// Disbursements paid, by spend category and by incident (`key` the id, '' for none;
    /// `label` its name): disbursements counted, amount.
    pub disbursements_by_category: Vec<Figure>,
    pub disbursements_by_incident: Vec<Figure>,
    /// Allocations executed, `group` `in` or `out`, `key` the other fund, `label` its name.
    pub allocations: Vec<Figure>,
    /// Reversal entries by the kind of entry they reverse (`key`), amount signed.
    pub reversals: Vec<Figure>,
}

/// The donor kind of donations recorded without a donor.
pub const NO_DONOR: &str = "no_donor";

/// A fund's report figures over `[from, to)`.
pub fn fund_figures(
    conn: &mut DbConnection,
    fund_id: &str,
    from: i64,
    to: i64,
) -> Result<FundFigures, StoreError> {
    let mut f = FundFigures::default();
    for (as_of, out) in [(from - 1, &mut f.opening), (to - 1, &mut f.closing)] {
        for b in crate::ledger::balances(conn, fund_id, Some(as_of))? {
            let v = out.entry(b.asset).or_default();
            *v = add(*v, b.posted)?;
        }
    }
    ledger_movements(conn, fund_id, from, to, &mut f)?;
    receipts(conn, fund_id, from, to, &mut f)?;
    paid_disbursements(conn, fund_id, from, to, &mut f)?;
    executed_allocations(conn, fund_id, from, to, &mut f)?;
    Ok(f)
}

/// Movements from the ledger: every posting on the fund's `fund` accounts effective in the
/// period, summed per entry kind and asset. Allocations (in or out, by sign) and reversals (by
/// what they reverse) are read per entry.
fn ledger_movements(
    conn: &mut DbConnection,
    fund_id: &str,
    from: i64,
    to: i64,
    f: &mut FundFigures,
) -> Result<(), StoreError> {
    let per_entry = [EntryKind::Allocation.as_str(), EntryKind::Reversal.as_str()];
    let grouped: Vec<(String, String, i64, i64)> = postings::table
        .inner_join(accounts::table)
        .inner_join(entries::table)
        .filter(accounts::fund_id.eq(fund_id))
        .filter(accounts::kind.eq(AccountKind::Fund.as_str()))
        .filter(entries::effective_at.ge(from))
        .filter(entries::effective_at.lt(to))
        .filter(entries::kind.ne_all(per_entry))
        .group_by((entries::kind, postings::asset))
        .select((
            entries::kind,
            postings::asset,
            sql::<BigInt>("CAST(COUNT(DISTINCT entries.id) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(postings.amount) AS BIGINT)"),
        ))
        .load(conn)?;
    // (movement, asset) -> (entries, amount)
    let mut movements: BTreeMap<(&str, String), (i64, i64)> = BTreeMap::new();
    let mut count = |key, asset: &str, n: i64, amount: i64| -> Result<(), StoreError> {
        let e = movements.entry((key, asset.to_owned())).or_default();
        *e = (add(e.0, n)?, add(e.1, amount)?);
        Ok(())
    };
    for (kind, asset, n, amount) in grouped {
        let key = match EntryKind::parse(&kind) {
            Some(EntryKind::OpeningBalance) => "opening_balances",
            Some(EntryKind::Donation) => "receipts",
            Some(EntryKind::Disbursement) => "disbursements",
            _ => return Err(StoreError::Internal(format!("stored entry kind {kind}"))),
        };
        count(key, &asset, n, amount)?;
    }
    let each: Vec<(String, String, Option<String>, String, i64)> = postings::table
        .inner_join(accounts::table)
        .inner_join(entries::table)
        .filter(accounts::fund_id.eq(fund_id))
        .filter(accounts::kind.eq(AccountKind::Fund.as_str()))
        .filter(entries::effective_at.ge(from))
        .filter(entries::effective_at.lt(to))
        .filter(entries::kind.eq_any(per_entry))
        .group_by((
            entries::id,
            entries::kind,
            entries::reverses_entry_id,
            postings::asset,
        ))
        .select((
            entries::id,
            entries::kind,
            entries::reverses_entry_id,
            postings::asset,
            sql::<BigInt>("CAST(SUM(postings.amount) AS BIGINT)"),
        ))
        .load(conn)?;
    let reversed: Vec<String> = each.iter().filter_map(|r| r.2.clone()).collect();
    let reversed_kinds: BTreeMap<String, String> = entries::table
        .filter(entries::id.eq_any(&reversed))
        .select((entries::id, entries::kind))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut reversals = Tally::default();
    for (id, kind, reverses, asset, amount) in &each {
        let key = if kind == EntryKind::Reversal.as_str() {
            let original = reverses
                .as_ref()
                .and_then(|r| reversed_kinds.get(r))
                .map_or("unknown", String::as_str);
            reversals.add("", original, asset, id, *amount)?;
            "reversals"
        } else if *amount >= 0 {
            "allocations_in"
        } else {
            "allocations_out"
        };
        // One row per entry and asset: one entry more for the movement.
        count(key, asset, 1, *amount)?;
    }
    f.movements = movements
        .into_iter()
        .map(|((key, asset), (count, amount))| Figure {
            key: key.to_owned(),
            asset,
            count,
            amount,
            ..Figure::default()
        })
        .collect();
    f.reversals = reversals.figures(&BTreeMap::new())?;
    Ok(())
}

/// Received donations of the period (those with a ledger entry, by the day they were received).
fn receipts(
    conn: &mut DbConnection,
    fund_id: &str,
    from: i64,
    to: i64,
    f: &mut FundFigures,
) -> Result<(), StoreError> {
    macro_rules! received {
        ($q:expr) => {
            $q.filter(donations::fund_id.eq(fund_id))
                .filter(donations::entry_id.is_not_null())
                .filter(donations::received_at.ge(from))
                .filter(donations::received_at.lt(to))
        };
    }
    let totals = || {
        (
            sql::<BigInt>("CAST(COUNT(*) AS BIGINT)"),
            sql::<BigInt>("CAST(COALESCE(SUM(donations.total_vnd), 0) AS BIGINT)"),
        )
    };
    let vnd = |key: &str, (count, amount): (i64, i64)| Figure {
        key: key.to_owned(),
        asset: "VND".into(),
        count,
        amount,
        ..Figure::default()
    };
    for kind in DonorKind::ALL {
        let of_kind = donors::table
            .filter(donors::kind.eq(kind.as_str()))
            .select(donors::id.nullable());
        let t: (i64, i64) = received!(donations::table)
            .filter(donations::donor_id.eq_any(of_kind))
            .select(totals())
            .first(conn)?;
        f.receipts_by_donor_kind.push(vnd(kind.as_str(), t));
    }
    let t: (i64, i64) = received!(donations::table)
        .filter(donations::donor_id.is_null())
        .select(totals())
        .first(conn)?;
    f.receipts_by_donor_kind.push(vnd(NO_DONOR, t));

    let by_channel: BTreeMap<String, (i64, i64)> = received!(donations::table)
        .group_by(donations::channel)
        .select((donations::channel, totals().0, totals().1))
        .load::<(String, i64, i64)>(conn)?
        .into_iter()
        .map(|(c, n, v)| (c, (n, v)))
        .collect();
    for channel in Channel::ALL {
        let t = by_channel.get(channel.as_str()).copied().unwrap_or((0, 0));
        f.receipts_by_channel.push(vnd(channel.as_str(), t));
    }

    let lines: Vec<(String, String, i64, i64, i64)> =
        received!(donation_lines::table.inner_join(donations::table))
            .group_by((donations::channel, donation_lines::asset))
            .select((
                donations::channel,
                donation_lines::asset,
                sql::<BigInt>("CAST(COUNT(DISTINCT donations.id) AS BIGINT)"),
                sql::<BigInt>("CAST(SUM(donation_lines.amount) AS BIGINT)"),
                sql::<BigInt>("CAST(COALESCE(SUM(donation_lines.value_vnd), 0) AS BIGINT)"),
            ))
            .load(conn)?;
    let mut by_asset: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (channel, asset, n, amount, value) in lines {
        let e = by_asset.entry(asset.clone()).or_default();
        *e = (add(e.0, n)?, add(e.1, amount)?);
        if channel == Channel::InKind.as_str() {
            f.in_kind.push(Figure {
                key: asset.clone(),
                asset,
                count: n,
                amount,
                value_vnd: Some(value),
                ..Figure::default()
            });
        }
    }
    f.receipts_by_asset = by_asset
        .into_iter()
        .map(|(asset, (count, amount))| Figure {
            key: asset.clone(),
            asset,
            count,
            amount,
            ..Figure::default()
        })
        .collect();
    Ok(())
}

/// Disbursements of the fund paid in the period, by category and by incident.
fn paid_disbursements(
    conn: &mut DbConnection,
    fund_id: &str,
    from: i64,
    to: i64,
    f: &mut FundFigures,
) -> Result<(), StoreError> {
    macro_rules! paid {
        () => {
            disbursements::table
                .filter(disbursements::fund_id.eq(fund_id))
                .filter(disbursements::status.eq(DisbursementStatus::Paid.as_str()))
                .filter(disbursements::paid_at.ge(from))
                .filter(disbursements::paid_at.lt(to))
        };
    }
    let incident_of: BTreeMap<String, String> = paid!()
        .select((disbursements::id, disbursements::incident_id))
        .load::<(String, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, incident)| (id, incident.unwrap_or_default()))
        .collect();
    let lines: Vec<(String, String, String, i64)> = disbursement_lines::table
        .filter(disbursement_lines::disbursement_id.eq_any(paid!().select(disbursements::id)))
        .select((
            disbursement_lines::disbursement_id,
            disbursement_lines::category,
            disbursement_lines::asset,
            disbursement_lines::amount,
        ))
        .load(conn)?;
    let mut by_category = Tally::default();
    let mut by_incident = Tally::default();
    for (id, category, asset, amount) in &lines {
        by_category.add("", category, asset, id, *amount)?;
        let incident = incident_of.get(id).map_or("", String::as_str);
        by_incident.add("", incident, asset, id, *amount)?;
    }
    let ids: BTreeSet<&String> = incident_of.values().filter(|i| !i.is_empty()).collect();
    let names: BTreeMap<String, String> = incidents::table
        .filter(incidents::id.eq_any(ids))
        .select((incidents::id, incidents::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    f.disbursements_by_category = by_category.figures(&BTreeMap::new())?;
    f.disbursements_by_incident = by_incident.figures(&names)?;
    Ok(())
}

/// Allocations to or from the fund executed in the period.
fn executed_allocations(
    conn: &mut DbConnection,
    fund_id: &str,
    from: i64,
    to: i64,
    f: &mut FundFigures,
) -> Result<(), StoreError> {
    let rows: Vec<(String, String, String)> = allocations::table
        .filter(
            allocations::from_fund_id
                .eq(fund_id)
                .or(allocations::to_fund_id.eq(fund_id)),
        )
        .filter(allocations::status.eq(DisbursementStatus::Paid.as_str()))
        .filter(allocations::executed_at.ge(from))
        .filter(allocations::executed_at.lt(to))
        .select((
            allocations::id,
            allocations::from_fund_id,
            allocations::to_fund_id,
        ))
        .load(conn)?;
    let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let lines: Vec<(String, String, i64)> = allocation_lines::table
        .filter(allocation_lines::allocation_id.eq_any(&ids))
        .select((
            allocation_lines::allocation_id,
            allocation_lines::asset,
            allocation_lines::amount,
        ))
        .load(conn)?;
    let mut tally = Tally::default();
    for (id, asset, amount) in &lines {
        let Some((_, src, dst)) = rows.iter().find(|r| &r.0 == id) else {
            continue;
        };
        let (group, other) = if dst == fund_id {
            ("in", src)
        } else {
            ("out", dst)
        };
        tally.add(group, other, asset, id, *amount)?;
    }
    let others: BTreeSet<&String> = rows.iter().flat_map(|r| [&r.1, &r.2]).collect();
    let names: BTreeMap<String, String> = funds::table
        .filter(funds::id.eq_any(others))
        .select((funds::id, funds::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    f.allocations = tally.figures(&names)?;
    Ok(())
}

/// An incident's figures in one commune.
#[derive(Debug, Clone, Default)]
pub struct CommuneFigures {
    pub unit_edition: i32,
    pub unit_code: String,
    pub unit_name: String,
    /// Households with an assessment (any version) for the incident.
    pub assessed: i64,
    /// For each assessed household paid at least once: the Vietnamese calendar days from its
    /// first assessment day to the day of its first payment, sorted.
    pub days_to_payment: Vec<i64>,
    /// Paid disbursements of the commune's households (assessed or not).
    pub disbursements_paid: i64,
    pub paid_vnd: i64,
    /// Per asset (`asset`): disbursements counted, amount.
    pub paid: Vec<Figure>,
}

/// An incident's figures: money raised for it and, per commune, its households' support.
#[derive(Debug, Clone, Default)]
pub struct IncidentFigures {
    /// Received, not reversed donations earmarked to the incident, to funds in the subtree.
    pub donations: i64,
    pub raised_vnd: i64,
    /// Per asset (`asset`): donations counted, amount.
    pub raised: Vec<Figure>,
    pub communes: Vec<CommuneFigures>,
}

/// An incident's figures, limited to the funds and households in the subtree `within` (edition,
/// unit path), or everything for `None`.
pub fn incident_figures(
    conn: &mut DbConnection,
    incident_id: &str,
    within: Option<(i32, &str)>,
) -> Result<IncidentFigures, StoreError> {
    let inside = |edition: i32, path: &str| {
        within.is_none_or(|(e, root)| e == edition && domain::units::path_within(path, root))
    };
    let mut out = IncidentFigures::default();

    // Raised: summed per fund by the database, kept for the funds inside.
    macro_rules! raised {
        ($q:expr) => {
            $q.filter(donations::earmark_incident_id.eq(incident_id))
                .filter(donations::entry_id.is_not_null())
                .filter(donations::status.ne(DonationStatus::Reversed.as_str()))
        };
    }
    let per_fund: Vec<(String, i64, i64)> = raised!(donations::table)
        .group_by(donations::fund_id)
        .select((
            donations::fund_id,
            sql::<BigInt>("CAST(COUNT(*) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(donations.total_vnd) AS BIGINT)"),
        ))
        .load(conn)?;
    let fund_ids: Vec<&String> = per_fund.iter().map(|r| &r.0).collect();
    let funds_inside: BTreeSet<String> = funds::table
        .filter(funds::id.eq_any(&fund_ids))
        .select((funds::id, funds::unit_edition, funds::unit_path))
        .load::<(String, i32, String)>(conn)?
        .into_iter()
        .filter(|(_, e, p)| inside(*e, p))
        .map(|(id, _, _)| id)
        .collect();
    for (fund, n, vnd) in &per_fund {
        if funds_inside.contains(fund) {
            out.donations = add(out.donations, *n)?;
            out.raised_vnd = add(out.raised_vnd, *vnd)?;
        }
    }
    let lines: Vec<(String, String, i64, i64)> =
        raised!(donation_lines::table.inner_join(donations::table))
            .group_by((donations::fund_id, donation_lines::asset))
            .select((
                donations::fund_id,
                donation_lines::asset,
                sql::<BigInt>("CAST(COUNT(DISTINCT donations.id) AS BIGINT)"),
                sql::<BigInt>("CAST(SUM(donation_lines.amount) AS BIGINT)"),
            ))
            .load(conn)?;
    let mut raised: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (fund, asset, n, amount) in lines {
        if funds_inside.contains(&fund) {
            let e = raised.entry(asset).or_default();
            *e = (add(e.0, n)?, add(e.1, amount)?);
        }
    }
    out.raised = raised
        .into_iter()
        .map(|(asset, (count, amount))| Figure {
            asset,
            count,
            amount,
            ..Figure::default()
        })
        .collect();

    // Households: their commune and first assessment day.
    type Unit = (i32, String);
    let mut homes: BTreeMap<String, (Unit, String)> = BTreeMap::new();
    let assessed: Vec<(String, i32, String, String, String)> = assessments::table
        .inner_join(households::table)
        .filter(assessments::incident_id.eq(incident_id))
        .select((
            households::id,
            households::unit_edition,
            households::unit_code,
            households::unit_path,
            assessments::assessed_on,
        ))
        .load(conn)?;
    for (id, edition, code, path, on) in assessed {
        if !inside(edition, &path) {
            continue;
        }
        let e = homes.entry(id).or_insert(((edition, code), on.clone()));
        if on < e.1 {
            e.1 = on;
        }
    }

    // Payments for the incident, with the commune of each household paid.
    let paid: Vec<(String, String, Option<i64>, i64)> = disbursements::table
        .filter(disbursements::incident_id.eq(incident_id))
        .filter(disbursements::status.eq(DisbursementStatus::Paid.as_str()))
        .select((
            disbursements::id,
            disbursements::household_id,
            disbursements::paid_at,
            disbursements::total_vnd,
        ))
        .load(conn)?;
    let unassessed: BTreeSet<&String> = paid
        .iter()
        .map(|p| &p.1)
        .filter(|h| !homes.contains_key(*h))
        .collect();
    let mut unit_of: BTreeMap<String, Unit> = households::table
        .filter(households::id.eq_any(unassessed))
        .select((
            households::id,
            households::unit_edition,
            households::unit_code,
            households::unit_path,
        ))
        .load::<(String, i32, String, String)>(conn)?
        .into_iter()
        .filter(|(_, e, _, p)| inside(*e, p))
        .map(|(id, e, c, _)| (id, (e, c)))
        .collect();
    for (id, (unit, _)) in &homes {
        unit_of.insert(id.clone(), unit.clone());
    }
    let paid_ids: Vec<&String> = paid.iter().map(|p| &p.0).collect();
    let paid_lines: Vec<(String, String, i64)> = disbursement_lines::table
        .filter(disbursement_lines::disbursement_id.eq_any(&paid_ids))
        .select((
            disbursement_lines::disbursement_id,
            disbursement_lines::asset,
            disbursement_lines::amount,
        ))
        .load(conn)?;

    let mut communes: BTreeMap<Unit, CommuneFigures> = BTreeMap::new();
    for (unit, _) in homes.values() {
        communes.entry(unit.clone()).or_default().assessed += 1;
    }
    let mut first_paid: BTreeMap<&String, i64> = BTreeMap::new();
    let mut tallies: BTreeMap<Unit, Tally> = BTreeMap::new();
    let household_of: BTreeMap<&String, &String> = paid.iter().map(|p| (&p.0, &p.1)).collect();
    for (_, household, paid_at, vnd) in &paid {
        let Some(unit) = unit_of.get(household) else {
            continue;
        };
        let c = communes.entry(unit.clone()).or_default();
        c.disbursements_paid += 1;
        c.paid_vnd = add(c.paid_vnd, *vnd)?;
        if let Some(at) = paid_at {
            let e = first_paid.entry(household).or_insert(*at);
            *e = (*e).min(*at);
        }
    }
    for (id, asset, amount) in &paid_lines {
        let Some(unit) = household_of.get(id).and_then(|h| unit_of.get(*h)) else {
            continue;
        };
        tallies
            .entry(unit.clone())
            .or_default()
            .add("", "", asset, id, *amount)?;
    }
    for (household, ((edition, code), first_on)) in &homes {
        let Some(at) = first_paid.get(household) else {
            continue;
        };
        let assessed_on = domain::donations::parse_date("assessed_on", first_on)?;
        let paid_on =
            vn_date(*at).ok_or_else(|| StoreError::Internal("paid_at out of range".into()))?;
        communes
            .entry((*edition, code.clone()))
            .or_default()
            .days_to_payment
            .push((paid_on - assessed_on).num_days());
    }
    for ((edition, code), mut c) in communes {
        c.days_to_payment.sort_unstable();
        c.paid = tallies
            .remove(&(edition, code.clone()))
            .map(|t| t.figures(&BTreeMap::new()))
            .transpose()?
            .unwrap_or_default();
        c.unit_name = units::table
            .find((edition, &code))
            .select(units::name)
            .first(conn)
            .optional()?
            .unwrap_or_default();
        c.unit_edition = edition;
        c.unit_code = code;
        out.communes.push(c);
    }
    Ok(out)
}
