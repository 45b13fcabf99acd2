//! Stacks a folder of frames with the depth-map stacker and prints the wall time (and,
//! on request, PSNR and sharpness); `depthmap_profile.rs` measures speed and memory.
//!
//! ```text
//! cargo run --release -p fs-depthmap --example depthmap_stack_folder -- <folder> [options]
//!   --gen WxHxN        first write a synthetic N-frame JPEG stack of WxH into <folder>
//!                      (skipped when it already holds frames)
//!   --decode-only      only decode every frame once: the floor
//!   --frames N         use the first N frames only
//!   --map average|max  --energy tenengrad|laplacian|mod-laplacian|sobel|variance
//!   --temperature T    --smooth D (energy_smooth_size)  --levels L
//!   --out FILE         write the stacked image     --depth FILE  write the depth map
//!   --sharpness        print the mean gradient energy of the result and of each frame
//!   --psnr             print the PSNR against the folder's `truth.*`
//!   --twice            decode every frame twice (`stack_twice`) instead of keeping the
//!                      raw frames in a scratch file (`stack`)
//! ```
//! Files named `truth.*` and `depth.*` in the folder are not frames (the generator
//! writes them beside the frames).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{FileFormat, Frame, NoProgress, WriteOptions, luma, read_frame};
use fs_depthmap::{DepthMapOptions, DepthMapStack, Energy, MapType};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn frames_in(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let mut paths = fs_core::list_frames(dir)?;
    paths.retain(|p| {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        stem != "truth" && stem != "depth"
    });
    Ok(paths)
}

fn sharpness(f: &Frame) -> f64 {
    fs_core::metrics::mean_gradient_energy(&luma(&f.to_image::<f32>()), f.width(), f.height(), None)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().ok_or("usage: depthmap_stack_folder <folder> [options]")?);
    let mut o = DepthMapOptions::default();
    let (mut decode_only, mut show_sharpness, mut show_psnr, mut twice) =
        (false, false, false, false);
    let (mut out, mut depth_out, mut limit, mut gen_spec) = (None, None, usize::MAX, None);
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--gen" => gen_spec = Some(val()?),
            "--decode-only" => decode_only = true,
            "--sharpness" => show_sharpness = true,
            "--psnr" => show_psnr = true,
            "--twice" => twice = true,
            "--frames" => limit = val()?.parse()?,
            "--out" => out = Some(PathBuf::from(val()?)),
            "--depth" => {
                depth_out = Some(PathBuf::from(val()?));
                o.plot_depth_map = true;
            }
            "--temperature" => o.temperature = val()?.parse()?,
            "--smooth" => o.energy_smooth_size = val()?.parse()?,
            "--levels" => o.pyramid_levels = val()?.parse()?,
            "--map" => {
                o.map_type = match val()?.as_str() {
                    "average" => MapType::Average,
                    "max" => MapType::Max,
                    other => return Err(format!("unknown map type {other}").into()),
                }
            }
            "--energy" => {
                o.energy = match val()?.as_str() {
                    "tenengrad" => Energy::Tenengrad,
                    "laplacian" => Energy::Laplacian,
                    "mod-laplacian" => Energy::ModLaplacian,
                    "sobel" => Energy::Sobel,
                    "variance" => Energy::Variance,
                    other => return Err(format!("unknown energy {other}").into()),
                }
            }
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if let Some(spec) = gen_spec
        && (!dir.is_dir() || (frames_in(&dir)?.is_empty() && !dir.join("frames").is_dir()))
    {
        let n: Vec<usize> = spec.split('x').map(str::parse).collect::<Result<_, _>>()?;
        let [width, height, frames] = n[..] else { return Err("--gen WxHxN".into()) };
        let t = Instant::now();
        let synth = SynthStack::new(SynthOptions { width, height, frames, ..Default::default() })?;
        synth.write_stack(&dir, FileFormat::Jpeg, &WriteOptions::default())?;
        eprintln!("generated {spec} in {:.1} s", t.elapsed().as_secs_f64());
    }
    // A generated stack keeps its frames in `frames/`, beside the truth.
    let frames_dir = if dir.join("frames").is_dir() { dir.join("frames") } else { dir.clone() };
    let mut paths = frames_in(&frames_dir)?;
    paths.truncate(limit);
    let t = Instant::now();
    if decode_only {
        for p in &paths {
            std::hint::black_box(read_frame(p)?);
        }
        println!("decode-only: {} frames in {:.2} s", paths.len(), t.elapsed().as_secs_f64());
        return Ok(());
    }
    let stacker = DepthMapStack::new(o)?;
    let result = if twice {
        stacker.stack_twice(|| fs_core::PathFrames::new(paths.clone()), &NoProgress)?
    } else {
        stacker.stack_paths(&paths, &NoProgress)?
    };
    println!(
        "depthmap{}: {} frames of {} in {:.2} s",
        if twice { " (decoding twice)" } else { "" },
        result.frames,
        result.image.info(),
        t.elapsed().as_secs_f64()
    );
    let truth = fs_core::list_frames(&dir)?
        .into_iter()
        .find(|p| p.file_stem().and_then(|s| s.to_str()) == Some("truth"));
    if let Some(truth) = truth.filter(|_| show_psnr) {
        let truth = read_frame(&truth)?;
        let max = truth.format().depth.max_value();
        let p =
            |f: &Frame| fs_core::metrics::psnr(&f.to_image::<f64>(), &truth.to_image::<f64>(), max);
        println!("psnr vs truth: {:.2} dB", p(&result.image));
    }
    if show_sharpness {
        println!("sharpness: result {:.2}", sharpness(&result.image));
        for path in &paths {
            println!("sharpness: {} {:.2}", path.display(), sharpness(&read_frame(path)?));
        }
    }
    if let Some(out) = out {
        fs_core::write_frame(&out, &result.image, &WriteOptions::default())?;
    }
    if let (Some(path), Some(depth)) = (depth_out, result.depth_map_frame()) {
        fs_core::write_frame(&path, depth, &WriteOptions::default())?;
    }
    Ok(())
}
