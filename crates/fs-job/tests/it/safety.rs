//! Every refusal happens before anything is read or written, and names the action
//! and the option or folder.

use std::path::Path;

use fs_core::NoProgress;
use fs_job::{FocusStack, FocusStackBunch, JobError, StackJob, Stacker};

use crate::common::*;

/// Runs `job`, expects an error, and checks that nothing was written anywhere.
fn refused(work: &Path, job: StackJob) -> JobError {
    let before = tree(work);
    let err = job.run(&NoProgress).unwrap_err();
    assert_eq!(tree(work), before, "a refused job must not touch the disk ({err})");
    err
}

fn tree(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let len = std::fs::metadata(&p).unwrap().len();
            out.push((p.display().to_string(), if p.is_dir() { 0 } else { len }));
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn stack(name: &str) -> FocusStack {
    FocusStack::new(name, Stacker::pyramid())
}

fn unsafe_output(err: &JobError) -> (&str, &str, &str) {
    match err {
        JobError::UnsafeOutput { action, relation, what, .. } => (action, relation, what),
        other => panic!("expected UnsafeOutput, got {other}"),
    }
}

#[test]
fn output_equal_to_inside_or_above_an_input_is_refused() {
    let (_tmp, work) = workspace(2);
    std::fs::create_dir_all(work.join("a/src")).unwrap();
    write_stack(&work.join("a/src"), 2, "png", gray8(), None);

    let job = StackJob::new("j", &work).input_path("src").add_action(stack("s").output_path("src"));
    let err = refused(&work, job);
    assert_eq!(unsafe_output(&err), ("s", "is", "input folder (its own)"));
    assert!(err.to_string().starts_with("action `s`: refusing output folder"), "{err}");

    let job =
        StackJob::new("j", &work).add_action(stack("s").input_path("src").output_path("src/out"));
    assert_eq!(unsafe_output(&refused(&work, job)).1, "lies inside");

    let job = StackJob::new("j", &work).add_action(stack("s").input_path("a/src").output_path("a"));
    assert_eq!(unsafe_output(&refused(&work, job)).1, "lies above");

    // Another action's input counts too, before or after this one.
    let job = StackJob::new("j", &work)
        .add_action(stack("first").input_path("src"))
        .add_action(stack("second").input_path("a/src").output_path("src"));
    assert_eq!(unsafe_output(&refused(&work, job)), ("second", "is", "input folder (`first`'s)"));

    // Written with `..` and `.`, the same folder is still recognised.
    let job = StackJob::new("j", &work)
        .add_action(stack("s").input_path("src").output_path("a/../src/."));
    assert_eq!(unsafe_output(&refused(&work, job)).1, "is");
}

#[test]
fn output_equal_to_or_above_the_working_folder_is_refused() {
    let (_tmp, work) = workspace(2);
    let job = StackJob::new("j", &work).input_path("src").add_action(stack("s").output_path("."));
    assert_eq!(unsafe_output(&refused(&work, job)), ("s", "is", "job's working folder"));
    let job = StackJob::new("j", &work).input_path("src").add_action(stack("s").output_path(".."));
    assert_eq!(unsafe_output(&refused(&work, job)).1, "lies above");
    std::fs::create_dir(work.join("session")).unwrap();
    let job = StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("s").working_path("session").output_path("."));
    assert_eq!(unsafe_output(&refused(&work, job)).2, "working folder");
}

#[test]
fn output_equal_to_the_exif_folder_is_refused() {
    let (_tmp, work) = workspace(2);
    write_stack(&work.join("meta"), 1, "png", gray8(), None);
    let job = StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("s").exif_path("meta").output_path("meta"));
    assert!(unsafe_output(&refused(&work, job)).2.starts_with("exif_path folder"));
}

