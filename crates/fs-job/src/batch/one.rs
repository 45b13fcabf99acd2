//! One stack of a batch, run and reported as `fstack batch` does it: the shared
//! per-stack run ([`stack_one`], a [`StackRun`] made from the batch's template) and
//! the whole outcome of one stack outside [`run_batch`](super::run_batch)
//! ([`run_stack`], for runners that schedule stacks themselves, such as a cluster's
//! tasks).

use std::path::Path;

use fs_core::{FileFormat, Progress};

use super::log::BatchLog;
use super::run::{StackOutcome, StackStatus, ended, is_up_to_date, run_one};
use super::{BatchStack, StackDone};
use crate::{JobError, Result, StackRun};

/// Stacks `stack` as `fstack stack FRAMES -o OUTPUT --force` would with `template`'s
/// stacker, options, JPEG quality and EXIF source: the frames' headers checked first,
/// the format by the output's extension, an existing output replaced. `fstack batch`,
/// `fstack.batch` and `fstack.dask.batch` all stack each stack through here, so their
/// outputs have the same bytes. `before_place` is called just before the output is
/// moved into place (a test hook, see [`StackRun::run_with`]). The error is the
/// message the batch logs ([`error_message`]).
pub fn stack_one(
    stack: &BatchStack,
    template: &StackRun,
    progress: &dyn Progress,
    before_place: &dyn Fn(),
) -> std::result::Result<StackDone, String> {
    fs_core::check_stack(&stack.frames).map_err(|e| chain(&e))?;
    let Some(format) = FileFormat::from_path(&stack.output) else {
        return Err(format!("{}: unknown image extension", stack.output.display()));
    };
    let mut options = template.options.clone();
    options.output_format = Some(format);
    let run = StackRun {
        frames: stack.frames.clone(),
        folder: None,
        output: stack.output.clone(),
        options,
        overwrite: true,
        bunches: None,
        depth_map: None,
        confidence_map: None,
        ..template.clone()
    };
    let result = run.run_with(progress, before_place).map_err(|e| error_message(&e))?;
    Ok(StackDone { notes: result.notes })
}

/// One stack as [`run_batch`](super::run_batch) runs it, on its own: skipped when its
/// output is up to date (unless `force`), else `stack_one` run with its panic caught
/// and whatever a failure left at the output removed; the outcome's line appended to
/// `log` when given. The outcome is the one `run_batch` would report for it. Errors
/// only when the log cannot be written.
pub fn run_stack<E: std::fmt::Display>(
    stack: &BatchStack,
    force: bool,
    log: Option<&Path>,
    stack_one: impl Fn(&BatchStack, &dyn Progress) -> std::result::Result<StackDone, E> + Sync,
    progress: &dyn Progress,
) -> Result<StackOutcome> {
    let outcome = if !force && is_up_to_date(stack) {
        ended(stack, StackStatus::Skipped, std::time::SystemTime::now(), 0.0, None)
    } else {
        run_one(stack, &stack_one, progress)
    };
    if let Some(log) = log {
        BatchLog::open(log)?.write(&outcome)?;
    }
    Ok(outcome)
}

/// A failed stack's error as `fstack batch` logs it: the file's error alone (no
/// action name: the run has one action, named after the command), an option out of
/// range by its flag, every cause joined by `: `.
pub fn error_message(e: &JobError) -> String {
    match e {
        JobError::InvalidOption { option, reason, .. } => {
            format!("invalid value for --{}: {reason}", option.replace('_', "-"))
        }
        JobError::Frames { source, .. } => chain(source),
        JobError::Stacker { source, .. } => format!("stacking failed: {}", chain(source)),
        JobError::MapNotPlaced { output, what, source } => {
            format!(
                "{} was written, but not the {what}: {}",
                output.display(),
                error_message(source)
            )
        }
        other => chain(other),
    }
}

/// An error and every cause, joined by `: ` (as anyhow's `{:#}` shows it).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}
