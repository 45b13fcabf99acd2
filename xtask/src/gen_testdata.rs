//! `cargo xtask gen-testdata`: write synthetic focus stacks ([`fs_core::synth`]).
//!
//! - no options: the small default set into `testdata/generated/<name>/`;
//! - `--out DIR` with stack options: one stack into DIR;
//! - `--bench`: the benchmark stacks into `target/bench-stacks/<name>/`, at JPEG quality
//!   [`BENCH_JPEG_QUALITY`], the quality `cargo xtask bench` generates them at too.
//!
//! Each stack folder gets a stamp file (`synth-stamp.txt`, the generator version and
//! every option) written last; a stack whose stamp matches is skipped, so re-running is
//! cheap and an interrupted stack is redone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fs_core::synth::{GENERATOR_VERSION, Scene, SynthOptions, SynthStack};
use fs_core::{BitDepth, ChannelLayout, FileFormat, WriteOptions};

/// Options of `cargo xtask gen-testdata`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write one stack into DIR, with the options below (without --out and --bench: the
    /// default set into testdata/generated/).
    #[arg(long, value_name = "DIR", conflicts_with = "bench")]
    out: Option<PathBuf>,
    /// Write the benchmark stacks into target/bench-stacks/ (10x 2048x1536 JPEG, 16x and
    /// 32x 6000x4000 JPEG, 8x 6000x4000 16-bit TIFF, moving (unaligned) versions of
    /// the 10- and 16-frame JPEG stacks, and the 2048x1536 quality stacks: a noisy
    /// photo JPEG, a 16-bit high-contrast TIFF, a tilted-plane JPEG).
    #[arg(long)]
    bench: bool,
    /// Frame size, WIDTHxHEIGHT [default: 640x480].
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    size: Option<(usize, usize)>,
    /// Number of frames [default: 8].
    #[arg(long)]
    frames: Option<usize>,
    /// Bits per sample: 8 or 16 [default: 8].
    #[arg(long, value_parser = clap::value_parser!(u8).range(8..=16))]
    depth: Option<u8>,
    /// File format: jpg, png or tif [default: jpg for 8-bit, tif for 16-bit].
    #[arg(long, value_parser = parse_format)]
    format: Option<FileFormat>,
    /// Channel layout: rgb, gray, gray-alpha or rgba [default: rgb].
    #[arg(long, value_parser = parse_layout)]
    layout: Option<ChannelLayout>,
    /// Read noise: standard deviation in 8-bit units [default: 1].
    #[arg(long)]
    noise: Option<f64>,
    /// Shot (photon) noise: standard deviation at full-scale white in 8-bit units of
    /// linear light, growing as the square root of the signal (8: a phone or high-ISO
    /// photo) [default: 0].
    #[arg(long)]
    shot_noise: Option<f64>,
    /// Blur radius in pixels at the largest depth difference [default: 8].
    #[arg(long)]
    max_blur: Option<f64>,
    /// Seed of the scene and the noise [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Scene: objects, tilted-plane or high-contrast [default: objects].
    #[arg(long)]
    scene: Option<Scene>,
    /// Focus breathing: magnification change from the first frame to the last, as a
    /// fraction (0.03 = 3 %) [default: 0].
    #[arg(long)]
    breathing: Option<f64>,
    /// Rotation from the first frame to the last, degrees [default: 0].
    #[arg(long)]
    rotation: Option<f64>,
    /// Random shift of each frame, at most this many pixels in x and y [default: 0].
    #[arg(long)]
    shift: Option<f64>,
    /// The lens's own blur, a disc radius in pixels present also in focus [default: 0].
    #[arg(long)]
    lens_blur: Option<f64>,
    /// JPEG quality [default: 95; the --bench stacks always use BENCH_JPEG_QUALITY, 92].
    #[arg(long, conflicts_with = "bench", value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: Option<u8>,
    /// Regenerate stacks even when their stamp matches.
    #[arg(long)]
    force: bool,
    /// Render the frames without writing anything, printing the time per frame.
    #[arg(long)]
    no_write: bool,
}

