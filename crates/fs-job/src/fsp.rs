//! ShineStacker project files (`.fsp`, JSON).
//!
//! A project is `{"version": 1, "project": [...]}`, each entry a `{"type_name",
//! "params", "sub_actions"}` object. Entries of type `Job` become [`StackJob`]s;
//! their `FocusStack` and `FocusStackBunch` sub-actions become actions, with the
//! ShineStacker GUI's parameter names:
//!
//! | .fsp parameter | fstack option |
//! | --- | --- |
//! | `stacker`: absent or `"Pyramid"` / `"Depth map"` (`"DepthMap"`) / `"Pyramid tiles"` / `"Pyramid auto"` | PyramidStack / DepthMapStack / PyramidTilesStack / PyramidAutoStack (a project keeps ShineStacker's stacker: absent is ShineStacker's default, PyramidStack, not fstack's FocusMapStack) |
//! | `pyramid_mode` (with `"Pyramid"`): absent or `"memory"` / `"tiled"` / `"auto"` | PyramidStack / PyramidTilesStack / PyramidAutoStack (mode auto) |
//! | `pyramid_min_size`, `pyramid_kernel_size`, `pyramid_gen_kernel`, `pyramid_float_type` | the pyramid stackers' `pyramid_min_size`, `kernel_size`, `gen_kernel`, `float_type` |
//! | (none: ShineStacker has no noise guard) | the pyramid stackers' `noise_guard` keeps fstack's default 2 (ShineStacker's behaviour is `noise_guard` 0) |
//! | `pyramid_tile_size`, `pyramid_n_tiled_layers`, `pyramid_max_threads` | tiles and auto: `tile_size`, `n_tiled_layers`, `max_threads` |
//! | `pyramid_memory_limit` (GBytes, a number; or a size text such as `"512M"`) | auto: `memory_limit` |
//! | `depthmap_energy`, `depthmap_map_type` (older files: `map_type`), `depthmap_kernel_size`, `depthmap_blur_size`, `depthmap_weight_power`, `depthmap_energy_smooth_size`, `depthmap_energy_sigma_color`, `depthmap_energy_sigma_space`, `depthmap_pyramid_levels`, `depthmap_pyramid_smooth_size`, `depthmap_temperature`, `depthmap_float_type`, `plot_depth_map` (or `depthmap_plot_depth_map`) | DepthMapStack's options without the prefix |
//! | `denoise_amount` (older files: `denoise`), `sharpen_*`, `prefix`, `frames`, `overlap`, `enabled`, `scratch_output_dir`, `delete_output_at_end`, `plot_path` | same names |
//! | `working_path`, `input_path`, `output_path`, `exif_path` | same names; `""` means "not set" |
//!
//! Choices: an empty string is "not set" for every path (the GUI writes `""` for
//! empty fields), so an `.fsp` cannot switch EXIF off. The GUI stores the fields of
//! every stacker tab: only the chosen stacker's are read, the others are ignored
//! silently (as are `depthmap_mode` and `depthmap_memory_limit`: fstack's depth-map
//! stacker keeps two running sums per pixel and needs no memory mode). Keys fstack does not know
//! (GUI-only ones such as `plot_stack`, a newer ShineStacker's additions) are reported
//! as warnings, not errors. A `CombinedActions` whose steps are `AlignFrames` and
//! `BalanceFrames` becomes a [`crate::CombinedActions`]: `transform` (`ALIGN_RIGID`,
//! `ALIGN_HOMOGRAPHY`), `rans_threshold`, `border_mode`, `step_process`, `ref_idx`
//! and BalanceFrames' `channel` (`BALANCE_LUMI`, `BALANCE_RGB`; HSV/HLS balance RGB
//! instead) and `ref_idx` (the frame balanced to when no AlignFrames step comes
//! first) are read; ShineStacker's OpenCV detector, matcher and plot settings have no
//! counterpart (fstack has one estimator of its own) and give warnings. Other action
//! types (`MaskNoise`, `Vignetting`, `MultiLayer`, `NoiseDetection`, a
//! CombinedActions with such steps, ...) are not implemented yet: they are all listed in one
//! [`JobError::UnsupportedActions`], or skipped with a warning each when
//! [`ProjectOptions::skip_unsupported`] is set (a following action then reads the
//! skipped one's input). Disabled entries are skipped with a warning. Relative
//! working paths are inside the project file's folder.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::jobfile::{FloatTypeName, StackerSpec, parse_energy, parse_map_type};
use crate::{
    ActionOptions, ByteSize, FocusStack, FocusStackBunch, JobError, Result, StackJob, StackerKind,
};

