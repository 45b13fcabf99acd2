//! Frame I/O integration tests: round trips, metadata carry-over between every pair
//! of formats, bad input. Real stacks (env FS_REAL_STACKS) are used when set.

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};

use exif::{Field, In, Rational, Tag, Value};
use fs_core::{
    BitDepth, ChannelLayout, CoreError, Frame, FrameInfo, Metadata, PixelFormat, Samples,
    WriteOptions, read_frame, read_frame_info, write_frame,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const LAYOUTS: [ChannelLayout; 4] =
    [ChannelLayout::Gray, ChannelLayout::GrayAlpha, ChannelLayout::Rgb, ChannelLayout::Rgba];

fn fmt(layout: ChannelLayout, depth: BitDepth) -> PixelFormat {
    PixelFormat { layout, depth }
}

/// A frame of random samples over the full range (worst case for lossless codecs).
fn noise_frame(w: usize, h: usize, format: PixelFormat, seed: u64) -> Frame {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = w * h * format.layout.channels();
    let samples = match format.depth {
        BitDepth::Eight => Samples::U8((0..n).map(|_| rng.random()).collect()),
        BitDepth::Sixteen => Samples::U16((0..n).map(|_| rng.random()).collect()),
    };
    Frame::new(FrameInfo { width: w, height: h, format }, samples).unwrap()
}

/// A smooth frame (gradients and a soft ripple): what JPEG is made for.
fn smooth_frame(w: usize, h: usize, format: PixelFormat) -> Frame {
    let c = format.layout.channels();
    let max = format.depth.max_value();
    let mut v = Vec::with_capacity(w * h * c);
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                let t = (x as f64 / w as f64 + y as f64 / h as f64) * 0.4
                    + 0.1 * ((x as f64 * 0.2 + ch as f64).sin() + 1.0);
                v.push((t * max).round().clamp(0.0, max));
            }
        }
    }
    let samples = match format.depth {
        BitDepth::Eight => Samples::U8(v.iter().map(|&s| s as u8).collect()),
        BitDepth::Sixteen => Samples::U16(v.iter().map(|&s| s as u16).collect()),
    };
    Frame::new(FrameInfo { width: w, height: h, format }, samples).unwrap()
}

/// A camera-like EXIF block: make, model, exposure, aperture, date, orientation 6
/// and a MakerNote with offsets inside it.
fn camera_exif() -> Vec<u8> {
    let fields = [
        Field {
            tag: Tag::Make,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"Fstack".to_vec()]),
        },
        Field {
            tag: Tag::Model,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"Macro 100".to_vec()]),
        },
        Field { tag: Tag::Orientation, ifd_num: In::PRIMARY, value: Value::Short(vec![6]) },
        Field {
            tag: Tag::ExposureTime,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![Rational { num: 1, denom: 125 }]),
        },
        Field {
            tag: Tag::FNumber,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![Rational { num: 28, denom: 10 }]),
        },
        Field {
            tag: Tag::DateTimeOriginal,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"2024:05:06 07:08:09".to_vec()]),
        },
        Field {
            tag: Tag::MakerNote,
            ifd_num: In::PRIMARY,
            value: Value::Undefined(
                b"VENDOR\0\x00\x00\x00\x08\x00\x01\x00\x00\x00\x20".to_vec(),
                0,
            ),
        },
    ];
    let mut writer = exif::experimental::Writer::new();
    fields.iter().for_each(|f| writer.push_field(f));
    let mut buf = Cursor::new(Vec::new());
    writer.write(&mut buf, false).unwrap();
    buf.into_inner()
}

/// A stand-in ICC profile: arbitrary bytes, long enough to need two JPEG segments
/// would be excessive for a test; 3 KiB with every byte value.
fn fake_icc() -> Vec<u8> {
    let mut icc: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 256) as u8).collect();
    icc[..4].copy_from_slice(&3000u32.to_be_bytes());
    icc[36..40].copy_from_slice(b"acsp");
    icc
}

fn read_exif(path: &Path) -> exif::Exif {
    let mut r = BufReader::new(File::open(path).unwrap());
    exif::Reader::new()
        .read_from_container(&mut r)
        .unwrap_or_else(|e| panic!("{}: no readable EXIF: {e}", path.display()))
}

fn field(exif: &exif::Exif, tag: Tag) -> Option<String> {
    exif.get_field(tag, In::PRIMARY).map(|f| f.display_value().to_string())
}

fn rational(exif: &exif::Exif, tag: Tag) -> Option<(u32, u32)> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Rational(v) => v.first().map(|r| (r.num, r.denom)),
        _ => None,
    }
}

/// The EXIF of a written file carries the camera fields, orientation 1 and no MakerNote.
fn assert_carried(path: &Path) {
    let exif = read_exif(path);
    assert_eq!(field(&exif, Tag::Make).as_deref(), Some("\"Fstack\""), "{}", path.display());
    assert_eq!(field(&exif, Tag::Model).as_deref(), Some("\"Macro 100\""));
    assert_eq!(rational(&exif, Tag::ExposureTime), Some((1, 125)));
    assert_eq!(rational(&exif, Tag::FNumber), Some((28, 10)));
    assert_eq!(field(&exif, Tag::DateTimeOriginal).as_deref(), Some("2024-05-06 07:08:09"));
    let orientation = exif.get_field(Tag::Orientation, In::PRIMARY).unwrap();
    assert_eq!(orientation.value.get_uint(0), Some(1), "{}", path.display());
    assert!(exif.get_field(Tag::MakerNote, In::PRIMARY).is_none(), "{}", path.display());
}

