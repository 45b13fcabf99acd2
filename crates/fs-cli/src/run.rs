//! The fs-job glue: `fstack run` (job files, ShineStacker projects) and the one-action
//! job behind `fstack stack`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use fs_core::FloatType;
use fs_job::{
    ActionOptions, AlignOptions, BalanceOptions, Bunches, DepthMapOptions, Energy, ExifSource,
    FocusMapOptions, Interpolation, JobError, MapType, OnFailure, ProjectOptions,
    PyramidAutoOptions, PyramidOptions, PyramidTilesOptions, ReferenceFrame, StackMode, StackRun,
    StackRunResult, Stacker, TransformKind, load_job_file,
};

use crate::cli::{
    AutoMode, EnergyArg, FloatTypeArg, MapTypeArg, MethodArgs, RunArgs, StackArgs, StackerKind,
};
use crate::report::{self, Summary, Timings};
use crate::stack::Plan;
use crate::{Context, UsageError};

/// FocusMapStack's options from the flags, each one not given at its default (the
/// maps made when asked for).
pub fn focus_map_options(
    method: &MethodArgs,
    depth_map: bool,
    confidence_map: bool,
) -> FocusMapOptions {
    let f = &method.focusmap;
    let d = FocusMapOptions::default();
    FocusMapOptions {
        focus_sigma: f.focus_sigma.unwrap_or(d.focus_sigma),
        consistency: f.consistency.unwrap_or(d.consistency),
        confidence_ratio: f.confidence_ratio.unwrap_or(d.confidence_ratio),
        flat_average: f.flat_average.unwrap_or(d.flat_average),
        linear_blend: d.linear_blend || f.linear_blend,
        decision_channel: f.decision_channel.or(d.decision_channel),
        depth_map,
        confidence_map,
        memory_limit: method.tiles.memory_limit.map_or(d.memory_limit, |m| m.0),
    }
}

/// The fs-job stacker the flags ask for, with every option not given at the seed's
/// default (`check_flags` has refused the flags of other stackers), making the maps
/// asked for.
fn stacker(
    method: &MethodArgs,
    float_type: FloatType,
    depth_map: bool,
    confidence_map: bool,
) -> Stacker {
    let p = &method.pyramid;
    let d = PyramidOptions::default();
    let pyramid = PyramidOptions {
        pyramid_min_size: p.pyramid_min_size.unwrap_or(d.pyramid_min_size),
        kernel_size: p.kernel_size.unwrap_or(d.kernel_size),
        gen_kernel: p.gen_kernel.unwrap_or(d.gen_kernel),
        float_type,
        noise_guard: p.noise_guard.unwrap_or(d.noise_guard),
    };
    let t = &method.tiles;
    let dt = PyramidTilesOptions::default();
    let tiles = PyramidTilesOptions {
        pyramid,
        tile_size: t.tile_size.unwrap_or(dt.tile_size),
        n_tiled_layers: t.n_tiled_layers.unwrap_or(dt.n_tiled_layers),
        max_threads: t.max_threads.unwrap_or(dt.max_threads),
        chunk_submit: t.chunk_submit.unwrap_or(dt.chunk_submit),
        ..dt
    };
    match method.stacker {
        StackerKind::Focusmap => {
            Stacker::FocusMap(focus_map_options(method, depth_map, confidence_map))
        }
        StackerKind::Pyramid => Stacker::Pyramid(pyramid),
        StackerKind::Tiles => Stacker::Tiles(tiles),
        StackerKind::Auto => {
            let da = PyramidAutoOptions::default();
            Stacker::Auto(PyramidAutoOptions {
                tiles,
                mode: match t.mode {
                    Some(AutoMode::Memory) => StackMode::Memory,
                    Some(AutoMode::Tiled) => StackMode::Tiled,
                    Some(AutoMode::Auto) | None => StackMode::Auto,
                },
                memory_limit: t.memory_limit.map_or(da.memory_limit, |m| m.0),
            })
        }
        StackerKind::Depthmap => {
            let m = &method.depthmap;
            let dd = DepthMapOptions::default();
            Stacker::DepthMap(DepthMapOptions {
                map_type: match m.map_type {
                    Some(MapTypeArg::Max) => MapType::Max,
                    Some(MapTypeArg::Average) | None => MapType::Average,
                },
                energy: match m.energy {
                    None | Some(EnergyArg::Tenengrad) => Energy::Tenengrad,
                    Some(EnergyArg::Laplacian) => Energy::Laplacian,
                    Some(EnergyArg::ModLaplacian) => Energy::ModLaplacian,
                    Some(EnergyArg::Sobel) => Energy::Sobel,
                    Some(EnergyArg::Variance) => Energy::Variance,
                },
                kernel_size: p.kernel_size.unwrap_or(dd.kernel_size),
                blur_size: m.blur_size.unwrap_or(dd.blur_size),
                weight_power: m.weight_power.unwrap_or(dd.weight_power),
                energy_smooth_size: m.energy_smooth_size.unwrap_or(dd.energy_smooth_size),
                energy_sigma_color: m.energy_sigma_color.unwrap_or(dd.energy_sigma_color),
                energy_sigma_space: m.energy_sigma_space.unwrap_or(dd.energy_sigma_space),
                pyramid_levels: m.pyramid_levels.unwrap_or(dd.pyramid_levels),
                pyramid_smooth_size: m.pyramid_smooth_size.unwrap_or(dd.pyramid_smooth_size),
                temperature: m.temperature.unwrap_or(dd.temperature),
                plot_depth_map: depth_map,
                float_type,
            })
        }
    }
}

