//! Whether the paperwork and the two ledgers agree about every workflow that
//! posts to them: each redemption (its points entry and its goods), each
//! donation (its goods lines) and each stocktake (its differences). Part of
//! `aixin ledger verify` and the verify pages; the first that does not agree
//! is named.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::{Account, Movement, MovementKind};
use crate::db::DbConn;
use crate::db::schema::{
    donation_lines, donations, point_entries, redemption_lines, redemptions, stock_movements,
    stocktake_lines, stocktakes,
};
use crate::domain::StoreId;

/// Documents read per batch (each batch binds a few ids per document).
const BATCH: i64 = 200;

/// The first workflow the ledgers disagree about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// "redemption", "donation" or "stocktake".
    pub workflow: &'static str,
    /// The document's id (a movement's id for a movement no document names).
    pub id: String,
    /// The document's number (DH..., JZ..., PD...), or the movement's seq.
    pub number: String,
    /// Translation key of what does not agree.
    pub problem: &'static str,
}

impl Disagreement {
    fn new(workflow: &'static str, id: &str, number: &str, problem: &'static str) -> Self {
        Disagreement {
            workflow,
            id: id.to_string(),
            number: number.to_string(),
            problem,
        }
    }

    /// Where the document's page is.
    pub fn href(&self) -> String {
        match self.workflow {
            "redemption" => format!("/redemptions/{}", self.id),
            "donation" => format!("/donations/{}", self.id),
            "stocktake" => format!("/stocktakes/{}", self.id),
            _ => format!("/movements/{}", self.id),
        }
    }
}

/// What the agreement check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgreeReport {
    /// Documents checked.
    pub checked: i64,
    pub first: Option<Disagreement>,
}

/// Check every redemption, donation and stocktake against the ledgers and
/// stop at the first disagreement.
pub fn check_workflows(c: &mut DbConn) -> QueryResult<AgreeReport> {
    let mut report = AgreeReport::default();
    report.first = redemptions_agree(c, &mut report.checked)?;
    if report.first.is_none() {
        report.first = donations_agree(c, &mut report.checked)?;
    }
    if report.first.is_none() {
        report.first = stocktakes_agree(c, &mut report.checked)?;
    }
    if report.first.is_none() {
        report.first = orphans(c)?;
    }
    Ok(report)
}

/// Movements by id, and the ids among them that have been reversed.
fn movements(
    c: &mut DbConn,
    ids: &[String],
) -> QueryResult<(HashMap<String, Movement>, HashSet<String>)> {
    let found: HashMap<String, Movement> = stock_movements::table
        .filter(stock_movements::id.eq_any(ids))
        .select(Movement::as_select())
        .load::<Movement>(c)?
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect();
    let reversed: HashSet<String> = stock_movements::table
        .filter(stock_movements::reverses_id.eq_any(ids))
        .select(stock_movements::reverses_id.assume_not_null())
        .load(c)?
        .into_iter()
        .collect();
    Ok((found, reversed))
}

type RedemptionRow = (
    String,
    String,
    String,
    i64,
    crate::redemptions::RedemptionStatus,
    String,
);

