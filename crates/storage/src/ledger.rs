//! The one posting path. Every money movement (opening balances, donations, disbursements,
//! allocations, reversals) is written by [`post`], [`reverse`] or the hold functions, inside the
//! caller's transaction:
//!
//! 1. the domain checks the legs (two or more, none zero, balanced per asset);
//! 2. the fund row is locked (`FOR UPDATE` on PostgreSQL; SQLite has a single writer), which
//!    serialises the fund's chain; then its accounts, in id order;
//! 3. new balances are computed by the domain rules (no overdraft on fund accounts, counting
//!    reservations) and nothing is written unless all of them pass;
//! 4. postings, then the entry that seals them, are inserted; balances and the chain head are
//!    updated.
//!
//! Every entry belongs to one fund, so two funds never wait for each other, and no account is
//! shared between funds.

use crate::funds::FundRow;
use crate::schema::{accounts, entries, funds, holds, postings};
use crate::{now_micros, DbConnection, StoreError};
use diesel::prelude::*;
use domain::ids::{AccountId, EntryId, HoldId};
use domain::ledger::{
    check_legs, check_post_amount, parse_hash, reversal_legs, AccountKind, Balance, CanonicalEntry,
    EntryKind, HoldStatus, LedgerError, Leg,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: String,
    pub fund_id: String,
    pub kind: String,
    pub asset: String,
    pub designation: String,
    pub posted: i64,
    pub reserved: i64,
}

impl AccountRow {
    fn balance(&self) -> Balance {
        Balance {
            posted: self.posted,
            reserved: self.reserved,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = entries)]
pub struct EntryRow {
    pub id: String,
    pub fund_id: String,
    pub seq: i64,
    pub kind: String,
    pub reason: String,
    pub actor_id: String,
    pub ref_type: Option<String>,
    pub ref_id: Option<String>,
    pub reverses_entry_id: Option<String>,
    pub effective_at: i64,
    pub recorded_at: i64,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = postings)]
struct NewPosting<'a> {
    entry_id: &'a str,
    idx: i32,
    account_id: &'a str,
    asset: &'a str,
    amount: i64,
}

/// A posting as read back, with the kind and designation of its account.
#[derive(Debug, Clone, Queryable)]
pub struct PostingRow {
    pub entry_id: String,
    pub idx: i32,
    pub account_id: String,
    pub account_kind: String,
    pub designation: String,
    pub asset: String,
    pub amount: i64,
}

impl PostingRow {
    fn canonical(&self) -> domain::ledger::CanonicalPosting<'_> {
        domain::ledger::CanonicalPosting {
            account_id: &self.account_id,
            account_kind: &self.account_kind,
            designation: &self.designation,
            asset: &self.asset,
            amount: self.amount,
        }
    }
}

/// An entry with its postings in order.
#[derive(Debug, Clone)]
pub struct PostedEntry {
    pub entry: EntryRow,
    pub postings: Vec<PostingRow>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = holds)]
pub struct HoldRow {
    pub id: String,
    pub fund_id: String,
    pub account_id: String,
    pub asset: String,
    pub amount: i64,
    pub status: String,
    pub posted_amount: Option<i64>,
    pub entry_id: Option<String>,
    pub ref_type: Option<String>,
    pub ref_id: Option<String>,
    pub reason: String,
    pub created_at: i64,
    pub created_by: String,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
}

/// An entry to write.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub fund_id: String,
    pub kind: EntryKind,
    pub reason: String,
    pub actor_id: String,
    pub ref_type: Option<String>,
    pub ref_id: Option<String>,
    pub effective_at: i64,
    pub legs: Vec<Leg>,
}

impl From<LedgerError> for StoreError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Overdraft { .. } => StoreError::rule("insufficient_funds", e.to_string()),
            LedgerError::HoldResolved(_) => StoreError::conflict("hold_resolved", e.to_string()),
            LedgerError::ExceedsHold => StoreError::rule("exceeds_hold", e.to_string()),
            LedgerError::Overflow => StoreError::rule("amount_overflow", e.to_string()),
            LedgerError::TooFewPostings | LedgerError::ZeroAmount | LedgerError::Unbalanced(_) => {
                StoreError::rule("unbalanced_entry", e.to_string())
            }
        }
    }
}

/// An account of a fund: kind, asset, designation.
type AccountKey = (AccountKind, String, String);

/// Locks the fund row and returns it, with its chain head (`chain_seq`, `chain_head`). Every
/// ledger write of the fund takes this lock first; a check that must not race with another write
/// (such as "no opening balance yet") takes it before checking.
pub fn lock_fund(conn: &mut DbConnection, fund_id: &str) -> Result<FundRow, StoreError> {
    let q = funds::table.find(fund_id);
    let fund = match conn {
        DbConnection::Pg(c) => q
            .select(FundRow::as_select())
            .for_update()
            .first(c)
            .optional()?,
        DbConnection::Sqlite(c) => q.select(FundRow::as_select()).first(c).optional()?,
    };
    fund.ok_or(StoreError::NotFound)
}

