//! The command line, as clap sees it: every command and flag, grouped by purpose.
//!
//! Flags use the seed's option names (`pyramid_min_size` becomes `--pyramid-min-size`),
//! so a ShineStacker user finds every option under the name they know. Enumerated
//! values also accept the seed's spelling (`--energy DM_ENERGY_SOBEL`,
//! `--float-type FLOAT_64`).
//!
//! Stacker-specific flags are `Option`s without clap defaults, so the command can tell
//! "given" from "left at its default" and refuse a flag that does not apply to the
//! chosen stacker instead of silently ignoring it. The focus-map flags show their
//! `[default: ..]` from `FocusMapOptions::default()` ([`defaulted`]), so their
//! defaults are written in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use fs_job::FocusMapOptions;

const OUTPUT: &str = "Output";
const STACKER: &str = "Stacker";
const FOCUSMAP: &str = "Focus map options (--stacker focusmap)";
const PYRAMID: &str = "Pyramid options (--stacker pyramid, tiles, auto)";
const TILES: &str = "Tiled pyramid options (--stacker tiles, auto)";
const DEPTHMAP: &str = "Depth map options (--stacker depthmap)";
const ALIGN: &str = "Alignment and balance (before stacking, in memory)";
const RAW: &str = "Camera RAW frames (CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF, DNG...)";
const POST: &str = "Post-filters (applied to the stacked image, in this order)";
const BUNCH: &str = "Bunches (stack consecutive groups of frames, one output each)";
const GLOBAL: &str = "Global options";

/// fstack: focus stacking for photographers and microscopists.
///
/// Fuses a series of frames focused at different depths into one image that is
/// sharp everywhere.
#[derive(Debug, Parser)]
#[command(
    name = "fstack",
    version,
    after_help = "Exit codes: 0 success, 1 error (bad input, I/O), 2 usage error \
                  (unknown flag or value, option that does not apply to the stacker, \
                  value out of range), 130 interrupted (Ctrl-C)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Flags every command accepts.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Print nothing but errors (and the --json summary when asked for).
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Print a machine-readable JSON summary on stdout instead of the text report.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// How to show progress on stderr: bars with ETA when stderr is a terminal
    /// (auto), one line per phase start and end for logs (plain), or none.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, global = true,
          help_heading = GLOBAL)]
    pub progress: ProgressMode,
    /// Number of worker threads (default: one per core).
    #[arg(long, value_name = "N", global = true, help_heading = GLOBAL,
          value_parser = clap::value_parser!(u16).range(1..), allow_hyphen_values = true)]
    pub threads: Option<u16>,
    /// Refuse frames larger than this many megapixels, as their headers claim, before
    /// decoding them (a damaged header can claim any size). Frames that do not fit in
    /// the available memory are refused too.
    #[arg(long, value_name = "MP", global = true, help_heading = GLOBAL,
          default_value_t = fs_core::DEFAULT_MAX_MEGAPIXELS, value_parser = positive,
          allow_hyphen_values = true)]
    pub max_megapixels: u64,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Bars on a terminal, nothing otherwise.
    Auto,
    /// One line per phase start and end, for logs.
    Plain,
    /// No progress output.
    None,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stack a folder (or a list) of frames into one sharp image.
    Stack(Box<StackArgs>),
    /// Stack many stacks: every folder of frames under ROOT, or a manifest.
    Batch(Box<BatchArgs>),
    /// Run a job file (TOML) or a ShineStacker project (.fsp).
    Run(RunArgs),
    /// Generate a synthetic stack with a known truth, stack it and print the PSNR.
    Demo(DemoArgs),
    /// Describe the frames of a stack: size, format, EXIF, memory needed.
    Info(InfoArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Write the man page (to stdout, or man pages for every command to a folder).
    Man(ManArgs),
}

/// The stacker and its options, the alignment and the post-filters: the part of the
/// flags `fstack stack` and `fstack batch` share.
#[derive(Debug, Args, Clone)]
pub struct MethodArgs {
    /// The stacking algorithm: focusmap is fstack's own; pyramid (or auto) gives
    /// ShineStacker-compatible output, depthmap the seed's depth-map blend, tiles (or
    /// auto) stacks frames too big for memory.
    #[arg(long, value_enum, default_value_t = StackerKind::Focusmap, help_heading = STACKER)]
    pub stacker: StackerKind,
    /// Precision of the internal float samples of the pyramid and depth-map stackers
    /// (seed: float_type).
    #[arg(long, value_enum, value_name = "TYPE", help_heading = STACKER)]
    pub float_type: Option<FloatTypeArg>,

