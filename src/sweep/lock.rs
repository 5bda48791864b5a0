//! One sweep per output directory at a time: an advisory lock on the file
//! `.sweep.lock` in the directory, held while the sweep runs (the system
//! drops it when the process ends, however it ends), and naming its holder
//! (pid, host, start time) for the message a second sweep gets.

use super::meta::now_rfc3339;
use crate::io::{Error, Result};
use fs4::fs_std::FileExt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

/// The lock file's name in an output directory.
pub const LOCK_FILE: &str = ".sweep.lock";

/// The held lock of an output directory, released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Takes the lock of the existing directory `dir`, or fails at once (an
/// output error) naming the process that holds it.
pub fn lock_dir(dir: &Path) -> Result<DirLock> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::write(&path, e))?;
    match file.try_lock_exclusive() {
        Ok(true) => {}
        Ok(false) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "a process that is starting".to_string(),
                text => text.to_string(),
            };
            let busy = std::io::Error::new(
                std::io::ErrorKind::ResourceBusy,
                format!(
                    "another sweep is writing there ({holder}; lock file {}): wait for it to end, or choose another output directory",
                    path.display()
                ),
            );
            return Err(Error::write_as("into", dir, busy));
        }
        Err(e) => return Err(Error::write(&path, e)),
    }
    let holder = format!(
        "pid {} on host {} since {}\n",
        std::process::id(),
        host_name(),
        now_rfc3339()
    );
    file.set_len(0)
        .and_then(|()| file.write_all(holder.as_bytes()))
        .map_err(|e| Error::write(&path, e))?;
    Ok(DirLock { _file: file })
}

/// This machine's name, as the kernel knows it.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_holder_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_dir(dir.path()).unwrap();
        let e = lock_dir(dir.path()).unwrap_err();
        assert_eq!(e.class(), crate::io::ErrorClass::Output);
        let pid = format!("pid {} on host ", std::process::id());
        assert!(e.to_string().contains(&pid), "{e}");
        drop(first);
        assert!(lock_dir(dir.path()).is_ok());
    }
}
