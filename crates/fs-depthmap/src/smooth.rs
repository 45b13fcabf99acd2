//! Smoothing of energy maps (bilateral) and of weight maps (Gaussian).
//!
//! The bilateral filter is a private copy of OpenCV's `bilateralFilter` semantics
//! (circular window of radius `diameter / 2`, space weight
//! `exp(-r^2 / (2 sigma_space^2))`, range weight `exp(-d^2 / (2 sigma_color^2))`,
//! reflect-101 borders) because fs-filters' bilateral filter was not yet available
//! when this crate was written; it has the same signature in spirit and should be
//! replaced by `fs_filters::bilateral_filter` once that lands.

use fs_core::{Float, Plane, PlaneMut, gaussian_blur, reflect101};
use rayon::prelude::*;

use crate::error::{DepthMapError, Result};

/// Bilateral filter of `src` into `dst` (same size). `diameter <= 1` copies.
pub fn bilateral<T: Float>(
    src: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    diameter: usize,
    sigma_color: f64,
    sigma_space: f64,
) -> Result<()> {
    let (w, h) = (src.width(), src.height());
    if dst.width() != w || dst.height() != h {
        return Err(DepthMapError::Core(fs_core::CoreError::Dimensions(format!(
            "bilateral output is {}x{}, input {w}x{h}",
            dst.width(),
            dst.height()
        ))));
    }
    let r = diameter / 2;
    if r == 0 {
        dst.as_mut_slice().copy_from_slice(src.as_slice());
        return Ok(());
    }
    let pw = w + 2 * r;
    // Allocation: one padded copy of the plane, once per call.
    let mut padded = vec![T::zero(); pw * (h + 2 * r)];
    padded.par_chunks_mut(pw).enumerate().for_each(|(py, row)| {
        let sy = reflect101(py as isize - r as isize, h);
        let srow = src.row(sy);
        for (px, v) in row.iter_mut().enumerate() {
            *v = srow[reflect101(px as isize - r as isize, w)];
        }
    });
    let mut taps: Vec<(usize, T)> = Vec::new();
    for dy in 0..=2 * r {
        for dx in 0..=2 * r {
            let (oy, ox) = (dy as f64 - r as f64, dx as f64 - r as f64);
            let d2 = oy * oy + ox * ox;
            if d2 <= (r * r) as f64 {
                taps.push((dy * pw + dx, T::from_f64((-d2 / (2.0 * sigma_space * sigma_space)).exp())));
            }
        }
    }
    let gc = T::from_f64(-0.5 / (sigma_color * sigma_color));
    dst.as_mut_slice().par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        for (x, o) in out.iter_mut().enumerate() {
            let base = y * pw + x;
            let centre = padded[base + r * pw + r];
            let (mut num, mut den) = (T::zero(), T::zero());
            for &(off, ws) in &taps {
                let v = padded[base + off];
                let d = v - centre;
                let wt = ws * (gc * d * d).exp();
                num += wt * v;
                den += wt;
            }
            *o = num / den;
        }
    });
    Ok(())
}

/// Gaussian smoothing of a weight map with an odd `size` (sigma from the size, as
/// OpenCV's `GaussianBlur(.., 0)`); size 1 copies.
pub fn smooth_weights<T: Float>(src: Plane<'_, T>, mut dst: PlaneMut<'_, T>, size: usize) -> Result<()> {
    if size <= 1 {
        dst.as_mut_slice().copy_from_slice(src.as_slice());
        return Ok(());
    }
    Ok(gaussian_blur(src, dst, size, 0.0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilateral_keeps_a_strong_edge_and_smooths_small_noise() {
        // 8x1 row: a step from 0 to 10 with a small bump of 0.1 at column 1.
        let src = [0.0f64, 0.1, 0.0, 0.0, 10.0, 10.0, 10.0, 10.0];
        let mut out = [0.0f64; 8];
        bilateral(Plane::new(&src, 8, 1).unwrap(), PlaneMut::new(&mut out, 8, 1).unwrap(), 5, 0.8, 2.0)
            .unwrap();
        // The edge survives: the range weight of a difference of 10 with sigma 0.8 is
        // exp(-78), nothing leaks across.
        assert!(out[3] < 0.05 && out[4] > 9.99, "{out:?}");
        // The bump is spread over its neighbours.
        assert!(out[1] < 0.1 && out[0] > 0.0 && out[2] > 0.0, "{out:?}");
        let mut same = [0.0f64; 8];
        bilateral(Plane::new(&src, 8, 1).unwrap(), PlaneMut::new(&mut same, 8, 1).unwrap(), 1, 0.8, 2.0)
            .unwrap();
        assert_eq!(same, src);
    }
}
