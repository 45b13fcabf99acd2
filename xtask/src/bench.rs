//! `cargo xtask bench`: whole-run benchmarks of the release `fstack` binary.
//!
//! For each benchmark stack (generated once with the synthetic generator and cached
//! under `target/bench-stacks/`) and each stacker, the release `fstack` runs as a
//! child process several times; the report gives the median wall time, user+sys CPU
//! and peak RSS of the child (from `wait4`'s rusage), the decode-only floor (a child
//! that just decodes every frame once, the frames in parallel on every core: the
//! fastest anything that reads the frames can be), the ratio wall / floor, and the
//! quality of the result against the generator's exact truth (rebuilt in memory, not
//! the JPEG-saved `truth.jpg`): PSNR, the PSNR over the edge band
//! ([`fs_core::synth::SynthStack::edge_band_mask`]), the glow ([`fs_core::metrics::glow`])
//! and the mean error. fstack writes TIFF here, so its figures are the stacker's and
//! not a JPEG encoder's.
//!
//! Beside the tools, two measurement references ([`fs_core::reference`]) are computed
//! in this process from the frames of every still stack: the per-pixel pick and the
//! depth-oracle pick (their results are written beside the tools' outputs, under
//! `bench-out/<stack>/reference-*.tif`). `--quality-only` measures just the quality: each
//! fstack stacker once, no floor, on the quality stacks ([`QUALITY_STACKS`]).
//!
//! On still stacks the fstack cells run the stacker alone (`--no-align --no-balance
//! --no-crop`), as the peers do; on moving stacks (`*-moving`) they run the default
//! pipeline (alignment and balance on) with `--no-crop`, and the PSNR is taken over
//! the interior ([`interior_margin`]). The row labels say which.
//!
//! The alignment part times `xtask align-run` (decode, align, balance, warp in memory,
//! as `fstack stack` does before stacking) against the decode-only floor of the same
//! frames, on every moving stack of the set; `--align-only` runs just that part.
//!
//! `--peers` runs the same stacks through the tools users would otherwise pick
//! (enfuse with focus-stacking settings, ShineStacker 1.17.4 in a venv under
//! `target/peers/`), in the same run, so ratios between tools are fair on a noisy
//! machine. A peer that is missing is reported as missing.
//!
//! `--python` (the Python call's overhead against the CLI) and `--batch` (`fstack
//! batch` against `fstack stack` one stack after another) are the many-stacks benches
//! of [`crate::bench_many`], each with its own section.
//!
//! Tables are printed and merged into `docs/benchmarks.md` section by section
//! ([`crate::report`]): a run replaces only the rows and sections it measured.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fs_core::reference::{DepthOraclePick, PerPixelPick};
use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{BitDepth, FileFormat, Frame, Image, WriteOptions};
use rayon::prelude::*;

use crate::gen_testdata::{
    BENCH_JPEG_QUALITY, QUALITY_STACKS, StackSpec, bench_dir, bench_set, generate, moving,
};
use crate::report::{Section, row, update_section};

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Small stacks and one run each: a check in under a minute while developing.
    #[arg(long)]
    pub quick: bool,
    /// Also run enfuse and ShineStacker on the same stacks (installs ShineStacker
    /// into a venv under target/peers on first use).
    #[arg(long)]
    pub peers: bool,
    /// Run the criterion micro-benchmarks of the kernel crates instead.
    #[arg(long)]
    pub micro: bool,
    /// Timed runs per (stack, tool); the median is reported.
    #[arg(long)]
    pub runs: Option<usize>,
    /// Quality only, quickly: each fstack stacker run once without the decode floor,
    /// and the references, on the quality stacks (2048x1536: the plain, noisy-photo,
    /// glow and tilted-plane stacks) unless --stack says otherwise. Prints the table;
    /// writes no report unless --report names one.
    #[arg(long, conflicts_with_all = ["quick", "runs", "align_only", "big_tiff"])]
    pub quality_only: bool,
    /// Only the stacks whose name contains one of these strings.
    #[arg(long = "stack", value_name = "NAME")]
    pub stacks: Vec<String>,
    /// Stackers of fstack to run (default: all it has). Given, the alignment part is
    /// left out (unless --align-only).
    #[arg(long = "stacker", value_name = "NAME")]
    pub stackers: Vec<String>,
    /// Only the alignment part: `xtask align-run` against the decode-only floor on
    /// the moving stacks of the set (no stacker table).
    #[arg(long, conflicts_with_all = ["big_tiff", "peers", "stackers"])]
    pub align_only: bool,
    /// Where to write the Markdown report ("-" = do not write one) [default:
    /// docs/benchmarks.md, none with --quick]. Only the sections and table rows this
    /// run measured are replaced; the rest of the file stays.
    #[arg(long)]
    pub report: Option<String>,
    /// Instead of the table: the out-of-core case, 6 frames of 12000x8000 RGB 16-bit
    /// TIFF (generated into target/bench-stacks on first use, 3 GB) stacked with
    /// `--stacker auto --memory-limit 1G`, the stacker alone and the default
    /// pipeline; prints peak RSS, wall time and the choice the auto stacker made and
    /// writes the report's big-TIFF section.
    #[arg(long)]
    pub big_tiff: bool,
    /// Instead of the table: the Python call's overhead, `fstack.stack` on a 10-frame
    /// 2 MP stack in memory against `fstack stack` on the same frames (builds the
    /// release wheel into target/py); writes the report's python section.
    #[arg(long, conflicts_with_all = ["quality_only", "align_only", "big_tiff", "peers"])]
    pub python: bool,
    /// Instead of the table: `fstack batch` on 40 stacks of 10 frames of 1 MP against
    /// `fstack stack` on each one after another; writes the report's batch section.
    #[arg(long, conflicts_with_all = ["quality_only", "align_only", "big_tiff", "peers"])]
    pub batch: bool,
}

/// The quick set: small stacks, for a check while developing.
fn quick_set() -> Vec<StackSpec> {
    let o = SynthOptions { width: 1024, height: 768, frames: 6, ..SynthOptions::default() };
    vec![
        StackSpec { name: "jpg-1024x768-6".into(), options: o, format: FileFormat::Jpeg },
        StackSpec {
            name: "jpg-1024x768-6-moving".into(),
            options: moving(o),
            format: FileFormat::Jpeg,
        },
    ]
}

const FSTACK_STACKERS: &[&str] = &["pyramid", "tiles", "auto", "depthmap", "focusmap"];

/// The reference rows' names (see [`fs_core::reference`]), and their output files.
const REFERENCES: [(&str, &str); 2] =
    [("per-pixel pick", "per-pixel-pick"), ("depth-oracle pick", "depth-oracle-pick")];

/// fstack's options and row label for a stack: the stacker alone on still stacks,
/// the default pipeline without the crop on moving ones.
fn fstack_pipeline(moves: bool) -> (&'static [&'static str], &'static str) {
    if moves {
        (&["--no-crop"], "align, no crop")
    } else {
        (&["--no-align", "--no-balance", "--no-crop"], "no align")
    }
}

