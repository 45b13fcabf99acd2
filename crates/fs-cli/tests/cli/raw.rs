//! Camera RAW in the CLI: a generated Bayer DNG stack (`fstack demo --raw`) stacked to a
//! 16-bit TIFF and to a linear DNG, `info` on RAW frames, and the RAW errors.

use super::*;

fn raw_demo(dir: &Path) -> PathBuf {
    let demo = dir.join("demo");
    let o = run(&[
        "demo",
        "--raw",
        "--size",
        "200x150",
        "--frames",
        "5",
        "--out",
        demo.to_str().unwrap(),
    ]);
    assert_code(&o, 0);
    demo
}

#[test]
fn a_raw_stack_becomes_a_16_bit_tiff_with_srgb_or_a_linear_dng() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = raw_demo(tmp.path());
    let frames = demo.join("frames");
    let o = run(&["stack", frames.to_str().unwrap(), "--no-align"]);
    assert_code(&o, 0);
    let tif = demo.join("frames-stacked.tif");
    let result = read_frame(&tif).unwrap();
    assert_eq!(
        result.info().format,
        PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Sixteen }
    );
    let icc = result.metadata.icc.as_ref().expect("an sRGB ICC profile");
    assert_eq!(&icc[36..40], b"acsp", "an ICC profile");
    assert!(exif_field(&tif, exif::Tag::FNumber).is_some(), "the reference frame's EXIF");
    let truth = read_frame(&demo.join("truth.tif")).unwrap();
    let p16 =
        |a: &Frame, b: &Frame| metrics::psnr(&a.to_image::<f32>(), &b.to_image::<f32>(), 65535.0);
    let p = p16(&result, &truth);
    assert!(p > 31.0, "{p:.2} dB");

    let dng = demo.join("result.dng");
    let o = run(&["stack", frames.to_str().unwrap(), "--no-align", "-o", dng.to_str().unwrap()]);
    assert_code(&o, 0);
    let back = read_frame(&dng).unwrap();
    let p = p16(&back, &result);
    assert!(p > 60.0, "the linear DNG reads back as the TIFF: {p:.1} dB");

    let o = run(&["info", "--json", frames.to_str().unwrap()]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &v["results"]["frames"][0];
    assert_eq!(f["raw"]["camera"], "fstack Synthetic");
    assert_eq!(f["raw"]["cfa_pattern"], "RGGB");
    assert_eq!(f["raw"]["sensor_bits"], 14);
    assert_eq!(f["raw"]["black_level"], 512.0);
    assert_eq!(f["bit_depth"], 16);
    let o = run(&["info", frames.to_str().unwrap()]);
    assert!(
        stdout(&o).contains("(RAW RGGB 14-bit, black 512 white 16383, as-shot WB 1.82,1.00,1.39)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn raw_errors_name_the_file_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = raw_demo(tmp.path());
    let frames = demo.join("frames");
    // A JPEG among the RAW frames.
    let jpg = frames.join("frame_003b.jpg");
    write_frame(&jpg, &plain_frame(200, 150, 3), &WriteOptions::default()).unwrap();
    let out = tmp.path().join("out.tif");
    let o = run(&["stack", frames.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains(&format!(
            "{}: unsupported image format: not a RAW file, in a stack of RAW frames",
            jpg.display()
        )),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    std::fs::remove_file(&jpg).unwrap();
    // A truncated RAW file.
    let cut = frames.join("frame_002.dng");
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let o = run(&["stack", frames.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains(&format!("{}: ", cut.display())), "{}", stderr(&o));
    assert!(!out.exists());
    // A bad white balance is a usage error.
    let o = run(&["stack", frames.to_str().unwrap(), "--white-balance", "warm"]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("`warm` is not as-shot, auto or three gains R,G,B"),
        "{}",
        stderr(&o)
    );
    // Camera RAW formats are read only.
    std::fs::write(&cut, &bytes).unwrap();
    let o =
        run(&["stack", frames.to_str().unwrap(), "-o", tmp.path().join("x.nef").to_str().unwrap()]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("camera RAW formats are read only"), "{}", stderr(&o));
}