/// How to load a project.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjectOptions {
    /// Skip actions fstack does not implement (with a warning) instead of failing.
    pub skip_unsupported: bool,
}

/// Jobs loaded from a file, with what was ignored on the way.
#[derive(Debug, Clone)]
pub struct LoadedJobs {
    /// The jobs, in file order.
    pub jobs: Vec<StackJob>,
    /// One line per thing ignored or skipped, for the caller to show.
    pub warnings: Vec<String>,
}

/// Parameters of FocusStack / FocusStackBunch that fstack reads; any other key
/// gives a warning, except those of `silently_ignored`.
const READ: &[&str] = &[
    "name",
    "working_path",
    "input_path",
    "output_path",
    "plot_path",
    "exif_path",
    "denoise_amount",
    "denoise",
    "sharpen_amount_percent",
    "sharpen_radius",
    "sharpen_threshold",
    "prefix",
    "enabled",
    "scratch_output_dir",
    "delete_output_at_end",
    "frames",
    "overlap",
    "stacker",
    "pyramid_min_size",
    "pyramid_kernel_size",
    "pyramid_gen_kernel",
    "pyramid_float_type",
    "float_type",
    "pyramid_mode",
    "pyramid_tile_size",
    "pyramid_n_tiled_layers",
    "pyramid_max_threads",
    "pyramid_memory_limit",
    "depthmap_energy",
    "depthmap_map_type",
    "map_type",
    "depthmap_kernel_size",
    "depthmap_blur_size",
    "depthmap_weight_power",
    "depthmap_energy_smooth_size",
    "depthmap_energy_sigma_color",
    "depthmap_energy_sigma_space",
    "depthmap_pyramid_levels",
    "depthmap_pyramid_smooth_size",
    "depthmap_temperature",
    "depthmap_float_type",
    "plot_depth_map",
    "depthmap_plot_depth_map",
];

/// GUI-only or not-yet-used keys that need no warning.
fn silently_ignored(key: &str) -> bool {
    matches!(key, "plot_stack" | "postfix" | "depthmap_mode" | "depthmap_memory_limit")
}

