//! The per-pixel focus decision, on the half-resolution map: the streaming peak
//! search over the frames, the sub-frame fit, the confidence, the consistency vote
//! and the fill from confident neighbours.

use fs_tiles::{DiskPlane, ScratchDir};
use rayon::prelude::*;

/// What the peak search keeps per decision pixel while frames stream by.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Peak {
    /// The largest focus measure so far.
    best: f32,
    /// The focus measure of the frame before the best one.
    left: f32,
    /// The focus measure of the frame after the best one (once it came).
    right: f32,
    /// The focus measure of the latest frame.
    prev: f32,
    /// The sum of the focus measure over the frames so far.
    sum: f32,
    /// The index of the best frame.
    index: u32,
}

/// A [`Peak`] is stored as this many f32 (the index by its bits), so the search can
/// live in a plain f32 plane, in memory or memory-mapped.
const FIELDS: usize = 6;

impl Peak {
    #[inline]
    fn load(v: &[f32]) -> Self {
        Self { best: v[0], left: v[1], right: v[2], prev: v[3], sum: v[4], index: v[5].to_bits() }
    }

    #[inline]
    fn store(self, v: &mut [f32]) {
        v[..FIELDS].copy_from_slice(&[
            self.best,
            self.left,
            self.right,
            self.prev,
            self.sum,
            f32::from_bits(self.index),
        ]);
    }
}

/// Where the peak search lives.
#[derive(Debug)]
enum Store {
    Memory(Vec<f32>),
    /// A memory-mapped scratch file (dropped before its folder).
    Disk {
        plane: DiskPlane<f32>,
        _dir: ScratchDir,
    },
}

/// Decision rows per band when the search is on disk: the pages of a band are
/// released once it is done, so about one band is resident.
const DISK_BAND_ROWS: usize = 64;

/// The streaming peak search: frame after frame, per decision pixel.
#[derive(Debug)]
pub(crate) struct Peaks {
    store: Store,
    /// Decision pixels per row, and rows.
    width: usize,
    height: usize,
    frames: u32,
}

impl Peaks {
    /// The search over `width` x `height` decision pixels, in memory or (with
    /// `disk`, the scratch folder's parent or `None` for the default) on disk.
    pub(crate) fn new(
        width: usize,
        height: usize,
        disk: Option<Option<&std::path::Path>>,
    ) -> Result<Self, fs_tiles::TilesError> {
        let store = match disk {
            None => {
                // Allocation: once per stack.
                Store::Memory(vec![0.0; width * height * FIELDS])
            }
            Some(root) => {
                let dir = ScratchDir::new(root)?;
                dir.check_space((width * height * FIELDS * 4) as u64)?;
                Store::Disk { plane: dir.plane(width * FIELDS, height)?, _dir: dir }
            }
        };
        Ok(Self { store, width, height, frames: 0 })
    }

    pub(crate) fn frames(&self) -> usize {
        self.frames as usize
    }

    /// Runs `f` over the search band by band (the first decision pixel of the band,
    /// its stored peaks), releasing each band's pages when on disk.
    fn for_bands(
        &mut self,
        mut f: impl FnMut(usize, &mut [f32]),
    ) -> Result<(), fs_tiles::TilesError> {
        match &mut self.store {
            Store::Memory(v) => f(0, v),
            Store::Disk { plane, .. } => {
                for y0 in (0..self.height).step_by(DISK_BAND_ROWS) {
                    let y1 = (y0 + DISK_BAND_ROWS).min(self.height);
                    f(y0 * self.width, plane.rows_mut(y0, y1));
                    plane.release_rows(y0, y1)?;
                }
            }
        }
        Ok(())
    }

