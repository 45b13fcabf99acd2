//! The default stacker, FocusMapStack, inside jobs: it is what an action gets without
//! a stacker, its options and errors arrive, its maps are written as plots.
//!
//! The method itself lives in fs-focusmap; the tests that measure its images (PSNR
//! against the truth, the maps' contents) say so in their names.

use std::path::PathBuf;

use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{BitDepth, ChannelLayout, NoProgress, WriteOptions, read_frame, write_frame};
use fs_job::{
    AlignOptions, DepthMapOptions, FocusMapOptions, FocusStack, FocusStackBunch, PyramidOptions,
    StackJob, Stacker,
};

use crate::common::Recorder;
use crate::stackers::{FRAMES, best_frame_psnr, psnr_of, synth_workspace, synth_workspace_of};

/// A working folder with a small stack that breathes and shifts, in `src`.
fn moving_workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    let options = SynthOptions {
        width: 192,
        height: 144,
        frames: 4,
        breathing: 0.03,
        shift: 4.0,
        ..SynthOptions::default()
    };
    let stack = SynthStack::new(options).unwrap();
    std::fs::create_dir(work.join("src")).unwrap();
    for k in 0..stack.frame_count() {
        let path = work.join(format!("src/frame{k}.png"));
        write_frame(&path, &stack.frame(k), &WriteOptions::default()).unwrap();
    }
    (tmp, work)
}

fn with_maps() -> Stacker {
    Stacker::FocusMap(FocusMapOptions {
        depth_map: true,
        confidence_map: true,
        ..FocusMapOptions::default()
    })
}

#[test]
fn the_default_stacker_stacks_a_job_and_its_bunches() {
    let (_tmp, work, synth) = synth_workspace();
    let summary = StackJob::new("fm", &work)
        .input_path("src")
        .add_action(FocusStack::new("stack", Stacker::default()).sharpen_amount_percent(50.0))
        .add_action(FocusStackBunch::new("bunches", Stacker::default()).input_path("src").frames(4))
        .run(&NoProgress)
        .unwrap();
    let info = synth.frame(0).info();
    let out = read_frame(&work.join("stack/frame0.png")).unwrap();
    assert_eq!(out.info(), info, "the input's size and format");
    // Bunches 0..4 and 4..6, one output each.
    assert_eq!(
        summary.actions[1].outputs,
        [work.join("bunches/frame0.png"), work.join("bunches/frame4.png")]
    );
    for a in &summary.actions {
        assert!(a.plots.is_empty() && a.notes.is_empty(), "{}: no maps asked", a.name);
        assert_eq!(a.frames_read, FRAMES);
    }
}

#[test]
fn a_tight_memory_limit_decodes_one_frame_at_a_time_says_so_and_changes_no_pixel() {
    let (_tmp, work, _synth) = synth_workspace();
    let tight =
        Stacker::FocusMap(FocusMapOptions { memory_limit: 64 << 20, ..FocusMapOptions::default() });
    let summary = StackJob::new("fm", &work)
        .input_path("src")
        .add_action(FocusStack::new("roomy", Stacker::default()))
        .add_action(FocusStack::new("tight", tight).input_path("src"))
        .run(&NoProgress)
        .unwrap();
    let roomy = read_frame(&work.join("roomy/frame0.png")).unwrap();
    let lean = read_frame(&work.join("tight/frame0.png")).unwrap();
    assert_eq!(lean.samples(), roomy.samples());
    assert!(summary.actions[0].notes.is_empty(), "{:?}", summary.actions[0].notes);
    let notes = &summary.actions[1].notes;
    assert!(
        notes.len() == 1
            && notes[0].starts_with(
                "FocusMapStack: frames decoded one at a time, peak search on disk (estimated peak "
            )
            && notes[0].contains("memory_limit 64.0 MiB: over it"),
        "{notes:?}"
    );
}

