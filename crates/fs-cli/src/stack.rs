//! `fstack stack`: one folder (or list) of frames into one image, or into one image per
//! bunch with `--bunch-frames`.
//!
//! The command checks everything it can before any heavy work (flags that do not apply
//! to the chosen stacker, the frames' shapes, the output name and format, an existing
//! output), then builds a one-action fs-job job and runs it in a private work folder
//! (`.fstack-XXXXXX`) created beside the output, so the final rename is atomic and an
//! interrupted run leaves nothing behind (the work folder is removed on every exit
//! path except a second Ctrl-C, which exits at once; it is locked while its run lives,
//! and the next run beside that output removes it, see `fs_core::WorkDir`).
//!
//! Default output: `<prefix><folder>-stacked.<ext of the first frame>` beside the
//! frames' folder (with `--bunch-frames`: the folder `<folder>-bunches`). Existing
//! files are never overwritten without `--force`, and an input never even with it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use fs_core::{BitDepth, FileFormat, FloatType, FrameInfo, check_stack};

use crate::cli::{StackArgs, StackerKind};
use crate::report::{self, FramesSummary, Summary, Timings};
use crate::{Context, inputs, usage};

/// What `stack` will do, decided before any heavy work.
#[derive(Debug)]
pub struct Plan {
    /// The frames, in order.
    pub frames: Vec<PathBuf>,
    /// Their folder, when a folder was given.
    pub folder: Option<PathBuf>,
    /// The output file (or folder for bunches).
    pub output: PathBuf,
    /// Its format.
    pub format: FileFormat,
    /// Float precision.
    pub float_type: FloatType,
}

/// `fstack stack`.
pub fn run(ctx: &Context, args: StackArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    check_flags(&args)?;
    let inputs = inputs::resolve(&args.inputs)?;
    let info = check_stack(&inputs.frames)?;
    let float_type = crate::run::float_type(&args.method);
    let (output, format) = if args.bunch.bunch_frames.is_some() {
        (bunch_output(&args, &inputs)?, first_format(&inputs.frames[0]))
    } else {
        single_output(&args, &inputs, info, ctx.global.quiet)?
    };
    check_map_targets(&args, &inputs.frames, &output)?;
    let plan = Plan {
        folder: inputs.from_folder.then(|| inputs.folder.clone()),
        frames: inputs.frames.clone(),
        output,
        format,
        float_type,
    };
    let reporter = ctx.reporter().hide_action();
    let result = crate::run::stack_plan(&plan, &args, &reporter);
    if result.is_err() {
        reporter.abandon();
    }
    let fs_job::StackRunResult { outputs, notes, alignment, stacked } = result?;
    let phases = reporter.finish();
    if !ctx.global.quiet {
        for note in &notes {
            eprintln!("fstack: {note}");
        }
    }
    let elapsed = start.elapsed();

    if ctx.global.json {
        Summary {
            fstack_version: env!("CARGO_PKG_VERSION"),
            command: "stack",
            inputs: plan.frames.clone(),
            outputs: outputs.clone(),
            stacker: Some(args.method.stacker.seed_name().to_string()),
            options: options_json(&args, float_type),
            frames: Some(FramesSummary::new(plan.frames.len(), info)),
            timings: Timings { phases, total_seconds: elapsed.as_secs_f64() },
            peak_memory_bytes: report::peak_memory_bytes(),
            results: serde_json::json!({
                "notes": notes,
                // Per output: the frames that went into it and its (cropped) size.
                "stacked": stacked_json(&stacked),
                "alignment": alignment_json(&alignment, Some((info.width, info.height))),
                "depth_map": args.depth_map,
                "confidence_map": args.confidence_map,
            }),
        }
        .print()?;
    } else if ctx.text() {
        let what = format!(
            "{} with {} in {}",
            stacked_text(&stacked, plan.frames.len(), info),
            args.method.stacker.seed_name(),
            crate::progress::seconds(elapsed)
        );
        match outputs.as_slice() {
            [one] => println!("stacked {what} into {}", one.display()),
            many => {
                println!("stacked {what} into {} bunches in {}", many.len(), plan.output.display());
                for o in many {
                    println!("  {}", o.display());
                }
            }
        }
    }
    Ok(())
}

