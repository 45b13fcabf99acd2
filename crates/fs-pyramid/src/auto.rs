//! `PyramidAutoStack`: in memory ([`crate::PyramidStack`]) when the estimated peak
//! memory fits `memory_limit`, else tiled ([`crate::PyramidTilesStack`]) with a tile
//! size and tiled-layer count that fit.
//!
//! See [`PyramidAutoStack`] for the memory estimate and the choice.

use std::fmt;
use std::str::FromStr;

use fs_core::{Frame, FrameInfo, Progress};
use fs_tiles::format_bytes;

use crate::noise::NOISE_LEVELS;
use crate::pyramid::{level_sizes, pyramid_levels};
use crate::tiled::{PyramidTilesOptions, PyramidTilesStack};
use crate::{PyramidError, PyramidOptions, PyramidStack};

/// Which stacker [`PyramidAutoStack`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StackMode {
    /// In memory when it fits `memory_limit`, else tiled (default).
    #[default]
    Auto,
    /// Always in memory.
    Memory,
    /// Always tiled, with the given tile options.
    Tiled,
}

impl FromStr for StackMode {
    type Err = PyramidError;

    /// `auto`, `memory` or `tiled` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(StackMode::Auto),
            "memory" => Ok(StackMode::Memory),
            "tiled" => Ok(StackMode::Tiled),
            _ => Err(PyramidError::InvalidOption {
                name: "mode",
                reason: format!("must be auto, memory or tiled, got `{s}`"),
            }),
        }
    }
}

/// Options of [`PyramidAutoStack`].
#[derive(Debug, Clone, PartialEq)]
pub struct PyramidAutoOptions {
    /// The pyramid and tiling options (the tiling ones are starting points in
    /// `Auto` mode, used as they are in `Tiled` mode).
    pub tiles: PyramidTilesOptions,
    /// Default [`StackMode::Auto`].
    pub mode: StackMode,
    /// Bytes the stack may use (estimated; see [`PyramidAutoStack`]). Default 8 GiB;
    /// at least 16 MiB. Parse human sizes with [`fs_tiles::parse_byte_size`].
    pub memory_limit: u64,
}

impl Default for PyramidAutoOptions {
    fn default() -> Self {
        Self { tiles: PyramidTilesOptions::default(), mode: StackMode::Auto, memory_limit: 8 << 30 }
    }
}

impl PyramidAutoOptions {
    /// Checks every option; the error names the first bad one and its value.
    pub fn validate(&self) -> Result<(), PyramidError> {
        self.tiles.validate()?;
        if self.memory_limit < 16 << 20 {
            return Err(PyramidError::InvalidOption {
                name: "memory_limit",
                reason: format!("must be at least 16 MiB, got {} bytes", self.memory_limit),
            });
        }
        Ok(())
    }
}

/// What [`PyramidAutoStack`] chose, and why ([`fmt::Display`] says it in one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoChoice {
    /// Whether the tiled stacker runs.
    pub tiled: bool,
    /// Rows per tile (tiled only).
    pub tile_size: usize,
    /// Levels on disk (tiled only; at most the number of detail levels).
    pub n_tiled_layers: usize,
    /// Whether the next frame is decoded while one is folded (two decoded frames
    /// in memory); false only when tiled and the estimate with decode-ahead is
    /// over the limit ([`PyramidTilesStack::with_prefetch`]).
    pub prefetch: bool,
    /// Detail levels of the pyramid.
    pub levels: usize,
    /// Estimated peak bytes of the in-memory path.
    pub in_memory_estimate: u64,
    /// Estimated peak bytes of the path chosen.
    pub estimate: u64,
    /// The limit it was chosen for.
    pub memory_limit: u64,
    /// The mode asked for.
    pub mode: StackMode,
}

