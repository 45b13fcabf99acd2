//! Warping, subsampling, balance and crop checked against plain reference
//! implementations and hand-computable cases.

use fs_align::{
    BalanceChannel, BalanceOptions, BorderMode, Gains, Interpolation, Rect, Transform, apply_gains,
    common_area, crop_frame, fit_gains, small_image, subsample_factor, warp_frame, warp_plane,
};
use fs_core::{
    BitDepth, ChannelLayout, Frame, FrameInfo, Image, PixelFormat, Plane, PlaneMut, Samples,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const LAYOUTS: [ChannelLayout; 4] =
    [ChannelLayout::Gray, ChannelLayout::GrayAlpha, ChannelLayout::Rgb, ChannelLayout::Rgba];

fn format(layout: ChannelLayout, depth: BitDepth) -> PixelFormat {
    PixelFormat { layout, depth }
}

/// A random frame with some smooth structure (so interpolation matters) plus noise.
fn random_frame(w: usize, h: usize, f: PixelFormat, seed: u64) -> Frame {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let c = f.layout.channels();
    let max = f.depth.max_value();
    let vals: Vec<f64> = (0..w * h * c)
        .map(|i| {
            let (x, y) = ((i / c) % w, i / c / w);
            let smooth = 0.5 + 0.4 * ((x as f64 * 0.7).sin() * (y as f64 * 0.45).cos());
            (smooth + rng.random_range(-0.1..0.1)).clamp(0.0, 1.0) * max
        })
        .collect();
    let info = FrameInfo { width: w, height: h, format: f };
    let samples = match f.depth {
        BitDepth::Eight => Samples::U8(vals.iter().map(|v| v.round() as u8).collect()),
        BitDepth::Sixteen => Samples::U16(vals.iter().map(|v| v.round() as u16).collect()),
    };
    Frame::new(info, samples).unwrap()
}

fn as_f32(f: &Frame) -> Vec<f32> {
    match f.samples() {
        Samples::U8(s) => s.iter().map(|&v| f32::from(v)).collect(),
        Samples::U16(s) => s.iter().map(|&v| f32::from(v)).collect(),
    }
}

// ---------------------------------------------------------------------------------
// The plain scalar reference warps: every tap clamped, same arithmetic as the fast paths.

fn keys(t: f32) -> [f32; 4] {
    const A: f32 = -0.5;
    let t1 = t + 1.0;
    let u = 1.0 - t;
    let w0 = ((A * t1 - 5.0 * A) * t1 + 8.0 * A) * t1 - 4.0 * A;
    let w1 = ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0;
    let w2 = ((A + 2.0) * u - (A + 3.0)) * u * u + 1.0;
    [w0, w1, w2, 1.0 - w0 - w1 - w2]
}

/// Reference warp of interleaved f32 samples; `max` None: no rounding (planes).
#[allow(clippy::too_many_arguments)]
fn reference_warp(
    src: &[f32],
    (sw, sh): (usize, usize),
    c: usize,
    (dw, dh): (usize, usize),
    t: &Transform,
    interp: Interpolation,
    border: BorderMode,
    gains: &[f32],
    fill: f32,
    max: Option<f32>,
) -> Vec<f32> {
    let n: usize = if interp == Interpolation::Bicubic { 4 } else { 2 };
    let mut out = vec![0.0f32; dw * dh * c];
    for y in 0..dh {
        for x in 0..dw {
            let o = &mut out[(y * dw + x) * c..(y * dw + x + 1) * c];
            let (sx, sy) = t.apply(x as f64, y as f64);
            let (hx, hy) = ((sw - 1) as f64, (sh - 1) as f64);
            let inside = sx >= -1e-6 && sx <= hx + 1e-6 && sy >= -1e-6 && sy <= hy + 1e-6;
            if !inside && (border == BorderMode::Invalid || sx.is_nan() || sy.is_nan()) {
                o.fill(fill);
                continue;
            }
            let sx = sx.clamp(-(n as f64), hx + n as f64);
            let sy = sy.clamp(-(n as f64), hy + n as f64);
            let (fx, fy) = (sx.floor(), sy.floor());
            let (tx, ty) = ((sx - fx) as f32, (sy - fy) as f32);
            let (wx, wy): (Vec<f32>, Vec<f32>) = if n == 4 {
                (keys(tx).to_vec(), keys(ty).to_vec())
            } else {
                (vec![1.0 - tx, tx], vec![1.0 - ty, ty])
            };
            let back = (n / 2 - 1) as i64;
            for ch in 0..c {
                let mut acc = 0.0f32;
                for j in 0..n {
                    let yy = (fy as i64 - back + j as i64).clamp(0, sh as i64 - 1) as usize;
                    let mut hsum = 0.0f32;
                    for i in 0..n {
                        let xx = (fx as i64 - back + i as i64).clamp(0, sw as i64 - 1) as usize;
                        hsum += wx[i] * src[(yy * sw + xx) * c + ch];
                    }
                    acc += wy[j] * hsum;
                }
                let v = acc * gains[ch];
                o[ch] = match max {
                    Some(m) => (v.max(0.0).min(m) + 0.5).floor(),
                    None => v,
                };
            }
        }
    }
    out
}

/// Reference warp of interleaved frame samples (as f32) by an affine transform, as
/// the frame path computes it: source positions in fixed point with 32 fractional
/// bits (the row start rounded from the matrix, plus `x` rounded steps), rounded to
/// 1/128 px for the kernel phase; sums vertical first, then horizontal; rounded and
/// clipped to `0..=max`. `int` (8-bit frames): the vertical sums in integers with
/// weights scaled by 2^14 and rounded (the second set so that they sum to 2^14), the
/// horizontal weights scaled by 2^-14.
#[allow(clippy::too_many_arguments)]
fn reference_fixed_warp(
    src: &[f32],
    (w, h): (usize, usize),
    c: usize,
    m: [f64; 9],
    interp: Interpolation,
    border: BorderMode,
    gains: &[f32],
    max: f32,
    int: bool,
) -> Vec<f32> {
    let n: i64 = if interp == Interpolation::Bicubic { 4 } else { 2 };
    let q = |v: f64| (v * 4294967296.0).round() as i64;
    let (dx, dy) = (q(m[0]), q(m[3]));
    let (hx, hy) = ((w as i64 - 1) << 32, (h as i64 - 1) << 32);
    let slack = 1i64 << 12;
    let mut out = vec![0.0f32; w * h * c];
    for y in 0..h {
        let (rx, ry) = (q(m[1] * y as f64 + m[2]), q(m[4] * y as f64 + m[5]));
        for x in 0..w {
            let o = &mut out[(y * w + x) * c..(y * w + x + 1) * c];
            let (px, py) = (rx + x as i64 * dx, ry + x as i64 * dy);
            let inside = px >= -slack && px <= hx + slack && py >= -slack && py <= hy + slack;
            if !inside && border == BorderMode::Invalid {
                o.fill(0.0);
                continue;
            }
            let px = px.clamp(-(n << 32), hx + (n << 32)) + (1 << 24);
            let py = py.clamp(-(n << 32), hy + (n << 32)) + (1 << 24);
            let kernel = |p: i64| -> Vec<f32> {
                let t = ((p >> 25) & 127) as f32 / 128.0;
                if n == 4 { keys(t).to_vec() } else { vec![1.0 - t, t] }
            };
            let (wx, wy) = (kernel(px), kernel(py));
            let back = n / 2 - 1;
            let (x0, y0) = ((px >> 32) - back, (py >> 32) - back);
            let mut wyi: Vec<i64> = wy.iter().map(|v| (v * 16384.0).round() as i64).collect();
            wyi[1] = 0;
            wyi[1] = 16384 - wyi.iter().sum::<i64>();
            for ch in 0..c {
                let mut v = vec![0.0f32; n as usize];
                for i in 0..n {
                    let xx = (x0 + i).clamp(0, w as i64 - 1) as usize;
                    let mut vi = 0i64;
                    for j in 0..n {
                        let yy = (y0 + j).clamp(0, h as i64 - 1) as usize;
                        let s = src[(yy * w + xx) * c + ch];
                        v[i as usize] += wy[j as usize] * s;
                        vi += wyi[j as usize] * s as i64;
                    }
                    if int {
                        v[i as usize] = vi as f32;
                    }
                }
                let mut s = 0.0f32;
                for i in 0..n as usize {
                    let wxi = if int { wx[i] / 16384.0 } else { wx[i] };
                    s += wxi * v[i];
                }
                o[ch] = ((s * gains[ch]).max(0.0).min(max) + 0.5).floor();
            }
        }
    }
    out
}

/// The reference of `warp_frame`: [`reference_fixed_warp`] for affine transforms,
/// [`reference_warp`] (exact positions) for homographies.
fn reference_frame_warp(
    f: &Frame,
    t: &Transform,
    interp: Interpolation,
    border: BorderMode,
    gains: Option<&[f64]>,
) -> Vec<f32> {
    let c = f.format().layout.channels();
    let mut g = vec![1.0f32; c];
    if let Some(gs) = gains {
        for (d, s) in g.iter_mut().zip(gs) {
            *d = *s as f32;
        }
    }
    let size = (f.width(), f.height());
    let max = f.format().depth.max_value() as f32;
    let m = t.matrix();
    if m[6..] == [0.0, 0.0, 1.0] {
        let int = f.format().depth == BitDepth::Eight;
        return reference_fixed_warp(&as_f32(f), size, c, m, interp, border, &g, max, int);
    }
    reference_warp(&as_f32(f), size, c, size, t, interp, border, &g, 0.0, Some(max))
}

fn transforms(w: usize, h: usize) -> Vec<Transform> {
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    vec![
        Transform::similarity(1.03, 0.02, -1.3, 0.7),
        Transform::scaling_about(0.97, cx, cy).after(&Transform::translation(0.25, -0.5)),
        Transform::affine(1.01, 0.03, 2.2, -0.02, 0.98, -1.6),
        Transform::from_matrix([1.0, 0.01, 0.5, 0.0, 1.02, -0.3, 2e-4, -1e-4, 1.0]).unwrap(),
        Transform::similarity(1.2, 0.3, -5.0, 3.0), // far borders on both sides
        // Column 0 at x = -0.003: outside, although its rounded phase position is not.
        Transform::translation(-0.003, 0.4),
    ]
}

#[test]
fn warp_equals_the_reference_for_every_layout_depth_and_mode() {
    let (w, h) = (37, 23);
    for (k, layout) in LAYOUTS.into_iter().enumerate() {
        for depth in [BitDepth::Eight, BitDepth::Sixteen] {
            let frame = random_frame(w, h, format(layout, depth), k as u64 * 7 + 1);
            let cc = layout.color_channels();
            let gains: Vec<f64> = [1.1, 0.9, 1.3][..cc].to_vec();
            for t in transforms(w, h) {
                for interp in [Interpolation::Bilinear, Interpolation::Bicubic] {
                    for border in [BorderMode::Replicate, BorderMode::Invalid] {
                        for g in [None, Some(gains.as_slice())] {
                            let fast = warp_frame(&frame, &t, interp, border, g).unwrap();
                            let want = reference_frame_warp(&frame, &t, interp, border, g);
                            assert_eq!(
                                as_f32(&fast),
                                want,
                                "{layout:?} {depth:?} {t:?} {interp:?} {border:?} {g:?}"
                            );
                            assert_eq!(fast.info(), frame.info());
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn warp_does_not_depend_on_the_thread_count() {
    let frame = random_frame(301, 97, format(ChannelLayout::Rgb, BitDepth::Eight), 5);
    let t = Transform::similarity(1.01, 0.01, 0.3, -0.2);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            warp_frame(&frame, &t, Interpolation::Bicubic, BorderMode::Invalid, None).unwrap()
        })
    };
    let one = run(1);
    assert_eq!(one, run(3));
    assert_eq!(one, run(7));
    assert_ne!(one.samples(), frame.samples());
}

#[test]
fn identity_returns_the_frame_bit_for_bit() {
    for layout in LAYOUTS {
        for depth in [BitDepth::Eight, BitDepth::Sixteen] {
            let mut frame = random_frame(19, 11, format(layout, depth), 3);
            frame.source = Some("a/b.tif".into());
            frame.metadata.icc = Some(vec![1, 2, 3]);
            for interp in [Interpolation::Bilinear, Interpolation::Bicubic] {
                for border in [BorderMode::Replicate, BorderMode::Invalid] {
                    let out =
                        warp_frame(&frame, &Transform::identity(), interp, border, None).unwrap();
                    assert_eq!(out, frame, "{layout:?} {depth:?} {interp:?} {border:?}");
                }
            }
        }
    }
}

#[test]
fn identity_kernel_copies_a_plane_bit_for_bit() {
    // `warp_frame` short-cuts the identity; planes always go through the kernel.
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let src: Vec<f32> = (0..23 * 9).map(|_| rng.random_range(-1e3f32..1e3)).collect();
    for interp in [Interpolation::Bilinear, Interpolation::Bicubic] {
        for border in [BorderMode::Replicate, BorderMode::Invalid] {
            let mut dst = vec![0.0f32; src.len()];
            let (s, d) =
                (Plane::new(&src, 23, 9).unwrap(), PlaneMut::new(&mut dst, 23, 9).unwrap());
            warp_plane(s, d, &Transform::identity(), interp, border, f32::NAN).unwrap();
            assert_eq!(dst, src, "{interp:?} {border:?}");
        }
    }
}

#[test]
fn integer_shift_is_a_shifted_copy() {
    let (w, h) = (23, 17);
    let frame = random_frame(w, h, format(ChannelLayout::Rgba, BitDepth::Sixteen), 9);
    let Samples::U16(src) = frame.samples() else { unreachable!() };
    let (dx, dy) = (3i64, -2i64);
    let t = Transform::translation(dx as f64, dy as f64);
    for interp in [Interpolation::Bilinear, Interpolation::Bicubic] {
        let rep = warp_frame(&frame, &t, interp, BorderMode::Replicate, None).unwrap();
        let inv = warp_frame(&frame, &t, interp, BorderMode::Invalid, None).unwrap();
        let (Samples::U16(rep), Samples::U16(inv)) = (rep.samples(), inv.samples()) else {
            unreachable!()
        };
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let (sx, sy) = (x + dx, y + dy);
                let inside = (0..w as i64).contains(&sx) && (0..h as i64).contains(&sy);
                let (cx, cy) = (sx.clamp(0, w as i64 - 1), sy.clamp(0, h as i64 - 1));
                let s = ((cy as usize * w + cx as usize) * 4, (y as usize * w + x as usize) * 4);
                assert_eq!(rep[s.1..s.1 + 4], src[s.0..s.0 + 4], "({x}, {y})");
                let want: &[u16] = if inside { &src[s.0..s.0 + 4] } else { &[0; 4] };
                assert_eq!(&inv[s.1..s.1 + 4], want, "({x}, {y})");
            }
        }
    }
}

#[test]
fn interpolation_of_a_linear_ramp_is_exact_inside() {
    let (w, h) = (40, 30);
    let ramp = |x: f64, y: f64| 0.3 * x + 0.7 * y + 5.0;
    let src: Vec<f32> = (0..w * h).map(|i| ramp((i % w) as f64, (i / w) as f64) as f32).collect();
    let t = Transform::similarity(1.02, 0.05, -0.37, 1.21);
    let (dw, dh) = (31, 27); // a destination of another size
    for interp in [Interpolation::Bilinear, Interpolation::Bicubic] {
        let mut dst = vec![0.0f32; dw * dh];
        let s = Plane::new(&src, w, h).unwrap();
        warp_plane(
            s,
            PlaneMut::new(&mut dst, dw, dh).unwrap(),
            &t,
            interp,
            BorderMode::Replicate,
            0.0,
        )
        .unwrap();
        let mut checked = 0;
        for y in 0..dh {
            for x in 0..dw {
                let (sx, sy) = t.apply(x as f64, y as f64);
                if sx < 1.0 || sy < 1.0 || sx > (w - 3) as f64 || sy > (h - 3) as f64 {
                    continue;
                }
                let got = dst[y * dw + x] as f64;
                assert!((got - ramp(sx, sy)).abs() < 2e-4, "{interp:?} ({x}, {y}): {got}");
                checked += 1;
            }
        }
        assert!(checked > 400, "{checked}");
        // And equal to the reference warp, including the borders.
        let want = reference_warp(
            &src,
            (w, h),
            1,
            (dw, dh),
            &t,
            interp,
            BorderMode::Replicate,
            &[1.0],
            0.0,
            None,
        );
        assert_eq!(dst, want);
    }
}

#[test]
fn frame_warp_of_a_linear_ramp_is_within_rounding_inside() {
    // Samples x + y (exactly linear, integer); a warped pixel at source (sx, sy) is
    // sx + sy up to the phase rounding (1/256 px per axis), the 8-bit fixed-point
    // weights and the final rounding to an integer (0.5).
    let (w, h) = (120, 100);
    for layout in [ChannelLayout::Gray, ChannelLayout::Rgb, ChannelLayout::Rgba] {
        let c = layout.channels();
        let info = FrameInfo { width: w, height: h, format: format(layout, BitDepth::Eight) };
        let samples = (0..w * h * c).map(|i| ((i / c) % w + (i / c) / w) as u8).collect();
        let frame = Frame::new(info, Samples::U8(samples)).unwrap();
        let t = Transform::similarity(1.013, 0.021, -0.37, 1.21);
        for interp in [Interpolation::Bilinear, Interpolation::Bicubic] {
            let out = warp_frame(&frame, &t, interp, BorderMode::Invalid, None).unwrap();
            let Samples::U8(s) = out.samples() else { unreachable!() };
            let mut checked = 0;
            for y in 0..h {
                for x in 0..w {
                    let (sx, sy) = t.apply(x as f64, y as f64);
                    if sx < 1.0 || sy < 1.0 || sx > (w - 3) as f64 || sy > (h - 3) as f64 {
                        continue;
                    }
                    for ch in 0..c {
                        let got = f64::from(s[(y * w + x) * c + ch]);
                        let err = (got - (sx + sy)).abs();
                        assert!(err < 0.55, "{layout:?} {interp:?} ({x}, {y}): {got} {err}");
                    }
                    checked += 1;
                }
            }
            assert!(checked > 8000, "{checked}");
        }
    }
}

#[test]
fn plane_invalid_border_gets_the_fill_value() {
    let src = vec![0.5f32; 10 * 10];
    let mut dst = vec![0.0f32; 100];
    let t = Transform::scaling_about(1.5, 4.5, 4.5);
    let p = Plane::new(&src, 10, 10).unwrap();
    let d = PlaneMut::new(&mut dst, 10, 10).unwrap();
    warp_plane(p, d, &t, Interpolation::Bicubic, BorderMode::Invalid, f32::NAN).unwrap();
    for y in 0..10 {
        for x in 0..10 {
            let (sx, sy) = t.apply(x as f64, y as f64);
            let inside = (0.0..=9.0).contains(&sx) && (0.0..=9.0).contains(&sy);
            let v = dst[y * 10 + x];
            // Inside a constant image the cubic weights sum to 1 within rounding.
            assert!(if inside { (v - 0.5).abs() < 1e-6 } else { v.is_nan() }, "({x}, {y}) {v}");
        }
    }
}

#[test]
fn invalid_border_is_transparent_with_alpha_and_black_without() {
    let t = Transform::translation(-2.0, 0.0); // columns 0 and 1 have no data
    for layout in LAYOUTS {
        let frame = random_frame(8, 4, format(layout, BitDepth::Eight), 2);
        let out =
            warp_frame(&frame, &t, Interpolation::Bicubic, BorderMode::Invalid, None).unwrap();
        let Samples::U8(s) = out.samples() else { unreachable!() };
        let c = layout.channels();
        for y in 0..4 {
            assert!(s[y * 8 * c..(y * 8 + 2) * c].iter().all(|&v| v == 0), "{layout:?}");
            assert!(s[(y * 8 + 2) * c..(y * 8 + 8) * c].iter().any(|&v| v != 0), "{layout:?}");
        }
    }
}

#[test]
fn gains_scale_colour_but_not_alpha_and_clip() {
    let info =
        FrameInfo { width: 2, height: 1, format: format(ChannelLayout::Rgba, BitDepth::Eight) };
    let frame = Frame::new(info, Samples::U8(vec![100, 200, 51, 77, 10, 20, 30, 255])).unwrap();
    let gains = Gains { values: vec![1.5, 1.5, 0.5], fitted: true, valid_samples: 2 };
    let out = apply_gains(&frame, &gains).unwrap();
    assert_eq!(out.samples(), &Samples::U8(vec![150, 255, 26, 77, 15, 30, 15, 255]));
    let warped = warp_frame(
        &frame,
        &Transform::identity(),
        Interpolation::Bicubic,
        BorderMode::Replicate,
        Some(&gains.values),
    )
    .unwrap();
    assert_eq!(warped, out);
    assert!(apply_gains(&frame, &Gains { values: vec![1.0], ..gains.clone() }).is_err());
    // u16, gray: apply_gains equals the warp's gain pass on random data.
    let frame = random_frame(13, 7, format(ChannelLayout::Gray, BitDepth::Sixteen), 4);
    let g = Gains { values: vec![1.237], fitted: true, valid_samples: 1 };
    let warped = warp_frame(
        &frame,
        &Transform::identity(),
        Interpolation::Bilinear,
        BorderMode::Invalid,
        Some(&g.values),
    )
    .unwrap();
    assert_eq!(apply_gains(&frame, &g).unwrap(), warped);
}

// ---------------------------------------------------------------------------------
// Subsampling.

fn reference_small(frame: &Frame, f: usize) -> Vec<Vec<f32>> {
    let (w, h) = (frame.width(), frame.height());
    let layout = frame.format().layout;
    let (c, cc) = (layout.channels(), layout.color_channels());
    let max = frame.format().depth.max_value();
    let s = as_f32(frame);
    let (ow, oh) = (w / f, h / f);
    (0..cc)
        .map(|ch| {
            (0..ow * oh)
                .map(|i| {
                    let (ox, oy) = (i % ow, i / ow);
                    let mut sum = 0.0f64;
                    for y in oy * f..oy * f + f {
                        for x in ox * f..ox * f + f {
                            sum += f64::from(s[(y * w + x) * c + ch]);
                        }
                    }
                    (sum / (max * (f * f) as f64)) as f32
                })
                .collect()
        })
        .collect()
}

#[test]
fn small_image_equals_the_plain_block_average() {
    for (k, layout) in LAYOUTS.into_iter().enumerate() {
        for depth in [BitDepth::Eight, BitDepth::Sixteen] {
            let frame = random_frame(29, 17, format(layout, depth), 20 + k as u64);
            for f in [1, 2, 3, 5] {
                let small = small_image(&frame, f);
                assert_eq!(small.shape(), (29 / f, 17 / f, layout.color_channels()));
                let want = reference_small(&frame, f);
                for (c, p) in small.planes().enumerate() {
                    assert_eq!(p, want[c].as_slice(), "{layout:?} {depth:?} f={f} c={c}");
                }
            }
        }
    }
    assert_eq!(subsample_factor(6000, 4000, 2_000_000), 4);
}

// ---------------------------------------------------------------------------------
// Balance.

/// A textured 0..1 image, and a 3x3 box blur of it.
fn texture(w: usize, h: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sharp: Vec<f32> = (0..w * h).map(|_| rng.random_range(0.1f32..0.9)).collect();
    let mut blur = sharp.clone();
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let mut s = 0.0;
            for dy in 0..3 {
                for dx in 0..3 {
                    s += sharp[(y + dy - 1) * w + x + dx - 1];
                }
            }
            blur[y * w + x] = s / 9.0;
        }
    }
    (sharp, blur)
}

#[test]
// `BalanceOptions` is non-exhaustive: no struct expression outside its crate.
#[allow(clippy::field_reassign_with_default)]
fn gain_fit_recovers_a_known_gain_despite_blur_and_clipping() {
    let (w, h) = (120, 80);
    let mut reference = Vec::new();
    let mut frame = Vec::new();
    for c in 0..3u64 {
        let (sharp, blur) = texture(w, h, 40 + c);
        let mut r = sharp.clone();
        // The frame: reference * 0.8, defocused in the left half.
        let mut f: Vec<f32> =
            (0..w * h).map(|i| if i % w < w / 2 { blur[i] } else { sharp[i] } * 0.8).collect();
        // A blown highlight: clipped in the reference (1.0), 0.9 in the frame. Counted,
        // it would pull the gain towards 1.11.
        for y in 10..50 {
            for x in 10..100 {
                r[y * w + x] = 1.0;
                f[y * w + x] = 0.9;
            }
        }
        // No data (NaN) in the last rows of the frame: a warped border.
        f[(h - 5) * w..].fill(f32::NAN);
        r[(h - 5) * w..].fill(0.95);
        reference.push(r);
        frame.push(f);
    }
    let reference = Image::from_planes(w, h, reference).unwrap();
    let frame = Image::from_planes(w, h, frame).unwrap();
    let g = fit_gains(&reference, &frame, &BalanceOptions::default()).unwrap();
    assert!(g.fitted);
    assert_eq!(g.valid_samples, w * (h - 5) - 40 * 90);
    for v in &g.values {
        assert!((v - 1.25).abs() < 1.25 * 0.005, "{:?}", g.values);
    }
    let mut o = BalanceOptions::default();
    o.channel = BalanceChannel::Luma;
    let g = fit_gains(&reference, &frame, &o).unwrap();
    assert!(g.fitted && g.values.iter().all(|v| (v - 1.25).abs() < 1.25 * 0.005), "{g:?}");
}

#[test]
fn balance_through_the_pipeline_of_small_images() {
    // A frame 20 % darker and shifted by 8 pixels: small images at factor 4, the
    // frame's warped into the reference's geometry with NaN where it has no data.
    let (w, h) = (160, 120);
    let reference = random_frame(w, h, format(ChannelLayout::Rgb, BitDepth::Sixteen), 77);
    let t = Transform::translation(8.0, 0.0);
    let shifted = warp_frame(
        &reference,
        &t.inverse().unwrap(),
        Interpolation::Bicubic,
        BorderMode::Replicate,
        Some(&[0.8, 0.8, 0.8]),
    )
    .unwrap();
    let f = 4;
    let rs = small_image(&reference, f);
    let fs = small_image(&shifted, f);
    let ts = t.to_subsampled(f as f64);
    let mut planes = Vec::new();
    for c in 0..3 {
        let mut out = vec![0.0f32; (w / f) * (h / f)];
        let d = PlaneMut::new(&mut out, w / f, h / f).unwrap();
        warp_plane(fs.plane(c), d, &ts, Interpolation::Bilinear, BorderMode::Invalid, f32::NAN)
            .unwrap();
        planes.push(out);
    }
    let nan = planes[0].iter().filter(|v| v.is_nan()).count();
    assert_eq!(nan, 2 * (h / f), "the last two small columns have no data");
    let warped = Image::from_planes(w / f, h / f, planes).unwrap();
    let g = fit_gains(&rs, &warped, &BalanceOptions::default()).unwrap();
    assert!(g.fitted);
    for v in &g.values {
        assert!((v - 1.25).abs() < 1.25 * 0.005, "{:?}", g.values);
    }
}

// ---------------------------------------------------------------------------------
// Crop.

fn covered(ts: &[Transform], x: usize, y: usize, w: usize, h: usize) -> bool {
    ts.iter().all(|t| {
        let (u, v) = t.apply(x as f64, y as f64);
        (0.0..=(w - 1) as f64).contains(&u) && (0.0..=(h - 1) as f64).contains(&v)
    })
}

fn rect_covered(ts: &[Transform], r: Rect, w: usize, h: usize) -> bool {
    r.x + r.width <= w
        && r.y + r.height <= h
        && (r.y..r.y + r.height).all(|y| (r.x..r.x + r.width).all(|x| covered(ts, x, y, w, h)))
}

#[test]
fn common_area_is_covered_by_every_frame_and_cannot_grow() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for case in 0..40 {
        let (w, h) = (rng.random_range(20..60), rng.random_range(15..50));
        let n = rng.random_range(1..5);
        let ts: Vec<Transform> = (0..n)
            .map(|_| {
                let s = rng.random_range(0.93..1.07);
                let a = rng.random_range(-0.05..0.05);
                let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
                let shift = Transform::translation(
                    rng.random_range(-3.0..3.0),
                    rng.random_range(-3.0..3.0),
                );
                shift.after(
                    &Transform::translation(cx, cy).after(&Transform::similarity(s, a, -cx, -cy)),
                )
            })
            .collect();
        let r = common_area(&ts, w, h).unwrap();
        assert!(rect_covered(&ts, r, w, h), "case {case}: {r:?}");
        // No rectangle one pixel larger on any side is covered.
        let grow = [
            (r.x > 0).then(|| Rect { x: r.x - 1, width: r.width + 1, ..r }),
            Some(Rect { width: r.width + 1, ..r }),
            (r.y > 0).then(|| Rect { y: r.y - 1, height: r.height + 1, ..r }),
            Some(Rect { height: r.height + 1, ..r }),
        ];
        for g in grow.into_iter().flatten() {
            assert!(!rect_covered(&ts, g, w, h), "case {case}: {r:?} could grow to {g:?}");
        }
        // Brute force over all rectangles is too slow; over all those with the same
        // top-left corner and this size or larger it is not: none is covered.
        for hh in r.height..=h - r.y {
            for ww in r.width..=w - r.x {
                if ww * hh > r.area() {
                    let g = Rect { width: ww, height: hh, ..r };
                    assert!(!rect_covered(&ts, g, w, h), "case {case}: {g:?} beats {r:?}");
                }
            }
        }
    }
}

