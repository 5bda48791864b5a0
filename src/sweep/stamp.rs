//! `.tables-stamp`: what the tables of a finished sweep directory were
//! written from, so that resuming a sweep that would change nothing writes
//! nothing, in the time it takes to look at the directory (a finished
//! million-point sweep resumes in well under a second instead of
//! re-reading a million records and writing every table again).
//!
//! The stamp is one digest of: the plan's cache key (this program, the
//! manifest, the base config, the shard), the plan's points hash, whether
//! per-request rows were kept, and the name, size and modification time of
//! every file in `runs/` and of every table (and, on Unix, its inode and
//! status-change time). It is written only when a sweep
//! ends with every point done and no run failed (failed runs are retried on
//! resume), and removed before any other sweep touches the directory. A
//! resume trusts it only when the plan itself came from the plan cache (so
//! every input file was digested again and is unchanged) and the digest
//! computed now is the one stored: an edited, appended, truncated or
//! removed record part, per-request file or table, another binary, another
//! manifest or another flag all take the full resume, which checks every
//! record.

use super::layout::Layout;
use super::plan::Plan;
use crate::io::digest::fnv1a;
use crate::io::files::write_remakeable;
use crate::io::{Error, Result};
use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// The stamp's file name in a sweep's (or shard's) output directory.
pub const TABLES_STAMP: &str = ".tables-stamp";

/// What the file holds before the digest, with the format's version.
const MAGIC: &str = "inference-lab tables stamp 1";

/// The digest of what the tables of `plan` in `layout` derive from and of
/// the tables themselves, as they are now; `None` when the plan cannot be
/// keyed, a file cannot be looked at, or a table is not a regular file (a
/// FIFO someone reads, a device): no stamp then.
pub fn fingerprint(plan: &Plan, layout: &Layout, per_request: bool) -> Option<u64> {
    let mut text = format!(
        "{MAGIC}\n{:016x}\n{}\n{per_request}\n",
        plan.cache_key()?,
        plan.points_hash()
    );
    let mut runs: Vec<_> = std::fs::read_dir(layout.runs_dir())
        .ok()?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .ok()?;
    runs.sort();
    let tables = layout.table_files(plan.strategy.search().is_some(), per_request);
    let files = runs.iter().map(|p| (p, false));
    for (path, table) in files.chain(tables.iter().map(|p| (p, true))) {
        // What a symlink points to, which the tables were written through.
        let meta = std::fs::metadata(path).ok()?;
        if table && !meta.is_file() {
            // A table that is a FIFO or a device is written every time.
            return None;
        }
        let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        text.push_str(&format!(
            "{} {:?} {} {} {}\n",
            path.file_name()?.to_string_lossy(),
            meta.file_type(),
            meta.len(),
            modified.as_nanos(),
            changed(&meta)
        ));
    }
    Some(fnv1a(text.as_bytes()))
}

/// What else tells a file's versions apart where the system keeps it: the
/// inode and the status-change time, which no program can set back.
#[cfg(unix)]
fn changed(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{} {}.{}", meta.ino(), meta.ctime(), meta.ctime_nsec())
}

#[cfg(not(unix))]
fn changed(_: &std::fs::Metadata) -> String {
    String::new()
}

/// Whether the stamp at `path` holds `fingerprint`.
fn matches(path: &Path, fingerprint: u64) -> bool {
    read(path) == Some(fingerprint)
}

/// Whether `layout`'s tables are stamped current for `plan` (with
/// per-request rows when `per_request`): the plan came from its cache, so
/// no input changed, and the stamp holds what the directory holds now.
pub fn is_current(plan: &Plan, layout: &Layout, per_request: bool) -> bool {
    plan.is_cached()
        && fingerprint(plan, layout, per_request)
            .is_some_and(|f| matches(&layout.tables_stamp(), f))
}

/// The digest the stamp at `path` holds, if it is a regular file this
/// program wrote.
fn read(path: &Path) -> Option<u64> {
    // Only a regular file (opening a FIFO would wait for a writer).
    if !std::fs::symlink_metadata(path).ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(256)
        .read_to_string(&mut text)
        .ok()?;
    let hex = text.strip_prefix(MAGIC)?.strip_prefix('\n')?.trim_end();
    u64::from_str_radix(hex, 16).ok()
}

/// Writes the stamp `fingerprint` at `path`.
pub fn save(path: &Path, fingerprint: u64) -> Result<()> {
    write_remakeable(path, format!("{MAGIC}\n{fingerprint:016x}\n").as_bytes())
        .map_err(|e| Error::write(path, e))
}

/// Removes the stamp at `path`, if there is one (a regular file: nothing
/// else at that name is touched).
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => std::fs::remove_file(path).map_err(|e| Error::write(path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_only_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TABLES_STAMP);
        assert!(!matches(&path, 7), "no stamp");
        save(&path, 0xfeed).unwrap();
        assert!(matches(&path, 0xfeed));
        assert!(!matches(&path, 0xfeee));
        std::fs::write(&path, "something else\n000000000000feed\n").unwrap();
        assert!(!matches(&path, 0xfeed), "not this program's");
        remove(&path).unwrap();
        assert!(!path.exists());
        remove(&path).unwrap();
    }

    #[test]
    fn something_else_at_the_stamp_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TABLES_STAMP);
        std::fs::create_dir(&path).unwrap();
        save(&path, 1).unwrap();
        remove(&path).unwrap();
        assert!(path.is_dir());
        assert!(!matches(&path, 1));
    }
}
