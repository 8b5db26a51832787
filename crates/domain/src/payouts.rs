//! Payouts: the spending categories of Decree 93/2021/NĐ-CP, the states of a disbursement, and
//! the plan of which money pays a line: matching earmarked money first, then unrestricted money
//! where the category allows it.

use crate::ledger::Designation;
use crate::Invalid;

str_enum!(SpendCategory, "category", {
    Food => "food",
    Water => "water",
    Medicine => "medicine",
    Essentials => "essentials",
    SevereInjury => "severe_injury",
    Funeral => "funeral",
    HouseCollapsed => "house_collapsed",
    HouseSeverelyDamaged => "house_severely_damaged",
    HouseRelocation => "house_relocation",
    Evacuation => "evacuation",
    Shelter => "shelter",
    Sanitation => "sanitation",
    Seeds => "seeds",
    Livestock => "livestock",
    Tools => "tools",
    PublicWorks => "public_works",
    Other => "other",
});

impl SpendCategory {
    /// Whether money given "without conditions or a named recipient" may pay for it (Decree
    /// 93/2021: injured, missing, funerals; food, water, medicine, essentials; rebuilding and
    /// repairing houses, urgent relocation; evacuation, shelters, sanitation, seeds, livestock,
    /// tools, repair of public works). Anything else needs money earmarked for it.
    pub fn unrestricted_allowed(self) -> bool {
        self != Self::Other
    }
}

str_enum!(DisbursementStatus, "status", {
    Proposed => "proposed",
    Approved => "approved",
    Rejected => "rejected",
    Cancelled => "cancelled",
    Paid => "paid",
});

impl DisbursementStatus {
    /// Whether an action may move a disbursement (or allocation) from this state.
    pub fn check(self, action: Action) -> Result<(), Invalid> {
        let ok = match action {
            Action::Approve | Action::Reject => self == Self::Proposed,
            Action::Cancel => matches!(self, Self::Proposed | Self::Approved),
            Action::Pay => self == Self::Approved,
        };
        if ok {
            Ok(())
        } else {
            Err(Invalid::new(
                "status",
                format!("a {} item cannot be {}", self.as_str(), action.past()),
            ))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Approve,
    Reject,
    Cancel,
    Pay,
}

impl Action {
    pub fn past(self) -> &'static str {
        match self {
            Self::Approve => "approved",
            Self::Reject => "rejected",
            Self::Cancel => "cancelled",
            Self::Pay => "paid",
        }
    }
}

str_enum!(PayMethod, "method", {
    Cash => "cash",
    Bank => "bank",
    Goods => "goods",
});

/// What a payout is for, to match earmarks against: the incident, the household's unit path
/// (`P52/C21583`, edition given), the household, and the words of the category and purpose.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub incident: Option<String>,
    pub unit: Option<(i32, String)>,
    pub household: Option<String>,
    pub purposes: Vec<String>,
}

impl Designation {
    /// Reads a designation key back (see [`Designation::key`]).
    pub fn parse_key(key: &str) -> Designation {
        let mut d = Designation::default();
        for part in key.split(';').filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("incident", v)) => d.incident = Some(v.to_owned()),
                Some(("unit", v)) => {
                    if let Some((e, c)) = v.split_once(':') {
                        d.unit = e.parse().ok().map(|e| (e, c.to_owned()));
                    }
                }
                Some(("household", v)) => d.household = Some(v.to_owned()),
                Some(("purpose", v)) => d.purpose = Some(v.to_owned()),
                _ => {}
            }
        }
        d
    }

    /// Whether money with this earmark may pay for `t`: every part the donor named must hold.
    pub fn matches(&self, t: &Target) -> bool {
        let incident = self
            .incident
            .as_ref()
            .is_none_or(|i| t.incident.as_ref() == Some(i));
        let unit = self.unit.as_ref().is_none_or(|(e, code)| {
            t.unit
                .as_ref()
                .is_some_and(|(te, path)| te == e && path.split('/').any(|seg| seg == code))
        });
        let household = self
            .household
            .as_ref()
            .is_none_or(|h| t.household.as_ref() == Some(h));
        let purpose = self.purpose.as_ref().is_none_or(|p| {
            let p = crate::text::fold(p);
            t.purposes.iter().any(|x| crate::text::fold(x) == p)
        });
        !self.is_unrestricted() && incident && unit && household && purpose
    }
}

/// One draw of a plan: an amount taken from the fund account of a designation ('' unrestricted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw {
    pub designation: String,
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the available balance is {available}, less than {needed}")]
    Insufficient { available: i64, needed: i64 },
    #[error("unrestricted money cannot pay for this category (Decree 93/2021); it needs money earmarked for it")]
    CategoryNotAllowed,
}