    #[command(flatten)]
    pub focusmap: FocusMapArgs,
    #[command(flatten)]
    pub pyramid: PyramidArgs,
    #[command(flatten)]
    pub tiles: TilesArgs,
    #[command(flatten)]
    pub depthmap: DepthMapArgs,
    #[command(flatten)]
    pub align: AlignArgs,
    #[command(flatten)]
    pub post: PostArgs,
    /// One white balance for the whole stack of RAW frames: as-shot (the reference
    /// frame's), auto (grey world on the reference frame) or gains R,G,B for the
    /// camera's raw colours, e.g. 2.1,1,1.6 [default: as-shot].
    #[arg(long, value_name = "WB", help_heading = RAW, value_parser = parse_white_balance)]
    pub white_balance: Option<fs_core::WhiteBalance>,
}

/// Parses `--white-balance`.
fn parse_white_balance(s: &str) -> Result<fs_core::WhiteBalance, String> {
    fs_core::WhiteBalance::parse(s).map_err(|e| match e {
        fs_core::CoreError::InvalidOption { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// `fstack stack`.
#[derive(Debug, Args)]
#[command(after_help = "Frames are stacked in natural file-name order (img2 before img10). \
                        The default output is <folder>-stacked.<ext of the first frame> \
                        beside the frames' folder; an existing file is never overwritten \
                        without --force.")]
pub struct StackArgs {
    /// A folder of frames, or the frame files themselves.
    #[arg(required = true, value_name = "DIR | FILES")]
    pub inputs: Vec<PathBuf>,

    /// Output file; its extension (.jpg, .png, .tif, .dng) chooses the format; .dng
    /// writes a linear DNG (16-bit, the camera's colour matrix and white balance) that
    /// raw editors open. With
    /// --bunch-frames, a folder for the bunch outputs.
    #[arg(short, long, value_name = "OUT", help_heading = OUTPUT)]
    pub output: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(long, help_heading = OUTPUT)]
    pub force: bool,
    /// Text prepended to the output file name (seed: prefix).
    #[arg(long, value_name = "TEXT", help_heading = OUTPUT)]
    pub prefix: Option<String>,
    /// JPEG quality of the output, 1 to 100.
    #[arg(long, value_name = "Q", default_value_t = 95, help_heading = OUTPUT,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub jpeg_quality: u8,
    /// Do not copy EXIF and ICC metadata into the output (seed: exif_path = "").
    #[arg(long, help_heading = OUTPUT, conflicts_with = "exif_path")]
    pub no_exif: bool,
    /// Take EXIF and ICC from this file, or the first frame of this folder, instead
    /// of the first input frame (seed: exif_path).
    #[arg(long, value_name = "PATH", help_heading = OUTPUT)]
    pub exif_path: Option<PathBuf>,

    /// Also write the depth map to FILE: with --stacker focusmap a 16-bit gray PNG or
    /// TIFF (the sub-frame index of the decision scaled to 0..=65535), with --stacker
    /// depthmap the weighted mean frame index, 8-bit gray (seed: plot_depth_map;
    /// FocusMapStack: depth_map).
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub depth_map: Option<PathBuf>,
    /// Also write the confidence map to FILE, a 16-bit gray PNG or TIFF (0 = not
    /// trusted, 65535 = fully) (--stacker focusmap).
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub confidence_map: Option<PathBuf>,

    #[command(flatten)]
    pub method: MethodArgs,
    #[command(flatten)]
    pub bunch: BunchArgs,
}

const BATCH: &str = "Batch";

/// `fstack batch`.
#[derive(Debug, Args)]
#[command(after_help = "Every folder under ROOT (nested ones too) that holds frames is one \
                        stack, written to OUT/<path below ROOT, / as __>.<ext of its first \
                        frame>. A stack whose output is newer than its frames is skipped; \
                        each run appends one line per stack to OUT/fstack-batch.jsonl. \
                        --memory-limit is the whole batch's budget: the running stacks' \
                        estimates stay under it. Exit code 1 when any stack failed.")]
pub struct BatchArgs {
    /// The folder whose subfolders of frames are the stacks (not needed with
    /// --manifest).
    #[arg(value_name = "ROOT", required_unless_present = "manifest")]
    pub root: Option<PathBuf>,
    /// The folder for the outputs and the log (created when missing).
    #[arg(short, long, value_name = "OUT", help_heading = BATCH)]
    pub output: PathBuf,
    /// A CSV or JSON-lines file naming the stacks (id, frames, output) instead of
    /// ROOT's folders.
    #[arg(long, value_name = "FILE", help_heading = BATCH, conflicts_with = "root")]
    pub manifest: Option<PathBuf>,
    /// Split each stack where the EXIF capture time of consecutive frames jumps by
    /// more than this many seconds; the parts are ID-001, ID-002, ... for stack ID
    #[arg(long, value_name = "SECONDS", help_heading = BATCH, value_parser = positive_seconds)]
    pub split_gap: Option<f64>,
    /// Do only shard K of N (1 <= K <= N): N machines given 1/N ... N/N do each
    /// stack exactly once between them.
    #[arg(long, value_name = "K/N", help_heading = BATCH, value_parser = parse_shard_arg)]
    pub shard: Option<(usize, usize)>,
    /// Stacks run at once at most [default: one per core].
    #[arg(long, value_name = "N", help_heading = BATCH,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Redo stacks whose output is up to date, overwriting it.
    #[arg(long, help_heading = BATCH)]
    pub force: bool,
    /// JPEG quality of the outputs, 1 to 100.
    #[arg(long, value_name = "Q", default_value_t = 95, help_heading = OUTPUT,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub jpeg_quality: u8,
    /// Do not copy EXIF and ICC metadata into the outputs.
    #[arg(long, help_heading = OUTPUT)]
    pub no_exif: bool,
    /// The stacker and its options, as for `fstack stack`; --memory-limit is the
    /// whole batch's budget (the running stacks' estimates stay under it) and each
    /// stacker's limit too.
    #[command(flatten)]
    pub method: MethodArgs,
}

impl BatchArgs {
    /// The `fstack stack` flags for one stack of the batch: `frames` into `output`.
    pub fn stack_args(&self, frames: Vec<PathBuf>, output: PathBuf) -> StackArgs {
        let mut method = self.method.clone();
        // --memory-limit is the batch's budget; a stacker without a limit of its own
        // (pyramid, tiles, depthmap) does not get it.
        if !matches!(method.stacker, StackerKind::Focusmap | StackerKind::Auto) {
            method.tiles.memory_limit = None;
        }
        StackArgs {
            inputs: frames,
            output: Some(output),
            force: true,
            prefix: None,
            jpeg_quality: self.jpeg_quality,
            no_exif: self.no_exif,
            exif_path: None,
            depth_map: None,
            confidence_map: None,
            method,
            bunch: BunchArgs::default(),
        }
    }
}

/// Parses `--split-gap`: seconds, more than 0.
fn positive_seconds(s: &str) -> Result<f64, String> {
    let v = s.trim().parse::<f64>().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    fs_job::batch::check_split_gap(v)
}

/// Parses `--shard K/N`.
fn parse_shard_arg(s: &str) -> Result<(usize, usize), String> {
    fs_job::batch::parse_shard(s).map_err(|e| e.to_string())
}

/// Alignment and balance of the frames before stacking.
#[derive(Debug, Args, Clone, Default)]
pub struct AlignArgs {
    /// Do not align the frames (alignment is on by default: focus breathing and small
    /// shifts are corrected against the reference frame).
    #[arg(long, help_heading = ALIGN)]
    pub no_align: bool,
    /// Do not balance brightness and colour to the reference frame (on by default).
    #[arg(long, help_heading = ALIGN)]
    pub no_balance: bool,
    /// Keep the full frame instead of cropping to the area every aligned frame covers.
    #[arg(long, help_heading = ALIGN)]
    pub no_crop: bool,
    /// The transform fitted per frame [default: similarity].
    #[arg(long, value_enum, value_name = "KIND", help_heading = ALIGN)]
    pub transform: Option<TransformArg>,
    /// The reference frame, 0-based [default: the middle one] (seed family: ref_idx):
    /// the frame the others are aligned and balanced to (with --no-align, balanced to).
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "N",
          help_heading = ALIGN)]
    pub ref_idx: Option<usize>,
    /// Align each frame to its neighbour and chain the transforms (robust for deep
    /// stacks; reads every frame once more) (seed family: step_process).
    #[arg(long, help_heading = ALIGN)]
    pub step_process: bool,
    /// Leave out (with a warning) every frame its own estimate (features, then
    /// intensity) cannot align, instead of predicting it from the stack's breathing
    /// model (seed family: on_failure = skip).
    #[arg(long, help_heading = ALIGN, conflicts_with = "strict_align")]
    pub skip_unaligned: bool,
    /// Stop with an error naming a frame that matches nothing (another scene, a black
    /// frame) instead of leaving it out with a warning (on_failure = stop).
    #[arg(long, help_heading = ALIGN)]
    pub strict_align: bool,
    /// Resampling of the aligned frames [default: bicubic].
    #[arg(long, value_enum, value_name = "KIND", help_heading = ALIGN)]
    pub interpolation: Option<InterpolationArg>,
}

/// `--transform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransformArg {
    /// Shift, rotation and one scale (ALIGN_RIGID).
    #[value(alias = "rigid")]
    Similarity,
    /// Shift, rotation, two scales and shear.
    Affine,
    /// Full perspective (ALIGN_HOMOGRAPHY).
    Homography,
}

