//! The stacking algorithm of an action, chosen by an enum that carries its options.
//!
//! Adding a stacker is one variant here plus one arm in each `match` of this file,
//! and its keys in `jobfile.rs` / `fsp.rs`.

use std::path::{Path, PathBuf};

use fs_core::{FloatType, Frame, Progress};

use crate::algorithms::{
    DepthMapOptions, DepthMapStack, FocusMapOptions, FocusMapStack, PyramidAutoOptions,
    PyramidAutoStack, PyramidOptions, PyramidStack, PyramidTilesOptions, PyramidTilesStack,
};
use crate::{JobError, Result, StackerError};

/// A focus-stacking algorithm with its options (the seed's `stacker` argument).
/// [`Stacker::default`] is [`Stacker::FocusMap`] with its defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Stacker {
    /// `FocusMapStack`, fstack's own stacker and its default: a per-pixel focus
    /// decision (sub-frame precision, confidence-aware, flat areas filled and averaged) composed
    /// from the frames' own pixels (fs-focusmap). With `depth_map` / `confidence_map`
    /// it also writes those maps (16-bit gray) as plots (see the crate docs). Its
    /// scratch file goes where DepthMapStack's goes.
    FocusMap(FocusMapOptions),
    /// `PyramidStack`: Laplacian pyramid, maximum-energy rule, all in memory.
    Pyramid(PyramidOptions),
    /// `PyramidTilesStack`: the same pyramid, its finest levels in disk-backed tiles;
    /// the same pixels as [`Stacker::Pyramid`]. A relative `temp_dir` is inside the
    /// action's working folder.
    Tiles(PyramidTilesOptions),
    /// `PyramidAutoStack`: in memory or tiled, whichever fits `memory_limit`; what it
    /// chose is in [`crate::ActionSummary::notes`].
    Auto(PyramidAutoOptions),
    /// `DepthMapStack`: per-pixel focus weights blended through pyramids; with
    /// `plot_depth_map` it also writes a depth-map image (see the crate docs). Its
    /// scratch file of decoded samples goes to `$FSTACK_TMPDIR`, else the system's
    /// temporary folder.
    DepthMap(DepthMapOptions),
}

impl Default for Stacker {
    /// FocusMapStack with its defaults: what a job file that names no stacker gets.
    fn default() -> Self {
        Stacker::FocusMap(FocusMapOptions::default())
    }
}

/// What stacking one stack (or bunch) gave.
#[derive(Debug)]
pub(crate) struct Stacked {
    /// The stacked image.
    pub frame: Frame,
    /// One line for the user about how it was stacked (PyramidAutoStack's choice).
    pub note: Option<String>,
    /// The depth-map image (DepthMapStack with `plot_depth_map`, FocusMapStack with
    /// `depth_map`).
    pub depth_map: Option<Frame>,
    /// The confidence-map image (FocusMapStack with `confidence_map`).
    pub confidence_map: Option<Frame>,
    /// What alignment did (one line each), when the frames were aligned.
    pub align_notes: Vec<String>,
    /// What alignment did to each frame, in stack order, when the frames were aligned.
    pub align_reports: Vec<crate::FrameReport>,
}

impl Stacker {
    /// `FocusMapStack()` with its defaults (the same as [`Stacker::default`]).
    pub fn focus_map() -> Self {
        Stacker::FocusMap(FocusMapOptions::default())
    }

    /// `PyramidStack()` with the spec's defaults.
    pub fn pyramid() -> Self {
        Stacker::Pyramid(PyramidOptions::default())
    }

    /// `PyramidTilesStack()` with the spec's defaults.
    pub fn tiles() -> Self {
        Stacker::Tiles(PyramidTilesOptions::default())
    }

    /// `PyramidAutoStack()` with the spec's defaults.
    pub fn auto() -> Self {
        Stacker::Auto(PyramidAutoOptions::default())
    }

    /// `DepthMapStack()` with the spec's defaults.
    pub fn depth_map() -> Self {
        Stacker::DepthMap(DepthMapOptions::default())
    }

