//! The error type of fs-job: every variant names the action (and the option or
//! file) concerned, so one line tells the user what to fix.

use std::path::PathBuf;

use fs_core::CoreError;

/// What a stacker reported, by stacker family. One variant per stacker crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackerError {
    /// From the focus-map stacker (fs-focusmap).
    #[error(transparent)]
    FocusMap(#[from] crate::algorithms::FocusMapError),
    /// From the pyramid stackers (fs-pyramid).
    #[error(transparent)]
    Pyramid(#[from] crate::algorithms::PyramidError),
    /// From the depth-map stacker (fs-depthmap).
    #[error(transparent)]
    DepthMap(#[from] crate::algorithms::DepthMapError),
}

/// Everything that can go wrong when building, loading or running a job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// An option has a value outside its allowed range (found before anything runs).
    #[error("{}: invalid option `{option}`: {reason}", scope(action))]
    InvalidOption {
        /// The action's name (or [`JOB_SCOPE`] for the job's own options).
        action: String,
        /// The option, as the user spells it (e.g. `overlap`, `pyramid_min_size`).
        option: String,
        /// The allowed range and the value given.
        reason: String,
    },
    /// Neither the action, nor an earlier action, nor the job gives an input folder.
    #[error(
        "action `{action}`: no input folder: set `input_path` on the job or on its first action"
    )]
    NoInput {
        /// The action's name.
        action: String,
    },
    /// A folder the job reads from does not exist (or is not a folder).
    #[error("{}: `{option}` folder {} does not exist", scope(action), path.display())]
    MissingFolder {
        /// The action's name (or [`JOB_SCOPE`] for the job's own folders).
        action: String,
        /// The option that names the folder (`input_path`, `exif_path`, `working_path`).
        option: &'static str,
        /// The resolved folder.
        path: PathBuf,
    },
    /// An output folder would overlap a folder the job reads from or works in.
    #[error(
        "action `{action}`: refusing output folder {}: it {relation} the {what} {}",
        output.display(), other.display()
    )]
    UnsafeOutput {
        /// The action's name.
        action: String,
        /// Its resolved output folder.
        output: PathBuf,
        /// "is", "lies inside" or "lies above".
        relation: &'static str,
        /// What the other folder is: "input folder of action `x`", "working folder", ...
        what: String,
        /// The other folder.
        other: PathBuf,
    },
    /// `scratch_output_dir` would empty a folder fstack did not create.
    #[error(
        "action `{action}`: output folder {} holds {files} file(s) and was not created by \
         fstack (no {marker} file); empty it yourself, choose another `output_path`, or set \
         `scratch_output_dir = false`",
        path.display(), marker = crate::output::MARKER
    )]
    NotOwned {
        /// The action's name.
        action: String,
        /// The output folder.
        path: PathBuf,
        /// How many entries it holds.
        files: usize,
    },
    /// The job asks for something fstack does not implement yet.
    #[error("action `{action}`: {what} is not implemented yet")]
    NotImplemented {
        /// The action's name.
        action: String,
        /// What is missing, e.g. "stacker `DepthMapStack`".
        what: String,
    },
    /// A ShineStacker project uses actions fstack does not implement yet.
    #[error(
        "{}: actions not implemented yet: {}; remove or disable them, or skip them with \
         `fstack run --skip-unsupported` (ProjectOptions::skip_unsupported)",
        path.display(), actions.join(", ")
    )]
    UnsupportedActions {
        /// The project file.
        path: PathBuf,
        /// Each as "`name` (Type) in job `job`".
        actions: Vec<String>,
    },
    /// Reading, checking or writing frames failed.
    #[error("action `{action}`: {source}")]
    Frames {
        /// The action's name.
        action: String,
        /// The underlying error (names the file).
        #[source]
        source: CoreError,
    },
    /// A file the run is about to write is one it reads or has already written: a
    /// write would lose it, whatever [`fs_core::Overwrite`] says.
    #[error(
        "action `{action}`: refusing to write {}: it is {what}; give the actions other \
         output folders, plot folders or prefixes",
        path.display()
    )]
    Clash {
        /// The action that would write it.
        action: String,
        /// The file.
        path: PathBuf,
        /// "an input frame of action `a`", "already written by action `a` in this run".
        what: String,
    },
    /// The stacking algorithm failed.
    #[error("action `{action}`: stacking failed: {source}")]
    Stacker {
        /// The action's name.
        action: String,
        /// The stacker's error.
        #[source]
        source: StackerError,
    },
    /// A post-filter (denoise, sharpen) failed.
    #[error("action `{action}`: {filter} failed: {source}")]
    Filter {
        /// The action's name.
        action: String,
        /// "denoise" or "sharpen".
        filter: &'static str,
        /// The filter's error.
        #[source]
        source: crate::algorithms::FilterError,
    },
    /// The run was cancelled through the progress hook.
    #[error("action `{action}`: cancelled")]
    Cancelled {
        /// The action that was running.
        action: String,
        /// The outputs finished before the cancellation, which stay (earlier actions'
        /// and, for a FocusStackBunch, its earlier bunches'), in order.
        written: Vec<PathBuf>,
    },
    /// A folder or file operation of the job itself failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An error in what a job file says, with the file's name.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The job file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: Box<JobError>,
    },
    /// A one-stack run ([`crate::StackRun`]) did not get a file it asked for: the
    /// stacker returned no map, the job wrote no single output.
    #[error("{}: {what}", path.display())]
    NotProduced {
        /// The file that was to be written.
        path: PathBuf,
        /// What happened instead.
        what: String,
    },
    /// A one-stack run placed its output but then failed to place a map.
    #[error("{} was written, but not the {what}", output.display())]
    MapNotPlaced {
        /// The output, which stays.
        output: PathBuf,
        /// "depth map" or "confidence map".
        what: &'static str,
        /// Why the map is missing.
        #[source]
        source: Box<JobError>,
    },
    /// A batch manifest (CSV or JSON lines) says something fstack cannot use.
    #[error("{}: line {line}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// The line, counted from 1 (the CSV header is line 1).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Two stacks of a batch have the same id or the same output.
    #[error("two stacks have the same {what} `{value}`: stacks `{first}` and `{second}`")]
    DuplicateStack {
        /// "id" or "output".
        what: &'static str,
        /// The id or output they share.
        value: String,
        /// The first stack's id.
        first: String,
        /// The second stack's id.
        second: String,
    },
    /// A `K/N` shard is not one.
    #[error("shard `{spec}`: {reason}")]
    Shard {
        /// The shard as given.
        spec: String,
        /// What is wrong, and what a valid shard looks like.
        reason: String,
    },
    /// A frame has no capture time, which splitting by time gaps needs.
    #[error(
        "{}: no EXIF capture time (DateTimeOriginal or DateTime); splitting a stack by \
         time gaps needs one in every frame",
        path.display()
    )]
    NoCaptureTime {
        /// The frame.
        path: PathBuf,
    },
    /// Reading a folder or a frame for a batch failed (the error names the file).
    #[error(transparent)]
    Batch(CoreError),
    /// A job file (TOML) or project file (.fsp) could not be parsed.
    #[error("{}: {message}", path.display())]
    JobFile {
        /// The file (or `<string>` for text parsed from memory).
        path: PathBuf,
        /// What is wrong, with the line and column when known.
        message: String,
    },
}