/// `--interpolation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InterpolationArg {
    /// Bilinear: fastest, a little softer.
    Bilinear,
    /// Bicubic (Keys, a = -0.5): keeps fine detail.
    Bicubic,
}

/// Which stacker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StackerKind {
    /// fstack's own (the default): a per-pixel focus decision composed from the
    /// frames' own pixels (FocusMapStack).
    #[value(alias = "FocusMapStack")]
    Focusmap,
    /// Laplacian pyramid, maximum-energy rule, all in memory (PyramidStack).
    #[value(alias = "PyramidStack")]
    Pyramid,
    /// Pyramid with the largest levels in disk-backed tiles (PyramidTilesStack).
    #[value(alias = "PyramidTilesStack")]
    Tiles,
    /// Pyramid that chooses in-memory or tiled by itself (PyramidAutoStack).
    #[value(alias = "PyramidAutoStack")]
    Auto,
    /// Per-pixel focus weights blended through a pyramid (DepthMapStack).
    #[value(alias = "DepthMapStack")]
    Depthmap,
}

impl StackerKind {
    /// The seed's class name.
    pub fn seed_name(self) -> &'static str {
        match self {
            StackerKind::Focusmap => "FocusMapStack",
            StackerKind::Pyramid => "PyramidStack",
            StackerKind::Tiles => "PyramidTilesStack",
            StackerKind::Auto => "PyramidAutoStack",
            StackerKind::Depthmap => "DepthMapStack",
        }
    }
    /// The flag value.
    pub fn flag(self) -> &'static str {
        match self {
            StackerKind::Focusmap => "focusmap",
            StackerKind::Pyramid => "pyramid",
            StackerKind::Tiles => "tiles",
            StackerKind::Auto => "auto",
            StackerKind::Depthmap => "depthmap",
        }
    }
    /// Whether the stacker is a pyramid stacker (uses the pyramid options).
    pub fn is_pyramid(self) -> bool {
        matches!(self, StackerKind::Pyramid | StackerKind::Tiles | StackerKind::Auto)
    }
}

