//! Alignment and balance in a job: in memory before stacking (the `align` / `balance`
//! options of FocusStack and FocusStackBunch, `fstack stack --align`), and as the
//! `CombinedActions` action that writes aligned frames to a folder.

use std::path::PathBuf;

use fs_align::{AlignLog, AlignedFrames, Aligner, FrameReport, crop_frame, estimate_chain};
use fs_core::{Develop, Frame, PathFrames, Progress, WriteOptions, read_frame_with, write_frame};

use crate::action::align_option;
use crate::algorithms::{AlignError, AlignMethod, AlignSettings};
use crate::job::{ActionPlan, CountingFrames};
use crate::stacker::Stacked;
use crate::{ActionOptions, CombinedActions, JobError, Result, StackJob, StackerError};

/// The frames an aligner reads.
pub(crate) type Source<'a> = Box<dyn Iterator<Item = fs_core::Result<fs_core::Frame>> + Send + 'a>;

/// An aligner made from an action's reference frame, for all its stacks or bunches.
#[derive(Debug)]
pub(crate) struct Prepared {
    aligner: Aligner,
    /// The reference's name for the notes: its file name, or `frame <index>`.
    reference: String,
    /// The decoded reference until the stack (or bunch) holding it takes it.
    reference_frame: std::sync::Mutex<Option<Frame>>,
    /// Whether the stacker bounds its memory (no frame decoded ahead for it).
    memory_bounded: bool,
    /// The development of the stack's RAW frames.
    develop: Develop,
}

impl Prepared {
    /// Whether the stacker bounds its memory (see [`prepare`]).
    pub(crate) fn memory_bounded(&self) -> bool {
        self.memory_bounded
    }

    /// The frames of `paths` (frame `offset` onwards of the action's stack), decoded one
    /// at a time, except the reference, handed over already decoded (once).
    pub(crate) fn frames(&self, paths: &[PathBuf], offset: usize) -> Source<'static> {
        let r = self.aligner.reference_index();
        if (offset..offset + paths.len()).contains(&r)
            && let Some(frame) = self.reference_frame.lock().expect("reference lock").take()
        {
            let develop = self.develop.clone();
            let frames =
                fs_align::frames_with_reference(paths.to_vec(), r - offset, frame, develop);
            return Box::new(frames);
        }
        Box::new(PathFrames::new(paths.to_vec()).with_develop(self.develop.clone()))
    }
}

/// An fs-align error as a job error: a frame error keeps naming the file.
fn align_error(action: &str, e: AlignError) -> JobError {
    match e {
        AlignError::Core(core) => JobError::frames(action, core),
        AlignError::InvalidOption { .. } => align_option(action, e),
        other => JobError::frames(action, fs_core::CoreError::Stage(Box::new(other))),
    }
}

/// Builds the aligner of an action over `files` (its whole stack): decodes the
/// reference frame, and with `step_process` runs the chain estimation over every
/// frame first. `None` when the action neither aligns nor balances.
/// With `memory_bounded` (the tiled stackers), the decoded reference is not kept for
/// the stream (it would be one more frame in memory until its turn) and is decoded
/// again instead.
pub(crate) fn prepare(
    o: &ActionOptions,
    files: &[PathBuf],
    name: &str,
    memory_bounded: bool,
    develop: &Develop,
    progress: &dyn Progress,
) -> Result<Option<Prepared>> {
    let mut prepared = settings_aligner(&o.align_settings(), files, name, develop, progress)?;
    if let Some(p) = &mut prepared {
        p.memory_bounded = memory_bounded;
        if memory_bounded {
            p.reference_frame.lock().expect("reference lock").take();
        }
    }
    Ok(prepared)
}

fn settings_aligner(
    settings: &AlignSettings,
    files: &[PathBuf],
    name: &str,
    develop: &Develop,
    progress: &dyn Progress,
) -> Result<Option<Prepared>> {
    let reference = |r: usize| {
        let label = files[r].file_name().unwrap_or_default().to_string_lossy().into_owned();
        Ok((read_frame_with(&files[r], develop)?, label))
    };
    let all = || PathFrames::new(files.to_vec()).with_develop(develop.clone());
    let prepared = aligner_of(settings, files.len(), reference, all, name, progress)?;
    Ok(prepared.map(|p| Prepared { develop: develop.clone(), ..p }))
}

/// The aligner of a stack held in memory (`source`), for [`crate::stack_frames`]; the
/// reference is frame `k` in the notes.
pub(crate) fn prepare_in_memory(
    settings: &AlignSettings,
    source: &dyn crate::FrameSource,
    name: &str,
    progress: &dyn Progress,
) -> Result<Option<Prepared>> {
    let reference = |r: usize| Ok((source.frame(r)?, format!("frame {r}")));
    let all = || (0..source.len()).map(|i| source.frame(i));
    let mut prepared = aligner_of(settings, source.len(), reference, all, name, progress)?;
    // The frames are in memory: the stream takes the reference from there too.
    if let Some(p) = &mut prepared {
        p.reference_frame.lock().expect("reference lock").take();
    }
    Ok(prepared)
}

