//! Running a batch: resume, memory-aware scheduling over stacks, failures and
//! cancellation, the summary.
//!
//! Scheduling: up to [`BatchOptions::jobs`] workers take the stacks in list order.
//! Each stack's memory is estimated from its first frame's header
//! ([`estimate_memory`]); the next stack starts when the estimates of the running
//! stacks plus its own fit [`BatchOptions::memory_limit`], or when nothing runs (a
//! stack bigger than the limit runs alone). The order is strict: a big stack at the
//! head of the list waits for room rather than let small ones overtake it, so
//! stacks start in list order and a big one is never starved. A stack whose first
//! frame cannot be read is estimated at 0 and left to the stacking closure, which
//! reports the error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use fs_core::Progress;

use super::BatchStack;
use super::log::{BatchLog, timestamp};
use crate::Result;

/// A stack's memory estimate is its first frame's size as f32 planes
/// (width x height x channels x 4 bytes) times this factor: room for the frame being
/// decoded, the stacker's running state (a few planes) and alignment's reference
/// and warped frame. A rough bound for the default stacker, not a measurement.
pub const MEMORY_FACTOR: u64 = 8;

/// How a batch runs.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Memory the running stacks' estimates must fit in, in bytes [default: 8 GiB].
    pub memory_limit: u64,
    /// Stacks run at once at most [default: `None`, the number of cores].
    pub jobs: Option<usize>,
    /// Redo stacks whose output is up to date instead of skipping them.
    pub force: bool,
    /// The JSON-lines log to append to (`None`: no log).
    pub log: Option<PathBuf>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self { memory_limit: 8 << 30, jobs: None, force: false, log: None }
    }
}

/// What the stacking closure reports about a stack it finished.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StackDone {
    /// Remarks worth showing (what alignment did, frames left out), in order.
    pub notes: Vec<String>,
}

/// How a stack of a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackStatus {
    /// Stacked and written.
    Done,
    /// Its output was up to date; nothing was done.
    Skipped,
    /// The stacking failed (or panicked); the batch went on.
    Failed,
    /// Not done because the batch was cancelled (before or while it ran).
    Cancelled,
}

impl StackStatus {
    /// The status as the log spells it: `done`, `skipped`, `failed`, `cancelled`.
    pub fn name(self) -> &'static str {
        match self {
            StackStatus::Done => "done",
            StackStatus::Skipped => "skipped",
            StackStatus::Failed => "failed",
            StackStatus::Cancelled => "cancelled",
        }
    }
}

/// How one stack of a batch went: its line in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct StackOutcome {
    /// The stack's id.
    pub id: String,
    /// How it ended.
    pub status: StackStatus,
    /// Its number of frames.
    pub frames: usize,
    /// Its output file.
    pub output: PathBuf,
    /// When it started (RFC 3339, UTC); for a stack that never started, when the
    /// batch decided so.
    pub started: String,
    /// Wall time in seconds (0 for a stack that did not run).
    pub seconds: f64,
    /// The error, for a failed (or cancelled while running) stack.
    pub error: Option<String>,
    /// The closure's notes, for a stack done.
    pub notes: Vec<String>,
}

impl StackOutcome {
    /// The log line's object: `id`, `status`, `frames`, `output`, `seconds`,
    /// `started`, `error` (null unless failed) and `notes`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "status": self.status.name(),
            "frames": self.frames,
            "output": self.output,
            "seconds": self.seconds,
            "started": self.started,
            "error": self.error,
            "notes": self.notes,
        })
    }
}

/// What a batch did, one result per stack in the order of the stack list
/// (whatever order the threads finished in).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSummary {
    /// Per stack, in list order.
    pub results: Vec<StackOutcome>,
    /// Wall time of the whole batch in seconds.
    pub seconds: f64,
    /// Log lines that could not be written (the batch went on without them).
    pub log_errors: Vec<String>,
}

impl BatchSummary {
    /// The ids of the stacks that failed, in list order.
    pub fn failed(&self) -> impl Iterator<Item = &str> {
        self.with_status(StackStatus::Failed)
    }
    /// The ids of the stacks that ended with `status`, in list order.
    pub fn with_status(&self, status: StackStatus) -> impl Iterator<Item = &str> {
        self.results.iter().filter(move |r| r.status == status).map(|r| r.id.as_str())
    }
    /// How many stacks ended with `status`.
    pub fn count(&self, status: StackStatus) -> usize {
        self.with_status(status).count()
    }
}

