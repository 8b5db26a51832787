//! Users: accounts, roles and unit scopes.

use crate::schema::users;
use crate::{now_micros, DbConnection, StoreError};
use diesel::prelude::*;
use domain::ids::UserId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub scope_edition: Option<i32>,
    pub scope_code: Option<String>,
    pub scope_path: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    pub created_by: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub id: String,
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub scope_edition: Option<i32>,
    pub scope_code: Option<&'a str>,
    pub scope_path: Option<&'a str>,
    pub disabled: bool,
    pub created_at: i64,
    pub created_by: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &NewUserRow<'_>) -> Result<UserRow, StoreError> {
    let taken: bool = diesel::select(diesel::dsl::exists(
        users::table.filter(users::username.eq(row.username)),
    ))
    .get_result(conn)?;
    if taken {
        return Err(StoreError::conflict(
            "username_taken",
            "a user with this username already exists",
        ));
    }
    // A concurrent insert of the same name fails on the unique index: the same conflict.
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)
        .map_err(|e| {
            crate::error::unique_as(e, || {
                StoreError::conflict("username_taken", "a user with this username already exists")
            })
        })?;
    get(conn, &row.id)
}

pub fn new_id() -> String {
    UserId::new().to_string()
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<UserRow, StoreError> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

pub fn by_username(conn: &mut DbConnection, username: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(users::table.count().get_result(conn)?)
}

/// Users whose scope lies inside `within` (a unit path of `edition`), or every user when `within`
/// is `None`; in creation order after the cursor id.
pub fn list(
    conn: &mut DbConnection,
    within: Option<(i32, &str)>,
    after_id: Option<&str>,
    limit: i64,
) -> Result<Vec<UserRow>, StoreError> {
    let mut q = users::table
        .select(UserRow::as_select())
        .order(users::id.asc())
        .limit(limit + 1)
        .into_boxed();
    if let Some((edition, root)) = within {
        let below = format!("{}/%", crate::units::like_escape(root));
        q = q.filter(users::scope_edition.eq(edition)).filter(
            users::scope_path
                .eq(root.to_owned())
                .or(users::scope_path.like(below).escape('\\')),
        );
    }
    if let Some(after) = after_id {
        q = q.filter(users::id.gt(after.to_owned()));
    }
    Ok(q.load(conn)?)
}

pub fn set_disabled(conn: &mut DbConnection, id: &str, disabled: bool) -> Result<(), StoreError> {
    let n = diesel::update(users::table.find(id))
        .set(users::disabled.eq(disabled))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A user to create; the password is already hashed (hashing is slow and stays outside the
/// transaction).
pub struct NewUser {
    pub username: domain::users::Username,
    pub display_name: String,
    pub password_hash: String,
    pub role: domain::users::Role,
    pub scope: Option<(domain::units::Edition, domain::units::UnitCode)>,
    pub created_by: Option<String>,
}

/// Creates a user, resolving the scope unit; an unknown unit is a field error on `scope_unit`.
/// `within` is the creator's own scope (edition, path): the new scope must lie inside it.
pub fn create(
    conn: &mut DbConnection,
    user: &NewUser,
    within: Option<(i32, &str)>,
) -> Result<UserRow, StoreError> {
    let scope = match &user.scope {
        None => None,
        Some((edition, code)) => match crate::units::get(conn, *edition, code.as_str()) {
            Ok(u) => Some(u),
            Err(StoreError::NotFound) => {
                return Err(domain::Invalid::new(
                    "scope_unit",
                    format!("no unit {code} in the {edition} edition"),
                )
                .into())
            }
            Err(e) => return Err(e),
        },
    };
    if let Some((edition, root)) = within {
        let inside = scope
            .as_ref()
            .is_some_and(|u| u.edition == edition && domain::units::path_within(&u.path, root));
        if !inside {
            return Err(
                domain::Invalid::new("scope_unit", "must lie inside your own scope").into(),
            );
        }
    }
    insert(
        conn,
        &NewUserRow {
            id: new_id(),
            username: user.username.as_str(),
            display_name: &user.display_name,
            password_hash: &user.password_hash,
            role: user.role.as_str(),
            scope_edition: scope.as_ref().map(|u| u.edition),
            scope_code: scope.as_ref().map(|u| u.code.as_str()),
            scope_path: scope.as_ref().map(|u| u.path.as_str()),
            disabled: false,
            created_at: now_micros(),
            created_by: user.created_by.clone(),
        },
    )
}
