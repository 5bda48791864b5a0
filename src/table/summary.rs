//! `summary.parquet` / `summary.csv`: the runs table with the seed folded
//! out. One row per configuration (every swept key but the `*.seed` keys),
//! with, for each key metric, the number of values, their mean, sample
//! standard deviation and the half-width of a 95% Student-t confidence
//! interval of the mean. See docs/reports.md for the formulas.

use super::schema::{
    self, is_seed_key, CI_SUFFIX, FAILED_RUNS, MEAN_SUFFIX, RUNS, SEEDS, STATUS_FAILED, STATUS_OK,
    STD_SUFFIX,
};
use super::{Cell, Column, ColumnType, Table};
use crate::metrics::catalog::key_metrics;
use std::collections::{BTreeMap, HashMap};

/// The two-sided 95% quantile of Student's t distribution, t(0.975, df).
///
/// Exact (to three decimals, as printed in statistics tables) for df 1 to
/// 30; above, the Cornish-Fisher expansion around the normal quantile
/// 1.959964, whose error is below 1e-4 for df > 30 and which tends to the
/// normal limit as df grows. `df = 0` has no quantile (NaN).
pub fn t_975(df: u64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    const Z: f64 = 1.959_963_984_540_054;
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df as usize - 1],
        _ => {
            let n = df as f64;
            let z2 = Z * Z;
            let z3 = z2 * Z;
            let z5 = z3 * z2;
            let z7 = z5 * z2;
            Z + (z3 + Z) / (4.0 * n)
                + (5.0 * z5 + 16.0 * z3 + 3.0 * Z) / (96.0 * n * n)
                + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * Z) / (384.0 * n * n * n)
        }
    }
}

/// Mean, sample standard deviation and 95% confidence half-width of a
/// sample. `std` and `ci95` are `None` below two values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleStats {
    /// How many values.
    pub n: usize,
    /// Their arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divisor n - 1).
    pub std: Option<f64>,
    /// Half-width of the 95% confidence interval of the mean:
    /// t(0.975, n - 1) * std / sqrt(n).
    pub ci95: Option<f64>,
}

impl SampleStats {
    /// The statistics of `values`, or `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Self> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let (std, ci95) = if n >= 2 {
            let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
            let std = (ss / (n - 1) as f64).sqrt();
            (
                Some(std),
                Some(t_975(n as u64 - 1) * std / (n as f64).sqrt()),
            )
        } else {
            (None, None)
        };
        Some(Self { n, mean, std, ci95 })
    }
}

/// The metric columns a summary aggregates: the key metrics.
pub fn summary_metrics() -> impl Iterator<Item = &'static str> {
    key_metrics().map(|m| m.column.as_str())
}

/// The summary of a runs table: one row per distinct combination of the
/// non-seed swept keys, in order of first appearance (point order). Only
/// rows with status `ok` contribute to the statistics; failed rows are
/// counted in `failed_runs`. Metric cells that are null (a run with no
/// completed request) are left out of that metric's statistics.
pub fn summarize(runs: &Table) -> Table {
    summarize_columns(runs, &summary_metrics().collect::<Vec<_>>())
}

/// [`summarize`] with the statistics of the columns `metrics` (those the
/// table lacks have null statistics): a capacity table folds its
/// `capacity`, goodput and cost columns this way.
pub fn summarize_columns(runs: &Table, metrics: &[&str]) -> Table {
    let mut summary = Summarizer::new(&runs.columns, metrics);
    for row in &runs.rows {
        summary.add(Fold::whole(), row);
    }
    Table {
        columns: summary.columns().to_vec(),
        rows: summary.finish(),
    }
}

/// Which fold of a streamed table a row belongs to: the rows that can
/// share a summary row (a configuration's seeds; a search's probes of
/// every seed), numbered in the order the summary shows them, and the
/// last point index that can hold one of its rows. A sweep streams its
/// runs in point order and numbers a fold by the point's coordinates with
/// the seed axes at zero, so folds close one after another and only the
/// open ones are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    /// Its number: summary rows come out in the order of these numbers.
    pub id: u64,
    /// The highest point index with a row in it.
    pub last: u64,
}

