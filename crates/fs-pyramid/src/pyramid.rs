//! Gaussian and Laplacian pyramids of one plane, and their collapse.
//!
//! A [`Pyramid`] holds levels 0 (the finest, the input's size) to `n` (the
//! coarsest); each level is [`reduced_size`] of the one below. For a Laplacian
//! pyramid, level `i < n` is `G_i - expand(G_{i+1})` and level `n` is the Gaussian
//! `G_n`, so [`collapse`] (expand, add, from the top) gives the image back up to
//! float rounding.

use fs_core::{Float, Plane, PlaneMut};

use crate::PyramidError;
use crate::reduce::{expand_add, expand_sub, reduce_into, reduced_size};

/// The number of reduce steps for a `width x height` image:
/// `floor(log2(min(width, height) / min_size))`, and no more than keep every level
/// at least 4 pixels on its short side (0 for images smaller than `min_size`).
pub fn pyramid_levels(width: usize, height: usize, min_size: usize) -> usize {
    let short = width.min(height);
    let min_size = min_size.max(1);
    let (mut n, mut scaled) = (0, min_size);
    // floor(log2(short / min_size)) in integers: the largest n with min_size 2^n <= short.
    while scaled.checked_mul(2).is_some_and(|s| s <= short) {
        scaled *= 2;
        n += 1;
    }
    let (mut w, mut h) = (width, height);
    for level in 0..n {
        (w, h) = reduced_size(w, h);
        if w.min(h) < 4 {
            return level;
        }
    }
    n
}

/// The sizes of levels 0 to `levels` of a pyramid over a `width x height` plane.
pub fn level_sizes(width: usize, height: usize, levels: usize) -> Vec<(usize, usize)> {
    let mut sizes = vec![(width, height)];
    for _ in 0..levels {
        let &(w, h) = sizes.last().expect("non-empty");
        sizes.push(reduced_size(w, h));
    }
    sizes
}

/// A pyramid of one plane: levels from the finest (0) to the coarsest.
#[derive(Debug, Clone, PartialEq)]
pub struct Pyramid<T> {
    levels: Vec<(usize, usize, Vec<T>)>,
}

impl<T: Float> Pyramid<T> {
    /// A zero-filled pyramid with `levels` reduce steps over a `width x height` plane.
    pub fn zeros(width: usize, height: usize, levels: usize) -> Self {
        Self {
            levels: level_sizes(width, height, levels)
                .into_iter()
                .map(|(w, h)| (w, h, vec![T::zero(); w * h]))
                .collect(),
        }
    }

    /// A pyramid from its levels `(width, height, samples)`, finest first; each level
    /// must be [`reduced_size`] of the previous one and hold `width * height` samples.
    pub fn from_levels(levels: Vec<(usize, usize, Vec<T>)>) -> Result<Self, PyramidError> {
        if levels.is_empty() {
            return Err(fs_core::CoreError::Dimensions("a pyramid needs a level".into()).into());
        }
        for (i, (w, h, data)) in levels.iter().enumerate() {
            Plane::new(data, *w, *h)?;
            if i > 0 {
                let (pw, ph, _) = &levels[i - 1];
                if reduced_size(*pw, *ph) != (*w, *h) {
                    return Err(PyramidError::LevelSize {
                        what: "pyramid level",
                        expected: reduced_size(*pw, *ph),
                        found: (*w, *h),
                    });
                }
            }
        }
        Ok(Self { levels })
    }
}

impl<T> Pyramid<T> {
    /// Number of levels (reduce steps + 1).
    pub fn len(&self) -> usize {
        self.levels.len()
    }
    /// Always false: a pyramid has at least its finest level.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }
    /// `(width, height)` of level `i`.
    pub fn size(&self, i: usize) -> (usize, usize) {
        (self.levels[i].0, self.levels[i].1)
    }
    /// Level `i` as a view.
    pub fn level(&self, i: usize) -> Plane<'_, T> {
        let (w, h, data) = &self.levels[i];
        Plane::new(data, *w, *h).expect("level sizes checked at construction")
    }
    /// Level `i` as a mutable view.
    pub fn level_mut(&mut self, i: usize) -> PlaneMut<'_, T> {
        let (w, h, data) = &mut self.levels[i];
        PlaneMut::new(data, *w, *h).expect("level sizes checked at construction")
    }
    /// Levels `i` and `i + 1`: the first mutable, the second read-only.
    pub fn level_pair_mut(&mut self, i: usize) -> (PlaneMut<'_, T>, Plane<'_, T>) {
        let (lo, hi) = self.levels.split_at_mut(i + 1);
        let (w, h, fine) = &mut lo[i];
        let (cw, ch, coarse) = &hi[0];
        (
            PlaneMut::new(fine, *w, *h).expect("checked"),
            Plane::new(coarse, *cw, *ch).expect("checked"),
        )
    }
    /// The levels `(width, height, samples)`, finest first.
    pub fn into_levels(self) -> Vec<(usize, usize, Vec<T>)> {
        self.levels
    }
}

/// Fills levels 1.. of `pyramid` with successive reductions of its level 0.
pub fn fill_gaussian<T: Float>(
    pyramid: &mut Pyramid<T>,
    kernel: &[T; 5],
) -> Result<(), PyramidError> {
    for i in 1..pyramid.len() {
        let (lo, hi) = pyramid.levels.split_at_mut(i);
        let (w, h, fine) = &lo[i - 1];
        let (cw, ch, coarse) = &mut hi[0];
        reduce_into(Plane::new(fine, *w, *h)?, PlaneMut::new(coarse, *cw, *ch)?, kernel)?;
    }
    Ok(())
}

