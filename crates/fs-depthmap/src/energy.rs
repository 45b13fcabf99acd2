//! The five focus measures, each on a luma plane in the range 0..=1.
//!
//! All use reflect-101 borders (OpenCV's default) and are parallel over rows. The
//! 3x3 Sobel measures are computed in one fused pass over reflect-padded rows, with
//! no gradient planes, because Tenengrad is the default and its planes would add
//! two full-size buffers to the peak memory.

use fs_core::{Float, Plane, PlaneMut, convolve_separable, gaussian_blur, reflect101};
use rayon::prelude::*;

use crate::error::{DepthMapError, Result};
use crate::options::{DepthMapOptions, Energy};

/// Tenengrad values at or below this are set to zero: 5 in 8-bit units squared (the
/// threshold of the reference implementation), here for luma in 0..=1.
pub const TENENGRAD_THRESHOLD: f64 = 5.0 / (255.0 * 255.0);

fn same_size<T>(src: &Plane<'_, T>, dst: &PlaneMut<'_, T>) -> Result<()> {
    if src.width() != dst.width() || src.height() != dst.height() {
        return Err(DepthMapError::Core(fs_core::CoreError::Dimensions(format!(
            "energy output is {}x{}, luma {}x{}",
            dst.width(),
            dst.height(),
            src.width(),
            src.height()
        ))));
    }
    Ok(())
}

/// Copies `row` into `buf[r..r + w]` and fills `r` reflect-101 samples on each side.
#[inline]
fn pad_row<T: Float>(row: &[T], r: usize, buf: &mut [T]) {
    let w = row.len();
    buf[r..r + w].copy_from_slice(row);
    for i in 0..r {
        buf[i] = row[reflect101(i as isize - r as isize, w)];
        buf[r + w + i] = row[reflect101((w + i) as isize, w)];
    }
}

/// Runs `f(up, mid, down, out)` for every row, with the three source rows
/// reflect-padded by one sample on each side (so `mid[x + 1]` is column `x`).
fn stencil3<T: Float>(
    src: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    f: impl Fn(&[T], &[T], &[T], &mut [T]) + Sync,
) {
    let (w, h) = (src.width(), src.height());
    dst.as_mut_slice().par_chunks_mut(w).enumerate().for_each_init(
        // Allocation: three padded rows per rayon task.
        || vec![T::zero(); 3 * (w + 2)],
        |buf, (y, out)| {
            let (u, rest) = buf.split_at_mut(w + 2);
            let (m, d) = rest.split_at_mut(w + 2);
            pad_row(src.row(reflect101(y as isize - 1, h)), 1, u);
            pad_row(src.row(y), 1, m);
            pad_row(src.row(reflect101(y as isize + 1, h)), 1, d);
            f(u, m, d, out);
        },
    );
}

#[inline(always)]
fn sobel_at<T: Float>(u: &[T], m: &[T], d: &[T], x: usize) -> (T, T) {
    let two = T::from_f64(2.0);
    let gx = (u[x + 2] + two * m[x + 2] + d[x + 2]) - (u[x] + two * m[x] + d[x]);
    let gy = (d[x] + two * d[x + 1] + d[x + 2]) - (u[x] + two * u[x + 1] + u[x + 2]);
    (gx, gy)
}

/// One row of Tenengrad (`threshold` given) or of the Sobel energy (`None`), from
/// the three reflect-padded luma rows around it.
#[inline]
fn sobel_measure_row<T: Float>(threshold: Option<T>, u: &[T], m: &[T], d: &[T], out: &mut [T]) {
    match threshold {
        Some(t) => {
            for (x, o) in out.iter_mut().enumerate() {
                let (gx, gy) = sobel_at(u, m, d, x);
                let e = gx * gx + gy * gy;
                *o = if e > t { e } else { T::zero() };
            }
        }
        None => {
            for (x, o) in out.iter_mut().enumerate() {
                let (gx, gy) = sobel_at(u, m, d, x);
                *o = gx.abs() + gy.abs();
            }
        }
    }
}

/// Tenengrad: `gx^2 + gy^2` of the 3x3 Sobel, zeroed where at or below `threshold`.
pub fn tenengrad<T: Float>(luma: Plane<'_, T>, dst: PlaneMut<'_, T>, threshold: f64) -> Result<()> {
    same_size(&luma, &dst)?;
    let t = Some(T::from_f64(threshold));
    stencil3(luma, dst, |u, m, d, out| sobel_measure_row(t, u, m, d, out));
    Ok(())
}

