//! The point list: the manifest's dimensions expanded in a stable order, each
//! point's overrides applied to the base config and resolved, with its run id.

use super::manifest::Manifest;
use super::run_id::{fnv1a, RunId};
use crate::config::Config;
use anyhow::{anyhow, Context, Result};
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
    /// Hash of the resolved config (or of the overrides, for an invalid point).
    pub run_id: RunId,
    /// The resolved config, or why this combination of values is invalid.
    pub config: Result<Arc<Config>, String>,
}

/// An expanded, resolved sweep.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The manifest it came from.
    pub manifest: Manifest,
    /// Every point, in index order.
    pub points: Vec<Point>,
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
        let text = std::fs::read_to_string(base_path).with_context(|| {
            format!(
                "{}: sweep.base: cannot read the base config '{}'",
                manifest.source,
                base_path.display()
            )
        })?;
        let base = crate::config::parse_toml(&text, &base_path.display().to_string())?;
        let base_hash = fnv1a(text.as_bytes());
        let keys: Vec<&str> = manifest.keys().collect();
        let points = coordinates(&manifest)
            .enumerate()
            .map(|(index, coords)| {
                let values: Vec<Value> = coords
                    .iter()
                    .zip(&manifest.dimensions)
                    .flat_map(|(&c, d)| d.rows[c].iter().cloned())
                    .collect();
                let config = resolve(&base, base_path, &keys, &values).map(Arc::new);
                let run_id = match &config {
                    Ok(c) => RunId::of(c),
                    Err(_) => RunId::of_invalid(base_hash, &describe(&keys, &values)),
                };
                Point {
                    index,
                    values,
                    run_id,
                    config,
                }
            })
            .collect();
        let plan = Self { manifest, points };
        plan.check_every_value_is_usable()?;
        Ok(plan)
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
                    return Err(anyhow!(
                        "{}: {setting}: no point can run with this value: {error}",
                        self.manifest.source
                    ));
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
) -> Result<Config, String> {
    let mut doc = base.clone();
    apply_overrides(&mut doc, keys, values)?;
    crate::cli::config_from_doc(doc, base_path).map_err(|e| crate::cli::render_error(&e))
}

/// Sets each dotted key to its value. Shorter keys go first, so a preset
/// name (`hardware = "h200"`) replaces the whole section before a field of
/// it (`hardware.kv_cache_capacity`) is set on top.
pub fn apply_overrides(doc: &mut Table, keys: &[&str], values: &[Value]) -> Result<(), String> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| keys[i].matches('.').count());
    for i in order {
        set(doc, keys[i], values[i].clone())?;
    }
    Ok(())
}

fn set(doc: &mut Table, key: &str, value: Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut table = doc;
    let mut path = String::new();
    for part in parts {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(part);
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        // A section given as a preset name becomes `{ preset = NAME }`, so
        // fields can be set on top of the preset.
        if let Value::String(name) = entry {
            let mut preset = Table::new();
            preset.insert("preset".into(), Value::String(name.clone()));
            *entry = Value::Table(preset);
        }
        table = match entry {
            Value::Table(t) => t,
            other => {
                return Err(format!(
                    "cannot set {key}: {path} is {}, not a table",
                    crate::config::describe(other)
                ))
            }
        };
    }
    table.insert(last.to_string(), value);
    Ok(())
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

    #[test]
    fn overrides_refuse_to_descend_into_values() {
        let mut doc: Table = "[workload]\nseed = 1\n".parse().unwrap();
        let err =
            apply_overrides(&mut doc, &["workload.seed.x"], &[Value::Integer(1)]).unwrap_err();
        assert_eq!(
            err,
            "cannot set workload.seed.x: workload.seed is the integer 1, not a table"
        );
    }
}
