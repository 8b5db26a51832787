//! User administration (admin only, within the admin's own scope).

use crate::auth::AuthUser;
use crate::error::{ApiError, FieldError};
use crate::extract::{decode_cursor, page_limit, Json, Page, Query};
use crate::routes::{rfc3339, UnitRef};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use domain::units::{Edition, UnitCode};
use domain::users::{NewPassword, Role, Username};
use storage::users::{NewUser, UserRow};

#[derive(serde::Serialize)]
pub struct UserView {
    id: String,
    username: String,
    display_name: String,
    role: String,
    scope_unit: Option<UnitRef>,
    disabled: bool,
    created_at: String,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role,
            scope_unit: u
                .scope_edition
                .zip(u.scope_code)
                .map(|(edition, code)| UnitRef { edition, code }),
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    password: String,
    display_name: String,
    role: String,
    scope_unit: Option<String>,
    scope_edition: Option<i64>,
}

fn collect<T>(errors: &mut Vec<FieldError>, r: Result<T, domain::Invalid>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(FieldError {
                field: e.field,
                message: e.message,
            });
            None
        }
    }
}

fn caller_scope(user: &AuthUser) -> Option<(i32, String)> {
    user.scope.as_ref().map(|s| (s.edition, s.path.clone()))
}

/// `POST /v1/users`.
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let b = body.0;
    let mut errors = Vec::new();
    let username = collect(&mut errors, Username::parse(&b.username));
    let password = collect(&mut errors, NewPassword::parse(&b.password));
    let display_name = collect(
        &mut errors,
        domain::text::required("display_name", &b.display_name, 200),
    );
    let role = collect(&mut errors, Role::parse(&b.role));
    let edition = collect(
        &mut errors,
        Edition::parse(b.scope_edition.unwrap_or(2025))
            .map_err(|e| domain::Invalid::new("scope_edition", e.message)),
    );
    let code = match &b.scope_unit {
        Some(c) => collect(&mut errors, UnitCode::parse("scope_unit", c)).map(Some),
        None => Some(None),
    };
    if let (Some(role), Some(None)) = (role, &code) {
        if !role.may_be_unscoped() {
            errors.push(FieldError {
                field: "scope_unit".into(),
                message: format!("is required for the role {}", role.as_str()),
            });
        }
    }
    let (
        Some(username),
        Some(password),
        Some(display_name),
        Some(role),
        Some(edition),
        Some(code),
        true,
    ) = (
        username,
        password,
        display_name,
        role,
        edition,
        code,
        errors.is_empty(),
    )
    else {
        return Err(ApiError::Validation(errors));
    };
    let hash = web::block(move || domain::users::hash_password(password.expose()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("password hashing: {e}")))?;
    let new_user = NewUser {
        username,
        display_name,
        password_hash: hash,
        role,
        scope: code.map(|c| (edition, c)),
        created_by: Some(user.id.clone()),
    };
    let within = caller_scope(&user);
    let row = state
        .write(&user, move |c, note| {
            let row = storage::users::create(
                c,
                &new_user,
                within.as_ref().map(|(e, p)| (*e, p.as_str())),
            )?;
            note_user(note, &row);
            Ok(row)
        })
        .await?;
    tracing::info!(user.id = %row.id, "user created");
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/users/{}", row.id)))
        .json(UserView::from(row)))
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/users`: the users whose scope lies inside the admin's own.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let limit = page_limit(query.0.limit)?;
    let after = query.0.cursor.as_deref().map(decode_cursor).transpose()?;
    let within = caller_scope(&user);
    let rows = state
        .read(move |c| {
            storage::users::list(
                c,
                within.as_ref().map(|(e, p)| (*e, p.as_str())),
                after.as_deref(),
                limit,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |u| u.id.clone(),
        UserView::from,
    )))
}

/// Loads a user the caller administers, or 404.
async fn administered(
    state: &AppState,
    caller: &AuthUser,
    id: String,
) -> Result<UserRow, ApiError> {
    let target = state.read(move |c| storage::users::get(c, &id)).await?;
    if caller.covers_scope(target.scope_edition, target.scope_path.as_deref()) {
        Ok(target)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `POST /v1/users/{id}/disable`: the user's tokens stop working at once.
pub async fn disable(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let target = administered(&state, &user, path.into_inner()).await?;
    if target.id == user.id {
        return Err(ApiError::Conflict {
            code: "cannot_disable_self",
            detail: "an admin cannot disable their own account".into(),
        });
    }
    let id = target.id.clone();
    let row = state
        .write(&user, move |c, note| {
            storage::users::set_disabled(c, &id, true)?;
            let row = storage::users::get(c, &id)?;
            note_user(note, &row);
            Ok(row)
        })
        .await?;
    tracing::info!(user.id = %target.id, "user disabled");
    Ok(HttpResponse::Ok().json(UserView::from(row)))
}

/// The audit note of a change to a user account, scoped by the account's own scope.
fn note_user(note: &mut crate::audit::Note, row: &storage::users::UserRow) {
    note.entity("user", &row.id)
        .detail(serde_json::to_value(UserView::from(row.clone())).unwrap_or_default());
    if let (Some(e), Some(p)) = (row.scope_edition, &row.scope_path) {
        note.unit(e, p);
    }
}
