//! Image quality measures used by tests, benchmarks and `fstack demo`.
//!
//! Against a known truth (the synthetic stacks of [`crate::synth`]): [`psnr`] over the
//! whole image, [`psnr_masked`] over a region (the bench's edge-band PSNR, over
//! [`crate::synth::SynthStack::edge_band_mask`]), [`glow`] (the error's low
//! frequencies: halos and glow that PSNR dilutes) and [`mean_error`] (a brightness
//! shift). Without one: [`mean_gradient_energy`], a sharpness measure.

use crate::{Float, Image, Plane, PlaneMut, convolve_separable, gaussian_kernel_for_sigma};

/// The standard deviation, in pixels, of the Gaussian low-pass in [`glow`].
pub const GLOW_SIGMA: f64 = 8.0;

/// Peak signal-to-noise ratio in dB between two images of the same shape, with
/// `max` the largest sample value (255 or 65535). Identical images give infinity.
///
/// # Panics
/// If the shapes differ.
pub fn psnr<T: Float>(a: &Image<T>, b: &Image<T>, max: f64) -> f64 {
    assert_eq!(a.shape(), b.shape(), "psnr needs images of the same shape");
    let sum: f64 = a.planes().zip(b.planes()).map(|(pa, pb)| squared_error(pa, pb)).sum();
    let n: usize = a.planes().map(|p| p.len()).sum();
    db(sum / n as f64, max)
}

/// [`psnr`] of two runs of samples of the same length (a plane, or interleaved
/// channels): the same figure for samples held outside an [`Image`].
///
/// # Panics
/// If the lengths differ.
pub fn psnr_samples<T: Float>(a: &[T], b: &[T], max: f64) -> f64 {
    assert_eq!(a.len(), b.len(), "psnr_samples needs runs of the same length");
    db(squared_error(a, b) / a.len() as f64, max)
}

/// The sum of the squared differences, in f64.
fn squared_error<T: Float>(a: &[T], b: &[T]) -> f64 {
    let mut sum = 0.0f64;
    for (&x, &y) in a.iter().zip(b) {
        let d = x.to_f64() - y.to_f64();
        sum += d * d;
    }
    sum
}

/// A mean squared error as PSNR in dB for samples up to `max`.
fn db(mse: f64, max: f64) -> f64 {
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (max * max / mse).log10() }
}

/// [`psnr`] over the pixels where `mask` is true (every channel of them): `mask` has a
/// flag per pixel, row by row. NaN when the mask selects no pixel; infinity when the
/// images agree there.
///
/// # Panics
/// If the shapes differ or the mask is not one flag per pixel.
pub fn psnr_masked<T: Float>(a: &Image<T>, b: &Image<T>, max: f64, mask: &[bool]) -> f64 {
    assert_eq!(a.shape(), b.shape(), "psnr_masked needs images of the same shape");
    assert_eq!(mask.len(), a.width() * a.height(), "psnr_masked needs a flag per pixel");
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for (pa, pb) in a.planes().zip(b.planes()) {
        for ((&x, &y), _) in pa.iter().zip(pb).zip(mask).filter(|(_, m)| **m) {
            let d = x.to_f64() - y.to_f64();
            sum += d * d;
            n += 1;
        }
    }
    if n == 0 {
        return f64::NAN;
    }
    db(sum / n as f64, max)
}

/// The glow figure: the root mean square, over every pixel and channel, of the error
/// `a - truth` low-passed by a Gaussian of [`GLOW_SIGMA`] (8) pixels (reflect-101
/// borders), as a fraction of `max`. It keeps what spreads over tens of pixels (the glow
/// a defocused bright object leaves on a dark ground, halos, brightness shifts) and
/// averages away pixel-scale errors (noise, a lost fine texture), which PSNR weighs
/// alike. A constant error `e` gives `e / max`.
///
/// # Panics
/// If the shapes differ.
pub fn glow<T: Float>(a: &Image<T>, truth: &Image<T>, max: f64) -> f64 {
    assert_eq!(a.shape(), truth.shape(), "glow needs images of the same shape");
    let (w, h) = (a.width(), a.height());
    let kernel = gaussian_kernel_for_sigma::<T>(GLOW_SIGMA).expect("a positive sigma");
    // Allocation: two planes, once per call.
    let mut error = vec![T::zero(); w * h];
    let mut low = vec![T::zero(); w * h];
    let mut sum = 0.0f64;
    for (pa, pt) in a.planes().zip(truth.planes()) {
        for ((e, &x), &t) in error.iter_mut().zip(pa).zip(pt) {
            *e = x - t;
        }
        let src = Plane::new(&error, w, h).expect("sized from the image");
        let dst = PlaneMut::new(&mut low, w, h).expect("sized from the image");
        convolve_separable(src, dst, &kernel, &kernel).expect("odd kernel, equal sizes");
        sum += low.iter().map(|&v| v.to_f64() * v.to_f64()).sum::<f64>();
    }
    let n = (w * h * a.channels()) as f64;
    (sum / n).sqrt() / max
}

