//! The per-frame work on the detail levels, band by band: reduce a frame's rows to
//! the next Gaussian level, and fold one frame's Laplacian level into the running
//! (best energy, best coefficients) level. A band is a run of whole rows of a level
//! (the whole level in memory, `tile_size` rows of a disk level); within a band the
//! rows are split into strips worked on in parallel.
//!
//! For a strip of rows `y0..y1` of level `i` the fold computes the Laplacian rows
//! `y0 - 2 .. y1 + 2` (`G_i - expand(G_{i+1})`, all channels), their luma squared,
//! the energy (that square convolved with the generating kernel, reflect-101) of rows
//! `y0..y1`, and keeps, per pixel, the coefficients of whichever frame has the larger
//! energy so far (strictly larger: ties stay with the earlier frame). The halo rows
//! are read from the whole level across the band's edges, so nothing of the frame's
//! Laplacian level is stored beyond the strip, and every output value is computed
//! the same way for any band size, strip size and thread count: the result depends
//! on none of them.
//!
//! The arithmetic is the non-zero terms of [`fs_core::convolve_separable`] and
//! [`fs_core::luma_into`] in their order, so the result is bit-identical to the
//! plain definition (whole-level Laplacian, luma, square, convolve, arg-max) that the
//! integration tests keep as the reference.

use std::sync::Mutex;

use fs_core::{Float, LUMA_WEIGHTS, Samples, reflect101};
use rayon::prelude::*;

use crate::PyramidError;
use crate::noise::{EnergyHistogram, SAMPLE_ROWS, accumulate};
use crate::reduce::{
    dot5, expand_horizontal, expand_vertical, reduce_horizontal, reduced_size, vertical5,
};
use crate::rows::{FrameRows, RowSource};

/// Rows per strip: a few strips per thread on large bands, with a 4-row halo.
fn strip_rows(height: usize) -> usize {
    (height / 16).clamp(8, 64)
}

/// Luma of one pixel's channels, as [`fs_core::luma_into`] computes it.
#[inline(always)]
fn luma_row<T: Float>(lap: &[T], w: usize, c: usize, out: &mut [T]) {
    if c < 3 {
        for (o, &v) in out.iter_mut().zip(&lap[..w]) {
            *o = v * v;
        }
        return;
    }
    let [wr, wg, wb] = LUMA_WEIGHTS.map(T::from_f64);
    let (r, g, b) = (&lap[..w], &lap[w..2 * w], &lap[2 * w..3 * w]);
    for x in 0..w {
        let l = wr * r[x] + wg * g[x] + wb * b[x];
        out[x] = l * l;
    }
}

/// Same-size horizontal pass of [`fs_core::convolve_separable`] with a 5-tap kernel.
#[inline]
fn horizontal5<T: Float>(src: &[T], k: &[T; 5], out: &mut [T]) {
    let w = src.len();
    let border = |x: usize| -> T {
        let mut acc = T::zero();
        for (j, &kj) in k.iter().enumerate() {
            acc += kj * src[reflect101(x as isize + j as isize - 2, w)];
        }
        acc
    };
    if w <= 4 {
        for (x, o) in out.iter_mut().enumerate() {
            *o = border(x);
        }
        return;
    }
    for x in [0, 1, w - 2, w - 1] {
        out[x] = border(x);
    }
    for (x, o) in out[2..w - 2].iter_mut().enumerate() {
        *o = dot5(k, &src[x..x + 5]);
    }
}

/// Scratch rows of one strip task; the buffers only grow, so one set serves every
/// level of every frame.
#[derive(Debug, Default)]
pub(crate) struct Scratch<T> {
    src: Vec<T>,
    vt_coarse: Vec<T>,
    expanded: Vec<T>,
    lap: Vec<T>,
    lum2: Vec<T>,
    vt: Vec<T>,
    energy: Vec<T>,
    histogram: EnergyHistogram,
}

fn fit<T: Float>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        // Allocation: grows once per stack (the largest level), then reused.
        v.resize(n, T::zero());
    }
    &mut v[..n]
}

/// Scratch kept across levels and frames, handed to rayon tasks and taken back, so
/// the hot loops allocate (and the kernel zeroes pages) only for the first frame.
#[derive(Debug, Default)]
pub(crate) struct ScratchPool<T>(Mutex<Vec<Scratch<T>>>);

/// A scratch set borrowed from the pool, returned on drop.
struct Pooled<'a, T> {
    pool: &'a ScratchPool<T>,
    scratch: Option<Scratch<T>>,
}

