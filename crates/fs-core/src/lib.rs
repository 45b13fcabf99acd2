//! fs-core: the foundation of fstack, a focus-stacking framework.
//!
//! It holds what every stacker and tool needs:
//! - [`Image<T>`]: planar float images (f32 by default, f64 on request — the seed's
//!   `float_type`) with checked borrowed views [`Plane`] / [`PlaneMut`];
//! - [`Frame`]: a decoded JPEG/PNG/TIFF frame (8/16-bit; gray, gray+alpha, RGB, RGBA)
//!   with its EXIF and ICC metadata, and exact conversions to and from float images;
//! - frame I/O ([`read_frame`], [`read_frame_info`], [`write_frame`], [`list_frames`])
//!   with atomic writes and metadata carry-over, and a frame's capture time
//!   ([`read_capture_time`]);
//! - the shared kernels: [`convolve_separable`] (reflect-101 borders), Gaussian and
//!   pyramid generating kernels, [`sobel`], [`luma`];
//! - the CPU level SIMD kernels dispatch on ([`cpu`], capped by `FSTACK_CPU_TARGET`);
//! - the error type [`CoreError`] and the [`Progress`] / cancel hook;
//! - for tests and benchmarks: the synthetic stack generator ([`synth`]), quality
//!   measures ([`metrics`]) and measurement references ([`mod@reference`]).
//!
//! ```
//! use fs_core::{Image, PlaneMut, convolve_separable, generating_kernel};
//!
//! // Blur a single bright pixel with the pyramid generating kernel.
//! let mut img = Image::<f32>::new(7, 7, 1).unwrap();
//! img.plane_mut(0).as_mut_slice()[24] = 1.0;
//! let k = generating_kernel::<f32>(0.4);
//! let mut out = vec![0.0f32; 49];
//! convolve_separable(img.plane(0), PlaneMut::new(&mut out, 7, 7).unwrap(), &k, &k).unwrap();
//! assert!((out[24] - 0.16).abs() < 1e-6); // 0.4 * 0.4 at the centre
//! assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! ```
//!
//! # Performance
//!
//! `cargo bench -p fs-core --bench io` (criterion) measures reading, converting and
//! writing frames; the figures are in `docs/benchmarks.md`. A fresh 24-megapixel f32
//! image is 288 MB whose first-touch page faults cost more than the conversion, so
//! stackers that read many frames should reuse one image with
//! [`Frame::to_image_into`]. Rounding back to integers is branch-free (no libm
//! `round`) and vectorises. TIFF writes compress 256 KiB strips in parallel with
//! Deflate level 1 (level 6 is an order of magnitude slower for files about a quarter
//! smaller); they include an fsync before the rename.
#![deny(missing_docs)]

mod atomic;
mod capture_time;
mod convolve;
pub mod cpu;
#[cfg(feature = "raw")]
pub mod dng;
mod error;
mod exif_block;
mod format;
mod frame;
mod image;
mod io;
mod kernels;
mod limits;
pub mod linalg;
mod metadata;
pub mod metrics;
mod progress;
pub mod raw;
pub mod reference;
mod source;
pub mod synth;
mod tiff_write;
pub mod transfer;
mod workdir;

pub use crate::atomic::{Overwrite, copy_atomic, move_atomic, write_atomic};
pub use crate::capture_time::{CaptureTime, read_capture_time};
pub use crate::convolve::{
    convolve_columns, convolve_rows, convolve_separable, convolve_separable_reference, reflect101,
};
pub use crate::error::{CoreError, Result};
pub use crate::format::{BitDepth, ChannelLayout, FileFormat, FrameInfo, PixelFormat};
pub use crate::frame::{Frame, IntSample, Metadata, RawColour, Samples, quantize};
pub use crate::image::{Float, FloatType, Image, Plane, PlaneMut};
pub use crate::io::{
    WriteOptions, check_exists, list_frames, read_frame, read_frame_info, read_frame_with,
    sort_natural, write_frame,
};
pub use crate::kernels::{
    LUMA_WEIGHTS, gaussian_blur, gaussian_kernel, gaussian_kernel_for_sigma, generating_kernel,
    luma, luma_into, sobel,
};
pub use crate::limits::{DEFAULT_MAX_MEGAPIXELS, max_megapixels, set_max_megapixels};
pub use crate::progress::{CancelFlag, NoProgress, Progress};
pub use crate::raw::{Develop, WhiteBalance};
pub use crate::source::{
    DecodeAhead, PathFrames, check_frame, check_stack, frame_mismatch, with_prefetch,
};
pub use crate::workdir::{WorkDir, check_temp_folder, remove_stale, temp_folder};
