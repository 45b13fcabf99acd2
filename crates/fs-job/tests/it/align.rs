//! Alignment and balance in jobs: in memory before stacking (with the crop), the
//! CombinedActions action that writes aligned frames, failures naming the frame, and
//! the job-file and project keys.

use std::path::{Path, PathBuf};

use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{
    Frame, Image, NoProgress, Samples, WriteOptions, metrics::psnr, read_frame, write_frame,
};
use fs_job::{
    Action, AlignOptions, BalanceOptions, CombinedActions, FocusStack, FrameStep, OnFailure,
    ProjectOptions, StackJob, Stacker, TransformKind, parse_job_toml, parse_project,
};

const FRAMES: usize = 7;

/// The lens's own 1-px disc keeps in-focus detail band-limited, as a real camera's
/// is: without it, single-pixel full-contrast detail cannot survive any resampling
/// (the generator's own and the aligner's), and the comparison with the still stack
/// would measure that rather than alignment.
fn options(moving: bool) -> SynthOptions {
    let o = SynthOptions {
        width: 480,
        height: 360,
        frames: FRAMES,
        lens_blur: 1.0,
        ..SynthOptions::default()
    };
    if moving { SynthOptions { breathing: 0.03, rotation: 0.3, shift: 5.0, ..o } } else { o }
}

/// A working folder with the stack in `src/` as PNG.
fn workspace(stack: &SynthStack) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    std::fs::create_dir(work.join("src")).unwrap();
    for k in 0..stack.frame_count() {
        let path = work.join(format!("src/frame{k}.png"));
        write_frame(&path, &stack.frame(k), &WriteOptions::default()).unwrap();
    }
    (tmp, work)
}

/// The part of `frame` in the rectangle (x, y, w, h).
fn crop(img: &Image<f32>, (x0, y0, w, h): (usize, usize, usize, usize)) -> Image<f32> {
    img.crop(x0, y0, w, h).unwrap()
}

/// "cropped to WxH at (X, Y)" from the notes.
fn crop_note(notes: &[String]) -> (usize, usize, usize, usize) {
    let note = notes.iter().find(|n| n.starts_with("cropped to ")).expect("a crop note");
    let nums: Vec<usize> = note
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(4)
        .map(|s| s.parse().unwrap())
        .collect();
    (nums[2], nums[3], nums[0], nums[1])
}

fn stack_job(work: &Path, align: bool) -> StackJob {
    let mut a = FocusStack::new("stack", Stacker::pyramid()).input_path("src");
    if align {
        a = a.align(AlignOptions::default()).balance(BalanceOptions::default());
    }
    StackJob::new("j", work).add_action(a)
}

#[test]
fn aligned_moving_stack_is_close_to_the_still_stack() {
    let still = SynthStack::new(options(false)).unwrap();
    let moving = SynthStack::new(options(true)).unwrap();
    let truth: Image<f32> = still.truth().to_image();

    let (_t1, w1) = workspace(&still);
    let s = stack_job(&w1, false).run(&NoProgress).unwrap();
    let still_out: Image<f32> = read_frame(&s.actions[0].outputs[0]).unwrap().to_image();

    let (_t2, w2) = workspace(&moving);
    let m = stack_job(&w2, true).run(&NoProgress).unwrap();
    let notes = &m.actions[0].notes;
    assert!(notes.iter().any(|n| n.starts_with("aligned 7 frames to frame3.png")), "{notes:?}");
    let rect = crop_note(notes);
    let aligned_out: Image<f32> = read_frame(&m.actions[0].outputs[0]).unwrap().to_image();
    assert_eq!((aligned_out.width(), aligned_out.height()), (rect.2, rect.3));
    // Breathing of 3 % and shifts of 5 px: the common area loses at most ~6 %.
    assert!(rect.2 * rect.3 > 480 * 360 * 85 / 100, "crop {rect:?}");

    let (_t3, w3) = workspace(&moving);
    let u = stack_job(&w3, false).run(&NoProgress).unwrap();
    let unaligned: Image<f32> = read_frame(&u.actions[0].outputs[0]).unwrap().to_image();

    let truth_c = crop(&truth, rect);
    let p_still = psnr(&crop(&still_out, rect), &truth_c, 255.0);
    let p_aligned = psnr(&aligned_out, &truth_c, 255.0);
    let p_unaligned = psnr(&crop(&unaligned, rect), &truth_c, 255.0);
    eprintln!(
        "PSNR still {p_still:.2} dB, aligned {p_aligned:.2} dB, unaligned {p_unaligned:.2} dB"
    );
    // The issue's target: within 1 dB of the still stack. Reached: still 31.83 dB,
    // aligned 31.06 dB (0.77 below), unaligned 15.10 dB. Of the 0.77 dB, stacking the
    // frames warped with their *true* transforms already loses about 0.65 (two
    // resamplings: the generator's and the warp's); the estimates cost the rest
    // (examples/stack_check.rs in fs-align).
    assert!(p_aligned > p_still - 1.0, "aligned {p_aligned:.2} dB, still {p_still:.2} dB");
    assert!(p_aligned > p_unaligned + 12.0, "aligned {p_aligned:.2}, unaligned {p_unaligned:.2}");
}

