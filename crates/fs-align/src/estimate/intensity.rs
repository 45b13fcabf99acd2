//! Intensity estimation on band-passed levels, for frames the features cannot align
//! (a frame focused far from every sharp part of the reference: few corners survive).
//!
//! What a defocused frame and a sharp reference still share is the coarse structure,
//! seen through the frame's blur. So the reference is blurred to look like the frame,
//! and both are band-passed (each minus its Gaussian blur: a difference of Gaussians),
//! which takes away the slow brightness changes (vignetting, the glow of a blurred
//! bright object) that would otherwise pull an intensity fit. The Gauss-Newton of
//! `refine.rs` (gain and offset per iteration, Huber weights) then fits the transform
//! from a predicted start (the caller's: the neighbour's transform carried one step by
//! the breathing model, or the model's prediction):
//!
//! 1. On the search level (the coarsest pyramid level of at least [`SEARCH_SIDE`]
//!    pixels a side) for each blur of [`BLURS`], with one band-pass for all of them
//!    (a band that moved with the blur would make a blurrier reference always win),
//!    samples away from the borders (where the reference's reflected blur and the
//!    frame's own differ); the blur that correlates best is kept.
//! 2. Then finer levels with the same blur (in plane pixels) while it stays below
//!    [`FINE_BLUR`] level pixels and the frame still correlates
//!    ([`FINER_CORRELATION`]): beyond, the finer level holds nothing new.
//!
//! The best correlation on the search level is the verdict: a frame of another scene,
//! or a black frame, stays below [`MATCH_CORRELATION`] and matches nothing.
//!
//! For a frame defocused far beyond the rest ([`estimate_discs`]), a Gaussian does not
//! imitate the blur: a defocus disc does (it reverses contrast in the bands near its
//! radius, which a Gaussian never does). The source (the reference, or the frame's
//! already aligned neighbour) is blurred by each disc radius of [`DISC_RADII`] on the
//! search level, in linear light (defocus mixes light; on sRGB values the estimate was
//! pulled by 2-15 px on generated stacks), the radius ranked by the correlation after
//! a short Gauss-Newton, the best refitted in full (enough to check the estimate
//! against the breathing model). With the radius known, one fit on the finest level
//! where it stays below [`FINE_DISC`] level pixels (for the position alone, with the
//! magnification from the model, when there is one).
//!
//! Level 0 is never used (a frame that needs this path has no detail there). Tried
//! and rejected: the band-passed levels of the sharp reference without the blur: a
//! disc blur reverses contrast in the bands near its radius, and a frame defocused by
//! 14 px (3 % of a 480-px width) came out 4.3 px off at the corners, its magnification
//! 0.8 % too large.

use rayon::prelude::*;

use super::pyramid::Level;
use super::refine::{Sample, refine_level_with, select};
use crate::{AlignFailure, Transform, TransformKind};

/// Sigma (level pixels) of the blur subtracted from each level (plus twice the
/// reference's blur, off the search level).
const BAND_SIGMA: f64 = 2.0;
/// Coarsest pyramid level built for the bands (fewer when the image gets small).
pub(super) const BAND_TOP: usize = 6;
/// Reference samples per band level.
const BAND_SAMPLES: usize = 12_000;
/// Most Gauss-Newton iterations per band level.
const BAND_ITERATIONS: usize = 30;
/// A band level stops when a step moves the corners by less than this (level px).
const BAND_TOLERANCE: f64 = 0.002;
/// Correlation (reference band vs frame band, at the selected samples) a finer level
/// needs to be used.
pub(super) const FINER_CORRELATION: f64 = 0.5;
/// Correlation on the coarsest band below which the frame matches nothing.
/// (Frames of another scene reach 0.23-0.38, frames of the stack defocused far beyond
/// the subject 0.8.)
pub(super) const MATCH_CORRELATION: f64 = 0.5;

/// The band-pass of a pyramid level: the level minus its Gaussian blur of `sigma`.
fn band_pass(level: &Level, sigma: f64) -> Level {
    let kernel = fs_core::gaussian_kernel_for_sigma::<f32>(sigma).expect("positive sigma");
    let low = level.blurred(&kernel);
    let data = level.data.par_iter().zip(&low.data).map(|(v, l)| v - l).collect();
    Level { width: level.width, height: level.height, data }
}

