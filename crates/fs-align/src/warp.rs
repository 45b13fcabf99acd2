//! Warping frames and planes into the reference's geometry.
//!
//! Every output pixel (x, y) is the source sampled at `t.apply(x, y)` with a
//! separable kernel: bilinear (2 x 2 taps) or bicubic (Keys, a = -0.5, 4 x 4 taps).
//! Rows are warped in parallel. Taps outside the source are clamped to the edge
//! (replicate); with [`BorderMode::Invalid`] a pixel whose *position* lies outside
//! `[0, w-1] x [0, h-1]` (about 1e-6 px of slack) gets the fill value instead (0 in
//! every channel of a frame, alpha included). A position further than the kernel's
//! reach outside the source is first moved to that reach, which does not change the
//! value (every tap replicates the same edge pixel).
//!
//! # Two paths
//!
//! **Frames (u8, u16) under an affine transform** (the common case: similarity) take
//! the fixed-point path:
//! - Source positions in fixed point with 32 fractional bits: each row's start is
//!   rounded from the matrix (`m1 y + m2`, `m4 y + m5` in f64), then exact integer steps
//!   (the rounded `m0`, `m3`) per output pixel, so there is no drift along a row (the
//!   rounding error of the step, at most 2^-33 px, adds up to 1e-6 px over 6000
//!   pixels). The inside test of [`BorderMode::Invalid`] is on these positions with
//!   2^-20 px of slack.
//! - The kernel phase is the position rounded to 1/128 px (as OpenCV tabulates
//!   `INTER_TAB_SIZE` phases): an error of at most 1/256 px, far below what alignment
//!   resolves. The weights of the 128 phases are tabulated per frame.
//! - Sums go vertical first (each of the `N * C` tap columns), then horizontal (each
//!   channel, taps in order), in f32. For 8-bit samples the vertical weights are
//!   integers (the weight times 2^14, rounded, the second set so that they sum to
//!   exactly 2^14; at most 3e-5 relative error, below 0.03 of a level) and the sums
//!   exact (all partial sums are integers below 2^24), which lets the AVX2 kernels
//!   sum two tap rows per `_mm256_madd_epi16`; the horizontal weights carry the 2^-14.
//! - The pixels of a row whose taps all lie inside form one run (positions are
//!   monotonic in x), found by binary search; it takes a loop without clamping or
//!   border tests, the pixels outside it the general per-pixel code with the same
//!   arithmetic. At CPU level AVX2 or above ([`fs_core::cpu`], capped by
//!   `FSTACK_CPU_TARGET`) the rows are built for AVX2, and 8-bit RGB pixels of
//!   the run (bicubic and bilinear) go through explicit intrinsics
//!   (`rgb8_bicubic_avx2`, `rgb8_bilinear_avx2`) computing the same sums in the
//!   same order (no fused multiply-adds anywhere), so the output is the
//!   same on every x86-64 CPU and for any thread count.
//!
//! **Homographies and float planes** ([`warp_plane`], which the estimator uses) take
//! the general path: the position computed per pixel exactly as [`Transform::apply`]
//! does (f64), the kernel weights from the exact fraction, sums horizontal first in
//! f32. Non-finite positions (a homography's horizon) get the fill value.
//!
//! An identity or integer-shift transform gives the weights (0, 1, 0, 0) exactly on
//! both paths and so copies samples bit for bit; tests compare both paths with plain
//! scalar references of the same arithmetic.
//!
//! # Performance
//!
//! `cargo run --release -p fs-align --example warp_timing [iterations] [filter]`
//! (wall and CPU time, user + system; the criterion bench `cargo bench -p fs-align
//! --bench warp` runs the same cases), 2-core CI-class machine (Xeon with AVX2 and
//! AVX-512, a VM), shared while measured, so judged by CPU time; 6000x4000 frames of
//! random samples, 2 rayon threads. "Before": the general path for frames too
//! (measured right before "after", same conditions):
//!
//! | operation (24 MP RGB) | CPU before | CPU after |
//! |---|---|---|
//! | [`warp_frame`] 8-bit, similarity, bicubic | 1.39-1.77 s | 0.27-0.43 s |
//! | [`warp_frame`] 8-bit, similarity, bilinear | 0.73-0.90 s | 0.17-0.23 s |
//! | [`warp_frame`] 8-bit, homography, bicubic (general path) | 1.5-2.0 s | same |
//! | [`warp_frame`] 16-bit, similarity, bicubic | 1.34-1.69 s | 0.69-0.84 s |
//! | [`crate::small_image`] 8-bit, factor 4 | 45-73 ms | same |
//!
//! The 8-bit RGB bicubic warp now costs 11-18 ns of CPU per pixel, 4x less than
//! before but still about 2x the 150 ms target (CPU time on this shared VM varies by
//! 20-40 % from run to run; the best run measured 270 ms). Stubbing out the AVX2
//! kernel's arithmetic (loads and stores kept) left 140 of those 270 ms: about half
//! is the kernel (4 row loads, 4 byte interleaves, 4 widenings, 4 multiply-adds, the
//! horizontal products, a 4-way reduction, the rounding store), the other half the
//! scalar position, phase and address arithmetic per pixel, the ~2.4 % border
//! pixels of the general per-pixel code (clamped taps, 5x slower), and the page
//! faults of the fresh 72 MB output (about 6 %). What is left: computing positions,
//! phases and addresses for 8 pixels at a time in vectors and handing the kernel
//! 2 pixels per call (one 256-bit register for both pixels' horizontal sums and
//! stores); a faster border loop (a replicated row/column window instead of clamping
//! every tap); AVX2 kernels for Gray and RGBA 8-bit (they take the portable,
//! auto-vectorised loop, about as fast as the 16-bit figure) and for 16-bit samples
//! (`madd` is signed 16-bit: it needs the samples offset by 32768, or 32-bit
//! products).
//! Tried before and rejected (general path, no measurable gain): computing RGB as 4
//! lanes; an AVX2 build of the general row function; converting a row's 12 taps to
//! f32 in one run before weighing them.

