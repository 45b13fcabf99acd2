//! Measures the depth-map stacker against the decode-only floor in one process: wall
//! time, CPU time (user + sys, from `getrusage`) and peak RSS. The figures in the
//! crate docs ("Performance") come from this program.
//!
//! ```text
//! cargo run --release -p fs-depthmap --example depthmap_profile -- <stack> [options]
//!   <stack>            a folder of frames, or a generated stack with `frames/` inside
//!   --frames N         use the first N frames only
//!   --repeat R         repeat floor and stack R times (default 1)
//!   --twice            decode every frame twice (`stack_twice`) instead of `stack`
//!   --no-floor         skip the decode-only floor
//!   --map average|max  --smooth D (energy_smooth_size)  --depth (plot_depth_map)
//! ```
//! The floor decodes every frame once and drops it; it runs first so the peak RSS
//! printed after the stack is the stack's own (the floor needs far less).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use fs_core::{NoProgress, PathFrames, read_frame};
use fs_depthmap::{DepthMapOptions, DepthMapStack, MapType};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// User + system CPU seconds of the process so far, and its peak RSS in MB.
fn usage() -> (f64, f64) {
    // SAFETY: getrusage fills the zeroed struct it is given; RUSAGE_SELF is valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (secs(ru.ru_utime) + secs(ru.ru_stime), ru.ru_maxrss as f64 / 1024.0)
}

fn frames_in(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let dir = if dir.join("frames").is_dir() { dir.join("frames") } else { dir.to_path_buf() };
    let mut paths = fs_core::list_frames(&dir)?;
    paths.retain(|p| {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        stem != "truth" && stem != "depth"
    });
    Ok(paths)
}

/// Runs `f`, returning its wall and CPU seconds.
fn timed<R>(
    f: impl FnOnce() -> Result<R, Box<dyn std::error::Error>>,
) -> Result<(R, f64, f64), Box<dyn std::error::Error>> {
    let (cpu0, _) = usage();
    let t = Instant::now();
    let r = f()?;
    let wall = t.elapsed().as_secs_f64();
    Ok((r, wall, usage().0 - cpu0))
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().ok_or("usage: depthmap_profile <stack> [options]")?);
    let mut o = DepthMapOptions::default();
    let (mut limit, mut repeat, mut twice, mut floor) = (usize::MAX, 1, false, true);
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--frames" => limit = val()?.parse()?,
            "--repeat" => repeat = val()?.parse()?,
            "--twice" => twice = true,
            "--no-floor" => floor = false,
            "--depth" => o.plot_depth_map = true,
            "--smooth" => o.energy_smooth_size = val()?.parse()?,
            "--map" => {
                o.map_type = match val()?.as_str() {
                    "average" => MapType::Average,
                    "max" => MapType::Max,
                    other => return Err(format!("unknown map type {other}").into()),
                }
            }
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let mut paths = frames_in(&dir)?;
    paths.truncate(limit);
    let info = fs_core::check_stack(&paths)?;
    println!("{} frames of {info}, {} rayon threads", paths.len(), rayon::current_num_threads());
    let stacker = DepthMapStack::new(o)?;
    for _ in 0..repeat {
        let mut floor_wall = f64::NAN;
        if floor {
            let ((), wall, cpu) = timed(|| {
                for p in &paths {
                    std::hint::black_box(read_frame(p)?);
                }
                Ok(())
            })?;
            println!("floor (decode once): wall {wall:6.2} s  cpu {cpu:6.2} s");
            floor_wall = wall;
        }
        let (result, wall, cpu) = timed(|| {
            Ok(if twice {
                stacker.stack_twice(|| PathFrames::new(paths.clone()), &NoProgress)?
            } else {
                stacker.stack_paths(&paths, &NoProgress)?
            })
        })?;
        println!(
            "stack{}: wall {wall:6.2} s  cpu {cpu:6.2} s  wall/floor {:.2}x  peak RSS {:.0} MB",
            if twice { " (twice)" } else { "" },
            wall / floor_wall,
            usage().1
        );
        std::hint::black_box(result);
    }
    Ok(())
}
