//! Criterion benches of the three filters at 24 megapixels (6000 x 4000), fixed-seed
//! inputs. Run on request only: `cargo bench -p fs-filters`. Sample counts are the
//! minimum criterion allows; one NL-means iteration takes tens of seconds.

use criterion::{Criterion, criterion_group, criterion_main};
use fs_core::{BitDepth, ChannelLayout, Image, PixelFormat, PlaneMut};
use fs_filters::{
    BilateralOptions, NlMeansOptions, UnsharpOptions, bilateral_filter, nl_means_denoise,
    unsharp_mask,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const W: usize = 6000;
const H: usize = 4000;

/// Smooth gradients with fixed-seed noise, three channels.
fn test_image() -> Image<f32> {
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
    Image::from_planes(W, H, planes).unwrap()
}

fn filters(c: &mut Criterion) {
    let img = test_image();
    let format = PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Eight };
    let mut group = c.benchmark_group("filters_24mp");
    group.sample_size(10);
    group.bench_function("unsharp_mask_rgb", |b| {
        let o = UnsharpOptions { amount_percent: 80.0, radius: 1.0, threshold: 1.0 };
        b.iter(|| unsharp_mask(&img, format, &o).unwrap())
    });
    group.bench_function("bilateral_d5_plane", |b| {
        let o = BilateralOptions { diameter: 5, sigma_color: 10.0, sigma_space: 2.0 };
        let mut dst = vec![0.0f32; W * H];
        b.iter(|| {
            bilateral_filter(img.plane(0), PlaneMut::new(&mut dst, W, H).unwrap(), &o).unwrap()
        })
    });
    group.bench_function("nl_means_rgb_h3", |b| {
        let o = NlMeansOptions { h: 3.0, ..NlMeansOptions::default() };
        b.iter(|| nl_means_denoise(&img, format, &o).unwrap())
    });
    group.finish();
}

criterion_group!(benches, filters);
criterion_main!(benches);
