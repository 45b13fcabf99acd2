//! The many-stacks benches of `cargo xtask bench` (issue #18), each its own section
//! of docs/benchmarks.md:
//!
//! - `--python` ([`run_python`]): the Python call's overhead. `fstack.stack` on a
//!   10-frame 2 MP stack held in memory (numpy arrays decoded beforehand, the call
//!   alone timed inside the interpreter) against the release `fstack stack` on the
//!   same frames as a whole process, both the default stacker alone (no alignment,
//!   no balance, no crop), the frames uncompressed TIFF so that the CLI's reading and
//!   writing cost little; the decode-only floor of those frames is given too, and the
//!   ratio against the CLI minus that floor (the strict bound). Pairs of runs back to
//!   back; the ratios are the medians of the pairs'. The wheel is built in release
//!   (`maturin develop --release`) into the virtual environment `cargo xtask test`
//!   makes (`target/py`).
//! - `--batch` ([`run_batch`]): `fstack batch` on 40 stacks of 10 frames of 1 MP
//!   (JPEG, default pipeline) against `fstack stack` run on each of them one after
//!   another; throughput is stacks per second, the ratio sequential wall / batch wall.
//!
//! The stacks are generated once and cached under `target/bench-stacks/` like the
//! other bench stacks.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use fs_core::synth::SynthOptions;
use fs_core::{FileFormat, WriteOptions};

use crate::bench::{RunInfo, Usage, machine, run_once, run_once_text};
use crate::gen_testdata::{BENCH_JPEG_QUALITY, StackSpec, bench_dir, generate};
use crate::report::{Section, row};

/// What the Python process prints on stderr before the call's seconds.
const PY_TAG: &str = "fstack-py-seconds:";

/// The interpreter's side of `--python`: decode the frames (not timed), time one
/// `fstack.stack` call on them.
const PY_SCRIPT: &str = r#"
import sys, time
import fstack
frames = [fstack.imread(p) for p in sys.argv[1:]]
start = time.perf_counter()
out = fstack.stack(frames, align=False, balance=False)
seconds = time.perf_counter() - start
assert out.shape == frames[0].shape, (out.shape, frames[0].shape)
print("fstack-py-seconds:", seconds, file=sys.stderr)
"#;

/// The stack of `--python`: 10 frames of 1632x1224 (2.0 MP) RGB 8-bit TIFF.
fn python_spec() -> StackSpec {
    let options = SynthOptions { width: 1632, height: 1224, frames: 10, ..SynthOptions::default() };
    StackSpec { name: "tif-1632x1224-10".into(), options, format: FileFormat::Tiff }
}

