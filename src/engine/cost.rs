//! The performance model: what one engine step costs on the configured GPU.
//!
//! A roofline per kind of kernel, with the device's calibration. For a step
//! that computes `T` new tokens in total, of which `S` sample a token:
//!
//! * **Linear layers**: `2 * P * T` FLOPs, where `P` is the active parameters
//!   of the layers (every new token passes through them once: one multiply and
//!   one add per weight), plus the LM head's `2 * vocab * hidden` per sampled
//!   token. They read their weights once per step: dense models every weight,
//!   MoE models the shared (non-expert) weights plus the experts the step's
//!   tokens actually touch: with `E` experts per layer, `k` per token, and `T`
//!   tokens routed independently and uniformly, the expected number of
//!   distinct experts touched is `E * (1 - (1 - k/E)^T)` — `k` at `T = 1`,
//!   nearly `E` at large `T`. Expert size is `(params - active_params) / (E - k)`.
//!   With `vocab_size` given, the embedding is a lookup (neither FLOPs nor a
//!   bulk read) and the LM head is read only when some token is sampled;
//!   without it, every parameter is a layer weight.
//! * **Attention**: `4 * heads * head_dim` FLOPs per layer and (new token,
//!   context token it attends to) pair (`Q K^T` and `softmax(.) V`, two FLOPs
//!   per multiply-add). A chunk of `n` new tokens on top of `c` cached ones
//!   attends causally: token `j` (1-based) sees `c + j` tokens, so the chunk
//!   attends to `n * c + n * (n + 1) / 2` in total. Sliding-window layers see
//!   at most `sliding_window` tokens per new token. Attention reads each
//!   request's cached context once (`c` tokens, at most the window in
//!   sliding-window layers) and writes the `n` new tokens' K and V.
//! * **Time**: each kind runs at the slower of its compute and its memory
//!   time, and the kinds run one after the other:
//!   `max(linear FLOPs / F, weight bytes / B) + max(attention FLOPs / F, KV bytes / B)`
//!   with `F = compute_flops * compute_efficiency` and
//!   `B = memory_bandwidth * bandwidth_efficiency`, plus
//!   `num_layers * step_overhead_per_layer`. A step with prompt tokens runs
//!   eagerly and takes at least `num_layers * eager_floor_per_layer`. The
//!   engine's host work per sequence, `num_seqs * step_overhead_per_seq`, adds
//!   to every step after that floor. Without a calibration the efficiencies
//!   are 1 and the overheads 0: the datasheet roofline.
//!
//! * **Tensor parallelism** over `t` GPUs: the model prices one GPU of the
//!   replica. It does `1/t` of every FLOP and reads `1/t` of the weights; it
//!   holds `ceil(num_kv_heads / t)` KV heads, so its KV traffic is that
//!   share of the heads. Every layer adds two all-reduces of the step's
//!   tokens (`T * hidden * bytes_per_param` each), priced as a ring: each GPU
//!   sends `2 (t - 1) / t` of the size at `interconnect_bandwidth`, in
//!   `2 (t - 1)` steps of `interconnect_latency`. With expert parallelism the
//!   MoE part of a layer pays an all-to-all dispatch and combine instead of
//!   its all-reduce: each GPU sends its `T / t` tokens' `k` copies to the
//!   experts' owners, `(t - 1) / t` of them off the GPU, in `t - 1` steps each.
//!   Communication does not overlap computation: its time adds to the step.
//!
//! Activations, norms and other elementwise kernels are priced only through the
//! calibrated overhead.

use crate::config::{Calibration, ServerConfig};
use crate::metrics::Peaks;

/// What one request computes in a step: whether its tokens are prompt tokens
/// and whether its last token samples (so that the LM head runs for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Prompt (or recomputed) tokens short of the end of the sequence: nothing is sampled.
    PrefillChunk,
    /// Prompt (or recomputed) tokens up to the end: the last one samples a token.
    PrefillLast,
    /// The one new token of a decoding request, sampled.
    Decode,
}

impl Work {
    fn is_prefill(self) -> bool {
        self != Work::Decode
    }

    fn samples(self) -> bool {
        self != Work::PrefillChunk
    }
}

/// The shape of one step's batch: everything the cost model needs, summed over
/// the scheduled requests so a step is priced in O(1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchShape {
    /// Requests in the step.
    pub num_seqs: u32,
    /// New tokens computed in the step.
    pub new_tokens: u64,
    /// Tokens of those that are prompt (prefill) tokens.
    pub prefill_tokens: u64,
    /// Requests that sample a token in the step (the LM head runs for each).
    pub sampled: u64,
    /// Sum over new tokens of the context each attends to, in full-attention layers.
    pub attended_full: f64,
    /// The same in sliding-window layers (each capped at the window).
    pub attended_window: f64,
    /// Cached context tokens read, full-attention layers.
    pub context_full: u64,
    /// Cached context tokens read, sliding-window layers (capped at the window).
    pub context_window: u64,
}