/// Float precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FloatTypeArg {
    /// 32-bit floats (default).
    #[value(alias = "FLOAT_32")]
    F32,
    /// 64-bit floats.
    #[value(alias = "FLOAT_64")]
    F64,
}

/// `text [default: value]`: a help text whose default is taken from the options'
/// `Default` (clap shows `[default: ..]` only for flags with a clap default, and the
/// stacker flags have none, see the module docs).
fn defaulted(text: &str, value: impl std::fmt::Display) -> String {
    format!("{text} [default: {value}]")
}

/// FocusMapStack options; the texts are fs-focusmap's option docs.
#[derive(Debug, Args, Clone, Default)]
pub struct FocusMapArgs {
    #[arg(long, value_name = "PX", allow_negative_numbers = true, help_heading = FOCUSMAP,
          help = defaulted("Standard deviation, in pixels, of the Gaussian that pools the \
              focus measure (the squared Laplacian of luma) around each pixel: larger is \
              steadier and coarser; 0.5 to 16", FocusMapOptions::default().focus_sigma))]
    pub focus_sigma: Option<f64>,
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "R", help_heading = FOCUSMAP,
          help = defaulted("Radius of the consistency vote (a weighted median of \
              the decision over a (2R + 1)^2 window of the half-resolution map; isolated \
              decisions and small islands are voted out), 0 to 8; 0 is off",
              FocusMapOptions::default().consistency))]
    pub consistency: Option<usize>,
    #[arg(long, value_name = "RATIO", allow_negative_numbers = true, help_heading = FOCUSMAP,
          help = defaulted("A pixel's decision is trusted when its best frame's focus \
              measure is at least this many times the mean over the frames there; below it \
              the decision comes from confident neighbours and more frames are averaged; \
              > 1 and <= 1000", FocusMapOptions::default().confidence_ratio))]
    pub confidence_ratio: Option<f64>,
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "N", help_heading = FOCUSMAP,
          help = defaulted("Where no frame stands out (flat areas), up to this many frames \
              on either side of the decision are averaged (less noise than any frame); 0 to \
              16", FocusMapOptions::default().flat_average))]
    pub flat_average: Option<usize>,
    /// Make the focus decision on this channel alone (0-based: 0 = red or gray)
    /// instead of on luma, and apply it to every channel [default: luma].
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "K",
          help_heading = FOCUSMAP)]
    pub decision_channel: Option<usize>,
    /// Blend the frames in linear light (the sRGB transfer curve undone before and
    /// redone after) instead of blending the stored values.
    #[arg(long, help_heading = FOCUSMAP)]
    pub linear_blend: bool,
}