/// The JPEG quality of the benchmark stacks, for `gen-testdata --bench` and `bench`
/// alike (the stamp records it: with two values, each would regenerate the other's
/// stacks).
pub const BENCH_JPEG_QUALITY: u8 = 92;

/// The JPEG quality of the other stacks unless `--quality` says otherwise.
const DEFAULT_JPEG_QUALITY: u8 = 95;

/// One stack to generate: where, what, in which format.
#[derive(Debug, Clone)]
pub struct StackSpec {
    /// Folder name.
    pub name: String,
    /// What to render.
    pub options: SynthOptions,
    /// File format of the frames and the truth.
    pub format: FileFormat,
}

impl StackSpec {
    fn new(name: &str, options: SynthOptions, format: FileFormat) -> Self {
        Self { name: name.into(), options, format }
    }
}

/// The workspace root (the parent of the xtask crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").into()
}

/// Where `--bench` writes: `<workspace>/target/bench-stacks`.
pub fn bench_dir() -> PathBuf {
    workspace_root().join("target").join("bench-stacks")
}

/// The default test set, written into `testdata/generated/`.
pub fn default_set() -> Vec<StackSpec> {
    let d = SynthOptions::default();
    let small = SynthOptions { width: 320, height: 240, frames: 6, ..d };
    let quality = SynthOptions { width: 640, height: 480, frames: 8, ..d };
    vec![
        StackSpec::new("default-8bit", d, FileFormat::Jpeg),
        StackSpec::new(
            "default-16bit",
            SynthOptions { depth: BitDepth::Sixteen, ..d },
            FileFormat::Tiff,
        ),
        StackSpec::new(
            "tilted-plane-8bit",
            SynthOptions { scene: Scene::TiltedPlane, ..small },
            FileFormat::Png,
        ),
        StackSpec::new(
            "gray-16bit",
            SynthOptions { layout: ChannelLayout::Gray, depth: BitDepth::Sixteen, ..small },
            FileFormat::Png,
        ),
        StackSpec::new(
            "rgba-8bit",
            SynthOptions { layout: ChannelLayout::Rgba, ..small },
            FileFormat::Png,
        ),
        StackSpec::new("moving-8bit", moving(d), FileFormat::Jpeg),
        StackSpec::new("noisy-photo-8bit", noisy_photo(quality), FileFormat::Jpeg),
        StackSpec::new("high-contrast-16bit", high_contrast(quality), FileFormat::Tiff),
        StackSpec::new(
            "tilted-plane-jpeg",
            SynthOptions { scene: Scene::TiltedPlane, ..quality },
            FileFormat::Jpeg,
        ),
    ]
}

/// `options` as a noisy 8-bit photo: the objects scene with read noise of 2 levels
/// and shot noise of 8 (about 1000 photo-electrons at white: a phone or a high-ISO
/// shot).
pub fn noisy_photo(options: SynthOptions) -> SynthOptions {
    SynthOptions {
        scene: Scene::Objects,
        depth: BitDepth::Eight,
        noise_sigma: 2.0,
        shot_noise: 8.0,
        ..options
    }
}

/// `options` as the glow case: the high-contrast scene in 16 bits, a 12-pixel largest
/// blur (bright objects spill far), read noise of 1 level (8-bit units) and the shot
/// noise of a base-ISO camera (2: about 16000 photo-electrons at white).
pub fn high_contrast(options: SynthOptions) -> SynthOptions {
    SynthOptions {
        scene: Scene::HighContrast,
        depth: BitDepth::Sixteen,
        max_blur_radius: 12.0,
        noise_sigma: 1.0,
        shot_noise: 2.0,
        ..options
    }
}

/// Names of the benchmark stacks made to measure quality (small, at 2048x1536): what
/// `cargo xtask bench --quality-only` runs by default.
pub const QUALITY_STACKS: &[&str] = &[
    "jpg-2048x1536-10",
    "jpg-noisy-2048x1536-12",
    "tif16-glow-2048x1536-10",
    "jpg-tilted-2048x1536-10",
];

