//! Smoothing of weight maps (`pyramid_smooth_size`). Energy maps are smoothed by
//! `fs_filters::bilateral_filter`.

use fs_core::{Float, Plane, PlaneMut, gaussian_blur};

use crate::error::Result;

/// Gaussian smoothing of a weight map with an odd `size` (sigma from the size, as
/// OpenCV's `GaussianBlur(.., 0)`); size 1 copies.
pub fn smooth_weights<T: Float>(
    src: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    size: usize,
) -> Result<()> {
    if size <= 1 {
        dst.as_mut_slice().copy_from_slice(src.as_slice());
        return Ok(());
    }
    Ok(gaussian_blur(src, dst, size, 0.0)?)
}
