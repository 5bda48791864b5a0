//! The bisection of one capacity search, as a pure function of the probes
//! so far: given each probed load and whether it passed, the next load to
//! probe or the final bracket. Resume and `sweep merge` replay it over the
//! stored probes and reach the same decisions.

use super::spec::{Bounds, Load};

/// What a search does next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Probe this load.
    Probe(Load),
    /// The search is over.
    Done(Found),
}

/// The final bracket, as indices into the probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// The probe at the highest passing load (`None`: even the lower bound failed).
    pub capacity: Option<usize>,
    /// The probe at the lowest failing load above it (`None`: the upper bound passed).
    pub fails_at: Option<usize>,
}

/// The next step of a search over `bounds` to relative width `tolerance`,
/// after `probes` (each load with whether it passed), in order.
///
/// The lower bound is probed first (if it fails, the search ends: no
/// capacity), then the upper bound (if it passes, the search ends at the
/// bound), then the geometric midpoint of the bracket until `hi / lo - 1 <=
/// tolerance`; integer searches probe integers and also end when the
/// bracket's ends are adjacent.
pub fn next(bounds: Bounds, tolerance: f64, probes: &[(Load, bool)]) -> Next {
    let done = |capacity, fails_at| Next::Done(Found { capacity, fails_at });
    match probes {
        [] => return Next::Probe(bounds.lo()),
        [(_, false), ..] => return done(None, Some(0)),
        [_] => return Next::Probe(bounds.hi()),
        [_, (_, true), ..] => return done(Some(1), None),
        _ => {}
    }
    // Bracket: the highest passing probe below the lowest failing one.
    let (mut lo, mut hi) = (0, 1);
    for (i, (_, passed)) in probes.iter().enumerate().skip(2) {
        if *passed {
            lo = i;
        } else {
            hi = i;
        }
    }
    match midpoint(probes[lo].0, probes[hi].0, tolerance) {
        Some(mid) => Next::Probe(mid),
        None => done(Some(lo), Some(hi)),
    }
}

/// The load between `lo` and `hi` to probe, or `None` once the bracket is
/// narrow enough.
fn midpoint(lo: Load, hi: Load, tolerance: f64) -> Option<Load> {
    if hi.as_f64() / lo.as_f64() - 1.0 <= tolerance {
        return None;
    }
    let geometric = (lo.as_f64() * hi.as_f64()).sqrt();
    match (lo, hi) {
        (Load::Int(a), Load::Int(b)) => {
            (b - a > 1).then(|| Load::Int((geometric.floor() as i64).clamp(a + 1, b - 1)))
        }
        _ => Some(Load::Float(geometric)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs a search against a monotone pass rule: loads up to `limit` pass.
    fn search(bounds: Bounds, tolerance: f64, limit: f64) -> (Vec<(Load, bool)>, Found) {
        let mut probes = Vec::new();
        loop {
            match next(bounds, tolerance, &probes) {
                Next::Probe(load) => probes.push((load, load.as_f64() <= limit)),
                Next::Done(found) => return (probes, found),
            }
        }
    }

    #[test]
    fn the_bounds_decide_first() {
        let b = Bounds::Float { lo: 1.0, hi: 64.0 };
        let (probes, found) = search(b, 0.02, 0.5);
        assert_eq!(probes.len(), 1);
        assert_eq!(
            found,
            Found {
                capacity: None,
                fails_at: Some(0)
            }
        );
        let (probes, found) = search(b, 0.02, 100.0);
        assert_eq!(probes.len(), 2);
        assert_eq!(
            found,
            Found {
                capacity: Some(1),
                fails_at: None
            }
        );
    }

    proptest! {
        #[test]
        fn float_searches_bracket_the_limit_to_the_tolerance(
            limit in 1.0f64..64.0, tolerance in 0.001f64..0.5
        ) {
            let (probes, found) = search(Bounds::Float { lo: 1.0, hi: 64.0 }, tolerance, limit);
            let lo = probes[found.capacity.unwrap()].0.as_f64();
            let hi = probes[found.fails_at.unwrap()].0.as_f64();
            prop_assert!(lo <= limit && limit < hi);
            prop_assert!(hi / lo - 1.0 <= tolerance);
            // Monotonic bracketing: every passing probe is below every failing one.
            let max_pass = probes.iter().filter(|p| p.1).map(|p| p.0.as_f64()).fold(0.0, f64::max);
            let min_fail = probes.iter().filter(|p| !p.1).map(|p| p.0.as_f64()).fold(f64::INFINITY, f64::min);
            prop_assert_eq!((max_pass, min_fail), (lo, hi));
            prop_assert!(probes.len() <= 2 + libm::ceil(libm::log2(libm::log(64.0) / libm::log(1.0 + tolerance))) as usize + 1);
        }

        #[test]
        fn integer_searches_find_the_largest_passing_integer(limit in 1i64..200) {
            let (probes, found) = search(Bounds::Int { lo: 1, hi: 200 }, 1e-6, limit as f64);
            prop_assert!(probes.iter().all(|p| matches!(p.0, Load::Int(_))));
            let lo = probes[found.capacity.unwrap()].0;
            prop_assert_eq!(lo, Load::Int(limit));
            if limit < 200 {
                prop_assert_eq!(probes[found.fails_at.unwrap()].0, Load::Int(limit + 1));
            }
        }
    }
}