impl fmt::Display for AutoChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (need, limit) =
            (format_bytes(self.in_memory_estimate), format_bytes(self.memory_limit));
        if !self.tiled {
            return match self.mode {
                StackMode::Memory => write!(f, "in memory (mode memory; estimated peak {need})"),
                _ => write!(f, "in memory: estimated peak {need} fits memory_limit {limit}"),
            };
        }
        write!(
            f,
            "tiled, {} of {} levels on disk in {}-row tiles{} (estimated peak {}): ",
            self.n_tiled_layers,
            self.levels,
            self.tile_size,
            if self.prefetch { "" } else { ", no decode-ahead" },
            format_bytes(self.estimate)
        )?;
        match self.mode {
            StackMode::Tiled => write!(f, "mode tiled"),
            _ if self.estimate > self.memory_limit => write!(
                f,
                "in memory would need {need}; nothing fits memory_limit {limit}, \
                 this is the smallest setting"
            ),
            _ => write!(f, "in memory would need {need}, over memory_limit {limit}"),
        }
    }
}

fn pixels(sizes: &[(usize, usize)], range: std::ops::Range<usize>) -> u64 {
    sizes[range].iter().map(|&(w, h)| (w * h) as u64).sum()
}

const OVERHEAD: u64 = 64 << 20;

/// Bytes of the decoded frames in memory at a time: with decode-ahead, the one
/// being folded, the next one waiting and the decoder's buffer (3 frames);
/// without, the one being folded (the next is decoded after it is dropped) plus a
/// quarter frame for the decoder's input and buffers.
fn frames_bytes(info: FrameInfo, prefetch: bool) -> u64 {
    let c = info.format.layout.channels() as u64;
    let frame = c * (info.width * info.height) as u64 * (info.format.depth.bits() / 8) as u64;
    if prefetch { 3 * frame } else { frame + frame / 4 }
}

/// Estimated peak bytes of [`PyramidStack`] on `frames` frames of `info` (the
/// formula is in the [`PyramidAutoStack`] docs).
pub fn memory_estimate(info: FrameInfo, options: &PyramidOptions, frames: usize) -> u64 {
    tiled_memory_estimate(info, options, frames, 0, 0)
}

/// Estimated peak bytes of [`PyramidTilesStack`] with the finest `n_tiled_layers`
/// levels on disk in `tile_size`-row tiles (0 tiled layers: the in-memory estimate).
pub fn tiled_memory_estimate(
    info: FrameInfo,
    options: &PyramidOptions,
    frames: usize,
    n_tiled_layers: usize,
    tile_size: usize,
) -> u64 {
    tiled_memory_estimate_with(info, options, frames, n_tiled_layers, tile_size, true)
}

/// [`tiled_memory_estimate`] with decode-ahead on or off
/// ([`PyramidTilesStack::with_prefetch`]): off, one decoded frame is counted
/// instead of three (see the formula in the [`PyramidAutoStack`] docs).
pub fn tiled_memory_estimate_with(
    info: FrameInfo,
    options: &PyramidOptions,
    frames: usize,
    n_tiled_layers: usize,
    tile_size: usize,
    prefetch: bool,
) -> u64 {
    let c = info.format.layout.channels() as u64;
    let s = options.float_type.bytes() as u64;
    let n = pyramid_levels(info.width, info.height, options.pyramid_min_size);
    let sizes = level_sizes(info.width, info.height, n);
    let t = n_tiled_layers.min(n);
    // The noise guard's sums (energy + coefficients) on its levels that stay in memory.
    let guarded = if options.noise_guard > 0.0 { NOISE_LEVELS.min(n) } else { 0 };
    let sums = (c + 1) * pixels(&sizes, t.min(guarded)..guarded);
    let best = (c + 1) * pixels(&sizes, t..n) + sums;
    let gauss = c * pixels(&sizes, t.max(1).min(n + 1)..n + 1);
    let bases = frames as u64 * c * pixels(&sizes, n..n + 1);
    let bands = if t > 0 {
        let rows = tile_size.min(sizes[0].1) as u64 + 4;
        let guard = if guarded > 0 { c + 1 } else { 0 };
        2 * sizes[0].0 as u64 * rows * (2 * c + 1 + guard)
    } else {
        0
    };
    s * (best + gauss + bases + bands) + frames_bytes(info, prefetch) + OVERHEAD
}

