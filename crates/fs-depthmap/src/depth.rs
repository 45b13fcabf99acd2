//! The depth-map image: the weighted mean frame index per pixel, scaled to 0..=255.
//!
//! It uses the per-pixel weights before any smoothing or pyramid, so it shows what
//! the weight rule decided: frame 0 maps to 0, the last frame to 255.

use fs_core::{BitDepth, ChannelLayout, Float, Frame, Image, PixelFormat};
use rayon::prelude::*;

use crate::error::Result;

/// Running sum of `k * w_k` (and of `w_k`) over frames `k`.
#[derive(Debug, Clone)]
pub struct DepthAccumulator<T> {
    width: usize,
    height: usize,
    frames: usize,
    index_sum: Vec<T>,
    weight_sum: Vec<T>,
}

impl<T: Float> DepthAccumulator<T> {
    /// Empty sums for a `width` x `height` stack.
    pub fn new(width: usize, height: usize) -> Self {
        let n = width * height;
        // Allocation: two planes once per stack.
        Self {
            width,
            height,
            frames: 0,
            index_sum: vec![T::zero(); n],
            weight_sum: vec![T::zero(); n],
        }
    }

    /// Adds frame number `index` with its weight map.
    pub fn add(&mut self, index: usize, weights: &[T]) {
        let k = T::from_f64(index as f64);
        self.frames = self.frames.max(index + 1);
        self.index_sum
            .par_iter_mut()
            .zip(self.weight_sum.par_iter_mut())
            .zip(weights.par_iter())
            .for_each(|((d, s), &w)| {
                *d += k * w;
                *s += w;
            });
    }

    /// The weighted mean frame index per pixel, in frame units (0 ..= frames - 1).
    pub fn mean_index(&self) -> Vec<T> {
        self.index_sum
            .par_iter()
            .zip(self.weight_sum.par_iter())
            .map(|(&d, &s)| if s > T::zero() { d / s } else { T::zero() })
            .collect()
    }

    /// The depth map as an 8-bit grayscale frame: `255 * mean index / (frames - 1)`
    /// (all zero for a single frame).
    pub fn to_frame(&self) -> Result<Frame> {
        let scale = if self.frames > 1 { 255.0 / (self.frames - 1) as f64 } else { 0.0 };
        let scale = T::from_f64(scale);
        let plane: Vec<T> = self.mean_index().into_iter().map(|v| v * scale).collect();
        let image = Image::from_planes(self.width, self.height, vec![plane])?;
        let gray8 = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight };
        Ok(Frame::from_image(&image, gray8)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs_core::Samples;

    #[test]
    fn depth_is_the_weighted_mean_index_scaled_to_255() {
        let mut acc = DepthAccumulator::<f64>::new(3, 1);
        // Three frames: pixel 0 all in frame 0, pixel 1 all in frame 2, pixel 2 split
        // between frames 1 and 2 (mean index 1.5).
        acc.add(0, &[1.0, 0.0, 0.0]);
        acc.add(1, &[0.0, 0.0, 0.5]);
        acc.add(2, &[0.0, 1.0, 0.5]);
        assert_eq!(acc.mean_index(), vec![0.0, 2.0, 1.5]);
        let f = acc.to_frame().unwrap();
        // 1.5 / 2 * 255 = 191.25 -> 191.
        assert_eq!(f.samples(), &Samples::U8(vec![0, 255, 191]));
    }
}
