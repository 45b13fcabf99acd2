//! The options of the focus-map stacker, their defaults and their checks.

use crate::error::{Result, invalid};

/// Options of [`crate::FocusMapStack`]; `Default` gives fstack's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FocusMapOptions {
    /// Standard deviation, in pixels, of the Gaussian that pools the focus measure
    /// (the squared Laplacian of luma) around each pixel: larger is steadier and
    /// coarser. 0.5..=16; default 2.
    pub focus_sigma: f64,
    /// Radius of the consistency vote (a weighted median of the decision over a
    /// `(2r + 1)^2` window of the half-resolution map; isolated decisions and small
    /// islands are voted out), 0..=8; 0 is off, the default: on the generated stacks
    /// the vote moves depth steps by up to `r` pixels (radius 1 costs 0.5 dB, 2 costs
    /// 1 dB against the truth), while the confidence fill already replaces the
    /// untrustworthy decisions of flat areas. For stacks with isolated wrong
    /// decisions in textured areas (dust, specular glints), 1 or 2.
    pub consistency: usize,
    /// A pixel's decision is trusted when its best frame's focus measure is at least
    /// this many times the mean over the frames there; below it the decision comes
    /// from confident neighbours and more frames are averaged. > 1 and <= 1000;
    /// default 3.
    pub confidence_ratio: f64,
    /// Where no frame stands out (flat areas), up to this many frames on either side
    /// of the decision are averaged (less noise than any frame); 0..=16; default 2.
    pub flat_average: usize,
    /// Blend the frames in linear light (the sRGB transfer curve undone before and
    /// redone after) instead of blending the stored (display) values. Default false:
    /// the blend only acts where the decision changes (a depth step, or frames
    /// averaged in flat areas), and at a step every mix is a made-up transition; a
    /// linear mix of a bright and a dark side is brighter than both sides' display
    /// mix, so it shows more, and against the generators' truth it measures 0.2 to
    /// 0.7 dB lower (1.5 at 2048x1536 on the high-contrast scene). Where frames
    /// agree (flat areas) the two blends give the same value to within noise.
    pub linear_blend: bool,
    /// Make the focus decision on this channel alone (0-based) instead of on luma,
    /// and apply it to every channel: for multi-channel microscopy where one channel
    /// (a stain, the brightfield) carries the structure. Must be below the frames'
    /// channel count. Default `None` (luma; premultiplied by alpha).
    pub decision_channel: Option<usize>,
    /// Also return the depth map (16-bit gray, the sub-frame index of the decision
    /// scaled to 0..=65535). Default false.
    pub depth_map: bool,
    /// Also return the confidence map (16-bit gray, 0 = not trusted, 65535 = fully).
    /// Default false.
    pub confidence_map: bool,
    /// The memory the stack may take, in bytes (at least 64 MiB; default 8 GiB).
    /// When the estimate of the fastest way exceeds it, frames are decoded one at a
    /// time, then the peak search moves to a scratch file too (see
    /// [`crate::MemoryPlan`]); the result is the same either way.
    pub memory_limit: u64,
}

impl Default for FocusMapOptions {
    fn default() -> Self {
        Self {
            focus_sigma: 2.0,
            consistency: 0,
            confidence_ratio: 3.0,
            flat_average: 2,
            linear_blend: false,
            decision_channel: None,
            depth_map: false,
            confidence_map: false,
            memory_limit: 8 << 30,
        }
    }
}

impl FocusMapOptions {
    /// Checks every option; the error names the first bad one and its allowed range.
    pub fn validate(&self) -> Result<()> {
        if !(self.focus_sigma.is_finite() && (0.5..=16.0).contains(&self.focus_sigma)) {
            return Err(invalid(
                "focus_sigma",
                format!("must be in 0.5..=16, got {}", self.focus_sigma),
            ));
        }
        if self.consistency > 8 {
            return Err(invalid(
                "consistency",
                format!("must be in 0..=8, got {}", self.consistency),
            ));
        }
        if !(self.confidence_ratio.is_finite()
            && self.confidence_ratio > 1.0
            && self.confidence_ratio <= 1000.0)
        {
            return Err(invalid(
                "confidence_ratio",
                format!("must be > 1 and <= 1000, got {}", self.confidence_ratio),
            ));
        }
        if self.memory_limit < 64 << 20 {
            return Err(invalid(
                "memory_limit",
                format!("must be at least 64 MiB, got {} bytes", self.memory_limit),
            ));
        }
        if self.flat_average > 16 {
            return Err(invalid(
                "flat_average",
                format!("must be in 0..=16, got {}", self.flat_average),
            ));
        }
        Ok(())
    }
}
