//! [`FocusMapStack`]: the two passes over the frames.

use std::path::{Path, PathBuf};

use fs_core::{
    BitDepth, ChannelLayout, DecodeAhead, Frame, FrameInfo, Metadata, PixelFormat, Progress,
    Samples, check_frame, with_prefetch,
};
use fs_tiles::FrameSpill;

use crate::FocusMapOptions;
use crate::compose::{Composer, Plan, upsampled_frame};
use crate::decision::{Peaks, decide, fill, vote};
use crate::error::{FocusMapError, Result};
use crate::measure::{Measure, half};

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

    /// Stacks the image files `paths`, in this order, decoding each once, as many at
    /// a time as there are cores ([`DecodeAhead`]).
    pub fn stack_paths(
        &self,
        paths: &[PathBuf],
        progress: &dyn Progress,
    ) -> Result<FocusMapResult> {
        self.stack(DecodeAhead::all_cores(paths.to_vec()), progress)
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
        let mut spill = FrameSpill::new(scratch_dir)?;
        // Pass 1: the focus measure of every frame, folded into the peak search; the
        // samples go to the scratch file meanwhile.
        let pass1 = with_prefetch(frames, |frames| -> Result<Option<Pass1>> {
            let mut state: Option<Pass1> = None;
            for (k, frame) in frames.enumerate() {
                let frame = frame?;
                progress.check_cancelled()?;
                let st = match &mut state {
                    Some(st) => {
                        check_frame(st.info, &frame)?;
                        st
                    }
                    None => {
                        let info = frame.info();
                        progress.phase("focus map", 0);
                        let (hw, hh) = (half(info.width), half(info.height));
                        state.insert(Pass1 {
                            info,
                            measure: Measure::new(info.width, info.height, o.focus_sigma)?,
                            focus: vec![0.0; hw * hh],
                            peaks: Peaks::new(hw * hh),
                            metadata: frame.metadata.clone(),
                            first: None,
                        })
                    }
                };
                let (written, measured) = rayon::join(
                    || spill.write(&frame),
                    || -> fs_core::Result<()> {
                        st.measure.focus(&frame, &mut st.focus)?;
                        st.peaks.add(&st.focus);
                        Ok(())
                    },
                );
                written?;
                measured?;
                if k == 0 {
                    st.first = Some(frame);
                }
                progress.step(k as u64 + 1);
            }
            Ok(state)
        })?;
        let Some(mut pass1) = pass1 else {
            return Err(FocusMapError::EmptyStack);
        };
        let n = pass1.peaks.frames();
        let info = pass1.info;
        let (w, h) = (info.width, info.height);
        let (hw, hh) = (half(w), half(h));
        if n == 1 {
            let image = pass1.first.take().expect("the first frame is kept");
            let depth_map = o.depth_map.then(|| flat_frame(w, h, 0)).transpose()?;
            let confidence_map = o.confidence_map.then(|| flat_frame(w, h, 65535)).transpose()?;
            return Ok(FocusMapResult { image, depth_map, confidence_map, frames: 1 });
        }
        let metadata = pass1.metadata.clone();
        let peaks = pass1.peaks;
        drop((pass1.measure, pass1.focus, pass1.first));
        // The decision, on the half-resolution map.
        let mut decision = decide(&peaks, o.confidence_ratio);
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
        progress.phase("composing", n as u64);
        let mut composer = Composer::new(info, &plan, o.linear_blend);
        let (give_back, recycled) = std::sync::mpsc::channel();
        let reader = spill.reader(info, recycled)?;
        with_prefetch(reader, |frames| -> Result<()> {
            for (k, frame) in frames.enumerate() {
                let frame = frame?;
                progress.check_cancelled()?;
                composer.add(&plan, k, &frame);
                // The consumer may be gone; then the buffer is just dropped.
                let _ = give_back.send(frame.into_samples());
                progress.step(k as u64 + 1);
            }
            Ok(())
        })?;
        let image = composer.finish()?.with_metadata(metadata);
        Ok(FocusMapResult { image, depth_map, confidence_map, frames: n })
    }
}

/// What pass 1 keeps.
struct Pass1 {
    info: FrameInfo,
    measure: Measure,
    focus: Vec<f32>,
    peaks: Peaks,
    metadata: Metadata,
    /// The first frame, kept until the count is known (a one-frame stack is it).
    first: Option<Frame>,
}

fn flat_frame(w: usize, h: usize, value: u16) -> fs_core::Result<Frame> {
    let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Sixteen };
    Frame::new(FrameInfo { width: w, height: h, format }, Samples::U16(vec![value; w * h]))
}
