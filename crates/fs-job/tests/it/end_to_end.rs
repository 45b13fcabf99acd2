//! Whole jobs on small stacks: chaining, naming, EXIF, post-filters, progress, cancel.

use fs_core::{
    BitDepth, CancelFlag, ChannelLayout, FileFormat, NoProgress, PixelFormat, Samples, read_frame,
};
use fs_job::{FocusStack, FocusStackBunch, JobError, MARKER, StackJob, Stacker};

use crate::common::*;

#[test]
fn two_stage_bunch_then_stack_names_and_chains_outputs() {
    let (_tmp, work) = workspace(7);
    let recorder = Recorder::default();
    let summary = StackJob::new("two-stage", &work)
        .input_path("src")
        .add_action(FocusStackBunch::new("bunches", Stacker::pyramid()).frames(3).overlap(1))
        .add_action(FocusStack::new("stack", Stacker::pyramid()).prefix("pyr_"))
        .run(&recorder)
        .unwrap();

    // Bunches [0..3], [2..5], [4..7], each named after its first frame.
    assert_eq!(names(&work.join("bunches")), [MARKER, "img0.png", "img2.png", "img4.png"]);
    assert_eq!(names(&work.join("stack")), [MARKER, "pyr_img0.png"]);
    let b = &summary.actions[0];
    assert_eq!(b.frames_read, 7);
    assert_eq!(b.input_dir, work.join("src"));
    assert_eq!(b.outputs, [0, 2, 4].map(|k| work.join(format!("bunches/img{k}.png"))));
    let s = &summary.actions[1];
    assert_eq!(s.input_dir, work.join("bunches"), "FocusStack reads the bunch outputs");
    assert_eq!(s.frames_read, 3);
    assert_eq!(summary.outputs().count(), 4);

    let out = read_frame(&work.join("stack/pyr_img0.png")).unwrap();
    assert_eq!(out.info(), frame(0, gray8()).info(), "output keeps the input's shape and format");

    // Progress: one phase per bunch counting its frames, then the final stack.
    let events = recorder.events.lock().unwrap().clone();
    let phases: Vec<(String, u64)> =
        events.iter().filter(|e| !e.0.starts_with("  ")).cloned().collect();
    let expected = [
        ("bunches: bunch 1/3", 3),
        ("bunches: bunch 2/3", 3),
        ("bunches: bunch 3/3", 3),
        ("stack: stack", 3),
    ];
    assert_eq!(phases, expected.map(|(n, t)| (n.to_string(), t)));
    let steps: Vec<u64> =
        events.iter().filter(|e| e.0 == "  step of stack: stack").map(|e| e.1).collect();
    assert_eq!(steps, [1, 2, 3]);
}

#[test]
fn stacking_identical_frames_returns_that_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    std::fs::create_dir(work.join("src")).unwrap();
    let f = frame(1, rgb8());
    for k in 0..4 {
        let p = work.join(format!("src/f{k}.png"));
        fs_core::write_frame(&p, &f, &fs_core::WriteOptions::default()).unwrap();
    }
    StackJob::new("same", &work)
        .input_path("src")
        .add_action(FocusStack::new("out", Stacker::pyramid()))
        .run(&NoProgress)
        .unwrap();
    let out = read_frame(&work.join("out/f0.png")).unwrap();
    assert!(max_diff(&out, &f) <= 1, "diff {}", max_diff(&out, &f));
}

#[test]
fn single_frame_is_copied_through_or_filtered() {
    let (_tmp, work) = workspace(1);
    StackJob::new("one", &work)
        .input_path("src")
        .add_action(FocusStack::new("copy", Stacker::pyramid()))
        .add_action(
            FocusStack::new("filtered", Stacker::pyramid())
                .input_path("src")
                .sharpen_amount_percent(100.0)
                .prefix("s_"),
        )
        .run(&NoProgress)
        .unwrap();
    let src = std::fs::read(work.join("src/img0.png")).unwrap();
    assert_eq!(std::fs::read(work.join("copy/img0.png")).unwrap(), src, "byte-identical copy");
    let filtered = read_frame(&work.join("filtered/s_img0.png")).unwrap();
    assert_eq!(filtered.info(), frame(0, gray8()).info());
}