/// Sobel energy: `|gx| + |gy|` of the 3x3 Sobel.
pub fn sobel_energy<T: Float>(luma: Plane<'_, T>, dst: PlaneMut<'_, T>) -> Result<()> {
    same_size(&luma, &dst)?;
    stencil3(luma, dst, |u, m, d, out| sobel_measure_row(None, u, m, d, out));
    Ok(())
}

/// Row-by-row energy for the measures that need only the three luma rows around a
/// row (Tenengrad and Sobel, without bilateral smoothing): lets the stacker compute
/// luma, energy and what it folds them into in one pass, with no full-size luma or
/// energy plane. The values are those of [`energy_map`], bit for bit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowEnergy<T> {
    threshold: Option<T>,
    width: usize,
    height: usize,
}

impl<T: Float> RowEnergy<T> {
    /// The row-wise form of the options' measure, if it has one.
    pub(crate) fn new(options: &DepthMapOptions, width: usize, height: usize) -> Option<Self> {
        if options.energy_smooth_size > 1 {
            return None;
        }
        let threshold = match options.energy {
            Energy::Tenengrad => Some(T::from_f64(TENENGRAD_THRESHOLD)),
            Energy::Sobel => None,
            _ => return None,
        };
        Some(Self { threshold, width, height })
    }

    /// A scratch buffer for [`RowEnergy::row`] (one per rayon task).
    pub(crate) fn scratch(&self) -> RowScratch<T> {
        // Allocation: three padded luma rows and one plain one per rayon task.
        RowScratch {
            pads: [(); 3].map(|_| vec![T::zero(); self.width + 2]),
            rows: [usize::MAX; 3],
            plain: vec![T::zero(); self.width],
        }
    }

    /// Energy row `y` into `out`; `luma_row(r, dst)` writes luma row `r` into `dst`.
    /// The luma rows of the previous call on the same scratch are reused, so a task
    /// going down its rows computes each luma row once.
    pub(crate) fn row(
        &self,
        y: usize,
        luma_row: impl Fn(usize, &mut [T]),
        scratch: &mut RowScratch<T>,
        out: &mut [T],
    ) {
        let h = self.height;
        let want = [reflect101(y as isize - 1, h), y, reflect101(y as isize + 1, h)];
        let RowScratch { pads, rows, plain } = scratch;
        for i in 0..3 {
            if let Some(j) = (i..3).find(|&j| rows[j] == want[i]) {
                pads.swap(i, j);
                rows.swap(i, j);
            }
        }
        for i in 0..3 {
            if rows[i] != want[i] {
                luma_row(want[i], plain);
                pad_row(plain, 1, &mut pads[i]);
                rows[i] = want[i];
            }
        }
        let [u, m, d] = &*pads;
        sobel_measure_row(self.threshold, u, m, d, out);
    }
}

/// Scratch of [`RowEnergy::row`]: three reflect-padded luma rows and their row numbers.
#[derive(Debug)]
pub(crate) struct RowScratch<T> {
    pads: [Vec<T>; 3],
    rows: [usize; 3],
    plain: Vec<T>,
}

/// The 1-D kernels of OpenCV's `getSobelKernels` for a derivative of `order` with
/// aperture `size`: `(derivative, smoothing)`, both of `size` taps, unnormalised.
pub fn sobel_kernels(size: usize, order: usize) -> (Vec<f64>, Vec<f64>) {
    let conv = |a: &[f64], b: &[f64]| {
        let mut out = vec![0.0; a.len() + b.len() - 1];
        for (i, &x) in a.iter().enumerate() {
            for (j, &y) in b.iter().enumerate() {
                out[i + j] += x * y;
            }
        }
        out
    };
    let mut deriv = vec![1.0];
    for _ in 0..size - 1 - order {
        deriv = conv(&deriv, &[1.0, 1.0]);
    }
    for _ in 0..order {
        deriv = conv(&deriv, &[-1.0, 1.0]);
    }
    let mut smooth = vec![1.0];
    for _ in 0..size - 1 {
        smooth = conv(&smooth, &[1.0, 1.0]);
    }
    (deriv, smooth)
}

