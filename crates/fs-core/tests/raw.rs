//! Camera RAW development against the generator's truth: DNG stacks written by
//! `SynthStack::write_dng_stack` (Bayer mosaic, black level, colour cast, colour matrix)
//! read back through rawler and developed by `read_frame` / `read_frame_with`.
#![cfg(feature = "raw")]

use fs_core::metrics::psnr;
use fs_core::raw::Bayer;
use fs_core::synth::RawOptions;
use fs_core::synth::{Scene, SynthOptions, SynthStack};
use fs_core::{BitDepth, Develop, Frame, Samples, WhiteBalance, read_frame, read_frame_with};

fn stack(scene: Scene) -> SynthStack {
    SynthStack::new(SynthOptions {
        width: 192,
        height: 128,
        frames: 3,
        scene,
        depth: BitDepth::Sixteen,
        noise_sigma: 0.0,
        lens_blur: 1.0,
        ..Default::default()
    })
    .unwrap()
}

fn u16s(f: &Frame) -> &[u16] {
    match f.samples() {
        Samples::U16(s) => s,
        Samples::U8(_) => panic!("16-bit expected"),
    }
}

fn db(a: &Frame, b: &Frame) -> f64 {
    psnr(&a.to_image::<f32>(), &b.to_image::<f32>(), 65535.0)
}

fn means(f: &Frame) -> [f64; 3] {
    let s = u16s(f);
    let n = (s.len() / 3) as f64;
    std::array::from_fn(|c| s.iter().skip(c).step_by(3).map(|v| f64::from(*v)).sum::<f64>() / n)
}

#[test]
fn developed_frames_match_the_generators_frames() {
    for (pattern, bits, black) in [(Bayer::Rggb, 12, 256), (Bayer::Gbrg, 14, 1024)] {
        let s = stack(Scene::Objects);
        let dir = tempfile::tempdir().unwrap();
        let raw = RawOptions { pattern, bits, black, neutral: [0.55, 1.0, 0.72] };
        let files = s.write_dng_stack(dir.path(), &raw).unwrap();
        for (k, path) in files.frames.iter().enumerate() {
            let developed = read_frame(path).unwrap();
            let reference = s.frame(k);
            assert_eq!(developed.info(), reference.info());
            let p = db(&developed, &reference);
            let (m, r) = (means(&developed), means(&reference));
            eprintln!("{pattern:?} {bits}-bit frame {k}: {p:.2} dB, means {m:.0?} vs {r:.0?}");
            assert!(p > 32.0, "{pattern:?} frame {k}: {p:.2} dB");
            for c in 0..3 {
                assert!((m[c] / r[c] - 1.0).abs() < 0.02, "{pattern:?} frame {k} channel {c}");
            }
            let meta = &developed.metadata;
            assert!(meta.icc.as_ref().is_some_and(|icc| icc.len() > 100));
            assert!(meta.exif.is_some(), "the generator's EXIF is carried");
            let colour = meta.raw.as_ref().unwrap();
            assert_eq!(colour.camera, "fstack Synthetic");
            assert_eq!(colour.gains.map(|g| (g * 1000.0).round()), [1818.0, 1000.0, 1389.0]);
        }
    }
}

#[test]
fn one_white_balance_for_the_whole_stack() {
    let s = stack(Scene::TiltedPlane);
    let dir = tempfile::tempdir().unwrap();
    let files = s.write_dng_stack(dir.path(), &RawOptions::default()).unwrap();
    let develop = Develop::for_stack(&files.frames, 1, WhiteBalance::AsShot).unwrap();
    assert_eq!(develop.camera.as_deref(), Some("fstack Synthetic"));
    let a = read_frame_with(&files.frames[0], &develop).unwrap();
    assert_eq!(a, read_frame(&files.frames[0]).unwrap(), "as shot: the same gains");
    // Gains given by the user: twice the red gain makes the frame redder.
    let gains = develop.gains.unwrap();
    let red = Develop { gains: Some([gains[0] * 1.5, gains[1], gains[2]]), ..develop.clone() };
    let b = read_frame_with(&files.frames[0], &red).unwrap();
    assert!(means(&b)[0] > means(&a)[0] * 1.1);
    // Grey world on a scene with colour: gains near the cast's inverse, not equal.
    let auto = Develop::for_stack(&files.frames, 1, WhiteBalance::Auto).unwrap();
    let g = auto.gains.unwrap();
    // Measured: [1.648, 1, 1.215] against the cast's inverse [1.818, 1, 1.389]: the
    // scene's own colour moves it, not the cast's direction.
    assert_eq!(g[1], 1.0);
    for c in [0, 2] {
        assert!((g[c] / gains[c] - 1.0).abs() < 0.15, "{g:?} vs {gains:?}");
    }
}