#[test]
fn shared_output_folders_that_would_be_emptied_or_deleted_are_refused() {
    let (_tmp, work) = workspace(2);
    let job = StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("a").output_path("out"))
        .add_action(stack("b").input_path("src").output_path("out"));
    assert!(unsafe_output(&refused(&work, job)).2.starts_with("output folder of `a`"));
    let job = StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("a").output_path("out").delete_output_at_end(true))
        .add_action(stack("b").input_path("src").output_path("out").scratch_output_dir(false));
    unsafe_output(&refused(&work, job));
    // Two actions writing one folder without emptying it is allowed.
    StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("a").output_path("out").prefix("a_"))
        .add_action(stack("b").input_path("src").output_path("out").scratch_output_dir(false))
        .run(&NoProgress)
        .unwrap();
    assert_eq!(names(&work.join("out")), [fs_job::MARKER, "a_img0.png", "img0.png"]);
}

#[test]
fn scratch_of_a_folder_fstack_does_not_own_is_refused_before_anything_runs() {
    let (_tmp, work) = workspace(2);
    std::fs::create_dir(work.join("mine")).unwrap();
    std::fs::write(work.join("mine/photo.png"), b"precious").unwrap();
    let job = StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("first"))
        .add_action(stack("second").input_path("src").output_path("mine"));
    let err = refused(&work, job);
    assert!(matches!(&err, JobError::NotOwned { action, files: 1, .. } if action == "second"));
    assert!(err.to_string().contains("scratch_output_dir"), "{err}");
    assert!(!work.join("first").exists(), "nothing ran");
    // Writing there without scratching is allowed and leaves the file alone.
    StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("s").output_path("mine").scratch_output_dir(false))
        .run(&NoProgress)
        .unwrap();
    assert_eq!(names(&work.join("mine")), ["img0.png", "photo.png"]);
    assert_eq!(std::fs::read(work.join("mine/photo.png")).unwrap(), b"precious");
}

#[test]
fn missing_input_and_bad_options_are_refused_naming_action_and_option() {
    let (_tmp, work) = workspace(3);
    let err = refused(&work, StackJob::new("j", &work).add_action(stack("s")));
    assert_eq!(
        err.to_string(),
        "action `s`: no input folder: set `input_path` on the job or on its first action"
    );

    let err = refused(&work, StackJob::new("j", &work).input_path("nope").add_action(stack("s")));
    assert!(matches!(&err, JobError::MissingFolder { option: "input_path", .. }), "{err}");

    let job = StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("first"))
        .add_action(FocusStackBunch::new("b", Stacker::pyramid()).frames(3).overlap(3));
    let err = refused(&work, job);
    assert!(
        matches!(&err, JobError::InvalidOption { action, option, .. }
        if action == "b" && option == "overlap"),
        "{err}"
    );

    let job = StackJob::new("j", &work).input_path("src").add_action(FocusStack::new(
        "p",
        Stacker::Pyramid(fs_job::PyramidOptions { pyramid_min_size: 0, ..Default::default() }),
    ));
    let err = refused(&work, job);
    assert!(matches!(&err, JobError::InvalidOption { option, .. } if option == "pyramid_min_size"));

    let rgba = fs_core::PixelFormat {
        layout: fs_core::ChannelLayout::Rgba,
        depth: fs_core::BitDepth::Eight,
    };
    write_stack(&work.join("alpha"), 2, "png", rgba, None);
    let job = StackJob::new("j", &work)
        .add_action(stack("a").input_path("alpha").output_format(fs_core::FileFormat::Jpeg));
    let err = refused(&work, job);
    assert_eq!(
        err.to_string(),
        "action `a`: invalid option `output_format`: JPEG cannot hold the alpha channel of \
         these 24x16 RGBA 8-bit frames"
    );

    // Post-filter ranges come from fs-filters, by the seed's names.
    let job = StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("f").sharpen_amount_percent(50.0).sharpen_threshold(300.0));
    let err = refused(&work, job);
    assert!(
        matches!(&err, JobError::InvalidOption { action, option, .. }
        if action == "f" && option == "sharpen_threshold"),
        "{err}"
    );

    let err = refused(
        &work,
        StackJob::new("j", &work).input_path("src").add_action(stack("s").exif_path("gone")),
    );
    assert!(matches!(&err, JobError::MissingFolder { option: "exif_path", .. }), "{err}");

    let err = refused(&work, StackJob::new("j", work.join("absent")).add_action(stack("s")));
    assert!(matches!(&err, JobError::MissingFolder { option: "working_path", .. }), "{err}");

    let err = refused(&work, StackJob::new("j", &work).input_path("src"));
    assert_eq!(err.to_string(), "job: invalid option `actions`: the job has no actions");
    let job = StackJob::new("j", &work).input_path("src").jpeg_quality(0).add_action(stack("s"));
    assert_eq!(
        refused(&work, job).to_string(),
        "job: invalid option `jpeg_quality`: must be 1..=100, got 0"
    );
}

