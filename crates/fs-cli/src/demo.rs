//! `fstack demo`: the main job on an embedded default.
//!
//! Renders the default synthetic stack of `fs_core::synth` (a scene with a known
//! all-in-focus truth) as PNG frames, stacks them with fstack's default stacker
//! (`fs_job::Stacker::default()`, FocusMapStack, with its default options), and
//! reports the PSNR of the result and of the best single frame against the truth: a
//! stacker that works beats every frame.
//!
//! Layout of the demo folder: `frames/frame_001.png ...`, `truth.png`, `depth.png`
//! (the scene's depth, 0 = nearest) and `stacked.png`; `fstack stack <dir>/frames`
//! stacks the same frames again with any options.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{FileFormat, Frame, Progress, WriteOptions, metrics, read_frame, write_frame};
use fs_job::{StackSpec, Stacker};

use crate::cli::DemoArgs;
use crate::report::{self, FramesSummary, Summary, Timings};
use crate::{Context, Interrupted, progress};

/// `fstack demo`.
pub fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let synth_options = SynthOptions {
        width: args.size.0,
        height: args.size.1,
        frames: args.frames,
        ..SynthOptions::default()
    };
    #[cfg(feature = "raw")]
    let synth_options = if args.raw {
        // A Bayer camera's frames: 16-bit, band-limited by the lens and its filter.
        SynthOptions { depth: fs_core::BitDepth::Sixteen, lens_blur: 2.0, ..synth_options }
    } else {
        synth_options
    };
    #[cfg(feature = "raw")]
    let raw = args.raw;
    #[cfg(not(feature = "raw"))]
    let raw = false;
    let synth = SynthStack::new(synth_options).map_err(|e| match e {
        fs_core::CoreError::InvalidOption { name, reason } => {
            let flag = if name == "frames" { "--frames" } else { "--size" };
            anyhow::Error::new(crate::UsageError(format!("invalid value for {flag}: {reason}")))
        }
        other => other.into(),
    })?;

    // The folder: --out (created if missing; refused if it holds files, unless --force),
    // or a new folder in the temporary directory, kept so the user can look.
    let (dir, created) = match &args.out {
        Some(d) => {
            if d.is_dir() && std::fs::read_dir(d)?.next().is_some() && !args.force {
                bail!(
                    "{}: already holds files; use --force to overwrite the demo's files, or \
                     --out to choose another folder",
                    d.display()
                );
            }
            let created = !d.exists();
            std::fs::create_dir_all(d)
                .with_context(|| format!("{}: cannot create the folder", d.display()))?;
            (d.clone(), created)
        }
        None => {
            let d = tempfile::Builder::new()
                .prefix("fstack-demo-")
                .tempdir()
                .context("cannot create a folder in the temporary directory")?
                .keep();
            (d, true)
        }
    };
    let result = demo_in(ctx, &synth, &dir, raw, start);
    if result.is_err() && created {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn demo_in(
    ctx: &Context,
    synth: &SynthStack,
    dir: &Path,
    raw: bool,
    start: Instant,
) -> anyhow::Result<()> {
    let reporter = ctx.reporter().hide_action();
    let n = synth.frame_count();
    let result = (|| -> anyhow::Result<(PathBuf, Vec<PathBuf>, f64, f64, usize, f64)> {
        // Frames, truth and depth map: PNG, lossless, so the PSNR measures the stacker.
        // Frames in <dir>/frames (so `fstack stack <dir>/frames` works), the truth and
        // depth map beside that folder.
        // With --raw, Bayer DNG frames and a 16-bit TIFF truth instead.
        let files = if raw {
            write_raw(synth, dir)?
        } else {
            synth.write_stack_with_progress(
                dir,
                FileFormat::Png,
                &WriteOptions::default(),
                &reporter,
            )?
        };
        if ctx.cancel.is_set() {
            return Err(Interrupted.into());
        }
        let stack_start = Instant::now();
        let stacked = fs_job::stack_files(&files.frames, &StackSpec::default(), &reporter)?.image;
        let stack_seconds = stack_start.elapsed().as_secs_f64();
        let output = dir.join(if raw { "stacked.tif" } else { "stacked.png" });
        write_frame(&output, &stacked, &WriteOptions::default())?;

        reporter.phase("measure", n as u64);
        let truth = read_frame(&files.truth)?;
        let max = truth.format().depth.max_value();
        let truth_img = truth.to_image::<f32>();
        let psnr = |f: &Frame| metrics::psnr(&f.to_image::<f32>(), &truth_img, max);
        let result_psnr = psnr(&stacked);
        let mut best = (f64::NEG_INFINITY, 0);
        for (k, path) in files.frames.iter().enumerate() {
            let p = psnr(&read_frame(path)?);
            if p > best.0 {
                best = (p, k);
            }
            reporter.step(k as u64 + 1);
        }
        Ok((output, files.frames, result_psnr, best.0, best.1, stack_seconds))
    })();
    if result.is_err() {
        reporter.abandon();
    }
    let (output, frames, result_psnr, best_psnr, best_frame, stack_seconds) = result?;
    let phases = reporter.finish();
    let elapsed = start.elapsed();
    let stacker = Stacker::default();

    if ctx.global.json {
        Summary {
            fstack_version: env!("CARGO_PKG_VERSION"),
            command: "demo",
            inputs: frames.clone(),
            outputs: vec![output.clone()],
            stacker: Some(stacker.name().into()),
            options: match &stacker {
                Stacker::FocusMap(o) => crate::stack::focus_map_json(o),
                _ => serde_json::json!({}),
            },
            frames: Some(FramesSummary::new(frames.len(), synth.info())),
            timings: Timings { phases, total_seconds: elapsed.as_secs_f64() },
            peak_memory_bytes: report::peak_memory_bytes(),
            results: serde_json::json!({
                "folder": dir,
                "truth": files_truth(dir, raw),
                "psnr_result_db": result_psnr,
                "psnr_best_frame_db": best_psnr,
                "best_frame": frames[best_frame],
                "stack_seconds": stack_seconds,
            }),
        }
        .print()?;
    } else if ctx.text() {
        let info = synth.info();
        println!(
            "demo stack: {} frames of {info} in {}",
            frames.len(),
            dir.join("frames").display()
        );
        println!(
            "stacked with {} in {} (reading frames included; whole demo {}): {}",
            stacker.name(),
            progress::seconds(std::time::Duration::from_secs_f64(stack_seconds)),
            progress::seconds(elapsed),
            output.display()
        );
        println!("PSNR against the truth: result {result_psnr:.2} dB");
        println!(
            "                        best single frame {best_psnr:.2} dB ({})",
            frames[best_frame].file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        );
        let verdict = if result_psnr > best_psnr { "better" } else { "NOT better" };
        println!("the stack is {verdict} than every frame by {:.2} dB", result_psnr - best_psnr);
    }
    Ok(())
}

#[cfg(feature = "raw")]
fn write_raw(synth: &SynthStack, dir: &Path) -> fs_core::Result<fs_core::synth::StackFiles> {
    synth.write_dng_stack(dir, &fs_core::synth::RawOptions::default())
}

#[cfg(not(feature = "raw"))]
fn write_raw(_synth: &SynthStack, _dir: &Path) -> fs_core::Result<fs_core::synth::StackFiles> {
    unreachable!("--raw exists only with the raw feature")
}

/// Where the truth is: beside the frames, PNG (TIFF for a RAW demo).
fn files_truth(dir: &Path, raw: bool) -> PathBuf {
    dir.join(if raw { "truth.tif" } else { "truth.png" })
}
