//! Finding the stacks under a root folder: every folder that directly holds frames.
//!
//! The walk is depth first, folders in natural order of their names (`s2` before
//! `s10`), so the list is the same on every machine that sees the same tree.
//! Hidden folders (`.name`) are not entered, nor the output folder (when it lies
//! inside the root its results are not frames to stack). Symbolic links to
//! folders are followed, but each real folder is visited once: a link loop ends
//! there instead of recursing for ever.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use fs_core::CoreError;

use super::{BatchStack, OutputExt, check_unique, output_for};
use crate::{JobError, Result};

/// Every folder under `root` (nested ones, and `root` itself) that directly holds
/// frame files, as one stack each, outputs in `out_dir` (see the module docs of
/// [`crate::batch`] for ids and names). No stack found is not an error: the list is
/// empty.
pub fn discover(root: &Path, out_dir: &Path, ext: &OutputExt) -> Result<Vec<BatchStack>> {
    if !root.is_dir() {
        let e = std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder");
        return Err(JobError::io(root, e));
    }
    let root_real = root.canonicalize().map_err(|e| JobError::io(root, e))?;
    let walk = Walk { out_real: real_or_absolute(out_dir), seen: HashSet::new(), found: vec![] };
    let mut walk = walk;
    walk.visit(root, &[])?;
    let root_name = root_real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    let stacks: Vec<BatchStack> = walk
        .found
        .into_iter()
        .map(|(parts, frames)| {
            let id = if parts.is_empty() { root_name.clone() } else { parts.join("/") };
            let output = output_for(out_dir, &id, &frames[0], ext);
            BatchStack { id, frames, output, options: BTreeMap::new() }
        })
        .collect();
    check_unique(&stacks)?;
    Ok(stacks)
}

struct Walk {
    /// The output folder's real path, never entered.
    out_real: PathBuf,
    /// Real paths of the folders visited.
    seen: HashSet<PathBuf>,
    /// Each stack's path parts below the root, and its frames.
    found: Vec<(Vec<String>, Vec<PathBuf>)>,
}

impl Walk {
    fn visit(&mut self, dir: &Path, parts: &[String]) -> Result<()> {
        let real = dir.canonicalize().map_err(|e| JobError::io(dir, e))?;
        if real.starts_with(&self.out_real) || !self.seen.insert(real) {
            return Ok(());
        }
        match fs_core::list_frames(dir) {
            Ok(frames) => self.found.push((parts.to_vec(), frames)),
            Err(CoreError::EmptyFolder { .. }) => {}
            Err(e) => return Err(JobError::Batch(e)),
        }
        let mut subfolders: Vec<(String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| JobError::io(dir, e))? {
            let entry = entry.map_err(|e| JobError::io(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // `metadata` follows links: a link to a folder is a folder here; a
            // dangling link is no folder.
            let is_dir = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
            if is_dir && !name.starts_with('.') {
                subfolders.push((name, entry.path()));
            }
        }
        subfolders.sort_by(|a, b| natord::compare(&a.0, &b.0).then_with(|| a.0.cmp(&b.0)));
        for (name, path) in subfolders {
            let mut sub = parts.to_vec();
            sub.push(name);
            self.visit(&path, &sub)?;
        }
        Ok(())
    }
}

/// The real path of a folder that may not exist yet: its nearest existing
/// ancestor resolved, the rest appended.
fn real_or_absolute(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut cur = absolute.as_path();
    loop {
        if let Ok(real) = cur.canonicalize() {
            return rest.iter().rev().fold(real, |p, name| p.join(name));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn nested_folders_in_natural_order_and_the_output_folder_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("shoot");
        for f in ["s10/a.jpg", "s2/b.jpg", "s2/deep/c.png", "s2/deep/d.png", "top.tif"] {
            touch(&root.join(f));
        }
        touch(&root.join("empty/notes.txt"));
        touch(&root.join(".hidden/x.jpg"));
        // A previous batch's results inside the root are not a stack.
        let out = root.join("out");
        touch(&out.join("s2.jpg"));
        let stacks = discover(&root, &out, &OutputExt::FirstFrame).unwrap();
        let got: Vec<(&str, usize, PathBuf)> =
            stacks.iter().map(|s| (s.id.as_str(), s.frames.len(), s.output.clone())).collect();
        assert_eq!(
            got,
            [
                ("shoot", 1, out.join("shoot.tif")),
                ("s2", 1, out.join("s2.jpg")),
                ("s2/deep", 2, out.join("s2__deep.png")),
                ("s10", 1, out.join("s10.jpg")),
            ]
        );
        let fixed = discover(&root, &out, &OutputExt::Fixed(fs_core::FileFormat::Tiff)).unwrap();
        assert_eq!(fixed[1].output, out.join("s2.tif"));
    }

    #[test]
    fn an_output_folder_not_created_yet_inside_the_root_is_left_out_too() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("r");
        touch(&root.join("a/1.jpg"));
        let stacks = discover(&root, &root.join("new/out"), &OutputExt::FirstFrame).unwrap();
        assert_eq!(stacks.len(), 1);
        // Created afterwards (and holding files named like frames), still left out.
        touch(&root.join("new/out/a.jpg"));
        let stacks = discover(&root, &root.join("new/out"), &OutputExt::FirstFrame).unwrap();
        assert_eq!(stacks.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["a"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_loop_ends() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("r");
        touch(&root.join("a/1.jpg"));
        std::os::unix::fs::symlink(&root, root.join("a/back")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("again")).unwrap();
        let stacks = discover(&root, &dir.path().join("out"), &OutputExt::FirstFrame).unwrap();
        assert_eq!(stacks.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn ids_that_flatten_to_one_output_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("r");
        touch(&root.join("a/b/1.jpg"));
        touch(&root.join("a__b/1.jpg"));
        let e = discover(&root, &dir.path().join("out"), &OutputExt::FirstFrame).unwrap_err();
        assert!(matches!(e, JobError::DuplicateStack { what: "output", .. }), "{e}");
        assert!(e.to_string().contains("a__b.jpg"), "{e}");
    }
}
