//! Incidents, households, damage assessments and entitlement rule sets.

use crate::schema::{
    assessments, household_members, households, incident_units, incidents, policies,
};
use crate::{now_micros, with_inner, DbConnection, StoreError};
use diesel::prelude::*;
use domain::policy::{RuleSet, RuleSetDoc};
use domain::Invalid;

// ---------------------------------------------------------------- incidents

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incidents)]
pub struct IncidentRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub status: String,
    pub closed_at: Option<i64>,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incident_units)]
pub struct IncidentUnitRow {
    pub incident_id: String,
    pub unit_edition: i32,
    pub unit_code: String,
    pub unit_path: String,
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub row: IncidentRow,
    pub units: Vec<IncidentUnitRow>,
}

impl Incident {
    /// Whether the unit at `path` of `edition` lies in one of the affected units' subtrees.
    pub fn affects(&self, edition: i32, path: &str) -> bool {
        self.units
            .iter()
            .any(|u| u.unit_edition == edition && domain::units::path_within(path, &u.unit_path))
    }
}

pub fn create_incident(
    conn: &mut DbConnection,
    row: &IncidentRow,
    units: &[crate::units::UnitRow],
) -> Result<Incident, StoreError> {
    diesel::insert_into(incidents::table)
        .values(row)
        .execute(conn)?;
    let rows: Vec<IncidentUnitRow> = units
        .iter()
        .map(|u| IncidentUnitRow {
            incident_id: row.id.clone(),
            unit_edition: u.edition,
            unit_code: u.code.clone(),
            unit_path: u.path.clone(),
        })
        .collect();
    with_inner!(conn, c => diesel::insert_into(incident_units::table).values(&rows).execute(c))?;
    incident(conn, &row.id)
}

