//! Known anomalies planted among the demo city's ordinary months
//! (`aixin demo --plant-anomalies`): one or more for each integrity signal,
//! all in one month (two before the current one, so that every review and
//! visit of it has happened), so that a test can check that each signal
//! finds what was planted and nothing much else.

use crate::signals::Kind;
use crate::time::Month;

/// Villages (by index) that carry one planted pattern each. The demo city
/// has at least ten villages from 800 households up.
pub const V_OUTLIER: usize = 0;
pub const V_CONCENTRATION: usize = 1;
pub const V_HELPER: usize = 2;
pub const V_PAIR: usize = 3;
pub const V_BURST: usize = 4;
pub const V_BACKDATED: usize = 5;
pub const V_COPIED: usize = 6;
pub const V_FAST: usize = 7;
/// Households of these villages: the first redeems at two stores, the
/// second earns every month and never redeems.
pub const V_COUNTER: usize = 8;
/// The first takes valuable goods, another earns after being archived, and
/// the second (archived aside) is a clerk's relative: the clerk of the
/// first store has its phone on their own record.
pub const V_HOUSEHOLDS: usize = 9;
/// The note copied across households.
pub const COPIED_NOTE: &str = "积极参加村庄环境整治，表现突出";
/// Households given the copied note.
pub const COPIED_HOUSEHOLDS: usize = 15;
/// Awards dated long before they were proposed, and by how many days.
pub const BACKDATED: usize = 3;
pub const BACKDATED_DAYS: i64 = 75;
/// Redemptions made at night at the first store.
pub const NIGHT_REDEMPTIONS: usize = 3;

/// One planted anomaly: the signal that should find it, its month, and its
/// subject (for a copied note, the start of the subject: the proposer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    pub kind: Kind,
    pub month: Month,
    pub subject: String,
}

impl Planted {
    /// Whether a finding's subject is this anomaly.
    pub fn matches(&self, kind: Kind, subject: &str) -> bool {
        kind == self.kind
            && if kind == Kind::CopiedNote {
                subject.starts_with(&format!("{}|", self.subject))
            } else {
                subject == self.subject
            }
    }
}

/// The month that carries the anomalies, for a demo ending in `current`.
pub fn month(current: Month) -> Month {
    current.prev().prev()
}

/// Whether a city of this size can carry the whole planted set.
pub fn fits(villages: usize, months: usize) -> bool {
    villages >= 10 && months >= 3
}
