//! Exact bilateral filter on float planes (used on energy maps by the depth-map
//! stacker: `energy_smooth_size`, `energy_sigma_color`, `energy_sigma_space`).
//!
//! OpenCV's `bilateralFilter` parameters and weights: the window is the disc of
//! radius `diameter / 2` (pixels farther than the radius from the centre are left
//! out), a neighbour at offset `(i, j)` with value `v` weighs
//! `exp(-(i^2 + j^2) / (2 sigma_space^2)) * exp(-(v - c)^2 / (2 sigma_color^2))`
//! against the centre value `c`, borders are reflected (reflect-101). Differences
//! from OpenCV, on purpose:
//! - a `diameter` of 1 or less is the identity (the spec; OpenCV would derive a
//!   radius from `sigma_space` for `diameter <= 0` and use a 3x3 window for 1);
//! - the range weight is computed for each pixel (exact), not read from OpenCV's
//!   interpolated table;
//! - sigmas must be positive (OpenCV silently replaces `<= 0` by 1).
//!
//! The cost is proportional to the number of pixels in the disc; rows run in
//! parallel and the result does not depend on the number of threads.

use fs_core::cpu::CpuLevel;
use fs_core::{CoreError, Float, Plane, PlaneMut, reflect101};
use rayon::prelude::*;

use crate::FilterError;
use crate::error::check_range;
use crate::exp::exp_neg;

/// Options of [`bilateral_filter`]. `Default` is the spec's depth-map energy
/// smoothing: diameter 1 (off), sigma_color 0.8, sigma_space 2.
#[derive(Debug, Clone, PartialEq)]
pub struct BilateralOptions {
    /// Window diameter in pixels (`energy_smooth_size`); the radius is
    /// `diameter / 2`, so an even diameter acts as the next odd one. 1 or less:
    /// the identity. At most 255.
    pub diameter: i32,
    /// Range sigma, in sample units (`energy_sigma_color`): > 0.
    pub sigma_color: f64,
    /// Space sigma, in pixels (`energy_sigma_space`): > 0.
    pub sigma_space: f64,
}

impl Default for BilateralOptions {
    fn default() -> Self {
        Self { diameter: 1, sigma_color: 0.8, sigma_space: 2.0 }
    }
}

impl BilateralOptions {
    /// Checks every option, naming the first bad one as the user knows it
    /// (`energy_smooth_size`, `energy_sigma_color`, `energy_sigma_space`).
    pub fn validate(&self) -> Result<(), FilterError> {
        if self.diameter > 255 {
            return Err(FilterError::InvalidOption {
                name: "energy_smooth_size",
                reason: format!("must be at most 255, got {}", self.diameter),
            });
        }
        check_range("energy_sigma_color", self.sigma_color, 0.0, true, f64::MAX)?;
        check_range("energy_sigma_space", self.sigma_space, 0.0, true, f64::MAX)
    }

    /// The window radius: `diameter / 2`, or 0 (the identity) for a diameter of 1
    /// or less.
    pub fn radius(&self) -> usize {
        if self.diameter <= 1 { 0 } else { (self.diameter / 2) as usize }
    }
}

/// The window's offsets `(dy, dx)` and space weights, row by row.
pub(crate) fn space_taps(radius: usize, sigma_space: f64) -> Vec<(isize, isize, f64)> {
    let r = radius as isize;
    let coeff = -0.5 / (sigma_space * sigma_space);
    let mut taps = Vec::new();
    for dy in -r..=r {
        for dx in -r..=r {
            let d2 = (dy * dy + dx * dx) as f64;
            if d2.sqrt() <= radius as f64 {
                taps.push((dy, dx, (d2 * coeff).exp()));
            }
        }
    }
    taps
}

/// Bilateral filter of `src` into `dst` (same size). See the module docs for the
/// weights.
///
/// ```
/// use fs_core::{Plane, PlaneMut};
/// use fs_filters::{BilateralOptions, bilateral_filter};
///
/// // A noisy step: the noise is smoothed, the step is kept.
/// let src: Vec<f32> = (0..64)
///     .map(|i| if i % 8 < 4 { 10.0 } else { 50.0 } + if i % 3 == 0 { 0.5 } else { 0.0 })
///     .collect();
/// let mut dst = vec![0.0f32; 64];
/// let options = BilateralOptions { diameter: 5, sigma_color: 2.0, sigma_space: 2.0 };
/// bilateral_filter(
///     Plane::new(&src, 8, 8).unwrap(),
///     PlaneMut::new(&mut dst, 8, 8).unwrap(),
///     &options,
/// )
/// .unwrap();
/// assert!((dst[3] - 10.17).abs() < 0.1 && (dst[4] - 50.17).abs() < 0.1, "{dst:?}");
/// ```
pub fn bilateral_filter<T: Float>(
    src: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    options: &BilateralOptions,
) -> Result<(), FilterError> {
    options.validate()?;
    let (w, h) = (src.width(), src.height());
    if dst.width() != w || dst.height() != h {
        return Err(CoreError::Dimensions(format!(
            "bilateral filter output is {}x{}, input {w}x{h}",
            dst.width(),
            dst.height()
        ))
        .into());
    }
    let r = options.radius();
    if r == 0 {
        dst.as_mut_slice().copy_from_slice(src.as_slice());
        return Ok(());
    }
    let taps: Vec<(usize, T)> = space_taps(r, options.sigma_space)
        .into_iter()
        .map(|(dy, dx, ws)| {
            let pw = w + 2 * r;
            ((dy + r as isize) as usize * pw + (dx + r as isize) as usize, T::from_f64(ws))
        })
        .collect();
    let color_coeff = T::from_f64(-0.5 / (options.sigma_color * options.sigma_color));
    let pw = w + 2 * r;
    let col_src: Vec<usize> = (0..pw).map(|px| reflect101(px as isize - r as isize, w)).collect();
    // Allocation: one padded copy of the plane per call.
    let mut padded = vec![T::zero(); pw * (h + 2 * r)];
    padded.par_chunks_mut(pw).enumerate().for_each(|(py, row)| {
        let s = src.row(reflect101(py as isize - r as isize, h));
        for (d, &sx) in row.iter_mut().zip(&col_src) {
            *d = s[sx];
        }
    });
    dst.as_mut_slice().par_chunks_mut(w).enumerate().for_each_init(
        // Allocation: two scratch rows per rayon task.
        || (vec![T::zero(); w], vec![T::zero(); w]),
        |(sum, wsum), (y, out)| {
            let row = Row { padded: &padded, base: y * pw, center: r * pw + r, taps: &taps };
            filter_row(&row, color_coeff, sum, wsum, out);
        },
    );
    Ok(())
}