/// `options` with focus breathing (3 % first to last), a little rotation (0.3 degrees)
/// and shake (up to 5 pixels): a stack that needs aligning.
pub fn moving(options: SynthOptions) -> SynthOptions {
    SynthOptions { breathing: 0.03, rotation: 0.3, shift: 5.0, ..options }
}

/// The benchmark stacks, written into [`bench_dir`].
pub fn bench_set() -> Vec<StackSpec> {
    let big = SynthOptions { width: 6000, height: 4000, ..SynthOptions::default() };
    vec![
        StackSpec::new(
            "jpg-2048x1536-10",
            SynthOptions { width: 2048, height: 1536, frames: 10, ..big },
            FileFormat::Jpeg,
        ),
        StackSpec::new(
            "jpg-2048x1536-10-moving",
            moving(SynthOptions { width: 2048, height: 1536, frames: 10, ..big }),
            FileFormat::Jpeg,
        ),
        StackSpec::new("jpg-6000x4000-16", SynthOptions { frames: 16, ..big }, FileFormat::Jpeg),
        StackSpec::new(
            "jpg-6000x4000-16-moving",
            moving(SynthOptions { frames: 16, ..big }),
            FileFormat::Jpeg,
        ),
        StackSpec::new("jpg-6000x4000-32", SynthOptions { frames: 32, ..big }, FileFormat::Jpeg),
        StackSpec::new(
            "tif16-6000x4000-8",
            SynthOptions { frames: 8, depth: BitDepth::Sixteen, ..big },
            FileFormat::Tiff,
        ),
        // The quality stacks: what users shoot, small enough to run often.
        StackSpec::new(
            "jpg-noisy-2048x1536-12",
            noisy_photo(SynthOptions { width: 2048, height: 1536, frames: 12, ..big }),
            FileFormat::Jpeg,
        ),
        StackSpec::new(
            "tif16-glow-2048x1536-10",
            high_contrast(SynthOptions { width: 2048, height: 1536, frames: 10, ..big }),
            FileFormat::Tiff,
        ),
        StackSpec::new(
            "jpg-tilted-2048x1536-10",
            SynthOptions {
                width: 2048,
                height: 1536,
                frames: 10,
                scene: Scene::TiltedPlane,
                ..big
            },
            FileFormat::Jpeg,
        ),
    ]
}

/// Runs the task.
pub fn run(args: Args) -> Result<()> {
    let quality = match (args.bench, args.quality) {
        (true, _) => BENCH_JPEG_QUALITY,
        (false, q) => q.unwrap_or(DEFAULT_JPEG_QUALITY),
    };
    let write = WriteOptions { jpeg_quality: quality, ..WriteOptions::default() };
    let custom = args.size.is_some()
        || args.frames.is_some()
        || args.depth.is_some()
        || args.format.is_some()
        || args.layout.is_some()
        || args.noise.is_some()
        || args.shot_noise.is_some()
        || args.max_blur.is_some()
        || args.seed.is_some()
        || args.scene.is_some()
        || args.breathing.is_some()
        || args.rotation.is_some()
        || args.shift.is_some()
        || args.lens_blur.is_some();
    let (root, specs) = match (&args.out, args.bench) {
        (Some(out), _) => {
            let spec = custom_spec(&args)?;
            (out.clone(), vec![spec])
        }
        (None, true) => (bench_dir(), bench_set()),
        (None, false) => {
            if custom {
                bail!("stack options (--size, --frames, ...) need --out DIR");
            }
            (workspace_root().join("testdata").join("generated"), default_set())
        }
    };
    for spec in &specs {
        // With --out the folder is the stack itself.
        let dir = if args.out.is_some() { root.clone() } else { root.join(&spec.name) };
        if args.no_write {
            time_frames(spec)?;
        } else {
            generate(spec, &dir, &write, args.force)?;
        }
    }
    Ok(())
}

