//! fs-python: the native part of the Python package `fstack` (`fstack._fstack`).
//!
//! The Python layer (`python/fstack/`) turns numpy arrays into frames of raw samples
//! and back; this module runs fs-job's entry points on them: [`fs_job::stack_frames`]
//! for arrays, [`fs_job::stack_files`] for files, [`fs_job::load_job_file`] for job
//! files and ShineStacker projects, [`fs_job::batch::run_batch`] over
//! [`fs_job::StackRun`]s for `fstack.batch` (as `fstack batch` runs them). The work runs on a thread of its own while the
//! calling thread waits with the GIL released; every 50 ms it takes the GIL back to
//! hand progress to the Python callback and to check for Ctrl-C, which cancels the
//! work (it stops between frames) and raises `KeyboardInterrupt`. Errors carry the
//! CLI's messages: `ValueError` for options, `FileNotFoundError` / `OSError` for
//! files, `RuntimeError` for the rest.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use fs_core::{
    BitDepth, CancelFlag, ChannelLayout, CoreError, Frame, FrameInfo, Overwrite, PixelFormat,
    Progress, Samples, WriteOptions,
};
use fs_job::{FrameSource, JobError, ProjectOptions, StackResult, StackSpec, StackerKind};
use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError,
    PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};

/// How often the waiting thread takes the GIL back (progress, Ctrl-C).
const POLL: Duration = Duration::from_millis(50);

/// One progress event for the Python callback: phase, done, total.
type Event = (String, u64, u64);

/// Progress that queues events for the Python thread and cancels on its word.
struct Queued {
    events: Mutex<Sender<Event>>,
    phase: Mutex<(String, u64)>,
    cancel: CancelFlag,
}

impl Progress for Queued {
    fn phase(&self, name: &str, total: u64) {
        *self.phase.lock().expect("phase lock") = (name.to_string(), total);
        let _ = self.events.lock().expect("events lock").send((name.to_string(), 0, total));
    }
    fn step(&self, done: u64) {
        let (name, total) = self.phase.lock().expect("phase lock").clone();
        let _ = self.events.lock().expect("events lock").send((name, done, total));
    }
    fn is_cancelled(&self) -> bool {
        self.cancel.is_set()
    }
}

/// Runs `work` on a thread of its own with the GIL released, handing its progress to
/// `callback` (called as `callback(phase, done, total)` on this thread) and turning
/// Ctrl-C (or an exception in the callback) into cancellation and that exception.
fn detached<T: Send>(
    py: Python<'_>,
    callback: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce(&dyn Progress) -> T + Send,
) -> PyResult<T> {
    let (tx, rx): (Sender<Event>, Receiver<Event>) = channel();
    let progress = Queued {
        events: Mutex::new(tx),
        phase: Mutex::new((String::new(), 0)),
        cancel: CancelFlag::new(),
    };
    let (done_tx, done_rx) = channel::<()>();
    let done_rx = Mutex::new(done_rx);
    std::thread::scope(|scope| {
        let progress = &progress;
        let worker = scope.spawn(move || {
            let out = work(progress);
            let _ = done_tx.send(());
            out
        });
        let mut raised: Option<PyErr> = None;
        let mut last_call = Instant::now() - POLL;
        loop {
            let finished =
                py.detach(|| done_rx.lock().expect("done lock").recv_timeout(POLL).is_ok());
            // The latest event of each burst goes to the callback (at most every POLL).
            let latest = rx.try_iter().last();
            if let (Some(cb), Some((phase, done, total)), None) = (callback, latest, &raised)
                && (finished || last_call.elapsed() >= POLL)
            {
                last_call = Instant::now();
                if let Err(e) = cb.call1((phase, done, total)) {
                    progress.cancel.cancel();
                    raised = Some(e);
                }
            }
            if raised.is_none()
                && let Err(e) = py.check_signals()
            {
                progress.cancel.cancel();
                raised = Some(e);
            }
            if finished {
                break;
            }
        }
        let out = worker.join().map_err(|_| PyRuntimeError::new_err("fstack: the work panicked"));
        match raised {
            Some(e) => Err(e),
            None => out,
        }
    })
}

