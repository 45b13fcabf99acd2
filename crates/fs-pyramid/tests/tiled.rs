//! PyramidTilesStack and PyramidAutoStack: the same image as PyramidStack, pixel for
//! pixel, for tile sizes that do not divide the levels, any thread count, 8 and 16
//! bit, every channel layout, both float types; temporary files removed on every
//! way out; the memory estimate and the auto choice.
//!
//! (A separate test binary from `pyramid_stack.rs`, which another engineer owns.)

use std::path::Path;

use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{
    BitDepth, CancelFlag, ChannelLayout, CoreError, FloatType, Frame, FrameInfo, NoProgress,
    PixelFormat, Progress,
};
use fs_pyramid::{
    PyramidAutoOptions, PyramidAutoStack, PyramidError, PyramidOptions, PyramidStack,
    PyramidTilesOptions, PyramidTilesStack, StackMode, memory_estimate, tiled_disk_bytes,
    tiled_memory_estimate, tiled_memory_estimate_with,
};

fn synth(w: usize, h: usize, frames: usize, depth: BitDepth, layout: ChannelLayout) -> Vec<Frame> {
    let o = SynthOptions { width: w, height: h, frames, depth, layout, ..Default::default() };
    SynthStack::new(o).unwrap().frames().collect()
}

fn in_memory(frames: &[Frame], p: PyramidOptions) -> Frame {
    PyramidStack::new(p).unwrap().stack(frames.iter().cloned().map(Ok), &NoProgress).unwrap()
}

fn p_default() -> PyramidOptions {
    PyramidOptions::default()
}

fn tiled(frames: &[Frame], o: PyramidTilesOptions) -> Result<Frame, PyramidError> {
    PyramidTilesStack::new(o)?.stack(frames.iter().cloned().map(Ok), &NoProgress)
}

fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

fn assert_same(a: &Frame, b: &Frame, what: &str) {
    assert_eq!(a.info(), b.info(), "{what}");
    let differ = match (a.samples(), b.samples()) {
        (fs_core::Samples::U8(x), fs_core::Samples::U8(y)) => {
            x.iter().zip(y).filter(|(p, q)| p != q).count()
        }
        (fs_core::Samples::U16(x), fs_core::Samples::U16(y)) => {
            x.iter().zip(y).filter(|(p, q)| p != q).count()
        }
        _ => panic!("{what}: sample types differ"),
    };
    assert_eq!(differ, 0, "{what}: {differ} samples differ");
}

#[test]
fn tiled_equals_in_memory_for_tiles_that_do_not_divide_8_and_16_bit() {
    let tmp = tempfile::tempdir().unwrap();
    // 150 rows: levels of 150, 75, 38, 19, 10 rows with pyramid_min_size 8; 16- and
    // 23-row tiles divide none of them.
    for depth in [BitDepth::Eight, BitDepth::Sixteen] {
        let frames = synth(203, 150, 4, depth, ChannelLayout::Rgb);
        let p = PyramidOptions { pyramid_min_size: 8, ..Default::default() };
        let want = in_memory(&frames, p);
        for (tile_size, n_tiled_layers, max_threads, chunk_submit) in
            [(16, 2, 1, true), (23, 3, 3, true), (16, 32, 2, true), (17, 1, 2, false)]
        {
            let o = PyramidTilesOptions {
                pyramid: p,
                tile_size,
                n_tiled_layers,
                max_threads,
                chunk_submit,
                temp_dir: Some(tmp.path().to_path_buf()),
            };
            let got = tiled(&frames, o).unwrap();
            let what = format!("{depth:?} tile {tile_size} layers {n_tiled_layers}");
            assert_same(&got, &want, &what);
            assert!(empty(tmp.path()), "{what}: temporary files left behind");
        }
    }
}