use fs_core::cpu::CpuLevel;
use fs_core::{Frame, Plane, PlaneMut, Samples};
use rayon::prelude::*;

use crate::{AlignError, BorderMode, Interpolation, Result, Transform};

/// Slack (pixels) of the inside test of [`BorderMode::Invalid`], so that positions a
/// rounding error outside the frame's edge still count as inside.
const EDGE_SLACK: f64 = 1e-6;

/// A sample type the warp reads and writes: u8 and u16 frame samples (rounded and
/// clipped on store), f32 plane samples (stored as computed).
pub(crate) trait Sample: Copy + Send + Sync + 'static {
    /// The value as f32 (exact).
    fn load(self) -> f32;
    /// The value as f32 (exact, equal to `load`) by a plain conversion, which the
    /// compiler vectorises over a run of samples.
    fn widen(self) -> f32;
    /// Whether the affine frame path sums columns in integers ([`int_weights`]).
    const INT_VERTICAL: bool = false;
    /// The samples as bytes when they are u8.
    fn as_u8(data: &[Self]) -> Option<&[u8]> {
        let _ = data;
        None
    }
    /// The samples as bytes when they are u8.
    fn as_u8_mut(data: &mut [Self]) -> Option<&mut [u8]> {
        let _ = data;
        None
    }
    /// From a computed value: rounded half up and clipped for integers (NaN to 0).
    fn store(v: f32) -> Self;
}

/// Every u8 value as f32: a table load per tap keeps the tap loop scalar, where the
/// compiler's partial vectorisation of `f32::from(u8)` (byte unpacking and shuffles)
/// made 8-bit frames slower than 16-bit ones.
static U8_TO_F32: [f32; 256] = {
    let mut t = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as f32;
        i += 1;
    }
    t
};

impl Sample for u8 {
    const INT_VERTICAL: bool = true;
    #[inline(always)]
    fn as_u8(data: &[Self]) -> Option<&[u8]> {
        Some(data)
    }
    #[inline(always)]
    fn as_u8_mut(data: &mut [Self]) -> Option<&mut [u8]> {
        Some(data)
    }
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from(self)
    }
    #[inline(always)]
    fn load(self) -> f32 {
        U8_TO_F32[usize::from(self)]
    }
    #[inline(always)]
    fn store(v: f32) -> Self {
        // The cast truncates the non-negative value (round half up) and maps NaN to 0.
        (v.clamp(0.0, 255.0) + 0.5) as u8
    }
}

impl Sample for u16 {
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from(self)
    }
    #[inline(always)]
    fn load(self) -> f32 {
        f32::from(self)
    }
    #[inline(always)]
    fn store(v: f32) -> Self {
        (v.clamp(0.0, 65535.0) + 0.5) as u16
    }
}

impl Sample for f32 {
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
    #[inline(always)]
    fn load(self) -> f32 {
        self
    }
    #[inline(always)]
    fn store(v: f32) -> Self {
        v
    }
}

/// Bicubic (Keys, a = -0.5) weights of the taps at -1, 0, 1, 2 for the fraction `t`;
/// exactly (0, 1, 0, 0) at `t` = 0, summing to 1.
#[inline(always)]
pub(crate) fn bicubic_weights(t: f32) -> [f32; 4] {
    const A: f32 = -0.5;
    let t1 = t + 1.0;
    let u = 1.0 - t;
    let w0 = ((A * t1 - 5.0 * A) * t1 + 8.0 * A) * t1 - 4.0 * A;
    let w1 = ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0;
    let w2 = ((A + 2.0) * u - (A + 3.0)) * u * u + 1.0;
    [w0, w1, w2, 1.0 - w0 - w1 - w2]
}

/// The `N` kernel weights (N = 2: bilinear, N = 4: bicubic).
#[inline(always)]
fn weights<const N: usize>(t: f32) -> [f32; N] {
    let mut w = [0.0; N];
    if N == 4 {
        w.copy_from_slice(&bicubic_weights(t));
    } else {
        w[0] = 1.0 - t;
        w[1] = t;
    }
    w
}

/// A source image: interleaved samples, `C` per pixel.
struct Source<'a, S> {
    data: &'a [S],
    width: usize,
    height: usize,
}

/// Everything a row needs besides the row itself.
struct Job<'a, S, const C: usize> {
    src: Source<'a, S>,
    m: [f64; 9],
    affine: bool,
    border: BorderMode,
    /// Per-channel factors (1.0 where none, exact).
    gains: [f32; C],
    /// What an invalid pixel gets in every channel.
    fill: S,
}

/// `floor` by truncation (the baseline x86-64 target has no rounding instruction and
/// `f64::floor` becomes a library call); `v` is within a few pixels of the source.
#[inline(always)]
fn floor_isize(v: f64) -> isize {
    let i = v as isize;
    i - isize::from((i as f64) > v)
}

