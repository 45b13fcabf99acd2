//! The error type of fs-filters.

use fs_core::PixelFormat;

/// Everything that can go wrong in a filter: a bad option (named as the user
/// spells it in a job file), an image that does not match its pixel format, or a
/// size error from fs-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// An error from fs-core (plane sizes, kernels).
    #[error(transparent)]
    Core(#[from] fs_core::CoreError),
    /// An option has a value outside its allowed range.
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption {
        /// The option's name as the user knows it (e.g. `sharpen_radius`).
        name: &'static str,
        /// The allowed range and the value given.
        reason: String,
    },
    /// The image's channel count differs from what its pixel format says.
    #[error("the image has {channels} channels, but its pixel format {format} has {expected}")]
    ChannelMismatch {
        /// Channels of the image passed.
        channels: usize,
        /// The format passed with it.
        format: PixelFormat,
        /// Channels that format has.
        expected: usize,
    },
}

/// Checks that `value` is finite and within `min..=max` (`min` excluded when
/// `min_exclusive`), naming the option in the error.
pub(crate) fn check_range(
    name: &'static str,
    value: f64,
    min: f64,
    min_exclusive: bool,
    max: f64,
) -> Result<(), FilterError> {
    let low_ok = if min_exclusive { value > min } else { value >= min };
    if value.is_finite() && low_ok && value <= max {
        return Ok(());
    }
    let low = if min_exclusive { format!("> {min}") } else { format!(">= {min}") };
    Err(FilterError::InvalidOption {
        name,
        reason: format!("must be {low} and <= {max}, got {value}"),
    })
}

/// Checks that an image has the channels its format says; returns the number of
/// colour channels (alpha excluded).
pub(crate) fn color_channels<T>(
    image: &fs_core::Image<T>,
    format: PixelFormat,
) -> Result<usize, FilterError> {
    let expected = format.layout.channels();
    if image.channels() != expected {
        return Err(FilterError::ChannelMismatch { channels: image.channels(), format, expected });
    }
    Ok(format.layout.color_channels())
}
