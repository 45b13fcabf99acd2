//! Demosaicing of a Bayer mosaic (placeholder; see the helper's work).

/// The 2x2 Bayer colour filter pattern, named by its top-left 2x2 block read row by row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bayer {
    /// R G / G B
    Rggb,
    /// B G / G R
    Bggr,
    /// G R / B G
    Grbg,
    /// G B / R G
    Gbrg,
}

impl Bayer {
    /// The colour (0 red, 1 green, 2 blue) of the photosite at `row`, `col`.
    pub fn color_at(self, row: usize, col: usize) -> usize {
        let block = match self {
            Bayer::Rggb => [0, 1, 1, 2],
            Bayer::Bggr => [2, 1, 1, 0],
            Bayer::Grbg => [1, 0, 2, 1],
            Bayer::Gbrg => [1, 2, 0, 1],
        };
        block[(row & 1) * 2 + (col & 1)]
    }
    /// placeholder
    pub fn from_cfa(block: [usize; 4]) -> Option<Self> {
        [Bayer::Rggb, Bayer::Bggr, Bayer::Grbg, Bayer::Gbrg]
            .into_iter()
            .find(|b| (0..4).all(|i| b.color_at(i / 2, i % 2) == block[i]))
    }
    /// placeholder
    pub fn name(self) -> &'static str {
        match self {
            Bayer::Rggb => "RGGB",
            Bayer::Bggr => "BGGR",
            Bayer::Grbg => "GRBG",
            Bayer::Gbrg => "GBRG",
        }
    }
}

/// Malvar-He-Cutler demosaic (placeholder).
pub fn demosaic_mhc(
    _mosaic: &[f32],
    _width: usize,
    _height: usize,
    _pattern: Bayer,
    _out: &mut [f32],
) {
    unimplemented!()
}

/// Bilinear demosaic (placeholder).
pub fn demosaic_bilinear(
    _mosaic: &[f32],
    _width: usize,
    _height: usize,
    _pattern: Bayer,
    _out: &mut [f32],
) {
    unimplemented!()
}
