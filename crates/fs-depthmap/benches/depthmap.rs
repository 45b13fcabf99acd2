//! Criterion micro-benchmarks of the depth-map kernels on fixed-seed inputs:
//! the energy measures, the weight fold, and a small whole stack (reduce and expand
//! are fs-pyramid's, benched there).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{NoProgress, Plane, PlaneMut};
use fs_depthmap::{
    DepthMapOptions, DepthMapStack, Energy, WeightAccumulator, WeightRule, energy_map,
};
use rand::{Rng, SeedableRng};

const W: usize = 1024;
const H: usize = 768;

fn random_plane(seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..W * H).map(|_| rng.random_range(0.0..1.0)).collect()
}

fn energies(c: &mut Criterion) {
    let luma = random_plane(1);
    let mut out = vec![0.0f32; W * H];
    let mut g = c.benchmark_group("energy 1024x768");
    for energy in [
        Energy::Tenengrad,
        Energy::Laplacian,
        Energy::ModLaplacian,
        Energy::Sobel,
        Energy::Variance,
    ] {
        let o = DepthMapOptions { energy, ..Default::default() };
        g.bench_function(format!("{energy:?}"), |b| {
            b.iter(|| {
                let src = Plane::new(&luma, W, H).unwrap();
                energy_map(src, PlaneMut::new(&mut out, W, H).unwrap(), &o).unwrap();
                black_box(&out);
            })
        });
    }
    g.finish();
}

fn weights(c: &mut Criterion) {
    let e = random_plane(3);
    let mut out = vec![0.0f32; W * H];
    for rule in [WeightRule::Average { power: 1.0 }, WeightRule::HardMax] {
        let mut acc = WeightAccumulator::<f32>::new(rule, W, H);
        acc.add(&e);
        c.bench_function(&format!("weight fold + weights {rule:?} 1024x768"), |b| {
            b.iter(|| {
                acc.add(&e);
                acc.weights(&e, &mut out);
            })
        });
    }
}

fn whole_stack(c: &mut Criterion) {
    let synth =
        SynthStack::new(SynthOptions { width: 512, height: 384, frames: 4, ..Default::default() })
            .unwrap();
    let frames: Vec<_> = synth.frames().collect();
    let stacker = DepthMapStack::new(DepthMapOptions::default()).unwrap();
    let mut g = c.benchmark_group("stack");
    g.sample_size(10);
    g.bench_function("4 frames 512x384 RGB, defaults", |b| {
        b.iter(|| stacker.stack(frames.iter().cloned().map(Ok), &NoProgress).unwrap())
    });
    g.finish();
}

criterion_group!(benches, energies, weights, whole_stack);
criterion_main!(benches);
