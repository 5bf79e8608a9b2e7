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
            match v.parse::<i64>() {
                Ok(n) if !v.starts_with('0') || v == "0" => {
                    sheet.write_number(i as u32 + 1, c as u16, n as f64)?
                }
                _ => sheet.write_string(i as u32 + 1, c as u16, neutralise(v))?,
            };
        }
    }
    wb.save_to_buffer()
}
