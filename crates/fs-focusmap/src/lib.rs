//! fs-focusmap: the focus-map stacker, fstack's default ([`FocusMapStack`]).
//!
//! A focus stack is a series of photographs of one subject, each sharp at another
//! depth. This stacker decides, per pixel, which frame is sharpest there, and
//! composes the result from the frames' own pixels, blended where the decision
//! changes. It is not one of the seed's stackers (those are in
//! fs-pyramid and fs-depthmap, unchanged): it exists because those mix every frame
//! into every pixel through pyramid bands, which (measured against the generator's
//! truth) glows around bright objects, brightens the whole image by a few percent
//! and loses to a plain per-pixel pick by 4 to 22 dB. The name says what it makes:
//! a map of focus (which frame, how sure), then the image from it.
//!
//! ```
//! use fs_core::synth::{SynthOptions, SynthStack};
//! use fs_core::{NoProgress, metrics::psnr};
//! use fs_focusmap::{FocusMapOptions, FocusMapStack};
//!
//! let stack = SynthStack::new(SynthOptions { width: 96, height: 64, frames: 5, ..Default::default() })
//!     .unwrap();
//! let options = FocusMapOptions { depth_map: true, ..Default::default() };
//! let result = FocusMapStack::new(options).unwrap().stack(stack.frames().map(Ok), &NoProgress).unwrap();
//! let db = |f: &fs_core::Frame| psnr(&f.to_image::<f32>(), &stack.truth().to_image::<f32>(), 255.0);
//! // Sharper than every frame, against the known all-in-focus truth.
//! assert!(stack.frames().all(|f| db(&result.image) > db(&f) + 5.0));
//! assert_eq!(result.depth_map.unwrap().info().width, 96);
//! ```
//!
//! # The method, and why each part is there
//! 1. **Focus measure** (pass 1, per frame): the squared 4-neighbour Laplacian of
//!    luma at full resolution (pixel-scale detail is what tells the frame in focus
//!    from its neighbours), pooled over 2x2 pixels and smoothed by a Gaussian, so
//!    that the whole is a Gaussian of [`FocusMapOptions::focus_sigma`] (2) pixels.
//!    The decision map is half the resolution of the frames: four times cheaper to
//!    keep and to clean, and no coarser than the pooling already is.
//! 2. **Peak search**, streaming: per decision pixel, the best frame so far, the
//!    measure of its two neighbours in the frame order, the mean over all frames.
//!    Memory does not depend on the frame count.
//! 3. **Sub-frame depth**: the peak of the parabola through the logarithms of the
//!    measure at the best frame and its neighbours (a defocus curve is close to a
//!    Gaussian in the frame index). It makes the depth map continuous; the image is
//!    composed from the frame nearest to it, so it only moves the decision where the
//!    peak lies between two frames.
//! 4. **Confidence**: how far the best frame stands out of the mean of the others,
//!    on a log scale (0 below `sqrt(confidence_ratio)`, 1 from
//!    [`FocusMapOptions::confidence_ratio`] (3) on). In flat areas nothing stands
//!    out: the measure there is noise, and a per-pixel pick takes a random frame's
//!    noise.
//! 5. **Consistency** (optional, [`FocusMapOptions::consistency`], off by default): a
//!    weighted median of the decision over a window, binned by frame; a separable
//!    min/max finds the pixels whose window agrees (most of them) and skips them.
//! 6. **Fill**: decisions are replaced by those of confident neighbours, near or far,
//!    weighted by confidence (push-pull over a pyramid of 2x2 blocks): a flat area
//!    takes the depth around it, so the depth map is meaningful there too.
//! 7. **Weights**: per frame and decision pixel, `(1 - t^2)^2` with
//!    `t = (k - depth) / reach`; where confident, `reach` is just over half a frame
//!    (the nearest frame alone), where not it grows to `1 + flat_average` frames
//!    ([`FocusMapOptions::flat_average`], 2): flat areas average up to five frames
//!    around the filled depth, less noise than any frame, and only frames focused
//!    near the surrounding subject, so a defocused bright object farther off in the
//!    stack never spills in. Weights (not depths) are interpolated bilinearly to
//!    full resolution: a transition between frames is two to four pixels wide and a
//!    depth step mixes the two frames on either side, never one in between.
//! 8. **Composition** (pass 2): the frames again, read back from an unlinked scratch
//!    file (`fs_tiles::FrameSpill`, direct I/O) band by band (32 rows; each band
//!    reads only the frames with a weight in it, its sums stay in the cache, and the
//!    bands run on twice as many threads as cores, so one computes while another
//!    waits for the disk), weighted into sums of the stored values scaled to 0..1,
//!    or with [`FocusMapOptions::linear_blend`] of linear light (the sRGB curve
//!    undone by table, redone once at the end). A mean with non-negative weights
//!    stays inside the range of the frames it mixes: no overshoot, no invented
//!    colour, no glow. Alpha is premultiplied for the blend.
//!
//! Tried and rejected (figures on the generated 640x480 stacks, 10 frames):
//! - blending the two frames around a sub-frame depth: 39.3 dB on the tilted plane
//!   against 47.6 dB for the plain pick (two half-defocused frames mixed are no
//!   sharper than either); hence the reach of just over half a frame;
//! - the consistency vote on by default (radius 2): 1 dB lower on the objects scene,
//!   as it moves depth steps and removes fine structure next to them;
//! - blending in linear light by default (the first version did, as defocus happens
//!   in linear light): the blend acts only where the decision changes, and at a
//!   depth step any mix is a transition the truth does not have; a linear mix of a
//!   bright and a dark side is brighter than the display mix, and it measured
//!   lower on every scene with steps (2048x1536, display against linear: objects
//!   37.92 / 37.64 dB, noisy 33.44 / 33.35, high contrast 47.28 / 47.01; the
//!   tilted plane 48.28 both);
//! - sharpening the interpolated weights (`w^p`, renormalised; p = 2 to 8) or
//!   softening them (p = 0.3, 0.5): 0.05 to 0.4 dB lower, narrower transitions
//!   than the bilinear ones lose at depth steps as much as wider ones;
//! - taking the low frequencies near depth steps from the strongest decision
//!   around (to keep a defocused foreground's spill out of the background): 0.2 to
//!   4 dB lower for every radius and band split tried.
//!
//! # Output
//! [`FocusMapResult::image`] has the frames' format (gray, gray+alpha, RGB, RGBA;
//! 8- or 16-bit) and the first frame's metadata. With
//! [`FocusMapOptions::depth_map`] the depth map is 16-bit gray, frame `k` of `n` at
//! `65535 k / (n - 1)` (sub-frame values between); with
//! [`FocusMapOptions::confidence_map`] the confidence before the fill, 0..=65535.
//!
//! # Streaming, memory, determinism
//! Frames are folded in one at a time; pass 1 keeps 24 bytes per decision pixel (6
//! bytes a frame pixel) for the peak search and 2 for the focus measure, and the
//! scratch file holds the samples (on disk, not in memory); pass 2 keeps the result
//! and the weights' parameters (3 bytes a pixel), and per thread one band's sums.
//! For 24-megapixel RGB frames that is about 190 MB in pass 1 and 150 MB in pass 2
//! plus the frames in flight, whatever the frame count.
//! [`FocusMapStack::stack_paths`] decodes as many files at once as there are cores
//! ([`fs_core::DecodeAhead`]).
//!
//! [`FocusMapOptions::memory_limit`] bounds it for very large frames: a
//! [`MemoryPlan`] (from [`FocusMapStack::memory_plan`]) estimates the peak, and when
//! the fastest way does not fit, frames are decoded one at a time, then the peak
//! search moves to a memory-mapped scratch file worked through band by band. That
//! leaves about one frame, the focus measure and the result: 6 frames of 12000x8000
//! 16-bit RGB (576 MB each) stack within 1.2 GB at `memory_limit` 1 GiB. Callers
//! that decode frames themselves (fs-job) ask the plan how many to decode ahead.
//!
//! Every step is a per-pixel function of its inputs split over rows or bands: the
//! output is identical for any number of threads and in every memory mode (tested).
//! Speed and quality figures are in `docs/benchmarks.md`.
#![deny(missing_docs)]

mod compose;
mod decision;
mod error;
mod measure;
mod memory;
mod options;
mod stack;

pub use crate::error::{FocusMapError, Result};
pub use crate::memory::MemoryPlan;
pub use crate::options::FocusMapOptions;
pub use crate::stack::{FocusMapResult, FocusMapStack};
