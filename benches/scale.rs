//! How cost grows with the city (issue #21.4): reads the tables that
//! `cargo bench --bench city` wrote at each size
//! (`$AIXIN_BENCH_DIR/results-<database>-<households>x<months>.md`) and draws
//! them as one SVG chart, `docs/scale.svg` (or `AIXIN_SCALE_SVG`), for the
//! database named by `AIXIN_BENCH_ONLY` (`postgres` by default).
//!
//! ```sh
//! for h in 10000 80000; do AIXIN_BENCH_HOUSEHOLDS=$h AIXIN_BENCH_ONLY=postgres \
//!   AIXIN_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench city; done
//! AIXIN_BENCH_HOUSEHOLDS=300000 AIXIN_BENCH_MONTHS=12 ... cargo bench --bench city
//! cargo bench --bench scale
//! ```
//!
//! Left: each per-request measure as a ratio to its baseline from the same
//! run (flat means the page costs no more in a bigger city). Right: the
//! month's summary and signals for the whole city, in milliseconds.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plotters::prelude::*;

/// The measures drawn, by the start of their row's name in the city
/// benchmark's table, with the label they get in the chart.
const RATIOS: [(&str, &str); 4] = [
    ("redemptions, 1 clerk", "redemptions, 1 clerk / raw writes"),
    (
        "redemptions, 16 clerks",
        "redemptions, 16 clerks / raw writes",
    ),
    ("counter card lookup", "card look-up / fortunes"),
    ("household statement", "statement / fortunes"),
];
const MILLIS: [(&str, &str); 2] = [
    ("monthly summary, city", "monthly summary, city (ms)"),
    (
        "integrity signals, city (trend from its stored figures)",
        "month's signals, city (ms)",
    ),
];

/// One size's results: row name -> (value cell, ratio).
struct Size {
    households: u32,
    months: u32,
    rows: BTreeMap<String, (String, Option<f64>)>,
}

impl Size {
    fn ratio(&self, start: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|(what, _)| what.starts_with(start))
            .and_then(|(_, (_, r))| *r)
    }

    /// The first number of the value cell ("699 ms", "629/s, p50 ...").
    fn amount(&self, start: &str) -> Option<f64> {
        let (_, (value, _)) = self.rows.iter().find(|(what, _)| what.starts_with(start))?;
        let digits: String = value
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
            .filter(|c| *c != ',')
            .collect();
        digits.parse().ok()
    }
}

fn read_sizes(dir: &PathBuf, database: &str) -> Vec<Size> {
    let prefix = format!("results-{database}-");
    let mut sizes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("AIXIN_BENCH_DIR readable") {
        let path = entry.expect("a directory entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(size) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".md"))
        else {
            continue;
        };
        let Some((households, months)) = size
            .split_once('x')
            .and_then(|(h, m)| Some((h.parse().ok()?, m.parse().ok()?)))
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("a results table");
        let rows = text
            .lines()
            .filter(|l| {
                l.starts_with("| ") && !l.starts_with("| measure") && !l.starts_with("| ---")
            })
            .filter_map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
                let [what, value, _baseline, ratio, ..] = cells.as_slice() else {
                    return None;
                };
                Some((what.to_string(), (value.to_string(), ratio.parse().ok())))
            })
            .collect();
        sizes.push(Size {
            households,
            months,
            rows,
        });
    }
    sizes.sort_by_key(|s| s.households);
    sizes
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("scale: bench");
        return;
    }
    let dir = PathBuf::from(
        std::env::var("AIXIN_BENCH_DIR")
            .unwrap_or_else(|_| format!("{}/target/bench-city", env!("CARGO_MANIFEST_DIR"))),
    );
    let database = match std::env::var("AIXIN_BENCH_ONLY").as_deref() {
        Ok("sqlite") => "SQLite",
        _ => "PostgreSQL",
    };
    let out = std::env::var("AIXIN_SCALE_SVG")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/scale.svg"));
    let sizes = read_sizes(&dir, database);
    if sizes.is_empty() {
        eprintln!(
            "no results-{database}-*.md in {}: run `cargo bench --bench city` first",
            dir.display()
        );
        std::process::exit(1);
    }
    for s in &sizes {
        println!("{} households x {} months:", s.households, s.months);
        for (start, label) in RATIOS {
            println!("  {label}: {:?}", s.ratio(start));
        }
        for (start, label) in MILLIS {
            println!("  {label}: {:?}", s.amount(start));
        }
    }
    draw(&out, database, &sizes).expect("draw the chart");
    println!("wrote {}", out.display());
}

fn draw(out: &PathBuf, database: &str, sizes: &[Size]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(out, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(500);
    let x_max = sizes.last().map(|s| s.households).unwrap_or(1) as f64 * 1.5;
    let x_min = sizes.first().map(|s| s.households).unwrap_or(1) as f64 / 1.5;
    let points = |value: &dyn Fn(&Size) -> Option<f64>| -> Vec<(f64, f64)> {
        sizes
            .iter()
            .filter_map(|s| Some((s.households as f64, value(s)?)))
            .collect()
    };
    let ratios: Vec<(&str, Vec<(f64, f64)>)> = RATIOS
        .iter()
        .map(|(start, label)| (*label, points(&|s| s.ratio(start))))
        .collect();
    let millis: Vec<(&str, Vec<(f64, f64)>)> = MILLIS
        .iter()
        .map(|(start, label)| (*label, points(&|s| s.amount(start))))
        .collect();
    let y_max = millis
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(1.0_f64, f64::max)
        * 1.2;
    panel(
        &left,
        format!("{database}: per request, ratio to baseline"),
        (x_min, x_max),
        (1.2, ""),
        &ratios,
        SeriesLabelPosition::UpperRight,
    )?;
    panel(
        &right,
        format!("{database}: the month for the whole city"),
        (x_min, x_max),
        (y_max, "ms"),
        &millis,
        SeriesLabelPosition::UpperLeft,
    )?;
    root.present()?;
    Ok(())
}

/// One chart: each series a line with its points marked, against the
/// number of households on a log scale; `y` is the axis' top and its label.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: String,
    (x_min, x_max): (f64, f64),
    (y_max, y_desc): (f64, &str),
    series: &[(&str, Vec<(f64, f64)>)],
    legend: SeriesLabelPosition,
) -> Result<(), Box<dyn std::error::Error>> {
    let colours = [&BLUE, &RED, &GREEN, &MAGENTA];
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("households")
        .y_desc(y_desc)
        .x_labels(4)
        .light_line_style(WHITE)
        .x_label_formatter(&|x| format!("{:.0}k", x / 1000.0))
        .y_label_formatter(&|y| {
            if y_max > 10.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.1}")
            }
        })
        .draw()?;
    for (i, (label, points)) in series.iter().enumerate() {
        let colour = colours[i % colours.len()];
        chart
            .draw_series(LineSeries::new(points.clone(), colour))?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(legend)
        .draw()?;
    Ok(())
}