    /// Folds in the focus measure of the next frame.
    pub(crate) fn add(&mut self, focus: &[f32]) -> Result<(), fs_tiles::TilesError> {
        let k = self.frames;
        self.for_bands(|start, peaks| {
            let focus = &focus[start..start + peaks.len() / FIELDS];
            peaks.par_chunks_mut(4096 * FIELDS).zip(focus.par_chunks(4096)).for_each(|(p, f)| {
                for (v, &f) in p.chunks_exact_mut(FIELDS).zip(f) {
                    let mut p = Peak::load(v);
                    if k == 0 || f > p.best {
                        (p.left, p.best, p.right, p.index) = (p.prev, f, 0.0, k);
                    } else if p.index + 1 == k {
                        p.right = f;
                    }
                    p.prev = f;
                    p.sum += f;
                    p.store(v);
                }
            });
        })?;
        self.frames += 1;
        Ok(())
    }
}

/// The decision map: a sub-frame depth (frame index) and a confidence in 0..=1 per
/// decision pixel.
#[derive(Debug)]
pub(crate) struct Decision {
    pub(crate) depth: Vec<f32>,
    pub(crate) confidence: Vec<f32>,
    /// The best frame's focus measure (the vote's weight).
    pub(crate) strength: Vec<f32>,
}

/// Below this focus measure (luma in 0..=1) nothing is detail: quantisation of a
/// 16-bit flat area, or a saturated one.
const FLOOR: f32 = 1e-12;

/// The sub-frame depth and confidence of every decision pixel.
///
/// Depth: the best frame's index, moved by the peak of the parabola through the
/// logarithms of the focus measure at the best frame and its two neighbours (a
/// defocus curve is close to a Gaussian in the frame index, whose log is a
/// parabola), at most half a frame either way. Confidence: how far the best frame
/// stands out of the mean of the others, `r = best / mean(others)`, on a log scale:
/// 0 up to `sqrt(ratio)`, 1 from `ratio` on, a smooth step between.
pub(crate) fn decide(peaks: &mut Peaks, ratio: f64) -> Result<Decision, fs_tiles::TilesError> {
    let n = peaks.frames;
    let lo = 0.5 * ratio.ln() as f32;
    let span = 0.5 * ratio.ln() as f32;
    let len = peaks.width * peaks.height;
    // Allocation: once per stack.
    let (mut depth, mut confidence, mut strength) =
        (vec![0.0f32; len], vec![0.0f32; len], vec![0.0f32; len]);
    let one = |p: Peak| -> (f32, f32, f32) {
        let k = p.index as f32;
        if n == 1 {
            return (0.0, 1.0, p.best);
        }
        let offset = if p.index > 0 && p.index + 1 < n && p.best > FLOOR {
            let eps = FLOOR;
            let (a, b, c) = ((p.left + eps).ln(), (p.best + eps).ln(), (p.right + eps).ln());
            let denom = a - 2.0 * b + c;
            if denom < 0.0 { (0.5 * (a - c) / denom).clamp(-0.5, 0.5) } else { 0.0 }
        } else {
            0.0
        };
        let others = (p.sum - p.best).max(0.0) / (n - 1) as f32;
        let conf = if p.best <= FLOOR {
            0.0
        } else {
            let r = (p.best / others.max(FLOOR)).ln();
            smoothstep((r - lo) / span)
        };
        (k + offset, conf, p.best)
    };
    peaks.for_bands(|start, stored| {
        let end = start + stored.len() / FIELDS;
        stored
            .par_chunks(4096 * FIELDS)
            .zip(depth[start..end].par_chunks_mut(4096))
            .zip(confidence[start..end].par_chunks_mut(4096))
            .zip(strength[start..end].par_chunks_mut(4096))
            .for_each(|(((p, d), c), s)| {
                for (((v, d), c), s) in p.chunks_exact(FIELDS).zip(d).zip(c).zip(s) {
                    (*d, *c, *s) = one(Peak::load(v));
                }
            });
    })?;
    Ok(Decision { depth, confidence, strength })
}

