//! TOML job files: the same job as the Rust API, by the seed's option names.
//! The format is documented, with a complete example, in `docs/job-files.md`.
//!
//! Unknown keys are errors that name the key and its line; options that belong to
//! another action or another stacker are errors that say whose they are.

use std::path::{Path, PathBuf};

use fs_core::{FileFormat, FloatType};
use serde::Deserialize;

use crate::algorithms::{
    DepthMapOptions, Energy, FocusMapOptions, MapType, PyramidAutoOptions, PyramidOptions,
    PyramidTilesOptions, StackMode,
};
use crate::alignspec::{AlignSpec, BalanceSpec};
use crate::{
    ActionOptions, ByteSize, CombinedActions, FocusStack, FocusStackBunch, FrameStep, JobError,
    Result, StackJob, StackSpec, Stacker, StackerKind,
};

/// The whole file: one job.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobSpec {
    name: String,
    working_path: Option<PathBuf>,
    input_path: Option<PathBuf>,
    jpeg_quality: Option<u8>,
    #[serde(default, rename = "action")]
    actions: Vec<ActionSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum ActionType {
    FocusStack,
    FocusStackBunch,
    CombinedActions,
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum SubActionType {
    AlignFrames,
    BalanceFrames,
}

/// One `[[action.sub_actions]]` table of a CombinedActions: its `type` and options.
#[derive(Debug, Deserialize)]
struct SubActionSpec {
    #[serde(rename = "type")]
    kind: SubActionType,
    #[serde(flatten)]
    options: toml::Table,
}

/// One `[[action]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionSpec {
    #[serde(rename = "type")]
    kind: ActionType,
    name: String,
    #[serde(default, deserialize_with = "stacker_spec")]
    stacker: Option<StackerSpec>,
    input_path: Option<PathBuf>,
    output_path: Option<PathBuf>,
    working_path: Option<PathBuf>,
    plot_path: Option<PathBuf>,
    exif_path: Option<PathBuf>,
    denoise_amount: Option<f64>,
    sharpen_amount_percent: Option<f64>,
    sharpen_radius: Option<f64>,
    sharpen_threshold: Option<f64>,
    prefix: Option<String>,
    enabled: Option<bool>,
    scratch_output_dir: Option<bool>,
    delete_output_at_end: Option<bool>,
    output_format: Option<FormatName>,
    frames: Option<usize>,
    overlap: Option<usize>,
    #[serde(default, deserialize_with = "crate::alignspec::toggle")]
    align: Option<AlignSpec>,
    #[serde(default, deserialize_with = "crate::alignspec::toggle")]
    balance: Option<BalanceSpec>,
    crop: Option<bool>,
    white_balance: Option<String>,
    #[serde(default)]
    sub_actions: Vec<SubActionSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FormatName {
    #[serde(alias = "jpeg")]
    Jpg,
    Png,
    #[serde(alias = "tiff")]
    Tif,
    Dng,
}

impl From<FormatName> for FileFormat {
    fn from(f: FormatName) -> Self {
        match f {
            FormatName::Jpg => FileFormat::Jpeg,
            FormatName::Png => FileFormat::Png,
            FormatName::Tif => FileFormat::Tiff,
            FormatName::Dng => FileFormat::Dng,
        }
    }
}

/// The seed's `float_type` values, and the short forms.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) enum FloatTypeName {
    #[serde(rename = "FLOAT_32", alias = "f32", alias = "float-32")]
    F32,
    #[serde(rename = "FLOAT_64", alias = "f64", alias = "float-64")]
    F64,
}

