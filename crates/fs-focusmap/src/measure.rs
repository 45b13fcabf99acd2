//! The focus measure: the squared Laplacian of luma, pooled over 2x2 pixels into a
//! half-resolution map and smoothed by a Gaussian.
//!
//! The Laplacian is taken at full resolution (pixel-scale detail is what tells the
//! frame in focus from its neighbours); the decision itself is made on the
//! half-resolution map, which is four times cheaper to keep and to clean, and which
//! the pooling already averages over the scale the Gaussian smooths at (the 2x2 box
//! adds a variance of 1/4 pixel^2, taken out of the Gaussian's so the whole is a
//! Gaussian of `focus_sigma` full-resolution pixels).

use fs_core::cpu::CpuLevel;
use fs_core::{
    ChannelLayout, Frame, IntSample, LUMA_WEIGHTS, Plane, PlaneMut, Samples, convolve_separable,
    gaussian_kernel_for_sigma, reflect101,
};
use rayon::prelude::*;

/// Half of `n`, rounded up: the size of the decision map along an axis.
pub(crate) fn half(n: usize) -> usize {
    n.div_ceil(2)
}

/// Reused buffers for the focus measure of one frame after another.
#[derive(Debug)]
pub(crate) struct Measure {
    width: usize,
    height: usize,
    pooled: Vec<f32>,
    kernel: Vec<f32>,
    channel: Option<usize>,
}

impl Measure {
    /// Buffers for `width` x `height` frames, pooled with a Gaussian of `sigma`
    /// full-resolution pixels, measured on luma or on `channel` alone.
    pub(crate) fn new(
        width: usize,
        height: usize,
        sigma: f64,
        channel: Option<usize>,
    ) -> fs_core::Result<Self> {
        let half_sigma = (sigma * sigma - 0.25).max(0.0625).sqrt() / 2.0;
        Ok(Self {
            width,
            height,
            // Allocation: once per stack.
            pooled: vec![0.0; half(width) * half(height)],
            kernel: gaussian_kernel_for_sigma(half_sigma)?,
            channel,
        })
    }

    /// The half-resolution focus measure of `frame` into `out`
    /// (`half(width) * half(height)` values).
    pub(crate) fn focus(&mut self, frame: &Frame, out: &mut [f32]) -> fs_core::Result<()> {
        let (w, h) = (self.width, self.height);
        let source = match self.channel {
            Some(k) => Source::Channel(frame.format().layout.channels(), k),
            None => Source::Luma(frame.format().layout),
        };
        let (level, pooled) = (CpuLevel::detected(), &mut self.pooled);
        match frame.samples() {
            Samples::U8(s) => pooled_from_samples(level, s, source, w, h, 1.0 / 255.0, pooled),
            Samples::U16(s) => pooled_from_samples(level, s, source, w, h, 1.0 / 65535.0, pooled),
        }
        let (hw, hh) = (half(w), half(h));
        convolve_separable(
            Plane::new(&self.pooled, hw, hh)?,
            PlaneMut::new(out, hw, hh)?,
            &self.kernel,
            &self.kernel,
        )
    }
}

/// What the focus measure is taken of.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The luma of pixels of this layout.
    Luma(ChannelLayout),
    /// Channel `.1` of pixels of `.0` channels.
    Channel(usize, usize),
}

impl Source {
    fn channels(self) -> usize {
        match self {
            Source::Luma(layout) => layout.channels(),
            Source::Channel(c, _) => c,
        }
    }
}

/// Decision rows per task of [`pooled_from_samples`]: its luma rows are made once
/// (with two rows of border), not twice as with a task per decision row.
const TASK_ROWS: usize = 8;

/// The pooled squared Laplacian of the luma of interleaved samples: each task makes
/// the luma of the rows its decision rows need (and one more on each side), so no
/// full-size luma plane is written or read.
fn pooled_from_samples<S: IntSample>(
    level: CpuLevel,
    s: &[S],
    source: Source,
    w: usize,
    h: usize,
    scale: f32,
    out: &mut [f32],
) {
    let hw = half(w);
    let slots = 2 * TASK_ROWS + 2;
    out.par_chunks_mut(hw * TASK_ROWS).enumerate().for_each_init(
        // Allocation: the task's luma rows and two Laplacian rows per rayon task.
        || vec![0.0f32; (slots + 2) * w],
        |buf, (t, o)| {
            let task = Task { s, source, w, h, scale };
            task_at(level, &task, t, o, buf);
        },
    );
}

/// What every task of [`pooled_from_samples`] reads.
struct Task<'a, S> {
    s: &'a [S],
    source: Source,
    w: usize,
    h: usize,
    scale: f32,
}