impl FocusMapArgs {
    /// The flags given, by their command-line names.
    pub fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |given: bool, name| {
            if given {
                v.push(name);
            }
        };
        add(self.focus_sigma.is_some(), "--focus-sigma");
        add(self.consistency.is_some(), "--consistency");
        add(self.confidence_ratio.is_some(), "--confidence-ratio");
        add(self.flat_average.is_some(), "--flat-average");
        add(self.decision_channel.is_some(), "--decision-channel");
        add(self.linear_blend, "--linear-blend");
        v
    }
}

/// PyramidStack options (shared by the tiled and auto variants).
#[derive(Debug, Args, Clone, Default)]
pub struct PyramidArgs {
    /// Smallest pyramid level size in pixels [default: 32].
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "PX", help_heading = PYRAMID)]
    pub pyramid_min_size: Option<usize>,
    /// Window of the base-level entropy and variance (pyramid), or the Laplacian
    /// aperture (depth map), odd [default: 5].
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "PX", help_heading = PYRAMID)]
    pub kernel_size: Option<usize>,
    /// Parameter `a` of the 5-tap generating kernel [default: 0.4].
    #[arg(long, value_name = "A", help_heading = PYRAMID)]
    pub gen_kernel: Option<f64>,
    /// Noise guard of the finest pyramid level: where no frame's detail stands out
    /// of the noise (best energy below G times the noise energy), average the frames
    /// instead of picking the loudest; 0 = the spec's plain maximum-energy rule
    /// [default: 2].
    #[arg(long, value_name = "G", allow_negative_numbers = true, help_heading = PYRAMID)]
    pub noise_guard: Option<f64>,
}

