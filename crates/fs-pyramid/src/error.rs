//! The error type of fs-pyramid.

/// Everything that can go wrong while building pyramids or stacking. Frame
/// errors (unreadable file, a frame of another size or format) come from fs-core
/// and name the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PyramidError {
    /// Reading or checking a frame failed, or the work was cancelled.
    #[error(transparent)]
    Core(#[from] fs_core::CoreError),
    /// An option is outside its allowed range.
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption {
        /// The option's name as the user spells it (e.g. `kernel_size`).
        name: &'static str,
        /// The allowed range and the value given.
        reason: String,
    },
    /// The temporary files of the tiled stacker could not be created, sized,
    /// mapped or released, or the disk lacks room for them (the message names the
    /// folder and the sizes).
    #[error("temporary tiles: {0}")]
    Tiles(#[from] fs_tiles::TilesError),
    /// The frame sequence was empty.
    #[error("a stack needs at least one frame, got none")]
    NoFrames,
    /// A pyramid level has the wrong size for the operation (a caller's mistake).
    #[error(
        "{what}: level size should be {}x{}, found {}x{}",
        expected.0, expected.1, found.0, found.1
    )]
    LevelSize {
        /// The operation.
        what: &'static str,
        /// `(width, height)` it needs.
        expected: (usize, usize),
        /// `(width, height)` it got.
        found: (usize, usize),
    },
}
