//! `[hardware]`: one GPU's datasheet figures, its link to the other GPUs of
//! a replica, and how much of its memory the KV cache gets.

use super::calibration::{Calibration, CALIBRATION_FIELDS};
use super::error::ConfigError;
use super::fields::{choice_names, Field, FieldDefault, FieldKind};
use super::memory_profile::MemoryProfile;
use super::presets::{preset_names, HARDWARE_PRESETS};
use super::reader::Section;
use super::resolve::Unresolved;
use serde::Serialize;

/// One GPU, resolved. A replica of `tensor_parallel_size` GPUs has this many
/// of them (`[deployment]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HardwareConfig {
    /// Label shown in reports.
    pub name: String,
    /// Peak dense FLOP/s at the model's precision.
    pub compute_flops: f64,
    /// Device memory bandwidth in bytes/s.
    pub memory_bandwidth: f64,
    /// Device memory in bytes.
    pub memory_capacity: u64,
    /// Bytes per weight (and per KV element): 2 for bf16/fp16, 1 for fp8.
    pub bytes_per_param: u64,
    /// Bytes available to the KV cache (given, or computed from the memory left after weights).
    pub kv_cache_capacity: u64,
    /// Fraction of device memory the engine may use.
    pub gpu_memory_utilization: f64,
    /// What, besides the weights, the derived KV cache capacity leaves out.
    pub memory_profile: MemoryProfile,
    /// How far a real engine falls short of the datasheet (the datasheet itself by default).
    pub calibration: Calibration,
    /// Bytes/s each GPU sends (and receives) to the other GPUs of its
    /// replica, per direction (NVLink); required for tensor parallelism.
    pub interconnect_bandwidth: Option<f64>,
    /// Seconds per step of a collective operation between the GPUs of a
    /// replica; required for tensor parallelism.
    pub interconnect_latency: Option<f64>,
    /// What one GPU costs per hour, in USD (`hardware.cost_per_hour`): prices
    /// the tokens of a capacity search (`cost_per_million_output_tokens`).
    /// Unset by default, and then left out of the serialized config, so
    /// configs without a price keep their run ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_hour: Option<f64>,
}

const PRESET: Field = Field::new(
    "preset",
    FieldKind::Choice(&HARDWARE_PRESET_NAMES),
    "a shipped GPU whose fields this table starts from (fields given here override it)",
)
.default(FieldDefault::Absent);
const NAME: Field = Field::new("name", FieldKind::Text, "label shown in reports");
const COMPUTE_FLOPS: Field = Field::new(
    "compute_flops",
    FieldKind::Positive,
    "peak dense FLOP/s at the model's precision (datasheet)",
)
.unit("FLOP/s");
const MEMORY_BANDWIDTH: Field = Field::new(
    "memory_bandwidth",
    FieldKind::Positive,
    "device memory bandwidth (datasheet)",
)
.unit("bytes/s");
const MEMORY_CAPACITY: Field = Field::new(
    "memory_capacity",
    FieldKind::Integer { min: 1 },
    "device memory",
)
.unit("bytes");
const BYTES_PER_PARAM: Field = Field::new(
    "bytes_per_param",
    FieldKind::Integer { min: 1 },
    "bytes per weight and per KV element: 2 for bf16/fp16, 1 for fp8",
)
.unit("bytes");
const KV_CACHE_CAPACITY: Field = Field::new(
    "kv_cache_capacity",
    FieldKind::Integer { min: 1 },
    "bytes the KV cache gets",
)
.default(FieldDefault::Derived(
    "memory_capacity x gpu_memory_utilization - the weights one GPU holds - the memory_profile's reserve",
))
.unit("bytes");
const GPU_MEMORY_UTILIZATION: Field = Field::new(
    "gpu_memory_utilization",
    FieldKind::Fraction,
    "fraction of device memory the engine may use (vLLM's --gpu-memory-utilization)",
)
.default(FieldDefault::Number(0.9));
const MEMORY_PROFILE: Field = Field::new(
    "memory_profile",
    FieldKind::Choice(&MEMORY_PROFILE_NAMES),
    "what the derived kv_cache_capacity leaves out besides the weights: weights_only (nothing), vllm (vLLM's profiled activations, fp32 logits and 1 GiB outside PyTorch)",
)
.default(FieldDefault::Name("weights_only"));
const MEMORY_PROFILE_NAMES: [&str; MemoryProfile::ALL.len()] = choice_names(MemoryProfile::ALL);
const CALIBRATION: Field = Field::new(
    "calibration",
    FieldKind::PathOrTable(CALIBRATION_FIELDS),
    "how far a real engine falls short of the datasheet: a calibration file (inference-lab calibrate -o) or its table",
)
.default(FieldDefault::Derived("the datasheet roofline"));