/// The formats of the carry-over matrix: name, extension, depth.
const FORMATS: [(&str, &str, BitDepth); 5] = [
    ("JPEG", "jpg", BitDepth::Eight),
    ("PNG 8-bit", "png", BitDepth::Eight),
    ("PNG 16-bit", "png", BitDepth::Sixteen),
    ("TIFF 8-bit", "tif", BitDepth::Eight),
    ("TIFF 16-bit", "tif", BitDepth::Sixteen),
];

#[test]
fn exif_and_icc_survive_every_pair_of_formats() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = Metadata { exif: Some(camera_exif()), icc: Some(fake_icc()), raw: None };
    for (i, (src_name, src_ext, src_depth)) in FORMATS.into_iter().enumerate() {
        // The source file: written from memory with the camera EXIF (orientation 6).
        let src_path = dir.path().join(format!("src{i}.{src_ext}"));
        let src = smooth_frame(24, 16, fmt(ChannelLayout::Rgb, src_depth))
            .with_metadata(metadata.clone());
        write_frame(&src_path, &src, &WriteOptions::default()).unwrap();
        assert_carried(&src_path);
        let read = read_frame(&src_path).unwrap();
        assert_eq!(read.metadata.icc.as_deref(), Some(&fake_icc()[..]), "{src_name} ICC");
        assert!(read.metadata.exif.is_some(), "{src_name}: EXIF not read back");

        for (j, (dst_name, dst_ext, dst_depth)) in FORMATS.into_iter().enumerate() {
            // A new output frame (as a stacker makes) with the source's metadata.
            let out = smooth_frame(20, 12, fmt(ChannelLayout::Rgb, dst_depth))
                .with_metadata(read.metadata.clone());
            let dst_path = dir.path().join(format!("dst{i}-{j}.{dst_ext}"));
            write_frame(&dst_path, &out, &WriteOptions::default()).unwrap();
            assert_carried(&dst_path);
            let back = read_frame(&dst_path).unwrap();
            assert_eq!(
                back.metadata.icc.as_deref(),
                Some(&fake_icc()[..]),
                "ICC {src_name} -> {dst_name}"
            );
            assert_eq!((back.width(), back.height()), (20, 12), "{src_name} -> {dst_name}");
        }
    }
}

#[test]
fn metadata_is_left_out_when_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = Metadata { exif: Some(camera_exif()), icc: Some(fake_icc()), raw: None };
    for (_, ext, depth) in FORMATS {
        let path = dir.path().join(format!("plain.{ext}"));
        let frame =
            smooth_frame(8, 8, fmt(ChannelLayout::Rgb, depth)).with_metadata(metadata.clone());
        let options = WriteOptions { metadata: false, ..WriteOptions::default() };
        write_frame(&path, &frame, &options).unwrap();
        let back = read_frame(&path).unwrap();
        assert_eq!(back.metadata.icc, None, "{ext}");
        assert_eq!(back.metadata.exif, None, "{ext}");
    }
}

#[test]
fn unparsable_exif_is_left_out_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = b"MM\0*\0\0\0\x08\xff\xff garbage that is not an IFD".to_vec();
    for (_, ext, depth) in FORMATS {
        let path = dir.path().join(format!("garbage.{ext}"));
        let frame = smooth_frame(8, 8, fmt(ChannelLayout::Rgb, depth)).with_metadata(Metadata {
            exif: Some(garbage.clone()),
            icc: None,
            raw: None,
        });
        write_frame(&path, &frame, &WriteOptions::default()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(7).any(|w| w == b"garbage"), "{ext}: raw block copied");
        let back = read_frame(&path).unwrap();
        assert_eq!(back.info(), frame.info(), "{ext}");
        assert_eq!(back.metadata.exif, None, "{ext}");
    }
}

#[test]
fn exif_pixel_dimensions_follow_the_output_and_thumbnail_is_dropped() {
    let x =
        Field { tag: Tag::PixelXDimension, ifd_num: In::PRIMARY, value: Value::Long(vec![6000]) };
    let y =
        Field { tag: Tag::PixelYDimension, ifd_num: In::PRIMARY, value: Value::Long(vec![4000]) };
    let make =
        Field { tag: Tag::Make, ifd_num: In::PRIMARY, value: Value::Ascii(vec![b"A".to_vec()]) };
    let thumb =
        Field { tag: Tag::Compression, ifd_num: In::THUMBNAIL, value: Value::Short(vec![6]) };
    let mut writer = exif::experimental::Writer::new();
    for f in [&x, &y, &make, &thumb] {
        writer.push_field(f);
    }
    let jpeg_thumb = [0xFFu8, 0xD8, 0xFF, 0xD9];
    writer.set_jpeg(&jpeg_thumb, In::THUMBNAIL);
    let mut buf = Cursor::new(Vec::new());
    writer.write(&mut buf, true).unwrap();

    let dir = tempfile::tempdir().unwrap();
    for ext in ["jpg", "png", "tif"] {
        let path = dir.path().join(format!("dims.{ext}"));
        let frame = smooth_frame(30, 10, fmt(ChannelLayout::Rgb, BitDepth::Eight))
            .with_metadata(Metadata { exif: Some(buf.get_ref().clone()), icc: None, raw: None });
        write_frame(&path, &frame, &WriteOptions::default()).unwrap();
        let exif = read_exif(&path);
        let dim = |t| exif.get_field(t, In::PRIMARY).and_then(|f| f.value.get_uint(0));
        assert_eq!((dim(Tag::PixelXDimension), dim(Tag::PixelYDimension)), (Some(30), Some(10)));
        assert!(exif.fields().all(|f| f.ifd_num == In::PRIMARY), "{ext}: thumbnail IFD kept");
    }
}

