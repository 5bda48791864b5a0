//! `hardware.memory_profile`: how the KV cache's share of a GPU is derived
//! when `kv_cache_capacity` is left out.
//!
//! `weights_only` gives the KV cache everything the weights leave of
//! `memory_capacity x gpu_memory_utilization`. `vllm` also sets aside what
//! vLLM's start-up memory profile finds in use besides the weights, so that
//! the simulated cache has the blocks vLLM reports (docs/calibration.md,
//! "The KV rule"):
//!
//! * the activations of a forward pass at the full token budget: about 8
//!   hidden states per batched token (`8 x max_num_batched_tokens x
//!   hidden_dim x bytes_per_param`), split over the tensor-parallel GPUs;
//! * the sampler's fp32 logits for a full batch: `4 x vocab_size x max_num_seqs` bytes;
//! * 1 GiB outside PyTorch's allocator (CUDA context, NCCL and cuBLAS workspaces).

use serde::Serialize;

/// Which memory, besides the weights, the KV cache does not get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryProfile {
    /// Only the weights: the KV cache gets the rest of the usable memory.
    #[default]
    WeightsOnly,
    /// The weights and vLLM's profiled activation, logits and non-PyTorch reserve.
    Vllm,
}

/// Hidden states of one batched token alive at the peak of vLLM's profiling forward pass.
const HIDDEN_STATES_PER_TOKEN: u64 = 8;
/// Bytes of one logit: the sampler works in fp32.
const LOGIT_BYTES: u64 = 4;
/// Memory vLLM counts outside PyTorch's allocator.
const NON_TORCH_BYTES: u64 = 1 << 30;

/// The shape of a run that the reserve of a profile depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveInputs {
    /// `scheduler.max_num_batched_tokens`.
    pub max_num_batched_tokens: u64,
    /// `scheduler.max_num_seqs`.
    pub max_num_seqs: u64,
    /// `model.hidden_dim`.
    pub hidden_dim: u64,
    /// `model.vocab_size` (0 when not given).
    pub vocab_size: u64,
    /// `hardware.bytes_per_param`.
    pub bytes_per_param: u64,
    /// `deployment.tensor_parallel_size`.
    pub tensor_parallel_size: u64,
}

impl MemoryProfile {
    /// Every profile with its configuration name.
    pub const ALL: [(&'static str, MemoryProfile); 2] = [
        ("weights_only", MemoryProfile::WeightsOnly),
        ("vllm", MemoryProfile::Vllm),
    ];

    /// Bytes of one GPU, besides its weights, that the KV cache does not get.
    pub fn reserve(self, r: &ReserveInputs) -> u64 {
        match self {
            MemoryProfile::WeightsOnly => 0,
            MemoryProfile::Vllm => {
                let activations = HIDDEN_STATES_PER_TOKEN
                    .saturating_mul(r.max_num_batched_tokens)
                    .saturating_mul(r.hidden_dim)
                    .saturating_mul(r.bytes_per_param)
                    / r.tensor_parallel_size.max(1);
                let logits = LOGIT_BYTES
                    .saturating_mul(r.vocab_size)
                    .saturating_mul(r.max_num_seqs);
                activations
                    .saturating_add(logits)
                    .saturating_add(NON_TORCH_BYTES)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vllm_reserve_by_hand() {
        let r = ReserveInputs {
            max_num_batched_tokens: 2048,
            max_num_seqs: 128,
            hidden_dim: 4096,
            vocab_size: 32000,
            bytes_per_param: 2,
            tensor_parallel_size: 1,
        };
        assert_eq!(MemoryProfile::WeightsOnly.reserve(&r), 0);
        // 128 MiB of hidden states, 15.6 MiB of logits, 1 GiB.
        let want = 8 * 2048 * 4096 * 2 + 4 * 32000 * 128 + (1 << 30);
        assert_eq!(MemoryProfile::Vllm.reserve(&r), want);
        let tp4 = ReserveInputs {
            tensor_parallel_size: 4,
            ..r
        };
        assert_eq!(
            MemoryProfile::Vllm.reserve(&tp4),
            want - 3 * (8 * 2048 * 4096 * 2) / 4
        );
    }
}