/// The border left out of the PSNR of a moving stack, in pixels on every side: 2 % of
/// the width, where aligned frames have replicated borders (0 for a still stack).
pub fn interior_margin(options: &SynthOptions) -> usize {
    if options.moves() { (options.width as f64 * 0.02).round() as usize } else { 0 }
}

/// What one child process used.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    pub wall: f64,
    pub cpu: f64,
    pub peak_rss_mb: f64,
}

/// A result's quality against the generator's truth.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quality {
    /// PSNR, dB.
    psnr: f64,
    /// PSNR over the edge band, dB (NaN: the stack has no depth steps).
    edge_psnr: f64,
    /// [`fs_core::metrics::glow`], a fraction of full scale.
    glow: f64,
    /// [`fs_core::metrics::mean_error`], a fraction of full scale.
    mean_error: f64,
}

/// What results are compared with: the generator's exact truth (colour channels), its
/// edge band, both without the interior margin of a moving stack, and the true depth.
struct Truth {
    image: Image<f32>,
    edge_band: Vec<bool>,
    depths: Vec<f32>,
    max: f64,
    margin: usize,
}

impl Truth {
    /// Renders the truth of `spec` (the scene set-up again: a few seconds at 24
    /// megapixels).
    fn new(spec: &StackSpec) -> Result<Self> {
        let stack = SynthStack::new(spec.options)?;
        let full: Image<f32> = stack.truth().to_image();
        let colour = spec.options.layout.color_channels();
        let full = Image::from_planes(
            full.width(),
            full.height(),
            full.into_planes().into_iter().take(colour).collect(),
        )?;
        let margin = interior_margin(&spec.options);
        let edge_band = stack.edge_band_mask();
        let (image, edge_band) = if margin == 0 {
            (full, edge_band)
        } else {
            let (w, h) = (full.width(), full.height());
            let image = interior(&full, margin)?; // checks the margin leaves something
            let band = edge_band
                .chunks_exact(w)
                .skip(margin)
                .take(h - 2 * margin)
                .flat_map(|r| &r[margin..w - margin])
                .copied()
                .collect();
            (image, band)
        };
        Ok(Self {
            image,
            edge_band,
            depths: stack.depths(),
            max: spec.options.depth.max_value(),
            margin,
        })
    }

    /// The quality of a result image (extra channels, e.g. enfuse's alpha, left out).
    fn measure(&self, result: Image<f32>) -> Result<Quality> {
        let (w, h, c) = self.image.shape();
        let full = (w + 2 * self.margin, h + 2 * self.margin);
        if (result.width(), result.height()) != full || result.channels() < c {
            bail!("output is {:?}, truth {:?}", result.shape(), (full.0, full.1, c));
        }
        let result = if result.channels() > c {
            let planes = result.into_planes().into_iter().take(c).collect();
            Image::from_planes(full.0, full.1, planes)?
        } else {
            result
        };
        let result = if self.margin > 0 { interior(&result, self.margin)? } else { result };
        let (t, max) = (&self.image, self.max);
        Ok(Quality {
            psnr: fs_core::metrics::psnr(&result, t, max),
            edge_psnr: fs_core::metrics::psnr_masked(&result, t, max, &self.edge_band),
            glow: fs_core::metrics::glow(&result, t, max),
            mean_error: fs_core::metrics::mean_error(&result, t, max),
        })
    }

    fn measure_file(&self, path: &Path) -> Result<Quality> {
        self.measure(fs_core::read_frame(path)?.to_image())
    }
}

/// The outcome of one (stack, tool) cell.
#[derive(Debug, Clone)]
enum Outcome {
    /// `ratio`: the median of wall / decode floor over back-to-back pairs of runs
    /// (None: the tool's wall over the floor's median).
    Done {
        usage: Usage,
        quality: Option<Quality>,
        ratio: Option<f64>,
    },
    /// A reference computed in this process: no timing.
    Reference(Quality),
    Failed(String),
    Missing(String),
}

#[derive(Debug, Clone)]
struct Row {
    stack: String,
    tool: String,
    /// The decode-only floor's median wall time (None with --quality-only).
    floor: Option<f64>,
    outcome: Outcome,
}

/// One alignment measurement: `align-run` against the decode-only floor.
#[derive(Debug, Clone)]
struct AlignRow {
    stack: String,
    frames: usize,
    floor: f64,
    outcome: Result<(Usage, AlignSummary), String>,
}

/// What `align-run` reports about the transforms it found.
#[derive(Debug, Clone, Default, PartialEq)]
struct AlignSummary {
    /// The largest magnification change against the reference, as printed ("2.98 %").
    scale_change: String,
    /// The common area of every frame, as printed ("5794x3860 at (103, 70), 93.2 %").
    crop: String,
}

impl AlignSummary {
    /// Reads the summary line `align-run` prints on stderr.
    fn parse(text: &str) -> Self {
        let field = |tag: &str| {
            text.lines()
                .rev()
                .find_map(|l| {
                    let rest = &l[l.find(tag)? + tag.len()..];
                    Some(rest.split(';').next().unwrap_or(rest).trim().to_string())
                })
                .unwrap_or_else(|| "not printed".into())
        };
        Self { scale_change: field("largest magnification change "), crop: field("common area ") }
    }
}

/// When and on what the run was made: what each section states.
pub(crate) struct RunInfo {
    date: String,
    load: String,
    pub runs: usize,
    command: String,
}

impl RunInfo {
    fn new(args: &BenchArgs, runs: usize) -> Self {
        let mut command = String::from("cargo xtask bench");
        for (on, flag) in [
            (args.quick, " --quick"),
            (args.quality_only, " --quality-only"),
            (args.peers, " --peers"),
            (args.align_only, " --align-only"),
            (args.big_tiff, " --big-tiff"),
            (args.python, " --python"),
            (args.batch, " --batch"),
        ] {
            if on {
                command.push_str(flag);
            }
        }
        for s in &args.stacks {
            let _ = write!(command, " --stack {s}");
        }
        for s in &args.stackers {
            let _ = write!(command, " --stacker {s}");
        }
        if let Some(r) = args.runs {
            let _ = write!(command, " --runs {r}");
        }
        Self { date: utc_now(), load: load_average(), runs, command }
    }

    /// The cell saying when a row was measured.
    pub(crate) fn measured(&self) -> String {
        let load1 = self.load.split_whitespace().next().unwrap_or("?");
        let runs =
            if self.runs == 1 { "1 run".to_string() } else { format!("median of {}", self.runs) };
        format!("{}, load {load1}, {runs}", self.date)
    }

    /// The line every section starts with.
    pub(crate) fn updated(&self) -> String {
        format!(
            "- Updated {} by `{}`;\n  \
             load average at the start of the run (1, 5, 15 min): {}. Rows this run did not\n  \
             measure are kept from earlier runs, with their own date in the last column.\n",
            self.date, self.command, self.load
        )
    }
}

/// The load average from `/proc/loadavg` (1, 5 and 15 minutes), or "unknown".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn utc_now() -> String {
    Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Runs the benchmark report.
