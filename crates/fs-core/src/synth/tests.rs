use super::*;
use crate::metrics::mean_gradient_energy;
use crate::{Image, luma, read_frame};

fn small(scene: Scene) -> SynthOptions {
    SynthOptions {
        width: 128,
        height: 96,
        frames: 5,
        noise_sigma: 0.0,
        max_blur_radius: 6.0,
        scene,
        ..Default::default()
    }
}

fn luma_of(frame: &Frame) -> Vec<f32> {
    luma(&frame.to_image::<f32>())
}

fn energy(frame: &Frame, mask: Option<&[bool]>) -> f64 {
    mean_gradient_energy(&luma_of(frame), frame.width(), frame.height(), mask)
}

fn u8s(frame: &Frame) -> &[u8] {
    match frame.samples() {
        Samples::U8(s) => s,
        Samples::U16(_) => panic!("expected 8-bit samples"),
    }
}

/// Pixels at depth `depth` whose whole (2e+1)^2 neighbourhood is at that depth.
fn region(stack: &SynthStack, depth: f64, e: usize) -> Vec<bool> {
    let (w, h) = (stack.options().width, stack.options().height);
    let at = |x: usize, y: usize| (stack.depth_at(x, y) - depth).abs() < 1e-9;
    let mut mask = vec![false; w * h];
    for y in e..h.saturating_sub(e) {
        for x in e..w.saturating_sub(e) {
            mask[y * w + x] = (y - e..=y + e).all(|yy| (x - e..=x + e).all(|xx| at(xx, yy)));
        }
    }
    mask
}

#[test]
fn same_seed_same_frames_any_thread_count_and_other_seed_differs() {
    let opts = SynthOptions { noise_sigma: 2.0, ..small(Scene::Objects) };
    let a = SynthStack::new(opts).unwrap();
    let b = SynthStack::new(opts).unwrap();
    assert_eq!(a.frame(3), b.frame(3));
    assert_eq!(a.truth(), b.truth());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    assert_eq!(pool.install(|| a.frame(1)), a.frame(1));
    let c = SynthStack::new(SynthOptions { seed: 2, ..opts }).unwrap();
    let (fa, fc) = (a.frame(3), c.frame(3));
    let differing = u8s(&fa).iter().zip(u8s(&fc)).filter(|(x, y)| x != y).count();
    assert!(differing > 128 * 96, "another seed should change most samples: {differing}");
    // The noise differs between frames: two frames focused alike still differ.
    assert_ne!(u8s(&a.frame(0))[..500], u8s(&a.frame(1))[..500]);
}

#[test]
fn truth_is_sharper_than_every_frame() {
    for scene in Scene::ALL {
        let stack = SynthStack::new(SynthOptions { noise_sigma: 1.0, ..small(scene) }).unwrap();
        let truth = energy(&stack.truth(), None);
        for (k, frame) in stack.frames().enumerate() {
            let e = energy(&frame, None);
            assert!(e < 0.9 * truth, "{scene}: frame {k} energy {e} vs truth {truth}");
        }
    }
}

#[test]
fn each_frame_is_sharpest_and_exact_where_the_depth_is_its_focus() {
    let stack = SynthStack::new(small(Scene::Objects)).unwrap();
    let frames: Vec<Frame> = stack.frames().collect();
    let truth = stack.truth();
    let erode = 6 + 1; // the largest blur reach, plus one
    let mut tested = 0;
    for (k, frame) in frames.iter().enumerate() {
        let mask = region(&stack, stack.focus_depth(k), erode);
        let count = mask.iter().filter(|&&m| m).count();
        if count < 50 {
            continue;
        }
        tested += 1;
        let own = energy(frame, Some(&mask));
        for (j, other) in frames.iter().enumerate().filter(|&(j, _)| j != k) {
            let e = energy(other, Some(&mask));
            assert!(own > 1.2 * e, "depth {}: frame {k} {own} vs frame {j} {e}", k);
        }
        // No noise: exactly the truth there (3 channels per pixel).
        for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
            assert_eq!(u8s(frame)[3 * i..3 * i + 3], u8s(&truth)[3 * i..3 * i + 3], "pixel {i}");
        }
    }
    assert!(tested >= 4, "only {tested} focus depths have a region");
}

