//! Synthetic focus stacks with known truth, for tests, `fstack demo` and benchmarks.
//!
//! A [`SynthStack`] holds a sharp procedural scene (colour in linear light, plus a depth
//! per pixel) and renders its focus stack one frame at a time, so a 24-megapixel,
//! 32-frame stack never has to be held in memory. Frame `k` of `n` focuses at depth
//! `f_k = k / (n - 1)`; depth runs from 0 (the nearest, in focus in the first frame) to
//! 1 (the farthest, in focus in the last). A pixel at depth `d` is blurred by a disc of
//! radius `max_blur_radius * |d - f_k|` pixels (the circle of confusion of a thin lens,
//! linear in the depth difference). The blur is occlusion-aware (a blurred foreground
//! spills over the background: depth layers are blurred with their own disc and
//! composited back to front) and done in linear light (sRGB decoded before, encoded
//! after). Gaussian-like noise (sum of four uniforms, standard deviation
//! [`SynthOptions::noise_sigma`] in 8-bit units) is added per frame, seeded; with
//! [`SynthOptions::shot_noise`] also signal-dependent (photon) noise, see
//! [Noise](#noise).
//!
//! Everything is deterministic for a seed and independent of the number of threads.
//!
//! ```
//! use fs_core::synth::{Scene, SynthOptions, SynthStack};
//! use fs_core::metrics::mean_gradient_energy;
//!
//! let stack = SynthStack::new(SynthOptions {
//!     width: 96,
//!     height: 64,
//!     frames: 4,
//!     scene: Scene::TiltedPlane,
//!     ..Default::default()
//! })
//! .unwrap();
//! let sharpness = |f: fs_core::Frame| {
//!     let img = f.to_image::<f32>();
//!     mean_gradient_energy(&fs_core::luma(&img), 96, 64, None)
//! };
//! let truth = sharpness(stack.truth());
//! assert!(stack.frames().all(|f| sharpness(f) < truth));
//! // The tilted plane is nearest on the left, farthest on the right.
//! let depth = stack.depth_map();
//! assert!(matches!(depth.samples(), fs_core::Samples::U8(d) if d[0] == 0 && d[95] == 255));
//! ```
//!
//! # Scenes
//! - [`Scene::Objects`] (default): a textured background (farthest), a card of
//!   pseudo-text, a Siemens star, a checkered disc, a strip of dots whose depth ramps from
//!   0.15 to 0.85 across it, and a thin foreground bar (nearest) that occludes the card
//!   and spills over the background when out of focus. The depths of the flat objects
//!   (1, 0.75, 0.5, 0.25, 0) are snapped to the nearest focus depth, so each is exactly
//!   in focus in one frame.
//! - [`Scene::TiltedPlane`]: one plane whose depth grows linearly from 0 at the left
//!   column to 1 at the right column, with bands of every texture, for testing that a
//!   depth map orders depth correctly.
//! - [`Scene::HighContrast`]: bright (near-white, finely textured) objects on a dark
//!   ground (near-black, faintly textured, farthest): plates, discs and a narrow bar
//!   at six snapped depths, overlapping so that there are depth steps between bright
//!   objects and between bright and dark. Meant for 16-bit: a defocused bright object
//!   spills a glow over the dark ground, the case where fusing stackers leave halos.
//!
//! Textures have detail down to single pixels (multi-scale value noise, 3-pixel
//! checkers, hatching, glyph strokes, dots, star spokes), so a stacker has something to
//! find in every region at any image size. The objects include pure black and white,
//! so 16-bit output spans the full range. With an alpha channel, a disc in the lower
//! left corner is transparent (alpha 0, 3-pixel soft edge).
//!
//! # Noise
//! Two sources, both seeded per frame and sample (independent of threads):
//! - read noise, [`SynthOptions::noise_sigma`]: added to the display (sRGB-encoded)
//!   value, the same standard deviation at every brightness;
//! - shot (photon) noise, [`SynthOptions::shot_noise`]: added in linear light before
//!   the encoding, with a variance proportional to the linear signal `L` (`0..=1`): a
//!   standard deviation of `shot_noise * sqrt(L)` in 8-bit units of linear light, so
//!   `shot_noise` is the value at full-scale white. A sensor that collects `N`
//!   photo-electrons at white has `shot_noise = 255 / sqrt(N)`: 8 is about 1000
//!   electrons, what a phone or a high-ISO shot shows (after the sRGB curve about 4
//!   levels in the mid-tones, more in the shadows). Values are clipped to `0..=1`
//!   like a camera's, which lifts the mean of the darkest pixels a little.
//!
//! Alpha gets no noise. The truth has none.
//!
//! # Moving frames
//! Real stacks are not aligned: focus breathing changes the magnification from frame
//! to frame, and a camera or stage may shift or turn a little. With
//! [`SynthOptions::breathing`], [`SynthOptions::rotation`] or [`SynthOptions::shift`]
//! set, frame `k` shows the scene through the similarity transform
//! [`SynthStack::frame_transform`] (about the image centre; the middle frame `n / 2` is
//! unmoved, so a stack aligned to it is in the truth's geometry). Such a frame is
//! rendered whole in linear light, then resampled with a Lanczos-3 kernel (edges
//! replicated) before its noise is added. Resampling cannot keep full-contrast
//! single-pixel detail, though: warping a frame of the default scene there and back
//! with the exact transforms costs it 24-42 dB PSNR (Lanczos-3 or bicubic alike),
//! and a stack of moved frames aligned with the *true* transforms lands about 5.6 dB
//! below the unmoved stack (480x360, 7 frames, 3 % breathing). Real frames are
//! band-limited by the lens and the sensor; [`SynthOptions::lens_blur`] renders that
//! (a small disc in focus too), and then alignment can be judged against the unmoved
//! stack.
//!
//! # Depth layers and the blur
//! Depth is quantised to `m * (n - 1) + 1` levels (see [`SynthStack::depth_levels`]),
//! with `m` the smallest integer for which neighbouring levels differ by at most half a
//! pixel of blur radius; every focus depth is a level. Each level is one layer, blurred
//! with an anti-aliased disc using per-row prefix sums (a disc is a set of horizontal
//! spans, so a pixel costs O(r) per layer, not O(r^2)). A disc of radius below 0.5 pixel
//! is the identity: a region within `0.5 / max_blur_radius` of the focus depth is sharp
//! (a depth of field). The hidden surface behind an object is not known; where
//! accumulated coverage stays below one, colours are normalised by it. An in-focus
//! region farther than the largest blur radius from other layers equals the truth
//! exactly (before noise).
//!
//! # The edge band
//! [`SynthStack::edge_band_mask`] marks the pixels near a depth step, for measuring a
//! stacker where stackers differ most (the bench's edge-band PSNR). A *step* is a pair
//! of 4-neighbours whose rendered depths differ by more than the spacing of the focus
//! depths, `1 / (frames - 1)` (their in-focus frames are at least two apart); the band
//! is every pixel within half the largest blur radius, `max_blur_radius / 2` pixels
//! (Euclidean, centre to centre), of a pixel of a step. Half the radius: the defocused
//! side's spill is strongest there (a disc's edge-spread falls off linearly across its
//! diameter). Smooth depth (the tilted plane, the ramped strip of dots) has no steps.
//!
//! # Speed and memory
//! The scene is held as `f32` linear planes plus a `u16` level per pixel: 14 bytes a
//! pixel for RGB (340 MB at 24 megapixels); frames are rendered in bands of 32 rows and
//! column tiles of 1024 (scratch about 1 MB per thread), straight into the frame's
//! samples. `cargo xtask gen-testdata --no-write --size 6000x4000 --frames 3 --out x`
//! times it. Measured in release on the 2-core CI-class machine while it was shared
//! (load average 14; a plain 72-million-element loop ran about 4x slower than idle), a
//! 6000x4000 RGB frame with the default 8-pixel maximum blur (mean over focus at the
//! near end, middle and far end) took 2.2 CPU-seconds (6.5 s wall), its scene set-up
//! 3.8 CPU-seconds once per stack, the noise-free truth 0.5 CPU-seconds. Callgrind
//! counts about 650 instructions per pixel for a frame (430 the layered blur, 210 the
//! sRGB encoding with noise), 16 G for 24 megapixels: about 1.3 s on two idle cores at
//! 3 GHz and 2 instructions per cycle (an estimate; the idle machine was not available).
//! Rejected: `powf` per sample for sRGB (interpolated tables instead) and f64 for the
//! fractional disc weights (f32 runs twice as wide: 26% fewer blur instructions).
//!
//! # Files
//! [`SynthStack::write_stack`] writes the frames `frames/frame_001.<ext>` ... (natural
//! order, alone in their folder so that folder can be stacked as it is), and beside that
//! folder `truth.<ext>` and `depth.png` (8-bit gray, `round(255 * depth)`: 0 is the nearest depth and the
//! focus of the first frame, so the value is also `255 * k / (n - 1)` for the frame `k`
//! in focus there, the scale of a stacker's depth map). Each frame carries a synthetic
//! EXIF block (Make "fstack", Model "synthetic", 1/125 s, f/8, ISO 100, 60 mm, one
//! second apart).