/// The Gaussian pyramid of `plane` with `levels` reduce steps (`levels + 1` levels).
pub fn gaussian_pyramid<T: Float>(
    plane: Plane<'_, T>,
    levels: usize,
    kernel: &[T; 5],
) -> Pyramid<T> {
    let mut p = Pyramid::zeros(plane.width(), plane.height(), levels);
    p.levels[0].2.copy_from_slice(plane.as_slice());
    fill_gaussian(&mut p, kernel).expect("sizes consistent by construction");
    p
}

/// Turns a Gaussian pyramid into the Laplacian one in place:
/// `L_i = G_i - expand(G_{i+1})` for every level but the top.
pub fn gaussian_to_laplacian<T: Float>(
    pyramid: &mut Pyramid<T>,
    kernel: &[T; 5],
) -> Result<(), PyramidError> {
    for i in 0..pyramid.len().saturating_sub(1) {
        let (fine, coarse) = pyramid.level_pair_mut(i);
        expand_sub(coarse, fine, kernel)?;
    }
    Ok(())
}

/// The Laplacian pyramid of `plane` with `levels` reduce steps: levels `0..levels`
/// hold `G_i - expand(G_{i+1})`, the top level the Gaussian `G_levels`.
pub fn laplacian_pyramid<T: Float>(
    plane: Plane<'_, T>,
    levels: usize,
    kernel: &[T; 5],
) -> Pyramid<T> {
    let mut p = gaussian_pyramid(plane, levels, kernel);
    gaussian_to_laplacian(&mut p, kernel).expect("sizes consistent by construction");
    p
}

/// Collapses a Laplacian pyramid in place, from the top: level `i` becomes
/// `expand(level i+1) + level i`. Level 0 then holds the image (not clipped).
pub fn collapse_in_place<T: Float>(
    pyramid: &mut Pyramid<T>,
    kernel: &[T; 5],
) -> Result<(), PyramidError> {
    for i in (0..pyramid.len().saturating_sub(1)).rev() {
        let (fine, coarse) = pyramid.level_pair_mut(i);
        expand_add(coarse, fine, kernel)?;
    }
    Ok(())
}

/// Collapses a Laplacian pyramid into the image it represents (level 0's size, not
/// clipped).
pub fn collapse<T: Float>(mut pyramid: Pyramid<T>, kernel: &[T; 5]) -> Vec<T> {
    collapse_in_place(&mut pyramid, kernel).expect("sizes consistent by construction");
    pyramid.levels.swap_remove(0).2
}

#[cfg(test)]
mod tests {
    use fs_core::generating_kernel;

    use super::*;

    #[test]
    fn level_count_follows_the_spec_and_the_4_pixel_floor() {
        // floor(log2(1300 / 32)) = floor(5.34) = 5.
        assert_eq!(pyramid_levels(2000, 1300, 32), 5);
        assert_eq!(pyramid_levels(6000, 4000, 32), 6);
        assert_eq!(pyramid_levels(64, 64, 32), 1);
        assert_eq!(pyramid_levels(63, 200, 32), 0);
        assert_eq!(pyramid_levels(10, 10, 32), 0);
        // min_size 1 on 16 px: log2(16) = 4, but 16 -> 8 -> 4 -> 2 stops after 2.
        assert_eq!(pyramid_levels(16, 16, 1), 2);
        assert_eq!(level_sizes(9, 5, 2), vec![(9, 5), (5, 3), (3, 2)]);
    }

    #[test]
    fn collapse_of_a_laplacian_pyramid_gives_the_image_back() {
        let k = generating_kernel::<f64>(0.4);
        let (w, h) = (37, 23);
        let img: Vec<f64> = (0..w * h).map(|i| ((i * 7919) % 256) as f64).collect();
        let p = laplacian_pyramid(Plane::new(&img, w, h).unwrap(), 3, &k);
        assert_eq!(p.len(), 4);
        assert_eq!(p.size(3), (5, 3));
        let back = collapse(p, &k);
        let err = back.iter().zip(&img).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-10, "max error {err}");

        let k = generating_kernel::<f32>(0.4);
        let img32: Vec<f32> = img.iter().map(|&v| v as f32).collect();
        let p = laplacian_pyramid(Plane::new(&img32, w, h).unwrap(), 3, &k);
        let back = collapse(p, &k);
        let err = back.iter().zip(&img32).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(err < 1e-3, "max error {err}");
    }

    #[test]
    fn laplacian_of_a_constant_is_zero_but_the_top() {
        let k = generating_kernel::<f64>(0.4);
        let img = vec![42.0f64; 20 * 12];
        let p = laplacian_pyramid(Plane::new(&img, 20, 12).unwrap(), 2, &k);
        for i in 0..2 {
            assert!(p.level(i).as_slice().iter().all(|v| v.abs() < 1e-12), "level {i}");
        }
        assert!(p.level(2).as_slice().iter().all(|v| (v - 42.0).abs() < 1e-12));
        let g = gaussian_pyramid(Plane::new(&img, 20, 12).unwrap(), 2, &k);
        assert!(g.level(1).as_slice().iter().all(|v| (v - 42.0).abs() < 1e-12));
    }

    #[test]
    fn from_levels_checks_sizes() {
        assert!(Pyramid::from_levels(vec![(4, 4, vec![0.0f32; 16]), (2, 2, vec![0.0; 4])]).is_ok());
        let e =
            Pyramid::from_levels(vec![(4, 4, vec![0.0f32; 16]), (3, 2, vec![0.0; 6])]).unwrap_err();
        assert_eq!(e.to_string(), "pyramid level: level size should be 2x2, found 3x2");
    }
}
