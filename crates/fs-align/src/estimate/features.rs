//! Corner features (Shi-Tomasi) spread over the image, with 256-bit binary
//! descriptors (BRIEF-like intensity comparisons).

use rayon::prelude::*;

use super::pyramid::Level;

/// A corner: sub-pixel position (at its pyramid level) and response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Keypoint {
    pub x: f32,
    pub y: f32,
    pub response: f32,
}

/// A 256-bit descriptor.
pub(super) type Descriptor = [u64; 4];

/// Hamming distance of two descriptors.
#[inline]
pub(super) fn hamming(a: &Descriptor, b: &Descriptor) -> u32 {
    (a[0] ^ b[0]).count_ones()
        + (a[1] ^ b[1]).count_ones()
        + (a[2] ^ b[2]).count_ones()
        + (a[3] ^ b[3]).count_ones()
}

/// Half the side of the descriptor patch; keypoints keep this far (plus one) from
/// the border.
pub(super) const PATCH_RADIUS: usize = 13;
const MARGIN: usize = PATCH_RADIUS + 2;

/// Smallest Shi-Tomasi response (smaller structure-tensor eigenvalue, luma units
/// squared per pixel) of a corner: a gradient of about 0.4 % of full scale per
/// pixel in both directions. Flat or merely noisy areas stay below it.
const MIN_RESPONSE: f32 = 1.6e-5;

/// Corners per grid cell the bucketing aims at.
const PER_CELL: usize = 4;

/// Detects at most `max_features` corners of `img`: the smaller eigenvalue of the
/// structure tensor (central-difference gradients, binomial 5x5 window), local
/// maxima in 3x3 above [`MIN_RESPONSE`], at most [`PER_CELL`] strongest per grid
/// cell (cells sized so `max_features / PER_CELL` of them tile the image, which
/// spreads the corners over the whole frame), then the strongest overall.
/// Positions are refined to sub-pixel by a parabola through the response.
pub(super) fn detect(img: &Level, max_features: usize) -> Vec<Keypoint> {
    let (w, h) = (img.width, img.height);
    if w < 2 * MARGIN + 3 || h < 2 * MARGIN + 3 {
        return Vec::new();
    }
    let response = shi_tomasi(img);
    // Local maxima, row by row (in row order: deterministic).
    let rows: Vec<Vec<Keypoint>> = (MARGIN..h - MARGIN)
        .into_par_iter()
        .map(|y| {
            let mut out = Vec::new();
            let (up, mid, down) = (
                &response[(y - 1) * w..y * w],
                &response[y * w..(y + 1) * w],
                &response[(y + 1) * w..(y + 2) * w],
            );
            for x in MARGIN..w - MARGIN {
                let r = mid[x];
                if r < MIN_RESPONSE {
                    continue;
                }
                // Strict on one side, non-strict on the other: one winner on plateaus.
                let is_max = r > mid[x - 1]
                    && r >= mid[x + 1]
                    && r > up[x - 1]
                    && r > up[x]
                    && r > up[x + 1]
                    && r >= down[x - 1]
                    && r >= down[x]
                    && r >= down[x + 1];
                if is_max {
                    let dx = parabola(mid[x - 1], r, mid[x + 1]);
                    let dy = parabola(up[x], r, down[x]);
                    out.push(Keypoint { x: x as f32 + dx, y: y as f32 + dy, response: r });
                }
            }
            out
        })
        .collect();
    let cells_wanted = (max_features / PER_CELL).max(1) as f64;
    let cell = ((w * h) as f64 / cells_wanted).sqrt().ceil().max(8.0) as usize;
    let (cw, ch) = (w.div_ceil(cell), h.div_ceil(cell));
    let mut buckets: Vec<Vec<Keypoint>> = vec![Vec::new(); cw * ch];
    for k in rows.into_iter().flatten() {
        buckets[(k.y as usize / cell).min(ch - 1) * cw + (k.x as usize / cell).min(cw - 1)].push(k);
    }
    let mut kept: Vec<Keypoint> = Vec::with_capacity(cw * ch * PER_CELL);
    for mut b in buckets {
        b.sort_by(strongest_first);
        kept.extend(b.into_iter().take(PER_CELL));
    }
    kept.sort_by(strongest_first);
    kept.truncate(max_features);
    kept
}

/// Descending response, ties by position (a total order: deterministic).
fn strongest_first(a: &Keypoint, b: &Keypoint) -> std::cmp::Ordering {
    b.response.total_cmp(&a.response).then(a.y.total_cmp(&b.y)).then(a.x.total_cmp(&b.x))
}

/// Offset of a parabola's vertex through (-1, a), (0, b), (1, c), within +-0.5.
#[inline]
fn parabola(a: f32, b: f32, c: f32) -> f32 {
    let d = a - 2.0 * b + c;
    if d < 0.0 { (0.5 * (a - c) / d).clamp(-0.5, 0.5) } else { 0.0 }
}

