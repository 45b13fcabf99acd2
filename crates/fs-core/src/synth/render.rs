//! Rendering one frame: the scene's depth layers, each blurred by its own disc, composited
//! back to front ("over") in linear light.
//!
//! A layer is the set of pixels whose quantised depth is one level. It is blurred as
//! premultiplied colour (`value * coverage`) and coverage, with the anti-aliased disc
//! `w(d) = clamp(r + 0.5 - d, 0, 1)` (`d` the distance from the centre; `r = 0` is the
//! identity). A disc is a set of horizontal spans: each kernel row is a run of unit
//! weights plus a few fractional end weights, so with per-row prefix sums (f64, exact
//! enough for 16-bit output) a pixel costs O(r) per layer instead of O(r^2). Borders
//! replicate the edge pixels. Only the columns a layer can reach in a band of rows are
//! visited, so the work is about `pixels * (2r + 1)` summed over the layers.
//!
//! Hidden surfaces are unknown (the scene holds only the visible colour), so where the
//! accumulated coverage stays below 1 (a blurred layer's edge over a layer that does not
//! reach there) the colour is divided by it: no dark seams between layers, and an
//! in-focus region more than a blur radius away from other layers is exact.
//!
//! The gather rendering ([`Defocus::Gather`](super::Defocus::Gather), opt-in) treats
//! the scene as one continuous surface instead: each output pixel is the whole sharp
//! scene averaged over the disc of its *own* depth, so the blur is symmetric about
//! every point and moves no content (a blurred layer does not spill over its
//! neighbours, it mixes with them). It costs one blur per depth level over the
//! columns that level holds.

/// Columns blurred together (see `Layers::blur_tile`).
// Narrow in tests, so the span blur is checked across tile edges.
const TILE_COLUMNS: usize = if cfg!(test) { 16 } else { 1024 };

/// One row of a disc kernel: unit weights for `|dx| <= plateau`, then `fracs`.
#[derive(Debug, Clone)]
struct DiscRow {
    dy: isize,
    plateau: Option<usize>,
    /// `(dx, weight)` for the fractional weights at `+dx` and `-dx` (once for 0).
    fracs: Vec<(usize, f64)>,
}

/// An anti-aliased disc kernel as horizontal spans.
#[derive(Debug, Clone)]
pub(crate) struct Disc {
    rows: Vec<DiscRow>,
    /// Largest |dx| or |dy| with a non-zero weight; 0 for the identity.
    reach: usize,
    inv_norm: f64,
}

impl Disc {
    /// The disc of `radius` pixels (the identity below 0.5).
    pub(crate) fn new(radius: f64) -> Self {
        let radius = radius.max(0.0);
        let big = (radius + 0.5).ceil() as isize;
        let weight = |dx: isize, dy: isize| {
            (radius + 0.5 - ((dx * dx + dy * dy) as f64).sqrt()).clamp(0.0, 1.0)
        };
        let mut rows = Vec::new();
        let (mut norm, mut reach) = (0.0, 0usize);
        for dy in -big..=big {
            if weight(0, dy) <= 0.0 {
                continue;
            }
            let mut row = DiscRow { dy, plateau: None, fracs: Vec::new() };
            for dx in 0..=big {
                let w = weight(dx, dy);
                if w <= 0.0 {
                    break;
                }
                reach = reach.max(dx as usize).max(dy.unsigned_abs());
                let count = if dx == 0 { 1.0 } else { 2.0 };
                norm += w * count;
                if w >= 1.0 {
                    row.plateau = Some(dx as usize);
                } else {
                    row.fracs.push((dx as usize, w));
                }
            }
            rows.push(row);
        }
        if reach == 0 {
            rows = vec![DiscRow { dy: 0, plateau: Some(0), fracs: Vec::new() }];
            norm = 1.0;
        }
        Self { rows, reach, inv_norm: 1.0 / norm }
    }

    /// Whether this is the identity (no blur).
    pub(crate) fn is_identity(&self) -> bool {
        self.reach == 0
    }

