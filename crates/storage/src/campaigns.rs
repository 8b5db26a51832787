//! Appeals (Decree 93/2021): receiving periods, extensions by decision, closing.

use crate::schema::{campaign_extensions, campaigns};
use crate::{now_micros, DbConnection, StoreError};
use diesel::prelude::*;
use domain::donations::{check_campaign_period, parse_date, vn_date};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaigns)]
pub struct CampaignRow {
    pub id: String,
    pub fund_id: String,
    pub name: String,
    pub appeal_ref: String,
    pub opens_on: String,
    pub closes_on: String,
    pub incident_id: Option<String>,
    pub bank_account_id: Option<String>,
    pub closed_at: Option<i64>,
    pub closed_by: Option<String>,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaign_extensions)]
pub struct ExtensionRow {
    pub id: String,
    pub campaign_id: String,
    pub previous_closes_on: String,
    pub closes_on: String,
    pub decision_ref: String,
    pub created_at: i64,
    pub created_by: String,
}

impl CampaignRow {
    /// Whether the campaign takes receipts dated `at`: inside its period and not closed.
    pub fn accepts(&self, at: i64) -> Result<(), StoreError> {
        if self.closed_at.is_some() {
            return Err(StoreError::rule(
                "campaign_closed",
                "the campaign is closed",
            ));
        }
        let day = vn_date(at)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        if day < self.opens_on {
            return Err(StoreError::rule(
                "campaign_not_open",
                format!("the campaign opens on {}", self.opens_on),
            ));
        }
        if day > self.closes_on {
            return Err(StoreError::rule(
                "campaign_closed",
                format!(
                    "the campaign's receiving period ended on {}",
                    self.closes_on
                ),
            ));
        }
        Ok(())
    }
}

pub fn insert(conn: &mut DbConnection, row: &CampaignRow) -> Result<(), StoreError> {
    check_campaign_period(
        parse_date("opens_on", &row.opens_on)?,
        parse_date("closes_on", &row.closes_on)?,
    )?;
    if let Some(b) = &row.bank_account_id {
        let banks = crate::funds::bank_accounts(conn, &row.fund_id)?;
        if !banks.iter().any(|x| &x.id == b) {
            return Err(domain::Invalid::new(
                "bank_account_id",
                "is not a bank account of this fund",
            )
            .into());
        }
    }
    diesel::insert_into(campaigns::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<CampaignRow, StoreError> {
    campaigns::table
        .find(id)
        .select(CampaignRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

pub fn extensions(conn: &mut DbConnection, id: &str) -> Result<Vec<ExtensionRow>, StoreError> {
    Ok(campaign_extensions::table
        .filter(campaign_extensions::campaign_id.eq(id))
        .order(campaign_extensions::id.asc())
        .select(ExtensionRow::as_select())
        .load(conn)?)
}

pub fn list_for_fund(
    conn: &mut DbConnection,
    fund_id: &str,
) -> Result<Vec<CampaignRow>, StoreError> {
    Ok(campaigns::table
        .filter(campaigns::fund_id.eq(fund_id))
        .order(campaigns::id.asc())
        .select(CampaignRow::as_select())
        .load(conn)?)
}

/// Extends the receiving period to `closes_on` by a recorded decision (beyond 90 days allowed).
pub fn extend(
    conn: &mut DbConnection,
    id: &str,
    closes_on: &str,
    decision_ref: &str,
    actor_id: &str,
) -> Result<CampaignRow, StoreError> {
    let c = get(conn, id)?;
    crate::ledger::lock_fund(conn, &c.fund_id)?;
    let c = get(conn, id)?;
    if c.closed_at.is_some() {
        return Err(StoreError::conflict(
            "campaign_closed",
            "a closed campaign cannot be extended",
        ));
    }
    let new = parse_date("closes_on", closes_on)?;
    if new <= parse_date("closes_on", &c.closes_on)? {
        return Err(domain::Invalid::new(
            "closes_on",
            format!("must be after the current closing date {}", c.closes_on),
        )
        .into());
    }
    let decision = domain::text::required("decision_ref", decision_ref, 200)?;
    diesel::insert_into(campaign_extensions::table)
        .values(&ExtensionRow {
            id: crate::new_row_id(),
            campaign_id: id.to_owned(),
            previous_closes_on: c.closes_on.clone(),
            closes_on: closes_on.to_owned(),
            decision_ref: decision,
            created_at: now_micros(),
            created_by: actor_id.to_owned(),
        })
        .execute(conn)?;
    diesel::update(campaigns::table.find(id))
        .set(campaigns::closes_on.eq(closes_on))
        .execute(conn)?;
    get(conn, id)
}

/// Closes the campaign for receipts, at most once.
pub fn close(conn: &mut DbConnection, id: &str, actor_id: &str) -> Result<CampaignRow, StoreError> {
    let c = get(conn, id)?;
    crate::ledger::lock_fund(conn, &c.fund_id)?;
    let n = diesel::update(
        campaigns::table
            .find(id)
            .filter(campaigns::closed_at.is_null()),
    )
    .set((
        campaigns::closed_at.eq(Some(now_micros())),
        campaigns::closed_by.eq(Some(actor_id)),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::conflict(
            "campaign_closed",
            "the campaign is already closed",
        ));
    }
    get(conn, id)
}
