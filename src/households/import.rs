//! Bringing in the city's household lists: CSV or XLSX with Chinese column
//! headers. First a check (what would be created, updated or refused, each
//! refusal with row, column and reason), then the valid rows in one
//! transaction, all or none. Matching is by ID number, so importing the
//! same file twice changes nothing.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{HouseholdError, HouseholdInput, Status, parse_members};
use crate::areas::{self, Area};
use crate::audit::{self, AuditCtx};
use crate::auth::{Action, Actor, Scope};
use crate::crypto::DataKey;
use crate::db::schema::{households, import_jobs, users};
use crate::db::{self, DbConn, DbPool};
use crate::domain::{AreaLevel, FieldError, IdNumber, Phone, parse_name, parse_optional_text};

/// The columns a file may have, and the headers that name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    HeadName,
    IdNumber,
    Phone,
    Village,
    Address,
    Members,
    Status,
    Helper,
    Notes,
}

impl Column {
    pub const ALL: [Column; 9] = [
        Column::HeadName,
        Column::IdNumber,
        Column::Phone,
        Column::Village,
        Column::Address,
        Column::Members,
        Column::Status,
        Column::Helper,
        Column::Notes,
    ];

    /// Translation key of the column's field name.
    pub fn field(self) -> &'static str {
        match self {
            Column::HeadName => "field.head_name",
            Column::IdNumber => "field.id_number",
            Column::Phone => "field.phone",
            Column::Village => "field.village",
            Column::Address => "field.address",
            Column::Members => "field.members",
            Column::Status => "field.status",
            Column::Helper => "field.helper",
            Column::Notes => "field.notes",
        }
    }

    /// The header written in templates and exports.
    pub fn header(self) -> &'static str {
        match self {
            Column::HeadName => "户主姓名",
            Column::IdNumber => "身份证号",
            Column::Phone => "联系电话",
            Column::Village => "所属村",
            Column::Address => "家庭住址",
            Column::Members => "家庭人口",
            Column::Status => "户类型",
            Column::Helper => "帮扶责任人",
            Column::Notes => "备注",
        }
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::HeadName => &["户主姓名", "户主", "姓名", "head_name", "name"],
            Column::IdNumber => &[
                "身份证号",
                "身份证号码",
                "户主身份证号",
                "证件号码",
                "id_number",
            ],
            Column::Phone => &["联系电话", "电话", "手机", "手机号", "手机号码", "phone"],
            Column::Village => &["所属村", "村", "村庄", "行政村", "village"],
            Column::Address => &["家庭住址", "地址", "住址", "address"],
            Column::Members => &["家庭人口", "人口", "家庭人口数", "人数", "members"],
            Column::Status => &["户类型", "户属性", "状态", "类型", "status"],
            Column::Helper => &["帮扶责任人", "帮扶干部", "帮扶人", "helper"],
            Column::Notes => &["备注", "notes"],
        }
    }

    fn of_header(h: &str) -> Option<Column> {
        let h = h.trim().trim_start_matches('\u{feff}');
        Column::ALL
            .into_iter()
            .find(|c| c.aliases().iter().any(|a| a.eq_ignore_ascii_case(h)))
    }

    fn required(self) -> bool {
        matches!(
            self,
            Column::HeadName | Column::IdNumber | Column::Village | Column::Members
        )
    }
}

/// A problem with one row (or the file as a whole, row 0), in keys so that
/// it can be shown in the reader's language.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub field: String,
    pub key: String,
    pub args: Vec<(String, String)>,
}

impl RowError {
    fn new(row: usize, e: FieldError) -> RowError {
        RowError {
            row,
            field: e.field.to_string(),
            key: e.key.to_string(),
            args: e
                .args
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }

    pub fn message(&self, lang: &crate::i18n::Lang) -> String {
        let lang = *lang;
        let args: Vec<(&str, String)> = self
            .args
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        crate::i18n::tf(lang, &self.key, &args)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SampleRow {
    pub row: usize,
    pub head_name: String,
    pub village: String,
}

/// What an import did, or would do.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Report {
    pub total: usize,
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub refused: Vec<RowError>,
    pub sample_create: Vec<SampleRow>,
    pub sample_update: Vec<SampleRow>,
    pub committed: bool,
    /// Every field an update would change, old and new value (phones masked).
    #[serde(default)]
    pub changes: Vec<FieldChange>,
    /// A digest of everything the check found (and the state of the
    /// households it would touch): a confirm applies only while the same
    /// check gives the same digest.
    #[serde(default)]
    pub fingerprint: String,
    /// The data changed after the check that was confirmed, so this is a
    /// new check to review.
    #[serde(default)]
    pub changed_since_check: bool,
    /// Rows whose ID number is registered outside the checker's scope, with
    /// that household's id: for the administrators' audit log only, never
    /// stored in the job or shown to the checker.
    #[serde(skip)]
    pub conflicts: Vec<(usize, String)>,
    /// The households an import registered, each with its new card.
    #[serde(default)]
    pub created: Vec<CreatedHousehold>,
}

/// A household an import registered: its file row and its new card.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct CreatedHousehold {
    pub row: usize,
    pub household_id: String,
    pub head_name: String,
    pub village: String,
    pub card_no: String,
}

/// One field an import would change in a registered household.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct FieldChange {
    pub row: usize,
    pub head_name: String,
    /// Translation key of the field's name.
    pub field: String,
    pub old: String,
    pub new: String,
    /// `old` and `new` are translation keys (the household type).
    pub translate: bool,
}

