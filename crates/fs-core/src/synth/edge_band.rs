//! The edge band: the pixels near a depth step, where a defocused side spills over the
//! other and stackers differ most (halos, glow, lost edges).
//!
//! The rule (what [`super::SynthStack::edge_band_mask`] documents): two 4-neighbours
//! (a pixel and the one to its right or below) form a *step* when their rendered depths
//! differ by more than the spacing of the focus depths, `1 / (frames - 1)`, i.e. their
//! in-focus frames are at least two apart; both pixels of the pair are step pixels. The
//! band is every pixel whose centre lies within `radius` pixels (Euclidean) of a step
//! pixel's centre. Smooth depth (the tilted plane, the ramped strip) has no steps.

use rayon::prelude::*;

/// The band mask of a depth-level map (`level`, `width * height`, row by row): steps
/// where neighbouring levels differ by more than `jump`, band `radius` pixels wide.
pub(crate) fn mask(
    level: &[u16],
    width: usize,
    height: usize,
    jump: u16,
    radius: f64,
) -> Vec<bool> {
    let (w, h) = (width, height);
    assert_eq!(level.len(), w * h, "a level per pixel");
    let far = |a: u16, b: u16| a.abs_diff(b) > jump;
    // Allocation: once per call (the step columns of each row).
    let steps: Vec<Vec<u32>> = (0..h)
        .into_par_iter()
        .map(|y| {
            let row = &level[y * w..(y + 1) * w];
            let up = (y > 0).then(|| &level[(y - 1) * w..y * w]);
            let down = (y + 1 < h).then(|| &level[(y + 1) * w..(y + 2) * w]);
            (0..w)
                .filter(|&x| {
                    let l = row[x];
                    (x > 0 && far(l, row[x - 1]))
                        || (x + 1 < w && far(l, row[x + 1]))
                        || up.is_some_and(|u| far(l, u[x]))
                        || down.is_some_and(|d| far(l, d[x]))
                })
                .map(|x| x as u32)
                .collect()
        })
        .collect();
    let r = if radius.is_finite() { radius.max(0.0) } else { 0.0 };
    let reach = r.floor() as usize;
    // Half-width of the disc's row `dy`: the largest `dx` with dx^2 + dy^2 <= r^2.
    let half: Vec<usize> = (0..=reach)
        .map(|dy| ((r * r - (dy * dy) as f64).max(0.0).sqrt() + 1e-9) as usize)
        .collect();
    let mut out = vec![false; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (dy, &hw) in half.iter().enumerate() {
            let above = y.checked_sub(dy);
            let below = (dy > 0 && y + dy < h).then_some(y + dy);
            for sy in [above, below].into_iter().flatten() {
                for &x in &steps[sy] {
                    let x = x as usize;
                    row[x.saturating_sub(hw)..(x + hw + 1).min(w)].fill(true);
                }
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 9x5 map with a step between columns 4 and 5.
    fn step_map(left: u16, right: u16) -> Vec<u16> {
        (0..45).map(|i| if i % 9 <= 4 { left } else { right }).collect()
    }

    #[test]
    fn a_vertical_step_gives_a_band_of_the_radius_on_both_sides() {
        let m = mask(&step_map(0, 3), 9, 5, 2, 2.0);
        // Step pixels: columns 4 and 5; within 2 px: columns 2..=7, every row.
        for y in 0..5 {
            let row: Vec<bool> = m[y * 9..(y + 1) * 9].to_vec();
            let want: Vec<bool> = (0..9).map(|x| (2..=7).contains(&x)).collect();
            assert_eq!(row, want, "row {y}");
        }
        // A jump of at most `jump` levels is not a step; radius 0 keeps the step pixels.
        assert!(mask(&step_map(0, 2), 9, 5, 2, 2.0).iter().all(|&b| !b));
        let thin = mask(&step_map(5, 0), 9, 5, 2, 0.0);
        assert_eq!(thin.iter().filter(|&&b| b).count(), 10);
    }

    #[test]
    fn the_band_around_a_single_pixel_is_a_disc() {
        let mut level = vec![0u16; 81];
        level[40] = 9; // the centre of a 9x9 map
        let m = mask(&level, 9, 9, 1, 1.5);
        // Step pixels: the centre and its 4 neighbours. 1.5 px reaches the diagonal
        // neighbours, not two across: the plus dilated by a 3x3 square, a 5x5 square
        // without its corners.
        let count = m.iter().filter(|&&b| b).count();
        let want: Vec<bool> = (0..81usize)
            .map(|i| {
                let (x, y) = ((i % 9) as i32, (i / 9) as i32);
                [(4, 4), (3, 4), (5, 4), (4, 3), (4, 5)]
                    .iter()
                    .any(|&(sx, sy)| ((x - sx).pow(2) + (y - sy).pow(2)) as f64 <= 2.25)
            })
            .collect();
        assert_eq!(m, want);
        assert_eq!(count, 21);
    }
}
