//! Procedural scenes: a sharp colour, alpha and depth value at every pixel, at any size.
//!
//! Every texture has detail down to the pixel (value noise with a 1.7-pixel cell, 3-pixel
//! checkers, 1-pixel hatching, glyph strokes, dots), so a focus stacker finds something to
//! pick in every depth region whatever the image size; the objects themselves scale with
//! the image. Colours are display (sRGB-encoded) values in `0..=1`; depth is `0..=1`,
//! 0 the nearest.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Scene;

/// A pixel of the sharp scene.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScenePixel {
    /// Display-space red, green, blue in `0..=1`.
    pub rgb: [f32; 3],
    /// Depth in `0..=1`, 0 the nearest (before quantisation to the layer grid).
    pub depth: f64,
}

/// The scene description: objects placed for one size and seed.
#[derive(Debug, Clone)]
pub(crate) struct SceneDesc {
    objects: Vec<Object>,
    transparent: Disc,
}

#[derive(Debug, Clone, Copy)]
struct Disc {
    cx: f32,
    cy: f32,
    r: f32,
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Full,
    Rect {
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
    },
    Disc(Disc),
    /// A thick segment with round ends.
    Capsule {
        ax: f32,
        ay: f32,
        bx: f32,
        by: f32,
        half_width: f32,
    },
}

