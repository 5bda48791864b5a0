//! The point list: the manifest's dimensions expanded in a stable order, each
//! point's overrides applied to the base config and resolved, with the
//! digests of the files it reads and its id.

use super::layout::Shard;
use super::manifest::Manifest;
use super::run_id::{InputDigest, RunId};
use super::search::spec::Load;
use super::strategy::Strategy;
use crate::config::{apply_overrides, parse_toml, Config};
use crate::engine::work::Work;
use crate::io::config_file::config_from_doc;
use crate::io::digest::{fnv1a, DigestCache};
use crate::io::workload::{input_files, WorkloadSource};
use crate::io::{Error, Result};
use crate::table::schema::is_seed_key;
use crate::table::summary::Fold;
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;
use toml::{Table, Value};

/// One point of the sweep.
#[derive(Debug, Clone)]
pub struct Point {
    /// Position in the stable point order (0-based); shards and tables use it.
    pub index: usize,
    /// The value of each swept key, in [`Manifest::keys`] order.
    pub values: Vec<Value>,
    /// The id of the point's run: the hash of its resolved config and
    /// inputs (or of the overrides, for an invalid point).
    pub run_id: RunId,
    /// The resolved config, or why this combination of values is invalid.
    pub config: std::result::Result<Arc<Config>, String>,
    /// The files its runs read, with their digests.
    pub inputs: Arc<[InputDigest]>,
}

/// An expanded sweep: the manifest, its base config and what one pass over
/// every point found. Points are resolved on demand ([`Plan::point`]), so a
/// plan of a million points holds no more than a plan of ten.
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
    /// The input files' digests, read once for every point.
    digests: DigestCache,
    /// What the pass over every point found.
    survey: Survey,
    /// The shard whose points were checked, when not all of them.
    slice: Option<Shard>,
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

/// What the planning pass over every point found.
#[derive(Debug, Clone, Default)]
struct Survey {
    /// Points whose config does not resolve.
    invalid: usize,
    /// The first point whose config resolves.
    first_valid: Option<usize>,
    /// The order-sensitive digest of every surveyed point's run id.
    points_hash: u64,
    /// The same digest of each shard's points, when the plan is cut into
    /// shards (a merge checks each shard directory against its own).
    shard_hashes: Vec<u64>,
    /// For each dimension and row: whether some point with it resolves, and
    /// else the first point with it that does not, with its error.
    rows: Vec<Vec<RowSurvey>>,
    /// The estimated work of the points whose config resolves, one run
    /// each, and how many of them.
    work: (Work, usize),
}

/// What the planning pass found for one value (row) of one dimension.
#[derive(Debug, Clone, Default)]
struct RowSurvey {
    /// Some point with this value resolves.
    usable: bool,
    /// The first point with this value that does not, and why.
    first_error: Option<(usize, String)>,
}

impl RowSurvey {
    /// Keeps `error` of the point `index` if no earlier point's is kept.
    fn note_error(&mut self, index: usize, error: &str) {
        if self.first_error.as_ref().is_none_or(|(i, _)| *i > index) {
            self.first_error = Some((index, error.to_string()));
        }
    }
}

impl Survey {
    /// An empty survey of `manifest`'s dimensions, with a digest for each
    /// of `shards` shards.
    fn empty(manifest: &Manifest, shards: usize) -> Self {
        Self {
            shard_hashes: vec![0; shards],
            rows: manifest
                .dimensions
                .iter()
                .map(|d| vec![RowSurvey::default(); d.len()])
                .collect(),
            ..Self::default()
        }
    }