pub fn run(args: &BenchArgs, root: &Path) -> Result<()> {
    if args.micro {
        return run_micro(root);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let specs: Vec<StackSpec> = if args.quick { quick_set() } else { bench_set() }
        .into_iter()
        .filter(|s| match (args.stacks.is_empty(), args.quality_only) {
            (false, _) => args.stacks.iter().any(|f| s.name.contains(f)),
            (true, true) => QUALITY_STACKS.contains(&s.name.as_str()),
            (true, false) => true,
        })
        .collect();
    if specs.is_empty() {
        bail!("no benchmark stack matches {:?}", args.stacks);
    }
    let runs = args.runs.unwrap_or(if args.quick || args.quality_only { 1 } else { 3 }).max(1);
    // Read before anything of ours runs.
    let info = RunInfo::new(args, if args.big_tiff { args.runs.unwrap_or(1).max(1) } else { runs });
    let stackers: Vec<&str> = if args.stackers.is_empty() {
        FSTACK_STACKERS.to_vec()
    } else {
        args.stackers.iter().map(String::as_str).collect()
    };
    let do_table = !args.align_only;
    let do_align = args.align_only || (args.stackers.is_empty() && !args.quality_only);
    if args.align_only && !specs.iter().any(|s| s.options.moves()) {
        bail!(
            "--align-only: no moving stack among {:?}",
            specs.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
    }

    let fstack = target.join("release").join("fstack");
    if do_table || args.big_tiff || args.python || args.batch {
        eprintln!("bench: building the release fstack binary");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "-p", "fs-cli", "--bin", "fstack"])
            .current_dir(root)
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build --release -p fs-cli failed");
        }
    }
    if args.big_tiff {
        let section = run_big_tiff(&fstack, &target, &info)?;
        return write_report(root, args, &[section]);
    }
    if args.python || args.batch {
        let mut sections = Vec::new();
        if args.python {
            sections.push(crate::bench_many::run_python(root, &target, &fstack, &info)?);
        }
        if args.batch {
            sections.push(crate::bench_many::run_batch(&target, &fstack, &info)?);
        }
        for section in &sections {
            print!("{}", section.header);
            section.rows.iter().for_each(|r| println!("{r}"));
        }
        return write_report(root, args, &sections);
    }
    let xtask = std::env::current_exe().context("locating the xtask binary")?;

    let peers = if args.peers && do_table { Some(Peers::prepare(&target)) } else { None };

    let mut rows = Vec::new();
    let mut align_rows = Vec::new();
    for spec in &specs {
        let moves = spec.options.moves();
        if !do_table && !moves {
            continue;
        }
        let dir = bench_dir().join(&spec.name);
        let write = WriteOptions { jpeg_quality: BENCH_JPEG_QUALITY, ..WriteOptions::default() };
        generate(spec, &dir, &write, false)?;
        // Pass the frames as files (the way a user lists them on the command line).
        let frames: Vec<PathBuf> = fs_core::list_frames(&dir.join("frames"))?;
        let out_dir = target.join("bench-out").join(&spec.name);
        std::fs::create_dir_all(&out_dir)?;

        let mut floor_cmd = Command::new(&xtask);
        floor_cmd.arg("decode-floor").args(&frames);
        let floor = if args.quality_only {
            None
        } else {
            eprintln!("bench: {}: decode-only floor", spec.name);
            match measure(&mut floor_cmd, runs) {
                Ok(u) => Some(u.wall),
                Err(e) => bail!("decode floor of {}: {e}", spec.name),
            }
        };

        if do_table {
            eprintln!("bench: {}: the truth and the references", spec.name);
            let truth = Truth::new(spec)?;
            // The references pick from unaligned frames: meaningless on moving stacks.
            if !moves {
                for (tool, outcome) in references(&frames, &truth, &out_dir) {
                    rows.push(Row { stack: spec.name.clone(), tool, floor, outcome });
                }
            }
            let (extra, label) = fstack_pipeline(moves);
            for stacker in &stackers {
                // TIFF: lossless, so the figures are the stacker's, not an encoder's.
                let out = out_dir.join(format!("fstack-{stacker}.tif"));
                let mut cmd = Command::new(&fstack);
                cmd.arg("stack")
                    .args(&frames)
                    .arg("-o")
                    .arg(&out)
                    .args(["--force", "--quiet", "--stacker", stacker])
                    .args(extra);
                eprintln!("bench: {}: fstack --stacker {stacker} {}", spec.name, extra.join(" "));
                let paired = (!args.quality_only).then_some(&mut floor_cmd);
                let outcome = cell(&mut cmd, paired, runs, &out, &truth);
                rows.push(Row {
                    stack: spec.name.clone(),
                    tool: format!("fstack {stacker} ({label})"),
                    floor,
                    outcome,
                });
            }
            if let Some(peers) = &peers {
                for (tool, outcome) in peers.run_all(&frames, &out_dir, runs, &truth, spec) {
                    rows.push(Row { stack: spec.name.clone(), tool, floor, outcome });
                }
            }
        }
        if let (true, true, Some(floor)) = (do_align, moves, floor) {
            let mut cmd = Command::new(&xtask);
            cmd.arg("align-run").args(&frames);
            eprintln!("bench: {}: align-run", spec.name);
            let outcome = measure_text(&mut cmd, runs).map(|(u, t)| (u, AlignSummary::parse(&t)));
            align_rows.push(AlignRow {
                stack: spec.name.clone(),
                frames: frames.len(),
                floor,
                outcome,
            });
        }
    }

    let mut sections = Vec::new();
    if do_table {
        let section = table_section(&rows, &info);
        print!("{}", section.header);
        section.rows.iter().for_each(|r| println!("{r}"));
        sections.push(section);
    }
    if do_align && !align_rows.is_empty() {
        let section = align_section(&align_rows, &info);
        print!("{}", section.header);
        section.rows.iter().for_each(|r| println!("{r}"));
        sections.push(section);
    }
    write_report(root, args, &sections)
}