impl Report {
    /// Whether any row (not the file as a whole) was refused.
    pub fn has_refused_rows(&self) -> bool {
        self.refused.iter().any(|e| e.row > 0)
    }

    pub fn refused_rows(&self) -> usize {
        let mut rows: Vec<usize> = self.refused.iter().map(|e| e.row).collect();
        rows.dedup();
        rows.len()
    }
}

/// A file's rows as strings, keyed by column; row numbers as a spreadsheet
/// shows them (the header is row 1).
pub struct Table {
    pub rows: Vec<(usize, HashMap<Column, Cell>)>,
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    /// Excel stored it as a number (ID numbers lose their last digits so).
    pub numeric: bool,
}

/// The most data rows a file may hold (a county's list is well under it).
pub const MAX_ROWS: usize = 100_000;
/// The furthest column a filled cell may be in (column CV).
pub const MAX_COLUMNS: u32 = 100;
/// The most filled cells a file may hold.
pub const MAX_CELLS: usize = 2_000_000;
/// The most text, in bytes, all cells together may hold once read.
pub const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;
/// The most bytes an XLSX may unpack to, all its zip entries together.
pub const MAX_UNZIPPED_BYTES: u64 = 100 * 1024 * 1024;
/// Longest text kept of one cell (every field is far shorter; a longer one
/// is refused by the field's own check).
const MAX_CELL_CHARS: usize = 1_000;

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
    fn new() -> Grid {
        Grid {
            rows: Default::default(),
            cells: 0,
            text_bytes: 0,
        }
    }

    /// Keep one cell (0-based position); empty cells are skipped, a filled
    /// one outside the caps refuses the file.
    fn push(&mut self, row: u32, col: u32, mut cell: Cell) -> Result<(), FieldError> {
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

/// Villages in the scope, found by name, or by "town/village" when two
/// villages share a name.
struct Villages {
    /// (names from the top down, the village)
    all: Vec<(Vec<String>, Area)>,
}

impl Villages {
    fn load(conn: &mut DbConn, scope: &Scope) -> QueryResult<Villages> {
        let tree = match scope {
            Scope::All => areas::tree(conn)?,
            Scope::Area { path, .. } => {
                // Names of the areas above the scope are needed for paths too.
                let _ = path;
                areas::tree(conn)?
            }
            _ => Vec::new(),
        };
        let by_id: HashMap<&str, &Area> = tree.iter().map(|a| (a.id.as_str(), a)).collect();
        let mut all = Vec::new();
        for a in &tree {
            if a.level() != AreaLevel::Village || !scope.covers_area_path(&a.path) {
                continue;
            }
            let names = a
                .path
                .split('/')
                .filter(|s| !s.is_empty())
                .filter_map(|id| by_id.get(id).map(|x| x.name.clone()))
                .collect();
            all.push((names, a.clone()));
        }
        Ok(Villages { all })
    }

    fn find(&self, text: &str) -> Result<&Area, FieldError> {
        let parts: Vec<&str> = text
            .split(['/', '>', '＞', '／'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            return Err(FieldError::new("field.village", "error.required"));
        }
        let matches: Vec<&Area> = self
            .all
            .iter()
            .filter(|(names, _)| {
                names.len() >= parts.len()
                    && names[names.len() - parts.len()..]
                        .iter()
                        .zip(&parts)
                        .all(|(a, b)| a == b)
            })
            .map(|(_, a)| a)
            .collect();
        match matches.len() {
            1 => Ok(matches[0]),
            0 => Err(FieldError::new("field.village", "error.village_not_found")
                .arg("name", text.trim())),
            _ => Err(FieldError::new("field.village", "error.village_ambiguous")
                .arg("name", text.trim())),
        }
    }
}

/// Officials' shown names by id.
fn helper_names(conn: &mut DbConn) -> QueryResult<HashMap<String, String>> {
    let rows: Vec<(String, String, String)> = users::table
        .filter(users::role.eq("official"))
        .select((users::id, users::username, users::display_name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, u, d)| (id, if d.is_empty() { u } else { d }))
        .collect())
}

/// Officials by username or display name.
fn helper_ids(conn: &mut DbConn) -> QueryResult<HashMap<String, String>> {
    let rows: Vec<(String, String, String)> = users::table
        .filter(users::role.eq("official"))
        .select((users::id, users::username, users::display_name))
        .load(conn)?;
    let mut map = HashMap::new();
    for (id, u, d) in rows {
        map.insert(u, id.clone());
        if !d.is_empty() {
            map.insert(d, id);
        }
    }
    Ok(map)
}

fn text(row: &HashMap<Column, Cell>, c: Column) -> &str {
    row.get(&c).map(|x| x.text.as_str()).unwrap_or("")
}

struct Checked {
    row: usize,
    input: HouseholdInput,
    village: String,
}

/// Parse one row; every problem of the row is reported.
fn check_row(
    row_no: usize,
    row: &HashMap<Column, Cell>,
    villages: &Villages,
    helpers: &HashMap<String, String>,
) -> Result<Checked, Vec<RowError>> {
    let mut errors = Vec::new();
    macro_rules! keep {
        ($e:expr) => {
            match $e {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(RowError::new(row_no, e));
                    None
                }
            }
        };
    }
    let head_name = keep!(parse_name(
        "field.head_name",
        text(row, Column::HeadName),
        40
    ));
    let id_cell = row.get(&Column::IdNumber);
    // An ID number Excel stored as a number has lost its last digits even
    // when the check digit happens to fit: refused whatever it says.
    let id_number = keep!(if id_cell.is_some_and(|c| c.numeric) {
        Err(FieldError::new("field.id_number", "error.id_numeric_cell"))
    } else {
        IdNumber::parse("field.id_number", text(row, Column::IdNumber))
    });
    let phone_text = text(row, Column::Phone);
    let phone = if phone_text.trim().is_empty() {
        Some(None)
    } else {
        keep!(Phone::parse("field.phone", phone_text).map(Some))
    };
    let village = keep!(villages.find(text(row, Column::Village)).cloned());
    let address = keep!(parse_optional_text(
        "field.address",
        text(row, Column::Address),
        200
    ));
    let members = keep!(parse_members(text(row, Column::Members)));
    let status_text = text(row, Column::Status);
    let status = if status_text.trim().is_empty() {
        Some(Status::Registered)
    } else {
        keep!(
            Status::parse(status_text).ok_or(
                FieldError::new("field.status", "error.status_unknown_value")
                    .arg("value", status_text.trim())
            )
        )
    };
    let helper_text = text(row, Column::Helper).trim();
    let helper_id = if helper_text.is_empty() {
        Some(None)
    } else {
        keep!(helpers.get(helper_text).cloned().map(Some).ok_or(
            FieldError::new("field.helper", "error.helper_not_found").arg("name", helper_text)
        ))
    };
    let notes = keep!(parse_optional_text(
        "field.notes",
        text(row, Column::Notes),
        500
    ));
    match (
        head_name, id_number, phone, village, address, members, status, helper_id, notes,
    ) {
        (
            Some(head_name),
            Some(id),
            Some(phone),
            Some(village),
            Some(address),
            Some(members),
            Some(status),
            Some(helper_id),
            Some(notes),
        ) if errors.is_empty() => Ok(Checked {
            row: row_no,
            input: HouseholdInput {
                head_name,
                id_number: Some(id),
                phone,
                area_id: village.id.clone(),
                address,
                members,
                status,
                helper_id,
                notes,
                status_reason: String::new(),
            },
            village: village.name,
        }),
        _ => Err(errors),
    }
}