    /// Adds `point`, whose coordinates are `coords`.
    fn add(&mut self, point: &Point, coords: &[usize]) {
        let digest = point_digest(point.index, point.run_id);
        self.points_hash = self.points_hash.wrapping_add(digest);
        let shards = self.shard_hashes.len();
        if let Some(h) = self.shard_hashes.get_mut(point.index % shards.max(1)) {
            *h = h.wrapping_add(digest);
        }
        if let Some(work) = point.config.as_deref().ok().and_then(|c| Work::of(c, None)) {
            self.work = (self.work.0.then(work), self.work.1 + 1);
        }
        let valid = point.config.is_ok();
        if valid {
            self.first_valid = Some(self.first_valid.map_or(point.index, |f| f.min(point.index)));
        } else {
            self.invalid += 1;
        }
        for (rows, &c) in self.rows.iter_mut().zip(coords) {
            let row = &mut rows[c];
            match &point.config {
                Ok(_) => row.usable = true,
                Err(e)
                    if row
                        .first_error
                        .as_ref()
                        .is_none_or(|(i, _)| *i > point.index) =>
                {
                    row.first_error = Some((point.index, e.clone()));
                }
                Err(_) => {}
            }
        }
    }

    /// The survey of the points of both (disjoint sets of points).
    fn join(mut self, other: Self) -> Self {
        self.invalid += other.invalid;
        self.work = (self.work.0.then(other.work.0), self.work.1 + other.work.1);
        self.points_hash = self.points_hash.wrapping_add(other.points_hash);
        for (mine, theirs) in self.shard_hashes.iter_mut().zip(&other.shard_hashes) {
            *mine = mine.wrapping_add(*theirs);
        }
        self.first_valid = match (self.first_valid, other.first_valid) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (mine, theirs) in self.rows.iter_mut().zip(other.rows) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                m.usable |= t.usable;
                if let Some((i, e)) = &t.first_error {
                    m.note_error(*i, e);
                }
            }
        }
        self
    }
}

/// One point's share of the points hash: its index and run id mixed
/// (splitmix64), so the wrapping sum over all points changes when any id
/// changes or two points swap places, and can be summed in any order.
fn point_digest(index: usize, id: RunId) -> u64 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    mix(mix(index as u64 ^ 0x9e37_79b9_7f4a_7c15) ^ id.0)
}

/// Points per rayon task of the planning pass.
const SURVEY_CHUNK: usize = 256;

impl Plan {
    /// Expands `manifest` against its base config and checks every point in
    /// one parallel pass (linear in the points; nothing kept per point).
    ///
    /// A value that no point can use (a wrong type, an unknown key, a value
    /// out of range) is an error of the manifest and fails here, before
    /// anything runs; a point that is invalid only in combination with others
    /// stays in the plan, to be recorded as a failed run.
    pub fn build(manifest: Manifest) -> Result<Self> {
        Self::build_scoped(manifest, Scope::Whole)
    }

    /// [`build`](Self::build) for one shard: only the shard's points are
    /// checked and hashed, so each task of an array of N pays for its own
    /// points, not for all of them.
    pub fn build_slice(manifest: Manifest, shard: Shard) -> Result<Self> {
        Self::build_scoped(manifest, Scope::Slice(shard))
    }

    /// [`build`](Self::build) that also keeps the points hash of each of
    /// `count` shards ([`shard_hash`](Self::shard_hash)), for a merge.
    pub fn build_for_merge(manifest: Manifest, count: usize) -> Result<Self> {
        Self::build_scoped(manifest, Scope::Split(count))
    }

    fn build_scoped(manifest: Manifest, scope: Scope) -> Result<Self> {
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
        let mut plan = Self {
            strides: strides(&manifest),
            count: manifest.point_count(),
            survey: Survey::empty(&manifest, 0),
            slice: match scope {
                Scope::Slice(shard) => Some(shard),
                _ => None,
            },
            manifest,
            strategy,
            base,
            base_hash: fnv1a(text.as_bytes()),
            digests: DigestCache::default(),
        };
        let shards = match scope {
            Scope::Split(count) => count,
            _ => 0,
        };
        plan.survey = plan.survey_points(shards);
        plan.check_every_value_is_usable()?;
        plan.check_search_bounds()?;
        Ok(plan)
    }

