//! Camera RAW frames: decoding (through [rawler](https://crates.io/crates/rawler), behind
//! the cargo feature `raw`) and development in linear light.
//!
//! A RAW frame is developed into a 16-bit sRGB frame (with the sRGB ICC profile) as it is
//! read, so alignment and every stacker see ordinary frames. The development, in order:
//!
//! 1. the sensor's black and white levels (per CFA position) map the samples to 0..=1,
//!    the crop to the sensor's active area applied;
//! 2. one white balance for the whole stack ([`Develop`]): the gains of the reference
//!    frame's as-shot white balance by default, or `auto` (grey world on the reference
//!    frame), or gains given by the user; the gains are scaled so the smallest is 1 and
//!    the balanced values clipped at 1, so blown highlights stay white;
//! 3. the balanced mosaic is sRGB-encoded and demosaiced there with Malvar-He-Cutler
//!    ([`demosaic_mhc`]): interpolating encoded values keeps its gradient correction from
//!    overshooting in the shadows, which shows once the result is encoded (on linear
//!    values it loses about 2 dB to LibRaw's AHD after stacking; encoded, it beats it);
//! 4. back in linear light the camera's colour matrix (DNG ColorMatrix, XYZ to camera,
//!    turned into camera to linear sRGB, rows normalised so white stays white) gives
//!    linear sRGB, clipped to 0..=1, sRGB-encoded and rounded to 16 bits.
//!
//! The exposure mapping is the same for every frame: no per-frame auto-brightness (the
//! flicker ShineStacker's RAW stacks show through rawpy's default).
//!
//! A [`Develop`] is resolved once per stack ([`Develop::for_stack`]) and handed to every
//! read ([`crate::read_frame_with`], [`crate::PathFrames::with_develop`],
//! [`crate::DecodeAhead::with_develop`]); [`crate::read_frame`] develops a RAW file alone
//! with its own as-shot white balance.

pub mod colour;
pub mod demosaic;
#[cfg(feature = "raw")]
mod develop;

use std::fmt;
use std::path::{Path, PathBuf};

pub use demosaic::{Bayer, demosaic_bilinear, demosaic_mhc};
#[cfg(feature = "raw")]
pub use develop::{RawDescription, describe};
#[cfg(feature = "raw")]
pub(crate) use develop::{linear_dng_samples, read_raw, read_raw_info};

use crate::{CoreError, Result};

/// File extensions (lower case) read as camera RAW: the major makers' formats and DNG.
pub const RAW_EXTENSIONS: &[&str] = &[
    "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "raf", "orf", "ori", "rw2", "rwl", "pef",
    "srw", "3fr", "fff", "erf", "iiq", "kdc", "dcr", "mef", "mos", "mrw", "x3f",
];

/// Whether `path` names a camera RAW file (by its extension, case-insensitive).
pub fn is_raw_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| RAW_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Whether this build reads RAW files (the cargo feature `raw`).
pub const fn supported() -> bool {
    cfg!(feature = "raw")
}

/// How a RAW stack is white-balanced (`--white-balance`, job key `white_balance`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum WhiteBalance {
    /// As shot, taken from the reference frame (the default).
    #[default]
    AsShot,
    /// Grey world on the reference frame: gains that make the mean of each colour equal
    /// (clipped photosites left out).
    Auto,
    /// These gains for red, green and blue, applied to the camera's raw colours.
    Gains([f32; 3]),
}

impl WhiteBalance {
    /// Parses `as-shot`, `auto` or three positive gains `R,G,B`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: String| CoreError::InvalidOption { name: "white_balance", reason };
        match text.trim() {
            "as-shot" | "as_shot" => Ok(Self::AsShot),
            "auto" => Ok(Self::Auto),
            list => {
                let parts: Vec<&str> = list.split(',').map(str::trim).collect();
                let gains: Vec<f32> = parts.iter().filter_map(|p| p.parse::<f32>().ok()).collect();
                if parts.len() != 3 || gains.len() != 3 {
                    return Err(bad(format!(
                        "`{text}` is not as-shot, auto or three gains R,G,B (e.g. 2.1,1,1.6)"
                    )));
                }
                if gains.iter().any(|g| !g.is_finite() || *g <= 0.0 || *g > 64.0) {
                    return Err(bad(format!("gains must be in (0, 64], got `{text}`")));
                }
                Ok(Self::Gains([gains[0], gains[1], gains[2]]))
            }
        }
    }
}

impl fmt::Display for WhiteBalance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AsShot => f.write_str("as-shot"),
            Self::Auto => f.write_str("auto"),
            Self::Gains([r, g, b]) => write!(f, "{r},{g},{b}"),
        }
    }
}

/// The development of a stack's RAW frames, resolved once from its reference frame so
/// that every frame gets the same mapping. The default develops each file with its own
/// as-shot white balance (a single file read alone).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Develop {
    /// White-balance gains for the camera's red, green and blue; `None`: each file's own.
    pub gains: Option<[f32; 3]>,
    /// Make and model of the stack's camera: a RAW frame from another camera is an error.
    pub camera: Option<String>,
}

