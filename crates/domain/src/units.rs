//! Administrative units: editions, levels and codes.

use crate::Invalid;
use std::fmt;

/// An edition of the official list: 2024 (three tiers, until 2025-06-30) or 2025 (two tiers, from
/// 2025-07-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Edition(i32);

impl Edition {
    pub const CURRENT: Edition = Edition(2025);
    pub const ALL: [Edition; 2] = [Edition(2024), Edition(2025)];

    pub fn parse(year: i64) -> Result<Self, Invalid> {
        match year {
            2024 | 2025 => Ok(Self(i32::try_from(year).map_err(|_| Self::bad())?)),
            _ => Err(Self::bad()),
        }
    }

    fn bad() -> Invalid {
        Invalid::new("edition", "must be 2024 or 2025")
    }

    pub fn year(self) -> i32 {
        self.0
    }

    /// The first day the edition is in force, if it has one in this system.
    pub fn valid_from(self) -> Option<&'static str> {
        (self.0 == 2025).then_some("2025-07-01")
    }

    /// The last day the edition is in force, if it has ended.
    pub fn valid_to(self) -> Option<&'static str> {
        (self.0 == 2024).then_some("2025-06-30")
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Province,
    District,
    Commune,
}

impl Level {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "province" => Ok(Self::Province),
            "district" => Ok(Self::District),
            "commune" => Ok(Self::Commune),
            _ => Err(Invalid::new(
                "level",
                "must be one of province, district, commune",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Province => "province",
            Self::District => "district",
            Self::Commune => "commune",
        }
    }

    fn prefix(self) -> char {
        match self {
            Self::Province => 'P',
            Self::District => 'D',
            Self::Commune => 'C',
        }
    }

    /// Whether a unit of this level may have a parent of `parent` level.
    pub fn may_have_parent(self, parent: Option<Level>) -> bool {
        matches!(
            (self, parent),
            (Self::Province, None)
                | (Self::District, Some(Self::Province))
                | (Self::Commune, Some(Self::Province | Self::District))
        )
    }
}

/// An official unit code: a tier letter and the official number (`P52`, `D540`, `C21550`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct UnitCode(String);

impl UnitCode {
    pub fn parse(field: &str, s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        let mut chars = s.chars();
        let ok = matches!(chars.next(), Some('P' | 'D' | 'C'))
            && (1..=6).contains(&chars.clone().count())
            && chars.all(|c| c.is_ascii_digit());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Invalid::new(
                field,
                "must be a unit code such as P52, D540 or C21550",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level the code's letter names.
    pub fn level(&self) -> Level {
        match self.0.chars().next() {
            Some('P') => Level::Province,
            Some('D') => Level::District,
            _ => Level::Commune,
        }
    }

    pub fn matches_level(&self, level: Level) -> bool {
        self.0.starts_with(level.prefix())
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether the unit at `path` lies in the subtree rooted at `root` (both materialised paths such
/// as `P52/D540/C21550`).
pub fn path_within(path: &str, root: &str) -> bool {
    path == root
        || (path.len() > root.len()
            && path.starts_with(root)
            && path[root.len()..].starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_and_know_their_level() {
        let c = UnitCode::parse("code", "C21550").unwrap();
        assert_eq!(c.level(), Level::Commune);
        assert!(c.matches_level(Level::Commune));
        for bad in ["", "X1", "P", "P5a", "p52", "P1234567"] {
            assert!(UnitCode::parse("code", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn editions_are_2024_and_2025_only() {
        assert!(Edition::parse(2025).is_ok());
        assert!(Edition::parse(2023).is_err());
    }

    #[test]
    fn subtree_is_by_whole_path_segments() {
        assert!(path_within("P52/D540/C21550", "P52"));
        assert!(path_within("P52", "P52"));
        assert!(!path_within("P521", "P52"));
        assert!(!path_within("P5", "P52"));
    }

    #[test]
    fn parent_levels() {
        assert!(Level::Commune.may_have_parent(Some(Level::Province)));
        assert!(!Level::Province.may_have_parent(Some(Level::Province)));
        assert!(!Level::District.may_have_parent(None));
    }
}
