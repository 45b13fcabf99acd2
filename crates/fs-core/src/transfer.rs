//! The sRGB transfer curve: stored (display) values to linear light and back.
//!
//! Defocus, partial coverage and every physical mix of light happen in linear light;
//! stored 8- and 16-bit samples are (almost always) sRGB-encoded. Blending frames in
//! linear light keeps bright objects from spreading a glow into dark surroundings.
//! [`srgb_decode_table`] turns every stored sample value into linear light by table
//! look-up; [`SrgbEncoder`] goes back by an interpolated table (error below 1e-7,
//! a twentieth of a 16-bit step; `powf` per sample is several times slower).

/// Display value (0..=1) to linear light (0..=1), exact.
pub fn srgb_to_linear(v: f64) -> f64 {
    let v = v.clamp(0.0, 1.0);
    if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
}

/// Linear light (0..=1) to display value (0..=1), exact.
pub fn linear_to_srgb(v: f64) -> f64 {
    let v = v.clamp(0.0, 1.0);
    if v <= 0.003_130_8 { v * 12.92 } else { 1.055 * v.powf(1.0 / 2.4) - 0.055 }
}

/// Linear light of every stored value `0..=max` (`max + 1` entries; 255 or 65535).
pub fn srgb_decode_table(max: u32) -> Vec<f32> {
    let m = f64::from(max);
    (0..=max).map(|i| srgb_to_linear(f64::from(i) / m) as f32).collect()
}

/// Linear light to display value by a 65537-entry table, linearly interpolated.
#[derive(Debug, Clone)]
pub struct SrgbEncoder {
    table: Vec<f32>,
}

impl Default for SrgbEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SrgbEncoder {
    /// Builds the table (256 KiB; once per use, not per pixel).
    pub fn new() -> Self {
        let table = (0..=65536).map(|i| linear_to_srgb(f64::from(i) / 65536.0) as f32).collect();
        Self { table }
    }

    /// The display value (0..=1) of `linear` (clamped to 0..=1; NaN gives 0).
    #[inline]
    pub fn encode(&self, linear: f32) -> f32 {
        let t = if linear > 0.0 { linear.min(1.0) * 65536.0 } else { 0.0 };
        // i32 casts: cheaper than the saturating unsigned ones on x86-64.
        let i = (t as i32).min(65535) as usize;
        let (a, b) = (self.table[i], self.table[i + 1]);
        a + (b - a) * (t - i as f32)
    }
}

/// Display values (0..=1, any f32, not only stored levels: a demosaic's output) to
/// linear light by a 4097-entry table, linearly interpolated (error below a 16-bit
/// step); [`srgb_decode_table`] is the exact look-up for stored 8/16-bit samples.
#[derive(Debug, Clone)]
pub struct SrgbDecoder {
    table: Vec<f32>,
}

impl Default for SrgbDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SrgbDecoder {
    /// Builds the table (16 KiB; once per use, not per pixel).
    pub fn new() -> Self {
        let table = (0..=4096).map(|i| srgb_to_linear(f64::from(i) / 4096.0) as f32).collect();
        Self { table }
    }

    /// The linear light (0..=1) of display value `v` (clamped to 0..=1; NaN gives 0).
    #[inline]
    pub fn decode(&self, v: f32) -> f32 {
        let t = if v > 0.0 { v.min(1.0) * 4096.0 } else { 0.0 };
        let i = (t as i32).min(4095) as usize;
        let (a, b) = (self.table[i], self.table[i + 1]);
        a + (b - a) * (t - i as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoder_follows_the_curve_within_a_16_bit_step() {
        let d = SrgbDecoder::new();
        for i in 0..=10_000 {
            let v = f64::from(i) / 10_000.0;
            let err = (f64::from(d.decode(v as f32)) - srgb_to_linear(v)).abs();
            assert!(err < 1.0 / 65535.0, "{v}: {err}");
        }
        assert_eq!(d.decode(-0.5), 0.0);
        assert_eq!(d.decode(1.5), 1.0);
    }

    #[test]
    fn curve_round_trips_and_hits_known_points() {
        assert_eq!(srgb_to_linear(0.0), 0.0);
        assert_eq!(srgb_to_linear(1.0), 1.0);
        // Mid-grey 0.5 is 21.4 % linear light.
        assert!((srgb_to_linear(0.5) - 0.214_041).abs() < 1e-6);
        for i in 0..=100 {
            let v = f64::from(i) / 100.0;
            assert!((linear_to_srgb(srgb_to_linear(v)) - v).abs() < 1e-12);
        }
    }

    #[test]
    fn encoder_matches_the_exact_curve_within_a_twentieth_of_a_16_bit_step() {
        let enc = SrgbEncoder::new();
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let v = f64::from(i) / 200_000.0;
            worst = worst.max((f64::from(enc.encode(v as f32)) - linear_to_srgb(v)).abs());
        }
        assert!(worst < 0.05 / 65535.0, "worst error {worst}");
        assert_eq!(enc.encode(-1.0), 0.0);
        assert_eq!(enc.encode(f32::NAN), 0.0);
        assert_eq!(enc.encode(2.0), 1.0);
    }

    #[test]
    fn decode_table_has_one_entry_per_value() {
        let t = srgb_decode_table(255);
        assert_eq!(t.len(), 256);
        assert_eq!((t[0], t[255]), (0.0, 1.0));
        assert!((f64::from(t[128]) - srgb_to_linear(128.0 / 255.0)).abs() < 1e-7);
    }
}
