//! The error type of fs-core, shared in spirit by the higher crates.

use std::path::PathBuf;

/// Everything that can go wrong in fs-core. Each variant names the file (when
/// there is one) and the numbers involved, so one line tells the user what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a readable image (corrupt, truncated, not an image at all).
    #[error("{}: cannot decode image: {reason}", path.display())]
    Decode {
        /// The file concerned.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The image is valid but uses a sample format or layout fstack does not handle.
    #[error("{}: unsupported image format: {what}", path.display())]
    Unsupported {
        /// The file concerned.
        path: PathBuf,
        /// What is not supported, in the user's words (e.g. "32-bit float samples").
        what: String,
    },
    /// The image could not be encoded or written.
    #[error("{}: cannot write image: {reason}", path.display())]
    Encode {
        /// The file concerned.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An output's target exists and may not be replaced (it appeared after the
    /// checks made before the run, e.g. written by another program or run).
    #[error(
        "{}: already exists (created while fstack was working); it was left as it is",
        path.display()
    )]
    Exists {
        /// The target.
        path: PathBuf,
    },
    /// A frame's header claims a size too large to decode: more than the megapixel
    /// limit, or more memory than the machine has.
    #[error(
        "{}: the header claims {width}x{height} pixels ({megapixels:.0} megapixels, {gib:.1} GiB \
         decoded), more than {limit}",
        path.display(),
        megapixels = *width as f64 * *height as f64 / 1e6,
        gib = *bytes as f64 / (1u64 << 30) as f64
    )]
    TooLarge {
        /// The frame.
        path: PathBuf,
        /// Claimed width.
        width: u64,
        /// Claimed height.
        height: u64,
        /// The bytes its decoded samples would take.
        bytes: u64,
        /// The limit it exceeds, in words ("the 1000-megapixel limit").
        limit: String,
    },
    /// The folder for temporary files does not exist (or is not a folder).
    #[error(
        "{}: the folder for temporary files (from {variable}) does not exist; set {variable} \
         to an existing folder",
        path.display()
    )]
    TempFolder {
        /// The folder.
        path: PathBuf,
        /// Where it came from: `TMPDIR`, `FSTACK_TMPDIR`, an option.
        variable: String,
    },
    /// A frame of a stack differs in size, channels or bit depth from the first one.
    #[error("{}: frame is {found}, but the stack's first frame is {expected}", path.display())]
    FrameMismatch {
        /// The frame that differs.
        path: PathBuf,
        /// Shape of the first frame, e.g. "2000x1300 RGB 8-bit".
        expected: String,
        /// Shape of this frame.
        found: String,
    },
    /// A folder that should hold frames holds none.
    #[error("{}: no image files (JPEG, PNG, TIFF, camera RAW) found", path.display())]
    EmptyFolder {
        /// The folder concerned.
        path: PathBuf,
    },
    /// A buffer or dimension argument is inconsistent (a programming error of the caller).
    #[error("invalid dimensions: {0}")]
    Dimensions(String),
    /// An option has a value outside its allowed range.
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption {
        /// The option's name, as the user spells it (e.g. `pyramid_min_size`).
        name: &'static str,
        /// The allowed range, and the value given.
        reason: String,
    },
    /// The work was cancelled through the [`crate::Progress`] hook.
    #[error("cancelled")]
    Cancelled,
    /// A stage that transforms frames on their way to a stacker (alignment, say)
    /// failed on a frame; the stage's own error, which names the file, is the source
    /// (downcast it to get the details back).
    #[error(transparent)]
    Stage(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl CoreError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoreError::Io { path: path.into(), source }
    }
}

/// Result alias for fs-core.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
