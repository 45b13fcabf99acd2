//! Aligning and balancing a stack frame by frame: [`Aligner`] for one frame at a time,
//! [`AlignedFrames`] as an adapter over a stream of frames that the stackers take as it
//! is.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fs_core::{Frame, FrameInfo, Image, Plane, PlaneMut, luma};
use rayon::prelude::*;

use crate::{
    AlignError, AlignFailure, AlignOptions, BalanceOptions, BorderMode, BreathingModel, Estimator,
    Gains, OnFailure, Rect, ReferenceFrame, Result, Transform, common_area, fit_gains, small_image,
    subsample_factor, warp_frame, warp_plane,
};

/// Below this corner displacement (pixels) a frame counts as not moved and is not
/// resampled.
pub const STILL_PX: f64 = 0.02;

/// Gains within this of 1 are not applied (less than a quarter of an 8-bit level at
/// mid-grey).
const STILL_GAIN: f64 = 0.001;

/// How a frame's transform was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlignMethod {
    /// The reference itself (the identity).
    Reference,
    /// Feature matches (RANSAC, then the intensity refinement).
    Features,
    /// Intensity alone on band-passed images, from its neighbour's transform (too few
    /// feature matches, or a feature fit that was implausible): against the reference
    /// blurred by a Gaussian, or against its neighbour blurred by a defocus disc, with
    /// the breathing model's magnification and rotation when its own agreed with
    /// them.
    Intensity,
    /// Predicted by the stack's breathing model (its own estimate could not be
    /// trusted); its position measured alone where that was possible.
    Predicted,
    /// Given (the chained transforms of `step_process`).
    Chained,
    /// Left out: it matches nothing.
    LeftOut,
    /// Not aligned (balance only, or no alignment).
    NotAligned,
}

impl AlignMethod {
    /// The method's name in notes and logs: `reference`, `features`, `intensity`,
    /// `predicted`, `chained`, `left out`, `not aligned`.
    pub fn name(self) -> &'static str {
        match self {
            AlignMethod::Reference => "reference",
            AlignMethod::Features => "features",
            AlignMethod::Intensity => "intensity",
            AlignMethod::Predicted => "predicted",
            AlignMethod::Chained => "chained",
            AlignMethod::LeftOut => "left out",
            AlignMethod::NotAligned => "not aligned",
        }
    }
}

/// What happened to one frame.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FrameReport {
    /// The frame's position in the stack (0-based).
    pub index: usize,
    /// Its file, when it came from one.
    pub path: Option<PathBuf>,
    /// Reference position to frame position, full resolution (the identity for the
    /// reference, and without alignment).
    pub transform: Transform,
    /// Feature matches and RANSAC inliers (0 for the reference, or without alignment).
    pub matches: usize,
    /// RANSAC inliers.
    pub inliers: usize,
    /// The balance gains applied (per colour channel), if balancing.
    pub gains: Option<Gains>,
    /// Set when the frame was left out: why.
    pub skipped: Option<AlignFailure>,
    /// How its transform was found.
    pub method: AlignMethod,
    /// Why the features' estimate was not used, when it was not (the frame was then
    /// aligned by intensity, predicted, or left out).
    pub fallback: Option<AlignFailure>,
}

impl FrameReport {
    /// The magnification change against the reference, as a fraction.
    pub fn scale_change(&self) -> f64 {
        self.transform.scale() - 1.0
    }

    /// Where the centre of a `width` x `height` reference is found in this frame,
    /// relative to where it is in the reference (pixels).
    pub fn centre_shift(&self, width: usize, height: usize) -> (f64, f64) {
        let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
        let (x, y) = self.transform.apply(cx, cy);
        (x - cx, y - cy)
    }
}

/// The reports of every frame aligned so far, shared between the stream that aligns
/// and the caller that crops the result afterwards.
#[derive(Debug, Default)]
pub struct AlignLog {
    reports: Mutex<Vec<FrameReport>>,
}

impl AlignLog {
    /// A copy of the reports so far, in stack order.
    pub fn reports(&self) -> Vec<FrameReport> {
        let mut r = self.reports.lock().expect("align log lock").clone();
        r.sort_by_key(|r| r.index);
        r
    }

    fn push(&self, report: FrameReport) {
        self.reports.lock().expect("align log lock").push(report);
    }

    /// The area of the reference that every frame kept (not skipped) covers.
    pub fn common_area(&self, width: usize, height: usize) -> Option<Rect> {
        let transforms: Vec<Transform> =
            self.reports().iter().filter(|r| r.skipped.is_none()).map(|r| r.transform).collect();
        common_area(&transforms, width, height)
    }

    /// The frames left out, with why.
    pub fn skipped(&self) -> Vec<(usize, Option<PathBuf>, AlignFailure)> {
        self.reports()
            .into_iter()
            .filter_map(|r| r.skipped.map(|why| (r.index, r.path, why)))
            .collect()
    }
}