#[inline]
pub(crate) fn smoothstep(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The consistency vote: each decision becomes the weighted median, over frames,
/// of the decisions in the `(2r + 1)^2` window around it (binned by the nearest
/// frame), each weighted by its confidence times its focus strength (a strong
/// detail keeps its pixels; weak, isolated decisions are voted out, and so are
/// islands and holes smaller than about half the window). A decision within one
/// frame of the median stays as it was (with its sub-frame depth and confidence); a
/// replaced one takes the mean depth of the median's bin and the mean confidence of
/// the pixels that outvoted it (lowered where they hold less than half the window).
pub(crate) fn vote(decision: &mut Decision, w: usize, h: usize, r: usize, frames: usize) {
    if r == 0 {
        return;
    }
    let (depth, conf, strength) = (&decision.depth, &decision.confidence, &decision.strength);
    let last = frames.saturating_sub(1);
    let bin_of = |d: f32| ((d + 0.5) as usize).min(last);
    // Where every decision of the window is within one frame of a pixel's own, the
    // median is too and the pixel keeps its decision: a separable min/max of the
    // bins finds those pixels (most of an image) without the vote.
    let bins: Vec<u32> = depth.par_iter().map(|&d| bin_of(d) as u32).collect();
    let (lo, hi) = window_min_max(&bins, w, h, r);
    let mut new_depth = vec![0.0f32; w * h];
    let mut new_conf = vec![0.0f32; w * h];
    new_depth.par_chunks_mut(w).zip(new_conf.par_chunks_mut(w)).enumerate().for_each_init(
        // Allocation: per rayon task, a weight, a depth sum, a confidence sum and a
        // count per frame, and the list of bins touched.
        || (vec![0.0f32; 3 * frames], vec![0u32; frames], Vec::with_capacity((2 * r + 1).pow(2))),
        |(sums, counts, touched), (y, (od, oc))| {
            let (y0, y1) = (y.saturating_sub(r), (y + r).min(h - 1));
            for x in 0..w {
                let own = y * w + x;
                if hi[own] <= bins[own] + 1 && lo[own] + 1 >= bins[own] {
                    (od[x], oc[x]) = (depth[own], conf[own]);
                    continue;
                }
                let (x0, x1) = (x.saturating_sub(r), (x + r).min(w - 1));
                let mut total = 0.0f32;
                let mut cells = 0u32;
                for yy in y0..=y1 {
                    for xx in x0..=x1 {
                        let i = yy * w + xx;
                        // A small floor: where nothing is confident the vote is by
                        // strength alone.
                        let weight = conf[i] * strength[i] + 1e-3 * FLOOR.max(strength[i]);
                        let b = bin_of(depth[i]);
                        if counts[b] == 0 {
                            touched.push(b);
                        }
                        counts[b] += 1;
                        sums[3 * b] += weight;
                        sums[3 * b + 1] += weight * depth[i];
                        sums[3 * b + 2] += conf[i];
                        total += weight;
                        cells += 1;
                    }
                }
                touched.sort_unstable();
                let mut acc = 0.0;
                let mut median = touched[touched.len() - 1];
                for &b in touched.iter() {
                    acc += sums[3 * b];
                    if acc >= 0.5 * total {
                        median = b;
                        break;
                    }
                }
                if bin_of(depth[own]).abs_diff(median) <= 1 {
                    (od[x], oc[x]) = (depth[own], conf[own]);
                } else {
                    let (mut agree, mut conf_sum) = (0u32, 0.0f32);
                    for &b in touched.iter() {
                        if b.abs_diff(median) <= 1 {
                            agree += counts[b];
                            conf_sum += sums[3 * b + 2];
                        }
                    }
                    od[x] = sums[3 * median + 1] / sums[3 * median];
                    // At a depth step half the window outvotes the other half; a
                    // decision taken from a clear majority of confident pixels is
                    // confident.
                    let share = agree as f32 / cells as f32;
                    oc[x] = conf_sum / agree.max(1) as f32 * smoothstep(2.0 * share);
                }
                for &b in touched.iter() {
                    counts[b] = 0;
                    sums[3 * b..3 * b + 3].fill(0.0);
                }
                touched.clear();
            }
        },
    );
    decision.depth = new_depth;
    decision.confidence = new_conf;
}

/// The minimum and the maximum of `v` over the `(2r + 1)^2` window around each
/// pixel (clipped at the borders), separably.
fn window_min_max(v: &[u32], w: usize, h: usize, r: usize) -> (Vec<u32>, Vec<u32>) {
    let mut row_lo = vec![0u32; w * h];
    let mut row_hi = vec![0u32; w * h];
    row_lo.par_chunks_mut(w).zip(row_hi.par_chunks_mut(w)).enumerate().for_each(|(y, (lo, hi))| {
        let row = &v[y * w..(y + 1) * w];
        for x in 0..w {
            let win = &row[x.saturating_sub(r)..(x + r + 1).min(w)];
            lo[x] = *win.iter().min().expect("a window holds its centre");
            hi[x] = *win.iter().max().expect("a window holds its centre");
        }
    });
    let mut lo = vec![0u32; w * h];
    let mut hi = vec![0u32; w * h];
    lo.par_chunks_mut(w).zip(hi.par_chunks_mut(w)).enumerate().for_each(|(y, (lo, hi))| {
        lo.copy_from_slice(&row_lo[y * w..(y + 1) * w]);
        hi.copy_from_slice(&row_hi[y * w..(y + 1) * w]);
        for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
            let (rl, rh) = (&row_lo[yy * w..(yy + 1) * w], &row_hi[yy * w..(yy + 1) * w]);
            for x in 0..w {
                lo[x] = lo[x].min(rl[x]);
                hi[x] = hi[x].max(rh[x]);
            }
        }
    });
    (lo, hi)
}

