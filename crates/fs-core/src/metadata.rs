//! Encoding with metadata carry-over (EXIF, ICC) for JPEG, PNG and TIFF.
//!
//! Where each format keeps the metadata: see [`crate::write_frame`]. The EXIF block
//! is rebuilt before writing (`exif_block.rs`).

use std::io::{Seek, Write};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use crate::tiff_write::{TiffMetadata, write_tiff};
use crate::{ChannelLayout, FileFormat, Frame, Samples, WriteOptions};

fn color_type(layout: ChannelLayout, eight: bool) -> ExtendedColorType {
    use ExtendedColorType as E;
    match (layout, eight) {
        (ChannelLayout::Gray, true) => E::L8,
        (ChannelLayout::GrayAlpha, true) => E::La8,
        (ChannelLayout::Rgb, true) => E::Rgb8,
        (ChannelLayout::Rgba, true) => E::Rgba8,
        (ChannelLayout::Gray, false) => E::L16,
        (ChannelLayout::GrayAlpha, false) => E::La16,
        (ChannelLayout::Rgb, false) => E::Rgb16,
        (ChannelLayout::Rgba, false) => E::Rgba16,
    }
}

/// Hands the EXIF block and ICC profile to an image crate encoder.
/// The sRGB ICC profile (moxcms' built-in sRGB, encoded once), carried by developed RAW
/// frames so their outputs say what they hold.
#[cfg(feature = "raw")]
pub(crate) fn srgb_icc() -> &'static [u8] {
    static ICC: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    ICC.get_or_init(|| moxcms::ColorProfile::new_srgb().encode().unwrap_or_default())
}

fn attach(enc: &mut impl ImageEncoder, exif: Option<Vec<u8>>, icc: Option<&Vec<u8>>) {
    // Both encoders used here accept metadata; an encoder that did not would return
    // an error we cannot act on, so it is ignored.
    if let Some(icc) = icc.filter(|i| !i.is_empty()) {
        let _ = enc.set_icc_profile(icc.clone());
    }
    if let Some(exif) = exif {
        let _ = enc.set_exif_metadata(exif);
    }
}

/// Encodes `frame` as `format` into `out`.
pub(crate) fn encode<W: Write + Seek>(
    out: &mut W,
    format: FileFormat,
    frame: &Frame,
    options: &WriteOptions,
) -> Result<(), String> {
    let (w, h) = (frame.width() as u32, frame.height() as u32);
    let layout = frame.format().layout;
    let meta = &frame.metadata;
    let exif_fields = match (options.metadata, meta.exif.as_deref()) {
        (true, Some(block)) => {
            crate::exif_block::output_fields(block, frame.width(), frame.height())
        }
        _ => None,
    };
    let icc = meta.icc.as_ref().filter(|_| options.metadata);
    let exif_block = || exif_fields.as_deref().and_then(crate::exif_block::encode);
    match (format, frame.samples()) {
        (FileFormat::Jpeg, Samples::U8(s)) => {
            if layout.has_alpha() {
                return Err(format!(
                    "JPEG has no alpha channel; write this {} frame as PNG or TIFF",
                    layout.name()
                ));
            }
            let mut enc = JpegEncoder::new_with_quality(out, options.jpeg_quality);
            attach(&mut enc, exif_block(), icc);
            enc.write_image(s, w, h, color_type(layout, true)).map_err(|e| e.to_string())
        }
        (FileFormat::Jpeg, Samples::U16(_)) => Err(
            "JPEG holds 8-bit samples only; write this 16-bit frame as PNG or TIFF, or convert it \
             to 8 bits first"
                .into(),
        ),
        (FileFormat::Png, Samples::U8(s)) => {
            let mut enc = PngEncoder::new(out);
            attach(&mut enc, exif_block(), icc);
            enc.write_image(s, w, h, color_type(layout, true)).map_err(|e| e.to_string())
        }
        (FileFormat::Png, Samples::U16(s)) => {
            // Allocation: one byte copy per frame (the encoder takes native-endian bytes).
            let bytes: Vec<u8> = s.iter().flat_map(|v| v.to_ne_bytes()).collect();
            let mut enc = PngEncoder::new(out);
            attach(&mut enc, exif_block(), icc);
            enc.write_image(&bytes, w, h, color_type(layout, false)).map_err(|e| e.to_string())
        }
        (FileFormat::Tiff, _) => {
            let tiff_meta = TiffMetadata {
                exif: exif_fields.as_deref().unwrap_or(&[]),
                icc: icc.map(|i| i.as_slice()),
            };
            write_tiff(out, frame, &tiff_meta).map_err(|e| e.to_string())
        }
        #[cfg(feature = "raw")]
        (FileFormat::Dng, _) => {
            let linear = crate::raw::linear_dng_samples(frame)?;
            let (make, model) = match linear.camera.split_once(' ') {
                Some((make, model)) => (make.to_string(), model.to_string()),
                None => (linear.camera.clone(), String::new()),
            };
            let colour = crate::dng::DngColour {
                xyz_to_camera: linear.xyz_to_camera,
                as_shot_neutral: linear.as_shot_neutral,
                make,
                model,
            };
            let exif = exif_block();
            crate::dng::write_linear_dng(
                out,
                frame.width(),
                frame.height(),
                &linear.samples,
                &colour,
                exif.as_deref(),
            )
            .map_err(|e| e.to_string())
        }
        #[cfg(not(feature = "raw"))]
        (FileFormat::Dng, _) => {
            Err("this build of fstack writes no DNG (cargo feature `raw`); write .tif".into())
        }
        (FileFormat::Raw, _) => {
            Err("camera RAW formats are read only; write the result as .tif or as a linear .dng"
                .into())
        }
    }
}
