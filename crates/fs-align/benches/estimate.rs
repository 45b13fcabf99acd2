//! Estimation speed: `Estimator::new` and `Estimator::estimate` on a 2-megapixel
//! synthetic luma (the size the aligner subsamples frames to) and, with
//! FS_REAL_STACKS, on two pcb frames subsampled to 1024x768 (what a 2048x1536
//! stack is estimated at).
// AlignOptions is #[non_exhaustive]: built from its Default, then fields set.
#![allow(clippy::field_reassign_with_default)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use fs_align::{AlignOptions, Estimator, Transform, TransformKind};
use fs_core::Plane;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Smooth value noise plus soft-edged rectangles, seen through `t` (reference
/// position -> frame position).
fn render(w: usize, h: usize, t: &Transform) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let spacing = 24.0;
    let cols = (1.2 * w as f64 / spacing) as usize + 8;
    let rows = (1.2 * h as f64 / spacing) as usize + 8;
    let lattice: Vec<f64> = (0..cols * rows).map(|_| rng.random::<f64>()).collect();
    let rects: Vec<[f64; 5]> = (0..300)
        .map(|_| {
            [
                rng.random_range(0.0..w as f64),
                rng.random_range(0.0..h as f64),
                rng.random_range(4.0..30.0),
                rng.random_range(4.0..30.0),
                rng.random_range(0.0..1.0),
            ]
        })
        .collect();
    let inv = t.inverse().unwrap();
    let mut out = vec![0.0f32; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, o) in row.iter_mut().enumerate() {
            let (u, v) = inv.apply(x as f64, y as f64);
            let (gx, gy) = (u / spacing + 4.0, v / spacing + 4.0);
            let (ix, iy) = (gx.floor().max(0.0) as usize, gy.floor().max(0.0) as usize);
            let (fx, fy) = (gx - gx.floor(), gy - gy.floor());
            let l = |i: usize, j: usize| lattice[(j.min(rows - 1)) * cols + i.min(cols - 1)];
            let top = l(ix, iy) + fx * (l(ix + 1, iy) - l(ix, iy));
            let bottom = l(ix, iy + 1) + fx * (l(ix + 1, iy + 1) - l(ix, iy + 1));
            let mut val = 0.3 + 0.4 * (top + fy * (bottom - top));
            for r in &rects {
                let d = ((u - r[0]).abs() - r[2]).max((v - r[1]).abs() - r[3]);
                if d < 1.0 {
                    val += (0.5 - d / 1.5).clamp(0.0, 1.0) * (r[4] - val);
                }
            }
            *o = val as f32;
        }
    });
    out
}

fn real_pair() -> Option<(Vec<f32>, Vec<f32>, usize, usize)> {
    let dir = PathBuf::from(std::env::var_os("FS_REAL_STACKS")?).join("pcb");
    let load = |i: usize| {
        let frame = fs_core::read_frame(&dir.join(format!("pcb_{i:03}.jpg"))).unwrap();
        let img = frame.to_image::<f32>();
        let luma = fs_core::luma(&img);
        let (w, h) = (img.width() / 2, img.height() / 2);
        let mut out = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let i = 2 * y * img.width() + 2 * x;
                let s = luma[i] + luma[i + 1] + luma[i + img.width()] + luma[i + img.width() + 1];
                out[y * w + x] = s / (4.0 * 255.0);
            }
        }
        (out, w, h)
    };
    let (a, w, h) = load(4);
    let (b, _, _) = load(1);
    Some((a, b, w, h))
}

/// CPU time of this process so far (user + system, seconds), from /proc (Linux);
/// 0 elsewhere. On a shared machine the wall times criterion reports stretch
/// with the load, the CPU time much less.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// Prints the mean wall and CPU time of `f` over `n` runs.
fn cpu_report(name: &str, n: usize, mut f: impl FnMut()) {
    let (c0, t0) = (cpu_seconds(), std::time::Instant::now());
    for _ in 0..n {
        f();
    }
    let wall = t0.elapsed().as_secs_f64() / n as f64;
    let cpu = (cpu_seconds() - c0) / n as f64;
    eprintln!("{name}: wall {:.1} ms, CPU {:.1} ms per run", wall * 1e3, cpu * 1e3);
}

fn plane(d: &[f32], w: usize, h: usize) -> Plane<'_, f32> {
    Plane::new(d, w, h).unwrap()
}

fn bench(c: &mut Criterion) {
    let (w, h) = (1632, 1224);
    let reference = render(w, h, &Transform::identity());
    let truth = Transform::scaling_about(1.02, w as f64 / 2.0, h as f64 / 2.0)
        .after(&Transform::similarity(1.0, 0.003, 7.0, -4.0));
    let frame = render(w, h, &truth);
    let mut g = c.benchmark_group("estimate");
    g.sample_size(20);
    for (name, kind, refine) in [
        ("similarity", TransformKind::Similarity, true),
        ("similarity_no_refine", TransformKind::Similarity, false),
        ("homography", TransformKind::Homography, true),
    ] {
        let mut o = AlignOptions::default();
        o.transform = kind;
        o.refine = refine;
        g.bench_function(format!("new/{name}/{w}x{h}"), |b| {
            b.iter(|| Estimator::new(black_box(plane(&reference, w, h)), &o).unwrap())
        });
        let est = Estimator::new(plane(&reference, w, h), &o).unwrap();
        let e = est.estimate(plane(&frame, w, h)).unwrap();
        eprintln!("{name}: corner error {:.4} px", e.transform.corner_distance(&truth, w, h));
        cpu_report(&format!("new/{name}"), 10, || {
            black_box(Estimator::new(plane(&reference, w, h), &o).unwrap());
        });
        cpu_report(&format!("frame/{name}"), 10, || {
            black_box(est.estimate(plane(&frame, w, h)).unwrap());
        });
        g.bench_function(format!("frame/{name}/{w}x{h}"), |b| {
            b.iter(|| est.estimate(black_box(plane(&frame, w, h))).unwrap())
        });
    }
    if let Some((a, b, rw, rh)) = real_pair() {
        let o = AlignOptions::default();
        g.bench_function(format!("new/pcb/{rw}x{rh}"), |bch| {
            bch.iter(|| Estimator::new(black_box(plane(&a, rw, rh)), &o).unwrap())
        });
        let est = Estimator::new(plane(&a, rw, rh), &o).unwrap();
        cpu_report("new/pcb", 10, || {
            black_box(Estimator::new(plane(&a, rw, rh), &o).unwrap());
        });
        cpu_report("frame/pcb", 10, || {
            black_box(est.estimate(plane(&b, rw, rh)).unwrap());
        });
        g.bench_function(format!("frame/pcb/{rw}x{rh}"), |bch| {
            bch.iter(|| est.estimate(black_box(plane(&b, rw, rh))).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
