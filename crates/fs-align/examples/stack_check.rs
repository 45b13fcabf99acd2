//! Where the PSNR of an aligned generated stack goes: stacks the same moving stack
//! (breathing, rotation, shake) after warping with the true transforms (bicubic, and
//! Lanczos-3 in sRGB values and in linear light) and with the estimated ones, and
//! compares each result, and the still stack's, with the truth.
//!
//! It also prints each frame's estimation error (corners, scale, rotation, centre),
//! the error with the estimator's roles swapped (the frame as reference), and what
//! the *data* shows: a normalised cross-correlation of 24x24 patches between the
//! reference and each frame warped back with its true transform, fitted by a scale
//! and shift (a magnification here is the generator's defocus moving content, not
//! an estimation error).
//!
//! `cargo run --release -p fs-align --example stack_check [WIDTH HEIGHT]`; environment:
//! `LENS=r` (`SynthOptions::lens_blur`, default 0), `BLUR=r` (`max_blur_radius`,
//! default 8), `TILTED=1` (the tilted-plane scene), `NO_REFINE=1`, `STEP=1`
//! (`step_process`). The sRGB curve and the Lanczos warp here are plain, slow
//! references for the measurement (fs-core's synth keeps its own private copies).

use fs_align::{AlignOptions, AlignSettings, Aligner, BorderMode, Interpolation, Transform};
use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{Frame, Image, NoProgress, metrics::psnr};
use fs_pyramid::{PyramidOptions, PyramidStack};

/// The image without a margin of `m` pixels on every side.
fn crop(img: &Image<f32>, m: usize) -> Image<f32> {
    img.crop(m, m, img.width() - 2 * m, img.height() - 2 * m).unwrap()
}

fn lanczos(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else if x.abs() >= 3.0 {
        0.0
    } else {
        let p = std::f64::consts::PI * x;
        3.0 * p.sin() * (p / 3.0).sin() / (p * p)
    }
}

fn to_lin(v: f32) -> f32 {
    let v = v as f64;
    (if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }) as f32
}
fn to_srgb(v: f32) -> f32 {
    let v = (v as f64).clamp(0.0, 1.0);
    (if v <= 0.0031308 { v * 12.92 } else { 1.055 * v.powf(1.0 / 2.4) - 0.055 }) as f32
}

/// A slow plain Lanczos-3 warp (replicate borders), optionally in linear light.
fn lanczos_warp(frame: &Frame, t: &Transform, linear: bool) -> Frame {
    let img: Image<f32> = frame.to_image();
    let (w, h) = (img.width(), img.height());
    let mut out = Image::<f32>::new(w, h, img.channels()).unwrap();
    for c in 0..img.channels() {
        let src: Vec<f32> = img
            .plane(c)
            .as_slice()
            .iter()
            .map(|&v| if linear { to_lin(v / 255.0) } else { v / 255.0 })
            .collect();
        let mut dst = out.plane_mut(c);
        let d = dst.as_mut_slice();
        for y in 0..h {
            for x in 0..w {
                let (px, py) = t.apply(x as f64, y as f64);
                let (fx, fy) = (px.floor(), py.floor());
                let mut acc = 0.0;
                let mut norm = 0.0;
                for j in -2..=3 {
                    let wy = lanczos(py - (fy + j as f64));
                    let sy = ((fy as i64 + j).clamp(0, h as i64 - 1)) as usize;
                    for i in -2..=3 {
                        let wx = lanczos(px - (fx + i as f64));
                        let sx = ((fx as i64 + i).clamp(0, w as i64 - 1)) as usize;
                        acc += wx * wy * src[sy * w + sx] as f64;
                        norm += wx * wy;
                    }
                }
                let v = (acc / norm) as f32;
                d[y * w + x] = 255.0 * if linear { to_srgb(v) } else { v.clamp(0.0, 1.0) };
            }
        }
    }
    Frame::from_image(&out, frame.format()).unwrap()
}

/// `frame` warped into the reference's geometry by `t` (fs-align's warp).
fn warp(frame: &Frame, t: &Transform, interpolation: Interpolation) -> Frame {
    fs_align::warp_frame(frame, t, interpolation, BorderMode::Replicate, None).unwrap()
}

