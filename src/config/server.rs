//! The server side of a configuration: what serves the requests (the
//! deployment, hardware, model, scheduler), apart from the traffic that
//! arrives. An engine (one replica) is built from a [`ServerConfig`] alone.

use super::{
    format_bytes, ConfigError, DeploymentConfig, HardwareConfig, ModelConfig, SchedulerConfig,
};
use serde::Serialize;

/// What serves the requests: replicas of the GPUs of `hardware` serving the
/// model, each running one engine with the scheduler.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerConfig {
    /// GPUs per replica, replicas and router.
    pub deployment: DeploymentConfig,
    /// The device.
    pub hardware: HardwareConfig,
    /// The served model.
    pub model: ModelConfig,
    /// The engine's scheduler.
    pub scheduler: SchedulerConfig,
}

impl ServerConfig {
    /// Bytes of K and V that one token occupies on each GPU of a replica, in
    /// one layer: those of the KV heads the GPU holds.
    pub fn kv_bytes_per_token_per_layer(&self) -> u64 {
        2 * self.deployment.kv_heads_per_gpu(self.model.num_kv_heads)
            * self.model.head_dim
            * self.hardware.bytes_per_param
    }

    /// Bytes of K and V that one token occupies on each GPU of a replica
    /// across all layers (sliding-window layers included, as long as the
    /// token is inside their window).
    pub fn kv_bytes_per_token(&self) -> u64 {
        self.model.num_layers * self.kv_bytes_per_token_per_layer()
    }

    /// Checks that the KV cache holds at least one block (`source` names the
    /// document in the error).
    pub(crate) fn check_kv_fits_a_block(&self, source: &str) -> Result<(), ConfigError> {
        let block_bytes = self.scheduler.block_size * self.kv_bytes_per_token();
        if self.hardware.kv_cache_capacity < block_bytes {
            return Err(ConfigError::new(
                source,
                "hardware.kv_cache_capacity",
                format!(
                    "the KV cache ({}) cannot hold one block of {} tokens ({}); give it more memory or use a smaller scheduler.block_size",
                    format_bytes(self.hardware.kv_cache_capacity),
                    self.scheduler.block_size,
                    format_bytes(block_bytes)
                ),
            ));
        }
        Ok(())
    }
}
