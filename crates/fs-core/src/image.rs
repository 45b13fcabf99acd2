//! Planar float images and borrowed plane views.
//!
//! An [`Image<T>`] owns one contiguous `Vec<T>` per channel (planar layout, row
//! stride = width). [`Plane`] and [`PlaneMut`] are checked views over any slice of
//! `width * height` samples, so a memory-mapped tile is just another backing store.
//! Samples keep the native value range of the source (0..=255 for 8-bit,
//! 0..=65535 for 16-bit); see [`crate::Frame`] for the conversions.

use std::fmt::Debug;
use std::iter::Sum;

use crate::{CoreError, Result};

/// The float sample type of an image: `f32` (default) or `f64` (the seed's
/// `float_type`).
pub trait Float:
    num_traits::Float
    + Default
    + Debug
    + Send
    + Sync
    + Sum
    + 'static
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
{
    /// Converts from `f64` (rounding to the nearest representable value).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Converts from `f32` exactly.
    fn from_f32(v: f32) -> Self;
}

impl Float for f32 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl Float for f64 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v as f64
    }
}

/// Which float type a stacker computes in (the seed's `float_type`: `FLOAT_32`, `FLOAT_64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum FloatType {
    /// 32-bit floats: half the memory, the default.
    #[default]
    F32,
    /// 64-bit floats.
    F64,
}

impl FloatType {
    /// Bytes per sample.
    pub fn bytes(self) -> usize {
        match self {
            FloatType::F32 => 4,
            FloatType::F64 => 8,
        }
    }
}

/// A read-only view of one channel: `width * height` samples, row-major.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a, T> {
    data: &'a [T],
    width: usize,
    height: usize,
}

impl<'a, T> Plane<'a, T> {
    /// A view of `data` as a `width` x `height` plane; the length must match exactly.
    pub fn new(data: &'a [T], width: usize, height: usize) -> Result<Self> {
        check_len(data.len(), width, height)?;
        Ok(Self { data, width, height })
    }
    /// Width in samples.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height in rows.
    pub fn height(&self) -> usize {
        self.height
    }
    /// All samples, row after row.
    pub fn as_slice(&self) -> &'a [T] {
        self.data
    }
    /// Row `y`.
    #[inline]
    pub fn row(&self, y: usize) -> &'a [T] {
        &self.data[y * self.width..(y + 1) * self.width]
    }
    /// An n-d view (rows, columns) for callers that prefer ndarray.
    pub fn to_ndarray(&self) -> ndarray::ArrayView2<'a, T> {
        ndarray::ArrayView2::from_shape((self.height, self.width), self.data)
            .expect("plane length checked at construction")
    }
}

/// A mutable view of one channel: `width * height` samples, row-major.
#[derive(Debug)]
pub struct PlaneMut<'a, T> {
    data: &'a mut [T],
    width: usize,
    height: usize,
}

impl<'a, T> PlaneMut<'a, T> {
    /// A mutable view of `data` as a `width` x `height` plane; the length must match.
    pub fn new(data: &'a mut [T], width: usize, height: usize) -> Result<Self> {
        check_len(data.len(), width, height)?;
        Ok(Self { data, width, height })
    }
    /// Width in samples.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height in rows.
    pub fn height(&self) -> usize {
        self.height
    }
    /// All samples, row after row.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.data
    }
    /// All samples, read-only.
    pub fn as_slice(&self) -> &[T] {
        self.data
    }
    /// A read-only view of the same samples.
    pub fn as_plane(&self) -> Plane<'_, T> {
        Plane { data: self.data, width: self.width, height: self.height }
    }
    /// Row `y`, mutable.
    #[inline]
    pub fn row_mut(&mut self, y: usize) -> &mut [T] {
        &mut self.data[y * self.width..(y + 1) * self.width]
    }
    /// Consumes the view, giving back the slice with its lifetime.
    pub fn into_slice(self) -> &'a mut [T] {
        self.data
    }
}

fn check_len(len: usize, width: usize, height: usize) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(CoreError::Dimensions(format!("empty plane {width}x{height}")));
    }
    match width.checked_mul(height) {
        Some(n) if n == len => Ok(()),
        _ => Err(CoreError::Dimensions(format!(
            "a {width}x{height} plane needs {} samples, got {len}",
            width.saturating_mul(height)
        ))),
    }
}

/// An owned planar image: `channels` planes of `width * height` samples each.
#[derive(Debug, Clone, PartialEq)]
pub struct Image<T> {
    width: usize,
    height: usize,
    planes: Vec<Vec<T>>,
}