enum Plan {
    Create(Checked),
    Update { id: String, checked: Checked },
}

/// Check every row against the file and the database; returns the report
/// and what committing would do. `progress(done, total)` is called now and then.
fn plan(
    conn: &mut DbConn,
    key: &DataKey,
    scope: &Scope,
    table: &Table,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Report, Vec<Plan>), HouseholdError> {
    let villages = Villages::load(conn, scope)?;
    let helpers = helper_ids(conn)?;
    let total = table.rows.len();
    let mut report = Report {
        total,
        ..Report::default()
    };
    let mut checked = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, (row_no, row)) in table.rows.iter().enumerate() {
        match check_row(*row_no, row, &villages, &helpers) {
            Ok(c) => {
                let lookup = key.lookup("id", c.input.id_number.as_ref().expect("parsed").expose());
                if let Some(first) = seen.get(&lookup) {
                    report.refused.push(RowError::new(
                        *row_no,
                        FieldError::new("field.id_number", "error.id_duplicate_in_file")
                            .arg("row", first),
                    ));
                } else {
                    seen.insert(lookup.clone(), *row_no);
                    checked.push((lookup, c));
                }
            }
            Err(errs) => report.refused.extend(errs),
        }
        if i % 500 == 0 {
            progress(i, total);
        }
    }
    // Which of the ID numbers are already registered, in chunks.
    let mut existing: HashMap<String, (super::Household, String, String)> = HashMap::new();
    let lookups: Vec<String> = checked.iter().map(|(l, _)| l.clone()).collect();
    for chunk in lookups.chunks(500) {
        let found: Vec<(super::Household, String, String)> = households::table
            .inner_join(crate::db::schema::areas::table)
            .filter(households::id_lookup.eq_any(chunk))
            .filter(households::archived.eq(false))
            .select((
                super::Household::as_select(),
                crate::db::schema::areas::path,
                crate::db::schema::areas::name,
            ))
            .load(conn)?;
        for (h, path, name) in found {
            existing.insert(h.id_lookup.clone(), (h, path, name));
        }
    }
    let helper_names = helper_names(conn)?;
    // What the digest covers besides the report: each planned row with the
    // ids it resolved to, and the version of each household it matched.
    let mut digest = Sha256::new();
    let mut plans = Vec::new();
    for (lookup, c) in checked {
        let inp = &c.input;
        digest.update(format!(
            "row {} {lookup} {} {:?} {} {} {} {}\n",
            c.row, inp.area_id, inp.helper_id, inp.head_name, inp.members, inp.address, inp.notes
        ));
        if let Some((h, _, _)) = existing.get(&lookup) {
            digest.update(format!("household {} {}\n", h.id, h.updated_at));
        }
        match existing.get(&lookup) {
            None => {
                report.create += 1;
                if report.sample_create.len() < 50 {
                    report.sample_create.push(SampleRow {
                        row: c.row,
                        head_name: c.input.head_name.clone(),
                        village: c.village.clone(),
                    });
                }
                plans.push(Plan::Create(c));
            }
            Some((h, path, old_village)) => {
                if !scope.covers_area_path(path) {
                    // Nothing about a household the checker may not see.
                    report.refused.push(RowError::new(
                        c.row,
                        FieldError::conflict(
                            "field.id_number",
                            "error.id_needs_admin",
                            crate::domain::Conflict::Taken,
                        ),
                    ));
                    report.conflicts.push((c.row, h.id.clone()));
                    continue;
                }
                let phone_now = if h.phone_cipher.is_empty() {
                    None
                } else {
                    key.decrypt(&h.phone_cipher)
                };
                let same = h.head_name == c.input.head_name
                    && phone_now.as_deref() == c.input.phone.as_ref().map(|p| p.expose())
                    && h.area_id == c.input.area_id
                    && h.address == c.input.address
                    && h.members == c.input.members
                    && h.status == c.input.status.as_str()
                    && h.helper_id == c.input.helper_id
                    && h.notes == c.input.notes;
                if same {
                    report.unchanged += 1;
                } else {
                    report.changes.extend(field_changes(
                        &c,
                        h,
                        old_village,
                        phone_now.as_deref(),
                        &helper_names,
                    ));
                    report.update += 1;
                    if report.sample_update.len() < 50 {
                        report.sample_update.push(SampleRow {
                            row: c.row,
                            head_name: c.input.head_name.clone(),
                            village: c.village.clone(),
                        });
                    }
                    plans.push(Plan::Update {
                        id: h.id.clone(),
                        checked: c,
                    });
                }
            }
        }
    }
    report.refused.sort_by_key(|e| e.row);
    digest.update(serde_json::to_vec(&report).unwrap_or_default());
    report.fingerprint = hex::encode(digest.finalize());
    progress(total, total);
    Ok((report, plans))
}

