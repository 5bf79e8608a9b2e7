//! Bringing in the city's household lists: CSV or XLSX with Chinese column
//! headers. First a check (what would be created, updated or refused, each
//! refusal with row, column and reason), then the valid rows in one
//! transaction, all or none. Matching is by ID number, so importing the
//! same file twice changes nothing.

mod check;
mod commit;
mod jobs;
mod table;

pub use check::*;
pub use commit::*;
pub use jobs::*;
pub use table::*;

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
use crate::domain::{
    AreaLevel, FieldError, HouseholdId, IdNumber, Phone, parse_name, parse_optional_text,
};

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
            .map(|(k, v)| match (self.key.as_str(), k.as_str()) {
                ("error.village_ambiguous", "choices") => (
                    k.as_str(),
                    v.split(CHOICES_SEP)
                        .map(|c| choice_in(c, lang))
                        .collect::<Vec<_>>()
                        .join(CHOICES_SEP),
                ),
                _ => (k.as_str(), v.clone()),
            })
            .collect();
        crate::i18n::tf(lang, &self.key, &args)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SampleRow {
    pub row: usize,
    pub head_name: String,
    /// The village's name (see [`village_in`]).
    pub village: String,
    /// Its town's, when the importer looks from above town level.
    #[serde(default)]
    pub town: String,
}

impl SampleRow {
    /// The village in the reader's brackets.
    pub fn village_in(&self, lang: &crate::i18n::Lang) -> String {
        village_in(&self.village, &self.town, *lang)
    }
}

/// A village of a stored report as a reader of `lang` reads it. A report
/// stores it language-neutral, the village's name and its town's apart
/// (the town empty when the importer looked from inside the town); a
/// report stored before kept it as shown in Chinese, 东庄村（凤山街道）,
/// which is read back into its halves.
pub fn village_in(village: &str, town: &str, lang: crate::i18n::Lang) -> String {
    if !town.is_empty() {
        return crate::areas::display_name(village, Some(town), lang);
    }
    match check::split_shown(village) {
        Some((v, t)) => crate::areas::display_name(v, Some(t), lang),
        None => village.to_string(),
    }
}

/// A choice among villages of one name, as a report stores it
/// language-neutral: the names from the top down ("district/town/village",
/// or "town/village"); one stored before reads "[district/]village（town）".
/// Shown in the reader's brackets, the district first where it is named.
fn choice_in(text: &str, lang: crate::i18n::Lang) -> String {
    let mut parts: Vec<&str> = text.split('/').collect();
    let last = parts.pop().unwrap_or("");
    let (village, town) = match check::split_shown(last) {
        Some(halves) => halves,
        None => (last, parts.pop().unwrap_or("")),
    };
    let shown = crate::areas::display_name(village, Some(town), lang);
    if parts.is_empty() {
        shown
    } else {
        format!("{}/{shown}", parts.join("/"))
    }
}

/// How the choices of `error.village_ambiguous` are joined in a report.
const CHOICES_SEP: &str = " · ";

/// How an import treats its rows: chosen on the import form (or the
/// command line) and stored with its job, so the confirm writes as checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// A row whose ID number is already registered is skipped: counted in
    /// [`Report::skipped`], neither refused nor changing the household nor
    /// registered twice. Off (the default), such a row updates the
    /// household (or is refused outside the importer's area).
    pub skip_registered: bool,
}

/// What an import did, or would do.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Report {
    pub total: usize,
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    /// Rows whose ID number is already registered, skipped as asked
    /// ([`ImportOptions::skip_registered`]).
    #[serde(default)]
    pub skipped: usize,
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
    /// The village's name (see [`village_in`]).
    pub village: String,
    pub card_no: String,
    /// Its town's, when the importer looks from above town level.
    #[serde(default)]
    pub town: String,
}

impl CreatedHousehold {
    /// The village in the reader's brackets.
    pub fn village_in(&self, lang: &crate::i18n::Lang) -> String {
        village_in(&self.village, &self.town, *lang)
    }
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
    /// For a village: the towns of `old` and `new` (see [`village_in`]).
    #[serde(default)]
    pub old_town: String,
    #[serde(default)]
    pub new_town: String,
}

impl FieldChange {
    /// The old value as the reader reads it (a village in their brackets).
    pub fn old_in(&self, lang: &crate::i18n::Lang) -> String {
        self.value_in(&self.old, &self.old_town, *lang)
    }

    /// The new value as the reader reads it (a village in their brackets).
    pub fn new_in(&self, lang: &crate::i18n::Lang) -> String {
        self.value_in(&self.new, &self.new_town, *lang)
    }

    fn value_in(&self, value: &str, town: &str, lang: crate::i18n::Lang) -> String {
        if self.translate {
            crate::i18n::t(lang, value).to_string()
        } else if self.field == "field.village" {
            village_in(value, town, lang)
        } else {
            value.to_string()
        }
    }
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

struct Checked {
    row: usize,
    input: HouseholdInput,
    /// The village's name, and its town's when the importer looks from
    /// above town level (else empty).
    village: String,
    town: String,
}