    /// The seed's name of the algorithm, e.g. `PyramidStack`.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Which algorithm this is.
    pub fn kind(&self) -> StackerKind {
        match self {
            Stacker::FocusMap(_) => StackerKind::FocusMapStack,
            Stacker::Pyramid(_) => StackerKind::PyramidStack,
            Stacker::Tiles(_) => StackerKind::PyramidTilesStack,
            Stacker::Auto(_) => StackerKind::PyramidAutoStack,
            Stacker::DepthMap(_) => StackerKind::DepthMapStack,
        }
    }

    /// The float type the algorithm computes in; the post-filters use the same.
    /// FocusMapStack has no float-type option: its post-filters compute in f32.
    pub fn float_type(&self) -> FloatType {
        match self {
            Stacker::FocusMap(_) => FloatType::default(),
            Stacker::Pyramid(o) => o.float_type,
            Stacker::Tiles(o) => o.pyramid.float_type,
            Stacker::Auto(o) => o.tiles.pyramid.float_type,
            Stacker::DepthMap(o) => o.float_type,
        }
    }

    /// Whether the stacker writes a plot (a depth map, a confidence map): then even a
    /// one-frame stack runs through it.
    pub fn plots(&self) -> bool {
        match self {
            Stacker::DepthMap(o) => o.plot_depth_map,
            Stacker::FocusMap(o) => o.depth_map || o.confidence_map,
            _ => false,
        }
    }

    /// Checks the options; the error names `action` and the option.
    pub fn validate(&self, action: &str) -> Result<()> {
        match self {
            Stacker::FocusMap(o) => o.validate().map_err(|e| focusmap_option(action, e)),
            Stacker::Pyramid(o) => o.validate().map_err(|e| pyramid_option(action, e)),
            Stacker::Tiles(o) => o.validate().map_err(|e| pyramid_option(action, e)),
            Stacker::Auto(o) => o.validate().map_err(|e| pyramid_option(action, e)),
            Stacker::DepthMap(o) => o.validate().map_err(|e| depthmap_option(action, e)),
        }
    }

    /// Whether the stacker bounds its memory for frames of shape `info` (the tiled
    /// stackers always; FocusMapStack when its memory limit says so), so the
    /// pipeline before it keeps no frame ahead either.
    pub(crate) fn memory_bounded(&self, info: fs_core::FrameInfo) -> bool {
        match self {
            Stacker::Tiles(_) | Stacker::Auto(_) => true,
            Stacker::FocusMap(o) => {
                FocusMapStack { options: *o }.memory_plan(info).decode_ahead == 0
            }
            _ => false,
        }
    }

    /// Stacks `frames` (at least one) into one frame in the input's format.
    pub(crate) fn stack<I>(
        &self,
        frames: I,
        context: &StackContext<'_>,
        progress: &dyn Progress,
    ) -> std::result::Result<Stacked, StackerError>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        match self {
            Stacker::FocusMap(o) => {
                // Like DepthMapStack's, its scratch file goes to $FSTACK_TMPDIR, else the
                // system's temporary folder.
                let scratch = fs_tiles::checked_temp_root(None)
                    .map_err(crate::algorithms::FocusMapError::from)?;
                let result = FocusMapStack::new(*o)?.stack_in(frames, &scratch, progress)?;
                // A note only when memory was short: the fast way is the usual one.
                let note = (!result.memory.is_fastest())
                    .then(|| format!("FocusMapStack: {}", result.memory));
                Ok(Stacked {
                    depth_map: result.depth_map,
                    confidence_map: result.confidence_map,
                    note,
                    ..Stacked::plain(result.image)
                })
            }
            Stacker::Pyramid(o) => {
                Ok(Stacked::plain(PyramidStack::new(*o)?.stack(frames, progress)?))
            }
            Stacker::Tiles(o) => {
                let mut o = o.clone();
                o.temp_dir = context.temp_dir(o.temp_dir.as_deref());
                Ok(Stacked::plain(PyramidTilesStack::new(o)?.stack(frames, progress)?))
            }
            Stacker::Auto(o) => {
                let mut o = o.clone();
                o.tiles.temp_dir = context.temp_dir(o.tiles.temp_dir.as_deref());
                let (frame, choice) =
                    PyramidAutoStack::new(o)?.stack_explained(frames, progress)?;
                Ok(Stacked {
                    note: Some(format!("PyramidAutoStack: {choice}")),
                    ..Stacked::plain(frame)
                })
            }
            Stacker::DepthMap(o) => {
                // Its scratch file (the frames' samples, read back in pass 2) goes
                // where the tiled stackers' files go: $FSTACK_TMPDIR, else the system's.
                let scratch = fs_tiles::checked_temp_root(None)
                    .map_err(crate::algorithms::DepthMapError::from)?;
                let result = DepthMapStack::new(*o)?.stack_in(frames, &scratch, progress)?;
                Ok(Stacked { depth_map: result.depth_map, ..Stacked::plain(result.image) })
            }
        }
    }
}

