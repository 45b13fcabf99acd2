//! Times `nl_means_denoise` on one image file, for the side-by-side comparison
//! with OpenCV (`bench/opencv_nlmeans.py` times OpenCV on the same file).
//!
//! ```text
//! cargo run --release -p fs-filters --example nlmeans_time -- \
//!     ../shared/stacks/noisy/0001.jpg [h=3] [runs=3] [out.png]
//! ```
//! Prints the best wall time and the best process CPU time (all threads, from
//! `/proc/self/stat`, Linux only) of `runs` runs (decode not included). On a
//! shared machine the CPU time is the fairer comparison.

use std::path::PathBuf;
use std::time::Instant;

use fs_core::{Frame, WriteOptions, read_frame, write_frame};
use fs_filters::{NlMeansOptions, nl_means_denoise};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().ok_or("usage: nlmeans_time IMAGE [h] [runs] [out]")?);
    let h: f64 = args.next().map_or(Ok(3.0), |s| s.parse())?;
    let runs: usize = args.next().map_or(Ok(3), |s| s.parse())?;
    let out_path = args.next().map(PathBuf::from);
    let frame = read_frame(&path)?;
    let image = frame.to_image::<f32>();
    let options = NlMeansOptions { h, ..NlMeansOptions::default() };
    let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
    let mut out = None;
    for _ in 0..runs.max(1) {
        let (start, start_cpu) = (Instant::now(), cpu_seconds());
        let result = nl_means_denoise(&image, frame.format(), &options)?;
        best = best.min(start.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - start_cpu);
        out = Some(result);
    }
    println!(
        "fs-filters nl_means_denoise: {} {}, h {h}, 7x7 patch, 21x21 search, {} threads: \
         best of {runs}: {best:.3} s wall, {best_cpu:.3} s CPU",
        path.display(),
        frame.info(),
        rayon::current_num_threads(),
    );
    if let (Some(out_path), Some(out)) = (out_path, out) {
        let denoised = Frame::from_image(&out, frame.format())?;
        write_frame(&out_path, &denoised, &WriteOptions::default())?;
    }
    Ok(())
}

/// User + system CPU time of this process so far (NaN where `/proc` is missing).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // Fields after the parenthesised command name; utime and stime are the 12th
    // and 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}
