//! Tables as CSV and XLSX files: translated headers, and cells that a
//! spreadsheet would run as formulas neutralised.

pub use crate::households::export::neutralise;

/// A CSV file: a header record, then one record per row. Rows may differ in
/// length (a report's sections do): each is still its own line.
pub fn csv(headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    write_csv(headers, rows, neutralise)
}

/// The CSV of `rows`, each cell written as `cell` makes it.
fn write_csv(headers: &[&str], rows: &[Vec<String>], cell: fn(&str) -> String) -> Vec<u8> {
    // A BOM, so that Excel on Chinese Windows reads UTF-8.
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        // Flexible: a record of another length than the first is written
        // whole and ended, never refused half-written onto the same line.
        let mut w = ::csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(&mut out);
        let _ = w.write_record(headers);
        for r in rows {
            let _ = w.write_record(r.iter().map(|c| cell(c)));
        }
        let _ = w.flush();
    }
    out
}

/// A CSV file of rows to be mended in a spreadsheet and loaded again (an
/// import's refused rows): as [`csv`], and a cell of digits that a
/// spreadsheet would read as a number and spoil (an 18-digit ID number
/// rounded to 15 digits, a landline's leading 0 dropped) starts with a
/// tab, so that it opens as text; the import trims it off again.
pub fn csv_as_typed(headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    write_csv(headers, rows, |c| {
        if spoils_as_number(c) {
            format!("\t{c}")
        } else {
            neutralise(c)
        }
    })
}

/// Digits only, and longer than a spreadsheet keeps exactly (more than 11)
/// or with a leading 0 it would drop.
fn spoils_as_number(cell: &str) -> bool {
    cell.len() > 1
        && cell.bytes().all(|b| b.is_ascii_digit())
        && (cell.len() > 11 || cell.starts_with('0'))
}

/// A one-sheet workbook: headers in bold, then the rows, plain numbers
/// written as numbers (see [`write_cell`]).
pub fn xlsx(
    sheet_name: &str,
    headers: &[&str],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    one_sheet(sheet_name, headers, rows, Cells::Read)
}

/// A one-sheet workbook whose every cell is text exactly as typed: rows
/// that are to be mended and loaded again (an import's refused rows), where
/// a phone such as 13912345678 must stay text rather than become a number.
pub fn xlsx_as_typed(
    sheet_name: &str,
    headers: &[&str],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    one_sheet(sheet_name, headers, rows, Cells::AsTyped)
}

/// How a workbook's cells are written.
#[derive(Clone, Copy, PartialEq)]
enum Cells {
    /// Plain numbers as numbers, the rest as text.
    Read,
    /// Everything as text.
    AsTyped,
}

fn one_sheet(
    sheet_name: &str,
    headers: &[&str],
    rows: &[Vec<String>],
    cells: Cells,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name(sheet_name)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, r) in rows.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            let (row, col) = (i as u32 + 1, c as u16);
            match cells {
                Cells::Read => write_cell(sheet, row, col, v)?,
                Cells::AsTyped if v.is_empty() => {}
                Cells::AsTyped => {
                    sheet.write_string(row, col, v)?;
                }
            }
        }
    }
    let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    fit_columns(sheet, &headers, rows)?;
    wb.save_to_buffer()
}