mod breathing;
mod edge_band;
mod exif;
#[cfg(feature = "raw")]
pub mod raw;
mod render;
mod scene;
#[cfg(test)]
mod tests;

#[cfg(feature = "raw")]
pub use self::raw::{RawOptions, SYNTH_XYZ_TO_CAMERA};

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rayon::prelude::*;

use self::render::{Band, Disc, Layers};
use self::scene::{SceneDesc, mix64};
use crate::transfer::srgb_to_linear as srgb_to_linear_exact;
use crate::{
    BitDepth, ChannelLayout, CoreError, FileFormat, Frame, FrameInfo, Metadata, NoProgress,
    PixelFormat, Progress, Result, Samples, WriteOptions, write_frame,
};

/// Bumped whenever the same options would render different pixels; tools that cache
/// generated stacks (`cargo xtask gen-testdata`) compare it.
pub const GENERATOR_VERSION: u32 = 1;

/// Rows rendered together: the band's halo (the blur radius above and below) is
/// re-read by each band, so bands should be tall compared with the radius.
const BAND_ROWS: usize = 32;

/// Which procedural scene to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scene {
    /// Several objects at different depths over a background, with an occluding
    /// foreground bar (see the module docs).
    #[default]
    Objects,
    /// A plane whose depth grows linearly from left (nearest) to right (farthest).
    TiltedPlane,
    /// Bright textured objects at several depths on a near-black ground (see the
    /// module docs): the glow case, meant for 16-bit.
    HighContrast,
}