/// Pearson correlation between the reference samples and the frame sampled where
/// `t` (level coordinates) puts them; 0 when fewer than 64 fall inside or either
/// side is flat.
pub(super) fn correlation(samples: &[Sample], frame: &Level, t: &Transform) -> f64 {
    let sums = samples
        .par_chunks(4096)
        .map(|chunk| {
            let mut acc = [0.0f64; 6];
            for s in chunk {
                let (x, y) = t.apply(s.x as f64, s.y as f64);
                if let Some(v) = frame.bilinear(x, y) {
                    let (r, f) = (s.value as f64, v as f64);
                    acc[0] += 1.0;
                    acc[1] += r;
                    acc[2] += f;
                    acc[3] += r * r;
                    acc[4] += f * f;
                    acc[5] += r * f;
                }
            }
            acc
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold([0.0f64; 6], |mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
            a
        });
    let n = sums[0];
    if n < 64.0 {
        return 0.0;
    }
    let (mr, mf) = (sums[1] / n, sums[2] / n);
    let vr = sums[3] / n - mr * mr;
    let vf = sums[4] / n - mf * mf;
    let cov = sums[5] / n - mr * mf;
    if vr <= 1e-14 || vf <= 1e-14 {
        return 0.0;
    }
    cov / (vr * vf).sqrt()
}

/// The outcome of [`estimate_bands`].
#[derive(Debug, Clone, Copy)]
pub(super) struct BandEstimate {
    /// Reference to frame, estimation-plane coordinates.
    pub transform: Transform,
    /// Correlation on the finest band used.
    pub correlation: f64,
    /// The blur (Gaussian sigma, estimation-plane pixels) that made the reference
    /// look most like the frame.
    pub blur: f64,
}

/// Blurs (sigma, level pixels) tried on the search level to make the reference look
/// like the frame.
/// Not more: the band of a reference blurred further is almost empty, and another
/// scene then correlates by chance (a generated tilted plane against the objects
/// scene: 0.85 at sigma 6, at most 0.31-0.38 up to 4; the frames defocused beyond the
/// subject reach 0.78-0.83 at 2-4).
const BLURS: [f64; 7] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0];
/// Smallest side of the search level.
const SEARCH_SIDE: usize = 64;
/// Largest blur (sigma, level pixels) a finer level is refined with: beyond, the
/// finer level holds nothing the coarser one did not.
const FINE_BLUR: f64 = 4.0;
/// The band-pass's low cut (sigma, level pixels) on the search level, the same for
/// every blur tried: with a band that moved with the blur, a blurrier reference would
/// always correlate better (a smoother band is easier to match), whatever the frame.
const SEARCH_LOW: f64 = 6.0;

/// How the reference is blurred to look like the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Blur {
    /// A Gaussian of this sigma (level pixels; none at 0).
    Gauss(f64),
    /// A defocus disc of this radius (level pixels; none below 0.5).
    Disc(f64),
}

impl Blur {
    /// About how far it spreads (level pixels), for the band's low cut and the
    /// border margin: the sigma, or half the radius (a disc's own sigma).
    fn spread(self) -> f64 {
        match self {
            Blur::Gauss(s) => s,
            Blur::Disc(r) => 0.5 * r,
        }
    }
}

/// `level` blurred by `blur`, then band-passed.
fn band(level: &Level, blur: Blur, low: f64) -> Level {
    let blurred = match blur {
        Blur::Gauss(sigma) if sigma > 0.0 => {
            let k = fs_core::gaussian_kernel_for_sigma::<f32>(sigma).expect("positive sigma");
            level.blurred(&k)
        }
        Blur::Disc(radius) if radius >= 0.5 => disc_blur(level, radius),
        _ => level.clone(),
    };
    band_pass(&blurred, low)
}

/// One row of a disc kernel: `|dy|`, the half-width of its unit weights (if any), and
/// its fractional weights beyond them, `(|dx|, weight)`.
type DiscRow = (usize, Option<usize>, Vec<(usize, f64)>);

