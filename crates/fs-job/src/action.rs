//! The actions of a job: [`FocusStack`] and [`FocusStackBunch`], with the seed's options.

use std::path::PathBuf;

use fs_core::{Develop, FileFormat, WhiteBalance};

use crate::algorithms::{AlignError, AlignOptions, AlignSettings, BalanceOptions};
use crate::{JobError, Result, Stacker};

/// The options FocusStack and FocusStackBunch share, by the seed's names; `Default`
/// is the seed's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOptions {
    /// Input folder; `None`: the previous action's output, else the job's `input_path`.
    /// Relative paths are inside the working folder.
    pub input_path: Option<PathBuf>,
    /// Output folder; `None`: the action's name. Relative paths are inside the working folder.
    pub output_path: Option<PathBuf>,
    /// Working folder; `None`: the job's. A relative one is inside the job's.
    pub working_path: Option<PathBuf>,
    /// Folder for plots (depth maps), inside the working folder: `plots`.
    pub plot_path: PathBuf,
    /// Folder whose first frame (natural order) gives the EXIF and ICC of the outputs.
    /// `None`: the first action's input folder; `Some("")`: no EXIF at all.
    pub exif_path: Option<PathBuf>,
    /// Non-local-means denoise strength in 8-bit units; 0 = off.
    pub denoise_amount: f64,
    /// Unsharp-mask amount in percent; 0 = off.
    pub sharpen_amount_percent: f64,
    /// Unsharp-mask radius (Gaussian sigma) in pixels: 1.
    pub sharpen_radius: f64,
    /// Unsharp-mask threshold in 8-bit units: 0.
    pub sharpen_threshold: f64,
    /// Prepended to every output file name.
    pub prefix: String,
    /// Whether the action runs at all: true. A disabled action is ignored entirely,
    /// also for path chaining.
    pub enabled: bool,
    /// Empty the output folder first (only a folder fstack owns; see the crate docs): true.
    pub scratch_output_dir: bool,
    /// Remove the output folder when the whole job has succeeded: false.
    pub delete_output_at_end: bool,
    /// Write outputs in this format instead of the input's (not a seed option).
    pub output_format: Option<FileFormat>,
    /// Align the frames (to the stack's reference frame, the middle one by default)
    /// in memory, on their way to the stacker; `None`: off. Not a seed option (the
    /// seed family aligns in a separate `AlignFrames` step, see [`CombinedActions`]);
    /// `fstack stack` turns it on by default.
    pub align: Option<AlignOptions>,
    /// Balance the frames' brightness and colour to the reference, in memory, before
    /// stacking; `None`: off.
    pub balance: Option<BalanceOptions>,
    /// With `align`: crop the result to the area every frame covers (true). Bunches
    /// are not cropped, so that all bunch outputs keep one geometry and size.
    pub crop: bool,
    /// The white balance of camera RAW frames, one for the whole stack (`white_balance`,
    /// not a seed option): as shot on the reference frame by default.
    pub white_balance: WhiteBalance,
}

impl Default for ActionOptions {
    fn default() -> Self {
        Self {
            input_path: None,
            output_path: None,
            working_path: None,
            plot_path: PathBuf::from("plots"),
            exif_path: None,
            denoise_amount: 0.0,
            sharpen_amount_percent: 0.0,
            sharpen_radius: 1.0,
            sharpen_threshold: 0.0,
            prefix: String::new(),
            enabled: true,
            scratch_output_dir: true,
            delete_output_at_end: false,
            output_format: None,
            align: None,
            balance: None,
            crop: true,
            white_balance: WhiteBalance::AsShot,
        }
    }
}

