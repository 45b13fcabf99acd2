//! `PyramidStack`: the streaming Laplacian-pyramid stacker.
//!
//! A producer thread pulls frames from the caller's iterator (decoding them, for
//! [`fs_core::PathFrames`]) and hands them over through a rendezvous channel, so the
//! next frame decodes while the current one is folded in; at most two frames are
//! decoded at any time. Per frame: the Gaussian levels `G_1..G_n` are reduced from
//! the frame's samples (buffers reused across frames), each detail level is folded
//! into the running best pyramid ([`crate::fuse`]), and the base level `G_n` is kept.
//! At the end the base levels are fused ([`crate::base`]), the pyramid collapsed in
//! place, colour un-premultiplied, and the result rounded to the input's format.
//!
//! Memory: the running pyramid (coefficients and energy, about 1.8x one frame in
//! floats for RGB), the current frame's `G_1..G_n` (a third of a frame), two
//! decoded frames, and every frame's base level (1/4^n of a frame each). It does
//! not grow with the number of frames, except for the base levels.

use fs_core::{Float, FloatType, Frame, FrameInfo, Image, Metadata, Progress, generating_kernel};

use crate::alpha::unpremultiply;
use crate::base::fuse_base;
use crate::fuse::{BestLevel, ScratchPool, fold_level, reduce_rows};
use crate::noise::{NOISE_LEVELS, blend_rows, frame_noise_energy, ramp};
use crate::pyramid::{level_sizes, pyramid_levels};
use crate::reduce::{expand_add, reduce_into};
use crate::rows::{FrameRows, PlaneRows, RowSource};
use crate::{PyramidError, PyramidOptions};

/// The Laplacian-pyramid focus stacker (maximum-energy rule for the detail levels,
/// entropy + variance rule for the base level). See the crate docs.
#[derive(Debug, Clone)]
pub struct PyramidStack {
    /// The options it was built with (validated).
    pub options: PyramidOptions,
}

impl PyramidStack {
    /// A stacker with these options; fails, naming the option, if one is invalid.
    pub fn new(options: PyramidOptions) -> Result<Self, PyramidError> {
        options.validate()?;
        Ok(Self { options })
    }

    /// Stacks frames yielded one at a time (e.g. [`fs_core::PathFrames`], or
    /// already decoded frames) into one frame in the input's format, carrying the
    /// first frame's metadata. Every frame must have the first one's size and
    /// format ([`fs_core::check_frame`]); callers with paths can check all headers
    /// first with [`fs_core::check_stack`]. Cancellation is checked between frames.
    pub fn stack<I>(&self, frames: I, progress: &dyn Progress) -> Result<Frame, PyramidError>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        self.options.validate()?;
        match self.options.float_type {
            FloatType::F32 => self.stack_as::<f32, I>(frames, progress),
            FloatType::F64 => self.stack_as::<f64, I>(frames, progress),
        }
    }

    fn stack_as<T: Float, I>(
        &self,
        frames: I,
        progress: &dyn Progress,
    ) -> Result<Frame, PyramidError>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        let frames = frames.into_iter();
        let (lo, hi) = frames.size_hint();
        progress.phase("pyramid stacking", hi.unwrap_or(lo) as u64);
        // At most two decoded frames at a time: the next decodes while one is fused.
        fs_core::with_prefetch(frames, |rx| {
            let mut state: Option<State<T>> = None;
            for (k, frame) in rx.enumerate() {
                progress.check_cancelled()?;
                let frame = frame?;
                match &state {
                    None => state = Some(State::new(&frame, &self.options)),
                    Some(st) => fs_core::check_frame(st.info, &frame)?,
                }
                state.as_mut().expect("set above").add(&frame);
                progress.step(k as u64 + 1);
            }
            let state = state.ok_or(PyramidError::NoFrames)?;
            progress.check_cancelled()?;
            state.finish(self.options.kernel_size)
        })
    }
}

/// Everything kept across frames.
struct State<T> {
    info: FrameInfo,
    metadata: Metadata,
    kernel: [T; 5],
    sizes: Vec<(usize, usize)>,
    /// The current frame's Gaussian levels 1..=n (reused across frames).
    gauss: Vec<Vec<Vec<T>>>,
    /// The running best of detail levels 0..n.
    best: Vec<BestLevel<T>>,
    /// Every frame's base level, per channel.
    bases: Vec<Vec<Vec<T>>>,
    /// Strip scratch, reused across levels and frames.
    pool: ScratchPool<T>,
    /// The noise guard (0: off).
    noise_guard: f64,
    /// Per guarded level, the smallest frame noise energy so far.
    noise: Vec<f64>,
}

