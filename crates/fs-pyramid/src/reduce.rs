//! Reduce and expand: one pyramid step down and up, with a 5-tap generating kernel
//! and reflect-101 borders.
//!
//! Both are fused, row-at-a-time versions of the textbook definitions:
//! - reduce = convolve (separable, reflect-101) then keep the even rows and columns;
//!   only the kept rows are combined vertically and only the kept columns are
//!   filtered horizontally, a quarter of the work of convolve-then-decimate;
//! - expand = insert zeros to twice the size, convolve, multiply by 4, crop; the
//!   zero rows and columns are skipped (polyphase), so each output sample reads two
//!   or three inputs per direction instead of five.
//!
//! The floating-point operations are the non-zero terms of
//! [`fs_core::convolve_separable`] in the same order (vertical pass first, taps in
//! kernel order, then `x 4`), so the results are bit-identical to the textbook
//! definitions built from it; the unit tests below check exactly that.

use fs_core::{Float, Plane, PlaneMut, reflect101};
use rayon::prelude::*;

use crate::PyramidError;

/// Size of the next coarser level: `ceil(width / 2) x ceil(height / 2)`.
pub fn reduced_size(width: usize, height: usize) -> (usize, usize) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// Vertical pass of reduce for one output row: `vt = sum_j k[j] * rows[j]`, the
/// rows being source rows `reflect101(2 y + j - 2)`.
#[inline]
pub(crate) fn vertical5<T: Float>(rows: [&[T]; 5], k: &[T; 5], vt: &mut [T]) {
    let w = vt.len();
    let (r0, r1, r2, r3, r4) =
        (&rows[0][..w], &rows[1][..w], &rows[2][..w], &rows[3][..w], &rows[4][..w]);
    let (k0, k1, k2, k3, k4) = (k[0], k[1], k[2], k[3], k[4]);
    for x in 0..w {
        let mut t = r0[x] * k0;
        t += r1[x] * k1;
        t += r2[x] * k2;
        t += r3[x] * k3;
        t += r4[x] * k4;
        vt[x] = t;
    }
}

/// `sum_i k[i] * s[i]` over five taps, accumulated from zero in kernel order (the
/// order of the non-zero terms of [`fs_core::convolve_separable`]): the interior of
/// every 5-tap horizontal pass.
#[inline(always)]
pub(crate) fn dot5<T: Float>(k: &[T; 5], s: &[T]) -> T {
    let s = &s[..5];
    let mut acc = T::zero();
    acc += k[0] * s[0];
    acc += k[1] * s[1];
    acc += k[2] * s[2];
    acc += k[3] * s[3];
    acc += k[4] * s[4];
    acc
}

/// Horizontal pass of reduce: `out[xo] = sum_i k[i] * vt[reflect101(2 xo + i - 2)]`.
#[inline]
pub(crate) fn reduce_horizontal<T: Float>(vt: &[T], k: &[T; 5], out: &mut [T]) {
    let w = vt.len();
    let wo = out.len();
    debug_assert_eq!(wo, w.div_ceil(2));
    let border = |xo: usize| -> T {
        let mut acc = T::zero();
        for (i, &ki) in k.iter().enumerate() {
            acc += ki * vt[reflect101(2 * xo as isize + i as isize - 2, w)];
        }
        acc
    };
    // Interior: 2 xo - 2 >= 0 and 2 xo + 2 <= w - 1.
    let lo = 1.min(wo);
    let hi = if w >= 3 { ((w - 3) / 2 + 1).max(lo) } else { lo };
    for xo in 0..lo {
        out[xo] = border(xo);
    }
    for xo in hi..wo {
        out[xo] = border(xo);
    }
    for (xo, o) in out[lo..hi].iter_mut().enumerate() {
        *o = dot5(k, &vt[2 * xo..2 * xo + 5]);
    }
}

/// Vertical pass of expand for output row `y` of the zero-inserted image of height
/// `2 * ch`: combines the coarse rows at the even zero-inserted positions.
#[inline]
pub(crate) fn expand_vertical<T: Float>(
    coarse: &[T],
    cw: usize,
    ch: usize,
    y: usize,
    k: &[T; 5],
    vt: &mut [T],
) {
    let mut first = true;
    for (j, &kj) in k.iter().enumerate() {
        let zi = reflect101(y as isize + j as isize - 2, 2 * ch);
        if !zi.is_multiple_of(2) {
            continue;
        }
        let row = &coarse[(zi / 2) * cw..(zi / 2 + 1) * cw];
        if first {
            for (t, &s) in vt.iter_mut().zip(row) {
                *t = s * kj;
            }
            first = false;
        } else {
            for (t, &s) in vt.iter_mut().zip(row) {
                *t += s * kj;
            }
        }
    }
}

