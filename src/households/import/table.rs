//! Reading the uploaded file into a table of text cells: CSV (UTF-8 or
//! GB18030) or XLSX, within the size limits, its header row found among
//! the first rows.

use super::*;

fn too_large() -> FieldError {
    FieldError::new("field.file", "error.file_too_big_sheet")
        .arg("rows", MAX_ROWS)
        .arg("columns", MAX_COLUMNS)
}

/// The filled rows of a sheet, read under the caps above: (row number as a
/// spreadsheet shows it, cells by column).
struct Grid {
    rows: std::collections::BTreeMap<u32, Vec<(u32, Cell)>>,
    cells: usize,
    text_bytes: usize,
}

impl Grid {
    pub(super) fn new() -> Grid {
        Grid {
            rows: Default::default(),
            cells: 0,
            text_bytes: 0,
        }
    }

    /// Keep one cell (0-based position); empty cells are skipped, a filled
    /// one outside the caps refuses the file.
    pub(super) fn push(&mut self, row: u32, col: u32, mut cell: Cell) -> Result<(), FieldError> {
        // Excel's text marker: `'3701...` is the text `3701...` (and the
        // exports put it before cells a spreadsheet would take as formulas).
        if !cell.numeric && cell.text.starts_with('\'') {
            cell.text.remove(0);
        }
        if cell.text.trim().is_empty() {
            return Ok(());
        }
        if col >= MAX_COLUMNS || row as usize >= MAX_ROWS + HEADER_SEARCH_ROWS {
            return Err(too_large());
        }
        if let Some((i, _)) = cell.text.char_indices().nth(MAX_CELL_CHARS) {
            cell.text.truncate(i);
        }
        self.cells += 1;
        self.text_bytes += cell.text.len();
        if self.cells > MAX_CELLS || self.text_bytes > MAX_TEXT_BYTES {
            return Err(too_large());
        }
        self.rows.entry(row).or_default().push((col, cell));
        if self.rows.len() > MAX_ROWS + HEADER_SEARCH_ROWS {
            return Err(too_large());
        }
        Ok(())
    }
}

/// Measure every entry of an XLSX (a zip) by unpacking it into nothing,
/// before anything is read into memory: a small file that unpacks to
/// gigabytes (a zip bomb) is refused. The declared sizes are not trusted.
fn check_zip(bytes: &[u8]) -> Result<(), FieldError> {
    use std::io::Read;
    let unreadable = || FieldError::new("field.file", "error.file_unreadable");
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| unreadable())?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|_| unreadable())?;
        let left = MAX_UNZIPPED_BYTES - total;
        let n = std::io::copy(&mut (&mut entry).take(left + 1), &mut std::io::sink())
            .map_err(|_| unreadable())?;
        total += n;
        if total > MAX_UNZIPPED_BYTES {
            return Err(FieldError::new("field.file", "error.file_unzips_too_large")
                .arg("mb", MAX_UNZIPPED_BYTES / 1024 / 1024));
        }
    }
    Ok(())
}

/// The first sheet of an XLSX, read cell by cell (the sheet's declared
/// dimensions are not trusted: one cell at XFD1048576 must not make a grid
/// of seventeen billion cells).
fn read_xlsx(bytes: &[u8]) -> Result<Grid, FieldError> {
    use calamine::DataRef;
    let unreadable = || FieldError::new("field.file", "error.file_unreadable");
    check_zip(bytes)?;
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|_| unreadable())?;
    let name = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or(FieldError::new("field.file", "error.file_empty"))?;
    let mut reader = wb.worksheet_cells_reader(&name).map_err(|_| unreadable())?;
    let mut grid = Grid::new();
    while let Some(cell) = reader.next_cell().map_err(|_| unreadable())? {
        let (row, col) = cell.get_position();
        let value = match cell.get_value() {
            DataRef::SharedString(s) => Data::String(s.chars().take(MAX_CELL_CHARS + 1).collect()),
            other => Data::from(other.clone()),
        };
        grid.push(row, col, cell_of(&value))?;
    }
    Ok(grid)
}