#[test]
fn tiled_equals_in_memory_for_gray_alpha_rgba_and_f64() {
    for (layout, float_type) in [
        (ChannelLayout::Gray, FloatType::F32),
        (ChannelLayout::GrayAlpha, FloatType::F32),
        (ChannelLayout::Rgba, FloatType::F64),
        (ChannelLayout::Rgb, FloatType::F64),
    ] {
        let frames = synth(97, 70, 3, BitDepth::Eight, layout);
        let p = PyramidOptions { pyramid_min_size: 8, float_type, ..Default::default() };
        let want = in_memory(&frames, p);
        let o = PyramidTilesOptions { pyramid: p, tile_size: 16, ..Default::default() };
        assert_same(&tiled(&frames, o).unwrap(), &want, &format!("{layout:?} {float_type:?}"));
    }
}

#[test]
fn an_image_without_detail_levels_stacks_like_in_memory() {
    let frames = synth(20, 12, 2, BitDepth::Eight, ChannelLayout::Rgb);
    let want = in_memory(&frames, PyramidOptions::default());
    assert_same(&tiled(&frames, PyramidTilesOptions::default()).unwrap(), &want, "tiny");
}

#[test]
fn temporary_files_go_on_error_and_on_cancel() {
    let tmp = tempfile::tempdir().unwrap();
    let o = PyramidTilesOptions {
        pyramid: PyramidOptions { pyramid_min_size: 8, ..Default::default() },
        tile_size: 16,
        temp_dir: Some(tmp.path().to_path_buf()),
        ..Default::default()
    };
    let frames = synth(64, 48, 3, BitDepth::Eight, ChannelLayout::Rgb);
    let other = synth(64, 40, 2, BitDepth::Eight, ChannelLayout::Rgb).remove(0);
    let s = PyramidTilesStack::new(o.clone()).unwrap();
    let mixed = vec![Ok(frames[0].clone()), Ok(other)];
    let e = s.stack(mixed, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("frame is 64x40 RGB 8-bit"), "{e}");
    assert!(empty(tmp.path()));

    /// Cancels once the first frame has been folded in (files exist by then).
    struct CancelAfterOne(CancelFlag, std::path::PathBuf);
    impl Progress for CancelAfterOne {
        fn step(&self, done: u64) {
            assert!(!empty(&self.1), "the tiles are on disk while stacking");
            if done == 1 {
                self.0.cancel();
            }
        }
        fn is_cancelled(&self) -> bool {
            self.0.is_set()
        }
    }
    let p = CancelAfterOne(CancelFlag::new(), tmp.path().to_path_buf());
    let e = s.stack(frames.iter().cloned().map(Ok), &p).unwrap_err();
    assert!(matches!(e, PyramidError::Core(CoreError::Cancelled)), "{e}");
    assert!(empty(tmp.path()));

    let e = s.stack(Vec::new(), &NoProgress).unwrap_err();
    assert!(matches!(e, PyramidError::NoFrames), "{e}");
}

#[test]
fn a_missing_temp_folder_is_a_clear_error() {
    let o = PyramidTilesOptions {
        pyramid: PyramidOptions { pyramid_min_size: 8, ..Default::default() },
        temp_dir: Some("/nonexistent/fstack-tiles".into()),
        ..Default::default()
    };
    let frames = synth(64, 48, 2, BitDepth::Eight, ChannelLayout::Gray);
    let e = tiled(&frames, o).unwrap_err();
    let text = e.to_string();
    assert_eq!(
        text,
        "temporary tiles: /nonexistent/fstack-tiles: the folder for temporary files (from the \
         temp_dir option) does not exist; set the temp_dir option to an existing folder"
    );
    assert!(matches!(e, PyramidError::Tiles(fs_tiles::TilesError::Core(_))), "{e:?}");
}

