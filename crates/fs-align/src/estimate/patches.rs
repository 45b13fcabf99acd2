//! The last refinement stage: a field of local translations, one per textured patch,
//! each matched with its own gain and offset (in effect a normalised
//! cross-correlation), then the transform fitted to the field with equal weight per
//! patch.
//!
//! Why after the global Gauss-Newton: a global fit weights every pixel by its
//! gradient, so the few high-contrast edges (object outlines, where a defocused
//! foreground spills over the background and a blurred frame and a sharp one
//! differ most) dominate it, and one gain and offset for the whole frame cannot
//! follow the contrast that defocus takes from some regions and not others. Here
//! each patch is normalised on its own and counts once, and patches the fit does
//! not explain (occlusion edges, moving parts) are dropped before the final fit.

use rayon::prelude::*;

use super::pyramid::Level;
use super::solve::fit;
use crate::{Transform, TransformKind};

/// Side of a patch (level-0 pixels).
const SIZE: usize = 24;
/// Most patches kept (the most textured, spread over the frame).
const MAX_PATCHES: usize = 400;
/// The frame is split into this many parts a side for spreading the patches.
const REGIONS: usize = 4;
/// Fewest patches for a fit.
const MIN_PATCHES: usize = 12;
/// Smallest mean squared gradient (luma per pixel, squared) of the weaker
/// direction of a patch: flat, noisy or single-edge patches do not fix a position.
const MIN_STRUCTURE: f64 = 2.0e-5;
/// Smallest normalised cross-correlation of a patch with the frame: below, the
/// frame shows too little of the patch's detail (defocused there) to place it.
const MIN_CORRELATION: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// Gauss-Newton steps per patch and the step (pixels) below which it stops.
const ITERATIONS: usize = 8;
const TOLERANCE: f64 = 0.01;
/// Rounds of matching and fitting (the second starts from the first's fit: the
/// patches' own warp is then closer, and outliers are judged against a better
/// transform; 0.16 -> 0.14 px at the corners on the worst generated frame).
const ROUNDS: usize = 2;
/// A round that moves the corners less than this (pixels) ends the refinement.
const SETTLED: f64 = 0.05;
/// A patch that moves further than this from the prediction (pixels) is not used.
const MAX_MOVE: f64 = 2.5;

/// A matched patch: its centre in the reference and where it was found in the frame.
type Match = ((f64, f64), (f64, f64));

/// A reference patch: its top-left corner, its centre and its inverted structure
/// tensor (the Gauss-Newton matrix of a translation).
#[derive(Debug, Clone, Copy)]
pub(super) struct Patch {
    x0: usize,
    y0: usize,
    inv: [f64; 4],
}

impl Patch {
    fn centre(&self) -> (f64, f64) {
        (self.x0 as f64 + 0.5 * (SIZE as f64 - 1.0), self.y0 as f64 + 0.5 * (SIZE as f64 - 1.0))
    }
}

/// The reference level (kept whole: the patches are matched against it) and its
/// chosen patches.
#[derive(Debug, Clone)]
pub(super) struct PatchField {
    reference: Level,
    patches: Vec<Patch>,
}

/// Central-difference gradient at `i` (an interior pixel).
#[inline]
fn gradient(d: &[f32], i: usize, w: usize) -> (f32, f32) {
    (0.5 * (d[i + 1] - d[i - 1]), 0.5 * (d[i + w] - d[i - w]))
}