/// Warps one output row `y` (`out` holds `C` samples per pixel) with an `N`-tap kernel.
fn warp_row<S: Sample, const C: usize, const N: usize>(
    job: &Job<'_, S, C>,
    y: usize,
    out: &mut [S],
) {
    let Source { data, width: sw, height: sh } = job.src;
    let m = &job.m;
    let stride = sw * C;
    let (hi_x, hi_y) = ((sw - 1) as f64, (sh - 1) as f64);
    let reach = N as f64;
    let yf = y as f64;
    let back = (N / 2 - 1) as isize;
    for (x, px) in out.chunks_exact_mut(C).enumerate() {
        let xf = x as f64;
        let (sx, sy) = if job.affine {
            (m[0] * xf + m[1] * yf + m[2], m[3] * xf + m[4] * yf + m[5])
        } else {
            let w = m[6] * xf + m[7] * yf + m[8];
            ((m[0] * xf + m[1] * yf + m[2]) / w, (m[3] * xf + m[4] * yf + m[5]) / w)
        };
        let inside = sx >= -EDGE_SLACK
            && sx <= hi_x + EDGE_SLACK
            && sy >= -EDGE_SLACK
            && sy <= hi_y + EDGE_SLACK;
        if !inside && (job.border == BorderMode::Invalid || sx.is_nan() || sy.is_nan()) {
            px.fill(job.fill);
            continue;
        }
        let sx = sx.clamp(-reach, hi_x + reach);
        let sy = sy.clamp(-reach, hi_y + reach);
        let (ix, iy) = (floor_isize(sx), floor_isize(sy));
        let wx = weights::<N>((sx - ix as f64) as f32);
        let wy = weights::<N>((sy - iy as f64) as f32);
        let (x0, y0) = (ix - back, iy - back);
        let mut acc = [0.0f32; C];
        if x0 >= 0 && y0 >= 0 && x0 as usize + N <= sw && y0 as usize + N <= sh {
            // Interior: every tap inside, no clamping.
            let base = y0 as usize * stride + x0 as usize * C;
            for j in 0..N {
                let row = &data[base + j * stride..base + j * stride + N * C];
                let mut h = [0.0f32; C];
                for i in 0..N {
                    for c in 0..C {
                        h[c] += wx[i] * row[i * C + c].load();
                    }
                }
                for c in 0..C {
                    acc[c] += wy[j] * h[c];
                }
            }
        } else {
            let (mx, my) = (sw as isize - 1, sh as isize - 1);
            for j in 0..N {
                let yy = (y0 + j as isize).clamp(0, my) as usize;
                let row = &data[yy * stride..(yy + 1) * stride];
                let mut h = [0.0f32; C];
                for i in 0..N {
                    let xx = (x0 + i as isize).clamp(0, mx) as usize;
                    for c in 0..C {
                        h[c] += wx[i] * row[xx * C + c].load();
                    }
                }
                for c in 0..C {
                    acc[c] += wy[j] * h[c];
                }
            }
        }
        for c in 0..C {
            px[c] = S::store(acc[c] * job.gains[c]);
        }
    }
}

// ---------------------------------------------------------------------------------
// The frame path for affine transforms: fixed-point positions, tabulated weights.

/// Fractional bits of the fixed-point source positions of the affine frame path.
const FRAC_BITS: u32 = 32;
/// One pixel in fixed point.
const ONE: i64 = 1 << FRAC_BITS;
/// Sub-pixel phases per pixel (log2) of the affine frame path: positions are rounded
/// to 1/128 px, an error of at most 1/256 px.
const PHASE_BITS: u32 = 7;
/// Number of tabulated phases.
pub(crate) const PHASES: usize = 1 << PHASE_BITS;
/// Shift from a fixed-point position to its phase.
const PHASE_SHIFT: u32 = FRAC_BITS - PHASE_BITS;
/// Slack of the inside test of [`BorderMode::Invalid`] in fixed point (2^-20 px).
const FIXED_SLACK: i64 = 1 << (FRAC_BITS - 20);
/// Positions (pixels) beyond which the affine frame path is not used (no overflow of
/// the fixed-point arithmetic).
const FIXED_LIMIT: f64 = (1u64 << 30) as f64;

/// The `N`-tap kernel weights of every phase `p` (fraction `p / PHASES`, exact).
pub(crate) fn weight_table<const N: usize>() -> [[f32; N]; PHASES] {
    std::array::from_fn(|p| weights::<N>(p as f32 / PHASES as f32))
}

/// The scale of [`int_weights`]: 2^14.
const INT_SCALE: f32 = (1 << 14) as f32;

/// Kernel weights in fixed point (scaled by 2^14, |w| <= 2^14 fits an i16), rounded,
/// the second adjusted so that they sum to exactly 2^14 (so constants stay exact).
pub(crate) fn int_weights<const N: usize>(w: &[f32; N]) -> [i32; N] {
    let mut q = w.map(|v| (v * INT_SCALE).round() as i32);
    q[1] = 0;
    q[1] = (1 << 14) - q.iter().sum::<i32>();
    q
}

/// `v` in fixed point, rounded to nearest.
fn to_fixed(v: f64) -> i64 {
    (v * ONE as f64).round() as i64
}

/// Everything a row of the affine frame path needs besides the row itself.
struct FixedJob<'a, S, const C: usize, const N: usize> {
    src: Source<'a, S>,
    m: [f64; 9],
    /// Fixed-point source step per output pixel, x and y.
    step: (i64, i64),
    /// Vertical weights of every phase (8-bit: [`int_weights`], as f32).
    vertical: [[f32; N]; PHASES],
    /// Horizontal weights of every phase (8-bit: scaled by 2^-14).
    horizontal: [[f32; N]; PHASES],
    /// For 8-bit samples: the vertical weights as i16 pairs (weights 0 and 1, 2 and
    /// 3; bilinear: 0 and 1, 0).
    pairs: [[i32; 2]; PHASES],
    /// For 8-bit RGB warps: the horizontal weights of every phase, each
    /// repeated for the three channels (empty otherwise).
    pattern: Vec<[f32; 12]>,
    /// `gains`, padded with 1.0.
    gains4: [f32; 4],
    border: BorderMode,
    gains: [f32; C],
    fill: S,
}

