//! Weight rules: from each frame's energy map to per-pixel focus weights that sum
//! to 1 across the frames.
//!
//! Weights need a per-pixel summary of all frames (the sum of energies, or their
//! maximum) before any weight exists, so stacking runs in two passes: pass 1 folds
//! every frame's energy into a [`WeightAccumulator`] (two planes, whatever the
//! number of frames); pass 2 recomputes each frame's energy and asks
//! [`WeightAccumulator::weights`] for its weight map. All three rules fold exactly:
//! - average: `w_k = e_k^p / sum_j e_j^p` (state: the sum). With a `weight_power` `p`
//!   other than 1 it is computed as `(e_k / m)^p / sum_j (e_j / m)^p`, `m` the pixel's
//!   maximum energy (state: running max and sum, rescaled when the max grows): the
//!   same weights, but no power can overflow to infinity or all of them underflow to
//!   zero, so a huge `p` tends to the hard max instead of giving NaN (a black output)
//!   or equal weights;
//! - hard max: `w_k = [e_k == max] / count(max)` (state: max and tie count), so ties
//!   share the weight and a pixel with no energy anywhere gets `1 / n` from every frame;
//! - softmax: `w_k = exp(p (e_k - max) / T) / Z`, i.e. the softmax of
//!   `(e - max) / T` raised to `p` and renormalised (state: running max and `Z`,
//!   rescaled when the max grows, as in online softmax).
//!
//! In the average rule a pixel where every energy is zero gets `1 / n` from every frame.

use fs_core::Float;
use rayon::prelude::*;

use crate::options::{DepthMapOptions, MapType};

/// A weight rule with its parameters, derived from the options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WeightRule {
    /// `e^power / sum e^power`.
    Average {
        /// `weight_power`.
        power: f64,
    },
    /// The frame(s) with the maximum energy.
    HardMax,
    /// `exp(scale * (e - max)) / Z`, `scale = weight_power / temperature`.
    SoftMax {
        /// `weight_power / temperature`.
        scale: f64,
    },
}

impl WeightRule {
    /// The rule the options ask for.
    pub fn from_options(o: &DepthMapOptions) -> Self {
        match o.map_type {
            MapType::Average => WeightRule::Average { power: o.weight_power },
            MapType::Max if o.temperature > 0.0 => {
                WeightRule::SoftMax { scale: o.weight_power / o.temperature }
            }
            MapType::Max => WeightRule::HardMax,
        }
    }
}

/// The per-pixel state of pass 1: two planes, independent of the number of frames.
#[derive(Debug, Clone)]
pub struct WeightAccumulator<T> {
    rule: WeightRule,
    width: usize,
    frames: usize,
    /// Average with power 1: sum of `e`; the other rules: the running maximum energy.
    a: Vec<T>,
    /// Hard max: number of frames at the maximum; softmax: `Z`; average with another
    /// power: the sum of `(e / max)^p`; average with power 1: unused.
    b: Vec<T>,
}

/// `exp(k d)` for `d <= 0`, also for a scale `k` that overflowed to infinity (a huge
/// `weight_power` over a small `temperature`), where `k * 0` would be NaN.
#[inline(always)]
fn soft<T: Float>(k: T, d: T) -> T {
    if d == T::zero() { T::one() } else { (k * d).exp() }
}

impl<T: Float> WeightAccumulator<T> {
    /// An empty accumulator for `width` x `height` energy maps.
    pub fn new(rule: WeightRule, width: usize, height: usize) -> Self {
        let n = width * height;
        let (a0, b) = match rule {
            // Allocation: once per stack.
            WeightRule::Average { power: 1.0 } => (T::zero(), Vec::new()),
            WeightRule::Average { .. } => (T::zero(), vec![T::zero(); n]),
            _ => (T::neg_infinity(), vec![T::zero(); n]),
        };
        Self { rule, width, frames: 0, a: vec![a0; n], b }
    }