/// Returns the fund's accounts for `keys`, locked, creating missing ones. The caller holds the
/// fund's lock. One query reads and locks the existing accounts (in id order; the filter on each
/// key part may match a few more of the fund's accounts, which are locked too and ignored).
fn lock_accounts(
    conn: &mut DbConnection,
    fund_id: &str,
    keys: &BTreeSet<AccountKey>,
) -> Result<BTreeMap<AccountKey, AccountRow>, StoreError> {
    let kinds: BTreeSet<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    let assets: BTreeSet<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let designations: BTreeSet<&str> = keys.iter().map(|k| k.2.as_str()).collect();
    // `as_select` is typed by backend, so the query is built in each arm.
    macro_rules! query {
        () => {
            accounts::table
                .filter(accounts::fund_id.eq(fund_id))
                .filter(accounts::kind.eq_any(&kinds))
                .filter(accounts::asset.eq_any(&assets))
                .filter(accounts::designation.eq_any(&designations))
                .order(accounts::id.asc())
                .select(AccountRow::as_select())
        };
    }
    let rows: Vec<AccountRow> = match conn {
        DbConnection::Pg(c) => query!().for_update().load(c)?,
        DbConnection::Sqlite(c) => query!().load(c)?,
    };
    let mut out = BTreeMap::new();
    for row in rows {
        let kind = AccountKind::parse(&row.kind)
            .ok_or_else(|| StoreError::Internal(format!("stored account kind {}", row.kind)))?;
        let key = (kind, row.asset.clone(), row.designation.clone());
        if keys.contains(&key) {
            out.insert(key, row);
        }
    }
    for key in keys {
        if out.contains_key(key) {
            continue;
        }
        let (kind, asset, designation) = key;
        crate::assets::get(conn, "asset", asset)?;
        let row = AccountRow {
            id: AccountId::new().to_string(),
            fund_id: fund_id.to_owned(),
            kind: kind.as_str().to_owned(),
            asset: asset.clone(),
            designation: designation.clone(),
            posted: 0,
            reserved: 0,
        };
        diesel::insert_into(accounts::table)
            .values(&row)
            .execute(conn)?;
        out.insert(key.clone(), row);
    }
    Ok(out)
}

fn write_balance(conn: &mut DbConnection, row: &AccountRow) -> Result<(), StoreError> {
    diesel::update(accounts::table.find(&row.id))
        .set((
            accounts::posted.eq(row.posted),
            accounts::reserved.eq(row.reserved),
        ))
        .execute(conn)?;
    Ok(())
}

/// What [`write_entry`] sends to PostgreSQL: the postings first (the entry's `WHERE` reads
/// them all, so they are inserted before the entry that seals them; the `entries_balanced`
/// trigger checks them when the statement ends), the accounts' new balances and the fund's chain
/// head, in one statement. Binds: $1-$4 the postings (idx, account, asset, amount), $5-$7 the
/// accounts (id, posted, reserved), $8-$20 the entry's columns.
const WRITE_ENTRY_PG: &str = "\
WITH p AS (
    INSERT INTO postings (entry_id, idx, account_id, asset, amount)
    SELECT $8, x.idx, x.account_id, x.asset, x.amount
    FROM unnest($1, $2, $3, $4) AS x (idx, account_id, asset, amount)
    RETURNING 1),
b AS (
    UPDATE accounts AS a SET posted = x.posted, reserved = x.reserved
    FROM unnest($5, $6, $7) AS x (id, posted, reserved) WHERE a.id = x.id),
h AS (
    UPDATE funds SET chain_seq = $10, chain_head = $20 WHERE id = $9),
e AS (
    INSERT INTO entries (id, fund_id, seq, kind, reason, actor_id, ref_type, ref_id,
        reverses_entry_id, effective_at, recorded_at, prev_hash, hash)
    SELECT $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20
    WHERE (SELECT count(*) FROM p) = cardinality($1)
    RETURNING 1)
SELECT count(*) AS written FROM e";

/// What [`WRITE_ENTRY_PG`] answers: how many entries it inserted (1, or 0 if the postings were
/// not all written).
#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    written: i64,
}

