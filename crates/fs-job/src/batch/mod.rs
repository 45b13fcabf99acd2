//! Many stacks in one run: the engine behind `fstack batch`.
//!
//! A batch is a list of [`BatchStack`]s, each one stack to do (its frames and its
//! output file), which comes from
//! - [`discover`]: every folder under a root that directly holds frames, or
//! - [`read_manifest`]: a CSV or JSON-lines file naming each stack,
//!
//! and can be cut further by [`split_by_gap`] (one capture folder into bursts, by
//! EXIF capture time) and [`shard`] (one of N machines' share). [`run_batch`] then
//! stacks them in parallel within one memory budget, skips what is already done,
//! keeps going past failures and appends one line per stack to a JSON-lines log.
//! The stacking of one stack is the caller's closure: the runner never decodes a
//! pixel itself.
//!
//! ```
//! use fs_core::NoProgress;
//! use fs_job::batch::{BatchOptions, OutputExt, StackDone, discover, run_batch};
//!
//! let root = tempfile::tempdir().unwrap();
//! for id in ["a", "b/c"] {
//!     let dir = root.path().join(id);
//!     std::fs::create_dir_all(&dir).unwrap();
//!     std::fs::write(dir.join("f1.jpg"), b"not decoded in this example").unwrap();
//! }
//! let out = root.path().join("out");
//! let stacks = discover(root.path(), &out, &OutputExt::FirstFrame).unwrap();
//! let ids: Vec<&str> = stacks.iter().map(|s| s.id.as_str()).collect();
//! assert_eq!(ids, ["a", "b/c"]);
//! assert_eq!(stacks[1].output, out.join("b__c.jpg"));
//!
//! // A stand-in for the real stacking: copy the first frame.
//! let summary = run_batch(&stacks, &BatchOptions::default(), |stack, _progress| {
//!     std::fs::copy(&stack.frames[0], &stack.output).map_err(|e| e.to_string())?;
//!     Ok::<_, String>(StackDone::default())
//! }, &NoProgress).unwrap();
//! assert_eq!(summary.failed().count(), 0);
//! assert!(out.join("b__c.jpg").is_file());
//! ```
//!
//! # Names
//! A discovered stack's id is its folder's path relative to the root, with `/`
//! between the parts (the root itself, when it holds frames, is its own folder's
//! name). Its output is one flat folder: `OUT/<id with every / as __>.<ext>`, so a
//! batch's results sit side by side; two ids that flatten to one name are an error
//! ([`JobError::DuplicateStack`]), never one output written twice.
//!
//! # Resume and the log
//! A stack whose output exists and was modified after every one of its frames is
//! skipped (unless [`BatchOptions::force`]). Every stack of every run appends one
//! line to the log ([`LOG_FILE`] in OUT for the CLI), written and flushed as soon as
//! the stack ends, so a killed run keeps the lines of the stacks it finished. A
//! failed or cancelled stack leaves no file at its output path (the runner removes
//! whatever the closure left there that was not there before).

mod discover;
mod log;
mod manifest;
mod one;
mod run;
mod split;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fs_core::FileFormat;

use crate::{JobError, Result};

pub use self::discover::discover;
pub use self::log::{LOG_FILE, timestamp};
pub use self::manifest::read_manifest;
pub use self::one::{error_message, run_stack, stack_one};
pub use self::run::{
    BatchOptions, BatchSummary, MEMORY_FACTOR, StackDone, StackOutcome, StackStatus,
    estimate_memory, is_up_to_date, run_batch,
};
pub use self::split::{check_split_gap, parse_shard, shard, split_all_by_gap, split_by_gap};

/// One stack of a batch: its frames, in stacking order, and the file to write.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStack {
    /// The stack's name in logs and summaries (unique in a batch).
    pub id: String,
    /// The frames, in order.
    pub frames: Vec<PathBuf>,
    /// The output file; its extension chooses the format.
    pub output: PathBuf,
    /// Per-stack options from a manifest, by name (`stacker`, `pyramid_min_size`,
    /// ...), as text (CSV) or any JSON value (JSON lines); empty for discovered stacks.
    pub options: BTreeMap<String, serde_json::Value>,
}

/// The extension of the outputs the batch names itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OutputExt {
    /// The first frame's, as it is spelt (like `fstack stack`).
    #[default]
    FirstFrame,
    /// One format for every output.
    Fixed(FileFormat),
}

/// The output of stack `id` in `out_dir`: `<id with '/' as "__">.<ext>`.
pub fn output_for(out_dir: &Path, id: &str, first_frame: &Path, ext: &OutputExt) -> PathBuf {
    let ext = match ext {
        OutputExt::FirstFrame => fs_core::FileFormat::output_extension(first_frame),
        OutputExt::Fixed(format) => format.extension().to_string(),
    };
    out_dir.join(format!("{}.{ext}", id.replace('/', "__")))
}

/// Refuses two stacks with one id or one output.
pub(crate) fn check_unique(stacks: &[BatchStack]) -> Result<()> {
    let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
    let mut outputs: BTreeMap<&Path, &str> = BTreeMap::new();
    for s in stacks {
        if let Some(first) = ids.insert(&s.id, &s.id) {
            return Err(duplicate("id", s.id.clone(), first, &s.id));
        }
        if let Some(first) = outputs.insert(&s.output, &s.id) {
            return Err(duplicate("output", s.output.display().to_string(), first, &s.id));
        }
    }
    Ok(())
}

fn duplicate(what: &'static str, value: String, first: &str, second: &str) -> JobError {
    JobError::DuplicateStack { what, value, first: first.into(), second: second.into() }
}
