//! Measurement references for the benchmarks: two plain per-pixel pickers whose results
//! tell what a real stacker should reach on a synthetic stack. They are not products
//! (no alignment, no blending: they leave seams and keep every frame's noise) and fstack
//! does not offer them as stackers.
//!
//! - [`per_pixel_pick`]: per pixel, the frame whose focus energy is largest, the energy
//!   being the squared 3x3 Laplacian of luma (`4c - n - s - e - w`, reflect-101
//!   borders) smoothed by a Gaussian of [`PICK_SIGMA`] (2) pixels. What a simple
//!   depth-map stacker does before any cleverness.
//! - [`depth_oracle_pick`]: per pixel, the frame focused nearest to the true depth
//!   (which only the generator knows): the best a stacker that picks whole pixels can
//!   do, short of blending. Near depth steps even the oracle is wrong, since the frame
//!   focused on the background there shows the defocused foreground spilling over it.
//!
//! Both output the chosen frame's own samples (every channel, alpha included), ties to
//! the lower frame index, and take frames one at a time ([`PerPixelPick`],
//! [`DepthOraclePick`]) or from a slice or iterator, so a 24-megapixel stack never has to
//! be held in memory: the per-pixel pick keeps the best energy and the best pixel so far.
//!
//! ```
//! use fs_core::reference::{depth_oracle_pick, per_pixel_pick};
//! use fs_core::synth::{SynthOptions, SynthStack};
//!
//! let stack =
//!     SynthStack::new(SynthOptions { width: 64, height: 48, frames: 4, ..Default::default() })
//!         .unwrap();
//! let picked = per_pixel_pick(stack.frames()).unwrap();
//! let oracle = depth_oracle_pick(stack.frames(), &stack.depths(), 4).unwrap();
//! assert_eq!(picked.info(), stack.info());
//! assert_eq!(oracle.info(), stack.info());
//! ```

use std::borrow::Borrow;

use rayon::prelude::*;

use crate::{
    CoreError, Frame, FrameInfo, Image, Plane, PlaneMut, Result, Samples, check_frame,
    convolve_separable, gaussian_kernel_for_sigma, luma_into, reflect101,
};

/// The standard deviation, in pixels, of the Gaussian that smooths the per-pixel pick's
/// squared Laplacian.
pub const PICK_SIGMA: f64 = 2.0;

/// The per-pixel pick's focus energy of a luma plane into `energy`: the 3x3 Laplacian
/// `4c - n - s - e - w` (reflect-101 borders), squared, smoothed by a Gaussian of
/// [`PICK_SIGMA`] pixels (fs-core's [`gaussian_kernel_for_sigma`], reflect-101 borders).
/// `laplacian` is scratch of the same size.
pub fn pick_energy(luma: Plane<'_, f32>, laplacian: &mut [f32], energy: PlaneMut<'_, f32>) {
    let (w, h) = (luma.width(), luma.height());
    assert_eq!(laplacian.len(), w * h, "scratch sized like the plane");
    laplacian.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        let (n, c, s) = (
            luma.row(reflect101(y as isize - 1, h)),
            luma.row(y),
            luma.row(reflect101(y as isize + 1, h)),
        );
        let at = |x: usize| {
            let (e, wst) = (c[reflect101(x as isize + 1, w)], c[reflect101(x as isize - 1, w)]);
            let l = 4.0 * c[x] - n[x] - s[x] - e - wst;
            l * l
        };
        out[0] = at(0);
        if w > 1 {
            out[w - 1] = at(w - 1);
        }
        // Interior: every neighbour in range, no branches.
        for x in 1..w.saturating_sub(1) {
            let l = 4.0 * c[x] - n[x] - s[x] - c[x + 1] - c[x - 1];
            out[x] = l * l;
        }
    });
    let k = gaussian_kernel_for_sigma::<f32>(PICK_SIGMA).expect("a positive sigma");
    let src = Plane::new(laplacian, w, h).expect("sized like the plane");
    convolve_separable(src, energy, &k, &k).expect("odd kernel, equal sizes");
}

/// The per-pixel pick, fed one frame at a time (see the module docs).
#[derive(Debug, Default)]
pub struct PerPixelPick {
    /// Shape of the first frame, and the frames seen.
    info: Option<FrameInfo>,
    frames: usize,
    /// Best energy per pixel so far, and that frame's samples.
    best: Vec<f32>,
    picked: Option<Samples>,
    /// Scratch: the frame as floats, its luma, Laplacian and energy.
    image: Option<Image<f32>>,
    luma: Vec<f32>,
    laplacian: Vec<f32>,
    energy: Vec<f32>,
}

impl PerPixelPick {
    /// An empty pick.
    pub fn new() -> Self {
        Self::default()
    }

