//! What the data of a stack focused beyond the subject shows: each frame defocused
//! beyond (moving stack) estimated by intensity against frames of the *still* stack
//! (the same scene, no motion, in the reference's geometry), from the identity, and
//! its corner error against its true transform. With a rendering that moves no
//! content the error is the estimator's alone.
//!
//! Then the data alone: the still frames against each other by a brute-force global
//! normalised cross-correlation over a scale about the centre and a shift (no
//! estimator involved): where the best match lies, the identity for a rendering that
//! moves no content.
//!
//! `cargo run --release -p fs-align --example beyond_check`; `LAYERS=1` for the
//! default (layered) defocus.

use fs_align::{AlignOptions, Estimator, Transform};
use fs_core::synth::{Defocus, SynthOptions, SynthStack};

fn main() {
    let defocus =
        if std::env::var_os("LAYERS").is_some() { Defocus::Layers } else { Defocus::Gather };
    let o = SynthOptions {
        width: 480,
        height: 360,
        frames: 9,
        beyond_frames: 2,
        beyond_blur: 14.4,
        max_blur_radius: 8.0,
        lens_blur: 1.0,
        defocus,
        ..SynthOptions::default()
    };
    let still = SynthStack::new(o).unwrap();
    let moving =
        SynthStack::new(SynthOptions { breathing: 0.03, rotation: 0.3, shift: 5.0, ..o }).unwrap();
    let luma = |s: &SynthStack, k: usize| fs_core::luma(&s.frame(k).to_image::<f32>());
    let stills: Vec<Vec<f32>> = (0..9).map(|k| luma(&still, k)).collect();
    for (j, k) in [(4, 6), (6, 7), (7, 8), (4, 7), (4, 8)] {
        let (s, dx, dy, c) = best_match(&stills[j], &stills[k], 480, 360);
        println!(
            "data: still frame {k} against still frame {j}: best NCC {c:.4} at scale {:+.0} ppm, shift ({dx:+.2}, {dy:+.2}) px: {:.2} px at the corners",
            s * 1e6,
            corner_px(s, dx, dy, 480.0, 360.0)
        );
    }
    for k in [6, 7, 8] {
        let m = moving.frame_transform(k);
        let truth = Transform::affine(m[0], m[1], m[2], m[3], m[4], m[5]);
        let frame = luma(&moving, k);
        for j in [4, 5, 6, 7, 8] {
            let reference = luma(&still, j);
            let plane = fs_core::Plane::new(&reference, 480, 360).unwrap();
            let e = Estimator::new(plane, &AlignOptions::default());
            let Ok(e) = e else {
                // A featureless reference: intensity only is not reachable here.
                println!("frame {k} against still frame {j}: featureless reference");
                continue;
            };
            let frame = fs_core::Plane::new(&frame, 480, 360).unwrap();
            match e.estimate_by_intensity(frame, Transform::identity(), false) {
                Ok(est) => println!(
                    "frame {k} against still frame {j}: {:.3} px at the corners, scale {:+.0} ppm, correlation {:.3}",
                    est.transform.corner_distance(&truth, 480, 360),
                    (est.transform.scale() / truth.scale() - 1.0) * 1e6,
                    est.correlation.unwrap_or(f64::NAN)
                ),
                Err(err) => println!("frame {k} against still frame {j}: {err}"),
            }
        }
    }
}

/// Corner displacement (px) of a scale `s` about the centre and a shift.
fn corner_px(s: f64, dx: f64, dy: f64, w: f64, h: f64) -> f64 {
    let (cx, cy) = (0.5 * (w - 1.0), 0.5 * (h - 1.0));
    [(-cx, -cy), (cx, -cy), (-cx, cy), (cx, cy)]
        .iter()
        .map(|&(x, y)| (s * x + dx).hypot(s * y + dy))
        .fold(0.0, f64::max)
}

/// NCC of `a` with `b` sampled (bilinear) at `(1 + s) (p - c) + c + d`, over the
/// central 80 % of `a` on a 2-px grid.
fn ncc(a: &[f32], b: &[f32], w: usize, h: usize, s: f64, dx: f64, dy: f64) -> f64 {
    let (cx, cy) = (0.5 * (w as f64 - 1.0), 0.5 * (h as f64 - 1.0));
    let acc = |x: usize, y: usize| -> Option<(f64, f64)> {
        let u = (1.0 + s) * (x as f64 - cx) + cx + dx;
        let v = (1.0 + s) * (y as f64 - cy) + cy + dy;
        if u < 0.0 || v < 0.0 || u >= (w - 1) as f64 || v >= (h - 1) as f64 {
            return None;
        }
        let (x0, y0) = (u as usize, v as usize);
        let (fx, fy) = (u - x0 as f64, v - y0 as f64);
        let i = y0 * w + x0;
        let t = b[i] as f64 * (1.0 - fx) + b[i + 1] as f64 * fx;
        let btm = b[i + w] as f64 * (1.0 - fx) + b[i + w + 1] as f64 * fx;
        Some((a[y * w + x] as f64, t * (1.0 - fy) + btm * fy))
    };
    let (mut n, mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for y in (h / 10..h - h / 10).step_by(2) {
        for x in (w / 10..w - w / 10).step_by(2) {
            if let Some((p, q)) = acc(x, y) {
                n += 1.0;
                sa += p;
                sb += q;
                saa += p * p;
                sbb += q * q;
                sab += p * q;
            }
        }
    }
    let cov = sab / n - sa * sb / (n * n);
    cov / ((saa / n - (sa / n).powi(2)) * (sbb / n - (sb / n).powi(2))).sqrt()
}

/// The scale and shift where `b` matches `a` best (coarse grid, then finer grids
/// about the best).
fn best_match(a: &[f32], b: &[f32], w: usize, h: usize) -> (f64, f64, f64, f64) {
    let mut best = (0.0, 0.0, 0.0, ncc(a, b, w, h, 0.0, 0.0, 0.0));
    let (mut ss, mut sd) = (0.004, 2.0);
    for _ in 0..6 {
        let centre = best;
        for i in -3..=3 {
            for jx in -3..=3 {
                for jy in -3..=3 {
                    let (s, dx, dy) = (
                        centre.0 + i as f64 * ss,
                        centre.1 + jx as f64 * sd,
                        centre.2 + jy as f64 * sd,
                    );
                    let c = ncc(a, b, w, h, s, dx, dy);
                    if c > best.3 {
                        best = (s, dx, dy, c);
                    }
                }
            }
        }
        ss /= 3.0;
        sd /= 3.0;
    }
    best
}