/// `|Laplacian|` of the luma after a Gaussian pre-blur of `blur_size` (sigma from the
/// size, as OpenCV's `GaussianBlur(.., 0)`), aperture `kernel_size` as OpenCV's
/// `Laplacian`: size 1 is the 3x3 cross `[0 1 0; 1 -4 1; 0 1 0]`, larger sizes sum
/// the second-derivative Sobel kernels along x and y.
pub fn laplacian_energy<T: Float>(
    luma: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    kernel_size: usize,
    blur_size: usize,
) -> Result<()> {
    same_size(&luma, &dst)?;
    let (w, h) = (luma.width(), luma.height());
    // Allocation: two planes once per frame (this measure is not the default).
    let mut blurred = vec![T::zero(); w * h];
    gaussian_blur(luma, PlaneMut::new(&mut blurred, w, h)?, blur_size, 0.0)?;
    let (deriv, smooth) = if kernel_size == 1 {
        (vec![1.0, -2.0, 1.0], vec![1.0])
    } else {
        sobel_kernels(kernel_size, 2)
    };
    let deriv: Vec<T> = deriv.into_iter().map(T::from_f64).collect();
    let smooth: Vec<T> = smooth.into_iter().map(T::from_f64).collect();
    let b = Plane::new(&blurred, w, h)?;
    let mut dyy = vec![T::zero(); w * h];
    convolve_separable(b, PlaneMut::new(&mut dyy, w, h)?, &smooth, &deriv)?;
    convolve_separable(b, PlaneMut::new(dst.as_mut_slice(), w, h)?, &deriv, &smooth)?;
    dst.as_mut_slice().par_iter_mut().zip(dyy.par_iter()).for_each(|(o, &v)| *o = (*o + v).abs());
    Ok(())
}

/// The sum-modified Laplacian `|2I - I(x-s) - I(x+s)| + |2I - I(y-s) - I(y+s)|` of the
/// luma after a Gaussian pre-blur of `blur_size`, with step `s = max(1, kernel_size / 2)`.
pub fn modified_laplacian<T: Float>(
    luma: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    kernel_size: usize,
    blur_size: usize,
) -> Result<()> {
    same_size(&luma, &dst)?;
    let (w, h) = (luma.width(), luma.height());
    // Allocation: one plane once per frame (this measure is not the default).
    let mut blurred = vec![T::zero(); w * h];
    gaussian_blur(luma, PlaneMut::new(&mut blurred, w, h)?, blur_size, 0.0)?;
    let b = Plane::new(&blurred, w, h)?;
    let s = (kernel_size / 2).max(1);
    let two = T::from_f64(2.0);
    dst.as_mut_slice().par_chunks_mut(w).enumerate().for_each_init(
        // Allocation: one padded row per rayon task.
        || vec![T::zero(); w + 2 * s],
        |pad, (y, out)| {
            let up = b.row(reflect101(y as isize - s as isize, h));
            let down = b.row(reflect101((y + s) as isize, h));
            pad_row(b.row(y), s, pad);
            for (x, o) in out.iter_mut().enumerate() {
                let c = two * pad[x + s];
                *o = (c - pad[x] - pad[x + 2 * s]).abs() + (c - up[x] - down[x]).abs();
            }
        },
    );
    Ok(())
}

/// Local variance of the luma in a `window` x `window` box (reflect-101 borders):
/// `mean(I^2) - mean(I)^2`, clipped at 0 against rounding.
pub fn variance_energy<T: Float>(
    luma: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    window: usize,
) -> Result<()> {
    same_size(&luma, &dst)?;
    let (w, h) = (luma.width(), luma.height());
    let k = vec![T::from_f64(1.0 / window as f64); window];
    // Allocation: two planes once per frame (this measure is not the default).
    let mut mean = vec![T::zero(); w * h];
    convolve_separable(luma, PlaneMut::new(&mut mean, w, h)?, &k, &k)?;
    let sq: Vec<T> = luma.as_slice().par_iter().map(|&v| v * v).collect();
    convolve_separable(Plane::new(&sq, w, h)?, PlaneMut::new(dst.as_mut_slice(), w, h)?, &k, &k)?;
    dst.as_mut_slice().par_iter_mut().zip(mean.par_iter()).for_each(|(o, &m)| {
        let v = *o - m * m;
        *o = if v > T::zero() { v } else { T::zero() };
    });
    Ok(())
}

