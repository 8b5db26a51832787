//! Small server-wide values kept in the database (a generated signing secret, for instance).

use crate::schema::settings;
use crate::{DbConnection, StoreError};
use diesel::prelude::*;

pub fn get(conn: &mut DbConnection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(settings::table
        .find(key)
        .select(settings::value)
        .first::<String>(conn)
        .optional()?)
}

/// Returns the stored value for `key`, storing `make()` first if there is none.
pub fn get_or_insert(
    conn: &mut DbConnection,
    key: &str,
    make: impl FnOnce() -> String,
) -> Result<String, StoreError> {
    if let Some(v) = get(conn, key)? {
        return Ok(v);
    }
    let value = make();
    diesel::insert_into(settings::table)
        .values((settings::key.eq(key), settings::value.eq(&value)))
        .execute(conn)?;
    Ok(value)
}