impl PatchField {
    /// Chooses the patches of `reference` (level 0 of the estimation pyramid).
    pub fn new(reference: Level) -> Self {
        let (w, h) = (reference.width, reference.height);
        if w < SIZE + 4 || h < SIZE + 4 {
            return Self { reference, patches: Vec::new() };
        }
        let (cols, rows) = ((w - 4) / SIZE, (h - 4) / SIZE);
        let d = &reference.data;
        // (weaker eigenvalue, patch) per grid cell.
        let mut scored: Vec<(f64, Patch)> = (0..rows * cols)
            .into_par_iter()
            .filter_map(|c| {
                let (x0, y0) = (2 + (c % cols) * SIZE, 2 + (c / cols) * SIZE);
                let (mut a, mut b, mut e) = (0.0f64, 0.0f64, 0.0f64);
                for y in y0..y0 + SIZE {
                    for x in x0..x0 + SIZE {
                        let (gx, gy) = gradient(d, y * w + x, w);
                        let (gx, gy) = (gx as f64, gy as f64);
                        a += gx * gx;
                        b += gx * gy;
                        e += gy * gy;
                    }
                }
                let n = (SIZE * SIZE) as f64;
                let weaker = 0.5 * (a + e - ((a - e).powi(2) + 4.0 * b * b).sqrt()) / n;
                let det = a * e - b * b;
                (weaker >= MIN_STRUCTURE && det > 0.0).then(|| {
                    let inv = [e / det, -b / det, -b / det, a / det];
                    (weaker, Patch { x0, y0, inv })
                })
            })
            .collect();
        // At most MAX_PATCHES, the most textured of each of REGIONS x REGIONS parts
        // of the frame, so the fit sees the whole frame, not only its sharpest part.
        let per_region = MAX_PATCHES / (REGIONS * REGIONS);
        let region = |p: &Patch| {
            let rx = (p.x0 - 2) / SIZE * REGIONS / cols;
            let ry = (p.y0 - 2) / SIZE * REGIONS / rows;
            ry * REGIONS + rx
        };
        scored.sort_by(|p, q| {
            region(&p.1)
                .cmp(&region(&q.1))
                .then(q.0.total_cmp(&p.0))
                .then((p.1.y0, p.1.x0).cmp(&(q.1.y0, q.1.x0)))
        });
        let mut kept = Vec::with_capacity(MAX_PATCHES);
        let mut taken = [0usize; REGIONS * REGIONS];
        for (_, p) in scored {
            let r = region(&p);
            if taken[r] < per_region {
                taken[r] += 1;
                kept.push(p);
            }
        }
        Self { reference, patches: kept }
    }

    /// Refines `start` (level-0 coordinates, reference to frame) on `frame` (level 0
    /// of the frame's pyramid, the same size): two rounds of matching every patch
    /// near where `start` puts it and fitting `kind` to the matches. `None` when too
    /// few patches match.
    pub fn refine(
        &self,
        kind: TransformKind,
        frame: &Level,
        start: Transform,
    ) -> Option<Transform> {
        if self.patches.len() < MIN_PATCHES {
            return None;
        }
        let mut t = start;
        for _ in 0..ROUNDS {
            let matches: Vec<Match> = self
                .patches
                .par_iter()
                .filter_map(|p| {
                    let d = self.match_patch(p, frame, &t)?;
                    let c = p.centre();
                    let (x, y) = t.apply(c.0, c.1);
                    Some((c, (x + d.0, y + d.1)))
                })
                .collect();
            let fitted = robust_fit(kind, &matches)?;
            let moved = fitted.corner_distance(&t, frame.width, frame.height);
            t = fitted;
            if moved < SETTLED {
                // The patches were matched where this fit puts them already.
                break;
            }
        }
        Some(t)
    }