fn redemptions_agree(c: &mut DbConn, checked: &mut i64) -> QueryResult<Option<Disagreement>> {
    let mut after = String::new();
    loop {
        let batch: Vec<RedemptionRow> = redemptions::table
            .filter(redemptions::id.gt(&after))
            .order(redemptions::id.asc())
            .limit(BATCH)
            .select((
                redemptions::id,
                redemptions::number,
                redemptions::store_id,
                redemptions::total_points,
                redemptions::status,
                redemptions::points_entry_id,
            ))
            .load(c)?;
        let Some(last) = batch.last() else {
            return Ok(None);
        };
        after = last.0.clone();
        let ids: Vec<String> = batch.iter().map(|r| r.0.clone()).collect();
        let lines: Vec<(String, String, i64, i64, String)> = redemption_lines::table
            .filter(redemption_lines::redemption_id.eq_any(&ids))
            .order((
                redemption_lines::redemption_id.asc(),
                redemption_lines::line_no.asc(),
            ))
            .select((
                redemption_lines::redemption_id,
                redemption_lines::item_id,
                redemption_lines::quantity,
                redemption_lines::points,
                redemption_lines::movement_id,
            ))
            .load(c)?;
        let move_ids: Vec<String> = lines.iter().map(|l| l.4.clone()).collect();
        let (moves, moves_reversed) = movements(c, &move_ids)?;
        let entry_ids: Vec<String> = batch.iter().map(|r| r.5.clone()).collect();
        let entries: HashMap<String, (String, String, i64)> = point_entries::table
            .filter(point_entries::id.eq_any(&entry_ids))
            .select((
                point_entries::id,
                point_entries::ref_kind,
                point_entries::ref_id,
                point_entries::amount,
            ))
            .load::<(String, String, String, i64)>(c)?
            .into_iter()
            .map(|(id, k, r, a)| (id, (k, r, a)))
            .collect();
        let entries_reversed: HashSet<String> = point_entries::table
            .filter(point_entries::reverses.eq_any(&entry_ids))
            .select(point_entries::reverses.assume_not_null())
            .load(c)?
            .into_iter()
            .collect();
        for (id, number, store_id, total, status, entry_id) in &batch {
            *checked += 1;
            let void = *status == crate::redemptions::RedemptionStatus::Void;
            let bad = |p| Ok(Some(Disagreement::new("redemption", id, number, p)));
            match entries.get(entry_id) {
                None => return bad("ledger.agree_points_missing"),
                Some((k, r, a)) if k != "redemption" || r != id || a != total => {
                    return bad("ledger.agree_points_differ");
                }
                Some(_) => {}
            }
            if entries_reversed.contains(entry_id) != void {
                return bad("ledger.agree_points_reversal");
            }
            let mine: Vec<_> = lines.iter().filter(|l| &l.0 == id).collect();
            if mine.is_empty() || mine.iter().map(|l| l.3).sum::<i64>() != *total {
                return bad("ledger.agree_lines_total");
            }
            for (_, item_id, quantity, _, movement_id) in mine {
                let Some(m) = moves.get(movement_id) else {
                    return bad("ledger.agree_goods_missing");
                };
                let same = m.kind() == Some(MovementKind::Redemption)
                    && &m.item_id == item_id
                    && m.quantity == *quantity
                    && m.from_store_id.as_deref() == Some(store_id.as_str())
                    && m.to_account == Account::Redeemed.code();
                if !same {
                    return bad("ledger.agree_goods_differ");
                }
                if moves_reversed.contains(movement_id) != void {
                    return bad("ledger.agree_goods_reversal");
                }
            }
        }
    }
}

fn donations_agree(c: &mut DbConn, checked: &mut i64) -> QueryResult<Option<Disagreement>> {
    type Row = (String, String, StoreId, String, bool);
    let mut after = String::new();
    loop {
        let batch: Vec<Row> = donations::table
            .filter(donations::id.gt(&after))
            .order(donations::id.asc())
            .limit(BATCH)
            .select((
                donations::id,
                donations::number,
                donations::store_id,
                donations::donor_id,
                donations::reversed_at.is_not_null(),
            ))
            .load(c)?;
        let Some(last) = batch.last() else {
            return Ok(None);
        };
        after = last.0.clone();
        let ids: Vec<String> = batch.iter().map(|r| r.0.clone()).collect();
        let lines: Vec<(String, String, i64)> = donation_lines::table
            .filter(donation_lines::donation_id.eq_any(&ids))
            .select((
                donation_lines::donation_id,
                donation_lines::item_id,
                donation_lines::quantity,
            ))
            .load(c)?;
        let moves: Vec<Movement> = stock_movements::table
            .filter(stock_movements::donation_id.eq_any(&ids))
            .select(Movement::as_select())
            .load(c)?;
        let reversed: HashSet<&str> = moves
            .iter()
            .filter_map(|m| m.reverses_id.as_deref())
            .collect();
        for (id, number, store_id, donor_id, is_reversed) in &batch {
            *checked += 1;
            let bad = |p| Ok(Some(Disagreement::new("donation", id, number, p)));
            // Per item: what the paper says arrived, and what the ledger has
            // net on the shelf from this donation.
            let mut want: HashMap<&str, i64> = HashMap::new();
            for (_, item, q) in lines.iter().filter(|l| &l.0 == id) {
                *want.entry(item.as_str()).or_default() += if *is_reversed { 0 } else { *q };
            }
            let mut got: HashMap<&str, i64> = HashMap::new();
            for m in moves
                .iter()
                .filter(|m| m.donation_id.as_deref() == Some(id))
            {
                if m.kind() == Some(MovementKind::Donation) {
                    let same = m.to_store_id.as_deref() == Some(store_id.as_str())
                        && m.from_account == Account::Donor(donor_id.clone()).code();
                    if !same {
                        return bad("ledger.agree_goods_differ");
                    }
                    if reversed.contains(m.id.as_str()) != *is_reversed {
                        return bad("ledger.agree_goods_reversal");
                    }
                }
                *got.entry(m.item_id.as_str()).or_default() += m.delta_at(store_id);
            }
            want.retain(|_, q| *q != 0);
            got.retain(|_, q| *q != 0);
            if want != got {
                return bad("ledger.agree_goods_differ");
            }
        }
    }
}