/// The fields a row would change in household `h`, old and new values.
fn field_changes(
    c: &Checked,
    h: &super::Household,
    old_village: &str,
    phone_now: Option<&str>,
    helper_names: &HashMap<String, String>,
) -> Vec<FieldChange> {
    let inp = &c.input;
    let mut out = Vec::new();
    // Phones are compared in full but shown masked (two numbers may share
    // a mask: the change is listed all the same).
    if phone_now != inp.phone.as_ref().map(|p| p.expose()) {
        out.push(FieldChange {
            row: c.row,
            head_name: h.head_name.clone(),
            field: "field.phone".into(),
            old: phone_now
                .map(|_| h.phone_masked.clone())
                .unwrap_or_default(),
            new: inp.phone.as_ref().map(|p| p.masked()).unwrap_or_default(),
            translate: false,
        });
    }
    // Villages are compared by id (two villages may share a name).
    if h.area_id != inp.area_id {
        out.push(FieldChange {
            row: c.row,
            head_name: h.head_name.clone(),
            field: "field.village".into(),
            old: old_village.to_string(),
            new: c.village.clone(),
            translate: false,
        });
    }
    let mut push = |field: &str, old: String, new: String, translate: bool| {
        if old != new {
            out.push(FieldChange {
                row: c.row,
                head_name: h.head_name.clone(),
                field: field.to_string(),
                old,
                new,
                translate,
            });
        }
    };
    push(
        "field.head_name",
        h.head_name.clone(),
        inp.head_name.clone(),
        false,
    );
    push(
        "field.address",
        h.address.clone(),
        inp.address.clone(),
        false,
    );
    push(
        "field.members",
        h.members.to_string(),
        inp.members.to_string(),
        false,
    );
    push(
        "field.status",
        Status::label_key_of(&h.status).to_string(),
        inp.status.label_key().to_string(),
        true,
    );
    let helper = |id: &Option<String>| {
        id.as_ref()
            .map(|i| helper_names.get(i).cloned().unwrap_or_default())
            .unwrap_or_default()
    };
    push(
        "field.helper",
        helper(&h.helper_id),
        helper(&inp.helper_id),
        false,
    );
    push("field.notes", h.notes.clone(), inp.notes.clone(), false);
    out
}

