//! Times each filter once on a 24-megapixel (6000 x 4000) RGB image with
//! fixed-seed content: a quick look at the figures the criterion benches
//! (`benches/filters.rs`) measure properly. Prints wall and process CPU time
//! (all threads, from `/proc/self/stat`, Linux only).
//!
//! ```text
//! cargo run --release -p fs-filters --example filters_24mp
//! ```

use std::time::Instant;

use fs_core::{BitDepth, ChannelLayout, Image, PixelFormat, PlaneMut};
use fs_filters::{
    BilateralOptions, NlMeansOptions, UnsharpOptions, bilateral_filter, nl_means_denoise,
    unsharp_mask,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const W: usize = 6000;
const H: usize = 4000;

fn main() -> Result<(), fs_filters::FilterError> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let planes = (0..3)
        .map(|c| {
            (0..W * H)
                .map(|i| {
                    let (x, y) = ((i % W) as f32, (i / W) as f32);
                    let base = 128.0 + 60.0 * ((x * 0.01 + c as f32).sin() * (y * 0.013).cos());
                    base + rng.random_range(-8.0f32..8.0)
                })
                .collect()
        })
        .collect();
    let img = Image::from_planes(W, H, planes)?;
    let format = PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Eight };
    println!("24 MP RGB, {} threads", rayon::current_num_threads());

    let (start, cpu) = (Instant::now(), cpu_seconds());
    let o = UnsharpOptions { amount_percent: 80.0, radius: 1.0, threshold: 1.0 };
    unsharp_mask(&img, format, &o)?;
    println!(
        "unsharp_mask radius 1: {:.2} s wall, {:.2} s CPU",
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );

    let (start, cpu) = (Instant::now(), cpu_seconds());
    let o = BilateralOptions { diameter: 5, sigma_color: 10.0, sigma_space: 2.0 };
    let mut dst = vec![0.0f32; W * H];
    bilateral_filter(img.plane(0), PlaneMut::new(&mut dst, W, H)?, &o)?;
    println!(
        "bilateral_filter d 5, one plane: {:.2} s wall, {:.2} s CPU",
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );

    let (start, cpu) = (Instant::now(), cpu_seconds());
    let o = NlMeansOptions { h: 3.0, ..NlMeansOptions::default() };
    nl_means_denoise(&img, format, &o)?;
    println!(
        "nl_means_denoise 7x7 / 21x21: {:.2} s wall, {:.2} s CPU",
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );
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
