//! One stack into a file as `fstack stack` runs it ([`StackRun`]): the pixels of a
//! one-action job, the output placed only where allowed, the work folder gone on
//! every path, errors naming the files the caller gave.

use std::path::{Path, PathBuf};

use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{NoProgress, WriteOptions, read_frame, write_frame};
use fs_job::{ActionOptions, ExifSource, JobError, StackRun, Stacker};

fn frames(dir: &Path) -> Vec<PathBuf> {
    let stack = SynthStack::new(SynthOptions {
        width: 96,
        height: 64,
        frames: 3,
        ..SynthOptions::default()
    })
    .unwrap();
    std::fs::create_dir(dir.join("src")).unwrap();
    (0..stack.frame_count())
        .map(|k| {
            let path = dir.join(format!("src/f{k}.png"));
            write_frame(&path, &stack.frame(k), &WriteOptions::default()).unwrap();
            path
        })
        .collect()
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

#[test]
fn writes_the_output_once_and_leaves_no_work_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = frames(tmp.path());
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let output = out_dir.join("stacked.png");
    let run = StackRun::new(paths.clone(), output.clone(), Stacker::pyramid(), Default::default());
    assert_eq!(run.exif, ExifSource::FirstFrame);
    let result = run.run(&NoProgress).unwrap();
    assert_eq!(result.outputs, std::slice::from_ref(&output));
    assert_eq!(names(&out_dir), ["stacked.png"]);
    let first = std::fs::read(&output).unwrap();
    assert_eq!(read_frame(&output).unwrap().info().width, 96);

    // Without overwrite an existing output is an error and stays as it was.
    std::fs::write(&output, b"mine").unwrap();
    let e = run.run(&NoProgress).unwrap_err();
    assert!(e.to_string().contains("stacked.png"), "{e}");
    assert_eq!(std::fs::read(&output).unwrap(), b"mine");
    assert_eq!(names(&out_dir), ["stacked.png"]);

    // With it, replaced: the same bytes as the first run (one path, one result).
    let run = StackRun { overwrite: true, ..run };
    run.run(&NoProgress).unwrap();
    assert_eq!(std::fs::read(&output).unwrap(), first);
    assert_eq!(names(&out_dir), ["stacked.png"]);
}

#[test]
fn errors_name_the_given_frame_not_its_link() {
    let tmp = tempfile::tempdir().unwrap();
    let mut paths = frames(tmp.path());
    let bytes = std::fs::read(&paths[1]).unwrap();
    let broken = tmp.path().join("src/broken.png");
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    paths.push(broken.clone());
    let output = tmp.path().join("stacked.png");
    let options = ActionOptions { crop: false, ..Default::default() };
    let e = StackRun::new(paths, output.clone(), Stacker::default(), options)
        .run(&NoProgress)
        .unwrap_err();
    assert!(matches!(e, JobError::Frames { .. }), "{e}");
    let message = e.to_string();
    assert!(message.contains(&broken.display().to_string()), "{message}");
    assert!(!message.contains(".fstack-"), "{message}");
    assert!(!output.exists());
    assert_eq!(names(tmp.path()), ["src"]);
}