    /// Number of frames folded in so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Folds one frame's energy map in.
    pub fn add(&mut self, energy: &[T]) {
        assert_eq!(energy.len(), self.a.len(), "energy map size");
        let w = self.width;
        self.add_rows(|| (), |y, (), row| row.copy_from_slice(&energy[y * w..(y + 1) * w]));
    }

    /// Folds one frame in whose energy map is made row by row: `energy_row(y, scratch,
    /// row)` writes row `y` into `row` (`scratch` is made by `init`, once per rayon task).
    pub(crate) fn add_rows<S: Send>(
        &mut self,
        init: impl Fn() -> S + Sync + Send,
        energy_row: impl Fn(usize, &mut S, &mut [T]) + Sync + Send,
    ) {
        self.frames += 1;
        let w = self.width;
        // Allocation: one energy row (and the caller's scratch) per rayon task.
        let init = || (vec![T::zero(); w], init());
        match self.rule {
            WeightRule::Average { power: 1.0 } => {
                self.a.par_chunks_mut(w).enumerate().for_each_init(init, |(e, sc), (y, s)| {
                    energy_row(y, sc, e);
                    for (s, &e) in s.iter_mut().zip(e.iter()) {
                        *s += e;
                    }
                });
            }
            WeightRule::Average { power } => {
                let p = T::from_f64(power);
                let rows = self.a.par_chunks_mut(w).zip(self.b.par_chunks_mut(w));
                rows.enumerate().for_each_init(init, |(e, sc), (y, (m, s))| {
                    energy_row(y, sc, e);
                    for ((m, s), &e) in m.iter_mut().zip(s.iter_mut()).zip(e.iter()) {
                        if e > *m {
                            // Frames with zero energy (while the max is 0) weigh nothing.
                            let before = if *m > T::zero() { *s * (*m / e).powf(p) } else { *s };
                            *s = before + T::one();
                            *m = e;
                        } else if *m > T::zero() {
                            *s += (e / *m).powf(p);
                        }
                    }
                });
            }
            WeightRule::HardMax => {
                let rows = self.a.par_chunks_mut(w).zip(self.b.par_chunks_mut(w));
                rows.enumerate().for_each_init(init, |(e, sc), (y, (m, c))| {
                    energy_row(y, sc, e);
                    for ((m, c), &e) in m.iter_mut().zip(c.iter_mut()).zip(e.iter()) {
                        if e > *m {
                            *m = e;
                            *c = T::one();
                        } else if e == *m {
                            *c += T::one();
                        }
                    }
                });
            }
            WeightRule::SoftMax { scale } => {
                let k = T::from_f64(scale);
                let rows = self.a.par_chunks_mut(w).zip(self.b.par_chunks_mut(w));
                rows.enumerate().for_each_init(init, |(e, sc), (y, (m, z))| {
                    energy_row(y, sc, e);
                    for ((m, z), &e) in m.iter_mut().zip(z.iter_mut()).zip(e.iter()) {
                        if e > *m {
                            // exp(k * (-inf)) = 0 on the first frame.
                            *z = *z * (k * (*m - e)).exp() + T::one();
                            *m = e;
                        } else {
                            *z += soft(k, e - *m);
                        }
                    }
                });
            }
        }
    }

    /// The weight map of a frame with this energy map (the same map that was folded in
    /// during pass 1), once every frame has been added.
    pub fn weights(&self, energy: &[T], out: &mut [T]) {
        assert_eq!(energy.len(), self.a.len(), "energy map size");
        let w = self.width;
        self.weights_rows(
            || (),
            |y, (), row| row.copy_from_slice(&energy[y * w..(y + 1) * w]),
            out,
        );
    }

