//! Exact amounts. The API speaks decimal strings; storage keeps integers in the asset's minor
//! unit (12.5 kg of rice at scale 3 is 12500). Overflow is an error, never a wrap.

use crate::Invalid;
use rust_decimal::Decimal;
use std::str::FromStr;

/// The most decimal places an asset may have.
pub const MAX_SCALE: u32 = 6;

/// Parses a decimal string into minor units of an asset with `scale` decimal places. Refuses
/// exponents, signs other than a leading `-`, spaces, and more decimal places than the scale.
pub fn parse_amount(field: &str, s: &str, scale: u32) -> Result<i64, Invalid> {
    let bad = |m: &str| Invalid::new(field, m);
    if s.is_empty() || s.len() > 40 {
        return Err(bad(
            "must be a decimal string such as \"1500000\" or \"12.5\"",
        ));
    }
    let body = s.strip_prefix('-').unwrap_or(s);
    let mut parts = body.splitn(2, '.');
    let int = parts.next().unwrap_or_default();
    let frac = parts.next();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(bad(
            "must be a decimal string such as \"1500000\" or \"12.5\"",
        ));
    }
    let d = Decimal::from_str(s)
        .map_err(|_| bad("is out of range"))?
        .normalize();
    if d.scale() > scale {
        return Err(Invalid::new(
            field,
            format!("has more than {scale} decimal places for this asset"),
        ));
    }
    let factor = Decimal::from(10i64.checked_pow(scale).ok_or_else(|| bad("bad scale"))?);
    let minor = d
        .checked_mul(factor)
        .ok_or_else(|| bad("is out of range"))?;
    i64::try_from(minor).map_err(|_| bad("is out of range"))
}

/// Parses an amount that must be strictly positive.
pub fn parse_positive(field: &str, s: &str, scale: u32) -> Result<i64, Invalid> {
    let v = parse_amount(field, s, scale)?;
    if v <= 0 {
        return Err(Invalid::new(field, "must be greater than zero"));
    }
    Ok(v)
}

/// Formats minor units for people to read: without trailing zeros (`15`, `12.5`).
pub fn format_trimmed(minor: i64, scale: u32) -> String {
    Decimal::new(minor, scale).normalize().to_string()
}

/// Formats minor units as a decimal string with exactly `scale` decimal places.
pub fn format_amount(minor: i64, scale: u32) -> String {
    Decimal::new(minor, scale).to_string()
}

/// An asset code: 2 to 32 characters of `A-Z`, `0-9` and `_`, starting with a letter (`VND`,
/// `RICE_KG`).
pub fn parse_asset_code(field: &str, s: &str) -> Result<String, Invalid> {
    let ok = (2..=32).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Invalid::new(
            field,
            "must be 2 to 32 characters of A-Z, 0-9 and _, starting with a letter",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exact_amounts() {
        assert_eq!(parse_amount("a", "1500000", 0), Ok(1_500_000));
        assert_eq!(parse_amount("a", "12.5", 3), Ok(12_500));
        assert_eq!(parse_amount("a", "12.500", 2), Ok(1_250));
        assert_eq!(parse_amount("a", "-3.25", 2), Ok(-325));
        assert_eq!(parse_amount("a", "0.000001", 6), Ok(1));
    }

    #[test]
    fn refuses_what_is_not_exact() {
        for bad in [
            "", "1e5", "+5", " 5", "5 ", "1.", ".5", "1,5", "abc", "--1", "NaN",
        ] {
            assert!(parse_amount("a", bad, 2).is_err(), "{bad:?}");
        }
        let e = parse_amount("amount", "1.234", 2).unwrap_err();
        assert_eq!(e.field, "amount");
        assert!(e.message.contains("2 decimal places"));
        assert!(parse_amount("a", "0.5", 0).is_err());
        assert!(parse_amount("a", "99999999999999999999", 0).is_err());
        assert!(parse_positive("a", "0", 0).is_err());
        assert!(parse_positive("a", "-1", 0).is_err());
    }

    #[test]
    fn formats_with_the_asset_scale() {
        assert_eq!(format_amount(12_500, 3), "12.500");
        assert_eq!(format_amount(1_500_000, 0), "1500000");
        assert_eq!(format_amount(-5, 2), "-0.05");
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(minor in any::<i64>(), scale in 0u32..=MAX_SCALE) {
            prop_assert_eq!(parse_amount("a", &format_amount(minor, scale), scale), Ok(minor));
        }
    }
}