impl Develop {
    /// The development of a stack: refuses a stack that mixes RAW and other files, and
    /// resolves `white_balance` on the frame `reference`. A stack without RAW files gets
    /// the default (nothing to develop).
    pub fn for_stack(
        paths: &[PathBuf],
        reference: usize,
        white_balance: WhiteBalance,
    ) -> Result<Self> {
        let Some(reference_path) = paths.get(reference.min(paths.len().saturating_sub(1))) else {
            return Ok(Self::default());
        };
        check_one_kind(paths, reference)?;
        if !is_raw_path(reference_path) {
            return Ok(Self::default());
        }
        Self::resolve(reference_path, white_balance)
    }

    #[cfg(feature = "raw")]
    fn resolve(reference: &Path, white_balance: WhiteBalance) -> Result<Self> {
        develop::resolve(reference, white_balance)
    }

    #[cfg(not(feature = "raw"))]
    fn resolve(reference: &Path, _white_balance: WhiteBalance) -> Result<Self> {
        Err(not_built(reference))
    }
}

/// Refuses a stack that mixes camera RAW and other files, naming the first file whose
/// kind differs from that of frame `reference`.
pub fn check_one_kind(paths: &[PathBuf], reference: usize) -> Result<()> {
    let Some(reference_path) = paths.get(reference.min(paths.len().saturating_sub(1))) else {
        return Ok(());
    };
    let raw = is_raw_path(reference_path);
    let Some(odd) = paths.iter().find(|p| is_raw_path(p) != raw) else { return Ok(()) };
    let (this, other) = if raw { ("not a RAW file", "RAW") } else { ("a RAW file", "non-RAW") };
    Err(CoreError::Unsupported {
        path: odd.clone(),
        what: format!(
            "{this}, in a stack of {other} frames ({}); stack RAW and other files separately",
            reference_path.display()
        ),
    })
}

/// The error for a RAW file in a build without the `raw` feature.
#[cfg_attr(feature = "raw", allow(dead_code))]
pub(crate) fn not_built(path: &Path) -> CoreError {
    CoreError::Unsupported {
        path: path.into(),
        what: "camera RAW, and this build of fstack has no RAW support (cargo feature `raw`)"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_balance_parses_its_three_forms_and_names_bad_input() {
        assert_eq!(WhiteBalance::parse("as-shot").unwrap(), WhiteBalance::AsShot);
        assert_eq!(WhiteBalance::parse("auto").unwrap(), WhiteBalance::Auto);
        assert_eq!(WhiteBalance::parse("2, 1,1.5").unwrap(), WhiteBalance::Gains([2.0, 1.0, 1.5]));
        let e = WhiteBalance::parse("2,1").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid option `white_balance`: `2,1` is not as-shot, auto or three gains R,G,B \
             (e.g. 2.1,1,1.6)"
        );
        let e = WhiteBalance::parse("2,0,1").unwrap_err().to_string();
        assert_eq!(e, "invalid option `white_balance`: gains must be in (0, 64], got `2,0,1`");
        assert_eq!(WhiteBalance::Gains([2.0, 1.0, 1.5]).to_string(), "2,1,1.5");
    }

    #[test]
    fn raw_files_are_known_by_extension() {
        assert!(is_raw_path(Path::new("a/IMG_0001.CR2")));
        assert!(is_raw_path(Path::new("x.nef")));
        assert!(is_raw_path(Path::new("x.Dng")));
        assert!(!is_raw_path(Path::new("x.tif")));
        assert!(!is_raw_path(Path::new("dng")));
    }

    #[test]
    fn a_stack_mixing_raw_and_other_files_is_refused_naming_the_odd_file() {
        let paths: Vec<PathBuf> =
            ["a/1.nef", "a/2.jpg", "a/3.nef"].iter().map(PathBuf::from).collect();
        let e = Develop::for_stack(&paths, 0, WhiteBalance::AsShot).unwrap_err().to_string();
        assert_eq!(
            e,
            "a/2.jpg: unsupported image format: not a RAW file, in a stack of RAW frames \
             (a/1.nef); stack RAW and other files separately"
        );
        let e = Develop::for_stack(&paths, 1, WhiteBalance::AsShot).unwrap_err().to_string();
        assert!(
            e.starts_with("a/1.nef: unsupported image format: a RAW file, in a stack of non-RAW"),
            "{e}"
        );
        let plain: Vec<PathBuf> = ["1.jpg", "2.jpg"].iter().map(PathBuf::from).collect();
        assert_eq!(Develop::for_stack(&plain, 1, WhiteBalance::Auto).unwrap(), Develop::default());
    }

    #[cfg(feature = "raw")]
    #[test]
    fn every_raw_extension_is_one_rawler_reads() {
        let known = rawler::decoders::supported_extensions();
        for ext in RAW_EXTENSIONS {
            assert!(known.contains(&ext.to_ascii_uppercase().as_str()), "{ext}");
        }
    }
}