/// Checks that `t` (full resolution, reference to frame) is a plausible focus-stack
/// motion for a `width` x `height` frame under `options`.
pub fn check_plausible(
    t: &Transform,
    width: usize,
    height: usize,
    options: &AlignOptions,
) -> std::result::Result<(), AlignFailure> {
    if !t.is_valid() {
        return Err(AlignFailure::Degenerate);
    }
    let scale = t.scale();
    if (scale - 1.0).abs() > options.max_scale_change {
        return Err(AlignFailure::Implausible(format!(
            "magnification changes by {:+.1} %, more than max_scale_change ({:.1} %)",
            (scale - 1.0) * 100.0,
            options.max_scale_change * 100.0
        )));
    }
    let rotation = t.rotation().to_degrees();
    if rotation.abs() > options.max_rotation {
        return Err(AlignFailure::Implausible(format!(
            "rotated by {rotation:.2} degrees, more than max_rotation ({})",
            options.max_rotation
        )));
    }
    let diagonal = (width as f64).hypot(height as f64);
    let identity = Transform::identity();
    let moved = t.corner_distance(&identity, width, height);
    let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
    let (x, y) = t.apply(cx, cy);
    let shift = (x - cx).hypot(y - cy);
    if shift > options.max_shift * diagonal {
        return Err(AlignFailure::Implausible(format!(
            "shifted by {shift:.1} px, more than max_shift ({} of the diagonal, {:.1} px)",
            options.max_shift,
            options.max_shift * diagonal
        )));
    }
    // A homography may keep the centre and scale but tilt the corners far away.
    let limit = options.max_shift * diagonal + options.max_scale_change * diagonal / 2.0;
    if moved > 2.0 * limit {
        return Err(AlignFailure::Implausible(format!(
            "a corner moves by {moved:.1} px, more than {:.1} px",
            2.0 * limit
        )));
    }
    Ok(())
}

/// What to do to each frame: align (estimate and warp), balance, or both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlignSettings {
    /// Alignment, or `None` to keep the frames' geometry.
    pub align: Option<AlignOptions>,
    /// Balance, or `None` to keep their brightness and colour.
    pub balance: Option<BalanceOptions>,
}

impl AlignSettings {
    /// Checks the options; the error names the bad one.
    pub fn validate(&self) -> Result<()> {
        if let Some(a) = &self.align {
            a.validate()?;
        }
        if let Some(b) = &self.balance {
            b.validate()?;
        }
        Ok(())
    }

    /// The reference frame: alignment's, or balance's when there is no alignment.
    pub fn reference(&self) -> ReferenceFrame {
        match (&self.align, &self.balance) {
            (Some(a), _) => a.reference,
            (None, Some(b)) => b.reference,
            (None, None) => ReferenceFrame::Middle,
        }
    }

    /// Alignment options, or the defaults for what alignment-free balance needs.
    fn align_or_default(&self) -> AlignOptions {
        self.align.clone().unwrap_or_default()
    }
}

/// A frame's subsampled colour image and its luma (values 0..1).
#[derive(Debug)]
struct Small {
    colour: Image<f32>,
    /// Shared with the stack state, for the next frame's intensity estimate.
    luma: Arc<Vec<f32>>,
}

impl Small {
    fn new(frame: &Frame, factor: usize) -> Self {
        let colour = small_image(frame, factor);
        let luma = Arc::new(luma(&colour));
        Self { colour, luma }
    }

    fn luma_plane(&self) -> Plane<'_, f32> {
        Plane::new(&self.luma, self.colour.width(), self.colour.height()).expect("sized")
    }
}

/// A breathing model checks feature estimates once it was fitted over this many
/// frames besides the reference (fewer cannot tell a bad frame from a bad model).
const MODEL_CHECK_FRAMES: usize = 3;

/// A frame between measuring and deciding: the frame, its small images (none for
/// the reference) and its feature estimate.
#[derive(Debug)]
struct Measured {
    index: usize,
    frame: Frame,
    small: Option<Small>,
    features: std::result::Result<Transform, AlignFailure>,
    matches: usize,
    inliers: usize,
}

/// A frame's transform and how it was found, or why it has none.
#[derive(Debug)]
struct Decided {
    transform: std::result::Result<Transform, AlignFailure>,
    method: AlignMethod,
    fallback: Option<AlignFailure>,
}

/// What the frames decided so far tell the next one: the frames aligned by their
/// features (and the model fitted over them), and the last frame's transform.
#[derive(Debug, Default)]
struct StackState {
    good: Vec<(usize, Transform)>,
    model: Option<BreathingModel>,
    last: Option<(usize, Transform)>,
    /// The last frame's small luma (none for the reference), and its size.
    last_luma: Option<(Arc<Vec<f32>>, usize, usize)>,
}