/// An fs-job error as the Python exception a caller expects, with the CLI's message.
fn to_py(e: JobError) -> PyErr {
    // One stack outside a job has no action to name: the file's error alone, as the
    // CLI says it.
    let message = match &e {
        JobError::Frames { source, .. } => chain(source),
        JobError::InvalidOption { option, reason, .. } => {
            format!("invalid option `{option}`: {reason}")
        }
        _ => chain(&e),
    };
    kind_of(&e)(message)
}

/// Which exception an error is.
fn kind_of(e: &JobError) -> fn(String) -> PyErr {
    let not_found = |io: &std::io::Error| io.kind() == std::io::ErrorKind::NotFound;
    match e {
        _ if e.is_cancelled() => PyKeyboardInterrupt::new_err,
        JobError::InFile { source, .. } => kind_of(source),
        JobError::InvalidOption { .. }
        | JobError::JobFile { .. }
        | JobError::Manifest { .. }
        | JobError::DuplicateStack { .. }
        | JobError::Shard { .. } => PyValueError::new_err,
        JobError::Frames { source, .. } => match source {
            CoreError::Io { source, .. } if not_found(source) => PyFileNotFoundError::new_err,
            CoreError::Dimensions(_) | CoreError::FrameMismatch { .. } => PyValueError::new_err,
            CoreError::Exists { .. } => PyFileExistsError::new_err,
            _ => PyOSError::new_err,
        },
        JobError::Io { source, .. } if not_found(source) => PyFileNotFoundError::new_err,
        JobError::Io { .. } | JobError::Clash { .. } | JobError::UnsafeOutput { .. } => {
            PyOSError::new_err
        }
        _ => PyRuntimeError::new_err,
    }
}

/// The error and its causes, as the CLI prints them (`a: b: c`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        next = cause.source();
    }
    text
}

/// The stacker and options of one stack from the Python keywords (JSON text of a
/// flat dict, by the seed's names).
fn spec_of(stacker: &str, options_json: &str) -> PyResult<StackSpec> {
    let kind = StackerKind::from_name(stacker).ok_or_else(|| {
        let names: Vec<&str> = StackerKind::ALL.iter().map(|k| k.name()).collect();
        PyValueError::new_err(format!("unknown stacker {stacker:?} (one of {})", names.join(", ")))
    })?;
    let json: serde_json::Value = serde_json::from_str(options_json)
        .map_err(|e| PyValueError::new_err(format!("options: {e}")))?;
    let table: toml::Table = toml::Table::try_from(json)
        .map_err(|e| PyValueError::new_err(format!("options: {e} (None is not a value)")))?;
    fs_job::parse_stack_options(kind, table).map_err(to_py)
}

/// Frames of one stack as the Python layer hands them: raw C-order samples.
struct RawFrames<'a> {
    frames: Vec<&'a [u8]>,
    info: FrameInfo,
}

impl FrameSource for RawFrames<'_> {
    fn len(&self) -> usize {
        self.frames.len()
    }
    fn info(&self, _index: usize) -> FrameInfo {
        self.info
    }
    fn frame(&self, index: usize) -> fs_core::Result<Frame> {
        let bytes = self.frames[index];
        let samples = match self.info.format.depth {
            BitDepth::Eight => Samples::U8(bytes.to_vec()),
            BitDepth::Sixteen => Samples::U16(
                bytes.chunks_exact(2).map(|b| u16::from_ne_bytes([b[0], b[1]])).collect(),
            ),
        };
        Frame::new(self.info, samples)
    }
}

fn layout_of(channels: usize) -> PyResult<ChannelLayout> {
    Ok(match channels {
        1 => ChannelLayout::Gray,
        2 => ChannelLayout::GrayAlpha,
        3 => ChannelLayout::Rgb,
        4 => ChannelLayout::Rgba,
        c => {
            return Err(PyValueError::new_err(format!(
                "{c} channels: 1 to 4 are stacked as one image"
            )));
        }
    })
}

/// A frame as `(samples, width, height, channels, bits)`, samples in native order.
type RawFrame<'py> = (Bound<'py, PyByteArray>, usize, usize, usize, u32);

