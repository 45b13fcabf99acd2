//! Criterion benchmarks of warping, subsampling and gain application on a fixed-seed
//! 24-megapixel (6000x4000) RGB 8-bit frame.
//!
//! `cargo bench -p fs-align --bench warp`; figures are recorded in `src/warp.rs`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fs_align::{
    BorderMode, Gains, Interpolation, Transform, apply_gains, small_image, warp_frame, warp_plane,
};
use fs_core::{BitDepth, ChannelLayout, Frame, FrameInfo, PixelFormat, Plane, PlaneMut, Samples};
use rand::{Rng, SeedableRng};

const W: usize = 6000;
const H: usize = 4000;

fn frame(depth: BitDepth) -> Frame {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let info = FrameInfo {
        width: W,
        height: H,
        format: PixelFormat { layout: ChannelLayout::Rgb, depth },
    };
    let n = W * H * 3;
    let samples = match depth {
        BitDepth::Eight => Samples::U8((0..n).map(|_| rng.random()).collect()),
        BitDepth::Sixteen => Samples::U16((0..n).map(|_| rng.random()).collect()),
    };
    Frame::new(info, samples).unwrap()
}

fn warps(c: &mut Criterion) {
    let f8 = frame(BitDepth::Eight);
    // Focus breathing plus a small shift and rotation.
    let breathing = Transform::scaling_about(1.012, 2999.5, 1999.5);
    let similarity = Transform::similarity(1.0, 0.002, 0.37, -1.21).after(&breathing);
    let homography =
        Transform::from_matrix([1.01, 0.002, 0.4, -0.001, 1.0, -1.2, 1e-7, -2e-7, 1.0]).unwrap();
    let mut g = c.benchmark_group("warp 6000x4000 RGB 8-bit");
    g.sample_size(10);
    for (name, t) in [("similarity", similarity), ("homography", homography)] {
        for interp in [Interpolation::Bicubic, Interpolation::Bilinear] {
            g.bench_function(format!("{name} {interp:?}"), |b| {
                b.iter(|| black_box(warp_frame(&f8, &t, interp, BorderMode::Replicate, None)))
            });
        }
    }
    g.bench_function("similarity Bicubic + gains", |b| {
        let gains = [1.1, 0.95, 1.02];
        b.iter(|| {
            black_box(warp_frame(
                &f8,
                &similarity,
                Interpolation::Bicubic,
                BorderMode::Invalid,
                Some(&gains),
            ))
        })
    });
    g.bench_function("apply_gains", |b| {
        let gains = Gains { values: vec![1.1, 0.95, 1.02], fitted: true, valid_samples: 1 };
        b.iter(|| black_box(apply_gains(&f8, &gains)))
    });
    g.bench_function("small_image factor 4", |b| b.iter(|| black_box(small_image(&f8, 4))));
    drop(f8);
    let f16 = frame(BitDepth::Sixteen);
    g.bench_function("16-bit: similarity Bicubic", |b| {
        b.iter(|| {
            black_box(warp_frame(
                &f16,
                &similarity,
                Interpolation::Bicubic,
                BorderMode::Replicate,
                None,
            ))
        })
    });
    g.bench_function("16-bit: small_image factor 4", |b| {
        b.iter(|| black_box(small_image(&f16, 4)))
    });
    g.finish();

    // A plane of the small-image size the estimator works on (about 2 megapixels).
    let (pw, ph) = (1500, 1000);
    let src: Vec<f32> = (0..pw * ph).map(|i| (i % 251) as f32 / 251.0).collect();
    let mut dst = vec![0.0f32; pw * ph];
    let t = similarity.to_subsampled(4.0);
    c.bench_function("warp_plane 1500x1000 bilinear", |b| {
        b.iter(|| {
            let s = Plane::new(&src, pw, ph).unwrap();
            let d = PlaneMut::new(&mut dst, pw, ph).unwrap();
            warp_plane(s, d, &t, Interpolation::Bilinear, BorderMode::Invalid, f32::NAN).unwrap();
            black_box(&dst);
        })
    });
}

criterion_group!(benches, warps);
criterion_main!(benches);