/// Horizontal pass of expand: the zero-inserted row of width `2 * vt.len()`
/// convolved and multiplied by 4, the first `out.len()` samples.
#[inline]
pub(crate) fn expand_horizontal<T: Float>(vt: &[T], k: &[T; 5], out: &mut [T]) {
    let cw = vt.len();
    let zw = 2 * cw;
    let w = out.len();
    debug_assert!(w <= zw);
    let four = T::from_f64(4.0);
    let border = |x: usize| -> T {
        let mut acc = T::zero();
        for (i, &ki) in k.iter().enumerate() {
            let zi = reflect101(x as isize + i as isize - 2, zw);
            if zi.is_multiple_of(2) {
                acc += ki * vt[zi / 2];
            }
        }
        acc * four
    };
    // Interior x in 2..xe: every tap inside 0..zw.
    let xe = w.min(zw.saturating_sub(2)).max(2.min(w));
    let pairs_end = 2 + (xe.saturating_sub(2) / 2) * 2;
    for x in 0..2.min(w) {
        out[x] = border(x);
    }
    for x in pairs_end.max(2.min(w))..w {
        out[x] = border(x);
    }
    if pairs_end > 2 {
        let (k0, k1, k2, k3, k4) = (k[0], k[1], k[2], k[3], k[4]);
        for (m, pair) in out[2..pairs_end].chunks_exact_mut(2).enumerate() {
            // Output x = 2 (m + 1) and 2 (m + 1) + 1; coarse centre c = m + 1.
            let s = &vt[m..m + 3];
            let mut even = T::zero();
            even += k0 * s[0];
            even += k2 * s[1];
            even += k4 * s[2];
            let mut odd = T::zero();
            odd += k1 * s[1];
            odd += k3 * s[2];
            pair[0] = even * four;
            pair[1] = odd * four;
        }
    }
}

/// One pyramid step down: `src` convolved with `kernel` along both axes
/// (reflect-101 borders), then every even row and column kept. `dst` must be
/// [`reduced_size`] of `src`.
pub fn reduce_into<T: Float>(
    src: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    kernel: &[T; 5],
) -> Result<(), PyramidError> {
    let (w, h) = (src.width(), src.height());
    let (wo, ho) = reduced_size(w, h);
    check_size("reduce", (dst.width(), dst.height()), (wo, ho))?;
    dst.as_mut_slice().par_chunks_mut(wo).enumerate().for_each_init(
        // Allocation: one scratch row per rayon task.
        || vec![T::zero(); w],
        |vt, (yo, out)| {
            let rows =
                std::array::from_fn(|j| src.row(reflect101(2 * yo as isize + j as isize - 2, h)));
            vertical5(rows, kernel, vt);
            reduce_horizontal(vt, kernel, out);
        },
    );
    Ok(())
}

/// One pyramid step down into a new buffer of [`reduced_size`].
pub fn reduce<T: Float>(src: Plane<'_, T>, kernel: &[T; 5]) -> Vec<T> {
    let (wo, ho) = reduced_size(src.width(), src.height());
    // Allocation: once per call.
    let mut out = vec![T::zero(); wo * ho];
    let dst = PlaneMut::new(&mut out, wo, ho).expect("non-empty plane");
    reduce_into(src, dst, kernel).expect("sizes match");
    out
}

/// One pyramid step up: `src` with zeros inserted between its samples (twice the
/// size), convolved with `kernel` (reflect-101 on the doubled size), multiplied by
/// 4 and cropped to `dst`'s size, which must be at most twice `src`'s and at least
/// as large as `src` (the finer level `src` was reduced from).
pub fn expand_into<T: Float>(
    src: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    kernel: &[T; 5],
) -> Result<(), PyramidError> {
    let (w, h) = (dst.width(), dst.height());
    check_expand_size(src, w, h)?;
    dst.as_mut_slice().par_chunks_mut(w).enumerate().for_each_init(
        // Allocation: one scratch row per rayon task.
        || vec![T::zero(); src.width()],
        |vt, (y, out)| expand_row(src, y, kernel, vt, out),
    );
    Ok(())
}

