//! Frame decode and float conversion throughput.
//!
//! `cargo bench -p fs-core --bench io`. Element counts are pixels, so criterion's
//! "elem/s" reads directly as pixels per second. The decode input is a 2048x1536
//! JPEG (quality 95) rendered here from a fixed seed; with FS_REAL_STACKS set, a
//! real 2048x1536 camera JPEG (pcb/pcb_001.jpg) is decoded too.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fs_core::{
    BitDepth, ChannelLayout, Frame, FrameInfo, Image, PixelFormat, Samples, WriteOptions,
    read_frame, write_frame,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A photo-like RGB frame: smooth gradients, fine texture and a little noise.
fn synthetic_frame(w: usize, h: usize, depth: BitDepth, seed: u64) -> Frame {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let max = depth.max_value();
    let mut v = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f64 / w as f64, y as f64 / h as f64);
            let texture = ((x as f64 * 0.31).sin() * (y as f64 * 0.17).cos()) * 0.15;
            for c in 0..3 {
                let t = 0.3 + 0.4 * (fx * (1.0 + c as f64 * 0.3) + fy) / 2.5 + texture;
                let noise: f64 = rng.random_range(-0.01..0.01);
                v.push(((t + noise) * max).round().clamp(0.0, max));
            }
        }
    }
    let format = PixelFormat { layout: ChannelLayout::Rgb, depth };
    let samples = match depth {
        BitDepth::Eight => Samples::U8(v.iter().map(|&s| s as u8).collect()),
        BitDepth::Sixteen => Samples::U16(v.iter().map(|&s| s as u16).collect()),
    };
    Frame::new(FrameInfo { width: w, height: h, format }, samples).unwrap()
}

fn quick(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("io");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g
}

fn decode(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = dir.path().join("bench-2048x1536.jpg");
    write_frame(&jpeg, &synthetic_frame(2048, 1536, BitDepth::Eight, 7), &WriteOptions::default())
        .unwrap();
    let mut inputs: Vec<(&str, PathBuf)> = vec![("decode_jpeg_2048x1536_synthetic", jpeg)];
    if let Some(stacks) = std::env::var_os("FS_REAL_STACKS") {
        let real = Path::new(&stacks).join("pcb/pcb_001.jpg");
        assert!(real.is_file(), "FS_REAL_STACKS set but {} is missing", real.display());
        inputs.push(("decode_jpeg_2048x1536_camera", real));
    }
    let mut g = quick(c);
    for (name, path) in &inputs {
        g.throughput(Throughput::Elements(2048 * 1536));
        g.bench_function(*name, |b| b.iter(|| black_box(read_frame(path).unwrap())));
    }
    g.finish();
}

fn convert(c: &mut Criterion) {
    // 24 megapixels, 6000x4000 RGB.
    let (w, h) = (6000, 4000);
    let mut g = quick(c);
    g.throughput(Throughput::Elements((w * h) as u64));
    for depth in [BitDepth::Eight, BitDepth::Sixteen] {
        let frame = synthetic_frame(w, h, depth, 11);
        let bits = depth.bits();
        g.bench_function(format!("to_image_f32_24mp_rgb{bits}"), |b| {
            b.iter(|| black_box(frame.to_image::<f32>()))
        });
        let mut image: Image<f32> = frame.to_image();
        g.bench_function(format!("to_image_into_f32_24mp_rgb{bits}"), |b| {
            b.iter(|| frame.to_image_into(black_box(&mut image)).unwrap())
        });
        let format = frame.format();
        g.bench_function(format!("from_image_f32_24mp_rgb{bits}"), |b| {
            b.iter(|| black_box(Frame::from_image(&image, format).unwrap()))
        });
    }
    g.finish();
}

/// Decoding and developing a 24-megapixel Bayer DNG (14-bit RGGB, black level, colour
/// cast): what every frame of a RAW stack costs before stacking. Compare with LibRaw
/// (rawpy, AHD) on the same file, one core each: docs/benchmarks.md.
#[cfg(feature = "raw")]
fn develop(c: &mut Criterion) {
    use fs_core::synth::{RawOptions, SynthOptions, SynthStack};
    let (w, h) = (6000, 4000);
    let dir = tempfile::tempdir().unwrap();
    let options = SynthOptions {
        width: w,
        height: h,
        frames: 2,
        depth: BitDepth::Sixteen,
        ..Default::default()
    };
    let stack = SynthStack::new(options).unwrap();
    let files = stack.write_dng_stack(dir.path(), &RawOptions::default()).unwrap();
    let mut g = quick(c);
    g.throughput(Throughput::Elements((w * h) as u64));
    g.bench_function("develop_dng_24mp_rggb14", |b| {
        b.iter(|| black_box(read_frame(&files.frames[0]).unwrap()))
    });
    g.finish();
}

#[cfg(not(feature = "raw"))]
fn develop(_c: &mut Criterion) {}

criterion_group!(benches, decode, convert, develop);
criterion_main!(benches);
