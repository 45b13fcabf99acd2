//! RANSAC (MSAC scoring) over point pairs, with a fixed-seed sampler, followed by
//! least-squares re-fits on the inliers.

use super::features::splitmix;
use super::solve::fit;
use crate::{Transform, TransformKind};

/// Most hypotheses drawn.
const MAX_ITERATIONS: usize = 2000;
/// Fewest hypotheses drawn (the adaptive count can stop early on clean data).
const MIN_ITERATIONS: usize = 50;
/// Probability of drawing at least one all-inlier sample the count aims at.
const CONFIDENCE: f64 = 0.999;

/// What RANSAC found: the re-fitted transform and its inliers (indices into the
/// pairs).
#[derive(Debug, Clone)]
pub(super) struct Consensus {
    pub transform: Transform,
    pub inliers: Vec<usize>,
}

/// Fits `kind` to the pairs `src[i] -> dst[i]` with RANSAC: minimal samples from a
/// fixed-seed generator (identical results on every run), hypotheses that
/// `plausible` refuses are skipped, hypotheses scored by the truncated squared
/// error (MSAC) with inlier distance `threshold`; the best one is re-fitted on its
/// inliers by least squares until the inlier set stops changing (at most 5 times).
/// `None` when no sample gives a plausible transform.
pub(super) fn ransac(
    kind: TransformKind,
    src: &[(f64, f64)],
    dst: &[(f64, f64)],
    threshold: f64,
    plausible: &dyn Fn(&Transform) -> bool,
) -> Option<Consensus> {
    let n = src.len();
    let m = kind.min_points();
    if n < m {
        return None;
    }
    let t2 = threshold * threshold;
    let cost = |t: &Transform| -> (f64, usize) {
        let mut c = 0.0;
        let mut inl = 0;
        for (s, d) in src.iter().zip(dst) {
            let p = t.apply(s.0, s.1);
            let e = (p.0 - d.0).powi(2) + (p.1 - d.1).powi(2);
            if e < t2 {
                c += e;
                inl += 1;
            } else {
                c += t2;
            }
        }
        (c, inl)
    };
    let mut state = 0x0a11_9e5e_ed00_0001_u64 ^ n as u64;
    let mut best: Option<(f64, Transform)> = None;
    let mut best_inliers = 0usize;
    let mut needed = MAX_ITERATIONS;
    let mut iteration = 0;
    let mut sample = [0usize; 4];
    let (mut s_pts, mut d_pts) = ([(0.0, 0.0); 4], [(0.0, 0.0); 4]);
    while iteration < needed.clamp(MIN_ITERATIONS, MAX_ITERATIONS) {
        iteration += 1;
        // m distinct indices.
        let mut k = 0;
        while k < m {
            let i = (splitmix(&mut state) % n as u64) as usize;
            if !sample[..k].contains(&i) {
                sample[k] = i;
                k += 1;
            }
        }
        for (j, &i) in sample[..m].iter().enumerate() {
            s_pts[j] = src[i];
            d_pts[j] = dst[i];
        }
        let Some(t) = fit(kind, &s_pts[..m], &d_pts[..m]) else { continue };
        if !plausible(&t) {
            continue;
        }
        let (c, inl) = cost(&t);
        if best.as_ref().is_none_or(|b| c < b.0) {
            best = Some((c, t));
            if inl > best_inliers {
                best_inliers = inl;
                let w = inl as f64 / n as f64;
                let p_good = w.powi(m as i32);
                needed = if p_good >= 1.0 {
                    0
                } else {
                    ((1.0 - CONFIDENCE).ln() / (1.0 - p_good).ln()).ceil().min(1e9) as usize
                };
            }
        }
    }
    let (_, mut transform) = best?;
    let inliers_of = |t: &Transform| -> Vec<usize> {
        (0..n)
            .filter(|&i| {
                let p = t.apply(src[i].0, src[i].1);
                (p.0 - dst[i].0).powi(2) + (p.1 - dst[i].1).powi(2) < t2
            })
            .collect()
    };
    let mut inliers = inliers_of(&transform);
    for _ in 0..5 {
        let s: Vec<_> = inliers.iter().map(|&i| src[i]).collect();
        let d: Vec<_> = inliers.iter().map(|&i| dst[i]).collect();
        let Some(t) = fit(kind, &s, &d) else { break };
        let next = inliers_of(&t);
        if next.len() < inliers.len() {
            break;
        }
        transform = t;
        let same = next == inliers;
        inliers = next;
        if same {
            break;
        }
    }
    Some(Consensus { transform, inliers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_transform_among_outliers() {
        let truth = Transform::similarity(1.03, 0.005, 12.0, -7.0);
        let mut state = 7u64;
        let mut r = || (splitmix(&mut state) % 10_000) as f64 / 10.0;
        let mut src = Vec::new();
        let mut dst = Vec::new();
        for i in 0..300 {
            let p = (r(), r());
            src.push(p);
            // 40 % outliers, the rest exact.
            dst.push(if i % 5 < 2 { (r(), r()) } else { truth.apply(p.0, p.1) });
        }
        let c = ransac(TransformKind::Similarity, &src, &dst, 1.5, &|_| true).unwrap();
        assert!(c.transform.corner_distance(&truth, 1000, 1000) < 1e-6);
        assert!((180..=185).contains(&c.inliers.len()), "{}", c.inliers.len());
        // Deterministic.
        let again = ransac(TransformKind::Similarity, &src, &dst, 1.5, &|_| true).unwrap();
        assert_eq!(again.transform, c.transform);
        // Nothing plausible.
        assert!(ransac(TransformKind::Similarity, &src, &dst, 1.5, &|_| false).is_none());
    }
}
