//! Run ids: a stable hash of everything a run reads: its fully resolved
//! config and the content digests of the files it names (dataset,
//! tokenizer, chat template). Equal inputs are equal runs, whatever the
//! manifest that produced them; an edited base config, dataset or tokenizer
//! gives new ids, so a resumed sweep never reuses a stale result.

use crate::config::Config;
use crate::io::digest::{fnv1a, Fnv1a};
use crate::io::workload::InputRole;
use serde::Serialize;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;

/// A file a run reads, with the digest of its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputDigest {
    /// What the file is to the run.
    #[serde(serialize_with = "role_name")]
    pub role: InputRole,
    /// Where it was read from (for people; identity uses the digest).
    pub path: PathBuf,
    /// FNV-1a of its content, 16 hex digits.
    #[serde(serialize_with = "hex")]
    pub digest: u64,
}

fn role_name<S: serde::Serializer>(role: &InputRole, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.name())
}

fn hex<S: serde::Serializer>(digest: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{digest:016x}"))
}

/// The id of one run: 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub u64);

impl RunId {
    /// The id of a run of `config` that reads the files `inputs`: a hash of
    /// the config's canonical JSON followed by each input's role and digest.
    /// (A run that reads no file hashes its config alone.)
    pub fn of(config: &Config, inputs: &[InputDigest]) -> Self {
        // The canonical JSON is hashed as it is written, never built as a
        // string. Writing into a hash cannot fail, nor can serialising plain
        // data.
        let mut hash = Fnv1a::default();
        let _ = serde_json::to_writer(&mut hash, config);
        for input in inputs {
            let _ = write!(hash, "\n{}:{:016x}", input.role.name(), input.digest);
        }
        Self(hash.finish())
    }

    /// This id combined with `salt`: a run of the same config that reads
    /// something more (a probe's early-stop rule) gets an id of its own, so
    /// its result is never taken for the plain run's.
    pub fn salted(self, salt: &str) -> Self {
        Self(fnv1a(format!("{self}:{salt}").as_bytes()))
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
    fn ids_follow_the_resolved_config_and_the_inputs() {
        let a = Config::builtin_default().unwrap();
        let mut b = a.clone();
        assert_eq!(RunId::of(&a, &[]), RunId::of(&b, &[]));
        assert_eq!(RunId::of(&a, &[]).0, fnv1a(canonical_json(&a).as_bytes()));
        b.workload.seed += 1;
        assert_ne!(RunId::of(&a, &[]), RunId::of(&b, &[]));
        assert_eq!(RunId::of(&a, &[]).to_string().len(), 16);
        let input = |digest| InputDigest {
            role: InputRole::Dataset,
            path: "d.jsonl".into(),
            digest,
        };
        assert_ne!(RunId::of(&a, &[input(1)]), RunId::of(&a, &[input(2)]));
        assert_ne!(RunId::of(&a, &[input(1)]), RunId::of(&a, &[]));
        // The streamed hash is the hash of the text.
        let text = format!("{}\ndataset:{:016x}", canonical_json(&a), 7);
        assert_eq!(RunId::of(&a, &[input(7)]).0, fnv1a(text.as_bytes()));
        let json = serde_json::to_string(&input(255)).unwrap();
        assert_eq!(
            json,
            r#"{"role":"dataset","path":"d.jsonl","digest":"00000000000000ff"}"#
        );
    }
}
