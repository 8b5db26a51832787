//! Entitlement rules (Decree 20/2021/NĐ-CP, Decree 76/2024/NĐ-CP, province decisions) as data,
//! and their evaluation as pure functions.
//!
//! A rule set has a legal basis, a scope (national, or one province), effective dates, the
//! standard social-assistance level ("mức chuẩn") and rules. Each rule names a support category
//! (which fact of the assessment it pays for), its amount, and optionally the poverty statuses a
//! household must have. For an assessment, the national rule set in force on the incident's date
//! applies, and the province's rule set in force then, if any, overrides it rule by rule, never
//! paying less than the national rule.

use crate::money::{format_trimmed, parse_positive};
use crate::relief::{HouseDamage, PovertyStatus};
use crate::Invalid;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The support categories, each paid for by one fact of an assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Rice per person needing food per month (persons × months).
    Food,
    /// Per severely injured person, a multiple of the standard level.
    SevereInjury,
    /// Per death or missing person, a multiple of the standard level.
    Funeral,
    /// House collapsed, swept away or burned: a fixed amount per household.
    HouseCollapsed,
    /// Urgent relocation ordered by an authority: a fixed amount per household.
    HouseRelocation,
    /// House severely damaged, uninhabitable: a fixed amount per household.
    HouseSeverelyDamaged,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Self::Food,
        Self::SevereInjury,
        Self::Funeral,
        Self::HouseCollapsed,
        Self::HouseRelocation,
        Self::HouseSeverelyDamaged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Food => "food",
            Self::SevereInjury => "severe_injury",
            Self::Funeral => "funeral",
            Self::HouseCollapsed => "house_collapsed",
            Self::HouseRelocation => "house_relocation",
            Self::HouseSeverelyDamaged => "house_severely_damaged",
        }
    }

    fn house_damage(self) -> Option<HouseDamage> {
        match self {
            Self::HouseCollapsed => Some(HouseDamage::Collapsed),
            Self::HouseRelocation => Some(HouseDamage::Relocation),
            Self::HouseSeverelyDamaged => Some(HouseDamage::SeverelyDamaged),
            _ => None,
        }
    }
}

/// A rule as written in JSON (API and storage). Which amount field applies depends on the
/// category: `rice_kg_per_person_month` and `max_months` for food, `standard_level_multiple` for
/// injury and funeral, `amount_vnd` for housing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    pub category: Category,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rice_kg_per_person_month: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_months: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_level_multiple: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_vnd: Option<String>,
    /// The household must have one of these statuses; empty for every household.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poverty_status: Vec<PovertyStatus>,
    /// The provision and what it grants, as a reader should cite it.
    pub legal_ref: String,
}

/// How much a rule pays, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// Rice in grams (RICE_KG at scale 3) per person-month, for at most `max_months` months.
    RicePerPersonMonth { grams: i64, max_months: i64 },
    /// A multiple of the standard level, per person.
    StandardMultiple(i64),
    /// A fixed amount of đồng per household.
    FixedVnd(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub category: Category,
    pub amount: Amount,
    pub poverty_status: Vec<PovertyStatus>,
    pub legal_ref: String,
}

impl Rule {
    /// Checks a rule document; errors name `rules[i].<field>`.
    pub fn parse(i: usize, d: &RuleDoc) -> Result<Rule, Invalid> {
        let f = |n: &str| format!("rules[{i}].{n}");
        fn need(v: Option<&String>, field: String, category: Category) -> Result<&String, Invalid> {
            v.ok_or_else(|| Invalid::new(field, format!("is required for {}", category.as_str())))
        }
        let amount = match d.category {
            Category::Food => {
                let kg = need(
                    d.rice_kg_per_person_month.as_ref(),
                    f("rice_kg_per_person_month"),
                    d.category,
                )?;
                let grams = parse_positive(&f("rice_kg_per_person_month"), kg, 3)?;
                let max_months =
                    d.max_months
                        .filter(|m| (1..=12).contains(m))
                        .ok_or_else(|| {
                            Invalid::new(f("max_months"), "is required for food, from 1 to 12")
                        })?;
                Amount::RicePerPersonMonth { grams, max_months }
            }
            Category::SevereInjury | Category::Funeral => Amount::StandardMultiple(
                d.standard_level_multiple
                    .filter(|m| (1..=1000).contains(m))
                    .ok_or_else(|| {
                        Invalid::new(f("standard_level_multiple"), "is required, from 1 to 1000")
                    })?,
            ),
            _ => Amount::FixedVnd(parse_positive(
                &f("amount_vnd"),
                need(d.amount_vnd.as_ref(), f("amount_vnd"), d.category)?,
                0,
            )?),
        };
        let legal_ref = crate::text::required(&f("legal_ref"), &d.legal_ref, 500)?;
        Ok(Rule {
            category: d.category,
            amount,
            poverty_status: d.poverty_status.clone(),
            legal_ref,
        })
    }