impl<T: Float> State<T> {
    fn new(first: &Frame, options: &PyramidOptions) -> Self {
        let info = first.info();
        let c = info.format.layout.channels();
        let n = pyramid_levels(info.width, info.height, options.pyramid_min_size);
        let sizes = level_sizes(info.width, info.height, n);
        // Allocation: once per stack.
        let gauss = sizes[1..].iter().map(|&(w, h)| vec![vec![T::zero(); w * h]; c]).collect();
        let guarded = |i: usize| options.noise_guard > 0.0 && i < NOISE_LEVELS;
        let best = sizes[..n]
            .iter()
            .enumerate()
            .map(|(i, &(w, h))| BestLevel::new(w, h, c, guarded(i)))
            .collect();
        Self {
            info,
            metadata: first.metadata.clone(),
            kernel: generating_kernel(options.gen_kernel),
            sizes,
            gauss,
            best,
            bases: Vec::new(),
            pool: ScratchPool::default(),
            noise_guard: options.noise_guard,
            noise: vec![f64::INFINITY; n.min(NOISE_LEVELS)],
        }
    }

    fn levels(&self) -> usize {
        self.sizes.len() - 1
    }

    fn add(&mut self, frame: &Frame) {
        let n = self.levels();
        let src = FrameRows::new(frame);
        let k = &self.kernel;
        if n == 0 {
            // No detail levels: the frame itself is the base.
            let (w, h) = self.sizes[0];
            let c = RowSource::<T>::channels(&src);
            let mut planes = vec![vec![T::zero(); w * h]; c];
            let mut row = vec![T::zero(); c * w];
            for y in 0..h {
                src.read_row(y, &mut row);
                for (p, r) in planes.iter_mut().zip(row.chunks_exact(w)) {
                    p[y * w..(y + 1) * w].copy_from_slice(r);
                }
            }
            self.bases.push(planes);
            return;
        }
        reduce_rows(&src, &mut self.gauss[0], self.sizes[1], k, &self.pool);
        for i in 1..n {
            let (done, rest) = self.gauss.split_at_mut(i);
            let ((w, h), (cw, ch)) = (self.sizes[i], self.sizes[i + 1]);
            for (fine, coarse) in done[i - 1].iter().zip(rest[0].iter_mut()) {
                let fine = fs_core::Plane::new(fine, w, h).expect("sized");
                let coarse = fs_core::PlaneMut::new(coarse, cw, ch).expect("sized");
                reduce_into(fine, coarse, k).expect("sized");
            }
        }
        // Allocation: one small base level per frame.
        self.bases.push(self.gauss[n - 1].clone());
        fold_level(&src, &self.gauss[0], self.sizes[1], k, &mut self.best[0], &self.pool);
        for i in 1..n {
            let (w, h) = self.sizes[i];
            let fine = PlaneRows {
                planes: self.gauss[i - 1].iter().map(|p| p.as_slice()).collect(),
                width: w,
                height: h,
            };
            fold_level(&fine, &self.gauss[i], self.sizes[i + 1], k, &mut self.best[i], &self.pool);
        }
        for (noise, level) in self.noise.iter_mut().zip(&self.best) {
            if let Some(h) = &level.histogram {
                let mut h = h.lock().expect("histogram poisoned");
                *noise = noise.min(frame_noise_energy(&h));
                h.clear();
            }
        }
    }

    fn finish(self, kernel_size: usize) -> Result<Frame, PyramidError> {
        let State {
            info,
            metadata,
            kernel,
            sizes,
            gauss,
            mut best,
            bases,
            pool,
            noise_guard,
            noise,
        } = self;
        drop(pool);
        drop(gauss);
        let n = sizes.len() - 1;
        for (level, &noise) in best.iter_mut().zip(&noise) {
            guard_level(level, bases.len(), ramp(noise_guard, noise));
        }
        let max = info.format.depth.max_value();
        let (bw, bh) = sizes[n];
        let mut upper = fuse_base(&bases, bw, bh, kernel_size, max);
        drop(bases);
        // Collapse from the top, each level in place: level i = expand(level i+1) + L_i.
        for (i, level) in best.into_iter().enumerate().rev() {
            let (w, h) = sizes[i];
            let BestLevel { energy, mut coeffs, sum, .. } = level;
            drop(sum);
            drop(energy);
            for (fine, coarse) in coeffs.iter_mut().zip(&upper) {
                let (cw, ch) = sizes[i + 1];
                expand_add(
                    fs_core::Plane::new(coarse, cw, ch)?,
                    fs_core::PlaneMut::new(fine, w, h)?,
                    &kernel,
                )?;
            }
            upper = coeffs;
        }
        if info.format.layout.has_alpha() {
            unpremultiply(&mut upper, max);
        }
        let image = Image::from_planes(info.width, info.height, upper)?;
        Ok(Frame::from_image(&image, info.format)?.with_metadata(metadata))
    }
}

/// Applies the noise guard to one level (see [`crate::noise`]) and frees its sums.
fn guard_level<T: Float>(level: &mut BestLevel<T>, frames: usize, ramp: Option<(f64, f64)>) {
    let sum = std::mem::take(&mut level.sum);
    let energy_sum = std::mem::take(&mut level.energy_sum);
    if let (Some(ramp), false) = (ramp, sum.is_empty()) {
        let sums: Vec<&[T]> = sum.iter().map(|p| p.as_slice()).collect();
        let mut best: Vec<&mut [T]> = level.coeffs.iter_mut().map(|p| p.as_mut_slice()).collect();
        blend_rows(&level.energy, &energy_sum, &sums, &mut best, level.width, frames, ramp);
    }
}