impl Scene {
    /// Every scene.
    pub const ALL: [Scene; 3] = [Scene::Objects, Scene::TiltedPlane, Scene::HighContrast];

    /// The scene's name: "objects", "tilted-plane", "high-contrast".
    pub fn name(self) -> &'static str {
        match self {
            Scene::Objects => "objects",
            Scene::TiltedPlane => "tilted-plane",
            Scene::HighContrast => "high-contrast",
        }
    }
}

impl fmt::Display for Scene {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scene {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self> {
        Scene::ALL.into_iter().find(|sc| sc.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Scene::ALL.iter().map(|sc| sc.name()).collect();
            CoreError::InvalidOption {
                name: "scene",
                reason: format!("unknown scene {s:?} (use {})", names.join(", ")),
            }
        })
    }
}

/// How defocus is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Defocus {
    /// Depth layers, each blurred by its own disc, composited back to front: a
    /// blurred near layer spills over what lies behind it (occlusion, as a lens shows
    /// at a depth step). Where layers blurred very differently meet, this moves
    /// defocused content: between two frames focused beyond the subject (blur radii of
    /// 3 % and 6 % of the width) their content is displaced by several pixels, so such
    /// frames' true transforms are not what the data shows. The default: every stored
    /// stack and its stamp was rendered so.
    #[default]
    Layers,
    /// The scene as one continuous surface: each pixel is the whole sharp scene
    /// averaged over the disc of its own depth. Symmetric about every point, so it
    /// moves no content however strong the blur, and a frame warped back with its true
    /// transform matches every other frame's geometry (what alignment tests measure
    /// against). No occlusion: a depth step mixes both sides instead.
    Gather,
}

/// What to render.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthOptions {
    /// Width in pixels (at least 8). Default 640.
    pub width: usize,
    /// Height in pixels (at least 8). Default 480.
    pub height: usize,
    /// Number of frames (2..=1000). Default 8.
    pub frames: usize,
    /// Bits per sample. Default 8.
    pub depth: BitDepth,
    /// Channel layout. Default RGB; gray, gray+alpha and RGBA are supported.
    pub layout: ChannelLayout,
    /// Standard deviation of the per-frame noise, in 8-bit units (scaled by 256 for
    /// 16-bit frames); 0 for none. Default 1.0. Read noise: the same at every
    /// brightness, added to the display value (see [Noise](crate::synth#noise)).
    pub noise_sigma: f64,
    /// Shot (photon) noise: its standard deviation at full-scale white, in 8-bit units
    /// of linear light; at a linear signal `L` it is `shot_noise * sqrt(L)` (variance
    /// proportional to the signal), added before the sRGB encoding (see
    /// [Noise](crate::synth#noise)). 8 is a phone or high-ISO photo. 0..=255. Default 0.
    pub shot_noise: f64,
    /// Blur radius in pixels at the largest depth difference (a depth range of 1);
    /// 0..=64. Default 8.
    pub max_blur_radius: f64,
    /// Seed of the scene layout, textures and noise. Default 1.
    pub seed: u64,
    /// The scene. Default [`Scene::Objects`].
    pub scene: Scene,
    /// Focus breathing: the change of magnification from the first frame to the last,
    /// as a fraction (0.03: the last frame shows the scene 3 % larger than the first),
    /// linear in the frame index, about the image centre. 0..=0.5. Default 0.
    pub breathing: f64,
    /// Rotation from the first frame to the last, degrees, linear in the frame index.
    /// -45..=45. Default 0.
    pub rotation: f64,
    /// Camera shake: each frame shifted by a seeded random amount of at most this many
    /// pixels in x and in y. 0..=1000. Default 0.
    pub shift: f64,
    /// The lens's own blur: the radius in pixels of a blur disc present also in focus
    /// (a real lens and sensor do not resolve full-contrast single-pixel detail).
    /// Combined with the defocus disc as `sqrt(defocus^2 + lens_blur^2)`; the truth is
    /// then the scene in focus everywhere, seen through this disc. 0..=8. Default 0:
    /// in-focus regions are sharp to the pixel, and resampling them (aligning moved
    /// frames) loses detail no interpolation can keep.
    pub lens_blur: f64,
    /// Frames focused beyond the subject: the last `beyond_frames` of the `frames`
    /// focus past the farthest depth, so nothing in them is sharp (a real stack whose
    /// focus ran on past the subject). The other frames focus at `k / (m - 1)` for
    /// `m = frames - beyond_frames` (at least 2); the `j`-th frame beyond (`j` from 1)
    /// focuses at `1 + j beyond_blur / max_blur_radius`, so its *smallest* blur radius,
    /// over the whole frame, is `j beyond_blur` pixels. Breathing, rotation and shake
    /// run over all `frames`. Default 0.
    pub beyond_frames: usize,
    /// The smallest blur radius (pixels) of the first frame beyond the subject (see
    /// [`SynthOptions::beyond_frames`]); 0..=64. Default 0.
    pub beyond_blur: f64,
    /// How defocus is rendered. Default [`Defocus::Layers`].
    pub defocus: Defocus,
}