impl From<FloatTypeName> for FloatType {
    fn from(f: FloatTypeName) -> Self {
        match f {
            FloatTypeName::F32 => FloatType::F32,
            FloatTypeName::F64 => FloatType::F64,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[allow(clippy::enum_variant_names)] // the seed's names
enum StackerType {
    FocusMapStack,
    PyramidStack,
    PyramidTilesStack,
    PyramidAutoStack,
    DepthMapStack,
}

impl From<StackerType> for StackerKind {
    fn from(t: StackerType) -> Self {
        match t {
            StackerType::FocusMapStack => StackerKind::FocusMapStack,
            StackerType::PyramidStack => StackerKind::PyramidStack,
            StackerType::PyramidTilesStack => StackerKind::PyramidTilesStack,
            StackerType::PyramidAutoStack => StackerKind::PyramidAutoStack,
            StackerType::DepthMapStack => StackerKind::DepthMapStack,
        }
    }
}

/// The `stacker` table: its `type` and every option any stacker has, by the seed's
/// names (FocusMapStack's by its own). Options of another stacker are refused when
/// converting; a table without `type` is the default stacker.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StackerSpec {
    #[serde(rename = "type")]
    kind: Option<StackerType>,
    // PyramidStack (kernel_size also DepthMapStack)
    pub pyramid_min_size: Option<usize>,
    pub kernel_size: Option<usize>,
    pub gen_kernel: Option<f64>,
    pub float_type: Option<FloatTypeName>,
    pub noise_guard: Option<f64>,
    // PyramidTilesStack
    pub tile_size: Option<usize>,
    pub n_tiled_layers: Option<usize>,
    pub max_threads: Option<usize>,
    pub chunk_submit: Option<bool>,
    pub temp_dir: Option<PathBuf>,
    // PyramidAutoStack
    pub mode: Option<String>,
    pub memory_limit: Option<ByteSize>,
    // DepthMapStack
    pub map_type: Option<String>,
    pub energy: Option<String>,
    pub blur_size: Option<usize>,
    pub weight_power: Option<f64>,
    pub energy_smooth_size: Option<usize>,
    pub energy_sigma_color: Option<f64>,
    pub energy_sigma_space: Option<f64>,
    pub pyramid_levels: Option<usize>,
    pub pyramid_smooth_size: Option<usize>,
    pub temperature: Option<f64>,
    pub plot_depth_map: Option<bool>,
    // FocusMapStack
    pub focus_sigma: Option<f64>,
    pub consistency: Option<usize>,
    pub confidence_ratio: Option<f64>,
    pub flat_average: Option<usize>,
    pub decision_channel: Option<usize>,
    pub linear_blend: Option<bool>,
    pub depth_map: Option<bool>,
    pub confidence_map: Option<bool>,
}

impl StackerSpec {
    /// A spec for `kind` with no options set.
    pub(crate) fn of_kind(kind: StackerKind) -> Self {
        let kind = match kind {
            StackerKind::FocusMapStack => StackerType::FocusMapStack,
            StackerKind::PyramidStack => StackerType::PyramidStack,
            StackerKind::PyramidTilesStack => StackerType::PyramidTilesStack,
            StackerKind::PyramidAutoStack => StackerType::PyramidAutoStack,
            StackerKind::DepthMapStack => StackerType::DepthMapStack,
        };
        Self { kind: Some(kind), ..Self::default() }
    }

    /// The names of the options that are set.
    fn given(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut add = |set: bool, name| {
            if set {
                out.push(name);
            }
        };
        add(self.pyramid_min_size.is_some(), "pyramid_min_size");
        add(self.kernel_size.is_some(), "kernel_size");
        add(self.gen_kernel.is_some(), "gen_kernel");
        add(self.float_type.is_some(), "float_type");
        add(self.noise_guard.is_some(), "noise_guard");
        add(self.tile_size.is_some(), "tile_size");
        add(self.n_tiled_layers.is_some(), "n_tiled_layers");
        add(self.max_threads.is_some(), "max_threads");
        add(self.chunk_submit.is_some(), "chunk_submit");
        add(self.temp_dir.is_some(), "temp_dir");
        add(self.mode.is_some(), "mode");
        add(self.memory_limit.is_some(), "memory_limit");
        add(self.map_type.is_some(), "map_type");
        add(self.energy.is_some(), "energy");
        add(self.blur_size.is_some(), "blur_size");
        add(self.weight_power.is_some(), "weight_power");
        add(self.energy_smooth_size.is_some(), "energy_smooth_size");
        add(self.energy_sigma_color.is_some(), "energy_sigma_color");
        add(self.energy_sigma_space.is_some(), "energy_sigma_space");
        add(self.pyramid_levels.is_some(), "pyramid_levels");
        add(self.pyramid_smooth_size.is_some(), "pyramid_smooth_size");
        add(self.temperature.is_some(), "temperature");
        add(self.plot_depth_map.is_some(), "plot_depth_map");
        add(self.focus_sigma.is_some(), "focus_sigma");
        add(self.consistency.is_some(), "consistency");
        add(self.confidence_ratio.is_some(), "confidence_ratio");
        add(self.flat_average.is_some(), "flat_average");
        add(self.decision_channel.is_some(), "decision_channel");
        add(self.linear_blend.is_some(), "linear_blend");
        add(self.depth_map.is_some(), "depth_map");
        add(self.confidence_map.is_some(), "confidence_map");
        out
    }

    /// The stacker, or an error naming the action and the option.
    pub(crate) fn to_stacker(&self, action: &str) -> Result<Stacker> {
        // No `type`: the default stacker, as when the action names no stacker at all.
        let kind: StackerKind = self.kind.map_or_else(|| Stacker::default().kind(), Into::into);
        let allowed: &[&str] = match kind {
            StackerKind::FocusMapStack => &FOCUS_MAP,
            StackerKind::PyramidStack => &PYRAMID,
            StackerKind::PyramidTilesStack => &TILES,
            StackerKind::PyramidAutoStack => &AUTO,
            StackerKind::DepthMapStack => &DEPTH_MAP,
        };
        if let Some(other) = self.given().into_iter().find(|o| !allowed.contains(o)) {
            return Err(JobError::option(
                action,
                other,
                format!(
                    "is not an option of {} (its options: {})",
                    kind.name(),
                    allowed.join(", ")
                ),
            ));
        }
        let d = PyramidOptions::default();
        let pyramid = PyramidOptions {
            pyramid_min_size: self.pyramid_min_size.unwrap_or(d.pyramid_min_size),
            kernel_size: self.kernel_size.unwrap_or(d.kernel_size),
            gen_kernel: self.gen_kernel.unwrap_or(d.gen_kernel),
            float_type: self.float_type.map(Into::into).unwrap_or(d.float_type),
            noise_guard: self.noise_guard.unwrap_or(d.noise_guard),
        };
        let t = PyramidTilesOptions::default();
        let tiles = PyramidTilesOptions {
            pyramid,
            tile_size: self.tile_size.unwrap_or(t.tile_size),
            n_tiled_layers: self.n_tiled_layers.unwrap_or(t.n_tiled_layers),
            max_threads: self.max_threads.unwrap_or(t.max_threads),
            chunk_submit: self.chunk_submit.unwrap_or(t.chunk_submit),
            temp_dir: self.temp_dir.clone(),
        };
        Ok(match kind {
            StackerKind::FocusMapStack => {
                let d = FocusMapOptions::default();
                Stacker::FocusMap(FocusMapOptions {
                    focus_sigma: self.focus_sigma.unwrap_or(d.focus_sigma),
                    consistency: self.consistency.unwrap_or(d.consistency),
                    confidence_ratio: self.confidence_ratio.unwrap_or(d.confidence_ratio),
                    flat_average: self.flat_average.unwrap_or(d.flat_average),
                    linear_blend: self.linear_blend.unwrap_or(d.linear_blend),
                    decision_channel: self.decision_channel.or(d.decision_channel),
                    depth_map: self.depth_map.unwrap_or(d.depth_map),
                    confidence_map: self.confidence_map.unwrap_or(d.confidence_map),
                    memory_limit: self.memory_limit.map_or(d.memory_limit, |b| b.0),
                })
            }
            StackerKind::PyramidStack => Stacker::Pyramid(pyramid),
            StackerKind::PyramidTilesStack => Stacker::Tiles(tiles),
            StackerKind::PyramidAutoStack => {
                let a = PyramidAutoOptions::default();
                let mode = match &self.mode {
                    None => a.mode,
                    Some(m) => m.parse::<StackMode>().map_err(|_| {
                        JobError::option(
                            action,
                            "mode",
                            format!("must be auto, memory or tiled, got {m:?}"),
                        )
                    })?,
                };
                Stacker::Auto(PyramidAutoOptions {
                    tiles,
                    mode,
                    memory_limit: self.memory_limit.map_or(a.memory_limit, |b| b.0),
                })
            }
            StackerKind::DepthMapStack => {
                let d = DepthMapOptions::default();
                let map_type = match &self.map_type {
                    None => d.map_type,
                    Some(m) => parse_map_type(m).ok_or_else(|| {
                        JobError::option(
                            action,
                            "map_type",
                            format!("must be \"average\" or \"max\" (or DM_MAP_*), got {m:?}"),
                        )
                    })?,
                };
                let energy = match &self.energy {
                    None => d.energy,
                    Some(e) => parse_energy(e).ok_or_else(|| {
                        JobError::option(
                            action,
                            "energy",
                            format!(
                                "must be tenengrad, laplacian, mod_laplacian, sobel or \
                                 variance (or DM_ENERGY_*), got {e:?}"
                            ),
                        )
                    })?,
                };
                Stacker::DepthMap(DepthMapOptions {
                    map_type,
                    energy,
                    kernel_size: self.kernel_size.unwrap_or(d.kernel_size),
                    blur_size: self.blur_size.unwrap_or(d.blur_size),
                    weight_power: self.weight_power.unwrap_or(d.weight_power),
                    energy_smooth_size: self.energy_smooth_size.unwrap_or(d.energy_smooth_size),
                    energy_sigma_color: self.energy_sigma_color.unwrap_or(d.energy_sigma_color),
                    energy_sigma_space: self.energy_sigma_space.unwrap_or(d.energy_sigma_space),
                    pyramid_levels: self.pyramid_levels.unwrap_or(d.pyramid_levels),
                    pyramid_smooth_size: self.pyramid_smooth_size.unwrap_or(d.pyramid_smooth_size),
                    temperature: self.temperature.unwrap_or(d.temperature),
                    plot_depth_map: self.plot_depth_map.unwrap_or(d.plot_depth_map),
                    float_type: self.float_type.map(Into::into).unwrap_or(d.float_type),
                })
            }
        })
    }
}

/// `average` / `max`, also the seed's `DM_MAP_AVERAGE` / `DM_MAP_MAX` (any case).
pub(crate) fn parse_map_type(s: &str) -> Option<MapType> {
    let t = s.trim().to_ascii_lowercase();
    match t.strip_prefix("dm_map_").unwrap_or(&t) {
        "average" => Some(MapType::Average),
        "max" => Some(MapType::Max),
        _ => None,
    }
}

/// `tenengrad`, `laplacian`, `mod_laplacian` (also `modified_laplacian`), `sobel`,
/// `variance`, also the seed's `DM_ENERGY_*` names (any case, `_`/`-`/space alike).
pub(crate) fn parse_energy(s: &str) -> Option<Energy> {
    let t: String = s.trim().to_ascii_lowercase().replace(['_', '-', ' '], "");
    match t.strip_prefix("dmenergy").unwrap_or(&t) {
        "tenengrad" => Some(Energy::Tenengrad),
        "laplacian" => Some(Energy::Laplacian),
        "modlaplacian" | "modifiedlaplacian" => Some(Energy::ModLaplacian),
        "sobel" => Some(Energy::Sobel),
        "variance" => Some(Energy::Variance),
        _ => None,
    }
}

/// `stacker = "PyramidStack"` (defaults) or a table with `type` and options.
fn stacker_spec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<StackerSpec>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<StackerSpec>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a stacker name such as \"FocusMapStack\", or a table with `type`")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let kind = StackerType::deserialize(serde::de::value::StrDeserializer::<E>::new(v))?;
            Ok(Some(StackerSpec { kind: Some(kind), ..StackerSpec::default() }))
        }
        fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
            StackerSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(Visitor)
}

