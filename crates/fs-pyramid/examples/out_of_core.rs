//! Peak-memory and wall-time check of the in-memory and tiled pyramid stackers
//! (run under `/usr/bin/time -v` for the peak RSS).
//!
//! ```text
//! cargo run --release -p fs-pyramid --example out_of_core -- gen DIR [WIDTH HEIGHT FRAMES [8|16]]
//! cargo run --release -p fs-pyramid --example out_of_core -- run DIR auto|memory|tiled LIMIT
//! ```
//! `gen` writes a synthetic stack (default 6000x4000, 16 frames; 8-bit JPEG, or
//! 16-bit TIFF); `run` stacks a
//! folder with PyramidAutoStack and the given mode and memory limit (e.g. `512M`),
//! prints the choice and the wall time, and writes `DIR/../out_of_core-MODE.png`.

use std::path::Path;
use std::time::Instant;

use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{
    BitDepth, FileFormat, NoProgress, PathFrames, WriteOptions, list_frames, write_frame,
};
use fs_pyramid::{PyramidAutoOptions, PyramidAutoStack};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    match arg(0, "").as_str() {
        "gen" => {
            let o = SynthOptions {
                width: arg(2, "6000").parse()?,
                height: arg(3, "4000").parse()?,
                frames: arg(4, "16").parse()?,
                depth: if arg(5, "8") == "16" { BitDepth::Sixteen } else { BitDepth::Eight },
                ..Default::default()
            };
            let format =
                if o.depth == BitDepth::Sixteen { FileFormat::Tiff } else { FileFormat::Jpeg };
            let t = Instant::now();
            SynthStack::new(o)?.write_stack(
                Path::new(&arg(1, "stack")),
                format,
                &WriteOptions::default(),
            )?;
            println!("generated in {:.1} s", t.elapsed().as_secs_f64());
        }
        "run" => {
            let dir = arg(1, "stack");
            let mode = arg(2, "auto");
            // A generated stack keeps its frames in `frames/`, beside the truth.
            let frames_dir = Path::new(&dir).join("frames");
            let frames_dir = if frames_dir.is_dir() { frames_dir } else { dir.clone().into() };
            let paths: Vec<_> = list_frames(&frames_dir)?
                .into_iter()
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("frame")))
                .collect();
            let o = PyramidAutoOptions {
                mode: mode.parse()?,
                memory_limit: fs_tiles::parse_byte_size(&arg(3, "8G"))?,
                ..Default::default()
            };
            let t = Instant::now();
            let (out, choice) =
                PyramidAutoStack::new(o)?.stack_explained(PathFrames::new(paths), &NoProgress)?;
            println!("{choice}");
            println!("wall {:.2} s", t.elapsed().as_secs_f64());
            let dest = Path::new(&dir).with_file_name(format!("out_of_core-{mode}.png"));
            write_frame(&dest, &out, &WriteOptions::default())?;
        }
        _ => {
            return Err(
                "usage: out_of_core gen DIR [W H FRAMES [8|16]] | run DIR MODE LIMIT".into()
            );
        }
    }
    Ok(())
}
