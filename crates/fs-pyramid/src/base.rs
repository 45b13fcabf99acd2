//! The coarsest (base) level: fused by local entropy and local variance.
//!
//! Every frame keeps its base level (`G_n`, a few thousand pixels) until the end.
//! Per frame, its luma is rounded to the image's integer type; the probability of
//! each integer value is its share of that frame's base-level histogram. Over a
//! `kernel_size` square window (reflect-101 borders):
//! - local entropy = `sum over the window's pixels of -p(v) ln p(v)` (the window's
//!   pixels weighted by how much information their value carries in this frame;
//!   the seed's code weighs `-ln p(v)` by the value `v` itself, which favours bright
//!   pixels; we use the Shannon form);
//! - local variance = mean over the window of `(v - mean)^2`.
//!
//! Each fused pixel is the mean of the pixel (all channels) from the frame with the
//! largest local entropy and the one from the frame with the largest local variance;
//! ties go to the earlier frame. Sums are in f64 in window order (rows, then
//! columns), so the result does not depend on threads.

use fs_core::{Float, LUMA_WEIGHTS, quantize, reflect101};

/// The quantised luma of a base level: `round(luma)` clipped to `0..=max`.
pub fn quantized_luma<T: Float>(planes: &[Vec<T>], max: f64) -> Vec<u32> {
    let [wr, wg, wb] = LUMA_WEIGHTS.map(T::from_f64);
    if planes.len() < 3 {
        return planes[0].iter().map(|&v| quantize(v, max) as u32).collect();
    }
    let (r, g, b) = (&planes[0], &planes[1], &planes[2]);
    (0..r.len()).map(|i| quantize(wr * r[i] + wg * g[i] + wb * b[i], max) as u32).collect()
}

/// Local entropy and local variance maps of a quantised `width x height` plane
/// over a `size x size` window (see the module docs).
pub fn entropy_and_variance(
    q: &[u32],
    width: usize,
    height: usize,
    size: usize,
    max: f64,
) -> (Vec<f64>, Vec<f64>) {
    // Allocation: once per frame, base-level sized.
    let mut counts = vec![0u32; max as usize + 1];
    for &v in q {
        counts[v as usize] += 1;
    }
    let n = q.len() as f64;
    let term: Vec<f64> = counts
        .iter()
        .map(|&c| {
            let p = c as f64 / n;
            if c == 0 { 0.0 } else { -(p * p.ln()) }
        })
        .collect();
    let r = (size / 2) as isize;
    let area = (size * size) as f64;
    let mut entropy = vec![0.0; q.len()];
    let mut variance = vec![0.0; q.len()];
    // Allocation: one window buffer per call.
    let mut window = Vec::with_capacity(size * size);
    for y in 0..height {
        for x in 0..width {
            window.clear();
            for dy in -r..=r {
                let sy = reflect101(y as isize + dy, height);
                for dx in -r..=r {
                    window.push(q[sy * width + reflect101(x as isize + dx, width)]);
                }
            }
            let mut e = 0.0;
            let mut sum = 0.0;
            for &v in &window {
                e += term[v as usize];
                sum += v as f64;
            }
            let mean = sum / area;
            let mut dev = 0.0;
            for &v in &window {
                let d = v as f64 - mean;
                dev += d * d;
            }
            entropy[y * width + x] = e;
            variance[y * width + x] = dev / area;
        }
    }
    (entropy, variance)
}

/// Fuses the base levels of all frames (`bases[frame][channel]`, each
/// `width x height`): per pixel the mean of the frame with the largest local
/// entropy and the frame with the largest local variance.
pub fn fuse_base<T: Float>(
    bases: &[Vec<Vec<T>>],
    width: usize,
    height: usize,
    kernel_size: usize,
    max: f64,
) -> Vec<Vec<T>> {
    let npx = width * height;
    let mut best_e = vec![f64::NEG_INFINITY; npx];
    let mut best_v = vec![f64::NEG_INFINITY; npx];
    let mut from_e = vec![0usize; npx];
    let mut from_v = vec![0usize; npx];
    for (f, planes) in bases.iter().enumerate() {
        let q = quantized_luma(planes, max);
        let (e, v) = entropy_and_variance(&q, width, height, kernel_size, max);
        for i in 0..npx {
            if e[i] > best_e[i] {
                best_e[i] = e[i];
                from_e[i] = f;
            }
            if v[i] > best_v[i] {
                best_v[i] = v[i];
                from_v[i] = f;
            }
        }
    }
    let half = T::from_f64(0.5);
    (0..bases[0].len())
        .map(|c| {
            (0..npx).map(|i| (bases[from_e[i]][c][i] + bases[from_v[i]][c][i]) * half).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x3 plane 0,0,0 / 0,9,0 / 0,0,0 with a 3x3 window: p(0) = 8/9, p(9) = 1/9.
    #[test]
    fn entropy_and_variance_by_hand() {
        let q = [0, 0, 0, 0, 9, 0, 0, 0, 0];
        let (e, v) = entropy_and_variance(&q, 3, 3, 3, 255.0);
        let t0 = -(8.0f64 / 9.0) * (8.0f64 / 9.0).ln();
        let t9 = -(1.0f64 / 9.0) * (1.0f64 / 9.0).ln();
        // The centre window holds every pixel once.
        assert!((e[4] - (8.0 * t0 + t9)).abs() < 1e-12, "{e:?}");
        // Mean 1, deviations: 8 * 1 + 64 = 72, / 9 = 8.
        assert!((v[4] - 8.0).abs() < 1e-12, "{v:?}");
        // Corner (0,0): reflect-101 window rows 1,0,1 x cols 1,0,1 -> the 9 appears 4 times.
        assert!((e[0] - (5.0 * t0 + 4.0 * t9)).abs() < 1e-12);
        // mean = 4, sum of squares = 5 * 16 + 4 * 25 = 180, / 9 = 20.
        assert!((v[0] - 20.0).abs() < 1e-12);
    }

    #[test]
    fn fuse_base_takes_the_textured_frame_and_keeps_identical_frames() {
        let flat = vec![vec![10.0f32; 16]];
        let textured =
            vec![(0..16).map(|i| if (i + i / 4) % 2 == 0 { 0.0 } else { 40.0 }).collect()];
        let fused = fuse_base(&[flat.clone(), textured.clone()], 4, 4, 3, 255.0);
        // Both rules pick the textured frame everywhere.
        assert_eq!(fused, textured);
        assert_eq!(fuse_base(&[flat.clone(), flat.clone()], 4, 4, 5, 255.0), flat);
    }
}
