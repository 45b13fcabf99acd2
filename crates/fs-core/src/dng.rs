//! DNG writing through rawler's DNG writer: a Bayer mosaic as a CFA DNG
//! ([`write_cfa_dng`]) and 16-bit linear RGB as a LinearRaw DNG ([`write_linear_dng`]).
//!
//! Both write one uncompressed full-resolution image in the root IFD (no preview, no
//! thumbnail), DNG version 1.6 readable as 1.4, with the camera's colour facts
//! ([`DngColour`]: ColorMatrix1 under CalibrationIlluminant1 D65, AsShotNeutral, Make,
//! Model, UniqueCameraModel), Orientation 1, and the capture facts copied from our
//! EXIF block (the TIFF structure of [`crate::Metadata::exif`]): DateTimeOriginal,
//! ExposureTime, FNumber, ISO, FocalLength, LensModel, LensMake, and Make/Model when
//! the colour facts name no camera. Fields that do not parse are skipped.
//!
//! Read back with rawler, such a DNG reports `bps` 16 (the stored sample width; the
//! white level says how many bits are used), the white and black levels written,
//! `wb_coeffs` `1 / AsShotNeutral` per channel (green 1 when the neutral's green is 1;
//! the fourth entry NaN), and the colour matrix to the 1e-4 of its stored rationals
//! (rawler truncates to multiples of 1e-4).

use std::collections::HashMap;
use std::io::{Seek, Write};

use rawler::decoders::{Camera, RawMetadata};
use rawler::dng::writer::DngWriter;
use rawler::dng::{CropMode, DNG_VERSION_V1_4, DngCompression, DngPhotometricConversion};
use rawler::formats::tiff::Rational;
use rawler::imgop::xyz::Illuminant;
use rawler::pixarray::PixU16;
use rawler::rawimage::{BlackLevel, CFAConfig, RawImage, RawPhotometricInterpretation, WhiteLevel};
use rawler::{CFA, cfa::PlaneColor};

use crate::raw::Bayer;
use crate::raw::colour::LINEAR_SRGB_FROM_XYZ_D65;

/// Colour facts a DNG carries.
#[derive(Debug, Clone, PartialEq)]
pub struct DngColour {
    /// Maps CIE XYZ (D65) to the camera's RGB, row-major 3x3 (DNG ColorMatrix1, with
    /// CalibrationIlluminant1 D65).
    pub xyz_to_camera: [f32; 9],
    /// The camera's RGB response to the scene's white (DNG AsShotNeutral), green 1.
    pub as_shot_neutral: [f32; 3],
    /// Camera make (DNG Make; with the model, UniqueCameraModel). When empty, the
    /// EXIF block's Make and Model are used.
    pub make: String,
    /// Camera model (DNG Model).
    pub model: String,
}

impl DngColour {
    /// Linear sRGB as the "camera": ColorMatrix XYZ (D65) to linear sRGB, neutral
    /// (1, 1, 1), no make or model.
    pub fn srgb() -> Self {
        DngColour {
            xyz_to_camera: LINEAR_SRGB_FROM_XYZ_D65,
            as_shot_neutral: [1.0; 3],
            make: String::new(),
            model: String::new(),
        }
    }
}

/// A Bayer mosaic to write as a CFA DNG.
#[derive(Debug, Clone, Copy)]
pub struct CfaDng<'a> {
    /// Photosites per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width * height` photosite values, row by row.
    pub data: &'a [u16],
    /// The colour filter pattern, from the top-left photosite.
    pub pattern: Bayer,
    /// The value of no light (DNG BlackLevel, one for all photosites).
    pub black: u16,
    /// The value of saturation (DNG WhiteLevel), above `black`.
    pub white: u16,
    /// The camera's colour facts.
    pub colour: &'a DngColour,
}

