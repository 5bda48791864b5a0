//! What tokens cost: a deployment's GPU-hours spread over the tokens it
//! produces in them.

/// Seconds in an hour.
const SECS_PER_HOUR: f64 = 3600.0;

/// USD per million tokens produced at `tokens_per_sec` by `gpus` GPUs that
/// cost `usd_per_gpu_hour` each: `gpus * price / 3600 / tokens_per_sec * 1e6`.
/// `None` without throughput (nothing to spread the cost over).
pub fn usd_per_million_tokens(
    gpus: u64,
    usd_per_gpu_hour: f64,
    tokens_per_sec: f64,
) -> Option<f64> {
    (tokens_per_sec > 0.0 && tokens_per_sec.is_finite())
        .then(|| gpus as f64 * usd_per_gpu_hour / SECS_PER_HOUR / tokens_per_sec * 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_by_hand() {
        // One $3.60/h GPU at 1,000 tokens/s: $0.001/s, 1e6 tokens in 1,000 s: $1.
        assert_eq!(usd_per_million_tokens(1, 3.6, 1000.0), Some(1.0));
        // Twice the GPUs at the same throughput: twice the cost.
        assert_eq!(usd_per_million_tokens(2, 3.6, 1000.0), Some(2.0));
        assert_eq!(usd_per_million_tokens(1, 3.6, 0.0), None);
    }
}