    /// [`WeightAccumulator::weights`] with the energy map made row by row, as in
    /// [`WeightAccumulator::add_rows`].
    pub(crate) fn weights_rows<S: Send>(
        &self,
        init: impl Fn() -> S + Sync + Send,
        energy_row: impl Fn(usize, &mut S, &mut [T]) + Sync + Send,
        out: &mut [T],
    ) {
        assert_eq!(out.len(), self.a.len(), "weight map size");
        let w = self.width;
        let uniform = T::one() / T::from_f64(self.frames.max(1) as f64);
        // Allocation: one energy row (and the caller's scratch) per rayon task.
        let init = || (vec![T::zero(); w], init());
        let rows = out.par_chunks_mut(w).enumerate();
        match self.rule {
            WeightRule::Average { power: 1.0 } => {
                rows.zip(self.a.par_chunks(w)).for_each_init(init, |(e, sc), ((y, o), s)| {
                    energy_row(y, sc, e);
                    for ((o, &e), &s) in o.iter_mut().zip(e.iter()).zip(s) {
                        *o = if s > T::zero() { e / s } else { uniform };
                    }
                });
            }
            WeightRule::Average { power } => {
                let p = T::from_f64(power);
                rows.zip(self.a.par_chunks(w).zip(self.b.par_chunks(w))).for_each_init(
                    init,
                    |(e, sc), ((y, o), (m, s))| {
                        energy_row(y, sc, e);
                        for (((o, &e), &m), &s) in o.iter_mut().zip(e.iter()).zip(m).zip(s) {
                            *o = if m > T::zero() { (e / m).powf(p) / s } else { uniform };
                        }
                    },
                );
            }
            WeightRule::HardMax => {
                rows.zip(self.a.par_chunks(w).zip(self.b.par_chunks(w))).for_each_init(
                    init,
                    |(e, sc), ((y, o), (m, c))| {
                        energy_row(y, sc, e);
                        for (((o, &e), &m), &c) in o.iter_mut().zip(e.iter()).zip(m).zip(c) {
                            *o = if e == m { T::one() / c } else { T::zero() };
                        }
                    },
                );
            }
            WeightRule::SoftMax { scale } => {
                let k = T::from_f64(scale);
                rows.zip(self.a.par_chunks(w).zip(self.b.par_chunks(w))).for_each_init(
                    init,
                    |(e, sc), ((y, o), (m, z))| {
                        energy_row(y, sc, e);
                        for (((o, &e), &m), &z) in o.iter_mut().zip(e.iter()).zip(m).zip(z) {
                            *o = soft(k, e - m) / z;
                        }
                    },
                );
            }
        }
    }
}