#[test]
fn gps_and_interop_sub_ifds_are_carried() {
    let fields = [
        Field { tag: Tag::Make, ifd_num: In::PRIMARY, value: Value::Ascii(vec![b"G".to_vec()]) },
        Field {
            tag: Tag::GPSLatitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"N".to_vec()]),
        },
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![
                Rational { num: 47, denom: 1 },
                Rational { num: 22, denom: 1 },
                Rational { num: 1234, denom: 100 },
            ]),
        },
        Field {
            tag: Tag::InteroperabilityIndex,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"R98".to_vec()]),
        },
        Field {
            tag: Tag::ExposureTime,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![Rational { num: 1, denom: 60 }]),
        },
    ];
    let mut writer = exif::experimental::Writer::new();
    fields.iter().for_each(|f| writer.push_field(f));
    let mut buf = Cursor::new(Vec::new());
    writer.write(&mut buf, true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut metadata = Metadata { exif: Some(buf.into_inner()), icc: None, raw: None };
    // Carried through every format in a chain, each output the next one's source.
    for ext in ["tif", "jpg", "png", "tif"] {
        let path = dir.path().join(format!("gps.{ext}"));
        let frame = smooth_frame(8, 6, fmt(ChannelLayout::Rgb, BitDepth::Eight))
            .with_metadata(metadata.clone());
        write_frame(&path, &frame, &WriteOptions::default()).unwrap();
        let exif = read_exif(&path);
        assert_eq!(field(&exif, Tag::GPSLatitudeRef).as_deref(), Some("N"), "{ext}");
        let lat = exif.get_field(Tag::GPSLatitude, In::PRIMARY).unwrap();
        assert_eq!(lat.display_value().to_string(), "47 deg 22 min 12.34 sec", "{ext}");
        assert_eq!(field(&exif, Tag::InteroperabilityIndex).as_deref(), Some("\"R98\""));
        assert_eq!(rational(&exif, Tag::ExposureTime), Some((1, 60)), "{ext}");
        metadata = read_frame(&path).unwrap().metadata;
    }
}

#[test]
fn orientation_is_applied_to_the_pixels_on_read() {
    // A 3x2 gray image stored with orientation 6 (display = stored turned 90 deg clockwise).
    let dir = tempfile::tempdir().unwrap();
    let stored: Vec<u8> = vec![1, 2, 3, 4, 5, 6];
    let path = dir.path().join("rotated.png");
    {
        use image::ImageEncoder;
        let mut enc = image::codecs::png::PngEncoder::new(File::create(&path).unwrap());
        enc.set_exif_metadata(camera_exif()).unwrap();
        enc.write_image(&stored, 3, 2, image::ExtendedColorType::L8).unwrap();
    }
    let info = read_frame_info(&path).unwrap();
    assert_eq!((info.width, info.height), (2, 3));
    let frame = read_frame(&path).unwrap();
    assert_eq!((frame.width(), frame.height()), (2, 3));
    // Displayed (x, y) = stored (y, h - 1 - x) with stored h = 2.
    assert_eq!(frame.samples(), &Samples::U8(vec![4, 1, 5, 2, 6, 3]));
    // Written back upright with orientation 1, it reads back identically.
    let out = dir.path().join("upright.tif");
    write_frame(&out, &frame, &WriteOptions::default()).unwrap();
    assert_eq!(read_frame(&out).unwrap().samples(), frame.samples());
    assert_carried(&out);
}

#[test]
fn lossless_round_trips_are_bit_identical_and_keep_layout() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["png", "tif", "tiff"] {
        for depth in [BitDepth::Eight, BitDepth::Sixteen] {
            for (k, layout) in LAYOUTS.into_iter().enumerate() {
                let frame = noise_frame(37, 23, fmt(layout, depth), k as u64 + 10);
                let path = dir.path().join(format!("rt-{k}-{}.{ext}", depth.bits()));
                write_frame(&path, &frame, &WriteOptions::default()).unwrap();
                let info = read_frame_info(&path).unwrap();
                assert_eq!(info, frame.info(), "{}", path.display());
                let back = read_frame(&path).unwrap();
                assert_eq!(back.info(), frame.info(), "{}", path.display());
                assert!(back.samples() == frame.samples(), "{}: samples differ", path.display());
            }
        }
    }
}