impl Fold {
    /// The one fold of a whole table (closes only at the end).
    pub fn whole() -> Self {
        Self {
            id: 0,
            last: u64::MAX,
        }
    }
}

/// A summary built row by row: rows go in with their [`Fold`], summary
/// rows come out as their folds close. Within a fold, rows are grouped by
/// their non-seed key cells, in order of first appearance.
#[derive(Debug)]
pub struct Summarizer {
    keys: Vec<usize>,
    status: Option<usize>,
    sweep: Option<usize>,
    metrics: Vec<Option<usize>>,
    columns: Vec<Column>,
    open: BTreeMap<u64, OpenFold>,
}

/// The groups of one fold that is still open.
#[derive(Debug, Default)]
struct OpenFold {
    last: u64,
    groups: Vec<Group>,
    index: HashMap<String, usize>,
}

/// The rows of one summary row so far.
#[derive(Debug)]
struct Group {
    /// The sweep and key cells of its first row.
    cells: Vec<Cell>,
    runs: usize,
    failed: usize,
    ok: usize,
    /// Each metric's values among the finished runs.
    values: Vec<Vec<f64>>,
}

impl Summarizer {
    /// A summary of a runs table with `columns`, with the statistics of the
    /// columns `metrics`.
    pub fn new(columns: &[Column], metrics: &[&str]) -> Self {
        let table = Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        };
        let keys: Vec<usize> = schema::swept_columns(&table)
            .into_iter()
            .filter(|&c| !is_seed_key(&columns[c].name))
            .collect();
        let mut out = vec![Column::new(schema::SWEEP, ColumnType::Text)];
        out.extend(keys.iter().map(|&c| columns[c].clone()));
        for name in [RUNS, FAILED_RUNS, SEEDS] {
            out.push(Column::new(name, ColumnType::Int));
        }
        for metric in metrics {
            for suffix in [MEAN_SUFFIX, STD_SUFFIX, CI_SUFFIX] {
                out.push(Column {
                    name: format!("{metric}{suffix}"),
                    kind: ColumnType::Float,
                });
            }
        }
        Self {
            status: table.column(schema::STATUS),
            sweep: table.column(schema::SWEEP),
            metrics: metrics.iter().map(|m| table.column(m)).collect(),
            keys,
            columns: out,
            open: BTreeMap::new(),
        }
    }

    /// The summary's columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Adds a row of the runs table, which belongs to `fold`.
    pub fn add(&mut self, fold: Fold, row: &[Cell]) {
        let open = self.open.entry(fold.id).or_default();
        open.last = fold.last;
        let key = format!(
            "{:?}",
            self.keys.iter().map(|&c| &row[c]).collect::<Vec<_>>()
        );
        let next = open.groups.len();
        let g = *open.index.entry(key).or_insert(next);
        if g == next {
            let mut cells = vec![self.sweep.map_or(Cell::Null, |c| row[c].clone())];
            cells.extend(self.keys.iter().map(|&c| row[c].clone()));
            open.groups.push(Group {
                cells,
                runs: 0,
                failed: 0,
                ok: 0,
                values: vec![Vec::new(); self.metrics.len()],
            });
        }
        let group = &mut open.groups[g];
        group.runs += 1;
        let status = self.status.and_then(|c| match &row[c] {
            Cell::Text(t) => Some(t.as_str()),
            _ => None,
        });
        match status {
            Some(STATUS_OK) => {
                group.ok += 1;
                for (values, col) in group.values.iter_mut().zip(&self.metrics) {
                    if let Some(v) = col.and_then(|c| row[c].as_number()) {
                        values.push(v);
                    }
                }
            }
            Some(STATUS_FAILED) => group.failed += 1,
            _ => {}
        }
    }

    /// The summary rows of the folds that no point from `next` on can add
    /// to (every fold whose last point is below `next`), in fold order.
    pub fn closed_before(&mut self, next: u64) -> Vec<Vec<Cell>> {
        let mut rows = Vec::new();
        while let Some(entry) = self.open.first_entry() {
            if entry.get().last >= next {
                break;
            }
            rows.extend(entry.remove().groups.into_iter().map(Group::into_row));
        }
        rows
    }

    /// The summary rows of every fold still open, in fold order.
    pub fn finish(self) -> Vec<Vec<Cell>> {
        self.open
            .into_values()
            .flat_map(|f| f.groups.into_iter().map(Group::into_row))
            .collect()
    }
}

