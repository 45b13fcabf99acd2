//! The pyramid blend: Gaussian pyramids of the weight maps, Laplacian pyramids of the
//! frames, weighted sums per level normalised by the summed weights, and the collapse.
//!
//! The pyramids use the 5-tap binomial kernel `[1, 4, 6, 4, 1] / 16` (the generating
//! kernel with `a = 0.375`, as OpenCV's `pyrDown`/`pyrUp`) with reflect-101 borders:
//! reduce = convolve, keep even rows and columns (a level of `w` is `(w + 1) / 2`
//! wide); expand = insert zeros (twice the size), convolve, multiply by 4, crop to
//! the finer size — the same definitions as fs-pyramid's.
//! [`reduce`] and [`expand`] compute only the samples they keep (the zeros are never
//! materialised); [`reduce_reference`] / [`expand_reference`] are the plain
//! definitions, kept for the tests.
//!
//! [`PyramidBlend`] folds frames one at a time into running sums (one numerator
//! pyramid per channel and one denominator pyramid), so its memory does not grow with
//! the number of frames: at 24 MP RGB f32 the sums take about 510 MB and the
//! per-frame work buffers (levels 1.. of the weights and of every channel) about
//! 130 MB. Expanded levels are never stored: each row is expanded and accumulated in
//! one go, and the denominators are accumulated in the same row loops.
//! [`PyramidBlend::add_samples`] reads a frame's interleaved integer samples directly
//! (level 0 and the first reduce), so no float copy of the frame is needed.

use fs_core::{
    Float, Image, IntSample, Plane, PlaneMut, Samples, convolve_separable_reference, reflect101,
};
use rayon::prelude::*;

/// The 5-tap binomial kernel `[1, 4, 6, 4, 1] / 16`.
pub fn binomial_kernel<T: Float>() -> [T; 5] {
    fs_core::generating_kernel(0.375)
}

/// Size of the next coarser level.
pub fn reduced_size(w: usize, h: usize) -> (usize, usize) {
    (w.div_ceil(2), h.div_ceil(2))
}

/// Sizes of `levels` pyramid levels, the full size first.
pub fn level_sizes(w: usize, h: usize, levels: usize) -> Vec<(usize, usize)> {
    let mut sizes = vec![(w, h)];
    while sizes.len() < levels {
        let &(w, h) = sizes.last().expect("non-empty");
        sizes.push(reduced_size(w, h));
    }
    sizes
}

/// Reduce: blur with the binomial kernel and keep even rows and columns. `dst` must be
/// `reduced_size(src)`.
pub fn reduce<T: Float>(src: Plane<'_, T>, mut dst: PlaneMut<'_, T>) {
    let (w, h) = (src.width(), src.height());
    assert_eq!((dst.width(), dst.height()), reduced_size(w, h), "reduce output size");
    let dw = dst.width();
    let mut rows: Vec<&mut [T]> = dst.as_mut_slice().chunks_mut(dw).collect();
    reduce_interleaved(src.as_slice(), w, h, 1, |v| v, &mut rows);
}

/// [`reduce`] of every channel of an interleaved source of `c` channels (`w * h * c`
/// samples, converted by `conv`): `rows[y * c + ch]` is row `y` of channel `ch` of the
/// reduced image. The source is read once for all channels; the arithmetic (and so
/// the result) is the same as [`reduce`] on each channel's plane.
pub(crate) fn reduce_interleaved<S: Copy + Sync, T: Float>(
    src: &[S],
    w: usize,
    h: usize,
    c: usize,
    conv: impl Fn(S) -> T + Sync,
    rows: &mut [&mut [T]],
) {
    let (dw, dh) = reduced_size(w, h);
    assert_eq!(src.len(), w * h * c, "reduce input size");
    assert_eq!(rows.len(), dh * c, "reduce output rows");
    let k = binomial_kernel::<T>();
    let wc = w * c;
    rows.par_chunks_mut(c).enumerate().for_each_init(
        // Allocation: one scratch row (all channels) per rayon task.
        || vec![T::zero(); wc],
        |tmp, (y, out)| {
            for (j, &kj) in k.iter().enumerate() {
                let sy = reflect101((2 * y + j) as isize - 2, h);
                let row = &src[sy * wc..(sy + 1) * wc];
                if j == 0 {
                    tmp.iter_mut().zip(row).for_each(|(t, &s)| *t = kj * conv(s));
                } else {
                    tmp.iter_mut().zip(row).for_each(|(t, &s)| *t += kj * conv(s));
                }
            }
            // Interior: 2x - 2 >= 0 and 2x + 2 <= w - 1.
            let lo = 1.min(dw);
            let hi = if w >= 3 { ((w - 3) / 2 + 1).max(lo) } else { lo };
            for (ch, out) in out.iter_mut().enumerate() {
                let border = |x: usize| {
                    let mut acc = T::zero();
                    for (i, &ki) in k.iter().enumerate() {
                        acc += ki * tmp[reflect101((2 * x + i) as isize - 2, w) * c + ch];
                    }
                    acc
                };
                for x in 0..lo {
                    out[x] = border(x);
                }
                if c == 1 {
                    for x in lo..hi {
                        let s = &tmp[2 * x - 2..2 * x + 3];
                        out[x] =
                            k[0] * s[0] + k[1] * s[1] + k[2] * s[2] + k[3] * s[3] + k[4] * s[4];
                    }
                } else {
                    for x in lo..hi {
                        let s = &tmp[(2 * x - 2) * c + ch..];
                        out[x] = k[0] * s[0]
                            + k[1] * s[c]
                            + k[2] * s[2 * c]
                            + k[3] * s[3 * c]
                            + k[4] * s[4 * c];
                    }
                }
                for x in hi..dw {
                    out[x] = border(x);
                }
            }
        },
    );
}

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