#[test]
fn bad_frames_are_found_from_headers_before_anything_runs() {
    let (_tmp, work) = workspace(3);
    std::fs::create_dir(work.join("empty")).unwrap();
    let job = StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("first"))
        .add_action(stack("second").input_path("empty"));
    let err = refused(&work, job);
    assert!(matches!(
        &err,
        JobError::Frames { source: fs_core::CoreError::EmptyFolder { .. }, .. }
    ));

    // A frame of another size: named, with both shapes.
    let mut big = frame(0, gray8());
    big = fs_core::Frame::new(
        fs_core::FrameInfo { width: 8, height: 8, format: big.format() },
        fs_core::Samples::U8(vec![1; 64]),
    )
    .unwrap();
    fs_core::write_frame(&work.join("src/img9.png"), &big, &Default::default()).unwrap();
    let err = refused(&work, StackJob::new("j", &work).input_path("src").add_action(stack("s")));
    let msg = err.to_string();
    assert!(msg.contains("img9.png") && msg.contains("8x8") && msg.contains("24x16"), "{msg}");
}

/// Two actions writing the same file in one run: the second is refused before it
/// writes, naming the file and the first action, even with `Overwrite::Replace`
/// (the library's default); the first action's output is kept as written. With
/// `Overwrite::Refuse`, a plot that exists from an earlier run is kept too.
#[test]
fn a_run_never_writes_a_file_twice_nor_replaces_a_side_output_without_replace() {
    let (_tmp, work) = workspace(2);
    let job = StackJob::new("j", &work)
        .input_path("src")
        .add_action(stack("a").output_path("out"))
        .add_action(stack("b").input_path("src").output_path("out").scratch_output_dir(false));
    let err = job.run(&NoProgress).unwrap_err();
    let text = err.to_string();
    let out = work.join("out/img0.png");
    assert!(matches!(err, JobError::Clash { .. }), "{text}");
    assert!(
        text.contains(&format!("refusing to write {}", out.display()))
            && text.contains("already written by action `a` in this run"),
        "{text}"
    );
    assert_eq!(names(&work.join("out")), [fs_job::MARKER, "img0.png"], "no leftover");

    // A depth map already in the plot folder: kept without Replace, the action fails
    // naming it; replaced with Replace.
    let plots = work.join("plots");
    std::fs::create_dir(&plots).unwrap();
    let map = plots.join("d-depth-map.png");
    std::fs::write(&map, b"theirs").unwrap();
    let depth = |overwrite| {
        StackJob::new("j", &work)
            .input_path("src")
            .overwrite(overwrite)
            .add_action(
                FocusStack::new(
                    "d",
                    Stacker::DepthMap(fs_job::DepthMapOptions {
                        plot_depth_map: true,
                        ..Default::default()
                    }),
                )
                .output_path("dm")
                .plot_path("plots"),
            )
            .run(&NoProgress)
    };
    let err = depth(fs_core::Overwrite::Refuse).unwrap_err().to_string();
    assert!(err.contains(&format!("{}: already exists", map.display())), "{err}");
    assert_eq!(std::fs::read(&map).unwrap(), b"theirs");
    assert_eq!(names(&plots), ["d-depth-map.png"], "no leftover");
    depth(fs_core::Overwrite::Replace).unwrap();
    assert_eq!(fs_core::read_frame(&map).unwrap().width(), W);
}