impl Group {
    /// The summary row: key cells, counts, and each metric's statistics.
    fn into_row(self) -> Vec<Cell> {
        let mut row = self.cells;
        row.extend([
            Cell::Int(self.runs as i64),
            Cell::Int(self.failed as i64),
            Cell::Int(self.ok as i64),
        ]);
        let opt = |v: Option<f64>| v.map_or(Cell::Null, Cell::Float);
        for values in &self.values {
            match SampleStats::of(values) {
                Some(s) => row.extend([Cell::Float(s.mean), opt(s.std), opt(s.ci95)]),
                None => row.extend([Cell::Null, Cell::Null, Cell::Null]),
            }
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_tables_and_tend_to_the_normal() {
        assert_eq!(t_975(1), 12.706);
        assert_eq!(t_975(4), 2.776);
        assert_eq!(t_975(10), 2.228);
        assert_eq!(t_975(30), 2.042);
        // Published values: t(0.975, 40) = 2.0211, 60: 2.0003, 120: 1.9799.
        assert!(close(t_975(40), 2.0211, 1e-4), "{}", t_975(40));
        assert!(close(t_975(60), 2.0003, 1e-4), "{}", t_975(60));
        assert!(close(t_975(120), 1.9799, 1e-4), "{}", t_975(120));
        assert!(close(t_975(1_000_000), 1.959_964, 1e-5));
        assert!(t_975(0).is_nan());
        for df in 1..200 {
            assert!(t_975(df) > t_975(df + 1), "decreasing at {df}");
        }
    }

    #[test]
    fn stats_match_hand_computed_values() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squares about the mean sum to 32,
        // sample variance 32 / 7.
        let s = SampleStats::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.n, 8);
        assert_eq!(s.mean, 5.0);
        let std = (32.0f64 / 7.0).sqrt();
        assert!(close(s.std.unwrap(), std, 1e-12));
        assert!(close(s.ci95.unwrap(), 2.365 * std / 8f64.sqrt(), 1e-12));
        // Five seeds: 10, 12, 14, 16, 18 -> mean 14, std sqrt(10),
        // half-width 2.776 * sqrt(10) / sqrt(5) = 2.776 * sqrt(2) = 3.9259.
        let s = SampleStats::of(&[10.0, 12.0, 14.0, 16.0, 18.0]).unwrap();
        assert_eq!(s.mean, 14.0);
        assert!(close(s.std.unwrap(), 10f64.sqrt(), 1e-12));
        assert!(close(s.ci95.unwrap(), 3.9259, 1e-4));
        let one = SampleStats::of(&[3.5]).unwrap();
        assert_eq!((one.n, one.mean, one.std, one.ci95), (1, 3.5, None, None));
        assert_eq!(SampleStats::of(&[]), None);
    }

    fn runs() -> Table {
        let row = |policy: &str, seed: i64, ttft: Option<f64>| {
            let metrics = ttft.map(|v| {
                summary_metrics()
                    .map(|m| if m == "ttft_ms_p50" { v } else { 1.0 })
                    .collect()
            });
            (vec![Cell::Text(policy.into()), Cell::Int(seed)], metrics)
        };
        crate::table::fixtures::runs(
            &[
                ("scheduler.policy", ColumnType::Text),
                ("workload.seed", ColumnType::Int),
            ],
            vec![
                row("fcfs", 1, Some(10.0)),
                row("fcfs", 2, Some(12.0)),
                row("fcfs", 3, Some(14.0)),
                row("sof", 1, Some(7.0)),
                row("sof", 2, None),
                row("sof", 3, Some(9.0)),
            ],
        )
    }

