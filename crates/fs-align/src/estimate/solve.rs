//! Small dense linear algebra: a pivoting solver and least-squares fits of the
//! three transform families to point pairs (Hartley-normalised).

use crate::{Transform, TransformKind};

/// Solves `a x = b` for a dense `n` x `n` matrix (row-major, `a.len() == n * n`)
/// by Gaussian elimination with partial pivoting, in place: `b` becomes `x`.
/// `None` when a pivot is negligible against the matrix's largest element.
pub(super) fn solve(n: usize, a: &mut [f64], b: &mut [f64]) -> Option<()> {
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    let eps = scale * 1e-13;
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() <= eps {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(pivot * n + k, col * n + k);
            }
            b.swap(pivot, col);
        }
        let inv = 1.0 / a[col * n + col];
        for row in col + 1..n {
            let f = a[row * n + col] * inv;
            if f != 0.0 {
                for k in col..n {
                    a[row * n + k] -= f * a[col * n + k];
                }
                b[row] -= f * b[col];
            }
        }
    }
    for col in (0..n).rev() {
        let mut s = b[col];
        for k in col + 1..n {
            s -= a[col * n + k] * b[k];
        }
        b[col] = s / a[col * n + col];
    }
    b.iter().all(|v| v.is_finite()).then_some(())
}

/// Number of parameters of a transform family.
pub(super) fn param_count(kind: TransformKind) -> usize {
    match kind {
        TransformKind::Similarity => 4,
        TransformKind::Affine => 6,
        _ => 8,
    }
}

/// The two rows of the linear system one point pair adds (`x` and `y` equations),
/// in the parameter order of [`params_to_matrix`]; for the homography the
/// algebraic (DLT) form with `h33 = 1`.
#[inline]
fn rows(kind: TransformKind, u: (f64, f64), v: (f64, f64)) -> ([f64; 8], [f64; 8]) {
    let (x, y) = u;
    match kind {
        TransformKind::Similarity => {
            ([x, -y, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [y, x, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
        }
        TransformKind::Affine => {
            ([x, y, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, x, y, 1.0, 0.0, 0.0])
        }
        _ => (
            [x, y, 1.0, 0.0, 0.0, 0.0, -x * v.0, -y * v.0],
            [0.0, 0.0, 0.0, x, y, 1.0, -x * v.1, -y * v.1],
        ),
    }
}

/// The 3x3 matrix of a parameter vector: similarity `(a, b, tx, ty)` is
/// `[a -b tx; b a ty]`, affine the six first entries, homography all eight.
pub(super) fn params_to_matrix(kind: TransformKind, p: &[f64]) -> [f64; 9] {
    match kind {
        TransformKind::Similarity => [p[0], -p[1], p[2], p[1], p[0], p[3], 0.0, 0.0, 1.0],
        TransformKind::Affine => [p[0], p[1], p[2], p[3], p[4], p[5], 0.0, 0.0, 1.0],
        _ => [p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], 1.0],
    }
}

/// Isotropic normalisation (Hartley): centroid to the origin, mean distance
/// sqrt(2). Returns (cx, cy, k) with `u = (p - c) * k`.
fn normalisation(pts: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let n = pts.len() as f64;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
    let (cx, cy) = (sx / n, sy / n);
    let d = pts.iter().map(|p| (p.0 - cx).hypot(p.1 - cy)).sum::<f64>() / n;
    (d > 1e-9 && d.is_finite()).then(|| (cx, cy, std::f64::consts::SQRT_2 / d))
}

/// Least-squares fit of `kind` mapping `src[i]` to `dst[i]` (exact for a minimal
/// sample). `None` when the points are degenerate (coincident, collinear for the
/// affine and homography fits) or the result is singular.
pub(super) fn fit(
    kind: TransformKind,
    src: &[(f64, f64)],
    dst: &[(f64, f64)],
) -> Option<Transform> {
    debug_assert_eq!(src.len(), dst.len());
    if src.len() < kind.min_points() {
        return None;
    }
    let (sx, sy, sk) = normalisation(src)?;
    let (dx, dy, dk) = normalisation(dst)?;
    let n = param_count(kind);
    let mut ata = [0.0f64; 64];
    let mut atb = [0.0f64; 8];
    for (s, d) in src.iter().zip(dst) {
        let u = ((s.0 - sx) * sk, (s.1 - sy) * sk);
        let v = ((d.0 - dx) * dk, (d.1 - dy) * dk);
        let (rx, ry) = rows(kind, u, v);
        for (r, t) in [(rx, v.0), (ry, v.1)] {
            for i in 0..n {
                atb[i] += r[i] * t;
                for j in i..n {
                    ata[i * n + j] += r[i] * r[j];
                }
            }
        }
    }
    for i in 0..n {
        for j in 0..i {
            ata[i * n + j] = ata[j * n + i];
        }
    }
    solve(n, &mut ata[..n * n], &mut atb[..n])?;
    let mn = Transform::from_matrix(params_to_matrix(kind, &atb[..n]))?;
    let to_src = Transform::affine(sk, 0.0, -sx * sk, 0.0, sk, -sy * sk);
    let from_dst = Transform::affine(1.0 / dk, 0.0, dx, 0.0, 1.0 / dk, dy);
    let t = from_dst.after(&mn.after(&to_src));
    t.is_valid().then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_small_system() {
        let mut a = [2.0, 1.0, 1.0, 3.0];
        let mut b = [3.0, 5.0];
        solve(2, &mut a, &mut b).unwrap();
        assert!((b[0] - 0.8).abs() < 1e-12 && (b[1] - 1.4).abs() < 1e-12);
        let mut s = [1.0, 2.0, 2.0, 4.0];
        assert!(solve(2, &mut s, &mut [1.0, 1.0]).is_none());
    }

    #[test]
    fn fits_are_exact_on_exact_points() {
        let truth = [
            (TransformKind::Similarity, Transform::similarity(1.02, 0.01, 5.0, -3.0)),
            (TransformKind::Affine, Transform::affine(1.01, 0.02, 4.0, -0.01, 0.98, 2.0)),
            (
                TransformKind::Homography,
                Transform::from_matrix([1.01, 0.02, 4.0, -0.01, 0.98, 2.0, 1e-5, -2e-5, 1.0])
                    .unwrap(),
            ),
        ];
        let src: Vec<(f64, f64)> =
            (0..9).map(|i| ((i % 3) as f64 * 300.0 + 7.0, (i / 3) as f64 * 200.0 + 3.0)).collect();
        for (kind, t) in truth {
            let dst: Vec<_> = src.iter().map(|p| t.apply(p.0, p.1)).collect();
            let f = fit(kind, &src, &dst).unwrap();
            assert!(f.corner_distance(&t, 1000, 800) < 1e-8, "{kind:?}");
            let m = kind.min_points();
            let f = fit(kind, &src[4..4 + m], &dst[4..4 + m]).unwrap();
            assert!(f.corner_distance(&t, 1000, 800) < 1e-6, "{kind:?} minimal");
        }
        // Coincident points.
        let same = [(5.0, 5.0); 3];
        assert!(fit(TransformKind::Affine, &same, &same).is_none());
    }
}