/// Writes `image` as an uncompressed CFA DNG to `out`, with the capture facts of the
/// EXIF block `exif` (see the module docs). The error says what went wrong, for the
/// caller to wrap with the file's path.
pub fn write_cfa_dng(
    out: &mut (impl Write + Seek),
    image: &CfaDng<'_>,
    exif: Option<&[u8]>,
) -> Result<(), String> {
    let (w, h) = (image.width, image.height);
    check_size(w, h)?;
    if image.data.len() != w * h {
        return Err(format!("{} photosite values for a {w}x{h} mosaic", image.data.len()));
    }
    if image.black >= image.white {
        return Err(format!("black level {} not below white level {}", image.black, image.white));
    }
    let mut camera = camera(image.colour, exif)?;
    camera.cfa = CFA::new(image.pattern.name());
    let photometric =
        RawPhotometricInterpretation::Cfa(CFAConfig::new(&camera.cfa, &PlaneColor::default()));
    let raw = RawImage::new(
        camera,
        PixU16::new_with(image.data.to_vec(), w, h),
        1,
        wb_coeffs(image.colour),
        photometric,
        Some(BlackLevel::new(&[u32::from(image.black)], 1, 1, 1)),
        Some(WhiteLevel::new(vec![u32::from(image.white)])),
        false,
    );
    write(out, &raw, exif)
}

/// Writes 16-bit linear RGB (`width * height * 3` samples, interleaved) as an
/// uncompressed LinearRaw DNG (3 samples per pixel, black 0, white 65535) to `out`,
/// with `colour`'s matrix and neutral and the capture facts of `exif`.
pub fn write_linear_dng(
    out: &mut (impl Write + Seek),
    width: usize,
    height: usize,
    rgb: &[u16],
    colour: &DngColour,
    exif: Option<&[u8]>,
) -> Result<(), String> {
    check_size(width, height)?;
    if rgb.len() != width * height * 3 {
        return Err(format!("{} samples for {width}x{height} RGB pixels", rgb.len()));
    }
    let raw = RawImage::new(
        camera(colour, exif)?,
        PixU16::new_with(rgb.to_vec(), width * 3, height),
        3,
        wb_coeffs(colour),
        RawPhotometricInterpretation::LinearRaw,
        Some(BlackLevel::new(&[0_u32, 0, 0], 1, 1, 3)),
        Some(WhiteLevel::new_bits(16, 3)),
        false,
    );
    write(out, &raw, exif)
}

fn check_size(width: usize, height: usize) -> Result<(), String> {
    if width < 2 || height < 2 || width > u32::MAX as usize || height > u32::MAX as usize {
        return Err(format!("{width}x{height} is no DNG image size"));
    }
    Ok(())
}

/// rawler's white balance coefficients: the reciprocal of the neutral (its writer
/// stores `1 / wb` as AsShotNeutral).
fn wb_coeffs(colour: &DngColour) -> [f32; 4] {
    let [r, g, b] = colour.as_shot_neutral;
    [1.0 / r, 1.0 / g, 1.0 / b, f32::NAN]
}

/// A rawler camera with `colour`'s matrix and names (or the EXIF block's).
fn camera(colour: &DngColour, exif: Option<&[u8]>) -> Result<Camera, String> {
    if !colour.as_shot_neutral.iter().all(|v| v.is_finite() && *v > 0.0) {
        return Err(format!("as-shot neutral {:?} is not positive", colour.as_shot_neutral));
    }
    if !colour.xyz_to_camera.iter().all(|v| v.is_finite()) {
        return Err(format!("colour matrix {:?} is not finite", colour.xyz_to_camera));
    }
    let (make, model) = if colour.make.is_empty() {
        let fields = exif.and_then(|e| exif::Reader::new().read_raw(e.to_vec()).ok());
        let text = |tag| fields.as_ref().and_then(|f| ascii(f, tag)).unwrap_or_default();
        (text(exif::Tag::Make), text(exif::Tag::Model))
    } else {
        (colour.make.clone(), colour.model.clone())
    };
    let mut camera = Camera::new();
    camera.make = make.clone();
    camera.model = model.clone();
    camera.clean_make = make;
    camera.clean_model = model;
    camera.color_matrix = HashMap::from([(Illuminant::D65, colour.xyz_to_camera.to_vec())]);
    Ok(camera)
}