impl Stacked {
    /// A stacked image and nothing else.
    pub(crate) fn plain(frame: Frame) -> Self {
        Self {
            frame,
            note: None,
            depth_map: None,
            confidence_map: None,
            align_notes: Vec::new(),
            align_reports: Vec::new(),
        }
    }
}

fn pyramid_option(action: &str, e: crate::algorithms::PyramidError) -> JobError {
    match e {
        crate::algorithms::PyramidError::InvalidOption { name, reason } => {
            JobError::option(action, name, reason)
        }
        other => JobError::Stacker { action: action.to_string(), source: other.into() },
    }
}

fn focusmap_option(action: &str, e: crate::algorithms::FocusMapError) -> JobError {
    match e {
        crate::algorithms::FocusMapError::InvalidOption { name, reason } => {
            JobError::option(action, name, reason)
        }
        other => JobError::Stacker { action: action.to_string(), source: other.into() },
    }
}

fn depthmap_option(action: &str, e: crate::algorithms::DepthMapError) -> JobError {
    match e {
        crate::algorithms::DepthMapError::InvalidOption { name, reason } => {
            JobError::option(action, name, reason)
        }
        other => JobError::Stacker { action: action.to_string(), source: other.into() },
    }
}

/// What a stacker may need besides its frames.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StackContext<'a> {
    /// The action's working folder: relative temporary folders are inside it.
    pub working_dir: &'a Path,
}

impl StackContext<'_> {
    /// A stacker's `temp_dir`, relative ones inside the working folder.
    fn temp_dir(&self, dir: Option<&Path>) -> Option<PathBuf> {
        dir.map(|d| crate::paths::resolve(self.working_dir, d))
    }
}

/// Every stacker: fstack's own and the ones the seed names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StackerKind {
    /// `FocusMapStack` (fstack's own, the default).
    FocusMapStack,
    /// `PyramidStack`.
    PyramidStack,
    /// `PyramidTilesStack`.
    PyramidTilesStack,
    /// `PyramidAutoStack`.
    PyramidAutoStack,
    /// `DepthMapStack`.
    DepthMapStack,
}

impl StackerKind {
    /// All kinds: the default first, then the seed's in its order.
    pub const ALL: [StackerKind; 5] = [
        StackerKind::FocusMapStack,
        StackerKind::PyramidStack,
        StackerKind::PyramidTilesStack,
        StackerKind::PyramidAutoStack,
        StackerKind::DepthMapStack,
    ];

    /// The seed's name (for fstack's own stacker, a name in the seed's style).
    pub fn name(self) -> &'static str {
        match self {
            StackerKind::FocusMapStack => "FocusMapStack",
            StackerKind::PyramidStack => "PyramidStack",
            StackerKind::PyramidTilesStack => "PyramidTilesStack",
            StackerKind::PyramidAutoStack => "PyramidAutoStack",
            StackerKind::DepthMapStack => "DepthMapStack",
        }
    }

    /// The kind a (case-insensitive) name names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

/// A stacker's error as a job error: a frame error (naming the file), a cancellation
/// or a bad option keeps its kind.
pub(crate) fn job_error(action: &str, e: StackerError) -> JobError {
    match e {
        StackerError::FocusMap(crate::algorithms::FocusMapError::Core(core)) => {
            JobError::frames(action, core)
        }
        // An option that does not fit the frames (a decision channel they lack).
        StackerError::FocusMap(e @ crate::algorithms::FocusMapError::InvalidOption { .. }) => {
            focusmap_option(action, e)
        }
        StackerError::Pyramid(crate::algorithms::PyramidError::Core(core)) => {
            JobError::frames(action, core)
        }
        StackerError::DepthMap(crate::algorithms::DepthMapError::Core(core)) => {
            JobError::frames(action, core)
        }
        source => JobError::Stacker { action: action.to_string(), source },
    }
}
