//! Stacks every frame of a folder with PyramidStack and prints timings; for
//! measuring speed and memory (run it under `/usr/bin/time -v` for the peak RSS).
//!
//! ```text
//! cargo run --release -p fs-pyramid --example pyramid_stack_folder -- DIR [options]
//!   --out FILE         write the result (default: not written)
//!   --decode-only      only decode every frame once (the decode-only floor)
//!   --repeat N         feed the folder's frames N times over (memory vs frame count)
//!   --f64              compute in f64
//!   --noise-guard G    the noise guard (default 3; 0: the spec's plain rule)
//!   --generate W H N   first render a synthetic N-frame WxH JPEG stack into DIR
//!                      (fs_core::synth) if DIR has no frames yet
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{FileFormat, FloatType, PathFrames, Progress, WriteOptions};
use fs_pyramid::{PyramidOptions, PyramidStack};

/// Prints one line per frame with the time since the start.
struct Timeline(Instant);

impl Progress for Timeline {
    fn step(&self, done: u64) {
        eprintln!("  frame {done:>3} done at {:6.2} s", self.0.elapsed().as_secs_f64());
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let (mut out, mut decode_only, mut repeat, mut f64, mut generate) =
        (None, false, 1usize, false, None);
    let mut noise_guard = PyramidOptions::default().noise_guard;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a file")?)),
            "--decode-only" => decode_only = true,
            "--repeat" => repeat = args.next().ok_or("--repeat needs N")?.parse()?,
            "--f64" => f64 = true,
            "--noise-guard" => noise_guard = args.next().ok_or("--noise-guard needs G")?.parse()?,
            "--generate" => {
                let mut n = || -> Result<usize, Box<dyn std::error::Error>> {
                    Ok(args.next().ok_or("--generate needs W H N")?.parse()?)
                };
                generate = Some((n()?, n()?, n()?));
            }
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            other => return Err(format!("unexpected argument {other}").into()),
        }
    }
    let dir = dir.ok_or(
        "usage: pyramid_stack_folder DIR [--out FILE] [--decode-only] [--repeat N] [--f64] \
         [--noise-guard G] [--generate W H N]",
    )?;
    if let Some((width, height, frames)) = generate
        && fs_core::list_frames(&dir).is_err()
    {
        let t = Instant::now();
        let synth = SynthStack::new(SynthOptions { width, height, frames, ..Default::default() })?;
        let tmp = dir.join("generated");
        let files = synth.write_stack(&tmp, FileFormat::Jpeg, &WriteOptions::default())?;
        // Only the frames go into DIR; truth and depth stay in DIR/generated.
        for f in &files.frames {
            std::fs::rename(f, dir.join(f.file_name().expect("file")))?;
        }
        eprintln!("generated {frames} frames in {:.1} s", t.elapsed().as_secs_f64());
    }
    let one: Vec<PathBuf> = fs_core::list_frames(&dir)?;
    let paths: Vec<PathBuf> = (0..repeat).flat_map(|_| one.iter().cloned()).collect();
    let start = Instant::now();
    let info = fs_core::check_stack(&paths)?;
    eprintln!(
        "{} frames of {info}, headers checked in {:.3} s",
        paths.len(),
        start.elapsed().as_secs_f64()
    );
    if decode_only {
        let t = Instant::now();
        for f in PathFrames::new(paths.clone()) {
            std::hint::black_box(f?);
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "decode-only: {s:.2} s for {} frames ({:.3} s a frame)",
            paths.len(),
            s / paths.len() as f64
        );
        return Ok(());
    }
    let float_type = if f64 { FloatType::F64 } else { FloatType::F32 };
    let stacker =
        PyramidStack::new(PyramidOptions { float_type, noise_guard, ..Default::default() })?;
    let t = Instant::now();
    let frame = stacker.stack(PathFrames::new(paths.clone()), &Timeline(t))?;
    let s = t.elapsed().as_secs_f64();
    let mpx = (info.width * info.height) as f64 / 1e6;
    println!(
        "stacked {} frames of {info} in {s:.2} s ({:.1} megapixel-frames/s)",
        paths.len(),
        mpx * paths.len() as f64 / s
    );
    if let Some(out) = out {
        fs_core::write_frame(&out, &frame, &WriteOptions::default())?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
