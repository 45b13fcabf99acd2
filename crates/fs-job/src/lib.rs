//! fs-job: the workflow layer of fstack — a [`StackJob`] of chained actions
//! ([`FocusStack`], [`FocusStackBunch`]) over folders of frames, built in Rust, from a
//! TOML job file, or from a ShineStacker project (`.fsp`).
//!
//! ```
//! use fs_core::{BitDepth, ChannelLayout, Frame, FrameInfo, NoProgress, PixelFormat, Samples,
//!     WriteOptions, write_frame};
//! use fs_job::{FocusStack, FocusStackBunch, StackJob, Stacker};
//!
//! // Four small gray frames in <work>/src.
//! let work = tempfile::tempdir().unwrap();
//! std::fs::create_dir(work.path().join("src")).unwrap();
//! let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight };
//! for k in 0..4u8 {
//!     let info = FrameInfo { width: 8, height: 8, format };
//!     let frame = Frame::new(info, Samples::U8(vec![40 * k; 64])).unwrap();
//!     let path = work.path().join(format!("src/img{k}.png"));
//!     write_frame(&path, &frame, &WriteOptions::default()).unwrap();
//! }
//!
//! // Two-stage stacking: bunches of 2 frames, then the bunches into one image.
//! let job = StackJob::new("demo", work.path())
//!     .input_path("src")
//!     .add_action(FocusStackBunch::new("bunches", Stacker::pyramid()).frames(2))
//!     .add_action(FocusStack::new("stack", Stacker::pyramid()).prefix("pyr_"));
//! let summary = job.run(&NoProgress).unwrap();
//! assert_eq!(summary.actions[0].outputs.len(), 2);
//! assert!(work.path().join("bunches/img2.png").is_file());
//! assert!(work.path().join("stack/pyr_img0.png").is_file());
//! ```
//!
//! # Paths
//! An action's input is its own `input_path`, else the previous (enabled) action's
//! output, else the job's `input_path`; without any, the job is refused. Relative
//! paths are inside the action's `working_path`, else the job's; the output folder
//! defaults to the action's name. The EXIF/ICC of the outputs come from the first
//! frame (natural order) of `exif_path`, by default the first action's input folder;
//! when that folder is the action's own input, each output takes the metadata of its
//! own stack's (or bunch's) first frame. `exif_path = ""` writes none.
//!
//! # Safety
//! [`StackJob::plan`] checks the whole job before any frame is decoded (options,
//! folders, frame headers), and [`StackJob::run`] calls it first. An output folder
//! that is, lies inside or lies above an input folder, an EXIF folder, or a working
//! folder is refused. An output folder is *owned* by fstack when it holds the marker
//! file `.fstack-output`, written when fstack creates the folder or finds it empty;
//! `scratch_output_dir` empties only owned folders (an unowned folder with files is
//! refused before anything runs) and removes only top-level image files and fstack's
//! temporary files. Outputs are written to a temporary name and renamed, so an
//! interrupted (cancelled) or failed run leaves no partial file and no temporary
//! file; outputs completed before the interruption stay. `delete_output_at_end`
//! acts only after the whole job succeeded: it removes the files the action wrote,
//! and an owned output folder with them unless it holds files fstack did not write.
//!
//! # Stackers
//! [`Stacker`] picks the algorithm: `FocusMap` (FocusMapStack, fstack's own and the
//! default, [`Stacker::default`], also of job files that name no stacker), `Pyramid`
//! (PyramidStack), `Tiles` (PyramidTilesStack: the same pixels with the finest levels
//! on disk; a relative
//! `temp_dir` is inside the action's working folder), `Auto` (PyramidAutoStack: in
//! memory or tiled by `memory_limit`; its choice, one line per stack or bunch, is in
//! [`ActionSummary::notes`]) and `DepthMap` (DepthMapStack). With `plot_depth_map`,
//! DepthMapStack writes its depth map (8-bit gray PNG, the stack's size) to
//! `<working folder>/<plot_path>/<action>-depth-map.png`; a FocusStackBunch writes
//! one per bunch, `<action>-<stem of the bunch's first frame>-depth-map.png`. The
//! files are listed in [`ActionSummary::plots`]; a one-frame stack (or bunch) then
//! runs through the stacker too, so it gets its depth map. That plot folder must not
//! be an input, EXIF or output folder of the job (checked by [`StackJob::plan`]).
//! FocusMapStack writes its maps the same way and in the same folder: with
//! `depth_map`, `<action>-depth-map.png`, with `confidence_map`,
//! `<action>-confidence-map.png` (both 16-bit gray PNG; per bunch
//! `<action>-<stem>-depth-map.png` and `<action>-<stem>-confidence-map.png`);
//! [`ActionSummary::depth_maps`] and [`ActionSummary::confidence_maps`] pick them
//! out of the plots. FocusMapStack has no float type: post-filters after it run in
//! f32.
//!
//! # One stack into a file
//! [`StackRun`] is one stack as `fstack stack FRAMES -o OUTPUT` runs it, every flag
//! resolved into a plain value: a one-action job over links to the frames in a
//! private work folder, the output and maps then moved into place atomically
//! (never over a file unless `overwrite`; the work folder goes on every path).
//! `fstack stack`, `fstack batch` and the Python package's `fstack.batch` all run
//! their stacks through it, which is what keeps their outputs byte-identical.
//!
//! # Batches
//! [`batch`] runs many stacks in one go (`fstack batch`): stacks found under a
//! root folder ([`batch::discover`]) or named in a manifest
//! ([`batch::read_manifest`]), split by capture-time gaps, sharded over machines,
//! run in parallel under one memory budget with resume and a JSON-lines log
//! ([`batch::run_batch`]). The stacking of each stack is a closure the caller
//! passes.
//!
//! # Progress
//! Phases reported through [`fs_core::Progress`] are named `"<action>: <phase>"`:
//! `stack`, `bunch i/n`, `denoise`, `sharpen`; stacking phases count frames read,
//! `denoise` counts bands of 64 rows. Cancellation is checked between frames,
//! between denoise bands and before each write.
//!
//! # Cost
//! Planning reads each source frame's header once; running decodes each input
//! frame once per stack or bunch it belongs to (overlapping frames of bunches are
//! decoded again) and holds one frame at a time besides the stacker's state. All
//! other time is the stacker's and the post-filters'. `examples/run_job.rs` runs a
//! job file and prints the time of every phase.
#![deny(missing_docs)]

