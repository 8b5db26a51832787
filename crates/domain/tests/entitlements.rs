//! Table-driven tests of the entitlement rules in `domain::policy` against Decree 20/2021/NĐ-CP
//! (standard level 360,000 đồng until 2024-06-30, 500,000 đồng from 2024-07-01 by Decree
//! 76/2024/NĐ-CP): rice 15 kg per person per month for at most 3 months, severe injury 10 ×
//! the standard level per person, funeral 50 × the standard level per death or missing person,
//! housing 40,000,000 / 30,000,000 / 20,000,000 đồng for poor, near-poor and hardship households,
//! and province rule sets that may pay more but never less. Rice is in grams (RICE_KG, scale 3).

use chrono::NaiveDate;
use domain::policy::{
    entitlements, in_force, national_defaults, Amount, Category, Entitlement, Facts, Overflow,
    Rule, RuleDoc, RuleSet, RuleSetDoc,
};
use domain::relief::{HouseDamage, PovertyStatus};
use domain::Invalid;
use proptest::prelude::*;

const ND20: &str = "Nghị định 20/2021/NĐ-CP";
const ND76: &str = "Nghị định 20/2021/NĐ-CP, mức chuẩn theo Nghị định 76/2024/NĐ-CP";
const SET_2021: &str = "nd20-2021";
const SET_2024: &str = "nd20-2024";
const QNAM_ID: &str = "qnam-2025";
const QNAM_BASIS: &str = "Quyết định 48/2025/QĐ-UBND tỉnh Quảng Nam";
const RICE_15KG: i64 = 15_000;
const HOUSING: [PovertyStatus; 3] = [
    PovertyStatus::Poor,
    PovertyStatus::NearPoor,
    PovertyStatus::Hardship,
];

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn p48() -> (i32, String) {
    (2025, "P48".to_owned())
}

fn p49() -> (i32, String) {
    (2025, "P49".to_owned())
}

/// The national defaults, parsed with the ids `nd20-2021` and `nd20-2024`.
fn national() -> Vec<RuleSet> {
    let ids = [SET_2021, SET_2024];
    let docs = national_defaults();
    assert_eq!(docs.len(), 2, "two national rule sets");
    docs.iter()
        .zip(ids)
        .map(|(d, id)| match d.parse(id.to_owned(), None) {
            Ok(s) => s,
            Err(e) => panic!("national default {id} does not parse: {e}"),
        })
        .collect()
}

fn set_by_id<'a>(sets: &'a [RuleSet], id: &str) -> &'a RuleSet {
    match sets.iter().find(|s| s.id == id) {
        Some(s) => s,
        None => panic!("no rule set {id}"),
    }
}

/// The national rule set in force on a day (for any province).
fn national_on(sets: &[RuleSet], d: NaiveDate) -> &RuleSet {
    match in_force(sets, d, &p48()).0 {
        Some(s) => s,
        None => panic!("no national rule set in force on {d}"),
    }
}

/// No facts: nothing is owed.
fn nothing() -> Facts {
    Facts {
        poverty: PovertyStatus::NoPoverty,
        deaths: 0,
        missing: 0,
        severely_injured: 0,
        house_damage: HouseDamage::NoDamage,
        people_needing_food: 0,
        months_of_food: 0,
    }
}

/// Something in every category (a poor household whose house collapsed).
fn everything() -> Facts {
    Facts {
        poverty: PovertyStatus::Poor,
        deaths: 1,
        missing: 2,
        severely_injured: 2,
        house_damage: HouseDamage::Collapsed,
        people_needing_food: 4,
        months_of_food: 2,
    }
}

fn run(national: &RuleSet, province: Option<&RuleSet>, f: &Facts) -> Vec<Entitlement> {
    match entitlements(national, province, f) {
        Ok(v) => v,
        Err(e) => panic!("unexpected {e} for {f:?}"),
    }
}

/// (category, amount) of each line.
fn lines(v: &[Entitlement]) -> Vec<(Category, i64)> {
    v.iter().map(|e| (e.category, e.amount)).collect()
}

fn line(v: &[Entitlement], c: Category) -> Option<&Entitlement> {
    v.iter().find(|e| e.category == c)
}

fn amount_of(v: &[Entitlement], c: Category) -> Option<i64> {
    line(v, c).map(|e| e.amount)
}

fn doc(category: Category) -> RuleDoc {
    RuleDoc {
        category,
        rice_kg_per_person_month: None,
        max_months: None,
        standard_level_multiple: None,
        amount_vnd: None,
        poverty_status: Vec::new(),
        legal_ref: "Điều 5".to_owned(),
    }
}

fn food_doc(kg: &str, months: i64) -> RuleDoc {
    RuleDoc {
        rice_kg_per_person_month: Some(kg.to_owned()),
        max_months: Some(months),
        ..doc(Category::Food)
    }
}

fn multiple_doc(category: Category, m: i64) -> RuleDoc {
    RuleDoc {
        standard_level_multiple: Some(m),
        ..doc(category)
    }
}

fn vnd_doc(category: Category, amount: &str) -> RuleDoc {
    RuleDoc {
        amount_vnd: Some(amount.to_owned()),
        poverty_status: HOUSING.to_vec(),
        ..doc(category)
    }
}

fn rule(category: Category, amount: Amount, poverty: &[PovertyStatus]) -> Rule {
    Rule {
        category,
        amount,
        poverty_status: poverty.to_vec(),
        legal_ref: format!("Tỉnh: {}", category.as_str()),
    }
}

/// A Quảng Nam style province rule set: 60,000,000 đồng per collapsed house, from 2025-07-01.
fn qnam_doc() -> RuleSetDoc {
    RuleSetDoc {
        legal_basis: QNAM_BASIS.to_owned(),
        effective_from: "2025-07-01".to_owned(),
        effective_to: None,
        standard_level_vnd: "500000".to_owned(),
        rules: vec![RuleDoc {
            legal_ref: "Quyết định 48/2025: nhà sập 60 triệu".to_owned(),
            ..vnd_doc(Category::HouseCollapsed, "60000000")
        }],
    }
}

fn qnam() -> RuleSet {
    match qnam_doc().parse(QNAM_ID.to_owned(), Some(p48())) {
        Ok(s) => s,
        Err(e) => panic!("province set does not parse: {e}"),
    }
}

/// National 2024 plus the Quảng Nam set.
fn with_qnam() -> Vec<RuleSet> {
    let mut sets = national();
    sets.push(qnam());
    sets
}

/// A province set built directly (bypassing `check_not_below`) that pays less than national in
/// every category, with a lower standard level too.
fn lower_province() -> RuleSet {
    RuleSet {
        id: "low-2025".to_owned(),
        legal_basis: "Quyết định thấp hơn".to_owned(),
        province: Some(p48()),
        effective_from: day(2025, 1, 1),
        effective_to: None,
        standard_level_vnd: 400_000,
        rules: vec![
            rule(
                Category::Food,
                Amount::RicePerPersonMonth {
                    grams: 10_000,
                    max_months: 2,
                },
                &[],
            ),
            rule(Category::SevereInjury, Amount::StandardMultiple(10), &[]),
            rule(Category::Funeral, Amount::StandardMultiple(40), &[]),
            rule(
                Category::HouseCollapsed,
                Amount::FixedVnd(35_000_000),
                &HOUSING,
            ),
            rule(Category::HouseRelocation, Amount::FixedVnd(1), &HOUSING),
            rule(
                Category::HouseSeverelyDamaged,
                Amount::FixedVnd(19_999_999),
                &HOUSING,
            ),
        ],
    }
}