impl ActionOptions {
    /// Checks the ranges; the error names `action` and the option.
    pub fn validate(&self, action: &str) -> Result<()> {
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(JobError::option(action, name, format!("must be 0 or more, got {v}")))
            }
        };
        non_negative("denoise_amount", self.denoise_amount)?;
        non_negative("sharpen_amount_percent", self.sharpen_amount_percent)?;
        non_negative("sharpen_threshold", self.sharpen_threshold)?;
        if !(self.sharpen_radius.is_finite() && self.sharpen_radius > 0.0) {
            return Err(JobError::option(
                action,
                "sharpen_radius",
                format!("must be more than 0, got {}", self.sharpen_radius),
            ));
        }
        if self.prefix.contains(['/', '\\']) {
            return Err(JobError::option(
                action,
                "prefix",
                format!("must not contain a path separator, got {:?}", self.prefix),
            ));
        }
        for (name, p) in [("output_path", &self.output_path), ("input_path", &self.input_path)] {
            if p.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(JobError::option(action, name, "must not be empty"));
            }
        }
        self.align_settings().validate().map_err(|e| align_option(action, e))
    }

    /// The in-memory alignment and balance, as fs-align takes them.
    pub fn align_settings(&self) -> AlignSettings {
        AlignSettings { align: self.align.clone(), balance: self.balance.clone() }
    }

    /// The development of the RAW frames among `files` (the action's whole stack): one
    /// white balance, resolved on the stack's reference frame (alignment's, the middle
    /// one by default); a stack mixing RAW and other files is refused.
    pub fn develop(&self, files: &[PathBuf], action: &str) -> Result<Develop> {
        let n = files.len().max(1);
        let r = self.align_settings().reference().index(n).unwrap_or(n / 2);
        Develop::for_stack(files, r, self.white_balance).map_err(|e| JobError::frames(action, e))
    }
}

/// An fs-align option error as a job error naming the action.
pub(crate) fn align_option(action: &str, e: AlignError) -> JobError {
    match e {
        AlignError::InvalidOption { name, reason } => JobError::option(action, name, reason),
        other => JobError::option(action, "align", other.to_string()),
    }
}

/// Generates the seed-named builder methods shared by both actions.
macro_rules! option_builders {
    () => {
        /// Sets `input_path`.
        pub fn input_path(mut self, path: impl Into<PathBuf>) -> Self {
            self.options.input_path = Some(path.into());
            self
        }
        /// Sets `output_path`.
        pub fn output_path(mut self, path: impl Into<PathBuf>) -> Self {
            self.options.output_path = Some(path.into());
            self
        }
        /// Sets `working_path`.
        pub fn working_path(mut self, path: impl Into<PathBuf>) -> Self {
            self.options.working_path = Some(path.into());
            self
        }
        /// Sets `plot_path`.
        pub fn plot_path(mut self, path: impl Into<PathBuf>) -> Self {
            self.options.plot_path = path.into();
            self
        }
        /// Sets `exif_path`; `""` writes no EXIF.
        pub fn exif_path(mut self, path: impl Into<PathBuf>) -> Self {
            self.options.exif_path = Some(path.into());
            self
        }
        /// Sets `denoise_amount`.
        pub fn denoise_amount(mut self, amount: f64) -> Self {
            self.options.denoise_amount = amount;
            self
        }
        /// Sets `sharpen_amount_percent`.
        pub fn sharpen_amount_percent(mut self, percent: f64) -> Self {
            self.options.sharpen_amount_percent = percent;
            self
        }
        /// Sets `sharpen_radius`.
        pub fn sharpen_radius(mut self, radius: f64) -> Self {
            self.options.sharpen_radius = radius;
            self
        }
        /// Sets `sharpen_threshold`.
        pub fn sharpen_threshold(mut self, threshold: f64) -> Self {
            self.options.sharpen_threshold = threshold;
            self
        }
        /// Sets `prefix`.
        pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
            self.options.prefix = prefix.into();
            self
        }
        /// Sets `enabled`.
        pub fn enabled(mut self, enabled: bool) -> Self {
            self.options.enabled = enabled;
            self
        }
        /// Sets `scratch_output_dir`.
        pub fn scratch_output_dir(mut self, scratch: bool) -> Self {
            self.options.scratch_output_dir = scratch;
            self
        }
        /// Sets `delete_output_at_end`.
        pub fn delete_output_at_end(mut self, delete: bool) -> Self {
            self.options.delete_output_at_end = delete;
            self
        }
        /// Writes outputs in `format` instead of the input's.
        pub fn output_format(mut self, format: FileFormat) -> Self {
            self.options.output_format = Some(format);
            self
        }
        /// Aligns the frames in memory before stacking (not a seed option).
        pub fn align(mut self, align: AlignOptions) -> Self {
            self.options.align = Some(align);
            self
        }
        /// Balances the frames in memory before stacking (not a seed option).
        pub fn balance(mut self, balance: BalanceOptions) -> Self {
            self.options.balance = Some(balance);
            self
        }
        /// Sets `white_balance` (camera RAW frames).
        pub fn white_balance(mut self, white_balance: fs_core::WhiteBalance) -> Self {
            self.options.white_balance = white_balance;
            self
        }
        /// With alignment: crop to the area every frame covers (default true).
        pub fn crop(mut self, crop: bool) -> Self {
            self.options.crop = crop;
            self
        }
        /// Replaces all shared options at once.
        pub fn options(mut self, options: ActionOptions) -> Self {
            self.options = options;
            self
        }
    };
}