/// Writes a sealed entry: its postings, the entry, the accounts' new balances and the fund's
/// chain head. On PostgreSQL one statement ([`WRITE_ENTRY_PG`]): one round trip while the fund
/// is locked instead of one per row. SQLite runs in process: one statement per table.
fn write_entry<'a>(
    conn: &mut DbConnection,
    entry: &EntryRow,
    postings: &[PostingRow],
    accounts: impl Iterator<Item = &'a AccountRow>,
) -> Result<(), StoreError> {
    if let DbConnection::Pg(c) = conn {
        use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
        let accounts: Vec<&AccountRow> = accounts.collect();
        let written = crate::db::cached(
            diesel::sql_query(WRITE_ENTRY_PG)
                .bind::<Array<Integer>, _>(postings.iter().map(|p| p.idx).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(
                    postings
                        .iter()
                        .map(|p| p.account_id.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Text>, _>(
                    postings
                        .iter()
                        .map(|p| p.asset.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<BigInt>, _>(postings.iter().map(|p| p.amount).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(accounts.iter().map(|a| a.posted).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(accounts.iter().map(|a| a.reserved).collect::<Vec<_>>())
                .bind::<Text, _>(&entry.id)
                .bind::<Text, _>(&entry.fund_id)
                .bind::<BigInt, _>(entry.seq)
                .bind::<Text, _>(&entry.kind)
                .bind::<Text, _>(&entry.reason)
                .bind::<Text, _>(&entry.actor_id)
                .bind::<Nullable<Text>, _>(&entry.ref_type)
                .bind::<Nullable<Text>, _>(&entry.ref_id)
                .bind::<Nullable<Text>, _>(&entry.reverses_entry_id)
                .bind::<BigInt, _>(entry.effective_at)
                .bind::<BigInt, _>(entry.recorded_at)
                .bind::<Text, _>(&entry.prev_hash)
                .bind::<Text, _>(&entry.hash),
        )
        .get_result::<Written>(c)?
        .written;
        if written != 1 {
            return Err(StoreError::Internal(format!(
                "writing entry {} inserted {written} rows",
                entry.id
            )));
        }
        return Ok(());
    }
    let new_postings: Vec<NewPosting<'_>> = postings
        .iter()
        .map(|p| NewPosting {
            entry_id: &p.entry_id,
            idx: p.idx,
            account_id: &p.account_id,
            asset: &p.asset,
            amount: p.amount,
        })
        .collect();
    crate::with_inner!(conn, c => diesel::insert_into(postings::table).values(&new_postings).execute(c))?;
    diesel::insert_into(entries::table)
        .values(entry)
        .execute(conn)?;
    for row in accounts {
        write_balance(conn, row)?;
    }
    diesel::update(funds::table.find(&entry.fund_id))
        .set((
            funds::chain_seq.eq(entry.seq),
            funds::chain_head.eq(&entry.hash),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes an entry through the posting path. `release` first frees a reservation on one of the
/// entry's accounts (when a hold is posted). Runs inside the caller's transaction.
fn post_inner(
    conn: &mut DbConnection,
    e: &NewEntry,
    reverses: Option<&str>,
    release: Option<(AccountKey, i64)>,
    locked: Option<(i64, String)>,
) -> Result<PostedEntry, StoreError> {
    check_legs(&e.legs)?;
    let reason = domain::text::required("reason", &e.reason, 1000)?;
    let (seq, head) = match locked {
        Some(head) => head,
        None => {
            let fund = lock_fund(conn, &e.fund_id)?;
            (fund.chain_seq, fund.chain_head)
        }
    };
    let keys: BTreeSet<AccountKey> = e
        .legs
        .iter()
        .map(|l| (l.account, l.asset.clone(), l.designation.clone()))
        .chain(release.iter().map(|(k, _)| k.clone()))
        .collect();
    let mut accounts = lock_accounts(conn, &e.fund_id, &keys)?;

    // All balances are computed before anything is written: a refusal changes nothing.
    if let Some((key, amount)) = &release {
        let row = accounts
            .get_mut(key)
            .ok_or_else(|| StoreError::Internal("released account missing".into()))?;
        let b = row.balance().release(*amount)?;
        row.reserved = b.reserved;
    }
    for leg in &e.legs {
        let row = accounts
            .get_mut(&(leg.account, leg.asset.clone(), leg.designation.clone()))
            .ok_or_else(|| StoreError::Internal("leg account missing".into()))?;
        let b = row
            .balance()
            .apply(&leg.asset, leg.amount, leg.account.no_overdraft())?;
        row.posted = b.posted;
    }

    let seq = seq + 1;
    let prev = parse_hash(&head).ok_or_else(|| StoreError::Internal("stored chain head".into()))?;
    let entry_id = EntryId::new().to_string();
    let recorded_at = now_micros();
    let mut posting_rows = Vec::with_capacity(e.legs.len());
    for (i, leg) in e.legs.iter().enumerate() {
        let account = &accounts[&(leg.account, leg.asset.clone(), leg.designation.clone())];
        posting_rows.push(PostingRow {
            entry_id: entry_id.clone(),
            idx: i32::try_from(i).map_err(|_| StoreError::Internal("too many postings".into()))?,
            account_id: account.id.clone(),
            account_kind: leg.account.as_str().to_owned(),
            designation: leg.designation.clone(),
            asset: leg.asset.clone(),
            amount: leg.amount,
        });
    }
    let canonical = CanonicalEntry {
        fund_id: &e.fund_id,
        seq,
        entry_id: &entry_id,
        kind: e.kind.as_str(),
        effective_at: e.effective_at,
        recorded_at,
        actor_id: &e.actor_id,
        reason: &reason,
        ref_type: e.ref_type.as_deref().unwrap_or_default(),
        ref_id: e.ref_id.as_deref().unwrap_or_default(),
        reverses_entry_id: reverses.unwrap_or_default(),
        postings: posting_rows.iter().map(PostingRow::canonical).collect(),
    };
    let hash = hex::encode(canonical.hash(&prev));

    let entry = EntryRow {
        id: entry_id,
        fund_id: e.fund_id.clone(),
        seq,
        kind: e.kind.as_str().to_owned(),
        reason,
        actor_id: e.actor_id.clone(),
        ref_type: e.ref_type.clone(),
        ref_id: e.ref_id.clone(),
        reverses_entry_id: reverses.map(str::to_owned),
        effective_at: e.effective_at,
        recorded_at,
        prev_hash: head,
        hash,
    };
    write_entry(conn, &entry, &posting_rows, accounts.values())?;
    Ok(PostedEntry {
        entry,
        postings: posting_rows,
    })
}

/// Writes an entry (see the module documentation). Call inside [`crate::Db::write`].
pub fn post(conn: &mut DbConnection, e: &NewEntry) -> Result<PostedEntry, StoreError> {
    post_inner(conn, e, None, None, None)
}

/// [`post`] for a caller that already holds the fund's lock: `head` is what [`lock_fund`]
/// returned in this transaction (the lock is not taken twice).
pub fn post_locked(
    conn: &mut DbConnection,
    e: &NewEntry,
    head: (i64, String),
) -> Result<PostedEntry, StoreError> {
    post_inner(conn, e, None, None, Some(head))
}

/// Reverses an entry at most once, by an entry with the opposite postings linked to it. A
/// reversal itself cannot be reversed. The reversal obeys the no-overdraft rule like any entry.
pub fn reverse(
    conn: &mut DbConnection,
    entry_id: &str,
    reason: &str,
    actor_id: &str,
) -> Result<PostedEntry, StoreError> {
    let original = entry(conn, entry_id)?;
    lock_fund(conn, &original.entry.fund_id)?;
    if original.entry.kind == EntryKind::Reversal.as_str() {
        return Err(StoreError::rule(
            "reversal_not_reversible",
            "a reversal cannot itself be reversed",
        ));
    }
    let already: bool = diesel::select(diesel::dsl::exists(
        entries::table.filter(entries::reverses_entry_id.eq(entry_id)),
    ))
    .get_result(conn)?;
    if already {
        return Err(StoreError::conflict(
            "already_reversed",
            "this entry has already been reversed",
        ));
    }
    let legs = original
        .postings
        .iter()
        .map(|p| {
            Ok(Leg {
                account: AccountKind::parse(&p.account_kind)
                    .ok_or_else(|| StoreError::Internal("stored account kind".into()))?,
                asset: p.asset.clone(),
                designation: p.designation.clone(),
                amount: p.amount,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let e = NewEntry {
        fund_id: original.entry.fund_id.clone(),
        kind: EntryKind::Reversal,
        reason: reason.to_owned(),
        actor_id: actor_id.to_owned(),
        ref_type: original.entry.ref_type.clone(),
        ref_id: original.entry.ref_id.clone(),
        effective_at: now_micros(),
        legs: reversal_legs(&legs)?,
    };
    post_inner(conn, &e, Some(entry_id), None, None).map_err(|err| match err {
        StoreError::Db(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => StoreError::conflict("already_reversed", "this entry has already been reversed"),
        other => other,
    })
}

/// The first phase of a payout: an amount to reserve on one of the fund's accounts.
#[derive(Debug, Clone)]
pub struct NewHold {
    pub fund_id: String,
    pub asset: String,
    /// The designation of the fund account drawn on ('' for unrestricted money).
    pub designation: String,
    pub amount: i64,
    pub reason: String,
    pub actor_id: String,
    pub reference: Option<(String, String)>,
}

/// Reserves an amount of the fund's available money (the first phase of a payout).
pub fn reserve(conn: &mut DbConnection, h: &NewHold) -> Result<HoldRow, StoreError> {
    let (fund_id, asset, amount, actor_id) = (
        h.fund_id.as_str(),
        h.asset.as_str(),
        h.amount,
        h.actor_id.as_str(),
    );
    let reference = h.reference.as_ref().map(|(t, i)| (t.as_str(), i.as_str()));
    let reason = domain::text::required("reason", &h.reason, 1000)?;
    lock_fund(conn, fund_id)?;
    let key = (AccountKind::Fund, asset.to_owned(), h.designation.clone());
    let mut accounts = lock_accounts(conn, fund_id, &BTreeSet::from([key.clone()]))?;
    let row = accounts
        .get_mut(&key)
        .ok_or_else(|| StoreError::Internal("fund account missing".into()))?;
    let b = row.balance().reserve(asset, amount)?;
    row.reserved = b.reserved;
    write_balance(conn, row)?;
    let hold = HoldRow {
        id: HoldId::new().to_string(),
        fund_id: fund_id.to_owned(),
        account_id: row.id.clone(),
        asset: asset.to_owned(),
        amount,
        status: HoldStatus::Pending.as_str().to_owned(),
        posted_amount: None,
        entry_id: None,
        ref_type: reference.map(|r| r.0.to_owned()),
        ref_id: reference.map(|r| r.1.to_owned()),
        reason,
        created_at: now_micros(),
        created_by: actor_id.to_owned(),
        resolved_at: None,
        resolved_by: None,
    };
    diesel::insert_into(holds::table)
        .values(&hold)
        .execute(conn)?;
    Ok(hold)
}

/// Locks the hold's fund, then reads the hold and checks it may move to `to`.
fn pending_hold(
    conn: &mut DbConnection,
    hold_id: &str,
    to: HoldStatus,
) -> Result<HoldRow, StoreError> {
    let fund_id: String = holds::table
        .find(hold_id)
        .select(holds::fund_id)
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    lock_fund(conn, &fund_id)?;
    let hold: HoldRow = holds::table
        .find(hold_id)
        .select(HoldRow::as_select())
        .first(conn)?;
    HoldStatus::parse(&hold.status)
        .ok_or_else(|| StoreError::Internal("stored hold status".into()))?
        .resolve(to)?;
    Ok(hold)
}

/// The second phase of a payout: what to post from a pending hold.
#[derive(Debug, Clone)]
pub struct PostHold {
    pub hold_id: String,
    /// At most the hold's amount; the whole reservation is released either way.
    pub amount: i64,
    /// Where the money goes (payouts, in transit).
    pub counter: AccountKind,
    pub kind: EntryKind,
    pub reason: String,
    pub actor_id: String,
    pub effective_at: i64,
}

/// Posts from a pending hold to its counter account and releases the whole reservation. At most
/// once per hold.
pub fn post_hold(
    conn: &mut DbConnection,
    p: &PostHold,
) -> Result<(HoldRow, PostedEntry), StoreError> {
    let (hold_id, amount, counter, kind, reason, actor_id, effective_at) = (
        p.hold_id.as_str(),
        p.amount,
        p.counter,
        p.kind,
        p.reason.as_str(),
        p.actor_id.as_str(),
        p.effective_at,
    );
    let hold = pending_hold(conn, hold_id, HoldStatus::Posted)?;
    check_post_amount(hold.amount, amount)?;
    let designation: String = accounts::table
        .find(&hold.account_id)
        .select(accounts::designation)
        .first(conn)?;
    let e = NewEntry {
        fund_id: hold.fund_id.clone(),
        kind,
        reason: reason.to_owned(),
        actor_id: actor_id.to_owned(),
        ref_type: hold.ref_type.clone(),
        ref_id: hold.ref_id.clone(),
        effective_at,
        legs: vec![
            Leg {
                account: AccountKind::Fund,
                asset: hold.asset.clone(),
                designation: designation.clone(),
                amount: amount.checked_neg().ok_or(LedgerError::Overflow)?,
            },
            Leg {
                account: counter,
                asset: hold.asset.clone(),
                designation: designation.clone(),
                amount,
            },
        ],
    };
    let posted = post_inner(
        conn,
        &e,
        None,
        Some((
            (AccountKind::Fund, hold.asset.clone(), designation),
            hold.amount,
        )),
        None,
    )?;
    let now = now_micros();
    diesel::update(holds::table.find(hold_id))
        .set((
            holds::status.eq(HoldStatus::Posted.as_str()),
            holds::posted_amount.eq(Some(amount)),
            holds::entry_id.eq(Some(&posted.entry.id)),
            holds::resolved_at.eq(Some(now)),
            holds::resolved_by.eq(Some(actor_id)),
        ))
        .execute(conn)?;
    let hold = holds::table
        .find(hold_id)
        .select(HoldRow::as_select())
        .first(conn)?;
    Ok((hold, posted))
}

/// Voids a pending hold, releasing its reservation. At most once per hold.
pub fn void_hold(
    conn: &mut DbConnection,
    hold_id: &str,
    actor_id: &str,
) -> Result<HoldRow, StoreError> {
    let hold = pending_hold(conn, hold_id, HoldStatus::Voided)?;
    let designation: String = accounts::table
        .find(&hold.account_id)
        .select(accounts::designation)
        .first(conn)?;
    let key = (AccountKind::Fund, hold.asset.clone(), designation);
    let mut accounts = lock_accounts(conn, &hold.fund_id, &BTreeSet::from([key.clone()]))?;
    let row = accounts
        .get_mut(&key)
        .ok_or_else(|| StoreError::Internal("fund account missing".into()))?;
    row.reserved = row.balance().release(hold.amount)?.reserved;
    write_balance(conn, row)?;
    diesel::update(holds::table.find(hold_id))
        .set((
            holds::status.eq(HoldStatus::Voided.as_str()),
            holds::resolved_at.eq(Some(now_micros())),
            holds::resolved_by.eq(Some(actor_id)),
        ))
        .execute(conn)?;
    Ok(holds::table
        .find(hold_id)
        .select(HoldRow::as_select())
        .first(conn)?)
}

fn postings_of(
    conn: &mut DbConnection,
    entry_ids: &[String],
) -> Result<BTreeMap<String, Vec<PostingRow>>, StoreError> {
    let rows: Vec<PostingRow> = postings::table
        .inner_join(accounts::table)
        .filter(postings::entry_id.eq_any(entry_ids))
        .order((postings::entry_id.asc(), postings::idx.asc()))
        .select((
            postings::entry_id,
            postings::idx,
            postings::account_id,
            accounts::kind,
            accounts::designation,
            postings::asset,
            postings::amount,
        ))
        .load(conn)?;
    let mut out: BTreeMap<String, Vec<PostingRow>> = BTreeMap::new();
    for r in rows {
        out.entry(r.entry_id.clone()).or_default().push(r);
    }
    Ok(out)
}

fn with_postings(
    conn: &mut DbConnection,
    rows: Vec<EntryRow>,
) -> Result<Vec<PostedEntry>, StoreError> {
    let ids: Vec<String> = rows.iter().map(|e| e.id.clone()).collect();
    let mut postings = postings_of(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|entry| {
            let postings = postings.remove(&entry.id).unwrap_or_default();
            PostedEntry { entry, postings }
        })
        .collect())
}

pub fn entry(conn: &mut DbConnection, entry_id: &str) -> Result<PostedEntry, StoreError> {
    let row = entries::table
        .find(entry_id)
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    with_postings(conn, vec![row])?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// For the given entries, the ids of the entries that reverse them.
pub fn reversals_of(
    conn: &mut DbConnection,
    entry_ids: &[String],
) -> Result<std::collections::HashMap<String, String>, StoreError> {
    let rows: Vec<(Option<String>, String)> = entries::table
        .filter(entries::reverses_entry_id.eq_any(entry_ids))
        .select((entries::reverses_entry_id, entries::id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(orig, id)| orig.map(|o| (o, id)))
        .collect())
}

/// Whether an entry has been reversed.
pub fn reversed_by(conn: &mut DbConnection, entry_id: &str) -> Result<Option<String>, StoreError> {
    Ok(entries::table
        .filter(entries::reverses_entry_id.eq(entry_id))
        .select(entries::id)
        .first(conn)
        .optional()?)
}

#[derive(Debug, Default, Clone)]
pub struct EntryFilter {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub after_seq: Option<i64>,
    pub limit: i64,
}

/// A fund's entries in chain order with their postings; `limit + 1` are read.
pub fn entries_page(
    conn: &mut DbConnection,
    fund_id: &str,
    f: &EntryFilter,
) -> Result<Vec<PostedEntry>, StoreError> {
    let mut q = entries::table
        .filter(entries::fund_id.eq(fund_id))
        .select(EntryRow::as_select())
        .order(entries::seq.asc())
        .limit(f.limit + 1)
        .into_boxed();
    if let Some(from) = f.from {
        q = q.filter(entries::effective_at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(entries::effective_at.lt(to));
    }
    if let Some(after) = f.after_seq {
        q = q.filter(entries::seq.gt(after));
    }
    let rows = q.load(conn)?;
    with_postings(conn, rows)
}

/// A fund account's balance: one asset, one designation ('' for unrestricted money).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetBalance {
    pub asset: String,
    pub designation: String,
    pub posted: i64,
    pub reserved: i64,
}

/// The fund's balances per asset and designation, now or as of an instant: postings whose entry
/// is effective at or before it, and holds made at or before it and not yet resolved then.
pub fn balances(
    conn: &mut DbConnection,
    fund_id: &str,
    as_of: Option<i64>,
) -> Result<Vec<AssetBalance>, StoreError> {
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let rows: Vec<AccountRow> = accounts::table
        .filter(accounts::fund_id.eq(fund_id))
        .filter(accounts::kind.eq(AccountKind::Fund.as_str()))
        .order((accounts::asset.asc(), accounts::designation.asc()))
        .select(AccountRow::as_select())
        .load(conn)?;
    let Some(t) = as_of else {
        return Ok(rows
            .into_iter()
            .map(|a| AssetBalance {
                asset: a.asset,
                designation: a.designation,
                posted: a.posted,
                reserved: a.reserved,
            })
            .collect());
    };
    let posted: BTreeMap<String, i64> = postings::table
        .inner_join(accounts::table)
        .inner_join(entries::table)
        .filter(accounts::fund_id.eq(fund_id))
        .filter(accounts::kind.eq(AccountKind::Fund.as_str()))
        .filter(entries::effective_at.le(t))
        .group_by(postings::account_id)
        .select((
            postings::account_id,
            sql::<BigInt>("CAST(SUM(postings.amount) AS BIGINT)"),
        ))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let reserved: BTreeMap<String, i64> = holds::table
        .filter(holds::fund_id.eq(fund_id))
        .filter(holds::created_at.le(t))
        .filter(holds::resolved_at.is_null().or(holds::resolved_at.gt(t)))
        .group_by(holds::account_id)
        .select((
            holds::account_id,
            sql::<BigInt>("CAST(SUM(holds.amount) AS BIGINT)"),
        ))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|a| AssetBalance {
            posted: posted.get(&a.id).copied().unwrap_or(0),
            reserved: reserved.get(&a.id).copied().unwrap_or(0),
            asset: a.asset,
            designation: a.designation,
        })
        .collect())
}

/// The outcome of recomputing a fund's hash chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    pub fund_id: String,
    pub ok: bool,
    pub entries_checked: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub first_bad_seq: Option<i64>,
    pub problem: Option<String>,
}

/// Where the chain stopped verifying: the seq and what is wrong, after `checked` good entries.
struct ChainBreak {
    seq: i64,
    problem: String,
    checked: i64,
}

/// How far the chain verified: the last hash, the number of entries, and the sum of the postings
/// per account.
struct ChainEnd {
    prev: [u8; 32],
    checked: i64,
    sums: HashMap<String, i128>,
}

/// Follows the chain through the batches `pages` delivers in seq order, from the genesis hash,
/// summing the postings per account; returns where it ended, or the first entry that fails.
fn check_chain(pages: impl IntoIterator<Item = Vec<PostedEntry>>) -> Result<ChainEnd, ChainBreak> {
    let mut prev = domain::ledger::GENESIS_HASH;
    let mut checked = 0;
    let mut sums: HashMap<String, i128> = HashMap::new();
    let mut hex_buf = [0u8; 64];
    for page in pages {
        for pe in &page {
            let e = &pe.entry;
            let expected_seq = checked + 1;
            let fail = |seq: i64, problem: String| ChainBreak {
                seq,
                problem,
                checked,
            };
            if e.seq != expected_seq {
                return Err(fail(
                    expected_seq,
                    format!("entry {expected_seq} is missing"),
                ));
            }
            // Hex of a 32-byte hash always fits the 64-byte buffer.
            let _ = hex::encode_to_slice(prev, &mut hex_buf);
            if e.prev_hash.as_bytes() != hex_buf {
                return Err(fail(
                    e.seq,
                    "prev_hash does not link to the previous entry".into(),
                ));
            }
            let canonical = CanonicalEntry {
                fund_id: &e.fund_id,
                seq: e.seq,
                entry_id: &e.id,
                kind: &e.kind,
                effective_at: e.effective_at,
                recorded_at: e.recorded_at,
                actor_id: &e.actor_id,
                reason: &e.reason,
                ref_type: e.ref_type.as_deref().unwrap_or_default(),
                ref_id: e.ref_id.as_deref().unwrap_or_default(),
                reverses_entry_id: e.reverses_entry_id.as_deref().unwrap_or_default(),
                postings: pe.postings.iter().map(PostingRow::canonical).collect(),
            };
            let hash = canonical.hash(&prev);
            let _ = hex::encode_to_slice(hash, &mut hex_buf);
            if e.hash.as_bytes() != hex_buf {
                return Err(fail(e.seq, "the entry does not match its hash".into()));
            }
            for p in &pe.postings {
                match sums.get_mut(&p.account_id) {
                    Some(sum) => *sum += i128::from(p.amount),
                    None => {
                        sums.insert(p.account_id.clone(), i128::from(p.amount));
                    }
                }
            }
            prev = hash;
            checked += 1;
        }
    }
    Ok(ChainEnd {
        prev,
        checked,
        sums,
    })
}

/// Recomputes the fund's chain from the genesis hash and checks that every account balance
/// equals the sum of its postings. Reports the first entry that does not verify.
///
/// Everything is judged on one snapshot (REPEATABLE READ on PostgreSQL, a read transaction on
/// SQLite): the fund's head, its balances and holds, and that no entry lies past the head. The
/// entries up to that head are immutable (the ledger is append-only), so when the pool has a
/// spare connection they are read by two threads, the second on a snapshot of its own taken
/// after the first, in alternate ranges of seqs, while a third thread follows the chain through
/// the ranges in order and sums the postings: reading takes most of the time, and on two cores
/// both read. With no spare connection, one thread reads every range.
pub fn verify(db: &crate::Db, fund_id: &str) -> Result<Verification, StoreError> {
    db.read_snapshot(|conn| {
        let fund = crate::funds::get(conn, fund_id)?;
        let past_head: i64 = entries::table
            .filter(entries::fund_id.eq(fund_id))
            .filter(entries::seq.gt(fund.chain_seq))
            .count()
            .get_result(conn)?;
        let head = fund.chain_seq;
        let spares: Vec<crate::db::Spare> =
            (1..VERIFY_READERS).map_while(|_| db.try_spare()).collect();
        let readers = i64::try_from(spares.len() + 1).unwrap_or(1);
        let chain = std::thread::scope(|s| -> Result<_, StoreError> {
            let (senders, receivers): (Vec<_>, Vec<_>) = (0..readers)
                .map(|_| std::sync::mpsc::sync_channel::<Vec<PostedEntry>>(2))
                .unzip();
            let checker = s.spawn(move || {
                // Range k comes from reader k % readers.
                let mut turn = receivers.iter().cycle();
                check_chain(std::iter::from_fn(|| turn.next()?.recv().ok()))
            });
            let mut senders = senders.into_iter();
            let first_tx = senders.next();
            let others: Vec<_> = spares
                .into_iter()
                .zip(senders)
                .zip(1..)
                .map(|((spare, tx), k)| {
                    s.spawn(move || {
                        spare.read_snapshot(|c| read_ranges(c, fund_id, head, k, readers, &tx))
                    })
                })
                .collect();
            let first = match first_tx {
                Some(tx) => read_ranges(conn, fund_id, head, 0, readers, &tx),
                None => Ok(()),
            };
            for other in others {
                other
                    .join()
                    .map_err(|_| StoreError::Internal("a chain reader panicked".into()))??;
            }
            first?;
            checker
                .join()
                .map_err(|_| StoreError::Internal("the chain checker panicked".into()))
        })?;
        verify_end(conn, &fund, chain, past_head)
    })
}

/// Threads that read a chain for [`verify`], as far as the pool has spare connections.
const VERIFY_READERS: usize = 2;

/// Entries per range read by one round trip of [`verify`].
const VERIFY_BATCH: i64 = 2000;

/// How much of a SQLite database file [`verify`] maps (SQLite caps it at its compile-time
/// limit, 2 GiB by default; the rest of a larger file is read as usual).
const VERIFY_MMAP_BYTES: i64 = 1 << 32;

/// Reads the ranges `k * VERIFY_BATCH + 1 ..= (k + 1) * VERIFY_BATCH` (capped at `head`) for
/// `k = first, first + step, ...`, in order, and sends each (empty where the ledger has a hole)
/// until the receiver is gone or the head is reached.
fn read_ranges(
    conn: &mut DbConnection,
    fund_id: &str,
    head: i64,
    first: i64,
    step: i64,
    tx: &std::sync::mpsc::SyncSender<Vec<PostedEntry>>,
) -> Result<(), StoreError> {
    // SQLite: read the file through a memory map while verifying instead of copying every
    // page into the connection's cache (perf: the copies were 14% of the time; verify 310k ->
    // 440k entries/s). The mapped pages are the kernel's page cache, shared and reclaimable,
    // though they show in the process's resident size; the map is dropped afterwards.
    use diesel::connection::SimpleConnection;
    let sqlite = matches!(conn, DbConnection::Sqlite(_));
    if sqlite {
        conn.batch_execute(&format!("PRAGMA mmap_size = {VERIFY_MMAP_BYTES}"))?;
    }
    let read = (|| {
        let mut after = first * VERIFY_BATCH;
        while after < head {
            let last = (after + VERIFY_BATCH).min(head);
            let page = crate::export::batch(conn, fund_id, after, last, VERIFY_BATCH)?;
            if tx.send(page).is_err() {
                // The checker stopped at a broken link: nothing further matters.
                break;
            }
            after += step * VERIFY_BATCH;
        }
        Ok(())
    })();
    if sqlite {
        conn.batch_execute("PRAGMA mmap_size = 0")?;
    }
    read
}

/// The verdict once the chain has been followed: the head, the entries past it, and every
/// account's balance and reservations against its postings and pending holds.
fn verify_end(
    conn: &mut DbConnection,
    fund: &crate::funds::FundRow,
    chain: Result<ChainEnd, ChainBreak>,
    past_head: i64,
) -> Result<Verification, StoreError> {
    let fund_id = fund.id.as_str();
    let fail = |seq: Option<i64>, problem: String, checked: i64| Verification {
        fund_id: fund_id.to_owned(),
        ok: false,
        entries_checked: checked,
        head_seq: fund.chain_seq,
        head_hash: fund.chain_head.clone(),
        first_bad_seq: seq,
        problem: Some(problem),
    };
    let ChainEnd {
        prev,
        checked,
        mut sums,
    } = match chain {
        Ok(end) => end,
        Err(b) => return Ok(fail(Some(b.seq), b.problem, b.checked)),
    };
    if past_head > 0 {
        return Ok(fail(
            Some(fund.chain_seq + 1),
            format!(
                "{past_head} entries lie past the fund's chain head (seq {})",
                fund.chain_seq
            ),
            checked,
        ));
    }
    if checked != fund.chain_seq || hex::encode(prev) != fund.chain_head {
        return Ok(fail(
            Some(checked + 1),
            format!(
                "the fund's chain head (seq {}) does not match its entries (last seq {checked})",
                fund.chain_seq
            ),
            checked,
        ));
    }
    // Balances must equal their postings (summed above, from every entry of the fund).
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let rows: Vec<AccountRow> = accounts::table
        .filter(accounts::fund_id.eq(fund_id))
        .select(AccountRow::as_select())
        .load(conn)?;
    // Reservations must equal the pending holds.
    let pending: BTreeMap<String, i64> = holds::table
        .filter(holds::fund_id.eq(fund_id))
        .filter(holds::status.eq(HoldStatus::Pending.as_str()))
        .group_by(holds::account_id)
        .select((
            holds::account_id,
            sql::<BigInt>("CAST(SUM(holds.amount) AS BIGINT)"),
        ))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    for a in rows {
        let expected = sums.remove(&a.id).unwrap_or(0);
        if i128::from(a.posted) != expected {
            return Ok(fail(
                None,
                format!(
                    "account {} has posted {} but its postings sum to {expected}",
                    a.id, a.posted
                ),
                checked,
            ));
        }
        let held = pending.get(&a.id).copied().unwrap_or(0);
        if a.reserved != held {
            return Ok(fail(
                None,
                format!(
                    "account {} has reserved {} but its pending holds sum to {held}",
                    a.id, a.reserved
                ),
                checked,
            ));
        }
    }
    // A posting on an account that is not the fund's.
    if let Some(stray) = sums.keys().min() {
        return Ok(fail(
            None,
            format!("postings of the fund's entries name account {stray}, which is not the fund's"),
            checked,
        ));
    }
    Ok(Verification {
        fund_id: fund_id.to_owned(),
        ok: true,
        entries_checked: checked,
        head_seq: fund.chain_seq,
        head_hash: fund.chain_head.clone(),
        first_bad_seq: None,
        problem: None,
    })
}

/// Every fund id, for verifying all chains.
pub fn fund_ids(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    Ok(funds::table
        .select(funds::id)
        .order(funds::id.asc())
        .load(conn)?)
}

/// Whether the fund already has an opening balance of `asset` that is not reversed.
pub fn has_opening_balance(
    conn: &mut DbConnection,
    fund_id: &str,
    asset: &str,
) -> Result<bool, StoreError> {
    let ids: Vec<String> = postings::table
        .inner_join(accounts::table)
        .inner_join(entries::table)
        .filter(accounts::fund_id.eq(fund_id))
        .filter(accounts::kind.eq(AccountKind::Opening.as_str()))
        .filter(accounts::asset.eq(asset))
        .filter(entries::kind.eq(EntryKind::OpeningBalance.as_str()))
        .select(entries::id)
        .load(conn)?;
    for id in ids {
        if reversed_by(conn, &id)?.is_none() {
            return Ok(true);
        }
    }
    Ok(false)
}
