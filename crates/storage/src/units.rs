//! Administrative units: import of the official lists and queries over the tree.

use crate::schema::units;
use crate::{with_inner, DbConnection, StoreError};
use diesel::prelude::*;
use domain::text;
use domain::units::{Edition, Level, UnitCode};
use std::collections::HashMap;

/// The official lists, shipped inside the binary (`data/` in the repository).
pub const EDITION_2024_CSV: &str = include_str!("../../../data/vn-units-2024.csv");
pub const EDITION_2025_CSV: &str = include_str!("../../../data/vn-units-2025.csv");

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = units)]
pub struct UnitRow {
    pub edition: i32,
    pub code: String,
    pub name: String,
    #[serde(skip)]
    pub name_folded: String,
    pub level: String,
    pub division_type: String,
    pub parent_code: Option<String>,
    pub path: String,
}

/// A row of a unit list that could not be read, with its line number (the header is line 1).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {reason}")]
pub struct ImportError {
    pub line: u64,
    pub reason: String,
}

/// Reads a unit list (`code,name,level,division_type,parent_code`) and checks every row and the
/// tree it forms. Either every row is good or the first bad one is reported.
pub fn parse_csv(edition: Edition, data: &str) -> Result<Vec<UnitRow>, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(data.as_bytes());
    let header_err = |reason: String| ImportError { line: 1, reason };
    let headers = reader
        .headers()
        .map_err(|e| header_err(e.to_string()))?
        .clone();
    let expected = ["code", "name", "level", "division_type", "parent_code"];
    if headers.iter().map(str::trim).ne(expected.iter().copied()) {
        return Err(header_err(format!(
            "the header must be {}",
            expected.join(",")
        )));
    }
    let mut rows: Vec<UnitRow> = Vec::new();
    let mut seen: HashMap<String, (usize, Level)> = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let line = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(2);
        let bad = |reason: String| ImportError { line, reason };
        let record = record.map_err(|e| bad(e.to_string()))?;
        if record.len() != 5 {
            return Err(bad(format!("expected 5 fields, found {}", record.len())));
        }
        let field = |n: usize| record.get(n).unwrap_or_default().trim();
        let code = UnitCode::parse("code", field(0)).map_err(|e| bad(e.to_string()))?;
        let name = text::required("name", field(1), 200).map_err(|e| bad(e.to_string()))?;
        let level = Level::parse(field(2)).map_err(|e| bad(e.to_string()))?;
        if !code.matches_level(level) {
            return Err(bad(format!(
                "code {code} does not match level {}",
                level.as_str()
            )));
        }
        let division_type = text::normalize(field(3));
        let parent = match field(4) {
            "" => None,
            p => Some(UnitCode::parse("parent_code", p).map_err(|e| bad(e.to_string()))?),
        };
        let (parent_level, parent_path) = match &parent {
            None => (None, None),
            Some(p) => match seen.get(p.as_str()) {
                Some(&(idx, lvl)) => (Some(lvl), rows.get(idx).map(|r| r.path.clone())),
                None => return Err(bad(format!("parent {p} is not listed before this row"))),
            },
        };
        if !level.may_have_parent(parent_level) {
            return Err(bad(format!(
                "a {} cannot have {}",
                level.as_str(),
                parent_level.map_or("no parent".to_owned(), |l| format!(
                    "a {} parent",
                    l.as_str()
                ))
            )));
        }
        if seen.contains_key(code.as_str()) {
            return Err(bad(format!("code {code} appears twice")));
        }
        let path = match parent_path {
            Some(pp) => format!("{pp}/{code}"),
            None => code.to_string(),
        };
        seen.insert(code.to_string(), (rows.len(), level));
        rows.push(UnitRow {
            edition: edition.year(),
            code: code.to_string(),
            name_folded: text::fold(&name),
            name,
            level: level.as_str().to_owned(),
            division_type,
            parent_code: parent.map(|p| p.to_string()),
            path,
        });
    }
    if rows.is_empty() {
        return Err(ImportError {
            line: 2,
            reason: "the file has no units".to_owned(),
        });
    }
    Ok(rows)
}