/// The aligner of a stack of `count` frames: `reference(r)` gives the reference frame
/// and its name, `all()` every frame in order (read only with `step_process`).
fn aligner_of<I>(
    settings: &AlignSettings,
    count: usize,
    reference: impl FnOnce(usize) -> fs_core::Result<(Frame, String)>,
    all: impl FnOnce() -> I,
    name: &str,
    progress: &dyn Progress,
) -> Result<Option<Prepared>>
where
    I: Iterator<Item = fs_core::Result<Frame>>,
{
    if settings.align.is_none() && settings.balance.is_none() {
        return Ok(None);
    }
    let options = settings.align.clone().unwrap_or_default();
    let r = settings.reference().index(count).map_err(|e| align_option(name, e))?;
    let (reference, label) = reference(r).map_err(|e| JobError::frames(name, e))?;
    let mut aligner =
        Aligner::new(&reference, r, settings.clone()).map_err(|e| align_error(name, e))?;
    if settings.align.as_ref().is_some_and(|a| a.step_process) {
        progress.phase(&format!("{name}: align (step_process)"), count as u64);
        let frames = CountingFrames { inner: all(), progress, done: 0 };
        let transforms = estimate_chain(frames, r, &options).map_err(|e| align_error(name, e))?;
        aligner = aligner.with_transforms(transforms);
    }
    Ok(Some(Prepared {
        aligner,
        reference: label,
        reference_frame: std::sync::Mutex::new(Some(reference)),
        memory_bounded: false,
        develop: Develop::default(),
    }))
}

/// Aligns the frames of a stack or bunch (starting at frame `offset` of the action's
/// stack) on their way into `stack`, then crops the result (and its maps) to the
/// area every kept frame covers when `crop`.
pub(crate) fn stack_aligned<'s, F>(
    prepared: &Prepared,
    frames: CountingFrames<'_, Source<'s>>,
    offset: usize,
    crop: bool,
    decode_ahead: bool,
    stack: F,
    name: &str,
) -> Result<Stacked>
where
    F: FnOnce(AlignedFrames<'_, Source<'_>>) -> std::result::Result<Stacked, StackerError>,
{
    let run = |source: Source<'_>| {
        // Two frames aligned at once keep both cores busy; the memory-bounded tiled
        // stackers (no decode-ahead) take one at a time.
        let at_once = if decode_ahead { 2 } else { 1 };
        let aligned =
            AlignedFrames::starting_at(source, &prepared.aligner, offset).frames_at_once(at_once);
        let log = aligned.log();
        (log, stack(aligned))
    };
    // With `decode_ahead`, three stages on their own threads: decoding (here),
    // aligning (the stacker's decode-ahead thread, which pulls from this one) and
    // stacking. Without (the memory-bounded tiled stackers), one frame fewer in flight.
    let (log, stacked) = if decode_ahead {
        fs_core::with_prefetch(frames, |decoded| run(Box::new(decoded)))
    } else {
        run(Box::new(frames))
    };
    let mut stacked = stacked.map_err(|e| crate::stacker::job_error(name, e))?;
    let (w, h) = (stacked.frame.width(), stacked.frame.height());
    let mut notes = summary(&log, &prepared.reference, prepared.aligner.settings());
    if crop && prepared.aligner.settings().align.is_some() {
        let rect = log.common_area(w, h).ok_or_else(|| {
            JobError::frames(
                name,
                fs_core::CoreError::Stage(Box::new(AlignError::NothingLeft(
                    "the aligned frames share no common area to crop to".into(),
                ))),
            )
        })?;
        if (rect.width, rect.height) != (w, h) {
            stacked.frame = crop_frame(&stacked.frame, rect).map_err(|e| align_error(name, e))?;
            for map in [&mut stacked.depth_map, &mut stacked.confidence_map] {
                if let Some(m) = map.take() {
                    *map = Some(crop_frame(&m, rect).map_err(|e| align_error(name, e))?);
                }
            }
            notes.push(format!(
                "cropped to {}x{} at ({}, {}), the area every frame covers (--no-crop / crop = false keeps {w}x{h})",
                rect.width, rect.height, rect.x, rect.y
            ));
        }
    }
    stacked.align_notes = notes;
    stacked.align_reports = log.reports();
    Ok(stacked)
}

