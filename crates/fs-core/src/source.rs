//! Frames of a stack, yielded one at a time, with the shape checks every stacker needs.
//!
//! Stackers take any `IntoIterator<Item = Result<Frame>>`, so callers never need to
//! hold a whole stack: [`PathFrames`] decodes each file only when it is asked for.
//! [`check_stack`] reads just the headers, so a frame of the wrong size or format is
//! reported, by name, before any heavy work.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{CoreError, Develop, Frame, FrameInfo, Result, read_frame_info, read_frame_with};

/// The error for a frame whose shape differs from the stack's first frame.
pub fn frame_mismatch(path: &Path, expected: FrameInfo, found: FrameInfo) -> CoreError {
    CoreError::FrameMismatch {
        path: path.into(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// Checks that `frame` has the shape `expected`.
pub fn check_frame(expected: FrameInfo, frame: &Frame) -> Result<()> {
    if frame.info() != expected {
        return Err(frame_mismatch(frame.name(), expected, frame.info()));
    }
    Ok(())
}

/// Reads the header of every file and checks they all share the first one's size,
/// channel layout and bit depth. Returns that shape.
pub fn check_stack(paths: &[PathBuf]) -> Result<FrameInfo> {
    let Some(first) = paths.first() else {
        return Err(CoreError::Dimensions("a stack needs at least one frame".into()));
    };
    crate::raw::check_one_kind(paths, 0)?;
    let expected = read_frame_info(first)?;
    for path in &paths[1..] {
        let info = read_frame_info(path)?;
        if info != expected {
            return Err(frame_mismatch(path, expected, info));
        }
    }
    Ok(expected)
}

/// Decodes the frames of a list of files one at a time, in order, checking each
/// against the first.
#[derive(Debug, Clone)]
pub struct PathFrames {
    paths: Vec<PathBuf>,
    next: usize,
    expected: Option<FrameInfo>,
    develop: Develop,
}

impl PathFrames {
    /// Frames from these files, in this order.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Self { paths, next: 0, expected: None, develop: Develop::default() }
    }
    /// Camera RAW files developed with `develop` (the stack's, [`Develop::for_stack`]).
    pub fn with_develop(mut self, develop: Develop) -> Self {
        self.develop = develop;
        self
    }
    /// The files.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

impl Iterator for PathFrames {
    type Item = Result<Frame>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.paths.get(self.next)?;
        self.next += 1;
        Some(read_frame_with(path, &self.develop).and_then(|frame| {
            let expected = *self.expected.get_or_insert(frame.info());
            check_frame(expected, &frame)?;
            Ok(frame)
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.paths.len() - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for PathFrames {}

/// Decodes the frames of a list of files in order like [`PathFrames`], but up to
/// `threads` files at a time on threads of their own, so decoding uses every core
/// (one JPEG decode is single-threaded). At most `threads` decoded frames wait
/// beside the one the consumer holds. Dropping it waits for the decodes under way.
#[derive(Debug)]
pub struct DecodeAhead {
    paths: Vec<PathBuf>,
    next: usize,
    threads: usize,
    queue: std::collections::VecDeque<std::thread::JoinHandle<Result<Frame>>>,
    expected: Option<FrameInfo>,
    develop: Arc<Develop>,
}

impl DecodeAhead {
    /// Frames from these files, in this order, `threads` (at least 1) decoded at once.
    pub fn new(paths: Vec<PathBuf>, threads: usize) -> Self {
        Self {
            paths,
            next: 0,
            threads: threads.max(1),
            queue: std::collections::VecDeque::new(),
            expected: None,
            develop: Arc::new(Develop::default()),
        }
    }

    /// Camera RAW files developed with `develop` (the stack's, [`Develop::for_stack`]).
    pub fn with_develop(mut self, develop: Develop) -> Self {
        self.develop = Arc::new(develop);
        self
    }

    /// As many decodes at once as the machine has cores.
    pub fn all_cores(paths: Vec<PathBuf>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(paths, cores)
    }
}

impl Iterator for DecodeAhead {
    type Item = Result<Frame>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.queue.len() < self.threads && self.next < self.paths.len() {
            let path = self.paths[self.next].clone();
            self.next += 1;
            let develop = Arc::clone(&self.develop);
            self.queue.push_back(std::thread::spawn(move || read_frame_with(&path, &develop)));
        }
        let handle = self.queue.pop_front()?;
        let frame = handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Some(frame.and_then(|frame| {
            let expected = *self.expected.get_or_insert(frame.info());
            check_frame(expected, &frame)?;
            Ok(frame)
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.paths.len() - self.next + self.queue.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for DecodeAhead {}

impl Drop for DecodeAhead {
    fn drop(&mut self) {
        for handle in self.queue.drain(..) {
            let _ = handle.join();
        }
    }
}

/// Runs `consume` over the frames while a second thread decodes one frame ahead.
///
/// The channel is a rendezvous: the producer decodes frame k + 1 while frame k is
/// processed, then waits, so at most two decoded frames exist at a time. When
/// `consume` returns early (an error, a cancel), the producer stops after the frame
/// it is decoding.
pub fn with_prefetch<I, R>(
    frames: I,
    consume: impl FnOnce(std::sync::mpsc::IntoIter<Result<Frame>>) -> R,
) -> R
where
    I: IntoIterator<Item = Result<Frame>>,
    I::IntoIter: Send,
{
    let frames = frames.into_iter();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Frame>>(0);
        scope.spawn(move || {
            for frame in frames {
                if tx.send(frame).is_err() {
                    return; // the consumer stopped
                }
            }
        });
        consume(rx.into_iter())
    })
}