impl BatchShape {
    /// Adds one request computing `new` tokens on top of `context` cached ones.
    /// `window` is the sliding window (0 when the model has none).
    #[inline]
    pub fn add(&mut self, context: u64, new: u64, window: u64, work: Work) {
        self.num_seqs += 1;
        self.new_tokens += new;
        if work.is_prefill() {
            self.prefill_tokens += new;
        }
        if work.samples() {
            self.sampled += 1;
        }
        let (c, n) = (context as f64, new as f64);
        self.attended_full += n * c + n * (n + 1.0) / 2.0;
        self.context_full += context;
        if window > 0 {
            self.attended_window += windowed_attention(context, new, window);
            self.context_window += context.min(window);
        }
    }

    /// Adds `count` requests each computing `new` tokens on top of `context`
    /// cached ones: what `count` calls of [`add`](Self::add) add (up to
    /// float rounding), in O(1), so a step of billions of sequences is
    /// priced at once. Token counts saturate rather than wrap.
    pub fn add_many(&mut self, count: u32, context: u64, new: u64, window: u64, work: Work) {
        let mut one = BatchShape::default();
        one.add(context, new, window, work);
        let (n, k) = (u64::from(count), f64::from(count));
        self.num_seqs = self.num_seqs.saturating_add(count);
        self.new_tokens = self
            .new_tokens
            .saturating_add(n.saturating_mul(one.new_tokens));
        self.prefill_tokens = self
            .prefill_tokens
            .saturating_add(n.saturating_mul(one.prefill_tokens));
        self.sampled = self.sampled.saturating_add(n.saturating_mul(one.sampled));
        self.attended_full += k * one.attended_full;
        self.attended_window += k * one.attended_window;
        self.context_full = self
            .context_full
            .saturating_add(n.saturating_mul(one.context_full));
        self.context_window = self
            .context_window
            .saturating_add(n.saturating_mul(one.context_window));
    }

    /// Adds `count` requests decoding one token each on top of contexts that
    /// sum to `context_sum` (no sliding window): the same as `count` calls of
    /// [`add`](Self::add) with one new token, in O(1).
    pub fn add_decodes(&mut self, count: u64, context_sum: u64) {
        self.num_seqs += count as u32;
        self.new_tokens += count;
        self.sampled += count;
        self.attended_full += (context_sum + count) as f64;
        self.context_full += context_sum;
    }

    /// Removes what [`add`](Self::add) added for the same arguments.
    pub fn remove(&mut self, context: u64, new: u64, window: u64, work: Work) {
        let mut one = BatchShape::default();
        one.add(context, new, window, work);
        self.num_seqs -= one.num_seqs;
        self.new_tokens -= one.new_tokens;
        self.prefill_tokens -= one.prefill_tokens;
        self.sampled -= one.sampled;
        self.attended_full -= one.attended_full;
        self.attended_window -= one.attended_window;
        self.context_full -= one.context_full;
        self.context_window -= one.context_window;
    }
}

/// Sum over positions `p = context + 1 ..= context + new` of `min(p, window)`.
fn windowed_attention(context: u64, new: u64, window: u64) -> f64 {
    let (lo, hi) = (context + 1, context + new);
    let sum_range = |a: u64, b: u64| (a + b) as f64 * (b - a + 1) as f64 / 2.0;
    if hi <= window {
        sum_range(lo, hi)
    } else if lo > window {
        new as f64 * window as f64
    } else {
        sum_range(lo, window) + (hi - window) as f64 * window as f64
    }
}

/// What one step costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepCost {
    /// Duration of the step in seconds.
    pub secs: f64,
    /// Floating-point operations.
    pub flops: f64,
    /// Bytes moved to and from device memory.
    pub bytes: f64,
}

/// A step's work split into the kinds of kernels the roofline prices apart;
/// [`CostModel::time`] turns it into seconds under a calibration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepWork {
    /// FLOPs of the weight matrix multiplications (layers and LM head).
    pub linear_flops: f64,
    /// Bytes of weights read.
    pub weight_bytes: f64,
    /// FLOPs of attention over the context.
    pub attention_flops: f64,
    /// Bytes of KV cache read and written.
    pub kv_bytes: f64,
    /// Bytes each GPU sends to the others of its replica (0 for one GPU).
    pub interconnect_bytes: f64,
    /// Steps of collective operations, each paying the interconnect latency.
    pub collective_steps: f64,
    /// Whether the step has prompt tokens, so runs eagerly (not graph-captured).
    pub eager: bool,
    /// Sequences in the step, each costing the engine's host some work.
    pub num_seqs: f64,
}

