//! The noise guard of the finest detail levels ([`PyramidOptions::noise_guard`]).
//!
//! The spec's maximum-energy rule takes each detail coefficient from the frame whose
//! local energy is largest. Where a region is flat in every frame (a smooth
//! background, a defocused area, an evenly lit surface) every frame holds only
//! noise there, and the rule picks, pixel by pixel, whichever frame's noise happens
//! to be loudest: the result is noisier than any one frame (on the real stacks in
//! `../shared/stacks`, 1.3x to 1.4x the noise amplitude of the noisiest frame). A
//! photographer expects the opposite: where no frame is sharper than another, the
//! frames are just repeated exposures, and their mean is quieter than each.
//!
//! So, on the finest level ([`NOISE_LEVELS`] = 1: level 0, where noise lives), with
//! `g = noise_guard`, `E` the best frame's energy at a pixel, `S` the sum of every
//! frame's energy there, `F` the number of frames and `N` the stack's noise energy
//! on the level:
//! - by the noise: `a = clamp((E - g N) / (2 g N), 0, 1)` (from `E = g N` to
//!   `E = 3 g N`);
//! - by the other frames: `r = E (F - 1) / (S - E)`, how many times louder the best
//!   frame is than the others' mean, `b = clamp((r - 5) / 5, 0, 1)` (from 5x to 10x,
//!   [`RELATIVE_LO`], [`RELATIVE_HI`]): a frame that stands out of all the others
//!   is detail, whatever the noise estimate says (it protects stacks without
//!   noise, where the estimate can only find weak detail);
//! - `t = max(a, b)`, `w = t^2 (3 - 2 t)` (a smooth step), and the coefficient is
//!   `mean + w (best - mean)`, per channel, where `mean` is the mean of every
//!   frame's coefficient (their sum, kept while the frames stream through, divided
//!   by `F`) and `best` the maximum-energy frame's.
//!
//! Where some frame stands out (`w = 1`) the coefficient is the spec's. Coarser
//! levels, the base level, and everything with `noise_guard` 0 (or a stack without
//! measurable noise, `N = 0`) follow the spec exactly. With one frame the mean is
//! that frame.
//!
//! **Why level 0 only, and why 2**: fine texture that the eye sees because it is
//! regular over a region (the cell pattern of an insect's wing in `amber`, sharp in
//! one frame) has, pixel by pixel, only 2 to 4 times the noise energy. Guarding
//! level 1 too, or `noise_guard` 3, averaged it away (checked by eye on crops, and
//! 222.6 against 224.3 in the textured quarter); level 0 with 2 keeps it (223.8) and
//! still takes out most of the flat-area noise, which lives mostly on level 0.
//!
//! **The noise energy** `N_l` is measured on the frames themselves: per frame, the
//! 20th percentile of its energy over every 4th row of the level (a histogram of
//! 1/16-octave bins, [`EnergyHistogram`], taken at the bin's middle), divided by
//! [`NOISE_QUANTILE_RATIO`] 0.65, the ratio of that percentile to the mean for pure
//! noise (measured on white Gaussian noise through this pyramid: 0.65, 0.63, 0.61
//! on levels 0, 1, 2); `N` is the smallest of these over the frames (the frame
//! with the least detail on that level is the best witness of the noise). A low
//! percentile because a focus-stack frame is mostly out of focus, and its quietest
//! fifth is noise even where the scene is textured everywhere: on the generated
//! stacks (texture everywhere, Gaussian noise of known sigma) the estimate is 1.3
//! to 2 times the true noise energy, which the ramp's width absorbs; a median
//! would have been 4 to 20 times. Both stackers histogram the same rows, so
//! [`crate::PyramidTilesStack`] gives the same image as [`crate::PyramidStack`].
//!
//! **What it reaches** (`tests/pyramid_stack.rs`, the real stacks; mean squared
//! gradient of the luma, guard 2 / guard 0 / the frames):
//!
//! | stack | flattest 5 % | flattest quarter | textured quarter |
//! |---|---|---|---|
//! | amber | 0.68 / 3.51 / 1.62-1.94 | 0.81 / 4.17 / 1.91-2.32 | 223.8 / 224.3 / 33-111 |
//! | pcb | 1.91 / 3.57 / 1.55-2.13 | 20.7 / 21.6 / 7.7-13.2 (board texture) | 1844.4 / 1844.4 / 306-499 |
//! | noisy (near-identical frames) | 1.52 / 7.16 / 3.78-3.86 | 1.89 / 8.68 / 4.51-4.65 | 5.7 / 17.5 / 9.1-9.2 |
//!
//! The generated stacks' PSNR against the truth is unchanged (27.58 dB 8-bit,
//! 27.11 dB 16-bit): there the detail stands out of the noise nearly everywhere.
//!
//! **Costs**: the running sums of level 0 (energy and every channel: one frame's
//! samples plus a plane, in floats: +384 MB for 24 MP RGB in f32) and the memory
//! traffic of adding every frame into them; see the crate docs' figures.
//!
//! [`PyramidOptions::noise_guard`]: crate::PyramidOptions::noise_guard

