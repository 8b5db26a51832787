//! What a ledger export reads: the contiguous run of a fund's chain recorded in a time range,
//! the account balances before and after it, and the entries in batches by seq, so that an
//! export of any size is streamed in constant memory.

use crate::schema::{accounts, entries, funds, postings};
use crate::{DbConnection, StoreError};
use diesel::dsl::{max, min, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use std::collections::HashMap;

pub use crate::ledger::{EntryRow, PostedEntry, PostingRow};

/// The seqs an export covers: `first..=last` (empty when `first > last`), and the chain hash
/// just before `first` (the genesis hash for seq 1).
#[derive(Debug, Clone)]
pub struct Range {
    pub first: i64,
    pub last: i64,
    pub prev_hash: String,
}

/// The entries recorded at or after `from` and before `to` (by `recorded_at`, which follows the
/// chain order; `effective_at` may be back-dated and would cut holes in the chain), up to the
/// fund's head at the time of the call.
pub fn range(
    conn: &mut DbConnection,
    fund_id: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Range, StoreError> {
    let head: i64 = funds::table
        .find(fund_id)
        .select(funds::chain_seq)
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let first = match from {
        None => Some(1),
        Some(t) => entries::table
            .filter(entries::fund_id.eq(fund_id))
            .filter(entries::recorded_at.ge(t))
            .select(min(entries::seq))
            .first::<Option<i64>>(conn)?,
    }
    .unwrap_or(head + 1);
    let last = match to {
        None => Some(head),
        Some(t) => entries::table
            .filter(entries::fund_id.eq(fund_id))
            .filter(entries::recorded_at.lt(t))
            .filter(entries::seq.le(head))
            .select(max(entries::seq))
            .first::<Option<i64>>(conn)?,
    }
    .unwrap_or(0);
    let prev_hash = if first <= 1 {
        hex::encode(domain::ledger::GENESIS_HASH)
    } else {
        entries::table
            .filter(entries::fund_id.eq(fund_id))
            .filter(entries::seq.eq(first - 1))
            .select(entries::hash)
            .first(conn)?
    };
    Ok(Range {
        first,
        last,
        prev_hash,
    })
}

/// An account's balance from its postings.
#[derive(Debug, Clone, Queryable)]
pub struct AccountSum {
    pub account_id: String,
    pub kind: String,
    pub designation: String,
    pub asset: String,
    pub amount: i64,
}

/// Every account of the fund with the sum of its postings in entries up to `seq` (inclusive),
/// zero for accounts with none; in account id order.
pub fn balances_through(
    conn: &mut DbConnection,
    fund_id: &str,
    seq: i64,
) -> Result<Vec<AccountSum>, StoreError> {
    let sums: std::collections::BTreeMap<String, i64> = postings::table
        .inner_join(entries::table)
        .filter(entries::fund_id.eq(fund_id))
        .filter(entries::seq.le(seq))
        .group_by(postings::account_id)
        .select((
            postings::account_id,
            sql::<BigInt>("CAST(SUM(postings.amount) AS BIGINT)"),
        ))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let rows: Vec<(String, String, String, String)> = accounts::table
        .filter(accounts::fund_id.eq(fund_id))
        .order(accounts::id.asc())
        .select((
            accounts::id,
            accounts::kind,
            accounts::designation,
            accounts::asset,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(account_id, kind, designation, asset)| AccountSum {
            amount: sums.get(&account_id).copied().unwrap_or(0),
            account_id,
            kind,
            designation,
            asset,
        })
        .collect())
}

/// Up to `limit` entries with seq in `after+1..=last`, with their postings, in chain order. Two
/// range queries, whatever the batch size; the postings' account kinds and designations come
/// from the fund's accounts read once (an account of another fund, which only a damaged ledger
/// would show, is read by itself).
pub fn batch(
    conn: &mut DbConnection,
    fund_id: &str,
    after: i64,
    last: i64,
    limit: i64,
) -> Result<Vec<PostedEntry>, StoreError> {
    let rows: Vec<EntryRow> = entries::table
        .filter(entries::fund_id.eq(fund_id))
        .filter(entries::seq.gt(after))
        .filter(entries::seq.le(last))
        .order(entries::seq.asc())
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)?;
    let (Some(lo), Some(hi)) = (rows.first().map(|e| e.seq), rows.last().map(|e| e.seq)) else {
        return Ok(Vec::new());
    };
    let mut kinds: HashMap<String, (String, String)> = accounts::table
        .filter(accounts::fund_id.eq(fund_id))
        .select((accounts::id, (accounts::kind, accounts::designation)))
        .load::<(String, (String, String))>(conn)?
        .into_iter()
        .collect();
    type Posting = (i64, String, i32, String, String, i64);
    let ps: Vec<Posting> = postings::table
        .inner_join(entries::table)
        .filter(entries::fund_id.eq(fund_id))
        .filter(entries::seq.ge(lo))
        .filter(entries::seq.le(hi))
        .order((entries::seq.asc(), postings::idx.asc()))
        .select((
            entries::seq,
            postings::entry_id,
            postings::idx,
            postings::account_id,
            postings::asset,
            postings::amount,
        ))
        .load(conn)?;
    let mut ps = ps.into_iter().peekable();
    let mut out = Vec::with_capacity(rows.len());
    for entry in rows {
        let mut postings = Vec::with_capacity(2);
        while let Some((_, entry_id, idx, account_id, asset, amount)) =
            ps.next_if(|(seq, ..)| *seq == entry.seq)
        {
            if !kinds.contains_key(&account_id) {
                let found = accounts::table
                    .find(&account_id)
                    .select((accounts::kind, accounts::designation))
                    .first::<(String, String)>(conn)
                    .optional()?
                    .unwrap_or_default();
                kinds.insert(account_id.clone(), found);
            }
            let (account_kind, designation) = kinds.get(&account_id).cloned().unwrap_or_default();
            postings.push(PostingRow {
                entry_id,
                idx,
                account_id,
                account_kind,
                designation,
                asset,
                amount,
            });
        }
        out.push(PostedEntry { entry, postings });
    }
    Ok(out)
}
