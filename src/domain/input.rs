//! Input as people and devices type it, made plain once before any parser
//! reads it, and the parsers every form shares (dates, whole numbers).
//!
//! A Chinese input method left in full-width mode types `１２３` for `123`,
//! some barcode and ID-card readers do the same, and text pasted from a chat
//! or a spreadsheet carries zero-width characters and ideographic spaces.
//! None of that should cost a person a retyped field, and none of it may
//! reach a parser that slices bytes.

use chrono::NaiveDate;

use super::FieldError;

/// Characters that take no space and mean nothing in a number or a code:
/// zero-width space, non-joiner and joiner, word joiner, the byte-order mark
/// and the soft hyphen.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Text a person typed, without the white space and invisible characters
/// around it: a reason of only zero-width spaces is an empty reason.
pub fn trim_text(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || is_invisible(c))
}

/// The ASCII character a full-width form stands for (`１` -> `1`, `Ｘ` -> `X`,
/// `－` -> `-`, the ideographic space U+3000 -> ' '); other characters are
/// kept as they are.
pub fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// A typed value made plain: full-width digits, letters and signs become
/// ASCII, invisible characters go, and surrounding white space (ASCII or
/// not) is trimmed. Used before parsing card numbers, ID numbers, phones,
/// quantities, points, dates and barcodes.
pub fn normalize(s: &str) -> String {
    let plain: String = s
        .chars()
        .filter(|c| !is_invisible(*c))
        .map(half_width)
        .collect();
    plain.trim().to_string()
}

/// The first and last years a date may fall in: nothing the scheme records
/// happened before 2000 or after 2100.
pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2100;

/// A period typed as `from` and `to` (either may be open): `Err` naming
/// its end (`field.to`, `error.period_backwards`) when it ends before it
/// starts, which lists nothing. The one check of every from/to pair.
pub fn period_in_order(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<(), FieldError> {
    match (from, to) {
        (Some(f), Some(t)) if t < f => Err(FieldError::new("field.to", "error.period_backwards")),
        _ => Ok(()),
    }
}

/// A calendar date typed as `YYYY-MM-DD` (full-width digits accepted, one
/// digit for month or day too), in the years [`FIRST_YEAR`] to
/// [`LAST_YEAR`]. Empty is `Ok(None)`. The one date parser of the app:
/// every form, query and import date goes through it.
///
/// Errors, naming `field`: `error.date_format` when it is not shaped like a
/// date; `error.date_year_range` (with `date`, `from`, `to`) for a year
/// outside the range; `error.date_impossible` (with `date`) for a day the
/// calendar does not have (2026-02-30, month 13).
pub fn parse_optional_date(field: &'static str, s: &str) -> Result<Option<NaiveDate>, FieldError> {
    let s = normalize(s);
    if s.is_empty() {
        return Ok(None);
    }
    let format = || FieldError::new(field, "error.date_format");
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(format());
    };
    let digits = |p: &str, max: usize| {
        !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(y, 18) || !digits(m, 2) || !digits(d, 2) {
        return Err(format());
    }
    // At most 18 and 2 digits: these always fit.
    let (year, month, day): (i64, u32, u32) = (
        y.parse().map_err(|_| format())?,
        m.parse().map_err(|_| format())?,
        d.parse().map_err(|_| format())?,
    );
    if !(i64::from(FIRST_YEAR)..=i64::from(LAST_YEAR)).contains(&year) {
        return Err(FieldError::new(field, "error.date_year_range")
            .arg("date", s.clone())
            .arg("from", FIRST_YEAR)
            .arg("to", LAST_YEAR));
    }
    NaiveDate::from_ymd_opt(year as i32, month, day)
        .map(Some)
        .ok_or_else(|| FieldError::new(field, "error.date_impossible").arg("date", s.clone()))
}

/// A required calendar date (see [`parse_optional_date`]).
///
/// Errors: `error.required` when empty, otherwise as [`parse_optional_date`].
pub fn parse_date(field: &'static str, s: &str) -> Result<NaiveDate, FieldError> {
    parse_optional_date(field, s)?.ok_or_else(|| FieldError::new(field, "error.required"))
}

/// A whole number written in ASCII digits after [`normalize`], with an
/// optional leading `-` or `+`, that fits in an `i64`. `None` when the text
/// is not such a number (so callers choose their own message).
pub fn whole_number(s: &str) -> Option<i64> {
    let s = normalize(s);
    let digits = s.strip_prefix(['-', '+']).unwrap_or(&s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_invisible_characters_become_plain() {
        assert_eq!(
            normalize("　１１０１０５１９４９１２３１００２Ｘ\u{200B} "),
            "11010519491231002X"
        );
        assert_eq!(normalize("\u{FEFF}１３８－００１３"), "138-0013");
        assert_eq!(normalize("张三"), "张三");
        assert_eq!(trim_text(" \u{200B}\u{FEFF}　"), "");
        assert_eq!(trim_text("\u{200B}拿错了 "), "拿错了");
    }

    #[test]
    fn dates_and_numbers() {
        assert_eq!(
            parse_date("f", "２０２６－１１－３０").unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
        assert_eq!(parse_date("f", "").unwrap_err().key, "error.required");
        assert_eq!(parse_optional_date("f", " ").unwrap(), None);
        assert_eq!(
            parse_date("f", "2026-1-5").unwrap().to_string(),
            "2026-01-05"
        );
        for (typed, key) in [
            ("1999-12-31", "error.date_year_range"),
            ("1900-01-01", "error.date_year_range"),
            ("2101-01-01", "error.date_year_range"),
            ("999999999-01-01", "error.date_year_range"),
            ("2026-02-30", "error.date_impossible"),
            ("2026-13-01", "error.date_impossible"),
            ("2026-00-10", "error.date_impossible"),
            ("2026/01/05", "error.date_format"),
            ("20260105", "error.date_format"),
            ("2026-01-05T00:00", "error.date_format"),
            ("+2026-01-05", "error.date_format"),
            ("2026-001-05", "error.date_format"),
            ("9999999999-01-01", "error.date_year_range"),
        ] {
            assert_eq!(parse_date("f", typed).unwrap_err().key, key, "{typed}");
        }
        assert_eq!(whole_number("１２"), Some(12));
        assert_eq!(whole_number("-5"), Some(-5));
        assert_eq!(whole_number("+5"), Some(5));
        assert_eq!(whole_number("--5"), None);
        assert_eq!(whole_number("9223372036854775808"), None);
        assert_eq!(whole_number("1e3"), None);
    }
}