    fn applies_to(&self, poverty: PovertyStatus) -> bool {
        self.poverty_status.is_empty() || self.poverty_status.contains(&poverty)
    }
}

/// A versioned rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    pub id: String,
    pub legal_basis: String,
    /// `None` for the national rule set; else the province (edition, code).
    pub province: Option<(i32, String)>,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
    pub standard_level_vnd: i64,
    pub rules: Vec<Rule>,
}

impl RuleSet {
    pub fn in_force_on(&self, day: NaiveDate) -> bool {
        self.effective_from <= day && self.effective_to.is_none_or(|to| day <= to)
    }

    fn rule(&self, c: Category) -> Option<&Rule> {
        self.rules.iter().find(|r| r.category == c)
    }

    /// Checks the rules: each category at most once.
    pub fn check_rules(rules: &[Rule]) -> Result<(), Invalid> {
        for (i, r) in rules.iter().enumerate() {
            if rules[..i].iter().any(|x| x.category == r.category) {
                return Err(Invalid::new(
                    format!("rules[{i}].category"),
                    "appears twice",
                ));
            }
        }
        Ok(())
    }

    /// Checks that a province rule set never pays less than a national one over their common
    /// dates: a standard level at least the national one, and each rule at least the national
    /// rule of its category, for at least the same households.
    pub fn check_not_below(&self, national: &RuleSet) -> Result<(), Invalid> {
        if self.standard_level_vnd < national.standard_level_vnd {
            return Err(Invalid::new(
                "standard_level_vnd",
                format!(
                    "is below the national standard level of {} đồng in force from {}",
                    national.standard_level_vnd, national.effective_from
                ),
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let Some(n) = national.rule(r.category) else {
                continue;
            };
            let f = |name: &str| format!("rules[{i}].{name}");
            let below = |name: &str, what: String| {
                Err(Invalid::new(
                    f(name),
                    format!(
                        "is below the national minimum of {what} ({})",
                        national.legal_basis
                    ),
                ))
            };
            match (r.amount, n.amount) {
                (
                    Amount::RicePerPersonMonth { grams, max_months },
                    Amount::RicePerPersonMonth {
                        grams: ng,
                        max_months: nm,
                    },
                ) => {
                    if grams < ng {
                        return below(
                            "rice_kg_per_person_month",
                            format!("{} kg", format_trimmed(ng, 3)),
                        );
                    }
                    if max_months < nm {
                        return below("max_months", format!("{nm} months"));
                    }
                }
                (Amount::StandardMultiple(m), Amount::StandardMultiple(nm)) if m < nm => {
                    return below(
                        "standard_level_multiple",
                        format!("{nm} times the standard level"),
                    );
                }
                (Amount::FixedVnd(v), Amount::FixedVnd(nv)) if v < nv => {
                    return below("amount_vnd", format!("{nv} đồng"));
                }
                _ => {}
            }
            if !r.poverty_status.is_empty()
                && (n.poverty_status.is_empty()
                    || n.poverty_status
                        .iter()
                        .any(|p| !r.poverty_status.contains(p)))
            {
                return Err(Invalid::new(
                    f("poverty_status"),
                    "must include every household the national rule covers",
                ));
            }
        }
        Ok(())
    }
}

/// The facts of a damage assessment that entitlements depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub poverty: PovertyStatus,
    pub deaths: i64,
    pub missing: i64,
    pub severely_injured: i64,
    pub house_damage: HouseDamage,
    pub people_needing_food: i64,
    pub months_of_food: i64,
}

/// A proposed support line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entitlement {
    pub category: Category,
    /// `VND` or `RICE_KG`.
    pub asset: &'static str,
    /// In minor units (đồng; grams of rice).
    pub amount: i64,
    /// How the amount was computed, in words a reader can check.
    pub basis: String,
    pub rule_set_id: String,
    pub legal_basis: String,
    pub legal_ref: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the entitlement amount overflows")]
pub struct Overflow;

fn mul(a: i64, b: i64) -> Result<i64, Overflow> {
    a.checked_mul(b).ok_or(Overflow)
}

/// The amount and explanation one rule gives for the facts, if it applies.
fn evaluate(set: &RuleSet, rule: &Rule, f: &Facts) -> Result<Option<(i64, String)>, Overflow> {
    if !rule.applies_to(f.poverty) {
        return Ok(None);
    }
    Ok(match (rule.category, rule.amount) {
        (Category::Food, Amount::RicePerPersonMonth { grams, max_months }) => {
            let months = f.months_of_food.min(max_months);
            if f.people_needing_food <= 0 || months <= 0 {
                return Ok(None);
            }
            let amount = mul(mul(grams, f.people_needing_food)?, months)?;
            Some((
                amount,
                format!(
                    "{} người × {months} tháng × {} kg",
                    f.people_needing_food,
                    format_trimmed(grams, 3)
                ),
            ))
        }
        (Category::SevereInjury | Category::Funeral, Amount::StandardMultiple(m)) => {
            let persons = if rule.category == Category::Funeral {
                f.deaths.checked_add(f.missing).ok_or(Overflow)?
            } else {
                f.severely_injured
            };
            if persons <= 0 {
                return Ok(None);
            }
            let amount = mul(mul(persons, m)?, set.standard_level_vnd)?;
            Some((
                amount,
                format!(
                    "{persons} người × {m} × mức chuẩn {} đồng",
                    set.standard_level_vnd
                ),
            ))
        }
        (c, Amount::FixedVnd(v)) if c.house_damage() == Some(f.house_damage) => {
            Some((v, format!("1 hộ × {v} đồng")))
        }
        _ => None,
    })
}

/// The support lines an assessment is owed under the national rule set and, where it has a rule
/// for the category, the province's: the province's amount, but never less than the national
/// one. Lines come in category order.
pub fn entitlements(
    national: &RuleSet,
    province: Option<&RuleSet>,
    f: &Facts,
) -> Result<Vec<Entitlement>, Overflow> {
    let mut out = Vec::new();
    for c in Category::ALL {
        let nat = match national.rule(c) {
            Some(r) => evaluate(national, r, f)?.map(|x| (national, r, x)),
            None => None,
        };
        let prov = match province.and_then(|p| p.rule(c).map(|r| (p, r))) {
            Some((p, r)) => evaluate(p, r, f)?.map(|x| (p, r, x)),
            None => None,
        };
        let chosen = match (nat, prov) {
            (Some(n), Some(p)) => Some(if p.2 .0 >= n.2 .0 { p } else { n }),
            (n, p) => p.or(n),
        };
        if let Some((set, rule, (amount, basis))) = chosen {
            out.push(Entitlement {
                category: c,
                asset: if c == Category::Food {
                    "RICE_KG"
                } else {
                    "VND"
                },
                amount,
                basis,
                rule_set_id: set.id.clone(),
                legal_basis: set.legal_basis.clone(),
                legal_ref: rule.legal_ref.clone(),
            });
        }
    }
    Ok(out)
}

/// The rule sets in force on `day` for a household of `province`: the national one (latest
/// effective date first) and the province's, if any.
pub fn in_force<'a>(
    sets: &'a [RuleSet],
    day: NaiveDate,
    province: &(i32, String),
) -> (Option<&'a RuleSet>, Option<&'a RuleSet>) {
    let pick = |want: Option<&(i32, String)>| {
        sets.iter()
            .filter(|s| s.province.as_ref() == want && s.in_force_on(day))
            .max_by_key(|s| (s.effective_from, s.id.clone()))
    };
    (pick(None), pick(Some(province)))
}