use fs_core::Float;
use rayon::prelude::*;

/// The number of finest detail levels the noise guard acts on.
pub const NOISE_LEVELS: usize = 1;

/// Rows sampled for the noise witness: those whose index is a multiple of this
/// (every column of them).
pub const SAMPLE_ROWS: usize = 4;

/// The percentile of a frame's energies taken as its noise witness.
pub const NOISE_QUANTILE: f64 = 0.2;

/// The ratio of [`NOISE_QUANTILE`]'s energy to the mean energy, for pure noise.
pub const NOISE_QUANTILE_RATIO: f64 = 0.65;

/// Bits of the f32 bit pattern dropped to form a bin: 8 exponent bits and 4
/// mantissa bits stay, so a bin spans 1/16 of an octave.
const SHIFT: u32 = 19;

/// Number of bins: every non-negative f32 bit pattern, shifted.
const BINS: usize = 1 << (31 - SHIFT);

/// A histogram of non-negative energies in bins of 1/16 octave (the f32 bit
/// pattern without its low 19 bits); integer counts, so merging in any order
/// gives the same histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnergyHistogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for EnergyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl EnergyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        // Allocation: 32 KiB per histogram (per level and strip task).
        Self { counts: vec![0; BINS], total: 0 }
    }

    /// The bin of an energy (negative and NaN values count as 0).
    #[inline(always)]
    fn bin(e: f32) -> usize {
        (e.max(0.0).to_bits() >> SHIFT) as usize
    }

    /// Counts every value of `energies`.
    #[inline]
    pub fn add<T: Float>(&mut self, energies: &[T]) {
        for &e in energies {
            self.counts[Self::bin(e.to_f64() as f32)] += 1;
        }
        self.total += energies.len() as u64;
    }

    /// Adds `other`'s counts to this one and empties `other`.
    pub fn merge_from(&mut self, other: &mut EnergyHistogram) {
        if other.total == 0 {
            return;
        }
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter_mut()) {
            *a += *b;
            *b = 0;
        }
        self.total += other.total;
        other.total = 0;
    }

    /// Number of values counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (0..=1): the middle of the first bin where the cumulative
    /// count reaches `q` of the total (0 for an empty histogram or a zero bin).
    pub fn quantile(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let need = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= need {
                if b == 0 {
                    return 0.0;
                }
                return f32::from_bits(((b as u32) << SHIFT) | (1 << (SHIFT - 1))) as f64;
            }
        }
        unreachable!("the counts add up to the total")
    }

    /// Empties the histogram.
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
    }
}

/// A frame's noise witness on one level: its energy histogram's
/// [`NOISE_QUANTILE`] divided by [`NOISE_QUANTILE_RATIO`].
pub fn frame_noise_energy(histogram: &EnergyHistogram) -> f64 {
    histogram.quantile(NOISE_QUANTILE) / NOISE_QUANTILE_RATIO
}

/// The ramp of one level: `Some((lo, inv))` with `t = (E - lo) * inv`, or `None`
/// where the guard is off (`noise_guard` 0, or no noise measured) and the
/// maximum-energy coefficients stand.
pub fn ramp(noise_guard: f64, noise_energy: f64) -> Option<(f64, f64)> {
    let lo = noise_guard * noise_energy;
    (lo > 0.0 && lo.is_finite()).then(|| (lo, 1.0 / (2.0 * lo)))
}

/// `sum += lap`, element by element (the running sum of a level's coefficients).
#[inline]
pub(crate) fn accumulate<T: Float>(sum: &mut [T], lap: &[T]) {
    for (s, &l) in sum.iter_mut().zip(lap) {
        *s += l;
    }
}

/// Where a frame's energy is at least this many times the mean of the other
/// frames' energies there, its coefficient stands out by itself, whatever the noise
/// estimate says (the smooth step runs up to [`RELATIVE_HI`]).
pub const RELATIVE_LO: f64 = 5.0;

/// See [`RELATIVE_LO`].
pub const RELATIVE_HI: f64 = 10.0;

/// Blends one row of a level in place: `best[c][x] = mean + w (best - mean)` with
/// `mean = sum[c][x] / frames` and `w` the smooth step of the larger of
/// `(energy[x] - lo) * inv` and `(r - RELATIVE_LO) / (RELATIVE_HI - RELATIVE_LO)`,
/// each clamped to 0..=1, where
/// `r = energy[x] (frames - 1) / (energy_sum[x] - energy[x])` (see the module docs).
pub(crate) fn blend_row<T: Float>(
    energy: &[T],
    energy_sum: &[T],
    sums: &[&[T]],
    best: &mut [&mut [T]],
    frames: usize,
    (lo, inv): (f64, f64),
) {
    let (lo, inv, n) = (T::from_f64(lo), T::from_f64(inv), T::from_f64(frames as f64));
    let others = T::from_f64(frames as f64 - 1.0);
    let (r_lo, r_inv) = (T::from_f64(RELATIVE_LO), T::from_f64(1.0 / (RELATIVE_HI - RELATIVE_LO)));
    let (zero, one, two, three) = (T::zero(), T::one(), T::from_f64(2.0), T::from_f64(3.0));
    for (c, sum) in sums.iter().enumerate() {
        for x in 0..energy.len() {
            let e = energy[x];
            let by_noise = ((e - lo) * inv).max(zero).min(one);
            let ratio = e * others / (energy_sum[x] - e);
            let by_others = ((ratio - r_lo) * r_inv).max(zero).min(one);
            let t = by_noise.max(by_others);
            let w = t * t * (three - two * t);
            let mean = sum[x] / n;
            best[c][x] = mean + w * (best[c][x] - mean);
        }
    }
}