#[test]
fn focus_map_options_out_of_range_name_the_action_and_the_option() {
    let (_tmp, work, _synth) = synth_workspace_of(32, 32, 2);
    let plan = |options: FocusMapOptions| {
        StackJob::new("j", &work)
            .input_path("src")
            .add_action(FocusStack::new("fm", Stacker::FocusMap(options)))
            .plan()
            .unwrap_err()
            .to_string()
    };
    let d = FocusMapOptions::default();
    assert_eq!(
        plan(FocusMapOptions { focus_sigma: 0.1, ..d }),
        "action `fm`: invalid option `focus_sigma`: must be in 0.5..=16, got 0.1"
    );
    assert_eq!(
        plan(FocusMapOptions { consistency: 9, ..d }),
        "action `fm`: invalid option `consistency`: must be in 0..=8, got 9"
    );
    assert_eq!(
        plan(FocusMapOptions { confidence_ratio: 1.0, ..d }),
        "action `fm`: invalid option `confidence_ratio`: must be > 1 and <= 1000, got 1"
    );
    assert_eq!(
        plan(FocusMapOptions { flat_average: 17, ..d }),
        "action `fm`: invalid option `flat_average`: must be in 0..=16, got 17"
    );
    assert!(!work.join("fm").exists(), "refused before anything is written");
}

#[test]
fn cancelling_the_default_stacker_is_a_cancellation_and_writes_nothing() {
    let (_tmp, work, _synth) = synth_workspace();
    let progress = Recorder { cancel_at: Some(("s: stack".to_string(), 2)), ..Recorder::default() };
    let err = StackJob::new("j", &work)
        .input_path("src")
        .add_action(FocusStack::new("s", with_maps()))
        .run(&progress)
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert!(!work.join("s").exists(), "the output folder it created is removed");
    assert!(!work.join("plots").exists());
}

#[test]
fn a_focus_map_plot_folder_must_not_be_a_folder_the_job_reads_or_writes() {
    let (_tmp, work, _synth) = synth_workspace_of(32, 32, 2);
    let confidence_only =
        Stacker::FocusMap(FocusMapOptions { confidence_map: true, ..FocusMapOptions::default() });
    let job = |stacker: &Stacker, plot: &str| {
        StackJob::new("fm", &work)
            .input_path("src")
            .add_action(FocusStack::new("fm", stacker.clone()).plot_path(plot))
            .run(&NoProgress)
    };
    let msg = job(&confidence_only, "src").unwrap_err().to_string();
    assert!(
        msg.starts_with("action `fm`: invalid option `plot_path`: the plot folder")
            && msg.contains("is the input folder of `fm`"),
        "{msg}"
    );
    let msg = job(&with_maps(), "fm").unwrap_err().to_string();
    assert!(msg.contains("is the output folder of `fm`"), "{msg}");
    assert_eq!(crate::common::names(&work.join("src")), ["frame0.png", "frame1.png"]);
    // Without maps the plot folder is not used, so not checked.
    let plain = job(&Stacker::default(), "src").unwrap();
    assert!(plain.actions[0].plots.is_empty());
}

#[test]
fn stack_files_stacks_files_outside_a_job_with_one_phase() {
    let (_tmp, work, synth) = synth_workspace_of(40, 30, 3);
    let paths: Vec<PathBuf> = (0..3).map(|k| work.join(format!("src/frame{k}.png"))).collect();
    let progress = Recorder::default();
    let spec = fs_job::StackSpec { stacker: with_maps(), ..Default::default() };
    let stacked = fs_job::stack_files(&paths, &spec, &progress).unwrap();
    assert_eq!(stacked.image.info(), synth.frame(0).info());
    assert!(stacked.depth_map.is_some() && stacked.confidence_map.is_some());
    let events = progress.events.lock().unwrap();
    assert_eq!(events[0], ("stack: stack".to_string(), 3));
    assert_eq!(events.last().unwrap(), &("  step of stack: stack".to_string(), 3));
    assert!(!work.join("plots").exists(), "no plots outside a job");
}