/// The alignment options of `fstack stack`: on unless `--no-align`.
pub fn align_options(a: &crate::cli::AlignArgs) -> Option<AlignOptions> {
    use crate::cli::{InterpolationArg, TransformArg};
    if a.no_align {
        return None;
    }
    let mut o = AlignOptions::default();
    if let Some(t) = a.transform {
        o.transform = match t {
            TransformArg::Similarity => TransformKind::Similarity,
            TransformArg::Affine => TransformKind::Affine,
            TransformArg::Homography => TransformKind::Homography,
        };
    }
    if let Some(i) = a.ref_idx {
        o.reference = ReferenceFrame::Index(i);
    }
    o.step_process = a.step_process;
    if a.skip_unaligned {
        o.on_failure = OnFailure::Skip;
    }
    if a.strict_align {
        o.on_failure = OnFailure::Stop;
    }
    if let Some(i) = a.interpolation {
        o.interpolation = match i {
            InterpolationArg::Bilinear => Interpolation::Bilinear,
            InterpolationArg::Bicubic => Interpolation::Bicubic,
        };
    }
    Some(o)
}

/// The balance options of `fstack stack`: on unless `--no-balance`; `--ref-idx` is
/// balance's reference when there is no alignment.
pub fn balance_options(a: &crate::cli::AlignArgs) -> Option<BalanceOptions> {
    if a.no_balance {
        return None;
    }
    let mut o = BalanceOptions::default();
    if let Some(i) = a.ref_idx {
        o.reference = ReferenceFrame::Index(i);
    }
    Some(o)
}

/// The stacker and frame options the flags ask for as a [`StackRun`] with no frames
/// and no output yet, the first frame's EXIF, no overwrite: `fstack stack` fills in
/// its plan ([`stack_plan`]), `fstack batch` each stack (fs-job's
/// [`fs_job::batch::stack_one`]).
pub fn stack_run(
    method: &MethodArgs,
    float_type: FloatType,
    jpeg_quality: u8,
    depth_map: bool,
    confidence_map: bool,
) -> StackRun {
    let options = ActionOptions {
        denoise_amount: method.post.denoise_amount,
        sharpen_amount_percent: method.post.sharpen_amount_percent,
        sharpen_radius: method.post.sharpen_radius,
        sharpen_threshold: method.post.sharpen_threshold,
        align: align_options(&method.align),
        balance: balance_options(&method.align),
        crop: !method.align.no_crop,
        white_balance: method.white_balance.unwrap_or_default(),
        ..ActionOptions::default()
    };
    let stacker = stacker(method, float_type, depth_map, confidence_map);
    StackRun { jpeg_quality, ..StackRun::new(Vec::new(), PathBuf::new(), stacker, options) }
}

/// The float precision `--float-type` asks for (f32 by default).
pub fn float_type(method: &MethodArgs) -> FloatType {
    match method.float_type {
        Some(FloatTypeArg::F64) => FloatType::F64,
        _ => FloatType::F32,
    }
}

/// Runs `stack`'s plan: the flags resolved into one [`StackRun`], run by fs-job as
/// `fstack batch` and the Python package run theirs.
pub fn stack_plan(
    plan: &Plan,
    args: &StackArgs,
    reporter: &dyn fs_core::Progress,
) -> anyhow::Result<StackRunResult> {
    let exif = if args.no_exif {
        ExifSource::None
    } else if let Some(p) = &args.exif_path {
        if p.is_file() {
            // Checked here, so that an error names the file given, not its link.
            fs_core::read_frame_info(p).context("--exif-path")?;
        } else if !p.is_dir() {
            fs_core::check_exists(p).context("--exif-path")?;
            bail!("{}: --exif-path: not a file or folder", p.display());
        }
        ExifSource::From(p.clone())
    } else {
        ExifSource::FirstFrame
    };
    let template = stack_run(
        &args.method,
        plan.float_type,
        args.jpeg_quality,
        args.depth_map.is_some(),
        args.confidence_map.is_some(),
    );
    let mut options = template.options;
    options.output_format = Some(plan.format);
    let run = StackRun {
        frames: plan.frames.clone(),
        folder: plan.folder.clone(),
        output: plan.output.clone(),
        options,
        exif,
        overwrite: args.force,
        bunches: args.bunch.bunch_frames.map(|frames| Bunches {
            frames: frames as usize,
            overlap: args.bunch.bunch_overlap.unwrap_or(0) as usize,
            prefix: args.prefix.clone().unwrap_or_default(),
        }),
        depth_map: args.depth_map.clone(),
        confidence_map: args.confidence_map.clone(),
        ..template
    };
    run.run_with(reporter, &|| crate::hook::pause("place")).map_err(job_error)
}