const FOCUS_MAP: [&str; 9] = [
    "focus_sigma",
    "consistency",
    "confidence_ratio",
    "flat_average",
    "decision_channel",
    "linear_blend",
    "depth_map",
    "confidence_map",
    "memory_limit",
];
const PYRAMID: [&str; 5] =
    ["pyramid_min_size", "kernel_size", "gen_kernel", "float_type", "noise_guard"];
const TILES: [&str; 10] = [
    "pyramid_min_size",
    "kernel_size",
    "gen_kernel",
    "float_type",
    "noise_guard",
    "tile_size",
    "n_tiled_layers",
    "max_threads",
    "chunk_submit",
    "temp_dir",
];
const AUTO: [&str; 12] = [
    "pyramid_min_size",
    "kernel_size",
    "gen_kernel",
    "float_type",
    "noise_guard",
    "tile_size",
    "n_tiled_layers",
    "max_threads",
    "chunk_submit",
    "temp_dir",
    "mode",
    "memory_limit",
];
const DEPTH_MAP: [&str; 13] = [
    "map_type",
    "energy",
    "kernel_size",
    "blur_size",
    "weight_power",
    "energy_smooth_size",
    "energy_sigma_color",
    "energy_sigma_space",
    "pyramid_levels",
    "pyramid_smooth_size",
    "temperature",
    "plot_depth_map",
    "float_type",
];

