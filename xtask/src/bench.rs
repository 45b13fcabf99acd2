//! `cargo xtask bench`: whole-run benchmarks of the release `fstack` binary.
//!
//! For each benchmark stack (generated once with the synthetic generator and cached
//! under `target/bench-stacks/`) and each stacker, the release `fstack` runs as a
//! child process several times; the report gives the median wall time, user+sys CPU
//! and peak RSS of the child (from `wait4`'s rusage), the decode-only floor (a child
//! that just decodes every frame once, measured in the same run), the ratio wall /
//! floor, and the PSNR of the result against the generator's known truth.
//!
//! `--peers` runs the same stacks through the tools users would otherwise pick
//! (enfuse with focus-stacking settings, ShineStacker 1.17.4 in a venv under
//! `target/peers/`), in the same run, so ratios between tools are fair on a noisy
//! machine. A peer that is missing is reported as missing.
//!
//! The table is printed and written to `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fs_core::synth::SynthOptions;
use fs_core::{BitDepth, FileFormat, WriteOptions};

use crate::gen_testdata::{StackSpec, bench_dir, bench_set, generate};

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
    /// Only the stacks whose name contains one of these strings.
    #[arg(long = "stack", value_name = "NAME")]
    pub stacks: Vec<String>,
    /// Stackers of fstack to run (default: all it has).
    #[arg(long = "stacker", value_name = "NAME")]
    pub stackers: Vec<String>,
    /// Where to write the Markdown report ("-" = do not write one).
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub report: String,
    /// Instead of the table: the out-of-core case, 6 frames of 12000x8000 RGB 16-bit
    /// TIFF (generated into target/bench-stacks on first use, 3 GB) stacked with
    /// `--stacker auto --memory-limit 1G`, the stacker alone and the default
    /// pipeline; prints peak RSS, wall time and the choice the auto stacker made
    /// (no report file is written).
    #[arg(long)]
    pub big_tiff: bool,
}

/// The quick set: one small stack, for a check while developing.
fn quick_set() -> Vec<StackSpec> {
    let o = SynthOptions { width: 1024, height: 768, frames: 6, ..SynthOptions::default() };
    vec![StackSpec { name: "jpg-1024x768-6".into(), options: o, format: FileFormat::Jpeg }]
}

const FSTACK_STACKERS: &[&str] = &["pyramid", "tiles", "auto", "depthmap"];

/// What one child process used.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    wall: f64,
    cpu: f64,
    peak_rss_mb: f64,
}

/// The outcome of one (stack, tool) cell.
#[derive(Debug, Clone)]
enum Outcome {
    Done { usage: Usage, psnr: Option<f64> },
    Failed(String),
    Missing(String),
}

#[derive(Debug, Clone)]
struct Row {
    stack: String,
    tool: String,
    floor: f64,
    outcome: Outcome,
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
        .filter(|s| args.stacks.is_empty() || args.stacks.iter().any(|f| s.name.contains(f)))
        .collect();
    if specs.is_empty() {
        bail!("no benchmark stack matches {:?}", args.stacks);
    }
    let runs = args.runs.unwrap_or(if args.quick { 1 } else { 3 }).max(1);
    let stackers: Vec<&str> = if args.stackers.is_empty() {
        FSTACK_STACKERS.to_vec()
    } else {
        args.stackers.iter().map(String::as_str).collect()
    };