impl StackState {
    /// Where frame `k` is expected: its neighbour's transform carried one step by
    /// the model (chained from the adjacent frame), else the model's prediction,
    /// else the neighbour's transform, else the identity.
    fn predicted_start(&self, k: usize) -> Transform {
        let neighbour = self.last.filter(|(j, _)| j + 1 == k || *j == k + 1);
        match (neighbour, &self.model) {
            (Some((j, tj)), Some(model)) => match model.predict(j).inverse() {
                Some(back) => model.predict(k).after(&back).after(&tj),
                None => tj,
            },
            (None, Some(model)) => model.predict(k),
            (Some((_, tj)), None) => tj,
            (None, None) => Transform::identity(),
        }
    }
}

/// Aligns and balances frames, one at a time, to a reference frame.
///
/// Prepared once from the reference (its subsampled luma, features and pyramid, and
/// its subsampled colour image for the balance); [`Aligner::align`] then takes any
/// frame of the stack. With `step_process`, give it the chained transforms from
/// [`estimate_chain`] through [`Aligner::with_transforms`].
#[derive(Debug)]
pub struct Aligner {
    settings: AlignSettings,
    info: FrameInfo,
    reference_index: usize,
    factor: usize,
    /// The reference's 8x8 block means of its small colour image in linear light (the
    /// balance's reference).
    reference_linear: Image<f32>,
    estimator: Option<Estimator>,
    transforms: Option<Vec<Transform>>,
}

impl Aligner {
    /// An aligner to `reference`, frame `reference_index` of the stack.
    pub fn new(reference: &Frame, reference_index: usize, settings: AlignSettings) -> Result<Self> {
        settings.validate()?;
        let info = reference.info();
        let options = settings.align_or_default();
        let factor = subsample_factor(info.width, info.height, options.subsample_pixels);
        let small = Small::new(reference, factor);
        let estimator = match &settings.align {
            Some(o) if !o.step_process => Some(
                Estimator::new(small.luma_plane(), o)
                    .map_err(|reason| failed(reference.source.as_deref(), reason))?,
            ),
            _ => None,
        };
        let reference_linear = linear_block_means(&small.colour, BALANCE_BLOCK);
        Ok(Self {
            settings,
            info,
            reference_index,
            factor,
            reference_linear,
            estimator,
            transforms: None,
        })
    }

