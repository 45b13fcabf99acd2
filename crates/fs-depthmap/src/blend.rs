//! The pyramid blend: Gaussian pyramids of the weight maps, Laplacian pyramids of the
//! frames, weighted sums per level normalised by the summed weights, and the collapse.
//!
//! The pyramids are fs-pyramid's ([`fs_pyramid::reduce_into`],
//! [`fs_pyramid::expand_row`], [`fs_pyramid::level_sizes`]) with the 5-tap binomial
//! kernel `[1, 4, 6, 4, 1] / 16` (the generating kernel with `a = 0.375`, as
//! OpenCV's `pyrDown`/`pyrUp`) and reflect-101 borders: reduce = convolve, keep even
//! rows and columns (a level of `w` is `(w + 1) / 2` wide); expand = insert zeros
//! (twice the size), convolve, multiply by 4, crop to the finer size.
//!
//! [`PyramidBlend`] folds frames one at a time into running sums (one numerator
//! pyramid per channel and one denominator pyramid), so its memory does not grow with
//! the number of frames: at 24 MP RGB f32 the sums take about 510 MB and the
//! per-frame work buffers (levels 1.. of the weights and of every channel) about
//! 130 MB. Expanded levels are never stored: each row is expanded
//! ([`fs_pyramid::expand_row`]) and accumulated in one go, and the denominators are
//! accumulated in the same row loops. [`PyramidBlend::add_samples`] reads a frame's
//! interleaved integer samples directly (level 0, and the first reduce through
//! [`fs_pyramid::reduce_samples`]), so no float copy of the frame is needed.

use fs_core::{Float, Image, IntSample, Plane, PlaneMut, Samples};
use fs_pyramid::{expand_row, level_sizes, reduce_into, reduce_samples};
use rayon::prelude::*;

/// The generating kernel's `a` of the blend's pyramids: the 5-tap binomial kernel
/// `[1, 4, 6, 4, 1] / 16`.
const BINOMIAL_A: f64 = 0.375;

/// The rows of `planes` (each `w` wide), ordered row by row and, within a row,
/// plane by plane: `table[y * planes.len() + p]`.
pub(crate) fn row_table<T>(planes: &mut [Vec<T>], w: usize) -> Vec<&mut [T]> {
    let c = planes.len();
    let h = planes.first().map_or(0, |p| p.len() / w);
    let mut iters: Vec<_> = planes.iter_mut().map(|p| p.chunks_mut(w)).collect();
    // Allocation: one pointer per row and plane, per call.
    let mut table = Vec::with_capacity(h * c);
    for _ in 0..h {
        for it in iters.iter_mut() {
            table.push(it.next().expect("plane of h rows"));
        }
    }
    table
}

/// Running weighted sums of Laplacian pyramids: fold in `(frame, weight map)` pairs,
/// then [`PyramidBlend::collapse`].
#[derive(Debug)]
pub struct PyramidBlend<T> {
    sizes: Vec<(usize, usize)>,
    /// The binomial kernel.
    kernel: [T; 5],
    /// `num[level][channel]`: sum over frames of `G(w) * L`.
    num: Vec<Vec<Vec<T>>>,
    /// `den[level]`: sum over frames of `G(w)`.
    den: Vec<Vec<T>>,
    /// Work buffers, reused for every frame: Gaussian levels 1.. of the weight map and
    /// of every channel (`image_levels[level - 1][channel]`).
    weight_levels: Vec<Vec<T>>,
    image_levels: Vec<Vec<Vec<T>>>,
}

fn plane<T>(data: &[T], (w, h): (usize, usize)) -> Plane<'_, T> {
    Plane::new(data, w, h).expect("level sized")
}

fn plane_mut<T>(data: &mut [T], (w, h): (usize, usize)) -> PlaneMut<'_, T> {
    PlaneMut::new(data, w, h).expect("level sized")
}

