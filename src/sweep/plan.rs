//! The point list: the manifest's dimensions expanded in a stable order, each
//! point's overrides applied to the base config and resolved, with the
//! digests of the files it reads and its id.

use super::manifest::Manifest;
use super::run_id::{InputDigest, RunId};
use super::search::spec::Load;
use super::strategy::Strategy;
use crate::config::{apply_overrides, parse_toml, Config};
use crate::io::config_file::config_from_doc;
use crate::io::digest::{fnv1a, DigestCache};
use crate::io::workload::{input_files, WorkloadSource};
use crate::io::{Error, Result};
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

/// An expanded, resolved sweep.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The manifest it came from.
    pub manifest: Manifest,
    /// Every point, in index order.
    pub points: Vec<Point>,
    /// How each point chooses its runs.
    pub strategy: Strategy,
    /// The base config's document, which a search's probes override.
    base: Table,
}

impl Plan {
    /// Expands `manifest` and resolves every point against its base config.
    ///
    /// A value that no point can use (a wrong type, an unknown key, a value
    /// out of range) is an error of the manifest and fails here, before
    /// anything runs; a point that is invalid only in combination with others
    /// stays in the plan, to be recorded as a failed run.
    pub fn build(manifest: Manifest) -> Result<Self> {
        let base_path = manifest.base.as_path();
        let text = std::fs::read_to_string(base_path).map_err(|e| {
            Error::invalid(format!(
                "{}: sweep.base: cannot read the base config '{}': {e}",
                manifest.source,
                base_path.display()
            ))
        })?;
        let base = parse_toml(&text, &base_path.display().to_string())?;
        let base_hash = fnv1a(text.as_bytes());
        let keys: Vec<&str> = manifest.keys().collect();
        let digests = DigestCache::default();
        let source = WorkloadSource {
            config_path: Some(base_path),
            dataset: &manifest.dataset,
            cache: None,
        };
        let points = coordinates(&manifest)
            .enumerate()
            .map(|(index, coords)| {
                let values: Vec<Value> = coords
                    .iter()
                    .zip(&manifest.dimensions)
                    .flat_map(|(&c, d)| d.rows[c].iter().cloned())
                    .collect();
                let resolved = resolve(&base, base_path, &keys, &values).and_then(|config| {
                    let inputs = digest_inputs(&config, &source, &digests)?;
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
                        RunId::of_invalid(base_hash, &describe(&keys, &values)),
                    ),
                };
                Point {
                    index,
                    values,
                    run_id,
                    config,
                    inputs,
                }
            })
            .collect();
        let strategy = match &manifest.search {
            Some(spec) => Strategy::Search(Arc::new(spec.clone())),
            None => Strategy::Grid,
        };
        let plan = Self {
            manifest,
            points,
            strategy,
            base,
        };
        plan.check_every_value_is_usable()?;
        plan.check_search_bounds()?;
        Ok(plan)
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
        let (Some(spec), Some(point)) = (
            self.strategy.search(),
            self.points.iter().find(|p| p.config.is_ok()),
        ) else {
            return Ok(());
        };
        for load in [spec.bounds.lo(), spec.bounds.hi()] {
            if let Err(e) = self.probe_config(point, load) {
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

    /// Points whose config could not be resolved.
    pub fn invalid_points(&self) -> usize {
        self.points.iter().filter(|p| p.config.is_err()).count()
    }

    /// Fails on the first value (or zip row) with which every point is invalid.
    fn check_every_value_is_usable(&self) -> Result<()> {
        let strides = strides(&self.manifest);
        for (d, dim) in self.manifest.dimensions.iter().enumerate() {
            for (row, values) in dim.rows.iter().enumerate() {
                let mut with_row = self
                    .points
                    .iter()
                    .filter(|p| (p.index / strides[d]) % dim.len() == row);
                let all_failed = with_row.clone().all(|p| p.config.is_err());
                if let (true, Some(point)) = (all_failed, with_row.next()) {
                    let error = point.config.as_ref().err().cloned().unwrap_or_default();
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

/// Each point's position along every dimension, in point order.
fn coordinates(manifest: &Manifest) -> impl Iterator<Item = Vec<usize>> + '_ {
    let strides = strides(manifest);
    (0..manifest.point_count()).map(move |i| {
        strides
            .iter()
            .zip(&manifest.dimensions)
            .map(|(s, d)| (i / s) % d.len())
            .collect()
    })
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
        assert_eq!(plan.points.len(), 12);
        let row = |i: usize| describe(&plan.keys(), &plan.points[i].values);
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
        let c = plan.points[11].config.as_ref().unwrap();
        assert_eq!(c.workload.seed, 3);
        assert_eq!(c.workload.num_requests, Some(20));
        assert!(plan.points.iter().all(|p| p.config.is_ok()));
        let mut ids: Vec<RunId> = plan.points.iter().map(|p| p.run_id).collect();
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
        let b200 = plan.points[1].config.as_ref().unwrap();
        assert_eq!(b200.server.hardware.name, "B200-180GB");
        assert_eq!(b200.server.hardware.kv_cache_capacity, 50_000_000_000);
        assert!(
            plan.points[0].config.is_ok(),
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
        let bad = &plan.points[2];
        assert!(bad.config.as_ref().unwrap_err().contains("input_len_dist"));
    }
}