impl<T> ScratchPool<T> {
    fn take(&self) -> Pooled<'_, T>
    where
        T: Default,
    {
        let s = self.0.lock().expect("scratch pool poisoned").pop().unwrap_or_default();
        Pooled { pool: self, scratch: Some(s) }
    }
}

impl<T> Drop for Pooled<'_, T> {
    fn drop(&mut self) {
        if let (Some(s), Ok(mut pool)) = (self.scratch.take(), self.pool.0.lock()) {
            pool.push(s);
        }
    }
}

impl<T> std::ops::Deref for Pooled<'_, T> {
    type Target = Scratch<T>;
    fn deref(&self) -> &Scratch<T> {
        self.scratch.as_ref().expect("present until drop")
    }
}

impl<T> std::ops::DerefMut for Pooled<'_, T> {
    fn deref_mut(&mut self) -> &mut Scratch<T> {
        self.scratch.as_mut().expect("present until drop")
    }
}

/// Pixels per selection block: a block where the frame wins nowhere is not written,
/// so its cache lines of the running pyramid stay clean.
const BLOCK: usize = 16;

/// One strip of a band: its first row, its running energy rows, its rows of every
/// channel's running coefficients and (guarded levels) of the running energy sum
/// and coefficient sums.
type StripTask<'a, T> = (usize, &'a mut [T], Vec<&'a mut [T]>, Vec<&'a mut [T]>);

/// What one band of a level folds into: its rows of the running energy and of every
/// channel's running coefficients, and on the levels the noise guard acts on, its
/// rows of the running energy sum then of every channel's coefficient sum (empty
/// elsewhere) and the current frame's energy histogram.
pub(crate) struct BandOut<'a, T> {
    pub(crate) energy: &'a mut [T],
    pub(crate) coeffs: Vec<&'a mut [T]>,
    pub(crate) sums: Vec<&'a mut [T]>,
    pub(crate) histogram: Option<&'a Mutex<EnergyHistogram>>,
}