/// The `action` of errors about the job itself rather than one of its actions.
pub const JOB_SCOPE: &str = "(job)";

/// "job" or "action `name`".
fn scope(action: &str) -> String {
    if action == JOB_SCOPE { "job".to_string() } else { format!("action `{action}`") }
}

impl JobError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        JobError::Io { path: path.into(), source }
    }

    pub(crate) fn option(
        action: &str,
        option: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        JobError::InvalidOption {
            action: action.to_string(),
            option: option.into(),
            reason: reason.into(),
        }
    }

    /// A frame error of `action`; a cancellation becomes [`JobError::Cancelled`].
    pub(crate) fn frames(action: &str, source: CoreError) -> Self {
        match source {
            CoreError::Cancelled => {
                JobError::Cancelled { action: action.to_string(), written: Vec::new() }
            }
            source => JobError::Frames { action: action.to_string(), source },
        }
    }

    /// The outputs a cancelled run finished and kept ([`JobError::Cancelled`]);
    /// empty for other errors.
    pub fn written(&self) -> &[PathBuf] {
        match self {
            JobError::InFile { source, .. } => source.written(),
            JobError::Cancelled { written, .. } => written,
            _ => &[],
        }
    }

    /// This error with `earlier` (outputs finished before it) in front of what a
    /// cancellation says it kept; other errors are returned as they are.
    pub fn with_earlier_outputs(self, earlier: &[PathBuf]) -> Self {
        match self {
            JobError::InFile { path, source } => {
                JobError::InFile { path, source: Box::new(source.with_earlier_outputs(earlier)) }
            }
            JobError::Cancelled { action, written } => {
                JobError::Cancelled { action, written: [earlier, &written].concat() }
            }
            other => other,
        }
    }

    /// Whether this error is a cancellation.
    pub fn is_cancelled(&self) -> bool {
        match self {
            JobError::InFile { source, .. } => source.is_cancelled(),
            other => matches!(other, JobError::Cancelled { .. }),
        }
    }
}

/// Result alias for fs-job.
pub type Result<T, E = JobError> = std::result::Result<T, E>;
