//! The only `unsafe` code of fs-tiles: mapping a temporary file, viewing its bytes
//! as floats, returning pages to the kernel, and asking the file system for free
//! space.
//!
//! # What can go wrong with a mapped file
//! The files are created by us, in a fresh private folder (mode 0700), and their
//! blocks are reserved with `posix_fallocate` before mapping, so a write through the
//! map never needs a new disk block (a full disk is reported when the plane is
//! created, as [`crate::TilesError::DiskFull`], not as a crash mid-stack). If the
//! file system does not support reserving blocks, the file is extended sparsely
//! instead, and a disk that fills up during the work then makes the kernel send
//! `SIGBUS`, which ends the process. Likewise, if another process of the same user
//! truncates a mapped file while it is in use, the next access to a page past the
//! new end raises `SIGBUS` and the process dies; it cannot read wrong data silently.
//! Both are outside what Rust's memory model can describe; the maps are otherwise
//! ordinary exclusive memory, owned by one [`MappedFile`].

use std::fs::File;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::path::Path;

use memmap2::{MmapMut, MmapOptions, UncheckedAdvice};

use crate::{Result, TilesError};

/// Plain sample types that may be viewed in a mapped file: every bit pattern is a
/// valid value, alignment divides the page size. Sealed: `f32`, `f64`, `u8`, `u16`.
pub trait Element: Copy + Send + Sync + 'static + sealed::Sealed {}
impl Element for f32 {}
impl Element for f64 {}
impl Element for u8 {}
impl Element for u16 {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
}

/// A temporary file of `len` elements of `T`, reserved on disk and mapped shared
/// read-write. Its content starts as all zero bits.
#[derive(Debug)]
pub(crate) struct MappedFile<T> {
    map: MmapMut,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: Element> MappedFile<T> {
    /// Sizes `file` (at `path`, for messages) to `len` elements and maps it.
    pub(crate) fn new(file: &File, path: &Path, len: usize) -> Result<Self> {
        let bytes = len
            .checked_mul(size_of::<T>())
            .filter(|&b| b > 0 && b <= isize::MAX as usize)
            .ok_or_else(|| TilesError::Dimensions(format!("a plane of {len} samples")))?;
        reserve(file, path, bytes as u64)?;
        // SAFETY: the file is ours alone (created just now in a private temporary
        // folder, see the module docs for truncation by others), it has exactly
        // `bytes` bytes, and the map is shared so writes go to the file.
        let map = unsafe { MmapOptions::new().len(bytes).map_mut(file) }
            .map_err(|source| TilesError::Io { path: path.to_path_buf(), source })?;
        Ok(Self { map, len, _t: PhantomData })
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        // SAFETY: the map is page-aligned (so aligned for T), `len * size_of::<T>()`
        // bytes long, lives as long as `self`, and every bit pattern is a valid T
        // (Element is sealed to plain numbers). The borrow of `self` prevents a
        // simultaneous `&mut`.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast::<T>(), self.len) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`; `&mut self` makes the view exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().cast::<T>(), self.len) }
    }

    /// Lets the kernel drop the resident pages wholly inside elements
    /// `start..end` from this process (they stay in the file and the page cache,
    /// and are read back on the next access), so the resident set stays bounded.
    pub(crate) fn release(&self, start: usize, end: usize) -> Result<()> {
        let page = page_size();
        let (b0, b1) = (start * size_of::<T>(), end.min(self.len) * size_of::<T>());
        let (p0, p1) = (b0.div_ceil(page) * page, b1 / page * page);
        if p1 <= p0 {
            return Ok(());
        }
        // SAFETY: MADV_DONTNEED on a *shared* file mapping discards only the page
        // table entries: dirty pages are written to the page cache first, and later
        // reads see the file's current content, so no value visible through any
        // outstanding borrow changes. (On a private mapping it would zero the pages,
        // which is why memmap2 marks it unchecked; ours is always shared.)
        unsafe { self.map.unchecked_advise_range(UncheckedAdvice::DontNeed, p0, p1 - p0) }
            .map_err(|source| TilesError::Io { path: "madvise".into(), source })
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

/// Reserves `bytes` on disk for `file`; a sparse extension where the file system
/// cannot reserve.
fn reserve(file: &File, path: &Path, bytes: u64) -> Result<()> {
    let io = |source| TilesError::Io { path: path.to_path_buf(), source };
    let len = libc::off_t::try_from(bytes)
        .map_err(|_| TilesError::Dimensions(format!("a file of {bytes} bytes")))?;
    // SAFETY: a plain system call on a file descriptor we own.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    match rc {
        0 => Ok(()),
        libc::ENOSPC | libc::EDQUOT => Err(TilesError::DiskFull {
            path: path.to_path_buf(),
            bytes,
            source: std::io::Error::from_raw_os_error(rc),
        }),
        _ => file.set_len(bytes).map_err(io),
    }
}

/// Bytes free for an unprivileged user on the file system holding `dir`.
pub fn available_space(dir: &Path) -> Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let io = |source| TilesError::Io { path: dir.to_path_buf(), source };
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path, `st` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types are 32-bit on some targets
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}
