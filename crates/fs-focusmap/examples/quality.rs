//! Stacks generated stacks in memory and prints, per stack, the PSNR against the
//! generator's truth (whole image and edge band), the glow figure and the mean error
//! of FocusMapStack beside PyramidStack and the two reference rows (per-pixel pick,
//! depth-oracle pick). A quick look for the stacker's author; `cargo xtask bench`
//! has the full table with the peers.
//!
//! `cargo run --release -p fs-focusmap --example quality [WIDTHxHEIGHT]`

use fs_core::metrics::{glow, mean_error, psnr, psnr_masked};
use fs_core::reference::{DepthOraclePick, per_pixel_pick};
use fs_core::synth::{Scene, SynthOptions, SynthStack};
use fs_core::{BitDepth, Frame, NoProgress};
use fs_focusmap::{FocusMapOptions, FocusMapStack};
use fs_pyramid::{PyramidOptions, PyramidStack};

fn row(name: &str, a: &Frame, truth: &Frame, band: &[bool]) {
    let max = truth.format().depth.max_value();
    let (a, t) = (a.to_image::<f32>(), truth.to_image::<f32>());
    println!(
        "  {name:16} {:6.2} dB  edge {:6.2} dB  glow {:.4}  mean {:+.4}",
        psnr(&a, &t, max),
        psnr_masked(&a, &t, max, band),
        glow(&a, &t, max),
        mean_error(&a, &t, max),
    );
}

fn main() {
    let size = std::env::args().nth(1).unwrap_or_else(|| "640x480".into());
    let (w, h) = size.split_once('x').expect("WIDTHxHEIGHT");
    let (width, height) = (w.parse().expect("width"), h.parse().expect("height"));
    let frames = std::env::var("FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let base = SynthOptions { width, height, frames, ..Default::default() };
    let cases = [
        ("objects 8-bit", SynthOptions { ..base }),
        ("noisy photo 8-bit", SynthOptions { noise_sigma: 2.0, shot_noise: 8.0, ..base }),
        ("tilted plane 8-bit", SynthOptions { scene: Scene::TiltedPlane, ..base }),
        (
            "high contrast 16-bit",
            SynthOptions { scene: Scene::HighContrast, depth: BitDepth::Sixteen, ..base },
        ),
    ];
    let options = match std::env::var("FOCUSMAP_OPTIONS") {
        Ok(s) => {
            // e.g. "consistency=0,flat_average=0"
            let mut o = FocusMapOptions::default();
            for kv in s.split(',').filter(|kv| !kv.is_empty()) {
                let (k, v) = kv.split_once('=').expect("key=value");
                match k {
                    "focus_sigma" => o.focus_sigma = v.parse().expect("number"),
                    "consistency" => o.consistency = v.parse().expect("number"),
                    "confidence_ratio" => o.confidence_ratio = v.parse().expect("number"),
                    "flat_average" => o.flat_average = v.parse().expect("number"),
                    "linear_blend" => o.linear_blend = v.parse().expect("bool"),
                    other => panic!("unknown option {other}"),
                }
            }
            o
        }
        Err(_) => FocusMapOptions::default(),
    };
    for (name, synth) in cases {
        let stack = SynthStack::new(synth).expect("stack");
        let truth = stack.truth();
        let band = stack.edge_band_mask();
        println!("{name} ({width}x{height}, {} frames)", synth.frames);
        let t = std::time::Instant::now();
        let fm = FocusMapStack::new(options)
            .expect("options")
            .stack(stack.frames().map(Ok), &NoProgress)
            .expect("focus map");
        let secs = t.elapsed().as_secs_f64();
        row(&format!("focusmap {secs:.2}s"), &fm.image, &truth, &band);
        let py = PyramidStack::new(PyramidOptions::default())
            .expect("options")
            .stack(stack.frames().map(Ok), &NoProgress)
            .expect("pyramid");
        row("pyramid", &py, &truth, &band);
        row("per-pixel pick", &per_pixel_pick(stack.frames()).expect("pick"), &truth, &band);
        let mut oracle = DepthOraclePick::new(&stack.depths(), synth.frames).expect("oracle");
        for f in stack.frames() {
            oracle.add(&f).expect("oracle frame");
        }
        row("depth oracle", &oracle.finish().expect("oracle"), &truth, &band);
    }
}