impl Default for SynthOptions {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            frames: 8,
            depth: BitDepth::Eight,
            layout: ChannelLayout::Rgb,
            noise_sigma: 1.0,
            shot_noise: 0.0,
            max_blur_radius: 8.0,
            seed: 1,
            scene: Scene::Objects,
            breathing: 0.0,
            rotation: 0.0,
            shift: 0.0,
            lens_blur: 0.0,
            beyond_frames: 0,
            beyond_blur: 0.0,
            defocus: Defocus::Layers,
        }
    }
}

impl SynthOptions {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, reason: String| Err(CoreError::InvalidOption { name, reason });
        if self.width < 8 || self.height < 8 {
            return bad(
                "size",
                format!("{}x{} is too small (at least 8x8)", self.width, self.height),
            );
        }
        if self.width > 65_535 || self.height > 65_535 {
            return bad(
                "size",
                format!("{}x{} is too large (at most 65535 a side)", self.width, self.height),
            );
        }
        if !(2..=1000).contains(&self.frames) {
            return bad("frames", format!("must be 2..=1000, got {}", self.frames));
        }
        if !(self.noise_sigma.is_finite() && self.noise_sigma >= 0.0) {
            return bad("noise_sigma", format!("must be >= 0, got {}", self.noise_sigma));
        }
        if !(0.0..=255.0).contains(&self.shot_noise) {
            return bad("shot_noise", format!("must be 0..=255, got {}", self.shot_noise));
        }
        if !(0.0..=64.0).contains(&self.max_blur_radius) {
            return bad(
                "max_blur_radius",
                format!("must be 0..=64 pixels, got {}", self.max_blur_radius),
            );
        }
        if !(0.0..=0.5).contains(&self.breathing) {
            return bad("breathing", format!("must be 0..=0.5, got {}", self.breathing));
        }
        if !(-45.0..=45.0).contains(&self.rotation) {
            return bad("rotation", format!("must be -45..=45 degrees, got {}", self.rotation));
        }
        if !(0.0..=1000.0).contains(&self.shift) {
            return bad("shift", format!("must be 0..=1000 pixels, got {}", self.shift));
        }
        if !(0.0..=8.0).contains(&self.lens_blur) {
            return bad("lens_blur", format!("must be 0..=8 pixels, got {}", self.lens_blur));
        }
        if self.beyond_frames + 2 > self.frames {
            return bad(
                "beyond_frames",
                format!(
                    "must leave at least 2 of the {} frames on the subject, got {}",
                    self.frames, self.beyond_frames
                ),
            );
        }
        if !(0.0..=64.0).contains(&self.beyond_blur)
            || (self.beyond_frames > 0 && (self.beyond_blur == 0.0 || self.max_blur_radius == 0.0))
        {
            return bad(
                "beyond_blur",
                format!(
                    "must be 0..=64 pixels, and > 0 with max_blur_radius > 0 when beyond_frames > 0, got {}",
                    self.beyond_blur
                ),
            );
        }
        Ok(())
    }

    /// Whether frames move (breathing, rotation or shift): then they are resampled.
    pub fn moves(&self) -> bool {
        self.breathing != 0.0 || self.rotation != 0.0 || self.shift != 0.0
    }

    /// The frames' sample format.
    pub fn pixel_format(&self) -> PixelFormat {
        PixelFormat { layout: self.layout, depth: self.depth }
    }

    /// The depth frame `k` focuses at: `k / (frames - 1)`, or beyond 1 for the frames
    /// beyond the subject ([`SynthOptions::beyond_frames`]).
    pub fn focus_depth(&self, k: usize) -> f64 {
        let steps = self.focus_steps();
        if k <= steps {
            k as f64 / steps as f64
        } else {
            1.0 + (k - steps) as f64 * self.beyond_blur / self.max_blur_radius
        }
    }

    /// Focus steps over the subject's depth range: `frames - beyond_frames - 1`.
    fn focus_steps(&self) -> usize {
        self.frames - self.beyond_frames - 1
    }

    /// Depth levels per focus step (`m` in the module docs).
    fn levels_per_step(&self) -> usize {
        let steps = self.focus_steps();
        let m = (2.0 * self.max_blur_radius / steps as f64).ceil().max(1.0) as usize;
        // Keep the depth map's 8 bits meaningful where possible.
        m.min((255 / steps).max(1))
    }
}

/// The files [`SynthStack::write_stack`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFiles {
    /// The frames, in order.
    pub frames: Vec<PathBuf>,
    /// The all-in-focus truth.
    pub truth: PathBuf,
    /// The depth map (`depth.png`).
    pub depth: PathBuf,
}

/// A synthetic focus stack: the sharp scene and its depth, rendering frames on demand.
#[derive(Debug, Clone)]
pub struct SynthStack {
    options: SynthOptions,
    layers: Layers,
    /// Linear light to display value.
    encoder: crate::transfer::SrgbEncoder,
    noise_key: u64,
    shot_key: u64,
}

