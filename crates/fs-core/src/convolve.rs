//! Separable convolution with reflect-101 borders, parallel over rows.
//!
//! Kernels are applied as correlation (OpenCV's `filter2D`/`sepFilter2D`
//! convention): `out[x] = sum_j k[j] * in[x + j - r]`, `r = k.len() / 2`. For the
//! symmetric kernels used almost everywhere the two conventions agree.
//!
//! Each output row is made from a vertically combined row (kept in a per-task
//! scratch row) followed by the horizontal pass, so the whole operation needs one
//! row of scratch per thread and reads the source once per kernel tap. The
//! interior of the horizontal pass has no branches; the `r` border columns on each
//! side are handled apart.

use rayon::prelude::*;

use crate::cpu::CpuLevel;
use crate::{CoreError, Float, Plane, PlaneMut, Result};

/// Index `i` reflected into `0..n` the reflect-101 way (`-1 -> 1`, `n -> n-2`),
/// repeating the reflection for offsets wider than the image.
#[inline]
pub fn reflect101(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let n = n as isize;
    let period = 2 * (n - 1);
    let mut i = i.rem_euclid(period);
    if i >= n {
        i = period - i;
    }
    i as usize
}

fn check_kernel<T>(k: &[T], name: &str) -> Result<()> {
    if k.is_empty() || k.len().is_multiple_of(2) {
        return Err(CoreError::Dimensions(format!(
            "{name} kernel must have an odd number of taps, got {}",
            k.len()
        )));
    }
    Ok(())
}

/// Convolves `src` with `kx` along rows and `ky` along columns into `dst`
/// (same size), reflect-101 borders. Both kernels need an odd number of taps.
pub fn convolve_separable<T: Float>(
    src: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    kx: &[T],
    ky: &[T],
) -> Result<()> {
    check_kernel(kx, "horizontal")?;
    check_kernel(ky, "vertical")?;
    let (w, h) = (src.width(), src.height());
    if dst.width() != w || dst.height() != h {
        return Err(CoreError::Dimensions(format!(
            "convolution output is {}x{}, input {w}x{h}",
            dst.width(),
            dst.height()
        )));
    }
    let ry = ky.len() / 2;
    let level = CpuLevel::detected();
    dst.as_mut_slice().par_chunks_mut(w).enumerate().for_each_init(
        // Allocation: one scratch row per rayon task.
        || vec![T::zero(); w],
        |tmp, (y, out)| row_at(level, src, kx, ky, ry, y, tmp, out),
    );
    Ok(())
}

