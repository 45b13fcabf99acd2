//! Work folders that a dead process cannot leave behind for good.
//!
//! A [`WorkDir`] is a private temporary folder (removed when dropped) holding a file
//! named `lock` that its process keeps locked (`flock`) while it lives; the kernel
//! drops the lock when the process ends, however it ends. [`remove_stale`] removes the
//! work folders of a given prefix whose lock can be taken, i.e. those of dead
//! processes (after a `SIGKILL`, a second Ctrl-C, a power loss), and never one whose
//! owner still runs. The lock file is locked under a temporary name and renamed to
//! `lock` afterwards, so a folder whose `lock` exists is locked as long as its owner
//! lives; a folder without `lock` (being created, or from an older fstack) is left
//! alone.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::{CoreError, Result};

const LOCK: &str = "lock";

/// Checks that `dir`, the folder for temporary files taken from `variable` (`TMPDIR`,
/// an environment variable or an option), is a folder: the error names both, instead
/// of a bare "No such file or directory" from the first file created in it.
pub fn check_temp_folder(dir: &Path, variable: &str) -> Result<()> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(CoreError::TempFolder { path: dir.to_path_buf(), variable: variable.to_string() })
    }
}

/// The system's folder for temporary files (`$TMPDIR`, else `/tmp`), checked with
/// [`check_temp_folder`].
pub fn temp_folder() -> Result<PathBuf> {
    let dir = std::env::temp_dir();
    check_temp_folder(&dir, "TMPDIR")?;
    Ok(dir)
}

/// A temporary work folder locked by this process (see the module docs).
#[derive(Debug)]
pub struct WorkDir {
    // Field order: the folder goes before the lock is released.
    dir: tempfile::TempDir,
    _lock: File,
}

impl WorkDir {
    /// Creates `<parent>/<prefix>XXXXXX` and locks it.
    pub fn new_in(parent: &Path, prefix: &str) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(parent)
            .map_err(|e| CoreError::io(parent, e))?;
        let pending = dir.path().join(".lock-pending");
        let lock = File::create(&pending).map_err(|e| CoreError::io(&pending, e))?;
        if !try_lock(&lock) {
            return Err(CoreError::io(&pending, std::io::Error::other("cannot lock")));
        }
        let path = dir.path().join(LOCK);
        std::fs::rename(&pending, &path).map_err(|e| CoreError::io(&path, e))?;
        Ok(Self { dir, _lock: lock })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Takes the lock without waiting; `false` when another process holds it.
fn try_lock(file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        false
    }
}

/// Removes the work folders `<parent>/<prefix>*` that dead processes left (see the
/// module docs); returns those removed. Best effort: a folder that cannot be
/// inspected or removed is skipped.
pub fn remove_stale(parent: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(parent) else { return removed };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || !name.to_string_lossy().starts_with(prefix) {
            continue;
        }
        let dir = entry.path();
        let Ok(lock) = File::open(dir.join(LOCK)) else { continue };
        if try_lock(&lock) && std::fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_folders_of_dead_owners_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let live = WorkDir::new_in(root.path(), ".fstack-").unwrap();
        std::fs::write(live.path().join("x"), b"work").unwrap();
        // A dead process's folder: its lock file exists, nobody holds it.
        let dead = root.path().join(".fstack-dead01");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(LOCK), b"").unwrap();
        std::fs::write(dead.join("plane.bin"), vec![0u8; 1000]).unwrap();
        // Without a lock file: being created, or not ours: kept.
        let unlocked = root.path().join(".fstack-new002");
        std::fs::create_dir(&unlocked).unwrap();
        // Another prefix: kept.
        let other = root.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join(LOCK), b"").unwrap();

        // A live lock held by another process: a child holding it through flock(1)
        // is not available everywhere, so the live folder of this process stands in
        // (flock locks belong to the open file, so a second open cannot take it).
        let removed = remove_stale(root.path(), ".fstack-");
        assert_eq!(removed, std::slice::from_ref(&dead));
        assert!(!dead.exists());
        assert!(live.path().join("x").exists() && unlocked.exists() && other.exists());
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists());
    }
}
