//! fs-pyramid: Laplacian pyramids and the pyramid focus stacker [`PyramidStack`].
//!
//! A focus stack is a series of photographs of one subject, each sharp at another
//! depth. [`PyramidStack`] fuses them into one image sharp everywhere: every frame
//! is split into a Laplacian pyramid (band-pass detail levels and a small base);
//! each detail coefficient is taken from the frame whose local energy (the square
//! of the luma of the Laplacian, smoothed by the generating kernel) is largest
//! there; the base level by the local entropy + variance rule; the fused pyramid is
//! collapsed back to an image. See the spec, section PyramidStack. One addition of
//! ours, on by default: the [noise guard](noise) averages the frames, instead of
//! picking the loudest, where nothing on the finest level stands out of the noise,
//! so flat areas come out no noisier than the frames rather than noisier
//! (`noise_guard: 0.0` gives the spec's plain rule).
//!
//! ```
//! use fs_core::{BitDepth, ChannelLayout, Frame, FrameInfo, NoProgress, PixelFormat, Samples};
//! use fs_pyramid::{PyramidOptions, PyramidStack};
//!
//! // Two 64x64 gray frames: the left half detailed in the first, the right half in
//! // the second, the other half flat.
//! let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight };
//! let info = FrameInfo { width: 64, height: 64, format };
//! let checker = |x: usize, y: usize| if (x / 2 + y / 2) % 2 == 0 { 60u8 } else { 190 };
//! let frame = |left: bool| {
//!     let px = (0..64 * 64)
//!         .map(|i| {
//!             let (x, y) = (i % 64, i / 64);
//!             if (x < 32) == left { checker(x, y) } else { 125 }
//!         })
//!         .collect();
//!     Ok(Frame::new(info, Samples::U8(px)).unwrap())
//! };
//! let stacker = PyramidStack::new(PyramidOptions::default()).unwrap();
//! let out = stacker.stack([frame(true), frame(false)], &NoProgress).unwrap();
//! let Samples::U8(px) = out.samples() else { unreachable!() };
//! // Both halves keep their detail: checker pixels far from the seam come out
//! // within a few levels of the sharp frame's (the flat frames have 125 there).
//! for (x, y) in [(10, 20), (11, 20), (50, 20), (52, 21)] {
//!     assert!(px[y * 64 + x].abs_diff(checker(x, y)) <= 3, "({x}, {y}): {}", px[y * 64 + x]);
//! }
//! ```
//!
//! # Pyramids on their own
//! [`reduce`], [`expand`], [`gaussian_pyramid`], [`laplacian_pyramid`] and
//! [`collapse`] work on single float planes (`f32` or `f64`) with any 5-tap kernel
//! (usually [`fs_core::generating_kernel`]); reflect-101 borders throughout.
//! [`reduce_samples`] reduces a frame's interleaved integer samples without a float
//! copy, and [`expand_row`] gives one row of an expansion, for loops that use each
//! expanded row at once (fs-depthmap's blend builds its pyramids from these). The
//! row kernels are fused (reduce computes only the kept rows and columns, expand
//! skips the inserted zeros) and bit-identical to the textbook definitions built
//! from [`fs_core::convolve_separable`].
//!
//! # Choices the spec leaves open
//! - Levels: `floor(log2(min(h, w) / pyramid_min_size))`, fewer if a level would be
//!   smaller than 4 pixels; an image smaller than `pyramid_min_size` has no detail
//!   levels and is fused by the base rule alone.
//! - Alpha (gray+alpha, RGBA): colour is premultiplied by alpha for the fusion,
//!   alpha fused like a colour channel, colour divided by the rounded fused alpha at
//!   the end (0 where it rounds to 0) — see [`alpha`].
//! - Base level: Shannon-form local entropy, see [`base`].
//! - Output: collapsed, clipped to `[0, max]`, rounded half away from zero.
//!
//! # Beyond the spec: the noise guard
//! The spec's maximum-energy rule makes flat areas noisier than the noisiest frame
//! (it picks the loudest noise pixel by pixel). [`PyramidOptions::noise_guard`]
//! (default 2) blends the finest level towards the frames' mean where the best
//! frame's energy does not stand out of the stack's measured noise, nor out of the
//! other frames' energies; the method, the noise measurement and the figures are
//! in [`noise`]. On the real stacks the flattest 5 % of the pixels come out at
//! 0.40x (amber, noisy) the quietest frame's gradient energy and 0.90x (pcb) the
//! noisiest's (the plain rule: 1.7x to 2.2x the noisiest's), the textured quarter
//! keeps 99.8 % to 100 % of its gradient energy (fine texture sharp in one frame
//! stays), and the generated stacks' PSNR is unchanged. It costs a running sum of
//! level 0 (see the figures below).
//!
//! # Streaming and determinism
//! Frames are folded in one at a time ([`stack`](PyramidStack::stack) takes any
//! iterator of frames; a producer thread decodes the next frame while the current
//! one is processed); memory does not grow with the number of frames. Work within a
//! level is split over rows with rayon; the output is bit-identical for any number
//! of threads and identical to a plain whole-pyramid reference (kept in the tests).
//!
//! # Speed and memory
//! Peak memory is flat in the number of frames: the running pyramid (coefficients
//! and energy, 512 MB in f32 for 24 megapixels RGB), the noise guard's running sums
//! of level 0 (energy and three channels: 384 MB in f32), the current frame's
//! Gaussian levels 1.. (96 MB), two decoded frames (72 MB each) and the decoder's
//! buffers. JPEG decoding runs on the producer thread and overlaps the pyramid work;
//! the rest is mostly memory traffic of the running level 0 (read, compare, blend,
//! write back per frame). Figures against the decode-only floor are in
//! `docs/benchmarks.md` (`cargo xtask bench`).
//!
//! Out of core, [`PyramidAutoStack`] keeps a stack of 12000x8000 16-bit frames
//! under `memory_limit`: TIFF frames are decoded straight into the frame's buffer,
//! the finest levels go to disk-backed tiles, and decode-ahead is turned off when two
//! decoded frames would not fit ([`PyramidTilesStack::with_prefetch`],
//! [`AutoChoice::prefetch`]). The peak is then at the end: the output plus the TIFF
//! writer's compressed strips, which are all held before they are written.
#![deny(missing_docs)]

pub mod alpha;
mod auto;
pub mod base;
mod error;
mod fuse;
pub mod noise;
mod options;
mod pyramid;
mod reduce;
mod rows;
mod stack;
mod tiled;

pub use crate::auto::{
    AutoChoice, PyramidAutoOptions, PyramidAutoStack, StackMode, memory_estimate,
    tiled_memory_estimate, tiled_memory_estimate_with,
};
pub use crate::error::PyramidError;
pub use crate::fuse::reduce_samples;
pub use crate::options::{MAX_GEN_KERNEL, PyramidOptions};
pub use crate::pyramid::{
    Pyramid, collapse, collapse_in_place, fill_gaussian, gaussian_pyramid, gaussian_to_laplacian,
    laplacian_pyramid, level_sizes, pyramid_levels,
};
pub use crate::reduce::{
    expand, expand_add, expand_into, expand_row, expand_sub, reduce, reduce_into, reduced_size,
};
pub use crate::stack::PyramidStack;
pub use crate::tiled::{
    PyramidTilesOptions, PyramidTilesStack, default_max_threads, tiled_disk_bytes,
};