/// One line about what alignment did (how many frames by which method), one per
/// frame not aligned by its features (how it was, why, its magnification), and one
/// warning per frame left out.
fn summary(log: &AlignLog, file: &str, settings: &AlignSettings) -> Vec<String> {
    let reports = log.reports();
    let kept: Vec<&FrameReport> = reports.iter().filter(|r| r.skipped.is_none()).collect();
    let mut notes = Vec::new();
    let name = |r: &FrameReport| {
        r.path
            .as_deref()
            .map(|p| p.file_name().unwrap_or(p.as_os_str()).to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("frame {}", r.index))
    };
    if settings.align.is_some() {
        let (mut lo, mut hi, mut shift) = (0.0f64, 0.0f64, 0.0f64);
        for r in &kept {
            lo = lo.min(r.scale_change());
            hi = hi.max(r.scale_change());
            let (dx, dy) = r.centre_shift(1, 1);
            shift = shift.max(dx.hypot(dy));
        }
        let count = |m: AlignMethod| kept.iter().filter(|r| r.method == m).count();
        let (intensity, predicted) = (count(AlignMethod::Intensity), count(AlignMethod::Predicted));
        let how = if intensity + predicted > 0 {
            format!(
                " ({} by features, {intensity} by intensity, {predicted} predicted by the breathing model)",
                count(AlignMethod::Features) + count(AlignMethod::Chained)
            )
        } else {
            String::new()
        };
        notes.push(format!(
            "aligned {} frame{} to {file}{how}: magnification {:+.2} % to {:+.2} %, shifts up to {:.1} px",
            kept.len(),
            if kept.len() == 1 { "" } else { "s" },
            lo * 100.0,
            hi * 100.0,
            shift
        ));
        for r in kept
            .iter()
            .filter(|r| matches!(r.method, AlignMethod::Intensity | AlignMethod::Predicted))
        {
            let why = r.fallback.as_ref().map(|f| format!(" ({f})")).unwrap_or_default();
            let how = match r.method {
                AlignMethod::Intensity => "aligned by intensity",
                _ => "predicted by the breathing model",
            };
            notes.push(format!(
                "{}: {how}{why}, magnification {:+.2} %",
                name(r),
                r.scale_change() * 100.0
            ));
        }
    }
    if settings.balance.is_some() {
        let gains: Vec<f64> =
            kept.iter().filter_map(|r| r.gains.as_ref()).flat_map(|g| g.values.clone()).collect();
        let lo = gains.iter().copied().fold(1.0, f64::min);
        let hi = gains.iter().copied().fold(1.0, f64::max);
        notes.push(format!("balanced to {file}: gains {lo:.3} to {hi:.3}"));
    }
    for r in reports.iter().filter(|r| r.skipped.is_some()) {
        let path = r.path.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
        notes.push(format!(
            "warning: left out {path}: cannot be aligned: {}",
            r.skipped.as_ref().map(ToString::to_string).unwrap_or_default()
        ));
    }
    notes
}

/// Runs a [`CombinedActions`]: aligns and balances every frame of `files` and writes
/// it into the action's output folder (same name with the prefix, same format unless
/// `output_format`), each write atomic. Returns the files written, the notes and what
/// alignment did to each frame.
pub(crate) fn run_combined(
    action: &CombinedActions,
    plan: &ActionPlan,
    files: &[PathBuf],
    job: &StackJob,
    claims: &crate::job::Claims,
    progress: &dyn Progress,
) -> Result<(Vec<PathBuf>, Vec<String>, Vec<FrameReport>)> {
    let name = action.name.as_str();
    let settings = action.settings()?;
    let develop = action.options.develop(files, name)?;
    let prepared = settings_aligner(&settings, files, name, &develop, progress)?
        .expect("a validated CombinedActions has a step");
    progress.phase(&format!("{name}: align"), files.len() as u64);
    let frames = CountingFrames { inner: prepared.frames(files, 0), progress, done: 0 };
    let aligned = AlignedFrames::new(frames, &prepared.aligner);
    let log = aligned.log();
    let o = &action.options;
    let write =
        WriteOptions { jpeg_quality: job.jpeg_quality, metadata: true, overwrite: job.overwrite };
    let mut outputs = Vec::with_capacity(files.len());
    // Decoding and aligning the next frame overlaps with encoding this one.
    fs_core::with_prefetch(aligned, |rx| -> Result<()> {
        for frame in rx {
            let frame: Frame = frame.map_err(|e| JobError::frames(name, e))?;
            progress.check_cancelled().map_err(|e| JobError::frames(name, e))?;
            let source = frame.source.clone().unwrap_or_default();
            let file = crate::job::output_name(&o.prefix, &source, o.output_format);
            let path = plan.output_dir.join(file);
            claims.output(name, &path)?;
            let frame = if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
            {
                crate::job::to_eight_bit(frame).map_err(|e| JobError::frames(name, e))?
            } else {
                frame
            };
            write_frame(&path, &frame, &write).map_err(|e| JobError::frames(name, e))?;
            outputs.push(path);
        }
        Ok(())
    })?;
    Ok((outputs, summary(&log, &prepared.reference, &settings), log.reports()))
}