fn raw<'py>(py: Python<'py>, frame: &Frame) -> RawFrame<'py> {
    let info = frame.info();
    let bytes = match frame.samples() {
        Samples::U8(s) => PyByteArray::new(py, s),
        Samples::U16(s) => {
            let b: Vec<u8> = s.iter().flat_map(|v| v.to_ne_bytes()).collect();
            PyByteArray::new(py, &b)
        }
    };
    let bits = match info.format.depth {
        BitDepth::Eight => 8,
        BitDepth::Sixteen => 16,
    };
    (bytes, info.width, info.height, info.format.layout.channels(), bits)
}

/// What a stack gave, for Python: image, depth map, confidence map, notes, frames.
type PyStacked<'py> =
    (RawFrame<'py>, Option<RawFrame<'py>>, Option<RawFrame<'py>>, Vec<String>, usize);

fn stacked<'py>(py: Python<'py>, r: &StackResult) -> PyStacked<'py> {
    (
        raw(py, &r.image),
        r.depth_map.as_ref().map(|m| raw(py, m)),
        r.confidence_map.as_ref().map(|m| raw(py, m)),
        r.notes.clone(),
        r.frames,
    )
}

/// Stacks frames of raw samples (each `width * height * channels` samples of
/// `bits` bits, native byte order).
#[pyfunction]
#[pyo3(signature = (frames, width, height, channels, bits, stacker, options, progress=None))]
fn stack_raw<'py>(
    py: Python<'py>,
    frames: Vec<Bound<'py, PyBytes>>,
    width: usize,
    height: usize,
    channels: usize,
    bits: u32,
    stacker: &str,
    options: &str,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<PyStacked<'py>> {
    let spec = spec_of(stacker, options)?;
    let depth = match bits {
        8 => BitDepth::Eight,
        16 => BitDepth::Sixteen,
        b => return Err(PyValueError::new_err(format!("{b}-bit samples: 8 or 16"))),
    };
    let info =
        FrameInfo { width, height, format: PixelFormat { layout: layout_of(channels)?, depth } };
    let expected = width * height * channels * (bits as usize / 8);
    let slices: Vec<&[u8]> = frames.iter().map(|b| b.as_bytes()).collect();
    if let Some(k) = slices.iter().position(|s| s.len() != expected) {
        return Err(PyValueError::new_err(format!(
            "frame {k}: {} bytes, {info} needs {expected}",
            slices[k].len()
        )));
    }
    let source = RawFrames { frames: slices, info };
    let result = detached(py, progress.as_ref(), |p| fs_job::stack_frames(&source, &spec, p))?;
    Ok(stacked(py, &result.map_err(to_py)?))
}

/// Stacks image files; with `output`, also writes the image there (atomically; over
/// an existing file only with `overwrite`).
#[pyfunction]
#[pyo3(signature = (paths, stacker, options, output=None, overwrite=false, progress=None))]
fn stack_files<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    stacker: &str,
    options: &str,
    output: Option<PathBuf>,
    overwrite: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<PyStacked<'py>> {
    let spec = spec_of(stacker, options)?;
    if paths.is_empty() {
        return Err(PyValueError::new_err("a stack needs at least one frame"));
    }
    if let Some(out) = &output {
        if paths.iter().any(|f| same_file(f, out)) {
            return Err(PyValueError::new_err(format!(
                "{}: is one of the frames; fstack never writes over an input",
                out.display()
            )));
        }
        refuse_existing(out, overwrite)?;
    }
    let result = detached(py, progress.as_ref(), |p| -> fs_job::Result<StackResult> {
        let result = fs_job::stack_files(&paths, &spec, p)?;
        if let Some(out) = &output {
            let overwrite = if overwrite { Overwrite::Replace } else { Overwrite::Refuse };
            let options = WriteOptions { overwrite, ..WriteOptions::default() };
            result
                .write(out, &options)
                .map_err(|e| JobError::Frames { action: "stack".into(), source: e })?;
        }
        Ok(result)
    })?;
    Ok(stacked(py, &result.map_err(to_py)?))
}

