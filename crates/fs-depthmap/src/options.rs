//! The options of the depth-map stacker, with the spec's defaults and their checks.

use fs_core::FloatType;

use crate::error::{Result, invalid};

/// How per-pixel focus weights are made from the energies (the seed's `map_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum MapType {
    /// `DM_MAP_AVERAGE`: weights = energy / sum of energies (after `weight_power`).
    #[default]
    Average,
    /// `DM_MAP_MAX`: the frame with the highest energy (ties share the weight), or
    /// with `temperature > 0` a softmax of `(energy - max) / temperature`.
    Max,
}

/// The focus measure computed on each frame's luma (the seed's `energy`).
///
/// Luma is taken in the range 0..=1 (the sample value divided by 255 or 65535), so
/// energies, `temperature` and `energy_sigma_color` mean the same for 8- and 16-bit
/// stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Energy {
    /// `DM_ENERGY_TENENGRAD`: 3x3 Sobel `gx^2 + gy^2`, values at or below
    /// [`crate::TENENGRAD_THRESHOLD`] set to zero.
    #[default]
    Tenengrad,
    /// `DM_ENERGY_LAPLACIAN`: `|Laplacian|` with aperture `kernel_size`, after a
    /// Gaussian pre-blur of `blur_size`.
    Laplacian,
    /// `DM_ENERGY_MOD_LAPLACIAN`: the sum-modified Laplacian
    /// `|2I - I(x-s) - I(x+s)| + |2I - I(y-s) - I(y+s)|`, step `s = max(1, kernel_size / 2)`,
    /// after a Gaussian pre-blur of `blur_size`.
    ModLaplacian,
    /// `DM_ENERGY_SOBEL`: `|gx| + |gy|` of the 3x3 Sobel.
    Sobel,
    /// `DM_ENERGY_VARIANCE`: local variance in a 5x5 window.
    Variance,
}

/// Options of [`crate::DepthMapStack`]; `Default` gives the spec's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthMapOptions {
    /// Weight rule (`DM_MAP_AVERAGE` by default).
    pub map_type: MapType,
    /// Focus measure (`DM_ENERGY_TENENGRAD` by default).
    pub energy: Energy,
    /// Laplacian aperture (odd, 1..=31; default 5). Used by the Laplacian measures.
    pub kernel_size: usize,
    /// Gaussian pre-blur size (odd, 1..=255; default 5). Used by the Laplacian measures.
    pub blur_size: usize,
    /// Weights are raised to this power, then renormalised (> 0; default 1).
    pub weight_power: f64,
    /// Diameter of the bilateral filter on each energy map (0..=255; <= 1 is off; default 1).
    pub energy_smooth_size: usize,
    /// Range sigma of that bilateral filter, in energy units (> 0; default 0.8).
    pub energy_sigma_color: f64,
    /// Space sigma of that bilateral filter, in pixels (> 0; default 2).
    pub energy_sigma_space: f64,
    /// Number of pyramid levels of the blend, the full-size level included (1..=16; default 5).
    pub pyramid_levels: usize,
    /// Size of the Gaussian smoothing of each weight map before the blend (odd, 1..=255;
    /// 1 = off; default 1).
    pub pyramid_smooth_size: usize,
    /// Softmax temperature of `DM_MAP_MAX`, in energy units (>= 0; 0 = hard choice; default 0).
    pub temperature: f64,
    /// Whether to make the depth-map image (weighted mean frame index, 0..=255).
    pub plot_depth_map: bool,
    /// Internal float type (f32 by default).
    pub float_type: FloatType,
}

impl Default for DepthMapOptions {
    fn default() -> Self {
        Self {
            map_type: MapType::Average,
            energy: Energy::Tenengrad,
            kernel_size: 5,
            blur_size: 5,
            weight_power: 1.0,
            energy_smooth_size: 1,
            energy_sigma_color: 0.8,
            energy_sigma_space: 2.0,
            pyramid_levels: 5,
            pyramid_smooth_size: 1,
            temperature: 0.0,
            plot_depth_map: false,
            float_type: FloatType::F32,
        }
    }
}

fn odd_in(name: &'static str, v: usize, max: usize) -> Result<()> {
    if v % 2 == 1 && v <= max {
        Ok(())
    } else {
        Err(invalid(name, format!("must be odd and in 1..={max}, got {v}")))
    }
}

fn positive(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(invalid(name, format!("must be a finite number > 0, got {v}")))
    }
}

impl DepthMapOptions {
    /// Checks every option; the error names the first bad one and its allowed range.
    pub fn validate(&self) -> Result<()> {
        odd_in("kernel_size", self.kernel_size, 31)?;
        odd_in("blur_size", self.blur_size, 255)?;
        positive("weight_power", self.weight_power)?;
        if self.energy_smooth_size > 255 {
            return Err(invalid(
                "energy_smooth_size",
                format!("must be in 0..=255, got {}", self.energy_smooth_size),
            ));
        }
        positive("energy_sigma_color", self.energy_sigma_color)?;
        positive("energy_sigma_space", self.energy_sigma_space)?;
        if !(1..=16).contains(&self.pyramid_levels) {
            return Err(invalid(
                "pyramid_levels",
                format!("must be in 1..=16, got {}", self.pyramid_levels),
            ));
        }
        odd_in("pyramid_smooth_size", self.pyramid_smooth_size, 255)?;
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(invalid(
                "temperature",
                format!("must be a finite number >= 0, got {}", self.temperature),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_and_valid() {
        let o = DepthMapOptions::default();
        assert_eq!((o.map_type, o.energy), (MapType::Average, Energy::Tenengrad));
        assert_eq!((o.kernel_size, o.blur_size, o.energy_smooth_size), (5, 5, 1));
        assert_eq!((o.pyramid_levels, o.pyramid_smooth_size), (5, 1));
        assert_eq!((o.weight_power, o.energy_sigma_color, o.energy_sigma_space), (1.0, 0.8, 2.0));
        assert_eq!((o.temperature, o.plot_depth_map), (0.0, false));
        o.validate().unwrap();
    }
}
