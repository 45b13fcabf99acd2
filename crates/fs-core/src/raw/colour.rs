//! TEMPORARY local copy until the helper's colour.rs lands.

/// CIE XYZ (D65) of linear sRGB primaries, row-major.
pub const XYZ_FROM_LINEAR_SRGB: [f32; 9] = [
    0.412_456_4,
    0.357_576_1,
    0.180_437_5,
    0.212_672_9,
    0.715_152_2,
    0.072_175,
    0.019_333_9,
    0.119_192,
    0.950_304_1,
];

/// Linear sRGB to camera RGB, rows normalised so white maps to white.
pub fn srgb_to_camera(xyz_to_camera: &[f32; 9]) -> [f32; 9] {
    let mut m = [0.0f32; 9];
    for r in 0..3 {
        for c in 0..3 {
            m[r * 3 + c] =
                (0..3).map(|k| xyz_to_camera[r * 3 + k] * XYZ_FROM_LINEAR_SRGB[k * 3 + c]).sum();
        }
        let sum: f32 = m[r * 3..r * 3 + 3].iter().sum();
        if sum != 0.0 {
            m[r * 3..r * 3 + 3].iter_mut().for_each(|v| *v /= sum);
        }
    }
    m
}

/// The inverse of a 3x3 matrix, `None` when singular.
pub fn invert3(m: &[f32; 9]) -> Option<[f32; 9]> {
    let m: [f64; 9] = m.map(f64::from);
    let c0 = m[4] * m[8] - m[5] * m[7];
    let c1 = m[5] * m[6] - m[3] * m[8];
    let c2 = m[3] * m[7] - m[4] * m[6];
    let det = m[0] * c0 + m[1] * c1 + m[2] * c2;
    if det.abs() < 1e-12 {
        return None;
    }
    let inv = [
        c0,
        m[2] * m[7] - m[1] * m[8],
        m[1] * m[5] - m[2] * m[4],
        c1,
        m[0] * m[8] - m[2] * m[6],
        m[2] * m[3] - m[0] * m[5],
        c2,
        m[1] * m[6] - m[0] * m[7],
        m[0] * m[4] - m[1] * m[3],
    ];
    Some(inv.map(|v| (v / det) as f32))
}