fn custom_spec(args: &Args) -> Result<StackSpec> {
    let d = SynthOptions::default();
    let (width, height) = args.size.unwrap_or((d.width, d.height));
    let depth = match args.depth.unwrap_or(8) {
        8 => BitDepth::Eight,
        16 => BitDepth::Sixteen,
        other => bail!("--depth must be 8 or 16, got {other}"),
    };
    let options = SynthOptions {
        width,
        height,
        frames: args.frames.unwrap_or(d.frames),
        depth,
        layout: args.layout.unwrap_or(d.layout),
        noise_sigma: args.noise.unwrap_or(d.noise_sigma),
        shot_noise: args.shot_noise.unwrap_or(d.shot_noise),
        max_blur_radius: args.max_blur.unwrap_or(d.max_blur_radius),
        seed: args.seed.unwrap_or(d.seed),
        scene: args.scene.unwrap_or(d.scene),
        breathing: args.breathing.unwrap_or(d.breathing),
        rotation: args.rotation.unwrap_or(d.rotation),
        shift: args.shift.unwrap_or(d.shift),
        lens_blur: args.lens_blur.unwrap_or(d.lens_blur),
        ..d
    };
    let format = args.format.unwrap_or(match depth {
        BitDepth::Eight => FileFormat::Jpeg,
        BitDepth::Sixteen => FileFormat::Tiff,
    });
    Ok(StackSpec::new("custom", options, format))
}

const STAMP: &str = "synth-stamp.txt";

fn stamp_text(spec: &StackSpec, write: &WriteOptions) -> String {
    // Options that are off are left out, so stacks written before those options
    // existed keep their stamp.
    let options: String = format!("{:#?}", spec.options)
        .lines()
        .filter(|l| {
            !matches!(
                l.trim(),
                "breathing: 0.0,"
                    | "rotation: 0.0,"
                    | "shift: 0.0,"
                    | "lens_blur: 0.0,"
                    | "shot_noise: 0.0,"
                    | "beyond_frames: 0,"
                    | "beyond_blur: 0.0,"
                    | "defocus: Layers,"
            )
        })
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "fstack synthetic stack, generator version {GENERATOR_VERSION}\nformat: {}\n\
         jpeg quality: {}\n{options}",
        spec.format.extension(),
        write.jpeg_quality,
    )
}

fn describe(spec: &StackSpec) -> String {
    let o = &spec.options;
    format!(
        "{} frames {}x{} {} {} (scene {}, seed {}, noise {}{}, max blur {} px{}{})",
        o.frames,
        o.width,
        o.height,
        o.pixel_format(),
        spec.format.extension(),
        o.scene,
        o.seed,
        o.noise_sigma,
        if o.shot_noise > 0.0 { format!(", shot noise {}", o.shot_noise) } else { String::new() },
        o.max_blur_radius,
        if o.moves() {
            format!(
                ", breathing {}, rotation {} deg, shift {} px",
                o.breathing, o.rotation, o.shift
            )
        } else {
            String::new()
        },
        if o.lens_blur > 0.0 { format!(", lens blur {} px", o.lens_blur) } else { String::new() }
    )
}

/// Writes one stack into `dir` unless its stamp says it is already there.
pub fn generate(spec: &StackSpec, dir: &Path, write: &WriteOptions, force: bool) -> Result<()> {
    let stamp = stamp_text(spec, write);
    let stamp_path = dir.join(STAMP);
    // A stack written before frames moved into `frames/` is not up to date.
    let current = dir.join("frames").is_dir()
        && std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp);
    if !force && current {
        println!("up to date {}: {}", dir.display(), describe(spec));
        return Ok(());
    }
    if dir.exists() {
        remove_generated(dir)?;
    }
    let start = Instant::now();
    let stack = SynthStack::new(spec.options)
        .with_context(|| format!("cannot set up the stack for {}", dir.display()))?;
    let setup = start.elapsed();
    let files = stack
        .write_stack(dir, spec.format, write)
        .with_context(|| format!("cannot write the stack into {}", dir.display()))?;
    std::fs::write(&stamp_path, stamp)
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    let total = start.elapsed();
    let per_frame = (total - setup).as_secs_f64() / (files.frames.len() + 2) as f64;
    println!(
        "wrote {}: {} (frames/) + truth, depth.png in {:.1} s (scene {:.2} s, {:.2} s a file)",
        dir.display(),
        describe(spec),
        total.as_secs_f64(),
        setup.as_secs_f64(),
        per_frame
    );
    Ok(())
}