impl SynthStack {
    /// Builds the sharp scene and its depth layers (the costly part is done once here).
    pub fn new(options: SynthOptions) -> Result<Self> {
        options.validate()?;
        let (w, h) = (options.width, options.height);
        let steps = options.focus_steps();
        let snap = |d: f64| (d * steps as f64).round() / steps as f64;
        let desc = SceneDesc::new(options.scene, w, h, options.seed, snap);
        let levels_per_step = options.levels_per_step();
        let top_level = (levels_per_step * steps) as f64;
        let layout = options.layout;
        let planes = layout.channels();
        // Allocation: once per stack.
        let mut values = vec![vec![0.0f32; w * h]; planes];
        let mut level = vec![0u16; w * h];
        let mut rows: Vec<Vec<&mut [f32]>> = (0..h).map(|_| Vec::with_capacity(planes)).collect();
        for p in values.iter_mut() {
            for (y, r) in p.chunks_mut(w).enumerate() {
                rows[y].push(r);
            }
        }
        rows.par_iter_mut().zip(level.par_chunks_mut(w)).enumerate().for_each(
            |(y, (dst, lrow))| {
                for x in 0..w {
                    let px = desc.pixel(x, y);
                    lrow[x] = (px.depth.clamp(0.0, 1.0) * top_level).round() as u16;
                    if layout.color_channels() == 3 {
                        for c in 0..3 {
                            dst[c][x] = srgb_to_linear(px.rgb[c]);
                        }
                    } else {
                        let [r, g, b] = px.rgb;
                        let [wr, wg, wb] = crate::LUMA_WEIGHTS;
                        let gray = wr as f32 * r + wg as f32 * g + wb as f32 * b;
                        dst[0][x] = srgb_to_linear(gray);
                    }
                    if layout.has_alpha() {
                        dst[planes - 1][x] = desc.alpha(x, y);
                    }
                }
            },
        );
        drop(rows);
        let mut ranges = vec![vec![(u32::MAX, 0u32); h]; levels_per_step * steps + 1];
        for (y, lrow) in level.chunks(w).enumerate() {
            for (x, &l) in lrow.iter().enumerate() {
                let r = &mut ranges[l as usize][y];
                r.0 = r.0.min(x as u32);
                r.1 = r.1.max(x as u32 + 1);
            }
        }
        for r in ranges.iter_mut().flatten() {
            if r.0 >= r.1 {
                *r = (0, 0);
            }
        }
        Ok(Self {
            options,
            layers: Layers { width: w, height: h, values, level, ranges },
            encoder: crate::transfer::SrgbEncoder::new(),
            noise_key: mix64(options.seed ^ 0x6e6f_6973_6521),
            shot_key: mix64(options.seed ^ 0x7368_6f74_6e6f_6973),
        })
    }

    /// The options this stack was built with.
    pub fn options(&self) -> &SynthOptions {
        &self.options
    }

    /// Number of frames.
    pub fn frame_count(&self) -> usize {
        self.options.frames
    }

    /// Size and sample format of every frame.
    pub fn info(&self) -> FrameInfo {
        FrameInfo {
            width: self.options.width,
            height: self.options.height,
            format: self.options.pixel_format(),
        }
    }

    /// Number of depth levels (layers): depth `d` is rendered at
    /// `round(d * (levels - 1)) / (levels - 1)`.
    pub fn depth_levels(&self) -> usize {
        self.layers.ranges.len()
    }

    /// The depth frame `k` focuses at, `k / (frames - 1)` (beyond 1 for the frames
    /// beyond the subject).
    pub fn focus_depth(&self, k: usize) -> f64 {
        self.options.focus_depth(k)
    }

    /// The blur (disc) radius in pixels of a point at `depth` in frame `k`: the
    /// defocus disc combined with [`SynthOptions::lens_blur`].
    pub fn blur_radius(&self, k: usize, depth: f64) -> f64 {
        let defocus = self.options.max_blur_radius * (depth - self.focus_depth(k)).abs();
        defocus.hypot(self.options.lens_blur)
    }

    /// The rendered (quantised) depth of pixel `(x, y)`, `0..=1`, 0 the nearest.
    pub fn depth_at(&self, x: usize, y: usize) -> f64 {
        let l = self.layers.level[y * self.options.width + x];
        l as f64 / (self.depth_levels() - 1) as f64
    }

    /// The rendered (quantised) depth of every pixel, row by row, `0..=1`, 0 the
    /// nearest: the true depth (what [`crate::reference::depth_oracle_pick`] picks by).
    pub fn depths(&self) -> Vec<f32> {
        let top = (self.depth_levels() - 1) as f64;
        self.layers.level.par_iter().map(|&l| (l as f64 / top) as f32).collect()
    }

    /// The radius of the edge band: `max_blur_radius / 2` pixels.
    pub fn edge_band_radius(&self) -> f64 {
        self.options.max_blur_radius / 2.0
    }