#[test]
fn tiff_output_is_compressed_losslessly_in_several_strips() {
    let dir = tempfile::tempdir().unwrap();
    // 5600-byte rows: several 256 KiB strips and a short last one.
    let (w, h) = (700, 150);
    let frame = smooth_frame(w, h, fmt(ChannelLayout::Rgba, BitDepth::Sixteen));
    let path = dir.path().join("smooth.tif");
    write_frame(&path, &frame, &WriteOptions::default()).unwrap();
    let raw = w * h * 4 * 2;
    let size = std::fs::metadata(&path).unwrap().len() as usize;
    assert!(size < raw / 2, "TIFF is {size} bytes for {raw} bytes of samples");
    let mut dec = tiff::decoder::Decoder::new(File::open(&path).unwrap()).unwrap();
    let compression: u16 = dec.get_tag_unsigned(tiff::tags::Tag::Compression).unwrap();
    assert_eq!(compression, 8, "Deflate");
    let predictor: u16 = dec.get_tag_unsigned(tiff::tags::Tag::Predictor).unwrap();
    assert_eq!(predictor, 2, "horizontal predictor");
    assert_eq!(dec.strip_count().unwrap(), 4);
    assert!(read_frame(&path).unwrap().samples() == frame.samples());
}

#[test]
fn tiff_bytes_do_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let frame = noise_frame(300, 400, fmt(ChannelLayout::Rgb, BitDepth::Sixteen), 9)
        .with_metadata(Metadata { exif: Some(camera_exif()), icc: Some(fake_icc()), raw: None });
    let write = |threads: usize| {
        let path = dir.path().join(format!("t{threads}.tif"));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| write_frame(&path, &frame, &WriteOptions::default())).unwrap();
        std::fs::read(&path).unwrap()
    };
    let one = write(1);
    assert!(one == write(3), "TIFF output differs between 1 and 3 threads");
}

#[test]
fn jpeg_round_trip_is_close_at_quality_95() {
    let dir = tempfile::tempdir().unwrap();
    for layout in [ChannelLayout::Gray, ChannelLayout::Rgb] {
        let frame = smooth_frame(64, 48, fmt(layout, BitDepth::Eight));
        let path = dir.path().join(format!("q95-{}.jpg", layout.channels()));
        write_frame(&path, &frame, &WriteOptions::default()).unwrap();
        let back = read_frame(&path).unwrap();
        assert_eq!(back.info(), frame.info());
        let (Samples::U8(a), Samples::U8(b)) = (frame.samples(), back.samples()) else {
            panic!("8-bit expected")
        };
        let diffs: Vec<i32> = a.iter().zip(b).map(|(&x, &y)| (x as i32 - y as i32).abs()).collect();
        let max = *diffs.iter().max().unwrap();
        let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
        assert!(max <= 8 && mean < 1.5, "{}: max {max}, mean {mean}", layout.name());
    }
}

// ---- float conversions: fast paths against the scalar reference ----

/// Samples that probe rounding and clipping: halves and their neighbours, the
/// ends of the range, negative, too large, NaN and infinities.
fn tricky_values(max: f64, rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    let mut v = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0, -0.5, 0.5, -1e9, 1e9];
    for k in [0.0, 1.0, 2.0, 127.0, max - 1.0, max] {
        for d in [0.5, -0.5, 0.49999999999999994, 0.5000000000000001, 0.4999999, 0.50000006] {
            v.push(k + d);
        }
        v.push(k);
    }
    while v.len() < n {
        v.push(rng.random_range(-10.0..max + 10.0));
    }
    v.truncate(n);
    v
}

fn check_from_image<T: fs_core::Float>(format: PixelFormat, seed: u64) {
    let c = format.layout.channels();
    let max = format.depth.max_value();
    let (w, h) = (13, 11);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let planes: Vec<Vec<T>> = (0..c)
        .map(|_| tricky_values(max, &mut rng, w * h).into_iter().map(T::from_f64).collect())
        .collect();
    let image = fs_core::Image::from_planes(w, h, planes.clone()).unwrap();
    let frame = Frame::from_image(&image, format).unwrap();
    // Reference: the scalar `quantize`, sample by sample, interleaved by hand.
    let expected: Vec<f64> =
        (0..w * h).flat_map(|i| planes.iter().map(move |p| fs_core::quantize(p[i], max))).collect();
    let got: Vec<f64> = match frame.samples() {
        Samples::U8(s) => s.iter().map(|&v| f64::from(v)).collect(),
        Samples::U16(s) => s.iter().map(|&v| f64::from(v)).collect(),
    };
    assert_eq!(got, expected, "{format}");
    // And back: exact, also into a reused image; a wrong shape is refused.
    let mut again = fs_core::Image::<T>::new(w, h, c).unwrap();
    frame.to_image_into(&mut again).unwrap();
    assert_eq!(again, frame.to_image::<T>());
    let mut wrong = fs_core::Image::<T>::new(w, h + 1, c).unwrap();
    assert!(matches!(frame.to_image_into(&mut wrong), Err(CoreError::Dimensions(_))));
    for (ch, plane) in again.planes().enumerate() {
        for (i, &v) in plane.iter().enumerate() {
            assert_eq!(v.to_f64(), got[i * c + ch], "{format} channel {ch} sample {i}");
        }
    }
}

#[test]
fn float_conversions_match_the_scalar_reference() {
    for (k, layout) in LAYOUTS.into_iter().enumerate() {
        for depth in [BitDepth::Eight, BitDepth::Sixteen] {
            check_from_image::<f32>(fmt(layout, depth), k as u64);
            check_from_image::<f64>(fmt(layout, depth), k as u64 + 100);
        }
    }
}

