//! A decoded frame: integer samples as stored, their format, and the metadata
//! (EXIF, ICC) to carry into outputs; conversions to and from float images.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::{BitDepth, CoreError, Float, FrameInfo, Image, PixelFormat, Result};

/// Interleaved integer samples, as stored in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// 8-bit samples.
    U8(Vec<u8>),
    /// 16-bit samples.
    U16(Vec<u16>),
}

/// Metadata carried from a source frame into an output file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// The raw EXIF block (a TIFF structure starting with `II*\0` or `MM\0*`).
    pub exif: Option<Vec<u8>>,
    /// The ICC colour profile.
    pub icc: Option<Vec<u8>>,
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    info: FrameInfo,
    samples: Samples,
    /// EXIF and ICC of the source file.
    pub metadata: Metadata,
    /// The file it was read from, if any (for error messages).
    pub source: Option<PathBuf>,
}

impl Frame {
    /// A frame from interleaved samples; their count and type must match `info`.
    pub fn new(info: FrameInfo, samples: Samples) -> Result<Self> {
        let need = info.width * info.height * info.format.layout.channels();
        let (len, depth) = match &samples {
            Samples::U8(v) => (v.len(), BitDepth::Eight),
            Samples::U16(v) => (v.len(), BitDepth::Sixteen),
        };
        if len != need || depth != info.format.depth || need == 0 {
            return Err(CoreError::Dimensions(format!(
                "a {info} frame needs {need} samples of {} bits, got {len} of {}",
                info.format.depth.bits(),
                depth.bits()
            )));
        }
        Ok(Self { info, samples, metadata: Metadata::default(), source: None })
    }

    /// Size and format.
    pub fn info(&self) -> FrameInfo {
        self.info
    }
    /// Sample format.
    pub fn format(&self) -> PixelFormat {
        self.info.format
    }
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.info.width
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.info.height
    }
    /// The interleaved samples.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }
    /// The source path, or `"<memory>"`, for messages.
    pub fn name(&self) -> &Path {
        self.source.as_deref().unwrap_or(Path::new("<memory>"))
    }

    /// The frame as a planar float image in the native value range (0..=255 or
    /// 0..=65535); exact for both float types.
    pub fn to_image<T: Float>(&self) -> Image<T> {
        let (w, h) = (self.info.width, self.info.height);
        let c = self.info.format.layout.channels();
        let mut img = Image::new(w, h, c).expect("frame dimensions checked at construction");
        let mut planes: Vec<&mut [T]> = img.planes_mut().collect();
        // Deinterleave row-parallel: each task owns one row of every plane.
        let mut rows: Vec<Vec<&mut [T]>> = (0..h).map(|_| Vec::with_capacity(c)).collect();
        for p in planes.iter_mut() {
            for (y, r) in std::mem::take(p).chunks_mut(w).enumerate() {
                rows[y].push(r);
            }
        }
        match &self.samples {
            Samples::U8(s) => deinterleave(s, &mut rows, w, c),
            Samples::U16(s) => deinterleave(s, &mut rows, w, c),
        }
        img
    }

    /// A frame from a float image in the native range of `format.depth`: each sample
    /// is rounded to the nearest integer and clipped to `0..=max`. NaN becomes 0.
    pub fn from_image<T: Float>(image: &Image<T>, format: PixelFormat) -> Result<Self> {
        let c = format.layout.channels();
        if image.channels() != c {
            return Err(CoreError::Dimensions(format!(
                "a {} frame needs {c} channels, the image has {}",
                format.layout.name(),
                image.channels()
            )));
        }
        let (w, h) = (image.width(), image.height());
        let info = FrameInfo { width: w, height: h, format };
        let planes: Vec<&[T]> = image.planes().collect();
        let samples = match format.depth {
            BitDepth::Eight => Samples::U8(interleave(&planes, w, h, 255.0)),
            BitDepth::Sixteen => Samples::U16(interleave(&planes, w, h, 65535.0)),
        };
        Frame::new(info, samples)
    }

    /// Keeps the metadata and source of `other`.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// An integer sample type of a stored frame.
