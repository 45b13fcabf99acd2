//! `DepthMapStack`: the two-pass streaming stacker.
//!
//! Pass 1 decodes every frame, computes its energy map and folds it into a
//! [`WeightAccumulator`] (with [`DepthMapStack::stack`], the decoder thread also
//! appends the frame's raw samples to a scratch file). Pass 2 gets every frame again
//! (from the scratch file, or by decoding again with [`DepthMapStack::stack_twice`]),
//! recomputes the same energy map (bit-identical: the same code on the same samples),
//! turns it into the frame's weight map, and folds the frame into the
//! [`PyramidBlend`] (and the [`DepthAccumulator`]). Memory is the running sums plus
//! one frame's work buffers, whatever the number of frames.
//!
//! Decoding runs on its own thread, one frame ahead, so it overlaps the energy and
//! pyramid work on the rayon pool.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};

use fs_core::{
    Float, FloatType, Frame, FrameInfo, Image, LUMA_WEIGHTS, Metadata, PathFrames, PlaneMut,
    Progress, Samples, check_frame, with_prefetch,
};
use rayon::prelude::*;

use crate::blend::PyramidBlend;
use crate::depth::DepthAccumulator;
use crate::energy::{RowEnergy, energy_map};
use crate::error::{DepthMapError, Result};
use crate::options::DepthMapOptions;
use crate::smooth::smooth_weights;
use crate::weights::{WeightAccumulator, WeightRule};
use fs_filters::{BilateralOptions, bilateral_filter};
use fs_tiles::{FrameSpill, SpillReader};

/// The depth-map focus stacker (the seed's `DepthMapStack`).
#[derive(Debug, Clone, Default)]
pub struct DepthMapStack {
    /// Its options.
    pub options: DepthMapOptions,
}

/// What a depth-map stack produces.
#[derive(Debug, Clone)]
pub struct DepthMapResult {
    /// The stacked image, in the input's format, with the first frame's metadata.
    pub image: Frame,
    /// The depth-map image (8-bit gray, weighted mean frame index scaled to 0..=255),
    /// when `plot_depth_map` is set.
    pub depth_map: Option<Frame>,
    /// Number of frames stacked.
    pub frames: usize,
}

impl DepthMapResult {
    /// The depth-map image, if `plot_depth_map` asked for it.
    pub fn depth_map_frame(&self) -> Option<&Frame> {
        self.depth_map.as_ref()
    }
}

impl DepthMapStack {
    /// A stacker with checked options.
    pub fn new(options: DepthMapOptions) -> Result<Self> {
        options.validate()?;
        Ok(Self { options })
    }

