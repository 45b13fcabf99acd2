//! Small dense linear algebra shared by the crates above: 3x3 matrices, row-major.

/// The adjugate (the transposed cofactor matrix) of a row-major 3x3 matrix and its
/// determinant: the inverse is `adjugate / det` when `det` is not too small, which
/// each caller judges for its own values (colour matrices, homographies).
pub fn adjugate3(m: &[f64; 9]) -> ([f64; 9], f64) {
    let adj = [
        m[4] * m[8] - m[5] * m[7],
        m[2] * m[7] - m[1] * m[8],
        m[1] * m[5] - m[2] * m[4],
        m[5] * m[6] - m[3] * m[8],
        m[0] * m[8] - m[2] * m[6],
        m[2] * m[3] - m[0] * m[5],
        m[3] * m[7] - m[4] * m[6],
        m[1] * m[6] - m[0] * m[7],
        m[0] * m[4] - m[1] * m[3],
    ];
    let det = m[0] * adj[0] + m[1] * adj[3] + m[2] * adj[6];
    (adj, det)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_adjugate_over_the_determinant_inverts() {
        let m = [2.0, 1.0, 0.5, -1.0, 3.0, 0.25, 0.0, 4.0, 1.0];
        let (adj, det) = adjugate3(&m);
        assert!((det - 3.0).abs() < 1e-12, "{det}");
        for r in 0..3 {
            for c in 0..3 {
                let v: f64 = (0..3).map(|k| m[r * 3 + k] * adj[k * 3 + c] / det).sum();
                assert!((v - f64::from(u8::from(r == c))).abs() < 1e-12, "{r},{c}: {v}");
            }
        }
    }
}
