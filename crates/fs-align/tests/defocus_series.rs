//! Alignment of generated focus stacks (fs-core's synthetic stacks: occlusion-aware
//! defocus, focus breathing, rotation and shake, resampled with Lanczos-3) against
//! the generator's known per-frame transforms.

use fs_align::{AlignOptions, AlignSettings, Aligner, Transform};
use fs_core::synth::{SynthOptions, SynthStack};

/// A 7-frame 480x360 stack: 3 % breathing, 0.3 degrees of rotation, up to 5 px of
/// shake, the lens's own 1-px disc (real frames are band-limited), defocus up to
/// `max_blur` px at the largest depth difference.
fn stack(max_blur: f64) -> SynthStack {
    SynthStack::new(SynthOptions {
        width: 480,
        height: 360,
        frames: 7,
        max_blur_radius: max_blur,
        lens_blur: 1.0,
        breathing: 0.03,
        rotation: 0.3,
        shift: 5.0,
        ..SynthOptions::default()
    })
    .unwrap()
}

/// Corner error (px) of each frame's estimated transform against the truth, aligned
/// to the middle frame with the default options.
fn corner_errors(stack: &SynthStack) -> Vec<f64> {
    let n = stack.options().frames;
    let r = n / 2;
    let reference = stack.frame(r);
    let settings = AlignSettings { align: Some(AlignOptions::default()), balance: None };
    let aligner = Aligner::new(&reference, r, settings).unwrap();
    (0..n)
        .map(|k| {
            let (_, report) = aligner.align(k, stack.frame(k)).unwrap();
            let m = stack.frame_transform(k);
            let truth = Transform::affine(m[0], m[1], m[2], m[3], m[4], m[5]);
            report.transform.corner_distance(&truth, 480, 360)
        })
        .collect()
}

#[test]
fn defocus_series_aligns_within_a_tenth_of_a_pixel() {
    // Defocus up to 4 px of radius: the frames at the ends of the stack share little
    // sharp detail with the middle one. Reached: 0.005-0.054 px.
    let errors = corner_errors(&stack(4.0));
    println!("corner errors {errors:.3?}");
    assert!(errors.iter().all(|&e| e <= 0.1), "{errors:.3?}");
}

#[test]
fn strong_defocus_stays_within_what_the_rendering_moves() {
    // Defocus up to 8 px of radius (1.7 % of the width). The generator composites
    // depth layers, and a blurred layer's edge spills over its neighbours, which
    // moves defocused content itself: a normalised cross-correlation of each frame,
    // warped back with its *true* transform, against the reference finds it larger by
    // 160-1440 ppm (0.06-0.43 px at the corners; examples/stack_check.rs). The
    // estimate follows the content. Reached: 0.03-0.49 px, the largest for the
    // frame focused nearest (the thin foreground bar sharp, the rest blurred most).
    let errors = corner_errors(&stack(8.0));
    println!("corner errors {errors:.3?}");
    let r = errors.len() / 2;
    assert!(errors.iter().all(|&e| e <= 0.6), "{errors:.3?}");
    assert!(errors[r - 1] <= 0.1 && errors[r + 1] <= 0.1, "{errors:.3?}");
}

#[test]
fn frames_aligned_at_once_come_out_the_same_and_in_order() {
    use fs_align::AlignedFrames;
    let stack = stack(4.0);
    let r = 3;
    let settings = AlignSettings { align: Some(AlignOptions::default()), balance: None };
    let aligner = Aligner::new(&stack.frame(r), r, settings).unwrap();
    // A decoding error in the middle of the stream (frame 5).
    let source = || {
        (0..7).map(|k| {
            if k == 5 {
                Err(fs_core::CoreError::Dimensions("frame 5 is broken".into()))
            } else {
                Ok(stack.frame(k))
            }
        })
    };
    let run = |at_once: usize| {
        let aligned = AlignedFrames::new(source(), &aligner).frames_at_once(at_once);
        let log = aligned.log();
        let out: Vec<Result<Vec<u8>, String>> = aligned
            .map(|f| {
                f.map(|f| match f.samples() {
                    fs_core::Samples::U8(s) => s.clone(),
                    fs_core::Samples::U16(_) => unreachable!("8-bit stack"),
                })
                .map_err(|e| e.to_string())
            })
            .collect();
        let indices: Vec<usize> = log.reports().iter().map(|r| r.index).collect();
        (out, indices)
    };
    let (one, one_log) = run(1);
    // Five frames, then the error, then frame 6: the stream goes on as its source does.
    assert_eq!(one.len(), 7);
    assert!(one[5].as_ref().is_err_and(|e| e.contains("frame 5 is broken")), "{:?}", one[5]);
    assert_eq!(one_log, vec![0, 1, 2, 3, 4, 6]);
    for at_once in [2, 3] {
        let (many, many_log) = run(at_once);
        assert_eq!(many_log, one_log, "{at_once} at once");
        assert!(many == one, "{at_once} at once: different frames");
    }
}