    /// The edge band, a flag per pixel, row by row: the pixels within
    /// [`SynthStack::edge_band_radius`] of a depth step, a step being two 4-neighbours
    /// whose depths differ by more than `1 / (frames - 1)` (see
    /// [the module docs](crate::synth#the-edge-band)). All false for smooth depth.
    pub fn edge_band_mask(&self) -> Vec<bool> {
        let o = &self.options;
        // Depth levels per focus step: "more than one focus step" in levels.
        let jump = ((self.depth_levels() - 1) / o.focus_steps()) as u16;
        edge_band::mask(&self.layers.level, o.width, o.height, jump, self.edge_band_radius())
    }

    /// Whether defocus is rendered by gathering ([`Defocus::Gather`]).
    fn gather(&self) -> bool {
        self.options.defocus == Defocus::Gather
    }

    /// Frame `k` (`0..frames`), with a synthetic EXIF block in its metadata.
    ///
    /// # Panics
    /// If `k >= frames`.
    pub fn frame(&self, k: usize) -> Frame {
        assert!(k < self.options.frames, "frame {k} of a {}-frame stack", self.options.frames);
        let top = (self.depth_levels() - 1) as f64;
        let discs: Vec<Disc> = (0..self.depth_levels())
            .map(|l| Disc::new(self.blur_radius(k, l as f64 / top)))
            .collect();
        let m = self.frame_transform(k);
        let frame = if m == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0] {
            self.render(Some(&discs), Some(k))
        } else {
            self.render_moved(&discs, k, breathing::invert(m))
        };
        let exif = exif::exif_block(k, self.options.frames, self.focus_depth(k));
        frame.with_metadata(Metadata { exif: Some(exif), icc: None, raw: None })
    }

    /// Where frame `k` shows a scene point: the affine map `[a, b, c, d, e, f]`
    /// (`x' = a x + b y + c`, `y' = d x + e y + f`) from a position of the scene (and of
    /// the truth and depth map) to the position in frame `k` that shows it, pixel
    /// centres at integer positions. The identity unless [`SynthOptions::moves`]; the
    /// middle frame (`frames / 2`) is always the identity, so a stack aligned to its
    /// middle frame is in the truth's geometry. (The convention of fs-align's
    /// `Transform`.)
    pub fn frame_transform(&self, k: usize) -> [f64; 6] {
        let o = &self.options;
        if !o.moves() {
            return [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        }
        breathing::frame_affine(
            k,
            o.frames,
            o.width,
            o.height,
            o.breathing,
            o.rotation,
            o.shift,
            o.seed,
        )
    }

    /// Every frame in order, rendered as the iterator advances.
    pub fn frames(&self) -> impl ExactSizeIterator<Item = Frame> + '_ {
        (0..self.options.frames).map(|k| self.frame(k))
    }

    /// The all-in-focus scene in the frames' format, without noise: what a perfect
    /// stacker returns. Carries the first frame's EXIF block.
    pub fn truth(&self) -> Frame {
        let lens = self.options.lens_blur;
        let discs: Vec<Disc> =
            if lens > 0.0 { vec![Disc::new(lens); self.depth_levels()] } else { Vec::new() };
        let frame = self.render((!discs.is_empty()).then_some(discs.as_slice()), None);
        let exif = exif::exif_block(0, self.options.frames, self.focus_depth(0));
        frame.with_metadata(Metadata { exif: Some(exif), icc: None, raw: None })
    }

    /// The depth map: 8-bit gray, `round(255 * depth)`, 0 the nearest depth (the focus
    /// of the first frame), 255 the farthest (the focus of the last).
    pub fn depth_map(&self) -> Frame {
        let scale = 255.0 / (self.depth_levels() - 1) as f64;
        let samples =
            self.layers.level.par_iter().map(|&l| (l as f64 * scale).round() as u8).collect();
        let info = FrameInfo {
            width: self.options.width,
            height: self.options.height,
            format: PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight },
        };
        Frame::new(info, Samples::U8(samples)).expect("depth map sized from the options")
    }

    /// Writes the frames into `dir/frames/` (`frame_001.<ext>` ...), and `truth.<ext>`
    /// and `depth.png` into `dir` (both folders created if missing), so that
    /// `dir/frames` holds nothing but the stack. JPEG needs 8-bit frames.
    pub fn write_stack(
        &self,
        dir: &Path,
        format: FileFormat,
        write: &WriteOptions,
    ) -> Result<StackFiles> {
        self.write_stack_with_progress(dir, format, write, &NoProgress)
    }

    /// [`SynthStack::write_stack`], reporting one step per file and checking for
    /// cancellation between files. The next frame renders while the previous one is
    /// encoded.
    pub fn write_stack_with_progress(
        &self,
        dir: &Path,
        format: FileFormat,
        write: &WriteOptions,
        progress: &dyn Progress,
    ) -> Result<StackFiles> {
        if format == FileFormat::Jpeg && self.options.depth == BitDepth::Sixteen {
            return Err(CoreError::InvalidOption {
                name: "depth",
                reason: "JPEG holds 8-bit samples only; write 16-bit stacks as png or tif".into(),
            });
        }
        let frames_dir = dir.join("frames");
        std::fs::create_dir_all(&frames_dir).map_err(|e| CoreError::io(&frames_dir, e))?;
        let n = self.options.frames;
        progress.phase("generating stack", n as u64 + 2);
        let frames: Vec<PathBuf> =
            (0..n).map(|k| frames_dir.join(frame_file_name(k, n, format))).collect();
        let mut pending: Option<(usize, Frame)> = None;
        for k in 0..=n {
            progress.check_cancelled()?;
            let (next, written) = rayon::join(
                || (k < n).then(|| self.frame(k)),
                || match pending.take() {
                    Some((i, f)) => write_frame(&frames[i], &f, write),
                    None => Ok(()),
                },
            );
            written?;
            if k > 0 {
                progress.step(k as u64);
            }
            pending = next.map(|f| (k, f));
        }
        let truth = dir.join(format!("truth.{}", format.extension()));
        write_frame(&truth, &self.truth(), write)?;
        progress.step(n as u64 + 1);
        let depth = dir.join("depth.png");
        write_frame(&depth, &self.depth_map(), write)?;
        progress.step(n as u64 + 2);
        Ok(StackFiles { frames, truth, depth })
    }

    /// Renders frame `noise_frame`'s layers with `discs`, or the truth with `None`.
    fn render(&self, discs: Option<&[Disc]>, noise_frame: Option<usize>) -> Frame {
        let info = self.info();
        let n = info.width * info.height * info.format.layout.channels();
        // Allocation: once per frame.
        let samples = match info.format.depth {
            BitDepth::Eight => {
                let mut s = vec![0u8; n];
                self.fill(&mut s, discs, noise_frame);
                Samples::U8(s)
            }
            BitDepth::Sixteen => {
                let mut s = vec![0u16; n];
                self.fill(&mut s, discs, noise_frame);
                Samples::U16(s)
            }
        };
        Frame::new(info, samples).expect("samples sized from the options")
    }

    /// Frame `k` seen through `frame_to_scene`: its linear planes rendered whole (normalised
    /// by coverage), then resampled band by band and encoded with the frame's noise.
    fn render_moved(&self, discs: &[Disc], k: usize, frame_to_scene: [f64; 6]) -> Frame {
        let (w, h) = (self.options.width, self.options.height);
        // Allocation: once per frame (the whole frame's linear planes).
        let bands: Vec<Vec<Vec<f32>>> = (0..h.div_ceil(BAND_ROWS))
            .into_par_iter()
            .map_init(Band::default, |band, b| {
                let (y0, y1) = (b * BAND_ROWS, ((b + 1) * BAND_ROWS).min(h));
                self.layers.render_band(discs, self.gather(), y0, y1, band);
                let inv: Vec<f32> =
                    band.coverage.iter().map(|&a| if a > 0.0 { 1.0 / a } else { 0.0 }).collect();
                band.colour
                    .iter()
                    .map(|p| p.iter().zip(&inv).map(|(v, i)| v * i).collect())
                    .collect()
            })
            .collect();
        let planes: Vec<Vec<f32>> = (0..self.layers.values.len())
            .map(|p| bands.iter().flat_map(|b| b[p].iter().copied()).collect())
            .collect();
        drop(bands);
        let info = self.info();
        let n = w * h * info.format.layout.channels();
        let samples = match info.format.depth {
            BitDepth::Eight => {
                let mut s = vec![0u8; n];
                self.fill_moved(&mut s, &planes, frame_to_scene, k);
                Samples::U8(s)
            }
            BitDepth::Sixteen => {
                let mut s = vec![0u16; n];
                self.fill_moved(&mut s, &planes, frame_to_scene, k);
                Samples::U16(s)
            }
        };
        Frame::new(info, samples).expect("samples sized from the options")
    }

    fn fill_moved<S: Sample>(
        &self,
        out: &mut [S],
        planes: &[Vec<f32>],
        frame_to_scene: [f64; 6],
        k: usize,
    ) {
        let (w, h) = (self.options.width, self.options.height);
        let chunk = BAND_ROWS * w * self.options.layout.channels();
        // Allocation: once per band task (the resampled band).
        out.par_chunks_mut(chunk).enumerate().for_each_init(Vec::new, |buf, (b, out)| {
            let (y0, y1) = (b * BAND_ROWS, ((b + 1) * BAND_ROWS).min(h));
            breathing::resample_rows(planes, w, h, frame_to_scene, y0, y1, buf);
            let colour: Vec<&[f32]> = buf.iter().map(|p| p.as_slice()).collect();
            self.encode_rows(&colour, None, y0, Some(k), out);
        });
    }

    /// Fills interleaved samples band by band, in parallel.
    fn fill<S: Sample>(&self, out: &mut [S], discs: Option<&[Disc]>, noise: Option<usize>) {
        let (w, h) = (self.options.width, self.options.height);
        let chunk = BAND_ROWS * w * self.options.layout.channels();
        // Allocation: once per band task (the scratch) and once per band (the plane list).
        out.par_chunks_mut(chunk).enumerate().for_each_init(Band::default, |band, (b, out)| {
            let (y0, y1) = (b * BAND_ROWS, ((b + 1) * BAND_ROWS).min(h));
            match discs {
                Some(discs) => {
                    self.layers.render_band(discs, self.gather(), y0, y1, band);
                    let colour: Vec<&[f32]> = band.colour.iter().map(|p| p.as_slice()).collect();
                    self.encode_rows(&colour, Some(&band.coverage), y0, noise, out);
                }
                None => {
                    let colour: Vec<&[f32]> =
                        self.layers.values.iter().map(|p| &p[y0 * w..y1 * w]).collect();
                    self.encode_rows(&colour, None, y0, None, out);
                }
            }
        });
    }

    /// Encodes linear planes (straight alpha last; premultiplied by `coverage` if given)
    /// of rows starting at `y0` into interleaved samples, adding frame `noise_frame`'s
    /// noise to the colour channels.
    fn encode_rows<S: Sample>(
        &self,
        colour: &[&[f32]],
        coverage: Option<&[f32]>,
        y0: usize,
        noise_frame: Option<usize>,
        out: &mut [S],
    ) {
        let o = &self.options;
        let (w, c, cc) = (o.width, o.layout.channels(), o.layout.color_channels());
        let max = o.depth.max_value() as f32;
        let sigma = match noise_frame {
            Some(_) => (o.noise_sigma * o.depth.scale_from_8bit()) as f32,
            None => 0.0,
        };
        // Linear light in 0..=1, so the same relative noise at either depth.
        let shot = match noise_frame {
            Some(_) => (o.shot_noise / 255.0) as f32,
            None => 0.0,
        };
        let k = noise_frame.unwrap_or(0) as u64;
        // Allocation: once per band.
        let mut inverse_coverage = vec![1.0f32; w];
        for (t, orow) in out.chunks_mut(w * c).enumerate() {
            let row = t * w..(t + 1) * w;
            if let Some(cov) = coverage {
                for (inv, &a) in inverse_coverage.iter_mut().zip(&cov[row.clone()]) {
                    *inv = if a > 0.0 { 1.0 / a } else { 0.0 };
                }
            }
            let y = (y0 + t) as u64;
            let counter = (k * o.height as u64 + y) * (w * c) as u64;
            for (x, (px, &inv)) in orow.chunks_exact_mut(c).zip(&inverse_coverage).enumerate() {
                let i = t * w + x;
                for (ch, s) in px.iter_mut().enumerate() {
                    let mut v = colour[ch][i] * inv;
                    if shot > 0.0 && ch < cc {
                        let n = unit_noise(self.shot_key, counter + (x * c + ch) as u64);
                        v += shot * v.max(0.0).sqrt() * n;
                    }
                    let value = if ch >= cc {
                        v * max // alpha: straight, linear, no noise
                    } else if sigma > 0.0 {
                        let n = unit_noise(self.noise_key, counter + (x * c + ch) as u64);
                        self.encode(v) * max + sigma * n
                    } else {
                        self.encode(v) * max
                    };
                    *s = S::from_u32(round_clamp(value, max));
                }
            }
        }
    }

    /// Linear light to display value (sRGB), `0..=1`.
    #[inline]
    fn encode(&self, linear: f32) -> f32 {
        self.encoder.encode(linear)
    }
}