/// Folds rows `y0..` (as many as `out.energy` holds) of one frame's Laplacian level
/// `G_i - expand(G_{i+1})` into the running best. `fine` yields the rows of `G_i`
/// (the whole level: halo rows are read across the band's edges), `coarse` holds
/// the planes of `G_{i+1}` (`cw x ch`).
pub(crate) fn fold_band<T: Float, S: RowSource<T>>(
    fine: &S,
    coarse: &[&[T]],
    (cw, ch): (usize, usize),
    kernel: &[T; 5],
    out: BandOut<'_, T>,
    y0: usize,
    pool: &ScratchPool<T>,
) {
    let BandOut { energy, coeffs, sums, histogram } = out;
    let (w, h, c) = (fine.width(), fine.height(), fine.channels());
    let strip = strip_rows(energy.len() / w);
    let mut channels: Vec<_> = coeffs.into_iter().map(|p| p.chunks_mut(strip * w)).collect();
    let mut sums: Vec<_> = sums.into_iter().map(|p| p.chunks_mut(strip * w)).collect();
    // Allocation: one task list per band and frame.
    let tasks: Vec<StripTask<'_, T>> = energy
        .chunks_mut(strip * w)
        .enumerate()
        .map(|(i, e)| {
            let cs = channels.iter_mut().map(|it| it.next().expect("same size")).collect();
            let ss = sums.iter_mut().map(|it| it.next().expect("same size")).collect();
            (y0 + i * strip, e, cs, ss)
        })
        .collect();
    tasks.into_par_iter().for_each_init(
        || pool.take(),
        |s, (y0, best_e, mut best_c, mut sum_c)| {
            let rows = best_e.len() / w;
            let s = &mut **s;
            let src = fit(&mut s.src, c * w);
            let vt_coarse = fit(&mut s.vt_coarse, cw);
            let expanded = fit(&mut s.expanded, w);
            let lap_all = fit(&mut s.lap, (rows + 4) * c * w);
            let lum2 = fit(&mut s.lum2, (rows + 4) * w);
            // Laplacian rows y0 - 2 .. y0 + rows + 2 (reflected), and their luma squared.
            for k in 0..rows + 4 {
                let y = reflect101(y0 as isize + k as isize - 2, h);
                fine.read_row(y, src);
                let lap = &mut lap_all[k * c * w..(k + 1) * c * w];
                for (ch_i, coarse_plane) in coarse.iter().enumerate() {
                    expand_vertical(coarse_plane, cw, ch, y, kernel, vt_coarse);
                    expand_horizontal(vt_coarse, kernel, expanded);
                    let g = &src[ch_i * w..(ch_i + 1) * w];
                    for ((l, &g), &e) in
                        lap[ch_i * w..(ch_i + 1) * w].iter_mut().zip(g).zip(expanded.iter())
                    {
                        *l = g - e;
                    }
                }
                luma_row(lap, w, c, &mut lum2[k * w..(k + 1) * w]);
            }
            let vt = fit(&mut s.vt, w);
            let energy = fit(&mut s.energy, w);
            for j in 0..rows {
                let r = |k: usize| &lum2[(j + k) * w..(j + k + 1) * w];
                vertical5([r(0), r(1), r(2), r(3), r(4)], kernel, vt);
                horizontal5(vt, kernel, energy);
                let be = &mut best_e[j * w..(j + 1) * w];
                let lap = &lap_all[(j + 2) * c * w..(j + 3) * c * w];
                if let [es, sum_c @ ..] = &mut sum_c[..] {
                    if (y0 + j) % SAMPLE_ROWS == 0 {
                        s.histogram.add(energy);
                    }
                    accumulate(&mut es[j * w..(j + 1) * w], energy);
                    for (ch_i, sc) in sum_c.iter_mut().enumerate() {
                        accumulate(&mut sc[j * w..(j + 1) * w], &lap[ch_i * w..(ch_i + 1) * w]);
                    }
                }
                for x0 in (0..w).step_by(BLOCK) {
                    let x1 = (x0 + BLOCK).min(w);
                    let (e, b) = (&energy[x0..x1], &be[x0..x1]);
                    // The comparison is recomputed per channel rather than kept in
                    // a mask array: plain f32 loops vectorise to compare + blend.
                    if !e.iter().zip(b).fold(false, |any, (e, b)| any | (e > b)) {
                        continue;
                    }
                    for (ch_i, bc) in best_c.iter_mut().enumerate() {
                        let bc = &mut bc[j * w + x0..j * w + x1];
                        let l = &lap[ch_i * w + x0..ch_i * w + x1];
                        for ((bc, &l), (&e, &b)) in bc.iter_mut().zip(l).zip(e.iter().zip(b)) {
                            *bc = if e > b { l } else { *bc };
                        }
                    }
                    for (b, &e) in be[x0..x1].iter_mut().zip(e) {
                        *b = if e > *b { e } else { *b };
                    }
                }
            }
            if let Some(h) = histogram {
                h.lock().expect("histogram poisoned").merge_from(&mut s.histogram);
            }
        },
    );
}

/// Reduces `src` into the output rows `yo0..` (as many as `out[0]` holds) of every
/// channel (`out[c]`, `wo` wide), in strips so that each source row is converted
/// once per strip; the source rows are read across the band's edges.
pub(crate) fn reduce_band<T: Float, S: RowSource<T>>(
    src: &S,
    out: Vec<&mut [T]>,
    yo0: usize,
    wo: usize,
    kernel: &[T; 5],
    pool: &ScratchPool<T>,
) {
    let (w, h, c) = (src.width(), src.height(), src.channels());
    let strip = strip_rows(out[0].len() / wo);
    let mut channels: Vec<_> = out.into_iter().map(|p| p.chunks_mut(strip * wo)).collect();
    let strips = channels[0].len();
    // Allocation: one task list per band and frame.
    let tasks: Vec<(usize, Vec<&mut [T]>)> = (0..strips)
        .map(|i| {
            (yo0 + i * strip, channels.iter_mut().map(|it| it.next().expect("sized")).collect())
        })
        .collect();
    let need = 2 * strip + 3;
    tasks.into_par_iter().for_each_init(
        || pool.take(),
        |s, (yo0, mut out)| {
            let s = &mut **s;
            let buf = fit(&mut s.lap, need * c * w);
            let vt = fit(&mut s.vt, w);
            let rows = out[0].len() / wo;
            // Source rows 2 yo0 - 2 .. 2 (yo0 + rows - 1) + 3.
            let n = 2 * rows + 3;
            for k in 0..n {
                let y = reflect101(2 * yo0 as isize + k as isize - 2, h);
                src.read_row(y, &mut buf[k * c * w..(k + 1) * c * w]);
            }
            for (ch_i, o) in out.iter_mut().enumerate() {
                for j in 0..rows {
                    let r = |k: usize| {
                        let base = ((2 * j + k) * c + ch_i) * w;
                        &buf[base..base + w]
                    };
                    vertical5([r(0), r(1), r(2), r(3), r(4)], kernel, vt);
                    reduce_horizontal(vt, kernel, &mut o[j * wo..(j + 1) * wo]);
                }
            }
        },
    );
}