/// `--python`: see the module docs.
pub fn run_python(
    root: &Path,
    target: &Path,
    fstack: &Path,
    info: &RunInfo,
) -> Result<Section<'static>> {
    let venv = target.join("py");
    crate::test::make_venv(&venv, &root.join("crates/fs-python/requirements-test.txt"))?;
    eprintln!("bench: maturin develop --release (crates/fs-python) into {}", venv.display());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(venv.join("bin").join("maturin"))
        .args(["develop", "--release", "--locked", "--manifest-path"])
        .arg(root.join("crates/fs-python/Cargo.toml"))
        .env("VIRTUAL_ENV", &venv)
        .env("CARGO", &cargo)
        .current_dir(root)
        .status()
        .context("running maturin")?;
    if !status.success() {
        bail!("maturin develop --release failed");
    }
    let spec = python_spec();
    let dir = bench_dir().join(&spec.name);
    generate(&spec, &dir, &WriteOptions::default(), false)?;
    let frames = fs_core::list_frames(&dir.join("frames"))?;
    let out_dir = target.join("bench-out").join(&spec.name);
    std::fs::create_dir_all(&out_dir)?;

    let mut cli = Command::new(fstack);
    cli.arg("stack").args(&frames).arg("-o").arg(out_dir.join("fstack.tif")).args([
        "--force",
        "--quiet",
        "--no-align",
        "--no-balance",
        "--no-crop",
    ]);
    let mut py = Command::new(venv.join("bin").join("python"));
    py.args(["-c", PY_SCRIPT]).args(&frames);
    let xtask = std::env::current_exe().context("locating the xtask binary")?;
    let mut floor = Command::new(&xtask);
    floor.arg("decode-floor").args(&frames);

    let (mut py_s, mut cli_s, mut floor_s, mut ratios, mut strict) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 1..=info.runs {
        eprintln!("bench: {}: pair {run}: fstack stack, fstack.stack, decode floor", spec.name);
        let c = run_once(&mut cli).map_err(|e| anyhow::anyhow!("fstack stack: {e}"))?;
        let (_, text) = run_once_text(&mut py).map_err(|e| anyhow::anyhow!("python: {e}"))?;
        let p: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(PY_TAG))
            .and_then(|s| s.trim().parse().ok())
            .with_context(|| format!("python printed no timing: {text}"))?;
        let f = run_once(&mut floor).map_err(|e| anyhow::anyhow!("decode floor: {e}"))?;
        eprintln!("bench:   cli {:.3} s, python call {p:.3} s, floor {:.3} s", c.wall, f.wall);
        ratios.push(p / c.wall);
        strict.push(p / (c.wall - f.wall));
        py_s.push(p);
        cli_s.push(c.wall);
        floor_s.push(f.wall);
    }
    let cells = vec![
        format!("{} (10 x 2.0 MP RGB 8-bit TIFF)", spec.name),
        format!("{:.3}", median(&py_s)),
        format!("{:.3}", median(&cli_s)),
        format!("{:.3}", median(&floor_s)),
        format!("{:.3}", median(&ratios)),
        format!("{:.3}", median(&strict)),
        info.measured(),
    ];
    let intro = format!(
        "{}- Machine: {}\n\
         - The Python call against the CLI, the default stacker alone on both sides:\n  \
         `fstack.stack(frames, align=False, balance=False)` on the frames held as numpy\n  \
         arrays (decoded beforehand with `fstack.imread`; the call alone timed with\n  \
         `time.perf_counter` in a fresh interpreter, the release wheel built by `maturin\n  \
         develop --release` into `target/py`) against the whole release process `fstack\n  \
         stack FRAMES -o out.tif --no-align --no-balance --no-crop`, and the decode-only\n  \
         floor of the frames (`xtask decode-floor`). The frames are uncompressed TIFF, so\n  \
         the CLI's decode and encode are small; \"call / CLI\" charges the CLI with them\n  \
         and its process start, \"call / (CLI - floor)\" does not charge it with the\n  \
         decode (the strict bound). Target (issue #18): at most 1.05. Runs in pairs back\n  \
         to back; times and ratios are medians of the pairs.\n",
        info.updated(),
        machine()
    );
    Ok(Section {
        name: "python",
        heading: "Python call overhead (issue #18)",
        intro,
        header: "| stack | fstack.stack call s | fstack stack s | decode floor s | call / CLI | call / (CLI - floor) | measured |\n\
                 |---|---:|---:|---:|---:|---:|---|\n"
            .into(),
        rows: vec![row(&cells)],
        key_columns: 1,
    })
}

/// Stacks in the `--batch` bench, and distinct generated scenes among them (each
/// scene's frames are hard-linked into `STACKS / SCENES` stack folders).
const STACKS: usize = 40;
const SCENES: usize = 8;