/// The memory estimate of a stack whose first frame is `first_frame` (see
/// [`MEMORY_FACTOR`]); `None` when its header cannot be read.
pub fn estimate_memory(first_frame: &Path) -> Option<u64> {
    let info = fs_core::read_frame_info(first_frame).ok()?;
    let samples = (info.width as u64) * (info.height as u64) * info.format.layout.channels() as u64;
    Some(samples.saturating_mul(4 * MEMORY_FACTOR))
}

/// Whether `stack`'s output exists and was modified after every one of its frames
/// (a frame that cannot be read is taken as newer: the stack is redone).
pub fn is_up_to_date(stack: &BatchStack) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(output) = modified(&stack.output) else { return false };
    stack.frames.iter().all(|f| modified(f).is_some_and(|t| t < output))
}

/// Runs every stack of `stacks` with `stack_one`, as the module docs say.
///
/// `stack_one` stacks one stack into its `output`, writing it atomically (a
/// temporary file renamed into place); it gets a progress hook that reports
/// nothing but forwards `progress`'s cancellation. It may run on several threads
/// at once. An `Err` or a panic fails that stack only; the error's alternate
/// form (`{:#}`, the whole chain for `anyhow`) is what the log records.
///
/// `progress` sees one phase, `batch`, counting stacks finished (skipped ones
/// included) of all. Once it is cancelled no stack starts; the stacks not started
/// are `cancelled`, and so is one that fails while the batch is cancelled.
///
/// Errors only when the log cannot be opened: stacks failing is the summary's
/// business.
pub fn run_batch<E: std::fmt::Display>(
    stacks: &[BatchStack],
    options: &BatchOptions,
    stack_one: impl Fn(&BatchStack, &dyn Progress) -> std::result::Result<StackDone, E> + Sync,
    progress: &dyn Progress,
) -> Result<BatchSummary> {
    let start = Instant::now();
    let log = options.log.as_deref().map(BatchLog::open).transpose()?;
    let board = Board {
        results: Mutex::new(vec![None; stacks.len()]),
        log_errors: Mutex::new(Vec::new()),
        log: log.as_ref(),
        finished: Mutex::new(0),
        progress,
    };
    progress.phase("batch", stacks.len() as u64);

    // Up-to-date stacks are skipped before anything runs.
    let mut to_run = Vec::new();
    for (i, stack) in stacks.iter().enumerate() {
        if !options.force && is_up_to_date(stack) {
            board.record(i, ended(stack, StackStatus::Skipped, SystemTime::now(), 0.0, None));
        } else {
            to_run.push((i, estimate_memory(&stack.frames[0]).unwrap_or(0)));
        }
    }

    let workers = options
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, to_run.len().max(1));
    let queue = Queue { state: Mutex::new(Admitted::default()), room: Condvar::new() };
    let cancel_only = CancelOnly(progress);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some((i, estimate)) = queue.take(&to_run, options.memory_limit, progress)
                {
                    let result = run_one(&stacks[i], &stack_one, &cancel_only);
                    queue.release(estimate);
                    board.record(i, result);
                }
            });
        }
    });

    // What never started was cancelled.
    let now = SystemTime::now();
    for (i, _) in &to_run {
        let missing = board.results.lock().unwrap_or_else(|e| e.into_inner())[*i].is_none();
        if missing {
            board.record(*i, ended(&stacks[*i], StackStatus::Cancelled, now, 0.0, None));
        }
    }
    let results = board.results.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(BatchSummary {
        results: results.into_iter().map(|r| r.expect("every stack has a result")).collect(),
        seconds: start.elapsed().as_secs_f64(),
        log_errors: board.log_errors.into_inner().unwrap_or_else(|e| e.into_inner()),
    })
}

