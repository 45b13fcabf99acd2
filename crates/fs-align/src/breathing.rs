//! The stack-wide breathing model: focus breathing changes the magnification smoothly
//! with the frame index (the focus moves step by step), and a stage or tripod lets the
//! centre drift as smoothly; shake on top of that is small.
//!
//! [`BreathingModel::fit`] fits, over the frames that aligned well, the magnification
//! change, the rotation and the shift of the centre as polynomials in the frame's
//! distance `u = k - reference` with no constant term (the reference is the identity),
//! degree 1 with fewer than eight frames, else 2. Robust: the frame whose magnification
//! and rotation deviate most (in pixels at the corners) is dropped while it deviates
//! by more than `max(0.75 px, 4 x 1.4826 x the median deviation)`, and the model is
//! fitted again. The model then checks a frame's own estimate
//! ([`BreathingModel::deviation`]) and predicts the frames whose own estimate cannot be
//! trusted ([`BreathingModel::predict`]).
//!
//! The centre's shift is fitted as well, but checked loosely: random shake is not
//! smooth ([`BreathingModel::shift_spread`] is its spread over the fitted frames).

use crate::Transform;

/// Deviation (pixels at the corners) below which a frame always counts as following
/// the model.
const FLOOR_PX: f64 = 0.75;

/// A smooth model of magnification, rotation and centre shift against frame index.
#[derive(Debug, Clone, PartialEq)]
pub struct BreathingModel {
    reference: usize,
    width: usize,
    height: usize,
    /// Coefficients of `u` and `u^2` for scale - 1, rotation (radians), dx, dy.
    coefficients: [[f64; 2]; 4],
    /// Frames the model was fitted to (the reference not counted).
    frames: Vec<usize>,
    /// RMS of the magnification/rotation deviation of the fitted frames (px).
    spread: f64,
    /// RMS of the centre-shift deviation of the fitted frames (px).
    shift_spread: f64,
}

/// Scale - 1, rotation, centre shift of `t` for a `width` x `height` frame.
fn parameters(t: &Transform, width: usize, height: usize) -> [f64; 4] {
    let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
    let (x, y) = t.apply(cx, cy);
    [t.scale() - 1.0, t.rotation(), x - cx, y - cy]
}

impl BreathingModel {
    /// Fits the model to `frames` (index, transform reference to frame, full
    /// resolution) of a stack aligned to frame `reference`; the reference itself may
    /// be among them. `None` without at least one frame other than the reference.
    pub fn fit(
        frames: &[(usize, Transform)],
        reference: usize,
        width: usize,
        height: usize,
    ) -> Option<Self> {
        let mut points: Vec<(f64, [f64; 4], usize)> = frames
            .iter()
            .filter(|(k, t)| *k != reference && t.is_valid())
            .map(|(k, t)| (*k as f64 - reference as f64, parameters(t, width, height), *k))
            .collect();
        let half_diagonal = 0.5 * (width as f64).hypot(height as f64);
        loop {
            let model = Self::solve(&points, reference, width, height)?;
            let deviations: Vec<f64> = points
                .iter()
                .map(|(_, _, k)| model.deviation_of(*k, &points, half_diagonal))
                .collect();
            let mut sorted = deviations.clone();
            sorted.sort_by(f64::total_cmp);
            let median = sorted[sorted.len() / 2];
            let limit = FLOOR_PX.max(4.0 * 1.4826 * median);
            let worst =
                (0..deviations.len()).max_by(|&a, &b| deviations[a].total_cmp(&deviations[b]));
            match worst {
                Some(i) if deviations[i] > limit && points.len() > 2 => {
                    points.remove(i);
                }
                _ => return Some(model),
            }
        }
    }

    fn deviation_of(&self, k: usize, points: &[(f64, [f64; 4], usize)], half_diagonal: f64) -> f64 {
        let (u, p, _) = points.iter().find(|p| p.2 == k).expect("a fitted frame");
        let m = self.at(*u);
        ((p[0] - m[0]).abs() + (p[1] - m[1]).abs()) * half_diagonal
    }

