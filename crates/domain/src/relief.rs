//! Incidents, households and damage: the kinds, statuses and flags, and how national ID numbers
//! are kept (a keyed hash for deduplication and the last digits for display, never the number).

use crate::Invalid;
use hmac::{Hmac, Mac};
use sha2::Sha256;

str_enum!(IncidentKind, "kind", {
    Typhoon => "typhoon",
    Flood => "flood",
    FlashFlood => "flash_flood",
    Landslide => "landslide",
    Drought => "drought",
    SaltwaterIntrusion => "saltwater_intrusion",
    Fire => "fire",
    CropFailure => "crop_failure",
    Epidemic => "epidemic",
    WorkAccident => "work_accident",
    TrafficAccident => "traffic_accident",
    DomesticViolence => "domestic_violence",
    Trafficking => "trafficking",
    Other => "other",
});

str_enum!(PovertyStatus, "poverty_status", {
    Poor => "poor",
    NearPoor => "near_poor",
    Hardship => "hardship",
    NoPoverty => "none",
});

str_enum!(MemberFlag, "flags", {
    Elderly => "elderly",
    Disabled => "disabled",
    ChildUnder36m => "child_under_36m",
    Pregnant => "pregnant",
});

str_enum!(Sex, "sex", {
    Female => "female",
    Male => "male",
    Unspecified => "unspecified",
});

str_enum!(HouseDamage, "house_damage", {
    NoDamage => "none",
    Damaged => "damaged",
    SeverelyDamaged => "severely_damaged",
    Collapsed => "collapsed",
    Relocation => "relocation",
});

/// A national ID number: the 12 digits of a citizen identity card, or the 9 of an older identity
/// card. Spaces and dots are ignored.
pub struct NationalId(String);

impl NationalId {
    pub fn parse(field: &str, s: &str) -> Result<Self, Invalid> {
        let digits: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-'))
            .collect();
        if (digits.len() == 12 || digits.len() == 9) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(Invalid::new(
                field,
                "must be a national ID number of 12 (or 9) digits",
            ))
        }
    }

    /// HMAC-SHA256 of the number under the server's key, hex: equal numbers give equal hashes,
    /// and without the key the hash reveals nothing.
    pub fn keyed_hash(&self, key: &[u8]) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
            Ok(m) => m,
            // HMAC accepts keys of any length; this branch is never taken.
            Err(_) => return String::new(),
        };
        mac.update(self.0.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The last four digits, the only part ever shown.
    pub fn last4(&self) -> String {
        self.0[self.0.len() - 4..].to_owned()
    }
}

impl std::fmt::Debug for NationalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NationalId(…{})", self.last4())
    }
}

/// A birth year: from 1900 to the current year.
pub fn check_birth_year(field: &str, year: i64, current_year: i32) -> Result<i32, Invalid> {
    if year > i64::from(current_year) {
        return Err(Invalid::new(field, "must not be in the future"));
    }
    if year < 1900 {
        return Err(Invalid::new(field, "must be 1900 or later"));
    }
    i32::try_from(year).map_err(|_| Invalid::new(field, "is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids_hash_by_key_and_show_last_digits() {
        let a = NationalId::parse("id", "052 090 001 234").unwrap();
        let b = NationalId::parse("id", "052090001234").unwrap();
        assert_eq!(a.keyed_hash(b"k1"), b.keyed_hash(b"k1"));
        assert_ne!(a.keyed_hash(b"k1"), a.keyed_hash(b"k2"));
        assert_eq!(a.last4(), "1234");
        assert!(!format!("{a:?}").contains("0520900"));
        assert!(NationalId::parse("id", "12345").is_err());
        assert!(NationalId::parse("id", "05209000123x").is_err());
        assert!(NationalId::parse("id", "123456789").is_ok());
    }

    #[test]
    fn birth_years() {
        assert!(check_birth_year("y", 2027, 2026).is_err());
        assert!(check_birth_year("y", 1899, 2026).is_err());
        assert_eq!(check_birth_year("y", 1950, 2026), Ok(1950));
    }

    #[test]
    fn kinds_parse() {
        assert_eq!(IncidentKind::ALL.len(), 14);
        assert_eq!(
            IncidentKind::parse("flash_flood").unwrap(),
            IncidentKind::FlashFlood
        );
        assert_eq!(
            PovertyStatus::parse("none").unwrap(),
            PovertyStatus::NoPoverty
        );
        assert!(HouseDamage::parse("gone").is_err());
    }
}
