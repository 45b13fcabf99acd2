//! Composing the result from the frames' own pixels.
//!
//! Each frame gets a weight per decision pixel: a smooth kernel in the frame index
//! around the sub-frame depth, `(1 - t^2)^2` with `t = (k - depth) / reach`, and
//! `reach = r0 + (1 + flat_average - r0) * (1 - confidence)` (`r0` = [`PICK_REACH`],
//! just over half a frame): where the decision is trusted, one
//! frame (or the two around a depth between frames); where it is not, the frames
//! around it, averaged (less noise than any frame). The weights of a pixel sum to 1
//! over the frames. They are interpolated bilinearly to full resolution, so a
//! transition between frames is two to four pixels wide and follows the decision
//! map; weights are interpolated, not depths, so a depth step blends the two frames
//! on either side instead of picking a frame in between. The samples are
//! accumulated as stored values scaled to 0..1, or in linear light with
//! `linear_blend` (encoded once at the end). A
//! weighted mean with non-negative weights stays inside the range of the frames it
//! mixes: no overshoot, no invented colour.
//!
//! The result is composed band by band ([`BAND_ROWS`] rows, the bands in parallel):
//! a band reads from the scratch file only the frames with a weight in it, and its
//! sums stay in the cache. Per pixel the frames are added in order, so the result is
//! the same for any number of threads.

use std::sync::atomic::{AtomicU64, Ordering};

use fs_core::cpu::CpuLevel;
use fs_core::{
    BitDepth, ChannelLayout, Frame, FrameInfo, IntSample, PixelFormat, Progress, Samples, transfer,
};
use fs_tiles::{FrameSpill, RowSamples, RowsBuffer};
use rayon::prelude::*;

use crate::decision::{Decision, upsample_taps};

/// The kernel's reach where the decision is fully trusted: just over half a frame,
/// so the frame nearest the depth is taken alone (two frames are blended only where
/// the depth falls halfway between them). Blending the frames on both sides of a
/// sub-frame depth was tried first: 39.3 dB against 47.6 dB for the plain pick on a
/// tilted plane, as two half-defocused frames mixed are no sharper than either.
const PICK_REACH: f32 = 0.55;

/// The per-frame weights' parameters, per decision pixel.
#[derive(Debug)]
pub(crate) struct Plan {
    depth: Vec<f32>,
    reach: Vec<f32>,
    inv_norm: Vec<f32>,
    /// Per decision row, a bit per frame: whether the frame has a weight in the row.
    row_frames: Vec<u64>,
    /// Words of `row_frames` per row.
    words: usize,
    /// Half-resolution size.
    hw: usize,
    hh: usize,
    frames: usize,
}

#[inline(always)]
fn kernel(k: f32, depth: f32, reach: f32) -> f32 {
    let t = (k - depth) / reach;
    let u = 1.0 - t * t;
    if u > 0.0 { u * u } else { 0.0 }
}

impl Plan {
    pub(crate) fn new(
        decision: &Decision,
        frames: usize,
        flat_average: usize,
        hw: usize,
        hh: usize,
    ) -> Self {
        let last = (frames - 1) as f32;
        let fa = flat_average as f32;
        let words = frames.div_ceil(64);
        // Allocation: once per stack.
        let mut depth = vec![0.0f32; hw * hh];
        let mut reach = vec![0.0f32; hw * hh];
        let mut inv_norm = vec![0.0f32; hw * hh];
        let mut row_frames = vec![0u64; words * hh];
        depth
            .par_chunks_mut(hw)
            .zip(reach.par_chunks_mut(hw))
            .zip(inv_norm.par_chunks_mut(hw))
            .zip(row_frames.par_chunks_mut(words))
            .enumerate()
            .for_each(|(y, (((depth, reach), inv_norm), bits))| {
                let r = y * hw..(y + 1) * hw;
                for ((((d_out, r_out), n_out), &d), &c) in depth
                    .iter_mut()
                    .zip(reach.iter_mut())
                    .zip(inv_norm.iter_mut())
                    .zip(&decision.depth[r.clone()])
                    .zip(&decision.confidence[r])
                {
                    let d = d.clamp(0.0, last);
                    let re = PICK_REACH + (1.0 + fa - PICK_REACH) * (1.0 - c.clamp(0.0, 1.0));
                    let (k0, k1) = ((d - re).ceil().max(0.0), (d + re).floor().min(last));
                    let mut norm = 0.0;
                    let mut k = k0;
                    while k <= k1 {
                        let v = kernel(k, d, re);
                        if v > 0.0 {
                            let i = k as usize;
                            bits[i / 64] |= 1 << (i % 64);
                        }
                        norm += v;
                        k += 1.0;
                    }
                    // norm > 0: the frame nearest to d is within half a frame of it.
                    (*d_out, *r_out, *n_out) = (d, re, 1.0 / norm);
                }
            });
        Self { depth, reach, inv_norm, row_frames, words, hw, hh, frames }
    }

