//! Image quality measures used by tests, benchmarks and `fstack demo`.

use crate::{Float, Image};

/// Peak signal-to-noise ratio in dB between two images of the same shape, with
/// `max` the largest sample value (255 or 65535). Identical images give infinity.
///
/// # Panics
/// If the shapes differ.
pub fn psnr<T: Float>(a: &Image<T>, b: &Image<T>, max: f64) -> f64 {
    assert_eq!(a.shape(), b.shape(), "psnr needs images of the same shape");
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for (pa, pb) in a.planes().zip(b.planes()) {
        for (&x, &y) in pa.iter().zip(pb) {
            let d = x.to_f64() - y.to_f64();
            sum += d * d;
        }
        n += pa.len();
    }
    let mse = sum / n as f64;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (max * max / mse).log10() }
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
        let step: Vec<f32> = (0..9).map(|i| if i % 3 == 2 { 10.0 } else { 0.0 }).collect();
        // Only the centre pixel counts: gx = 10 - 0, gy = 0.
        assert_eq!(mean_gradient_energy(&step, 3, 3, None), 100.0);
    }
}