/// Task `t` of [`pooled_from_samples`] (its decision rows `o`) at a given CPU level
/// (capped at what the CPU supports). Every level gives the same bits: the same
/// operations in the same order, the compiler only gets wider registers (no fused
/// multiply-add).
fn task_at<S: IntSample>(
    level: CpuLevel,
    task: &Task<'_, S>,
    t: usize,
    o: &mut [f32],
    buf: &mut [f32],
) {
    match level.min(CpuLevel::native()) {
        #[cfg(target_arch = "x86_64")]
        CpuLevel::Avx2 | CpuLevel::Avx512 => {
            // SAFETY: the CPU supports AVX2 (the level is capped by `native`).
            unsafe { task_avx2(task, t, o, buf) }
        }
        _ => task_body(task, t, o, buf),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn task_avx2<S: IntSample>(task: &Task<'_, S>, t: usize, o: &mut [f32], buf: &mut [f32]) {
    task_body(task, t, o, buf);
}

#[inline(always)]
fn task_body<S: IntSample>(task: &Task<'_, S>, t: usize, o: &mut [f32], buf: &mut [f32]) {
    let &Task { s, source, w, h, scale } = task;
    let c = source.channels();
    let hw = half(w);
    let slots = 2 * TASK_ROWS + 2;
    let (luma, lap) = buf.split_at_mut(slots * w);
    let first = 2 * t * TASK_ROWS;
    let decision_rows = o.len() / hw;
    // Luma rows first-1 ..= first + 2 * decision_rows (reflected at the
    // borders) in slots 0..
    for slot in 0..2 * decision_rows + 2 {
        let y = reflect101(first as isize - 1 + slot as isize, h);
        let row = &s[y * w * c..(y + 1) * w * c];
        let o = &mut luma[slot * w..(slot + 1) * w];
        match source {
            Source::Luma(layout) => luma_row(row, layout, scale, o),
            Source::Channel(c, k) => {
                for (o, px) in o.iter_mut().zip(row.chunks_exact(c)) {
                    *o = px[k].to_f32() * scale;
                }
            }
        }
    }
    let slot = |i: usize| &luma[i * w..(i + 1) * w];
    let (r0, r1) = lap.split_at_mut(w);
    for (i, o) in o.chunks_exact_mut(hw).enumerate() {
        let yy = t * TASK_ROWS + i;
        let rows = if 2 * yy + 1 < h { 2 } else { 1 };
        laplacian_sq(slot(2 * i), slot(2 * i + 1), slot(2 * i + 2), r0);
        if rows == 2 {
            laplacian_sq(slot(2 * i + 1), slot(2 * i + 2), slot(2 * i + 3), r1);
            for (a, &b) in r0.iter_mut().zip(r1.iter()) {
                *a += b;
            }
        }
        pool_row(r0, rows, o);
    }
}

/// One row of luma in 0..=1 (of the stored, display-encoded values; colour
/// premultiplied by alpha, so transparent areas hold no detail).
#[inline(always)]
fn luma_row<S: IntSample>(row: &[S], layout: ChannelLayout, scale: f32, o: &mut [f32]) {
    let [wr, wg, wb] = LUMA_WEIGHTS.map(|v| v as f32 * scale);
    match layout {
        ChannelLayout::Gray => {
            for (o, &v) in o.iter_mut().zip(row) {
                *o = v.to_f32() * scale;
            }
        }
        ChannelLayout::GrayAlpha => {
            for (o, px) in o.iter_mut().zip(row.chunks_exact(2)) {
                *o = px[0].to_f32() * scale * px[1].to_f32() * scale;
            }
        }
        ChannelLayout::Rgb => {
            for (o, px) in o.iter_mut().zip(row.chunks_exact(3)) {
                *o = wr * px[0].to_f32() + wg * px[1].to_f32() + wb * px[2].to_f32();
            }
        }
        ChannelLayout::Rgba => {
            for (o, px) in o.iter_mut().zip(row.chunks_exact(4)) {
                let y = wr * px[0].to_f32() + wg * px[1].to_f32() + wb * px[2].to_f32();
                *o = y * px[3].to_f32() * scale;
            }
        }
    }
}

/// Averages a row of summed squared Laplacians (`rows` rows summed) over pairs of
/// columns (the last alone at an odd width).
#[inline(always)]
fn pool_row(sum: &[f32], rows: usize, o: &mut [f32]) {
    let w = sum.len();
    let pair = 0.5 / rows as f32;
    for (xx, o) in o.iter_mut().enumerate() {
        let x = 2 * xx;
        *o = if x + 1 < w { (sum[x] + sum[x + 1]) * pair } else { sum[x] * (2.0 * pair) };
    }
}

/// The squared 4-neighbour Laplacian `(4c - n - s - e - w)^2` (reflect-101 borders)
/// of a plane of luma, averaged over 2x2 blocks (over the pixels present at an odd
/// edge): the plain form of what [`Measure::focus`] computes from samples.
#[cfg(test)]
pub(crate) fn laplacian_pooled(luma: &[f32], w: usize, h: usize, out: &mut [f32]) {
    let row = |y: isize| &luma[reflect101(y, h) * w..(reflect101(y, h) + 1) * w];
    let mut r0 = vec![0.0f32; w];
    let mut r1 = vec![0.0f32; w];
    for (yy, o) in out.chunks_mut(half(w)).enumerate() {
        let y = 2 * yy as isize;
        laplacian_sq(row(y - 1), row(y), row(y + 1), &mut r0);
        let rows = if 2 * yy + 1 < h { 2 } else { 1 };
        if rows == 2 {
            laplacian_sq(row(y), row(y + 1), row(y + 2), &mut r1);
            for (a, &b) in r0.iter_mut().zip(&r1) {
                *a += b;
            }
        }
        pool_row(&r0, rows, o);
    }
}

/// One row of the squared Laplacian from the rows above, at and below it.
#[inline(always)]
fn laplacian_sq(up: &[f32], c: &[f32], dn: &[f32], out: &mut [f32]) {
    let w = c.len();
    let at = |x: usize| {
        let l = c[reflect101(x as isize - 1, w)];
        let r = c[reflect101(x as isize + 1, w)];
        let v = 4.0 * c[x] - l - r - up[x] - dn[x];
        v * v
    };
    if w < 3 {
        for (x, o) in out.iter_mut().enumerate() {
            *o = at(x);
        }
        return;
    }
    out[0] = at(0);
    out[w - 1] = at(w - 1);
    // Interior: no branches.
    for x in 1..w - 1 {
        let v = 4.0 * c[x] - c[x - 1] - c[x + 1] - up[x] - dn[x];
        out[x] = v * v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs_core::{BitDepth, FrameInfo, PixelFormat};

    #[test]
    fn the_fused_measure_equals_the_plain_one() {
        // A gray 16-bit frame of odd size: the fused path from samples equals the
        // plain path from a luma plane, pooled, before the Gaussian.
        let (w, h) = (37, 23);
        let px: Vec<u16> = (0..w * h).map(|i| ((i * 7919 + i * i * 31) % 65536) as u16).collect();
        let luma: Vec<f32> = px.iter().map(|&v| v as f32 * (1.0 / 65535.0)).collect();
        let mut plain = vec![0.0f32; half(w) * half(h)];
        laplacian_pooled(&luma, w, h, &mut plain);
        for level in CpuLevel::all_supported() {
            let mut fused = vec![0.0f32; half(w) * half(h)];
            let gray = Source::Luma(ChannelLayout::Gray);
            pooled_from_samples(level, &px, gray, w, h, 1.0 / 65535.0, &mut fused);
            assert_eq!(plain, fused, "{}", level.name());
        }
        let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Sixteen };
        let frame =
            Frame::new(FrameInfo { width: w, height: h, format }, Samples::U16(px)).unwrap();
        let mut m = Measure::new(w, h, 2.0, None).unwrap();
        let mut out = vec![0.0f32; half(w) * half(h)];
        m.focus(&frame, &mut out).unwrap();
        assert_eq!(m.pooled, plain);
    }

    #[test]
    fn a_single_bright_pixel_has_the_laplacian_worked_out_by_hand() {
        // 4x4 zeros with one 1 at (1, 1): the Laplacian is 4 there, -1 at its four
        // neighbours, but -2 at (0, 1) and (1, 0), whose reflected outside neighbour
        // is the bright pixel too; squared 16, 1 and 4. Pooled over 2x2: the top-left
        // block holds (1,1)=16, (0,1)=4, (1,0)=4 and (0,0)=0: mean 24/4.
        let mut luma = vec![0.0f32; 16];
        luma[5] = 1.0;
        let mut out = vec![0.0f32; 4];
        laplacian_pooled(&luma, 4, 4, &mut out);
        assert_eq!(out[0], 24.0 / 4.0);
        // Top-right block: (2,1)=1 -> 1/4; bottom-left: (1,2)=1 -> 1/4; bottom-right 0.
        assert_eq!(out[1], 0.25);
        assert_eq!(out[2], 0.25);
        assert_eq!(out[3], 0.0);
    }

    #[test]
    fn odd_sizes_average_only_the_pixels_present() {
        // A constant image has no Laplacian anywhere, at any size.
        for (w, h) in [(1, 1), (3, 1), (1, 3), (5, 3)] {
            let luma = vec![0.5f32; w * h];
            let mut out = vec![1.0f32; half(w) * half(h)];
            laplacian_pooled(&luma, w, h, &mut out);
            assert!(out.iter().all(|&v| v == 0.0), "{w}x{h}: {out:?}");
        }
    }
}
