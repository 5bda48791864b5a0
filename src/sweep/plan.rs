//! The point list: the manifest's dimensions expanded in a stable order, each
//! point's overrides applied to the base config and resolved, with the
//! digests of the files it reads and its id. One planning pass resolves
//! every point (or reads what it found from the plan's cache); later a
//! point is resolved again only when one of its runs must be simulated.

use super::layout::Shard;
use super::manifest::Manifest;
use super::plan_cache;
use super::run_id::{InputDigest, RunId};
use super::search::spec::Load;
use super::strategy::Strategy;
use super::survey::Survey;
use crate::config::{apply_overrides, parse_toml, Config};
use crate::engine::work::Work;
use crate::io::config_file::{calibration_file, config_from_doc};
use crate::io::digest::{fnv1a, DigestCache};
use crate::io::workload::{input_files, WorkloadSource};
use crate::io::{Error, Result};
use crate::table::schema::is_seed_key;
use crate::table::summary::Fold;
use rayon::prelude::*;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use toml::{Table, Value};

/// One point of the sweep: its values and run id, known from the planning
/// pass; its config is resolved only when something needs it
/// ([`Plan::resolved`]), so a resumed sweep whose runs are stored never
/// resolves a config again.
#[derive(Debug, Clone)]
pub struct Point {
    /// Position in the stable point order (0-based); shards and tables use it.
    pub index: usize,
    /// The value of each swept key, in [`Manifest::keys`] order.
    pub values: Vec<Value>,
    /// The id of the point's run: the hash of its resolved config and
    /// inputs (or of the overrides, for an invalid point).
    pub run_id: RunId,
    /// The resolved config and inputs, or why they cannot be had: set at
    /// once for an invalid point, on first use for a valid one.
    resolved: OnceLock<std::result::Result<Resolved, String>>,
}

/// A point's resolved config and the files its runs read.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The resolved config.
    pub config: Arc<Config>,
    /// The files its runs read, with their digests.
    pub inputs: Arc<[InputDigest]>,
}

impl Point {
    /// Why the point's config does not resolve, for a point the planning
    /// pass found invalid (`None` for a valid one, resolved or not yet).
    pub fn error(&self) -> Option<&str> {
        match self.resolved.get() {
            Some(Err(e)) => Some(e),
            _ => None,
        }
    }
}

/// An expanded sweep: the manifest, its base config and what one pass over
/// every point found. Points are resolved on demand ([`Plan::point`]), so a
/// plan of a million points holds no more than a plan of ten, and their
/// run ids (nine bytes a point).
#[derive(Debug)]
pub struct Plan {
    /// The manifest it came from.
    pub manifest: Manifest,
    /// How each point chooses its runs.
    pub strategy: Strategy,
    /// The base config's document, which every point overrides.
    base: Table,
    /// FNV-1a of the base config's text (the id of an invalid point).
    base_hash: u64,
    /// How many points one step along each dimension skips.
    strides: Vec<usize>,
    /// How many points there are.
    count: usize,
    /// The digests of the files the points' configs read (inputs and
    /// calibration tables), read once for every point.
    digests: DigestCache,
    /// What the pass over every point found.
    survey: Survey,
    /// The shard whose points were checked, when not all of them.
    slice: Option<Shard>,
    /// The key of the plan's cache, when it can have one.
    cache_key: Option<u64>,
    /// Whether the survey was read from the cache.
    cached: bool,
}

/// Which points a plan checks, and which digests it keeps.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// Every point.
    Whole,
    /// One shard's points.
    Slice(Shard),
    /// Every point, with a digest of each of this many shards.
    Split(usize),
}

/// Points per rayon task of the planning pass.
const SURVEY_CHUNK: usize = 256;

impl Plan {
    /// Expands `manifest` against its base config and checks every point in
    /// one parallel pass (linear in the points; nothing kept per point but
    /// its run id and validity).
    ///
    /// A value that no point can use (a wrong type, an unknown key, a value
    /// out of range) is an error of the manifest and fails here, before
    /// anything runs; a point that is invalid only in combination with others
    /// stays in the plan, to be recorded as a failed run.
    pub fn build(manifest: Manifest) -> Result<Self> {
        Self::build_scoped(manifest, Scope::Whole, None)
    }

