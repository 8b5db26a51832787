//! Donation rules: donor and channel kinds, appeal periods (Decree 93/2021), receipt numbers,
//! and the Vietnamese calendar day of an instant.

use crate::Invalid;
use chrono::{Datelike, NaiveDate};

/// Vietnam keeps one time zone, UTC+7, without daylight saving.
pub const VN_OFFSET_MICROS: i64 = 7 * 3600 * 1_000_000;

/// The calendar day in Vietnam of an instant (microseconds since the epoch, UTC).
pub fn vn_date(micros: i64) -> Option<NaiveDate> {
    chrono::DateTime::from_timestamp_micros(micros.checked_add(VN_OFFSET_MICROS)?)
        .map(|t| t.date_naive())
}

/// Midnight in Vietnam at the start of `date`, in microseconds since the epoch.
pub fn vn_midnight(date: NaiveDate) -> Option<i64> {
    date.and_hms_opt(0, 0, 0)?
        .and_utc()
        .timestamp_micros()
        .checked_sub(VN_OFFSET_MICROS)
}

pub fn parse_date(field: &str, s: &str) -> Result<NaiveDate, Invalid> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| Invalid::new(field, "must be a date such as 2026-09-08"))
}

/// The longest receiving period of an appeal without an extension decision, in days.
pub const MAX_CAMPAIGN_DAYS: i64 = 90;

/// Checks an appeal's receiving period: it closes on or after it opens, and lasts at most 90 days
/// (both ends included).
pub fn check_campaign_period(opens_on: NaiveDate, closes_on: NaiveDate) -> Result<(), Invalid> {
    if closes_on < opens_on {
        return Err(Invalid::new("closes_on", "must not be before opens_on"));
    }
    if (closes_on - opens_on).num_days() + 1 > MAX_CAMPAIGN_DAYS {
        return Err(Invalid::new(
            "closes_on",
            "a receiving period lasts at most 90 days; extend it later with a decision",
        ));
    }
    Ok(())
}

/// The printed receipt number: `BN-2026-000123`.
pub fn receipt_number(year: i32, seq: i64) -> String {
    format!("BN-{year}-{seq:06}")
}

/// The receipt year of a donation received at `micros`.
pub fn receipt_year(micros: i64) -> Option<i32> {
    vn_date(micros).map(|d| d.year())
}

str_enum!(DonorKind, "kind", {
    Individual => "individual",
    Organisation => "organisation",
    Enterprise => "enterprise",
    Foreign => "foreign",
});

str_enum!(Channel, "channel", {
    Cash => "cash",
    BankTransfer => "bank_transfer",
    InKind => "in_kind",
});

str_enum!(DonationStatus, "status", {
    Pledged => "pledged",
    Fulfilled => "fulfilled",
    Received => "received",
    Reversed => "reversed",
});

impl DonorKind {
    /// Individuals are anonymous unless they agree to publication.
    pub fn published_by_default(self) -> bool {
        self != Self::Individual
    }
}

/// Parses an amount of đồng as printed in a Vietnamese bank export: `1.500.000`, `1,500,000`,
/// `1500000`, `1.500.000,00` or `1,500,000.00` (a zero fraction only), with an optional sign.
pub fn parse_vnd_text(s: &str) -> Option<i64> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    if body.is_empty() {
        return None;
    }
    let mut body = body.to_owned();
    // A fraction: the last separator followed by exactly two digits, both zero.
    if let Some(pos) = body.rfind(['.', ',']) {
        let frac = &body[pos + 1..];
        let has_both = body.contains('.') && body.contains(',');
        if frac.len() == 2 && (has_both || body[..pos].find(['.', ',']).is_none() && frac == "00") {
            if frac != "00" {
                return None;
            }
            body.truncate(pos);
        }
    }
    // Thousands separators group by three: `1.50` is not an amount of đồng.
    let mut groups = body.split(['.', ',']);
    let first_ok = groups
        .next()
        .is_some_and(|g| (1..=3).contains(&g.len()) || !body.contains(['.', ',']));
    if !first_ok || groups.any(|g| g.len() != 3) {
        return None;
    }
    let digits: String = body.chars().filter(|c| *c != '.' && *c != ',').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// Parses a bank statement date: `08/09/2024`, `08/09/2024 10:15:00`, `2024-09-08`, `08-09-2024`.
pub fn parse_bank_date(s: &str) -> Option<NaiveDate> {
    let day = s.split_whitespace().next()?;
    ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(day, f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date("d", s).unwrap()
    }

    #[test]
    fn campaign_periods_are_at_most_90_days() {
        assert!(check_campaign_period(d("2026-09-01"), d("2026-11-29")).is_ok());
        assert!(check_campaign_period(d("2026-09-01"), d("2026-11-30")).is_err());
        assert!(check_campaign_period(d("2026-09-02"), d("2026-09-01")).is_err());
    }

    #[test]
    fn vietnam_dates() {
        // 2026-01-01T17:30:00Z is 00:30 on 2 January in Vietnam.
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-01T17:30:00Z")
            .unwrap()
            .timestamp_micros();
        assert_eq!(vn_date(t), Some(d("2026-01-02")));
        assert_eq!(
            receipt_year(vn_midnight(d("2027-01-01")).unwrap()),
            Some(2027)
        );
        assert_eq!(
            receipt_year(vn_midnight(d("2027-01-01")).unwrap() - 1),
            Some(2026)
        );
    }

    #[test]
    fn receipt_numbers() {
        assert_eq!(receipt_number(2026, 123), "BN-2026-000123");
        assert_eq!(receipt_number(2026, 1_234_567), "BN-2026-1234567");
    }

    #[test]
    fn bank_amounts() {
        for (s, v) in [
            ("1.500.000", 1_500_000),
            ("1,500,000", 1_500_000),
            ("1500000", 1_500_000),
            ("1.500.000,00", 1_500_000),
            ("1,500,000.00", 1_500_000),
            ("-200.000", -200_000),
            ("+50.000", 50_000),
            ("500", 500),
            ("12.00", 12),
        ] {
            assert_eq!(parse_vnd_text(s), Some(v), "{s}");
        }
        for s in [
            "",
            "abc",
            "1.500.000,50",
            "1,5x",
            "--1",
            "1.50",
            "15.00.000",
        ] {
            assert_eq!(parse_vnd_text(s), None, "{s}");
        }
    }

    #[test]
    fn bank_dates() {
        assert_eq!(parse_bank_date("08/09/2024"), Some(d("2024-09-08")));
        assert_eq!(
            parse_bank_date("08/09/2024 10:15:00"),
            Some(d("2024-09-08"))
        );
        assert_eq!(parse_bank_date("2024-09-08"), Some(d("2024-09-08")));
        assert_eq!(parse_bank_date("31/02/2024"), None);
    }

    #[test]
    fn kinds_parse() {
        assert_eq!(DonorKind::parse("foreign").unwrap(), DonorKind::Foreign);
        assert!(DonorKind::parse("alien")
            .unwrap_err()
            .message
            .contains("individual"));
        assert!(!DonorKind::Individual.published_by_default());
        assert_eq!(
            Channel::parse("bank_transfer").unwrap(),
            Channel::BankTransfer
        );
    }
}
