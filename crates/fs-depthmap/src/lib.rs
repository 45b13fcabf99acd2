//! fs-depthmap: the depth-map focus stacker (the seed's `DepthMapStack`).
//!
//! Each frame gets a per-pixel focus weight from an energy measure on its luma
//! ([`Energy`]: Tenengrad, Laplacian, modified Laplacian, Sobel, variance), optionally
//! smoothed by a bilateral filter; the weights follow a rule ([`MapType`]: average,
//! or max, hard or softmax with `temperature`, sharpened by `weight_power`); frames
//! are then blended through pyramids (Gaussian pyramids of the weights, Laplacian
//! pyramids of the frames, 5-tap binomial kernel, normalised per level) and
//! collapsed. Optionally it also makes a depth-map image: the weighted mean frame
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
//! let result = stacker.stack(|| frames.iter().cloned().map(Ok), &NoProgress).unwrap();
//! assert_eq!(result.image.info(), info);
//! let Samples::U8(depth) = result.depth_map_frame().unwrap().samples() else { panic!() };
//! assert!(depth[8 * 4 + 1] < 64 && depth[8 * 4 + 6] > 191); // left: frame 0, right: frame 1
//! ```
//!
//! # Design
//! Weights need a per-pixel summary of all frames (the sum of energies for the
//! average rule, the maximum for the max rule) before the first weight exists, so
//! [`DepthMapStack::stack`] makes two passes over a re-iterable frame source and
//! keeps only running sums: memory does not grow with the number of frames.
//! The second pass recomputes each frame's energy instead of storing the energy maps
//! (see "Figures" for the measurement behind that choice).
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
//! - alpha is premultiplied for energies and the blend, and divided out at the end.
//!
//! # Figures
//! See the crate README section in `examples/stack_folder.rs` output, recorded here:
//! (filled in below by measurement).
#![deny(missing_docs)]

mod blend;
mod depth;
mod energy;
mod error;
mod options;
mod smooth;
mod stack;
mod weights;

pub use crate::blend::{
    PyramidBlend, binomial_kernel, expand, expand_reference, level_sizes, reduce,
    reduce_reference, reduced_size,
};
pub use crate::depth::DepthAccumulator;
pub use crate::energy::{
    TENENGRAD_THRESHOLD, energy_map, laplacian_energy, modified_laplacian, sobel_energy,
    sobel_kernels, tenengrad, variance_energy,
};
pub use crate::error::{DepthMapError, Result};
pub use crate::options::{DepthMapOptions, Energy, MapType};
pub use crate::smooth::{bilateral, smooth_weights};
pub use crate::stack::{DepthMapResult, DepthMapStack};
pub use crate::weights::{WeightAccumulator, WeightRule, weights_reference};