/// The frame with every sample scaled by `gain`.
fn scaled(frame: &Frame, gain: f64) -> Frame {
    let Samples::U8(s) = frame.samples() else { panic!("8-bit") };
    let s = s.iter().map(|&v| (v as f64 * gain).round().min(255.0) as u8).collect();
    Frame::new(frame.info(), Samples::U8(s)).unwrap()
}

fn mean(img: &Image<f32>) -> f64 {
    let n = (img.width() * img.height() * img.channels()) as f64;
    img.planes().flat_map(|p| p.iter()).map(|&v| v as f64).sum::<f64>() / n
}

#[test]
fn combined_actions_write_aligned_balanced_frames_for_a_following_stack() {
    let still = SynthStack::new(options(false)).unwrap();
    let moving = SynthStack::new(options(true)).unwrap();
    let (_t, work) = workspace(&moving);
    // Frame 1 came out 15 % darker.
    let dark = scaled(&moving.frame(1), 0.85);
    write_frame(&work.join("src/frame1.png"), &dark, &WriteOptions::default()).unwrap();

    let steps = vec![
        FrameStep::AlignFrames(AlignOptions::default()),
        FrameStep::BalanceFrames(BalanceOptions::default()),
    ];
    let summary = StackJob::new("j", &work)
        .input_path("src")
        .add_action(CombinedActions::new("align", steps))
        .add_action(FocusStack::new("stack", Stacker::pyramid()))
        .run(&NoProgress)
        .unwrap();
    let names: Vec<String> = summary.actions[0]
        .outputs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, (0..FRAMES).map(|k| format!("frame{k}.png")).collect::<Vec<_>>());
    assert_eq!(summary.actions[1].outputs.len(), 1);

    // Aligned frame 0 looks like the still stack's frame 0 (inside a margin the
    // breathing leaves without data); the unaligned one does not.
    let margin = (16, 16, 480 - 32, 360 - 32);
    let want: Image<f32> = still.frame(0).to_image();
    let got: Image<f32> = read_frame(&summary.actions[0].outputs[0]).unwrap().to_image();
    let before: Image<f32> = moving.frame(0).to_image();
    let p_after = psnr(&crop(&got, margin), &crop(&want, margin), 255.0);
    let p_before = psnr(&crop(&before, margin), &crop(&want, margin), 255.0);
    eprintln!("frame 0: {p_after:.2} dB after, {p_before:.2} before");
    // Reached: 38.6 dB after, 21.6 before. Frame 0 is focused farthest from the
    // reference (its estimate is about 0.5 px off at the corners, as far as the
    // generator's layered defocus moves its content).
    assert!(
        p_after > 37.0 && p_after > p_before + 15.0,
        "{p_after:.1} dB after, {p_before:.1} before"
    );

    // The darkened frame is brought back to the reference's brightness.
    let fixed: Image<f32> = read_frame(&summary.actions[0].outputs[1]).unwrap().to_image();
    let want1: Image<f32> = still.frame(1).to_image();
    let ratio = mean(&crop(&fixed, margin)) / mean(&crop(&want1, margin));
    assert!((ratio - 1.0).abs() < 0.01, "brightness ratio {ratio}");
    assert!(summary.actions[0].notes.iter().any(|n| n.starts_with("balanced to frame3.png")));
}