    /// Stacks the frames of `frames`, reading the source once: pass 1 keeps each
    /// decoded frame's raw samples in an unlinked scratch file in the system's
    /// temporary folder, which pass 2 reads back (see the module docs). Every frame
    /// must have the first one's size and format.
    pub fn stack<I>(&self, frames: I, progress: &dyn Progress) -> Result<DepthMapResult>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        self.stack_spilling(frames, None, progress)
    }

    /// [`DepthMapStack::stack`] with the scratch file in `scratch_dir`.
    pub fn stack_in<I>(
        &self,
        frames: I,
        scratch_dir: &Path,
        progress: &dyn Progress,
    ) -> Result<DepthMapResult>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        self.stack_spilling(frames, Some(scratch_dir), progress)
    }

    /// Stacks the frames that `frames()` yields, reading the source twice and using no
    /// scratch file: each call must yield the same frames in the same order (a
    /// [`PathFrames`] over the same paths, or clones of in-memory frames); a source
    /// that changes between the passes is an error.
    pub fn stack_twice<F, I>(&self, frames: F, progress: &dyn Progress) -> Result<DepthMapResult>
    where
        F: Fn() -> I,
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        self.options.validate()?;
        let pass2 = |_, _| Ok(frames().into_iter());
        match self.options.float_type {
            FloatType::F32 => self.run::<f32, _, _>(frames().into_iter(), None, pass2, progress),
            FloatType::F64 => self.run::<f64, _, _>(frames().into_iter(), None, pass2, progress),
        }
    }

    /// Stacks the image files `paths`, in this order, decoding each once
    /// ([`DepthMapStack::stack`] over a [`PathFrames`]).
    pub fn stack_paths(
        &self,
        paths: &[PathBuf],
        progress: &dyn Progress,
    ) -> Result<DepthMapResult> {
        self.stack(PathFrames::new(paths.to_vec()), progress)
    }

    fn stack_spilling<I>(
        &self,
        frames: I,
        scratch_dir: Option<&Path>,
        progress: &dyn Progress,
    ) -> Result<DepthMapResult>
    where
        I: IntoIterator<Item = fs_core::Result<Frame>>,
        I::IntoIter: Send,
    {
        self.options.validate()?;
        let spill = Mutex::new(FrameSpill::new(scratch_dir)?);
        let pass2 = |info, recycled| -> Result<SpillReader> {
            Ok(spill.lock().expect("scratch file lock").reader(info, recycled)?)
        };
        let frames = frames.into_iter();
        match self.options.float_type {
            FloatType::F32 => self.run::<f32, _, _>(frames, Some(&spill), pass2, progress),
            FloatType::F64 => self.run::<f64, _, _>(frames, Some(&spill), pass2, progress),
        }
    }

    /// The two passes. `spill`, if any, receives every frame of pass 1 (written on a
    /// helper thread while the frame's energies are computed); `pass2` gives the frames
    /// again, and may fill the sample buffers that come back through its receiver.
    fn run<T: Float, P, Q>(
        &self,
        pass1: P,
        spill: Option<&Mutex<FrameSpill>>,
        pass2: impl FnOnce(FrameInfo, mpsc::Receiver<Samples>) -> Result<Q>,
        progress: &dyn Progress,
    ) -> Result<DepthMapResult>
    where
        P: Iterator<Item = fs_core::Result<Frame>> + Send,
        Q: Iterator<Item = fs_core::Result<Frame>> + Send,
    {
        let o = &self.options;
        let rule = WeightRule::from_options(o);

        // Pass 1: energies -> per-pixel sum or maximum. Decoding runs one frame ahead
        // on its own thread.
        progress.phase("depth map: energies", pass1.size_hint().1.unwrap_or(0) as u64);
        let mut first: Option<(FrameInfo, Metadata)> = None;
        let mut work: Option<Work<T>> = None;
        let mut acc: Option<WeightAccumulator<T>> = None;
        let n = with_prefetch(pass1, |frames| -> Result<usize> {
            let mut n = 0;
            for frame in frames {
                let frame = frame?;
                progress.check_cancelled()?;
                let info = match &first {
                    Some((info, _)) => {
                        check_frame(*info, &frame)?;
                        *info
                    }
                    None => first.insert((frame.info(), frame.metadata.clone())).0,
                };
                let w = work.get_or_insert_with(|| Work::new(info, o));
                let acc = acc
                    .get_or_insert_with(|| WeightAccumulator::new(rule, info.width, info.height));
                std::thread::scope(|s| -> Result<()> {
                    let frame = &frame;
                    let write = spill.map(|sp| {
                        s.spawn(move || sp.lock().expect("scratch file lock").write(frame))
                    });
                    w.fold(frame, o, acc)?;
                    if let Some(write) = write {
                        write.join().expect("scratch file writer")?;
                    }
                    Ok(())
                })?;
                n += 1;
                progress.step(n as u64);
            }
            Ok(n)
        })?;
        let (Some((info, metadata)), Some(mut work), Some(acc)) = (first, work, acc) else {
            return Err(DepthMapError::EmptyStack);
        };

        // Pass 2: weights -> pyramid blend (and depth map). The frames come back one
        // ahead on their own thread; their sample buffers go back to the source to be
        // filled again.
        progress.phase("depth map: blend", n as u64);
        let (w, h) = (info.width, info.height);
        let channels = info.format.layout.channels();
        let mut blend = PyramidBlend::<T>::new(w, h, channels, o.pyramid_levels);
        let mut depth = o.plot_depth_map.then(|| DepthAccumulator::<T>::new(w, h));
        // Allocation: a float image once per stack, for frames with alpha only.
        let mut image: Option<Image<T>> = None;
        let (recycle, recycled) = mpsc::channel();
        let seen = with_prefetch(pass2(info, recycled)?, |frames| -> Result<usize> {
            let mut k = 0;
            for frame in frames {
                let frame = frame?;
                progress.check_cancelled()?;
                if k >= n || frame.info() != info {
                    return Err(DepthMapError::SourceChanged {
                        what: format!(
                            "{}: frame {} is {} (pass 1 saw {n} frames of {info})",
                            frame.name().display(),
                            k + 1,
                            frame.info()
                        ),
                    });
                }
                work.weights(&frame, o, &acc)?;
                if let Some(d) = depth.as_mut() {
                    d.add(k, &work.weights);
                }
                let weights = if o.pyramid_smooth_size > 1 {
                    smooth_weights(
                        fs_core::Plane::new(&work.weights, w, h)?,
                        PlaneMut::new(&mut work.tmp, w, h)?,
                        o.pyramid_smooth_size,
                    )?;
                    &work.tmp
                } else {
                    &work.weights
                };
                if info.format.layout.has_alpha() {
                    // Alpha: the colour is premultiplied, through a float image.
                    let image = image.get_or_insert_with(|| {
                        Image::new(w, h, channels).expect("frame dimensions are valid")
                    });
                    frame_into_image(&frame, image);
                    blend.add(image, weights);
                } else {
                    blend.add_samples(frame.samples(), weights);
                }
                // The source may be gone already (decoding twice ignores the buffers).
                let _ = recycle.send(frame.into_samples());
                k += 1;
                progress.step(k as u64);
            }
            Ok(k)
        })?;
        if seen != n {
            return Err(DepthMapError::SourceChanged {
                what: format!("pass 1 saw {n} frames, pass 2 {seen}"),
            });
        }
        drop((work, image));
        let planes = finish_planes(blend.collapse(), info);
        let image = Image::from_planes(w, h, planes)?;
        let out = Frame::from_image(&image, info.format)?.with_metadata(metadata);
        let depth_map = depth.map(|d| d.to_frame()).transpose()?;
        Ok(DepthMapResult { image: out, depth_map, frames: n })
    }
}

