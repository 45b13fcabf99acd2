//! The algorithm crates fs-job drives, in one place: the stackers (fs-focusmap,
//! fs-pyramid, fs-depthmap), alignment and balance (fs-align) and the post-filters
//! (fs-filters).

pub use fs_align::{
    AlignError, AlignFailure, AlignMethod, AlignOptions, AlignSettings, BalanceChannel,
    BalanceOptions, BorderMode, FrameReport, Interpolation, OnFailure, ReferenceFrame,
    TransformKind,
};
pub use fs_depthmap::{DepthMapError, DepthMapOptions, DepthMapStack, Energy, MapType};
pub use fs_filters::{
    FilterError, NlMeansOptions, UnsharpOptions, nl_means_denoise_with_progress, unsharp_mask,
};
pub use fs_focusmap::{FocusMapError, FocusMapOptions, FocusMapStack};
pub use fs_pyramid::{
    PyramidAutoOptions, PyramidAutoStack, PyramidError, PyramidOptions, PyramidStack,
    PyramidTilesOptions, PyramidTilesStack, StackMode,
};