#[test]
fn a_frame_that_cannot_be_aligned_is_named_or_left_out() {
    let moving = SynthStack::new(SynthOptions { frames: 5, ..options(true) }).unwrap();
    let (_t, work) = workspace(&moving);
    // A flat grey frame: nothing to match.
    let info = moving.info();
    let flat = Frame::new(info, Samples::U8(vec![128; info.width * info.height * 3])).unwrap();
    write_frame(&work.join("src/frame4.png"), &flat, &WriteOptions::default()).unwrap();

    let job = |on_failure| {
        let align = AlignOptions { on_failure, ..AlignOptions::default() };
        StackJob::new("j", &work)
            .add_action(FocusStack::new("stack", Stacker::pyramid()).input_path("src").align(align))
    };
    let e = job(OnFailure::Stop).run(&NoProgress).unwrap_err().to_string();
    assert!(e.contains("frame4.png") && e.contains("cannot be aligned"), "{e}");
    assert!(!work.join("stack").join("frame0.png").exists());

    for on_failure in [OnFailure::Skip, OnFailure::Recover] {
        let s = job(on_failure).run(&NoProgress).unwrap();
        let notes = &s.actions[0].notes;
        assert!(
            notes.iter().any(|n| n.contains("left out") && n.contains("frame4.png")),
            "{notes:?}"
        );
        assert!(notes.iter().any(|n| n.starts_with("aligned 4 frames")), "{notes:?}");
        assert_eq!(s.actions[0].outputs.len(), 1);
        let methods: Vec<&str> = s.actions[0].alignment.iter().map(|r| r.method.name()).collect();
        assert_eq!(methods, ["features", "features", "reference", "features", "left out"]);
    }
    // The default leaves it out too (and says why): the run still gives a result.
    assert_eq!(AlignOptions::default().on_failure, OnFailure::Recover);
}

#[test]
fn an_unrelated_frame_is_left_out_with_a_warning_and_changes_nothing() {
    let moving = SynthStack::new(SynthOptions { frames: 5, ..options(true) }).unwrap();
    let truth: Image<f32> = moving.truth().to_image();
    let info = moving.info();
    let black = Frame::new(info, Samples::U8(vec![0; info.width * info.height * 3])).unwrap();
    let other = SynthStack::new(SynthOptions {
        scene: fs_core::synth::Scene::TiltedPlane,
        seed: 9,
        ..options(true)
    })
    .unwrap()
    .frame(5);
    // Stacks the folder (the middle frame of the five as reference) and compares the
    // result with the truth where every frame covers it.
    let stack = |work: &Path| {
        let align =
            AlignOptions { reference: fs_job::ReferenceFrame::Index(2), ..AlignOptions::default() };
        let s = StackJob::new("j", work)
            .add_action(FocusStack::new("stack", Stacker::pyramid()).input_path("src").align(align))
            .run(&NoProgress)
            .unwrap();
        let a = &s.actions[0];
        let out: Image<f32> = read_frame(&a.outputs[0]).unwrap().to_image();
        let rect = crop_note(&a.notes);
        (psnr(&out, &crop(&truth, rect), 255.0), a.notes.clone(), a.alignment.clone())
    };
    let (_t, work) = workspace(&moving);
    let (plain, ..) = stack(&work);
    for (name, odd) in [("black", black), ("another scene", other)] {
        let (_t, work) = workspace(&moving);
        // Between frames 3 and 4 in the folder's order.
        write_frame(&work.join("src/frame3b.png"), &odd, &WriteOptions::default()).unwrap();
        let (with, notes, alignment) = stack(&work);
        println!("{name}: {with:.2} dB with it, {plain:.2} dB without; {notes:?}");
        assert!(
            notes.iter().any(|n| n.starts_with("warning: left out ")
                && n.contains("frame3b.png: cannot be aligned: matches nothing")),
            "{name}: {notes:?}"
        );
        assert!(notes.iter().any(|n| n.starts_with("aligned 5 frames")), "{notes:?}");
        assert_eq!(alignment.len(), 6);
        assert_eq!(alignment[4].method, fs_job::AlignMethod::LeftOut);
        assert!((with - plain).abs() < 0.01, "{name}: {with:.2} dB with it, {plain:.2} dB without");
    }
}