    /// The translation (frame pixels) that best matches patch `p` around where `t`
    /// puts it: Gauss-Newton on the reference's gradients (inverse compositional),
    /// the patch's own gain and offset fitted at every step. The transform is taken
    /// as affine across the patch (its value and derivatives at the centre; exact for
    /// similarity and affine, a far smaller error than the match's for a homography).
    fn match_patch(&self, p: &Patch, frame: &Level, t: &Transform) -> Option<(f64, f64)> {
        let r = &self.reference;
        let w = r.width;
        let (cx, cy) = p.centre();
        let (px, py) = t.apply(cx, cy);
        let (ax, ay) = t.apply(cx + 1.0, cy);
        let (bx, by) = t.apply(cx, cy + 1.0);
        let (jx, jy) = ((ax - px, ay - py), (bx - px, by - py));
        // Reference values and gradients of the patch, and their sums (fixed).
        let mut rv = [0.0f32; SIZE * SIZE];
        let mut gxs = [0.0f32; SIZE * SIZE];
        let mut gys = [0.0f32; SIZE * SIZE];
        let (mut sr, mut srr) = (0.0f64, 0.0f64);
        for j in 0..SIZE {
            for i in 0..SIZE {
                let k = (p.y0 + j) * w + p.x0 + i;
                let (gx, gy) = gradient(&r.data, k, w);
                let o = j * SIZE + i;
                rv[o] = r.data[k];
                gxs[o] = gx;
                gys[o] = gy;
                sr += r.data[k] as f64;
                srr += r.data[k] as f64 * r.data[k] as f64;
            }
        }
        let n = (SIZE * SIZE) as f64;
        let var = srr / n - (sr / n).powi(2);
        if var <= 1e-10 {
            return None;
        }
        let half = 0.5 * (SIZE as f64 - 1.0);
        let (mut dx, mut dy) = (0.0f64, 0.0f64);
        let mut values = [0.0f32; SIZE * SIZE];
        for _ in 0..ITERATIONS {
            // The frame position of the patch's first pixel; all of the patch inside?
            let (x0, y0) = (px + dx - half * (jx.0 + jy.0), py + dy - half * (jx.1 + jy.1));
            let span = SIZE as f64 - 1.0;
            for (u, v) in [(0.0, 0.0), (span, 0.0), (0.0, span), (span, span)] {
                let (x, y) = (x0 + u * jx.0 + v * jy.0, y0 + u * jx.1 + v * jy.1);
                if !(x >= 0.0 && y >= 0.0 && x < (frame.width - 1) as f64)
                    || y >= (frame.height - 1) as f64
                {
                    return None;
                }
            }
            // Sample the frame; fit frame ~ gain * reference + offset on the patch.
            let (mut sf, mut srf, mut sff) = (0.0f64, 0.0f64, 0.0f64);
            for j in 0..SIZE {
                let (mut x, mut y) = (x0 + j as f64 * jy.0, y0 + j as f64 * jy.1);
                let (mut rf, mut ff, mut f) = (0.0f32, 0.0f32, 0.0f32);
                for i in 0..SIZE {
                    let v = frame.bilinear_inside(x, y);
                    values[j * SIZE + i] = v;
                    f += v;
                    rf += rv[j * SIZE + i] * v;
                    ff += v * v;
                    x += jx.0;
                    y += jx.1;
                }
                sf += f as f64;
                srf += rf as f64;
                sff += ff as f64;
            }
            let cov = srf / n - sr / n * sf / n;
            let var_f = sff / n - (sf / n).powi(2);
            if cov <= 0.0 || cov < MIN_CORRELATION * (var * var_f).sqrt() {
                return None;
            }
            let gain = (cov / var).clamp(0.05, 20.0);
            let offset = sf / n - gain * sr / n;
            let (inv_gain, offset) = ((1.0 / gain) as f32, offset as f32);
            let (mut bx, mut by) = (0.0f32, 0.0f32);
            for o in 0..SIZE * SIZE {
                let e = (values[o] - offset) * inv_gain - rv[o];
                bx += gxs[o] * e;
                by += gys[o] * e;
            }
            let (bx, by) = (bx as f64, by as f64);
            // The reference would match at x + s; the frame point of x is then
            // T(x - s) + d, so d moves by -J s.
            let sx = p.inv[0] * bx + p.inv[1] * by;
            let sy = p.inv[2] * bx + p.inv[3] * by;
            let (ux, uy) = (jx.0 * sx + jy.0 * sy, jx.1 * sx + jy.1 * sy);
            dx -= ux;
            dy -= uy;
            if dx.hypot(dy) > MAX_MOVE {
                return None;
            }
            if ux.hypot(uy) < TOLERANCE {
                break;
            }
        }
        Some((dx, dy))
    }
}

