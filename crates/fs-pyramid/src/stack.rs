//! `PyramidStack`: the streaming Laplacian-pyramid stacker.
//!
//! A producer thread pulls frames from the caller's iterator (decoding them, for
//! [`fs_core::PathFrames`]) and hands them over through a rendezvous channel, so the
//! next frame decodes while the current one is folded in; at most two frames are
//! decoded at any time. Per frame: the Gaussian levels `G_1..G_n` are reduced from
//! the frame's samples (buffers reused across frames), each detail level is folded
//! into the running best pyramid ([`crate::fuse`]), and the base level `G_n` is kept.
//! At the end the base levels are fused ([`crate::base`]), the pyramid collapsed in
//! place, colour un-premultiplied, and the result rounded to the input's format.
//! The state doing this is the tiled stacker's ([`crate::PyramidTilesStack`]) with
//! no level on disk: one implementation for both.
//!
//! Memory: the running pyramid (coefficients and energy, about 1.8x one frame in
//! floats for RGB), the current frame's `G_1..G_n` (a third of a frame), two
//! decoded frames, and every frame's base level (1/4^n of a frame each). It does
//! not grow with the number of frames, except for the base levels.

use fs_core::{Frame, Progress};

use crate::tiled::run_stack;
use crate::{PyramidError, PyramidOptions};

/// The Laplacian-pyramid focus stacker (maximum-energy rule for the detail levels,
/// entropy + variance rule for the base level). See the crate docs.
#[derive(Debug, Clone)]
pub struct PyramidStack {
    /// The options it was built with (validated).
    pub options: PyramidOptions,
}

impl PyramidStack {
    /// A stacker with these options; fails, naming the option, if one is invalid.
    pub fn new(options: PyramidOptions) -> Result<Self, PyramidError> {
        options.validate()?;
        Ok(Self { options })
    }

    /// Stacks frames yielded one at a time (e.g. [`fs_core::PathFrames`], or
    /// already decoded frames) into one frame in the input's format, carrying the
    /// first frame's metadata. Every frame must have the first one's size and
    /// format ([`fs_core::check_frame`]); callers with paths can check all headers
    /// first with [`fs_core::check_stack`]. Cancellation is checked between frames and
    /// between levels.
    pub fn stack<I>(&self, frames: I, progress: &dyn Progress) -> Result<Frame, PyramidError>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        self.options.validate()?;
        // At most two decoded frames at a time: the next decodes while one is fused.
        run_stack(frames.into_iter(), "pyramid stacking", true, &self.options, None, progress)
    }
}
