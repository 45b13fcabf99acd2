//! fs-tiles: memory-mapped, disk-backed float planes and tile grids, for stacking
//! images whose pyramids do not fit in memory.
//!
//! A [`DiskPlane`] is a `width x height` plane of `f32`/`f64` (or `u8`/`u16`)
//! stored in a temporary file and mapped into memory: it reads and writes as an
//! ordinary slice or [`fs_core::Plane`] / [`fs_core::PlaneMut`], so the pyramid
//! kernels run on it unchanged, while its pages can leave memory
//! ([`DiskPlane::release_rows`] after a band is done, or the kernel under memory
//! pressure). A [`TileGrid`] splits a plane into tiles (or full-width bands) with
//! halos for kernels that read across tile edges.
//!
//! ```
//! use fs_tiles::{ScratchDir, TileGrid};
//!
//! let scratch = ScratchDir::new(None)?; // $FSTACK_TMPDIR, else the system temp folder
//! scratch.check_space(2 * 1000 * 600 * 4)?; // fail early, with a clear message
//! let mut a = scratch.plane::<f32>(1000, 600)?;
//! let mut b = scratch.plane::<f32>(1000, 600)?;
//! a.fill(1.5);
//! for tile in TileGrid::bands(1000, 600, 128, 2)?.tiles() {
//!     // Read the halo rows of `a`, write the core rows of `b`, then let them go.
//!     let src = a.rows(tile.halo.y0, tile.halo.y1);
//!     let dst = b.rows_mut(tile.core.y0, tile.core.y1);
//!     dst.copy_from_slice(&src[(tile.core.y0 - tile.halo.y0) * 1000..][..dst.len()]);
//!     b.release_rows(tile.core.y0, tile.core.y1)?;
//! }
//! assert!(b.plane().row(599).iter().all(|&v| v == 1.5));
//! let dir = scratch.path().to_path_buf();
//! drop((a, b, scratch));
//! assert!(!dir.exists()); // temporary files are gone
//! # Ok::<(), fs_tiles::TilesError>(())
//! ```
//!
//! # Temporary files
//! They live in a private `fstack-XXXXXX` folder inside, in this order: the folder
//! given to [`ScratchDir::new`], `$FSTACK_TMPDIR`, the system temp folder. The
//! folder and its files are removed when the [`ScratchDir`] / [`DiskPlane`]s are
//! dropped: on success, on error, on panic and on cancel. Callers estimate the
//! space they need and call [`ScratchDir::check_space`] before work starts; every
//! file's blocks are reserved when it is created (`posix_fallocate`), so a disk
//! that fills up anyway is a [`TilesError::DiskFull`] naming the file, not a crash
//! in the middle of the work. What happens if a mapped file is truncated by
//! someone else: see the `map` module (the process gets `SIGBUS` and dies).
//!
//! # Sizes
//! [`parse_byte_size`] reads `512M`, `8G`, `1.5GiB`, `1048576` (binary units) for
//! options such as `memory_limit`; [`format_bytes`] writes them back.
#![deny(missing_docs)]

mod error;
mod grid;
mod map;
mod plane;
mod size;
mod spill;

pub use crate::error::{Result, TilesError};
pub use crate::grid::{Rect, Tile, TileGrid};
pub use crate::map::{Element, available_space};
pub use crate::plane::{
    DiskPlane, ScratchDir, TMPDIR_ENV, check_space, checked_temp_root, temp_root,
};
pub use crate::size::{format_bytes, parse_byte_size};
pub use crate::spill::{FrameSpill, RowSamples, RowsBuffer, SpillReader};
