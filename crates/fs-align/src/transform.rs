//! Plane transforms between a frame and the reference.

/// Which family of transforms the estimator fits (the seed family's `transform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TransformKind {
    /// Shift, rotation and one scale (ShineStacker's `ALIGN_RIGID`): focus breathing
    /// plus a camera or stage that moved a little. 4 parameters.
    #[default]
    Similarity,
    /// Similarity plus shear and separate x/y scales. 6 parameters.
    Affine,
    /// Full perspective (ShineStacker's `ALIGN_HOMOGRAPHY`): a hand-held camera. 8
    /// parameters.
    Homography,
}

impl TransformKind {
    /// The name used in job files and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            TransformKind::Similarity => "similarity",
            TransformKind::Affine => "affine",
            TransformKind::Homography => "homography",
        }
    }

    /// The kind a name names: ours (`similarity`, `affine`, `homography`) or the
    /// seed family's (`ALIGN_RIGID`, `ALIGN_HOMOGRAPHY`), case-insensitive.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "similarity" | "rigid" | "align_rigid" => Some(TransformKind::Similarity),
            "affine" | "align_affine" => Some(TransformKind::Affine),
            "homography" | "perspective" | "align_homography" => Some(TransformKind::Homography),
            _ => None,
        }
    }

    /// Point pairs a minimal RANSAC sample needs.
    pub fn min_points(self) -> usize {
        match self {
            TransformKind::Similarity => 2,
            TransformKind::Affine => 3,
            TransformKind::Homography => 4,
        }
    }
}

/// A plane transform as a 3x3 matrix (row-major, `m[8]` normalised to 1), mapping a
/// pixel position of the **reference** to the position in the **frame** that shows
/// the same point. Positions are in pixels, x to the right, y down, the centre of
/// pixel (0, 0) at (0.0, 0.0). Warping a frame into the reference's geometry samples
/// the frame at `apply(x, y)` for every output pixel (x, y).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    m: [f64; 9],
}

impl Default for Transform {
    fn default() -> Self {
        Self::identity()
    }
}

impl Transform {
    /// The identity.
    pub const fn identity() -> Self {
        Self { m: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0] }
    }

    /// A transform from its matrix (row-major); `None` when it is not finite, its
    /// last element is zero, or it is singular.
    pub fn from_matrix(m: [f64; 9]) -> Option<Self> {
        if !m.iter().all(|v| v.is_finite()) || m[8].abs() < 1e-300 {
            return None;
        }
        let t = Self { m: m.map(|v| v / m[8]) };
        (t.det().abs() > 1e-12).then_some(t)
    }

    /// `x' = s (cos a x - sin a y) + tx`, `y' = s (sin a x + cos a y) + ty`, the angle
    /// `a` in radians.
    pub fn similarity(scale: f64, angle: f64, tx: f64, ty: f64) -> Self {
        let (s, c) = angle.sin_cos();
        Self { m: [scale * c, -scale * s, tx, scale * s, scale * c, ty, 0.0, 0.0, 1.0] }
    }

    /// A pure shift.
    pub fn translation(tx: f64, ty: f64) -> Self {
        Self::similarity(1.0, 0.0, tx, ty)
    }

    /// Scaling by `scale` about the point (`cx`, `cy`): focus breathing about the
    /// optical centre.
    pub fn scaling_about(scale: f64, cx: f64, cy: f64) -> Self {
        Self::similarity(scale, 0.0, cx - scale * cx, cy - scale * cy)
    }

    /// `x' = a x + b y + c`, `y' = d x + e y + f`.
    pub fn affine(a: f64, b: f64, c: f64, d: f64, e: f64, f: f64) -> Self {
        Self { m: [a, b, c, d, e, f, 0.0, 0.0, 1.0] }
    }

    /// The matrix, row-major.
    pub fn matrix(&self) -> [f64; 9] {
        self.m
    }

    /// Where the reference position (`x`, `y`) is in the frame.
    #[inline]
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.m;
        let w = m[6] * x + m[7] * y + m[8];
        ((m[0] * x + m[1] * y + m[2]) / w, (m[3] * x + m[4] * y + m[5]) / w)
    }

    fn det(&self) -> f64 {
        fs_core::linalg::adjugate3(&self.m).1
    }

    /// The inverse (frame position to reference position); `None` when singular.
    pub fn inverse(&self) -> Option<Self> {
        let (adj, d) = fs_core::linalg::adjugate3(&self.m);
        if d.abs() < 1e-300 || !d.is_finite() {
            return None;
        }
        Self::from_matrix(adj.map(|v| v / d))
    }

    /// `self` after `first`: the transform `p -> self.apply(first.apply(p))`.
    pub fn after(&self, first: &Transform) -> Transform {
        let (a, b) = (&self.m, &first.m);
        let mut m = [0.0; 9];
        for r in 0..3 {
            for c in 0..3 {
                m[r * 3 + c] = (0..3).map(|k| a[r * 3 + k] * b[k * 3 + c]).sum();
            }
        }
        Self { m: m.map(|v| v / m[8]) }
    }

    /// The same transform in coordinates of an image subsampled by `factor` (block
    /// averages of `factor` x `factor` pixels: a full-resolution position `x` is
    /// `(x + 0.5) / factor - 0.5` there). `to_subsampled(f).to_full(f)` is `self`.
    pub fn to_subsampled(&self, factor: f64) -> Transform {
        let s = Self::scale_map(1.0 / factor);
        let s_inv = Self::scale_map(factor);
        s.after(&self.after(&s_inv))
    }

    /// The inverse of [`Transform::to_subsampled`]: a transform estimated on an image
    /// subsampled by `factor`, in full-resolution coordinates.
    pub fn to_full(&self, factor: f64) -> Transform {
        self.to_subsampled(1.0 / factor)
    }

    /// Full-resolution `x` to subsampled `(x + 0.5) * k - 0.5`.
    fn scale_map(k: f64) -> Transform {
        let t = 0.5 * k - 0.5;
        Self::affine(k, 0.0, t, 0.0, k, t)
    }

    /// The largest distance between where `self` and `other` put the four corners of
    /// a `width` x `height` image (pixels): how far apart two estimates are where it
    /// matters most.
    pub fn corner_distance(&self, other: &Transform, width: usize, height: usize) -> f64 {
        corners(width, height)
            .into_iter()
            .map(|(x, y)| {
                let (a, b) = (self.apply(x, y), other.apply(x, y));
                (a.0 - b.0).hypot(a.1 - b.1)
            })
            .fold(0.0, f64::max)
    }

    /// The scale of the transform's linear part at the image centre (geometric mean
    /// of the two axis scales): 1.0 for no change of magnification.
    pub fn scale(&self) -> f64 {
        let m = &self.m;
        (m[0] * m[4] - m[1] * m[3]).abs().sqrt()
    }

    /// The rotation of the linear part, radians.
    pub fn rotation(&self) -> f64 {
        let m = &self.m;
        (m[3] - m[1]).atan2(m[0] + m[4])
    }

    /// Whether every element is finite and the matrix not singular.
    pub fn is_valid(&self) -> bool {
        self.m.iter().all(|v| v.is_finite()) && self.det().abs() > 1e-12
    }
}

