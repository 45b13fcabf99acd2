//! Disk-backed planes in a private scratch folder.

use std::path::{Path, PathBuf};

use fs_core::{Plane, PlaneMut};

use crate::map::{Element, MappedFile, available_space};
use crate::{Result, TilesError};

/// Environment variable naming the folder for temporary tiles (used when no
/// folder is given explicitly).
pub const TMPDIR_ENV: &str = "FSTACK_TMPDIR";

/// Where temporary tiles go: `option` if given, else `$FSTACK_TMPDIR` if set and
/// not empty, else the system temp folder (`$TMPDIR` or `/tmp`).
pub fn temp_root(option: Option<&Path>) -> PathBuf {
    temp_root_from(option).0
}

/// [`temp_root`] and where it came from (`temp_dir`, `FSTACK_TMPDIR`, `TMPDIR`).
fn temp_root_from(option: Option<&Path>) -> (PathBuf, &'static str) {
    if let Some(dir) = option {
        return (dir.to_path_buf(), "the temp_dir option");
    }
    match std::env::var_os(TMPDIR_ENV) {
        Some(dir) if !dir.is_empty() => (PathBuf::from(dir), TMPDIR_ENV),
        _ => (std::env::temp_dir(), "TMPDIR"),
    }
}

/// [`temp_root`], checked to be a folder: the error names it and where it came from.
pub fn checked_temp_root(option: Option<&Path>) -> fs_core::Result<PathBuf> {
    let (dir, variable) = temp_root_from(option);
    fs_core::check_temp_folder(&dir, variable)?;
    Ok(dir)
}

/// A private folder (`fstack-XXXXXX`, mode 0700) for the disk-backed planes of one
/// piece of work. Its planes' files are unlinked as soon as they are created (only
/// their descriptors hold them), so they go away with the process however it ends,
/// `SIGKILL` included; dropping the folder removes it (a killed process leaves at most
/// the empty folder).
#[derive(Debug)]
pub struct ScratchDir {
    dir: fs_core::WorkDir,
}