/// What an import changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Writes the rows of one edition: new units are inserted, renamed or moved units updated. Units
/// absent from the file are kept, since funds and users may refer to them. Runs inside the
/// caller's transaction.
pub fn import(conn: &mut DbConnection, rows: &[UnitRow]) -> Result<ImportSummary, StoreError> {
    let Some(edition) = rows.first().map(|r| r.edition) else {
        return Ok(ImportSummary {
            inserted: 0,
            updated: 0,
            unchanged: 0,
        });
    };
    let existing: HashMap<String, UnitRow> = units::table
        .filter(units::edition.eq(edition))
        .select(UnitRow::as_select())
        .load::<UnitRow>(conn)?
        .into_iter()
        .map(|u| (u.code.clone(), u))
        .collect();
    let mut new_rows = Vec::new();
    let mut summary = ImportSummary {
        inserted: 0,
        updated: 0,
        unchanged: 0,
    };
    for row in rows {
        match existing.get(&row.code) {
            None => new_rows.push(row.clone()),
            Some(old)
                if old.name == row.name
                    && old.level == row.level
                    && old.division_type == row.division_type
                    && old.parent_code == row.parent_code
                    && old.path == row.path =>
            {
                summary.unchanged += 1
            }
            Some(_) => {
                diesel::update(units::table.find((row.edition, &row.code)))
                    .set((
                        units::name.eq(&row.name),
                        units::name_folded.eq(&row.name_folded),
                        units::level.eq(&row.level),
                        units::division_type.eq(&row.division_type),
                        units::parent_code.eq(&row.parent_code),
                        units::path.eq(&row.path),
                    ))
                    .execute(conn)?;
                summary.updated += 1;
            }
        }
    }
    // Parents precede children in `rows`, so chunks in order satisfy the foreign key.
    for chunk in new_rows.chunks(500) {
        with_inner!(conn, c => diesel::insert_into(units::table).values(chunk).execute(c))?;
    }
    summary.inserted = new_rows.len();
    Ok(summary)
}

/// Whether any unit of the edition is loaded.
pub fn edition_loaded(conn: &mut DbConnection, edition: Edition) -> Result<bool, StoreError> {
    Ok(diesel::select(diesel::dsl::exists(
        units::table.filter(units::edition.eq(edition.year())),
    ))
    .get_result(conn)?)
}

pub fn get(conn: &mut DbConnection, edition: Edition, code: &str) -> Result<UnitRow, StoreError> {
    units::table
        .find((edition.year(), code))
        .select(UnitRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Every ancestor of a unit, from the province down, then the unit itself.
pub fn lineage(conn: &mut DbConnection, unit: &UnitRow) -> Result<Vec<UnitRow>, StoreError> {
    let codes: Vec<&str> = unit.path.split('/').collect();
    let mut found = units::table
        .filter(units::edition.eq(unit.edition))
        .filter(units::code.eq_any(&codes))
        .select(UnitRow::as_select())
        .load::<UnitRow>(conn)?;
    found.sort_by_key(|u| u.path.len());
    Ok(found)
}

#[derive(Debug, Default)]
pub struct UnitFilter {
    pub parent: Option<String>,
    pub level: Option<Level>,
    pub query: Option<String>,
    pub after_code: Option<String>,
    pub limit: i64,
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Units of one edition in code order, filtered; `limit + 1` rows are read so the caller can
/// tell whether there is a next page.
pub fn list(
    conn: &mut DbConnection,
    edition: Edition,
    filter: &UnitFilter,
) -> Result<Vec<UnitRow>, StoreError> {
    let mut q = units::table
        .filter(units::edition.eq(edition.year()))
        .select(UnitRow::as_select())
        .order(units::code.asc())
        .limit(filter.limit + 1)
        .into_boxed();
    if let Some(p) = &filter.parent {
        q = q.filter(units::parent_code.eq(p.clone()));
    }
    if let Some(l) = filter.level {
        q = q.filter(units::level.eq(l.as_str()));
    }
    if let Some(text) = &filter.query {
        let pattern = format!("%{}%", like_escape(&text::fold(text)));
        q = q.filter(units::name_folded.like(pattern).escape('\\'));
    }
    if let Some(after) = &filter.after_code {
        q = q.filter(units::code.gt(after.clone()));
    }
    Ok(q.load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_lists_parse() {
        let a = parse_csv(Edition::parse(2024).unwrap(), EDITION_2024_CSV).unwrap();
        let b = parse_csv(Edition::parse(2025).unwrap(), EDITION_2025_CSV).unwrap();
        assert_eq!(a.len(), 10_810);
        assert_eq!(b.len(), 3_355);
        assert_eq!(b.iter().filter(|u| u.level == "province").count(), 34);
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let e = Edition::parse(2025).unwrap();
        let data = "code,name,level,division_type,parent_code\nP01,Hà Nội,province,tỉnh,\nC1,X,district,xã,P01\n";
        let err = parse_csv(e, data).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.reason.contains("does not match level"));
        let orphan = "code,name,level,division_type,parent_code\nC1,X,commune,xã,P09\n";
        assert_eq!(parse_csv(e, orphan).unwrap_err().line, 2);
        assert_eq!(parse_csv(e, "a,b\n").unwrap_err().line, 1);
    }
}
