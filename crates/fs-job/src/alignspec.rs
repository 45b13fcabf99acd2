//! The alignment and balance options of job files (`align = {...}`, `balance = {...}`,
//! `AlignFrames` / `BalanceFrames` sub-actions), by name, shared by the TOML job files
//! and the ShineStacker project loader.

use serde::Deserialize;

use crate::algorithms::{
    AlignOptions, BalanceChannel, BalanceOptions, BorderMode, Interpolation, OnFailure,
    ReferenceFrame, TransformKind,
};
use crate::{JobError, Result};

/// The options of alignment, every one optional (the defaults fill in).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlignSpec {
    pub transform: Option<String>,
    pub ref_idx: Option<i64>,
    pub step_process: Option<bool>,
    pub subsample_pixels: Option<usize>,
    pub max_features: Option<usize>,
    pub rans_threshold: Option<f64>,
    pub min_inliers: Option<usize>,
    pub refine: Option<bool>,
    pub max_scale_change: Option<f64>,
    pub max_rotation: Option<f64>,
    pub max_shift: Option<f64>,
    pub interpolation: Option<String>,
    pub border_mode: Option<String>,
    pub on_failure: Option<String>,
}

/// `intensity_interval = { min = .., max = .. }`, fractions of full scale.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntervalSpec {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// The options of balance, every one optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BalanceSpec {
    pub channel: Option<String>,
    pub intensity_interval: Option<IntervalSpec>,
    pub max_gain_change: Option<f64>,
    /// The reference when the action does not align (with alignment, align's).
    pub ref_idx: Option<i64>,
}

/// `ref_idx`: -1 (the seed family's middle frame) or an index.
fn parse_ref_idx(ref_idx: Option<i64>, action: &str) -> Result<Option<ReferenceFrame>> {
    match ref_idx {
        None => Ok(None),
        Some(-1) => Ok(Some(ReferenceFrame::Middle)),
        Some(i) if i >= 0 => Ok(Some(ReferenceFrame::Index(i as usize))),
        Some(i) => Err(bad(action, "ref_idx", format!("must be -1 (middle) or >= 0, got {i}"))),
    }
}

fn bad(action: &str, option: &str, reason: String) -> JobError {
    JobError::option(action, option, reason)
}

/// Parses a case-insensitive name with `_`, `-` and spaces alike, after stripping
/// any of `prefixes`.
fn key(s: &str, prefixes: &[&str]) -> String {
    let t: String = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    prefixes.iter().find_map(|p| t.strip_prefix(p)).map(str::to_string).unwrap_or(t)
}

impl AlignSpec {
    /// The options, or an error naming the action and the option.
    pub(crate) fn to_options(&self, action: &str) -> Result<AlignOptions> {
        let mut o = AlignOptions::default();
        if let Some(t) = &self.transform {
            o.transform = TransformKind::from_name(t).ok_or_else(|| {
                bad(
                    action,
                    "transform",
                    format!(
                        "must be similarity, affine or homography (or ALIGN_RIGID, \
                         ALIGN_HOMOGRAPHY), got {t:?}"
                    ),
                )
            })?;
        }
        if let Some(r) = parse_ref_idx(self.ref_idx, action)? {
            o.reference = r;
        }
        o.step_process = self.step_process.unwrap_or(o.step_process);
        o.subsample_pixels = self.subsample_pixels.unwrap_or(o.subsample_pixels);
        o.max_features = self.max_features.unwrap_or(o.max_features);
        o.rans_threshold = self.rans_threshold.unwrap_or(o.rans_threshold);
        o.min_inliers = self.min_inliers.unwrap_or(o.min_inliers);
        o.refine = self.refine.unwrap_or(o.refine);
        o.max_scale_change = self.max_scale_change.unwrap_or(o.max_scale_change);
        o.max_rotation = self.max_rotation.unwrap_or(o.max_rotation);
        o.max_shift = self.max_shift.unwrap_or(o.max_shift);
        if let Some(i) = &self.interpolation {
            o.interpolation = parse_interpolation(i).ok_or_else(|| {
                bad(action, "interpolation", format!("must be bilinear or bicubic, got {i:?}"))
            })?;
        }
        if let Some(b) = &self.border_mode {
            o.border_mode = parse_border(b).ok_or_else(|| {
                bad(
                    action,
                    "border_mode",
                    format!(
                        "must be replicate or invalid (or BORDER_REPLICATE, \
                         BORDER_REPLICATE_BLUR, BORDER_CONSTANT), got {b:?}"
                    ),
                )
            })?;
        }
        if let Some(f) = &self.on_failure {
            o.on_failure = parse_on_failure(f).ok_or_else(|| {
                bad(action, "on_failure", format!("must be recover, stop or skip, got {f:?}"))
            })?;
        }
        Ok(o)
    }
}