/// PyramidTilesStack / PyramidAutoStack options.
#[derive(Debug, Args, Clone, Default)]
pub struct TilesArgs {
    /// Tile size in pixels [default: 512].
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "PX", help_heading = TILES)]
    pub tile_size: Option<usize>,
    /// Number of finest pyramid levels kept in tiles [default: 2].
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "N", help_heading = TILES)]
    pub n_tiled_layers: Option<usize>,
    /// Most tiles processed at once [default: cores, at most 8].
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "N", help_heading = TILES)]
    pub max_threads: Option<usize>,
    /// Submit at most --max-threads tiles at a time [default: true].
    #[arg(long, value_name = "BOOL", help_heading = TILES)]
    pub chunk_submit: Option<bool>,
    /// Auto stacker: force in-memory or tiled, or choose [default: auto].
    #[arg(long, value_enum, help_heading = TILES)]
    pub mode: Option<AutoMode>,
    /// Focusmap and auto stackers: memory to stay under, e.g. 2G, 512M [default: 8G].
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes, help_heading = TILES)]
    pub memory_limit: Option<fs_job::ByteSize>,
}

/// PyramidAutoStack mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AutoMode {
    /// Choose from the memory estimate.
    Auto,
    /// Always in memory.
    Memory,
    /// Always tiled.
    Tiled,
}

/// DepthMapStack options.
#[derive(Debug, Args, Clone, Default)]
pub struct DepthMapArgs {
    /// How per-frame focus energies become weights [default: average].
    #[arg(long, value_enum, help_heading = DEPTHMAP)]
    pub map_type: Option<MapTypeArg>,
    /// Focus measure [default: tenengrad].
    #[arg(long, value_enum, help_heading = DEPTHMAP)]
    pub energy: Option<EnergyArg>,
    /// Gaussian pre-blur size for mod-laplacian, odd [default: 5].
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "PX", help_heading = DEPTHMAP)]
    pub blur_size: Option<usize>,
    /// Power applied to the weights before renormalising [default: 1.0].
    #[arg(long, value_name = "P", help_heading = DEPTHMAP)]
    pub weight_power: Option<f64>,
    /// Bilateral smoothing diameter of the energy maps [default: 1].
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "PX", help_heading = DEPTHMAP)]
    pub energy_smooth_size: Option<usize>,
    /// Bilateral range sigma of the energy smoothing [default: 0.8].
    #[arg(long, value_name = "S", help_heading = DEPTHMAP)]
    pub energy_sigma_color: Option<f64>,
    /// Bilateral space sigma of the energy smoothing [default: 2].
    #[arg(long, value_name = "S", help_heading = DEPTHMAP)]
    pub energy_sigma_space: Option<f64>,
    /// Levels of the blending pyramid [default: 5].
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "N", help_heading = DEPTHMAP)]
    pub pyramid_levels: Option<usize>,
    /// Gaussian smoothing size of the weight maps, odd [default: 1].
    #[arg(value_parser = whole, allow_hyphen_values = true, long, value_name = "PX", help_heading = DEPTHMAP)]
    pub pyramid_smooth_size: Option<usize>,
    /// Softmax temperature of --map-type max (0 = hard choice) [default: 0].
    #[arg(long, value_name = "T", help_heading = DEPTHMAP)]
    pub temperature: Option<f64>,
}

impl DepthMapArgs {
    /// The flags given, by their command-line names.
    pub fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |given: bool, name| {
            if given {
                v.push(name);
            }
        };
        add(self.map_type.is_some(), "--map-type");
        add(self.energy.is_some(), "--energy");
        add(self.blur_size.is_some(), "--blur-size");
        add(self.weight_power.is_some(), "--weight-power");
        add(self.energy_smooth_size.is_some(), "--energy-smooth-size");
        add(self.energy_sigma_color.is_some(), "--energy-sigma-color");
        add(self.energy_sigma_space.is_some(), "--energy-sigma-space");
        add(self.pyramid_levels.is_some(), "--pyramid-levels");
        add(self.pyramid_smooth_size.is_some(), "--pyramid-smooth-size");
        add(self.temperature.is_some(), "--temperature");
        v
    }
}

impl PyramidArgs {
    /// The pyramid-only flags given (`--kernel-size` is shared with the depth map).
    pub fn given_pyramid_only(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.pyramid_min_size.is_some() {
            v.push("--pyramid-min-size");
        }
        if self.gen_kernel.is_some() {
            v.push("--gen-kernel");
        }
        if self.noise_guard.is_some() {
            v.push("--noise-guard");
        }
        v
    }
}

