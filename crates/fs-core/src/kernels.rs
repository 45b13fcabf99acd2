//! The small kernels everyone uses: Gaussian, the pyramid generating kernel,
//! Sobel gradients, and luma.

use rayon::prelude::*;

use crate::{CoreError, Float, Image, Plane, PlaneMut, Result, convolve_separable};

/// Luma weights (ITU-R BT.601): 0.299 R + 0.587 G + 0.114 B.
pub const LUMA_WEIGHTS: [f64; 3] = [0.299, 0.587, 0.114];

/// A normalised 1-D Gaussian of `size` taps (odd). With `sigma <= 0` the kernel is
/// derived from the size as OpenCV's `getGaussianKernel` does: the binomial
/// kernels for sizes 1 to 7, else sigma = `0.3 * ((size - 1) / 2 - 1) + 0.8`.
pub fn gaussian_kernel<T: Float>(size: usize, sigma: f64) -> Result<Vec<T>> {
    if size == 0 || size.is_multiple_of(2) {
        return Err(CoreError::Dimensions(format!(
            "a Gaussian kernel needs an odd size, got {size}"
        )));
    }
    if sigma <= 0.0 && size <= 7 {
        const SMALL: [&[f64]; 4] = [
            &[1.0],
            &[0.25, 0.5, 0.25],
            &[0.0625, 0.25, 0.375, 0.25, 0.0625],
            &[0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
        ];
        return Ok(SMALL[size / 2].iter().map(|&v| T::from_f64(v)).collect());
    }
    let sigma = if sigma > 0.0 { sigma } else { 0.3 * ((size as f64 - 1.0) * 0.5 - 1.0) + 0.8 };
    let r = (size / 2) as f64;
    let raw: Vec<f64> =
        (0..size).map(|i| (-((i as f64 - r).powi(2)) / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f64 = raw.iter().sum();
    Ok(raw.into_iter().map(|v| T::from_f64(v / sum)).collect())
}

/// A Gaussian kernel for `sigma`, `2 * ceil(3 sigma) + 1` taps (at least 3).
pub fn gaussian_kernel_for_sigma<T: Float>(sigma: f64) -> Result<Vec<T>> {
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(CoreError::Dimensions(format!("a Gaussian sigma must be > 0, got {sigma}")));
    }
    let r = ((3.0 * sigma).ceil() as usize).max(1);
    gaussian_kernel(2 * r + 1, sigma)
}

/// The 5-tap pyramid generating kernel `[1/4 - a/2, 1/4, a, 1/4, 1/4 - a/2]`
/// (Burt and Adelson; `a` is the seed's `gen_kernel`, 0.4 by default). Sums to 1.
pub fn generating_kernel<T: Float>(a: f64) -> [T; 5] {
    let e = 0.25 - a / 2.0;
    [T::from_f64(e), T::from_f64(0.25), T::from_f64(a), T::from_f64(0.25), T::from_f64(e)]
}

/// Gaussian blur of a plane into `dst` with the given kernel size and sigma (see
/// [`gaussian_kernel`]).
pub fn gaussian_blur<T: Float>(
    src: Plane<'_, T>,
    dst: PlaneMut<'_, T>,
    size: usize,
    sigma: f64,
) -> Result<()> {
    let k = gaussian_kernel::<T>(size, sigma)?;
    convolve_separable(src, dst, &k, &k)
}

/// 3x3 Sobel gradients (`gx` along x, `gy` along y), reflect-101 borders, OpenCV's
/// sign convention (`gx > 0` where the image brightens to the right).
pub fn sobel<T: Float>(src: Plane<'_, T>, gx: PlaneMut<'_, T>, gy: PlaneMut<'_, T>) -> Result<()> {
    let d = [-T::one(), T::zero(), T::one()];
    let s = [T::one(), T::from_f64(2.0), T::one()];
    convolve_separable(src, gx, &d, &s)?;
    convolve_separable(src, gy, &s, &d)
}

/// Luma of an image into `dst`: `0.299 R + 0.587 G + 0.114 B` for 3 or 4 channel
/// images (alpha ignored), the first channel for gray and gray+alpha images.
pub fn luma_into<T: Float>(image: &Image<T>, mut dst: PlaneMut<'_, T>) -> Result<()> {
    if dst.width() != image.width() || dst.height() != image.height() {
        return Err(CoreError::Dimensions("luma output size differs from the image".into()));
    }
    let w = image.width();
    let out = dst.as_mut_slice();
    if image.channels() < 3 {
        out.copy_from_slice(image.plane(0).as_slice());
        return Ok(());
    }
    let [wr, wg, wb] = LUMA_WEIGHTS.map(T::from_f64);
    let (r, g, b) = (image.plane(0), image.plane(1), image.plane(2));
    out.par_chunks_mut(w).enumerate().for_each(|(y, o)| {
        for (((o, &r), &g), &b) in o.iter_mut().zip(r.row(y)).zip(g.row(y)).zip(b.row(y)) {
            *o = wr * r + wg * g + wb * b;
        }
    });
    Ok(())
}

/// Luma of an image as a new plane buffer (`width * height`).
pub fn luma<T: Float>(image: &Image<T>) -> Vec<T> {
    // Allocation: once per call.
    let mut out = vec![T::zero(); image.width() * image.height()];
    let dst = PlaneMut::new(&mut out, image.width(), image.height()).expect("image sized");
    luma_into(image, dst).expect("sizes match");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_is_normalised_and_matches_opencv_sigma_rule() {
        let k: Vec<f64> = gaussian_kernel(5, 0.0).unwrap();
        // OpenCV getGaussianKernel(5, 0) = [0.0625, 0.25, 0.375, 0.25, 0.0625].
        let expect = [0.0625, 0.25, 0.375, 0.25, 0.0625];
        assert_eq!(k, expect);
        let k: Vec<f64> = gaussian_kernel(9, 0.0).unwrap();
        // sigma = 0.3 * (4 - 1) + 0.8 = 1.7: the centre tap is 1 / (sqrt(2 pi) 1.7), renormalised.
        assert!((k[4] - 0.23638).abs() < 1e-4, "{k:?}");
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(gaussian_kernel_for_sigma::<f32>(1.0).unwrap().len(), 7);
        assert!(gaussian_kernel::<f32>(4, 1.0).is_err());
        assert!(gaussian_kernel_for_sigma::<f32>(0.0).is_err());
    }

    #[test]
    fn generating_kernel_values() {
        let k: [f64; 5] = generating_kernel(0.4);
        for (a, b) in k.iter().zip([0.05, 0.25, 0.4, 0.25, 0.05]) {
            assert!((a - b).abs() < 1e-15, "{k:?}");
        }
    }

    #[test]
    fn sobel_on_a_step_edge() {
        // 4x4 step: left half 0, right half 10.
        let src: Vec<f32> = (0..16).map(|i| if i % 4 >= 2 { 10.0 } else { 0.0 }).collect();
        let (mut gx, mut gy) = (vec![0.0f32; 16], vec![0.0f32; 16]);
        sobel(
            Plane::new(&src, 4, 4).unwrap(),
            PlaneMut::new(&mut gx, 4, 4).unwrap(),
            PlaneMut::new(&mut gy, 4, 4).unwrap(),
        )
        .unwrap();
        // Columns 1 and 2 straddle the edge: (10 - 0) * (1 + 2 + 1) = 40.
        assert_eq!(&gx[4..8], &[0.0, 40.0, 40.0, 0.0]);
        assert!(gy.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn luma_weights_and_gray_passthrough() {
        let img =
            Image::<f32>::from_planes(1, 1, vec![vec![100.0], vec![200.0], vec![50.0]]).unwrap();
        assert!((luma(&img)[0] - (29.9 + 117.4 + 5.7)).abs() < 1e-4);
        let gray = Image::<f32>::from_planes(2, 1, vec![vec![3.0, 4.0], vec![9.0, 9.0]]).unwrap();
        assert_eq!(luma(&gray), vec![3.0, 4.0]);
    }
}
