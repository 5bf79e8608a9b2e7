//! Integrity signals: patterns in a month's awards, redemptions and stock
//! that a person should look into (favours, invented records, goods leaving
//! without a real household). Each signal is a pure function in `compute`
//! over rows fetched by `fetch` (one or two queries per source table); the
//! auditor's "looked into" marks are in `marks`. Definitions, formulas and
//! thresholds: docs/signals.md.

pub mod compute;
pub mod fetch;
pub mod marks;
pub mod trend;

use chrono_tz::Tz;

use crate::areas::Area;
use crate::auth::{Action, Scope};
use crate::crypto::DataKey;
use crate::db::DbConn;
use crate::domain::{FieldError, Role};
use crate::settings::{self, Setting};
use crate::time::Month;

/// Which signal a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    ProposerOutlier,
    ProposerConcentration,
    HelperShare,
    ReviewPair,
    FastReviews,
    Backdated,
    MonthEndBurst,
    CopiedNote,
    ClerkVoids,
    OutsideHours,
    TwoStores,
    ValuableGoods,
    StockLosses,
    NeverRedeem,
    AfterArchive,
    StaffRelated,
}

impl Kind {
    pub const ALL: [Kind; 16] = [
        Kind::ProposerOutlier,
        Kind::ProposerConcentration,
        Kind::HelperShare,
        Kind::ReviewPair,
        Kind::FastReviews,
        Kind::Backdated,
        Kind::MonthEndBurst,
        Kind::CopiedNote,
        Kind::ClerkVoids,
        Kind::OutsideHours,
        Kind::TwoStores,
        Kind::ValuableGoods,
        Kind::StockLosses,
        Kind::NeverRedeem,
        Kind::AfterArchive,
        Kind::StaffRelated,
    ];

    /// The stable name stored with a mark and used in docs/signals.md.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ProposerOutlier => "proposer_outlier",
            Kind::ProposerConcentration => "proposer_concentration",
            Kind::HelperShare => "helper_share",
            Kind::ReviewPair => "review_pair",
            Kind::FastReviews => "fast_reviews",
            Kind::Backdated => "backdated",
            Kind::MonthEndBurst => "month_end_burst",
            Kind::CopiedNote => "copied_note",
            Kind::ClerkVoids => "clerk_voids",
            Kind::OutsideHours => "outside_hours",
            Kind::TwoStores => "two_stores",
            Kind::ValuableGoods => "valuable_goods",
            Kind::StockLosses => "stock_losses",
            Kind::NeverRedeem => "never_redeem",
            Kind::AfterArchive => "after_archive",
            Kind::StaffRelated => "staff_related",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The translation key of its name (`signals.kind_<name>`); its
    /// explanation is `signals.why_<name>`.
    pub fn label_key(self) -> String {
        format!("signals.kind_{}", self.as_str())
    }
}

/// What a row of evidence links to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// An award, shown on its household's page (`anchor` is the award id).
    Award,
    Redemption,
    Movement,
    Household,
    Store,
}

/// One row that raised a finding: a link and a short label.
#[derive(Debug, Clone, PartialEq)]
pub struct RowRef {
    pub kind: RowKind,
    /// The id the link opens (an award's household).
    pub id: String,
    pub label: String,
    /// The row inside the page (an award's id), or empty.
    pub anchor: String,
}

impl RowRef {
    /// The page that shows this row.
    pub fn href(&self) -> String {
        match self.kind {
            RowKind::Award | RowKind::Household => {
                if self.anchor.is_empty() {
                    format!("/households/{}", self.id)
                } else {
                    format!("/households/{}/statement#{}", self.id, self.anchor)
                }
            }
            RowKind::Redemption => format!("/redemptions/{}", self.id),
            RowKind::Movement => format!("/movements/{}", self.id),
            RowKind::Store => format!("/stores/{}", self.id),
        }
    }
}

/// One subject (an official, a pair, a household, a store, a redemption)
/// that a signal flags, with its score and the rows behind it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: Kind,
    /// Stable within the signal and month: what a mark is keyed by.
    pub subject: String,
    /// Shown name of the subject (filled in after computing).
    pub subject_label: String,
    /// The signal's own measure (see docs/signals.md).
    pub score: f64,
    /// The score over the threshold: how far past it (1 = at it).
    pub severity: f64,
    /// The figures behind the score, short.
    pub detail: String,
    /// Staff the finding is about (never shown to them).
    pub staff: Vec<String>,
    pub rows: Vec<RowRef>,
    /// The mark, when someone has looked into it.
    pub mark: Option<marks::Mark>,
}