/// Needs the method: the placeholder of fs-focusmap returns no maps.
#[test]
fn focus_map_writes_its_depth_and_confidence_maps_as_plots() {
    let (_tmp, work, _synth) = synth_workspace();
    let depth_only =
        Stacker::FocusMap(FocusMapOptions { depth_map: true, ..FocusMapOptions::default() });
    let summary = StackJob::new("fm", &work)
        .input_path("src")
        .add_action(FocusStack::new("fm", with_maps()))
        .add_action(
            FocusStackBunch::new("b", depth_only).input_path("src").frames(5).plot_path("maps"),
        )
        .run(&NoProgress)
        .unwrap();
    let a = &summary.actions[0];
    let (depth, confidence) =
        (work.join("plots/fm-depth-map.png"), work.join("plots/fm-confidence-map.png"));
    assert_eq!(a.plots, [depth.clone(), confidence.clone()]);
    assert_eq!(a.depth_maps().collect::<Vec<_>>(), [depth.as_path()]);
    assert_eq!(a.confidence_maps().collect::<Vec<_>>(), [confidence.as_path()]);
    // Bunches 0..5 and 5..6: the one-frame bunch runs through the stacker for its map.
    let b = &summary.actions[1];
    let expected: Vec<PathBuf> =
        [0, 5].iter().map(|k| work.join(format!("maps/b-frame{k}-depth-map.png"))).collect();
    assert_eq!(b.plots, expected);
    assert_eq!(b.confidence_maps().count(), 0);
    for p in a.plots.iter().chain(&b.plots) {
        let map = read_frame(p).unwrap();
        assert_eq!((map.width(), map.height()), (128, 96), "{}", p.display());
        assert_eq!(map.format().layout, ChannelLayout::Gray, "{}", p.display());
        assert_eq!(map.format().depth, BitDepth::Sixteen, "{}", p.display());
    }

    // Aligned and cropped: the maps are cropped with the image.
    let (_tmp, work) = moving_workspace();
    let summary = StackJob::new("fm", &work)
        .input_path("src")
        .add_action(FocusStack::new("fm", with_maps()).align(AlignOptions::default()))
        .run(&NoProgress)
        .unwrap();
    let out = read_frame(&summary.actions[0].outputs[0]).unwrap();
    assert!(out.width() < 192 && out.height() < 144, "cropped: {}x{}", out.width(), out.height());
    assert_eq!(summary.actions[0].plots.len(), 2);
    for p in &summary.actions[0].plots {
        let map = read_frame(p).unwrap();
        assert_eq!((map.width(), map.height()), (out.width(), out.height()), "{}", p.display());
    }
}

/// Image quality of the method (fs-focusmap): needs the method, not the placeholder.
/// The spec: it must beat every peer against the truth; here the seed's stackers
/// (PyramidStack as ShineStacker runs it, noise guard 0, and DepthMapStack) and the
/// best single frame.
#[test]
fn focus_map_stack_is_sharper_than_every_frame_and_the_seeds_stackers() {
    let (_tmp, work, synth) = synth_workspace();
    let shinestacker = PyramidOptions { noise_guard: 0.0, ..PyramidOptions::default() };
    StackJob::new("q", &work)
        .input_path("src")
        .add_action(FocusStack::new("fm", Stacker::default()))
        .add_action(FocusStack::new("pyr", Stacker::Pyramid(shinestacker)).input_path("src"))
        .add_action(
            FocusStack::new("dm", Stacker::DepthMap(DepthMapOptions::default())).input_path("src"),
        )
        .run(&NoProgress)
        .unwrap();
    let psnr = |folder: &str| psnr_of(&work.join(folder).join("frame0.png"), &synth);
    let (fm, pyr, dm, best) = (psnr("fm"), psnr("pyr"), psnr("dm"), best_frame_psnr(&synth));
    assert!(fm > best + 6.0, "FocusMapStack {fm:.2} dB, best frame {best:.2} dB");
    assert!(fm > pyr, "FocusMapStack {fm:.2} dB, PyramidStack {pyr:.2} dB");
    assert!(fm > dm, "FocusMapStack {fm:.2} dB, DepthMapStack {dm:.2} dB");
}
