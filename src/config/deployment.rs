//! `[deployment]`: how many GPUs serve the model and how requests reach them.
//! A replica is a group of `tensor_parallel_size` GPUs running one engine
//! (every layer split across them, and for MoE models optionally the experts
//! spread across them); a deployment is `replicas` such engines behind one
//! router. Without the section a deployment is one replica of one GPU.

use super::error::ConfigError;
use super::fields::{choice_names, Field, FieldDefault, FieldKind};
use super::model::ModelConfig;
use super::reader::Section;
use serde::Serialize;

/// How a router picks the replica of each arriving request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterPolicy {
    /// Replicas in turn.
    RoundRobin,
    /// The replica with the fewest requests waiting or running.
    LeastOutstanding,
    /// The replica with the lowest KV cache use.
    LeastKv,
    /// The replica holding the longest cached prefix of the prompt, within a
    /// bound on imbalance; the least outstanding one when none holds any.
    PrefixAffinity,
}

impl RouterPolicy {
    /// Every router with its configuration name.
    pub const ALL: [(&'static str, RouterPolicy); 4] = [
        ("round_robin", RouterPolicy::RoundRobin),
        ("least_outstanding", RouterPolicy::LeastOutstanding),
        ("least_kv", RouterPolicy::LeastKv),
        ("prefix_affinity", RouterPolicy::PrefixAffinity),
    ];

    /// The name used in configs and reports.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, r)| *r == self)
            .map_or("round_robin", |(n, _)| n)
    }
}

/// The deployment, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeploymentConfig {
    /// GPUs per replica, every layer split across them (vLLM's `--tensor-parallel-size`).
    pub tensor_parallel_size: u64,
    /// MoE: experts spread whole across the replica's GPUs, with all-to-all
    /// dispatch and combine instead of the all-reduce (vLLM's `--enable-expert-parallel`).
    pub expert_parallel: bool,
    /// Independent engines behind the router (data parallel).
    pub replicas: u64,
    /// How the router assigns requests to replicas.
    pub router: RouterPolicy,
}

/// The most GPUs a replica may have (the largest NVLink domains sold today
/// hold 72; larger values are surely typos).
pub const MAX_TENSOR_PARALLEL_SIZE: u64 = 72;

/// The most replicas a deployment may have (bounds the engines one run builds).
pub const MAX_REPLICAS: u64 = 1024;

const TENSOR_PARALLEL_SIZE: Field = Field::new(
    "tensor_parallel_size",
    FieldKind::Integer { min: 1 },
    "GPUs per replica, every layer split across them (vLLM's --tensor-parallel-size); a divisor of model.num_heads",
)
.default(FieldDefault::Integer(1))
.unit("GPUs");
const EXPERT_PARALLEL: Field = Field::new(
    "expert_parallel",
    FieldKind::Bool,
    "MoE: experts spread across the replica's GPUs (vLLM's --enable-expert-parallel)",
)
.default(FieldDefault::Bool(false));
const REPLICAS: Field = Field::new(
    "replicas",
    FieldKind::Integer { min: 1 },
    "independent engines behind one router (data parallel)",
)
.default(FieldDefault::Integer(1));
const ROUTER: Field = Field::new(
    "router",
    FieldKind::Choice(&ROUTER_NAMES),
    "how the router assigns each arriving request to a replica",
)
.default(FieldDefault::Name("round_robin"));

/// The `[deployment]` fields, in documentation order: the one list the
/// parser checks keys against.
pub const FIELDS: &[Field] = &[TENSOR_PARALLEL_SIZE, EXPERT_PARALLEL, REPLICAS, ROUTER];

const ROUTER_NAMES: [&str; RouterPolicy::ALL.len()] = choice_names(RouterPolicy::ALL);

impl Default for DeploymentConfig {
    /// One replica of one GPU: what a config without `[deployment]` runs.
    fn default() -> Self {
        Self {
            tensor_parallel_size: 1,
            expert_parallel: false,
            replicas: 1,
            router: RouterPolicy::RoundRobin,
        }
    }
}