#[test]
fn noise_has_the_requested_sigma() {
    let opts = SynthOptions { noise_sigma: 3.0, ..small(Scene::Objects) };
    let stack = SynthStack::new(opts).unwrap();
    let clean = SynthStack::new(SynthOptions { noise_sigma: 0.0, ..opts }).unwrap();
    let (noisy, clean) = (stack.frame(2), clean.frame(2));
    let mut sum = 0.0;
    let mut sum2 = 0.0;
    let mut n = 0.0;
    for (&a, &b) in u8s(&noisy).iter().zip(u8s(&clean)) {
        if (20..235).contains(&b) {
            let d = a as f64 - b as f64;
            sum += d;
            sum2 += d * d;
            n += 1.0;
        }
    }
    let (mean, var) = (sum / n, sum2 / n - (sum / n).powi(2));
    // Rounding adds about 1/12 to the variance.
    assert!(mean.abs() < 0.1 && (var.sqrt() - 3.0).abs() < 0.15, "mean {mean}, sd {}", var.sqrt());
}

#[test]
fn sixteen_bit_output_uses_the_full_range() {
    let opts = SynthOptions { depth: BitDepth::Sixteen, ..small(Scene::Objects) };
    let stack = SynthStack::new(opts).unwrap();
    let truth = stack.truth();
    let Samples::U16(s) = truth.samples() else { panic!("16-bit expected") };
    assert_eq!(s.iter().min(), Some(&0));
    assert_eq!(s.iter().max(), Some(&65535));
    let mut distinct = s.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 5000, "{} distinct values", distinct.len());
    assert!(s.iter().filter(|&&v| v % 256 != 0).count() > s.len() / 2);
}

#[test]
fn gray_and_alpha_layouts() {
    for layout in [ChannelLayout::Gray, ChannelLayout::GrayAlpha, ChannelLayout::Rgba] {
        let stack = SynthStack::new(SynthOptions { layout, ..small(Scene::Objects) }).unwrap();
        let (truth, frame) = (stack.truth(), stack.frame(0));
        let c = layout.channels();
        assert_eq!(frame.format().layout, layout);
        assert_eq!(u8s(&frame).len(), 128 * 96 * c);
        assert!(energy(&frame, None) < energy(&truth, None));
        if layout.has_alpha() {
            // The lower left corner is transparent, the upper right opaque, in every frame.
            let alpha = |f: &Frame, x: usize, y: usize| u8s(f)[(y * 128 + x) * c + c - 1];
            for f in [&truth, &frame, &stack.frame(4)] {
                assert_eq!((alpha(f, 0, 95), alpha(f, 127, 0)), (0, 255));
            }
            let transparent = u8s(&truth).chunks(c).filter(|p| p[c - 1] == 0).count();
            assert!(transparent > 200, "{transparent} transparent pixels");
        }
    }
}

#[test]
fn tilted_plane_depth_runs_left_to_right_and_frames_focus_in_order() {
    let stack = SynthStack::new(small(Scene::TiltedPlane)).unwrap();
    let depth = stack.depth_map();
    for row in u8s(&depth).chunks(128) {
        assert_eq!((row[0], row[127]), (0, 255));
        assert!(row.windows(2).all(|p| p[0] <= p[1]));
    }
    let frames: Vec<Frame> = stack.frames().collect();
    // In a column band around each focus depth, that frame is the sharpest.
    for k in 0..frames.len() {
        let centre = (stack.focus_depth(k) * 127.0).round() as usize;
        let (lo, hi) = (centre.saturating_sub(5).max(1), (centre + 6).min(127));
        let mask: Vec<bool> = (0..128 * 96).map(|i| (lo..hi).contains(&(i % 128))).collect();
        let energies: Vec<f64> = frames.iter().map(|f| energy(f, Some(&mask))).collect();
        let best = (0..frames.len()).max_by(|&a, &b| energies[a].total_cmp(&energies[b]));
        assert_eq!(best, Some(k), "columns {lo}..{hi}: {energies:?}");
    }
}

