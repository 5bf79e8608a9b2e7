//! The identities a summary must satisfy, and the mismatches when not.

use diesel::prelude::*;

use super::{Bind, Mismatch, Summary, TwoNums, load};
use crate::db::DbConn;

/// Every identity the summary must satisfy; an empty list when it adds up.
pub(super) fn check(
    conn: &mut DbConn,
    s: &Summary,
    prefix: &str,
    after: i64,
) -> QueryResult<Vec<Mismatch>> {
    let mut out = Vec::new();
    let mut expect = |key: &'static str, what: String, expected: i64, found: i64| {
        if expected != found {
            out.push(Mismatch {
                key: key.into(),
                what,
                expected,
                found,
            });
        }
    };
    let p = &s.points;
    expect(
        "reports.check_points",
        String::new(),
        p.opening + p.flows(),
        p.closing,
    );
    expect(
        "reports.check_categories",
        String::new(),
        p.awarded,
        p.by_category.iter().map(|r| r.points).sum(),
    );
    if !s.breakdown.is_empty() {
        for (what, total, sum) in [
            (
                "opening",
                p.opening,
                s.breakdown.iter().map(|r| r.opening).sum(),
            ),
            (
                "awarded",
                p.awarded,
                s.breakdown.iter().map(|r| r.awarded).sum(),
            ),
            (
                "redeemed",
                p.redeemed,
                s.breakdown.iter().map(|r| r.redeemed).sum(),
            ),
            (
                "closing",
                p.closing,
                s.breakdown.iter().map(|r| r.closing).sum(),
            ),
        ] {
            expect("reports.check_breakdown", what.into(), total, sum);
        }
    }
    // The closing balance equals what the households of the area hold now
    // (the ledger's cached balances) less what was posted after the month.
    // (For a city or province, all households' balances less those of households in
    // other areas; below it, from the area's households to their balances:
    // each way reads fewest rows.)
    let held_sql = if matches!(s.area_level.as_str(), "province" | "city") {
        "SELECT (SELECT CAST(COALESCE(SUM(b.balance), 0) AS BIGINT) FROM point_balances b
                  WHERE b.account LIKE 'household:%')
              - (SELECT CAST(COALESCE(SUM(b.balance), 0) AS BIGINT)
                   FROM areas a JOIN households h ON h.area_id = a.id
                   JOIN point_balances b ON b.account = 'household:' || h.id
                  WHERE a.path NOT LIKE $1) AS a"
    } else {
        "SELECT CAST(COALESCE(SUM(b.balance), 0) AS BIGINT) AS a
           FROM households h JOIN areas a ON a.id = h.area_id
           JOIN point_balances b ON b.account = 'household:' || h.id
          WHERE a.path LIKE $1"
    };
    let held: Vec<TwoNums> = load(conn, held_sql, &[Bind::Text(prefix.to_string())])?;
    if let Some(l) = held.first() {
        expect(
            "reports.check_ledger",
            String::new(),
            l.a - after,
            p.closing,
        );
    }
    out.extend(check_goods(s));
    Ok(out)
}

/// Opening + in - out = closing for every item at every store, and the
/// stores' redemptions sum to the total.
pub(super) fn check_goods(s: &Summary) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for g in &s.goods {
        if g.opening + g.flows() != g.closing {
            out.push(Mismatch {
                key: "reports.check_goods".into(),
                what: format!("{} {}", g.store_name, g.item_name),
                expected: g.opening + g.flows(),
                found: g.closing,
            });
        }
    }
    let by_store: i64 = s.redemptions.by_store.iter().map(|r| r.points).sum();
    if by_store != s.redemptions.points {
        out.push(Mismatch {
            key: "reports.check_redemptions".into(),
            what: String::new(),
            expected: s.redemptions.points,
            found: by_store,
        });
    }
    out
}
