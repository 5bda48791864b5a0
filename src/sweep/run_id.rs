//! Run ids: a stable hash of a point's fully resolved config, so equal
//! configs are equal runs (whatever the manifest that produced them) and a
//! changed base config changes the ids.

use crate::config::Config;
use std::fmt;

/// FNV-1a, 64 bits: a stable, dependency-free hash (not for security; ids
/// only need to tell configs apart, and they are checked against the stored
/// config on resume).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The id of one run: 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub u64);

impl RunId {
    /// The id of a resolved config: a hash of its canonical JSON.
    pub fn of(config: &Config) -> Self {
        Self(fnv1a(canonical_json(config).as_bytes()))
    }

    /// The id of a point whose config could not be resolved: a hash of what
    /// defines it, so the failed row still has a stable id.
    pub fn of_invalid(base_hash: u64, point: &str) -> Self {
        Self(fnv1a(
            format!("invalid:{base_hash:016x}:{point}").as_bytes(),
        ))
    }
}

/// The config as the JSON stored in the run's result, the form its id hashes.
pub fn canonical_json(config: &Config) -> String {
    // Serialising plain data to a string cannot fail.
    serde_json::to_string(config).unwrap_or_default()
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn ids_follow_the_resolved_config() {
        let a = Config::builtin_default().unwrap();
        let mut b = a.clone();
        assert_eq!(RunId::of(&a), RunId::of(&b));
        b.workload.seed += 1;
        assert_ne!(RunId::of(&a), RunId::of(&b));
        assert_eq!(RunId::of(&a).to_string().len(), 16);
    }
}
