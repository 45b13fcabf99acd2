//! Progress reporting and cancellation, passed down to every long-running step.
//!
//! The CLI renders these events as progress bars; library callers may pass
//! [`NoProgress`]. Cancellation is cooperative: algorithms call
//! [`Progress::check_cancelled`] between steps (frames, levels, tiles), never per pixel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{CoreError, Result};

/// Receives progress events and answers whether the work should stop.
pub trait Progress: Send + Sync {
    /// A new phase starts (e.g. "stacking", "denoise") with `total` steps.
    fn phase(&self, _name: &str, _total: u64) {}
    /// `done` steps of the current phase are complete.
    fn step(&self, _done: u64) {}
    /// Whether the user asked to stop.
    fn is_cancelled(&self) -> bool {
        false
    }
    /// `Err(CoreError::Cancelled)` when cancelled, for use with `?` between steps.
    fn check_cancelled(&self) -> Result<()> {
        if self.is_cancelled() { Err(CoreError::Cancelled) } else { Ok(()) }
    }
}

/// Ignores progress, never cancels.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// A shared cancel flag (set it from a Ctrl-C handler); reports no progress.
#[derive(Debug, Default, Clone)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A new, unset flag.
    pub fn new() -> Self {
        Self::default()
    }
    /// Ask the work to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether [`CancelFlag::cancel`] was called.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Progress for CancelFlag {
    fn is_cancelled(&self) -> bool {
        self.is_set()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_flag_is_shared_and_stops_work() {
        let flag = CancelFlag::new();
        let clone = flag.clone();
        assert!(flag.check_cancelled().is_ok());
        clone.cancel();
        assert!(matches!(flag.check_cancelled(), Err(CoreError::Cancelled)));
        assert!(NoProgress.check_cancelled().is_ok());
    }
}
