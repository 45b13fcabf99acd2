//! fs-pyramid: Laplacian pyramids and the pyramid focus stacker [`PyramidStack`].
//!
//! A focus stack is a series of photographs of one subject, each sharp at another
//! depth. [`PyramidStack`] fuses them into one image sharp everywhere: every frame
//! is split into a Laplacian pyramid (band-pass detail levels and a small base);
//! each detail coefficient is taken from the frame whose local energy (the square
//! of the luma of the Laplacian, smoothed by the generating kernel) is largest
//! there; the base level by the local entropy + variance rule; the fused pyramid is
//! collapsed back to an image. See the spec, section PyramidStack.
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
//! // Both halves keep their detail: a checker pixel far from the seam is exact.
//! assert_eq!(px[20 * 64 + 10], checker(10, 20));
//! assert_eq!(px[20 * 64 + 50], checker(50, 20));
//! ```
//!
//! # Pyramids on their own
//! [`reduce`], [`expand`], [`gaussian_pyramid`], [`laplacian_pyramid`] and
//! [`collapse`] work on single float planes (`f32` or `f64`) with any 5-tap kernel
//! (usually [`fs_core::generating_kernel`]); reflect-101 borders throughout. The
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
//! # Streaming and determinism
//! Frames are folded in one at a time ([`stack`](PyramidStack::stack) takes any
//! iterator of frames; a producer thread decodes the next frame while the current
//! one is processed); memory does not grow with the number of frames. Work within a
//! level is split over rows with rayon; the output is bit-identical for any number
//! of threads and identical to a plain whole-pyramid reference (kept in the tests).
#![deny(missing_docs)]

pub mod alpha;
pub mod base;
mod error;
mod fuse;
mod options;
mod pyramid;
mod reduce;
mod rows;
mod stack;

pub use crate::error::PyramidError;
pub use crate::options::PyramidOptions;
pub use crate::pyramid::{
    Pyramid, collapse, collapse_in_place, fill_gaussian, gaussian_pyramid, gaussian_to_laplacian,
    laplacian_pyramid, level_sizes, pyramid_levels,
};
pub use crate::reduce::{
    expand, expand_add, expand_into, expand_sub, reduce, reduce_into, reduced_size,
};
pub use crate::stack::PyramidStack;