/// An existing output is refused before any work, as the CLI refuses it without
/// `--force`.
fn refuse_existing(out: &std::path::Path, overwrite: bool) -> PyResult<()> {
    if !overwrite && out.exists() {
        return Err(PyFileExistsError::new_err(format!(
            "{}: already exists; pass overwrite=True to replace it, or name another output",
            out.display()
        )));
    }
    Ok(())
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Runs a job file (`.toml`) or ShineStacker project (`.fsp`); returns the files
/// written, in order.
#[pyfunction]
#[pyo3(signature = (path, skip_unsupported=false, progress=None))]
fn run_job(
    py: Python<'_>,
    path: PathBuf,
    skip_unsupported: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<Vec<PathBuf>> {
    let outputs = detached(py, progress.as_ref(), |p| -> fs_job::Result<Vec<PathBuf>> {
        let loaded = fs_job::load_job_file(&path, ProjectOptions { skip_unsupported })?;
        let mut outputs = Vec::new();
        for job in &loaded.jobs {
            let summary = job.run(p)?;
            outputs.extend(summary.outputs().map(|o| o.to_path_buf()));
        }
        Ok(outputs)
    })?;
    outputs.map_err(to_py)
}

/// The stacks of a batch as `fstack batch ROOT -o OUT_DIR [--split-gap S]` finds
/// them: every folder under `root` that holds frames, split where the capture time
/// jumps by more than `split_gap` seconds; each as (id, frames, output).
#[pyfunction]
#[pyo3(signature = (root, out_dir, split_gap=None))]
fn discover(
    py: Python<'_>,
    root: PathBuf,
    out_dir: PathBuf,
    split_gap: Option<f64>,
) -> PyResult<Vec<(String, Vec<PathBuf>, PathBuf)>> {
    if let Some(gap) = split_gap {
        fs_job::batch::check_split_gap(gap)
            .map_err(|r| PyValueError::new_err(format!("invalid option `split_gap`: {r}")))?;
    }
    let stacks = py
        .detach(|| -> fs_job::Result<Vec<fs_job::BatchStack>> {
            let found = fs_job::batch::discover(&root, &out_dir, &Default::default())?;
            match split_gap {
                Some(gap) => fs_job::batch::split_all_by_gap(&found, gap),
                None => Ok(found),
            }
        })
        .map_err(to_py)?;
    Ok(stacks.into_iter().map(|s| (s.id, s.frames, s.output)).collect())
}

/// Whether `output` exists and is newer than every one of `frames`: the rule by
/// which `fstack batch` skips a stack ([`fs_job::batch::is_up_to_date`]).
#[pyfunction]
fn up_to_date(frames: Vec<PathBuf>, output: PathBuf) -> bool {
    let stack =
        fs_job::BatchStack { id: String::new(), frames, output, options: Default::default() };
    fs_job::batch::is_up_to_date(&stack)
}

/// `fstack batch ROOT -o OUT_DIR` (or `--manifest FILE` when `root_or_manifest` is a
/// file) with the stacker and options of `stack_files`: the same stacks, shard, resume
/// rule, log (`OUT_DIR/fstack-batch.jsonl`), scheduler ([`fs_job::batch::run_batch`])
/// and per-stack run ([`fs_job::StackRun`], as the CLI runs each stack). Returns each
/// stack's log line (JSON text), in list order; a failed stack is a line, not an error.
#[pyfunction]
#[pyo3(signature = (root_or_manifest, out_dir, stacker, options, split_gap=None, shard=None,
                    jobs=None, memory_limit=None, overwrite=false, jpeg_quality=95, exif=true,
                    progress=None))]