#[test]
fn tiled_without_decode_ahead_equals_in_memory() {
    let frames = synth(97, 71, 3, BitDepth::Sixteen, ChannelLayout::Rgb);
    let p = PyramidOptions { pyramid_min_size: 8, ..Default::default() };
    let want = in_memory(&frames, p);
    let o = PyramidTilesOptions { pyramid: p, tile_size: 16, ..Default::default() };
    let stacker = PyramidTilesStack::new(o).unwrap().with_prefetch(false);
    assert!(!stacker.prefetch());
    let got = stacker.stack(frames.iter().cloned().map(Ok), &NoProgress).unwrap();
    assert_same(&got, &want, "no decode-ahead");
}

#[test]
fn options_validate_naming_the_field() {
    let o = PyramidTilesOptions::default();
    assert_eq!((o.tile_size, o.n_tiled_layers, o.chunk_submit), (512, 2, true));
    assert!((1..=8).contains(&o.max_threads));
    assert!(o.validate().is_ok());
    let e = PyramidTilesOptions { tile_size: 8, ..o.clone() }.validate().unwrap_err();
    assert_eq!(e.to_string(), "invalid option `tile_size`: must be 16 to 65536 rows, got 8");
    let e = PyramidTilesOptions { n_tiled_layers: 0, ..o.clone() }.validate().unwrap_err();
    assert!(e.to_string().contains("`n_tiled_layers`"), "{e}");
    let e = PyramidTilesOptions { max_threads: 0, ..o.clone() }.validate().unwrap_err();
    assert!(e.to_string().contains("`max_threads`"), "{e}");
    let bad_pyramid = PyramidOptions { kernel_size: 2, ..Default::default() };
    let e = PyramidTilesOptions { pyramid: bad_pyramid, ..o.clone() }.validate().unwrap_err();
    assert!(e.to_string().contains("`kernel_size`"), "{e}");
    let a = PyramidAutoOptions::default();
    assert_eq!((a.mode, a.memory_limit), (StackMode::Auto, 8 << 30));
    let e = PyramidAutoOptions { memory_limit: 1000, ..a }.validate().unwrap_err();
    assert!(e.to_string().contains("`memory_limit`"), "{e}");
    assert_eq!("Tiled".parse::<StackMode>().unwrap(), StackMode::Tiled);
    assert_eq!(" memory".parse::<StackMode>().unwrap(), StackMode::Memory);
    let e = "disk".parse::<StackMode>().unwrap_err();
    assert_eq!(e.to_string(), "invalid option `mode`: must be auto, memory or tiled, got `disk`");
}

fn info(w: usize, h: usize, layout: ChannelLayout, depth: BitDepth) -> FrameInfo {
    FrameInfo { width: w, height: h, format: PixelFormat { layout, depth } }
}

