//! `[hardware]`: one GPU's datasheet figures, its link to the other GPUs of
//! a replica, and how much of its memory the KV cache gets.

use super::calibration::Calibration;
use super::deployment::DeploymentConfig;
use super::error::ConfigError;
use super::model::ModelConfig;
use super::reader::Section;
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
    /// Bytes of this GPU available to the KV cache (given, or computed from
    /// the memory its share of the weights leaves).
    pub kv_cache_capacity: u64,
    /// Fraction of device memory the engine may use.
    pub gpu_memory_utilization: f64,
    /// How far a real engine falls short of the datasheet (the datasheet itself by default).
    pub calibration: Calibration,
    /// Bytes/s each GPU sends (and receives) to the other GPUs of its
    /// replica, per direction (NVLink); required for tensor parallelism.
    pub interconnect_bandwidth: Option<f64>,
    /// Seconds per step of a collective operation between the GPUs of a
    /// replica; required for tensor parallelism.
    pub interconnect_latency: Option<f64>,
}

const FIELDS: &[&str] = &[
    "preset",
    "name",
    "compute_flops",
    "memory_bandwidth",
    "memory_capacity",
    "bytes_per_param",
    "kv_cache_capacity",
    "gpu_memory_utilization",
    "calibration",
    "interconnect_bandwidth",
    "interconnect_latency",
];

impl HardwareConfig {
    /// Reads and validates a `[hardware]` table for `model` served by
    /// `deployment`: the share of the weights one GPU holds sizes the
    /// computed KV cache capacity, and tensor parallelism needs the interconnect.
    pub(crate) fn parse(
        s: &Section<'_>,
        model: &ModelConfig,
        deployment: &DeploymentConfig,
    ) -> Result<Self, ConfigError> {
        let memory_capacity = s.int_at_least("memory_capacity", 1, None)?;
        let bytes_per_param = s.int_at_least("bytes_per_param", 1, None)?;
        let gpu_memory_utilization: f64 = s.opt("gpu_memory_utilization")?.unwrap_or(0.9);
        if !(gpu_memory_utilization > 0.0 && gpu_memory_utilization <= 1.0) {
            return Err(s.error(
                "gpu_memory_utilization",
                format!("expected a fraction in (0, 1], got {gpu_memory_utilization}"),
            ));
        }
        let usable = (memory_capacity as f64 * gpu_memory_utilization) as u64;
        let weights_at = |t: u64| {
            let d = DeploymentConfig {
                tensor_parallel_size: t,
                ..*deployment
            };
            model.params_per_gpu(&d).saturating_mul(bytes_per_param)
        };
        let kv_cache_capacity = match s.opt_int_at_least("kv_cache_capacity", 1)? {
            Some(bytes) => bytes,
            None => {
                let t = deployment.tensor_parallel_size;
                let weights = weights_at(t);
                if weights >= usable {
                    let hint = match model
                        .tensor_parallel_sizes()
                        .find(|&t| weights_at(t) < usable)
                    {
                        Some(fits) => format!("the smallest deployment.tensor_parallel_size that fits is {fits}; or use more memory, fewer bytes_per_param, or set kv_cache_capacity"),
                        None => "no tensor_parallel_size fits; use more memory, fewer bytes_per_param, or set kv_cache_capacity".to_string(),
                    };
                    return Err(s.error(
                        "memory_capacity",
                        format!(
                            "the model does not fit: at tensor_parallel_size = {t} each GPU holds {} of weights but {:.0}% of memory_capacity is {}; {hint}",
                            format_bytes(weights),
                            gpu_memory_utilization * 100.0,
                            format_bytes(usable)
                        ),
                    ));
                }
                usable - weights
            }
        };
        let interconnect_bandwidth = s.opt_positive_float("interconnect_bandwidth")?;
        let interconnect_latency = match s.raw("interconnect_latency") {
            Some(_) => Some(s.non_negative_float("interconnect_latency", None)?),
            None => None,
        };
        let t = deployment.tensor_parallel_size;
        for (key, given) in [
            ("interconnect_bandwidth", interconnect_bandwidth.is_some()),
            ("interconnect_latency", interconnect_latency.is_some()),
        ] {
            if !given && t > 1 {
                return Err(s.error(
                    key,
                    format!("missing: required when deployment.tensor_parallel_size is above 1 ({t} here); the hardware presets carry it"),
                ));
            }
        }
        Ok(Self {
            name: s.req("name")?,
            compute_flops: s.positive_float("compute_flops")?,
            memory_bandwidth: s.positive_float("memory_bandwidth")?,
            memory_capacity,
            bytes_per_param,
            kv_cache_capacity,
            gpu_memory_utilization,
            calibration: Calibration::from_hardware(s)?,
            interconnect_bandwidth,
            interconnect_latency,
        })
    }

    /// Field names a `[hardware]` table may hold.
    pub(crate) fn fields() -> &'static [&'static str] {
        FIELDS
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