// ---- bad input ----

/// A valid file of each format, to damage.
fn valid_file(dir: &Path, ext: &str) -> PathBuf {
    let path = dir.join(format!("valid.{ext}"));
    let frame = noise_frame(64, 48, fmt(ChannelLayout::Rgb, BitDepth::Eight), 3);
    write_frame(&path, &frame, &WriteOptions::default()).unwrap();
    path
}

fn read_error(path: &Path) -> (CoreError, String) {
    let err = read_frame(path).expect_err("reading must fail");
    let msg = err.to_string();
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(msg.contains(name), "message does not name the file: {msg}");
    // The cheap header read fails too (or, for damage past the header, succeeds).
    (err, msg)
}

#[test]
fn truncated_files_are_decode_errors() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["jpg", "png", "tif"] {
        let bytes = std::fs::read(valid_file(dir.path(), ext)).unwrap();
        let path = dir.path().join(format!("half.{ext}"));
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let (err, msg) = read_error(&path);
        assert!(matches!(err, CoreError::Decode { .. }), "{ext}: {err:?}");
        assert!(msg.contains("truncated"), "{ext}: {msg}");
    }
}

#[test]
fn a_truncated_jpeg_with_an_exif_thumbnail_is_caught() {
    // The thumbnail inside APP1 has its own end-of-image marker, which must not be
    // mistaken for the end of the main image.
    let dir = tempfile::tempdir().unwrap();
    let mut thumb = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut thumb)
        .encode(&[128u8; 8 * 8 * 3], 8, 8, image::ExtendedColorType::Rgb8)
        .unwrap();
    let make =
        Field { tag: Tag::Make, ifd_num: In::PRIMARY, value: Value::Ascii(vec![b"T".to_vec()]) };
    let mut writer = exif::experimental::Writer::new();
    writer.push_field(&make);
    writer.set_jpeg(&thumb, In::THUMBNAIL);
    let mut block = Cursor::new(Vec::new());
    writer.write(&mut block, false).unwrap();
    let full = dir.path().join("full.jpg");
    {
        use image::ImageEncoder;
        let frame = noise_frame(96, 64, fmt(ChannelLayout::Rgb, BitDepth::Eight), 5);
        let Samples::U8(s) = frame.samples() else { unreachable!() };
        let mut enc = image::codecs::jpeg::JpegEncoder::new(File::create(&full).unwrap());
        enc.set_exif_metadata(block.into_inner()).unwrap();
        enc.write_image(s, 96, 64, image::ExtendedColorType::Rgb8).unwrap();
    }
    let bytes = std::fs::read(&full).unwrap();
    assert!(read_frame(&full).is_ok());
    // Data after the end marker (a vendor trailer) is fine.
    let trailer = dir.path().join("trailer.jpg");
    std::fs::write(&trailer, [&bytes[..], b"VENDOR TRAILER \xff\x00"].concat()).unwrap();
    assert_eq!(read_frame(&trailer).unwrap().samples(), read_frame(&full).unwrap().samples());
    for cut in [bytes.len() * 3 / 4, bytes.len() - 3] {
        let path = dir.path().join(format!("cut{cut}.jpg"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let (err, msg) = read_error(&path);
        assert!(matches!(err, CoreError::Decode { .. }), "{err:?}");
        assert!(msg.contains("truncated"), "{msg}");
    }
}

#[test]
fn corrupt_bytes_are_decode_errors() {
    let dir = tempfile::tempdir().unwrap();
    // PNG: a flipped bit in the image data fails the chunk checksum.
    let mut png = std::fs::read(valid_file(dir.path(), "png")).unwrap();
    let at = png.len() / 2;
    png[at] ^= 0x10;
    let path = dir.path().join("flipped.png");
    std::fs::write(&path, &png).unwrap();
    let (err, msg) = read_error(&path);
    assert!(matches!(err, CoreError::Decode { .. }), "{err:?}");
    assert!(msg.contains("cannot decode"), "{msg}");
    // JPEG: garbage where the frame header and tables are.
    let mut jpg = std::fs::read(valid_file(dir.path(), "jpg")).unwrap();
    jpg[2..400].iter_mut().enumerate().for_each(|(i, b)| *b = (i * 37 % 251) as u8);
    let path = dir.path().join("garbled.jpg");
    std::fs::write(&path, &jpg).unwrap();
    let (err, _) = read_error(&path);
    assert!(matches!(err, CoreError::Decode { .. }), "{err:?}");
    // TIFF: the first directory offset points past the end.
    let mut tif = std::fs::read(valid_file(dir.path(), "tif")).unwrap();
    tif[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let path = dir.path().join("badifd.tif");
    std::fs::write(&path, &tif).unwrap();
    let (err, _) = read_error(&path);
    assert!(matches!(err, CoreError::Decode { .. }), "{err:?}");
}

#[test]
fn a_text_file_named_jpg_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.jpg");
    std::fs::write(&path, "these are my focus stacking notes\n").unwrap();
    let (err, msg) = read_error(&path);
    assert!(matches!(err, CoreError::Decode { .. }), "{err:?}");
    assert!(msg.contains("not a JPEG, PNG or TIFF"), "{msg}");
    assert!(read_frame_info(&path).unwrap_err().to_string().contains("not a JPEG, PNG or TIFF"));
}

#[test]
fn an_empty_file_is_named_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.png");
    std::fs::write(&path, b"").unwrap();
    let (err, msg) = read_error(&path);
    assert!(matches!(err, CoreError::Decode { .. }), "{err:?}");
    assert!(msg.contains("empty file"), "{msg}");
    assert!(read_frame_info(&path).unwrap_err().to_string().contains("empty file"));
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone.tif");
    let (err, msg) = read_error(&path);
    match &err {
        CoreError::Io { source, .. } => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!("{other:?}"),
    }
    assert!(msg.contains("No such file"), "{msg}");
    assert!(matches!(read_frame_info(&path), Err(CoreError::Io { .. })));
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_an_io_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = valid_file(dir.path(), "png");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if File::open(&path).is_ok() {
        println!("skipped: running as root, file permissions are not enforced");
        return;
    }
    let (err, msg) = read_error(&path);
    match &err {
        CoreError::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied)
        }
        other => panic!("{other:?}"),
    }
    assert!(msg.contains("ermission denied"), "{msg}");
}