    /// Uses these transforms (reference to frame `k`, full resolution, one per frame)
    /// instead of estimating: the chained transforms of `step_process`.
    pub fn with_transforms(mut self, transforms: Vec<Transform>) -> Self {
        self.transforms = Some(transforms);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &AlignSettings {
        &self.settings
    }

    /// The reference's index in the stack.
    pub fn reference_index(&self) -> usize {
        self.reference_index
    }

    /// The block size of the subsampled images estimation works on.
    pub fn subsample_factor(&self) -> usize {
        self.factor
    }

    /// Aligns and balances frame `index` of the stack on its own (no other frame
    /// known but the reference): its transform (features; intensity from the
    /// identity when they fail; or given), the balance gains, and the warped frame in
    /// the reference's geometry. A frame that cannot be aligned gives
    /// [`AlignError::Failed`] naming it. [`AlignedFrames`] does more: it chains the
    /// intensity estimate from the neighbour and predicts from the breathing model.
    pub fn align(&self, index: usize, frame: Frame) -> Result<(Frame, FrameReport)> {
        let measured = self.measure(index, frame)?;
        let mut state = StackState::default();
        let decided = self.decide(&measured, &mut state);
        let path = measured.frame.source.clone();
        match decided.transform {
            Ok(t) => self.finish(measured, t, decided.method, decided.fallback),
            Err(reason) => Err(failed(path.as_deref(), reason)),
        }
    }

    /// Step 1 (frames in parallel): the frame's small images and its feature
    /// estimate (or given transform), checked for plausibility.
    fn measure(&self, index: usize, frame: Frame) -> Result<Measured> {
        fs_core::check_frame(self.info, &frame)?;
        let mut m = Measured {
            index,
            small: None,
            features: Err(AlignFailure::Degenerate),
            matches: 0,
            inliers: 0,
            frame,
        };
        if index == self.reference_index {
            return Ok(m);
        }
        let small = Small::new(&m.frame, self.factor);
        if let Some(options) = &self.settings.align {
            m.features = match (&self.transforms, &self.estimator) {
                (Some(ts), _) => Ok(*ts.get(index).ok_or_else(|| {
                    AlignError::NothingLeft(format!(
                        "frame {index} has no transform ({} given)",
                        ts.len()
                    ))
                })?),
                (None, Some(estimator)) => estimator.estimate(small.luma_plane()).map(|e| {
                    m.matches = e.matches;
                    m.inliers = e.inliers;
                    e.transform.to_full(self.factor as f64)
                }),
                (None, None) => unreachable!("an aligner without step_process has an estimator"),
            }
            .and_then(|t| {
                check_plausible(&t, self.info.width, self.info.height, options).map(|()| t)
            });
        }
        m.small = Some(small);
        Ok(m)
    }

    /// Step 2 (frames in stack order): the frame's transform, from its features when
    /// they are plausible and follow the breathing model of the frames before;
    /// else by intensity from its neighbour's transform; else predicted by the
    /// model; else an error (the frame matches nothing, or nothing predicts it).
    fn decide(&self, m: &Measured, state: &mut StackState) -> Decided {
        let (w, h) = (self.info.width, self.info.height);
        let done = |state: &mut StackState, t: Transform, method, fallback| {
            state.last = Some((m.index, t));
            state.last_luma = m
                .small
                .as_ref()
                .map(|s| (Arc::clone(&s.luma), s.colour.width(), s.colour.height()));
            Decided { transform: Ok(t), method, fallback }
        };
        if m.index == self.reference_index {
            return done(state, Transform::identity(), AlignMethod::Reference, None);
        }
        let Some(options) = &self.settings.align else {
            return Decided {
                transform: Ok(Transform::identity()),
                method: AlignMethod::NotAligned,
                fallback: None,
            };
        };
        let trusted = |state: &StackState,
                       t: &Transform|
         -> std::result::Result<(), AlignFailure> {
            match state.model.as_ref().filter(|model| model.frames().len() >= MODEL_CHECK_FRAMES) {
                Some(model) => {
                    let (d, limit) = (model.deviation(m.index, t), model.tolerance(m.index));
                    if d <= limit {
                        Ok(())
                    } else {
                        Err(AlignFailure::Implausible(format!(
                            "magnification and rotation {d:.1} px (at the corners) from the stack's breathing model, at most {limit:.1} px expected"
                        )))
                    }
                }
                None => Ok(()),
            }
        };
        let fallback = match m.features.clone().and_then(|t| trusted(state, &t).map(|()| t)) {
            Ok(t) if self.transforms.is_some() => {
                return done(state, t, AlignMethod::Chained, None);
            }
            Ok(t) => {
                state.good.push((m.index, t));
                state.model = BreathingModel::fit(&state.good, self.reference_index, w, h);
                return done(state, t, AlignMethod::Features, None);
            }
            Err(reason) => reason,
        };
        let (Some(estimator), Some(small)) = (&self.estimator, &m.small) else {
            return Decided {
                transform: Err(fallback.clone()),
                method: AlignMethod::LeftOut,
                fallback: Some(fallback),
            };
        };
        let factor = self.factor as f64;
        let plausible = |t: Transform| check_plausible(&t, w, h, options).map(|()| t);
        let left_out = |reason: AlignFailure| Decided {
            transform: Err(reason),
            method: AlignMethod::LeftOut,
            fallback: Some(fallback.clone()),
        };
        let Some(bands) = estimator.band_pyramid(small.luma_plane()) else {
            return left_out(AlignFailure::Degenerate);
        };
        // Intensity, from the transform the neighbour (and the model's step) predicts,
        // the reference blurred by a Gaussian: the verdict on whether the frame
        // matches anything at all.
        let start = state.predicted_start(m.index);
        let first =
            estimator.estimate_by_intensity_with(&bands, start.to_subsampled(factor), false, None);
        // The blur that made the reference look like the frame, for the second try.
        let blur = first.as_ref().ok().and_then(|e| e.blur);
        let own = first
            .map(|e| e.transform.to_full(factor))
            .and_then(plausible)
            .and_then(|t| trusted(state, &t).map(|()| t));
        let reason = match own {
            Ok(t) => return done(state, t, AlignMethod::Intensity, Some(fallback)),
            Err(AlignFailure::NoMatch { correlation }) => {
                return left_out(AlignFailure::NoMatch { correlation });
            }
            Err(reason) => reason,
        };
        // A frame defocused far beyond the rest: the source blurred by a defocus disc,
        // the source its neighbour towards the reference when that was just aligned
        // (the two are one focus step apart), else the reference. `source` maps the
        // source's positions (reference: the identity) to the frame's.
        let towards_reference = |j: usize| {
            (m.index > self.reference_index && j + 1 == m.index)
                || (m.index < self.reference_index && j == m.index + 1)
        };
        let neighbour = state.last.filter(|(j, _)| towards_reference(*j));
        let source = match (neighbour, &state.last_luma) {
            (Some((j, tj)), Some((luma, lw, lh))) if j != self.reference_index => {
                Plane::new(luma, *lw, *lh)
                    .ok()
                    .and_then(|p| estimator.band_pyramid(p))
                    .map(|b| (Some(b), tj))
            }
            _ => None,
        };
        let (source, to_source) = source.unwrap_or((None, Transform::identity()));
        let from_source = to_source.inverse().unwrap_or_default();
        // Full-resolution transforms between the reference and the frame, and the
        // step from the source to the frame in plane coordinates.
        let step_of = |t: &Transform| t.after(&from_source).to_subsampled(factor);
        let chained = |e: crate::Estimate| e.transform.to_full(factor).after(&to_source);
        let defocus =
            estimator.estimate_by_defocus(source.as_ref(), &bands, step_of(&start), false, None);
        let radius = defocus.as_ref().ok().and_then(|e| e.blur);
        let own =
            defocus.map(chained).and_then(plausible).and_then(|t| trusted(state, &t).map(|()| t));
        let model = state.model.as_ref().filter(|model| !model.frames().is_empty());
        let reason = match (own, model) {
            // The frame's own magnification at this defocus is less certain than the
            // model's (the blur that imitates the frame's differs from region to
            // region, and pulls it): with a model it agrees with, the model's
            // magnification and rotation, and the frame's own position.
            // (The search measured on its coarsest level; the fit on the finest level
            // the radius allows, from the search's position.)
            (Ok(t), model) => {
                let predicted = model.map(|model| model.predict(m.index));
                let from = predicted.unwrap_or(t);
                let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
                let ((x, y), (px, py)) = (t.apply(cx, cy), from.apply(cx, cy));
                let from = Transform::translation(x - px, y - py).after(&from);
                let shift_only = predicted.is_some();
                let t = estimator
                    .estimate_by_defocus(
                        source.as_ref(),
                        &bands,
                        step_of(&from),
                        shift_only,
                        radius,
                    )
                    .map(chained)
                    .and_then(plausible)
                    .unwrap_or(t);
                return done(state, t, AlignMethod::Intensity, Some(fallback));
            }
            (Err(_), _) => reason,
        };
        let (Some(model), false) = (model, options.on_failure == OnFailure::Skip) else {
            return left_out(reason);
        };
        // Predicted: magnification and rotation from the model, the position measured
        // alone (translation only) where the frame allows it.
        let predicted = model.predict(m.index);
        let t = match estimator.estimate_by_intensity_with(
            &bands,
            predicted.to_subsampled(factor),
            true,
            blur,
        ) {
            Ok(e) => plausible(e.transform.to_full(factor)).unwrap_or(predicted),
            Err(AlignFailure::NoMatch { correlation }) => {
                return left_out(AlignFailure::NoMatch { correlation });
            }
            Err(_) => predicted,
        };
        done(state, t, AlignMethod::Predicted, Some(fallback))
    }

    /// Step 3 (frames in parallel): the balance gains and the warped frame.
    fn finish(
        &self,
        m: Measured,
        t: Transform,
        method: AlignMethod,
        fallback: Option<AlignFailure>,
    ) -> Result<(Frame, FrameReport)> {
        let Measured { index, frame, small, matches, inliers, .. } = m;
        let path = frame.source.clone();
        let mut report = FrameReport {
            index,
            path: path.clone(),
            transform: Transform::identity(),
            matches: 0,
            inliers: 0,
            gains: None,
            skipped: None,
            method,
            fallback,
        };
        let Some(small) = small else {
            return Ok((frame, report));
        };
        if self.settings.align.is_some() {
            report.matches = matches;
            report.inliers = inliers;
            // A motion below the estimator's accuracy is no motion: resampling would
            // only soften the frame.
            let still =
                t.corner_distance(&Transform::identity(), self.info.width, self.info.height)
                    < STILL_PX;
            report.transform = if still { Transform::identity() } else { t };
        }
        if let Some(balance) = &self.settings.balance {
            // Fitted in linear light, where defocus blur keeps the mean: in sRGB values
            // a blurred frame has a different mean than a sharp one of the same
            // exposure, and the balance would "correct" that. On 8x8 block means, where
            // the blur difference between a sharp and a defocused frame (and what it
            // moves across the clipping limits) is gone; the frame's block means are
            // taken in its own geometry and then warped (1/64 of the samples).
            let coarse = linear_block_means(&small.colour, BALANCE_BLOCK);
            let frame = self.in_reference_geometry(&coarse, &report.transform);
            let mut gains = fit_gains(&self.reference_linear, &frame, balance)?;
            for g in &mut gains.values {
                *g = g.powf(1.0 / SRGB_GAMMA);
            }
            report.gains = Some(gains);
        }
        let options = self.settings.align_or_default();
        let gains = report
            .gains
            .as_ref()
            .filter(|g| g.values.iter().any(|v| (v - 1.0).abs() > STILL_GAIN))
            .map(|g| g.values.as_slice());
        let moved = report.transform != Transform::identity();
        let aligned = if moved || gains.is_some() {
            let mut out = warp_frame(
                &frame,
                &report.transform,
                options.interpolation,
                options.border_mode,
                gains,
            )?;
            out.source = path;
            out
        } else {
            frame
        };
        Ok((aligned, report))
    }

    /// The frame's block means (of its small image) warped into the reference's
    /// block-mean geometry, no data marked NaN (the balance skips it).
    fn in_reference_geometry(&self, coarse: &Image<f32>, t: &Transform) -> Image<f32> {
        let (w, h) = (self.reference_linear.width(), self.reference_linear.height());
        let ts = t.to_subsampled((self.factor * BALANCE_BLOCK) as f64);
        let mut out = Image::<f32>::new(w, h, coarse.channels()).expect("sized");
        for c in 0..coarse.channels() {
            let mut dst = out.plane_mut(c);
            let dst = PlaneMut::new(dst.as_mut_slice(), w, h).expect("sized");
            warp_plane(
                coarse.plane(c),
                dst,
                &ts,
                crate::Interpolation::Bilinear,
                BorderMode::Invalid,
                f32::NAN,
            )
            .expect("sizes match");
        }
        out
    }
}

/// Block size (pixels of the subsampled images) of the means the balance compares.
const BALANCE_BLOCK: usize = 8;

/// The exponent that turns a gain of linear light into one of sRGB-encoded values
/// (sRGB is close to a 2.2 power law).
const SRGB_GAMMA: f64 = 2.2;

/// Means, in linear light, of the `k` x `k` blocks of an image of sRGB-encoded values
/// (0..1; decoded by a cubic fit of the sRGB curve). A block with a sample without
/// data (NaN) is NaN. Rows of blocks in parallel.
fn linear_block_means(img: &Image<f32>, k: usize) -> Image<f32> {
    // A cubic fit of the sRGB curve (within 0.002 of linear light over 0..1): the
    // same for both images, so the ratio of means keeps its meaning, and it
    // vectorises where a table does not. NaN stays NaN.
    let linear = |v: f32| {
        let v = v.clamp(0.0, 1.0);
        v * (v * (v * 0.305_306 + 0.682_171_1) + 0.012_522_878)
    };
    let (iw, ih) = (img.width(), img.height());
    let (w, h) = ((iw / k).max(1), (ih / k).max(1));
    let planes = img
        .planes()
        .map(|p| {
            let mut out = vec![0.0f32; w * h];
            out.par_chunks_mut(w).enumerate().for_each(|(by, row)| {
                for (bx, o) in row.iter_mut().enumerate() {
                    // Eight lanes (vectorised), summed at the end; NaN propagates
                    // through the curve and the sums: a partly covered block is NaN.
                    let mut lanes = [0.0f32; 8];
                    let mut n = 0usize;
                    for y in by * k..((by + 1) * k).min(ih) {
                        let r = &p[y * iw + bx * k..y * iw + ((bx + 1) * k).min(iw)];
                        let mut chunks = r.chunks_exact(8);
                        for c in &mut chunks {
                            for (l, &v) in lanes.iter_mut().zip(c) {
                                *l += linear(v);
                            }
                        }
                        for (l, &v) in lanes.iter_mut().zip(chunks.remainder()) {
                            *l += linear(v);
                        }
                        n += r.len();
                    }
                    let sum: f32 = lanes.iter().sum();
                    *o = if n == 0 { f32::NAN } else { sum / n as f32 };
                }
            });
            out
        })
        .collect();
    Image::from_planes(w, h, planes).expect("sized")
}

fn failed(path: Option<&Path>, reason: AlignFailure) -> AlignError {
    AlignError::Failed { path: path.map(Path::to_path_buf).unwrap_or_default(), reason }
}

/// The chained transforms of `step_process`: each frame is estimated against its
/// neighbour towards the reference (frame `k` against `k + 1` below the reference,
/// against `k - 1` above it) and the transforms composed, so two frames compared are
/// always one focus step apart. Decodes every frame of `frames` once, keeping only
/// two subsampled lumas at a time. Returns one transform (reference to frame,
/// full resolution) per frame; a frame whose own step cannot be estimated is an
/// error naming it (with [`OnFailure::Skip`], it gets the transform of its
/// neighbour towards the reference, and the chain goes on through it).
pub fn estimate_chain<I>(
    frames: I,
    reference_index: usize,
    options: &AlignOptions,
) -> Result<Vec<Transform>>
where
    I: IntoIterator<Item = fs_core::Result<Frame>>,
{
    options.validate()?;
    // Steps between neighbours: step[k] maps frame k's position to frame k+1's.
    let mut steps: Vec<std::result::Result<Transform, AlignError>> = Vec::new();
    let mut previous: Option<(Small, Option<PathBuf>)> = None;
    let mut factor = 0;
    let mut info = None;
    let mut count = 0;
    for frame in frames {
        let frame = frame?;
        let expected = *info.get_or_insert(frame.info());
        fs_core::check_frame(expected, &frame)?;
        if factor == 0 {
            factor = subsample_factor(expected.width, expected.height, options.subsample_pixels);
        }
        let small = Small::new(&frame, factor);
        let path = frame.source.clone();
        drop(frame);
        if let Some((prev, prev_path)) = previous.take() {
            // Estimator on the previous frame: its positions to this frame's.
            let step = Estimator::new(prev.luma_plane(), options)
                .map_err(|r| failed(prev_path.as_deref(), r))
                .and_then(|e| {
                    // Neighbours move little: a step the features cannot find is
                    // tried by intensity from the identity.
                    e.estimate(small.luma_plane())
                        .or_else(|r| match r {
                            AlignFailure::TooFewMatches { .. } => e
                                .estimate_by_intensity(
                                    small.luma_plane(),
                                    Transform::identity(),
                                    false,
                                )
                                .map_err(|_| r),
                            r => Err(r),
                        })
                        .map_err(|r| {
                            let blame = path.as_deref().or(prev_path.as_deref());
                            failed(blame, r)
                        })
                })
                .map(|e| e.transform.to_full(factor as f64));
            steps.push(step);
        }
        previous = Some((small, path));
        count += 1;
    }
    let Some(info) = info else {
        return Err(AlignError::NothingLeft("no frames to align".into()));
    };
    if reference_index >= count {
        return Err(AlignError::InvalidOption {
            name: "ref_idx",
            reason: format!("must be < the number of frames ({count}), got {reference_index}"),
        });
    }
    let mut out = vec![Transform::identity(); count];
    let step = |k: usize| -> Result<Option<Transform>> {
        match &steps[k] {
            Ok(t) => Ok(Some(*t)),
            Err(_) if options.on_failure != OnFailure::Stop => Ok(None),
            Err(AlignError::Failed { path, reason }) => {
                Err(AlignError::Failed { path: path.clone(), reason: reason.clone() })
            }
            Err(e) => Err(AlignError::NothingLeft(e.to_string())),
        }
    };
    for k in reference_index + 1..count {
        // ref -> k = (k-1 -> k) after (ref -> k-1)
        out[k] = match step(k - 1)? {
            Some(s) => s.after(&out[k - 1]),
            None => out[k - 1],
        };
    }
    for k in (0..reference_index).rev() {
        // ref -> k = (k+1 -> k) after (ref -> k+1); (k+1 -> k) is step[k] inverted.
        out[k] = match step(k)?.and_then(|s| s.inverse()) {
            Some(s) => s.after(&out[k + 1]),
            None => out[k + 1],
        };
    }
    for t in &out {
        check_plausible(t, info.width, info.height, options).map_err(|reason| {
            AlignError::NothingLeft(format!("a chained transform is implausible: {reason}"))
        })?;
    }
    Ok(out)
}

/// Frames aligned and balanced as they stream past: an iterator adapter over a
/// stream of frames (all of the stack, reference included, in stack order) that
/// yields each frame in the reference's geometry, ready for any stacker.
///
/// Frames that cannot be aligned stop the stream with an error naming them
/// ([`OnFailure::Stop`]), or are left out ([`OnFailure::Skip`]); either way the
/// [`AlignLog`] ([`AlignedFrames::log`]) says what happened to each frame, and gives
/// the area every kept frame covers, to crop the stacked result to.
#[derive(Debug)]
pub struct AlignedFrames<'a, I> {
    source: I,
    aligner: &'a Aligner,
    next: usize,
    log: Arc<AlignLog>,
    /// Frames aligned at once (on rayon's pool), in stack order.
    at_once: usize,
    /// Aligned frames not yet yielded, with their index and path.
    ready: VecDeque<Aligned>,
    /// A decoding error met while filling a batch, yielded after its frames.
    pending: Option<fs_core::CoreError>,
    /// What the frames so far tell the next (the breathing model, the neighbour).
    state: StackState,
}