const INTERCONNECT_BANDWIDTH: Field = Field::new(
    "interconnect_bandwidth",
    FieldKind::Positive,
    "bytes/s per GPU per direction to the other GPUs of a replica (NVLink); the presets carry it",
)
.default(FieldDefault::Depends(
    "required when deployment.tensor_parallel_size is above 1",
))
.unit("bytes/s");
const INTERCONNECT_LATENCY: Field = Field::new(
    "interconnect_latency",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "time per step of a collective between the GPUs of a replica; the presets carry it",
)
.default(FieldDefault::Depends(
    "required when deployment.tensor_parallel_size is above 1",
))
.unit("s");

const COST_PER_HOUR: Field = Field::new(
    "cost_per_hour",
    FieldKind::Positive,
    "what one GPU costs per hour: prices the tokens of a capacity search",
)
.default(FieldDefault::Absent)
.unit("USD/h");

/// The `[hardware]` fields.
pub const FIELDS: &[Field] = &[
    PRESET,
    NAME,
    COMPUTE_FLOPS,
    MEMORY_BANDWIDTH,
    MEMORY_CAPACITY,
    BYTES_PER_PARAM,
    KV_CACHE_CAPACITY,
    GPU_MEMORY_UTILIZATION,
    MEMORY_PROFILE,
    CALIBRATION,
    INTERCONNECT_BANDWIDTH,
    INTERCONNECT_LATENCY,
    COST_PER_HOUR,
];

const HARDWARE_PRESET_NAMES: [&str; HARDWARE_PRESETS.len()] = preset_names(HARDWARE_PRESETS);

impl HardwareConfig {
    /// Reads and validates a `[hardware]` table. The KV cache capacity, when
    /// not given, depends on the model and the deployment, and the
    /// interconnect is required by tensor parallelism: [`super::resolve`]
    /// derives and checks them.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Unresolved<Self>, ConfigError> {
        let kv_cache_capacity = s.opt_int(&KV_CACHE_CAPACITY)?;
        Ok(Unresolved {
            section: Self {
                name: s.text(&NAME)?,
                compute_flops: s.positive(&COMPUTE_FLOPS)?,
                memory_bandwidth: s.positive(&MEMORY_BANDWIDTH)?,
                memory_capacity: s.int(&MEMORY_CAPACITY)?,
                bytes_per_param: s.int(&BYTES_PER_PARAM)?,
                kv_cache_capacity: kv_cache_capacity.unwrap_or(0),
                gpu_memory_utilization: s.fraction(&GPU_MEMORY_UTILIZATION)?,
                memory_profile: s.pick(&MEMORY_PROFILE, &MemoryProfile::ALL)?,
                calibration: Calibration::from_hardware(s)?,
                interconnect_bandwidth: s.opt_positive(&INTERCONNECT_BANDWIDTH)?,
                cost_per_hour: s.opt_positive(&COST_PER_HOUR)?,
                interconnect_latency: match s.raw(INTERCONNECT_LATENCY.name) {
                    Some(_) => Some(s.non_negative(&INTERCONNECT_LATENCY)?),
                    None => None,
                },
            },
            given: kv_cache_capacity,
        })
    }
}

/// Bytes in the largest fitting binary unit, for messages.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_bytes() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(68_719_476_736), "64.0 GiB");
    }
}