#[allow(clippy::too_many_arguments)]
fn batch(
    py: Python<'_>,
    root_or_manifest: PathBuf,
    out_dir: PathBuf,
    stacker: &str,
    options: &str,
    split_gap: Option<f64>,
    shard: Option<(usize, usize)>,
    jobs: Option<usize>,
    memory_limit: Option<String>,
    overwrite: bool,
    jpeg_quality: u8,
    exif: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<Vec<String>> {
    use fs_job::batch::{BatchOptions, LOG_FILE, OutputExt};
    let invalid = |option: &str, reason: String| {
        PyValueError::new_err(format!("invalid option `{option}`: {reason}"))
    };
    let mut spec = spec_of(stacker, options)?;
    spec.validate().map_err(to_py)?;
    if !(1..=100).contains(&jpeg_quality) {
        return Err(invalid("jpeg_quality", format!("must be 1..=100, got {jpeg_quality}")));
    }
    if let Some(gap) = split_gap {
        fs_job::batch::check_split_gap(gap).map_err(|r| invalid("split_gap", r))?;
    }
    if jobs == Some(0) {
        return Err(invalid("jobs", "must be at least 1, got 0".into()));
    }
    let memory_limit = memory_limit
        .map(|m| m.parse::<fs_job::ByteSize>().map_err(|r| invalid("memory_limit", r)))
        .transpose()?
        .map(|m| m.0);
    // The batch's budget is also the limit of the stackers that have one, as with
    // `fstack batch --memory-limit`.
    if let Some(limit) = memory_limit {
        match &mut spec.stacker {
            fs_job::Stacker::FocusMap(o) => o.memory_limit = limit,
            fs_job::Stacker::Auto(o) => o.memory_limit = limit,
            _ => {}
        }
    }
    if out_dir.is_file() {
        return Err(PyFileExistsError::new_err(format!(
            "{}: is a file; out_dir names the folder for the outputs",
            out_dir.display()
        )));
    }
    let stacks = py
        .detach(|| -> fs_job::Result<Vec<fs_job::BatchStack>> {
            std::fs::create_dir_all(&out_dir).map_err(|e| JobError::Io {
                path: out_dir.clone(),
                source: std::io::Error::new(e.kind(), format!("cannot create: {e}")),
            })?;
            let mut stacks = if root_or_manifest.is_file() {
                fs_job::batch::read_manifest(&root_or_manifest, &out_dir)?
            } else {
                fs_job::batch::discover(&root_or_manifest, &out_dir, &OutputExt::FirstFrame)?
            };
            if let Some(gap) = split_gap {
                stacks = fs_job::batch::split_all_by_gap(&stacks, gap)?;
            }
            match shard {
                Some((k, n)) => fs_job::batch::shard(stacks, k, n),
                None => Ok(stacks),
            }
        })
        .map_err(to_py)?;
    if let Some(s) = stacks.iter().find(|s| !s.options.is_empty()) {
        let names: Vec<&str> = s.options.keys().map(String::as_str).collect();
        return Err(PyValueError::new_err(format!(
            "stack `{}`: per-stack options ({}) are read from the manifest but not applied \
             yet; give the options as keywords for the whole batch",
            s.id,
            names.join(", ")
        )));
    }
    let batch_options = BatchOptions {
        memory_limit: memory_limit.unwrap_or(BatchOptions::default().memory_limit),
        jobs,
        force: overwrite,
        log: Some(out_dir.join(LOG_FILE)),
    };
    let template = template(&spec, jpeg_quality, exif);
    let stack_one = |stack: &fs_job::BatchStack, p: &dyn Progress| {
        fs_job::batch::stack_one(stack, &template, p, &|| {})
    };
    let summary = detached(py, progress.as_ref(), |p| {
        fs_job::batch::run_batch(&stacks, &batch_options, stack_one, p)
    })?
    .map_err(to_py)?;
    Ok(summary.results.iter().map(|r| r.to_json().to_string()).collect())
}

/// The batch's per-stack [`fs_job::StackRun`] (frames and output put in per stack by
/// [`fs_job::batch::stack_one`], as `fstack batch` does): `spec`'s stacker and
/// options, the JPEG quality, the first frame's EXIF or none.
fn template(spec: &StackSpec, jpeg_quality: u8, exif: bool) -> fs_job::StackRun {
    fs_job::StackRun {
        jpeg_quality,
        exif: if exif { fs_job::ExifSource::FirstFrame } else { fs_job::ExifSource::None },
        ..fs_job::StackRun::new(
            Vec::new(),
            PathBuf::new(),
            spec.stacker.clone(),
            spec.options.clone(),
        )
    }
}

/// One stack of a batch, run as [`batch`] runs each (for `fstack.dask.batch`'s tasks,
/// so a cluster writes the bytes and the log lines `fstack batch` writes): skipped
/// when up to date unless `overwrite`, its line appended to `log` when given.
/// Returns its log line (JSON text); a failed stack is a line, not an error. Bad
/// options raise ValueError, a log that cannot be written OSError.
#[pyfunction]
#[pyo3(signature = (id, frames, output, stacker, options, overwrite=false, jpeg_quality=95,
                    exif=true, log=None))]