#[test]
fn float_tiff_is_unsupported_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    for (name, rgb) in [("gray-f32.tif", false), ("rgb-f32.tif", true)] {
        let path = dir.path().join(name);
        {
            let mut enc = tiff::encoder::TiffEncoder::new(File::create(&path).unwrap()).unwrap();
            if rgb {
                let data = vec![0.5f32; 4 * 3 * 3];
                enc.write_image::<tiff::encoder::colortype::RGB32Float>(4, 3, &data).unwrap();
            } else {
                let data = vec![0.5f32; 4 * 3];
                enc.write_image::<tiff::encoder::colortype::Gray32Float>(4, 3, &data).unwrap();
            }
        }
        let (err, msg) = read_error(&path);
        assert!(matches!(err, CoreError::Unsupported { .. }), "{err:?}");
        assert!(msg.contains("32-bit floating-point"), "{msg}");
        let info_err = read_frame_info(&path).unwrap_err();
        assert!(matches!(info_err, CoreError::Unsupported { .. }), "{info_err:?}");
    }
}

fn dir_listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn writing_to_an_unknown_extension_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.bmp");
    let frame = smooth_frame(4, 4, fmt(ChannelLayout::Rgb, BitDepth::Eight));
    let err = write_frame(&path, &frame, &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, CoreError::Encode { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("out.bmp") && msg.contains("unknown extension"), "{msg}");
    assert!(dir_listing(dir.path()).is_empty());
}

#[test]
fn writing_into_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("out.png");
    let frame = smooth_frame(4, 4, fmt(ChannelLayout::Rgb, BitDepth::Eight));
    let err = write_frame(&path, &frame, &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, CoreError::Io { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("out.png") && msg.contains("No such file"), "{msg}");
    assert!(dir_listing(dir.path()).is_empty());
}

#[test]
fn jpeg_is_8_bit_without_alpha_and_a_failed_write_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (fmt(ChannelLayout::Rgb, BitDepth::Sixteen), "8-bit samples only"),
        (fmt(ChannelLayout::Rgba, BitDepth::Eight), "no alpha channel"),
    ];
    for (format, expected) in cases {
        let path = dir.path().join("out.jpg");
        let frame = smooth_frame(4, 4, format);
        let err = write_frame(&path, &frame, &WriteOptions::default()).unwrap_err();
        assert!(matches!(err, CoreError::Encode { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("out.jpg") && msg.contains(expected), "{msg}");
        assert!(dir_listing(dir.path()).is_empty(), "left behind: {:?}", dir_listing(dir.path()));
    }
}

#[test]
fn jpeg_quality_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let frame = smooth_frame(4, 4, fmt(ChannelLayout::Rgb, BitDepth::Eight));
    let options = WriteOptions { jpeg_quality: 0, ..WriteOptions::default() };
    let err = write_frame(&dir.path().join("q.jpg"), &frame, &options).unwrap_err();
    assert!(err.to_string().contains("jpeg_quality"), "{err}");
    assert!(dir_listing(dir.path()).is_empty());
}

#[test]
fn an_existing_output_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.png");
    let a = noise_frame(9, 7, fmt(ChannelLayout::Rgb, BitDepth::Eight), 1);
    let b = noise_frame(5, 4, fmt(ChannelLayout::Gray, BitDepth::Sixteen), 2);
    write_frame(&path, &a, &WriteOptions::default()).unwrap();
    write_frame(&path, &b, &WriteOptions::default()).unwrap();
    assert_eq!(read_frame(&path).unwrap().samples(), b.samples());
    assert_eq!(dir_listing(dir.path()), vec!["out.png".to_string()]);
}

// ---- real stacks ----

fn real_stacks() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("FS_REAL_STACKS") else {
        println!("FS_REAL_STACKS not set: real-stack test skipped");
        return None;
    };
    let dir = PathBuf::from(dir);
    assert!(dir.is_dir(), "FS_REAL_STACKS={} is not a folder", dir.display());
    Some(dir)
}