/// One frame between deciding and finishing: index, source path, what was decided.
type DecidedFrame = (usize, Option<PathBuf>, Result<(Measured, Decided)>);

/// One frame's outcome in [`AlignedFrames`]: index, source path, result.
type Aligned = (usize, Option<PathBuf>, Result<(Frame, FrameReport)>);

impl<'a, I> AlignedFrames<'a, I>
where
    I: Iterator<Item = fs_core::Result<Frame>>,
{
    /// Aligns the frames of `source` (the whole stack, in order) with `aligner`.
    pub fn new(source: I, aligner: &'a Aligner) -> Self {
        Self::starting_at(source, aligner, 0)
    }

    /// Aligns the frames of `source`, which start at frame `offset` of the stack the
    /// aligner was made for (a bunch of it).
    pub fn starting_at(source: I, aligner: &'a Aligner, offset: usize) -> Self {
        Self {
            source,
            aligner,
            next: offset,
            log: Arc::default(),
            at_once: 2,
            ready: VecDeque::new(),
            pending: None,
            state: StackState::default(),
        }
    }

    /// How many frames are taken from the source and aligned at once, in parallel
    /// (default 2: a frame's estimation is mostly sequential work, so two frames
    /// keep two cores busy). Each one more holds one more decoded and one more
    /// warped frame in memory; 1 for the least memory. The output does not depend on
    /// it.
    pub fn frames_at_once(mut self, n: usize) -> Self {
        self.at_once = n.max(1);
        self
    }

    /// The shared log of what happened to each frame.
    pub fn log(&self) -> Arc<AlignLog> {
        Arc::clone(&self.log)
    }
}

