//! What a frame defocused far beyond the subject costs against a frame the features
//! align: the 9-frame 480x360 stack of `tests/defocus_series.rs` (the last two frames
//! beyond the subject, aligned by intensity against their neighbour blurred by a
//! defocus disc) streamed through [`AlignedFrames`] (estimate and warp), all of it
//! and without those two frames. Prints, from one run, the time per feature-aligned
//! frame, per frame beyond, and their ratio.
//!
//! `cargo bench -p fs-align --bench beyond`

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use fs_align::{AlignOptions, AlignSettings, AlignedFrames, Aligner};
use fs_core::Frame;
use fs_core::synth::{Defocus, SynthOptions, SynthStack};

fn frames() -> Vec<Frame> {
    let stack = SynthStack::new(SynthOptions {
        width: 480,
        height: 360,
        frames: 9,
        beyond_frames: 2,
        beyond_blur: 14.4,
        defocus: Defocus::Gather,
        max_blur_radius: 8.0,
        lens_blur: 1.0,
        breathing: 0.03,
        rotation: 0.3,
        shift: 5.0,
        ..SynthOptions::default()
    })
    .unwrap();
    stack.frames().collect()
}

/// Streams the first `n` frames through the aligner (reference frame 4).
fn stream(aligner: &Aligner, frames: &[Frame], n: usize) -> usize {
    let source = frames[..n].iter().cloned().map(Ok);
    AlignedFrames::new(source, aligner).inspect(|f| assert!(f.is_ok())).count()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let settings = AlignSettings { align: Some(AlignOptions::default()), balance: None };
    let aligner = Aligner::new(&frames[4], 4, settings).unwrap();
    let time = |n: usize| {
        median(
            (0..7)
                .map(|_| {
                    let t = Instant::now();
                    black_box(stream(&aligner, &frames, n));
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    };
    // Interleaved, so a change of load touches both alike.
    let (mut subject, mut all) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        subject.push(time(7));
        all.push(time(9));
    }
    let (subject, all) = (median(subject), median(all));
    // Frames 0-6 hold 6 aligned by features (frame 4 is the reference).
    let feature = subject / 6.0;
    let beyond = (all - subject) / 2.0;
    eprintln!(
        "per frame: features {:.1} ms, beyond the subject {:.1} ms, ratio {:.2}",
        feature * 1e3,
        beyond * 1e3,
        beyond / feature
    );
    let mut g = c.benchmark_group("beyond 480x360");
    g.sample_size(10);
    g.bench_function("stream 7 frames (features)", |b| b.iter(|| stream(&aligner, &frames, 7)));
    g.bench_function("stream 9 frames (2 beyond)", |b| b.iter(|| stream(&aligner, &frames, 9)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
