//! Resolving folders and comparing them safely.
//!
//! Folders are compared after [`normalize`]: absolute, `.` and `..` removed, and the
//! longest existing ancestor canonicalised (symbolic links resolved), so
//! `work/./out`, `work/src/../out` and a link to `work/out` all compare equal, even
//! before `out` exists.

use std::path::{Component, Path, PathBuf};

/// `path` inside `base` unless it is absolute.
pub(crate) fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

/// The absolute, normalised form of `path` (see the module docs).
pub fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let lexical = lexical(&absolute);
    // Canonicalise the longest existing ancestor, keep the rest as written.
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canon) = existing.canonicalize() {
            let mut out = canon;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return lexical,
        }
    }
}

/// Removes `.` and resolves `..` without touching the disk.
pub(crate) fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// How folder `a` relates to folder `b` (both normalised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    Same,
    Inside,
    Above,
    Apart,
}

impl Relation {
    pub fn of(a: &Path, b: &Path) -> Relation {
        if a == b {
            Relation::Same
        } else if a.starts_with(b) {
            Relation::Inside
        } else if b.starts_with(a) {
            Relation::Above
        } else {
            Relation::Apart
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Relation::Same => "is",
            Relation::Inside => "lies inside",
            Relation::Above => "lies above",
            Relation::Apart => "is apart from",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots_and_resolves_links_of_existing_parents() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("src")).unwrap();
        assert_eq!(normalize(&root.join("src/../out/./x")), root.join("out/x"));
        assert_eq!(normalize(&root.join("src/.")), root.join("src"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("src"), root.join("link")).unwrap();
            assert_eq!(normalize(&root.join("link/new")), root.join("src/new"));
        }
    }

    #[test]
    fn relations() {
        let (a, b) = (Path::new("/w/out"), Path::new("/w/out/src"));
        assert_eq!(Relation::of(a, b), Relation::Above);
        assert_eq!(Relation::of(b, a), Relation::Inside);
        assert_eq!(Relation::of(a, a), Relation::Same);
        assert_eq!(Relation::of(Path::new("/w/o"), Path::new("/w/out")), Relation::Apart);
    }
}