/// A calibration's rates and overheads on one model, worked out once:
/// what [`CostModel::time`] divides and adds.
#[derive(Debug, Clone, Copy)]
struct Rates {
    /// Effective FLOP/s: `compute_flops * compute_efficiency`.
    flops: f64,
    /// Effective bytes/s: `memory_bandwidth * bandwidth_efficiency`.
    bandwidth: f64,
    /// `num_layers * step_overhead_per_layer`.
    step_overhead: f64,
    /// `num_layers * eager_floor_per_layer`.
    eager_floor: f64,
    /// `step_overhead_per_seq`.
    seq_overhead: f64,
}

impl Rates {
    /// `calibration` on a GPU of these peaks, for a model of `num_layers` layers.
    fn new(
        compute_flops: f64,
        memory_bandwidth: f64,
        num_layers: f64,
        calibration: &Calibration,
    ) -> Self {
        Self {
            flops: compute_flops * calibration.compute_efficiency,
            bandwidth: memory_bandwidth * calibration.bandwidth_efficiency,
            step_overhead: num_layers * calibration.step_overhead_per_layer,
            eager_floor: num_layers * calibration.eager_floor_per_layer,
            seq_overhead: calibration.step_overhead_per_seq,
        }
    }
}

/// The roofline model of one GPU of a replica, with its constants precomputed.
#[derive(Debug, Clone)]
pub struct CostModel {
    compute_flops: f64,
    memory_bandwidth: f64,
    interconnect_bandwidth: f64,
    interconnect_latency: f64,
    /// GPUs of the replica, which share every FLOP and weight.
    tensor_parallel: f64,
    /// Bytes each GPU sends per new token of a step, summed over the collectives.
    interconnect_bytes_per_token: f64,
    /// Collective steps of one engine step.
    collective_steps: f64,
    /// The config's calibration, as [`Rates`].
    rates: Rates,
    bytes_per_param: f64,
    /// Active parameters of the layers, which every token passes through.
    layer_params: f64,
    /// Parameters of the LM head, priced per sampled token (0 without `vocab_size`).
    lm_head_params: f64,
    /// Bytes of the LM head one GPU reads in a step that samples.
    lm_head_bytes: f64,
    /// Bytes of layer weights one GPU reads in every step when that does not
    /// depend on the step's tokens (no routed experts).
    fixed_weight_bytes: f64,
    /// Weights every step reads: dense, all layer weights; MoE, those outside the routed experts.
    shared_params: f64,
    /// MoE: parameters of one expert summed over layers (0 for dense).
    expert_params: f64,
    num_experts: f64,
    experts_per_token: f64,
    /// `4 * heads * head_dim` FLOPs per attended (token, context token) pair and layer.
    attention_flops_per_pair: f64,
    num_layers: f64,
    full_layers: f64,
    sliding_layers: f64,
    window: u64,
    kv_bytes_per_token_layer: f64,
    /// KV bytes one new token writes, over all layers.
    kv_bytes_per_token: f64,
}

impl CostModel {
    /// The model of one GPU of `server`'s replicas: its hardware (with its
    /// calibration), the model and the tensor parallelism.
    pub fn new(config: &ServerConfig) -> Self {
        let m = &config.model;
        let hw = &config.hardware;
        let d = &config.deployment;
        let t = d.tensor_parallel_size as f64;
        let total = m.num_parameters as f64;
        let active = m.num_active_parameters as f64;
        let vocabulary = m.vocabulary_params() as f64;
        let (shared, expert, e, k) = match (m.num_experts, m.experts_per_token) {
            (Some(e), Some(k)) if e > k => {
                let expert = (total - active) / (e - k) as f64;
                (active - k as f64 * expert, expert, e as f64, k as f64)
            }
            // No routing choice (dense, or every expert always active): all weights are read.
            _ => (total, 0.0, 1.0, 1.0),
        };
        // Ring all-reduce of one token's hidden state: each GPU sends 2(t-1)/t of it.
        let token_bytes = (m.hidden_dim * hw.bytes_per_param) as f64;
        let all_reduce = 2.0 * (t - 1.0) / t * token_bytes;
        let per_layer = if d.expert_parallel && expert > 0.0 {
            // Attention's all-reduce, then dispatch and combine: T/t tokens per
            // GPU, k copies each, (t-1)/t of them to other GPUs.
            all_reduce + 2.0 * k * (t - 1.0) / (t * t) * token_bytes
        } else {
            2.0 * all_reduce
        };
        let mut model = Self {
            compute_flops: hw.compute_flops,
            memory_bandwidth: hw.memory_bandwidth,
            interconnect_bandwidth: hw.interconnect_bandwidth.unwrap_or(f64::INFINITY),
            interconnect_latency: hw.interconnect_latency.unwrap_or(0.0),
            tensor_parallel: t,
            interconnect_bytes_per_token: m.num_layers as f64 * per_layer,
            collective_steps: m.num_layers as f64 * 4.0 * (t - 1.0),
            rates: Rates::new(
                hw.compute_flops,
                hw.memory_bandwidth,
                m.num_layers as f64,
                &hw.calibration,
            ),
            bytes_per_param: hw.bytes_per_param as f64,
            layer_params: active - vocabulary,
            lm_head_params: m.lm_head_params() as f64,
            lm_head_bytes: m.lm_head_params() as f64 * hw.bytes_per_param as f64 / t,
            fixed_weight_bytes: 0.0,
            shared_params: shared - vocabulary,
            expert_params: expert,
            num_experts: e,
            experts_per_token: k,
            attention_flops_per_pair: 4.0 * (m.num_heads * m.head_dim) as f64,
            num_layers: m.num_layers as f64,
            full_layers: m.num_full_layers() as f64,
            sliding_layers: m.num_sliding_layers as f64,
            window: if m.num_sliding_layers > 0 {
                m.sliding_window.unwrap_or(0)
            } else {
                0
            },
            kv_bytes_per_token_layer: config.kv_bytes_per_token_per_layer() as f64,
            kv_bytes_per_token: config.kv_bytes_per_token_per_layer() as f64 * m.num_layers as f64,
        };
        // Worked out by the general formula, so that it is the same number.
        model.fixed_weight_bytes = model.routed_weight_bytes(0);
        model
    }