#[test]
fn real_jpeg_exif_and_icc_carry_into_every_format() {
    let Some(stacks) = real_stacks() else { return };
    let dir = tempfile::tempdir().unwrap();
    for src_path in [stacks.join("amber/0000.jpg"), stacks.join("pcb/pcb_001.jpg")] {
        assert!(src_path.is_file(), "{} missing", src_path.display());
        let src = read_frame(&src_path).unwrap();
        let src_exif = read_exif(&src_path);
        let make = field(&src_exif, Tag::Make);
        assert!(
            make.is_some(),
            "{}: the camera make is expected in the source",
            src_path.display()
        );
        // A small crop-sized output keeps the test quick; metadata is what is tested.
        for (name, ext, depth) in FORMATS {
            let out = smooth_frame(64, 40, fmt(ChannelLayout::Rgb, depth))
                .with_metadata(src.metadata.clone());
            let path = dir.path().join(format!("real.{ext}"));
            write_frame(&path, &out, &WriteOptions::default()).unwrap();
            let exif = read_exif(&path);
            for tag in
                [Tag::Make, Tag::Model, Tag::ExposureTime, Tag::FNumber, Tag::DateTimeOriginal]
            {
                assert_eq!(field(&exif, tag), field(&src_exif, tag), "{name}: {tag}");
            }
            assert!(exif.get_field(Tag::MakerNote, In::PRIMARY).is_none(), "{name}");
            let back = read_frame(&path).unwrap();
            assert_eq!(back.metadata.icc, src.metadata.icc, "{name}: ICC");
        }
    }
    // A camera file cut short is caught although its EXIF holds a thumbnail.
    let bytes = std::fs::read(stacks.join("pcb/pcb_001.jpg")).unwrap();
    let cut = dir.path().join("pcb-cut.jpg");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    assert!(read_error(&cut).1.contains("truncated"));
    // The amber frames come with an ICC profile.
    let amber = read_frame(&stacks.join("amber/0000.jpg")).unwrap();
    assert!(amber.metadata.icc.as_ref().is_some_and(|i| i.len() > 1000));
}

/// One permission rule for every write: a new file gets a new file's permissions
/// (0666 less the umask); a file it replaces keeps its own (as `sed -i` does).
#[cfg(unix)]
#[test]
fn written_files_get_the_permissions_of_a_new_file_or_keep_the_replaced_ones() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::write(&plain, b"").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let frame = smooth_frame(8, 8, fmt(ChannelLayout::Rgb, BitDepth::Eight));
    let path = dir.path().join("out.png");
    write_frame(&path, &frame, &WriteOptions::default()).unwrap();
    assert_eq!(mode(&path), mode(&plain));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    write_frame(&path, &frame, &WriteOptions::default()).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(read_frame(&path).unwrap().width(), 8, "replaced");
}

/// An entry named like a frame that cannot be reached (a loop of symbolic links, a
/// dangling link) is an error naming it, never a frame silently left out; other
/// names, hidden entries and folders are still skipped.
#[cfg(unix)]
#[test]
fn a_frame_entry_that_cannot_be_reached_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let frame = noise_frame(4, 3, fmt(ChannelLayout::Gray, BitDepth::Eight), 1);
    for name in ["0001.jpg", "0002.png"] {
        write_frame(&dir.path().join(name), &frame, &WriteOptions::default()).unwrap();
    }
    std::os::unix::fs::symlink("notes.txt", dir.path().join("notes.txt")).unwrap();
    std::os::unix::fs::symlink(".hidden.png", dir.path().join(".hidden.png")).unwrap();
    std::fs::create_dir(dir.path().join("sub.png")).unwrap();
    assert_eq!(fs_core::list_frames(dir.path()).unwrap().len(), 2);
    let looped = dir.path().join("0003.jpg");
    std::os::unix::fs::symlink("0003.jpg", &looped).unwrap();
    let e = fs_core::list_frames(dir.path()).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("0003.jpg") && text.contains("a loop of symbolic links"), "{text}");
    std::fs::remove_file(&looped).unwrap();
    std::os::unix::fs::symlink("gone.png", dir.path().join("0004.png")).unwrap();
    let text = fs_core::list_frames(dir.path()).unwrap_err().to_string();
    assert!(text.contains("0004.png") && text.contains("a symbolic link to gone.png"), "{text}");
}

// ---- header fuzzing (seeded, bounded) ----