/// Parses a ShineStacker project's text. `origin` names the file in messages; relative
/// working paths are taken inside `base_dir`.
pub fn parse_project(
    text: &str,
    base_dir: &Path,
    origin: &Path,
    options: ProjectOptions,
) -> Result<LoadedJobs> {
    let bad = |message: String| JobError::JobFile { path: origin.to_path_buf(), message };
    let root: Value = serde_json::from_str(text).map_err(|e| {
        bad(format!("line {}, column {}: {}", e.line(), e.column(), strip_position(&e)))
    })?;
    let root = root.as_object().ok_or_else(|| bad("a project must be a JSON object".into()))?;
    match root.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(v) => return Err(bad(format!("project version {v} is not supported (only 1)"))),
        None => return Err(bad("no `version` (expected 1)".into())),
    }
    let entries = root
        .get("project")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `project` list".into()))?;

    let mut loaded = LoadedJobs { jobs: Vec::new(), warnings: Vec::new() };
    let mut unsupported = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let node = Node::from(entry).map_err(|m| bad(format!("project entry {}: {m}", i + 1)))?;
        if node.type_name != "Job" {
            unsupported.push(format!("`{}` ({}) at the top level", node.name(), node.type_name));
            continue;
        }
        let job_name = node.name();
        if !node.enabled() {
            loaded.warnings.push(format!("job `{job_name}` is disabled: skipped"));
            continue;
        }
        let working = node.path("working_path").unwrap_or_else(|| PathBuf::from("."));
        let mut job = StackJob::new(job_name.clone(), crate::paths::resolve(base_dir, &working));
        job.input_path = node.path("input_path");
        for (k, sub) in node.sub_actions.iter().enumerate() {
            let action = Node::from(sub)
                .map_err(|m| bad(format!("job `{job_name}`, action {}: {m}", k + 1)))?;
            let name = action.name();
            // A converted action joins the job, its warnings the list.
            let add = |converted: Result<(crate::Action, Vec<String>)>,
                       job: &mut StackJob,
                       warnings: &mut Vec<String>|
             -> Result<()> {
                let (a, ws) = converted.map_err(|e| match e {
                    JobError::JobFile { message, .. } => bad(message),
                    other => other,
                })?;
                warnings.extend(
                    ws.into_iter().map(|w| format!("job `{job_name}`, action `{name}`: {w}")),
                );
                job.actions.push(a);
                Ok(())
            };
            match action.type_name {
                "FocusStack" | "FocusStackBunch" => {
                    if !action.enabled() {
                        loaded.warnings.push(format!(
                            "job `{job_name}`: action `{name}` is disabled: skipped"
                        ));
                    }
                    add(convert_action(&action), &mut job, &mut loaded.warnings)?;
                }
                "CombinedActions" if action.enabled() && convertible_combined(&action) => {
                    add(convert_combined(&action), &mut job, &mut loaded.warnings)?;
                }
                other if !action.enabled() => loaded.warnings.push(format!(
                    "job `{job_name}`: action `{name}` ({other}) is disabled: skipped"
                )),
                other => {
                    let inner: Vec<&str> = action
                        .sub_actions
                        .iter()
                        .filter_map(|s| s.get("type_name").and_then(Value::as_str))
                        .collect();
                    let inner = if inner.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", inner.join(", "))
                    };
                    unsupported.push(format!("`{name}` ({other}{inner}) in job `{job_name}`"));
                }
            }
        }
        if job.actions.is_empty() {
            loaded.warnings.push(format!("job `{job_name}` has no action fstack can run: skipped"));
        } else {
            loaded.jobs.push(job);
        }
    }
    if !unsupported.is_empty() {
        if !options.skip_unsupported {
            return Err(JobError::UnsupportedActions {
                path: origin.to_path_buf(),
                actions: unsupported,
            });
        }
        for u in unsupported {
            loaded.warnings.push(format!(
                "skipped {u}: not implemented yet; the next action reads its input instead"
            ));
        }
    }
    Ok(loaded)
}

/// serde_json's message without its trailing " at line L column C".
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// One `{"type_name", "params", "sub_actions"}` object.
struct Node<'a> {
    type_name: &'a str,
    params: Map<String, Value>,
    sub_actions: &'a [Value],
}

impl<'a> Node<'a> {
    fn from(v: &'a Value) -> std::result::Result<Self, String> {
        let o = v.as_object().ok_or("expected an object with `type_name`")?;
        let type_name =
            o.get("type_name").and_then(Value::as_str).ok_or("`type_name` missing or not text")?;
        let params = match o.get("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(format!("`params` of {type_name} is not an object")),
        };
        let sub_actions = match o.get("sub_actions") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(a)) => a.as_slice(),
            Some(_) => return Err(format!("`sub_actions` of {type_name} is not a list")),
        };
        Ok(Self { type_name, params, sub_actions })
    }

    fn name(&self) -> String {
        self.params.get("name").and_then(Value::as_str).unwrap_or(self.type_name).to_string()
    }

    fn enabled(&self) -> bool {
        self.params.get("enabled").and_then(Value::as_bool).unwrap_or(true)
    }

    /// A path parameter; `""` and null are "not set".
    fn path(&self, key: &str) -> Option<PathBuf> {
        self.params.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(PathBuf::from)
    }
}

/// Typed access to parameters, with errors naming the action and the key.
struct Params<'a> {
    action: &'a str,
    map: &'a Map<String, Value>,
}

impl Params<'_> {
    fn wrong(&self, key: &str, expected: &str, v: &Value) -> JobError {
        JobError::option(self.action, key, format!("expected {expected}, got {v}"))
    }
    fn f64(&self, key: &str) -> Result<Option<f64>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| self.wrong(key, "a number", v)),
        }
    }
    fn usize(&self, key: &str) -> Result<Option<usize>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a whole number, 0 or more", v)),
        }
    }
    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_bool().map(Some).ok_or_else(|| self.wrong(key, "true or false", v)),
        }
    }
    /// `ref_idx`: an integer (checked by the step's options).
    fn ref_idx(&self) -> Result<Option<i64>> {
        match self.map.get("ref_idx") {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| self.wrong("ref_idx", "an integer", v)),
        }
    }
    fn str(&self, key: &str) -> Result<Option<&str>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| self.wrong(key, "text", v)),
        }
    }
}

