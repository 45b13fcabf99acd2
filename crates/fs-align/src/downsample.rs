//! Block-average subsampling of frames for estimation and balance.
//!
//! [`small_image`] reads the frame's interleaved integer samples directly, one
//! parallel pass over output rows, summing each `factor` x `factor` block in integers
//! (exact) and scaling once: converting a 24-megapixel frame to f32 first would cost
//! a 288 MB image and its page faults (about a second, see fs-core's docs) for an
//! image 16 times smaller.

use fs_core::{Frame, Image, Samples};
use rayon::prelude::*;

/// The smallest integer block size `f` that brings a `width` x `height` image to at
/// most `target_pixels` pixels (`(width / f) * (height / f) <= target_pixels`); 1 when
/// `target_pixels` is 0 or the image is already small enough. Never more than the
/// shorter side, so the subsampled image keeps at least one row and column.
///
/// ```
/// assert_eq!(fs_align::subsample_factor(6000, 4000, 2_000_000), 4);
/// assert_eq!(fs_align::subsample_factor(2048, 1536, 2_000_000), 2);
/// assert_eq!(fs_align::subsample_factor(1000, 1000, 2_000_000), 1);
/// assert_eq!(fs_align::subsample_factor(6000, 4000, 0), 1);
/// ```
pub fn subsample_factor(width: usize, height: usize, target_pixels: usize) -> usize {
    if target_pixels == 0 || width.saturating_mul(height) <= target_pixels {
        return 1;
    }
    let most = width.min(height).max(1);
    // Start just below the real-valued answer and step up: (w/f)(h/f) falls with f.
    let guess = ((width as f64 * height as f64) / target_pixels as f64).sqrt().floor() as usize;
    let mut f = guess.clamp(1, most);
    while f > 1 && (width / (f - 1)) * (height / (f - 1)) <= target_pixels {
        f -= 1;
    }
    while f < most && (width / f) * (height / f) > target_pixels {
        f += 1;
    }
    f
}

/// The frame's colour channels (gray: 1, RGB/RGBA: 3; alpha dropped) averaged over
/// `factor` x `factor` blocks, scaled to 0..1 (divided by 255 or 65535). The output is
/// `width / factor` x `height / factor` (rounded down: a last partial block is left
/// out); `factor` 0 counts as 1, and a factor larger than a side is reduced to it.
///
/// ```
/// use fs_align::small_image;
/// use fs_core::{BitDepth, ChannelLayout, Frame, FrameInfo, PixelFormat, Samples};
///
/// let format = PixelFormat { layout: ChannelLayout::GrayAlpha, depth: BitDepth::Eight };
/// let info = FrameInfo { width: 3, height: 2, format };
/// let frame = Frame::new(info, Samples::U8(vec![0, 9, 255, 9, 7, 9, 255, 9, 0, 9, 7, 9]))
///     .unwrap();
/// let small = small_image(&frame, 2);
/// assert_eq!(small.shape(), (1, 1, 1));
/// assert_eq!(small.plane(0).as_slice(), &[0.5]);
/// ```
pub fn small_image(frame: &Frame, factor: usize) -> Image<f32> {
    let (w, h) = (frame.width(), frame.height());
    let f = factor.clamp(1, w.min(h));
    let layout = frame.format().layout;
    let (channels, colours) = (layout.channels(), layout.color_channels());
    let (ow, oh) = (w / f, h / f);
    let mut image = Image::new(ow, oh, colours).expect("frame dimensions are positive");
    let scale = 1.0 / (frame.format().depth.max_value() * (f * f) as f64);
    let planes: Vec<&mut [f32]> = image.planes_mut().collect();
    // Allocation: once per call, one small vector of row slices per output row.
    let mut rows: Vec<Vec<&mut [f32]>> = (0..oh).map(|_| Vec::with_capacity(colours)).collect();
    for p in planes {
        for (r, chunk) in rows.iter_mut().zip(p.chunks_mut(ow)) {
            r.push(chunk);
        }
    }
    let geometry = Geometry { width: w, channels, colours, factor: f, scale };
    // 32-bit sums while a block's sum fits (any factor up to 256), else 64-bit.
    match (frame.samples(), f <= 256) {
        (Samples::U8(s), true) => block_rows::<u8, u32>(s, &mut rows, &geometry),
        (Samples::U16(s), true) => block_rows::<u16, u32>(s, &mut rows, &geometry),
        (Samples::U8(s), false) => block_rows::<u8, u64>(s, &mut rows, &geometry),
        (Samples::U16(s), false) => block_rows::<u16, u64>(s, &mut rows, &geometry),
    }
    image
}