impl<S: Sample, const C: usize, const N: usize> FixedJob<'_, S, C, N> {
    /// The weighted sum of the taps `tap(j, k)` (source row `j` of the kernel, sample
    /// `k` of its `N * C`) for the phases `phx`, `phy`, vertical first: the sums of
    /// every column (8-bit: exact integer sums with [`int_weights`], as f32; 16-bit:
    /// f32 sums in the order j = 0, 1, ..), then the horizontal sum of each channel in
    /// the order i = 0, 1, .. (8-bit: with the weights scaled by 2^-14).
    #[inline(always)]
    fn combine(&self, phx: usize, phy: usize, px: &mut [S], tap: impl Fn(usize, usize) -> S) {
        let mut v = [0.0f32; 16];
        // 8-bit: integer weights (as f32) times samples below 2^8, every partial sum
        // below 2^24 in magnitude: exact, equal to the integer sums in any order.
        let wy = &self.vertical[phy];
        for j in 0..N {
            let w = wy[j];
            for k in 0..N * C {
                v[k] += w * tap(j, k).widen();
            }
        }
        let wx = &self.horizontal[phx];
        for c in 0..C {
            let mut s = 0.0f32;
            for i in 0..N {
                s += wx[i] * v[i * C + c];
            }
            px[c] = S::store(s * self.gains[c]);
        }
    }

    /// One pixel at the fixed-point source position (`x_pos`, `y_pos`), taps clamped
    /// to the source (any pixel; the interior run of a row takes a faster loop with
    /// the same arithmetic).
    #[inline(always)]
    fn edge_pixel(&self, x_pos: i64, y_pos: i64, px: &mut [S]) {
        let Source { data, width: sw, height: sh } = self.src;
        let (hi_x, hi_y) = ((sw as i64 - 1) * ONE, (sh as i64 - 1) * ONE);
        let inside = x_pos >= -FIXED_SLACK
            && x_pos <= hi_x + FIXED_SLACK
            && y_pos >= -FIXED_SLACK
            && y_pos <= hi_y + FIXED_SLACK;
        if self.border == BorderMode::Invalid && !inside {
            px.fill(self.fill);
            return;
        }
        let reach = N as i64 * ONE;
        let (qx, qy) = (
            round_phase(x_pos.clamp(-reach, hi_x + reach)),
            round_phase(y_pos.clamp(-reach, hi_y + reach)),
        );
        let back = (N / 2 - 1) as i64;
        let (x0, y0) = ((qx >> FRAC_BITS) - back, (qy >> FRAC_BITS) - back);
        let (mx, my) = (sw as i64 - 1, sh as i64 - 1);
        let rows: [usize; N] =
            std::array::from_fn(|j| (y0 + j as i64).clamp(0, my) as usize * sw * C);
        let cols: [usize; N] = std::array::from_fn(|i| (x0 + i as i64).clamp(0, mx) as usize * C);
        self.combine(phase(qx), phase(qy), px, |j, k| data[rows[j] + cols[k / C] + k % C]);
    }

    /// Warps output row `y`; `SIMD`: interior pixels of 8-bit RGB warps by
    /// `rgb8_bicubic_avx2` and `rgb8_bilinear_avx2` (only from a function built for AVX2).
    #[inline(always)]
    fn row<const SIMD: bool>(&self, y: usize, out: &mut [S]) {
        let Source { data, width: sw, height: sh } = self.src;
        let m = &self.m;
        let stride = sw * C;
        let yf = y as f64;
        // The row start exactly from the matrix, then exact integer steps: no drift.
        let (rx, ry) = (to_fixed(m[1] * yf + m[2]), to_fixed(m[4] * yf + m[5]));
        let (dx, dy) = self.step;
        let w = out.len() / C;
        // The first tap of output pixel x, per axis, is monotonic in x: the pixels
        // whose taps all lie inside the source form one run.
        let back = (N / 2 - 1) as i64;
        let first = |r: i64, d: i64, x: usize| (round_phase(r + x as i64 * d) >> FRAC_BITS) - back;
        let (ax, bx) = monotone_run(w, dx, |x| first(rx, dx, x), 0, sw as i64 - N as i64);
        let (ay, by) = monotone_run(w, dy, |x| first(ry, dy, x), 0, sh as i64 - N as i64);
        // And whose positions lie inside (a bilinear tap run can start at -1/256 px).
        let (hi_x, hi_y) = ((sw as i64 - 1) * ONE, (sh as i64 - 1) * ONE);
        let (ix, jx) =
            monotone_run(w, dx, |x| rx + x as i64 * dx, -FIXED_SLACK, hi_x + FIXED_SLACK);
        let (iy, jy) =
            monotone_run(w, dy, |x| ry + x as i64 * dy, -FIXED_SLACK, hi_y + FIXED_SLACK);
        let a = ax.max(ay).max(ix).max(iy);
        let b = bx.min(by).min(jx).min(jy).max(a);
        for x in (0..a).chain(b..w) {
            let (x_pos, y_pos) = (rx + x as i64 * dx, ry + x as i64 * dy);
            self.edge_pixel(x_pos, y_pos, &mut out[x * C..x * C + C]);
        }
        let (mut fx, mut fy) = (rx + a as i64 * dx, ry + a as i64 * dy);
        for px in out[a * C..b * C].chunks_exact_mut(C) {
            let (qx, qy) = (round_phase(fx), round_phase(fy));
            fx += dx;
            fy += dy;
            let (phx, phy) = (phase(qx), phase(qy));
            let base = ((qy >> FRAC_BITS) - back) as usize * stride
                + ((qx >> FRAC_BITS) - back) as usize * C;
            #[cfg(target_arch = "x86_64")]
            if SIMD
                && C == 3
                && N == 4
                && let (Some(d), Some(p)) = (S::as_u8(data), S::as_u8_mut(px))
                && let Some(win) = d.get(base..base + 3 * stride + 16)
            {
                // SAFETY: `SIMD` is true only in `fixed_row_avx2`, which runs
                // on CPUs with AVX2 only; `win` holds 3 strides + 16 bytes.
                unsafe {
                    rgb8_bicubic_avx2(
                        win,
                        stride,
                        self.pairs[phy],
                        &self.pattern[phx],
                        &self.gains4,
                        p,
                    )
                };
                continue;
            }
            #[cfg(target_arch = "x86_64")]
            if SIMD
                && C == 3
                && N == 2
                && let (Some(d), Some(p)) = (S::as_u8(data), S::as_u8_mut(px))
                && let Some(win) = d.get(base..base + stride + 8)
            {
                // SAFETY: `SIMD` is true only in `fixed_row_avx2`, which runs
                // on CPUs with AVX2 only; `win` holds a stride + 8 bytes.
                unsafe {
                    rgb8_bilinear_avx2(
                        win,
                        stride,
                        self.pairs[phy][0],
                        &self.pattern[phx],
                        &self.gains4,
                        p,
                    )
                };
                continue;
            }
            let taps: [&[S]; N] =
                std::array::from_fn(|j| &data[base + j * stride..base + j * stride + N * C]);
            self.combine(phx, phy, px, |j, k| taps[j][k]);
        }
    }
}

