//! One stack outside any job: a list of files ([`stack_files`]) or frames the caller
//! holds in memory ([`stack_frames`]), through the pipeline of a FocusStack action
//! (alignment and balance, the stacker, the crop, the post-filters) into an image in
//! memory, with its maps. The Python package's `stack` and `stack_files` stack this
//! way; no folder is read or written but the frames' own files. Into a file as
//! `fstack stack` writes it (its bytes, its EXIF), a stack runs as a [`crate::StackRun`].

use std::path::{Path, PathBuf};

use fs_core::{CoreError, FileFormat, Frame, FrameInfo, Progress, WriteOptions, check_stack};

use crate::align::{Source, prepare, prepare_in_memory, stack_aligned};
use crate::filters::PostFilters;
use crate::job::{CancelOnly, CountingFrames, Group, stack_group, to_eight_bit};
use crate::stacker::{StackContext, Stacked};
use crate::{ActionOptions, FrameReport, JobError, Result, Stacker};

/// The name errors and progress phases use for a stack outside a job.
const NAME: &str = "stack";

/// How to stack one stack: the stacker, and the frame options of an action.
///
/// Of [`ActionOptions`] only those that act on frames apply: `align`, `balance`,
/// `crop`, `denoise_amount` and the `sharpen_*` options; the folder and file options
/// (`input_path`, `output_path`, `prefix`, ...) have no meaning here and are ignored.
/// `Default` is FocusMapStack without alignment; [`StackSpec::like_cli`] is what
/// `fstack stack` does by default (aligned and balanced).
#[derive(Debug, Clone, Default)]
pub struct StackSpec {
    /// The algorithm and its options.
    pub stacker: Stacker,
    /// Alignment, balance, crop and post-filters.
    pub options: ActionOptions,
}

impl StackSpec {
    /// `stacker`, with the frames aligned and balanced to the middle frame and the
    /// result cropped to the area every frame covers, as `fstack stack` does.
    pub fn like_cli(stacker: Stacker) -> Self {
        let options = ActionOptions {
            align: Some(Default::default()),
            balance: Some(Default::default()),
            ..ActionOptions::default()
        };
        Self { stacker, options }
    }

    /// Checks every option; the error names the option.
    pub fn validate(&self) -> Result<()> {
        self.stacker.validate(NAME)?;
        self.options.validate(NAME)?;
        PostFilters::from_options(&self.options).validate(NAME)
    }
}

/// What stacking one stack gave.
#[derive(Debug)]
pub struct StackResult {
    /// The stacked image, in the frames' format; from files, with the EXIF and ICC of
    /// the first frame.
    pub image: Frame,
    /// The depth map (16-bit gray, FocusMapStack with `depth_map`; 8-bit,
    /// DepthMapStack with `plot_depth_map`), cropped with the image.
    pub depth_map: Option<Frame>,
    /// The confidence map (16-bit gray, FocusMapStack with `confidence_map`).
    pub confidence_map: Option<Frame>,
    /// One line each about what alignment did and what the stacker chose.
    pub notes: Vec<String>,
    /// What alignment did to each frame, in stack order (empty without alignment).
    pub alignment: Vec<FrameReport>,
    /// The frames stacked: those given, less the ones alignment left out.
    pub frames: usize,
}

impl StackResult {
    /// Writes the image to `path` (format by its extension; JPEG rounds 16-bit
    /// samples to 8 bits) as every fstack output is written: atomically, and over
    /// an existing file only as `options.overwrite` allows.
    pub fn write(&self, path: &Path, options: &WriteOptions) -> fs_core::Result<()> {
        if FileFormat::from_path(path) == Some(FileFormat::Jpeg) {
            return fs_core::write_frame(path, &to_eight_bit(self.image.clone())?, options);
        }
        fs_core::write_frame(path, &self.image, options)
    }
}

/// The frames of one stack, held by the caller and handed to the pipeline one at a
/// time (so a source may make each frame when asked, e.g. from a numpy array).
pub trait FrameSource: Sync {
    /// How many frames.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The shape and format of frame `index` (without making it).
    fn info(&self, index: usize) -> FrameInfo;
    /// Frame `index`.
    fn frame(&self, index: usize) -> fs_core::Result<Frame>;
}

impl FrameSource for [Frame] {
    fn len(&self) -> usize {
        <[Frame]>::len(self)
    }
    fn info(&self, index: usize) -> FrameInfo {
        self[index].info()
    }
    fn frame(&self, index: usize) -> fs_core::Result<Frame> {
        Ok(self[index].clone())
    }
}