impl TilesArgs {
    /// The tiled-stacker flags given, and the auto-only ones.
    pub fn given(&self) -> (Vec<&'static str>, Vec<&'static str>) {
        let mut tiled = Vec::new();
        let mut auto = Vec::new();
        if self.tile_size.is_some() {
            tiled.push("--tile-size");
        }
        if self.n_tiled_layers.is_some() {
            tiled.push("--n-tiled-layers");
        }
        if self.max_threads.is_some() {
            tiled.push("--max-threads");
        }
        if self.chunk_submit.is_some() {
            tiled.push("--chunk-submit");
        }
        if self.mode.is_some() {
            auto.push("--mode");
        }
        (tiled, auto)
    }
}

/// Depth map weight rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MapTypeArg {
    /// Weights = energy / sum of energies.
    #[value(alias = "DM_MAP_AVERAGE")]
    Average,
    /// The best frame per pixel (softmax with --temperature > 0).
    #[value(alias = "DM_MAP_MAX")]
    Max,
}

/// Depth map focus measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnergyArg {
    /// Sobel gx^2 + gy^2.
    #[value(alias = "DM_ENERGY_TENENGRAD")]
    Tenengrad,
    /// |Laplacian|.
    #[value(alias = "DM_ENERGY_LAPLACIAN")]
    Laplacian,
    /// Sum-modified Laplacian after a Gaussian pre-blur.
    #[value(alias = "DM_ENERGY_MOD_LAPLACIAN")]
    ModLaplacian,
    /// |gx| + |gy|.
    #[value(alias = "DM_ENERGY_SOBEL")]
    Sobel,
    /// Local variance, 5x5.
    #[value(alias = "DM_ENERGY_VARIANCE")]
    Variance,
}

/// Post-filters.
#[derive(Debug, Args, Clone, Default)]
pub struct PostArgs {
    /// Non-local-means denoise strength in 8-bit units, 0 = off (0.75 to 1 is mild).
    #[arg(long, value_name = "H", default_value_t = 0.0, help_heading = POST)]
    pub denoise_amount: f64,
    /// Unsharp mask amount in percent, 0 = off (50 and up is visible).
    #[arg(long, value_name = "PCT", default_value_t = 0.0, help_heading = POST)]
    pub sharpen_amount_percent: f64,
    /// Unsharp mask radius (Gaussian sigma) in pixels.
    #[arg(long, value_name = "PX", default_value_t = 1.0, help_heading = POST)]
    pub sharpen_radius: f64,
    /// Unsharp mask threshold in 8-bit units: smaller differences are left alone.
    #[arg(long, value_name = "T", default_value_t = 0.0, help_heading = POST)]
    pub sharpen_threshold: f64,
}

/// FocusStackBunch options.
#[derive(Debug, Args, Clone, Default)]
pub struct BunchArgs {
    /// Stack consecutive bunches of N frames, one output per bunch, into the folder
    /// OUT (seed: FocusStackBunch frames).
    #[arg(long, value_name = "N", help_heading = BUNCH,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub bunch_frames: Option<u32>,
    /// Frames shared by consecutive bunches, less than --bunch-frames [default: 0].
    #[arg(long, value_name = "M", requires = "bunch_frames", help_heading = BUNCH)]
    pub bunch_overlap: Option<u32>,
}

/// `fstack run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A TOML job file or a ShineStacker project (.fsp).
    #[arg(value_name = "JOB.toml | PROJECT.fsp")]
    pub job: PathBuf,
    /// Skip the actions of a ShineStacker project that fstack does not implement yet
    /// (alignment, balance, ...) with a warning, instead of refusing the project.
    #[arg(long)]
    pub skip_unsupported: bool,
}

/// `fstack demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder to write the synthetic frames, the truth and the result into
    /// (default: a new folder in the system's temporary directory, kept).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite the demo's files in a --out folder that already holds files.
    #[arg(long)]
    pub force: bool,
    /// Frame size.
    #[arg(long, value_name = "WxH", default_value = "640x480", value_parser = parse_size)]
    pub size: (usize, usize),
    /// Number of frames.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub frames: usize,
    /// Write the frames as camera RAW: Bayer-mosaic DNG files (14-bit RGGB, a black
    /// level, a colour cast and a colour matrix to undo), stacked into a 16-bit TIFF.
    #[cfg(feature = "raw")]
    #[arg(long)]
    pub raw: bool,
}