/// A fixed-point position plus half a phase: its phase and integer part (by
/// [`phase`] and `>> FRAC_BITS`) are those of the nearest multiple of 1/PHASES px.
#[inline(always)]
fn round_phase(pos: i64) -> i64 {
    pos + (1 << (PHASE_SHIFT - 1))
}

/// The phase of a position from [`round_phase`].
#[inline(always)]
fn phase(q: i64) -> usize {
    ((q >> PHASE_SHIFT) & (PHASES as i64 - 1)) as usize
}

/// The run `a..b` of `x` in `0..w` where `lo <= f(x) <= hi`, for `f` non-decreasing
/// (`step >= 0`) or non-increasing (`step < 0`) in `x`; `a == b` when empty.
fn monotone_run(w: usize, step: i64, f: impl Fn(usize) -> i64, lo: i64, hi: i64) -> (usize, usize) {
    // The first x in 0..w where `pred` holds, for `pred` false then true.
    let first = |pred: &dyn Fn(usize) -> bool| {
        let (mut l, mut r) = (0, w);
        while l < r {
            let mid = l + (r - l) / 2;
            if pred(mid) { r = mid } else { l = mid + 1 }
        }
        l
    };
    let (a, b) = if step >= 0 {
        (first(&|x| f(x) >= lo), first(&|x| f(x) > hi))
    } else {
        (first(&|x| f(x) <= hi), first(&|x| f(x) < lo))
    };
    (a, b.max(a))
}

/// One interior pixel of an 8-bit RGB bicubic warp with AVX2: the arithmetic of
/// [`FixedJob::combine`] (exact integer vertical sums of the 12 samples of each tap
/// row by `_mm256_madd_epi16`, then the horizontal sums in the same order), 8 + 4
/// lanes at a time. `win`: the source from the first tap on (16 bytes of the 4th tap
/// row at least), `pairs`: the vertical weights 0 and 1, 2 and 3 as i16 pairs,
/// `wxp`: horizontal weights (scaled) repeated per channel, `gains` and `px`: 3 each
/// (`gains` padded).
///
/// # Safety
/// The CPU must support AVX2 and `win.len() >= 3 * stride + 16`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn rgb8_bicubic_avx2(
    win: &[u8],
    stride: usize,
    pairs: [i32; 2],
    wxp: &[f32; 12],
    gains: &[f32; 4],
    px: &mut [u8],
) {
    use std::arch::x86_64::*;
    debug_assert!(win.len() >= 3 * stride + 16);
    // SAFETY: AVX2 is available and `win` holds 16 bytes from each of the 4 row
    // offsets (the caller's contract); `wxp` and `gains` are read within their
    // lengths; unaligned loads throughout.
    unsafe {
        let p = win.as_ptr();
        let row = |j: usize| _mm_loadu_si128(p.add(j * stride).cast());
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        let (w01, w23) = (_mm256_set1_epi32(pairs[0]), _mm256_set1_epi32(pairs[1]));
        // Samples 0..8 of rows j and j + 1 interleaved as i16 pairs: one multiply-add
        // gives w_j s_j + w_(j+1) s_(j+1) per sample; samples 8..12 likewise.
        let lo = _mm256_add_epi32(
            _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_unpacklo_epi8(r0, r1)), w01),
            _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_unpacklo_epi8(r2, r3)), w23),
        );
        let hi = _mm_add_epi32(
            _mm_madd_epi16(
                _mm_cvtepu8_epi16(_mm_unpackhi_epi8(r0, r1)),
                _mm256_castsi256_si128(w01),
            ),
            _mm_madd_epi16(
                _mm_cvtepu8_epi16(_mm_unpackhi_epi8(r2, r3)),
                _mm256_castsi256_si128(w23),
            ),
        );
        let (lo, hi) = (_mm256_cvtepi32_ps(lo), _mm_cvtepi32_ps(hi));
        // Products p0..p11 (tap-major: p[3 i + c]); channel c sums p[c], p[3 + c],
        // p[6 + c], p[9 + c] in that order.
        let plo = _mm256_mul_ps(_mm256_loadu_ps(wxp.as_ptr()), lo);
        let phi = _mm_mul_ps(_mm_loadu_ps(wxp.as_ptr().add(8)), hi);
        let a = _mm256_castps256_ps128(plo);
        let bc = _mm256_permutevar8x32_ps(plo, _mm256_setr_epi32(3, 4, 5, 6, 6, 7, 7, 7));
        let b = _mm256_castps256_ps128(bc);
        let c = _mm_blend_ps::<0b1100>(_mm256_extractf128_ps::<1>(bc), _mm_movelh_ps(phi, phi));
        let d = _mm_shuffle_ps::<0b11_11_10_01>(phi, phi);
        let s = _mm_add_ps(_mm_add_ps(_mm_add_ps(a, b), c), d);
        // `u8::store` of the 4 lanes (the 4th is ignored): clamp (NaN to 0), + 0.5,
        // truncate.
        let v = _mm_mul_ps(s, _mm_loadu_ps(gains.as_ptr()));
        let v = _mm_min_ps(_mm_max_ps(v, _mm_setzero_ps()), _mm_set1_ps(255.0));
        let i = _mm_cvttps_epi32(_mm_add_ps(v, _mm_set1_ps(0.5)));
        let b = _mm_packus_epi16(_mm_packus_epi32(i, i), _mm_setzero_si128());
        let bytes = _mm_cvtsi128_si32(b).to_le_bytes();
        px[..3].copy_from_slice(&bytes[..3]);
    }
}

