//! The error type of fs-depthmap.

use fs_core::CoreError;

/// Everything that can go wrong while depth-map stacking. Each variant names the
/// option or the frame and the numbers involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DepthMapError {
    /// An option has a value outside its allowed range.
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption {
        /// The option's name, as the user spells it (e.g. `kernel_size`).
        name: &'static str,
        /// The allowed range, and the value given.
        reason: String,
    },
    /// The frame source yielded no frame at all.
    #[error("a stack needs at least one frame, the frame source yielded none")]
    EmptyStack,
    /// The frame source yielded different frames in the second pass than in the first.
    #[error("the frame source changed between the two passes: {what}")]
    SourceChanged {
        /// What differed (frame count or shape).
        what: String,
    },
    /// The bilateral filter of the energy maps failed.
    #[error(transparent)]
    Filter(#[from] fs_filters::FilterError),
    /// Reading a frame, or a buffer operation of fs-core, failed (the file is named).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias for fs-depthmap.
pub type Result<T, E = DepthMapError> = std::result::Result<T, E>;

pub(crate) fn invalid(name: &'static str, reason: String) -> DepthMapError {
    DepthMapError::InvalidOption { name, reason }
}
