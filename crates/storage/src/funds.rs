//! Funds: a unit's emergency fund, its custodian and bank accounts.

use crate::schema::{fund_bank_accounts, funds};
use crate::{now_micros, DbConnection, StoreError};
use diesel::prelude::*;
use domain::ids::{BankAccountId, FundId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = funds)]
pub struct FundRow {
    pub id: String,
    pub unit_edition: i32,
    pub unit_code: String,
    pub unit_path: String,
    pub name: String,
    pub custodian: String,
    pub custodian_kind: String,
    pub created_at: i64,
    pub created_by: String,
    pub chain_seq: i64,
    pub chain_head: String,
    pub dual_approval_above_vnd: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = funds)]
struct NewFundRow<'a> {
    id: &'a str,
    unit_edition: i32,
    unit_code: &'a str,
    unit_path: &'a str,
    name: &'a str,
    custodian: &'a str,
    custodian_kind: &'a str,
    created_at: i64,
    created_by: &'a str,
    chain_seq: i64,
    chain_head: &'a str,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = fund_bank_accounts)]
pub struct BankAccountRow {
    pub id: String,
    pub fund_id: String,
    pub bank: String,
    pub account_number: String,
    pub account_name: String,
    pub created_at: i64,
}

pub struct NewBankAccount {
    pub bank: String,
    pub account_number: String,
    pub account_name: String,
}

pub struct NewFund {
    pub unit: crate::units::UnitRow,
    pub name: String,
    pub custodian: String,
    pub custodian_kind: String,
    pub bank_accounts: Vec<NewBankAccount>,
    pub created_by: String,
}

pub const CUSTODIAN_KINDS: [&str; 6] = [
    "fatherland_front",
    "red_cross",
    "social_affairs",
    "peoples_committee",
    "charity_fund",
    "other",
];

pub fn create(conn: &mut DbConnection, new: &NewFund) -> Result<FundRow, StoreError> {
    let id = FundId::new().to_string();
    let now = now_micros();
    let genesis = hex::encode(domain::ledger::GENESIS_HASH);
    diesel::insert_into(funds::table)
        .values(&NewFundRow {
            id: &id,
            unit_edition: new.unit.edition,
            unit_code: &new.unit.code,
            unit_path: &new.unit.path,
            name: &new.name,
            custodian: &new.custodian,
            custodian_kind: &new.custodian_kind,
            created_at: now,
            created_by: &new.created_by,
            chain_seq: 0,
            chain_head: &genesis,
        })
        .execute(conn)?;
    for (i, b) in new.bank_accounts.iter().enumerate() {
        let taken: bool = diesel::select(diesel::dsl::exists(
            fund_bank_accounts::table
                .filter(fund_bank_accounts::bank.eq(&b.bank))
                .filter(fund_bank_accounts::account_number.eq(&b.account_number)),
        ))
        .get_result(conn)?;
        if taken {
            return Err(domain::Invalid::new(
                format!("bank_accounts[{i}].account_number"),
                "this bank account already belongs to a fund",
            )
            .into());
        }
        diesel::insert_into(fund_bank_accounts::table)
            .values(&BankAccountRow {
                id: BankAccountId::new().to_string(),
                fund_id: id.clone(),
                bank: b.bank.clone(),
                account_number: b.account_number.clone(),
                account_name: b.account_name.clone(),
                created_at: now,
            })
            .execute(conn)
            .map_err(|e| {
                crate::error::unique_as(e, || {
                    domain::Invalid::new(
                        format!("bank_accounts[{i}].account_number"),
                        "this bank account already belongs to a fund",
                    )
                    .into()
                })
            })?;
    }
    get(conn, &id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<FundRow, StoreError> {
    funds::table
        .find(id)
        .select(FundRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

pub fn bank_accounts(
    conn: &mut DbConnection,
    fund_id: &str,
) -> Result<Vec<BankAccountRow>, StoreError> {
    Ok(fund_bank_accounts::table
        .filter(fund_bank_accounts::fund_id.eq(fund_id))
        .select(BankAccountRow::as_select())
        .order(fund_bank_accounts::id.asc())
        .load(conn)?)
}

#[derive(Debug, Default)]
pub struct FundFilter {
    /// Only funds of units inside this subtree: (edition, path).
    pub within: Option<(i32, String)>,
    pub edition: Option<i32>,
    pub after_id: Option<String>,
    pub limit: i64,
}

pub fn list(conn: &mut DbConnection, f: &FundFilter) -> Result<Vec<FundRow>, StoreError> {
    let mut q = funds::table
        .select(FundRow::as_select())
        .order(funds::id.asc())
        .limit(f.limit + 1)
        .into_boxed();
    if let Some((edition, root)) = &f.within {
        let below = format!("{}/%", crate::units::like_escape(root));
        q = q.filter(funds::unit_edition.eq(*edition)).filter(
            funds::unit_path
                .eq(root.clone())
                .or(funds::unit_path.like(below).escape('\\')),
        );
    }
    if let Some(e) = f.edition {
        q = q.filter(funds::unit_edition.eq(e));
    }
    if let Some(after) = &f.after_id {
        q = q.filter(funds::id.gt(after.clone()));
    }
    Ok(q.load(conn)?)
}