/// The stacker that picks in-memory ([`PyramidStack`]) or tiled
/// ([`PyramidTilesStack`]) by itself, and says which and why ([`AutoChoice`]).
///
/// ```
/// use fs_core::{BitDepth, ChannelLayout, FrameInfo, PixelFormat};
/// use fs_pyramid::{PyramidAutoOptions, PyramidAutoStack};
///
/// let format = PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Eight };
/// let info = FrameInfo { width: 6000, height: 4000, format };
/// let memory_limit = fs_tiles::parse_byte_size("512M")?;
/// let stacker = PyramidAutoStack::new(PyramidAutoOptions { memory_limit, ..Default::default() })?;
/// let choice = stacker.choose(info, 16);
/// assert!(choice.tiled && choice.estimate <= memory_limit);
/// println!("{choice}"); // tiled, 2 of 6 levels on disk in 512-row tiles (...): in memory would need ...
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # The memory estimate
/// With `N_i` the pixels of pyramid level `i` (level 0 the image, `n` levels), `c`
/// channels, `S` bytes per float (4 or 8), `B` bytes per stored sample (1 or 2) and
/// `F` frames, the in-memory stacker's peak is estimated as
///
/// ```text
/// S * ((c + 1) * sum(N_i, i < n)       running best: energy + coefficients
///      + (c + 1) * sum(N_i, i < g)      noise guard sums: energy + coefficients
///                                       (g = 1, 0 with noise_guard 0)
///      + c * sum(N_i, 1 <= i <= n)      the current frame's Gaussian levels
///      + F * c * N_n)                   every frame's base level
/// + 3 * c * N_0 * B                     decoded frames: the one being folded, the
///                                       next one waiting, the decoder's buffer
/// + 64 MiB                              program, thread stacks, allocator slack
/// ```
///
/// The tiled stacker can also run without decode-ahead
/// ([`PyramidTilesStack::with_prefetch`]): the next frame is decoded only after
/// the current one is folded and dropped, so the decoded frames' term becomes
/// `1.25 * c * N_0 * B` (the frame, plus a quarter for the decoder's input and
/// buffers; TIFF frames are decoded straight into the frame's buffer). The
/// output image, allocated when the frames are gone, is one frame's size too.
///
/// The tiled stacker's estimate replaces the sums over the `t` disk levels by
/// what is resident while a band of `tile_size` rows is worked on: at most two
/// bands of a disk level (the one in work and the one just released)
/// `2 * S * w_i * (tile_size + 4) * (2c + 1 + c + 1)` for the widest disk level
/// (best energy and coefficients, the fine and the coarse Gaussian rows, and the
/// noise guard's sums; without the guard `2c + 1`).
///
/// Checked against a measurement (16 frames of 6000x4000 RGB JPEG, 2-core
/// machine): in memory estimated 851 MiB, measured 801 MB peak RSS; tiled (2
/// levels, 512-row tiles) estimated 490 MiB, measured 335 MB (both without the
/// noise guard). With the noise guard: in memory estimated 1217 MiB, measured
/// 1150 MiB. The estimate errs on the safe side.
///
/// [`PyramidAutoStack::choose`] keeps the in-memory path when its estimate is at
/// most `memory_limit`; otherwise it tries `n_tiled_layers` = the option's value up
/// to every level, and for each `tile_size` = the option's value halved down to 64
/// rows, and takes the first pair whose estimate fits (fewer disk levels and larger
/// tiles are faster); first with decode-ahead, then, if nothing fits, without. If
/// none fits (the decoded frame alone exceeds the limit), it takes every level on
/// disk with 64-row tiles without decode-ahead and says so.
#[derive(Debug, Clone)]
pub struct PyramidAutoStack {
    /// The options it was built with (validated).
    pub options: PyramidAutoOptions,
}

