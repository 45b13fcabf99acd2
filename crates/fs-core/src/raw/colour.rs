//! Colour matrices of camera RAW: from a DNG's ColorMatrix (CIE XYZ to camera RGB)
//! to the matrix that turns linear sRGB into camera RGB, and back.
//!
//! A DNG's ColorMatrix maps XYZ (D65 here) to the camera's RGB. Composed with
//! [`XYZ_FROM_LINEAR_SRGB_D65`] it maps linear sRGB to camera RGB; [`srgb_to_camera`]
//! divides each row by its sum, so sRGB white (1, 1, 1) gives camera (1, 1, 1): the
//! white balance (the as-shot neutral) is kept apart from the matrix, as DNG does.
//! A developer divides by the neutral and applies the [`invert3`] of that matrix.

/// Linear sRGB (D65 white) to CIE XYZ, row-major (IEC 61966-2-1).
pub const XYZ_FROM_LINEAR_SRGB_D65: [f32; 9] = [
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

/// CIE XYZ to linear sRGB (D65 white), row-major: the inverse of
/// [`XYZ_FROM_LINEAR_SRGB_D65`].
pub const LINEAR_SRGB_FROM_XYZ_D65: [f32; 9] = [
    3.240_454_2,
    -1.537_138_5,
    -0.498_531_4,
    -0.969_266,
    1.876_010_8,
    0.041_556,
    0.055_643_4,
    -0.204_025_9,
    1.057_225_2,
];

/// The product `a * b` of two row-major 3x3 matrices.
pub fn mul3(a: &[f32; 9], b: &[f32; 9]) -> [f32; 9] {
    std::array::from_fn(|i| {
        let (r, c) = (i / 3, i % 3);
        (0..3).map(|k| f64::from(a[r * 3 + k]) * f64::from(b[k * 3 + c])).sum::<f64>() as f32
    })
}

/// `m * v` for a row-major 3x3 matrix.
#[inline]
pub fn apply3(m: &[f32; 9], v: [f32; 3]) -> [f32; 3] {
    std::array::from_fn(|r| m[r * 3] * v[0] + m[r * 3 + 1] * v[1] + m[r * 3 + 2] * v[2])
}

/// Linear sRGB to camera RGB for a camera whose ColorMatrix is `xyz_to_camera`
/// (XYZ D65 to camera, row-major): `xyz_to_camera * XYZ_FROM_LINEAR_SRGB_D65` with each
/// row divided by its sum, so white (1, 1, 1) maps to (1, 1, 1).
pub fn srgb_to_camera(xyz_to_camera: &[f32; 9]) -> [f32; 9] {
    let m = mul3(xyz_to_camera, &XYZ_FROM_LINEAR_SRGB_D65);
    std::array::from_fn(|i| {
        let r = i / 3;
        let sum = f64::from(m[r * 3]) + f64::from(m[r * 3 + 1]) + f64::from(m[r * 3 + 2]);
        (f64::from(m[i]) / sum) as f32
    })
}

/// The inverse of a row-major 3x3 matrix, `None` if it is singular (determinant
/// below 1e-12 of the product of its row norms).
pub fn invert3(m: &[f32; 9]) -> Option<[f32; 9]> {
    let a: [f64; 9] = m.map(f64::from);
    let (adj, det) = crate::linalg::adjugate3(&a);
    let norms: f64 =
        (0..3).map(|r| (a[r * 3..r * 3 + 3].iter().map(|v| v * v).sum::<f64>()).sqrt()).product();
    if !det.is_finite() || det.abs() <= 1e-12 * norms {
        return None;
    }
    Some(adj.map(|v| (v / det) as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: [f32; 9] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];

    fn close(a: &[f32; 9], b: &[f32; 9], tol: f32) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
    }

    #[test]
    fn srgb_matrices_are_inverse() {
        let p = mul3(&LINEAR_SRGB_FROM_XYZ_D65, &XYZ_FROM_LINEAR_SRGB_D65);
        assert!(close(&p, &IDENTITY, 1e-5), "{p:?}");
        let inv = invert3(&XYZ_FROM_LINEAR_SRGB_D65).unwrap();
        assert!(close(&inv, &LINEAR_SRGB_FROM_XYZ_D65, 1e-4), "{inv:?}");
    }

    #[test]
    fn srgb_camera_is_the_identity() {
        let m = srgb_to_camera(&LINEAR_SRGB_FROM_XYZ_D65);
        assert!(close(&m, &IDENTITY, 1e-5), "{m:?}");
    }

    #[test]
    fn srgb_to_camera_keeps_white() {
        let xyz_to_camera = [0.9, -0.3, -0.1, -0.4, 1.3, 0.1, -0.05, 0.2, 0.6];
        let m = srgb_to_camera(&xyz_to_camera);
        for v in apply3(&m, [1.0, 1.0, 1.0]) {
            assert!((v - 1.0).abs() < 1e-6);
        }
        let inv = invert3(&m).unwrap();
        assert!(close(&mul3(&inv, &m), &IDENTITY, 1e-5));
    }

    #[test]
    fn singular_matrix_has_no_inverse() {
        assert_eq!(invert3(&[1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 0.0, 1.0, 1.0]), None);
        assert_eq!(invert3(&[0.0; 9]), None);
        assert_eq!(invert3(&IDENTITY), Some(IDENTITY));
    }
}
