//! Checking the stock ledger: every row's hash chain, and the cached stock
//! against the sum of the movements.

use super::*;

/// The first ledger entry that does not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    pub seq: i64,
    pub id: String,
    /// Translation key of what is wrong.
    pub problem: &'static str,
}

/// A cached stock level that differs from the ledger's sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockMismatch {
    pub store_id: String,
    pub item_id: String,
    pub cached: i64,
    pub ledger: i64,
}

#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub entries: i64,
    pub first_bad: Option<BadEntry>,
    pub mismatches: Vec<StockMismatch>,
    pub head_ok: bool,
    /// Whether the paperwork and both ledgers agree about every redemption,
    /// donation and stocktake (the first that does not is named).
    pub workflows: agree::AgreeReport,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
            && self.mismatches.is_empty()
            && self.head_ok
            && self.workflows.first.is_none()
    }
}

/// Recompute the stock ledger: every row's hash and link to the one before,
/// the chain head, every cached stock level against the ledger's sum, and
/// whether every workflow's paperwork agrees with both ledgers.
pub fn verify_stock_ledger(c: &mut DbConn) -> QueryResult<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut prev = chain::GENESIS.to_string();
    let mut expected_seq = 1;
    let mut sums: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut last_seq = 0;
    loop {
        let batch = stock_movements::table
            .filter(stock_movements::seq.gt(last_seq))
            .order(stock_movements::seq.asc())
            .limit(1000)
            .select(Movement::as_select())
            .load(c)?;
        if batch.is_empty() {
            break;
        }
        for m in batch {
            last_seq = m.seq;
            report.entries += 1;
            if report.first_bad.is_none() {
                let problem = if m.seq != expected_seq {
                    Some("ledger.problem_gap")
                } else {
                    let from = Account::parse(&m.from_account);
                    let to = Account::parse(&m.to_account);
                    let stores_match = from.as_ref().and_then(Account::store)
                        == m.from_store_id.as_ref()
                        && to.as_ref().and_then(Account::store) == m.to_store_id.as_ref();
                    let fields = m.hash_fields();
                    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                    match chain::check(&prev, &m.prev_hash, &m.hash, &refs) {
                        Some(chain::Break::PrevMismatch) => Some("ledger.problem_link"),
                        Some(chain::Break::HashMismatch) => Some("ledger.problem_hash"),
                        None if from.is_none() || to.is_none() || !stores_match => {
                            Some("ledger.problem_account")
                        }
                        None => None,
                    }
                };
                if let Some(problem) = problem {
                    report.first_bad = Some(BadEntry {
                        seq: m.seq,
                        id: m.id.clone(),
                        problem,
                    });
                }
            }
            if let Some(s) = &m.to_store_id {
                *sums
                    .entry((s.to_string(), m.item_id.to_string()))
                    .or_default() += m.quantity;
            }
            if let Some(s) = &m.from_store_id {
                *sums
                    .entry((s.to_string(), m.item_id.to_string()))
                    .or_default() -= m.quantity;
            }
            prev = m.hash.clone();
            expected_seq = m.seq + 1;
        }
    }
    let (head_seq, head_hash): (i64, String) = stock_chain_head::table
        .find(1)
        .select((stock_chain_head::seq, stock_chain_head::hash))
        .first(c)?;
    report.head_ok = head_seq == report.entries && head_hash == prev;
    let cached: BTreeMap<(String, String), i64> = stock::table
        .select((stock::store_id, stock::item_id, stock::quantity))
        .load::<(String, String, i64)>(c)?
        .into_iter()
        .map(|(s, i, q)| ((s, i), q))
        .collect();
    let keys: std::collections::BTreeSet<&(String, String)> =
        cached.keys().chain(sums.keys()).collect();
    for k in keys {
        let a = cached.get(k).copied().unwrap_or(0);
        let b = sums.get(k).copied().unwrap_or(0);
        if a != b {
            report.mismatches.push(StockMismatch {
                store_id: k.0.clone(),
                item_id: k.1.clone(),
                cached: a,
                ledger: b,
            });
        }
    }
    report.workflows = agree::check_workflows(c)?;
    Ok(report)
}
