//! Times the frame warp and subsampling on a 24-megapixel frame, wall and CPU time
//! (CPU time from /proc/self/stat, so figures stay meaningful on a shared machine).
//!
//! `cargo run --release -p fs-align --example warp_timing [iterations] [filter]`
//! (only the cases whose name contains `filter`, when given)

use std::time::Instant;

use fs_align::{BorderMode, Interpolation, Transform, small_image, warp_frame};
use fs_core::{BitDepth, ChannelLayout, Frame, FrameInfo, PixelFormat, Samples};

/// User + system CPU seconds of this process (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name (which ends with ')'): utime is the 12th, stime 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn time(name: &str, n: usize, mut run: impl FnMut()) {
    if std::env::args().nth(2).is_some_and(|f| !name.contains(&f)) {
        return;
    }
    run(); // warm-up: page faults of the first output
    let (t0, c0) = (Instant::now(), cpu_seconds());
    for _ in 0..n {
        run();
    }
    let wall = t0.elapsed().as_secs_f64() / n as f64;
    let cpu = (cpu_seconds() - c0) / n as f64;
    println!("{name:40} wall {:7.1} ms   cpu {:7.1} ms", wall * 1e3, cpu * 1e3);
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|v| v.parse().ok()).unwrap_or(5);
    let (w, h) = (6000, 4000);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let format = PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Eight };
    let info = FrameInfo { width: w, height: h, format };
    let f8 = Frame::new(info, Samples::U8((0..w * h * 3).map(|_| next() as u8).collect())).unwrap();
    let format = PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Sixteen };
    let info = FrameInfo { width: w, height: h, format };
    let f16 =
        Frame::new(info, Samples::U16((0..w * h * 3).map(|_| next() as u16).collect())).unwrap();
    let breathing = Transform::scaling_about(1.012, 2999.5, 1999.5);
    let sim = Transform::similarity(1.0, 0.002, 0.37, -1.21).after(&breathing);
    let homography =
        Transform::from_matrix([1.01, 0.002, 0.4, -0.001, 1.0, -1.2, 1e-7, -2e-7, 1.0]).unwrap();
    println!("{} rayon threads, {n} iterations", rayon::current_num_threads());
    for interp in [Interpolation::Bicubic, Interpolation::Bilinear] {
        time(&format!("warp 24 MP RGB8 similarity {interp:?}"), n, || {
            std::hint::black_box(
                warp_frame(&f8, &sim, interp, BorderMode::Replicate, None).unwrap(),
            );
        });
    }
    time("warp 24 MP RGB8 homography Bicubic", n, || {
        let o = warp_frame(&f8, &homography, Interpolation::Bicubic, BorderMode::Replicate, None);
        std::hint::black_box(o.unwrap());
    });
    time("warp 24 MP RGB16 similarity Bicubic", n, || {
        let o = warp_frame(&f16, &sim, Interpolation::Bicubic, BorderMode::Replicate, None);
        std::hint::black_box(o.unwrap());
    });
    time("small_image 24 MP RGB8 factor 4", n, || {
        std::hint::black_box(small_image(&f8, 4));
    });
    time("small_image 24 MP RGB16 factor 4", n, || {
        std::hint::black_box(small_image(&f16, 4));
    });
}