/// Per-frame work buffers, reused for every frame.
struct Work<T> {
    info: FrameInfo,
    /// The row-wise energy, when the measure has one: then `luma` and `energy` stay
    /// empty.
    fused: Option<RowEnergy<T>>,
    luma_coeffs: LumaCoeffs<T>,
    luma: Vec<T>,
    energy: Vec<T>,
    weights: Vec<T>,
    tmp: Vec<T>,
}

impl<T: Float> Work<T> {
    fn new(info: FrameInfo, o: &DepthMapOptions) -> Self {
        let n = info.width * info.height;
        let fused = RowEnergy::new(o, info.width, info.height);
        let plane = |needed: bool| if needed { vec![T::zero(); n] } else { Vec::new() };
        // Allocation: up to four planes once per stack.
        Self {
            info,
            fused,
            luma_coeffs: LumaCoeffs::new(info.format),
            luma: plane(fused.is_none()),
            energy: plane(fused.is_none()),
            weights: plane(true),
            tmp: plane(o.energy_smooth_size > 1 || o.pyramid_smooth_size > 1),
        }
    }

    /// Pass 1: folds the frame's energy map into `acc`.
    fn fold(
        &mut self,
        frame: &Frame,
        o: &DepthMapOptions,
        acc: &mut WeightAccumulator<T>,
    ) -> Result<()> {
        match self.fused {
            Some(re) => {
                let (lc, samples, w) = (&self.luma_coeffs, frame.samples(), self.info.width);
                acc.add_rows(
                    || re.scratch(),
                    |y, sc, row| re.row(y, |r, dst| lc.row(samples, w, r, dst), sc, row),
                );
            }
            None => {
                self.energy(frame, o)?;
                acc.add(&self.energy);
            }
        }
        Ok(())
    }

    /// Pass 2: the frame's weight map into `self.weights`.
    fn weights(
        &mut self,
        frame: &Frame,
        o: &DepthMapOptions,
        acc: &WeightAccumulator<T>,
    ) -> Result<()> {
        match self.fused {
            Some(re) => {
                let (lc, samples, w) = (&self.luma_coeffs, frame.samples(), self.info.width);
                acc.weights_rows(
                    || re.scratch(),
                    |y, sc, row| re.row(y, |r, dst| lc.row(samples, w, r, dst), sc, row),
                    &mut self.weights,
                );
            }
            None => {
                self.energy(frame, o)?;
                acc.weights(&self.energy, &mut self.weights);
            }
        }
        Ok(())
    }

