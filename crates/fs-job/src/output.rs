//! Output folders: which ones the job owns, emptying them, removing them.
//!
//! A folder is *owned* by fstack when it holds the marker file [`MARKER`], which fstack
//! writes into an output folder that it creates or finds empty. Only an owned folder is
//! ever emptied (`scratch_output_dir`) or removed (`delete_output_at_end`; in a
//! folder it does not own, that removes only the files the run wrote), and even
//! then only its top-level image files (JPEG, PNG, TIFF by extension), fstack's own
//! temporary files (`.fstack-*.partial`) and the marker go: other files and subfolders
//! are left alone, and a folder that still holds them is not removed.

use std::io::Write as _;
use std::path::Path;

use fs_core::FileFormat;

use crate::{JobError, Result};

/// The name of the marker file that says "fstack owns this output folder".
pub const MARKER: &str = ".fstack-output";

/// What an output folder is, as far as fstack may touch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// It does not exist yet.
    Missing,
    /// It exists and is empty.
    Empty,
    /// It holds the marker.
    Owned,
    /// It holds `entries` entries and no marker.
    Foreign { entries: usize },
}

pub(crate) fn ownership(dir: &Path) -> Result<Ownership> {
    if !dir.exists() {
        return Ok(Ownership::Missing);
    }
    if !dir.is_dir() {
        return Err(JobError::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "exists and is not a folder"),
        ));
    }
    if dir.join(MARKER).is_file() {
        return Ok(Ownership::Owned);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| JobError::io(dir, e))?.count();
    Ok(if entries == 0 { Ownership::Empty } else { Ownership::Foreign { entries } })
}

/// Makes `dir` ready for an action's outputs: creates it and marks it as owned when
/// it is new or empty; empties it when `scratch` (only if owned: checked before the
/// job runs, checked again here).
pub(crate) fn prepare(dir: &Path, scratch: bool, job: &str, action: &str) -> Result<()> {
    match ownership(dir)? {
        Ownership::Missing | Ownership::Empty => {
            std::fs::create_dir_all(dir).map_err(|e| JobError::io(dir, e))?;
            let text = format!(
                "This folder holds the outputs of fstack job `{job}`, action `{action}`.\n\
                 fstack may empty it: it removes only image files and its own temporary \
                 files here.\n"
            );
            let marker = dir.join(MARKER);
            fs_core::write_atomic(&marker, fs_core::Overwrite::Replace, |out| {
                out.write_all(text.as_bytes()).map_err(|e| fs_core::CoreError::io(&marker, e))
            })
            .map_err(|e| JobError::frames(action, e))
        }
        Ownership::Owned if scratch => remove_outputs(dir),
        Ownership::Owned => Ok(()),
        Ownership::Foreign { entries } if scratch => Err(JobError::NotOwned {
            action: action.to_string(),
            path: dir.to_path_buf(),
            files: entries,
        }),
        Ownership::Foreign { .. } => Ok(()),
    }
}

/// Whether fstack may remove this file from an owned folder.
fn is_removable(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let temporary = name.starts_with(".fstack-") && name.ends_with(".partial");
    let image = !name.starts_with('.') && FileFormat::from_path(path).is_some();
    path.is_file() && (temporary || image)
}

/// Removes the top-level image files and temporary files of an owned folder.
fn remove_outputs(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| JobError::io(dir, e))? {
        let path = entry.map_err(|e| JobError::io(dir, e))?.path();
        if is_removable(&path) {
            std::fs::remove_file(&path).map_err(|e| JobError::io(&path, e))?;
        }
    }
    Ok(())
}

/// Removes fstack's temporary files left in `dir` (after a failed or cancelled
/// write). Never fails: best effort on an error path.
pub(crate) fn remove_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for path in entries.flatten().map(|e| e.path()) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(".fstack-") && name.ends_with(".partial") {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Removes `dir` when it holds nothing but the marker: after a failed action, the
/// folder it created for outputs it never wrote. Best effort on an error path.
pub(crate) fn remove_if_unused(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
    if names.len() == 1 && names[0] == MARKER && std::fs::remove_file(dir.join(MARKER)).is_ok() {
        let _ = std::fs::remove_dir(dir);
    }
}

/// `delete_output_at_end`: removes the files this run wrote (`written`) and, from
/// an owned folder, the other image and temporary files, the marker and the folder
/// itself. Returns whether the folder is gone (it stays when it holds files fstack
/// did not write, or when fstack does not own it).
pub(crate) fn delete_folder(dir: &Path, written: &[std::path::PathBuf]) -> Result<bool> {
    for path in written.iter().filter(|p| p.is_file()) {
        std::fs::remove_file(path).map_err(|e| JobError::io(path, e))?;
    }
    if ownership(dir)? != Ownership::Owned {
        return Ok(false);
    }
    remove_outputs(dir)?;
    let others = std::fs::read_dir(dir)
        .map_err(|e| JobError::io(dir, e))?
        .flatten()
        .filter(|e| e.file_name() != MARKER)
        .count();
    if others > 0 {
        return Ok(false);
    }
    let marker = dir.join(MARKER);
    std::fs::remove_file(&marker).map_err(|e| JobError::io(&marker, e))?;
    std::fs::remove_dir(dir).map_err(|e| JobError::io(dir, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_follows_the_marker_and_scratch_keeps_foreign_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        assert_eq!(ownership(&dir).unwrap(), Ownership::Missing);
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(ownership(&dir).unwrap(), Ownership::Empty);
        std::fs::write(dir.join("a.jpg"), b"x").unwrap();
        assert_eq!(ownership(&dir).unwrap(), Ownership::Foreign { entries: 1 });
        assert!(matches!(prepare(&dir, true, "j", "s"), Err(JobError::NotOwned { files: 1, .. })));
        prepare(&dir, false, "j", "s").unwrap();
        assert_eq!(ownership(&dir).unwrap(), Ownership::Foreign { entries: 1 }, "not taken over");

        std::fs::remove_file(dir.join("a.jpg")).unwrap();
        prepare(&dir, true, "j", "s").unwrap();
        assert_eq!(ownership(&dir).unwrap(), Ownership::Owned);
        let names: Vec<_> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [MARKER], "the marker alone, no temporary file left");
        let text = std::fs::read_to_string(dir.join(MARKER)).unwrap();
        assert!(text.starts_with("This folder holds the outputs of fstack job `j`, action `s`.\n"));
        for name in ["b.TIF", ".fstack-1.partial", "c.txt", ".hidden.png"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        prepare(&dir, true, "j", "s").unwrap();
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".fstack-output", ".hidden.png", "c.txt"]);
        assert!(!delete_folder(&dir, &[]).unwrap(), "c.txt keeps the folder");
        std::fs::remove_file(dir.join("c.txt")).unwrap();
        std::fs::remove_file(dir.join(".hidden.png")).unwrap();
        assert!(delete_folder(&dir, &[]).unwrap());
        assert!(!dir.exists());
    }
}
