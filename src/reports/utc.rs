//! The scheme's month against the UTC months the running totals are kept
//! in (`ledger::goods_totals`, `ledger::redemption_totals`): a month in the
//! scheme's time zone is the UTC month of the same name, less or plus the
//! few hours at each end (at most a day's worth), which the summary reads
//! from the rows themselves.

use chrono::NaiveDateTime;

use super::Month;

/// Rows whose time is in `[from, to)` (UTC), counted `sign` times (+1 or
/// -1) into a period (1: in the month, 2: after it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Piece {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub sign: i64,
    pub period: i64,
}

/// `[x, y)` counted +1 when x < y, `[y, x)` counted -1 when y < x.
fn signed(x: NaiveDateTime, y: NaiveDateTime, period: i64) -> Option<Piece> {
    match x.cmp(&y) {
        std::cmp::Ordering::Less => Some(Piece {
            from: x,
            to: y,
            sign: 1,
            period,
        }),
        std::cmp::Ordering::Greater => Some(Piece {
            from: y,
            to: x,
            sign: -1,
            period,
        }),
        std::cmp::Ordering::Equal => None,
    }
}

/// The pieces that turn the UTC months' totals into the scheme's `month`
/// `[start_utc, end_utc)`: in the month = UTC month `month` + pieces of
/// period 1; after it = UTC months after `month` + pieces of period 2.
pub(super) fn pieces(month: Month, start_utc: NaiveDateTime, end_utc: NaiveDateTime) -> Vec<Piece> {
    let a = month.first_day().and_time(chrono::NaiveTime::MIN);
    let b = month.next().first_day().and_time(chrono::NaiveTime::MIN);
    [
        signed(start_utc, a, 1),
        signed(b, end_utc, 1),
        signed(end_utc, b, 2),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn east_of_greenwich_the_month_starts_in_the_utc_month_before() {
        let m = Month::parse("2026-11").unwrap();
        let p = pieces(m, at("2026-10-31 16:00"), at("2026-11-30 16:00"));
        assert_eq!(
            p,
            vec![
                Piece {
                    from: at("2026-10-31 16:00"),
                    to: at("2026-11-01 00:00"),
                    sign: 1,
                    period: 1
                },
                Piece {
                    from: at("2026-11-30 16:00"),
                    to: at("2026-12-01 00:00"),
                    sign: -1,
                    period: 1
                },
                Piece {
                    from: at("2026-11-30 16:00"),
                    to: at("2026-12-01 00:00"),
                    sign: 1,
                    period: 2
                },
            ]
        );
    }

    #[test]
    fn west_of_greenwich_and_at_utc_the_pieces_turn_round_or_vanish() {
        let m = Month::parse("2026-11").unwrap();
        let p = pieces(m, at("2026-11-01 05:00"), at("2026-12-01 05:00"));
        assert_eq!(
            p.iter().map(|p| (p.sign, p.period)).collect::<Vec<_>>(),
            [(-1, 1), (1, 1), (-1, 2)]
        );
        assert!(pieces(m, at("2026-11-01 00:00"), at("2026-12-01 00:00")).is_empty());
    }
}