/// A rule set as written in JSON (API and storage), before its rules are checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSetDoc {
    pub legal_basis: String,
    pub effective_from: String,
    #[serde(default)]
    pub effective_to: Option<String>,
    pub standard_level_vnd: String,
    pub rules: Vec<RuleDoc>,
}

impl RuleSetDoc {
    /// Checks the document into a rule set with the given id and scope.
    pub fn parse(&self, id: String, province: Option<(i32, String)>) -> Result<RuleSet, Invalid> {
        let date = |field: &str, s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| Invalid::new(field, "must be a date such as 2024-07-01"))
        };
        let effective_from = date("effective_from", &self.effective_from)?;
        let effective_to = self
            .effective_to
            .as_deref()
            .map(|s| date("effective_to", s))
            .transpose()?;
        if effective_to.is_some_and(|to| to < effective_from) {
            return Err(Invalid::new(
                "effective_to",
                "must not be before effective_from",
            ));
        }
        if self.rules.is_empty() || self.rules.len() > 50 {
            return Err(Invalid::new("rules", "must have 1 to 50 rules"));
        }
        let rules = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| Rule::parse(i, r))
            .collect::<Result<Vec<_>, _>>()?;
        RuleSet::check_rules(&rules)?;
        Ok(RuleSet {
            id,
            legal_basis: crate::text::required("legal_basis", &self.legal_basis, 500)?,
            province,
            effective_from,
            effective_to,
            standard_level_vnd: parse_positive("standard_level_vnd", &self.standard_level_vnd, 0)?,
            rules,
        })
    }
}

