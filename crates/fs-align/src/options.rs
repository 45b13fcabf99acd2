//! Options of alignment and balance, with the defaults a photographer expects.

use crate::error::{AlignError, Result, check_range};
use crate::transform::TransformKind;

/// Which frame the others are aligned to (and whose geometry the output keeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReferenceFrame {
    /// The middle frame (index `n / 2`): the smallest breathing to the ends.
    #[default]
    Middle,
    /// The frame with this index (0-based) in the stack's order.
    Index(usize),
}

impl ReferenceFrame {
    /// The reference's index in a stack of `n` frames (`n` > 0), or an error naming
    /// `ref_idx` when the index is out of range.
    pub fn index(self, n: usize) -> Result<usize> {
        match self {
            ReferenceFrame::Middle => Ok(n / 2),
            ReferenceFrame::Index(i) if i < n => Ok(i),
            ReferenceFrame::Index(i) => Err(AlignError::InvalidOption {
                name: "ref_idx",
                reason: format!("must be < the number of frames ({n}), got {i}"),
            }),
        }
    }
}

/// How a warped frame is resampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Interpolation {
    /// Bilinear: fastest, softens detail a little (a half-pixel shift halves the
    /// contrast of the finest detail).
    Bilinear,
    /// Bicubic (Keys, a = -0.5): keeps fine detail, the default for stacking, where
    /// detail is the point.
    #[default]
    Bicubic,
}

/// What a warped frame holds where it has no data (outside the source frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BorderMode {
    /// The nearest edge pixel of the frame (ShineStacker's `BORDER_REPLICATE`): the
    /// stackers see plausible values there, and the final crop removes them.
    #[default]
    Replicate,
    /// Marked invalid: transparent (alpha 0) in frames with alpha, black otherwise
    /// (ShineStacker's `BORDER_CONSTANT`); the region is reported so the crop can
    /// leave it out.
    Invalid,
}

/// What to do with a frame whose own estimate fails.
///
/// Every frame is first estimated from features; a frame with too few matches, or
/// whose fit is implausible or departs from the stack's breathing model, is estimated
/// by intensity on band-passed images from its neighbour's transform; a frame whose
/// own estimate still cannot be trusted is *predicted* from the breathing model
/// (magnification and rotation from the model, its position measured alone where it
/// can be). What is left, a frame that matches nothing (another scene, a black frame),
/// is handled as this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnFailure {
    /// Predict what can be predicted; leave out, with a warning naming it, a frame
    /// that matches nothing (default: the run still gives a result).
    #[default]
    Recover,
    /// Stop with an error naming a frame that would be left out (`strict_align`).
    Stop,
    /// Leave out every frame its own estimate (features or intensity) cannot
    /// align, with a warning naming it; nothing is predicted (`skip_unaligned`).
    Skip,
}

/// Options of frame alignment (the job action `AlignFrames`, `fstack stack --align`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlignOptions {
    /// The transform family (`transform`): similarity by default.
    pub transform: TransformKind,
    /// The reference frame (`ref_idx`): the middle one by default.
    pub reference: ReferenceFrame,
    /// `step_process`: estimate each frame against its neighbour towards the
    /// reference and chain the transforms (robust for deep stacks whose ends share
    /// little sharp detail), instead of against the reference directly.
    pub step_process: bool,
    /// Estimation works on the luma subsampled to about this many pixels
    /// (`subsample_pixels`, default 2 000 000); 0 = full resolution.
    pub subsample_pixels: usize,
    /// Most features kept per frame (`max_features`).
    pub max_features: usize,
    /// RANSAC inlier distance in pixels of the subsampled luma (`rans_threshold`).
    pub rans_threshold: f64,
    /// Fewest RANSAC inliers for an accepted transform (`min_inliers`).
    pub min_inliers: usize,
    /// Intensity-based (Lucas-Kanade) refinement after RANSAC (`refine`), for
    /// sub-pixel accuracy.
    pub refine: bool,
    /// Largest plausible magnification change, as a fraction (`max_scale_change`,
    /// 0.1 = 10 %).
    pub max_scale_change: f64,
    /// Largest plausible rotation in degrees (`max_rotation`).
    pub max_rotation: f64,
    /// Largest plausible shift, as a fraction of the image diagonal (`max_shift`).
    pub max_shift: f64,
    /// Resampling (`interpolation`).
    pub interpolation: Interpolation,
    /// Pixels with no data (`border_mode`).
    pub border_mode: BorderMode,
    /// Frames that cannot be aligned (`on_failure`).
    pub on_failure: OnFailure,
}

