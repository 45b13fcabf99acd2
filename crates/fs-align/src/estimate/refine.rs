//! Intensity refinement: inverse-compositional Gauss-Newton (Lucas-Kanade) on the
//! smoothed pyramid, over selected high-gradient reference pixels, with a gain and
//! offset fitted per iteration and Huber weights.

use rayon::prelude::*;

use super::pyramid::Level;
use super::solve::{param_count, params_to_matrix, solve};
use crate::{Transform, TransformKind};

/// A reference pixel taking part in the refinement: position, value and
/// gradient (central differences) at its level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sample {
    pub x: f32,
    pub y: f32,
    pub value: f32,
    pub gx: f32,
    pub gy: f32,
}

/// Pixels with a smaller gradient (luma per pixel) carry no position information
/// worth their cost and are left out.
const MIN_GRADIENT: f32 = 0.002;
/// Side of the selection cells.
const CELL: usize = 16;
/// Points per chunk of the parallel reductions (fixed, so the summation order and
/// the result do not depend on the number of threads).
const CHUNK: usize = 4096;

/// Selects about `target` pixels of `level` for the refinement: in each
/// [`CELL`]-pixel cell the ones with the largest gradient (above
/// [`MIN_GRADIENT`]), so the points follow the detail but cover the whole image.
pub(super) fn select(level: &Level, target: usize) -> Vec<Sample> {
    let (w, h) = (level.width, level.height);
    if w < 8 || h < 8 {
        return Vec::new();
    }
    let (cw, ch) = ((w - 4).div_ceil(CELL), (h - 4).div_ceil(CELL));
    let per_cell = target.div_ceil(cw * ch).clamp(1, CELL * CELL);
    let d = &level.data;
    let rows: Vec<Vec<Sample>> = (0..ch)
        .into_par_iter()
        .map(|cy| {
            // Allocation: one output list and one top-k list per cell row.
            let mut out = Vec::new();
            // The cell's strongest samples so far, strongest first.
            let mut top: Vec<(f32, Sample)> = Vec::with_capacity(per_cell + 1);
            for cx in 0..cw {
                top.clear();
                for y in 2 + cy * CELL..(2 + (cy + 1) * CELL).min(h - 2) {
                    for x in 2 + cx * CELL..(2 + (cx + 1) * CELL).min(w - 2) {
                        let i = y * w + x;
                        let gx = 0.5 * (d[i + 1] - d[i - 1]);
                        let gy = 0.5 * (d[i + w] - d[i - w]);
                        let g2 = gx * gx + gy * gy;
                        let floor = if top.len() == per_cell { top[per_cell - 1].0 } else { 0.0 };
                        if g2 >= MIN_GRADIENT * MIN_GRADIENT && g2 > floor {
                            let s = Sample { x: x as f32, y: y as f32, value: d[i], gx, gy };
                            let at = top.partition_point(|t| t.0 >= g2);
                            top.insert(at, (g2, s));
                            top.truncate(per_cell);
                        }
                    }
                }
                out.extend(top.iter().map(|c| c.1));
            }
            out
        })
        .collect();
    rows.into_iter().flatten().collect()
}

/// The parameter normalisation of a level: `x = c + k u` for normalised `u` (the
/// centre at 0, the half of the larger side at 1), so the Gauss-Newton system is
/// well conditioned for every transform family.
#[derive(Debug, Clone, Copy)]
struct Norm {
    cx: f64,
    cy: f64,
    k: f64,
}

impl Norm {
    fn of(level: &Level) -> Self {
        let (w, h) = (level.width as f64, level.height as f64);
        Self { cx: 0.5 * (w - 1.0), cy: 0.5 * (h - 1.0), k: 0.5 * w.max(h) }
    }

    /// The pixel-coordinate version of a transform `d` of normalised coordinates.
    fn to_pixels(self, d: &Transform) -> Transform {
        let p = Transform::affine(self.k, 0.0, self.cx, 0.0, self.k, self.cy);
        let p_inv = Transform::affine(
            1.0 / self.k,
            0.0,
            -self.cx / self.k,
            0.0,
            1.0 / self.k,
            -self.cy / self.k,
        );
        p.after(&d.after(&p_inv))
    }
}