#[test]
fn exif_comes_from_the_exif_source() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    write_stack(&work.join("src"), 4, "jpg", rgb8(), Some("cam"));
    write_stack(&work.join("other"), 2, "jpg", rgb8(), Some("other"));
    assert_eq!(make_of(&work.join("src/img1.jpg")).as_deref(), Some("cam-1"), "test setup");
    StackJob::new("exif", &work)
        .input_path("src")
        .add_action(FocusStackBunch::new("bunches", Stacker::pyramid()).frames(2))
        .add_action(FocusStack::new("default", Stacker::pyramid()))
        .add_action(FocusStack::new("none", Stacker::pyramid()).input_path("src").exif_path(""))
        .add_action(
            FocusStack::new("chosen", Stacker::pyramid()).input_path("src").exif_path("other"),
        )
        .run(&NoProgress)
        .unwrap();
    // Bunches take their own first frame's EXIF (the exif folder is their input).
    assert_eq!(make_of(&work.join("bunches/img0.jpg")).as_deref(), Some("cam-0"));
    assert_eq!(make_of(&work.join("bunches/img2.jpg")).as_deref(), Some("cam-2"));
    // After bunches, the default is the first action's source folder's first frame.
    assert_eq!(make_of(&work.join("default/img0.jpg")).as_deref(), Some("cam-0"));
    assert_eq!(make_of(&work.join("none/img0.jpg")), None);
    assert_eq!(make_of(&work.join("chosen/img0.jpg")).as_deref(), Some("other-0"));
}

#[test]
fn disabled_action_is_skipped_and_chaining_passes_over_it() {
    let (_tmp, work) = workspace(4);
    let summary = StackJob::new("skip", &work)
        .input_path("src")
        .add_action(FocusStackBunch::new("bunches", Stacker::pyramid()).frames(2))
        .add_action(FocusStack::new("off", Stacker::pyramid()).enabled(false))
        .add_action(FocusStack::new("stack", Stacker::pyramid()))
        .run(&NoProgress)
        .unwrap();
    assert!(!work.join("off").exists());
    assert!(!summary.actions[1].enabled);
    assert!(summary.actions[1].outputs.is_empty());
    assert_eq!(summary.actions[2].input_dir, work.join("bunches"));
    assert_eq!(names(&work.join("stack")), [MARKER, "img0.png"]);
}

#[test]
fn output_format_changes_extension_and_sixteen_bit_jpeg_is_eight_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    let rgb16 = PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Sixteen };
    write_stack(&work.join("src"), 3, "tif", rgb16, None);
    StackJob::new("fmt", &work)
        .input_path("src")
        .add_action(FocusStack::new("png", Stacker::pyramid()).output_format(FileFormat::Png))
        .add_action(
            FocusStack::new("jpg", Stacker::pyramid())
                .input_path("src")
                .output_format(FileFormat::Jpeg),
        )
        .run(&NoProgress)
        .unwrap();
    let png = read_frame(&work.join("png/img0.png")).unwrap();
    assert_eq!(png.format(), rgb16);
    let jpg = read_frame(&work.join("jpg/img0.jpg")).unwrap();
    assert_eq!(jpg.format().depth, BitDepth::Eight);
    assert!(matches!(jpg.samples(), Samples::U8(_)));
}

#[test]
fn relative_action_working_path_is_inside_the_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    write_stack(&work.join("session/src"), 2, "png", gray8(), None);
    let summary = StackJob::new("rel", &work)
        .add_action(
            FocusStack::new("stack", Stacker::pyramid()).working_path("session").input_path("src"),
        )
        .run(&NoProgress)
        .unwrap();
    assert_eq!(summary.actions[0].outputs, [work.join("session/stack/img0.png")]);
}

#[test]
fn scratch_empties_only_image_and_temporary_files_of_an_owned_folder() {
    let (_tmp, work) = workspace(2);
    let job = StackJob::new("scratch", &work)
        .input_path("src")
        .add_action(FocusStack::new("out", Stacker::pyramid()).prefix("a_"));
    job.run(&NoProgress).unwrap();
    let out = work.join("out");
    std::fs::write(out.join("old.png"), b"stale").unwrap();
    std::fs::write(out.join(".fstack-x.partial"), b"stale").unwrap();
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    std::fs::create_dir(out.join("sub")).unwrap();
    std::fs::write(out.join("sub/keep.png"), b"mine").unwrap();
    job.run(&NoProgress).unwrap();
    assert_eq!(names(&out), [MARKER, "a_img0.png", "notes.txt", "sub"]);
    assert!(out.join("sub/keep.png").is_file());

    // Without scratch, older outputs stay beside the new ones.
    std::fs::write(out.join("old.png"), b"stale").unwrap();
    StackJob::new("keep", &work)
        .input_path("src")
        .add_action(FocusStack::new("out", Stacker::pyramid()).scratch_output_dir(false))
        .run(&NoProgress)
        .unwrap();
    assert_eq!(names(&out), [MARKER, "a_img0.png", "img0.png", "notes.txt", "old.png", "sub"]);
}

