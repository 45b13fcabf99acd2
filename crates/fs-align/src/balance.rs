//! Brightness/colour balance: gains that match a frame to the reference.
//!
//! The gain of a channel is the ratio of means, `sum(reference) / sum(frame)`, over
//! the samples that are well exposed in both images (every channel within the
//! intensity interval, so clipped highlights and the noise floor stay out). Unlike a
//! least-squares slope it is not biased by the blur difference between a sharp and a
//! defocused frame: blur moves intensity around but keeps the mean, while it lowers
//! the correlation that a regression slope is scaled by (a slope fitted to a
//! defocused copy of the same scene comes out well below 1).

use fs_core::{CoreError, Frame, Image, LUMA_WEIGHTS, Samples};
use rayon::prelude::*;

use crate::warp::{Sample, channel_gains};
use crate::{BalanceChannel, BalanceOptions, Result};

/// The fewest valid samples for a fit, as a fraction of the image's pixels.
const MIN_VALID_FRACTION: f64 = 0.01;

/// Gains that match a frame to the reference: one factor per colour channel (alpha is
/// never scaled).
#[derive(Debug, Clone, PartialEq)]
pub struct Gains {
    /// One factor per colour channel (1 for gray, 3 for RGB; the same value three
    /// times for [`BalanceChannel::Luma`]).
    pub values: Vec<f64>,
    /// Whether `values` were fitted. `false` means they were left at 1.0: fewer than
    /// 1 % of the pixels were valid (`valid_samples` says how many), or a fitted gain
    /// was further than `max_gain_change` from 1 (the frames do not show the same
    /// scene, or the exposure changed more than balance should correct).
    pub fitted: bool,
    /// Pixels that took part in the fit (valid in every channel of both images).
    pub valid_samples: usize,
}

impl Gains {
    /// Gains of 1.0 for `channels` colour channels (no change), marked as not fitted.
    pub fn unit(channels: usize) -> Self {
        Self { values: vec![1.0; channels], fitted: false, valid_samples: 0 }
    }
}

/// Fits the gains that bring `frame` to `reference`: both small images from
/// [`crate::small_image`] (values 0..1, the same size and channels), `frame` already
/// in the reference's geometry. Samples that are NaN in either image (no data: warp
/// the frame's small image with [`crate::BorderMode::Invalid`] and fill NaN) or
/// outside `intensity_min..=intensity_max` in any channel are left out. See [`Gains`]
/// for when the fit is refused (the gains then stay 1.0 with `fitted == false`).
///
/// Errors: invalid options, images of different shapes.
///
/// ```
/// use fs_align::{BalanceOptions, fit_gains};
/// use fs_core::Image;
///
/// let reference = Image::<f32>::from_planes(2, 2, vec![vec![0.4, 0.6, 0.2, 0.8]])?;
/// let frame = Image::<f32>::from_planes(2, 2, vec![vec![0.32, 0.48, 0.16, f32::NAN]])?;
/// let gains = fit_gains(&reference, &frame, &BalanceOptions::default())?;
/// assert!(gains.fitted && (gains.values[0] - 1.25).abs() < 1e-6);
/// assert_eq!(gains.valid_samples, 3);
/// # Ok::<(), fs_align::AlignError>(())
/// ```
pub fn fit_gains(
    reference: &Image<f32>,
    frame: &Image<f32>,
    options: &BalanceOptions,
) -> Result<Gains> {
    options.validate()?;
    if reference.shape() != frame.shape() {
        return Err(CoreError::Dimensions(format!(
            "balance needs images of the same shape, got {:?} (reference) and {:?}",
            reference.shape(),
            frame.shape()
        ))
        .into());
    }
    let (w, h, channels) = reference.shape();
    let luma = options.channel == BalanceChannel::Luma && channels == 3;
    let sums = channel_sums(reference, frame, options, luma);
    let valid = sums.count;
    let mut gains = Gains::unit(channels);
    gains.valid_samples = valid;
    if (valid as f64) < MIN_VALID_FRACTION * (w * h) as f64 || valid == 0 {
        return Ok(gains);
    }
    let fitted: Vec<f64> = if luma {
        vec![sums.reference[0] / sums.frame[0]; 3]
    } else {
        (0..channels).map(|c| sums.reference[c] / sums.frame[c]).collect()
    };
    let plausible =
        fitted.iter().all(|g| g.is_finite() && (g - 1.0).abs() <= options.max_gain_change);
    if plausible {
        gains.values = fitted;
        gains.fitted = true;
    }
    Ok(gains)
}