/// One output row's inputs: the padded plane, where the row's window starts, the
/// centre's offset from there, and the taps (offset from the window start, space
/// weight).
struct Row<'a, T> {
    padded: &'a [T],
    base: usize,
    center: usize,
    taps: &'a [(usize, T)],
}

/// Filters one row; the one dispatch point for wider vectors (as in NL-means: the
/// same loop compiled for AVX-512F / AVX2 / baseline, same bits from each; the
/// level comes from [`fs_core::cpu`]).
fn filter_row<T: Float>(row: &Row<'_, T>, cc: T, sum: &mut [T], wsum: &mut [T], out: &mut [T]) {
    filter_row_at(CpuLevel::detected(), row, cc, sum, wsum, out);
}

/// [`filter_row`] at a given CPU level (capped at what the CPU supports), so tests
/// can run every level.
fn filter_row_at<T: Float>(
    level: CpuLevel,
    row: &Row<'_, T>,
    cc: T,
    sum: &mut [T],
    wsum: &mut [T],
    out: &mut [T],
) {
    match level.min(CpuLevel::native()) {
        #[cfg(target_arch = "x86_64")]
        CpuLevel::Avx512 => {
            // SAFETY: the CPU supports AVX-512F (the level is capped by `native`).
            unsafe { filter_row_avx512(row, cc, sum, wsum, out) }
        }
        #[cfg(target_arch = "x86_64")]
        CpuLevel::Avx2 => {
            // SAFETY: the CPU supports AVX2 (the level is capped by `native`).
            unsafe { filter_row_avx2(row, cc, sum, wsum, out) }
        }
        _ => filter_row_body(row, cc, sum, wsum, out),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn filter_row_avx512<T: Float>(
    row: &Row<'_, T>,
    cc: T,
    sum: &mut [T],
    wsum: &mut [T],
    out: &mut [T],
) {
    filter_row_body(row, cc, sum, wsum, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn filter_row_avx2<T: Float>(
    row: &Row<'_, T>,
    cc: T,
    sum: &mut [T],
    wsum: &mut [T],
    out: &mut [T],
) {
    filter_row_body(row, cc, sum, wsum, out);
}

#[inline(always)]
fn filter_row_body<T: Float>(
    row: &Row<'_, T>,
    color_coeff: T,
    sum: &mut [T],
    wsum: &mut [T],
    out: &mut [T],
) {
    let w = out.len();
    sum.fill(T::zero());
    wsum.fill(T::zero());
    let center = &row.padded[row.base + row.center..][..w];
    for &(offset, ws) in row.taps {
        let nb = &row.padded[row.base + offset..][..w];
        for (((s, ww), &v), &c) in sum.iter_mut().zip(wsum.iter_mut()).zip(nb).zip(center) {
            let d = v - c;
            let a = (d * d * color_coeff).to_f64() as f32;
            let wt = ws * T::from_f32(exp_neg(a));
            *s += wt * v;
            *ww += wt;
        }
    }
    for ((o, &s), &ww) in out.iter_mut().zip(sum.iter()).zip(wsum.iter()) {
        *o = s / ww;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every CPU level this machine supports gives the same bits as the baseline
    /// build; the levels run are printed.
    #[test]
    fn dispatched_row_equals_baseline() {
        let (w, r) = (37usize, 3usize);
        let pw = w + 2 * r;
        let padded: Vec<f32> =
            (0..pw * (2 * r + 1)).map(|i| ((i * 7919) % 1013) as f32 * 0.1).collect();
        let taps: Vec<(usize, f32)> = space_taps(r, 2.0)
            .into_iter()
            .map(|(dy, dx, ws)| ((dy + 3) as usize * pw + (dx + 3) as usize, ws as f32))
            .collect();
        let row = Row { padded: &padded, base: 0, center: r * pw + r, taps: &taps };
        let (mut s, mut ws) = (vec![0.0; w], vec![0.0; w]);
        let mut b = vec![0.0; w];
        filter_row_body(&row, -0.5 / 400.0, &mut s, &mut ws, &mut b);
        assert!(b.iter().all(|v| v.is_finite() && *v >= 0.0));
        let levels = CpuLevel::all_supported();
        assert_eq!(levels[0], CpuLevel::Scalar);
        for &level in &levels {
            let mut a = vec![0.0; w];
            filter_row_at(level, &row, -0.5 / 400.0, &mut s, &mut ws, &mut a);
            assert_eq!(a, b, "{level:?}");
        }
        println!("levels run: {levels:?}");
    }
}