/// One interior pixel of an 8-bit RGB bilinear warp with AVX2, as
/// [`rgb8_bicubic_avx2`] with 2 x 2 taps: `win` holds 8 bytes of the 2nd tap row at
/// least, `pair` the vertical weights as an i16 pair, `wxp` the horizontal weights
/// (scaled) repeated per channel (the first 6 used).
///
/// # Safety
/// The CPU must support AVX2 and `win.len() >= stride + 8`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn rgb8_bilinear_avx2(
    win: &[u8],
    stride: usize,
    pair: i32,
    wxp: &[f32; 12],
    gains: &[f32; 4],
    px: &mut [u8],
) {
    use std::arch::x86_64::*;
    debug_assert!(win.len() >= stride + 8);
    // SAFETY: AVX2 is available and `win` holds 8 bytes from both row offsets (the
    // caller's contract); `wxp` and `gains` are read within their lengths.
    unsafe {
        let p = win.as_ptr();
        let (r0, r1) = (_mm_loadl_epi64(p.cast()), _mm_loadl_epi64(p.add(stride).cast()));
        let v = _mm256_madd_epi16(
            _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(r0, r1)),
            _mm256_set1_epi32(pair),
        );
        // Products p0..p5 (p[3 i + c]); channel c sums p[c], p[3 + c].
        let prod = _mm256_mul_ps(_mm256_loadu_ps(wxp.as_ptr()), _mm256_cvtepi32_ps(v));
        let a = _mm256_castps256_ps128(prod);
        let b = _mm256_castps256_ps128(_mm256_permutevar8x32_ps(
            prod,
            _mm256_setr_epi32(3, 4, 5, 6, 7, 7, 7, 7),
        ));
        let s = _mm_add_ps(a, b);
        let v = _mm_mul_ps(s, _mm_loadu_ps(gains.as_ptr()));
        let v = _mm_min_ps(_mm_max_ps(v, _mm_setzero_ps()), _mm_set1_ps(255.0));
        let i = _mm_cvttps_epi32(_mm_add_ps(v, _mm_set1_ps(0.5)));
        let b = _mm_packus_epi16(_mm_packus_epi32(i, i), _mm_setzero_si128());
        let bytes = _mm_cvtsi128_si32(b).to_le_bytes();
        px[..3].copy_from_slice(&bytes[..3]);
    }
}

/// Row `y` of the affine frame path built for AVX2 (the same arithmetic: no fused
/// multiply-adds, so the output equals the baseline build's).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fixed_row_avx2<S: Sample, const C: usize, const N: usize>(
    job: &FixedJob<'_, S, C, N>,
    y: usize,
    out: &mut [S],
) {
    job.row::<true>(y, out);
}

/// Warps a whole frame by the affine frame path, rows in parallel.
fn fixed_rows<S: Sample, const C: usize, const N: usize>(
    job: &FixedJob<'_, S, C, N>,
    dst: &mut [S],
) {
    fixed_rows_at(CpuLevel::detected(), job, dst);
}

/// [`fixed_rows`] at a given CPU level (capped at what the CPU supports; AVX-512
/// uses the AVX2 rows): the one dispatch point of the warp, so tests can run every
/// level.
fn fixed_rows_at<S: Sample, const C: usize, const N: usize>(
    level: CpuLevel,
    job: &FixedJob<'_, S, C, N>,
    dst: &mut [S],
) {
    let avx2 = level.min(CpuLevel::native()) >= CpuLevel::Avx2;
    dst.par_chunks_mut(job.src.width * C).enumerate().for_each(|(y, row)| {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU supports AVX2 (the level is capped by `native`).
            unsafe { fixed_row_avx2(job, y, row) };
            return;
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = avx2;
        job.row::<false>(y, row);
    });
}

/// Whether the affine frame path applies: an affine transform whose positions over
/// the frame stay far inside the fixed-point range.
fn fixed_path_fits(m: &[f64; 9], (w, h): (usize, usize)) -> bool {
    let (w, h) = (w as f64, h as f64);
    is_affine(m)
        && [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)].iter().all(|&(x, y)| {
            let sx = m[0] * x + m[1] * y + m[2];
            let sy = m[3] * x + m[4] * y + m[5];
            sx.abs() < FIXED_LIMIT && sy.abs() < FIXED_LIMIT
        })
}

/// Warps interleaved frame samples by the affine frame path with an `N`-tap kernel.
fn warp_fixed<S: Sample + Default, const C: usize, const N: usize>(
    src: Source<'_, S>,
    m: [f64; 9],
    border: BorderMode,
    gains: [f32; C],
    dst: &mut [S],
) {
    fixed_rows(&fixed_job::<S, C, N>(src, m, border, gains), dst);
}

/// The job of the affine frame path: weight tables and the AVX2 patterns.
fn fixed_job<S: Sample + Default, const C: usize, const N: usize>(
    src: Source<'_, S>,
    m: [f64; 9],
    border: BorderMode,
    gains: [f32; C],
) -> FixedJob<'_, S, C, N> {
    let table = weight_table::<N>();
    let int_table = table.map(|w| int_weights(&w));
    let (vertical, horizontal) = if S::INT_VERTICAL {
        (int_table.map(|w| w.map(|v| v as f32)), table.map(|w| w.map(|v| v / INT_SCALE)))
    } else {
        (table, table)
    };
    FixedJob::<S, C, N> {
        src,
        m,
        step: (to_fixed(m[0]), to_fixed(m[3])),
        vertical,
        horizontal,
        pairs: std::array::from_fn(|p| {
            let w = &int_table[p];
            let pair = |a: i32, b: i32| (a & 0xffff) | (b << 16);
            if N == 4 { [pair(w[0], w[1]), pair(w[2], w[3])] } else { [pair(w[0], w[1]), 0] }
        }),
        pattern: if C == 3 {
            let w = |w: &[f32; N], i: usize| if i < N { w[i] } else { 0.0 };
            horizontal.iter().map(|h| std::array::from_fn(|k| w(h, k / 3))).collect()
        } else {
            Vec::new()
        },
        border,
        gains4: std::array::from_fn(|c| if c < C { gains[c] } else { 1.0 }),
        gains,
        fill: S::default(),
    }
}

/// Warps `job.src` into `dst` (`dst_width` pixels a row), rows in parallel.
fn warp_into<S: Sample, const C: usize>(
    job: &Job<'_, S, C>,
    dst: &mut [S],
    dst_width: usize,
    interpolation: Interpolation,
) {
    let row_len = dst_width * C;
    match interpolation {
        Interpolation::Bilinear => dst
            .par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(y, row)| warp_row::<S, C, 2>(job, y, row)),
        Interpolation::Bicubic => dst
            .par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(y, row)| warp_row::<S, C, 4>(job, y, row)),
    }
}

