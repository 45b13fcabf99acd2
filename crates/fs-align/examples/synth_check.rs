//! Checks alignment on a generated moving stack: for each frame, the estimated
//! transform against the truth (corner error, pixels) and the PSNR of the frame warped
//! with the estimated and with the true transform against the unmoved frame.
//!
//! `cargo run --release -p fs-align --example synth_check [WIDTH HEIGHT]`; `NO_REFINE=1`
//! skips the intensity refinement, `STEP=1` chains neighbours (`step_process`).

use fs_align::{
    AlignOptions, AlignSettings, Aligner, BorderMode, Interpolation, Transform, warp_frame,
};
use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{Image, metrics::psnr};

/// The image without a margin of `m` pixels on every side.
fn crop(img: &Image<f32>, m: usize) -> Image<f32> {
    img.crop(m, m, img.width() - 2 * m, img.height() - 2 * m).unwrap()
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let (w, h) = (args.first().copied().unwrap_or(480), args.get(1).copied().unwrap_or(360));
    let o = SynthOptions { width: w, height: h, frames: 7, ..SynthOptions::default() };
    let still = SynthStack::new(o).unwrap();
    let moving =
        SynthStack::new(SynthOptions { breathing: 0.03, rotation: 0.3, shift: 5.0, ..o }).unwrap();
    let r = 3;
    let options = AlignOptions {
        refine: std::env::var_os("NO_REFINE").is_none(),
        step_process: std::env::var_os("STEP").is_some(),
        ..AlignOptions::default()
    };
    let settings = AlignSettings { align: Some(options.clone()), balance: None };
    let mut aligner = Aligner::new(&moving.frame(r), r, settings).unwrap();
    if options.step_process {
        let chain = fs_align::estimate_chain(moving.frames().map(Ok), r, &options).unwrap();
        aligner = aligner.with_transforms(chain);
    }
    for k in 0..7 {
        let f = moving.frame(k);
        let m = moving.frame_transform(k);
        let truth = Transform::affine(m[0], m[1], m[2], m[3], m[4], m[5]);
        let t0 = std::time::Instant::now();
        let (aligned, report) = aligner.align(k, f.clone()).unwrap();
        let dt = t0.elapsed();
        let err = report.transform.corner_distance(&truth, w, h);
        let want: Image<f32> = crop(&still.frame(k).to_image(), 16);
        let got: Image<f32> = crop(&aligned.to_image(), 16);
        let ideal =
            warp_frame(&f, &truth, Interpolation::Bicubic, BorderMode::Replicate, None).unwrap();
        let ideal: Image<f32> = crop(&ideal.to_image(), 16);
        println!(
            "frame {k}: corner error {err:.3} px, inliers {}, PSNR estimated {:.2} dB, true transform {:.2} dB ({:.0} ms)",
            report.inliers,
            psnr(&got, &want, 255.0),
            psnr(&ideal, &want, 255.0),
            dt.as_secs_f64() * 1e3
        );
    }
}
