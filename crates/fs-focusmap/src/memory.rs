//! How a stack fits its memory limit: [`MemoryPlan`].
//!
//! Per decoded frame of `F` bytes and per pixel, the stacker holds:
//!
//! - pass 1: the frames in flight (those decoding at once, the one measured, the
//!   one decoded ahead), the focus measure of a frame (2 bytes a pixel: two f32
//!   planes at half resolution) and the peak search (6 bytes a pixel: six f32 at
//!   half resolution);
//! - the decision: 3 bytes a pixel, and the peak search it reads;
//! - pass 2: the result (`F`), the weights' parameters (3 bytes a pixel) and the
//!   depth and confidence maps when asked for (2 bytes a pixel each).
//!
//! The fastest way decodes on every core. When its estimate exceeds the limit the
//! frames are decoded one at a time with nothing ahead, and when that still does
//! not fit, the peak search moves to a memory-mapped scratch file that is worked
//! through band by band (its pages released after each band), which leaves one
//! frame, the focus measure and the result as the largest parts. The result is
//! bit-identical in every mode.

use std::fmt;

use fs_core::FrameInfo;

/// How [`crate::FocusMapStack`] runs a stack within its memory limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Frames decoded at once ahead of the one being measured (0: one at a time,
    /// nothing ahead).
    pub decode_ahead: usize,
    /// Whether the peak search lives in a scratch file instead of memory.
    pub peaks_on_disk: bool,
    /// The estimated peak memory of this plan, bytes.
    pub estimate: u64,
    /// The limit it was made for, bytes.
    pub memory_limit: u64,
}

/// Bytes per pixel of each part (see the module docs).
const MEASURE: u64 = 2;
const PEAKS: u64 = 6;
const DECISION: u64 = 3;
const PLAN: u64 = 3;
const MAP: u64 = 2;
/// Scratch of the threads (band sums, rows, staging), a rough bound.
const SLACK: u64 = 64 << 20;

impl MemoryPlan {
    /// The plan for frames of shape `info` on `cores` cores, with `maps` of the
    /// depth and confidence maps asked for (0..=2).
    pub fn new(info: FrameInfo, cores: usize, maps: u64, memory_limit: u64) -> Self {
        let px = (info.width * info.height) as u64;
        let frame =
            px * info.format.layout.channels() as u64 * (info.format.depth.bits() as u64 / 8);
        let estimate = |ahead: usize, on_disk: bool| {
            let peaks = if on_disk { 0 } else { PEAKS * px };
            // Decoding ahead: the decoders' frames, the one handed over and the one
            // measured; else only the one measured.
            let frames = if ahead == 0 { 1 } else { ahead as u64 + 2 };
            let pass1 = frames * frame + MEASURE * px + peaks;
            let decision = DECISION * px + peaks + maps * MAP * px;
            let pass2 = frame + PLAN * px + maps * MAP * px;
            pass1.max(decision).max(pass2) + SLACK
        };
        let plan = |decode_ahead: usize, peaks_on_disk: bool| Self {
            decode_ahead,
            peaks_on_disk,
            estimate: estimate(decode_ahead, peaks_on_disk),
            memory_limit,
        };
        [plan(cores.max(1), false), plan(0, false)]
            .into_iter()
            .find(|p| p.estimate <= memory_limit)
            .unwrap_or_else(|| plan(0, true))
    }

    /// Whether the plan takes the fastest way (decoding on every core, all in memory).
    pub fn is_fastest(&self) -> bool {
        self.decode_ahead > 0
    }
}

impl fmt::Display for MemoryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let how = match (self.decode_ahead, self.peaks_on_disk) {
            (0, false) => "frames decoded one at a time".to_string(),
            (0, true) => "frames decoded one at a time, peak search on disk".to_string(),
            (n, _) => format!("{n} frames decoded at once"),
        };
        write!(
            f,
            "{how} (estimated peak {:.1} MiB, memory_limit {:.1} MiB{})",
            mib(self.estimate),
            mib(self.memory_limit),
            if self.estimate > self.memory_limit { ": over it, the least it can do" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs_core::{BitDepth, ChannelLayout, PixelFormat};

    #[test]
    fn the_plan_steps_down_as_the_limit_shrinks() {
        let format = PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Sixteen };
        let info = FrameInfo { width: 12000, height: 8000, format };
        let roomy = MemoryPlan::new(info, 2, 0, 8 << 30);
        assert_eq!((roomy.decode_ahead, roomy.peaks_on_disk), (2, false));
        // One frame is 576 MB: 1 GiB leaves room for neither a second frame nor
        // the peak search in memory.
        let tight = MemoryPlan::new(info, 2, 0, 1 << 30);
        assert_eq!((tight.decode_ahead, tight.peaks_on_disk), (0, true));
        assert!(tight.estimate <= 1 << 30, "{tight}");
        let middle = MemoryPlan::new(info, 2, 0, 2 << 30);
        assert_eq!((middle.decode_ahead, middle.peaks_on_disk), (0, false));
        assert!(tight.to_string().contains("peak search on disk"), "{tight}");
    }
}