/// A province copy of the national 2024 set (equal in everything), to mutate in tests.
fn province_copy(sets: &[RuleSet]) -> RuleSet {
    let mut p = set_by_id(sets, SET_2024).clone();
    p.id = "copy".to_owned();
    p.legal_basis = "Bản sao".to_owned();
    p.province = Some(p48());
    p
}

fn field_of<T: std::fmt::Debug>(r: Result<T, Invalid>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.field,
    }
}

// ---------------------------------------------------------------------------------------------
// National defaults
// ---------------------------------------------------------------------------------------------

#[test]
fn national_defaults_parse_into_two_sets_with_dates_and_standard_levels() {
    let sets = national();
    let a = &sets[0];
    let b = &sets[1];
    assert_eq!(a.id, SET_2021);
    assert_eq!(a.legal_basis, ND20);
    assert_eq!(a.province, None);
    assert_eq!(a.effective_from, day(2021, 7, 1));
    assert_eq!(a.effective_to, Some(day(2024, 6, 30)));
    assert_eq!(a.standard_level_vnd, 360_000);
    assert_eq!(b.id, SET_2024);
    assert_eq!(b.legal_basis, ND76);
    assert_eq!(b.province, None);
    assert_eq!(b.effective_from, day(2024, 7, 1));
    assert_eq!(b.effective_to, None);
    assert_eq!(b.standard_level_vnd, 500_000);
    // The two sets touch without a gap or an overlap.
    assert_eq!(
        a.effective_to.and_then(|d| d.succ_opt()),
        Some(b.effective_from)
    );
}

#[test]
fn national_defaults_have_the_decree_20_rules() {
    for set in national() {
        let expected: Vec<(Category, Amount, Vec<PovertyStatus>)> = vec![
            (
                Category::Food,
                Amount::RicePerPersonMonth {
                    grams: RICE_15KG,
                    max_months: 3,
                },
                vec![],
            ),
            (Category::SevereInjury, Amount::StandardMultiple(10), vec![]),
            (Category::Funeral, Amount::StandardMultiple(50), vec![]),
            (
                Category::HouseCollapsed,
                Amount::FixedVnd(40_000_000),
                HOUSING.to_vec(),
            ),
            (
                Category::HouseRelocation,
                Amount::FixedVnd(30_000_000),
                HOUSING.to_vec(),
            ),
            (
                Category::HouseSeverelyDamaged,
                Amount::FixedVnd(20_000_000),
                HOUSING.to_vec(),
            ),
        ];
        let got: Vec<_> = set
            .rules
            .iter()
            .map(|r| (r.category, r.amount, r.poverty_status.clone()))
            .collect();
        assert_eq!(got, expected, "{}", set.id);
        for r in &set.rules {
            assert!(
                r.legal_ref.starts_with("Nghị định 20/2021/NĐ-CP: "),
                "{}: {}",
                set.id,
                r.legal_ref
            );
        }
        assert_eq!(RuleSet::check_rules(&set.rules), Ok(()));
    }
}

#[test]
fn national_defaults_survive_a_json_round_trip() {
    for d in national_defaults() {
        let json = serde_json::to_string(&d).unwrap();
        let back: RuleSetDoc = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.parse("x".into(), None),
            d.parse("x".into(), None),
            "{json}"
        );
    }
}

#[test]
fn category_names_match_json_names_and_all_is_in_declaration_order() {
    let names = [
        "food",
        "severe_injury",
        "funeral",
        "house_collapsed",
        "house_relocation",
        "house_severely_damaged",
    ];
    for (c, name) in Category::ALL.iter().zip(names) {
        assert_eq!(c.as_str(), name);
        assert_eq!(serde_json::to_string(c).unwrap(), format!("\"{name}\""));
    }
    let mut sorted = Category::ALL;
    sorted.sort();
    assert_eq!(sorted, Category::ALL);
}

#[test]
fn rule_docs_refuse_unknown_fields() {
    let ok = r#"{"category":"funeral","standard_level_multiple":50,"legal_ref":"Điều 5"}"#;
    let d: RuleDoc = serde_json::from_str(ok).unwrap();
    assert_eq!(d, multiple_doc(Category::Funeral, 50));
    let bad = r#"{"category":"funeral","standard_level_multiple":50,"legal_ref":"x","amount":1}"#;
    assert!(serde_json::from_str::<RuleDoc>(bad).is_err());
    let bad_cat = r#"{"category":"flood","legal_ref":"x"}"#;
    assert!(serde_json::from_str::<RuleDoc>(bad_cat).is_err());
}

// ---------------------------------------------------------------------------------------------
// in_force and the standard level per date
// ---------------------------------------------------------------------------------------------

#[test]
fn in_force_selects_the_national_set_by_date() {
    let sets = national();
    let table: [(NaiveDate, Option<(&str, i64)>); 7] = [
        (day(2020, 1, 1), None),
        (day(2021, 6, 30), None),
        (day(2021, 7, 1), Some((SET_2021, 360_000))),
        (day(2023, 10, 10), Some((SET_2021, 360_000))),
        (day(2024, 6, 30), Some((SET_2021, 360_000))),
        (day(2024, 7, 1), Some((SET_2024, 500_000))),
        (day(2030, 12, 31), Some((SET_2024, 500_000))),
    ];
    for (d, want) in table {
        let (nat, prov) = in_force(&sets, d, &p48());
        assert_eq!(
            nat.map(|s| (s.id.as_str(), s.standard_level_vnd)),
            want,
            "{d}"
        );
        assert!(prov.is_none(), "{d}: no province set exists");
    }
}

#[test]
fn in_force_does_not_depend_on_the_order_of_the_sets() {
    let mut sets = with_qnam();
    sets.reverse();
    for (d, want) in [
        (day(2024, 6, 30), SET_2021),
        (day(2024, 7, 1), SET_2024),
        (day(2025, 7, 1), SET_2024),
    ] {
        assert_eq!(
            in_force(&sets, d, &p48()).0.map(|s| s.id.as_str()),
            Some(want)
        );
    }
}

#[test]
fn every_category_under_both_standard_levels() {
    let sets = national();
    // (date, standard level): the edge dates and the first day.
    let table = [
        (day(2021, 7, 1), 360_000),
        (day(2024, 6, 30), 360_000),
        (day(2024, 7, 1), 500_000),
    ];
    for (d, level) in table {
        let nat = national_on(&sets, d);
        assert_eq!(nat.standard_level_vnd, level, "{d}");
        let got = run(nat, None, &everything());
        assert_eq!(
            lines(&got),
            vec![
                // 4 persons × 2 months × 15 kg.
                (Category::Food, 4 * 2 * RICE_15KG),
                // 2 persons × 10 × level.
                (Category::SevereInjury, 2 * 10 * level),
                // (1 death + 2 missing) × 50 × level.
                (Category::Funeral, 3 * 50 * level),
                (Category::HouseCollapsed, 40_000_000),
            ],
            "{d}"
        );
        for e in &got {
            assert_eq!(e.rule_set_id, nat.id, "{d} {:?}", e.category);
            assert_eq!(e.legal_basis, nat.legal_basis, "{d} {:?}", e.category);
        }
    }
    // Before the decree: nothing to evaluate.
    assert!(in_force(&sets, day(2021, 6, 30), &p48()).0.is_none());
}

