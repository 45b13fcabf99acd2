//! Focus breathing and camera shake for synthetic stacks: each frame sees the scene
//! through a small similarity transform about the image centre, resampled with a
//! Lanczos-3 kernel so the generator itself loses as little detail as possible.

use super::scene::mix64;

/// The affine map `[a, b, c, d, e, f]` (`x' = a x + b y + c`, `y' = d x + e y + f`)
/// from a scene (reference) position to the position in frame `k` of `n`, for the
/// given breathing (magnification change first to last frame), rotation (degrees,
/// first to last) and random shift (at most `shift` pixels each way). Frame `n / 2`
/// (the middle, the usual alignment reference) is the identity.
pub(crate) fn frame_affine(
    k: usize,
    n: usize,
    width: usize,
    height: usize,
    breathing: f64,
    rotation: f64,
    shift: f64,
    seed: u64,
) -> [f64; 6] {
    let r = n / 2;
    if k == r {
        return [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    }
    let t = (k as f64 - r as f64) / (n.max(2) - 1) as f64;
    let s = 1.0 + breathing * t;
    let (sin, cos) = (rotation * t).to_radians().sin_cos();
    let unit = |salt: u64| {
        let bits = mix64(seed ^ 0x0073_6869_6674 ^ (k as u64).wrapping_mul(0x9e37_79b9) ^ salt);
        (bits >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let (tx, ty) = (shift * unit(1), shift * unit(2));
    let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
    let (a, b, d, e) = (s * cos, -s * sin, s * sin, s * cos);
    [a, b, cx - a * cx - b * cy + tx, d, e, cy - d * cx - e * cy + ty]
}

/// The inverse of an affine map.
pub(crate) fn invert(m: [f64; 6]) -> [f64; 6] {
    let [a, b, c, d, e, f] = m;
    let det = a * e - b * d;
    let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
    [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)]
}

/// The six Lanczos-3 weights for taps at offsets `-2..=3` from `floor(pos)`, where
/// `f = pos - floor(pos)`, normalised to sum 1. Two sines and a cosine per call: for
/// tap `k`, `sin(pi (f - k)) = (-1)^k sin(pi f)` and `sin(pi (f - k) / 3)` follows from
/// the angle-difference formula.
fn lanczos3_weights(f: f64) -> [f64; 6] {
    use std::f64::consts::PI;
    let (s1, _) = (PI * f).sin_cos();
    let (s3, c3) = (PI * f / 3.0).sin_cos();
    let mut w = [0.0f64; 6];
    let mut sum = 0.0;
    for (t, wt) in w.iter_mut().enumerate() {
        let k = t as f64 - 2.0;
        let x = f - k;
        *wt = if x.abs() < 1e-9 {
            1.0
        } else {
            let sign = if (t % 2) == 0 { 1.0 } else { -1.0 }; // (-1)^(t - 2)
            let (sk, ck) = (k * PI / 3.0).sin_cos();
            let sin_third = s3 * ck - c3 * sk;
            3.0 * sign * s1 * sin_third / (PI * PI * x * x)
        };
        sum += *wt;
    }
    w.map(|v| v / sum)
}

/// Rows `y0..y1` of `planes` (each `width * height`) seen through `frame_to_scene`:
/// output pixel (x, y) is the planes sampled at `frame_to_scene(x, y)` with a
/// Lanczos-3 kernel (normalised weights; positions outside replicate the edge).
/// Writes `planes.len()` planes of `(y1 - y0) * width` into `out`.
pub(crate) fn resample_rows(
    planes: &[Vec<f32>],
    width: usize,
    height: usize,
    frame_to_scene: [f64; 6],
    y0: usize,
    y1: usize,
    out: &mut Vec<Vec<f32>>,
) {
    let [a, b, c, d, e, f] = frame_to_scene;
    out.resize_with(planes.len(), Vec::new);
    for o in out.iter_mut() {
        o.clear();
        o.resize((y1 - y0) * width, 0.0);
    }
    let clampi = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    for y in y0..y1 {
        for x in 0..width {
            let (xf, yf) = (x as f64, y as f64);
            let sx = a * xf + b * yf + c;
            let sy = d * xf + e * yf + f;
            let (ix, iy) = (sx.floor() as isize, sy.floor() as isize);
            let (fx, fy) = (sx - sx.floor(), sy - sy.floor());
            let wx = lanczos3_weights(fx).map(|v| v as f32);
            let wy = lanczos3_weights(fy).map(|v| v as f32);
            let cols: [usize; 6] = std::array::from_fn(|t| clampi(ix + t as isize - 2, width));
            let rows: [usize; 6] =
                std::array::from_fn(|t| clampi(iy + t as isize - 2, height) * width);
            let i = (y - y0) * width + x;
            for (plane, o) in planes.iter().zip(out.iter_mut()) {
                let mut acc = 0.0f32;
                for (&row, &wyv) in rows.iter().zip(&wy) {
                    let r = &plane[row..row + width];
                    let racc: f32 = cols.iter().zip(&wx).map(|(&c, &w)| w * r[c]).sum();
                    acc += wyv * racc;
                }
                o[i] = acc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanczos3(x: f64) -> f64 {
        if x.abs() < 1e-12 {
            return 1.0;
        }
        let px = std::f64::consts::PI * x;
        3.0 * px.sin() * (px / 3.0).sin() / (px * px)
    }

    #[test]
    fn weights_match_the_kernel() {
        for f in [0.0, 0.1, 0.25, 0.5, 0.77, 0.999] {
            let w = lanczos3_weights(f);
            let direct: Vec<f64> = (0..6).map(|t| lanczos3(f - (t as f64 - 2.0))).collect();
            let sum: f64 = direct.iter().sum();
            for t in 0..6 {
                assert!((w[t] - direct[t] / sum).abs() < 1e-12, "f {f} tap {t}");
            }
        }
        assert_eq!(lanczos3_weights(0.0), [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    }
}
