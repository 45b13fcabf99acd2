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
//! Results are clipped to the sample range, and every filter with its strength at
//! 0 returns the image unchanged, bit for bit.
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
//! SPEED-FIGURES
#![deny(missing_docs)]

mod bilateral;
mod error;
mod exp;
mod nlmeans;
pub mod reference;
mod unsharp;

pub use crate::bilateral::{BilateralOptions, bilateral_filter};
pub use crate::error::FilterError;
pub use crate::nlmeans::{NlMeansOptions, nl_means_denoise};
pub use crate::unsharp::{UnsharpOptions, unsharp_mask};