fn stocktakes_agree(c: &mut DbConn, checked: &mut i64) -> QueryResult<Option<Disagreement>> {
    type Row = (
        String,
        String,
        StoreId,
        super::stocktake::StocktakeStatus,
        i64,
        Option<i64>,
    );
    let mut after = String::new();
    loop {
        let batch: Vec<Row> = stocktakes::table
            .filter(stocktakes::id.gt(&after))
            .order(stocktakes::id.asc())
            .limit(BATCH)
            .select((
                stocktakes::id,
                stocktakes::number,
                stocktakes::store_id,
                stocktakes::status,
                stocktakes::start_seq,
                stocktakes::end_seq,
            ))
            .load(c)?;
        let Some(last) = batch.last() else {
            return Ok(None);
        };
        after = last.0.clone();
        let ids: Vec<String> = batch.iter().map(|r| r.0.clone()).collect();
        #[allow(clippy::type_complexity)]
        let lines: Vec<(String, String, i64, Option<i64>, i64, Option<i64>)> =
            stocktake_lines::table
                .filter(stocktake_lines::stocktake_id.eq_any(&ids))
                .select((
                    stocktake_lines::stocktake_id,
                    stocktake_lines::item_id,
                    stocktake_lines::expected,
                    stocktake_lines::counted,
                    stocktake_lines::moved,
                    stocktake_lines::counted_seq,
                ))
                .load(c)?;
        let moves: Vec<Movement> = stock_movements::table
            .filter(stock_movements::stocktake_id.eq_any(&ids))
            .select(Movement::as_select())
            .load(c)?;
        for (id, number, store_id, status, start_seq, end_seq) in &batch {
            *checked += 1;
            let bad = |p| Ok(Some(Disagreement::new("stocktake", id, number, p)));
            let mut got: HashMap<&str, i64> = HashMap::new();
            for m in moves
                .iter()
                .filter(|m| m.stocktake_id.as_deref() == Some(id))
            {
                *got.entry(m.item_id.as_str()).or_default() += m.delta_at(store_id);
            }
            got.retain(|_, q| *q != 0);
            let (true, Some(end_seq)) = (
                *status == super::stocktake::StocktakeStatus::Posted,
                *end_seq,
            ) else {
                if !got.is_empty() {
                    return bad("ledger.agree_goods_differ");
                }
                continue;
            };
            // What moved during the count (up to each line's own count),
            // recomputed from the ledger, must be what the sheet kept. The
            // store's movements of the whole count are read once; each line
            // sums those up to its own bound.
            let during = super::stocktake::moves_between(c, store_id, *start_seq, end_seq)?;
            let mut want: HashMap<&str, i64> = HashMap::new();
            for (_, item, expected, counted, moved, counted_seq) in
                lines.iter().filter(|l| &l.0 == id)
            {
                let Some(counted) = counted else {
                    return bad("ledger.agree_not_counted");
                };
                let up_to = counted_seq.map_or(end_seq, |s| s.min(end_seq));
                let ledger_moved: i64 = during
                    .iter()
                    .filter(|(seq, it, _)| *seq <= up_to && it == item)
                    .map(|(_, _, d)| d)
                    .sum();
                if ledger_moved != *moved {
                    return bad("ledger.agree_moved_differ");
                }
                want.insert(item.as_str(), counted - expected - moved);
            }
            want.retain(|_, q| *q != 0);
            if want != got {
                return bad("ledger.agree_goods_differ");
            }
        }
    }
}

/// A redemption movement no redemption line names.
fn orphans(c: &mut DbConn) -> QueryResult<Option<Disagreement>> {
    let orphan = stock_movements::table
        .filter(stock_movements::kind.eq(MovementKind::Redemption.as_str()))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            redemption_lines::table.filter(redemption_lines::movement_id.eq(stock_movements::id)),
        )))
        .select((stock_movements::id, stock_movements::seq))
        .first::<(String, i64)>(c)
        .optional()?;
    Ok(orphan.map(|(id, seq)| Disagreement {
        workflow: "movement",
        id,
        number: format!("#{seq}"),
        problem: "ledger.agree_goods_orphan",
    }))
}