/// The Shi-Tomasi response of every pixel (0 on the one-pixel border).
fn shi_tomasi(img: &Level) -> Vec<f32> {
    let (w, h) = (img.width, img.height);
    // Allocation: three tensor planes and the response, once per frame.
    let mut xx = vec![0.0f32; w * h];
    let mut yy = vec![0.0f32; w * h];
    let mut xy = vec![0.0f32; w * h];
    xx.par_chunks_mut(w).zip(yy.par_chunks_mut(w)).zip(xy.par_chunks_mut(w)).enumerate().for_each(
        |(y, ((rxx, ryy), rxy))| {
            if y == 0 || y + 1 == h {
                return;
            }
            let (up, mid, down) = (
                &img.data[(y - 1) * w..y * w],
                &img.data[y * w..(y + 1) * w],
                &img.data[(y + 1) * w..(y + 2) * w],
            );
            for x in 1..w - 1 {
                let gx = 0.5 * (mid[x + 1] - mid[x - 1]);
                let gy = 0.5 * (down[x] - up[x]);
                rxx[x] = gx * gx;
                ryy[x] = gy * gy;
                rxy[x] = gx * gy;
            }
        },
    );
    let k = [0.0625f32, 0.25, 0.375, 0.25, 0.0625];
    let blur = |d: Vec<f32>| Level { width: w, height: h, data: d }.blurred(&k).data;
    let (xx, yy, mut xy) = (blur(xx), blur(yy), blur(xy));
    xy.par_iter_mut().zip(xx.par_iter().zip(yy.par_iter())).for_each(|(r, (&a, &c))| {
        let b = *r;
        let half = 0.5 * (a - c);
        *r = 0.5 * (a + c) - (half * half + b * b).sqrt();
    });
    xy
}

/// The descriptor's 256 point pairs (dx1, dy1, dx2, dy2), Gaussian-distributed
/// about the centre (sigma = patch / 5, as in BRIEF), from a fixed-seed generator.
pub(super) fn pattern() -> Vec<[i32; 4]> {
    let mut state = 0x5eed_f0c5_u64;
    let mut gauss = || {
        // Sum of four uniforms: close enough to a Gaussian, sigma 1.
        let s: f64 = (0..4).map(|_| splitmix(&mut state) as f64 / u64::MAX as f64).sum();
        let v = (s - 2.0) * 3f64.sqrt() * (2.0 * PATCH_RADIUS as f64 + 1.0) / 5.0;
        v.round().clamp(-(PATCH_RADIUS as f64), PATCH_RADIUS as f64) as i32
    };
    let mut pairs = Vec::with_capacity(256);
    while pairs.len() < 256 {
        let p = [gauss(), gauss(), gauss(), gauss()];
        if (p[0], p[1]) != (p[2], p[3]) {
            pairs.push(p);
        }
    }
    pairs
}

/// SplitMix64: a tiny, well-mixed deterministic generator.
pub(super) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Descriptors of `keypoints` on `smooth` (the feature level, blurred so single
/// pixels and defocus differences matter less): bit `i` is set when the pair's
/// first point is darker than its second.
pub(super) fn describe(
    smooth: &Level,
    keypoints: &[Keypoint],
    pattern: &[[i32; 4]],
) -> Vec<Descriptor> {
    let w = smooth.width as isize;
    let offsets: Vec<(isize, isize)> = pattern
        .iter()
        .map(|p| (p[1] as isize * w + p[0] as isize, p[3] as isize * w + p[2] as isize))
        .collect();
    keypoints
        .par_iter()
        .map(|k| {
            let c = (k.y.round() as isize) * w + k.x.round() as isize;
            let mut d = [0u64; 4];
            for (i, &(a, b)) in offsets.iter().enumerate() {
                let bit = smooth.data[(c + a) as usize] < smooth.data[(c + b) as usize];
                d[i / 64] |= (bit as u64) << (i % 64);
            }
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn squares(w: usize, h: usize) -> Level {
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if (x / 20 + y / 20) % 2 == 0 { 0.8 } else { 0.2 }
            })
            .collect();
        Level { width: w, height: h, data }
    }

    #[test]
    fn flat_image_has_no_corners() {
        let l = Level { width: 100, height: 100, data: vec![0.3; 10_000] };
        assert!(detect(&l, 100).is_empty());
    }

    #[test]
    fn checkerboard_corners_are_found_where_they_are() {
        let l = squares(120, 100).blurred(&[0.25, 0.5, 0.25]);
        let k = detect(&l, 1000);
        // Inner corners at multiples of 20 (between pixels 19 and 20), inside the margin.
        assert!(!k.is_empty());
        for p in &k {
            let (fx, fy) = ((p.x + 0.5) / 20.0, (p.y + 0.5) / 20.0);
            assert!((fx - fx.round()).abs() * 20.0 < 1.0, "{p:?}");
            assert!((fy - fy.round()).abs() * 20.0 < 1.0, "{p:?}");
        }
        // Corners at x, y in {20, 40, 60, 80(, 100)} within margin 15 of the border.
        assert_eq!(k.len(), 5 * 4);
        let max = detect(&l, 8);
        assert!(max.len() <= 8);
    }

    #[test]
    fn descriptors_are_shift_invariant_and_differ_between_places() {
        let l = squares(120, 100).blurred(&[0.25, 0.5, 0.25]);
        let p = pattern();
        assert_eq!(p.len(), 256);
        assert!(p.iter().flatten().all(|v| v.unsigned_abs() as usize <= PATCH_RADIUS));
        let k = |x: f32, y: f32| Keypoint { x, y, response: 1.0 };
        let d = describe(&l, &[k(39.5, 39.5), k(79.5, 39.5), k(49.0, 49.0)], &p);
        assert_eq!(hamming(&d[0], &d[1]), 0); // same local pattern, 40 px apart
        assert!(hamming(&d[0], &d[2]) > 40);
    }
}