fn check_transform(t: &Transform) -> Result<[f64; 9]> {
    if !t.is_valid() {
        return Err(AlignError::InvalidOption {
            name: "transform",
            reason: format!("must be finite and not singular, got {:?}", t.matrix()),
        });
    }
    Ok(t.matrix())
}

fn is_affine(m: &[f64; 9]) -> bool {
    m[6] == 0.0 && m[7] == 0.0 && m[8] == 1.0
}

/// Warps interleaved samples with `C` channels (a size-preserving frame warp).
fn warp_samples<S: Sample + Default, const C: usize>(
    data: &[S],
    (width, height): (usize, usize),
    m: [f64; 9],
    interpolation: Interpolation,
    border: BorderMode,
    gains: &[f32; 4],
) -> Vec<S> {
    let job = Job::<S, C> {
        src: Source { data, width, height },
        m,
        affine: is_affine(&m),
        border,
        gains: std::array::from_fn(|c| gains[c]),
        fill: S::default(),
    };
    // Allocation: once per frame (the output).
    let mut out = vec![S::default(); data.len()];
    if fixed_path_fits(&m, (width, height)) {
        let src = Source { data, width, height };
        match interpolation {
            Interpolation::Bilinear => warp_fixed::<S, C, 2>(src, m, border, job.gains, &mut out),
            Interpolation::Bicubic => warp_fixed::<S, C, 4>(src, m, border, job.gains, &mut out),
        }
    } else {
        warp_into(&job, &mut out, width, interpolation);
    }
    out
}

fn warp_any<S: Sample + Default>(
    data: &[S],
    channels: usize,
    size: (usize, usize),
    m: [f64; 9],
    interpolation: Interpolation,
    border: BorderMode,
    gains: &[f32; 4],
) -> Vec<S> {
    match channels {
        1 => warp_samples::<S, 1>(data, size, m, interpolation, border, gains),
        2 => warp_samples::<S, 2>(data, size, m, interpolation, border, gains),
        3 => warp_samples::<S, 3>(data, size, m, interpolation, border, gains),
        4 => warp_samples::<S, 4>(data, size, m, interpolation, border, gains),
        _ => unreachable!("frames have 1 to 4 channels"),
    }
}

/// Per-channel factors for a layout: `gains` for the colour channels, 1.0 for alpha
/// (and everywhere without gains); an error when their number does not match.
pub(crate) fn channel_gains(
    gains: Option<&[f64]>,
    layout: fs_core::ChannelLayout,
) -> Result<[f32; 4]> {
    let mut g = [1.0f32; 4];
    if let Some(gains) = gains {
        let cc = layout.color_channels();
        if gains.len() != cc || !gains.iter().all(|v| v.is_finite() && *v >= 0.0) {
            return Err(AlignError::InvalidOption {
                name: "gains",
                reason: format!(
                    "a {} frame needs {cc} finite non-negative gains, got {gains:?}",
                    layout.name()
                ),
            });
        }
        for (d, &s) in g.iter_mut().zip(gains) {
            *d = s as f32;
        }
    }
    Ok(g)
}

/// Warps `frame` into the reference's geometry (same size and format, metadata and
/// source kept): each output pixel (x, y) is the frame sampled at `t.apply(x, y)`,
/// its colour channels multiplied by `gains` (the balance, one per colour channel, in
/// the same pass) when given, rounded and clipped to the sample range. Alpha is never
/// scaled. With [`BorderMode::Invalid`] pixels whose position lies outside the frame
/// are 0 in every channel (transparent where the layout has alpha).
///
/// Errors: a transform that is not finite or singular, or the wrong number of gains.
///
/// ```
/// use fs_align::{BorderMode, Interpolation, Transform, warp_frame};
/// use fs_core::{BitDepth, ChannelLayout, Frame, FrameInfo, PixelFormat, Samples};
///
/// let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight };
/// let info = FrameInfo { width: 4, height: 1, format };
/// let frame = Frame::new(info, Samples::U8(vec![10, 20, 30, 40])).unwrap();
/// // Output x shows frame x + 1: a shift left by one pixel, the edge replicated.
/// let t = Transform::translation(1.0, 0.0);
/// let out = warp_frame(&frame, &t, Interpolation::Bicubic, BorderMode::Replicate, None)?;
/// assert_eq!(out.samples(), &Samples::U8(vec![20, 30, 40, 40]));
/// # Ok::<(), fs_align::AlignError>(())
/// ```
pub fn warp_frame(
    frame: &Frame,
    t: &Transform,
    interpolation: Interpolation,
    border: BorderMode,
    gains: Option<&[f64]>,
) -> Result<Frame> {
    let m = check_transform(t)?;
    let layout = frame.format().layout;
    let g = channel_gains(gains, layout)?;
    if m == Transform::identity().matrix() {
        // The kernel would copy every sample (weights (0, 1, 0, 0), tested on planes):
        // skip it, which makes "warping" the reference frame itself nearly free.
        return match gains {
            None => Ok(frame.clone()),
            Some(_) => crate::balance::scale_frame(frame, &g),
        };
    }
    let (c, size) = (layout.channels(), (frame.width(), frame.height()));
    let samples = match frame.samples() {
        Samples::U8(s) => Samples::U8(warp_any(s, c, size, m, interpolation, border, &g)),
        Samples::U16(s) => Samples::U16(warp_any(s, c, size, m, interpolation, border, &g)),
    };
    let mut out = Frame::new(frame.info(), samples)?.with_metadata(frame.metadata.clone());
    out.source = frame.source.clone();
    Ok(out)
}