/// Plans how to pay `amount`: from matching earmarked money first (in designation order), then
/// from unrestricted money if `unrestricted_allowed`. `available` lists the fund's accounts of
/// the asset as (designation, available amount) and is reduced by the plan, so that several
/// lines can be planned one after the other.
pub fn plan_draws(
    available: &mut [(String, i64)],
    amount: i64,
    target: &Target,
    unrestricted_allowed: bool,
) -> Result<Vec<Draw>, PlanError> {
    let mut left = amount;
    let mut draws = Vec::new();
    let mut order: Vec<usize> = (0..available.len()).collect();
    order.sort_by(|a, b| available[*a].0.cmp(&available[*b].0));
    let earmarked = order.iter().copied().filter(|i| {
        !available[*i].0.is_empty() && Designation::parse_key(&available[*i].0).matches(target)
    });
    let unrestricted = order.iter().copied().filter(|i| available[*i].0.is_empty());
    let sources: Vec<usize> = if unrestricted_allowed {
        earmarked.chain(unrestricted).collect()
    } else {
        earmarked.collect()
    };
    let mut plan = Vec::new();
    for i in sources {
        if left == 0 {
            break;
        }
        let take = available[i].1.min(left);
        if take > 0 {
            plan.push((i, take));
            left -= take;
        }
    }
    if left > 0 {
        let total: i64 = plan.iter().map(|(_, t)| t).sum();
        let could_use_unrestricted = available.iter().any(|(d, a)| d.is_empty() && *a > 0);
        return Err(
            if !unrestricted_allowed && could_use_unrestricted && total < amount {
                PlanError::CategoryNotAllowed
            } else {
                PlanError::Insufficient {
                    available: total,
                    needed: amount,
                }
            },
        );
    }
    for (i, take) in plan {
        available[i].1 -= take;
        draws.push(Draw {
            designation: available[i].0.clone(),
            amount: take,
        });
    }
    Ok(draws)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            incident: Some("inc1".into()),
            unit: Some((2025, "P52/C21583".into())),
            household: Some("hh1".into()),
            purposes: vec!["food".into(), "gạo cứu đói".into()],
        }
    }

    #[test]
    fn earmarks_match_only_what_they_name() {
        let t = target();
        assert!(Designation::parse_key("incident=inc1").matches(&t));
        assert!(!Designation::parse_key("incident=inc2").matches(&t));
        assert!(Designation::parse_key("unit=2025:C21583").matches(&t));
        assert!(Designation::parse_key("unit=2025:P52").matches(&t));
        assert!(!Designation::parse_key("unit=2025:P01").matches(&t));
        assert!(!Designation::parse_key("unit=2024:P52").matches(&t));
        assert!(Designation::parse_key("household=hh1;purpose=Gao cuu doi").matches(&t));
        assert!(!Designation::parse_key("household=hh2").matches(&t));
        assert!(!Designation::parse_key("").matches(&t));
        let d = Designation::parse_key("incident=i;unit=2025:C1;household=h;purpose=p");
        assert_eq!(d.key(), "incident=i;unit=2025:C1;household=h;purpose=p");
    }

    #[test]
    fn plans_draw_earmarked_money_first() {
        let mut av = vec![
            ("".to_owned(), 1000),
            ("incident=inc1".to_owned(), 300),
            ("incident=other".to_owned(), 500),
        ];
        let plan = plan_draws(&mut av, 500, &target(), true).unwrap();
        assert_eq!(
            plan,
            vec![
                Draw {
                    designation: "incident=inc1".into(),
                    amount: 300
                },
                Draw {
                    designation: "".into(),
                    amount: 200
                }
            ]
        );
        assert_eq!(av[0].1, 800);
        assert_eq!(av[1].1, 0);
        assert_eq!(av[2].1, 500);
        let e = plan_draws(&mut av, 801, &target(), true).unwrap_err();
        assert_eq!(
            e,
            PlanError::Insufficient {
                available: 800,
                needed: 801
            }
        );
        assert_eq!(av[0].1, 800, "a failed plan takes nothing");
    }

    #[test]
    fn other_categories_need_earmarked_money() {
        let mut av = vec![("".to_owned(), 1000), ("incident=inc1".to_owned(), 100)];
        assert_eq!(
            plan_draws(&mut av, 200, &target(), false).unwrap_err(),
            PlanError::CategoryNotAllowed
        );
        assert_eq!(
            plan_draws(&mut av, 100, &target(), false).unwrap(),
            vec![Draw {
                designation: "incident=inc1".into(),
                amount: 100
            }]
        );
        assert!(!SpendCategory::Other.unrestricted_allowed());
        assert!(SpendCategory::Seeds.unrestricted_allowed());
    }

    #[test]
    fn transitions() {
        use DisbursementStatus::*;
        assert!(Proposed.check(Action::Approve).is_ok());
        assert!(Approved.check(Action::Approve).is_err());
        assert!(Proposed.check(Action::Pay).is_err());
        assert!(Approved.check(Action::Pay).is_ok());
        assert!(Paid.check(Action::Cancel).is_err());
        assert!(Approved.check(Action::Cancel).is_ok());
        assert!(Rejected.check(Action::Cancel).is_err());
        assert!(Paid.check(Action::Pay).is_err());
    }
}