/// Parses a TOML job file's text. Relative `working_path`s (and the default, `.`)
/// are taken inside `base_dir`, normally the job file's folder. `origin` names the
/// file in error messages.
pub fn parse_job_toml(text: &str, base_dir: &Path, origin: &Path) -> Result<StackJob> {
    let spec: JobSpec = toml::from_str(text).map_err(|e| JobError::JobFile {
        path: origin.to_path_buf(),
        message: toml_message(text, &e),
    })?;
    job_of(spec, base_dir)
}

/// The keys of an `[[action]]` that act on the frames of one stack: what
/// [`parse_stack_options`] takes besides the stacker's own keys.
const FRAME_KEYS: [&str; 8] = [
    "white_balance",
    "align",
    "balance",
    "crop",
    "denoise_amount",
    "sharpen_amount_percent",
    "sharpen_radius",
    "sharpen_threshold",
];

/// A [`StackSpec`] from the options of one stack by the names of a job file: the
/// stacker by name (`FocusMapStack`, ..., as `type` in a job file), then one flat
/// table holding the frame keys of an `[[action]]` (`align`, `balance`, `crop`,
/// `denoise_amount`, `sharpen_*`, with the values a job file takes) and the stacker's
/// own keys (`pyramid_min_size`, `energy`, ...). Unknown keys, keys of another
/// stacker and values out of range are errors naming the key.
pub fn parse_stack_options(stacker: StackerKind, options: toml::Table) -> Result<StackSpec> {
    if let Some(key) = ["type", "name", "stacker"].into_iter().find(|k| options.contains_key(*k)) {
        return Err(JobError::option("stack", key, "is not an option of one stack"));
    }
    let spec = one_stack_job(stacker, options.clone()).map_err(|e| {
        // serde names the struct, not the key: find the key whose value is refused.
        let culprit = options.iter().find_map(|(key, value)| {
            let alone = toml::Table::from_iter([(key.clone(), value.clone())]);
            one_stack_job(stacker, alone).err().map(|e| (key.clone(), e))
        });
        match culprit {
            Some((key, e)) => JobError::option("stack", key, one_line(&e)),
            None => JobError::option("stack", "options", one_line(&e)),
        }
    })?;
    let mut job = job_of(spec, Path::new("."))?;
    let action = job.actions.pop().expect("one action");
    let stacker = action.stacker().cloned().unwrap_or_default();
    Ok(StackSpec { stacker, options: action.options().clone() })
}