impl<T: Float> PyramidBlend<T> {
    /// Empty sums for `channels` channels of `width` x `height` with `levels` levels.
    pub fn new(width: usize, height: usize, channels: usize, levels: usize) -> Self {
        let sizes = level_sizes(width, height, levels.max(1) - 1);
        // Allocation: the sums and work buffers, once per stack.
        let zeros = |&(w, h): &(usize, usize)| vec![T::zero(); w * h];
        Self {
            num: sizes.iter().map(|s| (0..channels).map(|_| zeros(s)).collect()).collect(),
            den: sizes.iter().map(zeros).collect(),
            weight_levels: sizes[1..].iter().map(zeros).collect(),
            image_levels: sizes[1..]
                .iter()
                .map(|s| (0..channels).map(|_| zeros(s)).collect())
                .collect(),
            sizes,
            kernel: fs_core::generating_kernel(BINOMIAL_A),
        }
    }

    /// Folds in one frame (a planar float image) with its weight map (full size).
    pub fn add(&mut self, image: &Image<T>, weights: &[T]) {
        let channels = self.num[0].len();
        assert_eq!(image.channels(), channels, "channel count");
        assert_eq!((image.width(), image.height()), self.sizes[0], "image size");
        self.add_weights(weights);
        for c in 0..channels {
            let reduce_first = |levels: &mut [Vec<T>], k: &[T; 5], level: (usize, usize)| {
                let dst = plane_mut(&mut levels[0], level);
                reduce_into(image.plane(c), dst, k).expect("levels sized");
            };
            self.add_channels(image.plane(c).as_slice(), c..c + 1, |v| v, reduce_first, weights);
        }
    }

    /// Folds in one frame given as interleaved integer samples (as a [`fs_core::Frame`]
    /// holds them, in the native range) with its weight map (full size). The same sums
    /// as [`PyramidBlend::add`] of the frame's float image, bit for bit, without the
    /// float image: the samples are converted row by row as the pyramids read them.
    /// Every channel is blended as it is (an alpha channel does not premultiply the
    /// others: premultiply in a float image and use [`PyramidBlend::add`] for that).
    pub fn add_samples(&mut self, samples: &Samples, weights: &[T]) {
        let channels = self.num[0].len();
        self.add_weights(weights);
        let (w, h) = self.sizes[0];
        let reduce_first = |levels: &mut [Vec<T>], k: &[T; 5], _: (usize, usize)| {
            reduce_samples(samples, w, h, levels, k).expect("levels sized");
        };
        match samples {
            Samples::U8(s) => self.add_channels(
                s,
                0..channels,
                |v| T::from_f32(v.to_f32()),
                reduce_first,
                weights,
            ),
            Samples::U16(s) => self.add_channels(
                s,
                0..channels,
                |v| T::from_f32(v.to_f32()),
                reduce_first,
                weights,
            ),
        }
    }

    /// The Gaussian levels 1.. of the weight map.
    fn add_weights(&mut self, weights: &[T]) {
        let sizes = &self.sizes;
        assert_eq!(weights.len(), sizes[0].0 * sizes[0].1, "weight map size");
        for l in 1..sizes.len() {
            let (done, rest) = self.weight_levels.split_at_mut(l - 1);
            let src = if l == 1 { weights } else { &done[l - 2] };
            reduce_into(plane(src, sizes[l - 1]), plane_mut(&mut rest[0], sizes[l]), &self.kernel)
                .expect("levels sized");
        }
    }

