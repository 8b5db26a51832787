//! Assets: currencies and goods, each with a fixed number of decimal places.

use crate::schema::assets;
use crate::{DbConnection, StoreError};
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = assets)]
pub struct AssetRow {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub scale: i32,
    pub kind: String,
    pub created_at: i64,
}

impl AssetRow {
    pub fn scale(&self) -> u32 {
        u32::try_from(self.scale).unwrap_or(0)
    }
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<AssetRow>, StoreError> {
    Ok(assets::table
        .select(AssetRow::as_select())
        .order(assets::code.asc())
        .load(conn)?)
}

/// Every asset, kept in memory between requests. An asset is never changed or deleted once
/// created (no statement does either), so a list read earlier can only lack the assets created
/// since: [`Cache::covering`] reads the table again when asked for a code it does not hold.
/// It saves a query in each donation and each public receipt lookup. Call it only in
/// transactions that create no asset (a rolled-back asset must not be kept).
#[derive(Debug, Default)]
pub struct Cache(std::sync::RwLock<std::sync::Arc<Vec<AssetRow>>>);

impl Cache {
    /// Every asset, the held list if it names each of `codes` (a code that names no asset
    /// makes it read the table, and the caller refuses the code as before).
    pub fn covering<'a>(
        &self,
        conn: &mut DbConnection,
        codes: impl IntoIterator<Item = &'a str>,
    ) -> Result<std::sync::Arc<Vec<AssetRow>>, StoreError> {
        let held = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut codes = codes.into_iter();
        if !held.is_empty() && codes.all(|code| held.iter().any(|a| a.code == code)) {
            return Ok(held);
        }
        let fresh = std::sync::Arc::new(list(conn)?);
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh.clone();
        Ok(fresh)
    }
}

/// The asset, or a field error naming `field` when there is no such asset.
pub fn get(conn: &mut DbConnection, field: &str, code: &str) -> Result<AssetRow, StoreError> {
    assets::table
        .find(code)
        .select(AssetRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| unknown(field, code))
}

/// The field error for an asset code that names no asset.
pub(crate) fn unknown(field: &str, code: &str) -> StoreError {
    domain::Invalid::new(field, format!("unknown asset {code}")).into()
}

/// Decimal places per asset code.
pub fn scales(conn: &mut DbConnection) -> Result<HashMap<String, u32>, StoreError> {
    Ok(scales_of(&list(conn)?))
}

/// Decimal places per asset code, of assets already read.
pub fn scales_of(assets: &[AssetRow]) -> HashMap<String, u32> {
    assets.iter().map(|a| (a.code.clone(), a.scale())).collect()
}

pub fn insert(conn: &mut DbConnection, row: &AssetRow) -> Result<(), StoreError> {
    let exists: bool =
        diesel::select(diesel::dsl::exists(assets::table.find(&row.code))).get_result(conn)?;
    if exists {
        return Err(StoreError::conflict(
            "asset_exists",
            format!("the asset {} already exists", row.code),
        ));
    }
    diesel::insert_into(assets::table)
        .values(row)
        .execute(conn)
        .map_err(|e| {
            crate::error::unique_as(e, || {
                StoreError::conflict(
                    "asset_exists",
                    format!("the asset {} already exists", row.code),
                )
            })
        })?;
    Ok(())
}