/// `level` blurred by the anti-aliased disc of `radius` pixels (weight
/// `clamp(radius + 0.5 - d, 0, 1)` at distance `d`, normalised; the defocus of a
/// lens), edges replicated. Each kernel row is a run of unit weights (summed from
/// per-row prefix sums) plus a few fractional end weights, so a pixel costs
/// O(radius).
pub(super) fn disc_blur(level: &Level, radius: f64) -> Level {
    let (w, h) = (level.width, level.height);
    let big = (radius + 0.5).ceil() as usize;
    let weight =
        |dx: usize, dy: usize| (radius + 0.5 - ((dx * dx + dy * dy) as f64).sqrt()).clamp(0.0, 1.0);
    // Per |dy|: the plateau's half-width (unit weights for |dx| <= it), and the
    // fractional weights beyond it.
    let mut rows: Vec<DiscRow> = Vec::new();
    let mut norm = 0.0;
    for dy in 0..=big {
        let plateau = (0..=big).take_while(|&dx| weight(dx, dy) >= 1.0).last();
        let start = plateau.map_or(0, |p| p + 1);
        let fracs: Vec<(usize, f64)> =
            (start..=big).map(|dx| (dx, weight(dx, dy))).filter(|f| f.1 > 0.0).collect();
        if plateau.is_none() && fracs.is_empty() {
            continue;
        }
        let mut row = plateau.map_or(0.0, |p| (2 * p + 1) as f64);
        row += fracs.iter().map(|&(dx, f)| if dx == 0 { f } else { 2.0 * f }).sum::<f64>();
        norm += if dy == 0 { row } else { 2.0 * row };
        rows.push((dy, plateau, fracs));
    }
    // Allocation: the padded rows and their prefix sums, once per blur.
    let pw = w + 2 * big;
    let padded: Vec<f32> = (0..h)
        .flat_map(|y| {
            let src = &level.data[y * w..(y + 1) * w];
            (0..pw).map(move |x| src[x.saturating_sub(big).min(w - 1)])
        })
        .collect();
    let prefix: Vec<f64> = padded
        .chunks(pw)
        .flat_map(|row| {
            let mut acc = 0.0f64;
            std::iter::once(0.0).chain(row.iter().map(move |&v| {
                acc += v as f64;
                acc
            }))
        })
        .collect();
    let inv = 1.0 / norm;
    let mut data = vec![0.0f32; w * h];
    data.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        for (x, o) in out.iter_mut().enumerate() {
            let c = x + big;
            let mut sum = 0.0f64;
            for (dy, plateau, fracs) in &rows {
                let ys: &[usize] = &if *dy == 0 {
                    [y, usize::MAX]
                } else {
                    [y.saturating_sub(*dy), (y + dy).min(h - 1)]
                };
                for &yy in ys.iter().filter(|&&yy| yy != usize::MAX) {
                    let p = &prefix[yy * (pw + 1)..(yy + 1) * (pw + 1)];
                    let r = &padded[yy * pw..(yy + 1) * pw];
                    if let Some(p0) = plateau {
                        sum += p[c + p0 + 1] - p[c - p0];
                    }
                    for &(dx, f) in fracs {
                        sum +=
                            f * if dx == 0 { r[c] as f64 } else { (r[c - dx] + r[c + dx]) as f64 };
                    }
                }
            }
            *o = (sum * inv) as f32;
        }
    });
    Level { width: w, height: h, data }
}

/// One level's Gauss-Newton with the reference blurred by `blur`: the transform
/// (level coordinates) and the correlation there. The band's low cut is `low`, by
/// default [`BAND_SIGMA`] plus twice the blur's spread.
fn fit_level(
    kind: TransformKind,
    reference: &Level,
    frame: &Level,
    blur: Blur,
    low: Option<f64>,
    start: Transform,
    shift_only: bool,
) -> Option<(Transform, f64)> {
    let spread = blur.spread();
    let low = low.unwrap_or(BAND_SIGMA + 2.0 * spread);
    let r = band(reference, blur, low);
    // The frame as it is (it carries its own blur), band-passed like the reference.
    let f = band_pass(frame, low);
    fit_bands(kind, &r, &f, spread + low, start, shift_only, BAND_ITERATIONS)
}

/// [`fit_level`] on band-passed levels (`reach`: the blur's spread plus the band's
/// low cut, level pixels).
fn fit_bands(
    kind: TransformKind,
    r: &Level,
    f: &Level,
    reach: f64,
    start: Transform,
    shift_only: bool,
    iterations: usize,
) -> Option<(Transform, f64)> {
    // Samples away from the borders, where the blur of the reference (reflected
    // there) and the frame's own (the scene beyond the frame) differ.
    let margin = (2.0 * reach) as f32 + 2.0;
    let (w, h) = (r.width as f32, r.height as f32);
    // A quarter of a small level's pixels at most: the selection keeps a sorted list
    // per cell, and nearly every pixel of a small level would enter it.
    let target = BAND_SAMPLES.min(r.width * r.height / 4);
    let samples: Vec<Sample> = select(r, target)
        .into_iter()
        .filter(|s| s.x >= margin && s.y >= margin && s.x < w - margin && s.y < h - margin)
        .collect();
    let refined =
        refine_level_with(kind, &samples, r, f, start, iterations, BAND_TOLERANCE, shift_only)?;
    if !refined.transform.is_valid() {
        return None;
    }
    Some((refined.transform, correlation(&samples, f, &refined.transform)))
}