/// A job of one `FocusStack` action holding `options` (frame keys on the action, the
/// rest on its stacker), as a job file would spell it.
fn one_stack_job(
    stacker: StackerKind,
    options: toml::Table,
) -> std::result::Result<JobSpec, toml::de::Error> {
    let mut action = toml::Table::new();
    let mut stacker_table = toml::Table::new();
    stacker_table.insert("type".into(), stacker.name().into());
    for (key, value) in options {
        if FRAME_KEYS.contains(&key.as_str()) {
            action.insert(key, value);
        } else {
            stacker_table.insert(key, value);
        }
    }
    action.insert("type".into(), "FocusStack".into());
    action.insert("name".into(), "stack".into());
    action.insert("stacker".into(), stacker_table.into());
    let mut job = toml::Table::new();
    job.insert("name".into(), "stack".into());
    job.insert("action".into(), toml::Value::Array(vec![action.into()]));
    job.try_into()
}

fn one_line(e: &toml::de::Error) -> String {
    e.message().trim().replace('\n', " ")
}

/// The job a parsed job file describes; relative working paths inside `base_dir`.
fn job_of(spec: JobSpec, base_dir: &Path) -> Result<StackJob> {
    let working =
        crate::paths::resolve(base_dir, spec.working_path.as_deref().unwrap_or(Path::new(".")));
    let mut job = StackJob::new(spec.name, working);
    job.input_path = spec.input_path;
    if let Some(q) = spec.jpeg_quality {
        job.jpeg_quality = q;
    }
    for a in spec.actions {
        let name = a.name.clone();
        let enabled = a.enabled.unwrap_or(true);
        let stacker =
            a.stacker.as_ref().map(|s| s.to_stacker(&name)).transpose()?.unwrap_or_default();
        let d = ActionOptions::default();
        let options = ActionOptions {
            input_path: a.input_path,
            output_path: a.output_path,
            working_path: a.working_path,
            plot_path: a.plot_path.unwrap_or(d.plot_path),
            exif_path: a.exif_path,
            denoise_amount: a.denoise_amount.unwrap_or(d.denoise_amount),
            sharpen_amount_percent: a.sharpen_amount_percent.unwrap_or(d.sharpen_amount_percent),
            sharpen_radius: a.sharpen_radius.unwrap_or(d.sharpen_radius),
            sharpen_threshold: a.sharpen_threshold.unwrap_or(d.sharpen_threshold),
            prefix: a.prefix.unwrap_or(d.prefix),
            enabled,
            scratch_output_dir: a.scratch_output_dir.unwrap_or(d.scratch_output_dir),
            delete_output_at_end: a.delete_output_at_end.unwrap_or(d.delete_output_at_end),
            output_format: a.output_format.map(Into::into),
            align: a.align.as_ref().map(|s| s.to_options(&name)).transpose()?,
            balance: a.balance.as_ref().map(|s| s.to_options(&name)).transpose()?,
            crop: a.crop.unwrap_or(d.crop),
            white_balance: match &a.white_balance {
                Some(text) => fs_core::WhiteBalance::parse(text).map_err(|e| match e {
                    fs_core::CoreError::InvalidOption { reason, .. } => {
                        JobError::option(&name, "white_balance", reason)
                    }
                    other => JobError::frames(&name, other),
                })?,
                None => d.white_balance,
            },
        };
        let stacking = !matches!(a.kind, ActionType::CombinedActions);
        if !stacking {
            if let Some(opt) = [
                ("stacker", a.stacker.is_some()),
                ("align", a.align.is_some()),
                ("balance", a.balance.is_some()),
                ("crop", a.crop.is_some()),
                ("frames", a.frames.is_some()),
                ("overlap", a.overlap.is_some()),
            ]
            .into_iter()
            .find_map(|(n, set)| set.then_some(n))
            {
                return Err(JobError::option(
                    &name,
                    opt,
                    "is not an option of CombinedActions (give AlignFrames / BalanceFrames \
                     sub_actions)",
                ));
            }
        } else if !a.sub_actions.is_empty() {
            return Err(JobError::option(
                &name,
                "sub_actions",
                "only CombinedActions has sub_actions; use align = {...} / balance = {...} \
                 to align in memory before stacking",
            ));
        }
        match a.kind {
            ActionType::FocusStack => {
                if let Some(opt) =
                    [("frames", a.frames.is_some()), ("overlap", a.overlap.is_some())]
                        .into_iter()
                        .find_map(|(n, set)| set.then_some(n))
                {
                    return Err(JobError::option(
                        &name,
                        opt,
                        "is an option of FocusStackBunch, not FocusStack",
                    ));
                }
                job.push_action(FocusStack::new(name, stacker).options(options));
            }
            ActionType::FocusStackBunch => {
                let mut b = FocusStackBunch::new(name, stacker).options(options);
                b.frames = a.frames.unwrap_or(b.frames);
                b.overlap = a.overlap.unwrap_or(b.overlap);
                job.push_action(b);
            }
            ActionType::CombinedActions => {
                let mut steps = Vec::with_capacity(a.sub_actions.len());
                for sub in a.sub_actions {
                    let step = |e: toml::de::Error| {
                        JobError::option(
                            &name,
                            "sub_actions",
                            format!("{:?}: {}", sub.kind, e.message().trim().replace('\n', " ")),
                        )
                    };
                    let table = sub.options.clone();
                    steps.push(match sub.kind {
                        SubActionType::AlignFrames => FrameStep::AlignFrames(
                            table.try_into::<AlignSpec>().map_err(step)?.to_options(&name)?,
                        ),
                        SubActionType::BalanceFrames => FrameStep::BalanceFrames(
                            table.try_into::<BalanceSpec>().map_err(step)?.to_options(&name)?,
                        ),
                    });
                }
                job.push_action(CombinedActions::new(name, steps).options(options));
            }
        }
    }
    for action in job.actions.iter().filter(|a| a.options().enabled) {
        action.validate()?;
    }
    Ok(job)
}

/// A one-line message: "line L, column C: what".
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let what = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            format!("line {line}, column {column}: {what}")
        }
        None => what,
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