    /// Whether frame `k` has a weight in decision row `y`.
    #[inline]
    fn has(&self, y: usize, k: usize) -> bool {
        self.row_frames[y * self.words + k / 64] & (1 << (k % 64)) != 0
    }

    /// The weights of frame `k` in decision row `y` into `out`.
    #[inline(always)]
    fn weights_row(&self, k: usize, y: usize, out: &mut [f32]) {
        let kf = k as f32;
        let r = y * self.hw..(y + 1) * self.hw;
        for (((o, &d), &reach), &inv) in out
            .iter_mut()
            .zip(&self.depth[r.clone()])
            .zip(&self.reach[r.clone()])
            .zip(&self.inv_norm[r])
        {
            *o = kernel(kf, d, reach) * inv;
        }
    }

    /// The depth map at full resolution: 16-bit, frame `k` of `n` at
    /// `65535 k / (n - 1)`.
    pub(crate) fn depth_frame(&self, w: usize, h: usize) -> fs_core::Result<Frame> {
        let scale = if self.frames > 1 { 65535.0 / (self.frames - 1) as f32 } else { 0.0 };
        upsampled_frame(&self.depth, self.hw, self.hh, w, h, scale)
    }
}

/// A half-resolution plane upsampled bilinearly to `w` x `h`, scaled, as a 16-bit
/// gray frame.
pub(crate) fn upsampled_frame(
    plane: &[f32],
    hw: usize,
    hh: usize,
    w: usize,
    h: usize,
    scale: f32,
) -> fs_core::Result<Frame> {
    let mut out = vec![0u16; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, o)| {
        let (y0, y1, fy) = upsample_taps(y, hh);
        for (x, o) in o.iter_mut().enumerate() {
            let (x0, x1, fx) = upsample_taps(x, hw);
            let top = plane[y0 * hw + x0] * (1.0 - fx) + plane[y0 * hw + x1] * fx;
            let bottom = plane[y1 * hw + x0] * (1.0 - fx) + plane[y1 * hw + x1] * fx;
            let v = (top * (1.0 - fy) + bottom * fy) * scale;
            *o = (v + 0.5).clamp(0.0, 65535.0) as u16;
        }
    });
    let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Sixteen };
    Frame::new(FrameInfo { width: w, height: h, format }, Samples::U16(out))
}

/// Rows of the result per band of pass 2: even, so a band covers whole decision
/// rows; 32 rows of a 6000-pixel RGB frame are 0.6 MB of 8-bit samples to read and
/// 2.3 MB of sums.
pub(crate) const BAND_ROWS: usize = 32;

/// How the stored values become the blend's units and back.
struct Units {
    linear: bool,
    /// Stored value to linear light, with `linear` (otherwise the blend's units are
    /// the stored value over its maximum, computed as it goes).
    table: Vec<f32>,
    encoder: Option<transfer::SrgbEncoder>,
}