/// Warps one float plane: `dst(x, y) = src(t.apply(x, y))`; positions outside `src`
/// take the nearest edge value ([`BorderMode::Replicate`]) or `fill`
/// ([`BorderMode::Invalid`]; NaN is a good mark for "no data"). `dst` may differ in
/// size from `src`. Values are not clipped.
///
/// Errors: a transform that is not finite or singular.
pub fn warp_plane(
    src: Plane<'_, f32>,
    mut dst: PlaneMut<'_, f32>,
    t: &Transform,
    interpolation: Interpolation,
    border: BorderMode,
    fill: f32,
) -> Result<()> {
    let m = check_transform(t)?;
    let job = Job::<f32, 1> {
        src: Source { data: src.as_slice(), width: src.width(), height: src.height() },
        m,
        affine: is_affine(&m),
        border,
        gains: [1.0],
        fill,
    };
    let dst_width = dst.width();
    warp_into(&job, dst.as_mut_slice(), dst_width, interpolation);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bicubic_weights_at_zero_and_half() {
        assert_eq!(bicubic_weights(0.0), [0.0, 1.0, 0.0, 0.0]);
        assert_eq!(bicubic_weights(0.5), [-0.0625, 0.5625, 0.5625, -0.0625]);
        let w = bicubic_weights(0.3);
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // Linear functions are reproduced: sum w_i (i - 1) = t.
        let m: f32 = w.iter().enumerate().map(|(i, w)| w * (i as f32 - 1.0)).sum();
        assert!((m - 0.3).abs() < 1e-6);
    }

    #[test]
    fn int_weights_sum_to_one_and_keep_integer_positions_exact() {
        for p in 0..PHASES {
            let w = weight_table::<4>()[p];
            let q = int_weights(&w);
            assert_eq!(q.iter().sum::<i32>(), 1 << 14);
            for k in 0..4 {
                assert!((q[k] as f32 - w[k] * INT_SCALE).abs() <= 1.0, "{p} {k}");
            }
        }
        assert_eq!(int_weights(&[0.0, 1.0, 0.0, 0.0]), [0, 1 << 14, 0, 0]);
    }

    #[test]
    fn monotone_runs() {
        // f(x) = x / 2 - 3 in 0..20: 0 <= f <= 4 for x in 6..16.
        assert_eq!(monotone_run(20, 1, |x| x as i64 / 2 - 3, 0, 4), (6, 16));
        // Decreasing: f(x) = 10 - x: 2 <= f <= 5 for x in 5..9.
        assert_eq!(monotone_run(20, -1, |x| 10 - x as i64, 2, 5), (5, 9));
        // Empty.
        let (a, b) = monotone_run(20, 1, |x| x as i64 + 100, 0, 4);
        assert_eq!(a, b);
    }

    /// At every CPU level this machine supports, the rows of 8-bit RGB bicubic
    /// warps equal the portable row, bit for bit; the levels run are printed.
    #[test]
    fn every_level_equals_portable_rows() {
        let (w, h) = (53, 31);
        let data: Vec<u8> = (0..w * h * 3).map(|i| (i * 7919 % 251) as u8).collect();
        let t = Transform::similarity(1.02, 0.03, -1.7, 0.6).matrix();
        let src = || Source { data: &data, width: w, height: h };
        let job = FixedJob::<u8, 3, 4> {
            src: src(),
            m: t,
            step: (to_fixed(t[0]), to_fixed(t[3])),
            vertical: weight_table::<4>().map(|w| int_weights(&w).map(|v| v as f32)),
            horizontal: weight_table::<4>().map(|w| w.map(|v| v / INT_SCALE)),
            pairs: [[0; 2]; PHASES],
            pattern: Vec::new(),
            gains4: [1.1, 0.9, 1.0, 1.0],
            gains: [1.1, 0.9, 1.0],
            border: BorderMode::Replicate,
            fill: 0,
        };
        let mut want = vec![0u8; w * h * 3];
        for (y, row) in want.chunks_exact_mut(w * 3).enumerate() {
            job.row::<false>(y, row);
        }
        // The job as the warp builds it (with the AVX2 patterns), at every level.
        let full = fixed_job::<u8, 3, 4>(src(), t, BorderMode::Replicate, [1.1, 0.9, 1.0]);
        let levels = CpuLevel::all_supported();
        assert_eq!(levels[0], CpuLevel::Scalar);
        for &level in &levels {
            let mut got = vec![0u8; w * h * 3];
            fixed_rows_at(level, &full, &mut got);
            assert_eq!(got, want, "{level:?}");
        }
        println!("levels run: {levels:?}");
        // The public path (the detected level, with the job built by `warp_fixed`).
        let mut got = vec![0u8; w * h * 3];
        warp_fixed::<u8, 3, 4>(src(), t, BorderMode::Replicate, [1.1, 0.9, 1.0], &mut got);
        assert_eq!(got, want);
    }

    #[test]
    fn floor_by_truncation() {
        for v in [-2.5, -2.0, -0.1, 0.0, 0.7, 3.0, 3.999] {
            assert_eq!(floor_isize(v), v.floor() as isize, "{v}");
        }
    }

    #[test]
    fn store_rounds_half_up_and_clips() {
        assert_eq!(u8::store(2.5), 3);
        assert_eq!(u8::store(2.49), 2);
        assert_eq!(u8::store(-7.0), 0);
        assert_eq!(u8::store(f32::NAN), 0);
        assert_eq!(u8::store(300.0), 255);
        assert_eq!(u16::store(70000.0), 65535);
        assert_eq!(u16::store(1000.5), 1001);
    }

    #[test]
    fn invalid_border_marks_outside_pixels() {
        let src: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let mut dst = vec![0.0f32; 16];
        let t = Transform::translation(2.5, 0.0);
        let p = Plane::new(&src, 4, 4).unwrap();
        let d = PlaneMut::new(&mut dst, 4, 4).unwrap();
        warp_plane(p, d, &t, Interpolation::Bilinear, BorderMode::Invalid, -1.0).unwrap();
        // x = 0 samples 2.5 (inside), x >= 1 samples 3.5.. (outside).
        assert_eq!(&dst[..4], &[2.5, -1.0, -1.0, -1.0]);
        assert_eq!(&dst[4..8], &[6.5, -1.0, -1.0, -1.0]);
    }
}