/// Writes `raw` into the root IFD, with its names and the capture facts of `exif`.
fn write(out: &mut (impl Write + Seek), raw: &RawImage, exif: Option<&[u8]>) -> Result<(), String> {
    let error = |e: rawler::dng::writer::DngError| format!("DNG writer: {e}");
    let mut dng = DngWriter::new(out, DNG_VERSION_V1_4).map_err(error)?;
    dng.load_base_tags(raw).map_err(error)?;
    let metadata = RawMetadata {
        exif: capture_facts(exif),
        model: raw.clean_model.clone(),
        make: raw.clean_make.clone(),
        lens: None,
        unique_image_id: None,
        rating: None,
    };
    dng.load_metadata(&metadata).map_err(error)?;
    let mut frame = dng.subframe_on_root(0);
    frame
        .raw_image(
            raw,
            CropMode::None,
            DngCompression::Uncompressed,
            DngPhotometricConversion::Original,
            1,
        )
        .map_err(error)?;
    frame.finalize().map_err(error)?;
    dng.close().map_err(error)
}

/// The capture facts of our EXIF block in rawler's form, Orientation 1; whatever is
/// missing or does not parse is left out.
fn capture_facts(block: Option<&[u8]>) -> rawler::exif::Exif {
    let mut facts = rawler::exif::Exif { orientation: Some(1), ..Default::default() };
    let Some(fields) = block.and_then(|b| exif::Reader::new().read_raw(b.to_vec()).ok()) else {
        return facts;
    };
    use exif::Tag;
    let f = &fields;
    facts.date_time_original = ascii(f, Tag::DateTimeOriginal);
    facts.create_date = ascii(f, Tag::DateTimeDigitized);
    facts.sub_sec_time_original = ascii(f, Tag::SubSecTimeOriginal);
    facts.offset_time_original = ascii(f, Tag::OffsetTimeOriginal);
    facts.exposure_time = rational(f, Tag::ExposureTime);
    facts.fnumber = rational(f, Tag::FNumber);
    facts.focal_length = rational(f, Tag::FocalLength);
    facts.iso_speed_ratings = field(f, Tag::PhotographicSensitivity)
        .and_then(|v| v.get_uint(0))
        .and_then(|v| u16::try_from(v).ok());
    facts.lens_model = ascii(f, Tag::LensModel);
    facts.lens_make = ascii(f, Tag::LensMake);
    facts
}

fn field(fields: &exif::Exif, tag: exif::Tag) -> Option<&exif::Value> {
    fields.get_field(tag, exif::In::PRIMARY).map(|f| &f.value)
}

fn ascii(fields: &exif::Exif, tag: exif::Tag) -> Option<String> {
    match field(fields, tag)? {
        exif::Value::Ascii(parts) => {
            let text =
                String::from_utf8_lossy(parts.first()?).trim_end_matches('\0').trim().to_string();
            (!text.is_empty()).then_some(text)
        }
        _ => None,
    }
}