impl Units {
    fn new(info: FrameInfo, linear: bool) -> Self {
        let max = info.format.depth.max_value() as u32;
        let table = if linear { transfer::srgb_decode_table(max) } else { Vec::new() };
        Self { linear, table, encoder: linear.then(transfer::SrgbEncoder::new) }
    }

    #[inline]
    fn encode(&self, v: f32) -> f32 {
        match &self.encoder {
            Some(e) if self.linear => e.encode(v),
            _ => v,
        }
    }
}

/// What one band's task reuses from band to band.
struct Scratch {
    acc: Vec<f32>,
    /// The weights of one frame over the band's decision rows.
    weights: Vec<f32>,
    row: RowScratch,
    /// Per decision row of the band, whether the frame has a weight in it.
    active: Vec<bool>,
    rows: RowsBuffer,
}

/// Pass 2: the result, composed band by band from the frames in `spill`.
pub(crate) fn compose(
    plan: &Plan,
    spill: &FrameSpill,
    info: FrameInfo,
    linear: bool,
    progress: &dyn Progress,
) -> crate::Result<Frame> {
    let (w, h) = (info.width, info.height);
    let c = info.format.layout.channels();
    let units = Units::new(info, linear);
    let bands = h.div_ceil(BAND_ROWS);
    progress.phase("composing", bands as u64);
    let done = AtomicU64::new(0);
    let band_len = BAND_ROWS * w * c;
    let init = || Scratch {
        // Allocation: one band's sums and weights per rayon task.
        acc: vec![0.0; band_len],
        weights: vec![0.0; (BAND_ROWS / 2 + 2) * plan.hw],
        row: RowScratch::new(plan.hw, w),
        active: Vec::with_capacity(BAND_ROWS / 2 + 2),
        rows: RowsBuffer::new(),
    };
    let run = |scratch: &mut Scratch, b: usize, out: OutRows<'_>| -> crate::Result<()> {
        progress.check_cancelled()?;
        let rows = b * BAND_ROWS..((b + 1) * BAND_ROWS).min(h);
        band(plan, spill, info, &units, rows, scratch, out)?;
        progress.step(done.fetch_add(1, Ordering::Relaxed) + 1);
        Ok(())
    };
    // Twice as many threads as the caller's pool has: a band's task waits for its
    // reads from the disk, and another one computes meanwhile.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2 * rayon::current_num_threads())
        .thread_name(|i| format!("fs-focusmap compose {i}"))
        .build()
        .map_err(|e| fs_core::CoreError::io("<compose threads>", std::io::Error::other(e)))?;
    let samples = pool.install(|| -> crate::Result<Samples> {
        Ok(match info.format.depth {
            BitDepth::Eight => {
                // Allocation: the result.
                let mut out = vec![0u8; w * h * c];
                out.par_chunks_mut(band_len)
                    .enumerate()
                    .try_for_each_init(init, |s, (b, o)| run(s, b, OutRows::U8(o)))?;
                Samples::U8(out)
            }
            BitDepth::Sixteen => {
                // Allocation: the result.
                let mut out = vec![0u16; w * h * c];
                out.par_chunks_mut(band_len)
                    .enumerate()
                    .try_for_each_init(init, |s, (b, o)| run(s, b, OutRows::U16(o)))?;
                Samples::U16(out)
            }
        })
    })?;
    Ok(Frame::new(info, samples)?)
}