/// Check a file without changing any household.
pub fn check(
    conn: &mut DbConn,
    key: &DataKey,
    actor: &Actor,
    table: &Table,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Report, HouseholdError> {
    actor.require(Action::ImportHouseholds)?;
    let scope = &actor.scope;
    plan(conn, key, scope, table, progress).map(|(r, _)| r)
}

/// The most rows whose ID number is registered outside the checker's scope
/// that one check records one by one in the audit log (the rest are counted).
const MAX_CONFLICTS_AUDITED: usize = 100;

/// Record a check in the audit log with its counts, and each row whose ID
/// number is registered outside the checker's scope with that household,
/// for the administrators to look at.
pub fn audit_check(
    conn: &mut DbConn,
    actor: &Actor,
    file_name: &str,
    report: &Report,
) -> QueryResult<()> {
    let ctx = &actor.audit();
    db::write_tx(conn, |c| {
        audit::record(
            c,
            ctx,
            "household.import_check",
            "file",
            "",
            &format!(
                "{file_name}: {} rows, {} to create, {} to update, {} unchanged, {} rows refused, {} for an administrator to check",
                report.total,
                report.create,
                report.update,
                report.unchanged,
                report.refused_rows(),
                report.conflicts.len()
            ),
        )?;
        for (row, other) in report.conflicts.iter().take(MAX_CONFLICTS_AUDITED) {
            audit::record(
                c,
                ctx,
                "household.id_conflict",
                "household",
                other,
                &format!(
                    "{file_name} row {row}: the ID number is registered to this household, outside the user's scope; an administrator must check it"
                ),
            )?;
        }
        Ok(())
    })
}

/// How many files one user may have checked in an hour (counted in the
/// database, so across app servers).
pub const MAX_CHECKS_PER_HOUR: i64 = 20;

/// Whether `user_id` may have another file checked now; `Err` is the
/// message to show (too many checks in the last hour). Call it inside the
/// transaction that records the job: it takes the user's row lock first, so
/// that parallel uploads by one user are counted one after the other and
/// never pass the limit together (SQLite's write transactions are serial
/// already).
pub fn may_check(conn: &mut DbConn, user_id: &str) -> Result<(), HouseholdError> {
    diesel::update(users::table.find(user_id))
        .set(users::disabled.eq(users::disabled))
        .execute(conn)?;
    let since = db::now() - chrono::Duration::hours(1);
    let n: i64 = import_jobs::table
        .filter(import_jobs::user_id.eq(user_id))
        .filter(import_jobs::created_at.ge(since))
        .count()
        .get_result(conn)?;
    if n >= MAX_CHECKS_PER_HOUR {
        return Err(FieldError::new("field.file", "error.import_rate_limited")
            .arg("n", MAX_CHECKS_PER_HOUR)
            .into());
    }
    Ok(())
}

/// Check again and write every valid row, in one transaction: all or none.
/// (For the console, which checks and writes in one go; a confirmed web
/// import goes through [`commit_checked`].)
pub fn commit(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    table: &Table,
    file_name: &str,
    today: chrono::NaiveDate,
) -> Result<Report, HouseholdError> {
    actor.require(Action::ImportHouseholds)?;
    match commit_inner(conn, actor, key, table, file_name, today, None, "")? {
        Confirmed::Done(r) | Confirmed::Changed(r) => Ok(r),
    }
}

/// What confirming a check came to.
#[derive(Debug)]
pub enum Confirmed {
    /// Written, exactly as checked.
    Done(Report),
    /// Nothing written: checking again (in the same transaction) found
    /// something different; this is the new check, to review.
    Changed(Report),
}

/// Write a checked file, as its uploader (`ctx`, `scope`), only if checking
/// it again now gives the check that was shown (`fingerprint`); all rows in
/// one transaction. `confirmed_by` (when someone else confirmed) goes into
/// the audit row.
#[allow(clippy::too_many_arguments)]
pub fn commit_checked(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    table: &Table,
    file_name: &str,
    today: chrono::NaiveDate,
    fingerprint: &str,
    confirmed_by: &str,
) -> Result<Confirmed, HouseholdError> {
    actor.require(Action::ImportHouseholds)?;
    commit_inner(
        conn,
        actor,
        key,
        table,
        file_name,
        today,
        Some(fingerprint),
        confirmed_by,
    )
}

#[allow(clippy::too_many_arguments)]
fn commit_inner(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    table: &Table,
    file_name: &str,
    today: chrono::NaiveDate,
    fingerprint: Option<&str>,
    confirmed_by: &str,
) -> Result<Confirmed, HouseholdError> {
    let ctx = &actor.audit();
    let scope = &actor.scope;
    db::write_tx(conn, |c| {
        let (mut report, plans) = plan(c, key, scope, table, &mut |_, _| {})?;
        if fingerprint.is_some_and(|f| f != report.fingerprint) {
            report.changed_since_check = true;
            return Ok(Confirmed::Changed(report));
        }
        for p in &plans {
            match p {
                Plan::Create(checked) => {
                    let (household_id, card) = create_in_tx(c, ctx, key, &checked.input)?;
                    report.created.push(CreatedHousehold {
                        row: checked.row,
                        household_id,
                        head_name: checked.input.head_name.clone(),
                        village: checked.village.clone(),
                        card_no: card.as_str().to_string(),
                    });
                }
                Plan::Update { id, checked } => {
                    let mut input = checked.input.clone();
                    input.status_reason = "import".into();
                    super::update(c, actor, key, id, &input, today)?;
                }
            }
        }
        report.committed = true;
        let by = if confirmed_by.is_empty() || confirmed_by == ctx.username {
            String::new()
        } else {
            format!(" (confirmed by {confirmed_by})")
        };
        audit::record(
            c,
            ctx,
            "household.import",
            "file",
            "",
            &format!(
                "{file_name}: {} created, {} updated, {} unchanged, {} rows refused{by}",
                report.create,
                report.update,
                report.unchanged,
                report.refused_rows()
            ),
        )?;
        Ok(Confirmed::Done(report))
    })
}

/// Insert one household with its card inside the import's transaction
/// (no audit row per household: the import's own row covers them).
/// Returns the household's id and its card.
fn create_in_tx(
    c: &mut DbConn,
    ctx: &AuditCtx,
    key: &DataKey,
    input: &HouseholdInput,
) -> Result<(String, crate::domain::CardNo), HouseholdError> {
    let id_number = input.id_number.as_ref().expect("parsed");
    let lookup = key.lookup("id", id_number.expose());
    let (phone_cipher, phone_masked) = match &input.phone {
        Some(p) => (key.encrypt(p.expose()), p.masked()),
        None => (String::new(), String::new()),
    };
    let id = db::new_id();
    let now = db::now();
    super::insert_household(
        c,
        ctx,
        &id,
        input,
        &key.encrypt(id_number.expose()),
        &lookup,
        id_number,
        &phone_cipher,
        &phone_masked,
        now,
    )?;
    let card = super::new_card(c, key, &id, &ctx.username, now)?;
    super::record_status(c, ctx, &id, None, input.status.as_str(), "import", now)?;
    Ok((id, card))
}

/// The refused rows of a file as they were typed: each with its row
/// number and its cells in the order of [`Column::ALL`].
pub type RefusedRows = Vec<(usize, Vec<String>)>;

/// Days an import's refused rows are kept for download.
pub const REFUSED_KEEP_DAYS: i64 = 7;

/// Keep the rows a check or an import refused, encrypted with the data key
/// (they hold full ID numbers and phones), for the person to fix and load
/// again; earlier ones of the job are replaced.
fn keep_refused(
    conn: &mut DbConn,
    key: &DataKey,
    job_id: &str,
    table: &Table,
    report: &Report,
) -> QueryResult<()> {
    let refused: std::collections::BTreeSet<usize> = report
        .refused
        .iter()
        .map(|e| e.row)
        .filter(|r| *r > 0)
        .collect();
    let rows: RefusedRows = table
        .rows
        .iter()
        .filter(|(n, _)| refused.contains(n))
        .map(|(n, cells)| {
            (
                *n,
                Column::ALL
                    .iter()
                    .map(|c| cells.get(c).map(|x| x.text.clone()).unwrap_or_default())
                    .collect(),
            )
        })
        .collect();
    let stored = if rows.is_empty() {
        Vec::new()
    } else {
        key.encrypt_bytes(&serde_json::to_vec(&rows).unwrap_or_default())
    };
    diesel::update(import_jobs::table.find(job_id))
        .set(import_jobs::refused_rows.eq(stored))
        .execute(conn)?;
    Ok(())
}

/// A job's refused rows, for the person who may see the job (see
/// [`job_for`]); empty when none were refused or they were purged.
///
/// Errors: as [`job_for`].
pub fn refused_rows(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &str,
) -> Result<(Job, RefusedRows), HouseholdError> {
    let job = job_for(conn, actor, id)?;
    let stored: Vec<u8> = import_jobs::table
        .find(id)
        .select(import_jobs::refused_rows)
        .first(conn)?;
    let rows = key
        .decrypt_bytes(&stored)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    Ok((job, rows))
}

/// The households a finished import registered, read again for the actor
/// (each within their scope), to print their cards.
///
/// Errors: as [`job_for`].
pub fn created_households(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
) -> Result<Vec<super::HouseholdRow>, HouseholdError> {
    let job = job_for(conn, actor, id)?;
    let created = job.report().map(|r| r.created).unwrap_or_default();
    let mut rows = Vec::with_capacity(created.len());
    for h in created {
        match super::find(conn, actor, &h.household_id) {
            Ok(row) => rows.push(row),
            // Since moved out of the actor's scope or archived away.
            Err(HouseholdError::NotFound | HouseholdError::Forbidden) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(rows)
}

crate::text_enum! {
    /// Where an import job stands: its file being checked (`Checking`),
    /// checked and waiting to be confirmed (`Checked`), being imported
    /// (`Importing`), or ended: imported (`Done`), refused (`Failed`) or
    /// not confirmed in time (`Expired`).
    pub enum ImportState {
        Checking = "checking",
        Checked = "checked",
        Importing = "importing",
        Done = "done",
        Failed = "failed",
        Expired = "expired",
    }
}

impl ImportState {
    /// A job still working on its file.
    pub const RUNNING: [ImportState; 2] = [ImportState::Checking, ImportState::Importing];

    /// Whether the job has ended with its file dropped.
    pub fn ended(self) -> bool {
        matches!(self, ImportState::Done | ImportState::Failed)
    }
}

/// Import jobs: an uploaded file, checked (and later imported) in the
/// background while the browser shows progress.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = import_jobs)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub user_id: String,
    pub file_name: String,
    pub state: ImportState,
    pub rows_total: i64,
    pub rows_done: i64,
    pub report: String,
    pub created_at: chrono::NaiveDateTime,
}

impl Job {
    pub fn report(&self) -> Option<Report> {
        serde_json::from_str(&self.report).ok()
    }
    pub fn percent(&self) -> i64 {
        if self.rows_total == 0 {
            0
        } else {
            self.rows_done * 100 / self.rows_total
        }
    }
    pub fn running(&self) -> bool {
        ImportState::RUNNING.contains(&self.state)
    }
}

pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// An unconfirmed check's file is deleted after this many minutes (the
/// housekeeping runs every five, so it is gone within the hour), and the
/// check can no longer be confirmed.
pub const CHECK_KEEP_MINUTES: i64 = 50;

/// Record an uploaded file as a job being checked. The file (full ID numbers
/// and phones) is kept encrypted with the data key, and only until the job
/// is confirmed, fails, or its check expires. Returns the job's id.
pub fn create_job(
    conn: &mut DbConn,
    key: &DataKey,
    user_id: &str,
    file_name: &str,
    bytes: &[u8],
) -> QueryResult<String> {
    let bytes = key.encrypt_bytes(bytes);
    let id = db::new_id();
    let now = db::now();
    diesel::insert_into(import_jobs::table)
        .values((
            import_jobs::id.eq(&id),
            import_jobs::kind.eq("households"),
            import_jobs::user_id.eq(user_id),
            import_jobs::file_name.eq(file_name),
            import_jobs::file.eq(&bytes),
            import_jobs::state.eq(ImportState::Checking),
            import_jobs::created_at.eq(now),
            import_jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Delete the files of checks not confirmed within [`CHECK_KEEP_MINUTES`]:
/// the job becomes "expired" (its report stays; confirming is refused).
/// Refused rows older than [`REFUSED_KEEP_DAYS`] go too. Returns how many
/// files were deleted.
pub fn purge_stale_files(conn: &mut DbConn, now: chrono::NaiveDateTime) -> QueryResult<usize> {
    let purged = transition(
        conn,
        Jobs::IdleSince(now - chrono::Duration::minutes(CHECK_KEEP_MINUTES)),
        &[ImportState::Checked],
        ImportState::Expired,
        JobChanges::default(),
    )?;
    // Refused rows are kept a week for fixing, then go too.
    diesel::update(
        import_jobs::table
            .filter(import_jobs::updated_at.lt(now - chrono::Duration::days(REFUSED_KEEP_DAYS))),
    )
    .set(import_jobs::refused_rows.eq(Vec::<u8>::new()))
    .execute(conn)?;
    Ok(purged)
}

/// A job for the person who uploaded its file, or an administrator: only
/// they see its report or confirm it. A job whose server stopped mid-way
/// is ended as failed first, so it never shows as running.
///
/// Errors: `Forbidden` for a role without `ImportHouseholds` or another
/// user's job; `NotFound` for an unknown id.
pub fn job_for(conn: &mut DbConn, actor: &Actor, id: &str) -> Result<Job, HouseholdError> {
    actor.require(Action::ImportHouseholds)?;
    fail_stale_jobs(conn, db::now())?;
    let job = find_job(conn, id)?.ok_or(HouseholdError::NotFound)?;
    // Another user's job: only for an administrator of the whole scheme.
    if job.user_id != actor.user_id
        && (actor.role != crate::domain::Role::Admin || actor.scope != crate::auth::Scope::All)
    {
        return Err(HouseholdError::Forbidden);
    }
    Ok(job)
}

pub fn find_job(conn: &mut DbConn, id: &str) -> QueryResult<Option<Job>> {
    import_jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .optional()
}

/// Which import jobs a transition looks at.
enum Jobs<'a> {
    /// One job; with `fresh_since`, only if it last moved at or after then.
    One {
        id: &'a str,
        fresh_since: Option<chrono::NaiveDateTime>,
    },
    /// Every job that has not moved since then.
    IdleSince(chrono::NaiveDateTime),
}

/// What a transition writes besides the state (`None`: left as it is).
#[derive(Default, AsChangeset)]
#[diesel(table_name = import_jobs)]
struct JobChanges {
    rows_done: Option<i64>,
    rows_total: Option<i64>,
    report: Option<String>,
    updated_at: Option<chrono::NaiveDateTime>,
}

/// The one way an import job's state changes: one conditional update of
/// the `jobs` whose state is one of `from`, to `to` with `changes`. The
/// uploaded file holds full ID numbers and phones: a job that ends or
/// expires drops it in the same statement, so no reader ever sees "done"
/// with the file. Returns how many jobs moved; zero means none stood where
/// `from` says (a second confirm, or a job already ended as stale), and the
/// caller says what that means.
fn transition(
    conn: &mut DbConn,
    jobs: Jobs,
    from: &[ImportState],
    to: ImportState,
    changes: JobChanges,
) -> QueryResult<usize> {
    let mut guarded = diesel::update(import_jobs::table)
        .filter(import_jobs::state.eq_any(from.to_vec()))
        .into_boxed();
    match jobs {
        Jobs::One { id, fresh_since } => {
            guarded = guarded.filter(import_jobs::id.eq(id));
            if let Some(t) = fresh_since {
                guarded = guarded.filter(import_jobs::updated_at.ge(t));
            }
        }
        Jobs::IdleSince(t) => guarded = guarded.filter(import_jobs::updated_at.lt(t)),
    }
    if to.ended() || to == ImportState::Expired {
        guarded
            .set((
                import_jobs::state.eq(to),
                import_jobs::file.eq(Vec::<u8>::new()),
                changes,
            ))
            .execute(conn)
    } else {
        guarded
            .set((import_jobs::state.eq(to), changes))
            .execute(conn)
    }
}

/// A running job's progress, or its end: only a running job moves on (one
/// ended as stale stays ended).
fn set_job(
    conn: &mut DbConn,
    id: &str,
    state: ImportState,
    done: i64,
    total: i64,
    report: &str,
) -> QueryResult<()> {
    let one = Jobs::One {
        id,
        fresh_since: None,
    };
    let changes = JobChanges {
        rows_done: Some(done),
        rows_total: Some(total),
        report: Some(report.to_string()),
        updated_at: Some(db::now()),
    };
    transition(conn, one, &ImportState::RUNNING, state, changes)?;
    Ok(())
}

/// Move a checked job to "importing", exactly once, and only while its
/// check has not expired (a second confirm, or a late one, changes nothing
/// and gets `false`).
pub fn start_commit(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let one = Jobs::One {
        id,
        fresh_since: Some(db::now() - chrono::Duration::minutes(CHECK_KEEP_MINUTES)),
    };
    let changes = JobChanges {
        updated_at: Some(db::now()),
        ..JobChanges::default()
    };
    let n = transition(
        conn,
        one,
        &[ImportState::Checked],
        ImportState::Importing,
        changes,
    )?;
    Ok(n == 1)
}

fn error_report(e: FieldError) -> String {
    serde_json::to_string(&Report {
        refused: vec![RowError::new(0, e)],
        ..Report::default()
    })
    .unwrap_or_default()
}

/// How many import checks or commits one app server runs at once; more
/// wait their turn (each can hold a large file's rows in memory).
pub const MAX_RUNNING_JOBS: usize = 2;

/// The turns for [`MAX_RUNNING_JOBS`] (a per-process resource cap, not a
/// correctness guard: job states are guarded in the database).
static RUNNING: crate::at_once::AtOnce = crate::at_once::AtOnce::new(MAX_RUNNING_JOBS);

/// A job that has shown no progress for this long was interrupted (its
/// server stopped): it is ended as failed.
pub const STALE_JOB_MINUTES: i64 = 30;

/// End as failed, with its reason, every job still "checking" or
/// "importing" that has not moved for [`STALE_JOB_MINUTES`] (an import runs
/// in one transaction, so an interrupted one left nothing behind).
/// Returns how many were ended.
pub fn fail_stale_jobs(conn: &mut DbConn, now: chrono::NaiveDateTime) -> QueryResult<usize> {
    let changes = JobChanges {
        report: Some(error_report(FieldError::new(
            "field.file",
            "error.import_interrupted",
        ))),
        updated_at: Some(now),
        ..JobChanges::default()
    };
    transition(
        conn,
        Jobs::IdleSince(now - chrono::Duration::minutes(STALE_JOB_MINUTES)),
        &ImportState::RUNNING,
        ImportState::Failed,
        changes,
    )
}

/// Run a job's check or commit to the end (on a blocking thread), at most
/// [`MAX_RUNNING_JOBS`] at once. Whatever happens (a refused file, a
/// database error, a panic) the job ends "checked", "done" or "failed" with
/// its reason; it is never left running.
pub fn run_job(
    pool: &DbPool,
    key: &DataKey,
    actor: &Actor,
    job_id: &str,
    commit_it: bool,
    today: chrono::NaiveDate,
) {
    let _turn = RUNNING.turn();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_job_inner(pool, key, actor, job_id, commit_it, today)
    }));
    if outcome.is_err() {
        tracing::error!(job = job_id, "import job panicked");
        if let Ok(mut conn) = pool.get() {
            let _ = set_job(
                &mut conn,
                job_id,
                ImportState::Failed,
                0,
                0,
                &error_report(FieldError::new("field.file", "error.import_failed")),
            );
        }
    }
}

fn run_job_inner(
    pool: &DbPool,
    key: &DataKey,
    actor: &Actor,
    job_id: &str,
    commit_it: bool,
    today: chrono::NaiveDate,
) {
    let result = (|| -> Result<(), String> {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let (file_name, stored, uploader_id, checked): (String, Vec<u8>, String, String) =
            import_jobs::table
                .find(job_id)
                .select((
                    import_jobs::file_name,
                    import_jobs::file,
                    import_jobs::user_id,
                    import_jobs::report,
                ))
                .first(&mut conn)
                .map_err(|e| e.to_string())?;
        let Some(bytes) = key.decrypt_bytes(&stored) else {
            // Deleted (expired), or kept in the clear by an older version.
            set_job(
                &mut conn,
                job_id,
                ImportState::Failed,
                0,
                0,
                &error_report(FieldError::new("field.file", "error.import_expired")),
            )
            .map_err(|e| e.to_string())?;
            return Ok(());
        };
        let table = match read_table(&file_name, &bytes) {
            Ok(t) => t,
            Err(e) => {
                set_job(
                    &mut conn,
                    job_id,
                    ImportState::Failed,
                    0,
                    0,
                    &error_report(e),
                )
                .map_err(|e| e.to_string())?;
                return Ok(());
            }
        };
        let total = table.rows.len() as i64;
        if commit_it {
            // Written as the person who uploaded and checked the file, within
            // their scope (not the confirmer's), and only as it was checked.
            let uploader = crate::users::find(&mut conn, &uploader_id)
                .map_err(|e| e.to_string())?
                .filter(|u| !u.disabled)
                .ok_or("the uploader no longer exists or is disabled")?;
            let uploader_scope =
                crate::users::scope_of(&mut conn, &uploader).map_err(|e| e.to_string())?;
            let as_uploader = Actor {
                user_id: uploader.id.clone(),
                username: uploader.username.clone(),
                role: uploader.role(),
                scope: uploader_scope,
                ip: actor.ip.clone(),
                request_id: actor.request_id.clone(),
            };
            let fingerprint = serde_json::from_str::<Report>(&checked)
                .map(|r| r.fingerprint)
                .unwrap_or_default();
            set_job(
                &mut conn,
                job_id,
                ImportState::Importing,
                0,
                total,
                &checked,
            )
            .map_err(|e| e.to_string())?;
            let outcome = commit_checked(
                &mut conn,
                &as_uploader,
                key,
                &table,
                &file_name,
                today,
                &fingerprint,
                &actor.username,
            )
            .map_err(|e| format!("{e:?}"))?;
            let (state, report) = match outcome {
                Confirmed::Done(r) => (ImportState::Done, r),
                // Back to "checked" with the new check, to be reviewed.
                Confirmed::Changed(r) => (ImportState::Checked, r),
            };
            keep_refused(&mut conn, key, job_id, &table, &report).map_err(|e| e.to_string())?;
            set_job(
                &mut conn,
                job_id,
                state,
                total,
                total,
                &serde_json::to_string(&report).unwrap_or_default(),
            )
            .map_err(|e| e.to_string())?;
        } else {
            let mut progress_conn = pool.get().map_err(|e| e.to_string())?;
            let report = check(&mut conn, key, actor, &table, &mut |done, total| {
                let _ = set_job(
                    &mut progress_conn,
                    job_id,
                    ImportState::Checking,
                    done as i64,
                    total as i64,
                    "",
                );
            })
            .map_err(|e| format!("{e:?}"))?;
            audit_check(&mut conn, actor, &file_name, &report).map_err(|e| e.to_string())?;
            keep_refused(&mut conn, key, job_id, &table, &report).map_err(|e| e.to_string())?;
            set_job(
                &mut conn,
                job_id,
                ImportState::Checked,
                total,
                total,
                &serde_json::to_string(&report).unwrap_or_default(),
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        tracing::error!(job = job_id, error = %e, "import job failed");
        if let Ok(mut conn) = pool.get() {
            let _ = set_job(
                &mut conn,
                job_id,
                ImportState::Failed,
                0,
                0,
                &error_report(FieldError::new("field.file", "error.import_failed")),
            );
        }
    }
}