/// The Jacobian of the warp at the identity, with the image gradient applied
/// (the "steepest descent" row), for normalised position `u` and gradient `g`
/// (per normalised unit).
#[inline]
fn steepest(kind: TransformKind, u: (f64, f64), g: (f64, f64)) -> [f64; 8] {
    let (x, y) = u;
    let (gx, gy) = g;
    match kind {
        TransformKind::Similarity => {
            [gx * x + gy * y, -gx * y + gy * x, gx, gy, 0.0, 0.0, 0.0, 0.0]
        }
        TransformKind::Affine => [gx * x, gx * y, gx, gy * x, gy * y, gy, 0.0, 0.0],
        _ => {
            [gx * x, gx * y, gx, gy * x, gy * y, gy, -x * (gx * x + gy * y), -y * (gx * x + gy * y)]
        }
    }
}

/// The warp of a parameter update (normalised coordinates): identity plus `dp`.
fn update_warp(kind: TransformKind, dp: &[f64]) -> Option<Transform> {
    let mut p = [0.0; 8];
    p[..dp.len()].copy_from_slice(dp);
    match kind {
        TransformKind::Similarity => p[0] += 1.0,
        _ => {
            p[0] += 1.0;
            p[4] += 1.0;
        }
    }
    Transform::from_matrix(params_to_matrix(kind, &p[..dp.len()]))
}

/// Result of refining on one level.
#[derive(Debug, Clone, Copy)]
pub(super) struct Refined {
    /// The transform in the level's coordinates.
    pub transform: Transform,
    /// RMS of the photometrically corrected residual over the valid samples.
    pub rms: f64,
}

/// Fewest samples inside the frame for an iteration to count.
const MIN_VALID: usize = 64;

/// Refines `start` (the level's coordinates) on one level: at most `iterations`
/// Gauss-Newton steps, stopping when a step moves the image corners by less than
/// `tolerance` pixels. `None` when the system becomes singular or too few samples
/// fall inside the frame.
pub(super) fn refine_level(
    kind: TransformKind,
    samples: &[Sample],
    reference: &Level,
    frame: &Level,
    start: Transform,
    iterations: usize,
    tolerance: f64,
) -> Option<Refined> {
    refine_level_with(kind, samples, reference, frame, start, iterations, tolerance, false)
}

/// [`refine_level`], with `shift_only`: only the translation is updated (the
/// similarity's scale and rotation stay those of `start`; `kind` must then be
/// [`TransformKind::Similarity`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn refine_level_with(
    kind: TransformKind,
    samples: &[Sample],
    reference: &Level,
    frame: &Level,
    start: Transform,
    iterations: usize,
    tolerance: f64,
    shift_only: bool,
) -> Option<Refined> {
    debug_assert!(!shift_only || kind == TransformKind::Similarity);
    let norm = Norm::of(reference);
    let n = param_count(kind);
    let mut t = start;
    // Allocation: the sampled frame values, once per level.
    let mut values = vec![f32::NAN; samples.len()];
    let mut huber = f64::INFINITY;
    let mut rms = f64::NAN;
    for it in 0..=iterations {
        // 1. Sample the frame where the transform puts every reference sample.
        values.par_chunks_mut(CHUNK).zip(samples.par_chunks(CHUNK)).for_each(|(v, s)| {
            for (v, s) in v.iter_mut().zip(s) {
                let (x, y) = t.apply(s.x as f64, s.y as f64);
                *v = frame.bilinear(x, y).unwrap_or(f32::NAN);
            }
        });
        // 2. Gain and offset: frame ~ gain * reference + offset.
        let sums = reduce(samples, &values, |acc: &mut [f64; 5], s, v| {
            let (r, f) = (s.value as f64, v as f64);
            acc[0] += 1.0;
            acc[1] += r;
            acc[2] += f;
            acc[3] += r * r;
            acc[4] += r * f;
        });
        let count = sums[0];
        if count < MIN_VALID as f64 {
            return None;
        }
        let (mr, mf) = (sums[1] / count, sums[2] / count);
        let var = sums[3] / count - mr * mr;
        let cov = sums[4] / count - mr * mf;
        let gain = if var > 1e-12 { (cov / var).clamp(0.2, 5.0) } else { 1.0 };
        let offset = mf - gain * mr;
        // 3. Residuals (in reference units), the Gauss-Newton system, the RMS.
        let inv_gain = 1.0 / gain;
        let k = norm.k;
        let acc = reduce(samples, &values, |acc: &mut [f64; 74], s, v| {
            let e = (v as f64 - offset) * inv_gain - s.value as f64;
            acc[72] += e * e;
            let w = if e.abs() <= huber { 1.0 } else { huber / e.abs() };
            let u = ((s.x as f64 - norm.cx) / k, (s.y as f64 - norm.cy) / k);
            let sd = steepest(kind, u, (s.gx as f64 * k, s.gy as f64 * k));
            for i in 0..n {
                acc[64 + i] += w * sd[i] * e;
                for j in i..n {
                    acc[i * 8 + j] += w * sd[i] * sd[j];
                }
            }
        });
        rms = (acc[72] / count).sqrt();
        if it == iterations {
            break;
        }
        huber = 1.345 * rms.max(1e-4);
        let mut h = [0.0f64; 64];
        let mut b = [0.0f64; 8];
        for i in 0..n {
            b[i] = acc[64 + i];
            for j in 0..n {
                h[i * n + j] = if j >= i { acc[i * 8 + j] } else { acc[j * 8 + i] };
            }
        }
        if shift_only {
            // Scale and rotation (parameters 0 and 1) held: their rows and columns
            // become the identity with a zero right-hand side.
            for i in 0..2 {
                for j in 0..n {
                    h[i * n + j] = 0.0;
                    h[j * n + i] = 0.0;
                }
                h[i * n + i] = 1.0;
                b[i] = 0.0;
            }
        }
        solve(n, &mut h[..n * n], &mut b[..n])?;
        let d = norm.to_pixels(&update_warp(kind, &b[..n])?);
        let step = d.corner_distance(&Transform::identity(), reference.width, reference.height);
        t = t.after(&d.inverse()?);
        if !t.is_valid() {
            return None;
        }
        if step < tolerance {
            // One more pass for the residual at the final transform.
            return refine_level_with(kind, samples, reference, frame, t, 0, tolerance, shift_only)
                .or(Some(Refined { transform: t, rms }));
        }
    }
    Some(Refined { transform: t, rms })
}