/// Expand: insert zeros (twice the size of `src`), blur with the binomial kernel
/// (reflect-101 on the doubled size), multiply by 4, crop to the size of `dst`
/// (as fs-pyramid's expand). `src` must be `reduced_size(dst)`.
pub fn expand<T: Float>(src: Plane<'_, T>, mut dst: PlaneMut<'_, T>) {
    let (w, h) = (dst.width(), dst.height());
    assert_eq!((src.width(), src.height()), reduced_size(w, h), "expand input size");
    dst.as_mut_slice().par_chunks_mut(w).enumerate().for_each_init(
        // Allocation: one scratch row per rayon task.
        || vec![T::zero(); src.width()],
        |tmp, (y, out)| expand_row(src, y, tmp, out),
    );
}

/// Row `y` of the expansion of `src` to `out.len()` samples; `tmp` holds
/// `src.width()` samples of scratch.
#[inline]
pub(crate) fn expand_row<T: Float>(src: Plane<'_, T>, y: usize, tmp: &mut [T], out: &mut [T]) {
    let w = out.len();
    let k = binomial_kernel::<T>();
    let two = T::from_f64(2.0);
    // Vertical: only the even rows of the zero-inserted image are non-zero.
    let mut first = true;
    for (j, &kj) in k.iter().enumerate() {
        let sy = reflect101((y + j) as isize - 2, 2 * src.height());
        if sy % 2 == 1 {
            continue;
        }
        let row = src.row(sy / 2);
        let kj = kj * two;
        if first {
            tmp.iter_mut().zip(row).for_each(|(t, &s)| *t = kj * s);
            first = false;
        } else {
            tmp.iter_mut().zip(row).for_each(|(t, &s)| *t += kj * s);
        }
    }
    let border = |x: usize| {
        let mut acc = T::zero();
        for (i, &ki) in k.iter().enumerate() {
            let sx = reflect101((x + i) as isize - 2, 2 * tmp.len());
            if sx.is_multiple_of(2) {
                acc += ki * tmp[sx / 2];
            }
        }
        acc * two
    };
    let (k0, k1, k2) = (k[0] * two, k[1] * two, k[2] * two);
    if w < 6 {
        for (x, o) in out.iter_mut().enumerate() {
            *o = border(x);
        }
        return;
    }
    for x in (0..2).chain(w - 2..w) {
        out[x] = border(x);
    }
    // Interior, two output samples per source sample: x = 2c (even) and 2c + 1 (odd),
    // for 2 <= x <= w - 3.
    // `t` is tmp[c - 1..=c + 1]; written with exact chunks and windows so the loop
    // has no bounds checks.
    let mut pairs = out[2..w - 2].chunks_exact_mut(2);
    let mut windows = tmp.windows(3);
    for (o, t) in pairs.by_ref().zip(windows.by_ref()) {
        o[0] = k0 * t[0] + k2 * t[1] + k0 * t[2];
        o[1] = k1 * t[1] + k1 * t[2];
    }
    if let ([o], Some(t)) = (pairs.into_remainder(), windows.next()) {
        *o = k0 * t[0] + k2 * t[1] + k0 * t[2];
    }
}

/// Plain reference of [`reduce`]: full convolution, then decimation.
pub fn reduce_reference(src: Plane<'_, f64>) -> Vec<f64> {
    let (w, h) = (src.width(), src.height());
    let k = binomial_kernel::<f64>();
    let full = convolve_separable_reference(src, &k, &k);
    let (dw, dh) = reduced_size(w, h);
    (0..dh)
        .flat_map(|y| (0..dw).map(move |x| (y, x)))
        .map(|(y, x)| full[2 * y * w + 2 * x])
        .collect()
}

/// Plain reference of [`expand`]: materialised zero insertion at twice the size, full
/// convolution, x4, crop to `w` x `h`.
pub fn expand_reference(src: Plane<'_, f64>, w: usize, h: usize) -> Vec<f64> {
    let (uw, uh) = (2 * src.width(), 2 * src.height());
    let mut up = vec![0.0; uw * uh];
    for y in 0..src.height() {
        for x in 0..src.width() {
            up[2 * y * uw + 2 * x] = src.row(y)[x];
        }
    }
    let k = binomial_kernel::<f64>();
    let full = convolve_separable_reference(Plane::new(&up, uw, uh).expect("sized"), &k, &k);
    (0..h).flat_map(|y| (0..w).map(move |x| (y, x))).map(|(y, x)| 4.0 * full[y * uw + x]).collect()
}

