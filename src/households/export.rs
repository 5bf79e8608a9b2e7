//! The household list as CSV or XLSX: masked personal data, translated
//! headers, and cells that a spreadsheet would run as formulas neutralised.

use super::HouseholdRow;
use crate::i18n::{self, Lang};

/// A cell that starts like a formula gets a leading apostrophe, so that a
/// spreadsheet shows it as text instead of running it: `= + - @`, their
/// full-width forms `＝ ＋ － ＠` (which spreadsheets in Chinese read as the
/// same), a tab, a line break, or an invisible zero-width character that
/// may hide any of these. The one such function of every export.
/// A plain number (`-80`, `+5`, `-12.50`) runs nothing and stays a number.
pub fn neutralise(s: &str) -> String {
    if is_plain_number(s) {
        return s.to_string();
    }
    match s.chars().next() {
        Some(
            '=' | '+' | '-' | '@' | '\t' | '\r' | '\n' | '＝' | '＋' | '－' | '＠' | '\u{200B}'
            | '\u{200C}' | '\u{200D}' | '\u{200E}' | '\u{200F}' | '\u{2060}' | '\u{FEFF}',
        ) => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// An optional sign, digits, and at most one decimal point followed by digits.
fn is_plain_number(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

const HEADERS: [&str; 11] = [
    "field.card_no",
    "field.head_name",
    "field.id_number",
    "field.phone",
    "field.village",
    "field.address",
    "field.members",
    "field.status",
    "field.helper",
    "field.notes",
    "households.archived",
];

/// The column of the household's size (家庭人口): a number.
const MEMBERS: usize = 6;

/// A household's cells as they read, before any CSV neutralising.
fn cells(lang: Lang, r: &HouseholdRow) -> [String; 11] {
    let h = &r.household;
    [
        r.card_no.clone().unwrap_or_default(),
        h.head_name.clone(),
        h.id_masked.clone(),
        h.phone_masked.clone(),
        r.village.clone(),
        h.address.clone(),
        h.members.to_string(),
        i18n::t(lang, r.status_key()).to_string(),
        r.helper.clone().unwrap_or_default(),
        h.notes.clone(),
        if h.archived {
            i18n::t(lang, "common.yes").to_string()
        } else {
            String::new()
        },
    ]
}

pub fn to_csv(lang: Lang, rows: &[HouseholdRow]) -> Vec<u8> {
    // A BOM, so that Excel on Chinese Windows opens UTF-8 correctly.
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let _ = w.write_record(HEADERS.map(|k| i18n::t(lang, k)));
        for r in rows {
            let _ = w.write_record(cells(lang, r).map(|c| neutralise(&c)));
        }
        let _ = w.flush();
    }
    out
}

/// The households as a workbook: the household's size (家庭人口) a number
/// a spreadsheet can add up, every other cell text as it reads (a text
/// cell never runs as a formula, so it needs no CSV apostrophe), an empty
/// one left empty.
pub fn to_xlsx(lang: Lang, rows: &[HouseholdRow]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name(i18n::t(lang, "households.title"))?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, k) in HEADERS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, i18n::t(lang, k), &bold)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, v) in cells(lang, r).iter().enumerate() {
            if c == MEMBERS {
                sheet.write_number(row, c as u16, r.household.members as f64)?;
            } else if !v.is_empty() {
                sheet.write_string(row, c as u16, v)?;
            }
        }
    }
    sheet.set_column_width(0, 12)?;
    sheet.set_column_width(2, 20)?;
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("-1+1"), "'-1+1");
        assert_eq!(neutralise("-"), "'-");
        assert_eq!(neutralise("-1."), "'-1.");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("王"), "王");
    }

    #[test]
    fn plain_numbers_stay_numbers() {
        for n in ["-80", "+5", "0", "-12.50", "1234"] {
            assert_eq!(neutralise(n), n);
        }
    }

    #[test]
    fn full_width_tabs_and_invisible_starts_are_neutralised() {
        for s in [
            "＝HYPERLINK(\"x\")",
            "＋1",
            "－1",
            "＠SUM(A1)",
            "\t=1",
            "\u{200B}=1",
            "\u{FEFF}+1",
            "\u{2060}x",
        ] {
            assert_eq!(neutralise(s), format!("'{s}"), "{s:?}");
        }
        assert_eq!(neutralise("张＝三"), "张＝三");
    }
}