/// CRC-32 of PNG chunks, so a changed IHDR is still a well-formed chunk and the
/// decoder reaches the dimension checks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The file with its header's width and height set to `w` x `h` (as far as the
/// format's fields can hold them).
fn with_dimensions(ext: &str, bytes: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut b = bytes.to_vec();
    match ext {
        "png" => {
            b[16..20].copy_from_slice(&w.to_be_bytes());
            b[20..24].copy_from_slice(&h.to_be_bytes());
            let crc = crc32(&b[12..29]);
            b[29..33].copy_from_slice(&crc.to_be_bytes());
        }
        "jpg" => {
            let sof = (0..b.len() - 1).find(|&i| b[i] == 0xff && matches!(b[i + 1], 0xc0..=0xc2));
            let i = sof.expect("a SOF marker");
            let (w, h) = (w.min(65535) as u16, h.min(65535) as u16);
            b[i + 5..i + 7].copy_from_slice(&h.to_be_bytes());
            b[i + 7..i + 9].copy_from_slice(&w.to_be_bytes());
        }
        _ => {
            let le = &b[..2] == b"II";
            let u16_at = |b: &[u8], i: usize| {
                let v = [b[i], b[i + 1]];
                if le { u16::from_le_bytes(v) } else { u16::from_be_bytes(v) }
            };
            let v = [b[4], b[5], b[6], b[7]];
            let ifd = if le { u32::from_le_bytes(v) } else { u32::from_be_bytes(v) } as usize;
            for e in 0..u16_at(&b, ifd) as usize {
                let at = ifd + 2 + 12 * e;
                let value = match u16_at(&b, at) {
                    256 => w,
                    257 => h,
                    _ => continue,
                };
                // Type LONG, count 1, the value in place.
                let (t, c, v) = if le {
                    (4u16.to_le_bytes(), 1u32.to_le_bytes(), value.to_le_bytes())
                } else {
                    (4u16.to_be_bytes(), 1u32.to_be_bytes(), value.to_be_bytes())
                };
                b[at + 2..at + 4].copy_from_slice(&t);
                b[at + 4..at + 8].copy_from_slice(&c);
                b[at + 8..at + 12].copy_from_slice(&v);
            }
        }
    }
    b
}

/// Decodes one damaged file through the public readers: an error names the file;
/// a decoded frame has the size its header claims and the samples to fill it.
fn check_damaged(dir: &Path, case: &str, bytes: &[u8]) -> bool {
    let path = dir.join(format!("{case}.img"));
    std::fs::write(&path, bytes).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let info = read_frame_info(&path);
    if let Err(e) = &info {
        assert!(e.to_string().contains(name), "{case}: message does not name the file: {e}");
    }
    match read_frame(&path) {
        Err(e) => {
            assert!(e.to_string().contains(name), "{case}: message does not name the file: {e}");
            false
        }
        Ok(frame) => {
            let i = frame.info();
            if let Ok(claimed) = info {
                assert_eq!((i.width, i.height), (claimed.width, claimed.height), "{case}");
            }
            let n = i.width * i.height * i.format.layout.channels();
            let len = match frame.samples() {
                Samples::U8(v) => v.len(),
                Samples::U16(v) => v.len(),
            };
            assert_eq!(len, n, "{case}");
            true
        }
    }
}

/// Seeded mutations of small valid JPEG, PNG and TIFF files (8 and 16-bit) written by
/// `write_frame`: huge and zero dimensions, truncation at many offsets, header bytes
/// flipped or overwritten, random corruption. Never a panic or an abort (huge
/// claims are refused by the size check before allocating), every error names the
/// file, every decoded frame has the claimed size. A few seconds in a debug build.
#[test]
fn damaged_headers_are_clear_errors_or_consistent_frames() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut cases = 0usize;
    for (ext, depth) in [
        ("jpg", BitDepth::Eight),
        ("png", BitDepth::Eight),
        ("png", BitDepth::Sixteen),
        ("tif", BitDepth::Eight),
        ("tif", BitDepth::Sixteen),
    ] {
        let src = dir.path().join(format!("valid.{ext}"));
        let frame = noise_frame(24, 16, fmt(ChannelLayout::Rgb, depth), 5);
        write_frame(&src, &frame, &WriteOptions { metadata: false, ..WriteOptions::default() })
            .unwrap();
        let bytes = std::fs::read(&src).unwrap();
        let tag = format!("{ext}{}", depth.bits());
        let mut check = |case: String, b: &[u8]| {
            cases += 1;
            check_damaged(dir.path(), &case, b)
        };
        for (w, h) in [
            (100_000, 100_000),
            (1 << 31, 16),
            (24, 1 << 31),
            (1 << 31, 1 << 31),
            (u32::MAX, u32::MAX),
            (0, 16),
            (24, 0),
            (100_000, 16),
            (65535, 65535),
        ] {
            let case = format!("{tag}-dims-{w}x{h}");
            let decoded = check(case.clone(), &with_dimensions(ext, &bytes, w, h));
            // Over the default 1000-megapixel limit: refused before decoding.
            // (JPEG fields hold 16 bits: the claim is clamped to 65535.)
            let (cw, ch) = if ext == "jpg" { (w.min(65535), h.min(65535)) } else { (w, h) };
            assert!(!(decoded && cw as u64 * ch as u64 > 1_000_000_000), "{case} decoded");
        }
        let n = bytes.len();
        for cut in (0..n.min(200)).step_by(3).chain((200..n).step_by((n / 40).max(1))) {
            assert!(!check(format!("{tag}-cut-{cut}"), &bytes[..cut]) || cut == n);
        }
        let head = n.min(128);
        for k in 0..400 {
            let mut b = bytes.clone();
            let i = rng.random_range(0..head);
            match k % 3 {
                0 => b[i] ^= 1 << rng.random_range(0..8),
                1 => b[i] = [0x00, 0xff, 0x7f, 0x80][rng.random_range(0..4)],
                _ => {
                    for _ in 0..rng.random_range(1..8) {
                        let j = rng.random_range(0..n);
                        b[j] = rng.random();
                    }
                }
            }
            let _ = check(format!("{tag}-mut-{k}"), &b);
        }
    }
    println!("{cases} damaged files decoded");
}