/// A band's rows of the result.
enum OutRows<'a> {
    U8(&'a mut [u8]),
    U16(&'a mut [u16]),
}

/// One band: the weighted sum of the frames with a weight in it, encoded into `out`.
/// Runs at the CPU level [`CpuLevel::detected`] gives; every level gives the same
/// bits (the same operations in the same order: the compiler only gets wider
/// registers; no fused multiply-add).
fn band(
    plan: &Plan,
    spill: &FrameSpill,
    info: FrameInfo,
    units: &Units,
    rows: std::ops::Range<usize>,
    s: &mut Scratch,
    out: OutRows<'_>,
) -> crate::Result<()> {
    band_at(CpuLevel::detected(), plan, spill, info, units, rows, s, out)
}

/// [`band`] at a given CPU level (capped at what the CPU supports), so tests can run
/// every level.
#[allow(clippy::too_many_arguments)]
fn band_at(
    level: CpuLevel,
    plan: &Plan,
    spill: &FrameSpill,
    info: FrameInfo,
    units: &Units,
    rows: std::ops::Range<usize>,
    s: &mut Scratch,
    out: OutRows<'_>,
) -> crate::Result<()> {
    match level.min(CpuLevel::native()) {
        #[cfg(target_arch = "x86_64")]
        CpuLevel::Avx2 | CpuLevel::Avx512 => {
            // SAFETY: the CPU supports AVX2 (the level is capped by `native`).
            unsafe { band_avx2(plan, spill, info, units, rows, s, out) }
        }
        _ => band_body(plan, spill, info, units, rows, s, out),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn band_avx2(
    plan: &Plan,
    spill: &FrameSpill,
    info: FrameInfo,
    units: &Units,
    rows: std::ops::Range<usize>,
    s: &mut Scratch,
    out: OutRows<'_>,
) -> crate::Result<()> {
    band_body(plan, spill, info, units, rows, s, out)
}

#[inline(always)]
fn band_body(
    plan: &Plan,
    spill: &FrameSpill,
    info: FrameInfo,
    units: &Units,
    rows: std::ops::Range<usize>,
    s: &mut Scratch,
    out: OutRows<'_>,
) -> crate::Result<()> {
    let (w, hw) = (info.width, plan.hw);
    let c = info.format.layout.channels();
    let acc = &mut s.acc[..rows.len() * w * c];
    acc.fill(0.0);
    // The decision rows the band's rows interpolate between.
    let (ya, yb) = (upsample_taps(rows.start, plan.hh).0, upsample_taps(rows.end - 1, plan.hh).1);
    let args = Args {
        w,
        hw,
        hh: plan.hh,
        ya,
        y0: rows.start,
        layout: info.format.layout,
        linear: units.linear,
        table: &units.table,
        max: info.format.depth.max_value() as f32,
        alpha_scale: 1.0 / info.format.depth.max_value() as f32,
    };
    let Scratch { weights, row, active, rows: buf, .. } = s;
    for k in 0..plan.frames {
        active.clear();
        active.extend((ya..=yb).map(|y| plan.has(y, k)));
        if !active.iter().any(|&a| a) {
            continue;
        }
        for (i, y) in (ya..=yb).enumerate() {
            let o = &mut weights[i * hw..(i + 1) * hw];
            if active[i] {
                plan.weights_row(k, y, o);
            } else {
                o.fill(0.0);
            }
        }
        let weights = &weights[..(yb - ya + 1) * hw];
        match spill.read_rows(info, k, rows.clone(), buf)? {
            RowSamples::U8(px) => accumulate(&args, active, weights, px, row, acc),
            RowSamples::U16(px) => accumulate(&args, active, weights, px, row, acc),
        }
    }
    let max = info.format.depth.max_value() as f32;
    match out {
        OutRows::U8(o) => encode_rows(acc, c, info.format.layout.has_alpha(), units, max, o),
        OutRows::U16(o) => encode_rows(acc, c, info.format.layout.has_alpha(), units, max, o),
    }
    Ok(())
}

/// The sums of a band (colour premultiplied by alpha) to stored values.
#[inline(always)]
fn encode_rows<S: IntSample>(
    acc: &[f32],
    c: usize,
    alpha: bool,
    units: &Units,
    max: f32,
    out: &mut [S],
) {
    if !alpha && !units.linear {
        // The common case, as one plain loop.
        for (o, &v) in out.iter_mut().zip(acc) {
            *o = S::from_int(round(v * max, max) as i32);
        }
        return;
    }
    for (o, px) in out.chunks_exact_mut(c).zip(acc.chunks_exact(c)) {
        for (ch, o) in o.iter_mut().enumerate() {
            let v = if alpha {
                let a = px[c - 1];
                if ch == c - 1 {
                    a
                } else if a > 0.0 {
                    units.encode(px[ch] / a)
                } else {
                    0.0
                }
            } else {
                units.encode(px[ch])
            };
            *o = S::from_int(round(v * max, max) as i32);
        }
    }
}

/// Rounds half up and clips to `0..=max` (NaN to 0).
#[inline(always)]
fn round(v: f32, max: f32) -> u32 {
    if v > 0.0 { (v.min(max) + 0.5) as u32 } else { 0 }
}

struct Args<'a> {
    w: usize,
    hw: usize,
    hh: usize,
    /// The band's first decision row and first row.
    ya: usize,
    y0: usize,
    layout: ChannelLayout,
    /// Linear light (by `table`), or the stored value over `max`.
    linear: bool,
    table: &'a [f32],
    max: f32,
    alpha_scale: f32,
}

/// A row's weights: at decision resolution, and at full resolution over the pixels
/// a frame reaches.
pub(crate) struct RowScratch {
    row_w: Vec<f32>,
    px_w: Vec<f32>,
}

impl RowScratch {
    pub(crate) fn new(hw: usize, w: usize) -> Self {
        // Allocation: once per rayon task.
        Self { row_w: vec![0.0; hw], px_w: vec![0.0; w] }
    }
}

/// Adds one frame's band of samples, weighted, into the band's sums. `weights`
/// holds the frame's weights over the band's decision rows from `ya` on, `active`
/// whether each has any.
#[inline(always)]
fn accumulate<S: IntSample + Into<usize>>(
    a: &Args<'_>,
    active: &[bool],
    weights: &[f32],
    samples: &[S],
    scratch: &mut RowScratch,
    acc: &mut [f32],
) {
    let c = a.layout.channels();
    let (w, hw) = (a.w, a.hw);
    let RowScratch { row_w, px_w } = scratch;
    for (i, (acc, s)) in acc.chunks_exact_mut(w * c).zip(samples.chunks_exact(w * c)).enumerate() {
        let (y0, y1, fy) = upsample_taps(a.y0 + i, a.hh);
        let (i0, i1) = (y0 - a.ya, y1 - a.ya);
        if !active[i0] && !active[i1] {
            continue;
        }
        let (r0, r1) = (&weights[i0 * hw..(i0 + 1) * hw], &weights[i1 * hw..(i1 + 1) * hw]);
        for ((o, &p), &q) in row_w.iter_mut().zip(r0).zip(r1) {
            *o = p * (1.0 - fy) + q * fy;
        }
        // Only the pixels that interpolate from a column with a weight: column `j`
        // reaches pixels `2j - 1 ..= 2j + 2` (see `upsample_taps`).
        let Some(first) = row_w.iter().position(|&v| v > 0.0) else {
            continue;
        };
        let last = row_w.iter().rposition(|&v| v > 0.0).unwrap_or(first);
        let xs = (2 * first).saturating_sub(1)..(2 * last + 3).min(w);
        horizontal(row_w, xs.clone(), px_w);
        let px_w = &px_w[xs.clone()];
        let (acc, s) = (&mut acc[xs.start * c..xs.end * c], &s[xs.start * c..xs.end * c]);
        match (a.layout, a.linear) {
            (ChannelLayout::Gray, false) => add_row::<S, 1, false, false>(a, px_w, s, acc),
            (ChannelLayout::Gray, true) => add_row::<S, 1, false, true>(a, px_w, s, acc),
            (ChannelLayout::GrayAlpha, false) => add_row::<S, 2, true, false>(a, px_w, s, acc),
            (ChannelLayout::GrayAlpha, true) => add_row::<S, 2, true, true>(a, px_w, s, acc),
            (ChannelLayout::Rgb, false) => add_row::<S, 3, false, false>(a, px_w, s, acc),
            (ChannelLayout::Rgb, true) => add_row::<S, 3, false, true>(a, px_w, s, acc),
            (ChannelLayout::Rgba, false) => add_row::<S, 4, true, false>(a, px_w, s, acc),
            (ChannelLayout::Rgba, true) => add_row::<S, 4, true, true>(a, px_w, s, acc),
        }
    }
}

/// The row of weights `rw` (decision resolution) interpolated to full resolution
/// over the pixels `xs`, into `out[xs]`: what `upsample_taps` gives pixel by pixel
/// (the same products and sums), by pairs of pixels between two columns.
#[inline(always)]
fn horizontal(rw: &[f32], xs: std::ops::Range<usize>, out: &mut [f32]) {
    let hw = rw.len();
    let w = out.len();
    if xs.start == 0 {
        out[0] = rw[0];
    }
    // Pixels 2j + 1 and 2j + 2 lie between columns j and j + 1.
    let ja = xs.start.saturating_sub(1) / 2;
    let jb = xs.end.div_ceil(2).min(hw - 1);
    for j in ja..jb {
        let (a, b) = (rw[j], rw[j + 1]);
        out[2 * j + 1] = a * 0.75 + b * 0.25;
        if 2 * j + 2 < w {
            out[2 * j + 2] = a * 0.25 + b * 0.75;
        }
    }
    // At an even width the last pixel lies beyond the last column's centre.
    if w == 2 * hw && xs.end == w {
        out[w - 1] = rw[hw - 1];
    }
}

/// Pixels per group of [`add_row`]: a group whose weights are all zero is skipped.
const GROUP: usize = 8;

/// Adds a row's pixels of `C` channels (the last one alpha with `ALPHA`), each
/// weighted by its `px_w`, into `acc`: the stored value over its maximum (the same
/// bits as the `v / max` table), or linear light by table with `LINEAR`. Within a
/// group with a weight, a pixel of weight 0 adds `+0.0` to a sum that is `+0.0` or
/// more: the same as skipping it.
#[inline(always)]
fn add_row<S: IntSample + Into<usize>, const C: usize, const ALPHA: bool, const LINEAR: bool>(
    a: &Args<'_>,
    px_w: &[f32],
    s: &[S],
    acc: &mut [f32],
) {
    let max = a.max;
    let value = |v: S| if LINEAR { a.table[v.into()] } else { v.to_f32() / max };
    for ((acc, s), wts) in
        acc.chunks_mut(GROUP * C).zip(s.chunks(GROUP * C)).zip(px_w.chunks(GROUP))
    {
        if wts.iter().all(|&v| v <= 0.0) {
            continue;
        }
        for ((acc, s), &wt) in acc.chunks_exact_mut(C).zip(s.chunks_exact(C)).zip(wts) {
            if ALPHA {
                let wa = wt * (s[C - 1].to_f32() * a.alpha_scale);
                for ch in 0..C - 1 {
                    acc[ch] += wa * value(s[ch]);
                }
                acc[C - 1] += wa;
            } else {
                for ch in 0..C {
                    acc[ch] += wt * value(s[ch]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_by_pairs_equal_the_taps_pixel_by_pixel() {
        // Every width (odd and even) and every pixel range: the pairwise
        // interpolation gives the bits of `upsample_taps`' formula.
        for w in 1..=13usize {
            let hw = w.div_ceil(2);
            let rw: Vec<f32> =
                (0..hw).map(|j| 0.1 + 0.37 * j as f32 + (j * j) as f32 / 7.0).collect();
            for start in 0..w {
                for end in start + 1..=w {
                    let mut out = vec![f32::NAN; w];
                    horizontal(&rw, start..end, &mut out);
                    for x in start..end {
                        let (x0, x1, fx) = upsample_taps(x, hw);
                        let want = rw[x0] * (1.0 - fx) + rw[x1] * fx;
                        assert_eq!(
                            out[x].to_bits(),
                            want.to_bits(),
                            "w {w}, {start}..{end}, x {x}"
                        );
                    }
                }
            }
        }
    }
}