/// Per output, the frames stacked into it and its (cropped) size, for `--json`.
pub fn stacked_json(stacked: &[fs_job::StackedOutput]) -> serde_json::Value {
    stacked
        .iter()
        .map(|s| serde_json::json!({ "frames": s.frames, "width": s.width, "height": s.height }))
        .collect()
}

/// "6 frames (400x260 RGB 8-bit)", "5 of 6 frames (396x256 RGB 8-bit)": the frames
/// stacked (of those read) and the output's size; for bunches the total and the
/// size of the first.
fn stacked_text(stacked: &[fs_job::StackedOutput], read: usize, info: FrameInfo) -> String {
    let frames = if stacked.len() > 1 { read } else { stacked.first().map_or(read, |s| s.frames) };
    let of = if frames == read { String::new() } else { format!("{frames} of ") };
    let plural = if read == 1 { "" } else { "s" };
    let size = match stacked.first() {
        Some(s) => FrameInfo { width: s.width, height: s.height, ..info },
        None => info,
    };
    format!("{of}{read} frame{plural} ({size})")
}

/// Refuses, as usage errors, flags that do not apply to the chosen stacker, and checks
/// the depth-map and confidence-map files.
pub(crate) fn check_flags(args: &StackArgs) -> anyhow::Result<()> {
    let stacker = args.method.stacker;
    let refuse = |flags: Vec<&'static str>, applies_to: &str| -> anyhow::Result<()> {
        if let Some(flag) = flags.first() {
            usage!(
                "{flag} applies to {applies_to} only, not to --stacker {}; remove it or \
                 choose that stacker",
                stacker.flag()
            );
        }
        Ok(())
    };
    let pyramid_only = "the pyramid stackers (pyramid, tiles, auto)";
    let pyramid_and_depthmap =
        "the pyramid and depth-map stackers (pyramid, tiles, auto, depthmap)";
    if stacker != StackerKind::Depthmap {
        refuse(args.method.depthmap.given(), "--stacker depthmap")?;
    }
    if stacker != StackerKind::Focusmap {
        refuse(args.method.focusmap.given(), "--stacker focusmap")?;
        if args.confidence_map.is_some() {
            refuse(vec!["--confidence-map"], "--stacker focusmap")?;
        }
    }
    match stacker {
        StackerKind::Focusmap => {
            refuse(args.method.pyramid.given_pyramid_only(), pyramid_only)?;
            let shared = [
                ("--kernel-size", args.method.pyramid.kernel_size.is_some()),
                ("--float-type", args.method.float_type.is_some()),
            ];
            refuse(
                shared.into_iter().filter_map(|(f, set)| set.then_some(f)).collect(),
                pyramid_and_depthmap,
            )?;
        }
        StackerKind::Depthmap => refuse(args.method.pyramid.given_pyramid_only(), pyramid_only)?,
        _ => {
            if args.depth_map.is_some() {
                refuse(vec!["--depth-map"], "--stacker focusmap or depthmap")?;
            }
        }
    }
    let (tiled, auto) = args.method.tiles.given();
    if !matches!(stacker, StackerKind::Tiles | StackerKind::Auto) {
        refuse(tiled, "--stacker tiles or auto")?;
    }
    if stacker != StackerKind::Auto {
        refuse(auto, "--stacker auto")?;
    }
    if args.method.tiles.memory_limit.is_some()
        && !matches!(stacker, StackerKind::Auto | StackerKind::Focusmap)
    {
        refuse(vec!["--memory-limit"], "--stacker focusmap or auto")?;
    }
    for (flag, map) in map_targets(args) {
        if args.bunch.bunch_frames.is_some() {
            usage!("{flag} writes one file; it cannot be used with --bunch-frames");
        }
        if !matches!(FileFormat::from_path(map), Some(FileFormat::Png | FileFormat::Tiff)) {
            usage!("{flag} {}: the map is a gray image; name a .png or .tif file", map.display());
        }
        if map.exists() && !args.force {
            bail!(
                "{}: already exists; use --force to overwrite it, or name another {flag}",
                map.display()
            );
        }
        if !parent_of(map).is_dir() {
            bail!("{}: the folder does not exist; create it first", parent_of(map).display());
        }
    }
    if args.method.align.ref_idx.is_some()
        && args.method.align.no_align
        && args.method.align.no_balance
    {
        usage!(
            "--ref-idx chooses the frame to align and balance to; with --no-align and \
             --no-balance there is none: remove --ref-idx or one of them"
        );
    }
    if args.output.is_some() && args.prefix.is_some() && args.bunch.bunch_frames.is_none() {
        usage!(
            "--prefix names the default output; with -o, put the name you want in OUT \
             (--prefix applies to -o only with --bunch-frames)"
        );
    }
    if let (Some(frames), Some(overlap)) = (args.bunch.bunch_frames, args.bunch.bunch_overlap)
        && overlap >= frames
    {
        usage!("--bunch-overlap {overlap} must be less than --bunch-frames {frames}");
    }
    if let Some(p) = &args.prefix
        && p.contains(['/', '\\'])
    {
        usage!("--prefix {p:?} must not contain a path separator");
    }
    Ok(())
}