impl FrameSource for Vec<Frame> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn info(&self, index: usize) -> FrameInfo {
        self[index].info()
    }
    fn frame(&self, index: usize) -> fs_core::Result<Frame> {
        Ok(self[index].clone())
    }
}

/// Stacks the image files `paths` (at least one, in this order) as a FocusStack
/// action of a job would: frame headers checked first, each frame decoded once (the
/// reference for alignment kept from building the aligner), the result not written.
/// Progress: phase `stack: stack` counting the frames read (and `stack: align
/// (step_process)`, `stack: denoise`, `stack: sharpen` when those run); cancellation
/// between frames. Errors name the file; option errors name the option.
pub fn stack_files(
    paths: &[PathBuf],
    spec: &StackSpec,
    progress: &dyn Progress,
) -> Result<StackResult> {
    spec.validate()?;
    let develop = spec.options.develop(paths, NAME)?;
    let info = check_stack(paths).map_err(|e| JobError::frames(NAME, e))?;
    let bounded = spec.stacker.memory_bounded(info);
    let aligner = prepare(&spec.options, paths, NAME, bounded, &develop, progress)?;
    let context = StackContext { working_dir: Path::new(".") };
    let group = Group { paths, offset: 0, aligner: aligner.as_ref(), develop: &develop };
    let stacked =
        stack_group(&spec.stacker, &context, NAME, "stack", group, spec.options.crop, progress)?;
    finish(stacked, spec, paths.len(), progress)
}

/// Stacks frames held in memory (at least one, all of one shape and format) as
/// [`stack_files`] stacks files; frame `k` is named `frame k` in notes and errors.
pub fn stack_frames(
    frames: &dyn FrameSource,
    spec: &StackSpec,
    progress: &dyn Progress,
) -> Result<StackResult> {
    spec.validate()?;
    let count = frames.len();
    if count == 0 {
        let e = CoreError::Dimensions("a stack needs at least one frame".into());
        return Err(JobError::frames(NAME, e));
    }
    let first = frames.info(0);
    if let Some(k) = (1..count).find(|&k| frames.info(k) != first) {
        let e = CoreError::Dimensions(format!(
            "frame {k} is {}, frame 0 is {first}: the frames of a stack share one size and format",
            frames.info(k)
        ));
        return Err(JobError::frames(NAME, e));
    }
    let aligner = prepare_in_memory(&spec.options.align_settings(), frames, NAME, progress)?;
    progress.phase(&format!("{NAME}: stack"), count as u64);
    let source: Source<'_> = Box::new((0..count).map(|k| frames.frame(k)));
    let counted = CountingFrames { inner: source, progress, done: 0 };
    let context = StackContext { working_dir: Path::new(".") };
    let cancel = CancelOnly(progress);
    let stacked = match &aligner {
        Some(aligner) => {
            let crop = spec.options.crop;
            let stacker = &spec.stacker;
            stack_aligned(
                aligner,
                counted,
                0,
                crop,
                true,
                |frames| stacker.stack(frames, &context, &cancel),
                NAME,
            )?
        }
        None if count == 1 && !spec.stacker.plots() => {
            let frame = frames.frame(0).map_err(|e| JobError::frames(NAME, e))?;
            progress.step(1);
            Stacked::plain(frame)
        }
        // Making the next frame (from the caller's memory) overlaps with stacking this one.
        None => {
            fs_core::with_prefetch(counted, |frames| spec.stacker.stack(frames, &context, &cancel))
                .map_err(|e| crate::stacker::job_error(NAME, e))?
        }
    };
    finish(stacked, spec, count, progress)
}

/// The post-filters, and the stacked image with its maps and notes.
fn finish(
    mut stacked: Stacked,
    spec: &StackSpec,
    given: usize,
    progress: &dyn Progress,
) -> Result<StackResult> {
    let mut notes: Vec<String> = stacked.note.take().into_iter().collect();
    notes.append(&mut stacked.align_notes);
    let left_out = stacked.align_reports.iter().filter(|r| r.skipped.is_some()).count();
    let filters = PostFilters::from_options(&spec.options);
    let image = filters.apply(stacked.frame, spec.stacker.float_type(), NAME, progress)?;
    Ok(StackResult {
        image,
        depth_map: stacked.depth_map,
        confidence_map: stacked.confidence_map,
        notes,
        alignment: stacked.align_reports,
        frames: given - left_out,
    })
}