    /// Layers of the model (the overheads of a calibration are per layer).
    pub fn num_layers(&self) -> f64 {
        self.num_layers
    }

    /// The sliding window in tokens (0 when the model has none).
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Expected distinct experts per layer touched by `tokens` routed tokens.
    pub fn experts_touched(&self, tokens: u64) -> f64 {
        if self.expert_params == 0.0 {
            return 0.0;
        }
        let miss = 1.0 - self.experts_per_token / self.num_experts;
        self.num_experts * (1.0 - libm::pow(miss, tokens as f64))
    }

    /// Bytes of layer weights one GPU reads in a step of `tokens` new tokens
    /// (the LM head aside).
    #[inline]
    pub fn weight_bytes(&self, tokens: u64) -> f64 {
        if self.expert_params == 0.0 {
            self.fixed_weight_bytes
        } else {
            self.routed_weight_bytes(tokens)
        }
    }

    /// [`weight_bytes`](Self::weight_bytes) worked out from the parameters.
    fn routed_weight_bytes(&self, tokens: u64) -> f64 {
        (self.shared_params + self.expert_params * self.experts_touched(tokens))
            * self.bytes_per_param
            / self.tensor_parallel
    }

    /// The FLOPs and bytes of one step on one GPU of the replica, by kind of kernel.
    #[inline]
    pub fn work(&self, shape: &BatchShape) -> StepWork {
        let t = shape.new_tokens as f64;
        let sampled = shape.sampled as f64;
        let tp = self.tensor_parallel;
        let lm_head_read = if shape.sampled > 0 {
            self.lm_head_bytes
        } else {
            0.0
        };
        let attention_flops = self.attention_flops_per_pair
            * (self.full_layers * shape.attended_full
                + self.sliding_layers * shape.attended_window)
            / tp;
        let kv_read = self.kv_bytes_per_token_layer
            * (self.full_layers * shape.context_full as f64
                + self.sliding_layers * shape.context_window as f64);
        let kv_written = self.kv_bytes_per_token * t;
        StepWork {
            linear_flops: 2.0 * (self.layer_params * t + self.lm_head_params * sampled) / tp,
            weight_bytes: self.weight_bytes(shape.new_tokens) + lm_head_read,
            attention_flops,
            kv_bytes: kv_read + kv_written,
            interconnect_bytes: self.interconnect_bytes_per_token * t,
            collective_steps: self.collective_steps,
            eager: shape.prefill_tokens > 0,
            num_seqs: f64::from(shape.num_seqs),
        }
    }

    /// Seconds that `work` takes under `calibration` (see the module docs):
    /// the one formula the simulator, `predict-steps` and `calibrate` share.
    pub fn time(&self, work: &StepWork, calibration: &Calibration) -> f64 {
        let rates = Rates::new(
            self.compute_flops,
            self.memory_bandwidth,
            self.num_layers,
            calibration,
        );
        self.time_at(work, &rates)
    }

    /// [`time`](Self::time) under a calibration's [`Rates`].
    fn time_at(&self, work: &StepWork, rates: &Rates) -> f64 {
        let linear = (work.linear_flops / rates.flops).max(work.weight_bytes / rates.bandwidth);
        let attention = (work.attention_flops / rates.flops).max(work.kv_bytes / rates.bandwidth);
        let communication = work.interconnect_bytes / self.interconnect_bandwidth
            + work.collective_steps * self.interconnect_latency;
        let secs = linear + attention + rates.step_overhead + communication;
        let device = if work.eager {
            secs.max(rates.eager_floor)
        } else {
            secs
        };
        device + work.num_seqs * rates.seq_overhead
    }