    /// The kernel weight at `(dx, dy)`, normalised (for the reference implementation).
    #[cfg(test)]
    pub(crate) fn weight(&self, dx: isize, dy: isize) -> f64 {
        let Some(row) = self.rows.iter().find(|r| r.dy == dy) else { return 0.0 };
        let adx = dx.unsigned_abs();
        if row.plateau.is_some_and(|n| adx <= n) {
            return self.inv_norm;
        }
        row.fracs.iter().find(|f| f.0 == adx).map_or(0.0, |f| f.1 * self.inv_norm)
    }

    /// Largest offset with a non-zero weight.
    pub(crate) fn reach(&self) -> usize {
        self.reach
    }
}

/// The sharp scene as depth layers, in linear light.
#[derive(Debug, Clone)]
pub(crate) struct Layers {
    pub width: usize,
    pub height: usize,
    /// Linear colour planes, then straight alpha if any; `width * height` each.
    pub values: Vec<Vec<f32>>,
    /// The depth level of each pixel (`0` the nearest).
    pub level: Vec<u16>,
    /// Per level, per row: the half-open column range holding pixels of that level
    /// (empty as `(0, 0)`).
    pub ranges: Vec<Vec<(u32, u32)>>,
}

/// A band of rendered rows: composited premultiplied planes and coverage.
#[derive(Debug, Default)]
pub(crate) struct Band {
    /// `values.len()` planes of `rows * width`, premultiplied by `coverage`.
    pub colour: Vec<Vec<f32>>,
    /// Accumulated coverage, `rows * width`.
    pub coverage: Vec<f32>,
    // Scratch reused across layers (allocated once per band task).
    mask: Vec<f32>,
    padded: Vec<f32>,
    prefix: Vec<f64>,
    acc: Vec<f64>,
    frac_acc: Vec<f32>,
    blurred_coverage: Vec<f32>,
}

impl Layers {
    /// Renders rows `y0..y1` into `band` with `discs[level]` per depth level, farthest
    /// level first.
    /// With `gather`, each level's pixels take the whole scene blurred by the level's
    /// disc instead ([`Defocus::Gather`](super::Defocus::Gather)).
    pub(crate) fn render_band(
        &self,
        discs: &[Disc],
        gather: bool,
        y0: usize,
        y1: usize,
        band: &mut Band,
    ) {
        let (w, rows, planes) = (self.width, y1 - y0, self.values.len());
        band.colour.resize_with(planes, Vec::new);
        for p in band.colour.iter_mut() {
            p.clear();
            p.resize(rows * w, 0.0);
        }
        band.coverage.clear();
        band.coverage.resize(rows * w, 0.0);
        for level in (0..self.ranges.len()).rev() {
            let disc = &discs[level];
            if disc.is_identity() {
                self.composite_sharp(level, y0, y1, band);
            } else {
                self.composite_blurred(level, disc, gather, y0, y1, band);
            }
        }
    }

    /// A layer in focus: its pixels replace what lies behind.
    fn composite_sharp(&self, level: usize, y0: usize, y1: usize, band: &mut Band) {
        let w = self.width;
        let level16 = level as u16;
        for y in y0..y1 {
            let (a, b) = self.ranges[level][y];
            for x in a as usize..b as usize {
                let (i, o) = (y * w + x, (y - y0) * w + x);
                if self.level[i] == level16 {
                    for (dst, src) in band.colour.iter_mut().zip(&self.values) {
                        dst[o] = src[i];
                    }
                    band.coverage[o] = 1.0;
                }
            }
        }
    }

    /// A layer out of focus: blur its premultiplied planes and coverage, then "over"
    /// (or, with `gather`, the whole scene blurred, written over the layer's pixels).
    fn composite_blurred(
        &self,
        level: usize,
        disc: &Disc,
        gather: bool,
        y0: usize,
        y1: usize,
        band: &mut Band,
    ) {
        let (w, h, r) = (self.width, self.height, disc.reach());
        // Gathering writes only the layer's own pixels; spilling reaches r beyond them.
        let reach = if gather { 0 } else { r };
        let (src_lo, src_hi) = (y0.saturating_sub(reach), (y1 + reach).min(h));
        let (mut x0, mut x1) = (w, 0);
        for &(a, b) in &self.ranges[level][src_lo..src_hi] {
            if a < b {
                x0 = x0.min(a as usize);
                x1 = x1.max(b as usize);
            }
        }
        if x0 >= x1 {
            return;
        }
        let (xa, xb) = (x0.saturating_sub(reach), (x1 + reach).min(w));
        // Column tiles keep one plane's prefix rows in L2 and the accumulator in L1.
        let mut tx0 = xa;
        while tx0 < xb {
            let tx1 = (tx0 + TILE_COLUMNS).min(xb);
            self.blur_tile(level, disc, gather, y0, y1, tx0, tx1, band);
            tx0 = tx1;
        }
    }

