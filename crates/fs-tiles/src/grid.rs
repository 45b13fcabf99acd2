//! A grid of tiles over a plane, each with a halo of extra pixels around it for
//! kernels that read across tile edges.

use crate::{Result, TilesError};

/// A rectangle of pixels: columns `x0..x1`, rows `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// First column.
    pub x0: usize,
    /// First row.
    pub y0: usize,
    /// One past the last column.
    pub x1: usize,
    /// One past the last row.
    pub y1: usize,
}

impl Rect {
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.x1 - self.x0
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.y1 - self.y0
    }
}

/// One tile: the pixels it computes (`core`) and the pixels it reads (`halo`:
/// the core grown by the halo width on each side, clipped to the plane; kernels
/// handle the plane's own borders, reflect-101, themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Position in the grid: column, row.
    pub index: (usize, usize),
    /// The pixels this tile is responsible for; the cores partition the plane.
    pub core: Rect,
    /// The core plus the halo, clipped to the plane.
    pub halo: Rect,
}

/// Tiles of `tile_width x tile_height` over a `width x height` plane, row by row;
/// the last column and row of tiles are smaller where the size does not divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileGrid {
    width: usize,
    height: usize,
    tile_width: usize,
    tile_height: usize,
    halo: usize,
}

impl TileGrid {
    /// A grid; every size must be at least 1 (the halo may be 0).
    pub fn new(
        width: usize,
        height: usize,
        tile_width: usize,
        tile_height: usize,
        halo: usize,
    ) -> Result<Self> {
        if width == 0 || height == 0 || tile_width == 0 || tile_height == 0 {
            return Err(TilesError::Dimensions(format!(
                "a grid of {tile_width}x{tile_height} tiles over {width}x{height}"
            )));
        }
        Ok(Self { width, height, tile_width, tile_height, halo })
    }

    /// Full-width bands of `rows` rows: the tiles of a row-streaming kernel.
    pub fn bands(width: usize, height: usize, rows: usize, halo: usize) -> Result<Self> {
        Self::new(width, height, width.max(1), rows, halo)
    }

    /// Tiles across and down.
    pub fn counts(&self) -> (usize, usize) {
        (self.width.div_ceil(self.tile_width), self.height.div_ceil(self.tile_height))
    }

    /// Number of tiles.
    pub fn len(&self) -> usize {
        let (nx, ny) = self.counts();
        nx * ny
    }

    /// Whether there are no tiles (never: sizes are at least 1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tile number `i` (row-major).
    pub fn tile(&self, i: usize) -> Tile {
        let (nx, _) = self.counts();
        let (tx, ty) = (i % nx, i / nx);
        let (x0, y0) = (tx * self.tile_width, ty * self.tile_height);
        let core = Rect {
            x0,
            y0,
            x1: (x0 + self.tile_width).min(self.width),
            y1: (y0 + self.tile_height).min(self.height),
        };
        let halo = Rect {
            x0: core.x0.saturating_sub(self.halo),
            y0: core.y0.saturating_sub(self.halo),
            x1: (core.x1 + self.halo).min(self.width),
            y1: (core.y1 + self.halo).min(self.height),
        };
        Tile { index: (tx, ty), core, halo }
    }

    /// Every tile, row-major.
    pub fn tiles(&self) -> impl ExactSizeIterator<Item = Tile> + '_ {
        (0..self.len()).map(|i| self.tile(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_plane_exactly_once_with_clipped_halos() {
        for (w, h, tw, th, halo) in
            [(10, 7, 4, 3, 2), (5, 5, 5, 5, 1), (33, 1, 8, 8, 4), (1, 9, 2, 2, 0)]
        {
            let g = TileGrid::new(w, h, tw, th, halo).unwrap();
            let mut hits = vec![0; w * h];
            for t in g.tiles() {
                for y in t.core.y0..t.core.y1 {
                    for x in t.core.x0..t.core.x1 {
                        hits[y * w + x] += 1;
                    }
                }
                // The halo is the core grown by `halo`, clipped at the plane's edges.
                assert_eq!(t.halo.x0, t.core.x0.saturating_sub(halo));
                assert_eq!(t.halo.y1, (t.core.y1 + halo).min(h));
                assert!(t.halo.x1 <= w && t.halo.y1 <= h);
            }
            assert!(hits.iter().all(|&n| n == 1), "{w}x{h} by {tw}x{th}");
        }
    }

    #[test]
    fn a_grid_that_does_not_divide_has_short_last_tiles() {
        let g = TileGrid::new(10, 7, 4, 3, 2).unwrap();
        assert_eq!(g.counts(), (3, 3));
        assert_eq!(g.len(), 9);
        let last = g.tile(8);
        assert_eq!(last.index, (2, 2));
        assert_eq!(last.core, Rect { x0: 8, y0: 6, x1: 10, y1: 7 });
        assert_eq!(last.halo, Rect { x0: 6, y0: 4, x1: 10, y1: 7 });
        let mid = g.tile(4);
        assert_eq!(mid.core, Rect { x0: 4, y0: 3, x1: 8, y1: 6 });
        assert_eq!(mid.halo, Rect { x0: 2, y0: 1, x1: 10, y1: 7 });
        assert_eq!((mid.core.width(), mid.halo.height()), (4, 6));
        let b = TileGrid::bands(100, 10, 4, 2).unwrap();
        assert_eq!(b.counts(), (1, 3));
        assert_eq!(b.tile(1).halo, Rect { x0: 0, y0: 2, x1: 100, y1: 10 });
        assert!(TileGrid::new(4, 4, 0, 2, 0).is_err());
    }
}