impl DeploymentConfig {
    /// Reads and validates a `[deployment]` table.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        let tensor_parallel_size = s.int(&TENSOR_PARALLEL_SIZE)?;
        if tensor_parallel_size > MAX_TENSOR_PARALLEL_SIZE {
            return Err(s.error(
                TENSOR_PARALLEL_SIZE.name,
                format!(
                    "expected at most {MAX_TENSOR_PARALLEL_SIZE} GPUs per replica, got {tensor_parallel_size}"
                ),
            ));
        }
        let replicas = s.int(&REPLICAS)?;
        if replicas > MAX_REPLICAS {
            return Err(s.error(
                REPLICAS.name,
                format!("expected at most {MAX_REPLICAS} replicas, got {replicas}"),
            ));
        }
        Ok(Self {
            tensor_parallel_size,
            expert_parallel: s.flag(&EXPERT_PARALLEL)?,
            replicas,
            router: s.pick(&ROUTER, &RouterPolicy::ALL)?,
        })
    }

    /// Checks that `model` can be split this way: whole attention heads per
    /// GPU, and whole experts per GPU under expert parallelism.
    pub(crate) fn check_model(
        &self,
        model: &ModelConfig,
        s: &Section<'_>,
    ) -> Result<(), ConfigError> {
        let t = self.tensor_parallel_size;
        if model.num_heads % t != 0 {
            let sizes: Vec<String> = model
                .tensor_parallel_sizes()
                .map(|t| t.to_string())
                .collect();
            return Err(s.error(
                "tensor_parallel_size",
                format!(
                    "expected a divisor of the model's num_heads ({}), so that every GPU gets whole attention heads, got {t} (possible: {})",
                    model.num_heads,
                    sizes.join(", ")
                ),
            ));
        }
        if self.expert_parallel {
            match model.num_experts {
                None => {
                    return Err(s.error(
                        "expert_parallel",
                        format!("the model '{}' has no experts (model.num_experts is not set)", model.name),
                    ))
                }
                Some(e) if e % t != 0 => {
                    return Err(s.error(
                        "expert_parallel",
                        format!("expected tensor_parallel_size ({t}) to divide the model's num_experts ({e}), so that every GPU holds whole experts"),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// GPUs of the whole deployment: `tensor_parallel_size x replicas`.
    pub fn gpus(&self) -> u64 {
        self.tensor_parallel_size * self.replicas
    }

    /// KV heads each GPU of a replica holds: `ceil(num_kv_heads / t)`, so
    /// every GPU holds one (replicated) head when `t` exceeds `num_kv_heads`.
    pub fn kv_heads_per_gpu(&self, num_kv_heads: u64) -> u64 {
        num_kv_heads.div_ceil(self.tensor_parallel_size)
    }

    /// A short description for report headers: `TP=4 x 2 replicas (least_outstanding)`.
    pub fn describe(&self) -> String {
        let mut text = format!("TP={}", self.tensor_parallel_size);
        if self.expert_parallel {
            text.push_str(" EP");
        }
        if self.replicas > 1 {
            text.push_str(&format!(
                " x {} replicas ({})",
                self.replicas,
                self.router.name()
            ));
        }
        text.push_str(&format!(
            ", {} GPU{}",
            self.gpus(),
            if self.gpus() == 1 { "" } else { "s" }
        ));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DeploymentConfig, ConfigError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        DeploymentConfig::parse(&Section::checked(&table, "deployment", "d.toml", FIELDS)?)
    }

    #[test]
    fn an_empty_section_is_one_gpu() {
        assert_eq!(parse("").unwrap(), DeploymentConfig::default());
        assert_eq!(DeploymentConfig::default().gpus(), 1);
    }

    #[test]
    fn fields_are_read_and_checked() {
        let d = parse("tensor_parallel_size = 4\nreplicas = 2\nrouter = 'prefix_affinity'\nexpert_parallel = true").unwrap();
        assert_eq!(d.gpus(), 8);
        assert_eq!(d.router, RouterPolicy::PrefixAffinity);
        assert_eq!(
            d.describe(),
            "TP=4 EP x 2 replicas (prefix_affinity), 8 GPUs"
        );
        let err = parse("router = 'least_loaded'").unwrap_err().to_string();
        assert!(err.starts_with("d.toml: deployment.router: unknown value 'least_loaded'"));
        let err = parse("tensor_parallel_size = 0").unwrap_err().to_string();
        assert!(err.contains("deployment.tensor_parallel_size: expected an integer of at least 1"));
        assert!(parse("replicas = 100000").is_err());
        assert!(parse("tensor_parallel_size = 128").is_err());
        let err = parse("tensor_parallel = 2").unwrap_err().to_string();
        assert!(err.contains("did you mean 'tensor_parallel_size'"), "{err}");
    }

    #[test]
    fn kv_heads_are_split_then_replicated() {
        let at = |t| DeploymentConfig {
            tensor_parallel_size: t,
            ..DeploymentConfig::default()
        };
        assert_eq!(at(1).kv_heads_per_gpu(8), 8);
        assert_eq!(at(4).kv_heads_per_gpu(8), 2);
        assert_eq!(at(8).kv_heads_per_gpu(8), 1);
        assert_eq!(at(16).kv_heads_per_gpu(8), 1);
        assert_eq!(at(3).kv_heads_per_gpu(8), 3);
    }
}