/// Whether a CombinedActions node holds only steps fstack has (AlignFrames,
/// BalanceFrames; disabled steps of other kinds are dropped with a warning).
fn convertible_combined(node: &Node<'_>) -> bool {
    node.sub_actions.iter().all(|s| match Node::from(s) {
        Ok(n) => matches!(n.type_name, "AlignFrames" | "BalanceFrames") || !n.enabled(),
        Err(_) => false,
    })
}

/// AlignFrames parameters fstack reads, and the ones with no counterpart here
/// (ShineStacker's OpenCV feature detector, matcher and plot choices: fstack has one
/// estimator of its own).
const ALIGN_READ: &[&str] = &[
    "transform",
    "rans_threshold",
    "border_mode",
    "step_process",
    "ref_idx",
    "max_features",
    "refine",
    "enabled",
    "name",
];
const ALIGN_IGNORED: &[&str] = &[
    "detector",
    "descriptor",
    "match_method",
    "flann_idx_kdtree",
    "flann_trees",
    "flann_checks",
    "match_threshold",
    "threshold",
    "align_method",
    "border_value",
    "border_blur",
    "subsample",
    "fast_subsampling",
    "min_good_matches",
    "refine_iters",
    "align_confidence",
    "max_iters",
    "plot_summary",
    "plot_matches",
    "min_matches",
];
const BALANCE_READ: &[&str] = &["channel", "ref_idx", "enabled", "name"];
const BALANCE_IGNORED: &[&str] = &[
    "mask_size",
    "intensity_interval",
    "subsample",
    "corr_map",
    "plot_histograms",
    "plot_summary",
];

/// A CombinedActions node (AlignFrames / BalanceFrames steps) as an action, with
/// warnings.
fn convert_combined(node: &Node<'_>) -> Result<(crate::Action, Vec<String>)> {
    use crate::alignspec::{AlignSpec, BalanceSpec};
    let name = node.name();
    let p = Params { action: &name, map: &node.params };
    let mut warnings = Vec::new();
    for key in node.params.keys() {
        if !READ.contains(&key.as_str()) && !silently_ignored(key) {
            warnings.push(format!("parameter `{key}` is not known to fstack: ignored"));
        }
    }
    let mut steps = Vec::new();
    for sub in node.sub_actions {
        let sub = Node::from(sub).map_err(|m| JobError::option(&name, "sub_actions", m))?;
        if !sub.enabled() {
            warnings.push(format!("step {} is disabled: skipped", sub.type_name));
            continue;
        }
        let q = Params { action: &name, map: &sub.params };
        let (read, ignored) = match sub.type_name {
            "AlignFrames" => (ALIGN_READ, ALIGN_IGNORED),
            _ => (BALANCE_READ, BALANCE_IGNORED),
        };
        for key in sub.params.keys() {
            if ignored.contains(&key.as_str()) {
                warnings.push(format!(
                    "{}: parameter `{key}` has no counterpart in fstack: ignored",
                    sub.type_name
                ));
            } else if !read.contains(&key.as_str()) {
                warnings.push(format!(
                    "{}: parameter `{key}` is not known to fstack: ignored",
                    sub.type_name
                ));
            }
        }
        if sub.type_name == "AlignFrames" {
            let spec = AlignSpec {
                transform: q.str("transform")?.map(str::to_string),
                rans_threshold: q.f64("rans_threshold")?,
                border_mode: q.str("border_mode")?.map(str::to_string),
                step_process: q.bool("step_process")?,
                ref_idx: q.ref_idx()?,
                max_features: q.usize("max_features")?,
                refine: q.bool("refine")?,
                ..AlignSpec::default()
            };
            steps.push(crate::FrameStep::AlignFrames(spec.to_options(&name)?));
        } else {
            let channel = q.str("channel")?.map(str::to_string);
            let channel = match channel {
                Some(c)
                    if matches!(c.to_ascii_uppercase().as_str(), "BALANCE_HSV" | "BALANCE_HLS") =>
                {
                    warnings.push(format!(
                        "BalanceFrames: channel {c} is not supported: balancing RGB instead"
                    ));
                    None
                }
                other => other,
            };
            // Without an AlignFrames step, the frame balanced to (with one, align's).
            let spec = BalanceSpec { channel, ref_idx: q.ref_idx()?, ..BalanceSpec::default() };
            steps.push(crate::FrameStep::BalanceFrames(spec.to_options(&name)?));
        }
    }
    let d = ActionOptions::default();
    let options = ActionOptions {
        input_path: node.path("input_path"),
        output_path: node.path("output_path"),
        working_path: node.path("working_path"),
        prefix: p.str("prefix")?.unwrap_or("").to_string(),
        enabled: p.bool("enabled")?.unwrap_or(true),
        scratch_output_dir: p.bool("scratch_output_dir")?.unwrap_or(d.scratch_output_dir),
        delete_output_at_end: p.bool("delete_output_at_end")?.unwrap_or(false),
        ..d
    };
    let action: crate::Action = crate::CombinedActions::new(name, steps).options(options).into();
    action.validate()?;
    Ok((action, warnings))
}

