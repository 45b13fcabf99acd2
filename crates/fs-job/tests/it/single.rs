//! One stack outside a job: `stack_files` and `stack_frames` give the pixels a
//! FocusStack action writes, with and without alignment; bad input is refused with
//! the file or the option named.

use std::path::PathBuf;

use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{Frame, NoProgress, WriteOptions, read_frame, write_frame};
use fs_job::{
    ActionOptions, FocusStack, JobError, StackJob, StackSpec, Stacker, stack_files, stack_frames,
};

fn stack() -> SynthStack {
    SynthStack::new(SynthOptions {
        width: 160,
        height: 120,
        frames: 5,
        breathing: 0.01,
        shift: 2.0,
        lens_blur: 1.0,
        ..SynthOptions::default()
    })
    .unwrap()
}

/// The stack's frames as PNG files in `<tmp>/src`.
fn files(stack: &SynthStack) -> (tempfile::TempDir, Vec<PathBuf>) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("src")).unwrap();
    let paths: Vec<PathBuf> = (0..stack.frame_count())
        .map(|k| {
            let path = tmp.path().join(format!("src/f{k}.png"));
            write_frame(&path, &stack.frame(k), &WriteOptions::default()).unwrap();
            path
        })
        .collect();
    (tmp, paths)
}

/// What a one-action job with `spec` writes for the folder `<tmp>/src`.
fn job_output(tmp: &std::path::Path, spec: &StackSpec) -> Frame {
    let options = ActionOptions { input_path: Some("src".into()), ..spec.options.clone() };
    let job = StackJob::new("job", tmp)
        .add_action(FocusStack::new("stack", spec.stacker.clone()).options(options));
    let summary = job.run(&NoProgress).unwrap();
    read_frame(&summary.actions[0].outputs[0]).unwrap()
}

#[test]
fn files_and_frames_give_the_pixels_of_a_job() {
    let stack = stack();
    let (tmp, paths) = files(&stack);
    let decoded: Vec<Frame> = paths.iter().map(|p| read_frame(p).unwrap()).collect();
    for spec in [
        StackSpec::default(),
        StackSpec::like_cli(Stacker::default()),
        StackSpec::like_cli(Stacker::pyramid()),
        StackSpec { stacker: Stacker::depth_map(), ..StackSpec::default() },
    ] {
        let expected = job_output(tmp.path(), &spec);
        let from_files = stack_files(&paths, &spec, &NoProgress).unwrap();
        let from_memory = stack_frames(&decoded, &spec, &NoProgress).unwrap();
        let what = format!("{} aligned={}", spec.stacker.name(), spec.options.align.is_some());
        assert_eq!(from_files.image.samples(), expected.samples(), "{what}: files");
        assert_eq!(from_memory.image.samples(), expected.samples(), "{what}: frames");
        assert_eq!(from_files.frames, 5);
        if spec.options.align.is_some() {
            assert_eq!(from_files.alignment.len(), 5);
            assert!(from_files.notes.iter().any(|n| n.starts_with("aligned 5 frames to f2.png")));
            assert!(from_memory.notes.iter().any(|n| n.starts_with("aligned 5 frames to frame 2")));
            // Cropped to the area every frame covers.
            assert!(from_files.image.width() < 160, "{what}");
        }
    }
}

#[test]
fn maps_and_post_filters_come_back_with_the_image() {
    let stack = stack();
    let (_tmp, paths) = files(&stack);
    let mut spec = StackSpec {
        stacker: Stacker::FocusMap(fs_job::FocusMapOptions {
            depth_map: true,
            confidence_map: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let plain = stack_files(&paths, &spec, &NoProgress).unwrap();
    let depth = plain.depth_map.as_ref().expect("a depth map");
    assert_eq!((depth.width(), depth.height()), (160, 120));
    assert!(plain.confidence_map.is_some());
    spec.options.sharpen_amount_percent = 80.0;
    let sharpened = stack_files(&paths, &spec, &NoProgress).unwrap();
    assert_ne!(sharpened.image.samples(), plain.image.samples());
    assert_eq!(sharpened.image.info(), plain.image.info());
}

#[test]
fn bad_input_is_refused_naming_the_file_or_option() {
    let stack = stack();
    let (tmp, mut paths) = files(&stack);
    let spec = StackSpec::default();

    let none: Vec<Frame> = Vec::new();
    let e = stack_frames(&none, &spec, &NoProgress).unwrap_err().to_string();
    assert!(e.contains("at least one frame"), "{e}");

    let mut frames: Vec<Frame> = (0..3).map(|k| stack.frame(k)).collect();
    frames.push(
        Frame::from_image(
            &frames[0].to_image::<f32>().crop(0, 0, 80, 60).unwrap(),
            frames[0].format(),
        )
        .unwrap(),
    );
    let e = stack_frames(&frames, &spec, &NoProgress).unwrap_err().to_string();
    assert!(e.contains("frame 3 is 80x60"), "{e}");

    let bad = StackSpec {
        options: ActionOptions { sharpen_radius: -1.0, ..Default::default() },
        ..spec.clone()
    };
    let e = stack_files(&paths, &bad, &NoProgress).unwrap_err();
    assert!(
        matches!(&e, JobError::InvalidOption { option, .. } if option == "sharpen_radius"),
        "{e}"
    );

    let broken = tmp.path().join("src/f9.png");
    let bytes = std::fs::read(&paths[0]).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    paths.push(broken.clone());
    let e = stack_files(&paths, &spec, &NoProgress).unwrap_err().to_string();
    assert!(e.contains(&broken.display().to_string()), "{e}");
}