#[test]
fn job_files_take_align_balance_and_combined_actions() {
    let text = r#"
name = "j"
[[action]]
type = "CombinedActions"
name = "align"
input_path = "src"
[[action.sub_actions]]
type = "AlignFrames"
transform = "ALIGN_HOMOGRAPHY"
step_process = true
[[action.sub_actions]]
type = "BalanceFrames"
channel = "BALANCE_LUMI"

[[action]]
type = "FocusStack"
name = "stack"
align = { transform = "affine", ref_idx = 0, on_failure = "skip" }
balance = true
crop = false
"#;
    let job = parse_job_toml(text, Path::new("/tmp"), Path::new("j.toml")).unwrap();
    let Action::CombinedActions(c) = &job.actions[0] else { panic!("{:?}", job.actions[0]) };
    let FrameStep::AlignFrames(a) = &c.steps[0] else { panic!() };
    assert_eq!(a.transform, TransformKind::Homography);
    assert!(a.step_process);
    let FrameStep::BalanceFrames(b) = &c.steps[1] else { panic!() };
    assert_eq!(b.channel, fs_job::BalanceChannel::Luma);
    let o = job.actions[1].options();
    let a = o.align.as_ref().unwrap();
    assert_eq!(a.transform, TransformKind::Affine);
    assert_eq!(a.reference, fs_job::ReferenceFrame::Index(0));
    assert_eq!(a.on_failure, OnFailure::Skip);
    assert!(o.balance.is_some() && !o.crop);
    for (value, expected) in
        [("recover", OnFailure::Recover), ("stop", OnFailure::Stop), ("strict", OnFailure::Stop)]
    {
        let t = text.replace(r#"on_failure = "skip""#, &format!("on_failure = {value:?}"));
        let job = parse_job_toml(&t, Path::new("/tmp"), Path::new("j.toml")).unwrap();
        let a = job.actions[1].options().align.clone().unwrap();
        assert_eq!(a.on_failure, expected, "{value}");
    }
    let t = text.replace(r#"on_failure = "skip""#, r#"on_failure = "ignore""#);
    let e = parse_job_toml(&t, Path::new("/tmp"), Path::new("j.toml")).unwrap_err().to_string();
    assert!(e.contains("on_failure") && e.contains("must be recover, stop or skip"), "{e}");

    let bad = text.replace("step_process = true", "step_proces = true");
    let e = parse_job_toml(&bad, Path::new("/tmp"), Path::new("j.toml")).unwrap_err().to_string();
    assert!(e.contains("step_proces"), "{e}");
    let bad = text.replace("ref_idx = 0", "max_scale_change = 2.0");
    let e = parse_job_toml(&bad, Path::new("/tmp"), Path::new("j.toml")).unwrap_err().to_string();
    assert!(e.contains("`max_scale_change`") && e.contains("<= 1"), "{e}");
    let bad = text.replace("crop = false", "crop = false\nsub_actions = []");
    assert!(parse_job_toml(&bad, Path::new("/tmp"), Path::new("j.toml")).is_ok());
}

#[test]
fn shinestacker_projects_with_align_and_balance_load() {
    let text = r#"{"version": 1, "project": [{"type_name": "Job", "params": {"name": "job", "working_path": "w", "input_path": "src"},
      "sub_actions": [
        {"type_name": "CombinedActions", "params": {"name": "align"}, "sub_actions": [
            {"type_name": "AlignFrames", "params": {"transform": "ALIGN_RIGID", "detector": "SIFT", "border_mode": "BORDER_REPLICATE_BLUR"}},
            {"type_name": "BalanceFrames", "params": {"channel": "BALANCE_RGB", "corr_map": "BALANCE_LINEAR"}}]},
        {"type_name": "FocusStack", "params": {"name": "stack", "stacker": "Pyramid"}}]}]}"#;
    let loaded =
        parse_project(text, Path::new("/tmp"), Path::new("p.fsp"), ProjectOptions::default())
            .unwrap();
    let job = &loaded.jobs[0];
    assert_eq!(job.actions.len(), 2);
    let Action::CombinedActions(c) = &job.actions[0] else { panic!() };
    assert_eq!(c.steps.len(), 2);
    assert!(
        loaded.warnings.iter().any(|w| w.contains("`detector`") && w.contains("no counterpart")),
        "{:?}",
        loaded.warnings
    );
    // A CombinedActions with a step fstack does not have is still refused.
    let other = text.replace("\"BalanceFrames\"", "\"Vignetting\"");
    let e = parse_project(&other, Path::new("/tmp"), Path::new("p.fsp"), ProjectOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("Vignetting"), "{e}");
}

