//! `sweep merge`: the tables of a whole sweep, rebuilt from the run files of
//! its shard directories, exactly as one machine would have written them.
//!
//! Each shard's `sweep.json` (written before its first run) says which sweep
//! it belongs to; the manifest it names is expanded again, and each point's
//! result is looked up by run id in one index of every shard's run store
//! (linear in the runs, whatever the number of shards). Points without a
//! result are reported, with the shards to rerun.

use super::layout::{Layout, Shard};
use super::manifest::Manifest;
use super::meta::SweepMeta;
use super::output::{
    finish_meta, metric_template, new_meta, read_meta, write_meta, Tables, TablesWriter,
};
use super::plan::{Plan, Point};
use super::runner::{drive_windows, RunSource};
use super::store::Store;
use super::strategy::{RunResultRef, RunSpec};
use crate::io::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// What a merge wrote and what it could not find.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The merged tables (rows of the points that have every result).
    pub tables: Tables,
    /// The merged directory's `sweep.json`.
    pub meta: SweepMeta,
    /// The manifest the shards ran.
    pub manifest: PathBuf,
    /// Indices of the points that lack a result in every shard directory.
    pub missing: Vec<usize>,
    /// The shards that hold the missing points (to rerun with `--shard I/N`).
    pub shards_to_rerun: Vec<Shard>,
}

/// Merges the sweep directories `dirs` into `out`. Each point is driven by
/// its strategy as the shard did, with each run looked up (by its id) in
/// the shard directories instead of simulated.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged> {
    let layouts: Vec<Layout> = dirs.iter().map(|d| Layout::new(d, None)).collect();
    let metas = layouts.iter().map(read_meta).collect::<Result<Vec<_>>>()?;
    let (Some(first), Some(first_dir)) = (metas.first(), dirs.first()) else {
        return Err(Error::invalid("no directories to merge"));
    };
    check_compatible(dirs, &metas)?;
    let version = env!("CARGO_PKG_VERSION");
    if first.version != version {
        return Err(Error::invalid(format!(
            "'{}' was written by inference-lab {}, this is {version}: merge with the version that ran the shards",
            first_dir.display(),
            first.version
        )));
    }
    let manifest_path = PathBuf::from(&first.manifest);
    let manifest = Manifest::load(&manifest_path).map_err(|e| {
        Error::from(e).context(format!(
            "cannot read the manifest the shards ran ('{}')",
            first.manifest
        ))
    })?;
    if format!("{:016x}", manifest.text_hash) != first.manifest_hash {
        return Err(Error::invalid(format!(
            "{}: the manifest changed since the shards ran; rerun them or restore it",
            manifest_path.display()
        )));
    }
    let plan = Plan::build_for_merge(manifest, first.shard.map_or(1, |s| s.count))?;
    for (dir, meta) in dirs.iter().zip(&metas) {
        let expected = match meta.shard {
            Some(shard) => plan.shard_hash(shard),
            None => Some(plan.points_hash()),
        };
        if expected.as_deref() != Some(meta.points_hash.as_str()) {
            return Err(Error::invalid(format!(
                "{}: the sweep's points changed since '{}' ran (its base config or an input file was edited?); rerun it",
                manifest_path.display(),
                dir.display()
            )));
        }
    }
    let template = metric_template(&plan)?;
    let store = Store::read_all(&layouts, &template)?;
    let per_request = store_has_requests(&layouts);
    let out_layout = Layout::new(out, None);
    std::fs::create_dir_all(out).map_err(|e| Error::create_dir(out, e))?;
    let _lock = super::lock::lock_dir(out)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .build()
        .map_err(|e| Error::invalid(format!("cannot start the worker threads: {e}")))?;
    let mut tables = TablesWriter::create(&plan, &template, &out_layout, per_request)?;
    let lookup = Lookup {
        store: &store,
        per_request,
        mixed: AtomicBool::new(false),
    };
    let missing = drive_windows(
        &plan,
        &template,
        0..plan.len(),
        &pool,
        &lookup,
        &mut tables,
        None,
    )?;
    if lookup.mixed.load(Ordering::Relaxed) {
        return Err(Error::invalid(
            "some shards ran with --per-request and some without: rerun them alike",
        ));
    }
    let counts = tables.counts();
    let tables = tables.finish()?;
    let mut meta = new_meta(&plan, &manifest_path, None, plan.len());
    if let Some(started) = metas.iter().map(|m| &m.started).min() {
        meta.started = started.clone();
    }
    finish_meta(&mut meta, counts);
    write_meta(&out_layout, &meta)?;
    let count = first.shard.map_or(1, |s| s.count);
    let mut shards_to_rerun: Vec<Shard> = missing
        .iter()
        .map(|&p| Shard {
            index: p % count,
            count,
        })
        .collect();
    shards_to_rerun.sort_by_key(|s| s.index);
    shards_to_rerun.dedup();
    Ok(Merged {
        tables,
        meta,
        manifest: manifest_path,
        missing,
        shards_to_rerun,
    })
}

/// Whether any shard kept per-request files (`--per-request`).
fn store_has_requests(layouts: &[Layout]) -> bool {
    layouts.iter().any(|l| {
        std::fs::read_dir(l.runs_dir()).is_ok_and(|mut entries| {
            entries.any(|e| {
                e.is_ok_and(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .ends_with(".requests.parquet")
                })
            })
        })
    })
}

/// Runs looked up in the shard directories' stores.
struct Lookup<'a> {
    store: &'a Store,
    per_request: bool,
    /// Set when a finished run lacks the per-request file others have.
    mixed: AtomicBool,
}

impl RunSource for Lookup<'_> {
    fn run(&self, _point: &Point, spec: &RunSpec) -> Option<RunResultRef> {
        let (outcome, requests) = self.store.any(spec.run_id)?;
        if self.per_request && !outcome.is_failed() && requests.is_none() {
            self.mixed.store(true, Ordering::Relaxed);
        }
        Some(RunResultRef { outcome, requests })
    }
}

/// Refuses directories of different sweeps or versions.
fn check_compatible(dirs: &[PathBuf], metas: &[SweepMeta]) -> Result<()> {
    let bail = |message: String| Err(Error::invalid(message));
    let (first, first_dir) = (&metas[0], &dirs[0]);
    for (dir, meta) in dirs.iter().zip(metas).skip(1) {
        if meta.version != first.version {
            return bail(format!(
                "cannot merge '{}' (inference-lab {}) with '{}' (inference-lab {}): shards must come from one version",
                dir.display(),
                meta.version,
                first_dir.display(),
                first.version
            ));
        }
        if meta.manifest_hash != first.manifest_hash {
            return bail(format!(
                "cannot merge '{}' (sweep '{}', manifest {}) with '{}' (sweep '{}', manifest {}): they are shards of different sweeps",
                dir.display(),
                meta.sweep,
                meta.manifest_hash,
                first_dir.display(),
                first.sweep,
                first.manifest_hash
            ));
        }
        if meta.shard.map(|s| s.count) != first.shard.map(|s| s.count) {
            return bail(format!(
                "cannot merge '{}' and '{}': they cut the sweep into different numbers of shards",
                dir.display(),
                first_dir.display()
            ));
        }
    }
    Ok(())
}
