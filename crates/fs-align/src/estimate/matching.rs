//! Descriptor matching within a spatial window: Hamming distance, ratio test and
//! mutual cross-check.

use rayon::prelude::*;

use super::features::{Descriptor, Keypoint, hamming};
use crate::Transform;

/// Largest Hamming distance (of 256 bits) of an accepted match.
const MAX_DISTANCE: u32 = 80;
/// The best distance must be below this fraction of the second best.
const RATIO: f32 = 0.85;

/// Keypoints and descriptors in a grid of square cells, for window queries.
#[derive(Debug, Clone)]
pub(super) struct Indexed {
    pub keypoints: Vec<Keypoint>,
    pub descriptors: Vec<Descriptor>,
    cell: f32,
    cols: usize,
    rows: usize,
    /// Indices of the keypoints in each cell (row-major cells), ascending.
    cells: Vec<Vec<u32>>,
}

impl Indexed {
    /// Indexes `keypoints` of an image `width` x `height` with cells of `cell` pixels.
    pub fn new(
        keypoints: Vec<Keypoint>,
        descriptors: Vec<Descriptor>,
        width: usize,
        height: usize,
        cell: f32,
    ) -> Self {
        let cell = cell.max(8.0);
        let cols = (width as f32 / cell).ceil().max(1.0) as usize;
        let rows = (height as f32 / cell).ceil().max(1.0) as usize;
        let mut cells = vec![Vec::new(); cols * rows];
        for (i, k) in keypoints.iter().enumerate() {
            let (cx, cy) = Self::cell_of(k.x, k.y, cell, cols, rows);
            cells[cy * cols + cx].push(i as u32);
        }
        Self { keypoints, descriptors, cell, cols, rows, cells }
    }

    fn cell_of(x: f32, y: f32, cell: f32, cols: usize, rows: usize) -> (usize, usize) {
        let cx = ((x / cell).max(0.0) as usize).min(cols - 1);
        let cy = ((y / cell).max(0.0) as usize).min(rows - 1);
        (cx, cy)
    }

    /// The closest descriptor to `d` among the keypoints within `radius` (in x and
    /// y) of (x, y): (index, best distance, second best distance).
    fn best(&self, x: f32, y: f32, d: &Descriptor, radius: f32) -> Option<(u32, u32, u32)> {
        let (x0, y0) = Self::cell_of(x - radius, y - radius, self.cell, self.cols, self.rows);
        let (x1, y1) = Self::cell_of(x + radius, y + radius, self.cell, self.cols, self.rows);
        let (mut best, mut second, mut idx) = (u32::MAX, u32::MAX, u32::MAX);
        for cy in y0..=y1 {
            for cell in &self.cells[cy * self.cols + x0..=cy * self.cols + x1] {
                for &i in cell {
                    let k = &self.keypoints[i as usize];
                    if (k.x - x).abs() > radius || (k.y - y).abs() > radius {
                        continue;
                    }
                    let dist = hamming(d, &self.descriptors[i as usize]);
                    // Ties keep the lower index: cells are visited in a fixed order,
                    // but compare indices so the answer does not depend on it.
                    if dist < best || (dist == best && i < idx) {
                        second = best;
                        best = dist;
                        idx = i;
                    } else if dist < second {
                        second = dist;
                    }
                }
            }
        }
        (idx != u32::MAX).then_some((idx, best, second))
    }
}

impl Indexed {
    /// The first `n` keypoints (the strongest, as the detector orders them).
    pub fn strongest(&self, n: usize, width: usize, height: usize) -> Indexed {
        let n = n.min(self.keypoints.len());
        Indexed::new(
            self.keypoints[..n].to_vec(),
            self.descriptors[..n].to_vec(),
            width,
            height,
            self.cell,
        )
    }
}

/// Mutual best matches between `a` and `b`, searched within `radius` pixels (x and
/// y) of where `a_to_b` (identity when `None`) puts each keypoint, that pass the
/// distance limit and the ratio test in both directions: pairs of indices (into
/// `a`, into `b`) in ascending order of `a`.
pub(super) fn match_features(
    a: &Indexed,
    b: &Indexed,
    radius: f32,
    a_to_b: Option<&Transform>,
) -> Vec<(u32, u32)> {
    let b_to_a = a_to_b.and_then(Transform::inverse);
    let forward = nearest(a, b, radius, a_to_b);
    let backward = nearest(b, a, radius, b_to_a.as_ref());
    forward
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let j = (*f)?;
            (backward[j as usize] == Some(i as u32)).then_some((i as u32, j))
        })
        .collect()
}

/// For every keypoint of `from`, its accepted nearest neighbour in `to`.
fn nearest(from: &Indexed, to: &Indexed, radius: f32, map: Option<&Transform>) -> Vec<Option<u32>> {
    from.keypoints
        .par_iter()
        .zip(from.descriptors.par_iter())
        .map(|(k, d)| {
            let (x, y) = match map {
                Some(t) => {
                    let p = t.apply(k.x as f64, k.y as f64);
                    (p.0 as f32, p.1 as f32)
                }
                None => (k.x, k.y),
            };
            let (j, best, second) = to.best(x, y, d, radius)?;
            let unique = second == u32::MAX || (best as f32) < RATIO * second as f32;
            (best <= MAX_DISTANCE && unique).then_some(j)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kp(x: f32, y: f32) -> Keypoint {
        Keypoint { x, y, response: 1.0 }
    }

    #[test]
    fn mutual_matches_within_the_window() {
        let d = |v: u64| [v, !v, v.rotate_left(7), 0];
        let a = Indexed::new(
            vec![kp(10.0, 10.0), kp(50.0, 50.0), kp(90.0, 10.0)],
            vec![d(0xff00ff), d(0x0f0f_0f0f_f0f0), d(0x1234_5678_9abc)],
            100,
            100,
            16.0,
        );
        let b = Indexed::new(
            // The first two swapped, slightly moved; the third far away.
            vec![kp(52.0, 49.0), kp(11.0, 12.0), kp(10.0, 90.0)],
            vec![d(0x0f0f_0f0f_f0f0 ^ 1), d(0xff00ff), d(0x1234_5678_9abc)],
            100,
            100,
            16.0,
        );
        assert_eq!(match_features(&a, &b, 10.0, None), vec![(0, 1), (1, 0)]);
        assert_eq!(match_features(&a, &b, 100.0, None), vec![(0, 1), (1, 0), (2, 2)]);
        // A predicted shift brings the third pair within a small window.
        let shift = Transform::translation(-80.0, 80.0);
        assert_eq!(match_features(&a, &b, 5.0, Some(&shift)), vec![(2, 2)]);
    }
}