/// `fstack info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A folder of frames, or the frame files themselves.
    #[arg(required = true, value_name = "DIR | FILES")]
    pub inputs: Vec<PathBuf>,
    /// Float precision assumed for the memory estimate.
    #[arg(long, value_enum, default_value_t = FloatTypeArg::F32, value_name = "TYPE")]
    pub float_type: FloatTypeArg,
    /// Smallest pyramid level assumed for the memory estimate.
    #[arg(long, value_name = "PX", default_value_t = 32)]
    pub pyramid_min_size: usize,
    /// Noise guard assumed for the memory estimate (0: off, no running sums).
    #[arg(long, value_name = "G", default_value_t = fs_pyramid::PyramidOptions::default().noise_guard, allow_negative_numbers = true)]
    pub noise_guard: f64,
}

/// `fstack completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `fstack man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write fstack.1 and one page per command (fstack-stack.1, ...) into this folder
    /// instead of printing fstack.1 on stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Parses `640x480`.
pub fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{s}` is not a size such as 640x480");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    Ok((w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?))
}

/// Parses a count or index (0 or more), saying what is wrong in the user's terms
/// rather than Rust's ("invalid digit found in string").
pub fn whole(s: &str) -> Result<usize, String> {
    let t = s.trim();
    if t.starts_with('-') && t[1..].parse::<u64>().is_ok() {
        return Err(format!("`{s}` is negative; give a whole number, 0 or more"));
    }
    t.parse().map_err(|_| format!("`{s}` is not a whole number (0, 1, 2, ...)"))
}

/// Parses a whole number of 1 or more (see [`whole`]).
pub fn positive(s: &str) -> Result<u64, String> {
    match whole(s).map_err(|e| e.replace("0 or more", "1 or more"))? {
        0 => Err(format!("`{s}` must be 1 or more")),
        n => Ok(n as u64),
    }
}

/// Parses a byte size as job files do (fs-job's [`fs_job::ByteSize`]): `2G`, `512M`,
/// `1.5GiB`, `800000`; K/M/G/T are powers of 1024. Zero is refused.
pub fn parse_bytes(s: &str) -> Result<fs_job::ByteSize, String> {
    let size: fs_job::ByteSize = s.parse()?;
    if size.0 == 0 {
        return Err(format!("`{s}` is not a positive size"));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn sizes_parse_in_binary_units() {
        let bytes = |s| parse_bytes(s).map(|b| b.0);
        assert_eq!(bytes("2G"), Ok(2 << 30));
        assert_eq!(bytes("512M"), Ok(512 << 20));
        assert_eq!(bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(bytes("800000"), Ok(800_000));
        assert!(parse_bytes("2X").unwrap_err().contains("2X"));
        assert!(parse_bytes("G").is_err());
        assert!(parse_bytes("0").is_err());
        assert_eq!(parse_size("640x480"), Ok((640, 480)));
        assert!(parse_size("640").is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seed_spellings_are_accepted() {
        let cli = Cli::try_parse_from([
            "fstack",
            "stack",
            "d",
            "--energy",
            "DM_ENERGY_MOD_LAPLACIAN",
            "--float-type",
            "FLOAT_64",
            "--stacker",
            "DepthMapStack",
        ])
        .unwrap();
        let Command::Stack(s) = cli.command else { panic!("not stack") };
        assert_eq!(s.method.depthmap.energy, Some(EnergyArg::ModLaplacian));
        assert_eq!(s.method.float_type, Some(FloatTypeArg::F64));
        assert_eq!(s.method.stacker, StackerKind::Depthmap);
        let cli =
            Cli::try_parse_from(["fstack", "stack", "d", "--stacker", "FocusMapStack"]).unwrap();
        let Command::Stack(s) = cli.command else { panic!("not stack") };
        assert_eq!(s.method.stacker, StackerKind::Focusmap);
        let cli = Cli::try_parse_from(["fstack", "stack", "d"]).unwrap();
        let Command::Stack(s) = cli.command else { panic!("not stack") };
        assert_eq!(s.method.stacker, StackerKind::Focusmap, "the default");
        assert_eq!(s.method.stacker.seed_name(), fs_job::Stacker::default().name());
    }
}