struct Geometry {
    width: usize,
    channels: usize,
    colours: usize,
    factor: usize,
    scale: f64,
}

/// Fills every output row (one slice per colour channel) with block averages.
/// A block-sum accumulator.
trait Acc: Copy + Default + std::ops::AddAssign + Send + Sync {
    fn to_f64(self) -> f64;
}

impl Acc for u32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Acc for u64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

fn block_rows<S, A>(src: &[S], rows: &mut [Vec<&mut [f32]>], g: &Geometry)
where
    S: Copy + Into<A> + Sync,
    A: Acc,
{
    let ow = g.width / g.factor;
    let stride = g.width * g.channels;
    let scale = g.scale;
    rows.par_iter_mut().enumerate().for_each_init(
        // Allocation: one accumulator row per rayon work split.
        || vec![A::default(); ow * g.colours],
        |acc, (oy, out)| {
            acc.fill(A::default());
            for sy in oy * g.factor..(oy + 1) * g.factor {
                let row = &src[sy * stride..(sy + 1) * stride];
                match (g.channels, g.colours) {
                    (1, 1) => sum_row::<S, A, 1, 1>(row, acc, g.factor),
                    (2, 1) => sum_row::<S, A, 2, 1>(row, acc, g.factor),
                    (3, 3) => sum_row::<S, A, 3, 3>(row, acc, g.factor),
                    (4, 3) => sum_row::<S, A, 4, 3>(row, acc, g.factor),
                    _ => unreachable!("frames have 1 to 4 channels"),
                }
            }
            for (c, plane_row) in out.iter_mut().enumerate() {
                for (x, o) in plane_row.iter_mut().enumerate() {
                    *o = (acc[x * g.colours + c].to_f64() * scale) as f32;
                }
            }
        },
    );
}

/// Adds one source row's blocks of `factor` pixels into `acc` (`K` colours per
/// output pixel, interleaved), reading `C` samples per source pixel.
#[inline(always)]
fn sum_row<S: Copy + Into<A>, A: Acc, const C: usize, const K: usize>(
    row: &[S],
    acc: &mut [A],
    factor: usize,
) {
    for (a, block) in acc.chunks_exact_mut(K).zip(row.chunks_exact(factor * C)) {
        let mut s = [A::default(); K];
        for px in block.chunks_exact(C) {
            for k in 0..K {
                s[k] += px[k].into();
            }
        }
        for k in 0..K {
            a[k] += s[k];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs_core::{BitDepth, ChannelLayout, FrameInfo, PixelFormat};

    #[test]
    fn factor_is_the_smallest_that_fits() {
        for (w, h, t) in [(6000, 4000, 2_000_000), (2048, 1536, 1_000_000), (101, 7, 50)] {
            let f = subsample_factor(w, h, t);
            assert!((w / f) * (h / f) <= t, "{w}x{h} {t}: {f}");
            assert!(f == 1 || (w / (f - 1)) * (h / (f - 1)) > t, "{w}x{h} {t}: {f}");
        }
        assert_eq!(subsample_factor(10, 10, 1), 6);
        assert_eq!(subsample_factor(10, 3, 1), 3);
    }

    #[test]
    fn rgb16_blocks_are_averaged_and_scaled() {
        let format = PixelFormat { layout: ChannelLayout::Rgba, depth: BitDepth::Sixteen };
        let info = FrameInfo { width: 5, height: 2, format };
        // Pixel (x, y): r = 1000 x, g = 65535 at y = 0 else 0, b = 7, alpha = 1.
        let mut s = Vec::new();
        for y in 0..2 {
            for x in 0..5u16 {
                s.extend_from_slice(&[1000 * x, if y == 0 { 65535 } else { 0 }, 7, 1]);
            }
        }
        let frame = Frame::new(info, Samples::U16(s)).unwrap();
        let small = small_image(&frame, 2);
        assert_eq!(small.shape(), (2, 1, 3));
        let r = small.plane(0).as_slice();
        assert!((r[0] - 500.0 / 65535.0).abs() < 1e-7 && (r[1] - 2500.0 / 65535.0).abs() < 1e-7);
        assert_eq!(small.plane(1).as_slice(), &[0.5, 0.5]);
        assert!((small.plane(2).as_slice()[1] - 7.0 / 65535.0).abs() < 1e-9);
        // Factor 1 is the plain scaled conversion.
        let full = small_image(&frame, 1);
        assert_eq!(full.shape(), (5, 2, 3));
        assert_eq!(full.plane(1).as_slice()[..5], [1.0; 5]);
    }
}