    /// Frames added so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Adds the next frame: where its energy is larger than every earlier frame's, its
    /// pixel is taken.
    pub fn add(&mut self, frame: &Frame) -> Result<()> {
        let info = *self.info.get_or_insert(frame.info());
        check_frame(info, frame)?;
        let (w, h, c) = (info.width, info.height, info.format.layout.channels());
        let image = self.image.get_or_insert_with(|| {
            // Allocation: once per pick (the scratch planes below too).
            Image::new(w, h, c).expect("a frame's shape")
        });
        frame.to_image_into(image)?;
        for v in [&mut self.luma, &mut self.laplacian, &mut self.energy] {
            v.resize(w * h, 0.0);
        }
        luma_into(image, PlaneMut::new(&mut self.luma, w, h)?)?;
        pick_energy(
            Plane::new(&self.luma, w, h)?,
            &mut self.laplacian,
            PlaneMut::new(&mut self.energy, w, h)?,
        );
        let (best, energy) = (&mut self.best, &self.energy);
        match (&mut self.picked, frame.samples()) {
            (None, _) => {
                // The first frame: its energy and samples are the best so far.
                best.clone_from(energy);
                self.picked = Some(frame.samples().clone());
            }
            (Some(Samples::U8(dst)), Samples::U8(src)) => take_larger(best, energy, dst, src, c),
            (Some(Samples::U16(dst)), Samples::U16(src)) => take_larger(best, energy, dst, src, c),
            _ => unreachable!("check_frame compared the bit depths"),
        }
        self.frames += 1;
        Ok(())
    }

    /// The picked image, with the first frame's shape (no metadata).
    pub fn finish(self) -> Result<Frame> {
        match (self.info, self.picked) {
            (Some(info), Some(samples)) => Frame::new(info, samples),
            _ => Err(CoreError::Dimensions("a per-pixel pick needs at least one frame".into())),
        }
    }
}

/// Where `energy` beats `best` (strictly: ties stay with the earlier frame), takes the
/// energy and the pixel's `c` samples.
fn take_larger<S: Copy + Send + Sync>(
    best: &mut [f32],
    energy: &[f32],
    dst: &mut [S],
    src: &[S],
    c: usize,
) {
    best.par_chunks_mut(4096)
        .zip(energy.par_chunks(4096))
        .zip(dst.par_chunks_mut(4096 * c).zip(src.par_chunks(4096 * c)))
        .for_each(|((best, energy), (dst, src))| {
            for (i, (b, &e)) in best.iter_mut().zip(energy).enumerate() {
                if e > *b {
                    *b = e;
                    dst[i * c..(i + 1) * c].copy_from_slice(&src[i * c..(i + 1) * c]);
                }
            }
        });
}

/// The per-pixel pick of a stack (see the module docs): frames from a slice
/// (`&frames`) or an iterator (`stack.frames()`).
pub fn per_pixel_pick<I>(frames: I) -> Result<Frame>
where
    I: IntoIterator,
    I::Item: Borrow<Frame>,
{
    let mut pick = PerPixelPick::new();
    for f in frames {
        pick.add(f.borrow())?;
    }
    pick.finish()
}

/// The frame of `n` whose focus depth `k / (n - 1)` is nearest to `depth` (`0..=1`, 0 the
/// nearest); ties to the lower index (within 1e-6 of a focus step, so a depth stored as
/// `f32` exactly between two focus depths goes to the nearer frame either way).
pub fn nearest_focus_frame(depth: f32, n: usize) -> usize {
    assert!(n > 0, "a stack has frames");
    if n == 1 {
        return 0;
    }
    let t = depth as f64 * (n - 1) as f64;
    ((t - 0.5 - 1e-6).ceil().max(0.0) as usize).min(n - 1)
}

/// The depth-oracle pick, fed one frame at a time in order (see the module docs).
#[derive(Debug)]
pub struct DepthOraclePick {
    /// The frame each pixel takes.
    choice: Vec<u32>,
    frames: usize,
    next: usize,
    info: Option<FrameInfo>,
    picked: Option<Samples>,
}

impl DepthOraclePick {
    /// A pick for a stack of `n` frames focused at `k / (n - 1)`, by the true depth of
    /// each pixel (`depth_truth`, `0..=1`, 0 the nearest, row by row; e.g.
    /// [`crate::synth::SynthStack::depths`], or a generated `depth.png` divided by 255).
    pub fn new(depth_truth: &[f32], n: usize) -> Result<Self> {
        if n == 0 {
            return Err(CoreError::Dimensions("a depth-oracle pick needs frames".into()));
        }
        let choice = depth_truth.par_iter().map(|&d| nearest_focus_frame(d, n) as u32).collect();
        Ok(Self { choice, frames: n, next: 0, info: None, picked: None })
    }

