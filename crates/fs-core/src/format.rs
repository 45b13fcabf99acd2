//! Sample formats, channel layouts and file formats.

use std::fmt;
use std::path::Path;

/// Bits per sample of a stored frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BitDepth {
    /// 8 bits per sample, values 0..=255.
    Eight,
    /// 16 bits per sample, values 0..=65535.
    Sixteen,
}

impl BitDepth {
    /// The largest sample value: 255 or 65535.
    pub fn max_value(self) -> f64 {
        match self {
            BitDepth::Eight => 255.0,
            BitDepth::Sixteen => 65535.0,
        }
    }
    /// Factor from 8-bit units to this depth: 1 or 256 (the spec's thresholds and
    /// denoise strengths are given in 8-bit units).
    pub fn scale_from_8bit(self) -> f64 {
        match self {
            BitDepth::Eight => 1.0,
            BitDepth::Sixteen => 256.0,
        }
    }
    /// 8 or 16.
    pub fn bits(self) -> u32 {
        match self {
            BitDepth::Eight => 8,
            BitDepth::Sixteen => 16,
        }
    }
}

/// Channel layout of a stored frame. Gray stays one channel through the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelLayout {
    /// One luminance channel.
    Gray,
    /// Luminance and alpha.
    GrayAlpha,
    /// Red, green, blue.
    Rgb,
    /// Red, green, blue, alpha.
    Rgba,
}

impl ChannelLayout {
    /// Number of channels.
    pub fn channels(self) -> usize {
        match self {
            ChannelLayout::Gray => 1,
            ChannelLayout::GrayAlpha => 2,
            ChannelLayout::Rgb => 3,
            ChannelLayout::Rgba => 4,
        }
    }
    /// Whether the last channel is alpha.
    pub fn has_alpha(self) -> bool {
        matches!(self, ChannelLayout::GrayAlpha | ChannelLayout::Rgba)
    }
    /// Number of colour channels (without alpha): 1 or 3.
    pub fn color_channels(self) -> usize {
        self.channels() - usize::from(self.has_alpha())
    }
    /// "gray", "gray+alpha", "RGB", "RGBA".
    pub fn name(self) -> &'static str {
        match self {
            ChannelLayout::Gray => "gray",
            ChannelLayout::GrayAlpha => "gray+alpha",
            ChannelLayout::Rgb => "RGB",
            ChannelLayout::Rgba => "RGBA",
        }
    }
}

/// Layout and depth of a stored frame's samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PixelFormat {
    /// Channel layout.
    pub layout: ChannelLayout,
    /// Bits per sample.
    pub depth: BitDepth,
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}-bit", self.layout.name(), self.depth.bits())
    }
}

/// The file formats fstack reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// JPEG (8-bit gray or RGB only: writing a 16-bit or alpha frame as JPEG is an error).
    Jpeg,
    /// PNG, 8 or 16 bit.
    Png,
    /// TIFF, 8 or 16 bit, written with lossless compression.
    Tiff,
    /// DNG: read as camera RAW (developed, see [`crate::raw`]); written as a linear DNG
    /// (LinearRaw, 16-bit RGB) with the RAW stack's colour matrix and white balance.
    Dng,
    /// A camera maker's RAW format (CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF...): read only.
    Raw,
}

impl FileFormat {
    /// The format a path's extension names (case-insensitive), if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jpg" | "jpeg" | "jpe" => Some(FileFormat::Jpeg),
            "png" => Some(FileFormat::Png),
            "tif" | "tiff" => Some(FileFormat::Tiff),
            "dng" => Some(FileFormat::Dng),
            _ if crate::raw::RAW_EXTENSIONS.contains(&ext.as_str()) => Some(FileFormat::Raw),
            _ => None,
        }
    }
    /// The usual extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Jpeg => "jpg",
            FileFormat::Png => "png",
            FileFormat::Tiff => "tif",
            FileFormat::Dng => "dng",
            FileFormat::Raw => "raw",
        }
    }
    /// The extension (without the dot) of an output named after its first frame: the
    /// frame's own, but `tif` for camera RAW frames (see [`FileFormat::output`]) and
    /// for a frame without one.
    pub fn output_extension(first_frame: &Path) -> String {
        match (Self::from_path(first_frame), first_frame.extension()) {
            (Some(f), _) if f.is_raw() => f.output().extension().to_string(),
            (_, Some(ext)) => ext.to_string_lossy().into_owned(),
            (_, None) => "tif".into(),
        }
    }
    /// Whether frames in this format are camera RAW (developed as they are read).
    pub fn is_raw(self) -> bool {
        matches!(self, FileFormat::Dng | FileFormat::Raw)
    }
    /// The format of an output named after an input in this format: the same, but
    /// 16-bit TIFF for camera RAW (a RAW stack's result is developed; `-o x.dng` asks
    /// for a linear DNG explicitly).
    pub fn output(self) -> FileFormat {
        if self.is_raw() { FileFormat::Tiff } else { self }
    }
}

/// What a frame is, without its pixels: size and sample format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameInfo {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Sample layout and depth.
    pub format: PixelFormat,
}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{} {}", self.width, self.height, self.format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_describe_themselves() {
        let info = FrameInfo {
            width: 2000,
            height: 1300,
            format: PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Eight },
        };
        assert_eq!(info.to_string(), "2000x1300 RGB 8-bit");
        assert_eq!(FileFormat::from_path(Path::new("a/B.JPEG")), Some(FileFormat::Jpeg));
        assert_eq!(FileFormat::from_path(Path::new("x.tif")), Some(FileFormat::Tiff));
        assert_eq!(FileFormat::from_path(Path::new("x.txt")), None);
        assert_eq!(FileFormat::from_path(Path::new("x.DNG")), Some(FileFormat::Dng));
        assert_eq!(FileFormat::from_path(Path::new("IMG_1.CR2")), Some(FileFormat::Raw));
        assert_eq!(FileFormat::Raw.output(), FileFormat::Tiff);
        assert_eq!(FileFormat::Jpeg.output(), FileFormat::Jpeg);
        assert_eq!(ChannelLayout::Rgba.color_channels(), 3);
        assert_eq!(BitDepth::Sixteen.scale_from_8bit(), 256.0);
    }
}