    /// [`build`](Self::build) for one shard: only the shard's points are
    /// checked and hashed, so each task of an array of N pays for its own
    /// points, not for all of them.
    pub fn build_slice(manifest: Manifest, shard: Shard) -> Result<Self> {
        Self::build_scoped(manifest, Scope::Slice(shard), None)
    }

    /// [`build`](Self::build) that also keeps the points hash of each of
    /// `count` shards ([`shard_hash`](Self::shard_hash)), for a merge.
    pub fn build_for_merge(manifest: Manifest, count: usize) -> Result<Self> {
        Self::build_scoped(manifest, Scope::Split(count), None)
    }

    /// [`build`](Self::build), or [`build_slice`](Self::build_slice) for a
    /// shard, that takes its planning pass from the cache file `cache`
    /// when that is still valid (see [`super::plan_cache`]): a resumed
    /// sweep then resolves no config until a run must be simulated.
    /// [`save_cache`](Self::save_cache) writes the file.
    pub fn build_cached(manifest: Manifest, shard: Option<Shard>, cache: &Path) -> Result<Self> {
        let scope = shard.map_or(Scope::Whole, Scope::Slice);
        Self::build_scoped(manifest, scope, Some(cache))
    }

    fn build_scoped(manifest: Manifest, scope: Scope, cache: Option<&Path>) -> Result<Self> {
        let base_path = manifest.base.as_path();
        let text = crate::io::lines::read_text_file(base_path, usize::MAX).map_err(|e| {
            Error::invalid(format!(
                "{}: sweep.base: cannot read the base config '{}': {e}",
                manifest.source,
                base_path.display()
            ))
        })?;
        let base = parse_toml(&text, &base_path.display().to_string())?;
        let strategy = match &manifest.search {
            Some(spec) => Strategy::Search(Arc::new(spec.clone())),
            None => Strategy::Grid,
        };
        let base_hash = fnv1a(text.as_bytes());
        let slice = match scope {
            Scope::Slice(shard) => Some(shard),
            _ => None,
        };
        let cache_key = match scope {
            Scope::Split(_) => None,
            _ => plan_cache::key(&[
                &manifest.source,
                &format!("{:016x}", manifest.text_hash),
                &base_path.display().to_string(),
                &format!("{base_hash:016x}"),
                &slice.map(|s| s.to_string()).unwrap_or_default(),
            ]),
        };
        let mut plan = Self {
            strides: strides(&manifest),
            count: manifest.point_count(),
            survey: Survey::empty(&manifest, 0),
            slice,
            manifest,
            strategy,
            base,
            base_hash,
            digests: DigestCache::default(),
            cache_key,
            cached: false,
        };
        if let (Some(path), Some(key)) = (cache, cache_key) {
            let (first, step) = slice.map_or((0, 1), |s| (s.index, s.count));
            let points = slice.map_or(plan.count, |s| s.points_of(plan.count));
            if let Some(survey) = plan_cache::load(path, key, points, (first, step), &plan.digests)
            {
                plan.survey = survey;
                plan.cached = true;
            }
        }
        if !plan.cached {
            let shards = match scope {
                Scope::Split(count) => count,
                _ => 0,
            };
            plan.survey = plan.survey_points(shards);
            plan.check_every_value_is_usable()?;
        }
        plan.check_search_bounds()?;
        Ok(plan)
    }

    /// Writes the planning pass to the cache file `path`, for the next
    /// [`build_cached`](Self::build_cached) (unless it was read from there,
    /// or the plan cannot be cached: a merge's, or a program that cannot
    /// tell its own executable).
    pub fn save_cache(&self, path: &Path) -> Result<()> {
        match (self.cache_key, self.cached) {
            (Some(key), false) => plan_cache::save(path, key, &self.survey, &self.digests),
            _ => Ok(()),
        }
    }

    /// Whether the planning pass was read from a cache.
    pub fn is_cached(&self) -> bool {
        self.cached
    }

