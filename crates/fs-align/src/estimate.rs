//! Transform estimation: features + RANSAC, then intensity refinement.
//!
//! # Algorithm
//!
//! Both lumas (values 0..1, the plane the caller gives, typically the frame
//! subsampled to about 2 megapixels) go through the same smoothed pyramid
//! (level 0 = the plane after a `[1 2 1]` smoothing, each next level the 2x2 block
//! average of the previous, smoothed again):
//!
//! 1. **Features** on the first level of at most 0.6 megapixels (level 1 for a
//!    2-megapixel plane): Shi-Tomasi corners (smaller eigenvalue of the structure
//!    tensor, binomial 5x5 window), 3x3 non-maximum suppression, an absolute floor
//!    so flat or merely noisy areas give none, sub-pixel positions from a parabola
//!    fit, and grid bucketing (at most 4 per cell, `max_features / 4` cells) so
//!    corners cover the whole frame, not just its sharpest part. The coarser level
//!    halves the cost and makes corners and descriptors less sensitive to the
//!    defocus that differs from frame to frame.
//! 2. **Descriptors**: 256 intensity comparisons (BRIEF) in a 27x27 patch of the
//!    feature level blurred with sigma 1.5, point pairs Gaussian-distributed from a
//!    fixed seed. No orientation steering: focus stacks rotate by a fraction of a
//!    degree, and BRIEF tolerates some 10 degrees and the few percent of focus
//!    breathing.
//! 3. **Matching** in two passes. Hamming distance, at most 80 of 256 bits,
//!    best below 0.85 of the second best, mutual best in both directions. Pass 1
//!    takes the 500 strongest features of each image and searches a square
//!    window around the same position, half-width `(max_shift + max_scale_change
//!    / 2 + sin(max_rotation) / 2)` of the image diagonal (whatever the
//!    plausibility limits allow, no more); a RANSAC similarity on those matches
//!    (inlier distance `2 rans_threshold`) predicts where every feature goes.
//!    Pass 2 matches all features within 12 feature-level pixels of that
//!    prediction. The wide window over all 2000 features cost about 10 times as
//!    much (it made matching the most expensive step: 80 of 160 ms per frame) and
//!    lets in more false matches. When pass 1 finds fewer than 10 inliers, pass 2
//!    uses the wide window.
//! 4. **RANSAC** for `options.transform` (similarity: 2-point minimal sample,
//!    affine 3, homography 4, all by Hartley-normalised linear least squares; the
//!    homography in DLT form), inlier distance `rans_threshold` plane pixels, MSAC
//!    scoring, adaptive hypothesis count (99.9 % confidence, 50..2000), hypotheses
//!    outside the plausible range (`max_scale_change`, `max_rotation`, `max_shift`)
//!    skipped. Samples come from a fixed-seed SplitMix64 generator, and RANSAC
//!    runs on one thread, so results are identical run to run and for any number
//!    of threads. The winner is re-fitted on its inliers (least squares) until its
//!    inlier set stops growing.
//! 5. (Too few inliers: the estimate fails with [`AlignFailure::TooFewMatches`]; the
//!    caller may try [`Estimator::estimate_by_intensity`] from a predicted transform,
//!    see `intensity.rs`.)
//!    **Refinement** (`options.refine`): inverse-compositional Gauss-Newton
//!    (Lucas-Kanade, parameterised by the transform family in normalised
//!    coordinates) on pyramid levels 2 and 1, starting from the RANSAC transform
//!    (and on level 0 too when the patch field of step 6 cannot be used).
//!    It uses only reference pixels with a clear gradient (the largest gradients
//!    in each 16x16 cell, about 30 000 per level, chosen once per reference), fits
//!    a gain and offset between the frames at every iteration (different exposure
//!    or defocus contrast does not pull the geometry) and down-weights outliers
//!    (Huber, 1.345 x the RMS residual): the parts that are sharp in one frame and
//!    blurred in the other. Sums run in fixed-size chunks reduced in order, so the
//!    result does not depend on the thread count either. If the refinement fails
//!    or wanders further than `4 rans_threshold + 2` pixels from the RANSAC
//!    transform, the RANSAC transform is kept (`residual` NaN).
//! 6. **Patch field** on level 0 (`patches.rs`): up to 400 textured 24x24 reference
//!    patches (both directions of the structure tensor above a floor, the most
//!    textured of each of 4x4 parts of the frame) are each matched by a translation
//!    near where the transform puts them, with their own gain and offset (a
//!    normalised cross-correlation, in effect; patches whose correlation stays
//!    below 0.71, defocused in the frame, are dropped), and the transform is fitted
//!    to the matches by least squares, then again without those more than 3x the
//!    median residual off; two rounds. `residual` is then the global RMS at the
//!    final transform. Why: the global fit weights pixels by their gradient and fits
//!    one gain, so high-contrast outlines, where a sharp and a defocused frame differ
//!    most, pull it (on generated defocus series, to twice the magnification the
//!    content shows); each patch counts once here and is normalised on its own.
//!
//! The reference's pyramid samples, features, descriptors and their spatial index
//! are prepared once in [`Estimator::new`].
//!
//! # Accuracy
//!
//! `tests/estimate.rs`, 1024x768 synthetic scenes (smooth texture and soft-edged
//! shapes, rendered exactly through the true transform), Gaussian defocus
//! (sigma 2) over a third of each frame and noise (sigma ~0.006), error = largest
//! distance at the four image corners:
//!
//! | case | error |
//! |---|---|
//! | similarity: scale 0.985-1.03 about the centre, shifts up to 20 px, rotations up to 0.5 deg | 0.006-0.021 px (limit 0.1; 0.009-0.012 with the global refinement on level 0) |
//! | affine (x/y scales, shear) | 0.024 px (limit 0.15; 0.006-0.012 before) |
//! | homography (perspective 8e-6 / px) | 0.034 px (limit 0.25; 0.018-0.028 before) |
//! | identical images | < 0.01 px |
//! | features + RANSAC only (`refine` off), no blur | 0.11 px (limit 0.5) |
//!
//! Real stack `pcb` (2048x1536, estimated at 1024x768, against frame 3): every
//! frame aligns, scales 0.9830-1.0204 (monotonic through the stack), rotations
//! below 0.04 degrees. Direct frame-to-frame estimates agree with the chain
//! through frame 3 within 0.31 px for frames 2 -> 4 and 0.61 px for 1 -> 5 (frames
//! four apart share little sharp detail, and the board's strong depth makes one
//! similarity fit each pair's sharp regions a little differently).
//!
//! # Performance
//!
//! `cargo bench -p fs-align --bench estimate` (criterion, release), 2-core
//! CI-class machine, shared while measured (load average ~11, so wall times are
//! 2-3x an idle machine's; the bench also prints the process CPU time per call,
//! which the load stretches much less):
//!
//! | call | wall | CPU |
//! |---|---|---|
//! | `Estimator::new`, 1632x1224 (2 MP) synthetic, similarity | 79-150 ms | 63-91 ms |
//! | `Estimator::estimate`, same, similarity | 82-124 ms | 54-84 ms |
//! | `Estimator::estimate`, same, `refine` off | 52-97 ms | 30-65 ms |
//! | `Estimator::estimate`, same, homography | 38-108 ms | 37-61 ms |
//! | `Estimator::new`, pcb 1024x768 | 42-96 ms | 37-40 ms |
//! | `Estimator::estimate`, pcb 1024x768 (frames 4 -> 1) | 56-130 ms | 33-41 ms |
//!
//! (Ranges: two runs at different loads.) With the patch field (2026-11-27, idle
//! machine, `-- --quick`): `Estimator::new` 42 ms wall; `estimate` 30.7 ms wall /
//! 50 ms CPU (similarity), 24.3 ms / 38 ms with `refine` off, 43 ms / 83 ms
//! (homography). So a 10-frame 2048x1536 stack needs
//! about 0.4 s of CPU for estimation, about 0.2-0.25 s of wall time on two idle
//! cores. The feature stage (pyramid, corners,
//! descriptors) is most of the cost; the refinement (coarse Gauss-Newton and the
//! patch field) adds about 12 ms of CPU per 2-megapixel frame.

