//! The area every aligned frame covers, and cropping to it.
//!
//! Frame k covers the reference position p when `transforms[k].apply(p)` lies in
//! `[0, w-1] x [0, h-1]` (and, for a homography, p is on the side of the horizon
//! where the transform's denominator is positive). In exact arithmetic that set is
//! convex (the preimage of a rectangle under an affine or a projective map on one side
//! of its horizon), and so is the intersection over all frames and the reference
//! itself. A rectangle of pixel centres lies inside a convex set exactly when its four
//! corners do, so [`common_area`] needs, per integer row, only the interval of x
//! covered by every frame (each constraint is linear in x along a row) and then tries
//! every pair of top and bottom rows: O(h K + h^2), about 20 ms for h = 4000. The
//! result is the largest such rectangle, not an approximation. The row intervals are
//! computed with a hair of slack outwards and their end pixels then checked with
//! [`Transform::apply`] itself (moved inwards while they fail), so a pixel whose
//! position is computed a rounding error outside the frame is never included, while an
//! exact edge (identity, integer shifts) is kept.

use fs_core::{CoreError, Frame, FrameInfo, Samples};

use crate::{Result, Transform};

/// Outward slack (pixels) of the computed row intervals before the exact check.
const SLACK: f64 = 1e-7;

/// An axis-aligned pixel rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

impl Rect {
    /// Number of pixels.
    pub fn area(&self) -> usize {
        self.width * self.height
    }
}

/// The largest axis-aligned rectangle of a `width` x `height` reference whose every
/// pixel every frame covers (frame k covers position p when `transforms[k].apply(p)`
/// lies within `[0, width-1] x [0, height-1]`); `None` when they share no pixel. An
/// empty list of transforms gives the whole frame. Of several rectangles of the same
/// area, the one with the smallest top row, then bottom row, wins.
///
/// ```
/// use fs_align::{Rect, Transform, common_area};
///
/// // One frame shifted right by 3.5 pixels, another down by 2.
/// let t = [Transform::translation(3.5, 0.0), Transform::translation(0.0, -2.0)];
/// let r = common_area(&t, 100, 50).unwrap();
/// assert_eq!(r, Rect { x: 0, y: 2, width: 96, height: 48 });
/// ```
pub fn common_area(transforms: &[Transform], width: usize, height: usize) -> Option<Rect> {
    if width == 0 || height == 0 {
        return None;
    }
    // Allocation: once per call, an integer x interval per row (None: row not covered).
    let rows: Vec<Option<(i64, i64)>> =
        (0..height).map(|y| row_interval(transforms, y as f64, width, height)).collect();
    let mut best: Option<(usize, Rect)> = None;
    for y0 in 0..height {
        let Some((l0, r0)) = rows[y0] else { continue };
        for y1 in y0..height {
            let Some((l1, r1)) = rows[y1] else { continue };
            let (l, r) = (l0.max(l1), r0.min(r1));
            if l > r {
                continue;
            }
            let area = (r - l + 1) as usize * (y1 - y0 + 1);
            if best.is_none_or(|(a, _)| area > a) {
                let rect =
                    Rect { x: l as usize, y: y0, width: (r - l + 1) as usize, height: y1 - y0 + 1 };
                best = Some((area, rect));
            }
        }
    }
    best.map(|(_, r)| r)
}

/// The integer columns of row `y` that every transform maps inside the frame (within
/// the reference's own columns), or `None`.
fn row_interval(
    transforms: &[Transform],
    y: f64,
    width: usize,
    height: usize,
) -> Option<(i64, i64)> {
    let (wmax, hmax) = ((width - 1) as f64, (height - 1) as f64);
    let (mut lo, mut hi) = (0.0f64, wmax);
    // Constraint p x + q >= 0.
    let mut bound = |p: f64, q: f64| {
        if p > 0.0 {
            lo = lo.max(-q / p);
        } else if p < 0.0 {
            hi = hi.min(-q / p);
        } else if q < 0.0 || q.is_nan() {
            hi = f64::NEG_INFINITY;
        }
    };
    for t in transforms {
        let m = t.matrix();
        // u = a x + b, v = c x + d, w = e x + f along the row.
        let (a, b) = (m[0], m[1] * y + m[2]);
        let (c, d) = (m[3], m[4] * y + m[5]);
        let (e, f) = (m[6], m[7] * y + m[8]);
        bound(e, f); // w > 0 (checked strictly below)
        bound(a, b); // u >= 0
        bound(wmax * e - a, wmax * f - b); // u <= wmax w
        bound(c, d);
        bound(hmax * e - c, hmax * f - d);
    }
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return None;
    }
    let (mut l, mut r) =
        ((lo - SLACK).ceil().max(0.0) as i64, (hi + SLACK).floor().min(wmax) as i64);
    let covered = |x: i64| {
        transforms.iter().all(|t| {
            let m = t.matrix();
            let w = m[6] * x as f64 + m[7] * y + m[8];
            let (u, v) = t.apply(x as f64, y);
            w > 0.0 && (0.0..=wmax).contains(&u) && (0.0..=hmax).contains(&v)
        })
    };
    while l <= r && !covered(l) {
        l += 1;
    }
    while r >= l && !covered(r) {
        r -= 1;
    }
    (l <= r).then_some((l, r))
}