/// The national minimums of Decree 20/2021/NĐ-CP, with the standard level of 360,000 đồng until
/// 2024-06-30 and of 500,000 đồng from 2024-07-01 (Decree 76/2024/NĐ-CP). Loaded on first start.
pub fn national_defaults() -> Vec<RuleSetDoc> {
    let housing = vec![
        PovertyStatus::Poor,
        PovertyStatus::NearPoor,
        PovertyStatus::Hardship,
    ];
    let rules = |basis: &str| {
        let r = |category, legal: &str| RuleDoc {
            category,
            rice_kg_per_person_month: None,
            max_months: None,
            standard_level_multiple: None,
            amount_vnd: None,
            poverty_status: Vec::new(),
            legal_ref: format!("{basis}: {legal}"),
        };
        vec![
            RuleDoc {
                rice_kg_per_person_month: Some("15".into()),
                max_months: Some(3),
                ..r(
                    Category::Food,
                    "hỗ trợ lương thực, 15 kg gạo/người/tháng, tối đa 3 tháng",
                )
            },
            RuleDoc {
                standard_level_multiple: Some(10),
                ..r(
                    Category::SevereInjury,
                    "hỗ trợ người bị thương nặng, 10 lần mức chuẩn",
                )
            },
            RuleDoc {
                standard_level_multiple: Some(50),
                ..r(
                    Category::Funeral,
                    "hỗ trợ chi phí mai táng, 50 lần mức chuẩn mỗi người chết, mất tích",
                )
            },
            RuleDoc {
                amount_vnd: Some("40000000".into()),
                poverty_status: housing.clone(),
                ..r(
                    Category::HouseCollapsed,
                    "hỗ trợ làm nhà ở khi nhà bị đổ, sập, trôi, cháy hoàn toàn",
                )
            },
            RuleDoc {
                amount_vnd: Some("30000000".into()),
                poverty_status: housing.clone(),
                ..r(
                    Category::HouseRelocation,
                    "hỗ trợ di dời nhà ở khẩn cấp theo quyết định của cơ quan có thẩm quyền",
                )
            },
            RuleDoc {
                amount_vnd: Some("20000000".into()),
                poverty_status: housing.clone(),
                ..r(
                    Category::HouseSeverelyDamaged,
                    "hỗ trợ sửa chữa nhà ở bị hư hỏng nặng, không ở được",
                )
            },
        ]
    };
    vec![
        RuleSetDoc {
            legal_basis: "Nghị định 20/2021/NĐ-CP".into(),
            effective_from: "2021-07-01".into(),
            effective_to: Some("2024-06-30".into()),
            standard_level_vnd: "360000".into(),
            rules: rules("Nghị định 20/2021/NĐ-CP"),
        },
        RuleSetDoc {
            legal_basis: "Nghị định 20/2021/NĐ-CP, mức chuẩn theo Nghị định 76/2024/NĐ-CP".into(),
            effective_from: "2024-07-01".into(),
            effective_to: None,
            standard_level_vnd: "500000".into(),
            rules: rules("Nghị định 20/2021/NĐ-CP"),
        },
    ]
}
