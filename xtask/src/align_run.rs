//! `cargo xtask align-run FRAMES...`: decode, estimate and warp every frame of a stack
//! against its middle frame, in memory, and print what was found — the alignment work
//! `fstack stack` does before stacking, alone, for `bench` to time against the
//! decode-only floor.

use std::path::PathBuf;

use anyhow::Result;
use fs_align::{AlignOptions, AlignSettings, AlignedFrames, Aligner, BalanceOptions};

/// Aligns (and balances, unless `no_balance`) `paths` to the middle frame.
pub fn run(paths: &[PathBuf], no_balance: bool) -> Result<()> {
    let r = paths.len() / 2;
    let reference = fs_core::read_frame(&paths[r])?;
    let settings = AlignSettings {
        align: Some(AlignOptions::default()),
        balance: (!no_balance).then(BalanceOptions::default),
    };
    let aligner = Aligner::new(&reference, r, settings)?;
    let source =
        fs_align::frames_with_reference(paths.to_vec(), r, reference, fs_core::Develop::default());
    // As in `fstack stack`: decoding on one thread, aligning on another, the consumer
    // (a stacker there, nothing here) on a third.
    let mut pixels = 0usize;
    let log = fs_core::with_prefetch(source, |decoded| -> Result<_> {
        let aligned = AlignedFrames::new(decoded, &aligner);
        let log = aligned.log();
        fs_core::with_prefetch(aligned, |rx| -> Result<()> {
            for frame in rx {
                let frame = frame?;
                pixels += frame.width() * frame.height();
            }
            Ok(())
        })?;
        Ok(log)
    })?;
    let reports = log.reports();
    let worst = reports.iter().map(|r| r.scale_change().abs()).fold(0.0, f64::max);
    let info = fs_core::read_frame_info(&paths[0])?;
    let area = log.common_area(info.width, info.height);
    let crop = match area {
        Some(r) => format!(
            "{}x{} at ({}, {}), {:.1} % of the frame",
            r.width,
            r.height,
            r.x,
            r.y,
            100.0 * (r.width * r.height) as f64 / (info.width * info.height) as f64
        ),
        None => "none".to_string(),
    };
    // On stderr: `bench` reads it from there (`xtask measure` discards stdout).
    eprintln!(
        "aligned {} frames, {:.1} megapixels; largest magnification change {:.2} %; \
         common area {crop}",
        reports.len(),
        pixels as f64 / 1e6,
        worst * 100.0,
    );
    Ok(())
}
