//! Atomic file writes: every file fstack writes (frames, maps, copied-through frames,
//! moved outputs) goes through here, so they all follow one set of rules.
//!
//! - The bytes go to a temporary file beside the target (`.fstack-XXXXXX.partial`, the
//!   same file system, so the final step is a rename), which is synced and then put in
//!   place whole: an interrupted or failed write leaves no partial target, and the
//!   temporary file is removed on every error path.
//! - A new file gets the permissions of any newly created file: 0666 less the
//!   process's umask (the temporary file is created with mode 0666, which the kernel
//!   masks), not the private 0600 of `tempfile`'s default. A file replaced with
//!   [`Overwrite::Replace`] keeps its permission bits, as `sed -i` does: a forced
//!   re-run does not make a private result readable to all, nor a shared one private.
//! - With [`Overwrite::Refuse`] the final step never replaces a file: on Linux it is
//!   `renameat2(RENAME_NOREPLACE)`, elsewhere (or where the file system lacks it) a hard
//!   link to the target name followed by removing the temporary name; both fail when
//!   the target exists, even when it appeared a moment before. The check that a target
//!   is free, made before a long run, cannot see a file created during the run; this
//!   can, and [`CoreError::Exists`] says so.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::{CoreError, Result};

/// Whether an atomic write may replace a file that already exists at its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overwrite {
    /// Replace it (the library's default: a job re-run over its own outputs).
    #[default]
    Replace,
    /// Leave it untouched and fail with [`CoreError::Exists`] (what the CLI does
    /// without `--force`).
    Refuse,
}

/// The folder a target lies in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// A temporary file beside `target`, created with mode 0666 less the umask.
fn temporary_beside(target: &Path) -> Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".fstack-").suffix(".partial");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(folder_of(target)).map_err(|e| CoreError::io(target, e))
}

/// The permissions of the regular file at `target`, which a replacement keeps;
/// `None` when there is none (or it is not a regular file: a link is replaced, not
/// followed).
fn replaced_permissions(target: &Path) -> Option<std::fs::Permissions> {
    let meta = target.symlink_metadata().ok()?;
    meta.is_file().then(|| meta.permissions())
}

/// Puts a finished temporary file at `target` (see the module docs).
fn persist(tmp: tempfile::NamedTempFile, target: &Path, overwrite: Overwrite) -> Result<()> {
    if overwrite == Overwrite::Replace
        && let Some(permissions) = replaced_permissions(target)
    {
        tmp.as_file().set_permissions(permissions).map_err(|e| CoreError::io(target, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| CoreError::io(target, e))?;
    let persisted = match overwrite {
        Overwrite::Replace => tmp.persist(target),
        Overwrite::Refuse => tmp.persist_noclobber(target),
    };
    // On failure the temporary file is dropped, which removes it.
    persisted.map(drop).map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => CoreError::Exists { path: target.into() },
        _ => CoreError::io(target, e.error),
    })
}

/// Writes `target` atomically: `write` fills a buffered temporary file beside it, which
/// then takes its place (see the module docs). Errors from `write` are returned as they
/// are, with the temporary file removed.
pub fn write_atomic(
    target: &Path,
    overwrite: Overwrite,
    write: impl FnOnce(&mut BufWriter<&mut File>) -> Result<()>,
) -> Result<()> {
    if overwrite == Overwrite::Refuse && target.symlink_metadata().is_ok() {
        // Cheap early answer; the final rename checks again.
        return Err(CoreError::Exists { path: target.into() });
    }
    let mut tmp = temporary_beside(target)?;
    {
        let mut out = BufWriter::new(tmp.as_file_mut());
        write(&mut out)?;
        out.flush().map_err(|e| CoreError::io(target, e))?;
    }
    persist(tmp, target, overwrite)
}

/// Copies `from` to `to` atomically (see [`write_atomic`]).
pub fn copy_atomic(from: &Path, to: &Path, overwrite: Overwrite) -> Result<()> {
    let mut src = File::open(from).map_err(|e| CoreError::io(from, e))?;
    write_atomic(to, overwrite, |out| {
        std::io::copy(&mut src, out).map(drop).map_err(|e| CoreError::io(to, e))
    })
}

/// Moves a finished file to `to`: a rename when both lie on one file system, else an
/// atomic copy (then `from` is removed). The moved file gets the permissions of a new
/// file, or those of the file it replaces, like every other output.
pub fn move_atomic(from: &Path, to: &Path, overwrite: Overwrite) -> Result<()> {
    let (renamed, replaced) = match overwrite {
        Overwrite::Replace => {
            let replaced = replaced_permissions(to);
            (std::fs::rename(from, to), replaced)
        }
        Overwrite::Refuse => (rename_noreplace(from, to), None),
    };
    match renamed {
        Ok(()) => match replaced {
            Some(permissions) => {
                std::fs::set_permissions(to, permissions).map_err(|e| CoreError::io(to, e))
            }
            None => set_new_file_permissions(to),
        },
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(CoreError::Exists { path: to.into() })
        }
        Err(_) => {
            copy_atomic(from, to, overwrite)?;
            std::fs::remove_file(from).map_err(|e| CoreError::io(from, e))
        }
    }
}