impl BalanceSpec {
    /// The options, or an error naming the action and the option.
    pub(crate) fn to_options(&self, action: &str) -> Result<BalanceOptions> {
        let mut o = BalanceOptions::default();
        if let Some(c) = &self.channel {
            o.channel = parse_channel(c).ok_or_else(|| {
                bad(
                    action,
                    "channel",
                    format!("must be rgb or luma (or BALANCE_RGB, BALANCE_LUMI), got {c:?}"),
                )
            })?;
        }
        if let Some(i) = &self.intensity_interval {
            o.intensity_min = i.min.unwrap_or(o.intensity_min);
            o.intensity_max = i.max.unwrap_or(o.intensity_max);
        }
        o.max_gain_change = self.max_gain_change.unwrap_or(o.max_gain_change);
        if let Some(r) = parse_ref_idx(self.ref_idx, action)? {
            o.reference = r;
        }
        Ok(o)
    }
}

pub(crate) fn parse_interpolation(s: &str) -> Option<Interpolation> {
    match key(s, &["inter_"]).as_str() {
        "bilinear" | "linear" => Some(Interpolation::Bilinear),
        "bicubic" | "cubic" => Some(Interpolation::Bicubic),
        _ => None,
    }
}

pub(crate) fn parse_border(s: &str) -> Option<BorderMode> {
    match key(s, &["border_"]).as_str() {
        "replicate" | "replicate_blur" => Some(BorderMode::Replicate),
        "invalid" | "constant" => Some(BorderMode::Invalid),
        _ => None,
    }
}

pub(crate) fn parse_on_failure(s: &str) -> Option<OnFailure> {
    match key(s, &[]).as_str() {
        "recover" | "predict" => Some(OnFailure::Recover),
        "stop" | "error" | "strict" => Some(OnFailure::Stop),
        "skip" => Some(OnFailure::Skip),
        _ => None,
    }
}

pub(crate) fn parse_channel(s: &str) -> Option<BalanceChannel> {
    match key(s, &["balance_"]).as_str() {
        "rgb" => Some(BalanceChannel::Rgb),
        "luma" | "lumi" => Some(BalanceChannel::Luma),
        _ => None,
    }
}

/// `align = true` (defaults), `false` (off), or a table of options.
pub(crate) fn toggle<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    struct Visitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de> + Default> serde::de::Visitor<'de> for Visitor<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("true, false, or a table of options")
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<Self::Value, E> {
            Ok(v.then(T::default))
        }
        fn visit_map<M: serde::de::MapAccess<'de>>(
            self,
            map: M,
        ) -> std::result::Result<Self::Value, M::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(Visitor(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_family_names_are_understood() {
        let a = AlignSpec {
            transform: Some("ALIGN_HOMOGRAPHY".into()),
            ref_idx: Some(-1),
            border_mode: Some("BORDER_REPLICATE_BLUR".into()),
            ..AlignSpec::default()
        }
        .to_options("a")
        .unwrap();
        assert_eq!(a.transform, TransformKind::Homography);
        assert_eq!(a.reference, ReferenceFrame::Middle);
        assert_eq!(a.border_mode, BorderMode::Replicate);
        let b = BalanceSpec { channel: Some("BALANCE_LUMI".into()), ..BalanceSpec::default() }
            .to_options("b")
            .unwrap();
        assert_eq!(b.channel, BalanceChannel::Luma);
    }

    #[test]
    fn bad_names_name_the_option() {
        let e = AlignSpec { transform: Some("warp".into()), ..AlignSpec::default() }
            .to_options("a")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`transform`") && e.contains("\"warp\""), "{e}");
        let e = AlignSpec { ref_idx: Some(-3), ..AlignSpec::default() }
            .to_options("a")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`ref_idx`"), "{e}");
        let e = BalanceSpec { channel: Some("hsv".into()), ..BalanceSpec::default() }
            .to_options("b")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`channel`"), "{e}");
    }
}
