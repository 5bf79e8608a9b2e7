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
fn is_invisible(c: char) -> bool {
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

/// A calendar date typed as `YYYY-MM-DD` (full-width digits accepted), in
/// the years 2000 to 2100. Empty is `Ok(None)`.
///
/// Errors: `error.date_format` for anything else, naming `field`.
pub fn parse_optional_date(field: &'static str, s: &str) -> Result<Option<NaiveDate>, FieldError> {
    let s = normalize(s);
    if s.is_empty() {
        return Ok(None);
    }
    // chrono accepts `2026-1-5`; a form's date input always sends two
    // digits, and a typed date with one is still clear, so both pass.
    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&chrono::Datelike::year(d)))
        .map(Some)
        .ok_or_else(|| FieldError::new(field, "error.date_format"))
}

/// A required calendar date (see [`parse_optional_date`]).
///
/// Errors: `error.required` when empty, `error.date_format` otherwise.
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
            parse_date("f", "1999-12-31").unwrap_err().key,
            "error.date_format"
        );
        assert_eq!(whole_number("１２"), Some(12));
        assert_eq!(whole_number("-5"), Some(-5));
        assert_eq!(whole_number("+5"), Some(5));
        assert_eq!(whole_number("--5"), None);
        assert_eq!(whole_number("9223372036854775808"), None);
        assert_eq!(whole_number("1e3"), None);
    }
}
