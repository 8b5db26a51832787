//! Money going out, with maker-checker approval: disbursements to households and allocations
//! between funds. Proposing writes no money; approval (by someone other than the proposer, twice
//! above the fund's threshold) reserves it through ledger holds, drawing on matching earmarked
//! money first; payment posts the holds; rejection and cancellation release them. Every
//! transition is an event with its actor and time.

use crate::ledger::{lock_fund, NewEntry, NewHold, PostHold};
use crate::schema::{
    accounts, allocation_lines, allocations, disbursement_lines, disbursements, holds,
    payout_events,
};
use crate::{now_micros, with_inner, DbConnection, StoreError};
use diesel::prelude::*;
use domain::ledger::{AccountKind, EntryKind, Leg};
use domain::payouts::{plan_draws, Action, DisbursementStatus, PlanError, SpendCategory, Target};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Disbursement,
    Allocation,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disbursement => "disbursement",
            Self::Allocation => "allocation",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disbursements)]
pub struct DisbursementRow {
    pub id: String,
    pub fund_id: String,
    pub incident_id: Option<String>,
    pub household_id: String,
    pub assessment_id: Option<String>,
    pub purpose: String,
    pub status: String,
    pub approvals_needed: i32,
    pub total_vnd: i64,
    pub proposed_by: String,
    pub proposed_at: i64,
    pub method: Option<String>,
    pub reference: Option<String>,
    pub received_by: Option<String>,
    pub paid_at: Option<i64>,
    pub days_since_incident: Option<i32>,
    pub days_since_assessment: Option<i32>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disbursement_lines)]
pub struct DisbursementLineRow {
    pub disbursement_id: String,
    pub idx: i32,
    pub category: String,
    pub asset: String,
    pub amount: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = allocations)]
pub struct AllocationRow {
    pub id: String,
    pub from_fund_id: String,
    pub to_fund_id: String,
    pub decision_ref: String,
    pub round: i32,
    pub purpose: String,
    pub status: String,
    pub approvals_needed: i32,
    pub total_vnd: i64,
    pub proposed_by: String,
    pub proposed_at: i64,
    pub executed_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = allocation_lines)]
pub struct AllocationLineRow {
    pub allocation_id: String,
    pub idx: i32,
    pub asset: String,
    pub amount: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payout_events)]
pub struct EventRow {
    pub id: String,
    pub subject_type: String,
    pub subject_id: String,
    pub action: String,
    pub actor_id: String,
    pub at: i64,
    pub note: Option<String>,
}

/// A hold of a payout: which money (designation) is reserved or was paid.
pub type HoldRow = crate::ledger::HoldRow;

#[derive(Debug, Clone)]
pub struct Disbursement {
    pub row: DisbursementRow,
    pub lines: Vec<DisbursementLineRow>,
    pub events: Vec<EventRow>,
    pub holds: Vec<(HoldRow, String)>,
}

#[derive(Debug, Clone)]
pub struct Allocation {
    pub row: AllocationRow,
    pub lines: Vec<AllocationLineRow>,
    pub events: Vec<EventRow>,
    pub holds: Vec<(HoldRow, String)>,
}

fn event(
    conn: &mut DbConnection,
    subject: Subject,
    id: &str,
    action: Action,
    actor: &str,
    note: Option<&str>,
) -> Result<(), StoreError> {
    let action = match action {
        Action::Approve => "approved",
        Action::Reject => "rejected",
        Action::Cancel => "cancelled",
        Action::Pay => "paid",
    };
    insert_event(conn, subject, id, action, actor, note)
}

fn insert_event(
    conn: &mut DbConnection,
    subject: Subject,
    id: &str,
    action: &str,
    actor: &str,
    note: Option<&str>,
) -> Result<(), StoreError> {
    diesel::insert_into(payout_events::table)
        .values(&EventRow {
            id: crate::new_row_id(),
            subject_type: subject.as_str().to_owned(),
            subject_id: id.to_owned(),
            action: action.to_owned(),
            actor_id: actor.to_owned(),
            at: now_micros(),
            note: note.map(str::to_owned),
        })
        .execute(conn)
        .map_err(|e| {
            crate::error::unique_as(e, || {
                StoreError::conflict("already_approved", "you have already approved this item")
            })
        })?;
    Ok(())
}