/// The search level of [`estimate_bands`] and [`estimate_discs`] (the coarsest of at
/// least [`SEARCH_SIDE`] pixels a side, else the coarsest both pyramids have); `None`
/// without levels.
fn search_level(reference: &[Level], frame: &[Level]) -> Option<usize> {
    let usable = reference.len().min(frame.len());
    (0..usable)
        .rev()
        .find(|&i| reference[i].width.min(reference[i].height) >= SEARCH_SIDE)
        .or(usable.checked_sub(1))
}

/// Intensity estimate from `start` (estimation-plane coordinates): on the search
/// level (the coarsest of at least [`SEARCH_SIDE`] pixels a side) the reference is
/// blurred by each of [`BLURS`] and the transform fitted (band-passed Gauss-Newton);
/// the blur that correlates best is kept, and the transform refined on the finer
/// levels with the same blur (in plane pixels) while it stays below [`FINE_BLUR`]
/// level pixels and the correlation above [`FINER_CORRELATION`].
/// `reference[i]` and `frame[i]` are pyramid level `i + 1`.
pub(super) fn estimate_bands(
    kind: TransformKind,
    reference: &[Level],
    frame: &[Level],
    start: Transform,
    shift_only: bool,
    blur: Option<f64>,
) -> Result<BandEstimate, AlignFailure> {
    let kind = if shift_only { TransformKind::Similarity } else { kind };
    let no_match = |correlation: f64| AlignFailure::NoMatch { correlation };
    let Some(search) = search_level(reference, frame) else {
        return Err(no_match(0.0));
    };
    let factor = |i: usize| (1u32 << (i + 1)) as f64;
    let s = start.to_subsampled(factor(search));
    // With the blur known, one fit; else the search over the blurs (the best is
    // refitted below with its own band).
    // Allocation: a blurred and band-passed copy per candidate, on the small level.
    let candidates: Vec<f64> = match blur {
        Some(b) => vec![b / factor(search)],
        None => BLURS.to_vec(),
    };
    let tried: Vec<(f64, Option<(Transform, f64)>)> = candidates
        .par_iter()
        .map(|&sigma| {
            let r = fit_level(
                kind,
                &reference[search],
                &frame[search],
                Blur::Gauss(sigma),
                Some(SEARCH_LOW),
                s,
                shift_only,
            );
            (sigma, r)
        })
        .collect();
    let best = tried
        .iter()
        .filter_map(|(sigma, r)| r.map(|(t, c)| (*sigma, t, c)))
        .max_by(|a, b| a.2.total_cmp(&b.2));
    let Some((sigma, t, c)) = best else {
        return Err(no_match(0.0));
    };
    if c.is_nan() || c < MATCH_CORRELATION {
        return Err(no_match(c));
    }
    let (t, c) = fit_level(
        kind,
        &reference[search],
        &frame[search],
        Blur::Gauss(sigma),
        None,
        t,
        shift_only,
    )
    .unwrap_or((t, c));
    let mut out = BandEstimate {
        transform: t.to_full(factor(search)),
        correlation: c,
        blur: sigma * factor(search),
    };
    for i in (0..search).rev() {
        let level_sigma = out.blur / factor(i);
        if level_sigma > FINE_BLUR {
            break;
        }
        let s = out.transform.to_subsampled(factor(i));
        let blur = Blur::Gauss(level_sigma);
        match fit_level(kind, &reference[i], &frame[i], blur, None, s, shift_only) {
            Some((t, c)) if c >= FINER_CORRELATION => {
                out.transform = t.to_full(factor(i));
                out.correlation = c;
            }
            _ => break,
        }
    }
    Ok(out)
}

/// Defocus radii (pixels of the search level) tried by [`estimate_discs`].
const DISC_RADII: [f64; 14] =
    [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0];
/// Gauss-Newton iterations per radius in the radius search: enough to rank the radii
/// (the best is then fitted in full).
const SEARCH_ITERATIONS: usize = 10;
/// Largest disc radius (level pixels) a finer level is refined with.
const FINE_DISC: f64 = 16.0;

