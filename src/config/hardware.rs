//! `[hardware]`: the device's datasheet figures and how much memory the KV cache gets.

use super::calibration::Calibration;
use super::error::ConfigError;
use super::reader::Section;
use serde::Serialize;

/// The GPU (or tensor-parallel group treated as one device), resolved.
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
    /// How far a real engine falls short of the datasheet (the datasheet itself by default).
    pub calibration: Calibration,
    /// What one GPU costs per hour, in USD (`hardware.cost_per_hour`): prices
    /// the tokens of a capacity search (`cost_per_million_output_tokens`).
    /// Unset by default, and then left out of the serialized config, so
    /// configs without a price keep their run ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_hour: Option<f64>,
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
    "cost_per_hour",
];

impl HardwareConfig {
    /// Reads and validates a `[hardware]` table; `weight_params` sizes the
    /// computed KV cache capacity.
    pub(crate) fn parse(s: &Section<'_>, weight_params: u64) -> Result<Self, ConfigError> {
        let memory_capacity = s.int_at_least("memory_capacity", 1, None)?;
        let bytes_per_param = s.int_at_least("bytes_per_param", 1, None)?;
        let gpu_memory_utilization: f64 = s.opt("gpu_memory_utilization")?.unwrap_or(0.9);
        if !(gpu_memory_utilization > 0.0 && gpu_memory_utilization <= 1.0) {
            return Err(s.error(
                "gpu_memory_utilization",
                format!("expected a fraction in (0, 1], got {gpu_memory_utilization}"),
            ));
        }
        let kv_cache_capacity = match s.opt_int_at_least("kv_cache_capacity", 1)? {
            Some(bytes) => bytes,
            None => {
                let usable = (memory_capacity as f64 * gpu_memory_utilization) as u64;
                let weights = weight_params.saturating_mul(bytes_per_param);
                if weights >= usable {
                    return Err(s.error(
                        "memory_capacity",
                        format!(
                            "the model does not fit: its weights need {} but {:.0}% of memory_capacity is {}; use more memory, fewer bytes_per_param, or set kv_cache_capacity",
                            format_bytes(weights),
                            gpu_memory_utilization * 100.0,
                            format_bytes(usable)
                        ),
                    ));
                }
                usable - weights
            }
        };
        Ok(Self {
            name: s.req("name")?,
            compute_flops: s.positive_float("compute_flops")?,
            memory_bandwidth: s.positive_float("memory_bandwidth")?,
            memory_capacity,
            bytes_per_param,
            kv_cache_capacity,
            gpu_memory_utilization,
            calibration: Calibration::from_hardware(s)?,
            cost_per_hour: s.opt_positive_float("cost_per_hour")?,
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
