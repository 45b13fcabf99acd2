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
//! `examples/depthmap_profile.rs` stacks a folder and, in the same process, decodes
//! every frame once (the decode-only floor); it prints wall and CPU (user + sys,
//! `getrusage`) seconds and the peak RSS. Release build, 6000x4000 RGB JPEG frames
//! (the generated `jpg-6000x4000-32` bench stack, its first 16 frames or all 32),
//! default options, on a 2-core CI-class machine **shared with several other
//! engineers' builds** (load average 4 to 12 during the runs, sometimes with one of
//! our own release builds running too), so wall times are inflated and noisy, and
//! the wall / floor ratios move by +-0.5 or more from run to run; CPU times are the
//! steadier figure.
//!
//! | build | frames | floor wall / CPU | stack wall / CPU | wall / floor | peak RSS |
//! |---|---|---|---|---|---|
//! | before (per-frame buffers, float image, own decode thread) | 16 | 31.7 s / 4.3 s | 127.2 s / 22.9 s | 4.01x | 1337 MB |
//! | recycled buffers, blend from samples, with_prefetch | 16 | 31.3 s / 5.3 s | 112.5 s / 23.1 s | 3.59x | 963 MB |
//! | + bounds-check-free expand (a release build ran alongside) | 16 | 32.5 s / 5.1 s | 92.8 s / 23.7 s | 2.86x | 963 MB |
//!
//! The runs above were under load 8 to 12. Back to back at a quieter moment (load 4
//! to 6, so still sharing the cores), the previous and the final build:
//!
//! | build | frames | floor wall / CPU | stack wall / CPU | wall / floor | peak RSS |
//! |---|---|---|---|---|---|
//! | before | 16 | 8.2 s / 5.5 s | 40.0 s / 26.4 s | 4.88x | 1337 MB |
//! | final | 16 | 6.3 s / 5.4 s | 24.9 s / 21.0 s | 3.97x | 963 MB |
//! | final (another run) | 16 | 4.7 s / 4.7 s | 24.3 s / 22.2 s | 5.16x | 963 MB |
//! | before | 32 | (not run) | 77.3 s / 51.5 s | | 1348 MB |
//! | final | 32 | 17.0 s / 11.0 s | 54.0 s / 40.4 s | 3.18x | 974 MB |
//!
//! What changed, and why: each frame's samples were copied into a fresh float image
//! (288 MB at 24 MP RGB, page-faulted in for every frame) and the scratch file was
//! read back into fresh buffers; now the blend reads the integer samples directly
//! ([`PyramidBlend::add_samples`]), the scratch-file reader refills two recycled
//! buffers, the scratch-file write runs on a helper thread beside the energy work,
//! luma + Tenengrad + the weight rule are one row pass (no full-size luma or energy
//! planes), and the denominators are accumulated inside the numerator loops. The
//! output is bit-identical to the previous build (checked on the 1024x768 bench
//! stack for the default options, DM_MAP_MAX, energy smoothing and the depth map).
//! Peak RSS fell by 28 % (1.34 GB to 0.96 GB) and is flat in the frame count (963 MB
//! for 16 frames, 974 MB for 32). CPU time fell by about 20 % (26.4 s to 21.0 s for
//! 16 frames, 51.5 s to 40.4 s for 32) and wall time by 30 to 40 % in back-to-back
//! runs; under heavy load the CPU gain was lost in the noise.
//!
//! **On the idle machine** (load average below 1, nothing else running; 2026-11-27,
//! release `fstack stack --stacker depthmap --no-align --no-balance --no-crop`
//! against `cargo xtask decode-floor`, back to back, three pairs each, `/usr/bin/time`):
//!
//! | frames | floor wall (one thread: CPU = wall) | stack wall (CPU) | wall / floor per pair | median | peak RSS |
//! |---|---|---|---|---|---|
//! | 16 | 5.11 / 5.62 / 4.93 s | 14.86 / 14.26 / 12.93 s (23.4 / 22.8 / 20.7 s) | 2.91x / 2.54x / 2.62x | **2.62x** | 967 MB |
//! | 32 | 11.65 / 9.51 / 9.75 s | 25.70 / 27.00 / 25.90 s (41.7 / 43.4 / 42.2 s) | 2.21x / 2.84x / 2.66x | **2.66x** | 967 MB |
//!
//! The targets of the issue (at most 3x the decode-only floor, at most 2 GB, flat in
//! the frame count) are met: 2.5x-2.9x, 0.97 GB for 16 and for 32 frames. Under load
//! the ratio rises (2.9x to 5.2x above): the floor is one decoding thread and
//! suffers less from sharing than the two-thread stack. The remaining cost is the
//! pyramid work itself (expand-and-accumulate over 3 channels at full size,
//! memory-bound), the JPEG decode (about a fifth of the total) and the scratch-file
//! write (kernel copy, about 6 %). Pass 1 is bound by the single decode thread and
//! pass 2 uses both cores, so the wall approaches `floor + pass-2 CPU / 2`.
//!
//! Earlier figures (previous build, same machine, not re-measured):
//! - Scratch file against decoding twice (16 frames of 24 MP, load ~12): `stack`
//!   23.4 s CPU, `stack_twice` 27.5 s CPU, same peak RSS: writing and reading the raw
//!   samples costs far less than a second decode, hence the default.
//! - Kernels (`cargo bench -p fs-depthmap -- --quick`, 1024x768 f32): Tenengrad 2.4 ms, Sobel 1.6 ms, modified Laplacian 8.3 ms, variance
//!   20 ms, Laplacian (aperture 5, pre-blur 5) 38 ms; reduce 1.4 ms, expand 2.0 ms;
//!   weight fold + weights 2.7 ms; a whole 4-frame 512x384 RGB stack 63 ms.
//! - amber (6 frames of 2000x1300): floor 0.69 s wall / 0.14 s CPU; default options
//!   2.66 s / 0.81 s, DM_MAP_MAX 1.88 s / 0.85 s; peak RSS 152 to 162 MB.
//! - Quality on generated stacks (160x120, 6 frames, see the tests): best single
//!   frame 16.4 dB PSNR, default options 19.0 dB, DM_MAP_MAX 21.3 dB, variance
//!   energy with DM_MAP_MAX 27.4 dB. On the 24 MP stack the default reaches 20.8 dB.
//!   On amber, DM_MAP_MAX is sharper (mean squared gradient 40.3) than every frame
//!   (at most 31.1); the default average rule (29.7) is not sharper than the best
//!   two frames: it blends frames where their energies are comparable.
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
    PyramidBlend, binomial_kernel, expand, expand_reference, level_sizes, reduce, reduce_reference,
    reduced_size,
};
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