    /// Adds the next frame (frame `k` after `k` others): it gives the pixels whose true
    /// depth is nearest its focus.
    pub fn add(&mut self, frame: &Frame) -> Result<()> {
        let info = *self.info.get_or_insert(frame.info());
        check_frame(info, frame)?;
        if self.next >= self.frames {
            return Err(CoreError::Dimensions(format!(
                "a depth-oracle pick for {} frames got another",
                self.frames
            )));
        }
        let (w, h, c) = (info.width, info.height, info.format.layout.channels());
        if self.choice.len() != w * h {
            return Err(CoreError::Dimensions(format!(
                "{} depth values for {w}x{h} frames",
                self.choice.len()
            )));
        }
        let k = self.next as u32;
        let choice = &self.choice;
        // The first frame's samples are the starting point (every pixel is written by
        // exactly one frame by the end).
        match (&mut self.picked, frame.samples()) {
            (None, s) => self.picked = Some(s.clone()),
            (Some(Samples::U8(dst)), Samples::U8(src)) => take_chosen(choice, k, dst, src, c),
            (Some(Samples::U16(dst)), Samples::U16(src)) => take_chosen(choice, k, dst, src, c),
            _ => unreachable!("check_frame compared the bit depths"),
        }
        self.next += 1;
        Ok(())
    }

    /// The picked image. Fails unless all `n` frames were added.
    pub fn finish(self) -> Result<Frame> {
        match (self.info, self.picked) {
            (Some(info), Some(samples)) if self.next == self.frames => Frame::new(info, samples),
            _ => Err(CoreError::Dimensions(format!(
                "a depth-oracle pick for {} frames got {}",
                self.frames, self.next
            ))),
        }
    }
}

fn take_chosen<S: Copy + Send + Sync>(choice: &[u32], k: u32, dst: &mut [S], src: &[S], c: usize) {
    dst.par_chunks_mut(4096 * c)
        .zip(src.par_chunks(4096 * c))
        .zip(choice.par_chunks(4096))
        .for_each(|((dst, src), choice)| {
            for (i, _) in choice.iter().enumerate().filter(|(_, ch)| **ch == k) {
                dst[i * c..(i + 1) * c].copy_from_slice(&src[i * c..(i + 1) * c]);
            }
        });
}

