//! The resolve step: the values a section derives from other fields when
//! they are left out (the KV cache capacity from the model's weights, the
//! long-prefill threshold from the model's context, a head's width), each
//! computed by one rule here, once every section is parsed.

use super::format_bytes;
use super::memory_profile::ReserveInputs;
use super::{
    ConfigError, DeploymentConfig, HardwareConfig, ModelConfig, SchedulerConfig, ServerConfig,
};

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

/// The KV cache of one GPU when `hardware.kv_cache_capacity` is left out:
/// the memory the engine may use, less the share of the weights the GPU
/// holds under `deployment` and the reserve of `hardware.memory_profile`
/// (which depends on the `scheduler`'s budgets); an error naming
/// `hardware.memory_capacity` (and the smallest tensor parallelism that
/// fits) when they do not fit.
pub(crate) fn kv_cache_capacity(
    hardware: &HardwareConfig,
    model: &ModelConfig,
    deployment: &DeploymentConfig,
    scheduler: &SchedulerConfig,
    source: &str,
) -> Result<u64, ConfigError> {
    let reserve = |t: u64| {
        hardware.memory_profile.reserve(&ReserveInputs {
            max_num_batched_tokens: scheduler.max_num_batched_tokens,
            max_num_seqs: scheduler.max_num_seqs,
            hidden_dim: model.hidden_dim,
            vocab_size: model.vocab_size.unwrap_or(0),
            bytes_per_param: hardware.bytes_per_param,
            tensor_parallel_size: t,
        })
    };
    let usable = (hardware.memory_capacity as f64 * hardware.gpu_memory_utilization) as u64;
    let weights_at = |t: u64| {
        let d = DeploymentConfig {
            tensor_parallel_size: t,
            ..*deployment
        };
        model
            .params_per_gpu(&d)
            .saturating_mul(hardware.bytes_per_param)
            .saturating_add(reserve(t))
    };
    let t = deployment.tensor_parallel_size;
    let weights = weights_at(t);
    if weights >= usable {
        let reserved = reserve(t);
        let hint = match model.tensor_parallel_sizes().find(|&t| weights_at(t) < usable) {
            Some(fits) => format!("the smallest deployment.tensor_parallel_size that fits is {fits}; or use more memory, fewer bytes_per_param, or set kv_cache_capacity"),
            None => "no tensor_parallel_size fits; use more memory, fewer bytes_per_param, or set kv_cache_capacity".to_string(),
        };
        return Err(ConfigError::new(
            source,
            "hardware.memory_capacity",
            format!(
                "the model does not fit: at tensor_parallel_size = {t} each GPU holds {} of weights{} but {:.0}% of memory_capacity is {}; {hint}",
                format_bytes(weights.saturating_sub(reserved)),
                match reserved {
                    0 => String::new(),
                    r => format!(" and sets aside {} (memory_profile)", format_bytes(r)),
                },
                hardware.gpu_memory_utilization * 100.0,
                format_bytes(usable)
            ),
        ));
    }
    Ok(usable - weights)
}

/// Tensor parallelism prices collectives over the interconnect: its two
/// fields are required when a replica has more than one GPU.
fn check_interconnect(
    hardware: &HardwareConfig,
    deployment: &DeploymentConfig,
    source: &str,
) -> Result<(), ConfigError> {
    let t = deployment.tensor_parallel_size;
    for (key, given) in [
        (
            "interconnect_bandwidth",
            hardware.interconnect_bandwidth.is_some(),
        ),
        (
            "interconnect_latency",
            hardware.interconnect_latency.is_some(),
        ),
    ] {
        if !given && t > 1 {
            return Err(ConfigError::new(
                source,
                format!("hardware.{key}"),
                format!("missing: required when deployment.tensor_parallel_size is above 1 ({t} here); the hardware presets carry it"),
            ));
        }
    }
    Ok(())
}

/// The server, every derived value filled in and checked (`source` names
/// the document in errors).
pub(crate) fn server(
    deployment: DeploymentConfig,
    model: ModelConfig,
    hardware: Unresolved<HardwareConfig>,
    scheduler: Unresolved<SchedulerConfig>,
    source: &str,
) -> Result<ServerConfig, ConfigError> {
    let mut hardware_config = hardware.section;
    hardware_config.kv_cache_capacity = match hardware.given {
        Some(bytes) => bytes,
        None => kv_cache_capacity(
            &hardware_config,
            &model,
            &deployment,
            &scheduler.section,
            source,
        )?,
    };
    check_interconnect(&hardware_config, &deployment, source)?;
    let mut scheduler_config = scheduler.section;
    scheduler_config.long_prefill_token_threshold = scheduler.given.unwrap_or_else(|| {
        long_prefill_token_threshold(model.max_seq_len, scheduler_config.max_num_partial_prefills)
    });
    let server = ServerConfig {
        deployment,
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
