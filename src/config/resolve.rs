//! The resolve step: the values a section derives from other fields when
//! they are left out (the KV cache capacity from the model's weights, the
//! long-prefill threshold from the model's context, a head's width), each
//! computed by one rule here, once every section is parsed.

use super::format_bytes;
use super::{ConfigError, HardwareConfig, ModelConfig, SchedulerConfig, ServerConfig};

/// A parsed section whose derived field is not filled in yet: `given` is
/// what the file said (`None`: derive it), and `section` holds a
/// placeholder for it until [`server`] resolves it.
pub(crate) struct Unresolved<T> {
    /// The section, its derived field a placeholder.
    pub section: T,
    /// The derived field's value as written, if it was.
    pub given: Option<u64>,
}

/// A head's width when `model.head_dim` is left out: the model width split
/// over the heads (at least 1).
pub(crate) fn head_dim(hidden_dim: u64, num_heads: u64) -> u64 {
    (hidden_dim / num_heads).max(1)
}

/// vLLM's default `long_prefill_token_threshold`: 4% of the context when
/// several partial prefills may run at once, else no cap (0).
pub(crate) fn long_prefill_token_threshold(max_seq_len: u64, max_num_partial_prefills: u64) -> u64 {
    if max_num_partial_prefills > 1 {
        (max_seq_len * 4 / 100).max(1)
    } else {
        0
    }
}

/// The KV cache when `hardware.kv_cache_capacity` is left out: the memory
/// the engine may use, less the weights; an error naming
/// `hardware.memory_capacity` when the weights do not fit.
pub(crate) fn kv_cache_capacity(
    hardware: &HardwareConfig,
    model: &ModelConfig,
    source: &str,
) -> Result<u64, ConfigError> {
    let usable = (hardware.memory_capacity as f64 * hardware.gpu_memory_utilization) as u64;
    let weights = model.weight_bytes(hardware.bytes_per_param);
    if weights >= usable {
        return Err(ConfigError::new(
            source,
            "hardware.memory_capacity",
            format!(
                "the model does not fit: its weights need {} but {:.0}% of memory_capacity is {}; use more memory, fewer bytes_per_param, or set kv_cache_capacity",
                format_bytes(weights),
                hardware.gpu_memory_utilization * 100.0,
                format_bytes(usable)
            ),
        ));
    }
    Ok(usable - weights)
}

/// The server, every derived value filled in and checked (`source` names
/// the document in errors).
pub(crate) fn server(
    model: ModelConfig,
    hardware: Unresolved<HardwareConfig>,
    scheduler: Unresolved<SchedulerConfig>,
    source: &str,
) -> Result<ServerConfig, ConfigError> {
    let mut hardware_config = hardware.section;
    hardware_config.kv_cache_capacity = match hardware.given {
        Some(bytes) => bytes,
        None => kv_cache_capacity(&hardware_config, &model, source)?,
    };
    let mut scheduler_config = scheduler.section;
    scheduler_config.long_prefill_token_threshold = scheduler.given.unwrap_or_else(|| {
        long_prefill_token_threshold(model.max_seq_len, scheduler_config.max_num_partial_prefills)
    });
    let server = ServerConfig {
        hardware: hardware_config,
        model,
        scheduler: scheduler_config,
    };
    server.check_kv_fits_a_block(source)?;
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_by_hand() {
        assert_eq!(head_dim(4096, 32), 128);
        assert_eq!(head_dim(8, 32), 1);
        assert_eq!(long_prefill_token_threshold(131_072, 1), 0);
        assert_eq!(long_prefill_token_threshold(131_072, 4), 5242);
        assert_eq!(long_prefill_token_threshold(10, 2), 1);
    }
}