/// Running weighted sums of Laplacian pyramids: fold in `(frame, weight map)` pairs,
/// then [`PyramidBlend::collapse`].
#[derive(Debug)]
pub struct PyramidBlend<T> {
    sizes: Vec<(usize, usize)>,
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
        let sizes = level_sizes(width, height, levels);
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
        }
    }

    /// Folds in one frame (a planar float image) with its weight map (full size).
    pub fn add(&mut self, image: &Image<T>, weights: &[T]) {
        let channels = self.num[0].len();
        assert_eq!(image.channels(), channels, "channel count");
        assert_eq!((image.width(), image.height()), self.sizes[0], "image size");
        self.add_weights(weights);
        for c in 0..channels {
            self.add_channels(image.plane(c).as_slice(), c..c + 1, |v| v, weights);
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
        match samples {
            Samples::U8(s) => {
                self.add_channels(s, 0..channels, |v| T::from_f32(v.to_f32()), weights)
            }
            Samples::U16(s) => {
                self.add_channels(s, 0..channels, |v| T::from_f32(v.to_f32()), weights)
            }
        }
    }

    /// The Gaussian levels 1.. of the weight map.
    fn add_weights(&mut self, weights: &[T]) {
        let sizes = &self.sizes;
        assert_eq!(weights.len(), sizes[0].0 * sizes[0].1, "weight map size");
        for l in 1..sizes.len() {
            let (done, rest) = self.weight_levels.split_at_mut(l - 1);
            let src = if l == 1 { weights } else { &done[l - 2] };
            reduce(plane(src, sizes[l - 1]), plane_mut(&mut rest[0], sizes[l]));
        }
    }

    /// Folds the channels `chans` of a frame into the sums, from an interleaved source
    /// holding exactly those channels; the weight levels must be made already. The
    /// denominators are accumulated along with the first channel of the frame.
    fn add_channels<S: Copy + Sync>(
        &mut self,
        src: &[S],
        chans: std::ops::Range<usize>,
        conv: impl Fn(S) -> T + Sync + Copy,
        weights: &[T],
    ) {
        let sizes = &self.sizes;
        let top = sizes.len() - 1;
        let c = chans.len();
        let with_den = chans.start == 0;
        let (w0, h0) = sizes[0];
        assert_eq!(src.len(), w0 * h0 * c, "frame size");
        // Gaussian levels 1.. of the channels.
        if top >= 1 {
            let (lw, _) = sizes[1];
            let mut rows = row_table(&mut self.image_levels[0][chans.clone()], lw);
            reduce_interleaved(src, w0, h0, c, conv, &mut rows);
        }
        for l in 2..=top {
            let (done, rest) = self.image_levels.split_at_mut(l - 1);
            for ch in chans.clone() {
                reduce(
                    plane(&done[l - 2][ch], sizes[l - 1]),
                    plane_mut(&mut rest[0][ch], sizes[l]),
                );
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
                            expand_row(*cp, y, tmp, &mut e[ch * w0..(ch + 1) * w0]);
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
                        expand_row(coarse, y, tmp, e);
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
                        expand_row(coarse, y, tmp, e);
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
    fn reduce_and_expand_equal_their_references_on_odd_and_even_sizes() {
        for (w, h) in [(1, 1), (2, 3), (5, 4), (9, 7), (16, 11), (33, 2)] {
            let src = random(w * h, (w * 100 + h) as u64);
            let (dw, dh) = reduced_size(w, h);
            let mut small = vec![0.0; dw * dh];
            reduce(plane(&src, (w, h)), plane_mut(&mut small, (dw, dh)));
            let want = reduce_reference(plane(&src, (w, h)));
            for (a, b) in small.iter().zip(&want) {
                assert!((a - b).abs() < 1e-9, "reduce {w}x{h}: {small:?} vs {want:?}");
            }
            let mut big = vec![0.0; w * h];
            expand(plane(&small, (dw, dh)), plane_mut(&mut big, (w, h)));
            let want = expand_reference(plane(&small, (dw, dh)), w, h);
            for (a, b) in big.iter().zip(&want) {
                assert!((a - b).abs() < 1e-9, "expand {w}x{h}: {big:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn expand_of_a_constant_is_the_constant_away_from_odd_edges() {
        // A 3x3 constant 1 expanded to 6x6: every output is 4 * (sum of the kernel taps
        // that land on even positions) = 4 * (1/16 + 6/16 + 1/16)(...) = 1 inside.
        let src = vec![1.0f64; 9];
        let mut big = vec![0.0; 36];
        expand(plane(&src, (3, 3)), plane_mut(&mut big, (6, 6)));
        assert!((big[2 * 6 + 2] - 1.0).abs() < 1e-15 && (big[3 * 6 + 3] - 1.0).abs() < 1e-15);
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