/// Runs one stack, catching its panic, and cleans up its output when it did not
/// succeed.
pub(super) fn run_one<E: std::fmt::Display>(
    stack: &BatchStack,
    stack_one: &(impl Fn(&BatchStack, &dyn Progress) -> std::result::Result<StackDone, E> + Sync),
    progress: &dyn Progress,
) -> StackOutcome {
    let started = SystemTime::now();
    let clock = Instant::now();
    let before = file_state(&stack.output);
    let outcome = match stack.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) if !parent.is_dir() => std::fs::create_dir_all(parent)
            .map_err(|e| format!("{}: cannot create the output folder: {e}", parent.display())),
        _ => Ok(()),
    }
    .and_then(|()| match catch_unwind(AssertUnwindSafe(|| stack_one(stack, progress))) {
        Ok(Ok(done)) if stack.output.is_file() => Ok(done),
        Ok(Ok(_)) => Err(format!(
            "{}: the stacking reported success but wrote no file there",
            stack.output.display()
        )),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(panic) => Err(format!("internal error (a bug): {}", panic_message(&*panic))),
    });
    let seconds = clock.elapsed().as_secs_f64();
    match outcome {
        Ok(done) => {
            let mut r = ended(stack, StackStatus::Done, started, seconds, None);
            r.notes = done.notes;
            r
        }
        Err(message) => {
            // No result at the output path: what was not there before goes.
            if file_state(&stack.output).is_some() && file_state(&stack.output) != before {
                let _ = std::fs::remove_file(&stack.output);
            }
            let status =
                if progress.is_cancelled() { StackStatus::Cancelled } else { StackStatus::Failed };
            ended(stack, status, started, seconds, Some(message))
        }
    }
}

pub(super) fn ended(
    stack: &BatchStack,
    status: StackStatus,
    started: SystemTime,
    seconds: f64,
    error: Option<String>,
) -> StackOutcome {
    StackOutcome {
        id: stack.id.clone(),
        status,
        frames: stack.frames.len(),
        output: stack.output.clone(),
        started: timestamp(started),
        seconds,
        error,
        notes: Vec::new(),
    }
}

/// What identifies the file at a path: size, modification time and (on Unix) inode.
fn file_state(path: &Path) -> Option<(u64, Option<SystemTime>, u64)> {
    let m = std::fs::symlink_metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some((m.len(), m.modified().ok(), inode))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".into())
}

/// The results so far, and the log and progress they are reported to.
struct Board<'a> {
    results: Mutex<Vec<Option<StackOutcome>>>,
    log_errors: Mutex<Vec<String>>,
    log: Option<&'a BatchLog>,
    finished: Mutex<u64>,
    progress: &'a dyn Progress,
}

impl Board<'_> {
    fn record(&self, i: usize, result: StackOutcome) {
        if let Some(log) = self.log
            && let Err(e) = log.write(&result)
        {
            self.log_errors.lock().unwrap_or_else(|e| e.into_inner()).push(e.to_string());
        }
        self.results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        *finished += 1;
        self.progress.step(*finished);
    }
}

#[derive(Debug, Default)]
struct Admitted {
    /// Index into the run list of the next stack to start.
    next: usize,
    /// Stacks running, and the sum of their estimates.
    running: usize,
    bytes: u64,
}

/// The admission of stacks by memory (see the module docs).
struct Queue {
    state: Mutex<Admitted>,
    room: Condvar,
}

impl Queue {
    /// The next stack to run and its estimate, once it fits; `None` when the list
    /// is done or the batch is cancelled.
    fn take(
        &self,
        to_run: &[(usize, u64)],
        limit: u64,
        progress: &dyn Progress,
    ) -> Option<(usize, u64)> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if progress.is_cancelled() {
                return None;
            }
            let &(i, estimate) = to_run.get(s.next)?;
            if s.running == 0 || s.bytes.saturating_add(estimate) <= limit {
                s.next += 1;
                s.running += 1;
                s.bytes += estimate;
                return Some((i, estimate));
            }
            // Woken when a stack ends; the timeout is for noticing a cancellation.
            s = self
                .room
                .wait_timeout(s, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn release(&self, estimate: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.running -= 1;
        s.bytes -= estimate;
        self.room.notify_all();
    }
}

/// The hook a stack runs with: the batch's cancellation, none of its progress (the
/// batch's bar counts stacks; stacks running side by side would fight over it).
struct CancelOnly<'a>(&'a dyn Progress);

impl Progress for CancelOnly<'_> {
    fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}