/// Fills the depth of unconfident pixels from confident neighbours, near or far
/// (push-pull): confidence-weighted means on a pyramid of 2x2 blocks, then from the
/// coarsest level down each pixel keeps `c * own + (1 - c) * coarser` (the coarser
/// level upsampled bilinearly). Confident pixels keep their depth; a flat area takes
/// the depths around it, smoothly.
pub(crate) fn fill(decision: &mut Decision, w: usize, h: usize) {
    let mut levels: Vec<(Vec<f32>, Vec<f32>, usize, usize)> = Vec::new();
    let weights: Vec<f32> = decision.confidence.iter().map(|&c| c.clamp(0.0, 1.0)).collect();
    levels.push((decision.depth.clone(), weights, w, h));
    while {
        let (_, _, lw, lh) = levels.last().expect("level 0");
        *lw > 1 || *lh > 1
    } {
        let (d, c, lw, lh) = levels.last().expect("a level");
        let (nw, nh) = (lw.div_ceil(2), lh.div_ceil(2));
        let (lw, lh) = (*lw, *lh);
        let mut nd = vec![0.0f32; nw * nh];
        let mut nc = vec![0.0f32; nw * nh];
        nd.par_chunks_mut(nw).zip(nc.par_chunks_mut(nw)).enumerate().for_each(|(y, (od, oc))| {
            for x in 0..nw {
                let (mut sw, mut sd) = (0.0f32, 0.0f32);
                for yy in 2 * y..(2 * y + 2).min(lh) {
                    for xx in 2 * x..(2 * x + 2).min(lw) {
                        let i = yy * lw + xx;
                        sw += c[i];
                        sd += c[i] * d[i];
                    }
                }
                od[x] = if sw > 0.0 { sd / sw } else { 0.0 };
                oc[x] = sw.min(1.0);
            }
        });
        levels.push((nd, nc, nw, nh));
    }
    // Pull: the coarsest level has no coarser one; an image with no confident pixel
    // at all ends with depth 0 there.
    let mut coarse: Vec<f32> = levels.last().expect("a level").0.clone();
    let mut cw = 1;
    let mut ch = 1;
    for l in (0..levels.len() - 1).rev() {
        let (d, c, lw, lh) = &levels[l];
        let (lw, lh) = (*lw, *lh);
        let mut out = vec![0.0f32; lw * lh];
        out.par_chunks_mut(lw).enumerate().for_each(|(y, o)| {
            let (y0, y1, fy) = upsample_taps(y, ch);
            for (x, o) in o.iter_mut().enumerate() {
                let (x0, x1, fx) = upsample_taps(x, cw);
                let top = coarse[y0 * cw + x0] * (1.0 - fx) + coarse[y0 * cw + x1] * fx;
                let bottom = coarse[y1 * cw + x0] * (1.0 - fx) + coarse[y1 * cw + x1] * fx;
                let up = top * (1.0 - fy) + bottom * fy;
                let i = y * lw + x;
                *o = c[i] * d[i] + (1.0 - c[i]) * up;
            }
        });
        coarse = out;
        (cw, ch) = (lw, lh);
    }
    decision.depth = coarse;
}