/// Row `y` of [`expand_into`]'s result, `out.len()` samples wide, with `scratch` of
/// `src.width()` samples: the building block of a fused expand-and-accumulate loop
/// (e.g. `num += weight * (g - expand(coarse))` row by row), which uses each
/// expanded row at once instead of storing the expanded level. `out.len()` and the
/// height the rows are taken from must be at most twice `src`'s and at least `src`'s
/// (checked by [`expand_into`], only in debug builds here).
///
/// ```
/// use fs_core::{Plane, generating_kernel};
/// let k = generating_kernel::<f32>(0.4);
/// let coarse = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 3x2, the reduced size of 5x3
/// let src = Plane::new(&coarse, 3, 2).unwrap();
/// let whole = fs_pyramid::expand(src, 5, 3, &k).unwrap();
/// let (mut scratch, mut row) = ([0.0f32; 3], [0.0f32; 5]);
/// fs_pyramid::expand_row(src, 1, &k, &mut scratch, &mut row);
/// assert_eq!(row, whole[5..10]);
/// ```
#[inline]
pub fn expand_row<T: Float>(
    src: Plane<'_, T>,
    y: usize,
    kernel: &[T; 5],
    scratch: &mut [T],
    out: &mut [T],
) {
    let (cw, ch) = (src.width(), src.height());
    debug_assert!(out.len() <= 2 * cw && y < 2 * ch, "expand_row out of the doubled size");
    let vt = &mut scratch[..cw];
    expand_vertical(src.as_slice(), cw, ch, y, kernel, vt);
    expand_horizontal(vt, kernel, out);
}

/// One pyramid step up into a new `width x height` buffer (see [`expand_into`]).
pub fn expand<T: Float>(
    src: Plane<'_, T>,
    width: usize,
    height: usize,
    kernel: &[T; 5],
) -> Result<Vec<T>, PyramidError> {
    check_expand_size(src, width, height)?;
    // Allocation: once per call.
    let mut out = vec![T::zero(); width * height];
    expand_into(src, PlaneMut::new(&mut out, width, height)?, kernel)?;
    Ok(out)
}

/// `dst = expand(src) + dst` (the collapse step), row-parallel.
pub fn expand_add<T: Float>(
    src: Plane<'_, T>,
    dst: PlaneMut<'_, T>,
    kernel: &[T; 5],
) -> Result<(), PyramidError> {
    expand_combine(src, dst, kernel, |e, d| e + d)
}

/// `dst = dst - expand(src)` (a Laplacian level from its Gaussian level), row-parallel.
pub fn expand_sub<T: Float>(
    src: Plane<'_, T>,
    dst: PlaneMut<'_, T>,
    kernel: &[T; 5],
) -> Result<(), PyramidError> {
    expand_combine(src, dst, kernel, |e, d| d - e)
}

fn expand_combine<T: Float>(
    src: Plane<'_, T>,
    mut dst: PlaneMut<'_, T>,
    kernel: &[T; 5],
    f: impl Fn(T, T) -> T + Sync,
) -> Result<(), PyramidError> {
    let (w, h) = (dst.width(), dst.height());
    check_expand_size(src, w, h)?;
    expand_combine_rows(src, dst.as_mut_slice(), w, 0, kernel, f);
    Ok(())
}

/// `row = f(expand(src), row)` for the rows `y0..` of a `w`-wide level that `rows`
/// holds (a band of it, or all of it), row-parallel.
pub(crate) fn expand_combine_rows<T: Float>(
    src: Plane<'_, T>,
    rows: &mut [T],
    w: usize,
    y0: usize,
    kernel: &[T; 5],
    f: impl Fn(T, T) -> T + Sync,
) {
    rows.par_chunks_mut(w).enumerate().for_each_init(
        // Allocation: two scratch rows per rayon task.
        || (vec![T::zero(); src.width()], vec![T::zero(); w]),
        |(vt, e), (j, out)| {
            expand_row(src, y0 + j, kernel, vt, e);
            for (o, &e) in out.iter_mut().zip(e.iter()) {
                *o = f(e, *o);
            }
        },
    );
}

fn check_expand_size<T>(src: Plane<'_, T>, w: usize, h: usize) -> Result<(), PyramidError> {
    if reduced_size(w, h) != (src.width(), src.height()) {
        return Err(PyramidError::LevelSize {
            what: "expand",
            expected: reduced_size(w, h),
            found: (src.width(), src.height()),
        });
    }
    Ok(())
}