    /// The key of the plan's cache (the program, the manifest, the base
    /// config and the shard), when it can have one.
    pub fn cache_key(&self) -> Option<u64> {
        self.cache_key
    }

    /// Resolves every point of the plan's slice (in parallel chunks) and
    /// folds what it found, with a digest for each of `shards` shards. The
    /// run ids and validities are written in place into vectors of the
    /// slice's length, so planning a million points holds 9 bytes a point
    /// and no more.
    fn survey_points(&self, shards: usize) -> Survey {
        let (first, step) = self.slice.map_or((0, 1), |s| (s.index, s.count));
        let points = self.slice.map_or(self.count, |s| s.points_of(self.count));
        let mut ids = vec![RunId(0); points];
        let mut valid = vec![false; points];
        let mut survey = ids
            .par_chunks_mut(SURVEY_CHUNK)
            .zip(valid.par_chunks_mut(SURVEY_CHUNK))
            .enumerate()
            .map(|(c, (ids, valid))| {
                let mut survey = Survey::empty(&self.manifest, shards);
                for (k, (id, ok)) in ids.iter_mut().zip(valid).enumerate() {
                    let index = first + (c * SURVEY_CHUNK + k) * step;
                    let coords = self.coordinates(index);
                    let (resolved, run_id) = self.resolve_values(&self.values_at(&coords));
                    let work = match &resolved {
                        Ok(r) => Ok(Work::of(&r.config, None)),
                        Err(e) => Err(e.as_str()),
                    };
                    (*id, *ok) = (run_id, resolved.is_ok());
                    survey.add(index, &coords, run_id, work);
                }
                survey
            })
            .reduce(|| Survey::empty(&self.manifest, shards), Survey::join);
        survey.ids = ids;
        survey.valid = valid;
        survey
    }

    /// The points hash of `shard`'s points, for a plan built for a merge
    /// into as many shards.
    pub fn shard_hash(&self, shard: Shard) -> Option<String> {
        (self.survey.shard_hashes.len() == shard.count)
            .then(|| format!("{:016x}", self.survey.shard_hashes[shard.index]))
    }

    /// The estimated work of the points planned (those of the slice),
    /// one run each at its config (a capacity search runs several), and
    /// how many points it counts (those whose request count can be told).
    pub fn work(&self) -> (Work, usize) {
        self.survey.work
    }

    /// How many points the sweep has.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the sweep has no point.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The point at `index` (below [`len`](Self::len)). A point the
    /// planning pass found valid takes its run id from there and is
    /// resolved on first use ([`resolved`](Self::resolved)); any other is
    /// resolved now.
    pub fn point(&self, index: usize) -> Point {
        let values = self.values_at(&self.coordinates(index));
        let resolved = OnceLock::new();
        let run_id = match self.surveyed(index) {
            Some((id, true)) => id,
            _ => {
                let (result, id) = self.resolve_values(&values);
                let _ = resolved.set(result);
                id
            }
        };
        Point {
            index,
            values,
            run_id,
            resolved,
        }
    }

