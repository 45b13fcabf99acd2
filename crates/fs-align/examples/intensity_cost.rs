//! What an intensity estimate costs against a feature estimate, on the real pcb stack
//! (2048x1536, estimated on 2x2 block means, 1024x768): frames 1, 2, 5 and 7 against
//! frame 4, each way timed five times (median).
//!
//! `FS_REAL_STACKS=../shared/stacks cargo run --release -p fs-align --example intensity_cost`

use std::time::Instant;

use fs_align::{AlignOptions, Estimator, Transform};

fn luma(path: &std::path::Path) -> (Vec<f32>, usize, usize) {
    let frame = fs_core::read_frame(path).unwrap();
    let small = fs_align::small_image(&frame, 2);
    (fs_core::luma(&small), small.width(), small.height())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let root = std::env::var("FS_REAL_STACKS").expect("FS_REAL_STACKS names the real stacks");
    let dir = std::path::Path::new(&root).join("pcb");
    let (reference, w, h) = luma(&dir.join("pcb_004.jpg"));
    fn plane(v: &[f32], w: usize, h: usize) -> fs_core::Plane<'_, f32> {
        fs_core::Plane::new(v, w, h).unwrap()
    }
    let options = AlignOptions::default();
    let t0 = Instant::now();
    let estimator = Estimator::new(plane(&reference, w, h), &options).unwrap();
    println!("Estimator::new: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    for k in [1, 2, 5, 7] {
        let (frame, ..) = luma(&dir.join(format!("pcb_{k:03}.jpg")));
        let time = |f: &dyn Fn() -> Transform| {
            let mut times = Vec::new();
            let mut t = Transform::identity();
            for _ in 0..5 {
                let s = Instant::now();
                t = f();
                times.push(s.elapsed().as_secs_f64() * 1e3);
            }
            (median(times), t)
        };
        let (tf, features) = time(&|| estimator.estimate(plane(&frame, w, h)).unwrap().transform);
        let (ti, intensity) = time(&|| {
            estimator
                .estimate_by_intensity(plane(&frame, w, h), Transform::identity(), false)
                .unwrap()
                .transform
        });
        let (ts, _) = time(&|| {
            estimator.estimate_by_intensity(plane(&frame, w, h), features, true).unwrap().transform
        });
        let cost = |f: &dyn Fn()| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        };
        // What the aligner's predicted path runs: features, intensity, shift only with
        // the blur found (median of five).
        let predicted = median(
            (0..5)
                .map(|_| {
                    cost(&|| {
                        let _ = estimator.estimate(plane(&frame, w, h));
                        let _ = estimator.estimate_by_intensity(
                            plane(&frame, w, h),
                            Transform::identity(),
                            false,
                        );
                        let _ =
                            estimator.estimate_by_intensity(plane(&frame, w, h), features, true);
                    })
                })
                .collect(),
        );
        println!(
            "frame {k}: features {tf:.1} ms, intensity {ti:.1} ms ({:.2}x), shift only {ts:.1} ms, all three {predicted:.1} ms; intensity vs features {:.2} px at the corners",
            ti / tf,
            intensity.corner_distance(&features, w, h)
        );
    }
}