/// Removes what an earlier run wrote (frames, truth, depth map, stamp), nothing else.
fn remove_generated(dir: &Path) -> Result<()> {
    let frames = dir.join("frames");
    if frames.is_dir() {
        remove_generated_files(&frames)?;
        // Only if nothing but our frames was in it.
        let _ = std::fs::remove_dir(&frames);
    }
    remove_generated_files(dir)
}

fn remove_generated_files(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let ours = name == STAMP
            || name == "depth.png"
            || ((name.starts_with("frame_") || name.starts_with("truth."))
                && FileFormat::from_path(&path).is_some());
        if ours && path.is_file() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// Renders every frame without writing, printing the set-up and per-frame times.
fn time_frames(spec: &StackSpec) -> Result<()> {
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let stack = SynthStack::new(spec.options)?;
    let setup = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu_start);
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    for k in 0..stack.frame_count() {
        drop(stack.frame(k));
    }
    let n = stack.frame_count() as f64;
    let frame = (start.elapsed().as_secs_f64() / n, (cpu_seconds() - cpu_start) / n);
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    drop(stack.truth());
    let truth = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu_start);
    println!(
        "{}: {}\n  wall (CPU) seconds, {} threads: scene set-up {:.2} ({:.2}), \
         a frame {:.3} ({:.3}), truth {:.3} ({:.3})",
        spec.name,
        describe(spec),
        rayon::current_num_threads(),
        setup.0,
        setup.1,
        frame.0,
        frame.1,
        truth.0,
        truth.1
    );
    Ok(())
}