impl Shape {
    fn contains(&self, x: f32, y: f32) -> bool {
        match *self {
            Shape::Full => true,
            Shape::Rect { x0, y0, x1, y1 } => x >= x0 && x < x1 && y >= y0 && y < y1,
            Shape::Disc(Disc { cx, cy, r }) => (x - cx).powi(2) + (y - cy).powi(2) < r * r,
            Shape::Capsule { ax, ay, bx, by, half_width } => {
                segment_distance(x, y, ax, ay, bx, by) < half_width
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Depth {
    Flat(f64),
    /// Linear in the column index from `d0` at `x0` to `d1` at `x1`, constant beyond.
    RampX {
        x0: f32,
        x1: f32,
        d0: f64,
        d1: f64,
    },
}

impl Depth {
    fn at(&self, x: f32) -> f64 {
        match *self {
            Depth::Flat(d) => d,
            Depth::RampX { x0, x1, d0, d1 } => {
                let t = ((x - x0) / (x1 - x0)).clamp(0.0, 1.0) as f64;
                d0 + (d1 - d0) * t
            }
        }
    }
    fn nearest(&self) -> f64 {
        match *self {
            Depth::Flat(d) => d,
            Depth::RampX { d0, d1, .. } => d0.min(d1),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Material {
    /// Multi-scale noise with hatching and sparse white dots.
    Stone,
    /// Light card with dark glyph strokes in lines.
    Text,
    /// Siemens star (black and white spokes) around the centre.
    Star { cx: f32, cy: f32 },
    /// A 3-pixel checker modulated by noise.
    Checker,
    /// Bright dots and thin lines on a dark ground.
    Dots,
    /// A bright ground with a fine dark grid.
    Grid,
    /// Horizontal bands of all the above (for the tilted plane).
    Bands { height: f32 },
    /// Near-white with fine dark hatching and pits (the high-contrast scene's objects).
    Bright,
    /// Near-black with a faint multi-scale texture (the high-contrast scene's ground).
    DarkGround,
}

#[derive(Debug, Clone, Copy)]
struct Object {
    shape: Shape,
    material: Material,
    depth: Depth,
    key: u64,
    tint: [f32; 3],
}

impl SceneDesc {
    /// Places the objects of `scene` for a `width` x `height` image. Flat object depths
    /// are passed through `snap` (the caller snaps them to focus depths).
    pub(crate) fn new(
        scene: Scene,
        width: usize,
        height: usize,
        seed: u64,
        snap: impl Fn(f64) -> f64,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (w, h) = (width as f32, height as f32);
        let s = w.min(h);
        let mut jitter = |v: f32| v + rng.random_range(-0.025f32..0.025);
        let mut keys = ChaCha8Rng::seed_from_u64(seed ^ 0x05EE_D0F5_CE7E);
        let mut key = || keys.random::<u64>();
        let transparent = Disc { cx: 0.0, cy: h, r: 0.22 * s };
        let objects = match scene {
            Scene::Objects => {
                let star = Disc { cx: jitter(0.72) * w, cy: jitter(0.30) * h, r: 0.2 * s };
                vec![
                    Object {
                        shape: Shape::Full,
                        material: Material::Stone,
                        depth: Depth::Flat(snap(1.0)),
                        key: key(),
                        tint: [0.85, 0.93, 1.0],
                    },
                    Object {
                        shape: Shape::Rect {
                            x0: jitter(0.06) * w,
                            y0: jitter(0.08) * h,
                            x1: jitter(0.46) * w,
                            y1: jitter(0.46) * h,
                        },
                        material: Material::Text,
                        depth: Depth::Flat(snap(0.75)),
                        key: key(),
                        tint: [1.0, 0.97, 0.9],
                    },
                    Object {
                        shape: Shape::Disc(star),
                        material: Material::Star { cx: star.cx, cy: star.cy },
                        depth: Depth::Flat(snap(0.5)),
                        key: key(),
                        tint: [1.0, 1.0, 1.0],
                    },
                    Object {
                        shape: Shape::Disc(Disc {
                            cx: jitter(0.25) * w,
                            cy: jitter(0.72) * h,
                            r: 0.18 * s,
                        }),
                        material: Material::Checker,
                        depth: Depth::Flat(snap(0.25)),
                        key: key(),
                        tint: [0.55, 0.9, 0.6],
                    },
                    Object {
                        shape: Shape::Rect {
                            x0: jitter(0.6) * w,
                            y0: jitter(0.6) * h,
                            x1: jitter(0.95) * w,
                            y1: jitter(0.92) * h,
                        },
                        material: Material::Dots,
                        depth: Depth::RampX { x0: 0.6 * w, x1: 0.95 * w, d0: 0.15, d1: 0.85 },
                        key: key(),
                        tint: [1.0, 0.85, 0.7],
                    },
                    Object {
                        shape: Shape::Capsule {
                            ax: jitter(0.38) * w,
                            ay: -0.05 * h,
                            bx: jitter(0.55) * w,
                            by: 1.05 * h,
                            half_width: 0.035 * s,
                        },
                        material: Material::Grid,
                        depth: Depth::Flat(snap(0.0)),
                        key: key(),
                        tint: [1.0, 0.62, 0.25],
                    },
                ]
            }
            Scene::HighContrast => {
                let bright = |shape, depth, key, tint| Object {
                    shape,
                    material: Material::Bright,
                    depth: Depth::Flat(depth),
                    key,
                    tint,
                };
                let warm = [1.0, 0.97, 0.92];
                let cool = [0.93, 0.97, 1.0];
                let white = [1.0, 1.0, 1.0];
                vec![
                    Object {
                        shape: Shape::Full,
                        material: Material::DarkGround,
                        depth: Depth::Flat(snap(1.0)),
                        key: key(),
                        tint: [0.9, 0.95, 1.0],
                    },
                    // A plate, partly covered by a nearer disc: a bright-on-bright step.
                    bright(
                        Shape::Rect {
                            x0: jitter(0.06) * w,
                            y0: jitter(0.08) * h,
                            x1: jitter(0.40) * w,
                            y1: jitter(0.50) * h,
                        },
                        snap(0.8),
                        key(),
                        warm,
                    ),
                    bright(
                        Shape::Disc(Disc {
                            cx: jitter(0.36) * w,
                            cy: jitter(0.50) * h,
                            r: 0.15 * s,
                        }),
                        snap(0.4),
                        key(),
                        white,
                    ),
                    bright(
                        Shape::Disc(Disc {
                            cx: jitter(0.72) * w,
                            cy: jitter(0.28) * h,
                            r: 0.17 * s,
                        }),
                        snap(0.6),
                        key(),
                        cool,
                    ),
                    bright(
                        Shape::Rect {
                            x0: jitter(0.56) * w,
                            y0: jitter(0.60) * h,
                            x1: jitter(0.94) * w,
                            y1: jitter(0.90) * h,
                        },
                        snap(0.2),
                        key(),
                        white,
                    ),
                    // Small, one focus step in front of the ground.
                    bright(
                        Shape::Disc(Disc {
                            cx: jitter(0.16) * w,
                            cy: jitter(0.80) * h,
                            r: 0.09 * s,
                        }),
                        snap(0.9),
                        key(),
                        warm,
                    ),
                    // The nearest: a bar from top to bottom, over the ground and the
                    // near rectangle. Not thinner: nothing is rendered behind an
                    // object, so a defocused foreground much thinner than its blur disc
                    // would keep looking sharp (its coverage is normalised).
                    bright(
                        Shape::Capsule {
                            ax: jitter(0.47) * w,
                            ay: -0.05 * h,
                            bx: jitter(0.62) * w,
                            by: 1.05 * h,
                            half_width: (0.012 * s).max(1.5),
                        },
                        snap(0.0),
                        key(),
                        white,
                    ),
                ]
            }
            Scene::TiltedPlane => vec![Object {
                shape: Shape::Full,
                material: Material::Bands { height: (h / 5.0).max(8.0) },
                depth: Depth::RampX { x0: 0.0, x1: (w - 1.0).max(1.0), d0: 0.0, d1: 1.0 },
                key: key(),
                tint: [0.95, 0.9, 1.0],
            }],
        };
        Self { objects, transparent }
    }

    /// The visible (nearest) object's colour and depth at pixel `(x, y)`.
    pub(crate) fn pixel(&self, x: usize, y: usize) -> ScenePixel {
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        let mut best: Option<(&Object, f64)> = None;
        for o in &self.objects {
            if best.is_some_and(|(_, d)| o.depth.nearest() > d) || !o.shape.contains(px, py) {
                continue;
            }
            let d = o.depth.at(x as f32);
            if best.is_none_or(|(_, bd)| d <= bd) {
                best = Some((o, d));
            }
        }
        let (o, depth) = best.expect("every scene has a full-frame object");
        let rgb = material(o, px, py);
        ScenePixel { rgb, depth }
    }

    /// Alpha at pixel `(x, y)`: a transparent disc in the lower left corner with a
    /// 3-pixel soft edge, opaque elsewhere.
    pub(crate) fn alpha(&self, x: usize, y: usize) -> f32 {
        let Disc { cx, cy, r } = self.transparent;
        let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
        ((d - r) / 3.0).clamp(0.0, 1.0)
    }
}

fn material(o: &Object, x: f32, y: f32) -> [f32; 3] {
    let key = o.key;
    let tinted = |v: f32| o.tint.map(|t| t * v);
    match o.material {
        Material::Stone => {
            let mut v = 0.12 + 0.76 * fbm(key, x, y);
            if modulo(x + 0.5 * y, 9.0) < 1.2 {
                v *= 0.3;
            }
            // Hue drifts slowly so different places differ in colour, not only in texture.
            let hue = value_noise(key ^ 7, x, y, 90.0);
            let mut rgb = [v * o.tint[0] * (0.7 + 0.3 * hue), v * o.tint[1], v * o.tint[2]];
            if dot(key ^ 11, x, y, 5.0, 0.03) {
                rgb = [1.0; 3];
            }
            rgb
        }
        Material::Text => {
            let paper = 0.9 + 0.16 * (value_noise(key, x, y, 1.7) - 0.5);
            if glyph_ink(key, x, y) { [0.0, 0.0, 0.02] } else { tinted(paper) }
        }
        Material::Star { cx, cy } => {
            let a = (y - cy).atan2(x - cx);
            let spoke = modulo(a * 18.0 / std::f32::consts::PI, 2.0) < 1.0;
            if spoke { tinted(1.0) } else { [0.0; 3] }
        }
        Material::Checker => {
            let n = fbm(key, x, y);
            let c = (floor(x / 3.0) as i64 + floor(y / 3.0) as i64) & 1 == 0;
            if c { tinted(0.25 + 0.75 * n) } else { [0.9 * n, 0.25 * n, 0.5 * n] }
        }
        Material::Dots => {
            let base = 0.05 + 0.15 * fbm(key, x, y);
            if dot(key ^ 3, x, y, 6.0, 0.6) {
                let c = unit(hash2(key ^ 5, floor(x / 6.0) as i64, floor(y / 6.0) as i64));
                [1.0, 0.5 + 0.5 * c, 1.0 - 0.6 * c]
            } else if modulo(x, 11.0) < 1.0 {
                tinted(0.55)
            } else {
                tinted(base)
            }
        }
        Material::Grid => {
            let v = 0.55 + 0.45 * fbm(key, x, y);
            if modulo(x, 5.0) < 1.0 || modulo(y, 5.0) < 1.0 {
                [0.08, 0.05, 0.12]
            } else {
                tinted(v)
            }
        }
        Material::Bright => {
            let mut v = 0.8 + 0.2 * fbm(key, x, y);
            if modulo(x - 0.7 * y, 7.0) < 1.0 {
                v *= 0.62;
            }
            if dot(key ^ 13, x, y, 5.0, 0.25) {
                v *= 0.45;
            }
            tinted(v)
        }
        Material::DarkGround => tinted(0.015 + 0.05 * fbm(key, x, y)),
        Material::Bands { height } => {
            let band = floor(y / height) as i64;
            let sub = Object {
                material: match band.rem_euclid(5) {
                    0 => Material::Text,
                    1 => Material::Stone,
                    2 => Material::Checker,
                    3 => Material::Dots,
                    _ => Material::Grid,
                },
                key: key ^ band as u64,
                ..*o
            };
            material(&sub, x, y)
        }
    }
}

/// Whether `(x, y)` lies on a stroke of the pseudo-text: glyphs of up to twelve strokes
/// on a 3x3 point grid, 9x13-pixel cells, 16-pixel line pitch, with word gaps.
fn glyph_ink(key: u64, x: f32, y: f32) -> bool {
    const CELL_W: f32 = 9.0;
    const LINE_H: f32 = 16.0;
    const GLYPH_H: f32 = 12.0;
    // Stroke end points on the 3x3 grid (column, row).
    const STROKES: [((u8, u8), (u8, u8)); 12] = [
        ((0, 0), (2, 0)),
        ((0, 1), (2, 1)),
        ((0, 2), (2, 2)),
        ((0, 0), (0, 1)),
        ((0, 1), (0, 2)),
        ((2, 0), (2, 1)),
        ((2, 1), (2, 2)),
        ((1, 0), (1, 2)),
        ((0, 0), (2, 2)),
        ((2, 0), (0, 2)),
        ((0, 2), (1, 0)),
        ((1, 0), (2, 2)),
    ];
    let (cx, cy) = (floor(x / CELL_W), floor(y / LINE_H));
    let (u, v) = (x - cx * CELL_W, y - cy * LINE_H);
    if v > GLYPH_H + 1.0 {
        return false;
    }
    let h = hash2(key, cx as i64, cy as i64);
    if h.is_multiple_of(7) {
        return false; // a space between words
    }
    let bits = (h >> 8) as u32 & 0xfff;
    let bits = if bits.count_ones() < 2 { bits | 0x81 } else { bits };
    let point = |(c, r): (u8, u8)| (1.5 + 2.5 * c as f32, 1.0 + 5.5 * r as f32);
    STROKES.iter().enumerate().any(|(i, &(a, b))| {
        let ((ax, ay), (bx, by)) = (point(a), point(b));
        bits & (1 << i) != 0 && segment_distance(u, v, ax, ay, bx, by) < 0.85
    })
}

/// Whether `(x, y)` is on the dot of its `cell`-pixel grid cell; a cell holds a dot with
/// probability `p`, at a random place, with a random radius of 0.7 to 1.7 pixels.
fn dot(key: u64, x: f32, y: f32, cell: f32, p: f32) -> bool {
    let (cx, cy) = (floor(x / cell), floor(y / cell));
    let h = hash2(key, cx as i64, cy as i64);
    if unit(h) >= p {
        return false;
    }
    let ox = (cx + 0.2 + 0.6 * unit(mix64(h ^ 1))) * cell;
    let oy = (cy + 0.2 + 0.6 * unit(mix64(h ^ 2))) * cell;
    let r = 0.7 + unit(mix64(h ^ 3));
    (x - ox).powi(2) + (y - oy).powi(2) < r * r
}

/// Distance from `(x, y)` to the segment `a`-`b`.
fn segment_distance(x: f32, y: f32, ax: f32, ay: f32, bx: f32, by: f32) -> f32 {
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((x - ax) * dx + (y - ay) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    ((x - ax - t * dx).powi(2) + (y - ay - t * dy).powi(2)).sqrt()
}

/// Fractal value noise in `0..=1` (mean 0.5) with cells of 1.7 to 23 pixels.
fn fbm(key: u64, x: f32, y: f32) -> f32 {
    0.35 * value_noise(key, x, y, 1.7)
        + 0.25 * value_noise(key ^ 0x1111, x, y, 3.1)
        + 0.2 * value_noise(key ^ 0x2222, x, y, 7.3)
        + 0.2 * value_noise(key ^ 0x3333, x, y, 23.0)
}

/// Smoothly interpolated lattice noise in `0..=1` with `cell`-pixel cells.
fn value_noise(key: u64, x: f32, y: f32, cell: f32) -> f32 {
    let (fx, fy) = (x / cell, y / cell);
    let (ix, iy) = (floor(fx), floor(fy));
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    let (tx, ty) = (smooth(fx - ix), smooth(fy - iy));
    let (ix, iy) = (ix as i64, iy as i64);
    let c = |dx: i64, dy: i64| unit(hash2(key, ix + dx, iy + dy));
    let top = c(0, 0) + (c(1, 0) - c(0, 0)) * tx;
    let bottom = c(0, 1) + (c(1, 1) - c(0, 1)) * tx;
    top + (bottom - top) * ty
}

/// `x.floor()` without a library call (the baseline x86-64 target has no rounding
/// instruction); exact for |x| < 2^31.
#[inline]
fn floor(x: f32) -> f32 {
    let t = x as i32 as f32;
    if t > x { t - 1.0 } else { t }
}

/// `x.rem_euclid(m)` for `m > 0`, without a library call.
#[inline]
fn modulo(x: f32, m: f32) -> f32 {
    x - floor(x / m) * m
}

/// The SplitMix64 finaliser: a fast, well-mixing 64-bit hash.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline]
fn hash2(key: u64, x: i64, y: i64) -> u64 {
    mix64(
        key ^ (x as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ (y as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f),
    )
}

/// The top 24 bits of a hash as a float in `0..1`.
#[inline]
fn unit(h: u64) -> f32 {
    (h >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_distance_and_noise_range() {
        assert_eq!(segment_distance(0.0, 3.0, -1.0, 0.0, 1.0, 0.0), 3.0);
        assert_eq!(segment_distance(4.0, 0.0, -1.0, 0.0, 1.0, 0.0), 3.0);
        let mut lo = f32::MAX;
        let mut hi = f32::MIN;
        for i in 0..10_000 {
            let v = value_noise(9, i as f32 * 0.37, i as f32 * 0.11, 1.7);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        assert!((0.0..0.05).contains(&lo) && (0.95..=1.0).contains(&hi), "{lo} {hi}");
    }

    #[test]
    fn nearest_object_wins_and_tilted_plane_depth_follows_x() {
        let desc = SceneDesc::new(Scene::Objects, 400, 300, 1, |d| d);
        // The foreground bar (depth 0) crosses the top row near x = 0.38 w.
        let on_bar = (0..400).find(|&x| desc.pixel(x, 0).depth == 0.0);
        assert!(on_bar.is_some_and(|x| (130..170).contains(&x)), "{on_bar:?}");
        assert_eq!(desc.pixel(399, 0).depth, 1.0); // background
        let tilted = SceneDesc::new(Scene::TiltedPlane, 101, 20, 1, |d| d);
        assert_eq!(tilted.pixel(0, 5).depth, 0.0);
        assert_eq!(tilted.pixel(50, 5).depth, 0.5);
        assert_eq!(tilted.pixel(100, 5).depth, 1.0);
        assert_eq!(desc.alpha(0, 299), 0.0);
        assert_eq!(desc.alpha(399, 0), 1.0);
    }
}