/// The map files asked for, with their flags.
fn map_targets(args: &StackArgs) -> impl Iterator<Item = (&'static str, &PathBuf)> {
    [("--depth-map", &args.depth_map), ("--confidence-map", &args.confidence_map)]
        .into_iter()
        .filter_map(|(flag, map)| map.as_ref().map(|m| (flag, m)))
}

/// A map file must not be an input frame (not even with --force) nor the output, and
/// the two maps must be two files (compared as absolute paths).
fn check_map_targets(args: &StackArgs, frames: &[PathBuf], output: &Path) -> anyhow::Result<()> {
    let out = absolute(output)?;
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    for (flag, map) in map_targets(args) {
        let abs = absolute(map)?;
        for f in frames {
            if absolute(f)? == abs {
                bail!("{}: is one of the input frames; choose another {flag}", map.display());
            }
        }
        if abs == out {
            bail!("{}: is the output; choose another {flag}", map.display());
        }
        if let Some((other, _)) = seen.iter().find(|(_, p)| *p == abs) {
            usage!("{flag} and {other} name the same file {}", map.display());
        }
        seen.push((flag, abs));
    }
    Ok(())
}

fn first_format(first: &Path) -> FileFormat {
    FileFormat::from_path(first).map_or(FileFormat::Tiff, FileFormat::output)
}

/// The output file: `-o`, or `<prefix><folder>-stacked.<ext>` beside the folder.
fn single_output(
    args: &StackArgs,
    inputs: &inputs::Inputs,
    info: FrameInfo,
    quiet: bool,
) -> anyhow::Result<(PathBuf, FileFormat)> {
    let output = match &args.output {
        Some(o) => o.clone(),
        None => {
            let (parent, name) = inputs::folder_name(&inputs.folder)?;
            let ext = FileFormat::output_extension(&inputs.frames[0]);
            let prefix = args.prefix.as_deref().unwrap_or("");
            parent.join(format!("{prefix}{name}-stacked.{ext}"))
        }
    };
    let Some(format) = FileFormat::from_path(&output) else {
        usage!(
            "-o {}: unknown image extension; use .jpg, .png, .tif or .dng (the extension \
             chooses the format)",
            output.display()
        );
    };
    if format == FileFormat::Raw {
        usage!(
            "-o {}: camera RAW formats are read only; write .tif, or .dng for a linear DNG",
            output.display()
        );
    }
    if output.is_dir() {
        bail!("{}: is a folder; give -o a file name such as result.tif", output.display());
    }
    if format == FileFormat::Jpeg && info.format.depth == BitDepth::Sixteen && !quiet {
        eprintln!(
            "fstack: note: the frames are 16-bit and JPEG holds 8 bits: {} will be rounded \
             to 8 bits (write .tif or .png to keep 16)",
            output.display()
        );
    }
    let parent = parent_of(&output);
    if !parent.is_dir() {
        bail!("{}: the output folder does not exist; create it first", parent.display());
    }
    refuse_inputs(&output, &inputs.frames)?;
    if output.exists() && !args.force {
        bail!(
            "{}: already exists; use --force to overwrite it, or -o to choose another name",
            output.display()
        );
    }
    Ok((output, format))
}

