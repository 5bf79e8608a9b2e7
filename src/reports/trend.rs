//! The 12-month trend: points awarded and redeemed, and households taking
//! part, per month, from one aggregate query; drawn server-side as SVG.

use chrono_tz::Tz;
use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use plotters::prelude::*;

use super::{Bind, Month, load};
use crate::db::{self, DbConn};

#[derive(
    QueryableByName, Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize,
)]
pub struct TrendPoint {
    #[diesel(sql_type = Text)]
    pub month: String,
    #[diesel(sql_type = BigInt)]
    pub awarded: i64,
    #[diesel(sql_type = BigInt)]
    pub redeemed: i64,
    #[diesel(sql_type = BigInt)]
    pub taking_part: i64,
}

/// The twelve months ending with `last`, oldest first (months with no
/// activity included, as zeros).
pub fn trend(
    conn: &mut DbConn,
    _tz: Tz,
    area_path: &str,
    last: Month,
) -> QueryResult<Vec<TrendPoint>> {
    let mut months = vec![last];
    for _ in 0..11 {
        let m = months[months.len() - 1].prev();
        months.push(m);
    }
    months.reverse();
    // A closed month's figures were kept for every area when it was closed
    // (one row each); the open months' are summed from the villages'
    // totals, each month named so that it is a seek per village.
    let closed: Vec<String> = {
        use crate::db::schema::month_closes;
        month_closes::table
            .filter(month_closes::month.ge(months[0].to_string()))
            .filter(month_closes::month.le(last.to_string()))
            .select(month_closes::month)
            .load(conn)?
    };
    let area_id = area_path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut points: Vec<TrendPoint> = {
        use crate::db::schema::area_closings as k;
        k::table
            .filter(k::area_id.eq(&area_id))
            .filter(k::month.eq_any(&closed))
            .select((k::month, k::awarded, k::redeemed, k::taking_part))
            .load::<(String, i64, i64, i64)>(conn)?
            .into_iter()
            .map(|(month, awarded, redeemed, taking_part)| TrendPoint {
                month,
                awarded,
                redeemed,
                taking_part,
            })
            .collect()
    };
    let open: Vec<Month> = months
        .iter()
        .copied()
        .filter(|m| !closed.contains(&m.to_string()))
        .collect();
    if !open.is_empty() {
        let mut binds = vec![Bind::Text(db::path_prefix(area_path))];
        binds.extend(open.iter().map(|m| Bind::Text(m.to_string())));
        points.extend(load::<TrendPoint>(
            conn,
            &format!(
                "SELECT t.month AS month, {figures}
                   FROM point_month_totals t
                  WHERE t.month IN ({list}) AND t.kind IN ({kinds})
                    AND t.area_id IN (SELECT a.id FROM areas a WHERE a.path LIKE $1)
                  GROUP BY t.month",
                figures = crate::ledger::totals::TREND_FIGURES,
                kinds = crate::ledger::totals::TREND_KINDS,
                list = db::placeholders(2, open.len()),
            ),
            &binds,
        )?);
    }
    Ok(months
        .into_iter()
        .map(|m| {
            let key = m.to_string();
            let p = points.iter().find(|r| r.month == key);
            TrendPoint {
                awarded: p.map(|r| r.awarded).unwrap_or(0),
                redeemed: p.map(|r| r.redeemed).unwrap_or(0),
                taking_part: p.map(|r| r.taking_part).unwrap_or(0),
                month: key,
            }
        })
        .collect())
}

/// Labels for the chart, already translated.
pub struct Labels<'a> {
    pub awarded: &'a str,
    pub redeemed: &'a str,
    pub taking_part: &'a str,
}

/// Two panels: points awarded vs redeemed, and households taking part.
pub fn svg(points: &[TrendPoint], labels: &Labels) -> String {
    let mut out = String::new();
    if let Err(e) = draw(&mut out, points, labels) {
        tracing::warn!("trend chart: {e}");
        return String::new();
    }
    out
}

fn draw(
    out: &mut String,
    points: &[TrendPoint],
    labels: &Labels,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, (760, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(240);
    let n = points.len().max(1) as i32;
    let month_label = |i: &i32| {
        points
            .get(*i as usize)
            .map(|p| p.month[2..].to_string())
            .unwrap_or_default()
    };
    let max_points = points
        .iter()
        .map(|p| p.awarded.max(p.redeemed))
        .max()
        .unwrap_or(0)
        .max(10);
    let mut chart = ChartBuilder::on(&top)
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(56)
        .build_cartesian_2d(0..n - 1, 0..max_points + max_points / 10)?;
    chart
        .configure_mesh()
        .x_labels(points.len())
        .x_label_formatter(&month_label)
        .light_line_style(WHITE)
        .draw()?;
    let awarded = RGBColor(0x1b, 0x5e, 0x20);
    let redeemed = RGBColor(0xb7, 0x1c, 0x1c);
    chart
        .draw_series(LineSeries::new(
            points
                .iter()
                .enumerate()
                .map(|(i, p)| (i as i32, p.awarded)),
            awarded.stroke_width(2),
        ))?
        .label(labels.awarded)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], awarded.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            points
                .iter()
                .enumerate()
                .map(|(i, p)| (i as i32, p.redeemed)),
            redeemed.stroke_width(2),
        ))?
        .label(labels.redeemed)
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 16, y)], redeemed.stroke_width(2))
        });
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    let max_part = points
        .iter()
        .map(|p| p.taking_part)
        .max()
        .unwrap_or(0)
        .max(5);
    let mut chart = ChartBuilder::on(&bottom)
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(56)
        .build_cartesian_2d(0..n - 1, 0..max_part + max_part / 10)?;
    chart
        .configure_mesh()
        .x_labels(points.len())
        .x_label_formatter(&month_label)
        .light_line_style(WHITE)
        .draw()?;
    let part = RGBColor(0x0d, 0x47, 0xa1);
    chart
        .draw_series(LineSeries::new(
            points
                .iter()
                .enumerate()
                .map(|(i, p)| (i as i32, p.taking_part)),
            part.stroke_width(2),
        ))?
        .label(labels.taking_part)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], part.stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
