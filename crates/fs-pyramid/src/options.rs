//! The options of [`crate::PyramidStack`], with the spec's defaults.

use fs_core::FloatType;

use crate::PyramidError;

/// The largest `gen_kernel` accepted (see [`PyramidOptions::gen_kernel`]).
pub const MAX_GEN_KERNEL: f64 = 0.7;

/// Options of the Laplacian-pyramid stacker (the seed's `PyramidStack` arguments).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyramidOptions {
    /// The coarsest level is about this many pixels on the image's short side:
    /// `levels = floor(log2(min(width, height) / pyramid_min_size))`. Default 32.
    pub pyramid_min_size: usize,
    /// Window (odd, square) of the local entropy and variance that fuse the
    /// coarsest level. Default 5.
    pub kernel_size: usize,
    /// The generating kernel's centre tap `a` in
    /// `[1/4 - a/2, 1/4, a, 1/4, 1/4 - a/2]`. Default 0.4; more than 0 and at most
    /// [`MAX_GEN_KERNEL`] (above, the negative outer taps make the fused pyramid
    /// overshoot: on the demo stack 0.75 clips 1.4 times as many samples as 0.4, 0.9
    /// three times as many).
    pub gen_kernel: f64,
    /// Float type of the computation (the seed's `float_type`). Default F32.
    pub float_type: FloatType,
    /// Noise guard of the finest detail level (not in the seed; 0 turns it off
    /// and leaves the spec's plain maximum-energy rule). Where the best frame's
    /// energy is at most `noise_guard` times the stack's noise energy, nothing stands
    /// out of the noise, and the coefficient is the mean over all frames instead of
    /// the best frame's (the maximum of several frames' noise is louder than any one
    /// frame's noise; the mean is quieter); from `3 * noise_guard` times on it is the
    /// best frame's, as the spec says, with a smooth ramp between (and a frame 5x
    /// louder than the others' mean there is kept whatever the noise). See
    /// [`crate::noise`]. Default 2.
    pub noise_guard: f64,
}

impl Default for PyramidOptions {
    fn default() -> Self {
        Self {
            pyramid_min_size: 32,
            kernel_size: 5,
            gen_kernel: 0.4,
            float_type: FloatType::F32,
            noise_guard: 2.0,
        }
    }
}

impl PyramidOptions {
    /// Checks every option; the error names the first bad one and its value.
    pub fn validate(&self) -> Result<(), PyramidError> {
        if !(4..=1 << 20).contains(&self.pyramid_min_size) {
            return Err(PyramidError::InvalidOption {
                name: "pyramid_min_size",
                reason: format!("must be 4 to 1048576, got {}", self.pyramid_min_size),
            });
        }
        if self.kernel_size.is_multiple_of(2) || !(1..=63).contains(&self.kernel_size) {
            return Err(PyramidError::InvalidOption {
                name: "kernel_size",
                reason: format!("must be odd, 1 to 63, got {}", self.kernel_size),
            });
        }
        if !(self.gen_kernel > 0.0 && self.gen_kernel <= MAX_GEN_KERNEL) {
            return Err(PyramidError::InvalidOption {
                name: "gen_kernel",
                reason: format!(
                    "must be more than 0 and at most {MAX_GEN_KERNEL} (larger values make the \
                     pyramid overshoot and clip pixels; 0.4 is the usual), got {}",
                    self.gen_kernel
                ),
            });
        }
        if !(0.0..=100.0).contains(&self.noise_guard) {
            return Err(PyramidError::InvalidOption {
                name: "noise_guard",
                reason: format!("must be 0 (off) to 100, got {}", self.noise_guard),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_and_validate_names_the_field() {
        let o = PyramidOptions::default();
        assert_eq!((o.pyramid_min_size, o.kernel_size, o.gen_kernel), (32, 5, 0.4));
        assert_eq!(o.float_type, FloatType::F32);
        assert!(o.validate().is_ok());
        let e = PyramidOptions { kernel_size: 4, ..o }.validate().unwrap_err();
        assert_eq!(e.to_string(), "invalid option `kernel_size`: must be odd, 1 to 63, got 4");
        let e = PyramidOptions { pyramid_min_size: 2, ..o }.validate().unwrap_err();
        assert!(e.to_string().contains("`pyramid_min_size`"), "{e}");
        let e = PyramidOptions { gen_kernel: f64::NAN, ..o }.validate().unwrap_err();
        assert!(e.to_string().contains("`gen_kernel`"), "{e}");
        // Past 0.7 the negative outer taps clip pixels: refused, saying why.
        assert!(PyramidOptions { gen_kernel: MAX_GEN_KERNEL, ..o }.validate().is_ok());
        let e = PyramidOptions { gen_kernel: 0.8, ..o }.validate().unwrap_err().to_string();
        assert!(e.contains("at most 0.7 (larger values make the pyramid overshoot"), "{e}");
        assert!(e.ends_with("got 0.8"), "{e}");
        assert_eq!(o.noise_guard, 2.0);
        let e = PyramidOptions { noise_guard: -1.0, ..o }.validate().unwrap_err();
        assert_eq!(e.to_string(), "invalid option `noise_guard`: must be 0 (off) to 100, got -1");
        let e = PyramidOptions { noise_guard: f64::INFINITY, ..o }.validate().unwrap_err();
        assert!(e.to_string().contains("`noise_guard`"), "{e}");
        assert!(PyramidOptions { noise_guard: 0.0, ..o }.validate().is_ok());
    }
}