/// Merges `sections` into the report file (unless `--report -`).
fn write_report(root: &Path, args: &BenchArgs, sections: &[Section<'_>]) -> Result<()> {
    // A quick or quality-only run's figures do not belong in the real report unless
    // asked for.
    let report = match &args.report {
        Some(r) => r.as_str(),
        None if args.quick || args.quality_only => "-",
        None => "docs/benchmarks.md",
    };
    if report == "-" || sections.is_empty() {
        return Ok(());
    }
    let path = root.join(report);
    let mut doc = match std::fs::read_to_string(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    for s in sections {
        doc = update_section(&doc, s);
    }
    std::fs::write(&path, doc).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench: updated {}", path.display());
    Ok(())
}

/// Runs a command `runs` times and gives the medians. With `floor` (fstack's cells),
/// each run comes right after a run of the decode-only floor, and the ratio is the
/// median of the pairs' ratios (the machine's speed drifts between batches; a pair
/// of neighbouring runs shares it); without (the peers), their ratio is to the floor
/// row.
fn cell(
    cmd: &mut Command,
    mut floor: Option<&mut Command>,
    runs: usize,
    out: &Path,
    truth: &Truth,
) -> Outcome {
    let _ = std::fs::remove_file(out);
    let mut all = Vec::with_capacity(runs);
    let mut ratios = Vec::with_capacity(runs);
    for _ in 0..runs {
        let floor_run = floor.as_deref_mut().map(run_once).transpose();
        match floor_run.and_then(|f| run_once(cmd).map(|u| (f, u))) {
            Ok((f, u)) => {
                ratios.extend(f.map(|f| u.wall / f.wall));
                all.push(u);
            }
            Err(e) => return Outcome::Failed(e),
        }
    }
    ratios.sort_by(f64::total_cmp);
    Outcome::Done {
        usage: median_usage(&all),
        quality: truth.measure_file(out).ok(),
        ratio: ratios.get(ratios.len() / 2).copied(),
    }
}

/// The reference rows of a still stack: both picks computed from the frames (each
/// decoded once), written into `out_dir` as TIFF and measured.
fn references(frames: &[PathBuf], truth: &Truth, out_dir: &Path) -> Vec<(String, Outcome)> {
    let picks = || -> Result<[Frame; 2]> {
        let mut pick = PerPixelPick::new();
        let mut oracle = DepthOraclePick::new(&truth.depths, frames.len())?;
        for path in frames {
            let frame = fs_core::read_frame(path)?;
            pick.add(&frame)?;
            oracle.add(&frame)?;
        }
        Ok([pick.finish()?, oracle.finish()?])
    };
    match picks() {
        Ok(results) => REFERENCES
            .iter()
            .zip(results)
            .map(|(&(tool, file), frame)| {
                let out = out_dir.join(format!("reference-{file}.tif"));
                let outcome = fs_core::write_frame(&out, &frame, &WriteOptions::default())
                    .map_err(anyhow::Error::from)
                    .and_then(|()| truth.measure(frame.to_image()));
                let outcome = match outcome {
                    Ok(q) => Outcome::Reference(q),
                    Err(e) => Outcome::Failed(format!("{e:#}")),
                };
                (tool.to_string(), outcome)
            })
            .collect(),
        Err(e) => REFERENCES
            .iter()
            .map(|&(t, _)| (t.to_string(), Outcome::Failed(format!("{e:#}"))))
            .collect(),
    }
}

/// One run of `cmd`: its usage, or the failure's message.
pub(crate) fn run_once(cmd: &mut Command) -> Result<Usage, String> {
    run_once_text(cmd).map(|(u, _)| u)
}

/// Runs `cmd` `runs` times; the median of each figure, or the first failure's
/// message (the last line the child printed on stderr).
fn measure(cmd: &mut Command, runs: usize) -> Result<Usage, String> {
    measure_text(cmd, runs).map(|(usage, _)| usage)
}

/// [`measure`], also returning what the last run printed on stderr.
fn measure_text(cmd: &mut Command, runs: usize) -> Result<(Usage, String), String> {
    let mut all = Vec::with_capacity(runs);
    let mut text = String::new();
    for _ in 0..runs {
        let (usage, t) = run_once_text(cmd)?;
        all.push(usage);
        text = t;
    }
    Ok((median_usage(&all), text))
}

/// The median of each figure (the upper median for an even count).
fn median_usage(all: &[Usage]) -> Usage {
    let median = |f: fn(&Usage) -> f64| {
        let mut v: Vec<f64> = all.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Usage {
        wall: median(|u| u.wall),
        cpu: median(|u| u.cpu),
        peak_rss_mb: median(|u| u.peak_rss_mb),
    }
}

/// The out-of-core case of `--big-tiff`: 6 frames of 12000x8000 RGB 16-bit TIFF.
fn big_tiff_spec() -> StackSpec {
    let options = SynthOptions {
        width: 12_000,
        height: 8_000,
        frames: 6,
        depth: BitDepth::Sixteen,
        ..SynthOptions::default()
    };
    StackSpec { name: "tif16-12000x8000-6".into(), options, format: FileFormat::Tiff }
}

/// `--big-tiff`: generates the stack if missing, runs `fstack --stacker focusmap|auto
/// --memory-limit 1G` on it `runs` times per pipeline, prints each run's figures and
/// the choice line the stacker logged, and gives the report section (medians).
fn run_big_tiff(fstack: &Path, target: &Path, info: &RunInfo) -> Result<Section<'static>> {
    let spec = big_tiff_spec();
    let dir = bench_dir().join(&spec.name);
    // TIFF: the JPEG quality does not matter (the default keeps the existing stamp).
    generate(&spec, &dir, &WriteOptions::default(), false)?;
    let frames: Vec<PathBuf> = fs_core::list_frames(&dir.join("frames"))?;
    let out_dir = target.join("bench-out").join(&spec.name);
    std::fs::create_dir_all(&out_dir)?;
    let out = out_dir.join("fstack-1G.tif");
    println!("| stack | pipeline | run | wall | user+sys CPU | peak RSS | stacker's choice |");
    println!("|---|---|---|---|---|---|---|");
    // The stacker alone (the target), then the default pipeline (align,
    // balance and crop add their own frame copies).
    let pipelines: [(&str, &[&str]); 2] = [
        (
            "stacker only (`--no-align --no-balance --no-crop`)",
            &["--no-align", "--no-balance", "--no-crop"],
        ),
        ("default (align, balance, crop)", &[]),
    ];
    let mut rows = Vec::new();
    let runs = ["focusmap", "auto"]
        .into_iter()
        .flat_map(|stacker| pipelines.into_iter().map(move |(p, extra)| (stacker, p, extra)));
    for (stacker, pipeline, extra) in runs {
        let pipeline = format!("`--stacker {stacker}`, {pipeline}");
        let mut cmd = Command::new(fstack);
        cmd.arg("stack").args(&frames).arg("-o").arg(&out).args([
            "--force",
            "--progress",
            "plain",
            "--stacker",
            stacker,
            "--memory-limit",
            "1G",
        ]);
        cmd.args(extra);
        let mut usages = Vec::new();
        let mut choice = String::from("(not printed)");
        for run in 1..=info.runs {
            eprintln!("bench: {}: fstack --memory-limit 1G, {pipeline}", spec.name);
            let (usage, text) = match run_once_text(&mut cmd) {
                Ok(r) => r,
                Err(e) => {
                    println!(
                        "| {} | {pipeline} | {run} | failed: {} | | | |",
                        spec.name,
                        cell_text(&e)
                    );
                    break;
                }
            };
            if let Some(c) = text.lines().find(|l| {
                l.contains("FocusMapStack:") || l.contains("tiled,") || l.contains("in memory")
            }) {
                choice = cell_text(c.trim());
            }
            println!(
                "| {} | {pipeline} | {run} | {:.1} s | {:.1} s | {:.0} MB | {choice} |",
                spec.name, usage.wall, usage.cpu, usage.peak_rss_mb,
            );
            usages.push(usage);
        }
        let cells = if usages.is_empty() {
            vec![
                pipeline.clone(),
                "failed (see the bench output)".into(),
                String::new(),
                String::new(),
                String::new(),
            ]
        } else {
            let u = median_usage(&usages);
            vec![
                pipeline.clone(),
                choice,
                format!("{:.2} GB", u.peak_rss_mb / 1e3),
                minutes(u.wall),
                minutes(u.cpu),
            ]
        };
        rows.push(row(&[cells, vec![info.measured()]].concat()));
    }
    let _ = std::fs::remove_file(&out);
    Ok(big_tiff_section(&spec.name, rows, info))
}

/// The report section of `--big-tiff`: a row per pipeline.
fn big_tiff_section(stack: &str, rows: Vec<String>, info: &RunInfo) -> Section<'static> {
    let intro = format!(
        "{}- `cargo xtask bench --big-tiff`: the stack `target/bench-stacks/{stack}` (576 MB per\n  \
         decoded frame); release `fstack stack --stacker focusmap|auto --memory-limit 1G`,\n  \
         peak RSS from the child's rusage; median of the runs.\n",
        info.updated(),
    );
    Section {
        name: "big-tiff",
        heading: "Out of core: 6 x 12000x8000 16-bit TIFF at memory_limit 1 GiB",
        intro,
        header: "| pipeline | stacker's choice | peak RSS | wall | user+sys CPU | measured |\n\
                 |---|---|---|---|---|---|\n"
            .into(),
        rows,
        key_columns: 1,
    }
}

/// Seconds as `9 min 13 s` (or `58 s` under a minute).
fn minutes(s: f64) -> String {
    let s = s.round() as u64;
    if s < 60 { format!("{s} s") } else { format!("{} min {} s", s / 60, s % 60) }
}

/// Runs `cmd` once through `xtask measure`, a small process that starts the command
/// and reports its rusage. The indirection matters: on Linux a process keeps the RSS
/// high-water mark of the memory it was started from (vfork + exec records the
/// parent's), so a command started straight from this process, which holds decoded
/// 24-megapixel images for the PSNR, would report this process's peak instead of
/// its own. Gives the usage and what the command printed on stderr.
pub(crate) fn run_once_text(cmd: &mut Command) -> Result<(Usage, String), String> {
    let err_file = tempfile_path();
    let stderr = std::fs::File::create(&err_file).map_err(|e| e.to_string())?;
    let xtask = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(xtask)
        .arg("measure")
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stderr(stderr)
        .output()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let text = std::fs::read_to_string(&err_file).unwrap_or_default();
    let _ = std::fs::remove_file(&err_file);
    let report = String::from_utf8_lossy(&output.stdout);
    let Some(line) = report.lines().rev().find_map(|l| l.strip_prefix(USAGE_TAG)) else {
        return Err(format!("no usage report from `xtask measure` ({})", output.status));
    };
    let fields: Vec<f64> = line.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    let [wall, cpu, maxrss_kib, exited, code] = fields[..] else {
        return Err(format!("malformed usage report {line:?}"));
    };
    if !(exited == 1.0 && code == 0.0) {
        // The child's own error line: the first that says "error", else the last line.
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let message = lines
            .iter()
            .find(|l| l.to_ascii_lowercase().contains("error"))
            .or(lines.last())
            .copied()
            .unwrap_or("no message");
        let how =
            if exited == 1.0 { format!("exit code {code}") } else { format!("signal {code}") };
        return Err(format!("{how}: {message}"));
    }
    Ok((Usage { wall, cpu, peak_rss_mb: maxrss_kib * 1024.0 / 1e6 }, text))
}

const USAGE_TAG: &str = "xtask-measure-usage:";

/// `xtask measure -- CMD ARGS...`: runs the command (stdout discarded, stderr passed
/// on) and prints one line: wall seconds, user+sys CPU seconds, peak RSS in KiB,
/// whether it exited normally (1/0), and its exit code or signal.
pub fn measure_command(command: &[std::ffi::OsString]) -> Result<()> {
    let Some((program, args)) = command.split_first() else {
        bail!("measure needs a command");
    };
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {program:?}"))?;
    let (status, usage) = wait4(child.id() as libc::pid_t)?;
    let wall = start.elapsed().as_secs_f64();
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    let (exited, code) = if libc::WIFEXITED(status) {
        (1, libc::WEXITSTATUS(status))
    } else {
        (0, libc::WTERMSIG(status))
    };
    // Linux reports ru_maxrss in KiB.
    println!(
        "{USAGE_TAG} {wall:.4} {:.4} {} {exited} {code}",
        tv(usage.ru_utime) + tv(usage.ru_stime),
        usage.ru_maxrss
    );
    Ok(())
}

fn tempfile_path() -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("fstack-bench-{}-{n}.stderr", std::process::id()))
}