#[test]
fn delete_output_at_end_removes_only_that_folder_after_the_job() {
    let (_tmp, work) = workspace(4);
    let summary = StackJob::new("del", &work)
        .input_path("src")
        .add_action(
            FocusStackBunch::new("bunches", Stacker::pyramid())
                .frames(2)
                .delete_output_at_end(true),
        )
        .add_action(FocusStack::new("stack", Stacker::pyramid()))
        .run(&NoProgress)
        .unwrap();
    assert!(!work.join("bunches").exists());
    assert!(summary.actions[0].output_deleted);
    assert_eq!(summary.actions[0].outputs.len(), 2, "the summary still says what was written");
    assert_eq!(summary.outputs().collect::<Vec<_>>(), [work.join("stack/img0.png")]);
    assert_eq!(names(&work.join("src")).len(), 4);

    // In a folder fstack does not own, only the files the run wrote go.
    std::fs::create_dir(work.join("bunches")).unwrap();
    std::fs::write(work.join("bunches/readme.txt"), b"mine").unwrap();
    let summary = StackJob::new("del", &work)
        .input_path("src")
        .add_action(
            FocusStackBunch::new("bunches", Stacker::pyramid())
                .frames(2)
                .delete_output_at_end(true)
                .scratch_output_dir(false),
        )
        .run(&NoProgress)
        .unwrap();
    assert!(!summary.actions[0].output_deleted);
    assert_eq!(names(&work.join("bunches")), ["readme.txt"]);
}

#[test]
fn cancel_leaves_no_partial_output_and_no_temporary_files() {
    let (_tmp, work) = workspace(5);
    let recorder = Recorder { cancel_at: Some(("stack: stack".into(), 2)), ..Recorder::default() };
    let err = StackJob::new("cancel", &work)
        .input_path("src")
        .add_action(FocusStack::new("stack", Stacker::pyramid()))
        .run(&recorder)
        .unwrap_err();
    assert!(matches!(err, JobError::Cancelled { ref action, .. } if action == "stack"), "{err}");
    // The folder it created for the output that never came is removed.
    assert!(!work.join("stack").exists(), "no empty output folder left");

    // A flag set before the run stops it before anything is written.
    let flag = CancelFlag::new();
    flag.cancel();
    let err = StackJob::new("cancel", &work)
        .input_path("src")
        .add_action(FocusStack::new("stack2", Stacker::pyramid()))
        .run(&flag)
        .unwrap_err();
    assert!(err.is_cancelled());
    assert!(!work.join("stack2").exists());
}

#[test]
fn a_corrupt_frame_fails_naming_the_file_and_leaves_nothing_behind() {
    let (_tmp, work) = workspace(4);
    // Valid header, truncated data: passes the header check, fails when decoded.
    let bytes = std::fs::read(work.join("src/img2.png")).unwrap();
    std::fs::write(work.join("src/img2.png"), &bytes[..bytes.len() / 2]).unwrap();
    let err = StackJob::new("corrupt", &work)
        .input_path("src")
        .add_action(FocusStackBunch::new("bunches", Stacker::pyramid()).frames(2))
        .run(&NoProgress)
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("bunches") && msg.contains("img2.png"), "{msg}");
    // The first bunch was complete and stays; the failed one left nothing.
    assert_eq!(names(&work.join("bunches")), [MARKER, "img0.png"]);
}