#[test]
fn the_memory_estimate_follows_the_documented_formula() {
    // 64x64 gray 8-bit, pyramid_min_size 16: 2 levels, 64x64, 32x32, 16x16.
    // First without the noise guard, then with it (its sums: energy + 1 channel on
    // level 0).
    let i = info(64, 64, ChannelLayout::Gray, BitDepth::Eight);
    let p = PyramidOptions { pyramid_min_size: 16, noise_guard: 0.0, ..Default::default() };
    let pg = PyramidOptions { noise_guard: 2.0, ..p };
    let best = 2 * (4096 + 1024); // energy + 1 channel, levels 0 and 1
    let sums = 2 * 4096;
    let gauss = 1024 + 256; // levels 1 and 2
    let bases = 3 * 256; // 3 frames
    let decoded = 3 * 4096;
    assert_eq!(memory_estimate(i, &p, 3), 4 * (best + gauss + bases) + decoded + (64 << 20));
    assert_eq!(
        memory_estimate(i, &pg, 3),
        4 * (best + sums + gauss + bases) + decoded + (64 << 20)
    );
    let p64 = PyramidOptions { float_type: FloatType::F64, ..p };
    assert_eq!(memory_estimate(i, &p64, 3), 8 * (best + gauss + bases) + decoded + (64 << 20));
    // Level 0 on disk, 16-row tiles: level 1, G_1 and G_2 in memory, plus two bands.
    let bands = 2 * 64 * (16 + 4) * 3;
    let mem = 2 * 1024 + 1024 + 256 + bases;
    assert_eq!(tiled_memory_estimate(i, &p, 3, 1, 16), 4 * (mem + bands) + decoded + (64 << 20));
    // With the guard: the bands carry level 0's sums.
    let (bands_g, mem_g) = (2 * 64 * (16 + 4) * 5, mem);
    assert_eq!(
        tiled_memory_estimate(i, &pg, 3, 1, 16),
        4 * (mem_g + bands_g) + decoded + (64 << 20)
    );
    assert_eq!(
        tiled_memory_estimate_with(i, &p, 3, 1, 16, true),
        tiled_memory_estimate(i, &p, 3, 1, 16)
    );
    // Without decode-ahead: one decoded frame plus a quarter.
    let one = 4096 + 1024;
    assert_eq!(
        tiled_memory_estimate_with(i, &p, 3, 1, 16, false),
        4 * (mem + bands) + one + (64 << 20)
    );
    // The disk need: level 0 (energy + channel); with 2 levels, also level 1 and G_1;
    // with the guard, the sums of the disk levels.
    let o = PyramidTilesOptions { pyramid: p, n_tiled_layers: 1, ..Default::default() };
    assert_eq!(tiled_disk_bytes(i, &o), 4 * (2 * 4096));
    let o = PyramidTilesOptions { n_tiled_layers: 2, ..o };
    assert_eq!(tiled_disk_bytes(i, &o), 4 * (2 * 4096 + 2 * 1024 + 1024));
    let o = PyramidTilesOptions { pyramid: pg, ..o };
    assert_eq!(tiled_disk_bytes(i, &o), 4 * (2 * 4096 + 2 * 1024 + 1024 + 2 * 4096));
}