/// Intensity estimate from `start` with the reference blurred by a defocus disc: on
/// the search level each radius of [`DISC_RADII`] (one band for all), the best
/// correlating kept and fitted in full there. With `radius` known (plane pixels, an
/// earlier search's), one fit instead, on the finest level where that radius stays
/// below [`FINE_DISC`] level pixels (the search level when none finer), refused below
/// [`FINER_CORRELATION`]. `reference[i]` and `frame[i]` are pyramid level `i + 1`.
/// `blur` in the result is the radius (plane pixels).
pub(super) fn estimate_discs(
    kind: TransformKind,
    reference: &[Level],
    frame: &[Level],
    start: Transform,
    shift_only: bool,
    radius: Option<f64>,
) -> Result<BandEstimate, AlignFailure> {
    let kind = if shift_only { TransformKind::Similarity } else { kind };
    let no_match = |correlation: f64| AlignFailure::NoMatch { correlation };
    let Some(search) = search_level(reference, frame) else {
        return Err(no_match(0.0));
    };
    let factor = |i: usize| (1u32 << (i + 1)) as f64;
    let s = start.to_subsampled(factor(search));
    // Defocus mixes light: the discs are applied to linear light, and the frame,
    // defocused by the lens in linear light, compared in it too.
    let decoder = fs_core::transfer::SrgbDecoder::new();
    let lin = |l: &Level| Level {
        width: l.width,
        height: l.height,
        data: l.data.par_iter().map(|&v| decoder.decode(v)).collect(),
    };
    // The radius known (an earlier estimate of the same frame): one fit, on the finest
    // level it allows (the search level when it allows none finer); only that level
    // is converted.
    if let Some(r) = radius {
        let finest = (0..=search).find(|&i| r / factor(i) <= FINE_DISC).unwrap_or(search);
        let s = start.to_subsampled(factor(finest));
        let blur = Blur::Disc(r / factor(finest));
        let (reference, frame) = (lin(&reference[finest]), lin(&frame[finest]));
        let fit = fit_level(kind, &reference, &frame, blur, None, s, shift_only);
        return match fit {
            Some((t, c)) if c >= FINER_CORRELATION => {
                Ok(BandEstimate { transform: t.to_full(factor(finest)), correlation: c, blur: r })
            }
            Some((_, c)) => Err(no_match(c)),
            None => Err(no_match(0.0)),
        };
    }
    // The search level alone, converted; one band of the frame for every radius tried.
    let (reference, frame) = (lin(&reference[search]), lin(&frame[search]));
    let frame_band = band_pass(&frame, SEARCH_LOW);
    let tried: Vec<(f64, Option<(Transform, f64)>)> = DISC_RADII
        .par_iter()
        .map(|&r| {
            let blur = Blur::Disc(r);
            let reference = band(&reference, blur, SEARCH_LOW);
            let reach = blur.spread() + SEARCH_LOW;
            let fit =
                fit_bands(kind, &reference, &frame_band, reach, s, shift_only, SEARCH_ITERATIONS);
            (r, fit)
        })
        .collect();
    let best = tried
        .iter()
        .filter_map(|(r, fit)| fit.map(|(t, c)| (*r, t, c)))
        .max_by(|a, b| a.2.total_cmp(&b.2));
    let Some((radius, t, c)) = best else {
        return Err(no_match(0.0));
    };
    if c.is_nan() || c < MATCH_CORRELATION {
        return Err(no_match(c));
    }
    let blur = Blur::Disc(radius);
    let (t, c) = fit_level(kind, &reference, &frame, blur, None, t, shift_only).unwrap_or((t, c));
    Ok(BandEstimate {
        transform: t.to_full(factor(search)),
        correlation: c,
        blur: radius * factor(search),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disc_blur_keeps_a_constant_and_spreads_a_point() {
        let l = Level { width: 40, height: 30, data: vec![0.25; 1200] };
        assert!(disc_blur(&l, 3.3).data.iter().all(|&v| (v - 0.25).abs() < 1e-6));
        let mut p = Level { width: 41, height: 41, data: vec![0.0; 41 * 41] };
        p.data[20 * 41 + 20] = 1.0;
        let b = disc_blur(&p, 4.0);
        let sum: f32 = b.data.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "{sum}");
        // Flat inside the radius, nothing beyond it.
        assert_eq!(b.data[20 * 41 + 20], b.data[20 * 41 + 23]);
        assert_eq!(b.data[20 * 41 + 25], 0.0);
        assert_eq!(b.data[20 * 41 + 17], b.data[23 * 41 + 20]);
    }
}