/// Renames `from` to `to`, failing with `AlreadyExists` when `to` exists.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
        let (f, t) = (c(from)?, c(to)?);
        // SAFETY: two valid NUL-terminated paths, relative to the current folder.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                f.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        // Not supported by the kernel or the file system: fall back to a link.
        if !matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL)) {
            return Err(e);
        }
    }
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from)
}

/// Gives `path` the permissions a newly created file gets: 0666 less the umask. The
/// umask is learnt without changing it, from a probe file created beside `path`.
fn set_new_file_permissions(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let probe = temporary_beside(path)?;
        let mode = probe.as_file().metadata().map_err(|e| CoreError::io(path, e))?.mode();
        drop(probe);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o777))
            .map_err(|e| CoreError::io(path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".fstack-"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn refuse_keeps_a_file_that_exists_and_replace_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.png");
        std::fs::write(&target, b"theirs").unwrap();
        let e = write_atomic(&target, Overwrite::Refuse, |w| {
            w.write_all(b"ours").map_err(|e| CoreError::io("x", e))
        })
        .unwrap_err();
        assert!(matches!(e, CoreError::Exists { .. }), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"theirs");
        write_atomic(&target, Overwrite::Replace, |w| {
            w.write_all(b"ours").map_err(|e| CoreError::io("x", e))
        })
        .unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"ours");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_file_that_appears_during_the_write_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.png");
        let e = write_atomic(&target, Overwrite::Refuse, |w| {
            // Another program creates the target while this one is writing.
            std::fs::write(&target, b"theirs").unwrap();
            w.write_all(b"ours").map_err(|e| CoreError::io("x", e))
        })
        .unwrap_err();
        assert!(matches!(e, CoreError::Exists { .. }), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"theirs");
        assert!(leftovers(dir.path()).is_empty(), "the temporary file is removed");
        // The same for a move.
        let from = dir.path().join("work.png");
        std::fs::write(&from, b"ours").unwrap();
        let e = move_atomic(&from, &target, Overwrite::Refuse).unwrap_err();
        assert!(matches!(e, CoreError::Exists { .. }), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"theirs");
        assert_eq!(std::fs::read(&from).unwrap(), b"ours", "the source stays for the caller");
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.png");
        let e = write_atomic(&target, Overwrite::Replace, |_| {
            Err(CoreError::Encode { path: "out.png".into(), reason: "boom".into() })
        })
        .unwrap_err();
        assert!(matches!(e, CoreError::Encode { .. }));
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_permissions_of_a_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // What a plain new file gets here (0666 less the umask).
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"").unwrap();
        let expected = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        let src = dir.path().join("src");
        std::fs::write(&src, b"data").unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o600)).unwrap();
        let written = dir.path().join("w.png");
        write_atomic(&written, Overwrite::Refuse, |w| {
            w.write_all(b"x").map_err(|e| CoreError::io("x", e))
        })
        .unwrap();
        let copied = dir.path().join("c.png");
        copy_atomic(&src, &copied, Overwrite::Refuse).unwrap();
        let moved = dir.path().join("m.png");
        move_atomic(&src, &moved, Overwrite::Refuse).unwrap();
        for p in [&written, &copied, &moved] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, expected, "{}", p.display());
        }
        assert_eq!(std::fs::read(&moved).unwrap(), b"data");
        assert!(leftovers(dir.path()).is_empty());
    }

    /// A replaced file keeps its permission bits (as `sed -i` does), whichever way it
    /// is replaced; a new one gets 0666 less the umask.
    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let set = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        for (k, wanted) in [0o600, 0o640, 0o604].into_iter().enumerate() {
            let target = dir.path().join(format!("t{k}.png"));
            std::fs::write(&target, b"old").unwrap();
            set(&target, wanted);
            write_atomic(&target, Overwrite::Replace, |w| {
                w.write_all(b"written").map_err(|e| CoreError::io("x", e))
            })
            .unwrap();
            assert_eq!(
                (mode(&target), std::fs::read(&target).unwrap()),
                (wanted, b"written".to_vec())
            );
            let src = dir.path().join("src");
            std::fs::write(&src, b"copied").unwrap();
            set(&target, wanted);
            copy_atomic(&src, &target, Overwrite::Replace).unwrap();
            assert_eq!(
                (mode(&target), std::fs::read(&target).unwrap()),
                (wanted, b"copied".to_vec())
            );
            std::fs::write(&src, b"moved").unwrap();
            set(&src, 0o666);
            move_atomic(&src, &target, Overwrite::Replace).unwrap();
            assert_eq!(
                (mode(&target), std::fs::read(&target).unwrap()),
                (wanted, b"moved".to_vec())
            );
        }
        assert!(leftovers(dir.path()).is_empty());
    }
}