    /// Luma (premultiplied by alpha, in 0..=1), energy, bilateral smoothing into `energy`.
    fn energy(&mut self, frame: &Frame, o: &DepthMapOptions) -> Result<()> {
        let (w, h) = (self.info.width, self.info.height);
        let lc = &self.luma_coeffs;
        let samples = frame.samples();
        self.luma.par_chunks_mut(w).enumerate().for_each(|(r, dst)| lc.row(samples, w, r, dst));
        let luma = fs_core::Plane::new(&self.luma, w, h)?;
        if o.energy_smooth_size > 1 {
            energy_map(luma, PlaneMut::new(&mut self.tmp, w, h)?, o)?;
            let bilateral = BilateralOptions {
                diameter: o.energy_smooth_size as i32,
                sigma_color: o.energy_sigma_color,
                sigma_space: o.energy_sigma_space,
            };
            bilateral_filter(
                fs_core::Plane::new(&self.tmp, w, h)?,
                PlaneMut::new(&mut self.energy, w, h)?,
                &bilateral,
            )?;
        } else {
            energy_map(luma, PlaneMut::new(&mut self.energy, w, h)?, o)?;
        }
        Ok(())
    }
}

/// Luma in 0..=1 straight from the interleaved samples: `0.299 R + 0.587 G + 0.114 B`
/// (the gray channel for gray frames), times `alpha / max` when there is alpha.
#[derive(Debug, Clone, Copy)]
struct LumaCoeffs<T> {
    rgb: [T; 3],
    inv: T,
    channels: usize,
    alpha: bool,
}

impl<T: Float> LumaCoeffs<T> {
    fn new(format: fs_core::PixelFormat) -> Self {
        let max = format.depth.max_value();
        Self {
            rgb: LUMA_WEIGHTS.map(|v| T::from_f64(v / max)),
            inv: T::from_f64(1.0 / max),
            channels: format.layout.channels(),
            alpha: format.layout.has_alpha(),
        }
    }

    /// Luma of row `r` of a `width`-wide frame's samples into `out`.
    #[inline]
    fn row(&self, samples: &Samples, width: usize, r: usize, out: &mut [T]) {
        let n = width * self.channels;
        match samples {
            Samples::U8(s) => self.px_row(&s[r * n..(r + 1) * n], out),
            Samples::U16(s) => self.px_row(&s[r * n..(r + 1) * n], out),
        }
    }

    #[inline]
    fn px_row<S: fs_core::IntSample>(&self, src: &[S], out: &mut [T]) {
        let (c, inv, [wr, wg, wb]) = (self.channels, self.inv, self.rgb);
        let alpha = self.alpha;
        // The common layouts get their own loops (the same arithmetic).
        if c == 3 && !alpha {
            for (o, px) in out.iter_mut().zip(src.chunks_exact(3)) {
                *o = wr * T::from_f32(px[0].to_f32())
                    + wg * T::from_f32(px[1].to_f32())
                    + wb * T::from_f32(px[2].to_f32());
            }
            return;
        }
        if c == 1 {
            for (o, &v) in out.iter_mut().zip(src) {
                *o = inv * T::from_f32(v.to_f32());
            }
            return;
        }
        for (o, px) in out.iter_mut().zip(src.chunks_exact(c)) {
            let y = if c >= 3 {
                wr * T::from_f32(px[0].to_f32())
                    + wg * T::from_f32(px[1].to_f32())
                    + wb * T::from_f32(px[2].to_f32())
            } else {
                inv * T::from_f32(px[0].to_f32())
            };
            *o = if alpha { y * inv * T::from_f32(px[c - 1].to_f32()) } else { y };
        }
    }
}

/// Writes the frame into `image` (same shape) as floats, colour premultiplied by
/// `alpha / max` when it has alpha.
fn frame_into_image<T: Float>(frame: &Frame, image: &mut Image<T>) {
    match frame.samples() {
        Samples::U8(s) => deinterleave(s, frame, image),
        Samples::U16(s) => deinterleave(s, frame, image),
    }
}

