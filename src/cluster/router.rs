//! The router: which replica an arriving request goes to. It looks at the
//! replicas only through [`Engine::outstanding`], [`Engine::load`] and
//! [`Engine::cached_prefix_blocks`],
//! at the moment the request arrives, and breaks every tie the same way: the
//! first tied replica at or after a cursor that moves one replica on with each
//! request (so that equally loaded replicas take turns, deterministically).

use crate::config::RouterPolicy;
use crate::engine::Engine;
use crate::workload::RequestSpec;
use std::cmp::Ordering;

/// How far `prefix_affinity` lets a replica's outstanding requests exceed
/// the mean before it stops taking requests for the prefixes it holds (as in
/// bounded-load consistent hashing): a replica is eligible while it has fewer
/// than `ceil(PREFIX_AFFINITY_LOAD_BOUND x (mean + 1))` outstanding requests,
/// the mean taken over all replicas. So one hot prefix cannot swamp a replica.
pub const PREFIX_AFFINITY_LOAD_BOUND: f64 = 1.25;

/// A router of one deployment.
#[derive(Debug, Clone)]
pub struct Router {
    policy: RouterPolicy,
    /// Where the search for the best replica starts (and round robin's next replica).
    cursor: usize,
    /// Scratch space of `prefix_affinity`: each replica's outstanding
    /// requests and the score of its cached prefix (reused, not reallocated).
    scratch: Vec<(f64, f64)>,
}

/// The replica with the smallest `key` (compared lexicographically), the
/// first at or after `start` among equals.
fn best(start: usize, n: usize, key: impl Fn(usize) -> (f64, f64)) -> usize {
    let order = |a: (f64, f64), b: (f64, f64)| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1));
    let mut chosen = start;
    let mut chosen_key = key(start);
    for j in 1..n {
        let i = (start + j) % n;
        let k = key(i);
        if order(k, chosen_key) == Ordering::Less {
            chosen = i;
            chosen_key = k;
        }
    }
    chosen
}

impl Router {
    /// A router of `policy`; its first request goes to replica 0 when all are equal.
    pub fn new(policy: RouterPolicy) -> Self {
        Self {
            policy,
            cursor: 0,
            scratch: Vec::new(),
        }
    }

    /// The replica (an index into `engines`, which must not be empty) that
    /// `spec` goes to.
    pub fn route(&mut self, spec: &RequestSpec, engines: &[Engine]) -> usize {
        let n = engines.len();
        let start = self.cursor;
        self.cursor = (start + 1) % n;
        if n == 1 {
            return 0;
        }
        let outstanding = |i: usize| engines[i].outstanding() as f64;
        match self.policy {
            RouterPolicy::RoundRobin => start,
            RouterPolicy::LeastOutstanding => best(start, n, |i| (outstanding(i), 0.0)),
            RouterPolicy::LeastKv => best(start, n, |i| {
                (engines[i].load().kv_utilization, outstanding(i))
            }),
            RouterPolicy::PrefixAffinity => self.prefix_affinity(spec, engines, start),
        }
    }

    /// `prefix_affinity`: the longest cached prefix of the prompt among the
    /// replicas within the load bound, then the least loaded; with no prefix
    /// anywhere (or a prompt of its own), simply the least loaded.
    fn prefix_affinity(&mut self, spec: &RequestSpec, engines: &[Engine], start: usize) -> usize {
        let n = engines.len();
        let hashes = spec.prompt_block_hashes.as_deref().unwrap_or_default();
        self.scratch.clear();
        self.scratch
            .extend(engines.iter().map(|e| (e.outstanding() as f64, 0.0)));
        let total: f64 = self.scratch.iter().map(|s| s.0).sum();
        let bound = (PREFIX_AFFINITY_LOAD_BOUND * (total / n as f64 + 1.0)).ceil();
        if !hashes.is_empty() {
            for (slot, engine) in self.scratch.iter_mut().zip(engines) {
                if slot.0 < bound {
                    slot.1 = -(engine.cached_prefix_blocks(hashes) as f64);
                }
            }
        }
        let scores = &self.scratch;
        best(start, n, |i| (scores[i].1, scores[i].0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_first_replica_at_or_after_the_start() {
        assert_eq!(best(0, 4, |_| (1.0, 0.0)), 0);
        assert_eq!(best(2, 4, |_| (1.0, 0.0)), 2);
        assert_eq!(best(3, 4, |i| ((i % 2) as f64, 0.0)), 0);
        assert_eq!(best(1, 4, |i| (0.0, -(i as f64))), 3);
    }
}