/// `FocusStack(name, stacker, ...)`: stacks every frame of its input folder into one
/// image named `prefix` + the first frame's file name.
#[derive(Debug, Clone)]
pub struct FocusStack {
    /// The action's name: for messages, and the default output folder.
    pub name: String,
    /// The algorithm.
    pub stacker: Stacker,
    /// The shared options.
    pub options: ActionOptions,
}

impl FocusStack {
    /// A FocusStack with the seed's defaults.
    pub fn new(name: impl Into<String>, stacker: Stacker) -> Self {
        Self { name: name.into(), stacker, options: ActionOptions::default() }
    }
    option_builders!();
}

/// `FocusStackBunch(name, stacker, ..., frames=10, overlap=0)`: stacks consecutive
/// bunches of `frames` frames, each starting `frames - overlap` after the previous
/// one; one output per bunch, named after the bunch's first frame.
#[derive(Debug, Clone)]
pub struct FocusStackBunch {
    /// The action's name: for messages, and the default output folder.
    pub name: String,
    /// The algorithm.
    pub stacker: Stacker,
    /// The shared options.
    pub options: ActionOptions,
    /// Frames per bunch: 10.
    pub frames: usize,
    /// Frames shared by a bunch and the next: 0; must be less than `frames`.
    pub overlap: usize,
}

impl FocusStackBunch {
    /// A FocusStackBunch with the seed's defaults.
    pub fn new(name: impl Into<String>, stacker: Stacker) -> Self {
        Self {
            name: name.into(),
            stacker,
            options: ActionOptions::default(),
            frames: 10,
            overlap: 0,
        }
    }
    /// Sets `frames`.
    pub fn frames(mut self, frames: usize) -> Self {
        self.frames = frames;
        self
    }
    /// Sets `overlap`.
    pub fn overlap(mut self, overlap: usize) -> Self {
        self.overlap = overlap;
        self
    }
    option_builders!();

    /// The bunches of a stack of `n` frames, as index ranges: starting at 0, each
    /// `frames - overlap` after the previous, until one reaches the last frame (the
    /// last may be shorter). A stack shorter than `frames` is one bunch.
    pub fn bunches(&self, n: usize) -> Vec<std::ops::Range<usize>> {
        let step = self.frames.saturating_sub(self.overlap).max(1);
        let mut out = Vec::new();
        let mut start = 0;
        while start < n {
            let end = (start + self.frames.max(1)).min(n);
            out.push(start..end);
            if end == n {
                break;
            }
            start += step;
        }
        out
    }
}

/// A step of [`CombinedActions`] applied to every frame.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FrameStep {
    /// `AlignFrames`: warp every frame onto the reference frame.
    AlignFrames(AlignOptions),
    /// `BalanceFrames`: match every frame's brightness and colour to the reference.
    BalanceFrames(BalanceOptions),
}