    /// Resolves every point of the plan's slice (in parallel chunks) and
    /// folds what it found, with a digest for each of `shards` shards.
    fn survey_points(&self, shards: usize) -> Survey {
        let chunks = self.count.div_ceil(SURVEY_CHUNK);
        let here = |i: &usize| self.slice.is_none_or(|s| s.contains(*i));
        (0..chunks)
            .into_par_iter()
            .map(|c| {
                let mut survey = Survey::empty(&self.manifest, shards);
                let end = ((c + 1) * SURVEY_CHUNK).min(self.count);
                for index in (c * SURVEY_CHUNK..end).filter(here) {
                    let coords = self.coordinates(index);
                    survey.add(&self.resolve_point(index, &coords), &coords);
                }
                survey
            })
            .reduce(|| Survey::empty(&self.manifest, shards), Survey::join)
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

    /// The point at `index` (below [`len`](Self::len)), resolved.
    pub fn point(&self, index: usize) -> Point {
        self.resolve_point(index, &self.coordinates(index))
    }

    /// Every point in index order, each resolved as it is reached.
    pub fn points(&self) -> impl Iterator<Item = Point> + '_ {
        (0..self.count).map(|i| self.point(i))
    }

    /// The first point whose config resolves, if any (of the whole sweep,
    /// even for a plan of one shard: every shard's tables take their metric
    /// columns from the same point).
    pub fn first_valid(&self) -> Option<Point> {
        match self.slice {
            None => self.survey.first_valid.map(|i| self.point(i)),
            Some(_) => self.points().find(|p| p.config.is_ok()),
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

    /// The point at `index`, whose coordinates are `coords`, resolved.
    fn resolve_point(&self, index: usize, coords: &[usize]) -> Point {
        let values: Vec<Value> = coords
            .iter()
            .zip(&self.manifest.dimensions)
            .flat_map(|(&c, d)| d.rows[c].iter().cloned())
            .collect();
        let keys = self.keys();
        let source = WorkloadSource {
            config_path: Some(&self.manifest.base),
            dataset: &self.manifest.dataset,
            cache: None,
        };
        let resolved =
            resolve(&self.base, &self.manifest.base, &keys, &values).and_then(|config| {
                let inputs = digest_inputs(&config, &source, &self.digests)?;
                Ok((Arc::new(config), inputs))
            });
        let (config, inputs, run_id) = match resolved {
            Ok((config, inputs)) => {
                let id = RunId::of(&config, &inputs);
                (Ok(config), inputs.into(), id)
            }
            Err(e) => (
                Err(e),
                Arc::from([]),
                RunId::of_invalid(self.base_hash, &describe(&keys, &values)),
            ),
        };
        Point {
            index,
            values,
            run_id,
            config,
            inputs,
        }
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
        resolve(&self.base, &self.manifest.base, &keys, &values)
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

    /// The swept keys, in column order.
    pub fn keys(&self) -> Vec<&str> {
        self.manifest.keys().collect()
    }

    /// Points whose config could not be resolved (in the plan's shard, for
    /// a plan of one shard).
    pub fn invalid_points(&self) -> usize {
        self.survey.invalid
    }

    /// Fails on the first value (or zip row) with which every point is invalid.
    fn check_every_value_is_usable(&self) -> Result<()> {
        for (dim, rows) in self.manifest.dimensions.iter().zip(&self.survey.rows) {
            for (values, row) in dim.rows.iter().zip(rows) {
                if let (false, Some((_, error))) = (row.usable, &row.first_error) {
                    let setting = describe(
                        &dim.keys.iter().map(String::as_str).collect::<Vec<_>>(),
                        values,
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

/// The base config with the point's values applied, resolved.
fn resolve(
    base: &Table,
    base_path: &Path,
    keys: &[&str],
    values: &[Value],
) -> std::result::Result<Config, String> {
    let mut doc = base.clone();
    apply_overrides(&mut doc, keys, values)?;
    config_from_doc(doc, base_path).map_err(|e| e.to_string())
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
        let c = points[11].config.as_ref().unwrap();
        assert_eq!(c.workload.seed, 3);
        assert_eq!(c.workload.num_requests, Some(20));
        assert!(points.iter().all(|p| p.config.is_ok()));
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
        let b200 = plan.point(1).config.unwrap();
        assert_eq!(b200.server.hardware.name, "B200-180GB");
        assert_eq!(b200.server.hardware.kv_cache_capacity, 50_000_000_000);
        assert!(
            plan.point(0).config.is_ok(),
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
        assert!(bad.config.as_ref().unwrap_err().contains("input_len_dist"));
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
}
