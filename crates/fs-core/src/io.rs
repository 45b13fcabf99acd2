//! Reading and writing frames: JPEG, PNG, TIFF; 8/16 bit; gray, gray+alpha, RGB, RGBA.
//!
//! Writes are atomic: the encoder writes a temporary file beside the target, which is
//! renamed over it only when complete, so an interrupted or failed write never leaves
//! a partial output.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use image::{ColorType, DynamicImage, ImageDecoder, ImageReader};

use crate::{
    BitDepth, ChannelLayout, CoreError, FileFormat, Frame, FrameInfo, Metadata, PixelFormat,
    Result, Samples,
};

/// How to write a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteOptions {
    /// JPEG quality, 1..=100.
    pub jpeg_quality: u8,
    /// Whether to write the frame's EXIF and ICC metadata.
    pub metadata: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self { jpeg_quality: 95, metadata: true }
    }
}

fn layout_of(path: &Path, ct: ColorType) -> Result<PixelFormat> {
    use ChannelLayout::*;
    let (layout, depth) = match ct {
        ColorType::L8 => (Gray, BitDepth::Eight),
        ColorType::La8 => (GrayAlpha, BitDepth::Eight),
        ColorType::Rgb8 => (Rgb, BitDepth::Eight),
        ColorType::Rgba8 => (Rgba, BitDepth::Eight),
        ColorType::L16 => (Gray, BitDepth::Sixteen),
        ColorType::La16 => (GrayAlpha, BitDepth::Sixteen),
        ColorType::Rgb16 => (Rgb, BitDepth::Sixteen),
        ColorType::Rgba16 => (Rgba, BitDepth::Sixteen),
        ColorType::Rgb32F | ColorType::Rgba32F => {
            return Err(CoreError::Unsupported {
                path: path.into(),
                what: "32-bit float samples (convert to 16-bit integer TIFF)".into(),
            });
        }
        other => {
            return Err(CoreError::Unsupported {
                path: path.into(),
                what: format!("sample format {other:?}"),
            });
        }
    };
    Ok(PixelFormat { layout, depth })
}

fn decode_err(path: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::Decode { path: path.into(), reason: e.to_string() }
}

fn open_decoder(path: &Path) -> Result<impl ImageDecoder> {
    let file = File::open(path).map_err(|e| CoreError::io(path, e))?;
    let reader = ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| CoreError::io(path, e))?;
    if reader.format().is_none() {
        return Err(CoreError::Decode {
            path: path.into(),
            reason: "not a JPEG, PNG or TIFF file".into(),
        });
    }
    reader.into_decoder().map_err(|e| decode_err(path, e))
}

/// Reads only the header: size and sample format. Cheap; used to check a whole
/// stack before any heavy work.
pub fn read_frame_info(path: &Path) -> Result<FrameInfo> {
    let decoder = open_decoder(path)?;
    let (w, h) = decoder.dimensions();
    let format = layout_of(path, decoder.color_type())?;
    Ok(FrameInfo { width: w as usize, height: h as usize, format })
}

/// Reads a frame with its EXIF and ICC metadata.
pub fn read_frame(path: &Path) -> Result<Frame> {
    let mut decoder = open_decoder(path)?;
    let format = layout_of(path, decoder.color_type())?;
    let icc = decoder.icc_profile().ok().flatten();
    let exif = decoder.exif_metadata().ok().flatten();
    let img = DynamicImage::from_decoder(decoder).map_err(|e| decode_err(path, e))?;
    let info = FrameInfo { width: img.width() as usize, height: img.height() as usize, format };
    let samples = match img {
        DynamicImage::ImageLuma8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageLumaA8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageRgb8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageRgba8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageLuma16(b) => Samples::U16(b.into_raw()),
        DynamicImage::ImageLumaA16(b) => Samples::U16(b.into_raw()),
        DynamicImage::ImageRgb16(b) => Samples::U16(b.into_raw()),
        DynamicImage::ImageRgba16(b) => Samples::U16(b.into_raw()),
        _ => {
            return Err(CoreError::Unsupported { path: path.into(), what: "sample format".into() });
        }
    };
    let mut frame = Frame::new(info, samples).map_err(|e| decode_err(path, e))?;
    frame.metadata = Metadata { exif: exif.filter(|e| !e.is_empty()), icc };
    frame.source = Some(path.to_path_buf());
    Ok(frame)
}

/// Writes a frame atomically in the format named by the path's extension.
pub fn write_frame(path: &Path, frame: &Frame, options: &WriteOptions) -> Result<()> {
    let format = FileFormat::from_path(path).ok_or_else(|| CoreError::Encode {
        path: path.into(),
        reason: "unknown extension (use .jpg, .png or .tif)".into(),
    })?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".fstack-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| CoreError::io(path, e))?;
    {
        let mut out = BufWriter::new(tmp.as_file_mut());
        crate::metadata::encode(&mut out, format, frame, options)
            .map_err(|e| CoreError::Encode { path: path.into(), reason: e })?;
        out.flush().map_err(|e| CoreError::io(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| CoreError::io(path, e))?;
    tmp.persist(path).map_err(|e| CoreError::io(path, e.error))?;
    Ok(())
}

/// The image files (JPEG, PNG, TIFF by extension) of a folder, in natural order
/// of their file names (`img2` before `img10`). Hidden files are skipped.
pub fn list_frames(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| CoreError::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| CoreError::io(dir, e))?;
        let path = entry.path();
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if !hidden && path.is_file() && FileFormat::from_path(&path).is_some() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(CoreError::EmptyFolder { path: dir.into() });
    }
    sort_natural(&mut files);
    Ok(files)
}

/// Sorts paths by file name in natural order (`img2` before `img10`).
pub fn sort_natural(paths: &mut [PathBuf]) {
    paths.sort_by(|a, b| {
        let an = a.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let bn = b.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        natord::compare(&an, &bn).then_with(|| a.cmp(b))
    });
}
