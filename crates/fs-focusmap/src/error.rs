//! The error type of fs-focusmap.

use fs_core::CoreError;

/// Everything that can go wrong while focus-map stacking. Each variant names the
/// option or the frame and the numbers involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FocusMapError {
    /// An option has a value outside its allowed range.
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption {
        /// The option's name, as the user spells it (e.g. `focus_sigma`).
        name: &'static str,
        /// The allowed range, and the value given.
        reason: String,
    },
    /// The frame source yielded no frame at all.
    #[error("a stack needs at least one frame, the frame source yielded none")]
    EmptyStack,
    /// Reading a frame, the scratch file, or a buffer operation of fs-core failed
    /// (the file is named).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The peak search's scratch file (memory-limited runs) could not be made or
    /// used (the folder is named).
    #[error(transparent)]
    Tiles(#[from] fs_tiles::TilesError),
}

/// Result alias for fs-focusmap.
pub type Result<T, E = FocusMapError> = std::result::Result<T, E>;

pub(crate) fn invalid(name: &'static str, reason: String) -> FocusMapError {
    FocusMapError::InvalidOption { name, reason }
}
