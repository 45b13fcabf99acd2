//! The error type of fs-tiles.

use std::path::PathBuf;

/// Everything that can go wrong with disk-backed planes. Each variant names the
/// file or folder and the numbers, so one line tells the user what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TilesError {
    /// A temporary file or folder could not be created, sized or mapped.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The free space check before the work found too little room.
    #[error(
        "not enough disk space for temporary tiles in {}: need {}, only {} free \
         (set FSTACK_TMPDIR or the temp_dir option to a folder on a larger disk, \
         or raise memory_limit)",
        dir.display(), crate::format_bytes(*need), crate::format_bytes(*available)
    )]
    DiskSpace {
        /// The folder the temporary files would go to.
        dir: PathBuf,
        /// Bytes needed.
        need: u64,
        /// Bytes free for this user.
        available: u64,
    },
    /// The disk filled up while the temporary files were being allocated.
    #[error("{}: disk full while reserving {} for temporary tiles: {source}", path.display(), crate::format_bytes(*bytes))]
    DiskFull {
        /// The temporary file.
        path: PathBuf,
        /// Bytes it needed.
        bytes: u64,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An fs-core error (e.g. a temporary folder that does not exist), which names
    /// the path.
    #[error(transparent)]
    Core(Box<fs_core::CoreError>),
    /// A plane or grid with a zero or too large dimension was asked for.
    #[error("invalid dimensions: {0}")]
    Dimensions(String),
    /// A byte size such as `512M` could not be parsed.
    #[error("`{text}` is not a size (examples: 512M, 8G, 1.5GiB, 1048576): {reason}")]
    ByteSize {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Result alias for fs-tiles.
pub type Result<T, E = TilesError> = std::result::Result<T, E>;

impl From<fs_core::CoreError> for TilesError {
    fn from(e: fs_core::CoreError) -> Self {
        TilesError::Core(Box::new(e))
    }
}