/// The plain per-pixel reference: each layer convolved with the full 2-D disc (replicated
/// borders), composited over, normalised by the coverage.
fn reference_linear(stack: &SynthStack, k: usize) -> Vec<Vec<f64>> {
    let l = &stack.layers;
    let (w, h) = (l.width, l.height);
    let top = (stack.depth_levels() - 1) as f64;
    let mut colour = vec![vec![0.0f64; w * h]; l.values.len()];
    let mut coverage = vec![0.0f64; w * h];
    for level in (0..stack.depth_levels()).rev() {
        let disc = Disc::new(stack.blur_radius(k, level as f64 / top));
        let r = disc.reach() as isize;
        for y in 0..h {
            for x in 0..w {
                let mut sums = vec![0.0f64; l.values.len() + 1];
                for dy in -r..=r {
                    for dx in -r..=r {
                        let sx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                        let sy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                        let i = sy * w + sx;
                        if l.level[i] as usize != level {
                            continue;
                        }
                        let wt = disc.weight(dx, dy);
                        for (s, p) in sums.iter_mut().zip(&l.values) {
                            *s += wt * p[i] as f64;
                        }
                        sums[l.values.len()] += wt;
                    }
                }
                let i = y * w + x;
                let cov = sums[l.values.len()];
                for (p, s) in colour.iter_mut().zip(&sums) {
                    p[i] = s + (1.0 - cov) * p[i];
                }
                coverage[i] = cov + (1.0 - cov) * coverage[i];
            }
        }
    }
    for p in colour.iter_mut() {
        for (v, c) in p.iter_mut().zip(&coverage) {
            *v /= c;
        }
    }
    colour
}