/// `a` and `b` in one geometry: `b` aligned onto `a` (similarity, fs-align), both
/// cropped to the area both cover (its rectangle in `a` returned too).
fn matched(a: &Frame, b: &Frame) -> (Image<f32>, Image<f32>, fs_align::Rect) {
    use fs_align::{AlignSettings, Aligner, BorderMode, Interpolation, warp_frame};
    let (w, h) = (a.width().min(b.width()), a.height().min(b.height()));
    let cut = |f: &Frame| {
        fs_align::crop_frame(f, fs_align::Rect { x: 0, y: 0, width: w, height: h }).unwrap()
    };
    let (a, b) = (cut(a), cut(b));
    let aligner =
        Aligner::new(&a, 0, AlignSettings { align: Some(AlignOptions::default()), balance: None })
            .unwrap();
    let (_, report) = aligner.align(1, b.clone()).unwrap();
    let warped =
        warp_frame(&b, &report.transform, Interpolation::Bicubic, BorderMode::Replicate, None)
            .unwrap();
    let rect = fs_align::common_area(&[report.transform], w, h).unwrap();
    let ia: Image<f32> = fs_align::crop_frame(&a, rect).unwrap().to_image();
    let ib: Image<f32> = fs_align::crop_frame(&warped, rect).unwrap().to_image();
    (ia, ib, rect)
}

/// PSNR of `a` against `b` after aligning `b` onto `a`, over the area both cover: how
/// close two stacks of the same scene are when their geometry (each tool's own
/// reference frame and crop) differs.
fn psnr_matched(a: &Frame, b: &Frame) -> f64 {
    let (ia, ib, _) = matched(a, b);
    psnr(&ia, &ib, 255.0)
}

