//! Report rules: the reporting periods of Decision 488/QĐ-TTg (half-years and years, in Vietnam
//! time), the day statistics of timeliness (median, nearest-rank percentile, shares) in integer
//! arithmetic, and CSV cells that a spreadsheet will not run as formulas.

use crate::donations::vn_midnight;
use crate::Invalid;
use chrono::NaiveDate;

/// A reporting period: a whole year (`2026`) or a half-year (`2026-H1`: 1 January to 30 June,
/// `2026-H2`: 1 July to 31 December), as calendar days in Vietnam.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub label: String,
    /// The first day, included.
    pub first_day: NaiveDate,
    /// The last day, included.
    pub last_day: NaiveDate,
}

impl Period {
    /// Parses `YYYY`, `YYYY-H1` or `YYYY-H2` (years 1900 to 9999).
    pub fn parse(field: &str, s: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                field,
                "must be a year such as 2026 or a half-year such as 2026-H1 or 2026-H2",
            )
        };
        let (year, half) = match s.split_once('-') {
            None => (s, None),
            Some((y, "H1")) => (y, Some(1)),
            Some((y, "H2")) => (y, Some(2)),
            Some(_) => return Err(bad()),
        };
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        if year < 1900 {
            return Err(bad());
        }
        let day = |m, d| NaiveDate::from_ymd_opt(year, m, d).ok_or_else(bad);
        let (first_day, last_day) = match half {
            None => (day(1, 1)?, day(12, 31)?),
            Some(1) => (day(1, 1)?, day(6, 30)?),
            _ => (day(7, 1)?, day(12, 31)?),
        };
        Ok(Self {
            label: s.to_owned(),
            first_day,
            last_day,
        })
    }

    /// The first instant of the period (midnight in Vietnam on its first day), in microseconds
    /// since the epoch.
    pub fn start_micros(&self) -> Option<i64> {
        vn_midnight(self.first_day)
    }

    /// The first instant after the period (midnight in Vietnam after its last day).
    pub fn end_micros(&self) -> Option<i64> {
        vn_midnight(self.last_day.succ_opt()?)
    }
}

/// The median of sorted values as a decimal string: the middle value, or the mean of the two
/// middle values (`"4.5"`). `None` for no values.
pub fn median(sorted: &[i64]) -> Option<String> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let hi = *sorted.get(n / 2)?;
    if n % 2 == 1 {
        return Some(hi.to_string());
    }
    let lo = *sorted.get(n / 2 - 1)?;
    let sum = i128::from(lo) + i128::from(hi);
    // Floor division keeps `-3 / 2` as `-2.5` below, not `-1.5`.
    let whole = sum.div_euclid(2);
    Some(if sum.rem_euclid(2) == 0 {
        whole.to_string()
    } else if whole < 0 {
        format!("-{}.5", -(whole + 1))
    } else {
        format!("{whole}.5")
    })
}

/// The nearest-rank percentile `p` (1 to 100) of sorted values: the value at rank
/// ⌈p × n / 100⌉. `None` for no values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    let n = u64::try_from(sorted.len()).ok()?;
    if n == 0 || p == 0 || p > 100 {
        return None;
    }
    let rank = (u64::from(p) * n).div_ceil(100);
    sorted
        .get(usize::try_from(rank.checked_sub(1)?).ok()?)
        .copied()
}

/// `part / whole` as a decimal string with four places, rounded half up (`"0.7500"`). `None` when
/// `whole` is zero.
pub fn share(part: u64, whole: u64) -> Option<String> {
    if whole == 0 {
        return None;
    }
    let scaled = (u128::from(part) * 20_000 + u128::from(whole)) / (2 * u128::from(whole));
    Some(format!("{}.{:04}", scaled / 10_000, scaled % 10_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods() {
        let h1 = Period::parse("period", "2026-H1").unwrap();
        assert_eq!(
            (h1.first_day, h1.last_day),
            (d("2026-01-01"), d("2026-06-30"))
        );
        let h2 = Period::parse("period", "2026-H2").unwrap();
        assert_eq!(
            (h2.first_day, h2.last_day),
            (d("2026-07-01"), d("2026-12-31"))
        );
        let y = Period::parse("period", "2026").unwrap();
        assert_eq!(
            (y.first_day, y.last_day),
            (d("2026-01-01"), d("2026-12-31"))
        );
        assert_eq!(y.label, "2026");
        // Midnight in Vietnam is 17:00 UTC the day before.
        let start = chrono::DateTime::parse_from_rfc3339("2025-12-31T17:00:00Z")
            .unwrap()
            .timestamp_micros();
        assert_eq!(y.start_micros(), Some(start));
        assert_eq!(h1.end_micros(), h2.start_micros());
        for bad in [
            "2026-Q1", "abc", "", "26", "2026-H3", "2026-h1", "20266", "1899", "+2026", "2026-",
        ] {
            let e = Period::parse("period", bad).unwrap_err();
            assert_eq!(e.field, "period", "{bad}");
        }
    }

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]).as_deref(), Some("5"));
        assert_eq!(median(&[3, 5]).as_deref(), Some("4"));
        assert_eq!(median(&[3, 6]).as_deref(), Some("4.5"));
        assert_eq!(median(&[1, 2, 9]).as_deref(), Some("2"));
        assert_eq!(median(&[-3, 0]).as_deref(), Some("-1.5"));
        assert_eq!(median(&[-1, 0]).as_deref(), Some("-0.5"));
        assert_eq!(percentile(&[], 90), None);
        assert_eq!(percentile(&[7], 90), Some(7));
        // Ten values: rank 9. Four values: rank ⌈3.6⌉ = 4.
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 90), Some(9));
        assert_eq!(percentile(&ten, 50), Some(5));
        assert_eq!(percentile(&[2, 5, 12, 25], 90), Some(25));
        assert_eq!(percentile(&[2, 5, 12, 25], 0), None);
    }

    #[test]
    fn shares() {
        assert_eq!(share(0, 0), None);
        assert_eq!(share(3, 4).as_deref(), Some("0.7500"));
        assert_eq!(share(1, 3).as_deref(), Some("0.3333"));
        assert_eq!(share(2, 3).as_deref(), Some("0.6667"));
        assert_eq!(share(4, 4).as_deref(), Some("1.0000"));
        assert_eq!(share(0, 5).as_deref(), Some("0.0000"));
    }
}