#[test]
fn a_linear_dng_output_reads_back_to_the_same_pixels() {
    let s = stack(Scene::Objects);
    let dir = tempfile::tempdir().unwrap();
    let files = s.write_dng_stack(dir.path(), &RawOptions::default()).unwrap();
    let developed = read_frame(&files.frames[1]).unwrap();
    let out = dir.path().join("out.dng");
    fs_core::write_frame(&out, &developed, &fs_core::WriteOptions::default()).unwrap();
    let back = read_frame(&out).unwrap();
    assert_eq!(back.info(), developed.info());
    let p = db(&back, &developed);
    assert!(p > 60.0, "{p:.1} dB");
    let worst = u16s(&back).iter().zip(u16s(&developed)).map(|(a, b)| a.abs_diff(*b)).max();
    eprintln!("linear DNG round trip: {p:.1} dB, worst {worst:?}");
    // A plain 16-bit frame (not from RAW) goes out as linear sRGB and back.
    let plain = s.frame(0);
    fs_core::write_frame(&dir.path().join("plain.dng"), &plain, &Default::default()).unwrap();
    let back = read_frame(&dir.path().join("plain.dng")).unwrap();
    assert!(db(&back, &plain) > 60.0);
}

#[test]
fn damaged_and_unknown_raw_files_are_clear_errors_naming_the_file() {
    let s = stack(Scene::Objects);
    let dir = tempfile::tempdir().unwrap();
    let files = s.write_dng_stack(dir.path(), &RawOptions::default()).unwrap();
    let bytes = std::fs::read(&files.frames[0]).unwrap();
    let cut = dir.path().join("cut.dng");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = read_frame(&cut).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", cut.display())), "{e}");
    let junk = dir.path().join("junk.nef");
    std::fs::write(&junk, b"this is not a raw file at all").unwrap();
    let e = read_frame(&junk).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", junk.display())), "{e}");
    eprintln!("{e}");
    let e = fs_core::read_frame_info(&junk).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", junk.display())), "{e}");
}

#[test]
fn a_frame_from_another_camera_is_refused_naming_it() {
    let s = stack(Scene::Objects);
    let dir = tempfile::tempdir().unwrap();
    let raw = RawOptions::default();
    let files = s.write_dng_stack(dir.path(), &raw).unwrap();
    // The same mosaic, written as if by another camera.
    let decode = fs_core::transfer::srgb_decode_table(65535);
    let mosaic = fs_core::synth::raw::frame_to_mosaic(&s.frame(1), &raw, &decode);
    let colour =
        fs_core::dng::DngColour { make: "Other".into(), model: "Cam".into(), ..raw.colour() };
    let image = fs_core::dng::CfaDng {
        width: 192,
        height: 128,
        data: &mosaic,
        pattern: raw.pattern,
        black: raw.black,
        white: raw.white(),
        colour: &colour,
    };
    let other = dir.path().join("frames").join("frame_002b.dng");
    let mut out = std::io::Cursor::new(Vec::new());
    fs_core::dng::write_cfa_dng(&mut out, &image, None).unwrap();
    std::fs::write(&other, out.into_inner()).unwrap();
    let develop = Develop::for_stack(&files.frames, 1, WhiteBalance::AsShot).unwrap();
    let e = read_frame_with(&other, &develop).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: unsupported image format: camera RAW from Other Cam, but the stack's reference \
             frame is from fstack Synthetic; stack each camera's frames separately",
            other.display()
        )
    );
    // Alone, it reads.
    assert!(read_frame(&other).is_ok());
}