/// Edge agreement of `result` with `reference` in a region (given in the full
/// 2048x1536 frame; `result` may be cropped about evenly on each side): the
/// normalised cross-correlation of their luma gradient magnitudes after matching
/// geometry. Sharp edges where the reference has them score high; doubled (ghost)
/// edges and soft ones score low.
fn edge_agreement(
    result: &Frame,
    reference: &Frame,
    (x0, y0, w, h): (usize, usize, usize, usize),
) -> f64 {
    let (ia, ib, rect) = matched(result, reference);
    let (dx, dy) = ((2048 - result.width()) / 2 + rect.x, (1536 - result.height()) / 2 + rect.y);
    let region = (x0 - dx, y0 - dy, w, h);
    let gradient = |img: &Image<f32>| -> Vec<f64> {
        let l = fs_core::luma(&crop(img, region));
        let mut g = Vec::with_capacity(w * h);
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let i = y * w + x;
                let (gx, gy) = (l[i + 1] - l[i - 1], l[i + w] - l[i - w]);
                g.push(f64::from(gx.hypot(gy)));
            }
        }
        g
    };
    let (ga, gb) = (gradient(&ia), gradient(&ib));
    let n = ga.len() as f64;
    let (ma, mb) = (ga.iter().sum::<f64>() / n, gb.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (a, b) in ga.iter().zip(&gb) {
        sab += (a - ma) * (b - mb);
        saa += (a - ma) * (a - ma);
        sbb += (b - mb) * (b - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// The pcb stack's folder and focus-stack's result for it, when FS_REAL_STACKS is set
/// (a missing folder then fails the test).
fn pcb_and_reference() -> Option<(PathBuf, Frame)> {
    let root = PathBuf::from(std::env::var_os("FS_REAL_STACKS")?);
    let pcb = root.join("pcb");
    assert!(pcb.is_dir(), "FS_REAL_STACKS is set but {} is missing", pcb.display());
    Some((pcb, read_frame(&root.join("pcb-reference-focus-stack.jpg")).unwrap()))
}

#[test]
fn pcb_aligned_is_closer_to_focus_stacks_result_than_unaligned() {
    let Some((pcb, reference)) = pcb_and_reference() else {
        println!("FS_REAL_STACKS not set: skipping the pcb alignment test");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    let job = |align: bool| {
        let mut a = FocusStack::new(if align { "aligned" } else { "plain" }, Stacker::pyramid())
            .input_path(&pcb);
        if align {
            a = a.align(AlignOptions::default()).balance(BalanceOptions::default());
        }
        let s = StackJob::new("pcb", &work).add_action(a).run(&NoProgress).unwrap();
        read_frame(&s.actions[0].outputs[0]).unwrap()
    };
    let aligned = job(true);
    let plain = job(false);
    let p_aligned = psnr_matched(&aligned, &reference);
    let p_plain = psnr_matched(&plain, &reference);
    eprintln!("pcb vs focus-stack's result: aligned {p_aligned:.2} dB, unaligned {p_plain:.2} dB");
    // Reached: aligned 27.5 dB, unaligned 14.6 dB (focus-stack's result aligns its
    // frames too; our unaligned stack has doubled edges where the board breathes).
    assert!(
        p_aligned > 26.0 && p_aligned > p_plain + 8.0,
        "aligned {p_aligned:.2} dB, unaligned {p_plain:.2} dB"
    );

    // Sharper at the barcode and at the gold pins: the edges agree with focus-stack's
    // result (gradient-magnitude correlation after matching geometry; regions in the
    // board's full-frame coordinates). A plain gradient energy would not do: the
    // maximum-energy rule keeps both copies of a doubled edge, so ghosting *adds*
    // gradient energy (barcode: 410 unaligned vs 388 aligned).
    // Reached: barcode 0.935 aligned vs 0.221 unaligned, pins 0.818 vs 0.571.
    let regions = [("barcode", (520, 40, 620, 400), 0.9), ("pins", (1340, 790, 580, 320), 0.78)];
    for (name, region, floor) in regions {
        let a = edge_agreement(&aligned, &reference, region);
        let u = edge_agreement(&plain, &reference, region);
        eprintln!("pcb {name}: edge agreement aligned {a:.3}, unaligned {u:.3}");
        assert!(a > floor && a > u + 0.2, "{name}: aligned {a:.3}, unaligned {u:.3}");
    }
}

#[test]
fn bunches_align_to_the_whole_stacks_reference_and_keep_one_size() {
    let moving = SynthStack::new(SynthOptions { frames: 5, ..options(true) }).unwrap();
    let (_t, work) = workspace(&moving);
    let s = StackJob::new("j", &work)
        .add_action(
            fs_job::FocusStackBunch::new("b", Stacker::pyramid())
                .input_path("src")
                .frames(2)
                .align(AlignOptions::default()),
        )
        .run(&NoProgress)
        .unwrap();
    let a = &s.actions[0];
    assert_eq!(a.outputs.len(), 3);
    for o in &a.outputs {
        let f = read_frame(o).unwrap();
        assert_eq!((f.width(), f.height()), (480, 360), "bunches are not cropped");
    }
    // Every bunch names the whole stack's reference, the middle frame.
    let aligned: Vec<&String> = a.notes.iter().filter(|n| n.starts_with("aligned ")).collect();
    assert_eq!(aligned.len(), 3, "{:?}", a.notes);
    assert!(aligned.iter().all(|n| n.contains("to frame2.png")), "{aligned:?}");
    // The last bunch (frame 4 alone) is aligned too: it matches frame 4 of the
    // still stack rather than the moving one.
    let still = SynthStack::new(SynthOptions { frames: 5, ..options(false) }).unwrap();
    let margin = (16, 16, 480 - 32, 360 - 32);
    let got: Image<f32> = read_frame(&a.outputs[2]).unwrap().to_image();
    let want: Image<f32> = still.frame(4).to_image();
    let before: Image<f32> = moving.frame(4).to_image();
    let p_after = psnr(&crop(&got, margin), &crop(&want, margin), 255.0);
    let p_before = psnr(&crop(&before, margin), &crop(&want, margin), 255.0);
    assert!(p_after > p_before + 5.0, "{p_after:.1} dB after, {p_before:.1} before");
}

/// The rim test's measure: over a region, the pixels of a ring 2 to 6 pixels outside
/// the bright objects (luma of the reference above `bright`), and the mean luma of
/// `a` and `b` there; and the mean gradient energy of both over the region.
fn rim_and_sharpness(
    a: &Image<f32>,
    b: &Image<f32>,
    (x0, y0, w, h): (usize, usize, usize, usize),
    bright: f32,
) -> (f64, f64, f64, f64) {
    let (la, lb) =
        (fs_core::luma(&crop(a, (x0, y0, w, h))), fs_core::luma(&crop(b, (x0, y0, w, h))));
    let mask: Vec<bool> = lb.iter().map(|&v| v > bright).collect();
    // Distance to the nearest bright pixel, within 6 px (a plain window scan).
    let (mut sa, mut sb, mut n) = (0.0, 0.0, 0usize);
    for y in 6..h - 6 {
        for x in 6..w - 6 {
            if mask[y * w + x] {
                continue;
            }
            let mut d2 = i64::MAX;
            for dy in -6i64..=6 {
                for dx in -6i64..=6 {
                    if mask[(y as i64 + dy) as usize * w + (x as i64 + dx) as usize] {
                        d2 = d2.min(dx * dx + dy * dy);
                    }
                }
            }
            if (4..=36).contains(&d2) {
                sa += f64::from(la[y * w + x]);
                sb += f64::from(lb[y * w + x]);
                n += 1;
            }
        }
    }
    let energy = |l: &[f32]| fs_core::metrics::mean_gradient_energy(l, w, h, None);
    (sa / n as f64, sb / n as f64, energy(&la), energy(&lb))
}

/// On pcb, the default pipeline (alignment, balance, FocusMapStack) against
/// focus-stack's result: no bright rim around the pads and pins (the mean luma of a
/// ring 2 to 6 pixels outside the objects brighter than 75 % of full scale), and
/// about as sharp (mean gradient energy, each image resampled onto the other's
/// geometry in turn, as resampling softens the one moved; the geometric mean of the
/// two ratios). Reached: rim 92.1 against focus-stack's 104.1 at the pins, 119.3
/// against 132.0 over the whole board (focus-stack's result glows around
/// highlights; ours does not); sharpness 0.980 of focus-stack's at the pins, 0.977
/// over the board (its glow is gradient energy too), 3.4 times the sharpest frame.
#[test]
fn pcb_default_stacker_is_as_sharp_as_focus_stack_without_a_brighter_rim() {
    let Some((pcb, reference)) = pcb_and_reference() else {
        println!("FS_REAL_STACKS not set: skipping the pcb sharpness test");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    let a = FocusStack::new("default", Stacker::default())
        .input_path(&pcb)
        .align(AlignOptions::default())
        .balance(BalanceOptions::default());
    let s = StackJob::new("pcb", &work).add_action(a).run(&NoProgress).unwrap();
    let ours = read_frame(&s.actions[0].outputs[0]).unwrap();
    // (ours, reference) with the reference moved onto ours, then the other way.
    let (o1, r1, rect1) = matched(&ours, &reference);
    let (r2, o2, rect2) = matched(&reference, &ours);
    let (dx, dy) = ((2048 - ours.width()) / 2 + rect1.x, (1536 - ours.height()) / 2 + rect1.y);
    let pins = (1340, 790, 580, 320);
    let regions = [
        (
            "pins",
            (pins.0 - dx, pins.1 - dy, pins.2, pins.3),
            (pins.0 - rect2.x, pins.1 - rect2.y, pins.2, pins.3),
        ),
        ("board", (0, 0, o1.width(), o1.height()), (0, 0, o2.width(), o2.height())),
    ];
    for (name, region1, region2) in regions {
        let (rim_ours, rim_ref, e_o1, e_r1) = rim_and_sharpness(&o1, &r1, region1, 0.75 * 255.0);
        let (_, _, e_o2, e_r2) = rim_and_sharpness(&o2, &r2, region2, 0.75 * 255.0);
        let sharpness = ((e_o1 / e_r1) * (e_o2 / e_r2)).sqrt();
        eprintln!(
            "pcb {name}: rim luma {rim_ours:.1} vs focus-stack {rim_ref:.1}; sharpness \
             {sharpness:.3} of focus-stack's ({e_o1:.0}/{e_r1:.0}, {e_o2:.0}/{e_r2:.0})"
        );
        assert!(rim_ours < rim_ref - 5.0, "{name}: rim {rim_ours:.1} vs {rim_ref:.1}");
        assert!(sharpness > 0.96, "{name}: sharpness {sharpness:.3} of focus-stack's");
    }
    let l = fs_core::luma(&ours.to_image::<f32>());
    let e_ours = fs_core::metrics::mean_gradient_energy(&l, ours.width(), ours.height(), None);
    for p in fs_core::list_frames(&pcb).unwrap() {
        let f = read_frame(&p).unwrap();
        let l = fs_core::luma(&f.to_image::<f32>());
        let e = fs_core::metrics::mean_gradient_energy(&l, f.width(), f.height(), None);
        assert!(e_ours > 3.0 * e, "{}: {e:.1} vs the result's {e_ours:.1}", p.display());
    }
}

/// A project's BalanceFrames step without an AlignFrames step balances to its
/// `ref_idx`, not to the middle frame.
#[test]
fn a_project_balance_step_uses_its_ref_idx() {
    let (_t, work) = crate::common::workspace(3);
    for (ref_idx, file) in
        [("", "img1.png"), (r#", "ref_idx": 0"#, "img0.png"), (r#", "ref_idx": 2"#, "img2.png")]
    {
        let text = format!(
            r#"{{"version": 1, "project": [{{"type_name": "Job", "params": {{"name": "job", "input_path": "src"}},
              "sub_actions": [{{"type_name": "CombinedActions", "params": {{"name": "bal", "output_path": "bal"}}, "sub_actions": [
                {{"type_name": "BalanceFrames", "params": {{"channel": "BALANCE_RGB"{ref_idx}}}}}]}}]}}]}}"#
        );
        let loaded =
            parse_project(&text, &work, Path::new("p.fsp"), ProjectOptions::default()).unwrap();
        assert!(!loaded.warnings.iter().any(|w| w.contains("ref_idx")), "{:?}", loaded.warnings);
        let summary = loaded.jobs[0].run(&NoProgress).unwrap();
        let notes = &summary.actions[0].notes;
        assert!(notes.iter().any(|n| n.starts_with(&format!("balanced to {file}"))), "{notes:?}");
        assert_eq!(summary.actions[0].outputs.len(), 3);
    }
    let bad = r#"{"version": 1, "project": [{"type_name": "Job", "params": {"name": "job", "input_path": "src"},
      "sub_actions": [{"type_name": "CombinedActions", "params": {"name": "bal"}, "sub_actions": [
        {"type_name": "BalanceFrames", "params": {"ref_idx": -4}}]}]}]}"#;
    let e = parse_project(bad, &work, Path::new("p.fsp"), ProjectOptions::default()).unwrap_err();
    assert!(e.to_string().contains("ref_idx"), "{e}");
}