/// Waits for one child and returns its exit status and resource usage.
fn wait4(pid: libc::pid_t) -> std::io::Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is a plain C struct for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped; both pointers are valid.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((status, usage));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `img` without a border of `m` pixels on every side.
fn interior(img: &fs_core::Image<f32>, m: usize) -> Result<fs_core::Image<f32>> {
    let (w, h) = (img.width(), img.height());
    if 2 * m >= w || 2 * m >= h {
        bail!("a margin of {m} px leaves nothing of {w}x{h}");
    }
    let planes = img
        .planes()
        .map(|p| {
            p.chunks_exact(w).skip(m).take(h - 2 * m).flat_map(|r| &r[m..w - m]).copied().collect()
        })
        .collect();
    Ok(fs_core::Image::from_planes(w - 2 * m, h - 2 * m, planes)?)
}

/// The decode-only floor: decode every frame once, the frames in parallel on every
/// core (the decoders themselves run on one thread each), holding one decoded frame per
/// thread. Run as a child.
pub fn decode_floor(paths: &[PathBuf]) -> Result<()> {
    let pixels = paths
        .par_iter()
        .map(|p| fs_core::read_frame(p).map(|f| f.width() * f.height()))
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    println!(
        "decoded {} frames, {:.1} megapixels, on {} threads",
        paths.len(),
        pixels as f64 / 1e6,
        rayon::current_num_threads()
    );
    Ok(())
}

/// The tools users would otherwise pick.
struct Peers {
    enfuse: Result<PathBuf, String>,
    shinestacker: Result<(PathBuf, PathBuf), String>,
}

impl Peers {
    fn prepare(target: &Path) -> Self {
        let enfuse = which("enfuse")
            .ok_or_else(|| "enfuse not installed (Debian package `enfuse`)".to_string());
        let shinestacker = prepare_shinestacker(target);
        if let Err(e) = &shinestacker {
            eprintln!("bench: ShineStacker unavailable: {e}");
        }
        Self { enfuse, shinestacker }
    }