mod features;
mod intensity;
mod matching;
mod patches;
mod pyramid;
mod ransac;
mod refine;
mod solve;

use fs_core::Plane;

use self::features::{Keypoint, describe, detect, pattern};
use self::intensity::{BAND_TOP, estimate_bands, estimate_discs};
use self::matching::{Indexed, match_features};
use self::patches::PatchField;
use self::pyramid::{Level, build, from_level};
use self::refine::{Sample, refine_level, select};
use crate::{AlignFailure, AlignOptions, Transform, TransformKind};

/// `value <= limit`, false for NaN (a NaN transform is never plausible).
fn within(value: f64, limit: f64) -> bool {
    value <= limit
}

/// What the estimator found for one frame.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Estimate {
    /// Reference position to frame position, in the coordinates of the planes given.
    pub transform: Transform,
    /// Feature matches before RANSAC.
    pub matches: usize,
    /// RANSAC inliers.
    pub inliers: usize,
    /// RMS intensity residual after refinement (luma units, 0..1), NaN without it.
    pub residual: f64,
    /// For an intensity estimate ([`Estimator::estimate_by_intensity`]): the
    /// correlation of the band-passed frame with the reference at the finest scale
    /// used; `None` for a feature estimate.
    pub correlation: Option<f64>,
    /// For an intensity estimate: the blur (Gaussian sigma, pixels of the planes
    /// given) that made the reference look most like the frame; `None` for a feature
    /// estimate.
    pub blur: Option<f64>,
}