/// Sums of the valid samples of both images (per channel, or of the luma in slot 0),
/// and how many pixels were valid.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    reference: [f64; 3],
    frame: [f64; 3],
    count: usize,
}

fn channel_sums(
    reference: &Image<f32>,
    frame: &Image<f32>,
    o: &BalanceOptions,
    luma: bool,
) -> Sums {
    let (w, h, channels) = reference.shape();
    let (lo, hi) = (o.intensity_min as f32, o.intensity_max as f32);
    let rp: Vec<&[f32]> = reference.planes().collect();
    let fp: Vec<&[f32]> = frame.planes().collect();
    // Per-row sums in parallel, added in row order: the same result for any number of
    // threads. Allocation: once per call (one `Sums` per row).
    let rows: Vec<Sums> = (0..h)
        .into_par_iter()
        .map(|y| {
            let mut s = Sums::default();
            for x in y * w..(y + 1) * w {
                let ok = (0..channels).all(|c| {
                    let (r, f) = (rp[c][x], fp[c][x]);
                    r >= lo && r <= hi && f >= lo && f <= hi
                });
                if !ok {
                    continue;
                }
                s.count += 1;
                if luma {
                    for c in 0..3 {
                        s.reference[0] += LUMA_WEIGHTS[c] * f64::from(rp[c][x]);
                        s.frame[0] += LUMA_WEIGHTS[c] * f64::from(fp[c][x]);
                    }
                } else {
                    for c in 0..channels {
                        s.reference[c] += f64::from(rp[c][x]);
                        s.frame[c] += f64::from(fp[c][x]);
                    }
                }
            }
            s
        })
        .collect();
    rows.iter().fold(Sums::default(), |mut a, s| {
        for c in 0..3 {
            a.reference[c] += s.reference[c];
            a.frame[c] += s.frame[c];
        }
        a.count += s.count;
        a
    })
}

/// Multiplies the frame's colour channels by the gains, rounded (half up) and clipped
/// to the sample range; alpha untouched, metadata and source kept. The result equals
/// [`crate::warp_frame`] with the identity transform and the same gains.
///
/// Errors: the number of gains differs from the frame's colour channels, or a gain is
/// negative or not finite.
///
/// ```
/// use fs_align::{Gains, apply_gains};
/// use fs_core::{BitDepth, ChannelLayout, Frame, FrameInfo, PixelFormat, Samples};
///
/// let format = PixelFormat { layout: ChannelLayout::GrayAlpha, depth: BitDepth::Eight };
/// let info = FrameInfo { width: 2, height: 1, format };
/// let frame = Frame::new(info, Samples::U8(vec![100, 50, 200, 50])).unwrap();
/// let gains = Gains { values: vec![1.25], fitted: true, valid_samples: 2 };
/// let out = apply_gains(&frame, &gains)?;
/// assert_eq!(out.samples(), &Samples::U8(vec![125, 50, 250, 50]));
/// # Ok::<(), fs_align::AlignError>(())
/// ```
pub fn apply_gains(frame: &Frame, gains: &Gains) -> Result<Frame> {
    let g = channel_gains(Some(&gains.values), frame.format().layout)?;
    scale_frame(frame, &g)
}

/// [`apply_gains`] with checked per-channel factors (alpha's 1.0 included).
pub(crate) fn scale_frame(frame: &Frame, g: &[f32; 4]) -> Result<Frame> {
    let channels = frame.format().layout.channels();
    let w = frame.width();
    let samples = match frame.samples() {
        Samples::U8(s) => Samples::U8(scale_samples(s, channels, w, g)),
        Samples::U16(s) => Samples::U16(scale_samples(s, channels, w, g)),
    };
    let mut out = Frame::new(frame.info(), samples)?.with_metadata(frame.metadata.clone());
    out.source = frame.source.clone();
    Ok(out)
}