/// The plain reference: all energy maps at once, the spec's formulas in f64.
pub fn weights_reference(rule: WeightRule, energies: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = energies.len();
    let len = energies[0].len();
    let mut out = vec![vec![0.0; len]; n];
    for i in 0..len {
        let e: Vec<f64> = energies.iter().map(|m| m[i]).collect();
        let raw: Vec<f64> = match rule {
            // Divided by the maximum first, so that no power overflows or underflows
            // everywhere (the same weights, see the module docs).
            WeightRule::Average { power } => {
                let m = e.iter().cloned().fold(0.0, f64::max);
                if m > 0.0 { e.iter().map(|v| (v / m).powf(power)).collect() } else { vec![0.0; n] }
            }
            WeightRule::HardMax => {
                let m = e.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                e.iter().map(|&v| if v == m { 1.0 } else { 0.0 }).collect()
            }
            WeightRule::SoftMax { scale } => {
                let m = e.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                e.iter().map(|&v| (scale * (v - m)).exp()).collect()
            }
        };
        let s: f64 = raw.iter().sum();
        for k in 0..n {
            out[k][i] = if s > 0.0 { raw[k] / s } else { 1.0 / n as f64 };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(rule: WeightRule, energies: &[Vec<f64>], w: usize) -> Vec<Vec<f64>> {
        let h = energies[0].len() / w;
        let mut acc = WeightAccumulator::<f64>::new(rule, w, h);
        for e in energies {
            acc.add(e);
        }
        energies
            .iter()
            .map(|e| {
                let mut o = vec![0.0; e.len()];
                acc.weights(e, &mut o);
                o
            })
            .collect()
    }

    fn energies() -> Vec<Vec<f64>> {
        vec![
            vec![0.0, 1.0, 2.0, 0.5, 3.0, 0.0],
            vec![0.0, 3.0, 2.0, 0.25, 1.0, 0.0],
            vec![0.0, 0.5, 1.0, 0.0, 3.0, 4.0],
        ]
    }

    #[test]
    fn folded_weights_equal_the_reference_and_sum_to_one() {
        for rule in [
            WeightRule::Average { power: 1.0 },
            WeightRule::Average { power: 2.5 },
            WeightRule::HardMax,
            WeightRule::SoftMax { scale: 1.0 / 0.3 },
        ] {
            let got = fold(rule, &energies(), 3);
            let want = weights_reference(rule, &energies());
            for (g, w) in got.iter().zip(&want) {
                for (a, b) in g.iter().zip(w) {
                    assert!((a - b).abs() < 1e-12, "{rule:?}: {got:?} vs {want:?}");
                }
            }
            for i in 0..6 {
                let s: f64 = got.iter().map(|w| w[i]).sum();
                assert!((s - 1.0).abs() < 1e-12, "{rule:?} pixel {i}: sum {s}");
            }
        }
    }

    #[test]
    fn a_huge_weight_power_tends_to_the_hard_max_instead_of_overflowing() {
        // Energies above and below 1: e^300 overflows f32 (and e^1e308 f64), and
        // 0.5^1e308 underflows, so a plain power gives NaN or equal weights.
        let energies = vec![vec![0.5, 3.0, 0.0], vec![0.25, 2.0, 0.0], vec![0.1, 2.5, 0.0]];
        for power in [100.0, 300.0, 1e308] {
            let rule = WeightRule::Average { power };
            let hard = fold(WeightRule::HardMax, &energies, 3);
            for got in [fold(rule, &energies, 3), weights_reference(rule, &energies)] {
                for (g, h) in got.iter().zip(&hard) {
                    for (a, b) in g.iter().zip(h) {
                        assert!((a - b).abs() < 1e-6, "power {power}: {got:?}");
                    }
                }
            }
            // The softmax too, its scale (power / temperature) overflowing.
            let soft = fold(WeightRule::SoftMax { scale: power / 1e-10 }, &energies, 3);
            assert_eq!(soft, hard, "softmax, power {power}");
            let mut acc = WeightAccumulator::<f32>::new(rule, 3, 1);
            let e32: Vec<Vec<f32>> =
                energies.iter().map(|e| e.iter().map(|&v| v as f32).collect()).collect();
            e32.iter().for_each(|e| acc.add(e));
            let mut w = vec![0.0f32; 3];
            acc.weights(&e32[0], &mut w);
            assert_eq!(w, [1.0, 1.0, 1.0 / 3.0], "f32, power {power}");
        }
    }

    #[test]
    fn hand_worked_weights() {
        let avg = fold(WeightRule::Average { power: 1.0 }, &energies(), 3);
        // Pixel 1: energies 1, 3, 0.5 -> 1/4.5, 3/4.5, 0.5/4.5.
        assert!((avg[1][1] - 3.0 / 4.5).abs() < 1e-15);
        // Pixel 0: no energy anywhere -> 1/3 each.
        assert!(avg.iter().all(|w| (w[0] - 1.0 / 3.0).abs() < 1e-15));
        let hard = fold(WeightRule::HardMax, &energies(), 3);
        // Pixel 2: frames 0 and 1 tie at 2 -> 1/2 each, frame 2 gets nothing.
        assert_eq!([hard[0][2], hard[1][2], hard[2][2]], [0.5, 0.5, 0.0]);
        // Pixel 4: frames 0 and 2 tie at 3.
        assert_eq!([hard[0][4], hard[1][4], hard[2][4]], [0.5, 0.0, 0.5]);
    }
}