#[test]
fn cropping_the_common_area_of_warped_frames_leaves_no_invalid_pixel() {
    let (w, h) = (64, 48);
    let frame = random_frame(w, h, format(ChannelLayout::Rgba, BitDepth::Eight), 8);
    let ts =
        [Transform::similarity(1.02, 0.03, -1.5, 0.8), Transform::scaling_about(0.96, 31.5, 23.5)];
    let r = common_area(&ts, w, h).unwrap();
    for t in &ts {
        let warped =
            warp_frame(&frame, t, Interpolation::Bicubic, BorderMode::Invalid, None).unwrap();
        let crop = crop_frame(&warped, r).unwrap();
        assert_eq!((crop.width(), crop.height()), (r.width, r.height));
        let Samples::U8(s) = crop.samples() else { unreachable!() };
        assert!(s.chunks_exact(4).all(|p| p[3] != 0), "a transparent pixel in the crop");
        // Cropping copies: pixel (0, 0) of the crop is pixel (r.x, r.y) of the frame.
        let Samples::U8(full) = warped.samples() else { unreachable!() };
        let i = (r.y * w + r.x) * 4;
        assert_eq!(&s[..4], &full[i..i + 4]);
    }
}

#[test]
fn common_area_is_the_largest_rectangle_by_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for case in 0..30 {
        let (w, h) = (rng.random_range(6..16), rng.random_range(5..14));
        let ts: Vec<Transform> = (0..rng.random_range(1..4))
            .map(|_| {
                let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
                let s = rng.random_range(0.85..1.15);
                let a = rng.random_range(-0.15..0.15);
                let shift = Transform::translation(
                    rng.random_range(-2.0..2.0),
                    rng.random_range(-2.0..2.0),
                );
                shift.after(
                    &Transform::translation(cx, cy).after(&Transform::similarity(s, a, -cx, -cy)),
                )
            })
            .collect();
        let mut best = 0;
        for y in 0..h {
            for x in 0..w {
                for hh in 1..=h - y {
                    for ww in 1..=w - x {
                        let r = Rect { x, y, width: ww, height: hh };
                        if r.area() > best && rect_covered(&ts, r, w, h) {
                            best = r.area();
                        }
                    }
                }
            }
        }
        match common_area(&ts, w, h) {
            Some(r) => {
                assert!(rect_covered(&ts, r, w, h), "case {case}: {r:?}");
                assert_eq!(r.area(), best, "case {case}: {r:?}");
            }
            None => assert_eq!(best, 0, "case {case}"),
        }
    }
}
