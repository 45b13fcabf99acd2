//! Turns `<DIR | FILES...>` into the list of frames, in natural order.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use fs_core::{FileFormat, list_frames, sort_natural};

/// The frames a command was given.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The frame files, in natural order of their names.
    pub frames: Vec<PathBuf>,
    /// The folder holding them (the given folder, or the first file's folder).
    pub folder: PathBuf,
    /// Whether a folder was given (rather than files).
    pub from_folder: bool,
}

/// One folder, or one or more image files (sorted in natural order, like a folder's).
pub fn resolve(given: &[PathBuf]) -> anyhow::Result<Inputs> {
    for p in given {
        fs_core::check_exists(p)?;
    }
    if let [dir] = given
        && dir.is_dir()
    {
        let frames = list_frames(dir)?;
        return Ok(Inputs { frames, folder: dir.clone(), from_folder: true });
    }
    let mut frames = Vec::with_capacity(given.len());
    for p in given {
        if p.is_dir() {
            bail!("{}: is a folder; give either one folder or a list of frame files", p.display());
        }
        if FileFormat::from_path(p).is_none() {
            bail!("{}: not a JPEG, PNG or TIFF file name (.jpg, .png, .tif)", p.display());
        }
        frames.push(p.clone());
    }
    sort_natural(&mut frames);
    if let Some(w) = frames.windows(2).find(|w| same_file(&w[0], &w[1])) {
        bail!("{}: given twice", w[1].display());
    }
    let folder = frames[0].parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok(Inputs { folder: folder.to_path_buf(), frames, from_folder: false })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The folder's name, even for `.` or `..` (canonicalised).
pub fn folder_name(folder: &Path) -> anyhow::Result<(PathBuf, String)> {
    let abs = folder
        .canonicalize()
        .with_context(|| format!("{}: cannot resolve the folder", folder.display()))?;
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stack".to_string());
    let parent = abs.parent().map(Path::to_path_buf).unwrap_or_else(|| abs.clone());
    Ok((parent, name))
}