/// The root of `--batch`: `STACKS` folders `s01`..`s40` of 10 frames of 1152x864
/// (1.0 MP) RGB JPEG, made once (links to `SCENES` generated stacks).
fn batch_root() -> Result<PathBuf> {
    let write = WriteOptions { jpeg_quality: BENCH_JPEG_QUALITY, ..WriteOptions::default() };
    let mut scenes = Vec::new();
    for k in 0..SCENES {
        let options = SynthOptions {
            width: 1152,
            height: 864,
            frames: 10,
            seed: SynthOptions::default().seed + k as u64,
            ..SynthOptions::default()
        };
        let name = format!("jpg-1152x864-10-seed{k}");
        let spec = StackSpec { name: name.clone(), options, format: FileFormat::Jpeg };
        let dir = bench_dir().join(&name);
        generate(&spec, &dir, &write, false)?;
        scenes.push(fs_core::list_frames(&dir.join("frames"))?);
    }
    let root = bench_dir().join(format!("batch-{STACKS}x10-1152x864"));
    for i in 0..STACKS {
        let dir = root.join(format!("s{:02}", i + 1));
        std::fs::create_dir_all(&dir)?;
        for frame in &scenes[i % SCENES] {
            let link = dir.join(frame.file_name().context("a frame has a name")?);
            let _ = std::fs::remove_file(&link);
            std::fs::hard_link(frame, &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }
    Ok(root)
}

/// `--batch`: see the module docs.
pub fn run_batch(target: &Path, fstack: &Path, info: &RunInfo) -> Result<Section<'static>> {
    let root = batch_root()?;
    let out = target.join("bench-out").join("batch");
    let (mut seq_s, mut batch_s, mut ratios, mut batch_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 1..=info.runs {
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(out.join("one-by-one"))?;
        eprintln!("bench: batch: run {run}: fstack stack on {STACKS} stacks one after another");
        let mut seq = 0.0;
        for i in 0..STACKS {
            let id = format!("s{:02}", i + 1);
            let mut cmd = Command::new(fstack);
            cmd.arg("stack")
                .arg(root.join(&id))
                .arg("-o")
                .arg(out.join("one-by-one").join(format!("{id}.jpg")))
                .args(["--force", "--quiet"]);
            seq += run_once(&mut cmd).map_err(|e| anyhow::anyhow!("fstack stack {id}: {e}"))?.wall;
        }
        eprintln!("bench: batch: run {run}: fstack batch");
        let mut cmd = Command::new(fstack);
        cmd.arg("batch").arg(&root).arg("-o").arg(out.join("batch")).args(["--force", "--quiet"]);
        let b: Usage = run_once(&mut cmd).map_err(|e| anyhow::anyhow!("fstack batch: {e}"))?;
        eprintln!("bench:   one by one {seq:.2} s, batch {:.2} s", b.wall);
        ratios.push(seq / b.wall);
        seq_s.push(seq);
        batch_s.push(b.wall);
        batch_cpu.push(b.cpu);
    }
    let per_s = |s: f64| STACKS as f64 / s;
    let cells = vec![
        format!("{STACKS} x 10 x 1.0 MP JPEG (default pipeline)"),
        format!("{:.2}", median(&seq_s)),
        format!("{:.2}", per_s(median(&seq_s))),
        format!("{:.2}", median(&batch_s)),
        format!("{:.2}", median(&batch_cpu)),
        format!("{:.2}", per_s(median(&batch_s))),
        format!("{:.2}", median(&ratios)),
        info.measured(),
    ];
    let intro = format!(
        "{}- Machine: {}\n\
         - `fstack batch ROOT -o OUT --force` (stacks side by side, one per core by\n  \
         default) against `fstack stack ROOT/sNN -o OUT/sNN.jpg --force` run on each stack\n  \
         one after another (the sum of the processes' walls), release build, default\n  \
         pipeline (alignment, balance, crop), on `target/bench-stacks/batch-{STACKS}x10-1152x864`:\n  \
         {STACKS} folders of 10 frames of 1152x864 RGB JPEG ({SCENES} generated scenes, each\n  \
         linked into {} folders). Target (issue #18): batch throughput at least 1.7x on\n  \
         this 2-core machine. Medians of the runs; the ratio is the median of each run's.\n",
        info.updated(),
        machine(),
        STACKS / SCENES
    );
    Ok(Section {
        name: "batch",
        heading: "Many stacks: fstack batch (issue #18)",
        intro,
        header: "| stacks | one by one s | one by one stacks/s | batch s | batch CPU s | batch stacks/s | throughput ratio | measured |\n\
                 |---|---:|---:|---:|---:|---:|---:|---|\n"
            .into(),
        rows: vec![row(&cells)],
        key_columns: 1,
    })
}

/// The median (the upper one for an even count).
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