fn read_csv(bytes: &[u8]) -> Result<Grid, FieldError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => std::borrow::Cow::Borrowed(t.trim_start_matches('\u{feff}')),
        Err(_) => {
            let (t, _, bad) = encoding_rs::GB18030.decode(bytes);
            if bad {
                return Err(FieldError::new("field.file", "error.file_encoding"));
            }
            t
        }
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut grid = Grid::new();
    // A row's number is the line it starts on, as a spreadsheet opening the
    // file counts it: blank lines (which the reader skips) are rows too, and
    // a quoted cell's line breaks are not.
    let mut breaks_in_cells: u64 = 0;
    for rec in rdr.records() {
        let rec = rec.map_err(|_| FieldError::new("field.file", "error.file_unreadable"))?;
        // The reader's position is where it began looking, before the
        // blank lines it skipped.
        let line = rec.position().map_or(1, |p| {
            let skipped = text
                .as_bytes()
                .get(p.byte() as usize..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| matches!(b, b'\n' | b'\r'))
                .filter(|b| **b == b'\n')
                .count() as u64;
            p.line() + skipped
        });
        let row = line.saturating_sub(1).saturating_sub(breaks_in_cells);
        breaks_in_cells += rec
            .iter()
            .map(|f| f.matches('\n').count() as u64)
            .sum::<u64>();
        for (col, s) in rec.iter().enumerate() {
            let cell = Cell {
                text: s.to_string(),
                numeric: false,
            };
            grid.push(
                u32::try_from(row).unwrap_or(u32::MAX),
                u32::try_from(col).unwrap_or(u32::MAX),
                cell,
            )?;
        }
    }
    Ok(grid)
}

/// How many rows from the top may come before the header row.
const HEADER_SEARCH_ROWS: usize = 10;

/// Read a CSV (UTF-8 or GB18030, as Excel on Chinese Windows saves it) or an
/// XLSX file (its first sheet), under the size caps above.
///
/// Errors (in the `field.file` field): unreadable, empty, wrong encoding,
/// too large a sheet or a zip that unpacks too large, a required column missing.
pub fn read_table(file_name: &str, bytes: &[u8]) -> Result<Table, FieldError> {
    let is_xlsx = bytes.starts_with(b"PK") || file_name.to_lowercase().ends_with(".xlsx");
    let grid = if is_xlsx {
        read_xlsx(bytes)?
    } else {
        read_csv(bytes)?
    };
    let mut iter = grid.rows.into_iter().map(|(row, cells)| {
        let width = cells
            .iter()
            .map(|(c, _)| *c as usize + 1)
            .max()
            .unwrap_or(0);
        let mut line = vec![
            Cell {
                text: String::new(),
                numeric: false
            };
            width
        ];
        for (c, cell) in cells {
            line[c as usize] = cell;
        }
        (row as usize, line)
    });
    // The header row is the first of the top rows that names every required
    // column (a title such as "2026年某村农户花名册" may come above it).
    let mut top: Vec<(usize, Vec<Cell>)> = Vec::new();
    let mut found = None;
    for (row, line) in iter.by_ref() {
        let columns: Vec<Option<Column>> =
            line.iter().map(|c| Column::of_header(&c.text)).collect();
        let complete = Column::ALL
            .into_iter()
            .filter(|c| c.required())
            .all(|c| columns.contains(&Some(c)));
        if complete {
            found = Some(columns);
            break;
        }
        top.push((row, line));
        if row >= HEADER_SEARCH_ROWS {
            break;
        }
    }
    let columns = match found {
        Some(columns) => columns,
        None => {
            // Name what the likeliest header row (most headers known) lacks.
            let best: Vec<Option<Column>> = top
                .iter()
                .map(|(_, line)| line.iter().map(|c| Column::of_header(&c.text)).collect())
                .max_by_key(|cols: &Vec<Option<Column>>| cols.iter().flatten().count())
                .ok_or(FieldError::new("field.file", "error.file_empty"))?;
            let missing = Column::ALL
                .into_iter()
                .find(|c| c.required() && !best.contains(&Some(*c)))
                .unwrap_or(Column::HeadName);
            return Err(FieldError::new("field.file", "error.column_missing")
                .arg("column", missing.header()));
        }
    };
    let mut rows = Vec::new();
    for (i, r) in iter {
        let mut map = HashMap::new();
        for (cell, col) in r.into_iter().zip(&columns) {
            if let Some(col) = col {
                map.insert(*col, cell);
            }
        }
        rows.push((i + 1, map));
    }
    Ok(Table { rows })
}

fn cell_of(d: &Data) -> Cell {
    match d {
        Data::Float(f) => Cell {
            text: if f.fract() == 0.0 && f.abs() < 1e19 {
                format!("{}", *f as i128)
            } else {
                f.to_string()
            },
            numeric: true,
        },
        Data::Int(i) => Cell {
            text: i.to_string(),
            numeric: true,
        },
        Data::Empty => Cell {
            text: String::new(),
            numeric: false,
        },
        other => Cell {
            text: other.to_string(),
            numeric: false,
        },
    }
}