/// Job errors in the CLI's words: an option out of range is a usage error naming the
/// flag; frame errors show the file's error alone (the action is the CLI's own).
fn job_error(e: JobError) -> anyhow::Error {
    match e {
        JobError::InvalidOption { option, reason, .. } => {
            let flag = match option.as_str() {
                "frames" => "--bunch-frames".to_string(),
                "overlap" => "--bunch-overlap".to_string(),
                o => format!("--{}", o.replace('_', "-")),
            };
            UsageError(format!("invalid value for {flag}: {reason}")).into()
        }
        JobError::Frames { source, .. } => source.into(),
        JobError::MapNotPlaced { output, what, source } => job_error(*source)
            .context(format!("{} was written, but not the {what}", output.display())),
        // `stack` runs one action named after the command: the action's name would
        // only mislead.
        JobError::Stacker { source, .. } => anyhow::Error::new(source).context("stacking failed"),
        other => other.into(),
    }
}

/// `fstack run JOB.toml | PROJECT.fsp`.
pub fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    if !args.job.is_file() {
        bail!("{}: no such job file", args.job.display());
    }
    let loaded =
        load_job_file(&args.job, ProjectOptions { skip_unsupported: args.skip_unsupported })?;
    if loaded.jobs.is_empty() {
        bail!("{}: holds no job to run", args.job.display());
    }
    if !ctx.global.quiet {
        for w in &loaded.warnings {
            eprintln!("fstack: warning: {w}");
        }
    }
    let reporter = ctx.reporter();
    let mut summaries = Vec::with_capacity(loaded.jobs.len());
    for job in &loaded.jobs {
        match job.run(&reporter) {
            Ok(s) => summaries.push(s),
            Err(e) => {
                reporter.abandon();
                let earlier: Vec<PathBuf> =
                    summaries.iter().flat_map(|s| s.outputs().map(Path::to_path_buf)).collect();
                return Err(e.with_earlier_outputs(&earlier).into());
            }
        }
    }
    let phases = reporter.finish();
    let outputs: Vec<PathBuf> =
        summaries.iter().flat_map(|s| s.outputs().map(Path::to_path_buf)).collect();
    if ctx.global.json {
        let jobs: Vec<serde_json::Value> = summaries
            .iter()
            .map(|s| {
                let actions: Vec<serde_json::Value> = s
                    .actions
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "name": a.name,
                            "kind": a.kind.name(),
                            "enabled": a.enabled,
                            "input_dir": a.input_dir,
                            "output_dir": a.output_dir,
                            "frames_read": a.frames_read,
                            "outputs": a.outputs,
                            "stacked": crate::stack::stacked_json(&a.stacked),
                            "notes": a.notes,
                            "alignment": crate::stack::alignment_json(&a.alignment, None),
                            "output_deleted": a.output_deleted,
                            "seconds": a.elapsed.as_secs_f64(),
                        })
                    })
                    .collect();
                serde_json::json!({ "name": s.name, "actions": actions,
                                    "seconds": s.elapsed.as_secs_f64() })
            })
            .collect();
        Summary {
            fstack_version: env!("CARGO_PKG_VERSION"),
            command: "run",
            inputs: vec![args.job.clone()],
            outputs,
            stacker: None,
            options: serde_json::json!({ "skip_unsupported": args.skip_unsupported }),
            frames: None,
            timings: Timings { phases, total_seconds: start.elapsed().as_secs_f64() },
            peak_memory_bytes: report::peak_memory_bytes(),
            results: serde_json::json!({ "jobs": jobs, "warnings": loaded.warnings }),
        }
        .print()?;
    } else if ctx.text() {
        for s in &summaries {
            for a in &s.actions {
                // What alignment did (and what PyramidAutoStack chose), as `stack` says it.
                for note in &a.notes {
                    eprintln!("fstack: {}: {}: {note}", s.name, a.name);
                }
                if !a.enabled {
                    println!("{}: {}: disabled, skipped", s.name, a.name);
                    continue;
                }
                println!(
                    "{}: {}: {} frames -> {} file{} in {}{}",
                    s.name,
                    a.name,
                    a.frames_read,
                    a.outputs.len(),
                    if a.outputs.len() == 1 { "" } else { "s" },
                    a.output_dir.display(),
                    if a.output_deleted { " (deleted at the end)" } else { "" }
                );
            }
        }
        println!("done in {}", crate::progress::seconds(start.elapsed()));
    }
    Ok(())
}