impl FrameStep {
    /// The seed family's name of the step.
    pub fn name(&self) -> &'static str {
        match self {
            FrameStep::AlignFrames(_) => "AlignFrames",
            FrameStep::BalanceFrames(_) => "BalanceFrames",
        }
    }
}

/// `CombinedActions(name, [AlignFrames(...), BalanceFrames(...)], ...)`: processes
/// every frame of its input folder with its steps (alignment, then balance, in one
/// pass and one resampling) and writes the frames, same names with `prefix`, into
/// its output folder: the input of a following FocusStack. Frames keep their full
/// size (no data beyond the frame's edge is replicated); frames that cannot be
/// aligned stop the job, or are left out with `on_failure = "skip"`. Of the shared
/// options, the stacking ones (post-filters, `plot_path`, `align`, `balance`,
/// `crop`) do not apply.
#[derive(Debug, Clone)]
pub struct CombinedActions {
    /// The action's name: for messages, and the default output folder.
    pub name: String,
    /// The steps, at most one of each kind.
    pub steps: Vec<FrameStep>,
    /// The shared options.
    pub options: ActionOptions,
}

impl CombinedActions {
    /// Combined actions with these steps and the seed's defaults.
    pub fn new(name: impl Into<String>, steps: Vec<FrameStep>) -> Self {
        Self { name: name.into(), steps, options: ActionOptions::default() }
    }
    option_builders!();

    /// The steps as fs-align takes them; an error names a step given twice.
    pub fn settings(&self) -> Result<AlignSettings> {
        let mut settings = AlignSettings::default();
        for step in &self.steps {
            let twice = match step {
                FrameStep::AlignFrames(o) => settings.align.replace(o.clone()).is_some(),
                FrameStep::BalanceFrames(o) => settings.balance.replace(o.clone()).is_some(),
            };
            if twice {
                return Err(JobError::option(
                    &self.name,
                    "sub_actions",
                    format!("{} is given twice; one of each kind is allowed", step.name()),
                ));
            }
        }
        Ok(settings)
    }
}

/// What kind of action: for summaries and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActionKind {
    /// [`FocusStack`].
    FocusStack,
    /// [`FocusStackBunch`].
    FocusStackBunch,
    /// [`CombinedActions`] (AlignFrames, BalanceFrames).
    CombinedActions,
}

impl ActionKind {
    /// The seed's name.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::FocusStack => "FocusStack",
            ActionKind::FocusStackBunch => "FocusStackBunch",
            ActionKind::CombinedActions => "CombinedActions",
        }
    }
}

/// One action of a job.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Action {
    /// Stack a whole folder into one image.
    FocusStack(FocusStack),
    /// Stack a folder in bunches.
    FocusStackBunch(FocusStackBunch),
    /// Align and balance the frames of a folder into another folder.
    CombinedActions(CombinedActions),
}