/// [`blend_row`] over the rows of a level (or a band of one), `w` pixels wide, in
/// parallel over groups of rows.
pub(crate) fn blend_rows<T: Float>(
    energy: &[T],
    energy_sum: &[T],
    sums: &[&[T]],
    best: &mut [&mut [T]],
    w: usize,
    frames: usize,
    ramp: (f64, f64),
) {
    let rows = 16;
    let mut chunks: Vec<_> = best.iter_mut().map(|p| p.chunks_mut(rows * w)).collect();
    // Allocation: one task list per level or band.
    let tasks: Vec<(usize, Vec<&mut [T]>)> = (0..energy.len().div_ceil(rows * w))
        .map(|i| (i, chunks.iter_mut().map(|it| it.next().expect("same size")).collect()))
        .collect();
    tasks.into_par_iter().for_each(|(i, mut best)| {
        let (at, len) = (i * rows * w, best[0].len());
        let sums: Vec<&[T]> = sums.iter().map(|p| &p[at..at + len]).collect();
        let (e, es) = (&energy[at..at + len], &energy_sum[at..at + len]);
        blend_row(e, es, &sums, &mut best, frames, ramp);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_land_within_a_sixteenth_of_an_octave() {
        let mut h = EnergyHistogram::new();
        let values: Vec<f32> = (1..=1000).map(|i| i as f32).collect();
        h.add(&values);
        assert_eq!(h.total(), 1000);
        for (q, want) in [(0.2, 200.0), (0.5, 500.0), (1.0, 1000.0)] {
            let got = h.quantile(q);
            assert!((got / want - 1.0).abs() < 0.045, "q {q}: {got} vs {want}");
        }
        // Merging in either order gives the same counts; the source is emptied.
        let (mut a, mut b) = (EnergyHistogram::new(), EnergyHistogram::new());
        a.add(&values[..300]);
        b.add(&values[300..]);
        let mut ab = EnergyHistogram::new();
        ab.merge_from(&mut a.clone());
        ab.merge_from(&mut b.clone());
        let mut ba = EnergyHistogram::new();
        ba.merge_from(&mut b);
        ba.merge_from(&mut a);
        assert_eq!(ab, ba);
        assert_eq!(ab, h);
        assert_eq!(a.total(), 0);
    }

    #[test]
    fn zeros_and_empty_histograms_measure_no_noise() {
        let mut h = EnergyHistogram::new();
        assert_eq!(h.quantile(0.2), 0.0);
        h.add(&[0.0f64; 10]);
        h.add(&[5.0f64; 2]);
        assert_eq!(frame_noise_energy(&h), 0.0);
        assert_eq!(ramp(3.0, 0.0), None);
        assert_eq!(ramp(0.0, 1.0), None);
        assert_eq!(ramp(3.0, 2.0), Some((6.0, 1.0 / 12.0)));
    }

    #[test]
    fn blend_averages_below_the_ramp_and_keeps_the_best_above() {
        // Energies: below lo, at the middle of the ramp, above it; the other two
        // frames as loud as the best (ratio 1).
        let energy = [1.0f32, 9.0, 20.0];
        let energy_sum = energy.map(|e| 3.0 * e);
        let sum = [6.0f32, 6.0, 6.0];
        let mut best = [5.0f32, 5.0, 5.0];
        blend_row(&energy, &energy_sum, &[&sum], &mut [&mut best], 3, (3.0, 1.0 / 12.0));
        // mean 2; t = 0, 0.5, 1 -> w = 0, 0.5, 1.
        assert_eq!(best, [2.0, 3.5, 5.0]);
        // Below the noise ramp, but 7.5 and 15 times louder than the others' mean
        // (ratio half-way up its ramp, and past it): w = 0.5 and 1.
        let energy = [1.0f32, 2.0];
        let energy_sum = [1.0f32 + 2.0 * (1.0 / 7.5), 2.0 + 2.0 * (2.0 / 15.0)];
        let mut best = [5.0f32, 5.0];
        blend_row(&energy, &energy_sum, &[&sum[..2]], &mut [&mut best], 3, (3.0, 1.0 / 12.0));
        assert!((best[0] - 3.5).abs() < 1e-5 && best[1] == 5.0, "{best:?}");
        // Every frame silent: the mean.
        let mut best = [5.0f32];
        blend_row(&[0.0f32], &[0.0], &[&sum[..1]], &mut [&mut best], 3, (3.0, 1.0 / 12.0));
        assert_eq!(best, [2.0]);
    }
}