#[test]
fn one_person_in_each_multiple_category_per_standard_level() {
    let sets = national();
    // (date, injury per person, funeral per person)
    let table = [
        (day(2021, 7, 1), 3_600_000, 18_000_000),
        (day(2024, 6, 30), 3_600_000, 18_000_000),
        (day(2024, 7, 1), 5_000_000, 25_000_000),
        (day(2026, 1, 1), 5_000_000, 25_000_000),
    ];
    for (d, injury, funeral) in table {
        let nat = national_on(&sets, d);
        let f = Facts {
            severely_injured: 1,
            deaths: 1,
            ..nothing()
        };
        assert_eq!(
            lines(&run(nat, None, &f)),
            vec![
                (Category::SevereInjury, injury),
                (Category::Funeral, funeral)
            ],
            "{d}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Food
// ---------------------------------------------------------------------------------------------

#[test]
fn food_is_persons_times_capped_months_times_15_kg() {
    let sets = national();
    // (persons, months, grams of rice or no line)
    let table: [(i64, i64, Option<i64>); 14] = [
        (1, 1, Some(15_000)),
        (1, 2, Some(30_000)),
        (1, 3, Some(45_000)),
        (4, 2, Some(120_000)),
        (4, 3, Some(180_000)),
        (4, 4, Some(180_000)),
        (4, 5, Some(180_000)),
        (7, 12, Some(315_000)),
        (1000, 3, Some(45_000_000)),
        (0, 3, None),
        (3, 0, None),
        (0, 0, None),
        (-1, 2, None),
        (2, -1, None),
    ];
    for d in [day(2021, 7, 1), day(2024, 6, 30), day(2024, 7, 1)] {
        let nat = national_on(&sets, d);
        for (persons, months, want) in table {
            let f = Facts {
                people_needing_food: persons,
                months_of_food: months,
                ..nothing()
            };
            let got = run(nat, None, &f);
            assert_eq!(
                lines(&got),
                want.map(|g| (Category::Food, g))
                    .into_iter()
                    .collect::<Vec<_>>(),
                "{d}: {persons} persons × {months} months"
            );
            if let Some(e) = got.first() {
                assert_eq!(e.asset, "RICE_KG");
                let capped = months.min(3);
                assert_eq!(e.basis, format!("{persons} người × {capped} tháng × 15 kg"));
            }
        }
    }
}

#[test]
fn food_does_not_depend_on_poverty_or_housing() {
    let nat = &national()[1];
    for &poverty in PovertyStatus::ALL {
        for &house_damage in HouseDamage::ALL {
            let f = Facts {
                poverty,
                house_damage,
                people_needing_food: 2,
                months_of_food: 3,
                ..nothing()
            };
            let got = run(nat, None, &f);
            assert_eq!(amount_of(&got, Category::Food), Some(90_000), "{f:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Funeral and severe injury
// ---------------------------------------------------------------------------------------------

#[test]
fn funeral_counts_deaths_and_missing() {
    let sets = national();
    // (deaths, missing, persons or no line)
    let table: [(i64, i64, Option<i64>); 7] = [
        (1, 0, Some(1)),
        (0, 1, Some(1)),
        (1, 1, Some(2)),
        (2, 3, Some(5)),
        (0, 4, Some(4)),
        (0, 0, None),
        (10, 0, Some(10)),
    ];
    for (d, level) in [(day(2024, 6, 30), 360_000), (day(2024, 7, 1), 500_000)] {
        let nat = national_on(&sets, d);
        for (deaths, missing, persons) in table {
            let f = Facts {
                deaths,
                missing,
                ..nothing()
            };
            let got = run(nat, None, &f);
            assert_eq!(
                lines(&got),
                persons
                    .map(|p| (Category::Funeral, p * 50 * level))
                    .into_iter()
                    .collect::<Vec<_>>(),
                "{d}: {deaths} deaths, {missing} missing"
            );
            if let (Some(p), Some(e)) = (persons, got.first()) {
                assert_eq!(e.asset, "VND");
                assert_eq!(e.basis, format!("{p} người × 50 × mức chuẩn {level} đồng"));
            }
        }
    }
}

#[test]
fn severe_injury_counts_severely_injured_only() {
    let sets = national();
    let table: [(i64, Option<i64>); 5] = [
        (0, None),
        (1, Some(1)),
        (3, Some(3)),
        (-2, None),
        (25, Some(25)),
    ];
    for (d, level) in [(day(2024, 6, 30), 360_000), (day(2024, 7, 1), 500_000)] {
        let nat = national_on(&sets, d);
        for (injured, persons) in table {
            let f = Facts {
                severely_injured: injured,
                ..nothing()
            };
            let got = run(nat, None, &f);
            assert_eq!(
                lines(&got),
                persons
                    .map(|p| (Category::SevereInjury, p * 10 * level))
                    .into_iter()
                    .collect::<Vec<_>>(),
                "{d}: {injured} injured"
            );
            if let (Some(p), Some(e)) = (persons, got.first()) {
                assert_eq!(e.asset, "VND");
                assert_eq!(e.basis, format!("{p} người × 10 × mức chuẩn {level} đồng"));
            }
        }
        // Injured persons do not count for the funeral, nor deaths for the injury.
        let f = Facts {
            deaths: 2,
            ..nothing()
        };
        assert_eq!(amount_of(&run(nat, None, &f), Category::SevereInjury), None);
        let f = Facts {
            severely_injured: 2,
            ..nothing()
        };
        assert_eq!(amount_of(&run(nat, None, &f), Category::Funeral), None);
    }
}

#[test]
fn nothing_is_owed_for_no_facts() {
    for set in national() {
        for &poverty in PovertyStatus::ALL {
            let f = Facts {
                poverty,
                ..nothing()
            };
            assert_eq!(run(&set, None, &f), vec![], "{} {poverty:?}", set.id);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Housing
// ---------------------------------------------------------------------------------------------

#[test]
fn housing_pays_the_one_matching_category_to_poor_near_poor_and_hardship() {
    let sets = national();
    let expected = |damage: HouseDamage| match damage {
        HouseDamage::Collapsed => Some((Category::HouseCollapsed, 40_000_000)),
        HouseDamage::Relocation => Some((Category::HouseRelocation, 30_000_000)),
        HouseDamage::SeverelyDamaged => Some((Category::HouseSeverelyDamaged, 20_000_000)),
        HouseDamage::NoDamage | HouseDamage::Damaged => None,
    };
    for d in [day(2021, 7, 1), day(2024, 6, 30), day(2024, 7, 1)] {
        let nat = national_on(&sets, d);
        for &poverty in PovertyStatus::ALL {
            for &house_damage in HouseDamage::ALL {
                let f = Facts {
                    poverty,
                    house_damage,
                    ..nothing()
                };
                let want = if poverty == PovertyStatus::NoPoverty {
                    None
                } else {
                    expected(house_damage)
                };
                let got = run(nat, None, &f);
                assert_eq!(
                    lines(&got),
                    want.into_iter().collect::<Vec<_>>(),
                    "{d}: {poverty:?} {house_damage:?}"
                );
                if let Some((_, v)) = want {
                    assert_eq!(got[0].asset, "VND");
                    assert_eq!(got[0].basis, format!("1 hộ × {v} đồng"));
                }
            }
        }
    }
}

#[test]
fn housing_is_one_line_per_household_whatever_the_persons() {
    let nat = &national()[1];
    let f = Facts {
        house_damage: HouseDamage::Relocation,
        poverty: PovertyStatus::Hardship,
        people_needing_food: 9,
        months_of_food: 1,
        deaths: 3,
        ..nothing()
    };
    let got = run(nat, None, &f);
    assert_eq!(
        lines(&got),
        vec![
            (Category::Food, 9 * RICE_15KG),
            (Category::Funeral, 3 * 50 * 500_000),
            (Category::HouseRelocation, 30_000_000),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Province overrides
// ---------------------------------------------------------------------------------------------

#[test]
fn province_set_parses_and_passes_the_national_check() {
    let sets = national();
    let q = qnam();
    assert_eq!(q.province, Some(p48()));
    assert_eq!(q.effective_from, day(2025, 7, 1));
    assert_eq!(q.rules.len(), 1);
    assert_eq!(q.rules[0].amount, Amount::FixedVnd(60_000_000));
    assert_eq!(q.check_not_below(set_by_id(&sets, SET_2024)), Ok(()));
    assert_eq!(q.check_not_below(set_by_id(&sets, SET_2021)), Ok(()));
}

#[test]
fn province_override_applies_to_its_province_only() {
    let sets = with_qnam();
    let f = everything();
    // (date, province, collapsed amount, set cited for it)
    let table: [(NaiveDate, (i32, String), i64, &str); 6] = [
        (day(2025, 7, 1), p48(), 60_000_000, QNAM_ID),
        (day(2026, 3, 1), p48(), 60_000_000, QNAM_ID),
        (day(2025, 6, 30), p48(), 40_000_000, SET_2024),
        (day(2025, 7, 1), p49(), 40_000_000, SET_2024),
        (
            day(2025, 7, 1),
            (2021, "P48".to_owned()),
            40_000_000,
            SET_2024,
        ),
        (day(2024, 7, 1), p48(), 40_000_000, SET_2024),
    ];
    for (d, prov_key, amount, cited) in table {
        let (nat, prov) = in_force(&sets, d, &prov_key);
        let nat = match nat {
            Some(n) => n,
            None => panic!("no national set on {d}"),
        };
        assert_eq!(nat.id, SET_2024);
        assert_eq!(
            prov.map(|p| p.id.as_str()),
            (cited == QNAM_ID).then_some(QNAM_ID),
            "{d} {prov_key:?}"
        );
        let got = run(nat, prov, &f);
        let e = match line(&got, Category::HouseCollapsed) {
            Some(e) => e,
            None => panic!("no housing line on {d} for {prov_key:?}"),
        };
        assert_eq!(e.amount, amount, "{d} {prov_key:?}");
        assert_eq!(e.rule_set_id, cited, "{d} {prov_key:?}");
        if cited == QNAM_ID {
            assert_eq!(e.legal_basis, QNAM_BASIS);
            assert_eq!(e.legal_ref, "Quyết định 48/2025: nhà sập 60 triệu");
            assert_eq!(e.basis, "1 hộ × 60000000 đồng");
        } else {
            assert_eq!(e.legal_basis, ND76);
        }
        // Every other category comes from the national set, unchanged.
        assert_eq!(
            lines(&got),
            vec![
                (Category::Food, 4 * 2 * RICE_15KG),
                (Category::SevereInjury, 2 * 10 * 500_000),
                (Category::Funeral, 3 * 50 * 500_000),
                (Category::HouseCollapsed, amount),
            ],
            "{d} {prov_key:?}"
        );
        for e in got
            .iter()
            .filter(|e| e.category != Category::HouseCollapsed)
        {
            assert_eq!(e.rule_set_id, SET_2024, "{:?}", e.category);
        }
    }
}

#[test]
fn province_set_without_a_rule_falls_back_to_national() {
    let sets = with_qnam();
    let (nat, prov) = in_force(&sets, day(2025, 8, 1), &p48());
    let (nat, prov) = (nat.unwrap(), prov.unwrap());
    // (damage, category, amount, set cited)
    let table = [
        (
            HouseDamage::Collapsed,
            Category::HouseCollapsed,
            60_000_000,
            QNAM_ID,
        ),
        (
            HouseDamage::Relocation,
            Category::HouseRelocation,
            30_000_000,
            SET_2024,
        ),
        (
            HouseDamage::SeverelyDamaged,
            Category::HouseSeverelyDamaged,
            20_000_000,
            SET_2024,
        ),
    ];
    for &poverty in &HOUSING {
        for (house_damage, category, amount, cited) in table {
            let f = Facts {
                poverty,
                house_damage,
                ..nothing()
            };
            let got = run(nat, Some(prov), &f);
            assert_eq!(
                lines(&got),
                vec![(category, amount)],
                "{poverty:?} {house_damage:?}"
            );
            assert_eq!(got[0].rule_set_id, cited);
        }
    }
    // The province rule also excludes households without poverty status.
    let f = Facts {
        poverty: PovertyStatus::NoPoverty,
        house_damage: HouseDamage::Collapsed,
        ..nothing()
    };
    assert_eq!(run(nat, Some(prov), &f), vec![]);
}

#[test]
fn province_rule_paying_less_never_pays_less_than_national() {
    let sets = national();
    let nat = set_by_id(&sets, SET_2024);
    let low = lower_province();
    assert!(low.check_not_below(nat).is_err());
    for &poverty in &HOUSING {
        for damage in [
            HouseDamage::Collapsed,
            HouseDamage::Relocation,
            HouseDamage::SeverelyDamaged,
        ] {
            let f = Facts {
                poverty,
                house_damage: damage,
                ..everything()
            };
            let with = run(nat, Some(&low), &f);
            let without = run(nat, None, &f);
            assert_eq!(with, without, "{poverty:?} {damage:?}");
            for e in &with {
                assert_eq!(e.rule_set_id, SET_2024, "{:?}", e.category);
                assert_eq!(e.legal_basis, ND76, "{:?}", e.category);
                assert!(e.legal_ref.starts_with(ND20), "{:?}", e.category);
            }
        }
    }
    // Months beyond the province's cap: still the national 3 months of 15 kg.
    let f = Facts {
        people_needing_food: 2,
        months_of_food: 3,
        ..nothing()
    };
    assert_eq!(
        lines(&run(nat, Some(&low), &f)),
        vec![(Category::Food, 90_000)]
    );
}

#[test]
fn province_rule_for_fewer_households_leaves_the_others_to_national() {
    let sets = national();
    let nat = set_by_id(&sets, SET_2024);
    let mut p = province_copy(&sets);
    p.rules = vec![rule(
        Category::HouseCollapsed,
        Amount::FixedVnd(60_000_000),
        &[PovertyStatus::Poor],
    )];
    // (poverty, amount, cited)
    let table = [
        (PovertyStatus::Poor, Some((60_000_000, "copy"))),
        (PovertyStatus::NearPoor, Some((40_000_000, SET_2024))),
        (PovertyStatus::Hardship, Some((40_000_000, SET_2024))),
        (PovertyStatus::NoPoverty, None),
    ];
    for (poverty, want) in table {
        let f = Facts {
            poverty,
            house_damage: HouseDamage::Collapsed,
            ..nothing()
        };
        let got = run(nat, Some(&p), &f);
        assert_eq!(
            got.iter()
                .map(|e| (e.amount, e.rule_set_id.as_str()))
                .collect::<Vec<_>>(),
            want.into_iter().collect::<Vec<_>>(),
            "{poverty:?}"
        );
    }
}

#[test]
fn province_rule_for_more_households_pays_them() {
    let sets = national();
    let nat = set_by_id(&sets, SET_2024);
    let mut p = province_copy(&sets);
    p.rules = vec![rule(
        Category::HouseSeverelyDamaged,
        Amount::FixedVnd(25_000_000),
        &[],
    )];
    assert_eq!(p.check_not_below(nat), Ok(()));
    for &poverty in PovertyStatus::ALL {
        let f = Facts {
            poverty,
            house_damage: HouseDamage::SeverelyDamaged,
            ..nothing()
        };
        assert_eq!(
            lines(&run(nat, Some(&p), &f)),
            vec![(Category::HouseSeverelyDamaged, 25_000_000)],
            "{poverty:?}"
        );
    }
}

#[test]
fn province_multiples_use_the_province_standard_level() {
    let sets = national();
    let nat = set_by_id(&sets, SET_2024);
    let mut p = province_copy(&sets);
    p.standard_level_vnd = 600_000;
    p.rules = vec![rule(Category::Funeral, Amount::StandardMultiple(50), &[])];
    assert_eq!(p.check_not_below(nat), Ok(()));
    let f = Facts {
        deaths: 1,
        severely_injured: 1,
        ..nothing()
    };
    let got = run(nat, Some(&p), &f);
    assert_eq!(
        lines(&got),
        vec![
            // No province rule: national rule at the national level.
            (Category::SevereInjury, 10 * 500_000),
            (Category::Funeral, 50 * 600_000),
        ]
    );
    assert_eq!(
        got[1].basis,
        "1 người × 50 × mức chuẩn 600000 đồng".to_owned()
    );
    assert_eq!(got[1].rule_set_id, "copy");
    assert_eq!(got[0].rule_set_id, SET_2024);
}

#[test]
fn province_paying_the_same_pays_the_national_amount() {
    let sets = national();
    let nat = set_by_id(&sets, SET_2024);
    let p = province_copy(&sets);
    assert_eq!(p.check_not_below(nat), Ok(()));
    let f = everything();
    assert_eq!(lines(&run(nat, Some(&p), &f)), lines(&run(nat, None, &f)));
}

// ---------------------------------------------------------------------------------------------
// check_not_below
// ---------------------------------------------------------------------------------------------

#[test]
fn check_not_below_rejects_each_lower_minimum_naming_the_field() {
    let sets = national();
    let nat = set_by_id(&sets, SET_2024);
    type Change = fn(&mut RuleSet);
    let table: [(&str, Change, &str); 14] = [
        (
            "standard level",
            |p| p.standard_level_vnd = 499_999,
            "standard_level_vnd",
        ),
        (
            "standard level 2021",
            |p| p.standard_level_vnd = 360_000,
            "standard_level_vnd",
        ),
        (
            "rice grams",
            |p| {
                p.rules[0].amount = Amount::RicePerPersonMonth {
                    grams: 14_999,
                    max_months: 3,
                }
            },
            "rules[0].rice_kg_per_person_month",
        ),
        (
            "rice grams, more months",
            |p| {
                p.rules[0].amount = Amount::RicePerPersonMonth {
                    grams: 10_000,
                    max_months: 12,
                }
            },
            "rules[0].rice_kg_per_person_month",
        ),
        (
            "max months",
            |p| {
                p.rules[0].amount = Amount::RicePerPersonMonth {
                    grams: 15_000,
                    max_months: 2,
                }
            },
            "rules[0].max_months",
        ),
        (
            "max months, more rice",
            |p| {
                p.rules[0].amount = Amount::RicePerPersonMonth {
                    grams: 30_000,
                    max_months: 1,
                }
            },
            "rules[0].max_months",
        ),
        (
            "injury multiple",
            |p| p.rules[1].amount = Amount::StandardMultiple(9),
            "rules[1].standard_level_multiple",
        ),
        (
            "funeral multiple",
            |p| p.rules[2].amount = Amount::StandardMultiple(49),
            "rules[2].standard_level_multiple",
        ),
        (
            "collapsed amount",
            |p| p.rules[3].amount = Amount::FixedVnd(39_999_999),
            "rules[3].amount_vnd",
        ),
        (
            "relocation amount",
            |p| p.rules[4].amount = Amount::FixedVnd(29_999_999),
            "rules[4].amount_vnd",
        ),
        (
            "severely damaged amount",
            |p| p.rules[5].amount = Amount::FixedVnd(1),
            "rules[5].amount_vnd",
        ),
        (
            "housing for fewer households",
            |p| p.rules[3].poverty_status = vec![PovertyStatus::Poor, PovertyStatus::NearPoor],
            "rules[3].poverty_status",
        ),
        (
            "housing for other households",
            |p| p.rules[5].poverty_status = vec![PovertyStatus::NoPoverty],
            "rules[5].poverty_status",
        ),
        (
            "food for poor households only",
            |p| p.rules[0].poverty_status = vec![PovertyStatus::Poor],
            "rules[0].poverty_status",
        ),
    ];
    for (what, change, field) in table {
        let mut p = province_copy(&sets);
        change(&mut p);
        let e = match p.check_not_below(nat) {
            Ok(()) => panic!("{what}: accepted"),
            Err(e) => e,
        };
        assert_eq!(e.field, field, "{what}: {e}");
        assert!(
            e.message.contains("national") || e.message.contains("household"),
            "{what}: {e}"
        );
    }
}

#[test]
fn check_not_below_names_the_index_in_the_province_set() {
    let sets = national();
    let nat = set_by_id(&sets, SET_2024);
    let mut p = province_copy(&sets);
    p.rules = vec![
        rule(
            Category::HouseCollapsed,
            Amount::FixedVnd(60_000_000),
            &HOUSING,
        ),
        rule(Category::Funeral, Amount::StandardMultiple(49), &[]),
    ];
    assert_eq!(
        field_of(p.check_not_below(nat)),
        "rules[1].standard_level_multiple"
    );
    let e = p.check_not_below(nat).unwrap_err();
    assert!(e.message.contains("50"), "{e}");
    // Against the 2021 set too.
    let old = set_by_id(&sets, SET_2021);
    assert_eq!(
        field_of(p.check_not_below(old)),
        "rules[1].standard_level_multiple"
    );
}

#[test]
fn check_not_below_accepts_equal_and_higher() {
    let sets = national();
    let nat = set_by_id(&sets, SET_2024);
    type Change = fn(&mut RuleSet);
    let table: [(&str, Change); 13] = [
        ("equal", |_| {}),
        ("higher standard level", |p| p.standard_level_vnd = 500_001),
        ("no rules (all national)", |p| p.rules.clear()),
        ("one rule only", |p| p.rules.truncate(1)),
        ("rules in another order", |p| p.rules.reverse()),
        ("more rice", |p| {
            p.rules[0].amount = Amount::RicePerPersonMonth {
                grams: 15_001,
                max_months: 3,
            }
        }),
        ("more months", |p| {
            p.rules[0].amount = Amount::RicePerPersonMonth {
                grams: 15_000,
                max_months: 6,
            }
        }),
        ("higher multiples", |p| {
            p.rules[1].amount = Amount::StandardMultiple(11);
            p.rules[2].amount = Amount::StandardMultiple(100);
        }),
        ("higher housing", |p| {
            p.rules[3].amount = Amount::FixedVnd(60_000_000);
            p.rules[4].amount = Amount::FixedVnd(30_000_001);
            p.rules[5].amount = Amount::FixedVnd(20_000_000);
        }),
        ("housing for every household", |p| {
            p.rules[3].poverty_status.clear()
        }),
        ("housing for more households", |p| {
            p.rules[4].poverty_status = PovertyStatus::ALL.to_vec()
        }),
        ("housing statuses reordered", |p| {
            p.rules[5].poverty_status = vec![
                PovertyStatus::Hardship,
                PovertyStatus::Poor,
                PovertyStatus::NearPoor,
            ]
        }),
        ("food for every household", |p| {
            p.rules[0].poverty_status.clear()
        }),
    ];
    for (what, change) in table {
        let mut p = province_copy(&sets);
        change(&mut p);
        assert_eq!(p.check_not_below(nat), Ok(()), "{what}");
        // What is not below 2024 is not below 2021 either.
        assert_eq!(
            p.check_not_below(set_by_id(&sets, SET_2021)),
            Ok(()),
            "{what}"
        );
    }
}

#[test]
fn check_not_below_on_a_parsed_province_doc() {
    let sets = national();
    let nat = set_by_id(&sets, SET_2024);
    let mut d = qnam_doc();
    d.rules.push(food_doc("14.5", 3));
    let p = d.parse("p".into(), Some(p48())).unwrap();
    let e = p.check_not_below(nat).unwrap_err();
    assert_eq!(e.field, "rules[1].rice_kg_per_person_month");
    assert!(e.message.contains("15 kg"), "{e}");
    let mut d = qnam_doc();
    d.standard_level_vnd = "360000".into();
    let p = d.parse("p".into(), Some(p48())).unwrap();
    assert_eq!(field_of(p.check_not_below(nat)), "standard_level_vnd");
    assert_eq!(p.check_not_below(set_by_id(&sets, SET_2021)), Ok(()));
}

// ---------------------------------------------------------------------------------------------
// Rule::parse and RuleSetDoc::parse errors
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_parse_accepts_valid_documents() {
    // (document, amount)
    let table = [
        (
            food_doc("15", 3),
            Amount::RicePerPersonMonth {
                grams: 15_000,
                max_months: 3,
            },
        ),
        (
            food_doc("15.5", 1),
            Amount::RicePerPersonMonth {
                grams: 15_500,
                max_months: 1,
            },
        ),
        (
            food_doc("0.001", 12),
            Amount::RicePerPersonMonth {
                grams: 1,
                max_months: 12,
            },
        ),
        (
            food_doc("20.250", 6),
            Amount::RicePerPersonMonth {
                grams: 20_250,
                max_months: 6,
            },
        ),
        (
            multiple_doc(Category::SevereInjury, 1),
            Amount::StandardMultiple(1),
        ),
        (
            multiple_doc(Category::Funeral, 1000),
            Amount::StandardMultiple(1000),
        ),
        (
            vnd_doc(Category::HouseCollapsed, "60000000"),
            Amount::FixedVnd(60_000_000),
        ),
        (vnd_doc(Category::HouseRelocation, "1"), Amount::FixedVnd(1)),
        (
            vnd_doc(Category::HouseSeverelyDamaged, "20000000"),
            Amount::FixedVnd(20_000_000),
        ),
    ];
    for (d, amount) in table {
        let r = Rule::parse(0, &d).unwrap();
        assert_eq!(r.category, d.category);
        assert_eq!(r.amount, amount, "{d:?}");
        assert_eq!(r.poverty_status, d.poverty_status);
        assert_eq!(r.legal_ref, "Điều 5");
    }
    // The legal reference is trimmed.
    let d = RuleDoc {
        legal_ref: "  Điều 5  ".into(),
        ..multiple_doc(Category::Funeral, 50)
    };
    assert_eq!(Rule::parse(0, &d).unwrap().legal_ref, "Điều 5");
}

#[test]
fn rule_parse_errors_name_the_field() {
    let no_rice = RuleDoc {
        max_months: Some(3),
        ..doc(Category::Food)
    };
    let no_months = RuleDoc {
        rice_kg_per_person_month: Some("15".into()),
        ..doc(Category::Food)
    };
    let table: Vec<(&str, RuleDoc, &str)> = vec![
        ("missing rice", no_rice, "rice_kg_per_person_month"),
        ("zero rice", food_doc("0", 3), "rice_kg_per_person_month"),
        (
            "zero rice 0.000",
            food_doc("0.000", 3),
            "rice_kg_per_person_month",
        ),
        (
            "negative rice",
            food_doc("-15", 3),
            "rice_kg_per_person_month",
        ),
        (
            "too many decimals",
            food_doc("15.0001", 3),
            "rice_kg_per_person_month",
        ),
        (
            "not a number",
            food_doc("fifteen", 3),
            "rice_kg_per_person_month",
        ),
        ("exponent", food_doc("1.5e1", 3), "rice_kg_per_person_month"),
        ("comma", food_doc("15,5", 3), "rice_kg_per_person_month"),
        ("missing months", no_months, "max_months"),
        ("zero months", food_doc("15", 0), "max_months"),
        ("13 months", food_doc("15", 13), "max_months"),
        ("negative months", food_doc("15", -1), "max_months"),
        (
            "missing multiple",
            doc(Category::Funeral),
            "standard_level_multiple",
        ),
        (
            "missing injury multiple",
            doc(Category::SevereInjury),
            "standard_level_multiple",
        ),
        (
            "zero multiple",
            multiple_doc(Category::Funeral, 0),
            "standard_level_multiple",
        ),
        (
            "negative multiple",
            multiple_doc(Category::SevereInjury, -10),
            "standard_level_multiple",
        ),
        (
            "huge multiple",
            multiple_doc(Category::Funeral, 1001),
            "standard_level_multiple",
        ),
        (
            "missing amount",
            doc(Category::HouseCollapsed),
            "amount_vnd",
        ),
        (
            "missing relocation amount",
            doc(Category::HouseRelocation),
            "amount_vnd",
        ),
        (
            "missing repair amount",
            doc(Category::HouseSeverelyDamaged),
            "amount_vnd",
        ),
        (
            "zero amount",
            vnd_doc(Category::HouseCollapsed, "0"),
            "amount_vnd",
        ),
        (
            "negative amount",
            vnd_doc(Category::HouseRelocation, "-40000000"),
            "amount_vnd",
        ),
        (
            "fractional đồng",
            vnd_doc(Category::HouseSeverelyDamaged, "20000000.5"),
            "amount_vnd",
        ),
        (
            "empty amount",
            vnd_doc(Category::HouseCollapsed, ""),
            "amount_vnd",
        ),
        (
            "out of range",
            vnd_doc(Category::HouseCollapsed, "99999999999999999999"),
            "amount_vnd",
        ),
        (
            "empty legal ref",
            RuleDoc {
                legal_ref: "   ".into(),
                ..multiple_doc(Category::Funeral, 50)
            },
            "legal_ref",
        ),
        (
            "long legal ref",
            RuleDoc {
                legal_ref: "x".repeat(501),
                ..multiple_doc(Category::Funeral, 50)
            },
            "legal_ref",
        ),
    ];
    for i in [0usize, 3] {
        for (what, d, field) in &table {
            let e = match Rule::parse(i, d) {
                Ok(r) => panic!("{what}: accepted as {r:?}"),
                Err(e) => e,
            };
            assert_eq!(e.field, format!("rules[{i}].{field}"), "{what}: {e}");
        }
    }
    // A missing amount says which category needs it.
    let e = Rule::parse(1, &doc(Category::HouseRelocation)).unwrap_err();
    assert!(e.message.contains("house_relocation"), "{e}");
    let e = Rule::parse(1, &food_doc("15.0001", 3)).unwrap_err();
    assert!(e.message.contains("3 decimal places"), "{e}");
}

fn set_doc(rules: Vec<RuleDoc>) -> RuleSetDoc {
    RuleSetDoc {
        legal_basis: "Quyết định tỉnh".into(),
        effective_from: "2025-07-01".into(),
        effective_to: Some("2025-12-31".into()),
        standard_level_vnd: "500000".into(),
        rules,
    }
}

fn good_rules() -> Vec<RuleDoc> {
    vec![
        food_doc("15", 3),
        multiple_doc(Category::Funeral, 50),
        vnd_doc(Category::HouseCollapsed, "60000000"),
    ]
}

#[test]
fn rule_set_doc_parse_errors_name_the_field() {
    type Change = fn(&mut RuleSetDoc);
    let table: [(&str, Change, &str); 16] = [
        ("empty rules", |d| d.rules.clear(), "rules"),
        (
            "51 rules",
            |d| d.rules = vec![multiple_doc(Category::Funeral, 50); 51],
            "rules",
        ),
        (
            "duplicate category",
            |d| d.rules.push(multiple_doc(Category::Funeral, 60)),
            "rules[3].category",
        ),
        (
            "duplicate food",
            |d| d.rules.insert(1, food_doc("20", 3)),
            "rules[1].category",
        ),
        (
            "effective_to before effective_from",
            |d| d.effective_to = Some("2025-06-30".into()),
            "effective_to",
        ),
        (
            "effective_to long before",
            |d| d.effective_to = Some("2021-01-01".into()),
            "effective_to",
        ),
        (
            "bad effective_from",
            |d| d.effective_from = "2025-13-01".into(),
            "effective_from",
        ),
        (
            "effective_from not ISO",
            |d| d.effective_from = "01/07/2025".into(),
            "effective_from",
        ),
        (
            "bad effective_to",
            |d| d.effective_to = Some("2025-02-30".into()),
            "effective_to",
        ),
        (
            "zero standard level",
            |d| d.standard_level_vnd = "0".into(),
            "standard_level_vnd",
        ),
        (
            "negative standard level",
            |d| d.standard_level_vnd = "-500000".into(),
            "standard_level_vnd",
        ),
        (
            "fractional standard level",
            |d| d.standard_level_vnd = "500000.5".into(),
            "standard_level_vnd",
        ),
        (
            "empty legal basis",
            |d| d.legal_basis = " ".into(),
            "legal_basis",
        ),
        (
            "rule amount missing",
            |d| d.rules[2].amount_vnd = None,
            "rules[2].amount_vnd",
        ),
        (
            "rule rice zero",
            |d| d.rules[0].rice_kg_per_person_month = Some("0".into()),
            "rules[0].rice_kg_per_person_month",
        ),
        (
            "rule months out of range",
            |d| d.rules[0].max_months = Some(13),
            "rules[0].max_months",
        ),
    ];
    for (what, change, field) in table {
        let mut d = set_doc(good_rules());
        change(&mut d);
        let e = match d.parse("x".into(), Some(p48())) {
            Ok(s) => panic!("{what}: accepted as {s:?}"),
            Err(e) => e,
        };
        assert_eq!(e.field, field, "{what}: {e}");
    }
}

#[test]
fn rule_set_doc_parse_accepts_valid_documents() {
    type Change = fn(&mut RuleSetDoc);
    let table: [(&str, Change); 5] = [
        ("as is", |_| {}),
        ("one-day set", |d| {
            d.effective_to = Some("2025-07-01".into())
        }),
        ("open-ended", |d| d.effective_to = None),
        ("one rule", |d| d.rules.truncate(1)),
        ("every category", |d| {
            d.rules = national_defaults()
                .into_iter()
                .next()
                .map(|n| n.rules)
                .unwrap_or_default()
        }),
    ];
    for (what, change) in table {
        let mut d = set_doc(good_rules());
        change(&mut d);
        let s = match d.parse("id-1".into(), Some(p48())) {
            Ok(s) => s,
            Err(e) => panic!("{what}: {e}"),
        };
        assert_eq!(s.id, "id-1");
        assert_eq!(s.province, Some(p48()));
        assert_eq!(s.standard_level_vnd, 500_000);
        assert_eq!(s.effective_from, day(2025, 7, 1));
        assert_eq!(s.rules.len(), d.rules.len(), "{what}");
    }
}

#[test]
fn check_rules_rejects_a_category_twice() {
    let sets = national();
    let mut rules = set_by_id(&sets, SET_2024).rules.clone();
    assert_eq!(RuleSet::check_rules(&rules), Ok(()));
    assert_eq!(RuleSet::check_rules(&[]), Ok(()));
    for (i, j) in [(0usize, 6usize), (5, 6), (2, 6)] {
        let mut dup = rules.clone();
        dup.push(rules[i].clone());
        assert_eq!(
            field_of(RuleSet::check_rules(&dup)),
            format!("rules[{j}].category"),
            "{i}"
        );
    }
    rules.insert(2, rules[1].clone());
    assert_eq!(field_of(RuleSet::check_rules(&rules)), "rules[2].category");
}

#[test]
fn in_force_on_includes_both_ends() {
    let mut d = set_doc(good_rules());
    d.effective_to = Some("2025-07-03".into());
    let s = d.parse("x".into(), None).unwrap();
    let table = [
        (day(2025, 6, 30), false),
        (day(2025, 7, 1), true),
        (day(2025, 7, 3), true),
        (day(2025, 7, 4), false),
    ];
    for (d, want) in table {
        assert_eq!(s.in_force_on(d), want, "{d}");
    }
}

// ---------------------------------------------------------------------------------------------
// Entitlement lines
// ---------------------------------------------------------------------------------------------

#[test]
fn each_line_carries_its_legal_basis_reference_set_and_basis() {
    let sets = national();
    for (d, level) in [(day(2024, 6, 30), 360_000), (day(2024, 7, 1), 500_000)] {
        let nat = national_on(&sets, d);
        for damage in [
            HouseDamage::Collapsed,
            HouseDamage::Relocation,
            HouseDamage::SeverelyDamaged,
        ] {
            let f = Facts {
                house_damage: damage,
                poverty: PovertyStatus::NearPoor,
                ..everything()
            };
            let got = run(nat, None, &f);
            assert_eq!(got.len(), 4);
            for e in &got {
                let r = match nat.rules.iter().find(|r| r.category == e.category) {
                    Some(r) => r,
                    None => panic!("no rule {:?}", e.category),
                };
                assert_eq!(e.rule_set_id, nat.id);
                assert_eq!(e.legal_basis, nat.legal_basis);
                assert_eq!(e.legal_ref, r.legal_ref);
                assert!(!e.basis.is_empty());
                let (asset, basis) = match e.category {
                    Category::Food => ("RICE_KG", "4 người × 2 tháng × 15 kg".to_owned()),
                    Category::SevereInjury => {
                        ("VND", format!("2 người × 10 × mức chuẩn {level} đồng"))
                    }
                    Category::Funeral => ("VND", format!("3 người × 50 × mức chuẩn {level} đồng")),
                    _ => ("VND", format!("1 hộ × {} đồng", e.amount)),
                };
                assert_eq!(e.asset, asset, "{:?}", e.category);
                assert_eq!(e.basis, basis, "{:?}", e.category);
            }
        }
    }
}

#[test]
fn entitlements_serialize_with_snake_case_categories() {
    let nat = &national()[1];
    let got = run(nat, None, &everything());
    let v = serde_json::to_value(&got).unwrap();
    assert_eq!(v[0]["category"], "food");
    assert_eq!(v[0]["asset"], "RICE_KG");
    assert_eq!(v[0]["amount"], 120_000);
    assert_eq!(v[3]["category"], "house_collapsed");
    assert_eq!(v[3]["rule_set_id"], SET_2024);
}

// ---------------------------------------------------------------------------------------------
// Overflow
// ---------------------------------------------------------------------------------------------

#[test]
fn overflow_is_an_error_not_a_wrap() {
    let sets = national();
    let nat = set_by_id(&sets, SET_2024);
    let table: [(&str, Facts); 7] = [
        (
            "persons",
            Facts {
                people_needing_food: i64::MAX,
                months_of_food: 1,
                ..nothing()
            },
        ),
        (
            "persons × months",
            Facts {
                people_needing_food: i64::MAX / RICE_15KG,
                months_of_food: 3,
                ..nothing()
            },
        ),
        (
            "injured",
            Facts {
                severely_injured: i64::MAX,
                ..nothing()
            },
        ),
        (
            "injured × level",
            Facts {
                severely_injured: i64::MAX / 10,
                ..nothing()
            },
        ),
        (
            "deaths",
            Facts {
                deaths: i64::MAX / 50,
                ..nothing()
            },
        ),
        (
            "deaths + missing",
            Facts {
                deaths: i64::MAX,
                missing: 1,
                ..nothing()
            },
        ),
        (
            "missing",
            Facts {
                missing: i64::MAX / 2,
                ..nothing()
            },
        ),
    ];
    for (what, f) in table {
        assert_eq!(entitlements(nat, None, &f), Err(Overflow), "{what}");
        // Also when a province set is given.
        assert_eq!(
            entitlements(nat, Some(&qnam()), &f),
            Err(Overflow),
            "{what}"
        );
    }
    // The largest that fits is computed exactly.
    let persons = i64::MAX / (RICE_15KG * 3);
    let f = Facts {
        people_needing_food: persons,
        months_of_food: 3,
        ..nothing()
    };
    assert_eq!(
        lines(&run(nat, None, &f)),
        vec![(Category::Food, persons * RICE_15KG * 3)]
    );
    // Many months are capped before they multiply.
    let f = Facts {
        people_needing_food: 1,
        months_of_food: i64::MAX,
        ..nothing()
    };
    assert_eq!(lines(&run(nat, None, &f)), vec![(Category::Food, 45_000)]);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn poverty() -> impl Strategy<Value = PovertyStatus> {
    proptest::sample::select(PovertyStatus::ALL)
}

fn damage() -> impl Strategy<Value = HouseDamage> {
    proptest::sample::select(HouseDamage::ALL)
}

prop_compose! {
    fn facts(lo: i64, hi: i64)(
        poverty in poverty(),
        house_damage in damage(),
        deaths in lo..hi,
        missing in lo..hi,
        severely_injured in lo..hi,
        people_needing_food in lo..hi,
        months_of_food in lo..hi,
    ) -> Facts {
        Facts { poverty, deaths, missing, severely_injured, house_damage, people_needing_food, months_of_food }
    }
}

/// 0: no province set, 1: Quảng Nam, 2: a lower set built directly, 3: a copy of national.
fn province_for(which: u8, sets: &[RuleSet]) -> Option<RuleSet> {
    match which {
        1 => Some(qnam()),
        2 => Some(lower_province()),
        3 => Some(province_copy(sets)),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn amounts_are_monotone_in_persons_and_months(
        f in facts(0, 1000),
        extra in (0i64..50, 0i64..50, 0i64..50, 0i64..50, 0i64..15),
        which in 0u8..4,
        newer in any::<bool>(),
    ) {
        let sets = national();
        let nat = &sets[usize::from(newer)];
        let prov = province_for(which, &sets);
        let more = Facts {
            deaths: f.deaths + extra.0,
            missing: f.missing + extra.1,
            severely_injured: f.severely_injured + extra.2,
            people_needing_food: f.people_needing_food + extra.3,
            months_of_food: f.months_of_food + extra.4,
            ..f
        };
        let a = entitlements(nat, prov.as_ref(), &f);
        let b = entitlements(nat, prov.as_ref(), &more);
        prop_assert!(a.is_ok() && b.is_ok());
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        for c in Category::ALL {
            let (x, y) = (amount_of(&a, c).unwrap_or(0), amount_of(&b, c).unwrap_or(0));
            prop_assert!(x <= y, "{:?}: {} > {} for {:?} then {:?}", c, x, y, f, more);
        }
    }

    #[test]
    fn lines_are_positive_unique_and_in_category_order(
        f in facts(-5, 1_000_000),
        which in 0u8..4,
        newer in any::<bool>(),
    ) {
        let sets = national();
        let nat = &sets[usize::from(newer)];
        let prov = province_for(which, &sets);
        let got = entitlements(nat, prov.as_ref(), &f);
        prop_assert!(got.is_ok());
        let got = got.unwrap_or_default();
        for e in &got {
            prop_assert!(e.amount > 0, "{:?}", e);
            prop_assert_eq!(e.asset, if e.category == Category::Food { "RICE_KG" } else { "VND" });
            prop_assert!(!e.basis.is_empty() && !e.legal_ref.is_empty() && !e.legal_basis.is_empty());
        }
        let pos: Vec<usize> = got
            .iter()
            .map(|e| Category::ALL.iter().position(|c| *c == e.category).unwrap_or(usize::MAX))
            .collect();
        prop_assert!(pos.windows(2).all(|w| w[0] < w[1]), "{:?}", pos);
        prop_assert!(pos.iter().all(|&p| p < Category::ALL.len()));
    }

    #[test]
    fn a_province_never_pays_less_than_national(
        f in facts(-2, 10_000),
        which in 1u8..4,
        newer in any::<bool>(),
    ) {
        let sets = national();
        let nat = &sets[usize::from(newer)];
        let prov = province_for(which, &sets);
        let with = entitlements(nat, prov.as_ref(), &f).unwrap_or_default();
        let without = entitlements(nat, None, &f).unwrap_or_default();
        for c in Category::ALL {
            let (x, y) = (amount_of(&without, c), amount_of(&with, c));
            prop_assert!(x.unwrap_or(0) <= y.unwrap_or(0), "{:?}: {:?} > {:?}", c, x, y);
            // A line owed nationally is owed with the province set too.
            prop_assert!(x.is_none() || y.is_some());
        }
    }

    #[test]
    fn food_is_exactly_persons_times_capped_months(
        persons in 0i64..100_000,
        months in 0i64..100,
        newer in any::<bool>(),
    ) {
        let sets = national();
        let nat = &sets[usize::from(newer)];
        let f = Facts { people_needing_food: persons, months_of_food: months, ..nothing() };
        let got = entitlements(nat, None, &f).unwrap_or_default();
        let want = (persons > 0 && months > 0).then(|| persons * months.min(3) * RICE_15KG);
        prop_assert_eq!(amount_of(&got, Category::Food), want);
    }
}
