//! Micro-benchmarks of the pyramid kernels and of a small whole stack, on
//! fixed-seed inputs. Whole-run figures (wall time against the decode-only floor,
//! peak memory) come from `examples/pyramid_stack_folder.rs` and `cargo xtask bench`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fs_core::{
    BitDepth, ChannelLayout, Frame, FrameInfo, NoProgress, PixelFormat, Plane, PlaneMut, Samples,
    generating_kernel,
};
use fs_pyramid::{PyramidOptions, PyramidStack, expand_into, laplacian_pyramid, reduce_into};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn plane(w: usize, h: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..w * h).map(|_| rng.random_range(0.0f32..255.0)).collect()
}

fn kernels(c: &mut Criterion) {
    let (w, h) = (2000, 1300);
    let src = plane(w, h, 1);
    let k = generating_kernel::<f32>(0.4);
    let (cw, ch) = fs_pyramid::reduced_size(w, h);
    let mut small = vec![0.0f32; cw * ch];
    let mut big = vec![0.0f32; w * h];
    let mut g = c.benchmark_group("kernels 2000x1300 f32");
    g.throughput(Throughput::Elements((w * h) as u64));
    g.bench_function("reduce", |b| {
        b.iter(|| {
            let s = Plane::new(&src, w, h).unwrap();
            reduce_into(s, PlaneMut::new(&mut small, cw, ch).unwrap(), &k).unwrap();
        })
    });
    g.bench_function("expand", |b| {
        b.iter(|| {
            let s = Plane::new(&small, cw, ch).unwrap();
            expand_into(s, PlaneMut::new(&mut big, w, h).unwrap(), &k).unwrap();
        })
    });
    g.bench_function("laplacian_pyramid 5 levels", |b| {
        b.iter(|| black_box(laplacian_pyramid(Plane::new(&src, w, h).unwrap(), 5, &k)))
    });
    g.finish();
}

fn whole_stack(c: &mut Criterion) {
    let (w, h, n) = (1024, 768, 4);
    let format = PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Eight };
    let info = FrameInfo { width: w, height: h, format };
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let frames: Vec<Frame> = (0..n)
        .map(|_| {
            let px = (0..w * h * 3).map(|_| rng.random_range(0..=255u8)).collect();
            Frame::new(info, Samples::U8(px)).unwrap()
        })
        .collect();
    let stacker = PyramidStack::new(PyramidOptions::default()).unwrap();
    let mut g = c.benchmark_group("PyramidStack 4 frames 1024x768 RGB 8-bit");
    g.sample_size(10);
    g.throughput(Throughput::Elements((w * h * n) as u64));
    g.bench_function("stack (decoded frames)", |b| {
        b.iter(|| black_box(stacker.stack(frames.iter().cloned().map(Ok), &NoProgress).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, kernels, whole_stack);
criterion_main!(benches);