    /// Blurs and composites the layer on rows `y0..y1`, columns `tx0..tx1`.
    #[allow(clippy::too_many_arguments)]
    fn blur_tile(
        &self,
        level: usize,
        disc: &Disc,
        gather: bool,
        y0: usize,
        y1: usize,
        tx0: usize,
        tx1: usize,
        band: &mut Band,
    ) {
        let (w, h, r) = (self.width, self.height, disc.reach());
        let out_len = tx1 - tx0;
        let len = out_len + 2 * r; // padded columns tx0 - r .. tx1 + r
        let stride = len + 1;
        let src_rows = (y1 - y0) + 2 * r;
        let source_row =
            |j: usize| (y0 as isize + j as isize - r as isize).clamp(0, h as isize - 1) as usize;
        // Replicated borders: `left` padded columns repeat column 0, then columns
        // `mid_start..mid_end` follow contiguously, then the rest repeat column w - 1.
        let first = tx0 as isize - r as isize;
        let left = (-first).max(0) as usize;
        let mid_start = first.max(0) as usize;
        let mid_end = ((first + len as isize) as usize).min(w);
        let mid = mid_end - mid_start;
        let right = len - left - mid;
        // Every mask entry is written below.
        band.mask.resize(src_rows * len, 0.0);
        let level16 = level as u16;
        let own = |l: u16| if gather || l == level16 { 1.0f32 } else { 0.0 };
        for j in 0..src_rows {
            let level_row = &self.level[source_row(j) * w..][..w];
            let mask = &mut band.mask[j * len..(j + 1) * len];
            mask[..left].fill(own(level_row[0]));
            for (m, &l) in mask[left..left + mid].iter_mut().zip(&level_row[mid_start..mid_end]) {
                *m = own(l);
            }
            mask[left + mid..].fill(own(level_row[w - 1]));
        }
        band.padded.resize(src_rows * len, 0.0);
        band.prefix.resize(src_rows * stride, 0.0);
        band.acc.resize(out_len, 0.0);
        band.frac_acc.resize(out_len, 0.0);
        band.blurred_coverage.resize((y1 - y0) * out_len, 0.0);
        let planes = self.values.len();
        // Coverage (plane index `planes`) first: the colour planes are composited with it.
        for p in std::iter::once(planes).chain(0..planes) {
            for j in 0..src_rows {
                let mask = &band.mask[j * len..(j + 1) * len];
                let padded = &mut band.padded[j * len..(j + 1) * len];
                if p == planes {
                    padded.copy_from_slice(mask);
                } else {
                    let src = &self.values[p][source_row(j) * w..][..w];
                    for (v, &m) in padded[..left].iter_mut().zip(mask) {
                        *v = m * src[0];
                    }
                    let (pm, mm) = (&mut padded[left..left + mid], &mask[left..left + mid]);
                    for ((v, &m), &s) in pm.iter_mut().zip(mm).zip(&src[mid_start..mid_end]) {
                        *v = m * s;
                    }
                    for (v, &m) in padded[left + mid..].iter_mut().zip(&mask[left + mid..]) {
                        *v = m * src[w - 1];
                    }
                    debug_assert_eq!(padded.len() - left - mid, right);
                }
                let prefix = &mut band.prefix[j * stride..(j + 1) * stride];
                let mut sum = 0.0f64;
                prefix[0] = 0.0;
                for (p, &v) in prefix[1..].iter_mut().zip(padded.iter()) {
                    sum += v as f64;
                    *p = sum;
                }
            }
            for t in 0..(y1 - y0) {
                // Unit spans from the f64 prefix sums; the fractional weights in f32 (their
                // error is relative to the values, and f32 runs twice as wide).
                let acc = &mut band.acc;
                acc.iter_mut().for_each(|a| *a = 0.0);
                let fracs = &mut band.frac_acc;
                fracs.iter_mut().for_each(|a| *a = 0.0);
                for row in &disc.rows {
                    let j = (t as isize + r as isize + row.dy) as usize;
                    let pre = &band.prefix[j * stride..(j + 1) * stride];
                    let val = &band.padded[j * len..(j + 1) * len];
                    if let Some(n) = row.plateau {
                        let hi = &pre[r + n + 1..r + n + 1 + out_len];
                        let lo = &pre[r - n..r - n + out_len];
                        for ((a, &h), &l) in acc.iter_mut().zip(hi).zip(lo) {
                            *a += h - l;
                        }
                    }
                    for &(dx, wt) in &row.fracs {
                        let wt = wt as f32;
                        if dx == 0 {
                            for (a, &v) in fracs.iter_mut().zip(&val[r..r + out_len]) {
                                *a += wt * v;
                            }
                        } else {
                            let right = &val[r + dx..r + dx + out_len];
                            let left = &val[r - dx..r - dx + out_len];
                            for ((a, &v1), &v2) in fracs.iter_mut().zip(right).zip(left) {
                                *a += wt * (v1 + v2);
                            }
                        }
                    }
                }
                let o = t * w + tx0;
                let blurred_cov = &mut band.blurred_coverage[t * out_len..(t + 1) * out_len];
                if gather {
                    // Coverage is 1 everywhere: the layer's pixels take the blurred scene.
                    let levels = &self.level[(y0 + t) * w + tx0..][..out_len];
                    let sums = acc.iter().zip(fracs.iter()).zip(levels);
                    if p == planes {
                        for (((_, _), _), d) in sums
                            .zip(&mut band.coverage[o..o + out_len])
                            .filter(|s| *s.0.1 == level16)
                        {
                            *d = 1.0;
                        }
                    } else {
                        for (((&a, &f), _), d) in sums
                            .zip(&mut band.colour[p][o..o + out_len])
                            .filter(|s| *s.0.1 == level16)
                        {
                            *d = ((a + f as f64) * disc.inv_norm) as f32;
                        }
                    }
                } else if p == planes {
                    let dst = &mut band.coverage[o..o + out_len];
                    for (((bc, &a), &f), d) in
                        blurred_cov.iter_mut().zip(acc.iter()).zip(fracs.iter()).zip(dst)
                    {
                        *bc = ((a + f as f64) * disc.inv_norm) as f32;
                        *d = *bc + (1.0 - *bc) * *d;
                    }
                } else {
                    let dst = &mut band.colour[p][o..o + out_len];
                    let sums = acc.iter().zip(fracs.iter());
                    for ((d, (&a, &f)), &c) in dst.iter_mut().zip(sums).zip(blurred_cov.iter()) {
                        *d = ((a + f as f64) * disc.inv_norm) as f32 + (1.0 - c) * *d;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disc_weights_are_normalised_round_and_identity_below_half_a_pixel() {
        for r in [0.0, 0.3, 0.49] {
            assert!(Disc::new(r).is_identity(), "{r}");
        }
        for r in [0.51, 1.0, 2.7, 6.0] {
            let d = Disc::new(r);
            let reach = d.reach() as isize;
            assert_eq!(reach, (r + 0.5f64).ceil() as isize - 1, "{r}");
            let mut sum = 0.0;
            for dy in -reach..=reach {
                for dx in -reach..=reach {
                    let wt = d.weight(dx, dy);
                    let want = (r + 0.5 - ((dx * dx + dy * dy) as f64).sqrt()).clamp(0.0, 1.0);
                    assert!((wt / d.weight(0, 0) - want).abs() < 1e-12, "r {r} at {dx},{dy}");
                    sum += wt;
                }
            }
            assert!((sum - 1.0).abs() < 1e-12);
        }
        // r = 1: the 4-neighbours weigh 0.5, the diagonals clamp(1.5 - 1.414) = 0.086.
        let d = Disc::new(1.0);
        assert!((d.weight(1, 0) / d.weight(0, 0) - 0.5).abs() < 1e-12);
        assert!((d.weight(1, 1) / d.weight(0, 0) - (1.5 - 2f64.sqrt())).abs() < 1e-12);
    }
}