/// The centres of the four corner pixels of a `width` x `height` image.
pub fn corners(width: usize, height: usize) -> [(f64, f64); 4] {
    let (w, h) = ((width.max(1) - 1) as f64, (height.max(1) - 1) as f64);
    [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64)) -> bool {
        (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9
    }

    #[test]
    fn similarity_maps_points() {
        let t = Transform::similarity(2.0, std::f64::consts::FRAC_PI_2, 1.0, 3.0);
        assert!(close(t.apply(1.0, 0.0), (1.0, 5.0)));
        assert!((t.scale() - 2.0).abs() < 1e-12);
        assert!((t.rotation() - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
    }

    #[test]
    fn inverse_and_composition() {
        let t =
            Transform::from_matrix([1.01, 0.02, 3.0, -0.01, 0.99, -2.0, 1e-5, 2e-5, 1.0]).unwrap();
        let i = t.inverse().unwrap();
        let (x, y) = t.apply(120.0, 45.0);
        assert!(close(i.apply(x, y), (120.0, 45.0)));
        assert!(close(i.after(&t).apply(7.0, 9.0), (7.0, 9.0)));
        let s = Transform::translation(1.0, 2.0);
        assert!(close(s.after(&t).apply(5.0, 6.0), {
            let p = t.apply(5.0, 6.0);
            (p.0 + 1.0, p.1 + 2.0)
        }));
    }

    #[test]
    fn subsampled_coordinates() {
        // A shift of 4 full-resolution pixels is 1 pixel at factor 4.
        let t = Transform::translation(4.0, -8.0);
        let s = t.to_subsampled(4.0);
        assert!(close(s.apply(10.0, 10.0), (11.0, 8.0)));
        // Scaling about the centre stays scaling about the same physical point.
        let b = Transform::scaling_about(1.02, 999.5, 499.5);
        let bs = b.to_subsampled(4.0);
        assert!(close(bs.apply(249.5, 124.5), (249.5, 124.5)));
        assert!(bs.to_full(4.0).corner_distance(&b, 2000, 1000) < 1e-9);
    }

    #[test]
    fn singular_matrices_are_refused() {
        assert!(Transform::from_matrix([1.0, 2.0, 0.0, 2.0, 4.0, 0.0, 0.0, 0.0, 1.0]).is_none());
        assert!(
            Transform::from_matrix([f64::NAN, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]).is_none()
        );
        assert!(Transform::affine(0.0, 0.0, 1.0, 0.0, 0.0, 1.0).inverse().is_none());
    }
}