mod action;
mod algorithms;
mod align;
mod alignspec;
pub mod batch;
mod error;
mod filters;
mod fsp;
mod job;
mod jobfile;
mod output;
mod paths;
mod placed;
mod single;
mod size;
mod stacker;

use std::path::Path;

pub use crate::action::{
    Action, ActionKind, ActionOptions, CombinedActions, FocusStack, FocusStackBunch, FrameStep,
};
pub use crate::algorithms::{
    AlignError, AlignFailure, AlignMethod, AlignOptions, AlignSettings, BalanceChannel,
    BalanceOptions, BorderMode, FrameReport, Interpolation, OnFailure, ReferenceFrame,
    TransformKind,
};
pub use crate::algorithms::{
    DepthMapOptions, Energy, FocusMapOptions, MapType, PyramidAutoOptions, PyramidOptions,
    PyramidTilesOptions, StackMode,
};
pub use crate::batch::{BatchOptions, BatchStack, BatchSummary, run_batch};
pub use crate::error::{JOB_SCOPE, JobError, Result, StackerError};
pub use crate::fsp::{LoadedJobs, ProjectOptions, parse_project};
pub use crate::job::{ActionPlan, ActionSummary, JobPlan, JobSummary, StackJob, StackedOutput};
pub use crate::jobfile::{parse_job_toml, parse_stack_options};
pub use crate::output::MARKER;
pub use crate::paths::normalize;
pub use crate::placed::{Bunches, ExifSource, StackRun, StackRunResult};
pub use crate::single::{FrameSource, StackResult, StackSpec, stack_files, stack_frames};
pub use crate::size::ByteSize;
pub use crate::stacker::{Stacker, StackerKind};

/// Loads a job file by its extension: `.toml` (one job, format in `docs/job-files.md`)
/// or `.fsp` (a ShineStacker project, any number of jobs). Relative working paths are
/// inside the file's folder. Errors name the file.
pub fn load_job_file(path: &Path, options: ProjectOptions) -> Result<LoadedJobs> {
    let in_file = |e: JobError| match e {
        e @ (JobError::JobFile { .. }
        | JobError::UnsupportedActions { .. }
        | JobError::Io { .. }) => e,
        e => JobError::InFile { path: path.to_path_buf(), source: Box::new(e) },
    };
    load_unnamed(path, options).map_err(in_file)
}

fn load_unnamed(path: &Path, options: ProjectOptions) -> Result<LoadedJobs> {
    let text = std::fs::read_to_string(path).map_err(|e| JobError::io(path, e))?;
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("fsp") | Some("json") => parse_project(&text, base, path, options),
        Some("toml") => {
            Ok(LoadedJobs { jobs: vec![parse_job_toml(&text, base, path)?], warnings: Vec::new() })
        }
        _ => Err(JobError::JobFile {
            path: path.to_path_buf(),
            message: "unknown job file type (use .toml, or .fsp for ShineStacker projects)".into(),
        }),
    }
}