#[test]
fn auto_chooses_memory_when_it_fits_and_tiles_that_fit_when_not() {
    // 16 frames of 6000x4000 RGB 8-bit: the target case.
    let i = info(6000, 4000, ChannelLayout::Rgb, BitDepth::Eight);
    let s = PyramidAutoStack::new(PyramidAutoOptions::default()).unwrap();
    let c = s.choose(i, 16);
    assert!(!c.tiled && c.estimate == c.in_memory_estimate, "{c:?}");
    // 1217 MiB with the noise guard's sums (851 MiB without; measured: see the docs).
    assert!(c.in_memory_estimate > 1200 << 20 && c.in_memory_estimate < 1400 << 20, "{c:?}");
    assert!(c.to_string().starts_with("in memory: estimated peak "), "{c}");

    let limit = 512 << 20;
    let s = PyramidAutoStack::new(PyramidAutoOptions { memory_limit: limit, ..Default::default() })
        .unwrap();
    let c = s.choose(i, 16);
    assert!(c.tiled && c.estimate <= limit, "{c:?}");
    // 256-row tiles: the noise guard's sums travel in the bands too.
    assert_eq!((c.n_tiled_layers, c.tile_size, c.levels, c.prefetch), (2, 256, 6, true));
    assert!(
        c.to_string().starts_with("tiled, 2 of 6 levels on disk in 256-row tiles (estimated peak "),
        "{c}"
    );
    assert!(c.to_string().ends_with("over memory_limit 512.0 MiB"), "{c}");

    // Tighter: smaller tiles or more levels on disk, still under the limit.
    let limit = 330 << 20;
    let s = PyramidAutoStack::new(PyramidAutoOptions { memory_limit: limit, ..Default::default() })
        .unwrap();
    let c = s.choose(i, 16);
    assert!(c.tiled && c.estimate <= limit && c.tile_size < 256, "{c:?}");

    // Impossible: the decoded frames alone are over the limit.
    let s =
        PyramidAutoStack::new(PyramidAutoOptions { memory_limit: 100 << 20, ..Default::default() })
            .unwrap();
    let c = s.choose(i, 16);
    assert!(c.tiled && c.estimate > c.memory_limit && c.n_tiled_layers == 6, "{c:?}");
    assert!(c.to_string().contains("nothing fits memory_limit 100.0 MiB"), "{c}");

    // The 16-bit case: 6 frames of 12000x8000 RGB 16-bit (576 MB each) at
    // 1 GiB: two decoded frames alone are over the limit, so tiled without
    // decode-ahead.
    let big = info(12_000, 8_000, ChannelLayout::Rgb, BitDepth::Sixteen);
    let limit = 1 << 30;
    let s = PyramidAutoStack::new(PyramidAutoOptions { memory_limit: limit, ..Default::default() })
        .unwrap();
    let c = s.choose(big, 6);
    assert!(c.tiled && !c.prefetch && c.estimate <= limit, "{c:?}");
    assert!(c.to_string().contains("-row tiles, no decode-ahead (estimated peak "), "{c}");
    let with = tiled_memory_estimate_with(big, &p_default(), 6, c.n_tiled_layers, 64, true);
    assert!(with > limit, "{with}");

    // Forced modes.
    let forced = |mode| {
        let o = PyramidAutoOptions { mode, memory_limit: 100 << 20, ..Default::default() };
        PyramidAutoStack::new(o).unwrap().choose(i, 16)
    };
    assert!(!forced(StackMode::Memory).tiled);
    let c = forced(StackMode::Tiled);
    assert!(c.tiled && (c.n_tiled_layers, c.tile_size) == (2, 512), "{c:?}");
    assert!(!c.prefetch, "three decoded frames alone are over 100 MiB: {c:?}");
    let c = PyramidAutoStack::new(PyramidAutoOptions {
        mode: StackMode::Tiled,
        memory_limit: 1 << 30,
        ..Default::default()
    })
    .unwrap()
    .choose(i, 16);
    assert!(c.prefetch, "{c:?}");
}

#[test]
fn auto_stacks_the_same_image_either_way_and_says_what_it_chose() {
    let frames = synth(120, 90, 3, BitDepth::Sixteen, ChannelLayout::Rgb);
    let p = PyramidOptions { pyramid_min_size: 8, ..Default::default() };
    let want = in_memory(&frames, p);
    for (limit, tiled) in [(1 << 30, false), (16 << 20, true)] {
        let mut tiles = PyramidTilesOptions { pyramid: p, ..Default::default() };
        tiles.tile_size = 16;
        let o = PyramidAutoOptions { tiles, mode: StackMode::Auto, memory_limit: limit };
        let s = PyramidAutoStack::new(o).unwrap();
        let (got, choice) = s.stack_explained(frames.iter().cloned().map(Ok), &NoProgress).unwrap();
        assert_eq!(choice.tiled, tiled, "{choice}");
        assert_same(&got, &want, &choice.to_string());
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

        /// tiled == in-memory for random shapes, tile sizes, tiled-layer counts and
        /// thread counts.
        #[test]
        fn tiled_equals_in_memory(
            w in 16usize..90,
            h in 16usize..90,
            tile_size in 16usize..40,
            n_tiled_layers in 1usize..4,
            max_threads in 1usize..4,
            seed in 0u64..1000,
        ) {
            let o = SynthOptions { width: w, height: h, frames: 3, seed, ..Default::default() };
            let frames: Vec<Frame> = SynthStack::new(o).unwrap().frames().collect();
            let p = PyramidOptions { pyramid_min_size: 4, ..Default::default() };
            let want = in_memory(&frames, p);
            let o = PyramidTilesOptions {
                pyramid: p, tile_size, n_tiled_layers, max_threads, ..Default::default()
            };
            assert_same(&tiled(&frames, o).unwrap(), &want, &format!("{w}x{h}"));
        }
    }
}