#[allow(clippy::too_many_arguments)]
fn batch_stack(
    py: Python<'_>,
    id: String,
    frames: Vec<PathBuf>,
    output: PathBuf,
    stacker: &str,
    options: &str,
    overwrite: bool,
    jpeg_quality: u8,
    exif: bool,
    log: Option<PathBuf>,
) -> PyResult<String> {
    let spec = spec_of(stacker, options)?;
    spec.validate().map_err(to_py)?;
    if !(1..=100).contains(&jpeg_quality) {
        return Err(PyValueError::new_err(format!(
            "invalid option `jpeg_quality`: must be 1..=100, got {jpeg_quality}"
        )));
    }
    let template = template(&spec, jpeg_quality, exif);
    let stack = fs_job::BatchStack { id, frames, output, options: Default::default() };
    let outcome = detached(py, None, |p| {
        fs_job::batch::run_stack(
            &stack,
            overwrite,
            log.as_deref(),
            |s, p| fs_job::batch::stack_one(s, &template, p, &|| {}),
            p,
        )
    })?
    .map_err(to_py)?;
    Ok(outcome.to_json().to_string())
}

/// Reads an image file (JPEG, PNG, TIFF) as raw samples.
#[pyfunction]
fn read_frame(py: Python<'_>, path: PathBuf) -> PyResult<RawFrame<'_>> {
    let frame = py.detach(|| fs_core::read_frame(&path));
    let frame = frame.map_err(|e| to_py(JobError::Frames { action: String::new(), source: e }))?;
    Ok(raw(py, &frame))
}

/// Writes raw samples as an image file (format by extension), atomically; over an
/// existing file only with `overwrite`.
#[pyfunction]
#[pyo3(signature = (path, data, width, height, channels, bits, overwrite=false))]
fn write_frame(
    py: Python<'_>,
    path: PathBuf,
    data: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    bits: u32,
    overwrite: bool,
) -> PyResult<()> {
    let depth = depth_of(bits)?;
    let info =
        FrameInfo { width, height, format: PixelFormat { layout: layout_of(channels)?, depth } };
    let frame = RawFrames { frames: vec![data], info };
    check_len(&frame, 0)?;
    refuse_existing(&path, overwrite)?;
    let overwrite = if overwrite { Overwrite::Replace } else { Overwrite::Refuse };
    let options = WriteOptions { overwrite, ..WriteOptions::default() };
    py.detach(|| fs_core::write_frame(&path, &frame.frame(0)?, &options))
        .map_err(|e| to_py(JobError::Frames { action: String::new(), source: e }))
}

fn depth_of(bits: u32) -> PyResult<BitDepth> {
    match bits {
        8 => Ok(BitDepth::Eight),
        16 => Ok(BitDepth::Sixteen),
        b => Err(PyValueError::new_err(format!("{b}-bit samples: 8 or 16"))),
    }
}

/// Frame `k` must hold exactly the bytes its shape needs.
fn check_len(frames: &RawFrames<'_>, k: usize) -> PyResult<()> {
    let info = frames.info;
    let expected = info.width
        * info.height
        * info.format.layout.channels()
        * (info.format.depth.bits() as usize / 8);
    let got = frames.frames[k].len();
    if got != expected {
        return Err(PyValueError::new_err(format!(
            "frame {k}: {got} bytes, {info} needs {expected}"
        )));
    }
    Ok(())
}

/// The native module.
#[pymodule]
fn _fstack(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stack_raw, m)?)?;
    m.add_function(wrap_pyfunction!(stack_files, m)?)?;
    m.add_function(wrap_pyfunction!(run_job, m)?)?;
    m.add_function(wrap_pyfunction!(discover, m)?)?;
    m.add_function(wrap_pyfunction!(batch, m)?)?;
    m.add_function(wrap_pyfunction!(batch_stack, m)?)?;
    m.add_function(wrap_pyfunction!(up_to_date, m)?)?;
    m.add_function(wrap_pyfunction!(read_frame, m)?)?;
    m.add_function(wrap_pyfunction!(write_frame, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
