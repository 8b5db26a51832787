//! Donors. Their contact details are personal data: never logged, shown only to staff who need
//! them, within the scope where the donor was recorded.

use crate::schema::donors;
use crate::{DbConnection, StoreError};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = donors)]
pub struct DonorRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub name_folded: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub tax_code: Option<String>,
    pub country: Option<String>,
    pub publish_name: bool,
    pub scope_edition: Option<i32>,
    pub scope_path: Option<String>,
    pub created_at: i64,
    pub created_by: String,
}

impl DonorRow {
    /// The name as the public may see it: the recorded name if the donor agreed, otherwise
    /// "Ẩn danh" (anonymous).
    pub fn public_name(&self) -> String {
        if self.publish_name {
            self.name.clone()
        } else {
            "Ẩn danh".to_owned()
        }
    }
}

pub fn insert(conn: &mut DbConnection, row: &DonorRow) -> Result<(), StoreError> {
    diesel::insert_into(donors::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<DonorRow, StoreError> {
    donors::table
        .find(id)
        .select(DonorRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Donors recorded inside `within` (or anywhere when `None`) whose name contains `q`, ignoring
/// diacritics.
pub fn search(
    conn: &mut DbConnection,
    within: Option<(i32, &str)>,
    q: Option<&str>,
    after_id: Option<&str>,
    limit: i64,
) -> Result<Vec<DonorRow>, StoreError> {
    let mut query = donors::table
        .select(DonorRow::as_select())
        .order(donors::id.asc())
        .limit(limit + 1)
        .into_boxed();
    if let Some((edition, root)) = within {
        let below = format!("{}/%", crate::units::like_escape(root));
        query = query.filter(donors::scope_edition.eq(edition)).filter(
            donors::scope_path
                .eq(root.to_owned())
                .or(donors::scope_path.like(below).escape('\\')),
        );
    }
    if let Some(q) = q {
        let pattern = format!("%{}%", crate::units::like_escape(&domain::text::fold(q)));
        query = query.filter(donors::name_folded.like(pattern).escape('\\'));
    }
    if let Some(a) = after_id {
        query = query.filter(donors::id.gt(a.to_owned()));
    }
    Ok(query.load(conn)?)
}
