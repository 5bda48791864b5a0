//! Where a sweep's files live under its output directory (SPEC section 8).

use super::run_id::RunId;
use crate::table::schema::{
    CAPACITY_CSV, CAPACITY_PARQUET, CAPACITY_SUMMARY_CSV, CAPACITY_SUMMARY_PARQUET, REPORT_HTML,
    REQUESTS_PARQUET, RUNS_CSV, RUNS_DIR, RUNS_PARQUET, SUMMARY_CSV, SUMMARY_PARQUET, SWEEP_JSON,
};
use std::fmt;
use std::path::{Path, PathBuf};

/// One of `count` slices of a sweep: the points whose index modulo `count`
/// is `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// This slice, from 0 to `count - 1`.
    pub index: usize,
    /// How many slices the sweep is cut into.
    pub count: usize,
}

impl Shard {
    /// Whether the point with this index belongs to the shard.
    pub fn contains(self, point: usize) -> bool {
        point % self.count == self.index
    }

    /// How many of a sweep's `points` points belong to the shard.
    pub fn points_of(self, points: usize) -> usize {
        points / self.count + usize::from(self.index < points % self.count)
    }

    /// The shard's directory name: `shard-I-of-N`.
    pub fn dir_name(self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The files of one sweep (or shard) output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout under `output`, or under `output/shard-I-of-N` for a shard.
    pub fn new(output: &Path, shard: Option<Shard>) -> Self {
        let root = match shard {
            Some(s) => output.join(s.dir_name()),
            None => output.to_path_buf(),
        };
        Self { root }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `.plan-cache`: the planning pass, for a resumed sweep.
    pub fn plan_cache(&self) -> PathBuf {
        self.root.join(super::plan_cache::PLAN_CACHE)
    }

    /// `.tables-stamp`: what the tables of a finished sweep were written
    /// from, so a resume that would change nothing writes nothing.
    pub fn tables_stamp(&self) -> PathBuf {
        self.root.join(super::stamp::TABLES_STAMP)
    }

    /// The tables a sweep writes here: the runs and summary tables, a
    /// capacity search's (`search`) capacity tables and, with per-request
    /// rows (`per_request`), `requests.parquet`.
    pub fn table_files(&self, search: bool, per_request: bool) -> Vec<PathBuf> {
        let mut files = vec![
            self.runs_parquet(),
            self.runs_csv(),
            self.summary_parquet(),
            self.summary_csv(),
        ];
        if search {
            files.extend([
                self.capacity_parquet(),
                self.capacity_csv(),
                self.capacity_summary_parquet(),
                self.capacity_summary_csv(),
            ]);
        }
        if per_request {
            files.push(self.requests_parquet());
        }
        files
    }

    /// `runs/`: one result file per finished run.
    pub fn runs_dir(&self) -> PathBuf {
        self.root.join(RUNS_DIR)
    }

    /// `runs/<run_id>.json`: the run's full result.
    pub fn run_json(&self, id: RunId) -> PathBuf {
        self.runs_dir().join(format!("{id}.json"))
    }

    /// `runs/<run_id>.failed.json`: why a run failed (kept for `sweep
    /// merge`; resume retries failed runs).
    pub fn run_failed(&self, id: RunId) -> PathBuf {
        self.runs_dir().join(format!("{id}.failed.json"))
    }

    /// `runs/<run_id>.requests.parquet`: the run's per-request rows.
    pub fn run_requests(&self, id: RunId) -> PathBuf {
        self.runs_dir().join(format!("{id}.requests.parquet"))
    }

    /// `runs.parquet`.
    pub fn runs_parquet(&self) -> PathBuf {
        self.root.join(RUNS_PARQUET)
    }

    /// `runs.csv`.
    pub fn runs_csv(&self) -> PathBuf {
        self.root.join(RUNS_CSV)
    }

    /// `requests.parquet`.
    pub fn requests_parquet(&self) -> PathBuf {
        self.root.join(REQUESTS_PARQUET)
    }

    /// `sweep.json`.
    pub fn sweep_json(&self) -> PathBuf {
        self.root.join(SWEEP_JSON)
    }

    /// `summary.parquet`.
    pub fn summary_parquet(&self) -> PathBuf {
        self.root.join(SUMMARY_PARQUET)
    }

    /// `summary.csv`.
    pub fn summary_csv(&self) -> PathBuf {
        self.root.join(SUMMARY_CSV)
    }

    /// `capacity.parquet`: a capacity search's result per point.
    pub fn capacity_parquet(&self) -> PathBuf {
        self.root.join(CAPACITY_PARQUET)
    }

    /// `capacity.csv`.
    pub fn capacity_csv(&self) -> PathBuf {
        self.root.join(CAPACITY_CSV)
    }

    /// `capacity_summary.parquet`: the capacities with the seed folded out.
    pub fn capacity_summary_parquet(&self) -> PathBuf {
        self.root.join(CAPACITY_SUMMARY_PARQUET)
    }

    /// `capacity_summary.csv`.
    pub fn capacity_summary_csv(&self) -> PathBuf {
        self.root.join(CAPACITY_SUMMARY_CSV)
    }

    /// `report.html`, where `sweep report` writes by default.
    pub fn report_html(&self) -> PathBuf {
        self.root.join(REPORT_HTML)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_points() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for point in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.contains(point)).count(), 1);
        }
        for total in 0..10 {
            for s in &shards {
                let theirs = (0..total).filter(|&i| s.contains(i)).count();
                assert_eq!(s.points_of(total), theirs, "{s} of {total}");
            }
        }
        let layout = Layout::new(Path::new("out"), Some(shards[1]));
        assert_eq!(layout.root(), Path::new("out/shard-1-of-3"));
        assert_eq!(
            layout.run_json(RunId(0xab)),
            Path::new("out/shard-1-of-3/runs/00000000000000ab.json")
        );
    }
}