    /// Least squares of each parameter on `u` and `u^2` (degree 1 with fewer than
    /// [`QUADRATIC_FRAMES`] points, or when their spread in `u` does not support a
    /// quadratic).
    fn solve(
        points: &[(f64, [f64; 4], usize)],
        reference: usize,
        width: usize,
        height: usize,
    ) -> Option<Self> {
        if points.is_empty() {
            return None;
        }
        let quadratic = points.len() >= QUADRATIC_FRAMES;
        let (mut s11, mut s12, mut s22) = (0.0, 0.0, 0.0);
        let mut b = [[0.0f64; 2]; 4];
        for (u, p, _) in points {
            let (a1, a2) = (*u, u * u);
            s11 += a1 * a1;
            s12 += a1 * a2;
            s22 += a2 * a2;
            for (bi, pi) in b.iter_mut().zip(p) {
                bi[0] += a1 * pi;
                bi[1] += a2 * pi;
            }
        }
        let det = s11 * s22 - s12 * s12;
        let quadratic = quadratic && det > 1e-9 * s11 * s22;
        let mut coefficients = [[0.0f64; 2]; 4];
        for (c, bi) in coefficients.iter_mut().zip(&b) {
            *c = if quadratic {
                [(s22 * bi[0] - s12 * bi[1]) / det, (s11 * bi[1] - s12 * bi[0]) / det]
            } else {
                [bi[0] / s11, 0.0]
            };
        }
        let mut model = Self {
            reference,
            width,
            height,
            coefficients,
            frames: points.iter().map(|p| p.2).collect(),
            spread: 0.0,
            shift_spread: 0.0,
        };
        let half_diagonal = 0.5 * (width as f64).hypot(height as f64);
        let n = points.len() as f64;
        let (mut sr, mut ss) = (0.0, 0.0);
        for (u, p, _) in points {
            let m = model.at(*u);
            sr += (((p[0] - m[0]).abs() + (p[1] - m[1]).abs()) * half_diagonal).powi(2);
            ss += (p[2] - m[2]).powi(2) + (p[3] - m[3]).powi(2);
        }
        model.spread = (sr / n).sqrt();
        model.shift_spread = (ss / n).sqrt();
        Some(model)
    }

    fn at(&self, u: f64) -> [f64; 4] {
        self.coefficients.map(|c| c[0] * u + c[1] * u * u)
    }

    /// The frames the model was fitted to, after outliers were dropped.
    pub fn frames(&self) -> &[usize] {
        &self.frames
    }

    /// The model's magnification change of frame `k` against the reference, as a
    /// fraction.
    pub fn scale_change(&self, k: usize) -> f64 {
        self.at(k as f64 - self.reference as f64)[0]
    }

    /// The RMS deviation (pixels at the corners) of the fitted frames' magnification
    /// and rotation from the model.
    pub fn spread(&self) -> f64 {
        self.spread
    }

    /// The RMS deviation (pixels) of the fitted frames' centre shift from the model
    /// (the shake).
    pub fn shift_spread(&self) -> f64 {
        self.shift_spread
    }

    /// The transform the model predicts for frame `k` (reference to frame, full
    /// resolution): a similarity about the centre.
    pub fn predict(&self, k: usize) -> Transform {
        let [ds, angle, dx, dy] = self.at(k as f64 - self.reference as f64);
        let s = 1.0 + ds;
        let (cx, cy) = ((self.width as f64 - 1.0) / 2.0, (self.height as f64 - 1.0) / 2.0);
        let (sin, cos) = angle.sin_cos();
        let (rx, ry) = (s * (cos * cx - sin * cy), s * (sin * cx + cos * cy));
        Transform::similarity(s, angle, cx + dx - rx, cy + dy - ry)
    }

    /// How far `t`, an estimate for frame `k`, departs from the model's magnification
    /// and rotation, in pixels at the corners (half the diagonal times the
    /// differences).
    pub fn deviation(&self, k: usize, t: &Transform) -> f64 {
        let p = parameters(t, self.width, self.height);
        let m = self.at(k as f64 - self.reference as f64);
        let half_diagonal = 0.5 * (self.width as f64).hypot(self.height as f64);
        ((p[0] - m[0]).abs() + (p[1] - m[1]).abs()) * half_diagonal
    }

