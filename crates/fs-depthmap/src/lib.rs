//! fs-depthmap: the depth-map focus stacker (the seed's `DepthMapStack`).
//!
//! Each frame gets a per-pixel focus weight from an energy measure on its luma
//! ([`Energy`]: Tenengrad, Laplacian, modified Laplacian, Sobel, variance), optionally
//! smoothed by a bilateral filter; the weights follow a rule ([`MapType`]: average,
//! or max, hard or softmax with `temperature`, sharpened by `weight_power`); frames
//! are then blended through pyramids (Gaussian pyramids of the weights, Laplacian
//! pyramids of the frames, 5-tap binomial kernel, normalised per level; the pyramid
//! steps are fs-pyramid's [`fs_pyramid::reduce_into`] and [`fs_pyramid::expand_row`])
//! and collapsed. Optionally it also makes a depth-map image: the weighted mean frame
//! index per pixel, 0..=255.
//!
//! ```
//! use fs_core::{BitDepth, ChannelLayout, Frame, FrameInfo, NoProgress, PixelFormat, Samples};
//! use fs_depthmap::{DepthMapOptions, DepthMapStack, MapType};
//!
//! // Two 8x8 gray frames: the left half is textured (sharp) in the first, the right
//! // half in the second; the other half is flat.
//! let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight };
//! let info = FrameInfo { width: 8, height: 8, format };
//! let frame = |sharp_left: bool| {
//!     let px = (0..64).map(|i| {
//!         let (x, y) = (i % 8, i / 8);
//!         if (x < 4) == sharp_left { [200, 50][(x + y) / 2 % 2] } else { 125 }
//!     });
//!     Frame::new(info, Samples::U8(px.collect())).unwrap()
//! };
//! let frames = [frame(true), frame(false)];
//! let options = DepthMapOptions { map_type: MapType::Max, plot_depth_map: true, ..Default::default() };
//! let stacker = DepthMapStack::new(options).unwrap();
//! let result = stacker.stack(frames.iter().cloned().map(Ok), &NoProgress).unwrap();
//! assert_eq!(result.image.info(), info);
//! let Samples::U8(depth) = result.depth_map_frame().unwrap().samples() else { panic!() };
//! assert!(depth[8 * 4 + 1] < 64 && depth[8 * 4 + 6] > 191); // left: frame 0, right: frame 1
//! ```
//!
//! # Design
//! Weights need a per-pixel summary of all frames (the sum of energies for the
//! average rule, the maximum for the max rule) before the first weight exists, so
//! stacking makes two passes and keeps only running sums (see [`WeightAccumulator`],
//! [`PyramidBlend`], [`DepthAccumulator`]): memory does not grow with the number of
//! frames. Pass 2 recomputes each frame's energy map from its samples (cheap next to
//! the pyramids) instead of storing energy maps. For the default Tenengrad (and
//! Sobel) without bilateral smoothing, luma, energy and the weight fold (pass 1) or
//! the weight map (pass 2) are one fused pass over rows, with no full-size luma or
//! energy plane; the other measures go through full planes. For the frames
//! themselves there are two entry points:
//! - [`DepthMapStack::stack`] (and [`DepthMapStack::stack_paths`], `stack_in`) reads the
//!   source once, like PyramidStack's `stack(frames)`: pass 1 appends each decoded
//!   frame's raw samples to an unlinked scratch file (on a helper thread, while the
//!   frame's energies are computed), pass 2 reads them back on the prefetch thread
//!   into sample buffers recycled from frame to frame. This is the default: it saves
//!   the second decode.
//! - [`DepthMapStack::stack_twice`] takes a source factory and decodes every frame
//!   twice, with no scratch file (for read-only or full disks).
//!
//! Both passes decode (or read) one frame ahead on their own thread
//! (`fs_core::with_prefetch`). Every per-frame buffer (weight map, pyramid levels,
//! scratch-file samples) is allocated once per stack and reused; only the decoder's
//! output is fresh per frame. The blend reads the frames' interleaved integer
//! samples directly ([`PyramidBlend::add_samples`]): no float copy of the frame is
//! made, except for frames with alpha, whose colour is premultiplied in a float image.
//!
//! The single-pass shortcut (accumulating `sum_k G(e_k^p) L_k / sum_k G(e_k^p)` per
//! level with unnormalised weights) was rejected: it is not the spec's blend, because
//! the Gaussian pyramid of `e_k^p / S` is not the pyramid of `e_k^p` divided by `S`
//! where `S` varies; at coarse levels a frame with high energy on one side of an edge
//! would take over the other side too.
//!
//! Choices where the spec is silent:
//! - energies are computed on luma in 0..=1 (samples / 255 or / 65535), so
//!   `temperature` and `energy_sigma_color` are in the same units for 8- and 16-bit
//!   stacks; energies are not normalised per frame (unlike the reference
//!   implementation, which divides each frame's energies by its own maximum): a frame
//!   that is sharper everywhere must win everywhere;
//! - a pixel with zero energy in every frame gets equal weights `1 / n`;
//! - `weight_power` also applies to the softmax (equivalent to dividing the
//!   temperature by it) and has no effect on the hard max, as in the seed;
//! - alpha is premultiplied for energies and the blend, and divided out at the end;
//! - the depth map uses the per-pixel weights before smoothing and pyramids.
//!
//! # Performance
//! Two passes over the frames: pass 1 decodes each frame once, computes luma, the
//! energy and the weight rule in one row pass (no full-size luma or energy planes)
//! and writes the raw samples to a scratch file on a helper thread; pass 2 reads the
//! samples back into two recycled buffers and blends them straight from the integer
//! samples ([`PyramidBlend::add_samples`]), the denominators accumulated inside the
//! numerator loops. Writing and reading the raw samples costs far less than a second
//! decode, hence the scratch file by default. Peak memory is flat in the frame count;
//! the remaining cost is the pyramid work itself (expand-and-accumulate over three
//! channels at full size, memory-bound). `examples/depthmap_profile.rs` stacks a
//! folder and decodes it once in the same process (wall, CPU, peak RSS); the figures
//! are in `docs/benchmarks.md`.
#![deny(missing_docs)]

mod blend;
mod depth;
mod energy;
mod error;
mod options;
mod smooth;
mod stack;
mod weights;

pub use crate::blend::PyramidBlend;
pub use crate::depth::DepthAccumulator;
pub use crate::energy::{
    TENENGRAD_THRESHOLD, energy_map, laplacian_energy, modified_laplacian, sobel_energy,
    sobel_kernels, tenengrad, variance_energy,
};
pub use crate::error::{DepthMapError, Result};
pub use crate::options::{DepthMapOptions, Energy, MapType};
pub use crate::smooth::smooth_weights;
pub use crate::stack::{DepthMapResult, DepthMapStack};
pub use crate::weights::{WeightAccumulator, WeightRule, weights_reference};