/// Largest feature level size (pixels).
const FEATURE_LEVEL_PIXELS: usize = 600_000;
/// Coarsest refinement level.
const REFINE_TOP: usize = 2;
/// Refinement samples aimed at per level (0, 1, 2).
const REFINE_SAMPLES: [usize; 3] = [30_000, 15_000, 10_000];
/// Most Gauss-Newton iterations per refinement level (0, 1, 2).
const REFINE_ITERATIONS: [usize; 3] = [8, 6, 8];
/// A refinement level stops when a step moves the corners by less than this
/// (pixels of that level; levels 0, 1, 2).
const REFINE_TOLERANCE: [f64; 3] = [0.005, 0.02, 0.02];
/// Features per image in the first, wide-window matching pass.
const GUIDE_FEATURES: usize = 500;
/// Fewest inliers of the first pass's similarity for the guided second pass.
const GUIDE_MIN_INLIERS: usize = 10;
/// Search half-width of the guided pass around the predicted position (feature
/// level pixels): the similarity guess is within a pixel or two, and a homography
/// or affine transform departs from it by a few more at the corners.
const GUIDED_RADIUS: f32 = 12.0;
/// Furthest (plane pixels at a corner) the patch stage may move the Gauss-Newton
/// result; beyond, the patches disagree with it too much to be trusted.
const PATCH_REACH: f64 = 3.0;
/// Blur of the feature level before descriptors are taken.
const DESCRIPTOR_SIGMA: f64 = 1.5;

/// The reference's features and pyramid, prepared once, then matched against every
/// frame.
pub struct Estimator {
    options: AlignOptions,
    width: usize,
    height: usize,
    feature_level: usize,
    pattern: Vec<[i32; 4]>,
    descriptor_kernel: Vec<f32>,
    radius: f32,
    features: Indexed,
    /// The strongest reference features, for the first, wide-window pass.
    guide: Indexed,
    /// Per refinement level: its size and the selected reference samples.
    refine_levels: Vec<(Level, Vec<Sample>)>,
    /// The last refinement stage (level 0): textured reference patches.
    patch_field: Option<PatchField>,
    /// The reference's smoothed pyramid levels 1.., kept for intensity estimates.
    band_source: Vec<Level>,
}

impl std::fmt::Debug for Estimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Estimator")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("feature_level", &self.feature_level)
            .field("features", &self.features.keypoints.len())
            .field(
                "refine_samples",
                &self.refine_levels.iter().map(|l| l.1.len()).collect::<Vec<_>>(),
            )
            .field("options", &self.options)
            .finish()
    }
}