#[test]
fn two_stage_stack_of_a_synthetic_scene_is_sharper_than_every_frame() {
    use fs_core::synth::{SynthOptions, SynthStack};
    use fs_core::{Image, WriteOptions, metrics::psnr, write_frame};

    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    let synth = SynthStack::new(SynthOptions {
        width: 128,
        height: 96,
        frames: 6,
        noise_sigma: 0.0,
        ..SynthOptions::default()
    })
    .unwrap();
    std::fs::create_dir(work.join("src")).unwrap();
    for k in 0..6 {
        let path = work.join(format!("src/frame{k}.png"));
        write_frame(&path, &synth.frame(k), &WriteOptions::default()).unwrap();
    }
    StackJob::new("synth", &work)
        .input_path("src")
        .add_action(FocusStackBunch::new("bunches", Stacker::pyramid()).frames(3).overlap(1))
        .add_action(FocusStack::new("stack", Stacker::pyramid()))
        .run(&NoProgress)
        .unwrap();
    let truth: Image<f32> = synth.truth().to_image();
    let out: Image<f32> = read_frame(&work.join("stack/frame0.png")).unwrap().to_image();
    let stacked = psnr(&out, &truth, 255.0);
    let best_frame =
        (0..6).map(|k| psnr(&synth.frame(k).to_image(), &truth, 255.0)).fold(0.0, f64::max);
    // Measured: 24.2 dB stacked, 15.4 dB for the best frame.
    assert!(stacked > best_frame + 6.0, "stacked {stacked:.2} dB, best frame {best_frame:.2} dB");
}

#[test]
fn post_filters_run_denoise_then_sharpen_with_the_filters_own_results() {
    use fs_core::Image;
    use fs_filters::{NlMeansOptions, UnsharpOptions, nl_means_denoise, unsharp_mask};

    let (_tmp, work) = workspace(1);
    StackJob::new("filters", &work)
        .input_path("src")
        .add_action(
            FocusStack::new("out", Stacker::pyramid())
                .denoise_amount(12.0)
                .sharpen_amount_percent(150.0)
                .sharpen_radius(1.5)
                .sharpen_threshold(2.0),
        )
        .run(&NoProgress)
        .unwrap();
    let src = read_frame(&work.join("src/img0.png")).unwrap();
    let img: Image<f32> = src.to_image();
    let denoised =
        nl_means_denoise(&img, gray8(), &NlMeansOptions { h: 12.0, ..Default::default() }).unwrap();
    let sharpen = UnsharpOptions { amount_percent: 150.0, radius: 1.5, threshold: 2.0 };
    let expected = unsharp_mask(&denoised, gray8(), &sharpen).unwrap();
    let expected = fs_core::Frame::from_image(&expected, gray8()).unwrap();
    let out = read_frame(&work.join("out/img0.png")).unwrap();
    assert_eq!(out.samples(), expected.samples());
    assert!(max_diff(&out, &src) > 10, "the filters changed the image");
}

/// A job on the first frames of a real camera stack: shape and EXIF carried through.
#[test]
fn real_stack_job_keeps_shape_and_exif() {
    let Some(root) = std::env::var_os("FS_REAL_STACKS") else {
        println!("FS_REAL_STACKS not set: skipping the real-stack job test");
        return;
    };
    let amber = std::path::Path::new(&root).join("amber");
    assert!(amber.is_dir(), "FS_REAL_STACKS is set but {} is missing", amber.display());
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    std::fs::create_dir(work.join("src")).unwrap();
    for name in ["0000.jpg", "0001.jpg", "0002.jpg"] {
        std::fs::copy(amber.join(name), work.join("src").join(name)).unwrap();
    }
    let summary = StackJob::new("amber", &work)
        .input_path("src")
        .add_action(
            FocusStackBunch::new("bunches", Stacker::pyramid())
                .frames(2)
                .overlap(1)
                .delete_output_at_end(true),
        )
        .add_action(FocusStack::new("stack", Stacker::pyramid()).prefix("fs_"))
        .run(&NoProgress)
        .unwrap();
    let out = work.join("stack/fs_0000.jpg");
    assert_eq!(summary.outputs().collect::<Vec<_>>(), [out.as_path()]);
    let src = read_frame(&work.join("src/0000.jpg")).unwrap();
    let stacked = read_frame(&out).unwrap();
    assert_eq!(stacked.info(), src.info());
    assert!(src.metadata.exif.is_some(), "amber frames carry EXIF");
    let make = make_of(&work.join("src/0000.jpg"));
    assert!(make.is_some(), "amber frames name their camera");
    assert_eq!(make_of(&out), make);
    assert!(!work.join("bunches").exists());
}