fn rational(fields: &exif::Exif, tag: exif::Tag) -> Option<Rational> {
    match field(fields, tag)? {
        exif::Value::Rational(v) => {
            v.first().filter(|r| r.denom != 0).map(|r| Rational::new(r.num, r.denom))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use rawler::RawImageData;
    use rawler::decoders::RawDecodeParams;
    use rawler::rawsource::RawSource;

    use super::*;

    /// Decodes a DNG held in memory, with its metadata.
    fn decode(bytes: &[u8]) -> (RawImage, RawMetadata) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.dng");
        std::fs::write(&path, bytes).unwrap();
        let source = RawSource::new(&path).unwrap();
        let params = RawDecodeParams::default();
        let image = rawler::decode(&source, &params).unwrap();
        let metadata =
            rawler::get_decoder(&source).unwrap().raw_metadata(&source, &params).unwrap();
        (image, metadata)
    }

    fn samples(image: &RawImage) -> Vec<u16> {
        match &image.data {
            RawImageData::Integer(v) => v.clone(),
            RawImageData::Float(_) => panic!("float samples"),
        }
    }

    /// An EXIF block as our frames carry it: Make "fstack", Model "synthetic",
    /// 1/125 s, f/8, ISO 100, 60 mm, taken 2026-01-01 12:00:02.
    fn test_exif() -> Vec<u8> {
        use exif::{Field, In, Tag, Value};
        let ascii = |s: &str| Value::Ascii(vec![s.as_bytes().to_vec()]);
        let rational = |num, denom| Value::Rational(vec![exif::Rational { num, denom }]);
        let fields = [
            (Tag::Make, ascii("fstack")),
            (Tag::Model, ascii("synthetic")),
            (Tag::ExposureTime, rational(1, 125)),
            (Tag::FNumber, rational(8, 1)),
            (Tag::PhotographicSensitivity, Value::Short(vec![100])),
            (Tag::DateTimeOriginal, ascii("2026:01:01 12:00:02")),
            (Tag::FocalLength, rational(60, 1)),
            (Tag::LensModel, ascii("Macro 60")),
        ]
        .map(|(tag, value)| Field { tag, ifd_num: In::PRIMARY, value });
        let mut writer = exif::experimental::Writer::new();
        for f in &fields {
            writer.push_field(f);
        }
        let mut out = Cursor::new(Vec::new());
        writer.write(&mut out, true).unwrap();
        out.into_inner()
    }

    fn camera_colour() -> DngColour {
        DngColour {
            xyz_to_camera: [0.9, -0.3, -0.1, -0.4, 1.3, 0.1, -0.05, 0.2, 0.6],
            as_shot_neutral: [0.5, 1.0, 0.8],
            make: "Maker".into(),
            model: "Cam 1".into(),
        }
    }

    #[test]
    fn cfa_dng_round_trips_through_rawler() {
        let (w, h) = (38, 26);
        let data: Vec<u16> = (0..w * h).map(|i| (512 + (i * 37) % 3500) as u16).collect();
        let colour = camera_colour();
        for pattern in [Bayer::Rggb, Bayer::Grbg, Bayer::Gbrg, Bayer::Bggr] {
            let image = CfaDng {
                width: w,
                height: h,
                data: &data,
                pattern,
                black: 512,
                white: 4095,
                colour: &colour,
            };
            let mut out = Cursor::new(Vec::new());
            write_cfa_dng(&mut out, &image, Some(&test_exif())).unwrap();
            let (raw, meta) = decode(out.get_ref());
            assert_eq!((raw.width, raw.height, raw.cpp), (w, h, 1));
            assert_eq!(samples(&raw), data);
            assert_eq!(raw.camera.cfa.name, pattern.name());
            let block = [0, 1, 2, 3].map(|i| raw.camera.cfa.color_at(i / 2, i % 2));
            assert_eq!(Bayer::from_cfa(block), Some(pattern));
            assert!(
                matches!(raw.photometric, RawPhotometricInterpretation::Cfa(ref c) if c.cfa.name == pattern.name())
            );
            assert_eq!(raw.bps, 16);
            assert_eq!(raw.whitelevel.0, vec![4095]);
            assert_eq!(raw.blacklevel.as_vec(), vec![512.0]);
            let matrix = &raw.color_matrix[&Illuminant::D65];
            assert_eq!(matrix.len(), 9);
            for (a, b) in matrix.iter().zip(&colour.xyz_to_camera) {
                assert!((a - b).abs() <= 1e-4, "matrix {matrix:?}");
            }
            // rawler reports 1 / AsShotNeutral.
            for (c, n) in colour.as_shot_neutral.iter().enumerate() {
                assert!((raw.wb_coeffs[c] - 1.0 / n).abs() < 1e-4, "wb {:?}", raw.wb_coeffs);
            }
            assert_eq!((raw.clean_make.as_str(), raw.clean_model.as_str()), ("Maker", "Cam 1"));
            assert_eq!(meta.exif.date_time_original.as_deref(), Some("2026:01:01 12:00:02"));
            assert_eq!(meta.exif.fnumber, Some(Rational::new(8, 1)));
            assert_eq!(meta.exif.exposure_time, Some(Rational::new(1, 125)));
            assert_eq!(meta.exif.focal_length, Some(Rational::new(60, 1)));
            assert_eq!(meta.exif.iso_speed_ratings, Some(100));
            assert_eq!(meta.exif.orientation, Some(1));
            assert_eq!(meta.exif.lens_model.as_deref(), Some("Macro 60"));
        }
    }

    #[test]
    fn names_come_from_exif_when_the_colour_names_none() {
        let data = vec![100u16; 16];
        let colour = DngColour::srgb();
        let image = CfaDng {
            width: 4,
            height: 4,
            data: &data,
            pattern: Bayer::Rggb,
            black: 0,
            white: 1023,
            colour: &colour,
        };
        let mut out = Cursor::new(Vec::new());
        write_cfa_dng(&mut out, &image, Some(&test_exif())).unwrap();
        let (raw, _) = decode(out.get_ref());
        assert_eq!((raw.make.as_str(), raw.model.as_str()), ("fstack", "synthetic"));
        // No EXIF at all still writes a readable file.
        let mut out = Cursor::new(Vec::new());
        write_cfa_dng(&mut out, &image, None).unwrap();
        assert_eq!(samples(&decode(out.get_ref()).0), data);
        let mut out = Cursor::new(Vec::new());
        write_cfa_dng(&mut out, &image, Some(b"not exif")).unwrap();
        assert_eq!(samples(&decode(out.get_ref()).0), data);
    }

    #[test]
    fn linear_dng_round_trips_through_rawler() {
        let (w, h) = (21, 14);
        let rgb: Vec<u16> = (0..w * h * 3).map(|i| ((i * 7717) % 65536) as u16).collect();
        let colour = DngColour::srgb();
        let mut out = Cursor::new(Vec::new());
        write_linear_dng(&mut out, w, h, &rgb, &colour, Some(&test_exif())).unwrap();
        let (raw, meta) = decode(out.get_ref());
        assert_eq!((raw.width, raw.height, raw.cpp), (w, h, 3));
        assert!(matches!(raw.photometric, RawPhotometricInterpretation::LinearRaw));
        assert_eq!(samples(&raw), rgb);
        assert_eq!(raw.whitelevel.0, vec![65535; 3]);
        let matrix = &raw.color_matrix[&Illuminant::D65];
        for (a, b) in matrix.iter().zip(&LINEAR_SRGB_FROM_XYZ_D65) {
            assert!((a - b).abs() <= 1e-4, "matrix {matrix:?}");
        }
        assert_eq!(&raw.wb_coeffs[..3], &[1.0; 3]);
        assert_eq!(meta.exif.date_time_original.as_deref(), Some("2026:01:01 12:00:02"));
    }

    #[test]
    fn bad_arguments_are_errors() {
        let colour = DngColour::srgb();
        let data = vec![0u16; 15];
        let mut out = Cursor::new(Vec::new());
        let image = CfaDng {
            width: 4,
            height: 4,
            data: &data,
            pattern: Bayer::Rggb,
            black: 0,
            white: 1023,
            colour: &colour,
        };
        assert!(write_cfa_dng(&mut out, &image, None).unwrap_err().contains("15 photosite"));
        let data = vec![0u16; 16];
        let image = CfaDng { data: &data, black: 1023, ..image };
        assert!(write_cfa_dng(&mut out, &image, None).unwrap_err().contains("black level"));
        let bad = DngColour { as_shot_neutral: [0.0, 1.0, 1.0], ..DngColour::srgb() };
        let image = CfaDng { black: 0, colour: &bad, ..image };
        assert!(write_cfa_dng(&mut out, &image, None).unwrap_err().contains("neutral"));
        assert!(
            write_linear_dng(&mut out, 4, 4, &data, &colour, None)
                .unwrap_err()
                .contains("16 samples")
        );
    }
}
