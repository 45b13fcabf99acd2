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
    /// How the frame was developed, when it was read from a camera RAW file: what a
    /// linear DNG output needs to hand the camera's colour back to a raw editor.
    pub raw: Option<RawColour>,
}

/// The colour facts of a developed RAW frame ([`crate::raw`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RawColour {
    /// The camera's colour matrix: CIE XYZ to camera RGB, row-major (DNG ColorMatrix).
    pub xyz_to_camera: [f32; 9],
    /// The white-balance gains applied (red, green, blue; the smallest is 1).
    pub gains: [f32; 3],
    /// Camera make and model.
    pub camera: String,
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
    /// The interleaved samples, by value: lets a consumer recycle the buffer (e.g.
    /// read the next frame into it) instead of allocating a fresh one per frame.
    pub fn into_samples(self) -> Samples {
        self.samples
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
        self.to_image_into(&mut img).expect("image made to the frame's shape");
        img
    }

    /// [`Frame::to_image`] into an existing image of the frame's size and channel
    /// count. Reusing one image for every frame of a stack saves the page faults
    /// of a fresh allocation, which cost more than the conversion itself (see the
    /// crate docs).
    pub fn to_image_into<T: Float>(&self, image: &mut Image<T>) -> Result<()> {
        let (w, h) = (self.info.width, self.info.height);
        let c = self.info.format.layout.channels();
        if image.shape() != (w, h, c) {
            let (iw, ih, ic) = image.shape();
            return Err(CoreError::Dimensions(format!(
                "a {} frame needs a {w}x{h} image with {c} channels, got {iw}x{ih} with {ic}",
                self.info
            )));
        }
        let planes: Vec<&mut [T]> = image.planes_mut().collect();
        match &self.samples {
            Samples::U8(s) => deinterleave(s, planes, w),
            Samples::U16(s) => deinterleave(s, planes, w),
        }
        Ok(())
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
    /// From an integer already clipped to the type's range.
    #[inline(always)]
    fn from_int(v: i32) -> Self {
        Self::from_rounded(f64::from(v))
    }
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
    #[inline(always)]
    fn from_int(v: i32) -> Self {
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
    #[inline(always)]
    fn from_int(v: i32) -> Self {
        v as u16
    }
}

/// Planar float rows from interleaved integer rows, parallel over rows. One loop per
/// channel count so each inner loop is a straight zip the compiler vectorises (the
/// generic per-pixel loop over `c` channels ran 1.1 s for a 24-megapixel RGB frame;
/// see the crate docs for the figures now).
fn deinterleave<S: IntSample, T: Float>(src: &[S], mut planes: Vec<&mut [T]>, w: usize) {
    #[inline(always)]
    fn cv<S: IntSample, T: Float>(s: S) -> T {
        T::from_f32(s.to_f32())
    }
    match planes.as_mut_slice() {
        [p0] => p0.par_chunks_mut(w).zip(src.par_chunks(w)).for_each(|(d0, s)| {
            for (d, &v) in d0.iter_mut().zip(s) {
                *d = cv(v);
            }
        }),
        [p0, p1] => {
            p0.par_chunks_mut(w).zip(p1.par_chunks_mut(w)).zip(src.par_chunks(w * 2)).for_each(
                |((d0, d1), s)| {
                    for ((a, b), px) in d0.iter_mut().zip(d1.iter_mut()).zip(s.chunks_exact(2)) {
                        (*a, *b) = (cv(px[0]), cv(px[1]));
                    }
                },
            )
        }
        [p0, p1, p2] => p0
            .par_chunks_mut(w)
            .zip(p1.par_chunks_mut(w))
            .zip(p2.par_chunks_mut(w))
            .zip(src.par_chunks(w * 3))
            .for_each(|(((d0, d1), d2), s)| {
                let it = d0.iter_mut().zip(d1.iter_mut()).zip(d2.iter_mut());
                for (((a, b), c), px) in it.zip(s.chunks_exact(3)) {
                    (*a, *b, *c) = (cv(px[0]), cv(px[1]), cv(px[2]));
                }
            }),
        [p0, p1, p2, p3] => p0
            .par_chunks_mut(w)
            .zip(p1.par_chunks_mut(w))
            .zip(p2.par_chunks_mut(w))
            .zip(p3.par_chunks_mut(w))
            .zip(src.par_chunks(w * 4))
            .for_each(|((((d0, d1), d2), d3), s)| {
                let it = d0.iter_mut().zip(d1.iter_mut()).zip(d2.iter_mut()).zip(d3.iter_mut());
                for ((((a, b), c), d), px) in it.zip(s.chunks_exact(4)) {
                    (*a, *b, *c, *d) = (cv(px[0]), cv(px[1]), cv(px[2]), cv(px[3]));
                }
            }),
        _ => unreachable!("frames have 1 to 4 channels"),
    }
}

/// Round half away from zero, clip to `0..=max`; NaN maps to 0.
#[inline(always)]
pub fn quantize<T: Float>(v: T, max: f64) -> f64 {
    let v = v.to_f64();
    if v.is_nan() { 0.0 } else { v.round().clamp(0.0, max) }
}

/// [`quantize`] without branches, libm `round` or saturating casts, so that it
/// vectorises (each of those kept the loop scalar, 3.6 ns per sample): clip (NaN
/// goes to 0), round to nearest-even by adding 2^52 (the integer then sits in the
/// low mantissa bits), and turn the ties that went down into ups, which makes it
/// round half away from zero for these non-negative values. Equal to `quantize`
/// for every input; tested against it.
#[inline(always)]
fn quantize_fast<S: IntSample, T: Float>(v: T, max: f64) -> S {
    const MAGIC: f64 = 4_503_599_627_370_496.0; // 2^52
    let c = v.to_f64().max(0.0).min(max);
    let m = c + MAGIC;
    let up = u64::from(c - (m - MAGIC) >= 0.5);
    S::from_int(((m.to_bits() & 0xFFFF_FFFF) + up) as i32)
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
    // Two passes per row: quantize each plane's row into a contiguous scratch row
    // (a straight loop that vectorises), then interleave the integers.
    out.par_chunks_mut(w * c).enumerate().for_each_init(
        // Allocation: one scratch row per rayon work split, not per row.
        || vec![S::default(); w * c],
        |scratch, (y, d)| {
            for (ch, p) in planes.iter().enumerate() {
                let src = &p[y * w..(y + 1) * w];
                for (o, &v) in scratch[ch * w..(ch + 1) * w].iter_mut().zip(src) {
                    *o = quantize_fast(v, max);
                }
            }
            match c {
                1 => d.copy_from_slice(&scratch[..w]),
                2 => interleave_row::<S, 2>(scratch, d, w),
                3 => interleave_row::<S, 3>(scratch, d, w),
                4 => interleave_row::<S, 4>(scratch, d, w),
                _ => unreachable!("frames have 1 to 4 channels"),
            }
        },
    );
    out
}

#[inline(always)]
fn interleave_row<S: IntSample, const C: usize>(planar: &[S], out: &mut [S], w: usize) {
    let planes: [&[S]; C] = std::array::from_fn(|ch| &planar[ch * w..(ch + 1) * w]);
    for (x, px) in out.chunks_exact_mut(C).enumerate().take(w) {
        for ch in 0..C {
            px[ch] = planes[ch][x];
        }
    }
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