/// One table of a multi-sheet export: its name, translated headers and rows.
pub struct Sheet {
    pub name: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A workbook with one sheet per table. With a `title` (e.g. the report,
/// its area and month), each sheet opens with it in bold above the headers.
/// Columns are as wide as their longest cell (within bounds).
pub fn xlsx_sheets(
    sheets: &[Sheet],
    title: Option<&str>,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for Sheet {
        name,
        headers,
        rows,
    } in sheets
    {
        let sheet = wb.add_worksheet();
        // Sheet names: at most 31 characters, none of []:*?/\ .
        let clean: String = name
            .chars()
            .filter(|c| !"[]:*?/\\".contains(*c))
            .take(31)
            .collect();
        sheet.set_name(clean)?;
        let first = match title {
            Some(t) => {
                sheet.write_string_with_format(0, 0, t, &bold)?;
                2
            }
            None => 0,
        };
        for (c, h) in headers.iter().enumerate() {
            sheet.write_string_with_format(first, c as u16, h, &bold)?;
        }
        for (i, r) in rows.iter().enumerate() {
            for (c, v) in r.iter().enumerate() {
                write_cell(sheet, first + 1 + i as u32, c as u16, v)?;
            }
        }
        fit_columns(sheet, headers, rows)?;
    }
    wb.save_to_buffer()
}

/// Each column as wide as its longest header or cell (a Chinese character
/// counts two), between 6 and 60 characters.
fn fit_columns(
    sheet: &mut rust_xlsxwriter::Worksheet,
    headers: &[String],
    rows: &[Vec<String>],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let width = |s: &str| -> usize { s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum() };
    let columns = rows
        .iter()
        .map(Vec::len)
        .chain([headers.len()])
        .max()
        .unwrap_or(0);
    for col in 0..columns {
        let widest = headers
            .get(col)
            .map(|h| width(h.as_str()))
            .into_iter()
            .chain(
                rows.iter()
                    .filter_map(|r| r.get(col).map(|v| width(v.as_str()))),
            )
            .max()
            .unwrap_or(0);
        sheet.set_column_width(col as u16, (widest + 2).clamp(6, 60) as f64)?;
    }
    Ok(())
}

/// Plain numbers as numbers: whole ones, and amounts with decimals (yuan
/// such as `12.50`, shown with two places). Not those with a leading zero
/// (ids, card numbers); everything else as text, as it is (a spreadsheet's
/// text cell never runs as a formula; only CSV needs the apostrophe).
fn write_cell(
    sheet: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    col: u16,
    v: &str,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    // An empty cell stays empty (no blank text a sum would trip on).
    if v.is_empty() {
        return Ok(());
    }
    match as_number(v) {
        Some((n, true)) => {
            let money = rust_xlsxwriter::Format::new().set_num_format("0.00");
            sheet.write_number_with_format(row, col, n, &money)?
        }
        Some((n, false)) => sheet.write_number(row, col, n)?,
        // A text cell is never read as a formula: as it is.
        None => sheet.write_string(row, col, v)?,
    };
    Ok(())
}

/// A cell's text as a number, and whether it has decimals: an optional
/// sign (`-80` is minus eighty; `+5`, a difference shown with its sign, is
/// five), digits without a leading zero (but "0" and "0.5"), and at most
/// one decimal point followed by one to four digits.
fn as_number(v: &str) -> Option<(f64, bool)> {
    let (negative, body) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let sign = if negative { -1.0 } else { 1.0 };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (int.len() > 1 && int.starts_with('0')) || int.len() > 15 {
        return None;
    }
    match frac {
        None => int.parse::<i64>().ok().map(|n| (sign * n as f64, false)),
        Some(f) if digits(f) && f.len() <= 4 => body.parse::<f64>().ok().map(|n| (sign * n, true)),
        Some(_) => None,
    }
}

/// A file to download: CSV or XLSX, by the file name's extension. The name
/// may hold any language (sent as RFC 6266 `filename*`, with an ASCII
/// stand-in for old clients); characters no file system takes are dropped.
pub fn attachment(file_name: &str, body: Vec<u8>) -> actix_web::HttpResponse {
    use actix_web::http::header;
    let content_type = if file_name.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "text/csv; charset=utf-8"
    };
    actix_web::HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, disposition(file_name)))
        .body(body)
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded`.
fn disposition(file_name: &str) -> String {
    let clean: String = file_name
        .chars()
        .filter(|c| !c.is_control() && !"\\/:*?\"<>|;".contains(*c))
        .collect();
    let ascii: String = clean
        .chars()
        .map(|c| if c.is_ascii() && c != '%' { c } else { '_' })
        .collect();
    if ascii == clean {
        return format!("attachment; filename=\"{clean}\"");
    }
    let mut encoded = String::new();
    for b in clean.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A file name's part taken from a name people typed (an area, a store):
/// spaces become hyphens and characters no file system takes are dropped.
pub fn name_part(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| !c.is_control() && !"\\/:*?\"<>|;'%".contains(*c))
        .map(|c| if c.is_whitespace() { '-' } else { c })
        .take(60)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_to_mend_keep_long_digit_strings_as_text() {
        let out = String::from_utf8(csv_as_typed(
            &["id", "phone", "members", "name"],
            &[vec![
                "370112198001010026".into(),
                "05318888888".into(),
                "3".into(),
                "=1+1".into(),
            ]],
        ))
        .unwrap();
        assert!(
            out.contains("\t370112198001010026,\t05318888888,3,'=1+1"),
            "{out}"
        );
        assert!(spoils_as_number("13912345678012") && !spoils_as_number("13912345678"));
    }
}
