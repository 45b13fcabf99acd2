//! The stacking algorithm of an action, chosen by an enum that carries its options.
//!
//! Adding a stacker (PyramidTilesStack, PyramidAutoStack, DepthMapStack) is one
//! variant here plus one arm in each `match` of this file; job files already know
//! every stacker's name and options and answer "not implemented yet" for the missing
//! ones (see [`StackerKind`]).

use std::path::Path;

use fs_core::{FloatType, Frame, Progress};

use crate::algorithms::{PyramidOptions, PyramidStack};
use crate::{JobError, Result, StackerError};

/// A focus-stacking algorithm with its options (the seed's `stacker` argument).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Stacker {
    /// `PyramidStack`: Laplacian pyramid, maximum-energy rule, all in memory.
    Pyramid(PyramidOptions),
}

impl Default for Stacker {
    fn default() -> Self {
        Stacker::Pyramid(PyramidOptions::default())
    }
}

impl Stacker {
    /// `PyramidStack()` with the spec's defaults.
    pub fn pyramid() -> Self {
        Stacker::Pyramid(PyramidOptions::default())
    }

    /// The seed's name of the algorithm, e.g. `PyramidStack`.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Which algorithm this is.
    pub fn kind(&self) -> StackerKind {
        match self {
            Stacker::Pyramid(_) => StackerKind::PyramidStack,
        }
    }

    /// The float type the algorithm computes in; the post-filters use the same.
    pub fn float_type(&self) -> FloatType {
        match self {
            Stacker::Pyramid(o) => o.float_type,
        }
    }

    /// Checks the options; the error names `action` and the option.
    pub fn validate(&self, action: &str) -> Result<()> {
        match self {
            Stacker::Pyramid(o) => o.validate().map_err(|e| pyramid_option(action, e)),
        }
    }

    /// Stacks `frames` (at least one) into one frame in the input's format.
    pub(crate) fn stack<I>(
        &self,
        frames: I,
        context: &StackContext<'_>,
        progress: &dyn Progress,
    ) -> std::result::Result<Frame, StackerError>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        match self {
            // The pyramid stackers write no plots.
            Stacker::Pyramid(o) => {
                let _ = context;
                Ok(PyramidStack::new(*o)?.stack(frames, progress)?)
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

/// What a stacker may need besides its frames: where its plots go (a depth map is
/// written to `<plot_dir>/<action>-depth-map.png`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StackContext<'a> {
    /// The action's name.
    pub action: &'a str,
    /// The action's plot folder (not created until a plot is written).
    #[allow(dead_code)] // read by the plotting stackers (DepthMapStack, to come)
    pub plot_dir: &'a Path,
}

/// Every stacker the seed names, implemented or not: what job files may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StackerKind {
    /// `PyramidStack`.
    PyramidStack,
    /// `PyramidTilesStack` (not implemented yet).
    PyramidTilesStack,
    /// `PyramidAutoStack` (not implemented yet).
    PyramidAutoStack,
    /// `DepthMapStack` (not implemented yet).
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
        source => JobError::Stacker { action: action.to_string(), source },
    }
}
