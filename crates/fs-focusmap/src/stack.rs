//! [`FocusMapStack`]: the two passes over the frames.

use std::path::{Path, PathBuf};

use fs_core::{Frame, PathFrames, Progress};

use crate::FocusMapOptions;
use crate::error::{FocusMapError, Result};

/// The focus-map stacker (see the crate docs for the method).
#[derive(Debug, Clone)]
pub struct FocusMapStack {
    /// Its options (checked by [`FocusMapStack::new`]).
    pub options: FocusMapOptions,
}

/// What [`FocusMapStack`] returns.
#[derive(Debug)]
pub struct FocusMapResult {
    /// The stacked image, in the frames' format.
    pub image: Frame,
    /// The depth map (16-bit gray, frame index `k` of `n` at `65535 * k / (n - 1)`),
    /// with [`FocusMapOptions::depth_map`].
    pub depth_map: Option<Frame>,
    /// The confidence map (16-bit gray), with [`FocusMapOptions::confidence_map`].
    pub confidence_map: Option<Frame>,
    /// How many frames were stacked.
    pub frames: usize,
}

impl FocusMapStack {
    /// A stacker with checked options.
    pub fn new(options: FocusMapOptions) -> Result<Self> {
        options.validate()?;
        Ok(Self { options })
    }

    /// Stacks the frames of `frames`, reading the source once (pass 1 keeps each
    /// frame's samples in an unlinked scratch file in the system's temporary folder,
    /// which pass 2 reads back). Every frame must have the first one's size and format.
    pub fn stack<I>(&self, frames: I, progress: &dyn Progress) -> Result<FocusMapResult>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        self.stack_inner(frames, None, progress)
    }

    /// [`FocusMapStack::stack`] with the scratch file in `scratch_dir`.
    pub fn stack_in<I>(
        &self,
        frames: I,
        scratch_dir: &Path,
        progress: &dyn Progress,
    ) -> Result<FocusMapResult>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        self.stack_inner(frames, Some(scratch_dir), progress)
    }

    /// Stacks the image files `paths`, in this order, decoding each once.
    pub fn stack_paths(&self, paths: &[PathBuf], progress: &dyn Progress) -> Result<FocusMapResult> {
        self.stack(PathFrames::new(paths.to_vec()), progress)
    }

    fn stack_inner<I>(
        &self,
        frames: I,
        _scratch_dir: Option<&Path>,
        _progress: &dyn Progress,
    ) -> Result<FocusMapResult>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        // Placeholder until the method lands: the first frame.
        let mut n = 0;
        let mut first = None;
        for f in frames {
            let f = f?;
            n += 1;
            if first.is_none() {
                first = Some(f);
            }
        }
        let image = first.ok_or(FocusMapError::EmptyStack)?;
        Ok(FocusMapResult { image, depth_map: None, confidence_map: None, frames: n })
    }
}