    eprintln!("bench: building the release fstack binary");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "fs-cli", "--bin", "fstack"])
        .current_dir(root)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p fs-cli failed");
    }
    let fstack = target.join("release").join("fstack");
    if args.big_tiff {
        return run_big_tiff(&fstack, &target, args.runs.unwrap_or(1).max(1));
    }
    let xtask = std::env::current_exe().context("locating the xtask binary")?;

    let peers = if args.peers { Some(Peers::prepare(&target)) } else { None };

    let mut rows = Vec::new();
    for spec in &specs {
        let dir = bench_dir().join(&spec.name);
        let write = WriteOptions { jpeg_quality: 92, ..WriteOptions::default() };
        generate(spec, &dir, &write, false)?;
        let ext = spec.format.extension();
        let truth = dir.join(format!("truth.{ext}"));
        // Pass the frames as files (the way a user lists them on the command line).
        let frames: Vec<PathBuf> = fs_core::list_frames(&dir.join("frames"))?;
        let out_dir = target.join("bench-out").join(&spec.name);
        std::fs::create_dir_all(&out_dir)?;

        eprintln!("bench: {}: decode-only floor", spec.name);
        let mut floor_cmd = Command::new(&xtask);
        floor_cmd.arg("decode-floor").args(&frames);
        let floor = match measure(&mut floor_cmd, runs) {
            Ok(u) => u.wall,
            Err(e) => bail!("decode floor of {}: {e}", spec.name),
        };

        for stacker in &stackers {
            let out = out_dir.join(format!("fstack-{stacker}.{ext}"));
            let mut cmd = Command::new(&fstack);
            cmd.arg("stack").args(&frames).arg("-o").arg(&out).args([
                "--force",
                "--quiet",
                "--stacker",
                stacker,
            ]);
            eprintln!("bench: {}: fstack --stacker {stacker}", spec.name);
            let outcome = cell(&mut cmd, runs, &out, &truth, spec);
            rows.push(Row {
                stack: spec.name.clone(),
                tool: format!("fstack {stacker}"),
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

    let table = render_table(&rows, runs);
    println!("{table}");
    if args.report != "-" {
        let path = root.join(&args.report);
        let doc = render_report(&table, args, runs);
        std::fs::write(&path, doc).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

/// Runs a command `runs` times (after checking it once) and gives the medians.
fn cell(cmd: &mut Command, runs: usize, out: &Path, truth: &Path, spec: &StackSpec) -> Outcome {
    let _ = std::fs::remove_file(out);
    match measure(cmd, runs) {
        Ok(usage) => Outcome::Done { usage, psnr: psnr_against(out, truth, spec).ok() },
        Err(e) => Outcome::Failed(e),
    }
}

/// Runs `cmd` `runs` times; the median of each figure, or the first failure's
/// message (the last line the child printed on stderr).
fn measure(cmd: &mut Command, runs: usize) -> Result<Usage, String> {
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs {
        all.push(run_once(cmd)?);
    }
    let median = |f: fn(&Usage) -> f64| {
        let mut v: Vec<f64> = all.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(Usage {
        wall: median(|u| u.wall),
        cpu: median(|u| u.cpu),
        peak_rss_mb: median(|u| u.peak_rss_mb),
    })
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

/// `--big-tiff`: generates the stack if missing, runs `fstack --stacker auto
/// --memory-limit 1G` on it `runs` times and prints each run's figures and the
/// choice line the auto stacker logged.
fn run_big_tiff(fstack: &Path, target: &Path, runs: usize) -> Result<()> {
    let spec = big_tiff_spec();
    let dir = bench_dir().join(&spec.name);
    generate(&spec, &dir, &WriteOptions::default(), false)?;
    let frames: Vec<PathBuf> = fs_core::list_frames(&dir.join("frames"))?;
    let out_dir = target.join("bench-out").join(&spec.name);
    std::fs::create_dir_all(&out_dir)?;
    let out = out_dir.join("fstack-auto-1G.tif");
    println!("| stack | pipeline | run | wall | user+sys CPU | peak RSS | auto stacker's choice |");
    println!("|---|---|---|---|---|---|---|");
    // The stacker alone (the target), then the default pipeline (align,
    // balance and crop add their own frame copies).
    let pipelines: [(&str, &[&str]); 2] = [
        ("stacker only", &["--no-align", "--no-balance", "--no-crop"]),
        ("default (align, balance, crop)", &[]),
    ];
    for (pipeline, extra) in pipelines {
        let mut cmd = Command::new(fstack);
        cmd.arg("stack").args(&frames).arg("-o").arg(&out).args([
            "--force",
            "--progress",
            "plain",
            "--stacker",
            "auto",
            "--memory-limit",
            "1G",
        ]);
        cmd.args(extra);
        for run in 1..=runs {
            eprintln!("bench: {}: fstack --stacker auto --memory-limit 1G, {pipeline}", spec.name);
            let (usage, text) = run_once_text(&mut cmd).map_err(|e| anyhow::anyhow!(e))?;
            let choice = text
                .lines()
                .find(|l| l.contains("tiled,") || l.contains("in memory"))
                .map_or("(not printed)", str::trim);
            println!(
                "| {} | {pipeline} | {run} | {:.1} s | {:.1} s | {:.0} MB | {} |",
                spec.name,
                usage.wall,
                usage.cpu,
                usage.peak_rss_mb,
                cell_text(choice)
            );
        }
    }
    let _ = std::fs::remove_file(&out);
    Ok(())
}

/// Runs `cmd` once through `xtask measure`, a small process that starts the command
/// and reports its rusage. The indirection matters: on Linux a process keeps the RSS
/// high-water mark of the memory it was started from (vfork + exec records the
/// parent's), so a command started straight from this process, which holds decoded
/// 24-megapixel images for the PSNR, would report this process's peak instead of
/// its own.
fn run_once(cmd: &mut Command) -> Result<Usage, String> {
    run_once_text(cmd).map(|(usage, _)| usage)
}

/// [`run_once`], also returning what the command printed on stderr.
fn run_once_text(cmd: &mut Command) -> Result<(Usage, String), String> {
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

fn psnr_against(out: &Path, truth: &Path, spec: &StackSpec) -> Result<f64> {
    let a: fs_core::Image<f32> = fs_core::read_frame(out)?.to_image();
    let b: fs_core::Image<f32> = fs_core::read_frame(truth)?.to_image();
    // enfuse adds an alpha channel: compare the colour channels the truth has.
    let a = if a.channels() > b.channels() && a.width() == b.width() && a.height() == b.height() {
        let planes = a.planes().take(b.channels()).map(<[f32]>::to_vec).collect();
        fs_core::Image::from_planes(a.width(), a.height(), planes)?
    } else {
        a
    };
    if a.shape() != b.shape() {
        bail!("output is {:?}, truth {:?}", a.shape(), b.shape());
    }
    Ok(fs_core::metrics::psnr(&a, &b, spec.options.depth.max_value()))
}

/// The decode-only floor: decode every frame once (run as a child).
pub fn decode_floor(paths: &[PathBuf]) -> Result<()> {
    let mut pixels = 0usize;
    for p in paths {
        let f = fs_core::read_frame(p)?;
        pixels += f.width() * f.height();
    }
    println!("decoded {} frames, {:.1} megapixels", paths.len(), pixels as f64 / 1e6);
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
        truth: &Path,
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
                rows.push(("enfuse".into(), cell(&mut cmd, runs, &out, truth, spec)));
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
                            let psnr = out.and_then(|o| psnr_against(&o, truth, spec).ok());
                            Outcome::Done { usage, psnr }
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

fn render_table(rows: &[Row], runs: usize) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| stack | tool | wall s (median of {runs}) | CPU s | wall / decode floor | peak RSS MB | PSNR dB |"
    );
    let _ = writeln!(t, "|---|---|---:|---:|---:|---:|---:|");
    let mut last_stack = "";
    for r in rows {
        if r.stack != last_stack {
            let _ =
                writeln!(t, "| {} | decode-only floor | {:.2} | | 1.00 | | |", r.stack, r.floor);
            last_stack = &r.stack;
        }
        match &r.outcome {
            Outcome::Done { usage, psnr } => {
                let psnr = psnr.map(|p| format!("{p:.2}")).unwrap_or_else(|| "n/a".into());
                let _ = writeln!(
                    t,
                    "| {} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {} |",
                    r.stack,
                    r.tool,
                    usage.wall,
                    usage.cpu,
                    usage.wall / r.floor,
                    usage.peak_rss_mb,
                    psnr
                );
            }
            Outcome::Failed(e) => {
                let _ =
                    writeln!(t, "| {} | {} | failed: {} | | | | |", r.stack, r.tool, cell_text(e));
            }
            Outcome::Missing(e) => {
                let _ =
                    writeln!(t, "| {} | {} | missing: {} | | | | |", r.stack, r.tool, cell_text(e));
            }
        }
    }
    t
}

fn cell_text(s: &str) -> String {
    let s: String = s.replace('|', "/").chars().take(120).collect();
    s
}

fn render_report(table: &str, args: &BenchArgs, runs: usize) -> String {
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
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut cmd = String::from("cargo xtask bench");
    if args.quick {
        cmd.push_str(" --quick");
    }
    if args.peers {
        cmd.push_str(" --peers");
    }
    format!(
        "# Benchmarks\n\n\
         Produced by `{cmd}` (this file is written by it; do not edit by hand).\n\n\
         - Date: {date}\n\
         - Machine: {cpus}, {cores} cores, {mem}\n\
         - Each cell: median of {runs} runs of a separate process; CPU = user + sys;\n  \
         peak RSS from the child's rusage. The decode-only floor is a process that just\n  \
         decodes every frame once, measured in the same run. PSNR is against the\n  \
         generator's known all-in-focus truth.\n\
         - Stacks are synthetic (`cargo xtask gen-testdata`), cached under\n  \
         `target/bench-stacks/`.\n\n\
         {table}"
    )
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