impl ScratchDir {
    /// Creates the folder inside [`temp_root`]`(root)`.
    pub fn new(root: Option<&Path>) -> Result<Self> {
        let root = checked_temp_root(root)?;
        // Folders of killed runs (locked while their process lived) go first.
        fs_core::remove_stale(&root, "fstack-");
        let dir = fs_core::WorkDir::new_in(&root, "fstack-").map_err(|e| match e {
            fs_core::CoreError::Io { source, .. } => TilesError::Io { path: root.clone(), source },
            e => TilesError::Io { path: root.clone(), source: std::io::Error::other(e) },
        })?;
        Ok(Self { dir })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fails with [`TilesError::DiskSpace`] unless at least `need` bytes are free
    /// on the folder's file system.
    pub fn check_space(&self, need: u64) -> Result<()> {
        check_space(self.path(), need)
    }

    /// A new `width x height` plane of zeros, backed by a file in this folder.
    pub fn plane<T: Element>(&self, width: usize, height: usize) -> Result<DiskPlane<T>> {
        DiskPlane::new_in(self.path(), width, height)
    }
}

/// Fails with [`TilesError::DiskSpace`] unless `need` bytes are free on the file
/// system holding `dir`.
pub fn check_space(dir: &Path, need: u64) -> Result<()> {
    let available = available_space(dir)?;
    if need > available {
        return Err(TilesError::DiskSpace { dir: dir.to_path_buf(), need, available });
    }
    Ok(())
}

/// A `width x height` plane of `T` stored in a memory-mapped temporary file. It
/// reads and writes as an ordinary slice, [`Plane`] or [`PlaneMut`], so kernels
/// run on it unchanged; pages not recently used can be dropped from memory by the
/// kernel, and [`release_rows`](Self::release_rows) drops them explicitly. The
/// file has no name (it is unlinked when created): its space is freed when the plane
/// is dropped or the process ends, even when killed.
#[derive(Debug)]
pub struct DiskPlane<T> {
    // Field order: unmap before the file is closed and removed.
    map: MappedFile<T>,
    file: std::fs::File,
    dir: PathBuf,
    width: usize,
    height: usize,
}

impl<T: Element> DiskPlane<T> {
    /// A plane of zero bits (0.0 for floats) in a new file in `dir`; the file's
    /// blocks are reserved now, so a full disk fails here
    /// ([`TilesError::DiskFull`]) rather than during the work.
    pub fn new_in(dir: &Path, width: usize, height: usize) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(TilesError::Dimensions(format!("a disk plane of {width}x{height}")));
        }
        let len = width
            .checked_mul(height)
            .ok_or_else(|| TilesError::Dimensions(format!("a disk plane of {width}x{height}")))?;
        // Unlinked at once (O_TMPFILE on Linux): a killed process leaves no file.
        let file = tempfile::tempfile_in(dir)
            .map_err(|source| TilesError::Io { path: dir.to_path_buf(), source })?;
        let map = MappedFile::new(&file, dir, len)?;
        Ok(Self { map, file, dir: dir.to_path_buf(), width, height })
    }

    /// Width in samples.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in rows.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The folder its (unnamed) backing file lies in.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The backing file, open (it has no name).
    pub fn file(&self) -> &std::fs::File {
        &self.file
    }

    /// Size of the backing file in bytes.
    pub fn bytes(&self) -> u64 {
        (self.width * self.height * size_of::<T>()) as u64
    }

    /// All samples, row-major.
    pub fn as_slice(&self) -> &[T] {
        self.map.as_slice()
    }

    /// All samples, row-major, writable.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.map.as_mut_slice()
    }

    /// A read-only plane view.
    pub fn plane(&self) -> Plane<'_, T> {
        Plane::new(self.as_slice(), self.width, self.height).expect("length checked at creation")
    }

    /// A writable plane view.
    pub fn plane_mut(&mut self) -> PlaneMut<'_, T> {
        let (w, h) = (self.width, self.height);
        PlaneMut::new(self.as_mut_slice(), w, h).expect("length checked at creation")
    }

    /// Rows `y0..y1`, row-major.
    pub fn rows(&self, y0: usize, y1: usize) -> &[T] {
        &self.as_slice()[y0 * self.width..y1 * self.width]
    }

    /// Rows `y0..y1`, row-major, writable.
    pub fn rows_mut(&mut self, y0: usize, y1: usize) -> &mut [T] {
        let w = self.width;
        &mut self.as_mut_slice()[y0 * w..y1 * w]
    }

    /// Sets every sample to `value`.
    pub fn fill(&mut self, value: T) {
        self.as_mut_slice().fill(value);
    }

    /// Drops the resident memory pages lying wholly inside rows `y0..y1` from this
    /// process (the data stays in the file and is read back when next used), so
    /// that working through a large plane band by band keeps the resident set at
    /// about one band.
    pub fn release_rows(&self, y0: usize, y1: usize) -> Result<()> {
        self.map.release(y0 * self.width, y1.min(self.height) * self.width)
    }

    /// [`release_rows`](Self::release_rows) over the whole plane.
    pub fn release(&self) -> Result<()> {
        self.release_rows(0, self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> (tempfile::TempDir, ScratchDir) {
        let root = tempfile::tempdir().unwrap();
        let s = ScratchDir::new(Some(root.path())).unwrap();
        (root, s)
    }

    #[test]
    fn planes_read_back_what_was_written_and_start_at_zero() {
        let (_root, s) = scratch();
        let mut p = s.plane::<f32>(300, 7).unwrap();
        assert!(p.as_slice().iter().all(|&v| v == 0.0));
        for (i, v) in p.as_mut_slice().iter_mut().enumerate() {
            *v = i as f32 * 0.5;
        }
        p.plane_mut().row_mut(3)[5] = -1.25;
        p.release().unwrap(); // pages dropped from memory, data kept in the file
        assert_eq!(p.plane().row(3)[5], -1.25);
        assert_eq!(p.rows(6, 7)[299], (6 * 300 + 299) as f32 * 0.5);
        assert_eq!(p.as_slice()[1], 0.5);
        assert_eq!(p.file().metadata().unwrap().len(), 300 * 7 * 4);
        let mut q = s.plane::<f64>(5000, 3).unwrap();
        q.fill(f64::NEG_INFINITY);
        q.rows_mut(1, 2)[4999] = 2.5;
        q.release_rows(0, 2).unwrap();
        assert_eq!(q.as_slice()[5000 + 4999], 2.5);
        assert_eq!(q.as_slice()[14_999], f64::NEG_INFINITY);
    }

    #[test]
    fn plane_files_have_no_name_and_drop_removes_the_folder() {
        let (root, s) = scratch();
        let p = s.plane::<f32>(64, 64).unwrap();
        let dir = s.path().to_path_buf();
        assert!(dir.starts_with(root.path()) && p.path() == dir);
        // Nothing but the folder's lock to leave behind even if the process were
        // killed now (and the next run removes such a folder).
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "unlinked at creation");
        assert_eq!(p.file().metadata().unwrap().len(), 64 * 64 * 4);
        let q = s.plane::<f32>(8, 8).unwrap();
        drop(s); // the folder goes even while a plane is alive
        assert!(!dir.exists());
        assert_eq!(q.as_slice().len(), 64, "the map stays valid");
        drop(p);
    }

    #[test]
    fn a_new_scratch_folder_removes_those_killed_runs_left() {
        let root = tempfile::tempdir().unwrap();
        let dead = root.path().join("fstack-dead01");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("lock"), b"").unwrap();
        let live = ScratchDir::new(Some(root.path())).unwrap();
        assert!(!dead.exists());
        let again = ScratchDir::new(Some(root.path())).unwrap();
        assert!(live.path().exists() && again.path().exists(), "live folders stay");
    }

    #[test]
    fn a_panic_removes_the_files() {
        let root = tempfile::tempdir().unwrap();
        let rp = root.path().to_path_buf();
        let r = std::thread::spawn(move || {
            let s = ScratchDir::new(Some(&rp)).unwrap();
            let _p = s.plane::<f32>(16, 16).unwrap();
            assert_eq!(std::fs::read_dir(&rp).unwrap().count(), 1);
            panic!("mid-work");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn temp_root_prefers_the_option() {
        assert_eq!(temp_root(Some(Path::new("/x/y"))), PathBuf::from("/x/y"));
        // The env fallback is not tested here: tests run in parallel and the
        // environment is shared.
    }

    #[test]
    fn zero_sized_planes_are_refused() {
        let (_root, s) = scratch();
        let e = s.plane::<f32>(0, 5).unwrap_err();
        assert_eq!(e.to_string(), "invalid dimensions: a disk plane of 0x5");
    }

    #[test]
    fn the_space_check_names_the_folder_and_both_sizes() {
        let (root, s) = scratch();
        s.check_space(1).unwrap();
        let e = s.check_space(u64::MAX).unwrap_err();
        let TilesError::DiskSpace { available, .. } = e else { panic!("{e:?}") };
        assert!(available > 0);
        let msg = e.to_string();
        assert!(msg.starts_with(&format!(
            "not enough disk space for temporary tiles in {}: need 16777216.0 TiB, only ",
            s.path().display()
        )));
        assert!(msg.contains("FSTACK_TMPDIR"), "{msg}");
        let e = check_space(&root.path().join("missing"), 1).unwrap_err();
        assert!(matches!(e, TilesError::Io { .. }), "{e:?}");
    }
}