/// The bunch output folder: `-o`, or `<folder>-bunches` beside the folder.
fn bunch_output(args: &StackArgs, inputs: &inputs::Inputs) -> anyhow::Result<PathBuf> {
    let output = match &args.output {
        Some(o) => o.clone(),
        None => {
            let (parent, name) = inputs::folder_name(&inputs.folder)?;
            parent.join(format!("{name}-bunches"))
        }
    };
    if output.is_file() {
        bail!("{}: is a file; with --bunch-frames, -o names a folder", output.display());
    }
    let parent = parent_of(&output);
    if !parent.is_dir() {
        bail!("{}: the output folder's parent does not exist; create it first", parent.display());
    }
    let abs = absolute(&output)?;
    for f in &inputs.frames {
        if absolute(f)?.starts_with(&abs) {
            bail!(
                "{}: holds the input frames; choose an output folder outside the input",
                output.display()
            );
        }
    }
    if output.is_dir() && std::fs::read_dir(&output)?.next().is_some() && !args.force {
        bail!(
            "{}: already exists and is not empty; use --force to replace its contents, or -o \
             to choose another folder",
            output.display()
        );
    }
    Ok(output)
}

/// The folder a path lies in (`.` for a bare file name).
pub fn parent_of(path: &Path) -> PathBuf {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
}

/// The absolute form of a path that may not exist yet (its parent must).
pub fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Ok(p);
    }
    let parent = parent_of(path)
        .canonicalize()
        .with_context(|| format!("{}: cannot resolve the folder", path.display()))?;
    Ok(match path.file_name() {
        Some(name) => parent.join(name),
        None => parent,
    })
}

fn refuse_inputs(output: &Path, frames: &[PathBuf]) -> anyhow::Result<()> {
    let out = absolute(output)?;
    for f in frames {
        if absolute(f)? == out {
            bail!("{}: is one of the input frames; choose another output", output.display());
        }
    }
    Ok(())
}

/// What alignment did to each frame, for `--json`: its file, how it was aligned
/// (`reference`, `features`, `intensity`, `predicted`, `chained`, `left out`), the
/// magnification change (percent), rotation (degrees), where the centre went
/// (pixels), the feature matches and inliers, why its features were not used, and
/// why it was left out.
/// The centre shift needs the frames' size: `None` leaves it out.
pub(crate) fn alignment_json(
    reports: &[fs_job::FrameReport],
    size: Option<(usize, usize)>,
) -> serde_json::Value {
    reports
        .iter()
        .map(|r| {
            let centre = size.map(|(w, h)| {
                let (dx, dy) = r.centre_shift(w, h);
                [dx, dy]
            });
            serde_json::json!({
                "index": r.index,
                "file": r.path,
                "method": r.method.name(),
                "magnification_percent": r.scale_change() * 100.0,
                "rotation_degrees": r.transform.rotation().to_degrees(),
                "centre_shift_px": centre,
                "matches": r.matches,
                "inliers": r.inliers,
                "features_failed": r.fallback.as_ref().map(ToString::to_string),
                "left_out": r.skipped.as_ref().map(ToString::to_string),
            })
        })
        .collect()
}

