//! Writing output files so that a reader never sees a half-written file,
//! and so that nothing but a regular file is ever replaced: a device
//! (`/dev/null`, `/dev/stdout`) or a FIFO is written through in place, and a
//! symlink stays a symlink while its target gets the content.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: into a temporary file in the same
/// directory, flushed to disk, then renamed over `path` (see
/// [`AtomicFile::create`] for paths that are not regular files).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Writes `bytes` to `path` atomically but without waiting for the disk:
/// for files that readers validate and that can be made again (a sweep's
/// per-run results), where a flush per file would cost more than the run.
/// A crash can leave such a file empty, never half-written under its name
/// while the process lives.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.finish(false)
}

/// Writes a file the program can make again (a cache, a stamp) like
/// [`write_atomic_unsynced`]; when something that is not a regular file is
/// at `path` (a FIFO, a symlink, a directory someone put there), it is left
/// alone and nothing is written.
pub fn write_remakeable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        return Ok(());
    }
    write_atomic_unsynced(path, bytes)
}

/// A file being written under a temporary name in its final directory; it
/// takes its real name on [`commit`](Self::commit) and disappears if dropped
/// before, so large outputs can be streamed without ever being half-visible.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<fs::File>,
    /// The temporary file, renamed to `path` on commit; `None` when `path`
    /// is written through in place (a device or a FIFO).
    tmp: Option<PathBuf>,
    path: PathBuf,
}

/// What the name of a temporary file holds, between the real name (after a
/// leading `.`) and the writer's pid: `.runs.parquet.tmp-PID-N`.
const TMP_MARK: &str = ".tmp-";

/// Removes the temporary files that writers killed before committing left
/// in `dir` (not its subdirectories); returns how many. Only for a
/// directory no live process writes into (a sweep's, under its lock).
pub fn remove_temp_files(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(TMP_MARK) && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Symlinks followed before giving up (as the kernel's `ELOOP`).
const MAX_SYMLINKS: usize = 40;

impl AtomicFile {
    /// Starts writing the file that will be `path`. An existing `path` that
    /// is not a regular file (a device such as `/dev/null`, a FIFO) is
    /// opened and written in place, never renamed over; a symlink is
    /// followed, and its final target is written atomically.
    pub fn create(path: &Path) -> io::Result<Self> {
        let special = fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
        let Some(path) = symlink_target(path)?.filter(|_| !special) else {
            // Appending, so that `-o /dev/stdout >> all.json` keeps what
            // the file held.
            let file = fs::OpenOptions::new().append(true).open(path)?;
            return Ok(Self {
                file: Some(file),
                tmp: None,
                path: path.to_path_buf(),
            });
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
        let tmp = dir.join(format!(
            ".{}{TMP_MARK}{}-{}",
            name.to_string_lossy(),
            std::process::id(),
            unique()
        ));
        let file = fs::File::create(&tmp)?;
        Ok(Self {
            file: Some(file),
            tmp: Some(tmp),
            path,
        })
    }

    /// Flushes the data to disk and gives the file its real name.
    pub fn commit(self) -> io::Result<()> {
        self.finish(true)
    }

    fn finish(mut self, sync: bool) -> io::Result<()> {
        let file = self.file.take();
        let Some(tmp) = self.tmp.take() else {
            // Written in place: a device or a FIFO has nothing to sync.
            return file.map_or(Ok(()), |mut f| f.flush());
        };
        let result = file
            .map_or(Ok(()), |f| if sync { f.sync_all() } else { Ok(()) })
            .and_then(|()| fs::rename(&tmp, &self.path));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

/// The path a write to `path` lands on: `path` itself, or the final target
/// of the symlink it is (which need not exist yet), so that the symlink is
/// kept; `None` for a process's open file (`/dev/stdout`, `/dev/fd/N`: a
/// link under `/proc`), which has no path of its own to rename onto.
fn symlink_target(path: &Path) -> io::Result<Option<PathBuf>> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match fs::symlink_metadata(&path) {
            // Only a symlink's directory is resolved: a regular output (every
            // run file of a sweep) costs one lstat here.
            Ok(m) if m.file_type().is_symlink() => {
                let in_proc = path
                    .parent()
                    .and_then(|d| fs::canonicalize(d).ok())
                    .is_some_and(|d| d.starts_with("/proc"));
                if in_proc {
                    return Ok(None);
                }
                let target = fs::read_link(&path)?;
                path = match path.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(Some(path)),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "too many levels of symbolic links",
    ))
}

/// A number unique within the process, so threads writing the same path do
/// not share a temporary file.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let (Some(_), Some(tmp)) = (self.file.take(), &self.tmp) {
            let _ = fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write_atomic(&dir.path().join("missing/out.json"), b"x").is_err());
    }

    #[test]
    fn an_uncommitted_file_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.parquet");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"partial").unwrap();
        drop(file);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn temporary_files_of_killed_writers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.parquet");
        let mut left = AtomicFile::create(&path).unwrap();
        left.write_all(b"partial").unwrap();
        std::mem::forget(left);
        write_atomic(&dir.path().join(".hidden"), b"kept").unwrap();
        assert_eq!(remove_temp_files(dir.path()).unwrap(), 1);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_symlink_stays_a_symlink_and_its_target_gets_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("out.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write_atomic(&link, b"one").unwrap();
        write_atomic(&link, b"two").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_fifo_is_written_through_and_stays_a_fifo() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through").unwrap();
        assert_eq!(reader.join().unwrap(), b"through");
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