fn check_size(
    what: &'static str,
    found: (usize, usize),
    expected: (usize, usize),
) -> Result<(), PyramidError> {
    if found != expected {
        return Err(PyramidError::LevelSize { what, expected, found });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use fs_core::{convolve_separable, generating_kernel};

    use super::*;

    /// The textbook reduce: full convolution, then decimation.
    fn reduce_textbook(src: &[f32], w: usize, h: usize, k: &[f32; 5]) -> Vec<f32> {
        let mut full = vec![0.0; w * h];
        convolve_separable(
            Plane::new(src, w, h).unwrap(),
            PlaneMut::new(&mut full, w, h).unwrap(),
            k,
            k,
        )
        .unwrap();
        let mut out = Vec::new();
        for y in (0..h).step_by(2) {
            for x in (0..w).step_by(2) {
                out.push(full[y * w + x]);
            }
        }
        out
    }

    /// The textbook expand: insert zeros, convolve, times 4, crop.
    fn expand_textbook(src: &[f32], cw: usize, ch: usize, w: usize, h: usize) -> Vec<f32> {
        let k = generating_kernel::<f32>(0.4);
        let (zw, zh) = (2 * cw, 2 * ch);
        let mut z = vec![0.0; zw * zh];
        for y in 0..ch {
            for x in 0..cw {
                z[2 * y * zw + 2 * x] = src[y * cw + x];
            }
        }
        let mut full = vec![0.0; zw * zh];
        convolve_separable(
            Plane::new(&z, zw, zh).unwrap(),
            PlaneMut::new(&mut full, zw, zh).unwrap(),
            &k,
            &k,
        )
        .unwrap();
        let mut out = Vec::new();
        for y in 0..h {
            for x in 0..w {
                out.push(4.0 * full[y * zw + x]);
            }
        }
        out
    }

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 1000) as f32 * 0.255
            })
            .collect()
    }

    #[test]
    fn reduce_and_expand_equal_the_textbook_definitions_bit_for_bit() {
        let k = generating_kernel::<f32>(0.4);
        for (w, h) in [(1, 1), (2, 3), (3, 2), (5, 4), (6, 7), (9, 9), (17, 12), (4, 31)] {
            let src = noise(w * h, (w * 31 + h) as u32);
            let got = reduce(Plane::new(&src, w, h).unwrap(), &k);
            assert_eq!(got, reduce_textbook(&src, w, h, &k), "reduce {w}x{h}");
            let (cw, ch) = reduced_size(w, h);
            let coarse = &src[..cw * ch];
            let got = expand(Plane::new(coarse, cw, ch).unwrap(), w, h, &k).unwrap();
            assert_eq!(got, expand_textbook(coarse, cw, ch, w, h), "expand {w}x{h}");
        }
    }

    #[test]
    fn reduce_and_expand_of_a_constant_are_constant() {
        let k = generating_kernel::<f64>(0.4);
        let src = vec![7.0f64; 9 * 6];
        let r = reduce(Plane::new(&src, 9, 6).unwrap(), &k);
        assert_eq!(r.len(), 5 * 3);
        assert!(r.iter().all(|&v| (v - 7.0).abs() < 1e-12), "{r:?}");
        let e = expand(Plane::new(&r, 5, 3).unwrap(), 9, 6, &k).unwrap();
        assert!(e.iter().all(|&v| (v - 7.0).abs() < 1e-12), "{e:?}");
    }

    /// A single bright pixel at (2, 2) of a 6x6 image, reduced with a = 0.4. Output
    /// column xo reads source columns 2 xo + i - 2: the pixel is tap i = 4 (0.05)
    /// and, reflected from -2, tap i = 0 (0.05) for xo = 0; tap 2 (0.4) for xo = 1;
    /// tap 0 (0.05) for xo = 2. Rows alike, so r(x, y) = f[x] f[y], f = [0.1, 0.4, 0.05].
    #[test]
    fn reduce_of_a_single_pixel_by_hand() {
        let k = generating_kernel::<f64>(0.4);
        let mut src = vec![0.0f64; 36];
        src[2 * 6 + 2] = 1.0;
        let r = reduce(Plane::new(&src, 6, 6).unwrap(), &k);
        let f = [0.1, 0.4, 0.05];
        for y in 0..3 {
            for x in 0..3 {
                assert!((r[y * 3 + x] - f[x] * f[y]).abs() < 1e-15, "({x},{y}): {r:?}");
            }
        }
    }

    #[test]
    fn expand_rejects_a_size_that_does_not_reduce_to_the_source() {
        let k = generating_kernel::<f32>(0.4);
        let src = vec![0.0f32; 6];
        let e = expand(Plane::new(&src, 3, 2).unwrap(), 7, 4, &k).unwrap_err();
        assert!(e.to_string().contains("4x2"), "{e}");
    }
}
