//! [`FocusMapStack`]: the two passes over the frames.

use std::path::{Path, PathBuf};

use fs_core::{
    BitDepth, ChannelLayout, DecodeAhead, Frame, FrameInfo, PathFrames, PixelFormat, Progress,
    Samples, check_frame, with_prefetch,
};
use fs_tiles::{FrameSpill, RowSamples, RowsBuffer};

use crate::FocusMapOptions;
use crate::compose::{Plan, compose, upsampled_frame};
use crate::decision::{Peaks, decide, fill, vote};
use crate::error::{FocusMapError, Result};
use crate::measure::{Measure, half};
use crate::memory::MemoryPlan;

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
    /// How the stack fitted its memory limit.
    pub memory: MemoryPlan,
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

    /// How a stack of frames of shape `info` runs within
    /// [`FocusMapOptions::memory_limit`] on this machine.
    pub fn memory_plan(&self, info: FrameInfo) -> MemoryPlan {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let maps = u64::from(self.options.depth_map) + u64::from(self.options.confidence_map);
        MemoryPlan::new(info, cores, maps, self.options.memory_limit)
    }

    /// Stacks the image files `paths`, in this order, decoding each once: as many at
    /// a time as there are cores ([`DecodeAhead`]), or one at a time when the
    /// [`MemoryPlan`] says so.
    pub fn stack_paths(
        &self,
        paths: &[PathBuf],
        progress: &dyn Progress,
    ) -> Result<FocusMapResult> {
        let Some(first) = paths.first() else {
            return Err(FocusMapError::EmptyStack);
        };
        let plan = self.memory_plan(fs_core::read_frame_info(first)?);
        if plan.decode_ahead > 0 {
            self.stack(DecodeAhead::new(paths.to_vec(), plan.decode_ahead), progress)
        } else {
            self.stack(PathFrames::new(paths.to_vec()), progress)
        }
    }

    fn stack_inner<I>(
        &self,
        frames: I,
        scratch_dir: Option<&Path>,
        progress: &dyn Progress,
    ) -> Result<FocusMapResult>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        let o = self.options;
        let mut frames = frames.into_iter();
        let first = frames.next().ok_or(FocusMapError::EmptyStack)??;
        let info = first.info();
        if let Some(k) = o.decision_channel
            && k >= info.format.layout.channels()
        {
            let reason = format!(
                "channel {k} does not exist: the frames have {} channel(s), 0..={}",
                info.format.layout.channels(),
                info.format.layout.channels() - 1
            );
            return Err(crate::error::invalid("decision_channel", reason));
        }
        let memory = self.memory_plan(info);
        let metadata = first.metadata.clone();
        let frames = std::iter::once(Ok(first)).chain(frames);
        let mut spill = FrameSpill::new(scratch_dir)?;
        // Pass 1: the focus measure of every frame, folded into the peak search; the
        // samples go to the scratch file meanwhile. The next frame is decoded
        // meanwhile too, unless memory is short.
        let disk = memory.peaks_on_disk.then_some(scratch_dir);
        let mut peaks = if memory.is_fastest() {
            with_prefetch(frames, |frames| pass1(frames, info, o, disk, &mut spill, progress))?
        } else {
            pass1(frames, info, o, disk, &mut spill, progress)?
        };
        let n = peaks.frames();
        let (w, h) = (info.width, info.height);
        let (hw, hh) = (half(w), half(h));
        if n == 1 {
            // The frame itself, back from the scratch file.
            let mut buf = RowsBuffer::new();
            let samples = match spill.read_rows(info, 0, 0..h, &mut buf)? {
                RowSamples::U8(s) => Samples::U8(s.to_vec()),
                RowSamples::U16(s) => Samples::U16(s.to_vec()),
            };
            let image = Frame::new(info, samples)?.with_metadata(metadata);
            let depth_map = o.depth_map.then(|| flat_frame(w, h, 0)).transpose()?;
            let confidence_map = o.confidence_map.then(|| flat_frame(w, h, 65535)).transpose()?;
            return Ok(FocusMapResult { image, depth_map, confidence_map, frames: 1, memory });
        }
        // The decision, on the half-resolution map.
        progress.phase("decision", 0);
        let mut decision = decide(&mut peaks, o.confidence_ratio)?;
        drop(peaks);
        vote(&mut decision, hw, hh, o.consistency, n);
        let confidence_map = if o.confidence_map {
            Some(upsampled_frame(&decision.confidence, hw, hh, w, h, 65535.0)?)
        } else {
            None
        };
        fill(&mut decision, hw, hh);
        let plan = Plan::new(&decision, n, o.flat_average, hw, hh);
        drop(decision);
        let depth_map = if o.depth_map { Some(plan.depth_frame(w, h)?) } else { None };
        // Pass 2: the frames again, from the scratch file, weighted into the result.
        let image = compose(&plan, &spill, info, o.linear_blend, progress)?.with_metadata(metadata);
        Ok(FocusMapResult { image, depth_map, confidence_map, frames: n, memory })
    }
}

/// Pass 1 over `frames` (of shape `info`): their focus measure folded into the peak
/// search (in memory, or on disk under `disk`'s folder), their samples appended to
/// `spill` meanwhile.
fn pass1(
    frames: impl Iterator<Item = fs_core::Result<Frame>>,
    info: FrameInfo,
    o: FocusMapOptions,
    disk: Option<Option<&Path>>,
    spill: &mut FrameSpill,
    progress: &dyn Progress,
) -> Result<Peaks> {
    let (hw, hh) = (half(info.width), half(info.height));
    progress.phase("focus map", 0);
    let mut measure = Measure::new(info.width, info.height, o.focus_sigma, o.decision_channel)?;
    // Allocation: once per stack.
    let mut focus = vec![0.0; hw * hh];
    let mut peaks = Peaks::new(hw, hh, disk)?;
    for (k, frame) in frames.enumerate() {
        let frame = frame?;
        progress.check_cancelled()?;
        check_frame(info, &frame)?;
        let (written, measured) = rayon::join(
            || spill.write(&frame),
            || -> Result<()> {
                measure.focus(&frame, &mut focus)?;
                peaks.add(&focus)?;
                Ok(())
            },
        );
        written?;
        measured?;
        progress.step(k as u64 + 1);
    }
    Ok(peaks)
}

fn flat_frame(w: usize, h: usize, value: u16) -> fs_core::Result<Frame> {
    let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Sixteen };
    Frame::new(FrameInfo { width: w, height: h, format }, Samples::U16(vec![value; w * h]))
}