/// CPU time of this process (user + system) in seconds, from `/proc/self/stat` (Linux;
/// NaN elsewhere): on a busy machine it tells more than the wall time.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // Fields after the command name (which is in parentheses): utime is the 12th, stime
    // the 13th, in clock ticks of 1/100 s.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let field = |i: usize| rest.split_whitespace().nth(i).and_then(|v| v.parse::<f64>().ok());
    match (field(11), field(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let num = |v: &str| v.trim().parse::<usize>().map_err(|e| format!("{v:?} in {s:?}: {e}"));
    Ok((num(w)?, num(h)?))
}

fn parse_format(s: &str) -> Result<FileFormat, String> {
    FileFormat::from_path(Path::new(&format!("x.{s}")))
        .ok_or_else(|| format!("unknown format {s:?} (use jpg, png or tif)"))
}

fn parse_layout(s: &str) -> Result<ChannelLayout, String> {
    match s.to_ascii_lowercase().as_str() {
        "rgb" => Ok(ChannelLayout::Rgb),
        "gray" | "grey" => Ok(ChannelLayout::Gray),
        "gray-alpha" | "grey-alpha" => Ok(ChannelLayout::GrayAlpha),
        "rgba" => Ok(ChannelLayout::Rgba),
        _ => Err(format!("unknown layout {s:?} (use rgb, gray, gray-alpha or rgba)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_formats_and_layouts() {
        assert_eq!(parse_size("6000x4000"), Ok((6000, 4000)));
        assert!(parse_size("6000").is_err());
        assert_eq!(parse_format("tif"), Ok(FileFormat::Tiff));
        assert!(parse_format("gif").is_err());
        assert_eq!(parse_layout("RGBA"), Ok(ChannelLayout::Rgba));
    }

    #[test]
    fn every_predefined_stack_is_valid_and_jpeg_ones_are_8_bit() {
        for spec in default_set().into_iter().chain(bench_set()) {
            spec.options.validate().unwrap();
            if spec.format == FileFormat::Jpeg {
                assert_eq!(spec.options.depth, BitDepth::Eight, "{}", spec.name);
            }
        }
    }

    #[test]
    fn stamps_leave_out_options_that_are_off_and_record_the_bench_quality() {
        let spec = bench_set().into_iter().find(|s| s.name == "jpg-6000x4000-16").unwrap();
        let write = WriteOptions { jpeg_quality: BENCH_JPEG_QUALITY, ..WriteOptions::default() };
        let stamp = stamp_text(&spec, &write);
        assert!(stamp.contains("jpeg quality: 92\n"), "{stamp}");
        for off in ["breathing", "rotation", "shift", "lens_blur", "shot_noise"] {
            assert!(!stamp.contains(off), "{off} in {stamp}");
        }
        let moving = bench_set().into_iter().find(|s| s.name.ends_with("16-moving")).unwrap();
        let stamp = stamp_text(&moving, &write);
        assert!(stamp.contains("breathing: 0.03,") && !stamp.contains("lens_blur"), "{stamp}");
        let noisy = bench_set().into_iter().find(|s| s.name.starts_with("jpg-noisy")).unwrap();
        let stamp = stamp_text(&noisy, &write);
        assert!(stamp.contains("shot_noise: 8.0,") && stamp.contains("noise_sigma: 2.0,"));
    }

    #[test]
    fn the_quality_stacks_are_benchmark_stacks_and_cover_the_scenes() {
        let set = bench_set();
        for name in QUALITY_STACKS {
            assert!(set.iter().any(|s| s.name == *name), "{name}");
        }
        let quality: Vec<&StackSpec> =
            set.iter().filter(|s| QUALITY_STACKS.contains(&s.name.as_str())).collect();
        for scene in Scene::ALL {
            assert!(quality.iter().any(|s| s.options.scene == scene), "{scene}");
        }
        assert!(quality.iter().any(|s| s.options.shot_noise > 0.0 && s.format == FileFormat::Jpeg));
        assert!(quality.iter().any(|s| {
            s.options.scene == Scene::HighContrast && s.options.depth == BitDepth::Sixteen
        }));
    }

    #[test]
    fn writes_a_stack_once_and_skips_it_when_the_stamp_matches() {
        let dir = tempfile::tempdir().unwrap();
        let spec = StackSpec::new(
            "t",
            SynthOptions { width: 32, height: 24, frames: 2, ..SynthOptions::default() },
            FileFormat::Png,
        );
        let write = WriteOptions::default();
        generate(&spec, dir.path(), &write, false).unwrap();
        let stamp = std::fs::read_to_string(dir.path().join(STAMP)).unwrap();
        assert!(stamp.contains("frames: 2"), "{stamp}");
        let first =
            std::fs::metadata(dir.path().join("frames/frame_001.png")).unwrap().modified().unwrap();
        generate(&spec, dir.path(), &write, false).unwrap();
        let again =
            std::fs::metadata(dir.path().join("frames/frame_001.png")).unwrap().modified().unwrap();
        assert_eq!(first, again, "an up-to-date stack is not rewritten");
        // Other options: old frames go, the new stack is written.
        let spec3 =
            StackSpec::new("t", SynthOptions { frames: 3, ..spec.options }, FileFormat::Jpeg);
        std::fs::write(dir.path().join("notes.txt"), "keep").unwrap();
        generate(&spec3, dir.path(), &write, false).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["depth.png", "frames", "notes.txt", "synth-stamp.txt", "truth.jpg"]);
        let mut frames: Vec<String> = std::fs::read_dir(dir.path().join("frames"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        frames.sort();
        assert_eq!(frames, ["frame_001.jpg", "frame_002.jpg", "frame_003.jpg"]);
    }
}