#[test]
fn span_blur_matches_the_plain_reference() {
    for (scene, layout) in
        [(Scene::Objects, ChannelLayout::Rgba), (Scene::TiltedPlane, ChannelLayout::Gray)]
    {
        let opts = SynthOptions { width: 60, height: 45, frames: 4, layout, ..small(scene) };
        let stack = SynthStack::new(opts).unwrap();
        for k in [0, 2] {
            let want = reference_linear(&stack, k);
            let top = (stack.depth_levels() - 1) as f64;
            let discs: Vec<Disc> = (0..stack.depth_levels())
                .map(|l| Disc::new(stack.blur_radius(k, l as f64 / top)))
                .collect();
            // Uneven bands, to cover band edges.
            let mut got = vec![Vec::new(); want.len()];
            let mut band = Band::default();
            for (y0, y1) in [(0, 7), (7, 30), (30, 45)] {
                stack.layers.render_band(&discs, false, y0, y1, &mut band);
                for (g, p) in got.iter_mut().zip(&band.colour) {
                    g.extend(p.iter().zip(&band.coverage).map(|(&v, &c)| (v / c) as f64));
                }
            }
            for (p, (g, r)) in got.iter().zip(&want).enumerate() {
                for (i, (a, b)) in g.iter().zip(r).enumerate() {
                    assert!(
                        (a - b).abs() < 2e-5,
                        "{scene} frame {k} plane {p} pixel {i}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn gather_rendering_is_each_pixels_own_disc_over_the_whole_scene() {
    // The plain reference of `Defocus::Gather`: pixel p is the whole scene averaged
    // over the disc of p's own depth (replicated borders), no layers, no coverage.
    for (scene, layout) in
        [(Scene::Objects, ChannelLayout::Rgba), (Scene::TiltedPlane, ChannelLayout::Gray)]
    {
        let opts = SynthOptions {
            width: 60,
            height: 45,
            frames: 4,
            layout,
            defocus: crate::synth::Defocus::Gather,
            ..small(scene)
        };
        let stack = SynthStack::new(opts).unwrap();
        let l = &stack.layers;
        let (w, h) = (l.width, l.height);
        let top = (stack.depth_levels() - 1) as f64;
        for k in [0, 2] {
            let discs: Vec<Disc> = (0..stack.depth_levels())
                .map(|lv| Disc::new(stack.blur_radius(k, lv as f64 / top)))
                .collect();
            let mut got = vec![Vec::new(); l.values.len()];
            let mut band = Band::default();
            for (y0, y1) in [(0, 7), (7, 30), (30, 45)] {
                stack.layers.render_band(&discs, true, y0, y1, &mut band);
                assert!(band.coverage.iter().all(|&c| c == 1.0));
                for (g, p) in got.iter_mut().zip(&band.colour) {
                    g.extend_from_slice(p);
                }
            }
            let mut blurred_pixels = 0;
            for y in 0..h {
                for x in 0..w {
                    let i = y * w + x;
                    let disc = &discs[l.level[i] as usize];
                    let r = disc.reach() as isize;
                    blurred_pixels += usize::from(r > 0);
                    for (p, plane) in l.values.iter().enumerate() {
                        let mut want = 0.0f64;
                        for dy in -r..=r {
                            for dx in -r..=r {
                                let sx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                                let sy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                                want += disc.weight(dx, dy) * plane[sy * w + sx] as f64;
                            }
                        }
                        let a = got[p][i] as f64;
                        assert!(
                            (a - want).abs() < 2e-5,
                            "{scene} frame {k} plane {p} pixel {i}: {a} vs {want}"
                        );
                    }
                }
            }
            assert!(blurred_pixels > w * h / 2, "{scene} frame {k}: {blurred_pixels}");
        }
    }
    // The default rendering is unchanged by the option's existence (the layered
    // reference above), and the two differ where a blurred layer meets another.
    let opts = SynthOptions { width: 60, height: 45, frames: 4, ..small(Scene::Objects) };
    let layered = SynthStack::new(opts).unwrap().frame(0);
    let gathered = SynthStack::new(SynthOptions { defocus: crate::synth::Defocus::Gather, ..opts })
        .unwrap()
        .frame(0);
    assert_ne!(layered.samples(), gathered.samples());
}

#[test]
fn writes_named_files_that_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SynthOptions { width: 40, height: 32, frames: 3, ..small(Scene::Objects) };
    let stack = SynthStack::new(opts).unwrap();
    let files = stack.write_stack(dir.path(), FileFormat::Png, &WriteOptions::default()).unwrap();
    let names: Vec<_> =
        files.frames.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
    assert_eq!(names, ["frame_001.png", "frame_002.png", "frame_003.png"]);
    // The frames alone in `frames/`; truth and depth map beside that folder.
    assert_eq!(crate::list_frames(&dir.path().join("frames")).unwrap(), files.frames);
    assert_eq!(files.truth, dir.path().join("truth.png"));
    assert_eq!(files.depth, dir.path().join("depth.png"));
    assert_eq!(read_frame(&files.frames[1]).unwrap().samples(), stack.frame(1).samples());
    assert_eq!(read_frame(&files.truth).unwrap().samples(), stack.truth().samples());
    assert_eq!(read_frame(&files.depth).unwrap().samples(), stack.depth_map().samples());
    assert_eq!(frame_file_name(9, 1200, FileFormat::Jpeg), "frame_0010.jpg");

    let deep = SynthStack::new(SynthOptions { depth: BitDepth::Sixteen, ..opts }).unwrap();
    let err = deep.write_stack(dir.path(), FileFormat::Jpeg, &WriteOptions::default());
    assert!(matches!(err, Err(CoreError::InvalidOption { name: "depth", .. })));
}

#[test]
fn options_are_validated_by_name() {
    let name = |o: SynthOptions| match SynthStack::new(o) {
        Err(CoreError::InvalidOption { name, .. }) => name,
        other => panic!("expected an invalid option, got {other:?}"),
    };
    let d = SynthOptions::default();
    assert_eq!(name(SynthOptions { width: 4, ..d }), "size");
    assert_eq!(name(SynthOptions { frames: 1, ..d }), "frames");
    assert_eq!(name(SynthOptions { noise_sigma: -1.0, ..d }), "noise_sigma");
    assert_eq!(name(SynthOptions { max_blur_radius: f64::NAN, ..d }), "max_blur_radius");
    assert_eq!("tilted-plane".parse::<Scene>().unwrap(), Scene::TiltedPlane);
    assert!("nope".parse::<Scene>().is_err());
    // Focus depths are levels: frame k's focus level has no blur.
    let stack = SynthStack::new(SynthOptions { frames: 8, ..small(Scene::Objects) }).unwrap();
    assert_eq!(stack.depth_levels(), 15); // m = ceil(2 * 6 / 7) = 2
    assert_eq!(stack.blur_radius(7, 1.0), 0.0);
    assert_eq!(stack.blur_radius(0, 1.0), 6.0);
    let _: Image<f32> = stack.truth().to_image();
}

#[test]
fn moving_frames_show_the_scene_through_their_transform() {
    let opts = SynthOptions {
        max_blur_radius: 0.0,
        breathing: 0.06,
        rotation: 0.5,
        shift: 4.0,
        ..small(Scene::Objects)
    };
    let stack = SynthStack::new(opts).unwrap();
    let still = SynthStack::new(SynthOptions { breathing: 0.0, rotation: 0.0, shift: 0.0, ..opts })
        .unwrap();
    // The middle frame is the reference: unmoved, the same pixels as a still stack's.
    assert_eq!(stack.frame_transform(2), [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    assert_eq!(stack.frame(2), still.frame(2));
    // The first frame is smaller (breathing), turned and shifted.
    let m = stack.frame_transform(0);
    let scale = (m[0] * m[4] - m[1] * m[3]).sqrt();
    assert!((scale - (1.0 - 0.06 * 0.5)).abs() < 1e-12, "scale {scale}");
    assert!(m[2].abs() > 0.1 || m[5].abs() > 0.1);
    // All in focus, no noise: frame 0 at T(p) is the truth at p. Resample the truth
    // into frame 0's geometry and compare inside a margin: close with the transform,
    // far without it.
    let (w, h) = (128, 96);
    let truth = luma_of(&stack.truth());
    let frame = luma_of(&stack.frame(0));
    let mut moved = Vec::new();
    breathing::resample_rows(
        std::slice::from_ref(&truth),
        w,
        h,
        breathing::invert(m),
        0,
        h,
        &mut moved,
    );
    let rms = |a: &[f32], b: &[f32]| {
        let (mut s, mut n) = (0.0f64, 0usize);
        for y in 8..h - 8 {
            for x in 8..w - 8 {
                let d = (a[y * w + x] - b[y * w + x]) as f64;
                s += d * d;
                n += 1;
            }
        }
        (s / n as f64).sqrt()
    };
    // Luma of sRGB-encoded samples vs a resampled luma of the encoded truth: the
    // resampling happens in linear light in the generator, so allow a few levels.
    // Single-pixel detail resampled in linear light (the generator) and in display
    // values (here) differ by ~20 levels rms, so check that the transform is where the
    // error is least: a quarter pixel off either way is clearly worse.
    let off = |dx: f64, dy: f64| {
        let mut mm = m;
        mm[2] += dx;
        mm[5] += dy;
        let mut mv = Vec::new();
        breathing::resample_rows(
            std::slice::from_ref(&truth),
            w,
            h,
            breathing::invert(mm),
            0,
            h,
            &mut mv,
        );
        rms(&frame, &mv[0])
    };
    let with = rms(&frame, &moved[0]);
    let without = rms(&frame, &truth);
    assert!(with * 4.0 < without, "rms {with} with the transform, {without} without");
    for (dx, dy) in [(0.25, 0.0), (-0.25, 0.0), (0.0, 0.25), (0.0, -0.25)] {
        let e = off(dx, dy);
        assert!(with * 1.25 < e, "rms {with} at the transform, {e} off by ({dx}, {dy})");
    }
}

#[test]
fn moving_options_are_checked() {
    for (opts, name) in [
        (SynthOptions { breathing: 0.6, ..small(Scene::Objects) }, "breathing"),
        (SynthOptions { rotation: 50.0, ..small(Scene::Objects) }, "rotation"),
        (SynthOptions { shift: -1.0, ..small(Scene::Objects) }, "shift"),
    ] {
        let e = SynthStack::new(opts).unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
    }
}

#[test]
fn lens_blur_softens_frames_and_truth_alike_and_is_checked() {
    let sharp = SynthStack::new(small(Scene::Objects)).unwrap();
    let soft = SynthStack::new(SynthOptions { lens_blur: 1.0, ..small(Scene::Objects) }).unwrap();
    // The truth is the scene through the lens disc: softer than the pixel-sharp one,
    // and each frame's in-focus region is exactly that truth (no noise here).
    assert!(energy(&soft.truth(), None) < 0.8 * energy(&sharp.truth(), None));
    let (truth, erode) = (soft.truth(), 6 + 2);
    let mut tested = 0;
    for k in 0..soft.options().frames {
        let mask = region(&soft, soft.focus_depth(k), erode);
        if mask.iter().filter(|&&m| m).count() < 50 {
            continue;
        }
        tested += 1;
        let frame = soft.frame(k);
        for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
            assert_eq!(u8s(&frame)[3 * i..3 * i + 3], u8s(&truth)[3 * i..3 * i + 3], "pixel {i}");
        }
        // The defocus disc combines with the lens disc.
        assert!((soft.blur_radius(k, soft.focus_depth(k)) - 1.0).abs() < 1e-12);
        let far = if k == 0 { 1.0 } else { 0.0 };
        let r = soft.blur_radius(k, far);
        assert!((r - (6.0f64 * (far - soft.focus_depth(k))).hypot(1.0)).abs() < 1e-9, "{r}");
    }
    assert!(tested >= 4, "only {tested} focus depths have a region");
    for bad in [-0.5, 8.5, f64::NAN] {
        let e = SynthStack::new(SynthOptions { lens_blur: bad, ..small(Scene::Objects) })
            .unwrap_err()
            .to_string();
        assert!(e.contains("lens_blur") && e.contains("0..=8"), "{e}");
    }
}

#[test]
fn shot_noise_variance_grows_with_the_linear_signal() {
    let u16s = |f: &Frame| match f.samples() {
        Samples::U16(s) => s.clone(),
        Samples::U8(_) => panic!("expected 16-bit samples"),
    };
    let opts = SynthOptions { depth: BitDepth::Sixteen, shot_noise: 8.0, ..small(Scene::Objects) };
    let noisy = u16s(&SynthStack::new(opts).unwrap().frame(2));
    let clean = u16s(&SynthStack::new(SynthOptions { shot_noise: 0.0, ..opts }).unwrap().frame(2));
    assert_ne!(noisy, clean);
    let lin = |v: u16| srgb_to_linear_exact(v as f64 / 65535.0);
    // Per brightness band: sum of squared linear errors over the sum of the signal,
    // which is (shot / 255)^2 when the variance is shot^2 L (in 8-bit units).
    let bands = [(0.02, 0.06), (0.06, 0.15), (0.15, 0.35), (0.35, 0.7)];
    let mut sd_per_band = Vec::new();
    for (lo, hi) in bands {
        let (mut d2, mut sum_l, mut sum_d, mut n) = (0.0, 0.0, 0.0, 0usize);
        for (&a, &b) in noisy.iter().zip(&clean) {
            let l = lin(b);
            if (lo..hi).contains(&l) {
                let d = lin(a) - l;
                d2 += d * d;
                sum_d += d;
                sum_l += l;
                n += 1;
            }
        }
        assert!(n > 1000, "band {lo}..{hi}: {n} samples");
        let k = (d2 / sum_l).sqrt() * 255.0;
        assert!((k - 8.0).abs() < 0.5, "band {lo}..{hi}: shot noise {k} at white, want 8");
        assert!((sum_d / n as f64).abs() < 1e-3, "band {lo}..{hi}: biased");
        sd_per_band.push((d2 / n as f64).sqrt());
    }
    // The standard deviation grows with the signal: about sqrt(L).
    assert!(sd_per_band.windows(2).all(|p| p[0] < p[1]), "{sd_per_band:?}");
    assert!(sd_per_band[3] > 2.5 * sd_per_band[0], "{sd_per_band:?}");
    // The truth has no noise; shot noise is checked like every option.
    let stack = SynthStack::new(opts).unwrap();
    assert_eq!(
        u16s(&stack.truth()),
        u16s(&SynthStack::new(SynthOptions { shot_noise: 0.0, ..opts }).unwrap().truth())
    );
    let e = SynthStack::new(SynthOptions { shot_noise: -1.0, ..opts }).unwrap_err().to_string();
    assert!(e.contains("shot_noise"), "{e}");
}

#[test]
fn high_contrast_scene_has_bright_objects_on_a_dark_ground_with_depth_steps() {
    let opts = SynthOptions {
        depth: BitDepth::Sixteen,
        frames: 12,
        width: 256,
        height: 192,
        ..small(Scene::HighContrast)
    };
    let stack = SynthStack::new(opts).unwrap();
    let truth = luma_of(&stack.truth());
    let (mut ground, mut objects) = (Vec::new(), Vec::new());
    for (i, &v) in truth.iter().enumerate() {
        let d = stack.depth_at(i % 256, i / 256);
        if d == 1.0 { ground.push(v / 65535.0) } else { objects.push(v / 65535.0) }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let max = |v: &[f32]| v.iter().copied().fold(0.0f32, f32::max);
    assert!(ground.len() > truth.len() / 3 && objects.len() > truth.len() / 5);
    assert!(
        mean(&ground) < 0.06 && max(&ground) < 0.1,
        "ground {} max {}",
        mean(&ground),
        max(&ground)
    );
    assert!(mean(&objects) > 0.75, "objects {}", mean(&objects));
    // Faintly textured ground, textured objects: neither is flat.
    let sd =
        |v: &[f32]| (v.iter().map(|x| (x - mean(v)).powi(2)).sum::<f32>() / v.len() as f32).sqrt();
    assert!(sd(&ground) > 0.005 && sd(&objects) > 0.05, "{} {}", sd(&ground), sd(&objects));
    // Seven flat depths (the ground and six objects), with steps between them.
    let mut depths: Vec<u8> = u8s(&stack.depth_map()).to_vec();
    depths.sort_unstable();
    depths.dedup();
    assert_eq!(depths.len(), 7, "{depths:?}");
    let band = stack.edge_band_mask().iter().filter(|&&b| b).count();
    assert!(band > truth.len() / 20, "{band} edge-band pixels");
    assert_eq!("high-contrast".parse::<Scene>().unwrap(), Scene::HighContrast);
}

#[test]
fn edge_band_lies_along_the_depth_steps() {
    let stack = SynthStack::new(SynthOptions { frames: 6, ..small(Scene::Objects) }).unwrap();
    let (w, h) = (128, 96);
    let band = stack.edge_band_mask();
    assert_eq!(band.len(), w * h);
    let r = stack.edge_band_radius();
    assert_eq!(r, 3.0);
    let step = 1.0 / 5.0 + 1e-9;
    let d = |x: usize, y: usize| stack.depth_at(x, y);
    // A pixel of a step (it differs from a 4-neighbour by more than a focus step).
    let on_step = |x: usize, y: usize| {
        let v = d(x, y);
        (x > 0 && (d(x - 1, y) - v).abs() > step)
            || (x + 1 < w && (d(x + 1, y) - v).abs() > step)
            || (y > 0 && (d(x, y - 1) - v).abs() > step)
            || (y + 1 < h && (d(x, y + 1) - v).abs() > step)
    };
    let mut steps = 0;
    for y in 0..h {
        for x in 0..w {
            // In the band exactly when a step pixel is within r.
            let near = (y.saturating_sub(3)..(y + 4).min(h)).any(|yy| {
                (x.saturating_sub(3)..(x + 4).min(w)).any(|xx| {
                    let dist2 = (xx as f64 - x as f64).powi(2) + (yy as f64 - y as f64).powi(2);
                    dist2 <= r * r && on_step(xx, yy)
                })
            });
            assert_eq!(band[y * w + x], near, "pixel ({x}, {y})");
            steps += on_step(x, y) as usize;
        }
    }
    assert!(steps > 300, "{steps} step pixels");
    // Smooth depth has no steps.
    let tilted = SynthStack::new(small(Scene::TiltedPlane)).unwrap();
    assert!(tilted.edge_band_mask().iter().all(|&b| !b));
}

#[test]
fn frames_beyond_the_subject_are_blurred_everywhere_and_checked() {
    // 7 frames, the last 2 focused beyond the farthest depth: the subject's 5 frames
    // focus at 0, 1/4, .., 1; frame 5's smallest blur is 4 px, frame 6's 8 px.
    let opts =
        SynthOptions { frames: 7, beyond_frames: 2, beyond_blur: 4.0, ..small(Scene::Objects) };
    let stack = SynthStack::new(opts).unwrap();
    assert_eq!(stack.focus_depth(4), 1.0);
    assert_eq!(stack.focus_depth(2), 0.5);
    for (k, smallest) in [(5, 4.0), (6, 8.0)] {
        let radii: Vec<f64> = (0..=10).map(|d| stack.blur_radius(k, d as f64 / 10.0)).collect();
        let min = radii.iter().copied().fold(f64::INFINITY, f64::min);
        assert!((min - smallest).abs() < 1e-9, "frame {k}: {radii:?}");
    }
    // Sharper than either frame beyond, every subject frame; and they get blurrier.
    let e: Vec<f64> = (0..7).map(|k| energy(&stack.frame(k), None)).collect();
    assert!(e[..5].iter().all(|&s| s > e[5]) && e[5] > e[6], "{e:?}");
    // The subject's depths snap to its own 5 focus depths, as without frames beyond.
    let plain = SynthStack::new(SynthOptions { frames: 5, ..small(Scene::Objects) }).unwrap();
    assert_eq!(stack.depths(), plain.depths());
    for (beyond, blur) in [(6, 4.0), (2, 0.0), (2, 65.0)] {
        let e = SynthStack::new(SynthOptions { beyond_frames: beyond, beyond_blur: blur, ..opts })
            .unwrap_err()
            .to_string();
        let name = if beyond == 6 { "beyond_frames" } else { "beyond_blur" };
        assert!(e.contains(name), "{e}");
    }
}
