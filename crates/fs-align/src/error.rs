//! The error type of fs-align.

use std::path::PathBuf;

/// Why a frame could not be aligned (the estimator's verdict, without the file name).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AlignFailure {
    /// Too few feature matches survived RANSAC.
    #[error("too few matches: {found} inliers, at least {needed} needed")]
    TooFewMatches {
        /// Inliers found.
        found: usize,
        /// `min_inliers`.
        needed: usize,
    },
    /// The fitted transform is singular or not finite.
    #[error("degenerate transform")]
    Degenerate,
    /// The transform is outside the plausible range (`max_scale_change`,
    /// `max_rotation_deg`, `max_shift`).
    #[error("implausible transform: {0}")]
    Implausible(String),
    /// Neither features nor intensities match the reference: the frame shows another
    /// scene, or nothing (a black frame).
    #[error(
        "matches nothing: correlation {correlation:.2} with the reference at the coarsest scale, at least 0.50 needed"
    )]
    NoMatch {
        /// The band-passed correlation reached at the coarsest scale.
        correlation: f64,
    },
    /// The reference frame has too little texture to find features in.
    #[error("the reference frame has too few features: {found}, at least {needed} needed")]
    FeaturelessReference {
        /// Features found.
        found: usize,
        /// What the estimator needs.
        needed: usize,
    },
}

/// Everything that can go wrong in fs-align.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlignError {
    /// An error from fs-core (a frame that cannot be read, sizes).
    #[error(transparent)]
    Core(#[from] fs_core::CoreError),
    /// An option has a value outside its allowed range.
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption {
        /// The option's name as the user knows it (e.g. `rans_threshold`).
        name: &'static str,
        /// The allowed range and the value given.
        reason: String,
    },
    /// A frame could not be aligned to the reference.
    #[error("{}: cannot be aligned: {reason}", path.display())]
    Failed {
        /// The frame's file name.
        path: PathBuf,
        /// Why.
        reason: AlignFailure,
    },
    /// Every frame but the reference was left out, or the frames share no area.
    #[error("{0}")]
    NothingLeft(String),
}

/// The result type of fs-align.
pub type Result<T, E = AlignError> = std::result::Result<T, E>;

/// Checks that `value` is finite and within `min..=max` (`min` excluded when
/// `min_exclusive`), naming the option in the error.
pub(crate) fn check_range(
    name: &'static str,
    value: f64,
    min: f64,
    min_exclusive: bool,
    max: f64,
) -> Result<()> {
    let low_ok = if min_exclusive { value > min } else { value >= min };
    if value.is_finite() && low_ok && value <= max {
        return Ok(());
    }
    let low = if min_exclusive { format!("> {min}") } else { format!(">= {min}") };
    Err(AlignError::InvalidOption {
        name,
        reason: format!("must be {low} and <= {max}, got {value}"),
    })
}