    /// Prices one step under the config's calibration (inlined with
    /// [`work`](Self::work) into the engine's step, so that the work is
    /// never written out).
    #[inline]
    pub fn step_cost(&self, shape: &BatchShape) -> StepCost {
        let work = self.work(shape);
        StepCost {
            secs: self.time_at(&work, &self.rates),
            flops: work.linear_flops + work.attention_flops,
            bytes: work.weight_bytes + work.kv_bytes,
        }
    }

    /// The peak rates of one GPU: the denominators of FLOP and bandwidth
    /// utilisation (one source for them, so that what divides the work is
    /// what priced it).
    pub fn peaks(&self) -> Peaks {
        Peaks {
            compute_flops: self.compute_flops,
            memory_bandwidth: self.memory_bandwidth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn many_requests_at_once_add_what_one_by_one_adds() {
        for (context, new, window, work) in [
            (1000, 1, 0, Work::Decode),
            (0, 512, 0, Work::PrefillLast),
            (300, 64, 128, Work::PrefillLast),
        ] {
            let mut one_by_one = BatchShape::default();
            for _ in 0..37 {
                one_by_one.add(context, new, window, work);
            }
            let mut at_once = BatchShape::default();
            at_once.add_many(37, context, new, window, work);
            assert_eq!(at_once.num_seqs, one_by_one.num_seqs);
            assert_eq!(at_once.new_tokens, one_by_one.new_tokens);
            assert_eq!(at_once.prefill_tokens, one_by_one.prefill_tokens);
            assert_eq!(at_once.sampled, one_by_one.sampled);
            assert_eq!(at_once.context_full, one_by_one.context_full);
            assert_eq!(at_once.context_window, one_by_one.context_window);
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
            assert!(close(at_once.attended_full, one_by_one.attended_full));
            assert!(close(at_once.attended_window, one_by_one.attended_window));
        }
        // Billions of sequences saturate instead of wrapping.
        let mut huge = BatchShape::default();
        huge.add_many(u32::MAX, u64::MAX / 2, 1 << 40, 0, Work::PrefillLast);
        assert_eq!(huge.new_tokens, u64::MAX);
        assert!(huge.attended_full.is_finite());
    }

    fn config(model: &str) -> ServerConfig {
        let text = format!(
            "[hardware]\nname='t'\ncompute_flops=1e15\nmemory_bandwidth=2e12\nmemory_capacity=1e12\nbytes_per_param=2\n[model]\n{model}\n[scheduler]\nmax_num_batched_tokens=8192\nmax_num_seqs=8\n[workload]\narrival_pattern='poisson'\narrival_rate=1.0\nnum_requests=1\ninput_len_dist={{type='fixed',value=1}}\noutput_len_dist={{type='fixed',value=1}}\n"
        );
        Config::from_toml_str(&text, "t").unwrap().server
    }

    const DENSE: &str = "name='d'\nnum_parameters=1000000000\nnum_layers=10\nhidden_dim=1024\nnum_heads=8\nnum_kv_heads=2\nmax_seq_len=4096";

    /// The `DENSE` model on replicas of `t` GPUs linked at 100 GB/s, 1 us a step.
    fn tensor_parallel(t: u64) -> CostModel {
        let text = format!(
            "[deployment]\ntensor_parallel_size={t}\n[hardware]\nname='t'\ncompute_flops=1e15\nmemory_bandwidth=2e12\nmemory_capacity=1e12\nbytes_per_param=2\ninterconnect_bandwidth=100e9\ninterconnect_latency=1e-6\n[model]\n{DENSE}\n[scheduler]\nmax_num_batched_tokens=8192\nmax_num_seqs=8\n[workload]\narrival_pattern='poisson'\narrival_rate=1.0\nnum_requests=1\ninput_len_dist={{type='fixed',value=1}}\noutput_len_dist={{type='fixed',value=1}}\n"
        );
        CostModel::new(&Config::from_toml_str(&text, "t").unwrap().server)
    }

    fn assert_close(got: f64, want: f64) {
        assert!((got - want).abs() <= 1e-12 * want.abs(), "{got} != {want}");
    }

    #[test]
    fn tensor_parallel_decode_steps_by_hand() {
        // t, KV heads per GPU (2 KV heads: replicated at t = 4 and 8).
        for (t, kv_heads) in [(2.0, 1.0), (4.0, 1.0), (8.0, 1.0)] {
            let cm = tensor_parallel(t as u64);
            let mut shape = BatchShape::default();
            shape.add(99, 1, 0, Work::Decode);
            let w = cm.work(&shape);
            assert_close(w.linear_flops, 2e9 / t);
            assert_close(w.weight_bytes, 2e9 / t);
            assert_close(w.attention_flops, 40_960.0 * 100.0 / t);
            // 2 (K, V) x heads x 128 x 2 bytes per token and layer; 99 read, 1 written, 10 layers.
            let kv_token_layer = 2.0 * kv_heads * 128.0 * 2.0;
            assert_close(w.kv_bytes, kv_token_layer * 10.0 * 100.0);
            // Two ring all-reduces per layer of 1 token x 1024 x 2 bytes.
            let sent = 10.0 * 2.0 * 2.0 * (t - 1.0) / t * 2048.0;
            assert_close(w.interconnect_bytes, sent);
            assert_close(w.collective_steps, 10.0 * 2.0 * 2.0 * (t - 1.0));
            // Memory-bound; communication adds to the step.
            let want = 2e9 / t / 2e12
                + kv_token_layer * 1000.0 / 2e12
                + sent / 100e9
                + 10.0 * 4.0 * (t - 1.0) * 1e-6;
            assert_close(cm.step_cost(&shape).secs, want);
        }
    }

    #[test]
    fn tensor_parallel_prefill_steps_by_hand() {
        for t in [2.0, 4.0, 8.0] {
            let cm = tensor_parallel(t as u64);
            let mut shape = BatchShape::default();
            shape.add(0, 2000, 0, Work::PrefillLast);
            let c = cm.step_cost(&shape);
            // Compute-bound layers and attention, each GPU doing 1/t.
            let compute = (2e9 * 2000.0 + 40_960.0 * 2_001_000.0) / t / 1e15;
            let sent = 2000.0 * 10.0 * 2.0 * 2.0 * (t - 1.0) / t * 2048.0;
            assert_close(c.secs, compute + sent / 100e9 + 40.0 * (t - 1.0) * 1e-6);
            assert_close(c.flops, (2e9 * 2000.0 + 40_960.0 * 2_001_000.0) / t);
        }
    }

    #[test]
    fn one_gpu_pays_no_communication() {
        let cm = tensor_parallel(1);
        let mut shape = BatchShape::default();
        shape.add(99, 1, 0, Work::Decode);
        let w = cm.work(&shape);
        assert_eq!((w.interconnect_bytes, w.collective_steps), (0.0, 0.0));
        assert_eq!(
            cm.step_cost(&shape),
            CostModel::new(&config(DENSE)).step_cost(&shape)
        );
    }

    #[test]
    fn expert_parallel_swaps_the_moe_all_reduce_for_dispatch_and_combine() {
        // 64 experts, 8 per token, 10 layers, hidden 1024 at 2 bytes.
        let moe = "name='m'\nnum_parameters=10000000000\nnum_active_parameters=3000000000\nnum_layers=10\nhidden_dim=1024\nnum_heads=8\nmax_seq_len=4096\nnum_experts=64\nexperts_per_token=8";
        let model = |ep: bool| {
            let text = format!(
                "[deployment]\ntensor_parallel_size=4\nexpert_parallel={ep}\n[hardware]\npreset='h100'\nkv_cache_capacity=1e9\n[model]\n{moe}\n[scheduler]\nmax_num_batched_tokens=8192\nmax_num_seqs=8\n[workload]\narrival_pattern='poisson'\narrival_rate=1.0\nnum_requests=1\ninput_len_dist={{type='fixed',value=1}}\noutput_len_dist={{type='fixed',value=1}}\n"
            );
            CostModel::new(&Config::from_toml_str(&text, "t").unwrap().server)
        };
        let mut shape = BatchShape::default();
        shape.add(0, 100, 0, Work::PrefillLast);
        let (tp, ep) = (model(false).work(&shape), model(true).work(&shape));
        let all_reduce = 2.0 * 3.0 / 4.0 * 2048.0 * 100.0;
        assert_close(tp.interconnect_bytes, 10.0 * 2.0 * all_reduce);
        // Each GPU sends its 25 tokens' 8 copies, 3/4 of them away, twice.
        let all_to_all = 25.0 * 8.0 * 3.0 / 4.0 * 2048.0;
        assert_close(
            ep.interconnect_bytes,
            10.0 * (all_reduce + 2.0 * all_to_all),
        );
        assert_eq!(tp.collective_steps, ep.collective_steps);
        assert_eq!(
            (tp.linear_flops, tp.weight_bytes),
            (ep.linear_flops, ep.weight_bytes)
        );
    }

    #[test]
    fn decode_step_is_memory_bound_by_hand() {
        let cm = CostModel::new(&config(DENSE));
        let mut shape = BatchShape::default();
        // One request decoding 1 token on top of 99 cached ones.
        shape.add(99, 1, 0, Work::Decode);
        let c = cm.step_cost(&shape);
        // head_dim = 1024 / 8 = 128; kv bytes per token per layer = 2*2*128*2 = 1024.
        // FLOPs = 2*1e9*1 + 4*8*128*10*(1*99 + 1) = 2e9 + 4,096,000.
        assert_eq!(c.flops, 2e9 + 4_096_000.0);
        // bytes = weights 2e9 + read 1024*10*99 + write 1024*10*1.
        assert_eq!(c.bytes, 2e9 + 1_013_760.0 + 10_240.0);
        // Both kinds are memory-bound: weights, then the KV cache.
        assert_eq!(c.secs, 2e9 / 2e12 + (1_013_760.0 + 10_240.0) / 2e12);
    }

    #[test]
    fn prefill_step_is_compute_bound_by_hand() {
        let cm = CostModel::new(&config(DENSE));
        let mut shape = BatchShape::default();
        shape.add(0, 2000, 0, Work::PrefillLast);
        let c = cm.step_cost(&shape);
        // attended = 2000*2001/2 = 2,001,000 pairs; 4*8*128*10 = 40,960 FLOPs per pair.
        let flops = 2e9 * 2000.0 + 40_960.0 * 2_001_000.0;
        assert_eq!(c.flops, flops);
        // Both kinds are compute-bound: the layers, then attention.
        assert_eq!(c.secs, 2e9 * 2000.0 / 1e15 + 40_960.0 * 2_001_000.0 / 1e15);
        assert!(c.secs > c.bytes / 2e12);
    }

    #[test]
    fn sliding_window_caps_attention_and_reads() {
        let text = format!("{DENSE}\nsliding_window=4\nnum_sliding_layers=5");
        let cm = CostModel::new(&config(&text));
        assert_eq!(windowed_attention(0, 6, 4), (1 + 2 + 3 + 4 + 4 + 4) as f64);
        assert_eq!(windowed_attention(10, 2, 4), 8.0);
        assert_eq!(windowed_attention(2, 3, 4), (3 + 4 + 4) as f64);
        let mut shape = BatchShape::default();
        shape.add(100, 1, cm.window(), Work::Decode);
        let c = cm.step_cost(&shape);
        // 5 full layers attend 101 tokens, 5 sliding layers 4.
        assert_eq!(c.flops, 2e9 + 4096.0 * (5.0 * 101.0 + 5.0 * 4.0));
        assert_eq!(
            c.bytes,
            2e9 + 1024.0 * (5.0 * 100.0 + 5.0 * 4.0) + 1024.0 * 10.0
        );
    }

    #[test]
    fn moe_reads_active_experts_at_batch_one_and_all_at_large_batch() {
        // 64 experts, 8 per token, total 10e9, active 3e9: expert = 7e9 / 56 = 125e6,
        // shared = 3e9 - 8 * 125e6 = 2e9.
        let text = "name='m'\nnum_parameters=10000000000\nnum_active_parameters=3000000000\nnum_layers=10\nhidden_dim=1024\nnum_heads=8\nmax_seq_len=4096\nnum_experts=64\nexperts_per_token=8";
        let cm = CostModel::new(&config(text));
        assert!((cm.experts_touched(1) - 8.0).abs() < 1e-9);
        assert!((cm.weight_bytes(1) - 3e9 * 2.0).abs() < 1.0);
        assert!(cm.experts_touched(4096) > 63.99);
        assert!((cm.weight_bytes(100_000) - 10e9 * 2.0).abs() / 20e9 < 1e-9);
        // FLOPs use active parameters only.
        let mut shape = BatchShape::default();
        shape.add(0, 1, 0, Work::PrefillLast);
        assert_eq!(
            cm.step_cost(&shape).flops,
            2.0 * 3e9 + 4.0 * 8.0 * 128.0 * 10.0
        );
    }

    #[test]
    fn remove_undoes_add() {
        let mut a = BatchShape::default();
        a.add(10, 5, 4, Work::PrefillChunk);
        let before = a;
        a.add(300, 1, 4, Work::Decode);
        a.remove(300, 1, 4, Work::Decode);
        assert_eq!(a, before);
        a.add(0, 7, 4, Work::PrefillLast);
        a.remove(0, 7, 4, Work::PrefillLast);
        assert_eq!(a, before);
    }

    /// Llama-3.1-8B-shaped: untied 128256-token vocabulary, so its embedding and
    /// LM head (525,336,576 parameters each) are priced apart from the layers.
    fn llama_8b(calibration: &str) -> CostModel {
        let text = format!(
            "[hardware]\npreset='h200'\ncalibration={{{calibration}}}\n[model]\npreset='llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens=8192\nmax_num_seqs=8\n[workload]\narrival_pattern='poisson'\narrival_rate=1.0\nnum_requests=1\ninput_len_dist={{type='fixed',value=1}}\noutput_len_dist={{type='fixed',value=1}}\n"
        );
        CostModel::new(&Config::from_toml_str(&text, "t").unwrap().server)
    }

    /// Layer parameters: 8,030,261,248 - 2 * 525,336,576.
    const LLAMA_LAYERS: f64 = 6_979_588_096.0;
    const LLAMA_HEAD: f64 = 525_336_576.0;

    #[test]
    fn lm_head_runs_only_for_sampled_tokens_and_the_embedding_is_not_read() {
        let cm = llama_8b("");
        let mut shape = BatchShape::default();
        shape.add(0, 100, 0, Work::PrefillChunk);
        let w = cm.work(&shape);
        assert_eq!(w.linear_flops, 2.0 * LLAMA_LAYERS * 100.0);
        assert_eq!(w.weight_bytes, 2.0 * LLAMA_LAYERS);
        assert!(w.eager);
        shape.add(0, 100, 0, Work::PrefillLast);
        shape.add(50, 1, 0, Work::Decode);
        let w = cm.work(&shape);
        assert_eq!(shape.sampled, 2);
        assert_eq!(
            w.linear_flops,
            2.0 * (LLAMA_LAYERS * 201.0 + LLAMA_HEAD * 2.0)
        );
        assert_eq!(w.weight_bytes, 2.0 * (LLAMA_LAYERS + LLAMA_HEAD));
        // KV: 2 * 8 heads * 128 * 2 B = 4096 B per token and layer, 32 layers;
        // 50 cached tokens read, 201 new ones written.
        assert_eq!(w.kv_bytes, 4096.0 * 32.0 * (50.0 + 201.0));
    }

    #[test]
    fn a_calibrated_tensor_parallel_decode_by_hand() {
        let text = "[deployment]\ntensor_parallel_size=2\n[hardware]\npreset='h200'\ncalibration={compute_efficiency=0.5,bandwidth_efficiency=0.8,step_overhead_per_layer=1e-5}\n[model]\npreset='llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens=8192\nmax_num_seqs=8\n[workload]\narrival_pattern='poisson'\narrival_rate=1.0\nnum_requests=1\ninput_len_dist={type='fixed',value=1}\noutput_len_dist={type='fixed',value=1}\n";
        let cm = CostModel::new(&Config::from_toml_str(text, "t").unwrap().server);
        let mut decode = BatchShape::default();
        decode.add(1000, 1, 0, Work::Decode);
        let bandwidth = 4.8e12 * 0.8;
        // Half the layers and the LM head; 4 of the 8 KV heads: 2048 B per token and layer.
        let weights = (2.0 * (LLAMA_LAYERS + LLAMA_HEAD)) / 2.0;
        let kv = 2048.0 * 32.0 * 1001.0;
        // Two all-reduces per layer of 4096 x 2 bytes: each GPU sends half of each.
        let sent = 32.0 * 2.0 * 8192.0;
        let want = weights / bandwidth + kv / bandwidth + 32.0 * 1e-5 + sent / 450e9 + 128.0 * 1e-6;
        assert_close(cm.step_cost(&decode).secs, want);
    }

    #[test]
    fn the_per_sequence_overhead_adds_after_the_eager_floor() {
        let cm = llama_8b("eager_floor_per_layer=2e-4,step_overhead_per_seq=1e-5");
        // Three 4-token prompts: at the floor, then 3 x 10 us of host work.
        let mut small = BatchShape::default();
        for _ in 0..3 {
            small.add(0, 4, 0, Work::PrefillLast);
        }
        assert_eq!(cm.work(&small).num_seqs, 3.0);
        assert_close(cm.step_cost(&small).secs, 32.0 * 2e-4 + 3.0 * 1e-5);
        // Decodes of 100 sequences pay 1 ms more than without it.
        let mut decode = BatchShape::default();
        decode.add_decodes(100, 100 * 500);
        let bare = llama_8b("eager_floor_per_layer=2e-4");
        assert_close(
            cm.step_cost(&decode).secs,
            bare.step_cost(&decode).secs + 100.0 * 1e-5,
        );
    }

    #[test]
    fn calibration_scales_the_peaks_and_adds_overheads_by_hand() {
        let cal = "compute_efficiency=0.5,bandwidth_efficiency=0.8,step_overhead_per_layer=1e-5,eager_floor_per_layer=2e-4";
        let cm = llama_8b(cal);
        // One decode at context 1000: memory-bound everywhere.
        let mut decode = BatchShape::default();
        decode.add(1000, 1, 0, Work::Decode);
        let w = cm.work(&decode);
        let bandwidth = 4.8e12 * 0.8;
        let expected = w.weight_bytes / bandwidth + w.kv_bytes / bandwidth + 32.0 * 1e-5;
        assert_eq!(cm.step_cost(&decode).secs, expected);
        // A 4-token prompt is eager and below the floor of 32 * 2e-4 s.
        let mut small = BatchShape::default();
        small.add(0, 4, 0, Work::PrefillLast);
        assert_eq!(cm.step_cost(&small).secs, 32.0 * 2e-4);
        // A 4096-token prompt is compute-bound, above the floor.
        let mut big = BatchShape::default();
        big.add(0, 4096, 0, Work::PrefillLast);
        let w = cm.work(&big);
        let flops = 989e12 * 0.5;
        let expected = w.linear_flops / flops + w.attention_flops / flops + 32.0 * 1e-5;
        assert_eq!(cm.step_cost(&big).secs, expected);
        // The datasheet: the same work at the peaks.
        let datasheet = llama_8b("");
        assert_eq!(
            datasheet.step_cost(&big).secs,
            w.linear_flops / 989e12 + w.attention_flops / 989e12
        );
    }
}