/// The two source indices and the weight of the second for pixel `i` of a level
/// twice the size of one `n` long (centres aligned: `i / 2 - 0.25`).
#[inline]
pub(crate) fn upsample_taps(i: usize, n: usize) -> (usize, usize, f32) {
    let j = i / 2;
    if i.is_multiple_of(2) {
        if j == 0 { (0, 0, 0.0) } else { (j - 1, j, 0.75) }
    } else if j + 1 < n {
        (j, j + 1, 0.25)
    } else {
        (j, j, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peaks_of(curves: &[&[f32]]) -> Peaks {
        // curves[pixel][frame]
        let n = curves[0].len();
        let mut p = Peaks::new(curves.len(), 1, None).unwrap();
        for k in 0..n {
            let f: Vec<f32> = curves.iter().map(|c| c[k]).collect();
            p.add(&f).unwrap();
        }
        p
    }

    #[test]
    fn the_peak_is_found_at_sub_frame_precision() {
        // A Gaussian focus curve centred at 2.3 over 6 frames: its log is a parabola,
        // so the fit finds the centre exactly.
        let curve: Vec<f32> = (0..6).map(|k| (-((k as f32 - 2.3).powi(2)) / 2.0).exp()).collect();
        let flat = [1.0f32; 6];
        let mut p = peaks_of(&[&curve, &flat]);
        let d = decide(&mut p, 3.0).unwrap();
        assert!((d.depth[0] - 2.3).abs() < 1e-4, "{}", d.depth[0]);
        // A flat curve: nothing stands out, no confidence.
        assert_eq!(d.confidence[1], 0.0);
        assert!(d.confidence[0] > 0.99);
    }

    #[test]
    fn an_isolated_decision_is_voted_out_and_a_hole_is_filled() {
        // 7x7 map, all frame 3 confidently, except an isolated 0 in the middle with
        // a weak measure, and an unconfident pixel at a corner.
        let (w, h) = (7, 7);
        let mut decision = Decision {
            depth: vec![3.0; w * h],
            confidence: vec![1.0; w * h],
            strength: vec![1.0; w * h],
        };
        decision.depth[24] = 0.0;
        decision.strength[24] = 0.5;
        decision.confidence[0] = 0.0;
        decision.depth[0] = 5.0;
        vote(&mut decision, w, h, 2, 6);
        assert!((decision.depth[24] - 3.0).abs() < 1e-5, "{}", decision.depth[24]);
        fill(&mut decision, w, h);
        assert!((decision.depth[0] - 3.0).abs() < 1e-6, "{}", decision.depth[0]);
    }

    #[test]
    fn fill_keeps_confident_depths_and_spreads_them_smoothly() {
        // Left column confident at 0, right column at 4, the rest unknown.
        let (w, h) = (8, 2);
        let mut depth = vec![0.0f32; w * h];
        let mut conf = vec![0.0f32; w * h];
        for y in 0..h {
            (depth[y * w], conf[y * w]) = (0.0, 1.0);
            (depth[y * w + w - 1], conf[y * w + w - 1]) = (4.0, 1.0);
        }
        let mut d = Decision { depth, confidence: conf, strength: vec![1.0; w * h] };
        fill(&mut d, w, h);
        assert_eq!(d.depth[0], 0.0);
        assert_eq!(d.depth[w - 1], 4.0);
        let row = &d.depth[..w];
        assert!(row.windows(2).all(|p| p[1] >= p[0] - 1e-6), "{row:?}");
    }
}
