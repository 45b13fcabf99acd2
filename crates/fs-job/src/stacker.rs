//! The stacking algorithm of an action, chosen by an enum that carries its options.
//!
//! Adding a stacker is one variant here plus one arm in each `match` of this file,
//! and its keys in `jobfile.rs` / `fsp.rs`.

use std::path::{Path, PathBuf};

use fs_core::{FloatType, Frame, Progress};

use crate::algorithms::{
    DepthMapOptions, DepthMapStack, PyramidAutoOptions, PyramidAutoStack, PyramidOptions,
    PyramidStack, PyramidTilesOptions, PyramidTilesStack,
};
use crate::{JobError, Result, StackerError};

/// A focus-stacking algorithm with its options (the seed's `stacker` argument).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Stacker {
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
    fn default() -> Self {
        Stacker::Pyramid(PyramidOptions::default())
    }
}

/// What stacking one stack (or bunch) gave.
#[derive(Debug)]
pub(crate) struct Stacked {
    /// The stacked image.
    pub frame: Frame,
    /// One line for the user about how it was stacked (PyramidAutoStack's choice).
    pub note: Option<String>,
    /// The depth-map image (DepthMapStack with `plot_depth_map`).
    pub depth_map: Option<Frame>,
    /// What alignment did (one line each), when the frames were aligned.
    pub align_notes: Vec<String>,
}

impl Stacker {
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
            Stacker::Pyramid(_) => StackerKind::PyramidStack,
            Stacker::Tiles(_) => StackerKind::PyramidTilesStack,
            Stacker::Auto(_) => StackerKind::PyramidAutoStack,
            Stacker::DepthMap(_) => StackerKind::DepthMapStack,
        }
    }

    /// The float type the algorithm computes in; the post-filters use the same.
    pub fn float_type(&self) -> FloatType {
        match self {
            Stacker::Pyramid(o) => o.float_type,
            Stacker::Tiles(o) => o.pyramid.float_type,
            Stacker::Auto(o) => o.tiles.pyramid.float_type,
            Stacker::DepthMap(o) => o.float_type,
        }
    }

    /// Whether the stacker writes a plot (a depth map): then even a one-frame stack
    /// runs through it.
    pub fn plots(&self) -> bool {
        matches!(self, Stacker::DepthMap(o) if o.plot_depth_map)
    }

    /// Checks the options; the error names `action` and the option.
    pub fn validate(&self, action: &str) -> Result<()> {
        match self {
            Stacker::Pyramid(o) => o.validate().map_err(|e| pyramid_option(action, e)),
            Stacker::Tiles(o) => o.validate().map_err(|e| pyramid_option(action, e)),
            Stacker::Auto(o) => o.validate().map_err(|e| pyramid_option(action, e)),
            Stacker::DepthMap(o) => o.validate().map_err(|e| depthmap_option(action, e)),
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
        let plain = |frame| Stacked { frame, note: None, depth_map: None, align_notes: Vec::new() };
        match self {
            Stacker::Pyramid(o) => Ok(plain(PyramidStack::new(*o)?.stack(frames, progress)?)),
            Stacker::Tiles(o) => {
                let mut o = o.clone();
                o.temp_dir = context.temp_dir(o.temp_dir.as_deref());
                Ok(plain(PyramidTilesStack::new(o)?.stack(frames, progress)?))
            }
            Stacker::Auto(o) => {
                let mut o = o.clone();
                o.tiles.temp_dir = context.temp_dir(o.tiles.temp_dir.as_deref());
                let (frame, choice) =
                    PyramidAutoStack::new(o)?.stack_explained(frames, progress)?;
                Ok(Stacked {
                    frame,
                    note: Some(format!("PyramidAutoStack: {choice}")),
                    depth_map: None,
                    align_notes: Vec::new(),
                })
            }
            Stacker::DepthMap(o) => {
                // Its scratch file (the frames' samples, read back in pass 2) goes
                // where the tiled stackers' files go: $FSTACK_TMPDIR, else the system's.
                let scratch = fs_tiles::temp_root(None);
                let result = DepthMapStack::new(*o)?.stack_in(frames, &scratch, progress)?;
                Ok(Stacked {
                    frame: result.image,
                    note: None,
                    depth_map: result.depth_map,
                    align_notes: Vec::new(),
                })
            }
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

/// Every stacker the seed names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StackerKind {
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
    /// All kinds, in the seed's order.
    pub const ALL: [StackerKind; 4] = [
        StackerKind::PyramidStack,
        StackerKind::PyramidTilesStack,
        StackerKind::PyramidAutoStack,
        StackerKind::DepthMapStack,
    ];

    /// The seed's name.
    pub fn name(self) -> &'static str {
        match self {
            StackerKind::PyramidStack => "PyramidStack",
            StackerKind::PyramidTilesStack => "PyramidTilesStack",
            StackerKind::PyramidAutoStack => "PyramidAutoStack",
            StackerKind::DepthMapStack => "DepthMapStack",
        }
    }

    /// The kind a (case-insensitive) seed name names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

/// A stacker's error as a job error: a frame error (naming the file) or a
/// cancellation keeps its kind.
pub(crate) fn job_error(action: &str, e: StackerError) -> JobError {
    match e {
        StackerError::Pyramid(crate::algorithms::PyramidError::Core(core)) => {
            JobError::frames(action, core)
        }
        StackerError::DepthMap(crate::algorithms::DepthMapError::Core(core)) => {
            JobError::frames(action, core)
        }
        source => JobError::Stacker { action: action.to_string(), source },
    }
}