fn deinterleave<S: fs_core::IntSample, T: Float>(s: &[S], frame: &Frame, image: &mut Image<T>) {
    let layout = frame.format().layout;
    let (w, c) = (frame.width(), layout.channels());
    let alpha = layout.has_alpha();
    let inv = T::from_f64(1.0 / frame.format().depth.max_value());
    // Allocation: one row-pointer table per frame.
    let mut rows: Vec<Vec<&mut [T]>> = (0..frame.height()).map(|_| Vec::with_capacity(c)).collect();
    for plane in image.planes_mut() {
        for (y, r) in plane.chunks_mut(w).enumerate() {
            rows[y].push(r);
        }
    }
    rows.par_iter_mut().zip(s.par_chunks(w * c)).for_each(|(dst, src)| {
        for (x, px) in src.chunks_exact(c).enumerate() {
            let a = if alpha { inv * T::from_f32(px[c - 1].to_f32()) } else { T::one() };
            for ch in 0..c {
                let v = T::from_f32(px[ch].to_f32());
                dst[ch][x] = if alpha && ch + 1 < c { v * a } else { v };
            }
        }
    });
}

/// Clips the collapsed planes and undoes the alpha premultiplication.
fn finish_planes<T: Float>(mut planes: Vec<Vec<T>>, info: FrameInfo) -> Vec<Vec<T>> {
    let max = T::from_f64(info.format.depth.max_value());
    let clip = |v: T, hi: T| {
        if v > hi {
            hi
        } else if v > T::zero() {
            v
        } else {
            T::zero()
        }
    };
    if info.format.layout.has_alpha() {
        let alpha = planes.pop().expect("alpha plane");
        let alpha: Vec<T> = alpha.into_par_iter().map(|a| clip(a, max)).collect();
        for p in planes.iter_mut() {
            p.par_iter_mut().zip(alpha.par_iter()).for_each(|(v, &a)| {
                *v = if a > T::zero() { clip(*v, a) * max / a } else { T::zero() };
            });
        }
        planes.push(alpha);
    } else {
        for p in planes.iter_mut() {
            p.par_iter_mut().for_each(|v| *v = clip(*v, max));
        }
    }
    planes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Energy;
    use fs_core::{BitDepth, ChannelLayout, PixelFormat};
    use rand::{Rng, SeedableRng};

    fn frame(info: FrameInfo, seed: u64) -> Frame {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n = info.width * info.height * info.format.layout.channels();
        let samples = match info.format.depth {
            BitDepth::Eight => Samples::U8((0..n).map(|_| rng.random()).collect()),
            BitDepth::Sixteen => Samples::U16((0..n).map(|_| rng.random()).collect()),
        };
        Frame::new(info, samples).unwrap()
    }

    #[test]
    fn row_wise_energy_gives_the_weights_of_the_plane_path() {
        for (layout, depth, energy) in [
            (ChannelLayout::Rgb, BitDepth::Eight, Energy::Tenengrad),
            (ChannelLayout::Gray, BitDepth::Sixteen, Energy::Tenengrad),
            (ChannelLayout::Rgba, BitDepth::Eight, Energy::Sobel),
        ] {
            let info = FrameInfo { width: 23, height: 17, format: PixelFormat { layout, depth } };
            let o = DepthMapOptions { energy, ..Default::default() };
            let n = info.width * info.height;
            let mut fused = Work::<f32>::new(info, &o);
            assert!(fused.fused.is_some());
            let mut plain = Work::<f32>::new(info, &o);
            (plain.fused, plain.luma, plain.energy) = (None, vec![0.0; n], vec![0.0; n]);
            let rule = WeightRule::from_options(&o);
            let mut acc_fused = WeightAccumulator::new(rule, info.width, info.height);
            let mut acc_plain = acc_fused.clone();
            let frames = [frame(info, 1), frame(info, 2)];
            for f in &frames {
                fused.fold(f, &o, &mut acc_fused).unwrap();
                plain.fold(f, &o, &mut acc_plain).unwrap();
            }
            for f in &frames {
                fused.weights(f, &o, &acc_fused).unwrap();
                plain.weights(f, &o, &acc_plain).unwrap();
                assert_eq!(fused.weights, plain.weights, "{info} {energy:?}");
                assert!(fused.weights.iter().any(|&v| v > 0.0 && v < 1.0));
            }
        }
    }
}