/// Least-squares fit of `kind` to the matches, then again without those whose
/// residual exceeds 3 times the median (at least 0.3 pixel).
fn robust_fit(kind: TransformKind, matches: &[Match]) -> Option<Transform> {
    if matches.len() < MIN_PATCHES {
        return None;
    }
    let (src, dst): (Vec<_>, Vec<_>) = matches.iter().copied().unzip();
    let first = fit(kind, &src, &dst)?;
    let residual = |t: &Transform, s: (f64, f64), d: (f64, f64)| {
        let (x, y) = t.apply(s.0, s.1);
        (x - d.0).hypot(y - d.1)
    };
    let mut r: Vec<f64> = matches.iter().map(|&(s, d)| residual(&first, s, d)).collect();
    let mut sorted = r.clone();
    sorted.sort_by(f64::total_cmp);
    let limit = (3.0 * sorted[sorted.len() / 2]).max(0.3);
    let (src, dst): (Vec<_>, Vec<_>) =
        matches.iter().zip(&mut r).filter(|(_, r)| **r <= limit).map(|(m, _)| *m).unzip();
    if src.len() < MIN_PATCHES {
        return Some(first);
    }
    fit(kind, &src, &dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth pattern seen through `t` (reference -> frame), contrast `c` per
    /// quadrant (defocus takes contrast from some regions and not others).
    fn pattern(w: usize, h: usize, t: &Transform, contrast: [f64; 4]) -> Level {
        let inv = t.inverse().unwrap();
        let data = (0..w * h)
            .map(|i| {
                let (px, py) = ((i % w) as f64, (i / w) as f64);
                let q = usize::from(px >= w as f64 / 2.0) + 2 * usize::from(py >= h as f64 / 2.0);
                let (x, y) = inv.apply(px, py);
                let v =
                    0.2 * (x / 5.0).sin() * (y / 7.0).cos() + 0.1 * ((x + 2.0 * y) / 11.0).sin();
                (0.5 + contrast[q] * v) as f32
            })
            .collect();
        Level { width: w, height: h, data }
    }

    #[test]
    fn flat_references_have_no_patches_and_refine_nothing() {
        let flat = Level { width: 200, height: 150, data: vec![0.5; 200 * 150] };
        let field = PatchField::new(flat.clone());
        assert!(field.patches.is_empty());
        assert!(field.refine(TransformKind::Similarity, &flat, Transform::identity()).is_none());
    }

    #[test]
    fn recovers_a_motion_under_regionally_different_contrast() {
        let (w, h) = (320, 240);
        let reference = pattern(w, h, &Transform::identity(), [1.0; 4]);
        let field = PatchField::new(reference);
        // Patches cover the frame: all four quadrants take part.
        let quadrants = field.patches.iter().fold([0usize; 4], |mut q, p| {
            let (cx, cy) = p.centre();
            q[usize::from(cx >= w as f64 / 2.0) + 2 * usize::from(cy >= h as f64 / 2.0)] += 1;
            q
        });
        assert!(quadrants.iter().all(|&n| n >= 15), "{quadrants:?}");
        let truth = Transform::similarity(1.006, 0.004, 0.8, -0.5);
        let frame = pattern(w, h, &truth, [1.0, 0.5, 0.8, 0.3]);
        // Start a pixel off, as the coarser levels leave it at worst.
        let start = Transform::similarity(1.0, 0.0, 1.5, 0.2);
        for kind in [TransformKind::Similarity, TransformKind::Affine, TransformKind::Homography] {
            let t = field.refine(kind, &frame, start).unwrap();
            let err = t.corner_distance(&truth, w, h);
            assert!(err < 0.02, "{kind:?}: {err} px");
        }
    }

    #[test]
    fn outlying_patches_do_not_pull_the_fit() {
        let truth = Transform::similarity(1.01, 0.002, 2.0, -1.0);
        let mut matches: Vec<Match> = (0..100)
            .map(|i| {
                let c = ((i % 10) as f64 * 30.0, (i / 10) as f64 * 20.0);
                (c, truth.apply(c.0, c.1))
            })
            .collect();
        for m in matches.iter_mut().step_by(10) {
            m.1.0 += 3.0; // a moving part or an occlusion edge
        }
        let t = robust_fit(TransformKind::Similarity, &matches).unwrap();
        assert!(t.corner_distance(&truth, 300, 200) < 1e-6);
        assert!(robust_fit(TransformKind::Similarity, &matches[..MIN_PATCHES - 1]).is_none());
    }
}
