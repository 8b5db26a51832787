//! Signed chain heads (see `domain::checkpoint`). Signing reads the fund's head and stores the
//! signature in one transaction; a head already signed with the same key is not signed again.

use crate::schema::{checkpoints, funds};
use crate::{DbConnection, StoreError};
use diesel::prelude::*;
use domain::checkpoint::CheckpointKey;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = checkpoints)]
pub struct CheckpointRow {
    pub id: String,
    pub fund_id: String,
    pub seq: i64,
    pub hash: String,
    pub signed_at: i64,
    pub key_id: String,
    pub signature: String,
}

/// Signs the fund's current chain head, or returns the checkpoint that already signs it.
/// The boolean is true when a new checkpoint was written.
pub fn sign_head(
    conn: &mut DbConnection,
    key: &CheckpointKey,
    fund_id: &str,
) -> Result<(CheckpointRow, bool), StoreError> {
    let (seq, hash): (i64, String) = funds::table
        .find(fund_id)
        .select((funds::chain_seq, funds::chain_head))
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let key_id = key.key_id();
    let existing = checkpoints::table
        .filter(checkpoints::fund_id.eq(fund_id))
        .filter(checkpoints::seq.eq(seq))
        .filter(checkpoints::key_id.eq(&key_id))
        .select(CheckpointRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(row) = existing {
        return Ok((row, false));
    }
    let signed_at = crate::now_micros();
    let row = CheckpointRow {
        id: crate::new_row_id(),
        fund_id: fund_id.to_owned(),
        seq,
        signature: key.sign(fund_id, seq, &hash, signed_at),
        hash,
        signed_at,
        key_id,
    };
    // A concurrent signing of the same head wins the unique index: retry the transaction,
    // which then finds its checkpoint.
    diesel::insert_into(checkpoints::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| crate::error::unique_as(e, || StoreError::Retry))?;
    Ok((row, true))
}

/// The fund's checkpoints, newest first, before `before_seq` if given; `limit + 1` are read.
pub fn list(
    conn: &mut DbConnection,
    fund_id: &str,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<CheckpointRow>, StoreError> {
    let mut q = checkpoints::table
        .filter(checkpoints::fund_id.eq(fund_id))
        .select(CheckpointRow::as_select())
        .order((checkpoints::seq.desc(), checkpoints::signed_at.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(s) = before_seq {
        q = q.filter(checkpoints::seq.lt(s));
    }
    Ok(q.load(conn)?)
}

/// Funds whose chain has entries not yet covered by a checkpoint of `key_id`.
pub fn unsigned_heads(conn: &mut DbConnection, key_id: &str) -> Result<Vec<String>, StoreError> {
    let heads: Vec<(String, i64)> = funds::table
        .filter(funds::chain_seq.gt(0))
        .select((funds::id, funds::chain_seq))
        .load(conn)?;
    let mut out = Vec::new();
    for (id, seq) in heads {
        let signed: Option<i64> = checkpoints::table
            .filter(checkpoints::fund_id.eq(&id))
            .filter(checkpoints::key_id.eq(key_id))
            .select(diesel::dsl::max(checkpoints::seq))
            .first(conn)?;
        if signed.is_none_or(|s| s < seq) {
            out.push(id);
        }
    }
    Ok(out)
}