/// The energy map of `options.energy` for a luma plane in 0..=1 (before the bilateral
/// smoothing, which `fs_filters::bilateral_filter` applies in the stacker).
pub fn energy_map<T: Float>(
    luma: Plane<'_, T>,
    dst: PlaneMut<'_, T>,
    options: &DepthMapOptions,
) -> Result<()> {
    match options.energy {
        Energy::Tenengrad => tenengrad(luma, dst, TENENGRAD_THRESHOLD),
        Energy::Laplacian => laplacian_energy(luma, dst, options.kernel_size, options.blur_size),
        Energy::ModLaplacian => {
            modified_laplacian(luma, dst, options.kernel_size, options.blur_size)
        }
        Energy::Sobel => sobel_energy(luma, dst),
        Energy::Variance => variance_energy(luma, dst, 5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 6x4 step edge: columns 0..3 are 0, columns 3..6 are 1.
    fn step() -> Vec<f64> {
        (0..24).map(|i| if i % 6 >= 3 { 1.0 } else { 0.0 }).collect()
    }

    fn run(
        f: impl Fn(Plane<'_, f64>, PlaneMut<'_, f64>) -> Result<()>,
        src: &[f64],
        w: usize,
    ) -> Vec<f64> {
        let h = src.len() / w;
        let mut out = vec![f64::NAN; src.len()];
        f(Plane::new(src, w, h).unwrap(), PlaneMut::new(&mut out, w, h).unwrap()).unwrap();
        out
    }

    #[test]
    fn sobel_measures_on_a_step_edge() {
        // Columns 2 and 3 straddle the edge: gx = (1 - 0) * (1 + 2 + 1) = 4, gy = 0.
        let t = run(|s, d| tenengrad(s, d, TENENGRAD_THRESHOLD), &step(), 6);
        assert_eq!(&t[6..12], &[0.0, 0.0, 16.0, 16.0, 0.0, 0.0]);
        assert_eq!(&t[0..6], &t[18..24]);
        let s = run(sobel_energy, &step(), 6);
        assert_eq!(&s[12..18], &[0.0, 0.0, 4.0, 4.0, 0.0, 0.0]);
        // Below the threshold, tenengrad is zero: a step of 1/255 gives 16/255^2 > 5/255^2,
        // a step of 0.5/255 gives 4/255^2 < 5/255^2.
        let faint: Vec<f64> = step().iter().map(|v| v * 0.5 / 255.0).collect();
        assert!(
            run(|s, d| tenengrad(s, d, TENENGRAD_THRESHOLD), &faint, 6).iter().all(|&v| v == 0.0)
        );
    }

    #[test]
    fn laplacian_measures_on_a_step_edge() {
        // Aperture 1 without blur: [1 -2 1] across the edge gives |1| at column 2 and
        // |-1| at column 3.
        let l = run(|s, d| laplacian_energy(s, d, 1, 1), &step(), 6);
        assert_eq!(&l[6..12], &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        // Aperture 3: OpenCV's [2 0 2; 0 -8 0; 2 0 2]: along the rows the y smoothing
        // [1 2 1] sums to 4, so 4 * [1 -2 1] across the edge.
        let l3 = run(|s, d| laplacian_energy(s, d, 3, 1), &step(), 6);
        assert_eq!(&l3[12..18], &[0.0, 0.0, 4.0, 4.0, 0.0, 0.0]);
        // Modified Laplacian, step 1 (kernel_size 3), no blur: |2c - l - r| across the edge.
        let m = run(|s, d| modified_laplacian(s, d, 3, 1), &step(), 6);
        assert_eq!(&m[0..6], &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        // Step 2 (kernel_size 5): column 1 sees 2*0 - 0 - 1 and column 4 sees 2*1 - 0 - 1.
        let m5 = run(|s, d| modified_laplacian(s, d, 5, 1), &step(), 6);
        assert_eq!(&m5[0..6], &[0.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn variance_on_a_step_edge() {
        // 5-wide window on a 6-wide row: at column 2 the window covers columns 0..=4,
        // three zeros and two ones: mean 0.4, variance 0.4 - 0.16 = 0.24.
        let v = run(|s, d| variance_energy(s, d, 5), &step(), 6);
        assert!((v[2] - 0.24).abs() < 1e-12, "{v:?}");
        assert!((v[3] - 0.24).abs() < 1e-12, "{v:?}");
        // Column 0 reflects to columns 2,1,0,1,2: all zero.
        assert_eq!(v[0], 0.0);
    }

    #[test]
    fn constant_image_has_zero_energy_for_every_measure() {
        let flat = vec![0.7f64; 35];
        for energy in [
            Energy::Tenengrad,
            Energy::Laplacian,
            Energy::ModLaplacian,
            Energy::Sobel,
            Energy::Variance,
        ] {
            let o = DepthMapOptions { energy, ..Default::default() };
            let e = run(|s, d| energy_map(s, d, &o), &flat, 7);
            assert!(e.iter().all(|&v| v.abs() < 1e-12), "{energy:?}: {e:?}");
        }
    }

    #[test]
    fn sobel_kernels_match_opencv() {
        assert_eq!(sobel_kernels(3, 1), (vec![-1.0, 0.0, 1.0], vec![1.0, 2.0, 1.0]));
        assert_eq!(
            sobel_kernels(5, 2),
            (vec![1.0, 0.0, -2.0, 0.0, 1.0], vec![1.0, 4.0, 6.0, 4.0, 1.0])
        );
    }
}