/// The depth-oracle pick of a stack of `n` frames (see the module docs), by the true
/// depth of each pixel (`depth_truth`, see [`DepthOraclePick::new`]); frames from a
/// slice or an iterator, in order.
pub fn depth_oracle_pick<I>(frames: I, depth_truth: &[f32], n: usize) -> Result<Frame>
where
    I: IntoIterator,
    I::Item: Borrow<Frame>,
{
    let mut pick = DepthOraclePick::new(depth_truth, n)?;
    for f in frames {
        pick.add(f.borrow())?;
    }
    pick.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{Scene, SynthOptions, SynthStack};
    use crate::{BitDepth, ChannelLayout, PixelFormat};

    fn gray(w: usize, h: usize, v: Vec<u8>) -> Frame {
        let format = PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight };
        Frame::new(FrameInfo { width: w, height: h, format }, Samples::U8(v)).unwrap()
    }

    #[test]
    fn laplacian_energy_of_a_single_bright_pixel() {
        // 5x5 plane, 1 at the centre: Laplacian 4 there, -1 at its 4 neighbours.
        let mut luma = vec![0.0f32; 25];
        luma[12] = 1.0;
        let (mut lap, mut energy) = (vec![0.0; 25], vec![0.0; 25]);
        pick_energy(
            Plane::new(&luma, 5, 5).unwrap(),
            &mut lap,
            PlaneMut::new(&mut energy, 5, 5).unwrap(),
        );
        let mut want = vec![0.0f32; 25];
        want[12] = 16.0;
        for i in [7, 11, 13, 17] {
            want[i] = 1.0;
        }
        assert_eq!(lap, want);
        // Smoothing spreads it; the centre stays the largest, the border mirrored in.
        let max = energy.iter().copied().fold(0.0f32, f32::max);
        assert_eq!(energy[12], max);
        // Reflect-101 at the border: the mirrored neighbours of a bright corner pixel
        // are its dark neighbours, so 4 there and -1 beside it.
        let mut corner = vec![0.0f32; 25];
        corner[0] = 1.0;
        pick_energy(
            Plane::new(&corner, 5, 5).unwrap(),
            &mut lap,
            PlaneMut::new(&mut energy, 5, 5).unwrap(),
        );
        assert_eq!(lap[0], 16.0);
        assert_eq!((lap[1], lap[5], lap[6]), (1.0, 1.0, 0.0));
    }

    #[test]
    fn the_frame_sharp_everywhere_wins_everywhere_and_ties_go_to_the_first() {
        let (w, h) = (16, 12);
        let sharp: Vec<u8> =
            (0..w * h).map(|i| if (i % w + i / w) % 2 == 0 { 200 } else { 40 }).collect();
        let soft: Vec<u8> = (0..w * h).map(|i| 100 + (i % w) as u8).collect();
        let flat = vec![120u8; w * h];
        let frames = [gray(w, h, soft.clone()), gray(w, h, sharp.clone()), gray(w, h, flat)];
        let picked = per_pixel_pick(&frames).unwrap();
        assert_eq!(picked.samples(), &Samples::U8(sharp.clone()));
        // The same frame twice: the first copy's samples (ties to the lower index).
        let twins = [gray(w, h, soft.clone()), gray(w, h, soft.clone())];
        assert_eq!(per_pixel_pick(&twins).unwrap().samples(), &Samples::U8(soft));
        // Shapes are checked; an empty stack is an error.
        let odd = [gray(w, h, sharp), gray(4, 4, vec![0; 16])];
        assert!(matches!(per_pixel_pick(&odd), Err(CoreError::FrameMismatch { .. })));
        assert!(per_pixel_pick(Vec::<Frame>::new()).is_err());
    }

    #[test]
    fn nearest_focus_frame_rounds_ties_down() {
        assert_eq!(nearest_focus_frame(0.0, 5), 0);
        assert_eq!(nearest_focus_frame(1.0, 5), 4);
        assert_eq!(nearest_focus_frame(0.3, 5), 1); // 1.2
        assert_eq!(nearest_focus_frame(0.125, 5), 0); // 0.5: a tie
        assert_eq!(nearest_focus_frame(0.13, 5), 1);
        assert_eq!(nearest_focus_frame((5.0f64 / 18.0) as f32, 10), 2); // 2.5 in f32
        assert_eq!(nearest_focus_frame(-0.2, 5), 0);
        assert_eq!(nearest_focus_frame(1.5, 5), 4);
        assert_eq!(nearest_focus_frame(0.7, 1), 0);
    }

    #[test]
    fn oracle_takes_the_in_focus_frame_on_the_snapped_objects() {
        let opts = SynthOptions {
            width: 96,
            height: 72,
            frames: 5,
            layout: ChannelLayout::Rgba,
            scene: Scene::Objects,
            ..SynthOptions::default()
        };
        let stack = SynthStack::new(opts).unwrap();
        let frames: Vec<Frame> = stack.frames().collect();
        let depths = stack.depths();
        let oracle = depth_oracle_pick(&frames, &depths, 5).unwrap();
        let Samples::U8(got) = oracle.samples() else { panic!("8-bit") };
        let mut on_focus = 0;
        for (i, &d) in depths.iter().enumerate() {
            let k = nearest_focus_frame(d, 5);
            let Samples::U8(want) = frames[k].samples() else { panic!("8-bit") };
            assert_eq!(got[4 * i..4 * i + 4], want[4 * i..4 * i + 4], "pixel {i}");
            // On the flat objects (snapped to focus depths) that frame is in focus.
            if (d as f64 - stack.focus_depth(k)).abs() < 1e-6 {
                on_focus += 1;
            }
        }
        assert!(on_focus > depths.len() / 2, "{on_focus} pixels at a focus depth");
        // Streaming and slices agree; the frame count is checked.
        assert_eq!(depth_oracle_pick(stack.frames(), &depths, 5).unwrap(), oracle);
        assert!(depth_oracle_pick(&frames[..4], &depths, 5).is_err());
        assert!(depth_oracle_pick(&frames, &depths, 4).is_err());
        assert!(depth_oracle_pick(&frames, &depths[1..], 5).is_err());
    }

    #[test]
    fn both_picks_beat_every_frame_on_a_synthetic_stack() {
        let stack = SynthStack::new(SynthOptions {
            width: 128,
            height: 96,
            frames: 5,
            noise_sigma: 0.0,
            ..SynthOptions::default()
        })
        .unwrap();
        let truth: Image<f32> = stack.truth().to_image();
        let psnr = |f: &Frame| crate::metrics::psnr(&f.to_image::<f32>(), &truth, 255.0);
        let picked = psnr(&per_pixel_pick(stack.frames()).unwrap());
        let oracle = psnr(&depth_oracle_pick(stack.frames(), &stack.depths(), 5).unwrap());
        // Not one better than the other: near depth steps the oracle takes the frame
        // focused behind, which the defocused foreground spills over.
        for (k, f) in stack.frames().enumerate() {
            let p = psnr(&f);
            assert!(picked.min(oracle) > p + 3.0, "frame {k}: {p}, pick {picked}, oracle {oracle}");
        }
    }
}