/// Integer sample types with a lookup table of all their values.
trait Tabled: Sample + Default + Into<usize> {
    const VALUES: usize;
}

impl Tabled for u8 {
    const VALUES: usize = 256;
}

impl Tabled for u16 {
    const VALUES: usize = 65536;
}

/// One lookup table per channel (`value * gain`, rounded and clipped, computed as the
/// warp computes it), then a parallel pass over rows.
fn scale_samples<S: Tabled>(src: &[S], channels: usize, width: usize, gains: &[f32; 4]) -> Vec<S> {
    // Allocation: once per frame (tables of 256 or 65536 entries per channel, output).
    let tables: Vec<Vec<S>> = (0..channels)
        .map(|c| (0..S::VALUES).map(|v| S::store(v as f32 * gains[c])).collect())
        .collect();
    let mut out = vec![S::default(); src.len()];
    let row = width * channels;
    out.par_chunks_mut(row).zip(src.par_chunks(row)).for_each(|(o, s)| {
        for (op, sp) in o.chunks_exact_mut(channels).zip(s.chunks_exact(channels)) {
            for c in 0..channels {
                op[c] = tables[c][sp[c].into()];
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipped_samples_are_left_out() {
        // Pixel 1 is clipped in the reference, pixel 2 too dark in the frame.
        let reference = Image::from_planes(4, 1, vec![vec![0.5, 1.0, 0.3, 0.8]]).unwrap();
        let frame = Image::from_planes(4, 1, vec![vec![0.4, 0.6, 0.01, 0.64]]).unwrap();
        let g = fit_gains(&reference, &frame, &BalanceOptions::default()).unwrap();
        assert_eq!(g.valid_samples, 2);
        assert!(g.fitted);
        assert!((g.values[0] - 1.25).abs() < 1e-6, "{:?}", g.values);
    }

    #[test]
    fn implausible_gain_and_too_few_samples_are_refused() {
        let reference = Image::from_planes(2, 1, vec![vec![0.9, 0.9]]).unwrap();
        let frame = Image::from_planes(2, 1, vec![vec![0.3, 0.3]]).unwrap();
        let g = fit_gains(&reference, &frame, &BalanceOptions::default()).unwrap();
        assert_eq!((g.values.clone(), g.fitted, g.valid_samples), (vec![1.0], false, 2));
        let frame = Image::from_planes(2, 1, vec![vec![f32::NAN, 1.0]]).unwrap();
        let g = fit_gains(&reference, &frame, &BalanceOptions::default()).unwrap();
        assert_eq!((g.fitted, g.valid_samples), (false, 0));
        let small = Image::from_planes(1, 1, vec![vec![0.5]]).unwrap();
        assert!(fit_gains(&reference, &small, &BalanceOptions::default()).is_err());
    }

    #[test]
    fn luma_gives_one_gain_for_all_channels() {
        let r = vec![vec![0.4f32; 4], vec![0.6; 4], vec![0.2; 4]];
        let f = vec![vec![0.5f32; 4], vec![0.5; 4], vec![0.5; 4]];
        let (r, f) = (Image::from_planes(2, 2, r).unwrap(), Image::from_planes(2, 2, f).unwrap());
        let o = BalanceOptions { channel: BalanceChannel::Luma, ..Default::default() };
        let g = fit_gains(&r, &f, &o).unwrap();
        let want = (0.299 * 0.4 + 0.587 * 0.6 + 0.114 * 0.2) / 0.5;
        assert!(g.fitted);
        for v in &g.values {
            assert!((v - want).abs() < 1e-6, "{v} {want}");
        }
        // Per channel: 0.8, 1.2, 0.4; the last is 0.6 from 1, beyond the default 0.5.
        let g = fit_gains(&r, &f, &BalanceOptions::default()).unwrap();
        assert_eq!((g.values, g.fitted), (vec![1.0; 3], false));
        let o = BalanceOptions { max_gain_change: 0.7, ..Default::default() };
        let g = fit_gains(&r, &f, &o).unwrap();
        assert!(g.fitted);
        for (v, want) in g.values.iter().zip([0.8, 1.2, 0.4]) {
            assert!((v - want).abs() < 1e-6, "{v} {want}");
        }
    }
}