    /// Every point in index order.
    pub fn points(&self) -> impl Iterator<Item = Point> + '_ {
        (0..self.count).map(|i| self.point(i))
    }

    /// The resolved config and inputs of `point` (one of this plan's),
    /// resolved on first use, or why they cannot be had: its config does
    /// not resolve, or it no longer gives the run id the planning pass
    /// found (a file it reads changed while the sweep ran).
    pub fn resolved<'p>(&self, point: &'p Point) -> std::result::Result<&'p Resolved, &'p str> {
        point
            .resolved
            .get_or_init(|| match self.resolve_values(&point.values) {
                (Ok(_), id) if id != point.run_id => Err(format!(
                    "the point's config or a file it reads changed while the sweep ran (run id {}, now {id}): run the sweep again",
                    point.run_id
                )),
                (result, _) => result,
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The first point whose config resolves, if any (of the whole sweep,
    /// even for a plan of one shard: every shard's tables take their metric
    /// columns from the same point).
    pub fn first_valid(&self) -> Option<Point> {
        match self.slice {
            None => self.survey.first_valid.map(|i| self.point(i)),
            Some(_) => self.points().find(|p| self.resolved(p).is_ok()),
        }
    }

    /// The digest of the run id of every point of the plan (or of its
    /// shard), each with its index, as 16 hex digits: directories with equal
    /// hashes hold the same points.
    pub fn points_hash(&self) -> String {
        format!("{:016x}", self.survey.points_hash)
    }

    /// The summary fold of the point at `index`: its number is the index
    /// with every seed axis (a dimension of `*.seed` keys only) at zero, and
    /// its last point has them at their last value.
    pub fn fold(&self, index: usize) -> Fold {
        let mut id = index as u64;
        let mut span = 0u64;
        for (dim, stride) in self.manifest.dimensions.iter().zip(&self.strides) {
            if dim.keys.iter().all(|k| is_seed_key(k)) {
                let coord = (index / stride) % dim.len();
                id -= (coord * stride) as u64;
                span += ((dim.len() - 1) * stride) as u64;
            }
        }
        Fold {
            id,
            last: id + span,
        }
    }

    /// The point's position along every dimension.
    fn coordinates(&self, index: usize) -> Vec<usize> {
        self.strides
            .iter()
            .zip(&self.manifest.dimensions)
            .map(|(s, d)| (index / s) % d.len())
            .collect()
    }

    /// The swept values of the point whose coordinates are `coords`.
    fn values_at(&self, coords: &[usize]) -> Vec<Value> {
        coords
            .iter()
            .zip(&self.manifest.dimensions)
            .flat_map(|(&c, d)| d.rows[c].iter().cloned())
            .collect()
    }

    /// The run id and validity the planning pass found for the point at
    /// `index`, if it surveyed that point.
    fn surveyed(&self, index: usize) -> Option<(RunId, bool)> {
        let at = match self.slice {
            None => index,
            Some(s) => {
                if !s.contains(index) {
                    return None;
                }
                index / s.count
            }
        };
        Some((*self.survey.ids.get(at)?, *self.survey.valid.get(at)?))
    }

    /// The point with the swept values `values`, resolved, and its run id.
    fn resolve_values(&self, values: &[Value]) -> (std::result::Result<Resolved, String>, RunId) {
        let keys = self.keys();
        let source = WorkloadSource {
            config_path: Some(&self.manifest.base),
            dataset: &self.manifest.dataset,
            cache: None,
        };
        let resolved = self.resolve(&keys, values).and_then(|config| {
            let inputs = digest_inputs(&config, &source, &self.digests)?;
            Ok((config, inputs))
        });
        match resolved {
            Ok((config, inputs)) => {
                let id = RunId::of(&config, &inputs);
                let resolved = Resolved {
                    config: Arc::new(config),
                    inputs: inputs.into(),
                };
                (Ok(resolved), id)
            }
            Err(e) => {
                let id = RunId::of_invalid(self.base_hash, &describe(&keys, values));
                (Err(e), id)
            }
        }
    }

    /// The base config with `values` of `keys` applied, resolved. The
    /// calibration file it names, if any, is digested: the plan's cache
    /// depends on it.
    fn resolve(&self, keys: &[&str], values: &[Value]) -> std::result::Result<Config, String> {
        let mut doc = self.base.clone();
        apply_overrides(&mut doc, keys, values)?;
        if let Some((_, path)) = calibration_file(&doc, &self.manifest.base) {
            // An unreadable file is recorded; config_from_doc says why.
            let _ = self.digests.digest(&path, "calibration file");
        }
        config_from_doc(doc, &self.manifest.base).map_err(|e| e.to_string())
    }

    /// The config of `point` with the searched key set to `load`: the
    /// base config with the point's values and the load applied, resolved.
    pub fn probe_config(&self, point: &Point, load: Load) -> std::result::Result<Config, String> {
        let Some(spec) = self.strategy.search() else {
            return Err("not a capacity search".into());
        };
        let mut keys = self.keys();
        keys.push(&spec.over);
        let mut values = point.values.clone();
        values.push(load.to_toml());
        self.resolve(&keys, &values)
    }

    /// Fails when a search's bounds do not resolve at the first valid point
    /// (a key that is not a config field, a float for an integer field).
    fn check_search_bounds(&self) -> Result<()> {
        let (Some(spec), Some(point)) = (self.strategy.search(), self.first_valid()) else {
            return Ok(());
        };
        for load in [spec.bounds.lo(), spec.bounds.hi()] {
            if let Err(e) = self.probe_config(&point, load) {
                return Err(Error::invalid(format!(
                    "{}: search.over = \"{}\", search.bounds: the search cannot set it to {}: {e}",
                    self.manifest.source,
                    spec.over,
                    load.to_toml()
                )));
            }
        }
        Ok(())
    }

    /// Whether a point outside the plan's slice with row `row` of
    /// dimension `dim` resolves (false for a plan of every point).
    fn usable_outside_the_slice(&self, dim: usize, row: usize) -> bool {
        let Some(shard) = self.slice else {
            return false;
        };
        let (stride, len) = (self.strides[dim], self.manifest.dimensions[dim].len());
        (0..self.count)
            .into_par_iter()
            .filter(|&i| (i / stride) % len == row && !shard.contains(i))
            .any(|i| {
                let values = self.values_at(&self.coordinates(i));
                self.resolve_values(&values).0.is_ok()
            })
    }

    /// The swept keys, in column order.
    pub fn keys(&self) -> Vec<&str> {
        self.manifest.keys().collect()
    }

    /// Points whose config could not be resolved (in the plan's shard, for
    /// a plan of one shard).
    pub fn invalid_points(&self) -> usize {
        self.survey.invalid
    }

    /// Fails on the first value (or zip row) with which every point is
    /// invalid. A plan of one shard looks at the other shards' points with
    /// that value too (until one resolves): a shard may hold only the
    /// invalid combinations of a value that others can run.
    fn check_every_value_is_usable(&self) -> Result<()> {
        let dims = self.manifest.dimensions.iter().zip(&self.survey.rows);
        for (d, (dim, rows)) in dims.enumerate() {
            for (&c, row) in rows {
                if let (false, Some((_, error))) = (row.usable, &row.first_error) {
                    if self.usable_outside_the_slice(d, c) {
                        continue;
                    }
                    let setting = describe(
                        &dim.keys.iter().map(String::as_str).collect::<Vec<_>>(),
                        &dim.rows[c],
                    );
                    return Err(Error::invalid(format!(
                        "{}: {setting}: no point can run with this value: {error}",
                        self.manifest.source
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The point's settings as `key = value, ...` for messages and tables.
pub fn describe(keys: &[&str], values: &[Value]) -> String {
    keys.iter()
        .zip(values)
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many points one step along each dimension skips: the last dimension
/// varies fastest, like nested loops in manifest order.
fn strides(manifest: &Manifest) -> Vec<usize> {
    let mut strides = vec![1; manifest.dimensions.len()];
    for d in (0..manifest.dimensions.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * manifest.dimensions[d + 1].len();
    }
    strides
}

/// The digests of the files a run of `config` reads.
fn digest_inputs(
    config: &Config,
    source: &WorkloadSource<'_>,
    digests: &DigestCache,
) -> std::result::Result<Vec<InputDigest>, String> {
    input_files(config, source)
        .into_iter()
        .map(|(role, path)| {
            let digest = digests
                .digest(&path, role.name())
                .map_err(|e| e.to_string())?;
            Ok(InputDigest { role, path, digest })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn manifest(body: &str) -> Manifest {
        let text = format!("[sweep]\nname = \"t\"\nbase = \"configs/config.toml\"\n{body}");
        Manifest::parse(&text, "m.toml", &PathBuf::from(env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn points_follow_nested_loop_order_with_the_last_dimension_fastest() {
        let plan = Plan::build(manifest(
            "[grid]\n\"scheduler.policy\" = [\"fcfs\", \"sof\"]\n\"workload.seed\" = { range = [1, 3] }\n[[zip]]\n\"workload.arrival_rate\" = [1.0, 2.0]\n\"workload.num_requests\" = [10, 20]\n",
        ))
        .unwrap();
        let points: Vec<Point> = plan.points().collect();
        assert_eq!(points.len(), 12);
        let row = |i: usize| describe(&plan.keys(), &points[i].values);
        assert_eq!(
            row(0),
            "scheduler.policy = \"fcfs\", workload.seed = 1, workload.arrival_rate = 1.0, workload.num_requests = 10"
        );
        assert_eq!(
            row(1),
            "scheduler.policy = \"fcfs\", workload.seed = 1, workload.arrival_rate = 2.0, workload.num_requests = 20"
        );
        assert_eq!(
            row(11),
            "scheduler.policy = \"sof\", workload.seed = 3, workload.arrival_rate = 2.0, workload.num_requests = 20"
        );
        let c = &plan.resolved(&points[11]).unwrap().config;
        assert_eq!(c.workload.seed, 3);
        assert_eq!(c.workload.num_requests, Some(20));
        assert!(points.iter().all(|p| plan.resolved(p).is_ok()));
        let mut ids: Vec<RunId> = points.iter().map(|p| p.run_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 12, "distinct configs have distinct ids");
    }

    #[test]
    fn preset_names_replace_the_section_and_fields_go_on_top() {
        let plan = Plan::build(manifest(
            "[grid]\nhardware = [\"h100\", \"b200\"]\n\"hardware.kv_cache_capacity\" = [50e9]\n",
        ))
        .unwrap();
        let point = plan.point(1);
        let b200 = &plan.resolved(&point).unwrap().config;
        assert_eq!(b200.server.hardware.name, "B200-180GB");
        assert_eq!(b200.server.hardware.kv_cache_capacity, 50_000_000_000);
        assert!(
            plan.resolved(&plan.point(0)).is_ok(),
            "the H100 gets the KV budget on top of its preset"
        );
    }

    #[test]
    fn unusable_values_fail_the_plan_with_a_hint() {
        let err = Plan::build(manifest("[grid]\n\"scheduler.polcy\" = [\"fcfs\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.toml: scheduler.polcy = \"fcfs\": "),
            "{err}"
        );
        assert!(err.contains("did you mean 'policy'?"), "{err}");
        let err = Plan::build(manifest("[grid]\n\"scheduler.policy\" = [\"fcfs\", 3]\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("scheduler.policy = 3"), "{err}");
        let err = Plan::build(manifest("[grid]\nhardware = [\"h900\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown hardware preset 'h900'"), "{err}");
    }

    #[test]
    fn invalid_combinations_stay_in_the_plan() {
        let plan = Plan::build(manifest(
            "[grid]\n\"workload.input_len_dist\" = [{ type = \"uniform\", min = 1, max = 1 }]\n\"workload.input_len_dist.min\" = [10, 500]\n\"workload.input_len_dist.max\" = [100, 1000]\n",
        ))
        .unwrap();
        assert_eq!(plan.invalid_points(), 1);
        let bad = plan.point(2);
        assert!(bad.error().unwrap().contains("input_len_dist"));
    }

    #[test]
    fn each_shard_hashes_its_own_points_and_the_shards_sum_to_the_whole() {
        let body = "[grid]\n\"workload.seed\" = { range = [1, 5] }\n\"scheduler.policy\" = [\"fcfs\", \"sof\"]\n";
        let whole = Plan::build(manifest(body)).unwrap();
        let split = Plan::build_for_merge(manifest(body), 3).unwrap();
        assert_eq!(split.points_hash(), whole.points_hash());
        let mut sum = 0u64;
        for index in 0..3 {
            let shard = Shard { index, count: 3 };
            let slice = Plan::build_slice(manifest(body), shard).unwrap();
            assert_eq!(Some(slice.points_hash()), split.shard_hash(shard));
            sum = sum.wrapping_add(u64::from_str_radix(&slice.points_hash(), 16).unwrap());
            assert_eq!(
                slice.first_valid().unwrap().index,
                0,
                "the sweep's first point"
            );
        }
        assert_eq!(format!("{sum:016x}"), whole.points_hash());
        assert_eq!(split.shard_hash(Shard { index: 0, count: 2 }), None);
        let other = Plan::build(manifest(
            "[grid]\n\"workload.seed\" = { range = [1, 5] }\n\"scheduler.policy\" = [\"sof\", \"fcfs\"]\n",
        ))
        .unwrap();
        assert_ne!(other.points_hash(), whole.points_hash(), "order counts");
    }

    #[test]
    fn folds_number_configurations_with_the_seed_axes_at_zero() {
        let plan = Plan::build(manifest(
            "[grid]\n\"workload.seed\" = { range = [1, 3] }\n\"scheduler.policy\" = [\"fcfs\", \"sof\"]\n",
        ))
        .unwrap();
        // Points: (seed 1, fcfs), (1, sof), (2, fcfs), ... : fcfs is fold 0
        // (last point 4), sof fold 1 (last point 5).
        let folds: Vec<(u64, u64)> = (0..6)
            .map(|i| (plan.fold(i).id, plan.fold(i).last))
            .collect();
        assert_eq!(folds, [(0, 4), (1, 5), (0, 4), (1, 5), (0, 4), (1, 5)]);
    }

    /// A base config with a calibration file beside it, and a manifest of
    /// three seeds of four length ranges over it (one invalid: 500 to 100).
    fn calibrated_sweep(dir: &Path) -> impl Fn() -> Manifest + '_ {
        std::fs::write(dir.join("cal.toml"), "compute_efficiency = 0.5\n").unwrap();
        let quick = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/quick.toml"),
        )
        .unwrap();
        let base = quick.replacen(
            "[hardware]\n",
            "[hardware]\ncalibration = \"cal.toml\"\n",
            1,
        );
        assert_ne!(base, quick);
        std::fs::write(dir.join("c.toml"), base).unwrap();
        move || {
            let text = "[sweep]\nname = \"t\"\nbase = \"c.toml\"\n[grid]\n\"workload.seed\" = [1, 2, 3]\n\"workload.input_len_dist\" = [{ type = \"uniform\", min = 1, max = 1 }]\n\"workload.input_len_dist.min\" = [10, 500]\n\"workload.input_len_dist.max\" = [100, 1000]\n";
            Manifest::parse(text, "m.toml", dir).unwrap()
        }
    }

    fn ids(plan: &Plan) -> Vec<(RunId, Option<String>)> {
        plan.points()
            .map(|p| (p.run_id, p.error().map(str::to_string)))
            .collect()
    }

    #[test]
    fn a_cached_plan_has_the_same_points_until_something_it_read_changes() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = calibrated_sweep(dir.path());
        let cache = dir.path().join(plan_cache::PLAN_CACHE);
        let fresh = Plan::build_cached(manifest(), None, &cache).unwrap();
        assert!(!fresh.is_cached(), "no cache yet");
        assert_eq!(fresh.invalid_points(), 3);
        fresh.save_cache(&cache).unwrap();
        let cached = Plan::build_cached(manifest(), None, &cache).unwrap();
        assert!(cached.is_cached());
        assert_eq!(ids(&cached), ids(&fresh));
        assert_eq!(cached.points_hash(), fresh.points_hash());
        assert_eq!(cached.invalid_points(), 3);
        assert_eq!(cached.work(), fresh.work());
        assert_eq!(cached.first_valid().unwrap().index, 0);
        let config = |plan: &Plan, i| {
            let point = plan.point(i);
            crate::sweep::run_id::canonical_json(&plan.resolved(&point).unwrap().config)
        };
        assert_eq!(config(&cached, 3), config(&fresh, 3));
        assert!(config(&cached, 3).contains("\"compute_efficiency\":0.5"));
        let is_cached = || {
            Plan::build_cached(manifest(), None, &cache)
                .unwrap()
                .is_cached()
        };
        // Every input of the planning pass is checked: the calibration file
        // (read by every point), the base config, the shard, the cache's bytes.
        std::fs::write(dir.path().join("cal.toml"), "compute_efficiency = 0.6\n").unwrap();
        let edited = Plan::build_cached(manifest(), None, &cache).unwrap();
        assert!(!edited.is_cached());
        assert_ne!(edited.point(0).run_id, fresh.point(0).run_id);
        std::fs::write(dir.path().join("cal.toml"), "compute_efficiency = 0.5\n").unwrap();
        assert!(is_cached(), "the same content again");
        let base = std::fs::read_to_string(dir.path().join("c.toml")).unwrap();
        std::fs::write(dir.path().join("c.toml"), format!("{base}# edited\n")).unwrap();
        assert!(!is_cached(), "an edited base config");
        std::fs::write(dir.path().join("c.toml"), &base).unwrap();
        assert!(is_cached());
        let shard = Shard { index: 0, count: 2 };
        assert!(!Plan::build_cached(manifest(), Some(shard), &cache)
            .unwrap()
            .is_cached());
        let bytes = std::fs::read(&cache).unwrap();
        let mut flipped = bytes.clone();
        let at = bytes.len() - 9 * 3;
        flipped[at] ^= 1;
        std::fs::write(&cache, &flipped).unwrap();
        assert!(!is_cached(), "an edited run id");
        std::fs::write(&cache, &bytes[..bytes.len() - 1]).unwrap();
        assert!(!is_cached(), "a torn cache");
        std::fs::write(&cache, &bytes).unwrap();
        assert!(is_cached());
    }

    #[test]
    fn a_shard_runs_a_value_that_only_other_shards_can_use() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = calibrated_sweep(dir.path());
        // Shard 0 of 2 has only the points with max = 100: there min = 500
        // never resolves, but shard 1's points with it do.
        let slice = Plan::build_slice(manifest(), Shard { index: 0, count: 2 }).unwrap();
        assert_eq!(slice.invalid_points(), 3);
        let text = "[sweep]\nname = \"t\"\nbase = \"c.toml\"\n[grid]\n\"workload.seed\" = [1, 2]\n\"scheduler.polcy\" = [\"fcfs\"]\n";
        let typo = Manifest::parse(text, "m.toml", dir.path()).unwrap();
        let err = Plan::build_slice(typo, Shard { index: 0, count: 2 }).unwrap_err();
        assert!(err.to_string().contains("did you mean 'policy'?"), "{err}");
    }

    #[test]
    fn a_cache_path_that_is_not_a_regular_file_is_neither_read_nor_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = calibrated_sweep(dir.path());
        let cache = dir.path().join(plan_cache::PLAN_CACHE);
        let made = std::process::Command::new("mkfifo").arg(&cache).status();
        if !made.is_ok_and(|s| s.success()) {
            std::fs::create_dir(&cache).unwrap();
        }
        // A FIFO would block a reader: it is not opened.
        let plan = Plan::build_cached(manifest(), None, &cache).unwrap();
        assert!(!plan.is_cached());
        plan.save_cache(&cache).unwrap();
        assert!(!std::fs::symlink_metadata(&cache).unwrap().is_file());
    }

    #[test]
    fn a_slice_caches_its_own_points() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = calibrated_sweep(dir.path());
        let cache = dir.path().join(plan_cache::PLAN_CACHE);
        let shard = Shard { index: 1, count: 4 };
        let fresh = Plan::build_cached(manifest(), Some(shard), &cache).unwrap();
        fresh.save_cache(&cache).unwrap();
        let cached = Plan::build_cached(manifest(), Some(shard), &cache).unwrap();
        assert!(cached.is_cached());
        assert_eq!(ids(&cached), ids(&fresh));
        assert_eq!(cached.points_hash(), fresh.points_hash());
        assert_eq!(cached.invalid_points(), fresh.invalid_points());
        let whole = Plan::build(manifest()).unwrap();
        for i in [1, 5] {
            assert_eq!(cached.point(i).run_id, whole.point(i).run_id);
        }
        assert!(!Plan::build_cached(manifest(), None, &cache)
            .unwrap()
            .is_cached());
    }

    #[test]
    fn a_point_whose_inputs_changed_after_planning_does_not_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan::build(calibrated_sweep(dir.path())()).unwrap();
        let point = plan.point(0);
        assert!(point.error().is_none(), "valid, not resolved yet");
        std::fs::write(dir.path().join("cal.toml"), "compute_efficiency = 0.7\n").unwrap();
        let err = plan.resolved(&point).unwrap_err();
        assert!(err.contains("changed while the sweep ran"), "{err}");
    }
}