impl PyramidAutoStack {
    /// A stacker with these options; fails, naming the option, if one is invalid.
    pub fn new(options: PyramidAutoOptions) -> Result<Self, PyramidError> {
        options.validate()?;
        Ok(Self { options })
    }

    /// What would run for `frames` frames of `info`, and why.
    pub fn choose(&self, info: FrameInfo, frames: usize) -> AutoChoice {
        let o = &self.options;
        let p = &o.tiles.pyramid;
        let levels = pyramid_levels(info.width, info.height, p.pyramid_min_size);
        let in_memory = memory_estimate(info, p, frames);
        let choice = |tiled, n_tiled_layers: usize, tile_size, prefetch, estimate| AutoChoice {
            tiled,
            tile_size,
            n_tiled_layers: n_tiled_layers.min(levels),
            prefetch,
            levels,
            in_memory_estimate: in_memory,
            estimate,
            memory_limit: o.memory_limit,
            mode: o.mode,
        };
        let tiled_estimate =
            |t, size, prefetch| tiled_memory_estimate_with(info, p, frames, t, size, prefetch);
        match o.mode {
            StackMode::Memory => return choice(false, 0, 0, true, in_memory),
            StackMode::Tiled => {
                let (t, size) = (o.tiles.n_tiled_layers, o.tiles.tile_size);
                // Decode-ahead only when the estimate with it fits the limit.
                let prefetch = tiled_estimate(t, size, true) <= o.memory_limit;
                return choice(true, t, size, prefetch, tiled_estimate(t, size, prefetch));
            }
            StackMode::Auto if in_memory <= o.memory_limit || levels == 0 => {
                return choice(false, 0, 0, true, in_memory);
            }
            StackMode::Auto => {}
        }
        for prefetch in [true, false] {
            for t in o.tiles.n_tiled_layers.min(levels)..=levels {
                let mut size = o.tiles.tile_size;
                loop {
                    let e = tiled_estimate(t, size, prefetch);
                    if e <= o.memory_limit {
                        return choice(true, t, size, prefetch, e);
                    }
                    if size <= 64 {
                        break;
                    }
                    size = (size / 2).max(64);
                }
            }
        }
        let size = o.tiles.tile_size.min(64);
        choice(true, levels, size, false, tiled_estimate(levels, size, false))
    }

    /// Stacks like [`PyramidStack::stack`], with the stacker [`choose`](Self::choose)
    /// picks for the first frame's shape (and the iterator's frame count hint);
    /// returns the result and the choice. The choice is also reported as a
    /// progress phase named after it (0 steps) before stacking starts.
    pub fn stack_explained<I>(
        &self,
        frames: I,
        progress: &dyn Progress,
    ) -> Result<(Frame, AutoChoice), PyramidError>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        self.options.validate()?;
        let mut frames = frames.into_iter();
        let (lo, hi) = frames.size_hint();
        let first = frames.next().ok_or(PyramidError::NoFrames)??;
        let choice = self.choose(first.info(), hi.unwrap_or(lo).max(1));
        progress.phase(&choice.to_string(), 0);
        let all = std::iter::once(Ok(first)).chain(frames);
        let out = if choice.tiled {
            let mut tiles = self.options.tiles.clone();
            (tiles.tile_size, tiles.n_tiled_layers) =
                (choice.tile_size.max(16), choice.n_tiled_layers.max(1));
            PyramidTilesStack::new(tiles)?.with_prefetch(choice.prefetch).stack(all, progress)?
        } else {
            PyramidStack::new(self.options.tiles.pyramid)?.stack(all, progress)?
        };
        Ok((out, choice))
    }

    /// [`stack_explained`](Self::stack_explained) without the explanation.
    pub fn stack<I>(&self, frames: I, progress: &dyn Progress) -> Result<Frame, PyramidError>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        self.stack_explained(frames, progress).map(|(frame, _)| frame)
    }
}