impl Estimator {
    /// Prepares the reference luma (values 0..1).
    pub fn new(reference: Plane<'_, f32>, options: &AlignOptions) -> Result<Self, AlignFailure> {
        let (width, height) = (reference.width(), reference.height());
        let mut feature_level = 0;
        while (width * height) >> (2 * feature_level) > FEATURE_LEVEL_PIXELS {
            feature_level += 1;
        }
        let top = if options.refine { feature_level.max(REFINE_TOP) } else { feature_level };
        let mut levels = build(reference, top.max(BAND_TOP));
        let band_source = levels.iter().skip(1).cloned().collect();
        levels.truncate(top + 1);
        let needed = options.min_inliers.max(options.transform.min_points() + 1);
        if levels.len() <= feature_level {
            return Err(AlignFailure::FeaturelessReference { found: 0, needed });
        }
        let descriptor_kernel =
            fs_core::gaussian_kernel_for_sigma::<f32>(DESCRIPTOR_SIGMA).expect("positive sigma");
        let pattern = pattern();
        let diagonal = (width as f64).hypot(height as f64) / (1u32 << feature_level) as f64;
        let reach = options.max_shift
            + 0.5 * options.max_scale_change
            + 0.5 * options.max_rotation.to_radians().sin().abs();
        let radius = (reach.min(1.0) * diagonal).max(8.0) as f32;
        let mut this = Self {
            options: options.clone(),
            width,
            height,
            feature_level,
            pattern,
            descriptor_kernel,
            radius,
            features: Indexed::new(Vec::new(), Vec::new(), 1, 1, 8.0),
            guide: Indexed::new(Vec::new(), Vec::new(), 1, 1, 8.0),
            refine_levels: Vec::new(),
            patch_field: None,
            band_source,
        };
        this.features = this.features_of(&levels[feature_level]);
        let fl = &levels[feature_level];
        this.guide = this.features.strongest(GUIDE_FEATURES, fl.width, fl.height);
        let found = this.features.keypoints.len();
        if found < needed {
            return Err(AlignFailure::FeaturelessReference { found, needed });
        }
        if options.refine {
            let mut levels = levels;
            levels.truncate(REFINE_TOP + 1);
            this.refine_levels = levels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let s = select(l, REFINE_SAMPLES[i]);
                    // Only the size is needed later.
                    (Level { width: l.width, height: l.height, data: Vec::new() }, s)
                })
                .collect();
            // Level 0 itself goes to the patch field (matched against it).
            this.patch_field = Some(PatchField::new(levels.swap_remove(0)));
        }
        Ok(this)
    }

    /// Detects, describes and indexes the features of a feature-level image.
    fn features_of(&self, level: &Level) -> Indexed {
        let keypoints: Vec<Keypoint> = detect(level, self.options.max_features);
        let smooth = level.blurred(&self.descriptor_kernel);
        let descriptors = describe(&smooth, &keypoints, &self.pattern);
        Indexed::new(keypoints, descriptors, level.width, level.height, self.radius * 0.5)
    }

    /// An estimate's transform, refused when degenerate or implausible.
    fn check(&self, t: &Transform) -> Result<(), AlignFailure> {
        if !t.is_valid() {
            return Err(AlignFailure::Degenerate);
        }
        match self.implausible(t) {
            Some(reason) => Err(AlignFailure::Implausible(reason)),
            None => Ok(()),
        }
    }

    /// Whether a transform (plane coordinates) is within the plausible range;
    /// otherwise the reason.
    fn implausible(&self, t: &Transform) -> Option<String> {
        let o = &self.options;
        let scale = t.scale();
        if !within((scale - 1.0).abs(), o.max_scale_change) {
            return Some(format!(
                "scale change {:.2} % exceeds max_scale_change {:.2} %",
                (scale - 1.0) * 100.0,
                o.max_scale_change * 100.0
            ));
        }
        let rotation = t.rotation().to_degrees();
        if !within(rotation.abs(), o.max_rotation) {
            return Some(format!(
                "rotation {rotation:.2} degrees exceeds max_rotation {:.2}",
                o.max_rotation
            ));
        }
        let (cx, cy) = (0.5 * (self.width as f64 - 1.0), 0.5 * (self.height as f64 - 1.0));
        let (x, y) = t.apply(cx, cy);
        let diagonal = (self.width as f64).hypot(self.height as f64);
        let shift = (x - cx).hypot(y - cy) / diagonal;
        if !within(shift, o.max_shift) {
            return Some(format!(
                "shift {:.1} % of the diagonal exceeds max_shift {:.1} %",
                shift * 100.0,
                o.max_shift * 100.0
            ));
        }
        None
    }

    /// Estimates the transform from the reference to `frame` (same size, luma 0..1).
    pub fn estimate(&self, frame: Plane<'_, f32>) -> Result<Estimate, AlignFailure> {
        let o = &self.options;
        let kind = o.transform;
        let needed = o.min_inliers;
        let too_few = |found| AlignFailure::TooFewMatches { found, needed };
        let fl = self.feature_level;
        let top = if o.refine { fl.max(REFINE_TOP) } else { fl };
        let levels = build(frame, top);
        if levels.len() <= fl {
            return Err(too_few(0));
        }
        let (lw, lh) = (levels[fl].width, levels[fl].height);
        let frame_features = self.features_of(&levels[fl]);
        let at_plane = |k: &Keypoint| (from_level(k.x as f64, fl), from_level(k.y as f64, fl));
        let points = |pairs: &[(u32, u32)], a: &Indexed, b: &Indexed| {
            let src: Vec<(f64, f64)> =
                pairs.iter().map(|p| at_plane(&a.keypoints[p.0 as usize])).collect();
            let dst: Vec<(f64, f64)> =
                pairs.iter().map(|p| at_plane(&b.keypoints[p.1 as usize])).collect();
            (src, dst)
        };
        let plausible = |t: &Transform| self.implausible(t).is_none();
        // Pass 1: a similarity from the strongest features, searched in the whole
        // plausible window; pass 2: every feature, searched near where it predicts.
        // The wide window over all features would cost 10x more and let in more
        // false matches; when pass 1 fails, pass 2 falls back to it.
        let strongest = frame_features.strongest(GUIDE_FEATURES, lw, lh);
        let guess_pairs = match_features(&self.guide, &strongest, self.radius, None);
        let (s, d) = points(&guess_pairs, &self.guide, &strongest);
        let similarity = TransformKind::Similarity;
        let guess = ransac::ransac(similarity, &s, &d, 2.0 * o.rans_threshold, &plausible)
            .filter(|c| c.inliers.len() >= GUIDE_MIN_INLIERS);
        let pairs = match guess {
            Some(g) => {
                let predicted = g.transform.to_subsampled((1u32 << fl) as f64);
                match_features(&self.features, &frame_features, GUIDED_RADIUS, Some(&predicted))
            }
            None => match_features(&self.features, &frame_features, self.radius, None),
        };
        let (src, dst) = points(&pairs, &self.features, &frame_features);
        let consensus = ransac::ransac(kind, &src, &dst, o.rans_threshold, &plausible);
        let inliers = consensus.as_ref().map_or(0, |c| c.inliers.len());
        let coarse = match consensus {
            Some(c) if c.inliers.len() >= needed => c.transform,
            // Too few matches: in a focus stack that mostly means a frame so defocused
            // that few corners survive; the caller may try
            // [`Estimator::estimate_by_intensity`] from a predicted transform.
            _ => return Err(too_few(inliers)),
        };
        if !coarse.is_valid() {
            return Err(AlignFailure::Degenerate);
        }
        let mut transform = coarse;
        let mut residual = f64::NAN;
        if o.refine {
            let mut ok = false;
            for l in (0..self.refine_levels.len().min(levels.len())).rev() {
                let (reference, samples) = &self.refine_levels[l];
                let factor = (1u32 << l) as f64;
                let (mut iterations, tolerance) = (REFINE_ITERATIONS[l], REFINE_TOLERANCE[l]);
                // On level 0 the patch field refines (when it can); the global
                // Gauss-Newton then only measures the residual there.
                if let (0, Some(field)) = (l, &self.patch_field)
                    && let Some(t) = field.refine(kind, &levels[0], transform)
                    && t.is_valid()
                    && t.corner_distance(&transform, self.width, self.height) < PATCH_REACH
                {
                    transform = t;
                    iterations = 0;
                }
                let start = transform.to_subsampled(factor);
                if let Some(r) =
                    refine_level(kind, samples, reference, &levels[l], start, iterations, tolerance)
                {
                    transform = r.transform.to_full(factor);
                    if l == 0 {
                        residual = r.rms;
                        ok = true;
                    }
                }
            }
            let wander = transform.corner_distance(&coarse, self.width, self.height);
            if !ok || !transform.is_valid() || wander > 4.0 * o.rans_threshold + 2.0 {
                transform = coarse;
                residual = f64::NAN;
            }
        }
        self.check(&transform)?;
        Ok(Estimate {
            transform,
            matches: pairs.len(),
            inliers,
            residual,
            correlation: None,
            blur: None,
        })
    }

    /// Estimates the transform from the reference to `frame` (same size, luma 0..1)
    /// by intensity alone, on band-passed levels, coarse to fine from `start` (a
    /// prediction, in the planes' coordinates): for a frame the features cannot
    /// align (see the `intensity` module's docs). With `shift_only`, the scale and
    /// rotation of `start` are kept and only the translation is estimated. A frame
    /// that correlates with nothing gives [`AlignFailure::NoMatch`].
    pub fn estimate_by_intensity(
        &self,
        frame: Plane<'_, f32>,
        start: Transform,
        shift_only: bool,
    ) -> Result<Estimate, AlignFailure> {
        let frame = self.band_pyramid(frame).ok_or(AlignFailure::Degenerate)?;
        self.estimate_by_intensity_with(&frame, start, shift_only, None)
    }

    /// [`Estimator::estimate_by_intensity`] on the frame's band pyramid, with the
    /// reference's blur known ([`Estimate::blur`] of an earlier estimate of the same
    /// frame): the search over blurs is skipped.
    pub(crate) fn estimate_by_intensity_with(
        &self,
        frame: &BandPyramid,
        start: Transform,
        shift_only: bool,
        blur: Option<f64>,
    ) -> Result<Estimate, AlignFailure> {
        let e = estimate_bands(
            self.options.transform,
            &self.band_source,
            &frame.0,
            start,
            shift_only,
            blur,
        )?;
        let transform = e.transform;
        self.check(&transform)?;
        Ok(Estimate {
            transform,
            matches: 0,
            inliers: 0,
            residual: f64::NAN,
            correlation: Some(e.correlation),
            blur: Some(e.blur),
        })
    }

    /// The band pyramid of a plane of the reference's size (pyramid levels 1 and
    /// coarser), for the intensity estimates; `None` for another size.
    pub(crate) fn band_pyramid(&self, plane: Plane<'_, f32>) -> Option<BandPyramid> {
        if plane.width() != self.width || plane.height() != self.height {
            return None;
        }
        // Allocation: the plane's pyramid, once per frame on this path.
        let mut levels = build(plane, BAND_TOP);
        levels.remove(0);
        Some(BandPyramid(levels))
    }

    /// Estimates the transform from `source` (a neighbour's band pyramid, or the
    /// reference's with `None`) to `frame` by intensity, the source blurred by a
    /// defocus disc to look like the frame (in linear light; the radius searched
    /// unless given), coarse to fine from `start` (planes' coordinates), only the
    /// translation with `shift_only` (see `intensity.rs`). For frames defocused far
    /// beyond the rest of the stack, whose blur a Gaussian does not imitate.
    pub(crate) fn estimate_by_defocus(
        &self,
        source: Option<&BandPyramid>,
        frame: &BandPyramid,
        start: Transform,
        shift_only: bool,
        radius: Option<f64>,
    ) -> Result<Estimate, AlignFailure> {
        let reference = source.map_or(&self.band_source[..], |p| &p.0[..]);
        let e =
            estimate_discs(self.options.transform, reference, &frame.0, start, shift_only, radius)?;
        if !e.transform.is_valid() {
            return Err(AlignFailure::Degenerate);
        }
        Ok(Estimate {
            transform: e.transform,
            matches: 0,
            inliers: 0,
            residual: f64::NAN,
            correlation: Some(e.correlation),
            blur: Some(e.blur),
        })
    }
}

/// A plane's band pyramid (its smoothed pyramid levels 1 and coarser), built once for
/// the intensity estimates of a frame ([`Estimator::band_pyramid`]).
pub(crate) struct BandPyramid(Vec<Level>);