/// The file name of frame `k` of `frames`: `frame_001.jpg` ... (1-based, at least three
/// digits, so plain and natural order agree).
pub fn frame_file_name(k: usize, frames: usize, format: FileFormat) -> String {
    let digits = frames.to_string().len().max(3);
    format!("frame_{:0digits$}.{}", k + 1, format.extension())
}

/// Noise of unit standard deviation for `counter`: the sum of four 16-bit uniforms from
/// one hash, centred and scaled (bounded at +-3.46; cheap and independent of threads).
#[inline]
fn unit_noise(key: u64, counter: u64) -> f32 {
    let h = mix64(key ^ counter.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let sum = (h & 0xffff) + (h >> 16 & 0xffff) + (h >> 32 & 0xffff) + (h >> 48);
    // Each 16-bit uniform has mean 32767.5 and variance (65536^2 - 1) / 12.
    (sum as i64 - 131_070) as f32 * (1.732_050_8 / 65_536.0)
}

/// Rounds half up and clips to `0..=max` (NaN to 0), without the library call
/// `f32::round` needs on the baseline x86-64 target.
#[inline]
fn round_clamp(v: f32, max: f32) -> u32 {
    (v.clamp(0.0, max) + 0.5) as i32 as u32
}

/// A stored sample type, from an already rounded and clipped value.
trait Sample: Copy + Send {
    fn from_u32(v: u32) -> Self;
}

impl Sample for u8 {
    #[inline(always)]
    fn from_u32(v: u32) -> Self {
        v as u8
    }
}

impl Sample for u16 {
    #[inline(always)]
    fn from_u32(v: u32) -> Self {
        v as u16
    }
}

/// The sRGB transfer function from a 4097-entry table, interpolated (error below 1e-7;
/// `powf` per sample made the scene set-up several times slower).
fn srgb_to_linear(v: f32) -> f32 {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=4096).map(|i| srgb_to_linear_exact(i as f64 / 4096.0) as f32).collect()
    });
    let t = v.clamp(0.0, 1.0) * 4096.0;
    let i = (t as usize).min(4095);
    table[i] + (table[i + 1] - table[i]) * (t - i as f32)
}