pub fn incident(conn: &mut DbConnection, id: &str) -> Result<Incident, StoreError> {
    let row = incidents::table
        .find(id)
        .select(IncidentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let units = incident_units::table
        .filter(incident_units::incident_id.eq(id))
        .order((
            incident_units::unit_edition.asc(),
            incident_units::unit_code.asc(),
        ))
        .select(IncidentUnitRow::as_select())
        .load(conn)?;
    Ok(Incident { row, units })
}

#[derive(Debug, Default, Clone)]
pub struct IncidentFilter {
    /// Only incidents affecting a unit that overlaps this subtree (inside it, or containing it).
    pub overlapping: Option<(i32, String)>,
    pub kind: Option<String>,
    pub status: Option<String>,
    /// Only incidents whose period overlaps [from, to).
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub after_id: Option<String>,
    pub limit: i64,
}

/// The ancestors of a path and the path itself (`P52`, `P52/C21583`), for overlap queries.
fn prefixes(path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('/').collect();
    (1..=parts.len()).map(|n| parts[..n].join("/")).collect()
}

pub fn incidents(conn: &mut DbConnection, f: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
    let mut q = incidents::table
        .select(IncidentRow::as_select())
        .order(incidents::id.asc())
        .limit(f.limit + 1)
        .into_boxed();
    if let Some((edition, path)) = &f.overlapping {
        let below = format!("{}/%", crate::units::like_escape(path));
        let ids = incident_units::table
            .filter(incident_units::unit_edition.eq(*edition))
            .filter(
                incident_units::unit_path
                    .eq_any(prefixes(path))
                    .or(incident_units::unit_path.like(below).escape('\\')),
            )
            .select(incident_units::incident_id);
        q = q.filter(incidents::id.eq_any(ids));
    }
    if let Some(k) = &f.kind {
        q = q.filter(incidents::kind.eq(k.clone()));
    }
    if let Some(s) = &f.status {
        q = q.filter(incidents::status.eq(s.clone()));
    }
    if let Some(to) = f.to {
        q = q.filter(incidents::started_at.lt(to));
    }
    if let Some(from) = f.from {
        q = q.filter(
            incidents::ended_at
                .is_null()
                .or(incidents::ended_at.ge(from)),
        );
    }
    if let Some(a) = &f.after_id {
        q = q.filter(incidents::id.gt(a.clone()));
    }
    let rows: Vec<IncidentRow> = q.load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut units: std::collections::HashMap<String, Vec<IncidentUnitRow>> = Default::default();
    for u in incident_units::table
        .filter(incident_units::incident_id.eq_any(&ids))
        .order((
            incident_units::unit_edition.asc(),
            incident_units::unit_code.asc(),
        ))
        .select(IncidentUnitRow::as_select())
        .load::<IncidentUnitRow>(conn)?
    {
        units.entry(u.incident_id.clone()).or_default().push(u);
    }
    Ok(rows
        .into_iter()
        .map(|row| Incident {
            units: units.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

/// Closes an open incident, at most once.
pub fn close_incident(
    conn: &mut DbConnection,
    id: &str,
    ended_at: Option<i64>,
) -> Result<Incident, StoreError> {
    let inc = incident(conn, id)?;
    let ended = ended_at.or(inc.row.ended_at).unwrap_or_else(now_micros);
    if ended < inc.row.started_at {
        return Err(Invalid::new("ended_at", "must not be before the incident started").into());
    }
    let n = diesel::update(
        incidents::table
            .find(id)
            .filter(incidents::status.eq("open")),
    )
    .set((
        incidents::status.eq("closed"),
        incidents::closed_at.eq(Some(now_micros())),
        incidents::ended_at.eq(Some(ended)),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::conflict(
            "incident_closed",
            "the incident is already closed",
        ));
    }
    incident(conn, id)
}

// ---------------------------------------------------------------- households

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = households)]
pub struct HouseholdRow {
    pub id: String,
    pub unit_edition: i32,
    pub unit_code: String,
    pub unit_path: String,
    pub head_name: String,
    pub head_name_folded: String,
    pub address: String,
    pub poverty_status: String,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = household_members)]
pub struct MemberRow {
    pub id: String,
    pub household_id: String,
    pub idx: i32,
    pub name: String,
    pub birth_year: i32,
    pub sex: String,
    pub flags: String,
    pub is_head: bool,
    pub id_hmac: Option<String>,
    pub id_last4: Option<String>,
    pub unit_edition: i32,
    pub unit_code: String,
}

#[derive(Debug, Clone)]
pub struct Household {
    pub row: HouseholdRow,
    pub members: Vec<MemberRow>,
}

/// Registers a household and its members (the head is member 0). A national ID already
/// registered in the same commune, or already heading a household anywhere, is refused naming
/// the member's field.
pub fn create_household(
    conn: &mut DbConnection,
    row: &HouseholdRow,
    members: &[MemberRow],
) -> Result<Household, StoreError> {
    for (i, m) in members.iter().enumerate() {
        let Some(h) = &m.id_hmac else { continue };
        let field = if m.is_head {
            "national_id".to_owned()
        } else {
            format!("members[{}].national_id", i - 1)
        };
        if members[..i].iter().any(|x| x.id_hmac.as_ref() == Some(h)) {
            return Err(Invalid::new(field, "appears twice in this household").into());
        }
        let same_commune: bool = diesel::select(diesel::dsl::exists(
            household_members::table
                .filter(household_members::id_hmac.eq(h))
                .filter(household_members::unit_edition.eq(row.unit_edition))
                .filter(household_members::unit_code.eq(&row.unit_code)),
        ))
        .get_result(conn)?;
        if same_commune {
            return Err(StoreError::conflict(
                "duplicate_person",
                format!("{field}: this person is already registered in this commune"),
            ));
        }
        if m.is_head {
            let heads: bool = diesel::select(diesel::dsl::exists(
                household_members::table
                    .filter(household_members::id_hmac.eq(h))
                    .filter(household_members::is_head.eq(true)),
            ))
            .get_result(conn)?;
            if heads {
                return Err(StoreError::conflict(
                    "duplicate_person",
                    format!("{field}: this person already heads a household"),
                ));
            }
        }
    }
    diesel::insert_into(households::table)
        .values(row)
        .execute(conn)?;
    with_inner!(conn, c => diesel::insert_into(household_members::table).values(members).execute(c))
        .map_err(|e| crate::error::unique_as(e, || StoreError::conflict("duplicate_person", "national_id: this person is already registered")))?;
    household(conn, &row.id)
}

pub fn household(conn: &mut DbConnection, id: &str) -> Result<Household, StoreError> {
    let row = households::table
        .find(id)
        .select(HouseholdRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let members = household_members::table
        .filter(household_members::household_id.eq(id))
        .order(household_members::idx.asc())
        .select(MemberRow::as_select())
        .load(conn)?;
    Ok(Household { row, members })
}

#[derive(Debug, Default, Clone)]
pub struct HouseholdFilter {
    pub within: Option<(i32, String)>,
    pub query: Option<String>,
    pub after_id: Option<String>,
    pub limit: i64,
}

pub fn households(
    conn: &mut DbConnection,
    f: &HouseholdFilter,
) -> Result<Vec<Household>, StoreError> {
    let mut q = households::table
        .select(HouseholdRow::as_select())
        .order(households::id.asc())
        .limit(f.limit + 1)
        .into_boxed();
    if let Some((edition, root)) = &f.within {
        let below = format!("{}/%", crate::units::like_escape(root));
        q = q.filter(households::unit_edition.eq(*edition)).filter(
            households::unit_path
                .eq(root.clone())
                .or(households::unit_path.like(below).escape('\\')),
        );
    }
    if let Some(text) = &f.query {
        let pattern = format!("%{}%", crate::units::like_escape(&domain::text::fold(text)));
        q = q.filter(households::head_name_folded.like(pattern).escape('\\'));
    }
    if let Some(a) = &f.after_id {
        q = q.filter(households::id.gt(a.clone()));
    }
    let rows: Vec<HouseholdRow> = q.load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut members: std::collections::HashMap<String, Vec<MemberRow>> = Default::default();
    for m in household_members::table
        .filter(household_members::household_id.eq_any(&ids))
        .order((
            household_members::household_id.asc(),
            household_members::idx.asc(),
        ))
        .select(MemberRow::as_select())
        .load::<MemberRow>(conn)?
    {
        members.entry(m.household_id.clone()).or_default().push(m);
    }
    Ok(rows
        .into_iter()
        .map(|row| Household {
            members: members.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

// ---------------------------------------------------------------- assessments

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = assessments)]
pub struct AssessmentRow {
    pub id: String,
    pub incident_id: String,
    pub household_id: String,
    pub version: i32,
    pub supersedes_id: Option<String>,
    pub is_current: bool,
    pub deaths: i32,
    pub missing: i32,
    pub severely_injured: i32,
    pub house_damage: String,
    pub people_needing_food: i32,
    pub months_of_food: i32,
    pub assessor: String,
    pub assessed_on: String,
    pub note: Option<String>,
    pub recorded_at: i64,
    pub recorded_by: String,
}

/// Records an assessment; if the household already has one for the incident, this is a
/// correction: a new version that supersedes it, the old one kept. Call inside a write.
pub fn record_assessment(
    conn: &mut DbConnection,
    mut row: AssessmentRow,
) -> Result<AssessmentRow, StoreError> {
    let current: Option<AssessmentRow> = assessments::table
        .filter(assessments::incident_id.eq(&row.incident_id))
        .filter(assessments::household_id.eq(&row.household_id))
        .filter(assessments::is_current.eq(true))
        .select(AssessmentRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(old) = current {
        diesel::update(assessments::table.find(&old.id))
            .set(assessments::is_current.eq(false))
            .execute(conn)?;
        row.version = old.version + 1;
        row.supersedes_id = Some(old.id);
    } else {
        row.version = 1;
        row.supersedes_id = None;
    }
    row.is_current = true;
    diesel::insert_into(assessments::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| crate::error::unique_as(e, || StoreError::Retry))?;
    Ok(row)
}

pub fn assessment(conn: &mut DbConnection, id: &str) -> Result<AssessmentRow, StoreError> {
    assessments::table
        .find(id)
        .select(AssessmentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Every version of the household's assessment for the incident, oldest first.
pub fn assessment_history(
    conn: &mut DbConnection,
    incident_id: &str,
    household_id: &str,
) -> Result<Vec<AssessmentRow>, StoreError> {
    Ok(assessments::table
        .filter(assessments::incident_id.eq(incident_id))
        .filter(assessments::household_id.eq(household_id))
        .order(assessments::version.asc())
        .select(AssessmentRow::as_select())
        .load(conn)?)
}

/// The current assessments of an incident, with their households.
pub fn current_assessments(
    conn: &mut DbConnection,
    incident_id: &str,
) -> Result<Vec<(AssessmentRow, HouseholdRow)>, StoreError> {
    Ok(assessments::table
        .inner_join(households::table)
        .filter(assessments::incident_id.eq(incident_id))
        .filter(assessments::is_current.eq(true))
        .order(assessments::id.asc())
        .select((AssessmentRow::as_select(), HouseholdRow::as_select()))
        .load(conn)?)
}

// ---------------------------------------------------------------- policies

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = policies)]
pub struct PolicyRow {
    pub id: String,
    pub legal_basis: String,
    pub province_edition: Option<i32>,
    pub province_code: Option<String>,
    pub effective_from: String,
    pub effective_to: Option<String>,
    pub standard_level_vnd: i64,
    pub rules: String,
    pub created_at: i64,
    pub created_by: Option<String>,
}

impl PolicyRow {
    /// The stored row as a checked rule set.
    pub fn rule_set(&self) -> Result<RuleSet, StoreError> {
        let rules: Vec<domain::policy::RuleDoc> =
            serde_json::from_str(&self.rules).map_err(|e| {
                StoreError::Internal(format!("stored rules of policy {}: {e}", self.id))
            })?;
        RuleSetDoc {
            legal_basis: self.legal_basis.clone(),
            effective_from: self.effective_from.clone(),
            effective_to: self.effective_to.clone(),
            standard_level_vnd: self.standard_level_vnd.to_string(),
            rules,
        }
        .parse(
            self.id.clone(),
            self.province_edition.zip(self.province_code.clone()),
        )
        .map_err(|e| StoreError::Internal(format!("stored policy {}: {e}", self.id)))
    }
}

pub fn policies(conn: &mut DbConnection) -> Result<Vec<PolicyRow>, StoreError> {
    Ok(policies::table
        .order(policies::id.asc())
        .select(PolicyRow::as_select())
        .load(conn)?)
}

/// Every rule set, checked.
pub fn rule_sets(conn: &mut DbConnection) -> Result<Vec<RuleSet>, StoreError> {
    policies(conn)?.iter().map(PolicyRow::rule_set).collect()
}

/// Stores a checked rule set. A province rule set must not go below any national rule set in
/// force during its dates.
pub fn insert_policy(
    conn: &mut DbConnection,
    set: &RuleSet,
    docs: &[domain::policy::RuleDoc],
    actor: Option<&str>,
) -> Result<PolicyRow, StoreError> {
    if set.province.is_some() {
        for national in rule_sets(conn)?.iter().filter(|n| n.province.is_none()) {
            let overlaps = national
                .effective_to
                .is_none_or(|to| set.effective_from <= to)
                && set
                    .effective_to
                    .is_none_or(|to| national.effective_from <= to);
            if overlaps {
                set.check_not_below(national)?;
            }
        }
    }
    let row = PolicyRow {
        id: set.id.clone(),
        legal_basis: set.legal_basis.clone(),
        province_edition: set.province.as_ref().map(|p| p.0),
        province_code: set.province.as_ref().map(|p| p.1.clone()),
        effective_from: set.effective_from.to_string(),
        effective_to: set.effective_to.map(|d| d.to_string()),
        standard_level_vnd: set.standard_level_vnd,
        rules: serde_json::to_string(docs).map_err(|e| StoreError::Internal(e.to_string()))?,
        created_at: now_micros(),
        created_by: actor.map(str::to_owned),
    };
    diesel::insert_into(policies::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// First start: loads the national defaults when no national rule set exists.
pub fn seed_national_policies(conn: &mut DbConnection) -> Result<usize, StoreError> {
    let any: bool = diesel::select(diesel::dsl::exists(
        policies::table.filter(policies::province_code.is_null()),
    ))
    .get_result(conn)?;
    if any {
        return Ok(0);
    }
    let docs = domain::policy::national_defaults();
    for doc in &docs {
        let set = doc.parse(crate::new_row_id(), None)?;
        insert_policy(conn, &set, &doc.rules, None)?;
    }
    Ok(docs.len())
}