    /// Folds the channels `chans` of a frame into the sums, from an interleaved source
    /// holding exactly those channels (`reduce_first` makes their Gaussian level 1 from
    /// it, given those channels' planes of level 1, the kernel and level 1's size);
    /// the weight levels must be made already. The denominators are accumulated along
    /// with the first channel of the frame.
    fn add_channels<S: Copy + Sync>(
        &mut self,
        src: &[S],
        chans: std::ops::Range<usize>,
        conv: impl Fn(S) -> T + Sync + Copy,
        reduce_first: impl FnOnce(&mut [Vec<T>], &[T; 5], (usize, usize)),
        weights: &[T],
    ) {
        let sizes = &self.sizes;
        let top = sizes.len() - 1;
        let c = chans.len();
        let with_den = chans.start == 0;
        let (w0, h0) = sizes[0];
        assert_eq!(src.len(), w0 * h0 * c, "frame size");
        // Gaussian levels 1.. of the channels.
        let k = &self.kernel;
        if top >= 1 {
            reduce_first(&mut self.image_levels[0][chans.clone()], k, sizes[1]);
        }
        for l in 2..=top {
            let (done, rest) = self.image_levels.split_at_mut(l - 1);
            for ch in chans.clone() {
                let (src, dst) = (plane(&done[l - 2][ch], sizes[l - 1]), &mut rest[0][ch]);
                reduce_into(src, plane_mut(dst, sizes[l]), k).expect("levels sized");
            }
        }
        // Level 0: num += w * (g - expand(G1)), straight from the source rows.
        {
            let num_rows = row_table(&mut self.num[0][chans.clone()], w0);
            let den = &mut self.den[0];
            let coarse: Vec<Plane<'_, T>> = if top >= 1 {
                self.image_levels[0][chans.clone()].iter().map(|p| plane(p, sizes[1])).collect()
            } else {
                Vec::new()
            };
            let cw = coarse.first().map_or(0, |p| p.width());
            let mut num_rows = num_rows;
            let rows = num_rows.par_chunks_mut(c).zip(src.par_chunks(w0 * c));
            let rows = rows.zip(weights.par_chunks(w0).zip(den.par_chunks_mut(w0)));
            rows.enumerate().for_each_init(
                // Allocation: scratch rows per rayon task.
                || (vec![T::zero(); cw], vec![T::zero(); w0 * c]),
                |(tmp, e), (y, ((n, s), (wt, d)))| {
                    if coarse.is_empty() {
                        e.iter_mut().for_each(|v| *v = T::zero());
                    } else {
                        for (ch, cp) in coarse.iter().enumerate() {
                            expand_row(*cp, y, k, tmp, &mut e[ch * w0..(ch + 1) * w0]);
                        }
                    }
                    for (ch, n) in n.iter_mut().enumerate() {
                        let e = &e[ch * w0..(ch + 1) * w0];
                        if c == 1 {
                            for (((n, &g), &w), &e) in n.iter_mut().zip(s).zip(wt).zip(e) {
                                *n += w * (conv(g) - e);
                            }
                        } else {
                            let g = s[ch..].iter().step_by(c);
                            for (((n, &g), &w), &e) in n.iter_mut().zip(g).zip(wt).zip(e) {
                                *n += w * (conv(g) - e);
                            }
                        }
                    }
                    if with_den {
                        d.iter_mut().zip(wt).for_each(|(d, &w)| *d += w);
                    }
                },
            );
        }
        // Levels 1..: num += G(w) * (G - expand(G_next)); the top level keeps G.
        for l in 1..=top {
            let row = sizes[l].0;
            let w = &self.weight_levels[l - 1];
            for (i, ch) in chans.clone().enumerate() {
                let g = &self.image_levels[l - 1][ch];
                let num = &mut self.num[l][ch];
                let add_den = with_den && i == 0;
                let den = &mut self.den[l];
                let rows = num.par_chunks_mut(row).zip(g.par_chunks(row));
                let rows = rows.zip(w.par_chunks(row).zip(den.par_chunks_mut(row)));
                if l == top {
                    rows.for_each(|((n, g), (w, d))| {
                        for ((n, &g), &w) in n.iter_mut().zip(g).zip(w) {
                            *n += w * g;
                        }
                        if add_den {
                            d.iter_mut().zip(w).for_each(|(d, &w)| *d += w);
                        }
                    });
                    continue;
                }
                let coarse = plane(&self.image_levels[l][ch], sizes[l + 1]);
                rows.enumerate().for_each_init(
                    // Allocation: two scratch rows per rayon task.
                    || (vec![T::zero(); coarse.width()], vec![T::zero(); row]),
                    |(tmp, e), (y, ((n, g), (w, d)))| {
                        expand_row(coarse, y, k, tmp, e);
                        for (((n, &g), &w), &e) in n.iter_mut().zip(g).zip(w).zip(e.iter()) {
                            *n += w * (g - e);
                        }
                        if add_den {
                            d.iter_mut().zip(w).for_each(|(d, &w)| *d += w);
                        }
                    },
                );
            }
        }
    }

    /// Normalises each level by the summed weights and collapses: one full-size plane
    /// per channel (not clipped).
    pub fn collapse(mut self) -> Vec<Vec<T>> {
        let sizes = self.sizes.clone();
        let top = sizes.len() - 1;
        let tiny = T::from_f64(1e-12);
        for l in 0..=top {
            let den = &self.den[l];
            for num in self.num[l].iter_mut() {
                num.par_iter_mut().zip(den.par_iter()).for_each(|(n, &d)| {
                    if d > tiny {
                        *n = *n / d;
                    }
                });
            }
        }
        let channels = self.num[0].len();
        let k = &self.kernel;
        let mut out = Vec::with_capacity(channels);
        for c in 0..channels {
            let mut result = std::mem::take(&mut self.num[top][c]);
            for l in (0..top).rev() {
                let mut finer = std::mem::take(&mut self.num[l][c]);
                let coarse = plane(&result, sizes[l + 1]);
                let row = sizes[l].0;
                finer.par_chunks_mut(row).enumerate().for_each_init(
                    // Allocation: two scratch rows per rayon task.
                    || (vec![T::zero(); coarse.width()], vec![T::zero(); row]),
                    |(tmp, e), (y, f)| {
                        expand_row(coarse, y, k, tmp, e);
                        f.iter_mut().zip(e.iter()).for_each(|(f, &e)| *f += e);
                    },
                );
                result = finer;
            }
            out.push(result);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(0.0..255.0)).collect()
    }

    #[test]
    fn interleaved_samples_give_the_same_sums_as_the_float_image() {
        use fs_core::{BitDepth, ChannelLayout, Frame, FrameInfo, PixelFormat};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for (w, h, layout, depth) in [
            (13, 9, ChannelLayout::Rgb, BitDepth::Eight),
            (8, 11, ChannelLayout::Gray, BitDepth::Sixteen),
            (17, 6, ChannelLayout::Rgb, BitDepth::Sixteen),
        ] {
            let info = FrameInfo { width: w, height: h, format: PixelFormat { layout, depth } };
            let n = w * h * layout.channels();
            let samples = match depth {
                BitDepth::Eight => Samples::U8((0..n).map(|_| rng.random()).collect()),
                BitDepth::Sixteen => Samples::U16((0..n).map(|_| rng.random()).collect()),
            };
            let frame = Frame::new(info, samples).unwrap();
            let mut by_image = PyramidBlend::<f32>::new(w, h, layout.channels(), 3);
            let mut by_samples = PyramidBlend::<f32>::new(w, h, layout.channels(), 3);
            for seed in 0..2 {
                let weights: Vec<f32> = random(w * h, seed).iter().map(|v| *v as f32).collect();
                by_image.add(&frame.to_image(), &weights);
                by_samples.add_samples(frame.samples(), &weights);
            }
            assert_eq!(by_image.collapse(), by_samples.collapse(), "{info}");
        }
    }

    #[test]
    fn one_frame_with_weight_one_collapses_to_itself() {
        let (w, h) = (13, 9);
        let img = Image::from_planes(w, h, vec![random(w * h, 1), random(w * h, 2)]).unwrap();
        let mut blend = PyramidBlend::<f64>::new(w, h, 2, 4);
        blend.add(&img, &vec![1.0; w * h]);
        let out = blend.collapse();
        for (c, plane) in out.iter().enumerate() {
            for (a, b) in plane.iter().zip(img.plane(c).as_slice()) {
                assert!((a - b).abs() < 1e-9);
            }
        }
    }
}