    fn run_all(
        &self,
        frames: &[PathBuf],
        out_dir: &Path,
        runs: usize,
        truth: &Truth,
        spec: &StackSpec,
    ) -> Vec<(String, Outcome)> {
        let mut rows = Vec::new();
        // enfuse writes TIFF; compare it like the others.
        match &self.enfuse {
            Ok(enfuse) => {
                let out = out_dir.join("enfuse.tif");
                let mut cmd = Command::new(enfuse);
                cmd.args([
                    "--exposure-weight=0",
                    "--saturation-weight=0",
                    "--contrast-weight=1",
                    "--hard-mask",
                    "--contrast-window-size=5",
                    "--gray-projector=luminance",
                ]);
                if spec.options.depth == BitDepth::Eight {
                    cmd.arg("--depth=8");
                }
                cmd.arg("-o").arg(&out).args(frames);
                eprintln!("bench: {}: enfuse", spec.name);
                rows.push(("enfuse".into(), cell(&mut cmd, None, runs, &out, truth)));
            }
            Err(e) => rows.push(("enfuse".into(), Outcome::Missing(e.clone()))),
        }
        for algo in ["pyramid", "depthmap"] {
            let tool = format!("ShineStacker {algo}");
            match &self.shinestacker {
                Ok((python, script)) => {
                    let sub = format!("shinestacker-{algo}");
                    let work = out_dir.to_path_buf();
                    // ShineStacker takes its input as a folder inside its working
                    // folder: one of links to the frames alone.
                    if let Err(e) = link_frames(frames, &work.join("frames")) {
                        rows.push((tool, Outcome::Failed(e.to_string())));
                        continue;
                    }
                    let mut cmd = Command::new(python);
                    cmd.arg(script).arg(&work).arg("frames").arg(&sub).arg(algo);
                    eprintln!("bench: {}: {tool}", spec.name);
                    let outcome = match measure(&mut cmd, runs) {
                        Ok(usage) => {
                            let out = fs_core::list_frames(&work.join(&sub))
                                .ok()
                                .and_then(|v| v.into_iter().next());
                            let quality = out.and_then(|o| truth.measure_file(&o).ok());
                            Outcome::Done { usage, quality, ratio: None }
                        }
                        Err(e) => Outcome::Failed(e),
                    };
                    rows.push((tool, outcome));
                }
                Err(e) => rows.push((tool, Outcome::Missing(e.clone()))),
            }
        }
        rows
    }
}