/// A FocusStack / FocusStackBunch node as an action, with warnings.
fn convert_action(node: &Node<'_>) -> Result<(crate::Action, Vec<String>)> {
    let name = node.name();
    let p = Params { action: &name, map: &node.params };
    let mut warnings = Vec::new();
    for key in node.params.keys() {
        if !READ.contains(&key.as_str()) && !silently_ignored(key) {
            warnings.push(format!("parameter `{key}` is not known to fstack: ignored"));
        }
    }
    if p.str("postfix")?.is_some_and(|s| !s.is_empty()) {
        warnings.push("`postfix` is not supported (use `prefix`): ignored".into());
    }

    let kind = match p.str("stacker")? {
        // ShineStacker's default, not fstack's: a project gives what ShineStacker gives.
        None => StackerKind::PyramidStack,
        Some(s) => match s.to_ascii_lowercase().replace([' ', '_', '-'], "").as_str() {
            "pyramid" | "pyramidstack" => StackerKind::PyramidStack,
            "depthmap" | "depthmapstack" => StackerKind::DepthMapStack,
            "pyramidtiles" | "pyramidtilesstack" | "tiles" => StackerKind::PyramidTilesStack,
            "pyramidauto" | "pyramidautostack" | "auto" => StackerKind::PyramidAutoStack,
            _ => {
                return Err(JobError::option(
                    &name,
                    "stacker",
                    format!("unknown stacker {s:?} (expected \"Pyramid\" or \"Depth map\")"),
                ));
            }
        },
    };
    let mode = match p.str("pyramid_mode")? {
        Some(m) if kind == StackerKind::PyramidStack => Some(m.trim().to_ascii_lowercase()),
        _ => None,
    };
    let kind = match mode.as_deref() {
        None | Some("memory") => kind,
        Some("tiled") => StackerKind::PyramidTilesStack,
        Some("auto") => StackerKind::PyramidAutoStack,
        Some(other) => {
            return Err(JobError::option(
                &name,
                "pyramid_mode",
                format!("expected \"auto\", \"memory\" or \"tiled\", got {other:?}"),
            ));
        }
    };
    let float_of = |key: &str| -> Result<Option<FloatTypeName>> {
        let Some(f) = p.str(key)? else { return Ok(None) };
        serde_json::from_value::<FloatTypeName>(Value::String(f.to_string())).map(Some).map_err(
            |_| {
                JobError::option(
                    &name,
                    key,
                    format!("expected \"float-32\" or \"float-64\", got {f:?}"),
                )
            },
        )
    };
    let mut spec = StackerSpec::of_kind(kind);
    if kind == StackerKind::DepthMapStack {
        if let Some(e) = p.str("depthmap_energy")? {
            if parse_energy(e).is_none() {
                let reason = format!("unknown energy {e:?}");
                return Err(JobError::option(&name, "depthmap_energy", reason));
            }
            spec.energy = Some(e.to_string());
        }
        for key in ["depthmap_map_type", "map_type"] {
            if let Some(m) = p.str(key)? {
                if parse_map_type(m).is_none() {
                    return Err(JobError::option(&name, key, format!("unknown map type {m:?}")));
                }
                spec.map_type = Some(m.to_string());
                break;
            }
        }
        spec.kernel_size = p.usize("depthmap_kernel_size")?;
        spec.blur_size = p.usize("depthmap_blur_size")?;
        spec.weight_power = p.f64("depthmap_weight_power")?;
        spec.energy_smooth_size = p.usize("depthmap_energy_smooth_size")?;
        spec.energy_sigma_color = p.f64("depthmap_energy_sigma_color")?;
        spec.energy_sigma_space = p.f64("depthmap_energy_sigma_space")?;
        spec.pyramid_levels = p.usize("depthmap_pyramid_levels")?;
        spec.pyramid_smooth_size = p.usize("depthmap_pyramid_smooth_size")?;
        spec.temperature = p.f64("depthmap_temperature")?;
        spec.float_type = float_of("depthmap_float_type")?;
        spec.plot_depth_map = match p.bool("plot_depth_map")? {
            Some(b) => Some(b),
            None => p.bool("depthmap_plot_depth_map")?,
        };
    } else {
        spec.pyramid_min_size = p.usize("pyramid_min_size")?;
        spec.kernel_size = p.usize("pyramid_kernel_size")?;
        spec.gen_kernel = p.f64("pyramid_gen_kernel")?;
        spec.float_type = match float_of("pyramid_float_type")? {
            Some(f) => Some(f),
            None => float_of("float_type")?,
        };
        if kind != StackerKind::PyramidStack {
            spec.tile_size = p.usize("pyramid_tile_size")?;
            spec.n_tiled_layers = p.usize("pyramid_n_tiled_layers")?;
            spec.max_threads = p.usize("pyramid_max_threads")?;
        }
        if kind == StackerKind::PyramidAutoStack {
            spec.mode = Some("auto".to_string());
            spec.memory_limit = match node.params.get("pyramid_memory_limit") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) => Some(
                    t.parse::<ByteSize>()
                        .map_err(|e| JobError::option(&name, "pyramid_memory_limit", e))?,
                ),
                Some(v) => match v.as_f64() {
                    Some(gb) if gb.is_finite() && gb > 0.0 => {
                        Some(ByteSize((gb * f64::from(1u32 << 30)).round() as u64))
                    }
                    _ => {
                        return Err(p.wrong(
                            "pyramid_memory_limit",
                            "GBytes (a number > 0) or a size such as \"512M\"",
                            v,
                        ));
                    }
                },
            };
        }
    }
    let enabled = p.bool("enabled")?.unwrap_or(true);
    let stacker = spec.to_stacker(&name)?;

    let d = ActionOptions::default();
    let options = ActionOptions {
        input_path: node.path("input_path"),
        output_path: node.path("output_path"),
        working_path: node.path("working_path"),
        plot_path: node.path("plot_path").unwrap_or(d.plot_path),
        exif_path: node.path("exif_path"),
        denoise_amount: match p.f64("denoise_amount")? {
            Some(v) => v,
            None => p.f64("denoise")?.unwrap_or(d.denoise_amount),
        },
        sharpen_amount_percent: p.f64("sharpen_amount_percent")?.unwrap_or(0.0),
        sharpen_radius: p.f64("sharpen_radius")?.unwrap_or(d.sharpen_radius),
        sharpen_threshold: p.f64("sharpen_threshold")?.unwrap_or(d.sharpen_threshold),
        prefix: p.str("prefix")?.unwrap_or("").to_string(),
        enabled,
        scratch_output_dir: p.bool("scratch_output_dir")?.unwrap_or(d.scratch_output_dir),
        delete_output_at_end: p.bool("delete_output_at_end")?.unwrap_or(false),
        output_format: None,
        ..d
    };
    let action: crate::Action = if node.type_name == "FocusStackBunch" {
        let mut b = FocusStackBunch::new(name.clone(), stacker).options(options);
        b.frames = p.usize("frames")?.unwrap_or(b.frames);
        b.overlap = p.usize("overlap")?.unwrap_or(b.overlap);
        b.into()
    } else {
        FocusStack::new(name.clone(), stacker).options(options).into()
    };
    if action.options().enabled {
        action.validate()?;
    }
    Ok((action, warnings))
}