/// [`crate::reduce_into`] of every channel of interleaved integer samples (as a
/// [`fs_core::Frame`] holds them, `width x height`, `dst.len()` channels, no alpha
/// premultiplication), converted to floats row by row as they are read, so no float
/// copy of the frame is made: `dst[c]` gets channel `c` at [`reduced_size`]. The
/// same values, bit for bit, as `reduce_into` of each channel's float plane.
///
/// ```
/// use fs_core::{Plane, PlaneMut, Samples, generating_kernel};
/// let k = generating_kernel::<f32>(0.4);
/// let rgb: Vec<u8> = (0..5 * 3 * 3).map(|i| (i * 7 % 256) as u8).collect(); // 5x3 RGB
/// let mut levels = vec![vec![0.0f32; 3 * 2]; 3];
/// fs_pyramid::reduce_samples(&Samples::U8(rgb.clone()), 5, 3, &mut levels, &k).unwrap();
/// let green: Vec<f32> = rgb.iter().skip(1).step_by(3).map(|&v| f32::from(v)).collect();
/// let want = fs_pyramid::reduce(Plane::new(&green, 5, 3).unwrap(), &k);
/// assert_eq!(levels[1], want);
/// ```
pub fn reduce_samples<T: Float>(
    samples: &Samples,
    width: usize,
    height: usize,
    dst: &mut [Vec<T>],
    kernel: &[T; 5],
) -> Result<(), PyramidError> {
    let c = dst.len();
    let n = match samples {
        Samples::U8(s) => s.len(),
        Samples::U16(s) => s.len(),
    };
    let (wo, ho) = reduced_size(width, height);
    if c == 0 || n != width * height * c || dst.iter().any(|p| p.len() != wo * ho) {
        return Err(fs_core::CoreError::Dimensions(format!(
            "reduce_samples: {n} samples for {width}x{height} with {c} channels, and planes \
             of {wo}x{ho} wanted"
        ))
        .into());
    }
    let src = FrameRows::plain(samples, width, height, c);
    let out = dst.iter_mut().map(|p| p.as_mut_slice()).collect();
    // Allocation: the strip scratch, once per call.
    reduce_band(&src, out, 0, wo, kernel, &ScratchPool::default());
    Ok(())
}

#[cfg(test)]
mod tests {
    use fs_core::{Plane, Samples, generating_kernel};

    use super::*;

    /// 16-bit RGBA of 37x45: the 23 reduced rows make three strips of 8 rows, so the
    /// strip edges and the reflected borders are both crossed.
    #[test]
    fn reduce_samples_equals_reduce_of_each_channel_plane() {
        let (w, h, c) = (37, 45, 4);
        let samples: Vec<u16> = (0..w * h * c).map(|i| (i * 7919 % 65_536) as u16).collect();
        let k = generating_kernel::<f64>(0.375);
        let (wo, ho) = reduced_size(w, h);
        let mut levels = vec![vec![0.0f64; wo * ho]; c];
        reduce_samples(&Samples::U16(samples.clone()), w, h, &mut levels, &k).unwrap();
        for (ch, level) in levels.iter().enumerate() {
            let plane: Vec<f64> = samples.iter().skip(ch).step_by(c).map(|&v| v.into()).collect();
            let want = crate::reduce(Plane::new(&plane, w, h).unwrap(), &k);
            assert_eq!(level, &want, "channel {ch}");
        }
    }

    #[test]
    fn reduce_samples_refuses_planes_of_another_size() {
        let k = generating_kernel::<f32>(0.4);
        let mut levels = vec![vec![0.0f32; 6]; 3];
        reduce_samples(&Samples::U8(vec![0; 5 * 4 * 3]), 5, 4, &mut levels, &k).unwrap();
        levels[1].pop();
        let e = reduce_samples(&Samples::U8(vec![0; 5 * 4 * 3]), 5, 4, &mut levels, &k);
        assert_eq!(
            e.unwrap_err().to_string(),
            "invalid dimensions: reduce_samples: 60 samples for 5x4 with 3 channels, and \
             planes of 3x2 wanted"
        );
    }
}