fn events(
    conn: &mut DbConnection,
    subject: Subject,
    id: &str,
) -> Result<Vec<EventRow>, StoreError> {
    Ok(payout_events::table
        .filter(payout_events::subject_type.eq(subject.as_str()))
        .filter(payout_events::subject_id.eq(id))
        .order(payout_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?)
}

/// The holds of a payout, with the designation of the money each draws on.
fn holds_of(
    conn: &mut DbConnection,
    subject: Subject,
    id: &str,
) -> Result<Vec<(HoldRow, String)>, StoreError> {
    Ok(holds::table
        .inner_join(accounts::table.on(accounts::id.eq(holds::account_id)))
        .filter(holds::ref_type.eq(subject.as_str()))
        .filter(holds::ref_id.eq(id))
        .order(holds::id.asc())
        .select((HoldRow::as_select(), accounts::designation))
        .load(conn)?)
}

/// Money is paid after it is reserved: an effective date before the last approval would make
/// the fund's past balances negative.
fn not_before_approval(events: &[EventRow], at: i64, field: &str) -> Result<(), StoreError> {
    let approved = events
        .iter()
        .filter(|e| e.action == "approved")
        .map(|e| e.at)
        .max();
    if approved.is_some_and(|t| at < t) {
        return Err(domain::Invalid::new(field, "must not be before the approval").into());
    }
    Ok(())
}

/// Records `actor`'s approval of a proposed item (never the proposer's, at most one each) and
/// returns how many approvals it now has. The caller holds the fund's lock.
fn record_approval(
    conn: &mut DbConnection,
    subject: Subject,
    id: &str,
    status: &str,
    proposer: &str,
    events_so_far: &[EventRow],
    actor: &str,
) -> Result<i32, StoreError> {
    check(status, Action::Approve)?;
    if proposer == actor {
        return Err(StoreError::rule(
            "own_proposal",
            "the proposer cannot approve their own proposal",
        ));
    }
    event(conn, subject, id, Action::Approve, actor, None)?;
    let before = events_so_far
        .iter()
        .filter(|e| e.action == "approved")
        .count();
    Ok(i32::try_from(before + 1).unwrap_or(i32::MAX))
}

fn status_of(s: &str) -> Result<DisbursementStatus, StoreError> {
    DisbursementStatus::parse(s).map_err(|e| StoreError::Internal(format!("stored status: {e}")))
}

/// Checks an action against the status: 409 `invalid_transition` when it may not happen.
fn check(status: &str, action: Action) -> Result<(), StoreError> {
    status_of(status)?
        .check(action)
        .map_err(|e| StoreError::conflict("invalid_transition", e.message))
}

fn approvals_needed(
    conn: &mut DbConnection,
    fund_id: &str,
    total_vnd: i64,
) -> Result<i32, StoreError> {
    let fund = crate::funds::get(conn, fund_id)?;
    Ok(
        if fund.dual_approval_above_vnd.is_some_and(|t| total_vnd > t) {
            2
        } else {
            1
        },
    )
}

/// Sets the total in đồng above which payouts out of the fund need two approvers (`None`: one
/// approver always).
pub fn set_dual_approval(
    conn: &mut DbConnection,
    fund_id: &str,
    above_vnd: Option<i64>,
) -> Result<(), StoreError> {
    use crate::schema::funds;
    diesel::update(funds::table.find(fund_id))
        .set(funds::dual_approval_above_vnd.eq(above_vnd))
        .execute(conn)?;
    Ok(())
}

/// The available amount of each fund account of the fund, by asset: (designation, available).
fn availability(
    conn: &mut DbConnection,
    fund_id: &str,
) -> Result<BTreeMap<String, Vec<(String, i64)>>, StoreError> {
    let mut out: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for b in crate::ledger::balances(conn, fund_id, None)? {
        out.entry(b.asset)
            .or_default()
            .push((b.designation, b.posted - b.reserved));
    }
    Ok(out)
}

/// Reserves the lines of an approved payout, drawing on matching earmarked money first.
fn reserve_lines(
    conn: &mut DbConnection,
    subject: Subject,
    id: &str,
    fund_id: &str,
    lines: &[(Option<SpendCategory>, String, i64)],
    target: &Target,
    actor: &str,
) -> Result<(), StoreError> {
    let mut available = availability(conn, fund_id)?;
    let mut plan = Vec::new();
    for (i, (category, asset, amount)) in lines.iter().enumerate() {
        let mut t = target.clone();
        if let Some(c) = category {
            t.purposes.push(c.as_str().to_owned());
        }
        let pool = available.entry(asset.clone()).or_default();
        // Allocations move unrestricted money only; a disbursement line follows its category.
        let unrestricted = category.is_none_or(SpendCategory::unrestricted_allowed);
        let draws = plan_draws(pool, *amount, &t, unrestricted).map_err(|e| match e {
            PlanError::Insufficient { .. } => {
                StoreError::rule("insufficient_funds", format!("lines[{i}]: {asset}: {e}"))
            }
            PlanError::CategoryNotAllowed => {
                StoreError::rule("category_not_allowed", format!("lines[{i}]: {e}"))
            }
        })?;
        plan.push((i, asset.clone(), draws));
    }
    for (i, asset, draws) in plan {
        for d in draws {
            crate::ledger::reserve(
                conn,
                &NewHold {
                    fund_id: fund_id.to_owned(),
                    asset: asset.clone(),
                    designation: d.designation,
                    amount: d.amount,
                    reason: format!("{} {id}, line {i}", subject.as_str()),
                    actor_id: actor.to_owned(),
                    reference: Some((subject.as_str().to_owned(), id.to_owned())),
                },
            )?;
        }
    }
    Ok(())
}

/// Voids every pending hold of a payout.
fn release(
    conn: &mut DbConnection,
    subject: Subject,
    id: &str,
    actor: &str,
) -> Result<(), StoreError> {
    for (h, _) in holds_of(conn, subject, id)? {
        if h.status == "pending" {
            crate::ledger::void_hold(conn, &h.id, actor)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- disbursements

pub struct NewDisbursement {
    pub fund_id: String,
    pub incident_id: Option<String>,
    pub household_id: String,
    pub assessment_id: Option<String>,
    pub purpose: String,
    pub lines: Vec<(SpendCategory, String, i64)>,
    pub actor_id: String,
}

pub fn propose_disbursement(
    conn: &mut DbConnection,
    n: &NewDisbursement,
) -> Result<Disbursement, StoreError> {
    let id = crate::new_row_id();
    let total_vnd = n
        .lines
        .iter()
        .filter(|l| l.1 == "VND")
        .try_fold(0i64, |s, l| s.checked_add(l.2))
        .ok_or_else(|| StoreError::rule("amount_overflow", "the total overflows"))?;
    let row = DisbursementRow {
        id: id.clone(),
        fund_id: n.fund_id.clone(),
        incident_id: n.incident_id.clone(),
        household_id: n.household_id.clone(),
        assessment_id: n.assessment_id.clone(),
        purpose: n.purpose.clone(),
        status: DisbursementStatus::Proposed.as_str().to_owned(),
        approvals_needed: approvals_needed(conn, &n.fund_id, total_vnd)?,
        total_vnd,
        proposed_by: n.actor_id.clone(),
        proposed_at: now_micros(),
        method: None,
        reference: None,
        received_by: None,
        paid_at: None,
        days_since_incident: None,
        days_since_assessment: None,
    };
    diesel::insert_into(disbursements::table)
        .values(&row)
        .execute(conn)?;
    let lines: Vec<DisbursementLineRow> = n
        .lines
        .iter()
        .enumerate()
        .map(|(i, (c, a, amount))| DisbursementLineRow {
            disbursement_id: id.clone(),
            idx: i32::try_from(i).unwrap_or(i32::MAX),
            category: c.as_str().to_owned(),
            asset: a.clone(),
            amount: *amount,
        })
        .collect();
    with_inner!(conn, c => diesel::insert_into(disbursement_lines::table).values(&lines).execute(c))?;
    insert_event(
        conn,
        Subject::Disbursement,
        &id,
        "proposed",
        &n.actor_id,
        None,
    )?;
    disbursement(conn, &id)
}

pub fn disbursement(conn: &mut DbConnection, id: &str) -> Result<Disbursement, StoreError> {
    let row = disbursements::table
        .find(id)
        .select(DisbursementRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let lines = disbursement_lines::table
        .filter(disbursement_lines::disbursement_id.eq(id))
        .order(disbursement_lines::idx.asc())
        .select(DisbursementLineRow::as_select())
        .load(conn)?;
    Ok(Disbursement {
        events: events(conn, Subject::Disbursement, id)?,
        holds: holds_of(conn, Subject::Disbursement, id)?,
        row,
        lines,
    })
}

/// Whether the household has a disbursement for the incident that is not rejected or cancelled.
pub fn has_live_disbursement(
    conn: &mut DbConnection,
    incident_id: &str,
    household_id: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::select(diesel::dsl::exists(
        disbursements::table
            .filter(disbursements::incident_id.eq(incident_id))
            .filter(disbursements::household_id.eq(household_id))
            .filter(disbursements::status.eq_any(["proposed", "approved", "paid"])),
    ))
    .get_result(conn)?)
}

/// Approves, at most once per approver and never by the proposer; the last approval needed
/// reserves the money. Call inside a write: a refusal changes nothing.
pub fn approve_disbursement(
    conn: &mut DbConnection,
    id: &str,
    actor: &str,
    target: &Target,
) -> Result<Disbursement, StoreError> {
    let fund_id = disbursement(conn, id)?.row.fund_id;
    lock_fund(conn, &fund_id)?;
    let d = disbursement(conn, id)?;
    let approvals = record_approval(
        conn,
        Subject::Disbursement,
        id,
        &d.row.status,
        &d.row.proposed_by,
        &d.events,
        actor,
    )?;
    if approvals >= d.row.approvals_needed {
        let lines: Vec<(Option<SpendCategory>, String, i64)> = d
            .lines
            .iter()
            .map(|l| {
                Ok((
                    Some(SpendCategory::parse(&l.category)?),
                    l.asset.clone(),
                    l.amount,
                ))
            })
            .collect::<Result<_, domain::Invalid>>()?;
        reserve_lines(
            conn,
            Subject::Disbursement,
            id,
            &fund_id,
            &lines,
            target,
            actor,
        )?;
        set_status(
            conn,
            Subject::Disbursement,
            id,
            DisbursementStatus::Approved,
        )?;
    }
    disbursement(conn, id)
}

fn set_status(
    conn: &mut DbConnection,
    subject: Subject,
    id: &str,
    s: DisbursementStatus,
) -> Result<(), StoreError> {
    match subject {
        Subject::Disbursement => diesel::update(disbursements::table.find(id))
            .set(disbursements::status.eq(s.as_str()))
            .execute(conn)?,
        Subject::Allocation => diesel::update(allocations::table.find(id))
            .set(allocations::status.eq(s.as_str()))
            .execute(conn)?,
    };
    Ok(())
}

/// Rejects a proposal (an approver, not the proposer) or cancels a proposed or approved item;
/// either releases any reservation.
pub fn reject_or_cancel(
    conn: &mut DbConnection,
    subject: Subject,
    id: &str,
    action: Action,
    actor: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let reason = domain::text::required("reason", reason, 1000)?;
    let (fund_id, proposer) = match subject {
        Subject::Disbursement => {
            let d = disbursement(conn, id)?;
            (d.row.fund_id, d.row.proposed_by)
        }
        Subject::Allocation => {
            let a = allocation(conn, id)?;
            (a.row.from_fund_id, a.row.proposed_by)
        }
    };
    lock_fund(conn, &fund_id)?;
    let status = match subject {
        Subject::Disbursement => disbursement(conn, id)?.row.status,
        Subject::Allocation => allocation(conn, id)?.row.status,
    };
    check(&status, action)?;
    if action == Action::Reject && proposer == actor {
        return Err(StoreError::rule(
            "own_proposal",
            "the proposer cancels a proposal rather than rejecting it",
        ));
    }
    release(conn, subject, id, actor)?;
    event(conn, subject, id, action, actor, Some(&reason))?;
    let to = if action == Action::Reject {
        DisbursementStatus::Rejected
    } else {
        DisbursementStatus::Cancelled
    };
    set_status(conn, subject, id, to)
}

/// How a disbursement was paid.
pub struct Payment {
    pub method: String,
    pub reference: Option<String>,
    pub received_by: String,
    pub paid_at: i64,
    pub days_since_incident: Option<i32>,
    pub days_since_assessment: Option<i32>,
}

/// Pays an approved disbursement: each hold is posted to the fund's payouts account (with its
/// designation), in one transaction.
pub fn pay_disbursement(
    conn: &mut DbConnection,
    id: &str,
    actor: &str,
    p: &Payment,
) -> Result<Disbursement, StoreError> {
    let fund_id = disbursement(conn, id)?.row.fund_id;
    lock_fund(conn, &fund_id)?;
    let d = disbursement(conn, id)?;
    check(&d.row.status, Action::Pay)?;
    not_before_approval(&d.events, p.paid_at, "paid_at")?;
    for (h, _) in &d.holds {
        if h.status != "pending" {
            continue;
        }
        crate::ledger::post_hold(
            conn,
            &PostHold {
                hold_id: h.id.clone(),
                amount: h.amount,
                counter: AccountKind::Payouts,
                kind: EntryKind::Disbursement,
                reason: format!("disbursement {id} paid by {}", p.method),
                actor_id: actor.to_owned(),
                effective_at: p.paid_at,
            },
        )?;
    }
    diesel::update(disbursements::table.find(id))
        .set((
            disbursements::status.eq(DisbursementStatus::Paid.as_str()),
            disbursements::method.eq(Some(&p.method)),
            disbursements::reference.eq(p.reference.as_ref()),
            disbursements::received_by.eq(Some(&p.received_by)),
            disbursements::paid_at.eq(Some(p.paid_at)),
            disbursements::days_since_incident.eq(p.days_since_incident),
            disbursements::days_since_assessment.eq(p.days_since_assessment),
        ))
        .execute(conn)?;
    event(
        conn,
        Subject::Disbursement,
        id,
        Action::Pay,
        actor,
        p.reference.as_deref(),
    )?;
    disbursement(conn, id)
}

#[derive(Debug, Default, Clone)]
pub struct DisbursementFilter {
    pub within: Option<(i32, String)>,
    pub fund_id: Option<String>,
    pub incident_id: Option<String>,
    pub status: Option<String>,
    pub after_id: Option<String>,
    pub limit: i64,
}

pub fn disbursements(
    conn: &mut DbConnection,
    f: &DisbursementFilter,
) -> Result<Vec<Disbursement>, StoreError> {
    use crate::schema::funds;
    let mut q = disbursements::table
        .select(DisbursementRow::as_select())
        .order(disbursements::id.asc())
        .limit(f.limit + 1)
        .into_boxed();
    if let Some((edition, root)) = &f.within {
        let below = format!("{}/%", crate::units::like_escape(root));
        let ids: Vec<String> = funds::table
            .filter(funds::unit_edition.eq(*edition))
            .filter(
                funds::unit_path
                    .eq(root.clone())
                    .or(funds::unit_path.like(below).escape('\\')),
            )
            .select(funds::id)
            .load(conn)?;
        q = q.filter(disbursements::fund_id.eq_any(ids));
    }
    if let Some(v) = &f.fund_id {
        q = q.filter(disbursements::fund_id.eq(v.clone()));
    }
    if let Some(v) = &f.incident_id {
        q = q.filter(disbursements::incident_id.eq(v.clone()));
    }
    if let Some(v) = &f.status {
        q = q.filter(disbursements::status.eq(v.clone()));
    }
    if let Some(v) = &f.after_id {
        q = q.filter(disbursements::id.gt(v.clone()));
    }
    let rows: Vec<DisbursementRow> = q.load(conn)?;
    rows.iter().map(|r| disbursement(conn, &r.id)).collect()
}

// ---------------------------------------------------------------- allocations

pub struct NewAllocation {
    pub from_fund_id: String,
    pub to_fund_id: String,
    pub decision_ref: String,
    pub round: i32,
    pub purpose: String,
    pub lines: Vec<(String, i64)>,
    pub actor_id: String,
}

pub fn propose_allocation(
    conn: &mut DbConnection,
    n: &NewAllocation,
) -> Result<Allocation, StoreError> {
    if n.from_fund_id == n.to_fund_id {
        return Err(
            domain::Invalid::new("to_fund_id", "must be another fund than from_fund_id").into(),
        );
    }
    let id = crate::new_row_id();
    let total_vnd = n
        .lines
        .iter()
        .filter(|l| l.0 == "VND")
        .try_fold(0i64, |s, l| s.checked_add(l.1))
        .ok_or_else(|| StoreError::rule("amount_overflow", "the total overflows"))?;
    let row = AllocationRow {
        id: id.clone(),
        from_fund_id: n.from_fund_id.clone(),
        to_fund_id: n.to_fund_id.clone(),
        decision_ref: n.decision_ref.clone(),
        round: n.round,
        purpose: n.purpose.clone(),
        status: DisbursementStatus::Proposed.as_str().to_owned(),
        approvals_needed: approvals_needed(conn, &n.from_fund_id, total_vnd)?,
        total_vnd,
        proposed_by: n.actor_id.clone(),
        proposed_at: now_micros(),
        executed_at: None,
    };
    diesel::insert_into(allocations::table)
        .values(&row)
        .execute(conn)?;
    let lines: Vec<AllocationLineRow> = n
        .lines
        .iter()
        .enumerate()
        .map(|(i, (a, amount))| AllocationLineRow {
            allocation_id: id.clone(),
            idx: i32::try_from(i).unwrap_or(i32::MAX),
            asset: a.clone(),
            amount: *amount,
        })
        .collect();
    with_inner!(conn, c => diesel::insert_into(allocation_lines::table).values(&lines).execute(c))?;
    insert_event(
        conn,
        Subject::Allocation,
        &id,
        "proposed",
        &n.actor_id,
        None,
    )?;
    allocation(conn, &id)
}

pub fn allocation(conn: &mut DbConnection, id: &str) -> Result<Allocation, StoreError> {
    let row = allocations::table
        .find(id)
        .select(AllocationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let lines = allocation_lines::table
        .filter(allocation_lines::allocation_id.eq(id))
        .order(allocation_lines::idx.asc())
        .select(AllocationLineRow::as_select())
        .load(conn)?;
    Ok(Allocation {
        events: events(conn, Subject::Allocation, id)?,
        holds: holds_of(conn, Subject::Allocation, id)?,
        row,
        lines,
    })
}

/// Approves an allocation (not by the proposer); the last approval needed reserves unrestricted
/// money in the sending fund.
pub fn approve_allocation(
    conn: &mut DbConnection,
    id: &str,
    actor: &str,
) -> Result<Allocation, StoreError> {
    let fund_id = allocation(conn, id)?.row.from_fund_id;
    lock_fund(conn, &fund_id)?;
    let a = allocation(conn, id)?;
    let approvals = record_approval(
        conn,
        Subject::Allocation,
        id,
        &a.row.status,
        &a.row.proposed_by,
        &a.events,
        actor,
    )?;
    if approvals >= a.row.approvals_needed {
        let lines: Vec<(Option<SpendCategory>, String, i64)> = a
            .lines
            .iter()
            .map(|l| (None, l.asset.clone(), l.amount))
            .collect();
        reserve_lines(
            conn,
            Subject::Allocation,
            id,
            &fund_id,
            &lines,
            &Target::default(),
            actor,
        )?;
        set_status(conn, Subject::Allocation, id, DisbursementStatus::Approved)?;
    }
    allocation(conn, id)
}

/// Executes an approved allocation: the sending fund posts each hold to its in-transit account,
/// and the receiving fund takes the same amounts from its in-transit account into its own, so
/// both chains show the movement. Both funds are locked in id order.
pub fn execute_allocation(
    conn: &mut DbConnection,
    id: &str,
    actor: &str,
    at: i64,
) -> Result<Allocation, StoreError> {
    let a = allocation(conn, id)?;
    let (first, second) = if a.row.from_fund_id < a.row.to_fund_id {
        (&a.row.from_fund_id, &a.row.to_fund_id)
    } else {
        (&a.row.to_fund_id, &a.row.from_fund_id)
    };
    lock_fund(conn, first)?;
    lock_fund(conn, second)?;
    let a = allocation(conn, id)?;
    check(&a.row.status, Action::Pay)?;
    not_before_approval(&a.events, at, "executed_at")?;
    let mut legs = Vec::new();
    for (h, designation) in &a.holds {
        if h.status != "pending" {
            continue;
        }
        crate::ledger::post_hold(
            conn,
            &PostHold {
                hold_id: h.id.clone(),
                amount: h.amount,
                counter: AccountKind::InTransit,
                kind: EntryKind::Allocation,
                reason: format!(
                    "allocation {id} (decision {}, round {}) sent",
                    a.row.decision_ref, a.row.round
                ),
                actor_id: actor.to_owned(),
                effective_at: at,
            },
        )?;
        legs.push(Leg {
            account: AccountKind::InTransit,
            asset: h.asset.clone(),
            designation: designation.clone(),
            amount: -h.amount,
        });
        legs.push(Leg {
            account: AccountKind::Fund,
            asset: h.asset.clone(),
            designation: designation.clone(),
            amount: h.amount,
        });
    }
    crate::ledger::post(
        conn,
        &NewEntry {
            fund_id: a.row.to_fund_id.clone(),
            kind: EntryKind::Allocation,
            reason: format!(
                "allocation {id} (decision {}, round {}) received",
                a.row.decision_ref, a.row.round
            ),
            actor_id: actor.to_owned(),
            ref_type: Some("allocation".into()),
            ref_id: Some(id.to_owned()),
            effective_at: at,
            legs,
        },
    )?;
    diesel::update(allocations::table.find(id))
        .set((
            allocations::status.eq(DisbursementStatus::Paid.as_str()),
            allocations::executed_at.eq(Some(at)),
        ))
        .execute(conn)?;
    event(conn, Subject::Allocation, id, Action::Pay, actor, None)?;
    allocation(conn, id)
}

/// Allocations sent or received by funds inside `within` (or all), optionally of one fund.
pub fn allocations_list(
    conn: &mut DbConnection,
    fund_ids: Option<Vec<String>>,
    after_id: Option<&str>,
    limit: i64,
) -> Result<Vec<Allocation>, StoreError> {
    let mut q = allocations::table
        .select(AllocationRow::as_select())
        .order(allocations::id.asc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(ids) = fund_ids {
        q = q.filter(
            allocations::from_fund_id
                .eq_any(ids.clone())
                .or(allocations::to_fund_id.eq_any(ids)),
        );
    }
    if let Some(a) = after_id {
        q = q.filter(allocations::id.gt(a.to_owned()));
    }
    let rows: Vec<AllocationRow> = q.load(conn)?;
    rows.iter().map(|r| allocation(conn, &r.id)).collect()
}
