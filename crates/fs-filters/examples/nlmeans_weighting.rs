//! Compares the two classic NL-means weightings on a synthetic image with known
//! noise, using the plain reference implementation (slow; run with `--release`):
//! the plain `exp(-d2 / h^2)` (OpenCV's, used by `nl_means_denoise`) and Buades'
//! noise-corrected `exp(-max(d2 - 2 sigma^2, 0) / h^2)`, each over a sweep of `h`.
//!
//! ```text
//! cargo run --release -p fs-filters --example nlmeans_weighting
//! ```

use fs_core::{Image, metrics::psnr};
use fs_filters::NlMeansOptions;
use fs_filters::reference::{NlMeansWeighting, nl_means_denoise_reference};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The integration tests' clean image: shading, a sine texture, a step edge.
fn clean_image(w: usize, h: usize) -> Image<f32> {
    let planes = (0..3)
        .map(|c| {
            (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as f32, (i / w) as f32);
                    let step = if i % w >= w / 2 { 100.0 } else { 0.0 };
                    let texture = 25.0 * ((x * 0.7 + c as f32).sin() * (y * 0.45).cos());
                    60.0 + 0.2 * y + step + texture
                })
                .collect()
        })
        .collect();
    Image::from_planes(w, h, planes).unwrap()
}

fn main() {
    let sigma = 10.0f32;
    let clean = clean_image(64, 48);
    let mut noisy = clean.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for plane in noisy.planes_mut() {
        for v in plane.iter_mut() {
            let (u1, u2): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
            *v += sigma * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
        }
    }
    println!("noise sigma {sigma}: noisy PSNR {:.2} dB", psnr(&noisy, &clean, 255.0));
    let weightings = [
        ("plain exp(-d2/h^2)", NlMeansWeighting::Plain),
        (
            "corrected exp(-max(d2-2s^2,0)/h^2), s=sigma",
            NlMeansWeighting::NoiseCorrected { sigma: sigma as f64 },
        ),
    ];
    for (name, weighting) in weightings {
        let mut best = (0.0, f64::MIN);
        let mut line = String::new();
        for h in [2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0] {
            let options = NlMeansOptions { h, ..NlMeansOptions::default() };
            let out = nl_means_denoise_reference(&noisy, false, &options, weighting);
            let p = psnr(&out, &clean, 255.0);
            line += &format!(" h={h}: {p:.2}");
            if p > best.1 {
                best = (h, p);
            }
        }
        println!("{name}:{line}\n  best {:.2} dB at h = {}", best.1, best.0);
    }
}
