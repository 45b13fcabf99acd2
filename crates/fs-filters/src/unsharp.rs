//! Unsharp mask (the spec's `sharpen_amount_percent`, `sharpen_radius`,
//! `sharpen_threshold`).
//!
//! `out = image + amount / 100 * (image - blurred)` where `|image - blurred| >
//! threshold`, else `image`; `blurred` is a Gaussian blur with sigma = radius
//! (`2 ceil(3 sigma) + 1` taps, reflect-101 borders); the result is clipped to the
//! sample range (also where the pixel is left alone, should the input stray out
//! of it, as a pyramid stack's overshoot may). Each colour channel is sharpened on
//! its own; alpha is copied.

use fs_core::{Float, Image, PixelFormat, PlaneMut, convolve_separable, gaussian_kernel_for_sigma};
use rayon::prelude::*;

use crate::FilterError;
use crate::error::{check_range, color_channels};

/// Options of [`unsharp_mask`]. `Default` is the spec's: off (0 %), radius 1 px,
/// threshold 0.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsharpOptions {
    /// Strength in percent (`sharpen_amount_percent`): 0 turns the filter off;
    /// 100 adds the full difference to the blur once. Allowed: 0 to 10000.
    pub amount_percent: f64,
    /// Gaussian sigma of the blur in pixels (`sharpen_radius`): > 0, at most 1000.
    pub radius: f64,
    /// Smallest `|image - blurred|` that is sharpened, in 8-bit units (scaled by
    /// 256 for 16-bit images) (`sharpen_threshold`): 0 to 255.
    pub threshold: f64,
}

impl Default for UnsharpOptions {
    fn default() -> Self {
        Self { amount_percent: 0.0, radius: 1.0, threshold: 0.0 }
    }
}

impl UnsharpOptions {
    /// Checks every option, naming the first bad one as the user knows it
    /// (`sharpen_amount_percent`, `sharpen_radius`, `sharpen_threshold`).
    pub fn validate(&self) -> Result<(), FilterError> {
        check_range("sharpen_amount_percent", self.amount_percent, 0.0, false, 10_000.0)?;
        check_range("sharpen_radius", self.radius, 0.0, true, 1000.0)?;
        check_range("sharpen_threshold", self.threshold, 0.0, false, 255.0)
    }
}

/// Unsharp mask of an image in its native range (0..=255 or 0..=65535). `format`
/// gives the bit depth (which scales the threshold and the clipping range) and
/// whether the last channel is alpha (copied untouched). With `amount_percent = 0`
/// the image is returned unchanged, bit for bit.
///
/// ```
/// use fs_core::{BitDepth, ChannelLayout, Image, PixelFormat};
/// use fs_filters::{UnsharpOptions, unsharp_mask};
///
/// // A soft step from 100 to 150: sharpening overshoots on both sides of it.
/// let row = [100.0f32, 100.0, 100.0, 100.0, 100.0, 110.0, 140.0, 150.0, 150.0, 150.0];
/// let img = Image::from_planes(10, 1, vec![row.to_vec()]).unwrap();
/// let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight };
/// let options = UnsharpOptions { amount_percent: 100.0, ..UnsharpOptions::default() };
/// let out = unsharp_mask(&img, format, &options).unwrap();
/// let out = out.plane(0).as_slice();
/// assert!(out[4] < 99.0 && out[7] > 151.0, "{out:?}");
/// assert!((out[0] - 100.0).abs() < 1e-3); // far from the edge: flat, unchanged
/// ```
pub fn unsharp_mask<T: Float>(
    image: &Image<T>,
    format: PixelFormat,
    options: &UnsharpOptions,
) -> Result<Image<T>, FilterError> {
    options.validate()?;
    let cc = color_channels(image, format)?;
    if options.amount_percent == 0.0 {
        return Ok(image.clone());
    }
    let amount = T::from_f64(options.amount_percent / 100.0);
    let threshold = T::from_f64(options.threshold * format.depth.scale_from_8bit());
    let max = T::from_f64(format.depth.max_value());
    let kernel = gaussian_kernel_for_sigma::<T>(options.radius)?;
    let (w, h) = (image.width(), image.height());
    // Allocation: the output image and one blurred plane, once per call.
    let mut out = image.clone();
    let mut blurred = vec![T::zero(); w * h];
    for (c, dst) in out.planes_mut().take(cc).enumerate() {
        let src = image.plane(c);
        convolve_separable(src, PlaneMut::new(&mut blurred, w, h)?, &kernel, &kernel)?;
        dst.par_chunks_mut(w).zip(blurred.par_chunks(w)).for_each(|(d, b)| {
            for (d, &b) in d.iter_mut().zip(b) {
                let v = *d;
                let diff = v - b;
                let sharpened = if diff.abs() > threshold { v + amount * diff } else { v };
                *d = sharpened.max(T::zero()).min(max);
            }
        });
    }
    Ok(out)
}