impl Action {
    /// The action's name.
    pub fn name(&self) -> &str {
        match self {
            Action::FocusStack(a) => &a.name,
            Action::FocusStackBunch(a) => &a.name,
            Action::CombinedActions(a) => &a.name,
        }
    }
    /// Its kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::FocusStack(_) => ActionKind::FocusStack,
            Action::FocusStackBunch(_) => ActionKind::FocusStackBunch,
            Action::CombinedActions(_) => ActionKind::CombinedActions,
        }
    }
    /// Its shared options.
    pub fn options(&self) -> &ActionOptions {
        match self {
            Action::FocusStack(a) => &a.options,
            Action::FocusStackBunch(a) => &a.options,
            Action::CombinedActions(a) => &a.options,
        }
    }
    /// Its stacker; `None` for [`CombinedActions`], which stacks nothing.
    pub fn stacker(&self) -> Option<&Stacker> {
        match self {
            Action::FocusStack(a) => Some(&a.stacker),
            Action::FocusStackBunch(a) => Some(&a.stacker),
            Action::CombinedActions(_) => None,
        }
    }

    /// Whether the action writes a plot (a depth map).
    pub(crate) fn plots(&self) -> bool {
        self.stacker().is_some_and(Stacker::plots)
    }

    /// Checks every option of the action (ranges, stacker, post-filters), naming the
    /// action and the option in the error. Reads nothing from disk.
    pub fn validate(&self) -> Result<()> {
        let name = self.name();
        if name.trim().is_empty() {
            return Err(JobError::option("<unnamed>", "name", "an action needs a name"));
        }
        // The name is the default output folder (inside the working folder) and the
        // start of the plots' file names: it must stay a plain name.
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(JobError::option(
                name,
                "name",
                format!(
                    "must be a plain name, without / or \\ and not . or .. (it names the \
                     default output folder, inside the working folder, and the plots), got \
                     {name:?}"
                ),
            ));
        }
        self.options().validate(name)?;
        if let Some(stacker) = self.stacker() {
            stacker.validate(name)?;
        }
        crate::filters::PostFilters::from_options(self.options()).validate(name)?;
        if let Action::CombinedActions(c) = self {
            if c.steps.is_empty() {
                return Err(JobError::option(
                    name,
                    "sub_actions",
                    "CombinedActions needs at least one AlignFrames or BalanceFrames",
                ));
            }
            c.settings()?.validate().map_err(|e| align_option(name, e))?;
        }
        if let Action::FocusStackBunch(b) = self {
            if b.frames == 0 {
                return Err(JobError::option(name, "frames", "must be at least 1, got 0"));
            }
            if b.overlap >= b.frames {
                return Err(JobError::option(
                    name,
                    "overlap",
                    format!("must be less than frames ({}), got {}", b.frames, b.overlap),
                ));
            }
        }
        Ok(())
    }
}

impl From<FocusStack> for Action {
    fn from(a: FocusStack) -> Self {
        Action::FocusStack(a)
    }
}

impl From<FocusStackBunch> for Action {
    fn from(a: FocusStackBunch) -> Self {
        Action::FocusStackBunch(a)
    }
}

impl From<CombinedActions> for Action {
    fn from(a: CombinedActions) -> Self {
        Action::CombinedActions(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bunch(frames: usize, overlap: usize) -> FocusStackBunch {
        FocusStackBunch::new("b", Stacker::pyramid()).frames(frames).overlap(overlap)
    }

    #[test]
    fn bunches_step_by_frames_minus_overlap_and_cover_the_stack() {
        assert_eq!(bunch(4, 1).bunches(10), vec![0..4, 3..7, 6..10]);
        assert_eq!(bunch(4, 1).bunches(11), vec![0..4, 3..7, 6..10, 9..11]);
        assert_eq!(bunch(4, 0).bunches(8), vec![0..4, 4..8]);
        assert_eq!(bunch(10, 2).bunches(3), vec![0..3]);
        assert_eq!(bunch(3, 2).bunches(5), vec![0..3, 1..4, 2..5]);
        assert_eq!(bunch(1, 0).bunches(2), vec![0..1, 1..2]);
        assert!(bunch(4, 0).bunches(0).is_empty());
    }

    #[test]
    fn validation_names_action_and_option() {
        let e = Action::from(bunch(5, 5)).validate().unwrap_err().to_string();
        assert_eq!(e, "action `b`: invalid option `overlap`: must be less than frames (5), got 5");
        let e = Action::from(FocusStack::new("s", Stacker::pyramid()).sharpen_radius(0.0))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("`s`") && e.contains("`sharpen_radius`"), "{e}");
        let e = Action::from(FocusStack::new("s", Stacker::pyramid()).denoise_amount(-1.0))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("`denoise_amount`"), "{e}");
        let e = Action::from(FocusStack::new("s", Stacker::pyramid()).prefix("a/b"))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("`prefix`"), "{e}");
        assert!(Action::from(bunch(5, 4)).validate().is_ok());
    }
}