fn link_frames(frames: &[PathBuf], dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    for f in frames {
        let name = f.file_name().ok_or_else(|| std::io::Error::other("frame without a name"))?;
        std::os::unix::fs::symlink(f, dir.join(name))?;
    }
    Ok(())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// A venv with ShineStacker 1.17.4 under target/peers. It declares Python >= 3.12
/// but runs on 3.11 when installed without its metadata check; its dependencies are
/// installed normally.
fn prepare_shinestacker(target: &Path) -> Result<(PathBuf, PathBuf), String> {
    let root = target.join("peers");
    let venv = root.join("shinestacker-venv");
    let python = venv.join("bin").join("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("shinestacker_stack.py");
    let ok = |p: &Path| {
        Command::new(p)
            .args(["-c", "import shinestacker.algorithms"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.is_file() && ok(&python) {
        return Ok((python, script));
    }
    eprintln!("bench: installing ShineStacker 1.17.4 into {} (once)", venv.display());
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let step = |cmd: &mut Command| -> Result<(), String> {
        let status = cmd.status().map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
        if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed: {status}")) }
    };
    step(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    let pip = venv.join("bin").join("pip");
    step(Command::new(&pip).args([
        "install",
        "-q",
        "--no-deps",
        "--ignore-requires-python",
        "shinestacker==1.17.4",
    ]))?;
    step(Command::new(&pip).args([
        "install",
        "-q",
        "numpy",
        "opencv-python-headless<5",
        "pillow",
        "scipy",
        "tifffile",
        "imagecodecs",
        "matplotlib",
        "jsonpickle",
        "psdtags",
        "tifftools",
        "rawpy",
        "psutil",
        "tqdm",
        "PySide6-Essentials",
    ]))?;
    if ok(&python) { Ok((python, script)) } else { Err("shinestacker does not import".into()) }
}

/// The stacker table's quality cells: PSNR, edge-band PSNR, glow and mean error (the
/// last two in % of full scale).
fn quality_cells(q: Option<&Quality>) -> Vec<String> {
    match q {
        Some(q) => vec![
            format!("{:.2}", q.psnr),
            if q.edge_psnr.is_nan() { "no steps".into() } else { format!("{:.2}", q.edge_psnr) },
            format!("{:.3}", 100.0 * q.glow),
            format!("{:+.3}", 100.0 * q.mean_error),
        ],
        None => vec!["n/a".into(), String::new(), String::new(), String::new()],
    }
}

/// The stacker table: a decode-floor row per stack, then a row per tool.
fn table_section(rows: &[Row], info: &RunInfo) -> Section<'static> {
    let measured = info.measured();
    let f2 = |v: f64| format!("{v:.2}");
    let mut out = Vec::new();
    let mut last_stack = "";
    for r in rows {
        if r.stack != last_stack {
            if let Some(floor) = r.floor {
                out.push(row(&[
                    vec![r.stack.clone(), "decode-only floor".into(), f2(floor), String::new()],
                    vec!["1.00".into()],
                    vec![String::new(); 5],
                    vec![measured.clone()],
                ]
                .concat()));
            }
            last_stack = &r.stack;
        }
        let (cells, when) = match &r.outcome {
            Outcome::Done { usage, quality, ratio } => {
                let ratio = ratio.or(r.floor.map(|f| usage.wall / f));
                let timing = vec![
                    f2(usage.wall),
                    f2(usage.cpu),
                    ratio.map_or_else(String::new, f2),
                    format!("{:.0}", usage.peak_rss_mb),
                ];
                ([timing, quality_cells(quality.as_ref())].concat(), measured.clone())
            }
            Outcome::Reference(q) => {
                let cells = [vec![String::new(); 4], quality_cells(Some(q))].concat();
                (cells, format!("{}, reference, computed in the bench", info.date))
            }
            Outcome::Failed(e) | Outcome::Missing(e) => {
                let what =
                    if matches!(r.outcome, Outcome::Failed(_)) { "failed" } else { "missing" };
                let mut cells = vec![String::new(); 8];
                cells[0] = format!("{what}: {}", cell_text(e));
                (cells, measured.clone())
            }
        };
        out.push(row(&[vec![r.stack.clone(), r.tool.clone()], cells, vec![when]].concat()));
    }
    let intro = format!(
        "{}- Machine: {}\n\
         - Each cell: the median of the runs of a separate process (the count is in the\n  \
         `measured` column); CPU = user + sys; peak RSS from the child's rusage. The\n  \
         decode-only floor is a process that just decodes every frame once, the frames in\n  \
         parallel on every core (rows measured before 2026-12-03 had a floor on one core,\n  \
         about twice as slow, so their ratios are about half what they would be now),\n  \
         measured in the same run; an fstack row's ratio is the median of its runs' ratios\n  \
         to a floor run made just before each (pairs share the machine's speed, which\n  \
         drifts); a peer's ratio is to the floor row.\n\
         - Quality is against the generator's exact all-in-focus truth (rebuilt in memory;\n  \
         rows before 2026-12-03 were against the saved truth, JPEG for JPEG stacks, and\n  \
         fstack wrote its result as JPEG there; it writes TIFF now): PSNR over the image;\n  \
         edge-band PSNR over the pixels within half the largest blur radius of a depth\n  \
         step (neighbours more than one focus step apart; `SynthStack::edge_band_mask`;\n  \
         \"no steps\" on the tilted plane); glow, the RMS of the error low-passed by a\n  \
         Gaussian of sigma 8 px (halos, glow, brightness shifts), and the mean error\n  \
         (result minus truth), both in % of full scale.\n\
         - Reference rows (measurement references of `fs_core::reference`, not products;\n  \
         computed in the bench from the frames, still stacks only): \"per-pixel pick\" takes\n  \
         per pixel the frame whose Gaussian-smoothed (sigma 2 px) squared Laplacian of luma\n  \
         is largest; \"depth-oracle pick\" the frame focused nearest the true depth.\n\
         - fstack rows labelled \"no align\" (still stacks) run the stacker alone, `--no-align\n  \
         --no-balance --no-crop`, like the peers (which never align). Rows labelled \"align,\n  \
         no crop\" (moving stacks, `*-moving`) run the default pipeline (alignment and balance)\n  \
         with `--no-crop`, so they include the alignment. On moving stacks the quality of every\n  \
         tool is over the interior only: a margin of 2 % of the width is left out on every\n  \
         side, where aligned frames have replicated borders. Rows without a label are from\n  \
         before this split (the stacker alone).\n\
         - Stacks are synthetic (`cargo xtask gen-testdata --bench`, JPEG quality\n  \
         {BENCH_JPEG_QUALITY}), cached under `target/bench-stacks/`: `jpg-noisy-*` is the\n  \
         objects scene with read noise 2 and shot noise 8 (a phone or high-ISO photo),\n  \
         `tif16-glow-*` the high-contrast scene (bright objects on a near-black ground, 16-bit,\n  \
         12 px largest blur), `jpg-tilted-*` the tilted plane; the others the objects scene\n  \
         with read noise 1.\n",
        info.updated(),
        machine()
    );
    Section {
        name: "table",
        heading: "Stackers",
        intro,
        header: "| stack | tool | wall s | CPU s | wall / decode floor | peak RSS MB | PSNR dB | edge-band PSNR dB | glow % | mean error % | measured |\n\
                 |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
            .into(),
        rows: out,
        key_columns: 2,
    }
}

/// The alignment table: `align-run` against the decode-only floor, per moving stack.
fn align_section(rows: &[AlignRow], info: &RunInfo) -> Section<'static> {
    let measured = info.measured();
    let out = rows
        .iter()
        .map(|r| {
            let cells = match &r.outcome {
                Ok((u, summary)) => vec![
                    format!("{:.2}", u.wall),
                    format!("{:.2}", u.cpu),
                    format!("{:.2}", r.floor),
                    format!("{:.2}", u.wall / r.floor),
                    format!("{:.0}", u.peak_rss_mb),
                    cell_text(&summary.scale_change),
                    cell_text(&summary.crop),
                ],
                Err(e) => {
                    let mut c = vec![String::new(); 7];
                    c[0] = format!("failed: {}", cell_text(e));
                    c[2] = format!("{:.2}", r.floor);
                    c
                }
            };
            row(&[vec![r.stack.clone(), r.frames.to_string()], cells, vec![measured.clone()]]
                .concat())
        })
        .collect();
    let intro = format!(
        "{}- Machine: {}\n\
         - `cargo xtask align-run FRAMES...` (hidden task: decode every frame, align it to the\n  \
         middle frame, balance, warp; decoding, aligning and the consumer on three threads,\n  \
         as `fstack stack` does) against `cargo xtask decode-floor FRAMES...` (the frames\n  \
         decoded in parallel on every core) on the same frames, back to back in the same\n  \
         run, release build; wall, CPU (user + sys) and\n  \
         peak RSS of the child, medians of the runs. The largest magnification change and\n  \
         the common area (the default crop) are what align-run found.\n",
        info.updated(),
        machine()
    );
    Section {
        name: "align",
        heading: "Alignment (fs-align)",
        intro,
        header: "| stack | frames | wall s | CPU s | decode floor s | wall / decode floor | peak RSS MB | largest magnification change | common area (crop) | measured |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|---|---|\n"
            .into(),
        rows: out,
        key_columns: 1,
    }
}

fn cell_text(s: &str) -> String {
    let s: String = s.replace('|', "/").chars().take(120).collect();
    s
}

/// The CPU model, core count and memory of this machine.
pub(crate) fn machine() -> String {
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown memory".into());
    format!("{cpus}, {cores} cores, {mem}")
}

fn run_micro(root: &Path) -> Result<()> {
    let crates = ["fs-core", "fs-filters", "fs-pyramid", "fs-depthmap"];
    for c in crates {
        let has_benches = root.join("crates").join(c).join("benches").is_dir();
        if !has_benches {
            eprintln!("bench: {c} has no criterion benches");
            continue;
        }
        let status = Command::new(env!("CARGO"))
            .args(["bench", "-p", c])
            .current_dir(root)
            .status()
            .with_context(|| format!("cargo bench -p {c}"))?;
        if !status.success() {
            bail!("cargo bench -p {c} failed");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            date: "2026-11-28 10:00 UTC".into(),
            load: "0.50 0.40 0.30".into(),
            runs: 3,
            command: "cargo xtask bench".into(),
        }
    }

    #[test]
    fn reads_the_align_run_summary() {
        let text = "warning: x\naligned 10 frames, 31.5 megapixels; largest magnification \
                    change 1.52 %; common area 1990x1480 at (29, 28), 93.7 % of the frame\n";
        assert_eq!(
            AlignSummary::parse(text),
            AlignSummary {
                scale_change: "1.52 %".into(),
                crop: "1990x1480 at (29, 28), 93.7 % of the frame".into()
            }
        );
        assert_eq!(AlignSummary::parse("error: no frames").crop, "not printed");
    }

    #[test]
    fn interior_leaves_out_the_margin_on_every_side() {
        let plane: Vec<f32> = (0..5 * 4).map(|v| v as f32).collect();
        let img = fs_core::Image::from_planes(5, 4, vec![plane.clone(), plane]).unwrap();
        let inner = interior(&img, 1).unwrap();
        assert_eq!(inner.shape(), (3, 2, 2));
        assert_eq!(inner.planes().next().unwrap(), [6.0, 7.0, 8.0, 11.0, 12.0, 13.0]);
        assert!(interior(&img, 2).is_err());
        let moving = moving(SynthOptions { width: 2048, ..SynthOptions::default() });
        assert_eq!(interior_margin(&moving), 41);
        assert_eq!(interior_margin(&SynthOptions::default()), 0);
    }

    #[test]
    fn formats_minutes_and_labels_pipelines() {
        assert_eq!(minutes(58.4), "58 s");
        assert_eq!(minutes(553.0), "9 min 13 s");
        assert_eq!(
            fstack_pipeline(false),
            (&["--no-align", "--no-balance", "--no-crop"][..], "no align")
        );
        assert_eq!(fstack_pipeline(true), (&["--no-crop"][..], "align, no crop"));
        assert_eq!(info().measured(), "2026-11-28 10:00 UTC, load 0.50, median of 3");
    }

    #[test]
    fn big_tiff_and_align_runs_replace_their_rows_in_the_repository_report() {
        let path = crate::gen_testdata::workspace_root().join("docs/benchmarks.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let rows = vec![
            "| `--stacker focusmap`, stacker only (`--no-align --no-balance --no-crop`) | c | 1.00 GB | 5 min 0 s | 50 s | m |".into(),
            "| `--stacker focusmap`, default (align, balance, crop) | c | 1.40 GB | 9 min 0 s | 90 s | m |".into(),
            "| `--stacker auto`, stacker only (`--no-align --no-balance --no-crop`) | c | 1.00 GB | 5 min 0 s | 50 s | m |".into(),
            "| `--stacker auto`, default (align, balance, crop) | c | 1.40 GB | 9 min 0 s | 90 s | m |".into(),
        ];
        let new =
            update_section(&doc, &big_tiff_section("tif16-12000x8000-6", rows.clone(), &info()));
        let range = crate::report::find_section(&new, "big-tiff").unwrap();
        assert_eq!(crate::report::table_rows(&new[range]), rows);
        // Only that section changed.
        let outside = |d: &str| {
            let r = crate::report::find_section(d, "big-tiff").unwrap();
            format!("{}{}", &d[..r.start], &d[r.end..])
        };
        assert_eq!(outside(&new), outside(&doc));

        let align = [AlignRow {
            stack: "jpg-2048x1536-10-moving".into(),
            frames: 10,
            floor: 0.5,
            outcome: Ok((
                Usage { wall: 1.0, cpu: 1.8, peak_rss_mb: 73.2 },
                AlignSummary { scale_change: "1.63 %".into(), crop: "2014x1509".into() },
            )),
        }];
        let old_range = crate::report::find_section(&doc, "align").unwrap();
        let old_rows = crate::report::table_rows(&doc[old_range]);
        let new = update_section(&doc, &align_section(&align, &info()));
        let range = crate::report::find_section(&new, "align").unwrap();
        let rows = crate::report::table_rows(&new[range]);
        // The measured stack's row is replaced in place; every other row is kept.
        assert_eq!(rows.len(), old_rows.len(), "{rows:?}");
        let measured = "| jpg-2048x1536-10-moving | 10 | 1.00 | 1.80 | 0.50 | 2.00 | 73 | 1.63 % \
                        | 2014x1509 | 2026-11-28 10:00 UTC, load 0.50, median of 3 |";
        for (old, new) in old_rows.iter().zip(&rows) {
            if old.starts_with("| jpg-2048x1536-10-moving |") {
                assert_eq!(new, measured);
            } else {
                assert_eq!(new, old);
            }
        }
        assert_eq!(rows.iter().filter(|r| *r == measured).count(), 1, "{rows:?}");
    }

    #[test]
    fn a_partial_run_replaces_its_rows_and_keeps_the_others() {
        let old = "# B\n\n## Stackers\n\n<!-- bench:table -->\n- old intro\n\n\
                   | stack | tool | wall s | CPU s | wall / decode floor | peak RSS MB | PSNR dB | measured |\n\
                   |---|---|---:|---:|---:|---:|---:|---|\n\
                   | s | decode-only floor | 1.00 | | 1.00 | | | old |\n\
                   | s | fstack pyramid | 2.00 | 3.00 | 2.00 | 100 | 27.00 | old |\n\
                   | s | fstack tiles | 2.50 | 3.50 | 2.50 | 90 | 27.00 | old |\n\
                   | s | enfuse | 5.00 | 6.00 | 5.00 | 300 | 30.00 | old |\n\
                   <!-- /bench:table -->\n\nhand notes\n";
        let usage = Usage { wall: 1.5, cpu: 2.25, peak_rss_mb: 120.4 };
        let quality = Quality { psnr: 27.123, edge_psnr: 21.5, glow: 0.00123, mean_error: -0.0004 };
        let rows = [
            Row {
                stack: "s".into(),
                tool: "per-pixel pick".into(),
                floor: Some(0.75),
                outcome: Outcome::Reference(Quality { edge_psnr: f64::NAN, ..quality }),
            },
            Row {
                stack: "s".into(),
                tool: "fstack pyramid (no align)".into(),
                floor: Some(0.75),
                outcome: Outcome::Done { usage, quality: Some(quality), ratio: None },
            },
            Row {
                stack: "s".into(),
                tool: "fstack focusmap (no align)".into(),
                floor: Some(0.75),
                outcome: Outcome::Failed("exit code 2: error: invalid value 'focusmap'".into()),
            },
        ];
        let new = update_section(old, &table_section(&rows, &info()));
        let m = "2026-11-28 10:00 UTC, load 0.50, median of 3";
        let table = &new[new.find("| stack |").unwrap()..];
        // Old rows keep their cells, laid out in the new columns; new rows go after
        // the stack's last row.
        assert_eq!(
            table,
            format!(
                "| stack | tool | wall s | CPU s | wall / decode floor | peak RSS MB | PSNR dB | edge-band PSNR dB | glow % | mean error % | measured |\n\
                 |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n\
                 | s | decode-only floor | 0.75 | | 1.00 | | | | | | {m} |\n\
                 | s | fstack pyramid (no align) | 1.50 | 2.25 | 2.00 | 120 | 27.12 | 21.50 | 0.123 | -0.040 | {m} |\n\
                 | s | fstack tiles | 2.50 | 3.50 | 2.50 | 90 | 27.00 | | | | old |\n\
                 | s | enfuse | 5.00 | 6.00 | 5.00 | 300 | 30.00 | | | | old |\n\
                 | s | per-pixel pick | | | | | 27.12 | no steps | 0.123 | -0.040 | 2026-11-28 10:00 UTC, reference, computed in the bench |\n\
                 | s | fstack focusmap (no align) | failed: exit code 2: error: invalid value 'focusmap' | | | | | | | | {m} |\n\
                 <!-- /bench:table -->\n\nhand notes\n"
            )
        );
        assert!(
            new.starts_with("# B\n\n## Stackers\n\n<!-- bench:table -->\n- Updated 2026-11-28")
        );
        assert!(new.contains("(1, 5, 15 min): 0.50 0.40 0.30."));
        assert!(!new.contains("old intro"));
        // A quality-only run has no floor: no floor row, no ratio.
        let quality_only = [Row { floor: None, ..rows[1].clone() }];
        let section = table_section(&quality_only, &info());
        assert_eq!(
            section.rows,
            [format!(
                "| s | fstack pyramid (no align) | 1.50 | 2.25 | | 120 | 27.12 | 21.50 | 0.123 | -0.040 | {m} |"
            )]
        );
    }
}