impl Default for AlignOptions {
    fn default() -> Self {
        Self {
            transform: TransformKind::Similarity,
            reference: ReferenceFrame::Middle,
            step_process: false,
            subsample_pixels: 2_000_000,
            max_features: 2000,
            rans_threshold: 1.5,
            min_inliers: 12,
            refine: true,
            max_scale_change: 0.1,
            max_rotation: 10.0,
            max_shift: 0.2,
            interpolation: Interpolation::Bicubic,
            border_mode: BorderMode::Replicate,
            on_failure: OnFailure::Recover,
        }
    }
}

impl AlignOptions {
    /// Checks every option; the error names the option and its allowed range.
    pub fn validate(&self) -> Result<()> {
        check_range("max_features", self.max_features as f64, 16.0, false, 1e6)?;
        check_range("rans_threshold", self.rans_threshold, 0.0, true, 100.0)?;
        let min = self.transform.min_points() as f64 + 1.0;
        check_range("min_inliers", self.min_inliers as f64, min, false, 1e6)?;
        check_range("max_scale_change", self.max_scale_change, 0.0, true, 1.0)?;
        check_range("max_rotation", self.max_rotation, 0.0, true, 180.0)?;
        check_range("max_shift", self.max_shift, 0.0, true, 1.0)?;
        if self.subsample_pixels != 0 && self.subsample_pixels < 10_000 {
            return Err(AlignError::InvalidOption {
                name: "subsample_pixels",
                reason: format!("must be 0 (full size) or >= 10000, got {}", self.subsample_pixels),
            });
        }
        Ok(())
    }
}

/// Which channels the balance matches (the seed family's `channel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BalanceChannel {
    /// One gain per colour channel (`BALANCE_RGB`): brightness and colour cast.
    #[default]
    Rgb,
    /// One gain for all channels, from the luma (`BALANCE_LUMI`): brightness only.
    Luma,
}

/// Options of brightness/colour balance (the job action `BalanceFrames`).
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceOptions {
    /// `channel`: per colour channel (default) or one gain from the luma.
    pub channel: BalanceChannel,
    /// `intensity_interval`: only samples within this fraction of full scale
    /// (default 0.02..0.98: neither clipped nor in the noise) take part in the fit.
    pub intensity_min: f64,
    /// Upper end of `intensity_interval`.
    pub intensity_max: f64,
    /// Largest gain change accepted (`max_gain_change`, 0.5 = 50 %); a larger one
    /// means the frames do not show the same scene and the frame is left as is.
    pub max_gain_change: f64,
    /// The frame the others are balanced to when there is no alignment (`ref_idx`;
    /// default the middle one). With alignment, [`AlignOptions::reference`] is the
    /// reference of both.
    pub reference: ReferenceFrame,
}

impl Default for BalanceOptions {
    fn default() -> Self {
        Self {
            channel: BalanceChannel::Rgb,
            intensity_min: 0.02,
            intensity_max: 0.98,
            max_gain_change: 0.5,
            reference: ReferenceFrame::Middle,
        }
    }
}

impl BalanceOptions {
    /// Checks every option; the error names the option and its allowed range.
    pub fn validate(&self) -> Result<()> {
        check_range("intensity_interval.min", self.intensity_min, 0.0, false, 1.0)?;
        check_range("intensity_interval.max", self.intensity_max, self.intensity_min, true, 1.0)?;
        check_range("max_gain_change", self.max_gain_change, 0.0, true, 10.0)?;
        Ok(())
    }
}