/// Output row `y` at a given CPU level (capped at what the CPU supports). Every level
/// gives the same bits: the same operations in the same order, the compiler only
/// gets wider registers (no fused multiply-add).
#[allow(clippy::too_many_arguments)]
fn row_at<T: Float>(
    level: CpuLevel,
    src: Plane<'_, T>,
    kx: &[T],
    ky: &[T],
    ry: usize,
    y: usize,
    tmp: &mut [T],
    out: &mut [T],
) {
    match level.min(CpuLevel::native()) {
        #[cfg(target_arch = "x86_64")]
        CpuLevel::Avx2 | CpuLevel::Avx512 => {
            // SAFETY: the CPU supports AVX2 (the level is capped by `native`).
            unsafe { row_avx2(src, kx, ky, ry, y, tmp, out) }
        }
        _ => {
            vertical_row(src, ky, ry, y, tmp);
            horizontal_row(tmp, kx, out);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn row_avx2<T: Float>(
    src: Plane<'_, T>,
    kx: &[T],
    ky: &[T],
    ry: usize,
    y: usize,
    tmp: &mut [T],
    out: &mut [T],
) {
    vertical_row(src, ky, ry, y, tmp);
    horizontal_row(tmp, kx, out);
}

/// Convolves along rows only.
pub fn convolve_rows<T: Float>(src: Plane<'_, T>, dst: PlaneMut<'_, T>, k: &[T]) -> Result<()> {
    convolve_separable(src, dst, k, &[T::one()])
}

/// Convolves along columns only.
pub fn convolve_columns<T: Float>(src: Plane<'_, T>, dst: PlaneMut<'_, T>, k: &[T]) -> Result<()> {
    convolve_separable(src, dst, &[T::one()], k)
}

#[inline(always)]
fn vertical_row<T: Float>(src: Plane<'_, T>, ky: &[T], ry: usize, y: usize, tmp: &mut [T]) {
    let h = src.height();
    if ky.len() == 1 {
        let k = ky[0];
        for (t, &s) in tmp.iter_mut().zip(src.row(y)) {
            *t = s * k;
        }
        return;
    }
    for (j, &k) in ky.iter().enumerate() {
        let sy = reflect101(y as isize + j as isize - ry as isize, h);
        let row = src.row(sy);
        if j == 0 {
            for (t, &s) in tmp.iter_mut().zip(row) {
                *t = s * k;
            }
        } else {
            for (t, &s) in tmp.iter_mut().zip(row) {
                *t += s * k;
            }
        }
    }
}

#[inline(always)]
fn horizontal_row<T: Float>(src: &[T], kx: &[T], out: &mut [T]) {
    let w = src.len();
    let r = kx.len() / 2;
    if kx.len() == 1 {
        let k = kx[0];
        for (o, &s) in out.iter_mut().zip(src) {
            *o = s * k;
        }
        return;
    }
    let border = |x: usize| -> T {
        let mut acc = T::zero();
        for (j, &k) in kx.iter().enumerate() {
            acc += k * src[reflect101(x as isize + j as isize - r as isize, w)];
        }
        acc
    };
    if w <= 2 * r {
        for (x, o) in out.iter_mut().enumerate() {
            *o = border(x);
        }
        return;
    }
    for x in 0..r {
        out[x] = border(x);
    }
    for x in w - r..w {
        out[x] = border(x);
    }
    // Interior: every tap in range, no branches; tap by tap over the row (each
    // pixel's sum still adds its taps in order from zero), which vectorises.
    let n = w - 2 * r;
    let interior = &mut out[r..w - r];
    interior.fill(T::zero());
    for (j, &k) in kx.iter().enumerate() {
        for (o, &s) in interior.iter_mut().zip(&src[j..j + n]) {
            *o += k * s;
        }
    }
}

/// The plain reference: direct 2-D correlation with the outer-product kernel,
/// one pixel at a time. Slow; for tests of the fast paths.
pub fn convolve_separable_reference<T: Float>(src: Plane<'_, T>, kx: &[T], ky: &[T]) -> Vec<T> {
    let (w, h) = (src.width(), src.height());
    let (rx, ry) = ((kx.len() / 2) as isize, (ky.len() / 2) as isize);
    let mut out = vec![T::zero(); w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0f64;
            for (j, &a) in ky.iter().enumerate() {
                let sy = reflect101(y as isize + j as isize - ry, h);
                for (i, &b) in kx.iter().enumerate() {
                    let sx = reflect101(x as isize + i as isize - rx, w);
                    acc += a.to_f64() * b.to_f64() * src.row(sy)[sx].to_f64();
                }
            }
            out[y * w + x] = T::from_f64(acc);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cpu_level_gives_the_bits_of_the_plain_sums() {
        // Per pixel: the vertical taps summed in order, then the horizontal taps
        // summed in order from zero, as plain loops; every level gives those bits.
        let (w, h) = (53usize, 11usize);
        let src: Vec<f32> = (0..w * h).map(|i| ((i * 7919 % 1013) as f32 - 400.0) / 97.0).collect();
        let kx = [0.05f32, 0.2, 0.5, 0.2, 0.05, 0.013, 0.001];
        let ky = [0.25f32, 0.5, 0.25];
        let plane = Plane::new(&src, w, h).unwrap();
        let mut want = vec![0.0f32; w * h];
        for y in 0..h {
            let mut tmp = vec![0.0f32; w];
            for (j, &k) in ky.iter().enumerate() {
                let row = plane.row(reflect101(y as isize + j as isize - 1, h));
                for (t, &s) in tmp.iter_mut().zip(row) {
                    *t = if j == 0 { s * k } else { *t + s * k };
                }
            }
            for x in 0..w {
                let mut acc = 0.0f32;
                for (j, &k) in kx.iter().enumerate() {
                    acc += k * tmp[reflect101(x as isize + j as isize - 3, w)];
                }
                want[y * w + x] = acc;
            }
        }
        for level in CpuLevel::all_supported() {
            let mut got = vec![0.0f32; w * h];
            let mut tmp = vec![0.0f32; w];
            for (y, out) in got.chunks_mut(w).enumerate() {
                row_at(level, plane, &kx, &ky, 1, y, &mut tmp, out);
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{}", level.name());
        }
    }

    #[test]
    fn reflect101_matches_opencv() {
        let got: Vec<usize> = (-4..9).map(|i| reflect101(i, 5)).collect();
        assert_eq!(got, vec![4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0]);
        assert_eq!(reflect101(-3, 1), 0);
        assert_eq!(reflect101(-1, 2), 1);
        assert_eq!(reflect101(2, 2), 0);
    }

    /// A 5x5 image, a 3-tap box along x and [1,2,1] along y, worked by hand.
    #[test]
    fn convolution_matches_hand_computed_5x5() {
        #[rustfmt::skip]
        let src: Vec<f64> = vec![
            1., 2., 3., 4., 5.,
            6., 7., 8., 9., 10.,
            11., 12., 13., 14., 15.,
            16., 17., 18., 19., 20.,
            21., 22., 23., 24., 25.,
        ];
        let mut dst = vec![0.0; 25];
        let kx = [1.0, 1.0, 1.0];
        let ky = [1.0, 2.0, 1.0];
        convolve_separable(
            Plane::new(&src, 5, 5).unwrap(),
            PlaneMut::new(&mut dst, 5, 5).unwrap(),
            &kx,
            &ky,
        )
        .unwrap();
        // Column pass at row 0 (reflect: row -1 = row 1): 6 + 2*1 + 6 = 14 at x=0 ...
        // i.e. vertical row0 = [14,18,22,26,30]; horizontal with reflect:
        // x0 = 18+14+18 = 50, x1 = 14+18+22 = 54, x4 = 26+30+26 = 82.
        assert_eq!(&dst[0..5], &[50.0, 54.0, 66.0, 78.0, 82.0]);
        // Row 2 (interior): vertical = 4 * row2 = [44,48,52,56,60];
        assert_eq!(&dst[10..15], &[140.0, 144.0, 156.0, 168.0, 172.0]);
        // Bottom row reflects row 3: vertical = 16+42+16... = 2*row3 + 2*row4 = [74,78,82,86,90].
        assert_eq!(&dst[20..25], &[230.0, 234.0, 246.0, 258.0, 262.0]);
        let reference = convolve_separable_reference(Plane::new(&src, 5, 5).unwrap(), &kx, &ky);
        assert_eq!(reference, dst);
    }

    #[test]
    fn rejects_even_kernels_and_size_mismatch() {
        let src = vec![0.0f32; 6];
        let mut dst = vec![0.0f32; 6];
        let p = Plane::new(&src, 3, 2).unwrap();
        let e = convolve_separable(p, PlaneMut::new(&mut dst, 3, 2).unwrap(), &[1.0, 1.0], &[1.0])
            .unwrap_err();
        assert!(e.to_string().contains("odd number of taps, got 2"), "{e}");
        assert!(
            convolve_separable(p, PlaneMut::new(&mut dst, 2, 3).unwrap(), &[1.0], &[1.0]).is_err()
        );
    }
}