/// Sums `f` over the samples whose frame value is valid, in fixed chunks reduced
/// in order (bit-identical for any number of threads).
fn reduce<const N: usize>(
    samples: &[Sample],
    values: &[f32],
    f: impl Fn(&mut [f64; N], &Sample, f32) + Sync,
) -> [f64; N] {
    let parts: Vec<[f64; N]> = samples
        .par_chunks(CHUNK)
        .zip(values.par_chunks(CHUNK))
        .map(|(s, v)| {
            let mut acc = [0.0f64; N];
            for (s, &v) in s.iter().zip(v) {
                if !v.is_nan() {
                    f(&mut acc, s, v);
                }
            }
            acc
        })
        .collect();
    let mut total = [0.0f64; N];
    for p in parts {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth pattern seen through `t` (reference -> frame).
    fn pattern(w: usize, h: usize, t: &Transform) -> Level {
        let inv = t.inverse().unwrap();
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = inv.apply((i % w) as f64, (i / w) as f64);
                (0.5 + 0.2 * (x / 7.0).sin() * (y / 9.0).cos() + 0.1 * ((x + y) / 13.0).sin())
                    as f32
            })
            .collect();
        Level { width: w, height: h, data }
    }

    #[test]
    fn flat_levels_have_no_samples() {
        let l = Level { width: 64, height: 64, data: vec![0.5; 64 * 64] };
        assert!(select(&l, 1000).is_empty());
    }

    #[test]
    fn recovers_a_small_motion_with_gain_and_offset() {
        let (w, h) = (160, 120);
        let reference = pattern(w, h, &Transform::identity());
        let truth = Transform::similarity(1.004, 0.003, 0.6, -0.4);
        let mut frame = pattern(w, h, &truth);
        for v in &mut frame.data {
            *v = 0.8 * *v + 0.05; // different exposure
        }
        let samples = select(&reference, 4000);
        assert!(samples.len() > 2000 && samples.len() <= 4000 + 300, "{}", samples.len());
        for kind in [TransformKind::Similarity, TransformKind::Affine, TransformKind::Homography] {
            let r =
                refine_level(kind, &samples, &reference, &frame, Transform::identity(), 30, 1e-4)
                    .unwrap();
            let err = r.transform.corner_distance(&truth, w, h);
            assert!(err < 0.02, "{kind:?}: {err} px");
            assert!(r.rms < 2e-3, "{kind:?}: rms {}", r.rms);
        }
    }
}
