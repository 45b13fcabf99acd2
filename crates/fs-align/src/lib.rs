//! fs-align: frame alignment and brightness/colour balance for focus stacks.
//!
//! Real focus stacks are not aligned: focus breathing changes the magnification from
//! frame to frame, and a camera or stage shifts or turns a little; stacked as they
//! are, edges come out doubled. fs-align estimates, per frame, the transform from a
//! reference frame (the middle one by default) and warps the frame into the
//! reference's geometry, matching its brightness and colour on the way.
//!
//! - [`Estimator`]: features (Shi-Tomasi corners, BRIEF descriptors) matched in two
//!   passes, RANSAC for a [`TransformKind`] (similarity by default, affine,
//!   homography), then a Lucas-Kanade refinement on the intensities (gain and offset
//!   fitted, robust weights) on the coarser pyramid levels and, on the finest, a field
//!   of local patch matches (each with its own gain and offset, equal weight per
//!   patch, outliers dropped) that the transform is fitted to, on luma subsampled to about
//!   2 megapixels ([`AlignOptions::subsample_pixels`]). Details and figures: the
//!   `estimate` module's source docs.
//! - Features are the first estimate, not the only one. A frame with too few feature
//!   matches (one focused far from every sharp part of the reference), or whose fit
//!   is implausible or departs from the stack's breathing model, is estimated by
//!   intensity ([`Estimator::estimate_by_intensity`]: band-passed Gauss-Newton, coarse
//!   to fine, the reference blurred by a Gaussian to look like the frame), starting
//!   from its neighbour's transform carried one step by the model. When that estimate
//!   departs from the model (a frame defocused far beyond the rest, whose blur no
//!   Gaussian imitates), the frame is estimated against its neighbour towards the
//!   reference (the reference itself when that neighbour is not aligned yet) blurred
//!   by a defocus disc, in linear light, the radius searched; if that agrees with the
//!   model, the frame keeps the model's magnification and rotation (more certain
//!   than its own at such a defocus) and its own position, measured the same way.
//!   [`BreathingModel`] fits
//!   magnification, rotation and centre drift as smooth functions of the frame index
//!   over the frames the features aligned, checks every estimate against them and
//!   predicts the frames whose own estimate cannot be trusted (their position measured
//!   alone where that works). A frame that matches nothing (another scene, a black
//!   frame) is left out with a warning ([`OnFailure`]); [`FrameReport::method`] says
//!   how each frame was aligned.
//! - [`warp_frame`] / [`warp_plane`]: bilinear or bicubic resampling, borders
//!   replicated or marked invalid ([`BorderMode`]), the balance gains applied in the
//!   same pass; [`common_area`] and [`crop_frame`] for the crop to the area every
//!   frame covers.
//! - [`fit_gains`] / [`apply_gains`]: per-channel gains (ratio of means over
//!   well-exposed samples).
//! - [`Aligner`] puts it together for one frame at a time; [`AlignedFrames`] is an
//!   iterator adapter over a stream of frames, so any fs stacker takes aligned frames
//!   as they are decoded, without intermediate files; [`estimate_chain`] gives the
//!   neighbour-to-neighbour chained transforms of `step_process`.
//!
//! ```
//! use fs_align::{AlignOptions, AlignSettings, Aligner, Transform};
//! use fs_core::synth::{SynthOptions, SynthStack};
//!
//! // A generated stack with 3 % focus breathing and shifts of up to 5 pixels.
//! let options = SynthOptions {
//!     width: 480, height: 360, frames: 5, breathing: 0.03, shift: 5.0,
//!     ..Default::default()
//! };
//! let stack = SynthStack::new(options).unwrap();
//! let settings = AlignSettings { align: Some(AlignOptions::default()), balance: None };
//! let aligner = Aligner::new(&stack.frame(2), 2, settings)?;
//! let (aligned, report) = aligner.align(3, stack.frame(3))?;
//! let m = stack.frame_transform(3);
//! let truth = Transform::affine(m[0], m[1], m[2], m[3], m[4], m[5]);
//! assert!(report.transform.corner_distance(&truth, 480, 360) < 0.5);
//! assert_eq!(aligned.info(), stack.info());
//! # Ok::<(), fs_align::AlignError>(())
//! ```
//!
//! # Choices
//! - The output keeps the reference's geometry; frames are warped, never the
//!   reference. A frame whose transform moves no corner by more than [`STILL_PX`]
//!   (0.02 px) is passed through bit for bit, not resampled.
//! - The finest refinement matches patches, not the whole frame at once: a global
//!   intensity fit weights each pixel by its gradient, so the few high-contrast
//!   outlines, where a sharp and a defocused frame differ most, dominate it, and one
//!   gain for the frame cannot follow the contrast defocus takes from some regions
//!   only. On generated defocus series it was pulled to twice the magnification the
//!   content shows (0.5-1.4 px at the corners); the patch field follows the content.
//! - Balance gains are fitted in linear light on 8x8-block means of the subsampled
//!   images: defocus blur keeps the mean of linear light, while the mean of
//!   sRGB-encoded values differs between a sharp and a blurred frame of one exposure
//!   (a 3 % "correction" of nothing on generated stacks before this, 0.5 % after).
//!   The gain is turned into one for encoded values by the 2.2 power.
//! - Plausibility ([`check_plausible`]): a magnification change beyond
//!   `max_scale_change` (10 %), a rotation beyond `max_rotation` (10 degrees) or a
//!   shift beyond `max_shift` (a fifth of the diagonal) is a failed frame, not an
//!   alignment: focus stacks do not move like that.
//! - Failures name the frame ([`AlignError::Failed`]). By default
//!   ([`OnFailure::Recover`]) only a frame that matches nothing is left out, and the
//!   [`AlignLog`] says so; [`OnFailure::Stop`] (`strict_align`) makes that an error,
//!   [`OnFailure::Skip`] also leaves out what would be predicted.
//! - The breathing model is causal in [`AlignedFrames`]: each frame is checked
//!   against, and predicted from, the model of the frames before it (and the
//!   reference), so frames still stream through once, decoded once, none held back.
//!   A frame near the start of the stack whose features fail is then estimated from
//!   its neighbour and the reference alone.
//! - Frames defocused far beyond the subject (a 9-frame 480x360 generated stack whose
//!   last two frames have a smallest blur of 14.4 and 28.8 px, 3 % and 6 % of the
//!   width, `tests/defocus_series.rs`): no feature matches them, and the
//!   Gaussian-blurred reference lands about 11 px off. A defocus disc imitates their
//!   blur, but only in linear light (on sRGB values the estimate is pulled by 2-15 px),
//!   and one radius cannot match a blur that differs with depth, which biases the
//!   frame's own magnification (0.7-1.8 px at the corners); with the model's
//!   magnification only the position is measured: 0.20 and 0.38 px at the corners
//!   (predicted by the model alone: 1.14 and 3.68 px). Stacked, 28.70 dB against
//!   28.72 dB with the true transforms. Against the neighbour, not the reference:
//!   two frames one focus step apart differ by about one disc everywhere (frame 8
//!   against the reference: 3.1 px off even with its true magnification).
//!   Cost: such a frame takes 2.4-2.8 times a feature-aligned one in the stream
//!   (`benches/beyond.rs`).
//!
//! # Figures (2-core CI-class machine)
//! Accuracy, largest error at the four image corners:
//! - the estimator's tests (1024x768, exact rendering, defocus over a third of the
//!   frame): 0.006-0.021 px (similarity), 0.024 px (affine), 0.034 px (homography)
//!   (the global refinement alone reached 0.01-0.03 px there: the patch field has
//!   fewer, noisier measurements on these ideal frames, and is far better on
//!   defocused ones);
//! - generated defocus series (fs-core's synthetic stacks: 7 frames, 3 % breathing,
//!   0.3 degrees, 5 px of shake, Lanczos-resampled, reference frame 3;
//!   `tests/defocus_series.rs`, `examples/synth_check.rs`,
//!   `examples/stack_check.rs`):
//!   - 480x360, defocus up to 4 px of radius: 0.005-0.054 px for every frame
//!     (before the patch field: up to 0.25 px);
//!   - 480x360, defocus up to 8 px (1.7 % of the width): 0.03-0.49 px. The larger
//!     errors are the generator's: its layered defocus moves blurred content, and a
//!     normalised cross-correlation of each frame warped back with its *true*
//!     transform finds the content magnified by 160-1440 ppm against the reference
//!     (0.06-0.43 px at the corners); the estimate follows the content;
//!   - 2048x1536, defocus up to 8 px: 0.03-0.14 px (before: 0.08-0.59 px);
//! - stacked (PyramidStack) against the truth, 480x360 with the lens's own 1-px
//!   disc: 31.06 dB aligned vs 31.83 dB for the same stack without motion (fs-job's
//!   tests); frames warped with their *true* transforms reach 30.85 dB vs 31.49 in
//!   the same measurement, so most of the gap is resampling, not estimation.
//!   Without the lens disc (pixel-sharp detail), no resampling keeps the detail:
//!   true transforms 20.8 dB vs 26.5 still, estimated 20.75 dB.
//! - pcb (real, 2048x1536): every frame aligns; stacked, the result is 27.5 dB from
//!   focus-stack's reference result after matching geometry (28.0 with the global
//!   refinement alone), against 14.6 dB unaligned (fs-job's tests).
//!
//! Speed: estimation about 50-90 ms of CPU per 2-megapixel frame, of which the
//! patch field 10-20 ms; the bicubic warp of a 24-megapixel RGB frame is the
//! expensive part (see `warp.rs`'s source docs). [`AlignedFrames`] aligns two frames
//! at once by default (the estimation is mostly sequential work).
#![deny(missing_docs)]

mod aligner;
mod balance;
mod breathing;
mod crop;
mod downsample;
mod error;
mod estimate;
mod options;
mod transform;
mod warp;

pub use crate::aligner::{
    AlignLog, AlignMethod, AlignSettings, AlignedFrames, Aligner, FrameReport, STILL_PX,
    check_plausible, estimate_chain, frames_with_reference,
};
pub use crate::balance::{Gains, apply_gains, fit_gains};
pub use crate::breathing::BreathingModel;
pub use crate::crop::{Rect, common_area, crop_frame};
pub use crate::downsample::{small_image, subsample_factor};
pub use crate::error::{AlignError, AlignFailure, Result};
pub use crate::estimate::{Estimate, Estimator};
pub use crate::options::{
    AlignOptions, BalanceChannel, BalanceOptions, BorderMode, Interpolation, OnFailure,
    ReferenceFrame,
};
pub use crate::transform::{Transform, TransformKind, corners};
pub use crate::warp::{warp_frame, warp_plane};
