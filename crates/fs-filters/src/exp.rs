//! A fast `exp` for non-positive arguments that the compiler can vectorise.
//!
//! `f32::exp` is a libm call, so a loop that computes one weight per pixel (the
//! NL-means and bilateral weights) stays scalar. This version is plain arithmetic
//! and bit operations: `e^a = 2^n * e^f` with `n` the nearest integer to
//! `a * log2(e)`, `f = a - n ln 2` (`|f| <= ln2 / 2`) and `e^f` from its degree-6
//! Taylor polynomial.
//! The relative error is below 3e-7 (about 2 ulp) over the whole range.

/// `e^a` for `a <= 0`, relative error < 3e-7. Arguments below -87 give a tiny
/// positive number (about 1e-38) instead of underflowing; positive arguments are
/// treated as 0 (giving 1). NaN gives NaN.
#[inline(always)]
pub(crate) fn exp_neg(a: f32) -> f32 {
    // 1.5 * 2^23: adding it rounds to the nearest integer in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    // ln 2 split Cody-Waite style: `n * LN2_HI` is exact for |n| <= 126.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let t = (a * std::f32::consts::LOG2_E).clamp(-126.0, 0.0);
    let shifted = t + ROUND;
    let n = shifted - ROUND;
    let f = (a.clamp(-87.3, 0.0) - n * LN2_HI) - n * LN2_LO;
    // e^f for |f| <= ln2 / 2, Horner form of the Taylor series to f^6.
    let p = 1.0
        + f * (1.0
            + f * (1.0 / 2.0
                + f * (1.0 / 6.0 + f * (1.0 / 24.0 + f * (1.0 / 120.0 + f * (1.0 / 720.0))))));
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let scale = f32::from_bits(((n_int + 127) as u32) << 23);
    p * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_exp_to_a_few_ulp() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let a = -(i as f32) * 87.0 / 200_000.0;
            let want = (a as f64).exp();
            let got = exp_neg(a) as f64;
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp_neg(0.0), 1.0);
        assert_eq!(exp_neg(1.0), 1.0);
        assert!(exp_neg(-1000.0) > 0.0 && exp_neg(-1000.0) < 1e-37);
        assert!(exp_neg(f32::NAN).is_nan());
    }
}