    /// The largest [`BreathingModel::deviation`] an estimate may have and still be
    /// trusted: `max(3 px, 5 x the model's spread)`, and wider the farther `k` lies
    /// outside the fitted frames (an extrapolation is less certain).
    pub fn tolerance(&self, k: usize) -> f64 {
        let lo = self.frames.iter().copied().chain([self.reference]).min().unwrap_or(k);
        let hi = self.frames.iter().copied().chain([self.reference]).max().unwrap_or(k);
        let outside = lo.saturating_sub(k).max(k.saturating_sub(hi)) as f64;
        TRUST_PX.max(5.0 * self.spread) * (1.0 + 0.5 * outside)
    }
}

/// Fewest fitted frames for a quadratic model: with fewer, the curvature is mostly
/// the frames' own noise, and extrapolating it to the end frames (the ones most
/// often predicted) goes wrong fastest (generated 9-frame stack, 6 frames fitted:
/// frame 8 predicted at +1.64 % with a quadratic, +1.50 % true).
const QUADRATIC_FRAMES: usize = 8;

/// The smallest [`BreathingModel::tolerance`] (pixels at the corners).
const TRUST_PX: f64 = 3.0;

#[cfg(test)]
mod tests {
    use super::*;

    /// A 800x600 frame `k` of a stack aligned to frame `reference`: breathing,
    /// rotation and a centre drift (quadratic terms when `curved`), plus `shake`.
    fn breathing(k: usize, reference: usize, curved: bool, shake: (f64, f64)) -> Transform {
        let c = if curved { 1.0 } else { 0.0 };
        let m = BreathingModel {
            reference,
            width: 800,
            height: 600,
            coefficients: [[0.004, 0.0002 * c], [0.0005, 0.0], [0.3, 0.0], [-0.2, 0.01 * c]],
            frames: Vec::new(),
            spread: 0.0,
            shift_spread: 0.0,
        };
        Transform::translation(shake.0, shake.1).after(&m.predict(k))
    }

    #[test]
    fn fits_a_smooth_stack_and_drops_an_outlier() {
        let mut frames: Vec<(usize, Transform)> =
            (0..12).map(|k| (k, breathing(k, 6, true, (0.0, 0.0)))).collect();
        // Frame 9's estimate is 1 % too large: far outside the smooth model.
        frames[9].1 = Transform::scaling_about(1.01, 399.5, 299.5).after(&frames[9].1);
        let model = BreathingModel::fit(&frames, 6, 800, 600).unwrap();
        assert!(!model.frames().contains(&9), "{:?}", model.frames());
        assert_eq!(model.frames().len(), 10);
        for k in 0..12 {
            let truth = breathing(k, 6, true, (0.0, 0.0));
            let err = model.predict(k).corner_distance(&truth, 800, 600);
            assert!(err < 1e-6, "frame {k}: {err} px");
        }
        // The outlier deviates by 1 % of half the diagonal (5 px), beyond the tolerance.
        let d = model.deviation(9, &frames[9].1);
        assert!((d - 5.0).abs() < 0.1, "{d}");
        assert!(d > model.tolerance(9));
        assert!(model.deviation(8, &frames[8].1) < 1e-6);
        assert!((model.scale_change(8) - (0.008 + 0.0008)).abs() < 1e-9);
    }

    #[test]
    fn shake_does_not_move_the_magnification() {
        let shakes = [(1.0, -2.0), (-1.5, 0.5), (2.0, 1.0), (0.0, 0.0), (-2.0, -1.0)];
        let frames: Vec<(usize, Transform)> =
            (2..7).map(|k| (k, breathing(k, 4, false, shakes[k - 2]))).collect();
        let model = BreathingModel::fit(&frames, 4, 800, 600).unwrap();
        assert_eq!(model.frames().len(), 4);
        for k in 0..9 {
            let d = model.deviation(k, &breathing(k, 4, false, (0.0, 0.0)));
            assert!(d < 1e-6, "frame {k}: {d} px");
        }
        assert!(model.shift_spread() > 0.5, "{}", model.shift_spread());
        // Extrapolating two frames past the fitted ones widens the tolerance.
        assert!(model.tolerance(8) > model.tolerance(6));
        assert!(BreathingModel::fit(&[(4, Transform::identity())], 4, 800, 600).is_none());
    }
}