impl<I> Iterator for AlignedFrames<'_, I>
where
    I: Iterator<Item = fs_core::Result<Frame>>,
{
    type Item = fs_core::Result<Frame>;

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Frames left out make it shorter, never longer.
        (0, self.source.size_hint().1)
    }

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some((index, path, result)) = self.ready.pop_front() else {
                if let Some(e) = self.pending.take() {
                    return Some(Err(e));
                }
                self.fill();
                if self.ready.is_empty() {
                    return self.pending.take().map(Err);
                }
                continue;
            };
            match result {
                Ok((frame, report)) => {
                    self.log.push(report);
                    return Some(Ok(frame));
                }
                Err(AlignError::Failed { reason, .. })
                    if self.aligner.settings.align.as_ref().map(|a| a.on_failure)
                        != Some(OnFailure::Stop) =>
                {
                    self.log.push(FrameReport {
                        index,
                        path,
                        transform: Transform::identity(),
                        matches: 0,
                        inliers: 0,
                        gains: None,
                        skipped: Some(reason),
                        method: AlignMethod::LeftOut,
                        fallback: None,
                    });
                }
                Err(AlignError::Core(e)) => return Some(Err(e)),
                Err(e) => return Some(Err(fs_core::CoreError::Stage(Box::new(e)))),
            }
        }
    }
}

