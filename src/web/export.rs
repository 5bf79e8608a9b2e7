//! Tables as CSV and XLSX files: translated headers, and cells that a
//! spreadsheet would run as formulas neutralised.

pub use crate::households::export::neutralise;

pub fn csv(headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    // A BOM, so that Excel on Chinese Windows reads UTF-8.
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = ::csv::Writer::from_writer(&mut out);
        let _ = w.write_record(headers);
        for r in rows {
            let _ = w.write_record(r.iter().map(|c| neutralise(c)));
        }
        let _ = w.flush();
    }
    out
}

pub fn xlsx(
    sheet_name: &str,
    headers: &[&str],
    rows: &[Vec<String>],
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
            write_cell(sheet, i as u32 + 1, c as u16, v)?;
        }
    }
    wb.save_to_buffer()
}

/// One table of a multi-sheet export: its name, translated headers and rows.
pub struct Sheet {
    pub name: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A workbook with one sheet per table.
pub fn xlsx_sheets(sheets: &[Sheet]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
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
        for (c, h) in headers.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, h, &bold)?;
        }
        for (i, r) in rows.iter().enumerate() {
            for (c, v) in r.iter().enumerate() {
                write_cell(sheet, i as u32 + 1, c as u16, v)?;
            }
        }
    }
    wb.save_to_buffer()
}

/// Whole numbers as numbers (not those with a leading zero, such as ids),
/// everything else as neutralised text.
fn write_cell(
    sheet: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    col: u16,
    v: &str,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let numeric = !(v.starts_with("-0") || v.starts_with('0') && v != "0");
    match v.parse::<i64>() {
        Ok(n) if numeric => sheet.write_number(row, col, n as f64)?,
        _ => sheet.write_string(row, col, neutralise(v))?,
    };
    Ok(())
}

/// A file to download: CSV or XLSX, by the file name's extension.
pub fn attachment(file_name: &str, body: Vec<u8>) -> actix_web::HttpResponse {
    use actix_web::http::header;
    let content_type = if file_name.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "text/csv; charset=utf-8"
    };
    actix_web::HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .body(body)
}
