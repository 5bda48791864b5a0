//! Content digests of input files, so a run's identity changes when a file
//! it reads changes (a dataset edited, a tokenizer swapped), and of text in
//! memory (configs, manifests).

use super::error::{Error, Result};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bits: a stable, dependency-free hash (not for security; ids
/// only need to tell inputs apart, and resume checks what it reuses).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_extend(FNV_OFFSET, bytes)
}

fn fnv1a_extend(hash: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// FNV-1a as a writer: what is written is hashed as it comes, so a value
/// serialised into it is hashed without being built as text first.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(FNV_OFFSET)
    }
}

impl Fnv1a {
    /// The digest of everything written so far (equal to [`fnv1a`] of it).
    pub fn finish(self) -> u64 {
        self.0
    }
}

impl std::io::Write for Fnv1a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = fnv1a_extend(self.0, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The FNV-1a digest of a file's content, read in blocks (the file's size
/// does not matter to memory). `what` names the file in messages.
pub fn digest_file(path: &Path, what: &'static str) -> Result<u64> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::read(what, path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut hash = FNV_OFFSET;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::read(what, path, e))?;
        if n == 0 {
            return Ok(hash);
        }
        hash = fnv1a_extend(hash, &buf[..n]);
    }
}

/// Digests already computed, so the points of a sweep that read the same
/// file hash it once. It also remembers the files it could not read, so
/// that [`entries`](Self::entries) lists every file the points depend on,
/// present or not (a plan's cache is trusted only while each is unchanged).
#[derive(Debug, Default)]
pub struct DigestCache {
    digests: Mutex<HashMap<PathBuf, Option<u64>>>,
}

impl DigestCache {
    /// The digest of `path`, computed on first use (a file that cannot be
    /// read is tried again each time, and its error returned).
    pub fn digest(&self, path: &Path, what: &'static str) -> Result<u64> {
        if let Some(&Some(d)) = self.lock().get(path) {
            return Ok(d);
        }
        let digest = digest_file(path, what);
        self.lock()
            .insert(path.to_path_buf(), digest.as_ref().ok().copied());
        digest
    }

    /// Every file asked for, with its digest, or `None` when it could not
    /// be read; sorted by path.
    pub fn entries(&self) -> Vec<(PathBuf, Option<u64>)> {
        let mut entries: Vec<_> = self.lock().iter().map(|(p, d)| (p.clone(), *d)).collect();
        entries.sort();
        entries
    }

    /// Takes `path`'s digest as known (`None`: it cannot be read), as
    /// checked by the caller.
    pub fn insert(&self, path: PathBuf, digest: Option<u64>) {
        self.lock().insert(path, digest);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Option<u64>>> {
        self.digests.lock().unwrap_or_else(PoisonError::into_inner)
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
    fn a_file_digest_is_the_digest_of_its_bytes_and_follows_edits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.jsonl");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &big).unwrap();
        assert_eq!(digest_file(&path, "dataset").unwrap(), fnv1a(&big));
        let cache = DigestCache::default();
        let first = cache.digest(&path, "dataset").unwrap();
        std::fs::write(&path, b"other").unwrap();
        assert_eq!(cache.digest(&path, "dataset").unwrap(), first, "cached");
        assert_ne!(digest_file(&path, "dataset").unwrap(), first);
        let missing = digest_file(&dir.path().join("none"), "dataset").unwrap_err();
        assert!(
            missing.to_string().starts_with("cannot read dataset '"),
            "{missing}"
        );
        let none = dir.path().join("none");
        assert!(cache.digest(&none, "dataset").is_err());
        assert_eq!(
            cache.entries(),
            [(path.clone(), Some(first)), (none.clone(), None)],
            "files that cannot be read are listed too"
        );
        std::fs::write(&none, b"now").unwrap();
        assert_eq!(
            cache.digest(&none, "dataset").unwrap(),
            fnv1a(b"now"),
            "and tried again"
        );
    }
}