impl<I> AlignedFrames<'_, I>
where
    I: Iterator<Item = fs_core::Result<Frame>>,
{
    /// Takes up to `at_once` frames from the source and measures them in parallel
    /// (each starting as soon as it arrives, so measuring the first overlaps with
    /// decoding the next), decides their transforms in stack order (the breathing
    /// model and the neighbour's transform pass from frame to frame), then warps and
    /// balances them in parallel; a decoding error ends the batch and waits in
    /// `pending`.
    fn fill(&mut self) {
        let aligner = self.aligner;
        // Allocation: two small vectors per batch.
        let done = Mutex::new(Vec::with_capacity(self.at_once));
        let (source, next, pending, at_once) =
            (&mut self.source, &mut self.next, &mut self.pending, self.at_once);
        rayon::in_place_scope(|scope| {
            for _ in 0..at_once {
                match source.next() {
                    None => break,
                    Some(Err(e)) => {
                        // The frame that failed to decode keeps its place in the stack.
                        *next += 1;
                        *pending = Some(e);
                        break;
                    }
                    Some(Ok(frame)) => {
                        let index = *next;
                        *next += 1;
                        let done = &done;
                        scope.spawn(move |_| {
                            let path = frame.source.clone();
                            let result = aligner.measure(index, frame);
                            done.lock().expect("no panic while held").push((index, path, result));
                        });
                    }
                }
            }
        });
        let mut measured: Vec<(usize, Option<PathBuf>, Result<Measured>)> =
            done.into_inner().expect("no panic while held");
        measured.sort_by_key(|d| d.0);
        let decided: Vec<DecidedFrame> = measured
            .into_iter()
            .map(|(index, path, m)| {
                let m = m.map(|m| {
                    let d = aligner.decide(&m, &mut self.state);
                    (m, d)
                });
                (index, path, m)
            })
            .collect();
        let finished = Mutex::new(Vec::with_capacity(decided.len()));
        rayon::in_place_scope(|scope| {
            for (index, path, d) in decided {
                let finished = &finished;
                scope.spawn(move |_| {
                    let result = d.and_then(|(m, d)| match d.transform {
                        Ok(t) => aligner.finish(m, t, d.method, d.fallback),
                        Err(reason) => Err(failed(path.as_deref(), reason)),
                    });
                    finished.lock().expect("no panic while held").push((index, path, result));
                });
            }
        });
        let mut finished: Vec<Aligned> = finished.into_inner().expect("no panic while held");
        finished.sort_by_key(|d| d.0);
        self.ready.extend(finished);
    }
}

/// The frames of `paths` in order, decoded one at a time, except frame
/// `reference_index`, which is `reference` (already decoded to build the
/// [`Aligner`]): the stream for [`AlignedFrames`] without decoding the reference
/// twice.
pub fn frames_with_reference(
    paths: Vec<PathBuf>,
    reference_index: usize,
    reference: Frame,
    develop: fs_core::Develop,
) -> impl Iterator<Item = fs_core::Result<Frame>> + Send {
    let mut reference = Some(reference);
    let expected = reference.as_ref().map(Frame::info);
    paths.into_iter().enumerate().map(move |(i, path)| {
        if i == reference_index
            && let Some(f) = reference.take()
        {
            return Ok(f);
        }
        let frame = fs_core::read_frame_with(&path, &develop)?;
        if let Some(e) = expected {
            fs_core::check_frame(e, &frame)?;
        }
        Ok(frame)
    })
}
