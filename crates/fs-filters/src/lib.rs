//! fs-filters: the post-filters applied to a stacked image — non-local-means
//! denoise ([`nl_means_denoise`], the spec's `denoise_amount`) and unsharp mask
//! ([`unsharp_mask`], `sharpen_amount_percent` / `sharpen_radius` /
//! `sharpen_threshold`) — and the [`bilateral_filter`] that smooths the depth-map
//! stacker's energy maps (`energy_smooth_size` / `energy_sigma_color` /
//! `energy_sigma_space`).
//!
//! Images are fs-core planar float images in their native range (0..=255 or
//! 0..=65535); the [`PixelFormat`](fs_core::PixelFormat) passed along says the bit
//! depth (strengths and thresholds are given in 8-bit units and scaled by 256 for
//! 16-bit) and whether the last channel is alpha (passed through untouched).
//! Results are clipped to the sample range, and every filter switched off
//! (strength 0, or a bilateral diameter of 1 or less) returns its input
//! unchanged, bit for bit. Results do not depend on the number of threads.
//!
//! | filter | options (field: name shown to the user) | default |
//! |---|---|---|
//! | [`nl_means_denoise`] | `h`: `denoise_amount`, `patch_size`: `denoise_patch_size`, `search_size`: `denoise_search_size` | 0 (off), 7, 21 |
//! | [`unsharp_mask`] | `amount_percent`: `sharpen_amount_percent`, `radius`: `sharpen_radius`, `threshold`: `sharpen_threshold` | 0 (off), 1 px, 0 |
//! | [`bilateral_filter`] | `diameter`: `energy_smooth_size`, `sigma_color`: `energy_sigma_color`, `sigma_space`: `energy_sigma_space` | 1 (off), 0.8, 2 |
//!
//! Each options struct's `validate()` names a bad option by the name in the
//! middle column ([`FilterError::InvalidOption`]), so a job runner can show it as
//! is. [`reference`](mod@crate::reference) holds the plain scalar implementations the fast paths are
//! tested against.
//!
//! ```
//! use fs_core::{BitDepth, ChannelLayout, Image, PixelFormat};
//! use fs_filters::{NlMeansOptions, UnsharpOptions, nl_means_denoise, unsharp_mask};
//!
//! // Post-filters in the spec's order: denoise, then sharpen.
//! let format = PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Eight };
//! let img = Image::<f32>::from_planes(32, 24, vec![vec![120.0; 32 * 24]; 3]).unwrap();
//! let denoise = NlMeansOptions { h: 1.0, ..NlMeansOptions::default() };
//! let sharpen = UnsharpOptions { amount_percent: 50.0, ..UnsharpOptions::default() };
//! let out = unsharp_mask(&nl_means_denoise(&img, format, &denoise)?, format, &sharpen)?;
//! assert!(out.plane(1).as_slice().iter().all(|&v| (v - 120.0).abs() < 1e-3));
//! # Ok::<(), fs_filters::FilterError>(())
//! ```
//!
//! # Speed
//! `examples/nlmeans_time.rs` (against OpenCV's `fastNlMeansDenoisingColored` with
//! `bench/opencv_nlmeans.py`), `examples/filters_24mp.rs` and the criterion benches
//! in `benches/filters.rs` time the filters; the figures are in `docs/benchmarks.md`.
//! NL-means holds a padded `f32` copy of the colour channels and the output
//! image: about 8 bytes per pixel and colour channel besides an `f32` input.
#![deny(missing_docs)]

mod bilateral;
mod error;
mod exp;
mod nlmeans;
pub mod reference;
mod unsharp;

pub use crate::bilateral::{BilateralOptions, bilateral_filter};
pub use crate::error::FilterError;
pub use crate::nlmeans::{NlMeansOptions, nl_means_denoise, nl_means_denoise_with_progress};
pub use crate::unsharp::{UnsharpOptions, unsharp_mask};