fn stack(frames: Vec<Frame>) -> Image<f32> {
    let s = PyramidStack::new(PyramidOptions::default()).unwrap();
    s.stack(frames.into_iter().map(Ok), &NoProgress).unwrap().to_image()
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let (w, h) = (args.first().copied().unwrap_or(480), args.get(1).copied().unwrap_or(360));
    let n = 7;
    let lens = std::env::var("LENS").map_or(0.0, |v| v.parse().unwrap());
    let o =
        SynthOptions { width: w, height: h, frames: n, lens_blur: lens, ..SynthOptions::default() };
    let o = if std::env::var_os("TILTED").is_some() {
        SynthOptions { scene: fs_core::synth::Scene::TiltedPlane, ..o }
    } else {
        o
    };
    let o = SynthOptions {
        max_blur_radius: std::env::var("BLUR").map_or(8.0, |v| v.parse().unwrap()),
        ..o
    };
    let still = SynthStack::new(o).unwrap();
    let moving =
        SynthStack::new(SynthOptions { breathing: 0.03, rotation: 0.3, shift: 5.0, ..o }).unwrap();
    let truth: Image<f32> = crop(&still.truth().to_image(), 16);
    let r = n / 2;
    let frames: Vec<Frame> = moving.frames().collect();
    let truths: Vec<Transform> = (0..n)
        .map(|k| {
            let m = moving.frame_transform(k);
            Transform::affine(m[0], m[1], m[2], m[3], m[4], m[5])
        })
        .collect();
    let report = |name: &str, img: Image<f32>| {
        println!("{name:>28}: {:.2} dB", psnr(&crop(&img, 16), &truth, 255.0));
    };
    report("still", stack(still.frames().collect()));
    let stills: Vec<Frame> = still.frames().collect();
    for k in 0..n {
        let a: Image<f32> =
            crop(&warp(&frames[k], &truths[k], Interpolation::Bicubic).to_image(), 16);
        let l: Image<f32> = crop(&lanczos_warp(&frames[k], &truths[k], true).to_image(), 16);
        let b: Image<f32> = crop(&stills[k].to_image(), 16);
        let inv = truths[k].inverse().unwrap();
        let rt: Image<f32> = crop(
            &lanczos_warp(&lanczos_warp(&stills[k], &inv, true), &truths[k], true).to_image(),
            16,
        );
        let there = warp(&stills[k], &inv, Interpolation::Bicubic);
        let rtb: Image<f32> =
            crop(&warp(&there, &truths[k], Interpolation::Bicubic).to_image(), 16);
        println!(
            "frame {k}: round trip of the still frame: lanczos linear {:.2} dB, bicubic {:.2} dB",
            psnr(&rt, &b, 255.0),
            psnr(&rtb, &b, 255.0)
        );
        println!(
            "frame {k}: true-warped vs still frame: bicubic {:.2} dB, lanczos linear {:.2} dB",
            psnr(&a, &b, 255.0),
            psnr(&l, &b, 255.0)
        );
    }
    report(
        "true, bicubic",
        stack(
            frames.iter().zip(&truths).map(|(f, t)| warp(f, t, Interpolation::Bicubic)).collect(),
        ),
    );
    report(
        "true, bilinear",
        stack(
            frames.iter().zip(&truths).map(|(f, t)| warp(f, t, Interpolation::Bilinear)).collect(),
        ),
    );
    report(
        "true, lanczos sRGB",
        stack(frames.iter().zip(&truths).map(|(f, t)| lanczos_warp(f, t, false)).collect()),
    );
    report(
        "true, lanczos linear",
        stack(frames.iter().zip(&truths).map(|(f, t)| lanczos_warp(f, t, true)).collect()),
    );
    let options =
        AlignOptions { refine: std::env::var_os("NO_REFINE").is_none(), ..AlignOptions::default() };
    let settings = AlignSettings { align: Some(options.clone()), balance: None };
    let mut aligner = Aligner::new(&frames[r], r, settings).unwrap();
    if std::env::var_os("STEP").is_some() {
        let o = AlignOptions { step_process: true, ..options.clone() };
        let chain = fs_align::estimate_chain(frames.iter().cloned().map(Ok), r, &o).unwrap();
        let settings = AlignSettings { align: Some(o), balance: None };
        aligner = Aligner::new(&frames[r], r, settings).unwrap().with_transforms(chain);
    }
    let estimated: Vec<Transform> = frames
        .iter()
        .enumerate()
        .map(|(k, f)| aligner.align(k, f.clone()).unwrap().1.transform)
        .collect();
    for (k, (e, t)) in estimated.iter().zip(&truths).enumerate() {
        let c = (0.5 * (w as f64 - 1.0), 0.5 * (h as f64 - 1.0));
        let (ex, ey) = e.apply(c.0, c.1);
        let (tx, ty) = t.apply(c.0, c.1);
        println!(
            "frame {k}: corners {:.3} px, scale {:+.0} ppm, rotation {:+.4} deg, centre ({:+.3}, {:+.3}) px",
            e.corner_distance(t, w, h),
            (e.scale() / t.scale() - 1.0) * 1e6,
            (e.rotation() - t.rotation()).to_degrees(),
            ex - tx,
            ey - ty
        );
    }
    let luma = |f: &Frame| -> Vec<f32> {
        let img: Image<f32> = f.to_image();
        fs_core::luma(&img).iter().map(|v| v / 255.0).collect()
    };
    let lr = luma(&frames[r]);
    fn plane(v: &[f32], w: usize, h: usize) -> fs_core::Plane<'_, f32> {
        fs_core::Plane::new(v, w, h).unwrap()
    }
    let est_r = fs_align::Estimator::new(plane(&lr, w, h), &options).unwrap();
    for k in 0..n {
        if k == r {
            continue;
        }
        let lk = luma(&frames[k]);
        let fwd = est_r.estimate(plane(&lk, w, h)).unwrap().transform;
        let est_k = fs_align::Estimator::new(plane(&lk, w, h), &options).unwrap();
        let back = est_k.estimate(plane(&lr, w, h)).unwrap().transform.inverse().unwrap();
        let t = &truths[k];
        println!(
            "frame {k}: forward scale {:+.0} ppm ({:.3} px), swapped roles {:+.0} ppm ({:.3} px)",
            (fwd.scale() / t.scale() - 1.0) * 1e6,
            fwd.corner_distance(t, w, h),
            (back.scale() / t.scale() - 1.0) * 1e6,
            back.corner_distance(t, w, h),
        );
    }
    // The data itself: local normalised cross-correlation (unbiased under a symmetric
    // blur) between the reference and each frame warped back with its TRUE transform.
    for k in 0..n {
        if k == r {
            continue;
        }
        let back = warp(&frames[k], &truths[k], Interpolation::Bicubic);
        let lk = luma(&back);
        let (p, m) = (24usize, 3i64);
        let mut rows: Vec<(f64, f64, f64, f64)> = Vec::new();
        let mut y = 24;
        while y + p + 24 < h {
            let mut x = 24;
            while x + p + 24 < w {
                let ncc = |dx: i64, dy: i64| {
                    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
                    for j in 0..p {
                        for i in 0..p {
                            let a = lr[(y + j) * w + x + i] as f64;
                            let b = lk[((y + j) as i64 + dy) as usize * w
                                + ((x + i) as i64 + dx) as usize]
                                as f64;
                            sa += a;
                            sb += b;
                            saa += a * a;
                            sbb += b * b;
                            sab += a * b;
                        }
                    }
                    let nn = (p * p) as f64;
                    let va = saa - sa * sa / nn;
                    let vb = sbb - sb * sb / nn;
                    if va < 1e-3 || vb < 1e-3 {
                        f64::NAN
                    } else {
                        (sab - sa * sb / nn) / (va * vb).sqrt()
                    }
                };
                let mut best = (f64::MIN, 0i64, 0i64);
                for dy in -m..=m {
                    for dx in -m..=m {
                        let c = ncc(dx, dy);
                        if c > best.0 {
                            best = (c, dx, dy);
                        }
                    }
                }
                if best.0 > 0.5 && best.1.abs() < m && best.2.abs() < m {
                    let (c0, bx, by) = best;
                    let sub = |a: f64, b: f64| {
                        let d = a - 2.0 * c0 + b;
                        if d < 0.0 { 0.5 * (a - b) / d } else { 0.0 }
                    };
                    let sx = bx as f64 + sub(ncc(bx - 1, by), ncc(bx + 1, by));
                    let sy = by as f64 + sub(ncc(bx, by - 1), ncc(bx, by + 1));
                    rows.push(((x + p / 2) as f64, (y + p / 2) as f64, sx, sy));
                }
                x += p;
            }
            y += p;
        }
        // Least squares: d = (s - 1) (p - c) + t (x and y), scale and shift only.
        let (cx, cy) = (0.5 * (w as f64 - 1.0), 0.5 * (h as f64 - 1.0));
        let (mut a11, mut b1, mut nn, mut mx, mut my, mut sdx, mut sdy) =
            (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for &(px, py, dx, dy) in &rows {
            nn += 1.0;
            mx += px - cx;
            my += py - cy;
            sdx += dx;
            sdy += dy;
        }
        let (mx, my, tdx, tdy) = (mx / nn, my / nn, sdx / nn, sdy / nn);
        for &(px, py, dx, dy) in &rows {
            let (u, v) = (px - cx - mx, py - cy - my);
            a11 += u * u + v * v;
            b1 += u * (dx - tdx) + v * (dy - tdy);
        }
        let ds = b1 / a11;
        println!(
            "frame {k}: data (NCC of {} patches, frame warped back with the true transform): scale {:+.0} ppm, mean shift ({:+.3}, {:+.3}) px",
            rows.len(),
            ds * 1e6,
            tdx,
            tdy
        );
    }
    report(
        "estimated, bicubic",
        stack(
            frames
                .iter()
                .zip(&estimated)
                .map(|(f, t)| warp(f, t, Interpolation::Bicubic))
                .collect(),
        ),
    );
    report(
        "estimated, lanczos linear",
        stack(frames.iter().zip(&estimated).map(|(f, t)| lanczos_warp(f, t, true)).collect()),
    );
}