impl<T: Float> Image<T> {
    /// A zero-filled image.
    pub fn new(width: usize, height: usize, channels: usize) -> Result<Self> {
        if channels == 0 {
            return Err(CoreError::Dimensions("an image needs at least one channel".into()));
        }
        check_len(width.saturating_mul(height), width, height)?;
        // Allocation: once per image.
        Ok(Self { width, height, planes: vec![vec![T::zero(); width * height]; channels] })
    }

    /// An image from its planes; every plane must hold `width * height` samples.
    pub fn from_planes(width: usize, height: usize, planes: Vec<Vec<T>>) -> Result<Self> {
        if planes.is_empty() {
            return Err(CoreError::Dimensions("an image needs at least one channel".into()));
        }
        for p in &planes {
            check_len(p.len(), width, height)?;
        }
        Ok(Self { width, height, planes })
    }

    /// The `width x height` part whose top-left pixel is `(x0, y0)`, every channel; a
    /// rectangle reaching outside the image is an error naming both sizes.
    pub fn crop(&self, x0: usize, y0: usize, width: usize, height: usize) -> Result<Self> {
        if x0.saturating_add(width) > self.width || y0.saturating_add(height) > self.height {
            return Err(CoreError::Dimensions(format!(
                "crop {width}x{height} at ({x0}, {y0}) reaches outside the {}x{} image",
                self.width, self.height
            )));
        }
        let planes = (0..self.channels())
            .map(|c| {
                let p = self.plane(c);
                (y0..y0 + height).flat_map(|y| p.row(y)[x0..x0 + width].iter().copied()).collect()
            })
            .collect();
        Self::from_planes(width, height, planes)
    }

    /// Converts every sample to another float type.
    pub fn convert<U: Float>(&self) -> Image<U> {
        Image {
            width: self.width,
            height: self.height,
            planes: self
                .planes
                .iter()
                .map(|p| p.iter().map(|&v| U::from_f64(v.to_f64())).collect())
                .collect(),
        }
    }
}

impl<T> Image<T> {
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Number of channels (planes).
    pub fn channels(&self) -> usize {
        self.planes.len()
    }
    /// Channel `c` as a view.
    pub fn plane(&self, c: usize) -> Plane<'_, T> {
        Plane { data: &self.planes[c], width: self.width, height: self.height }
    }
    /// Channel `c` as a mutable view.
    pub fn plane_mut(&mut self, c: usize) -> PlaneMut<'_, T> {
        PlaneMut { data: &mut self.planes[c], width: self.width, height: self.height }
    }
    /// All planes as slices.
    pub fn planes(&self) -> impl ExactSizeIterator<Item = &[T]> {
        self.planes.iter().map(|p| p.as_slice())
    }
    /// All planes as mutable slices (e.g. to process channels in parallel).
    pub fn planes_mut(&mut self) -> impl ExactSizeIterator<Item = &mut [T]> {
        self.planes.iter_mut().map(|p| p.as_mut_slice())
    }
    /// Gives back the planes.
    pub fn into_planes(self) -> Vec<Vec<T>> {
        self.planes
    }
    /// `(width, height, channels)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.width, self.height, self.planes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plane_checks_length_and_gives_rows() {
        let data: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let p = Plane::new(&data, 4, 3).unwrap();
        assert_eq!(p.row(1), &[4.0, 5.0, 6.0, 7.0]);
        assert_eq!(p.to_ndarray()[[2, 3]], 11.0);
        let err = Plane::new(&data, 5, 3).unwrap_err();
        assert_eq!(err.to_string(), "invalid dimensions: a 5x3 plane needs 15 samples, got 12");
        assert!(Plane::new(&data[..0], 0, 3).is_err());
    }

    #[test]
    fn image_from_planes_rejects_ragged_planes() {
        assert!(Image::<f32>::from_planes(2, 2, vec![vec![0.0; 4], vec![0.0; 3]]).is_err());
        let img = Image::<f32>::from_planes(2, 2, vec![vec![1.5; 4]; 3]).unwrap();
        assert_eq!(img.shape(), (2, 2, 3));
        let d: Image<f64> = img.convert();
        assert_eq!(d.plane(2).as_slice(), &[1.5f64; 4]);
    }

    #[test]
    fn crop_takes_the_rectangle_of_every_channel_and_checks_bounds() {
        let a: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let b: Vec<f32> = a.iter().map(|v| -v).collect();
        let img = Image::from_planes(4, 3, vec![a, b]).unwrap();
        let c = img.crop(1, 1, 2, 2).unwrap();
        assert_eq!(c.shape(), (2, 2, 2));
        assert_eq!(c.plane(0).as_slice(), &[5.0, 6.0, 9.0, 10.0]);
        assert_eq!(c.plane(1).as_slice(), &[-5.0, -6.0, -9.0, -10.0]);
        let err = img.crop(3, 0, 2, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid dimensions: crop 2x1 at (3, 0) reaches outside the 4x3 image"
        );
    }
}