pub trait IntSample: Copy + Send + Sync + 'static {
    /// The value as f32 (exact).
    fn to_f32(self) -> f32;
    /// From an already rounded and clipped f64.
    fn from_rounded(v: f64) -> Self;
}

impl IntSample for u8 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn from_rounded(v: f64) -> Self {
        v as u8
    }
}

impl IntSample for u16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn from_rounded(v: f64) -> Self {
        v as u16
    }
}

fn deinterleave<S: IntSample, T: Float>(src: &[S], rows: &mut [Vec<&mut [T]>], w: usize, c: usize) {
    rows.par_iter_mut().zip(src.par_chunks(w * c)).for_each(|(dst, srow)| {
        if c == 1 {
            for (d, &s) in dst[0].iter_mut().zip(srow) {
                *d = T::from_f32(s.to_f32());
            }
            return;
        }
        for (x, px) in srow.chunks_exact(c).enumerate() {
            for (ch, &s) in px.iter().enumerate() {
                dst[ch][x] = T::from_f32(s.to_f32());
            }
        }
    });
}

/// Round half away from zero, clip to `0..=max`; NaN maps to 0.
#[inline(always)]
pub fn quantize<T: Float>(v: T, max: f64) -> f64 {
    let v = v.to_f64();
    if v.is_nan() { 0.0 } else { v.round().clamp(0.0, max) }
}

fn interleave<S: IntSample + Default + Clone, T: Float>(
    planes: &[&[T]],
    w: usize,
    h: usize,
    max: f64,
) -> Vec<S> {
    let c = planes.len();
    // Allocation: once per frame.
    let mut out = vec![S::default(); w * h * c];
    out.par_chunks_mut(w * c).enumerate().for_each(|(y, drow)| {
        for (ch, p) in planes.iter().enumerate() {
            let srow = &p[y * w..(y + 1) * w];
            for (x, &v) in srow.iter().enumerate() {
                drow[x * c + ch] = S::from_rounded(quantize(v, max));
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChannelLayout;

    fn rgb16() -> PixelFormat {
        PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Sixteen }
    }

    #[test]
    fn float_round_trip_is_exact_and_conversion_rounds_and_clips() {
        let info = FrameInfo { width: 2, height: 1, format: rgb16() };
        let f = Frame::new(info, Samples::U16(vec![0, 1, 2, 65535, 300, 7])).unwrap();
        let img: Image<f32> = f.to_image();
        assert_eq!(img.plane(0).as_slice(), &[0.0, 65535.0]);
        assert_eq!(img.plane(1).as_slice(), &[1.0, 300.0]);
        assert_eq!(Frame::from_image(&img, rgb16()).unwrap().samples(), f.samples());

        let img = Image::<f64>::from_planes(3, 1, vec![vec![-3.0, 254.5, 1e9]]).unwrap();
        let gray8 = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight };
        let back = Frame::from_image(&img, gray8).unwrap();
        assert_eq!(back.samples(), &Samples::U8(vec![0, 255, 255]));
        let img = Image::<f32>::from_planes(2, 1, vec![vec![f32::NAN, 2.49]]).unwrap();
        assert_eq!(Frame::from_image(&img, gray8).unwrap().samples(), &Samples::U8(vec![0, 2]));
    }

    #[test]
    fn frame_checks_sample_count_and_depth() {
        let info = FrameInfo { width: 2, height: 2, format: rgb16() };
        assert!(Frame::new(info, Samples::U16(vec![0; 11])).is_err());
        assert!(Frame::new(info, Samples::U8(vec![0; 12])).is_err());
        let img = Image::<f32>::new(2, 2, 1).unwrap();
        assert!(Frame::from_image(&img, rgb16()).is_err());
    }
}