impl Finding {
    pub fn new(
        kind: Kind,
        subject: &str,
        score: f64,
        threshold: f64,
        detail: String,
        staff: Vec<String>,
        rows: Vec<RowRef>,
    ) -> Finding {
        let severity = if threshold > 0.0 {
            score / threshold
        } else {
            1.0 + score / 1000.0
        };
        Finding {
            kind,
            subject: subject.to_string(),
            subject_label: String::new(),
            score,
            severity,
            detail,
            staff,
            rows,
            mark: None,
        }
    }
}

macro_rules! signal_settings {
    ($( $(#[$doc:meta])* $name:ident = $key:literal, $default:expr, $min:expr, $max:expr; )*) => {
        $(
            $(#[$doc])*
            pub const $name: Setting = Setting { key: $key, default: $default, min: $min, max: $max };
        )*
        /// Every signal threshold, as settings with their defaults.
        pub const SETTINGS: &[Setting] = &[$($name),*];
    };
}

signal_settings! {
    /// Robust z-score, in tenths, above which a proposer's points per household stand out (3.5).
    PROPOSER_Z = "signal.proposer_z_tenths", 35, 10, 1000;
    /// Concentration (Herfindahl x households), in tenths, from which a proposer is flagged (3.0).
    CONCENTRATION = "signal.concentration_tenths", 30, 10, 1000;
    /// Fewest awards in the month for the proposer signals to judge (10).
    MIN_AWARDS = "signal.min_awards", 10, 1, 100_000;
    /// Fewest points a household must get for the helper signal (20).
    MIN_POINTS = "signal.min_points", 20, 1, 1_000_000;
    /// Share (percent) of a household's points its own helper proposed (80).
    HELPER_SHARE_PCT = "signal.helper_share_pct", 80, 1, 100;
    /// Household points over the village median, in tenths (4.0).
    HELPER_RATIO = "signal.helper_ratio_tenths", 40, 10, 1000;
    /// Fewest decisions of one pair (30).
    PAIR_MIN = "signal.pair_min", 30, 2, 100_000;
    /// Share (percent) of a pair's decisions that are approvals (98).
    PAIR_APPROVE_PCT = "signal.pair_approve_pct", 98, 50, 100;
    /// -log10 of the chance of so few refusals, in tenths (2.0: one in a hundred).
    PAIR_SCORE = "signal.pair_score_tenths", 20, 1, 1000;
    /// Seconds after the previous decision that count as too fast (5).
    FAST_SECONDS = "signal.fast_seconds", 5, 1, 600;
    /// Fewest too-fast decisions of a reviewer in the month (20).
    FAST_MIN = "signal.fast_min", 20, 1, 100_000;
    /// Days between the date of the deed and the proposal (30).
    BACKDATED_DAYS = "signal.backdated_days", 30, 1, 3650;
    /// The month's last days that make up a burst (2).
    BURST_DAYS = "signal.burst_days", 2, 1, 10;
    /// Share of proposals in those days over their share of the month, in tenths (3.0).
    BURST_RATIO = "signal.burst_ratio_tenths", 30, 10, 1000;
    /// Households with the same note from one proposer on one day (10).
    COPIED_HOUSEHOLDS = "signal.copied_households", 10, 2, 100_000;
    /// A clerk's void rate, per mille, from which it is flagged (100).
    VOID_PERMILLE = "signal.void_permille", 100, 1, 1000;
    /// Fewest voids of a clerk in the month (3).
    VOID_MIN = "signal.void_min", 3, 1, 100_000;
    /// Minutes outside the store's opening hours (30).
    OUTSIDE_MINUTES = "signal.outside_minutes", 30, 0, 1440;
    /// Minutes between one household's redemptions at two stores (30).
    TWO_STORE_MINUTES = "signal.two_store_minutes", 30, 1, 1440;
    /// Points per unit from which goods are valuable (25).
    VALUABLE_POINTS = "signal.valuable_points", 25, 1, 1_000_000;
    /// Valuable units to one household at one store in the month (6).
    VALUABLE_UNITS = "signal.valuable_units", 6, 1, 100_000;
    /// Fewest points lost at a store for the losses signal (50).
    LOSS_MIN_POINTS = "signal.loss_min_points", 50, 1, 10_000_000;
    /// A store's loss ratio over the other stores' median, in tenths (3.0).
    LOSS_RATIO = "signal.loss_ratio_tenths", 30, 10, 1000;
    /// Months in a row of earning, with no redemption ever (6).
    NEVER_MONTHS = "signal.never_months", 6, 2, 24;
}

/// The thresholds in force, read once per computation.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub proposer_z: f64,
    pub concentration: f64,
    pub min_awards: i64,
    pub min_points: i64,
    pub helper_share_pct: i64,
    pub helper_ratio: f64,
    pub pair_min: i64,
    pub pair_approve_pct: i64,
    pub pair_score: f64,
    pub fast_seconds: i64,
    pub fast_min: i64,
    pub backdated_days: i64,
    pub burst_days: i64,
    pub burst_ratio: f64,
    pub copied_households: i64,
    pub void_permille: i64,
    pub void_min: i64,
    pub outside_minutes: i64,
    pub two_store_minutes: i64,
    pub valuable_points: i64,
    pub valuable_units: i64,
    pub loss_min_points: i64,
    pub loss_ratio: f64,
    pub never_months: i64,
}

impl Thresholds {
    fn with(get: impl Fn(Setting) -> i64) -> Thresholds {
        let tenths = |s| get(s) as f64 / 10.0;
        Thresholds {
            proposer_z: tenths(PROPOSER_Z),
            concentration: tenths(CONCENTRATION),
            min_awards: get(MIN_AWARDS),
            min_points: get(MIN_POINTS),
            helper_share_pct: get(HELPER_SHARE_PCT),
            helper_ratio: tenths(HELPER_RATIO),
            pair_min: get(PAIR_MIN),
            pair_approve_pct: get(PAIR_APPROVE_PCT),
            pair_score: tenths(PAIR_SCORE),
            fast_seconds: get(FAST_SECONDS),
            fast_min: get(FAST_MIN),
            backdated_days: get(BACKDATED_DAYS),
            burst_days: get(BURST_DAYS),
            burst_ratio: tenths(BURST_RATIO),
            copied_households: get(COPIED_HOUSEHOLDS),
            void_permille: get(VOID_PERMILLE),
            void_min: get(VOID_MIN),
            outside_minutes: get(OUTSIDE_MINUTES),
            two_store_minutes: get(TWO_STORE_MINUTES),
            valuable_points: get(VALUABLE_POINTS),
            valuable_units: get(VALUABLE_UNITS),
            loss_min_points: get(LOSS_MIN_POINTS),
            loss_ratio: tenths(LOSS_RATIO),
            never_months: get(NEVER_MONTHS),
        }
    }

    /// The thresholds as stored in settings (each falls back to its default).
    pub fn load(c: &mut DbConn) -> diesel::QueryResult<Thresholds> {
        let mut values = std::collections::HashMap::new();
        for s in SETTINGS {
            values.insert(s.key, settings::get(c, *s)?);
        }
        Ok(Thresholds::with(|s| values[s.key]))
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds::with(|s| s.default)
    }
}

/// One signal's findings for the month, most serious first.
#[derive(Debug, Clone)]
pub struct Signal {
    pub kind: Kind,
    pub findings: Vec<Finding>,
    /// Findings in each of the 12 months ending with this one (oldest first).
    pub trend: Vec<usize>,
}

impl Signal {
    /// The worst finding's severity (0 when none).
    pub fn severity(&self) -> f64 {
        self.findings.first().map(|f| f.severity).unwrap_or(0.0)
    }

    /// Findings marked as looked into.
    pub fn handled(&self) -> usize {
        self.findings.iter().filter(|f| f.mark.is_some()).count()
    }
}

/// A month's signals for an area (or the whole scheme).
#[derive(Debug, Clone)]
pub struct Report {
    pub month: Month,
    pub area_id: String,
    pub area_name: String,
    /// Signals with findings first, most serious first; then the quiet ones.
    pub signals: Vec<Signal>,
}

/// What the signals are asked for: a month (`YYYY-MM`; empty: this month)
/// and an area (empty: the whole of the viewer's scope).
#[derive(serde::Deserialize, Default, Clone, Debug)]
pub struct SignalsQuery {
    #[serde(default)]
    pub month: String,
    #[serde(default)]
    pub area: String,
}

/// Why signals could not be given.
#[derive(Debug, thiserror::Error)]
pub enum SignalsError {
    /// Only admins and auditors see signals.
    #[error("forbidden")]
    Forbidden,
    /// A month or area that does not parse or lies outside the scope.
    #[error("invalid field {}", .0.field)]
    Invalid(FieldError),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<FieldError> for SignalsError {
    fn from(e: FieldError) -> Self {
        SignalsError::Invalid(e)
    }
}

impl From<crate::auth::Forbidden> for SignalsError {
    fn from(_: crate::auth::Forbidden) -> Self {
        SignalsError::Forbidden
    }
}

impl crate::db::RetryableError for SignalsError {
    fn is_retryable(&self) -> bool {
        matches!(self, SignalsError::Db(e) if e.is_retryable())
    }
}

/// Who is looking, for the one check.
pub struct Viewer<'a> {
    pub user_id: &'a str,
    pub role: Role,
    pub scope: &'a Scope,
    /// The reader's language (how areas are named).
    pub lang: crate::i18n::Lang,
}

/// The month and area asked for, checked against the viewer's role and
/// scope: `Forbidden` for anyone but admins and auditors; `Invalid` naming
/// `field.month` or `field.report_area` for a month that does not parse or
/// an area outside the scope (which reads as unknown).
pub fn resolve(
    c: &mut DbConn,
    viewer: &Viewer,
    tz: Tz,
    q: &SignalsQuery,
) -> Result<(Month, Area, Vec<Area>), SignalsError> {
    if !crate::auth::permissions::can(viewer.role, Action::ViewSignals) {
        return Err(SignalsError::Forbidden);
    }
    let month = if q.month.trim().is_empty() {
        Month::of(crate::time::today(tz))
    } else {
        Month::parse(&q.month)?
    };
    let mut areas = match viewer.scope {
        Scope::All => crate::areas::tree(c)?,
        Scope::Area { path, .. } => crate::areas::subtree(c, path)?,
        Scope::Store { .. } | Scope::Nothing => return Err(SignalsError::Forbidden),
    };
    // Villages named with their towns for a reader above town level.
    crate::areas::InContext::load(
        c,
        viewer.scope,
        viewer.lang,
        areas.iter().map(|a| a.path.as_str()),
    )?
    .rename(&mut areas);
    let wanted = q.area.trim();
    let area = if wanted.is_empty() {
        areas.first().cloned()
    } else {
        areas.iter().find(|a| a.id == wanted).cloned()
    }
    .ok_or_else(|| FieldError::new("field.report_area", "error.area_unknown"))?;
    Ok((month, area, areas))
}

/// The month's signals for an area, as the viewer may see them: findings
/// about the viewer themselves are left out. Errors as `resolve`.
pub fn for_viewer(
    c: &mut DbConn,
    viewer: &Viewer,
    tz: Tz,
    key: &DataKey,
    q: &SignalsQuery,
) -> Result<(Report, Vec<Area>), SignalsError> {
    let (month, area, areas) = resolve(c, viewer, tz, q)?;
    let t = Thresholds::load(c)?;
    let mut report = compute_report(c, tz, key, &area, month, &t)?;
    for s in &mut report.signals {
        s.findings
            .retain(|f| !f.staff.iter().any(|u| u == viewer.user_id));
    }
    Ok((report, areas))
}

/// Every signal's findings for one month, in an area (`key` reads the
/// phones staff and households have on file, for the staff signal).
pub fn compute_month(
    c: &mut DbConn,
    tz: Tz,
    key: &DataKey,
    area_path: &str,
    month: Month,
    t: &Thresholds,
) -> diesel::QueryResult<Vec<Vec<Finding>>> {
    use compute as f;
    let rows = fetch::month(c, tz, key, area_path, month, t)?;
    let last_day = month.end_day().pred_opt().expect("a day");
    let (outliers, concentrated) = f::proposers(&rows.awards, t);
    let by_kind = vec![
        outliers,
        concentrated,
        f::helper_share(&rows.awards, t),
        f::review_pairs(&rows.awards, t),
        f::fast_reviews(&rows.awards, t),
        f::backdated(&rows.awards, tz, t),
        f::month_end_bursts(&rows.awards, tz, last_day, t),
        f::copied_notes(&rows.awards, tz, t),
        f::clerk_voids(&rows.redemptions, tz, t),
        f::outside_hours(&rows.redemptions, &rows.stores, tz, t),
        f::two_stores(&rows.redemptions, tz, t),
        f::valuable_goods(&rows.lines, t),
        f::stock_losses(&rows.losses, &rows.stores, t),
        f::never_redeem(&rows.earners, t.never_months),
        f::after_archive(&rows.awards),
        f::staff_related(&rows.awards, &rows.related),
    ];
    Ok(by_kind)
}

/// The report for a month and area: findings with names and marks, a
/// 12-month trend per signal (the eleven months before from their running
/// figures where kept, else computed in memory: `trend::counts`), most
/// serious first. Reads only: showing the page writes nothing.
pub fn compute_report(
    c: &mut DbConn,
    tz: Tz,
    key: &DataKey,
    area: &Area,
    month: Month,
    t: &Thresholds,
) -> diesel::QueryResult<Report> {
    let mut now = compute_month(c, tz, key, &area.path, month, t)?;
    // The trend: the eleven months before, from their running figures.
    let months = trend::months_before(month, trend::MONTHS_BEFORE);
    let past = trend::counts(c, tz, key, &area.id, &area.path, &months, t)?;
    let trend: Vec<Vec<usize>> = (0..Kind::ALL.len())
        .map(|i| {
            past.iter()
                .map(|row| row[i])
                .chain(std::iter::once(now[i].len()))
                .collect()
        })
        .collect();
    let names = fetch::names(c)?;
    let marked = marks::for_month(c, month, &area.id)?;
    for findings in &mut now {
        for f in findings.iter_mut() {
            f.subject_label = subject_label(f, &names);
            f.mark = marked
                .iter()
                .find(|m| m.kind == f.kind.as_str() && m.subject == f.subject)
                .cloned();
        }
    }
    let mut signals: Vec<Signal> = Kind::ALL
        .into_iter()
        .zip(now)
        .zip(trend)
        .map(|((kind, findings), trend)| Signal {
            kind,
            findings,
            trend,
        })
        .collect();
    signals.sort_by(|a, b| b.severity().total_cmp(&a.severity()));
    Ok(Report {
        month,
        area_id: area.id.clone(),
        area_name: area.name.clone(),
        signals,
    })
}

/// The subject as a person reads it: staff by username, a household by its
/// head's name, a store by its name.
fn subject_label(f: &Finding, names: &fetch::Names) -> String {
    let user = |id: &str| {
        names
            .users
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };
    match f.kind {
        Kind::ReviewPair => {
            let (p, r) = f.subject.split_once('|').unwrap_or((&f.subject, ""));
            format!("{} \u{2192} {}", user(p), user(r))
        }
        Kind::CopiedNote => {
            let p = f.subject.split('|').next().unwrap_or_default();
            user(p)
        }
        Kind::ProposerOutlier
        | Kind::ProposerConcentration
        | Kind::FastReviews
        | Kind::Backdated
        | Kind::MonthEndBurst
        | Kind::ClerkVoids => user(&f.subject),
        Kind::HelperShare
        | Kind::TwoStores
        | Kind::ValuableGoods
        | Kind::NeverRedeem
        | Kind::AfterArchive
        | Kind::StaffRelated => f
            .rows
            .iter()
            .find(|r| r.kind == RowKind::Household)
            .map(|r| r.label.clone())
            .unwrap_or_else(|| f.subject.clone()),
        Kind::StockLosses => names
            .stores
            .get(&f.subject)
            .cloned()
            .unwrap_or_else(|| f.subject.clone()),
        Kind::OutsideHours => f
            .rows
            .first()
            .map(|r| r.label.clone())
            .unwrap_or_else(|| f.subject.clone()),
    }
}
