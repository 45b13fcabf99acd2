//! Criterion benchmark of a whole focus-map stack on fixed-seed generated frames held
//! in memory (8 frames of 1024x768 RGB 8-bit, and 16-bit): both passes, the
//! decision and the composition, without decoding.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{BitDepth, Frame, NoProgress};
use fs_focusmap::{FocusMapOptions, FocusMapStack};

fn frames(depth: BitDepth) -> Vec<Frame> {
    let stack = SynthStack::new(SynthOptions {
        width: 1024,
        height: 768,
        frames: 8,
        depth,
        ..Default::default()
    })
    .unwrap();
    stack.frames().collect()
}

fn whole_stack(c: &mut Criterion) {
    let mut g = c.benchmark_group("focus map 8 x 1024x768 RGB");
    g.sample_size(10);
    for (name, depth) in [("8-bit", BitDepth::Eight), ("16-bit", BitDepth::Sixteen)] {
        let frames = frames(depth);
        let stacker = FocusMapStack::new(FocusMapOptions::default()).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                let out = stacker.stack(frames.iter().cloned().map(Ok), &NoProgress).unwrap();
                black_box(out.image);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, whole_stack);
criterion_main!(benches);