/// The part of `frame` inside `rect` (metadata and source kept).
///
/// Errors: an empty rectangle, or one reaching outside the frame.
///
/// ```
/// use fs_align::{Rect, crop_frame};
/// use fs_core::{BitDepth, ChannelLayout, Frame, FrameInfo, PixelFormat, Samples};
///
/// let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight };
/// let info = FrameInfo { width: 3, height: 2, format };
/// let frame = Frame::new(info, Samples::U8(vec![1, 2, 3, 4, 5, 6])).unwrap();
/// let out = crop_frame(&frame, Rect { x: 1, y: 0, width: 2, height: 2 })?;
/// assert_eq!(out.samples(), &Samples::U8(vec![2, 3, 5, 6]));
/// # Ok::<(), fs_align::AlignError>(())
/// ```
pub fn crop_frame(frame: &Frame, rect: Rect) -> Result<Frame> {
    let (w, h) = (frame.width(), frame.height());
    let fits = rect.x.checked_add(rect.width).is_some_and(|r| r <= w)
        && rect.y.checked_add(rect.height).is_some_and(|b| b <= h);
    if rect.width == 0 || rect.height == 0 || !fits {
        return Err(CoreError::Dimensions(format!(
            "{}: crop {}x{} at ({}, {}) is empty or outside the {w}x{h} frame",
            frame.name().display(),
            rect.width,
            rect.height,
            rect.x,
            rect.y
        ))
        .into());
    }
    let c = frame.format().layout.channels();
    let samples = match frame.samples() {
        Samples::U8(s) => Samples::U8(crop_samples(s, w, c, rect)),
        Samples::U16(s) => Samples::U16(crop_samples(s, w, c, rect)),
    };
    let info = FrameInfo { width: rect.width, height: rect.height, format: frame.format() };
    let mut out = Frame::new(info, samples)?.with_metadata(frame.metadata.clone());
    out.source = frame.source.clone();
    Ok(out)
}

fn crop_samples<S: Copy>(src: &[S], width: usize, channels: usize, rect: Rect) -> Vec<S> {
    let stride = width * channels;
    // Allocation: once per frame (the output).
    let mut out = Vec::with_capacity(rect.area() * channels);
    for y in rect.y..rect.y + rect.height {
        let start = y * stride + rect.x * channels;
        out.extend_from_slice(&src[start..start + rect.width * channels]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_empty_lists_give_the_whole_frame() {
        let full = Rect { x: 0, y: 0, width: 7, height: 5 };
        assert_eq!(common_area(&[], 7, 5), Some(full));
        assert_eq!(common_area(&[Transform::identity()], 7, 5), Some(full));
    }

    #[test]
    fn disjoint_frames_share_nothing() {
        let t = [Transform::translation(20.0, 0.0)];
        assert_eq!(common_area(&t, 10, 10), None);
    }

    #[test]
    fn magnified_frame_covers_a_centred_rectangle() {
        // The frame shows the reference at 1/2 magnification... i.e. reference positions
        // map to (x - 4.5) * 2 + 4.5: only x in [2.25, 6.75] is covered, so columns 3..=6.
        let t = Transform::scaling_about(2.0, 4.5, 4.5);
        assert_eq!(common_area(&[t], 10, 10), Some(Rect { x: 3, y: 3, width: 4, height: 4 }));
    }

    #[test]
    fn crop_checks_bounds() {
        let format = fs_core::PixelFormat {
            layout: fs_core::ChannelLayout::Rgb,
            depth: fs_core::BitDepth::Sixteen,
        };
        let info = FrameInfo { width: 2, height: 2, format };
        let frame = Frame::new(info, Samples::U16((0..12).collect())).unwrap();
        let r = Rect { x: 1, y: 1, width: 1, height: 1 };
        assert_eq!(crop_frame(&frame, r).unwrap().samples(), &Samples::U16(vec![9, 10, 11]));
        assert!(crop_frame(&frame, Rect { width: 2, ..r }).is_err());
        assert!(crop_frame(&frame, Rect { width: 0, x: 0, ..r }).is_err());
        assert!(crop_frame(&frame, Rect { x: usize::MAX, ..r }).is_err());
    }
}
