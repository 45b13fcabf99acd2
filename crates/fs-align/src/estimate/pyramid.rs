//! The smoothed luma pyramid both the features and the refinement work on.
//!
//! Level 0 is the input plane after a light `[1 2 1] / 4` smoothing (it takes the
//! edge off noise and aliasing, and makes bilinear sampling closer to the image's
//! true sub-pixel values); level `l + 1` is the 2x2 block average of level `l`,
//! smoothed the same way. Block averages keep the position convention of
//! [`Transform::to_subsampled`](crate::Transform::to_subsampled): a level-0
//! position `x` is `(x + 0.5) / 2^l - 0.5` at level `l`.

use fs_core::{Plane, PlaneMut, convolve_separable};
use rayon::prelude::*;

/// One pyramid level (owned, row-major).
#[derive(Debug, Clone)]
pub(super) struct Level {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Level {
    /// Bilinear sample at (x, y); `None` outside `[0, w-1) x [0, h-1)`.
    #[inline]
    pub fn bilinear(&self, x: f64, y: f64) -> Option<f32> {
        if !(x >= 0.0 && y >= 0.0) {
            return None;
        }
        let (x0, y0) = (x as usize, y as usize);
        if x0 + 1 >= self.width || y0 + 1 >= self.height {
            return None;
        }
        let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
        let i = y0 * self.width + x0;
        let d = &self.data;
        let top = d[i] + fx * (d[i + 1] - d[i]);
        let bottom = d[i + self.width] + fx * (d[i + self.width + 1] - d[i + self.width]);
        Some(top + fy * (bottom - top))
    }

    /// Bilinear sample at (x, y), which must lie in `[0, w-1) x [0, h-1)`.
    #[inline]
    pub fn bilinear_inside(&self, x: f64, y: f64) -> f32 {
        debug_assert!(x >= 0.0 && y >= 0.0);
        let (x0, y0) = (x as usize, y as usize);
        let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
        let i = y0 * self.width + x0;
        let d = &self.data;
        let top = d[i] + fx * (d[i + 1] - d[i]);
        let bottom = d[i + self.width] + fx * (d[i + self.width + 1] - d[i + self.width]);
        top + fy * (bottom - top)
    }

    /// Blurred copy (separable `kernel`, reflect-101 borders).
    pub fn blurred(&self, kernel: &[f32]) -> Level {
        // Allocation: once per level and frame.
        let mut data = vec![0.0f32; self.data.len()];
        let src = Plane::new(&self.data, self.width, self.height).expect("level size");
        let dst = PlaneMut::new(&mut data, self.width, self.height).expect("level size");
        convolve_separable(src, dst, kernel, kernel).expect("odd kernel, equal sizes");
        Level { width: self.width, height: self.height, data }
    }
}

const SMOOTH: [f32; 3] = [0.25, 0.5, 0.25];

/// Levels `0..=top` of `plane` (fewer when the image gets smaller than 32 pixels).
pub(super) fn build(plane: Plane<'_, f32>, top: usize) -> Vec<Level> {
    let base =
        Level { width: plane.width(), height: plane.height(), data: plane.as_slice().to_vec() };
    let mut levels = vec![base.blurred(&SMOOTH)];
    while levels.len() <= top {
        let last = levels.last().expect("one level");
        if last.width.min(last.height) < 64 {
            break;
        }
        levels.push(down2(last).blurred(&SMOOTH));
    }
    levels
}

/// 2x2 block average (an odd last row or column is dropped).
fn down2(src: &Level) -> Level {
    let (w, h) = (src.width / 2, src.height / 2);
    // Allocation: once per level and frame.
    let mut data = vec![0.0f32; w * h];
    data.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        let r0 = &src.data[2 * y * src.width..][..2 * w];
        let r1 = &src.data[(2 * y + 1) * src.width..][..2 * w];
        for (x, o) in out.iter_mut().enumerate() {
            *o = 0.25 * (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]);
        }
    });
    Level { width: w, height: h, data }
}

/// Position at level `l` of a level-0 position.
#[cfg(test)]
fn to_level(p: f64, l: usize) -> f64 {
    (p + 0.5) / (1u32 << l) as f64 - 0.5
}

/// Level-0 position of a position at level `l`.
#[inline]
pub(super) fn from_level(p: f64, l: usize) -> f64 {
    (p + 0.5) * (1u32 << l) as f64 - 0.5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_of_a_constant_is_constant() {
        let data = vec![0.5f32; 200 * 130];
        let levels = build(Plane::new(&data, 200, 130).unwrap(), 2);
        assert_eq!(levels.len(), 3);
        assert_eq!((levels[2].width, levels[2].height), (50, 32));
        assert!(levels.iter().all(|l| l.data.iter().all(|&v| (v - 0.5).abs() < 1e-6)));
        assert_eq!(to_level(from_level(3.25, 2), 2), 3.25);
    }

    #[test]
    fn bilinear_interpolates_and_refuses_outside() {
        let l = Level { width: 2, height: 2, data: vec![0.0, 1.0, 2.0, 3.0] };
        assert_eq!(l.bilinear(0.5, 0.5), Some(1.5));
        assert_eq!(l.bilinear(0.25, 0.0), Some(0.25));
        assert_eq!(l.bilinear(1.0, 0.0), None);
        assert_eq!(l.bilinear(-0.1, 0.0), None);
    }
}
