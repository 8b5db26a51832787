//! Text rules shared by every name: Unicode NFC normalisation and diacritic-insensitive search keys.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Normalises to NFC and trims, so the same name typed two ways is stored one way.
pub fn normalize(s: &str) -> String {
    s.trim().nfc().collect()
}

/// A search key for Vietnamese text: lowercase, without diacritics (`đ` becomes `d`), whitespace
/// collapsed. "Phường Quy Nhơn" and "phuong quy nhon" have the same key.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = true;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        out.extend(c.to_lowercase());
        last_space = false;
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// A required, trimmed, NFC-normalised text of at most `max` characters.
pub fn required(field: &str, value: &str, max: usize) -> Result<String, crate::Invalid> {
    let v = normalize(value);
    if v.is_empty() {
        return Err(crate::Invalid::new(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(crate::Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(crate::Invalid::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v)
}

/// A text cell for a CSV file that people open in spreadsheets: a cell starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return would run as a formula, so it gets a leading `'`; so does
/// one that already starts with `'`, so that a reader strips exactly one `'` to get the text back.
pub fn csv_cell(s: &str) -> std::borrow::Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'') => format!("'{s}").into(),
        _ => s.into(),
    }
}

/// A person's name as it may be published: the family name (the first word) kept, every other
/// word reduced to its initial and a dot, after NFC normalisation so that an initial is one whole
/// letter with its diacritics ("Nguyễn Văn An" becomes "Nguyễn V. A."). A single word is itself
/// reduced to its initial ("Tèo" becomes "T."): kept whole it would be the full name.
pub fn mask_name(name: &str) -> String {
    let name = normalize(name);
    let initial = |w: &str| {
        w.chars()
            .next()
            .map(|c| format!("{c}."))
            .unwrap_or_default()
    };
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.as_slice() {
        [] => String::new(),
        [only] => initial(only),
        [family, rest @ ..] => std::iter::once((*family).to_owned())
            .chain(rest.iter().map(|w| initial(w)))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// A text cell of a CSV file (RFC 4180): safe from formulas ([`csv_cell`]), and quoted when it
/// holds a comma, a quote or a line break.
pub fn csv_text(s: &str) -> String {
    csv_quote(&csv_cell(s))
}

/// Quotes a CSV cell when it needs it (a comma, a quote or a line break), doubling quotes.
pub fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells() {
        assert_eq!(csv_text("cash"), "cash");
        assert_eq!(csv_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_text("+1"), "'+1");
        assert_eq!(csv_text("-5"), "'-5");
        assert_eq!(csv_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_text("Lũ, tháng 9"), "\"Lũ, tháng 9\"");
        assert_eq!(csv_quote("-5"), "-5");
        assert_eq!(csv_quote("a\nb"), "\"a\nb\"");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        for bad in ["=SUM(A1)", "+1", "-2+3", "@cmd", "\tx", "\rx", "'quoted"] {
            let cell = csv_cell(bad);
            assert!(cell.starts_with('\''), "{bad}");
            assert_eq!(&cell[1..], bad);
        }
        assert_eq!(csv_cell("Nguyễn"), "Nguyễn");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn fold_strips_vietnamese_diacritics() {
        assert_eq!(fold("Phường Quy Nhơn"), "phuong quy nhon");
        assert_eq!(fold("  Đà   Nẵng "), "da nang");
        assert_eq!(fold("Thừa Thiên Huế"), "thua thien hue");
    }

    #[test]
    fn normalize_makes_decomposed_and_composed_equal() {
        let composed = "Nguy\u{1ec5}n";
        let decomposed = "Nguye\u{302}\u{303}n";
        assert_ne!(composed, decomposed);
        assert_eq!(normalize(composed), normalize(decomposed));
    }

    #[test]
    fn required_rejects_empty_long_and_control() {
        assert!(required("name", "  ", 10).is_err());
        assert!(required("name", "abcdefghijk", 10).is_err());
        assert!(required("name", "a\u{0}b", 10).is_err());
        assert_eq!(required("name", " ab ", 10).as_deref(), Ok("ab"));
    }

    #[test]
    fn mask_name_keeps_the_family_name_and_initials() {
        assert_eq!(mask_name("Nguyễn Văn An"), "Nguyễn V. A.");
        assert_eq!(mask_name("  Trần   Thị Bình "), "Trần T. B.");
        assert_eq!(mask_name("Lê Ánh"), "Lê Á.");
        assert_eq!(mask_name("Đặng Đức Ông"), "Đặng Đ. Ô.");
        assert_eq!(mask_name("Tèo"), "T.");
        assert_eq!(mask_name("Ê"), "Ê.");
        assert_eq!(mask_name("   "), "");
    }

    #[test]
    fn mask_name_is_the_same_for_decomposed_input() {
        // "Lê Ánh Ước" typed with combining marks: the initials are whole, composed letters.
        let decomposed = "Le\u{302} A\u{301}nh U\u{31b}o\u{31b}\u{301}c";
        assert_eq!(mask_name(decomposed), "Lê Á. Ư.");
        assert_eq!(mask_name(decomposed), mask_name("Lê Ánh Ước"));
        assert!(!mask_name(decomposed).contains('\u{301}'));
    }
}
