//! The algorithm crates fs-job drives, in one place: the stackers (fs-pyramid) and
//! the post-filters (fs-filters).

pub use fs_filters::{FilterError, NlMeansOptions, UnsharpOptions, nl_means_denoise, unsharp_mask};
pub use fs_pyramid::{PyramidError, PyramidOptions, PyramidStack};
