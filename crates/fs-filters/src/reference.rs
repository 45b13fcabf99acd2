//! Plain scalar implementations, one pixel at a time in `f64`, written straight
//! from the definitions. Slow: for tests of the fast paths and for quality
//! experiments, not for production.

use fs_core::{Float, Image, Plane, reflect101};

use crate::bilateral::space_taps;
use crate::nlmeans::WEIGHT_CUTOFF;
use crate::{BilateralOptions, NlMeansOptions};

/// How [`nl_means_denoise_reference`] turns a patch distance into a weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NlMeansWeighting {
    /// `exp(-d2 / h^2)`: OpenCV's and [`crate::nl_means_denoise`]'s weights.
    Plain,
    /// Buades' noise-corrected `exp(-max(d2 - 2 sigma^2, 0) / h^2)`, with the
    /// noise sigma given in 8-bit units.
    NoiseCorrected {
        /// Noise standard deviation (8-bit units).
        sigma: f64,
    },
}

/// Non-local means, directly: for each colour sample of each pixel, the weighted
/// mean over the search window with `d2` the mean squared difference of the two
/// patches over all colour channels; weights below 0.001 dropped; reflect-101
/// borders. Alpha (the last channel when `alpha` is true) is copied. No clipping
/// (the weighted mean of in-range samples is in range). `options.h` is in the
/// image's own units here (no bit-depth scaling), and `h = 0` is not allowed.
pub fn nl_means_denoise_reference<T: Float>(
    image: &Image<T>,
    alpha: bool,
    options: &NlMeansOptions,
    weighting: NlMeansWeighting,
) -> Image<T> {
    let (w, h, ch) = image.shape();
    let cc = ch - usize::from(alpha);
    let pr = (options.patch_size / 2) as isize;
    let sr = (options.search_size / 2) as isize;
    let at = |c: usize, y: isize, x: isize| -> f64 {
        image.plane(c).row(reflect101(y, h))[reflect101(x, w)].to_f64()
    };
    let n = (options.patch_size * options.patch_size * cc) as f64;
    let h2 = options.h * options.h;
    let mut out = image.clone();
    let mut acc = vec![0.0f64; cc];
    for y in 0..h as isize {
        for x in 0..w as isize {
            acc.fill(0.0);
            let mut wsum = 0.0;
            for oy in -sr..=sr {
                for ox in -sr..=sr {
                    let mut ssd = 0.0;
                    for c in 0..cc {
                        for i in -pr..=pr {
                            for j in -pr..=pr {
                                let d = at(c, y + i, x + j) - at(c, y + oy + i, x + ox + j);
                                ssd += d * d;
                            }
                        }
                    }
                    let d2 = ssd / n;
                    let arg = match weighting {
                        NlMeansWeighting::Plain => -d2 / h2,
                        NlMeansWeighting::NoiseCorrected { sigma } => {
                            -(d2 - 2.0 * sigma * sigma).max(0.0) / h2
                        }
                    };
                    if arg < WEIGHT_CUTOFF {
                        continue;
                    }
                    let wt = arg.exp();
                    wsum += wt;
                    for (c, a) in acc.iter_mut().enumerate() {
                        *a += wt * at(c, y + oy, x + ox);
                    }
                }
            }
            for (c, a) in acc.iter().enumerate() {
                out.plane_mut(c).as_mut_slice()[y as usize * w + x as usize] =
                    T::from_f64(a / wsum);
            }
        }
    }
    out
}

/// The bilateral filter, directly: for each pixel the weighted mean over the disc
/// of radius `options.radius()` (identity for radius 0), reflect-101 borders.
pub fn bilateral_filter_reference<T: Float>(
    src: Plane<'_, T>,
    options: &BilateralOptions,
) -> Vec<T> {
    let (w, h) = (src.width(), src.height());
    let r = options.radius();
    if r == 0 {
        return src.as_slice().to_vec();
    }
    let taps = space_taps(r, options.sigma_space);
    let cc = -0.5 / (options.sigma_color * options.sigma_color);
    let mut out = vec![T::zero(); w * h];
    for y in 0..h {
        for x in 0..w {
            let c = src.row(y)[x].to_f64();
            let (mut sum, mut wsum) = (0.0, 0.0);
            for &(dy, dx, ws) in &taps {
                let v = src.row(reflect101(y as isize + dy, h))[reflect101(x as isize + dx, w)]
                    .to_f64();
                let wt = ws * ((v - c) * (v - c) * cc).exp();
                sum += wt * v;
                wsum += wt;
            }
            out[y * w + x] = T::from_f64(sum / wsum);
        }
    }
    out
}