/// The mean error: the mean of `a` minus the mean of `truth`, over every sample, as a
/// fraction of `max` (positive: `a` is brighter).
///
/// # Panics
/// If the shapes differ.
pub fn mean_error<T: Float>(a: &Image<T>, truth: &Image<T>, max: f64) -> f64 {
    assert_eq!(a.shape(), truth.shape(), "mean_error needs images of the same shape");
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for (pa, pt) in a.planes().zip(truth.planes()) {
        sum += pa.iter().zip(pt).map(|(&x, &t)| x.to_f64() - t.to_f64()).sum::<f64>();
        n += pa.len();
    }
    sum / n as f64 / max
}

/// Mean squared gradient (simple central differences) of a plane over the pixels
/// where `mask` is true (all pixels if `None`): a local-contrast sharpness measure.
pub fn mean_gradient_energy<T: Float>(
    plane: &[T],
    width: usize,
    height: usize,
    mask: Option<&[bool]>,
) -> f64 {
    let mut sum = 0.0;
    let mut n = 0usize;
    for y in 1..height.saturating_sub(1) {
        for x in 1..width.saturating_sub(1) {
            let i = y * width + x;
            if mask.is_some_and(|m| !m[i]) {
                continue;
            }
            let gx = plane[i + 1].to_f64() - plane[i - 1].to_f64();
            let gy = plane[i + width].to_f64() - plane[i - width].to_f64();
            sum += gx * gx + gy * gy;
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { sum / n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_of_known_error() {
        let a = Image::<f32>::from_planes(2, 1, vec![vec![0.0, 0.0]]).unwrap();
        let b = Image::<f32>::from_planes(2, 1, vec![vec![255.0, 0.0]]).unwrap();
        // mse = 255^2 / 2 -> 10 log10(2) = 3.0103 dB.
        assert!((psnr(&a, &b, 255.0) - 3.0103).abs() < 1e-3);
        assert_eq!(psnr(&a, &a, 255.0), f64::INFINITY);
        // The same figure from the samples alone.
        assert_eq!(
            psnr_samples(a.plane(0).as_slice(), b.plane(0).as_slice(), 255.0),
            psnr(&a, &b, 255.0)
        );
        let step: Vec<f32> = (0..9).map(|i| if i % 3 == 2 { 10.0 } else { 0.0 }).collect();
        // Only the centre pixel counts: gx = 10 - 0, gy = 0.
        assert_eq!(mean_gradient_energy(&step, 3, 3, None), 100.0);
    }

    #[test]
    fn masked_psnr_counts_only_the_masked_pixels() {
        // Two channels; pixel 0 is off by 255 in one channel, pixel 1 by 51 in both.
        let a = Image::<f32>::from_planes(2, 1, vec![vec![255.0, 51.0], vec![0.0, 51.0]]).unwrap();
        let b = Image::<f32>::new(2, 1, 2).unwrap();
        // Pixel 0 alone: mse = 255^2 / 2 -> 3.0103 dB.
        assert!((psnr_masked(&a, &b, 255.0, &[true, false]) - 3.0103).abs() < 1e-3);
        // Pixel 1 alone: mse = 51^2 -> 20 log10(5) = 13.979 dB.
        assert!((psnr_masked(&a, &b, 255.0, &[false, true]) - 13.9794).abs() < 1e-3);
        // Both: the plain PSNR.
        assert_eq!(psnr_masked(&a, &b, 255.0, &[true, true]), psnr(&a, &b, 255.0));
        assert!(psnr_masked(&a, &b, 255.0, &[false, false]).is_nan());
        assert_eq!(psnr_masked(&a, &a, 255.0, &[true, false]), f64::INFINITY);
    }

    #[test]
    fn glow_keeps_a_constant_error_and_averages_away_a_checker() {
        let (w, h) = (40, 30);
        let truth = Image::<f64>::from_planes(w, h, vec![vec![100.0; w * h]]).unwrap();
        let shifted = Image::<f64>::from_planes(w, h, vec![vec![110.2; w * h]]).unwrap();
        // A constant error of 10.2 in 255: 0.04 of full scale, whatever the blur.
        assert!((glow(&shifted, &truth, 255.0) - 0.04).abs() < 1e-12);
        assert!((mean_error(&shifted, &truth, 255.0) - 0.04).abs() < 1e-12);
        assert!((mean_error(&truth, &shifted, 255.0) + 0.04).abs() < 1e-12);
        // A +-10.2 checker: the same PSNR as the shift, no glow, no mean error.
        let checker: Vec<f64> =
            (0..w * h).map(|i| if (i % w + i / w) % 2 == 0 { 110.2 } else { 89.8 }).collect();
        let checker = Image::from_planes(w, h, vec![checker]).unwrap();
        assert!((psnr(&checker, &truth, 255.0) - psnr(&shifted, &truth, 255.0)).abs() < 1e-9);
        assert!(glow(&checker, &truth, 255.0) < 1e-6, "{}", glow(&checker, &truth, 255.0));
        assert!(mean_error(&checker, &truth, 255.0).abs() < 1e-12);
        assert_eq!(glow(&truth, &truth, 255.0), 0.0);
    }
}
