//! `fstack batch`: many stacks in one run. The engine is fs-job's [`fs_job::batch`];
//! this is the glue: find the stacks, run each with the `fstack stack` flags (one
//! [`StackRun`] for all, [`fs_job::batch::stack_one`] per stack), report.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail};
use fs_job::batch::{
    BatchOptions, LOG_FILE, OutputExt, StackStatus, discover, read_manifest, run_batch, shard,
    split_all_by_gap, stack_one,
};
use fs_job::{ExifSource, StackRun};

use crate::cli::BatchArgs;
use crate::report::{self, Summary, Timings};
use crate::{Context, usage};

/// `fstack batch`.
pub fn run(ctx: &Context, args: BatchArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    // The stacking flags are checked once, as `fstack stack` checks them.
    crate::stack::check_flags(&args.stack_args(Vec::new(), PathBuf::new()))?;
    let out = &args.output;
    if out.is_file() {
        bail!("{}: is a file; -o names the folder for the outputs", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let mut stacks = match (&args.manifest, &args.root) {
        (Some(manifest), _) => read_manifest(manifest, out)?,
        (None, Some(root)) => discover(root, out, &OutputExt::FirstFrame)?,
        (None, None) => usage!("give ROOT, the folder of stacks, or --manifest FILE"),
    };
    if let Some(s) = stacks.iter().find(|s| !s.options.is_empty()) {
        let names: Vec<&str> = s.options.keys().map(String::as_str).collect();
        usage!(
            "stack `{}`: per-stack options ({}) are read from the manifest but not applied \
             yet; give the options as flags for the whole batch",
            s.id,
            names.join(", ")
        );
    }
    if let Some(gap) = args.split_gap {
        stacks = split_all_by_gap(&stacks, gap)?;
    }
    let total = stacks.len();
    if let Some((k, n)) = args.shard {
        stacks = shard(stacks, k, n)?;
    }
    let options = BatchOptions {
        memory_limit: args
            .method
            .tiles
            .memory_limit
            .map_or(BatchOptions::default().memory_limit, |m| m.0),
        jobs: args.jobs.map(usize::from),
        force: args.force,
        log: Some(out.join(LOG_FILE)),
    };
    // Every stack runs as `fstack stack FRAMES -o OUTPUT --force` with the batch's
    // flags would run it: one StackRun made here, each stack's frames and output put
    // in by fs-job (the same per-stack run as `fstack.batch` in Python).
    let template = StackRun {
        exif: if args.no_exif { ExifSource::None } else { ExifSource::FirstFrame },
        ..crate::run::stack_run(
            &args.method,
            crate::run::float_type(&args.method),
            args.jpeg_quality,
            false,
            false,
        )
    };
    let reporter = ctx.reporter();
    let summary = run_batch(
        &stacks,
        &options,
        |s, p| stack_one(s, &template, p, &|| crate::hook::pause("place")),
        &reporter,
    )?;
    let phases = reporter.finish();
    let failed: Vec<&str> = summary.failed().collect();

    if ctx.global.json {
        let results: Vec<serde_json::Value> = summary.results.iter().map(|r| r.to_json()).collect();
        let count = |s| summary.count(s);
        Summary {
            fstack_version: env!("CARGO_PKG_VERSION"),
            command: "batch",
            inputs: args.manifest.iter().chain(&args.root).take(1).cloned().collect(),
            outputs: summary
                .results
                .iter()
                .filter(|r| r.status == StackStatus::Done)
                .map(|r| r.output.clone())
                .collect(),
            stacker: Some(args.method.stacker.seed_name().to_string()),
            options: serde_json::json!({
                "output": out,
                "manifest": args.manifest,
                "split_gap": args.split_gap,
                "shard": args.shard.map(|(k, n)| format!("{k}/{n}")),
                "memory_limit": options.memory_limit,
                "jobs": options.jobs,
                "force": args.force,
                "log": options.log,
            }),
            frames: None,
            timings: Timings { phases, total_seconds: start.elapsed().as_secs_f64() },
            peak_memory_bytes: report::peak_memory_bytes(),
            results: serde_json::json!({
                "stacks": results,
                "stacks_in_batch": total,
                "done": count(StackStatus::Done),
                "skipped": count(StackStatus::Skipped),
                "failed": failed,
                "cancelled": count(StackStatus::Cancelled),
                "log_errors": summary.log_errors,
            }),
        }
        .print()?;
    } else if ctx.text() {
        for r in &summary.results {
            match r.status {
                StackStatus::Done => println!("done     {} -> {}", r.id, r.output.display()),
                StackStatus::Skipped => println!("skipped  {} (up to date)", r.id),
                StackStatus::Failed | StackStatus::Cancelled => {}
            }
        }
    }
    if !ctx.global.quiet {
        for e in &summary.log_errors {
            eprintln!("fstack: warning: the log line was not written: {e}");
        }
        for r in summary.results.iter().filter(|r| r.status == StackStatus::Failed) {
            eprintln!("fstack: failed {}: {}", r.id, r.error.as_deref().unwrap_or(""));
        }
        eprintln!(
            "fstack: {} stacks: {} done, {} skipped, {} failed, {} cancelled in {}",
            summary.results.len(),
            summary.count(StackStatus::Done),
            summary.count(StackStatus::Skipped),
            failed.len(),
            summary.count(StackStatus::Cancelled),
            crate::progress::seconds(start.elapsed())
        );
    }
    if ctx.cancel.is_set() {
        // The stacks done before the interruption are kept: say which.
        let written = summary
            .results
            .iter()
            .filter(|r| r.status == StackStatus::Done)
            .map(|r| r.output.clone())
            .collect();
        return Err(fs_job::JobError::Cancelled { action: "batch".into(), written }.into());
    }
    if !failed.is_empty() {
        bail!("{} of {} stacks failed: {}", failed.len(), summary.results.len(), failed.join(", "));
    }
    Ok(())
}