/// Every option in effect, by the seed's names.
fn options_json(args: &StackArgs, float_type: FloatType) -> serde_json::Value {
    let p = &args.method.pyramid;
    let mut o = serde_json::json!({
        "stacker": args.method.stacker.seed_name(),
        "float_type": match float_type { FloatType::F32 => "FLOAT_32", FloatType::F64 => "FLOAT_64" },
        "denoise_amount": args.method.post.denoise_amount,
        "sharpen_amount_percent": args.method.post.sharpen_amount_percent,
        "sharpen_radius": args.method.post.sharpen_radius,
        "sharpen_threshold": args.method.post.sharpen_threshold,
        "prefix": args.prefix.clone().unwrap_or_default(),
        "exif": !args.no_exif,
        "exif_path": args.exif_path,
        "jpeg_quality": args.jpeg_quality,
        "force": args.force,
        "align": !args.method.align.no_align,
        "balance": !args.method.align.no_balance,
        "crop": !args.method.align.no_crop && !args.method.align.no_align,
        "white_balance": args.method.white_balance.unwrap_or_default().to_string(),
    });
    if let Some(a) = crate::run::align_options(&args.method.align) {
        o["transform"] = a.transform.name().into();
        o["ref_idx"] = match a.reference {
            fs_job::ReferenceFrame::Index(i) => i.into(),
            _ => (-1).into(),
        };
        o["step_process"] = a.step_process.into();
        o["skip_unaligned"] = (a.on_failure == fs_job::OnFailure::Skip).into();
        o["strict_align"] = (a.on_failure == fs_job::OnFailure::Stop).into();
        o["on_failure"] = match a.on_failure {
            fs_job::OnFailure::Stop => "stop",
            fs_job::OnFailure::Skip => "skip",
            _ => "recover",
        }
        .into();
        o["interpolation"] = format!("{:?}", a.interpolation).to_lowercase().into();
    }
    if args.method.stacker.is_pyramid() {
        o["pyramid_min_size"] = p.pyramid_min_size.unwrap_or(32).into();
        o["kernel_size"] = p.kernel_size.unwrap_or(5).into();
        o["gen_kernel"] = p.gen_kernel.unwrap_or(0.4).into();
        o["noise_guard"] =
            p.noise_guard.unwrap_or(fs_pyramid::PyramidOptions::default().noise_guard).into();
    }
    let t = &args.method.tiles;
    if matches!(args.method.stacker, StackerKind::Tiles | StackerKind::Auto) {
        o["tile_size"] = t.tile_size.unwrap_or(512).into();
        o["n_tiled_layers"] = t.n_tiled_layers.unwrap_or(2).into();
        o["max_threads"] = t.max_threads.map(serde_json::Value::from).unwrap_or_default();
        o["chunk_submit"] = t.chunk_submit.unwrap_or(true).into();
    }
    if args.method.stacker == StackerKind::Auto {
        let mode = t.mode.map(|m| format!("{m:?}").to_lowercase());
        o["mode"] = mode.unwrap_or_else(|| "auto".into()).into();
        o["memory_limit"] = t.memory_limit.map_or(8 << 30, |m| m.0).into();
    }
    if args.method.stacker == StackerKind::Focusmap
        && let serde_json::Value::Object(focus) = focus_map_json(&crate::run::focus_map_options(
            &args.method,
            args.depth_map.is_some(),
            args.confidence_map.is_some(),
        ))
    {
        o.as_object_mut().expect("an object").extend(focus);
    }
    if args.method.stacker == StackerKind::Depthmap {
        let m = &args.method.depthmap;
        let name = |v: Option<String>, d: &str| v.unwrap_or_else(|| d.to_string());
        o["map_type"] = name(m.map_type.map(|v| format!("{v:?}")), "Average").into();
        o["energy"] = name(m.energy.map(|v| format!("{v:?}")), "Tenengrad").into();
        o["kernel_size"] = p.kernel_size.unwrap_or(5).into();
        o["blur_size"] = m.blur_size.unwrap_or(5).into();
        o["weight_power"] = m.weight_power.unwrap_or(1.0).into();
        o["energy_smooth_size"] = m.energy_smooth_size.unwrap_or(1).into();
        o["energy_sigma_color"] = m.energy_sigma_color.unwrap_or(0.8).into();
        o["energy_sigma_space"] = m.energy_sigma_space.unwrap_or(2.0).into();
        o["pyramid_levels"] = m.pyramid_levels.unwrap_or(5).into();
        o["pyramid_smooth_size"] = m.pyramid_smooth_size.unwrap_or(1).into();
        o["temperature"] = m.temperature.unwrap_or(0.0).into();
        o["plot_depth_map"] = args.depth_map.is_some().into();
    }
    if let Some(frames) = args.bunch.bunch_frames {
        o["frames"] = frames.into();
        o["overlap"] = args.bunch.bunch_overlap.unwrap_or(0).into();
    }
    o
}

/// FocusMapStack's options by their names, as `--json` and the job files spell them.
pub fn focus_map_json(o: &fs_job::FocusMapOptions) -> serde_json::Value {
    serde_json::json!({
        "focus_sigma": o.focus_sigma,
        "consistency": o.consistency,
        "confidence_ratio": o.confidence_ratio,
        "flat_average": o.flat_average,
        "linear_blend": o.linear_blend,
        "decision_channel": o.decision_channel,
        "depth_map": o.depth_map,
        "confidence_map": o.confidence_map,
        "memory_limit": o.memory_limit,
    })
}