    #[test]
    fn folds_the_seed_out_and_counts_failures() {
        let s = summarize(&runs());
        let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            &names[..7],
            &[
                "sweep",
                "scheduler.policy",
                "runs",
                "failed_runs",
                "seeds",
                "ttft_ms_p50_mean",
                "ttft_ms_p50_std"
            ]
        );
        assert_eq!(names.len(), 5 + 3 * summary_metrics().count());
        assert_eq!(s.rows.len(), 2);
        let get = |r: usize, name: &str| s.rows[r][s.column(name).unwrap()].clone();
        assert_eq!(get(0, "scheduler.policy"), Cell::Text("fcfs".into()));
        assert_eq!(get(0, "runs"), Cell::Int(3));
        assert_eq!(get(0, "failed_runs"), Cell::Int(0));
        assert_eq!(get(0, "ttft_ms_p50_mean"), Cell::Float(12.0));
        assert_eq!(get(0, "ttft_ms_p50_std"), Cell::Float(2.0));
        // t(0.975, 2) * 2 / sqrt(3)
        let Cell::Float(ci) = get(0, "ttft_ms_p50_ci95") else {
            panic!("no ci")
        };
        assert!(close(ci, 4.303 * 2.0 / 3f64.sqrt(), 1e-12));
        assert_eq!(get(1, "runs"), Cell::Int(3));
        assert_eq!(get(1, "failed_runs"), Cell::Int(1));
        assert_eq!(get(1, "seeds"), Cell::Int(2));
        assert_eq!(get(1, "ttft_ms_p50_mean"), Cell::Float(8.0));
        assert_eq!(get(1, "e2e_ms_p50_std"), Cell::Float(0.0));
    }

    #[test]
    fn without_a_seed_key_every_run_is_its_own_row() {
        let mut t = runs();
        t.columns[4].name = "scheduler.max_num_seqs".into();
        let s = summarize(&t);
        assert_eq!(s.rows.len(), 6);
        let seeds = s.column("seeds").unwrap();
        let std = s.column("ttft_ms_p50_std").unwrap();
        let ci = s.column("ttft_ms_p50_ci95").unwrap();
        assert_eq!(s.rows[0][seeds], Cell::Int(1));
        assert_eq!(
            (&s.rows[0][std], &s.rows[0][ci]),
            (&Cell::Null, &Cell::Null)
        );
        assert_eq!(s.rows[4][seeds], Cell::Int(0));
        assert_eq!(s.rows[4][s.column("ttft_ms_p50_mean").unwrap()], Cell::Null);
    }

    #[test]
    fn a_streamed_summary_equals_the_whole_table_summary() {
        // Seeds vary slowest: every configuration's fold stays open until
        // the last seed, and rows still come out in configuration order.
        let rows: Vec<(Vec<Cell>, Option<Vec<f64>>)> = (0..3)
            .flat_map(|seed| {
                ["fcfs", "sof"].into_iter().map(move |p| {
                    let metrics = key_metrics().map(|_| seed as f64 + p.len() as f64);
                    (
                        vec![Cell::Int(seed), Cell::Text(p.into())],
                        Some(metrics.collect()),
                    )
                })
            })
            .collect();
        let keys = [
            ("workload.seed", ColumnType::Int),
            ("scheduler.policy", ColumnType::Text),
        ];
        let runs = crate::table::fixtures::runs(&keys, rows);
        let whole = summarize(&runs);
        let metrics: Vec<&str> = summary_metrics().collect();
        let mut streamed = Summarizer::new(&runs.columns, &metrics);
        let mut out = Vec::new();
        for (i, row) in runs.rows.iter().enumerate() {
            let closed = streamed.closed_before(i as u64);
            // fcfs (fold 0) closes once its last point (4) is behind.
            assert_eq!(closed.len(), usize::from(i == 5), "before row {i}");
            out.extend(closed);
            let fold = Fold {
                id: (i % 2) as u64,
                last: 4 + (i % 2) as u64,
            };
            streamed.add(fold, row);
        }
        out.extend(streamed.closed_before(6));
        assert_eq!(out, whole.rows);
        assert_eq!(whole.rows.len(), 2);
    }
}
