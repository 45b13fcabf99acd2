//! Renders the library's [`Progress`] events on stderr and records phase timings.
//!
//! One bar per phase (indicatif, with ETA) when stderr is a terminal; plain
//! "phase started / done" lines with `--progress plain` (for logs, and what the
//! interruption test waits for); nothing with `--quiet`. The timings are recorded
//! whatever is shown, for the `--json` summary.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fs_core::{CancelFlag, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::cli::ProgressMode;

/// How the reporter draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Draw {
    Bars,
    Lines,
    Nothing,
}

/// One finished phase, for the summary.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseTiming {
    /// The phase's name as the library reported it.
    pub name: String,
    /// Steps in the phase.
    pub steps: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

#[derive(Debug)]
struct Current {
    name: String,
    total: u64,
    start: Instant,
    bar: Option<ProgressBar>,
}

/// The CLI's [`Progress`]: draws, times phases and answers the Ctrl-C flag.
#[derive(Debug)]
pub struct Reporter {
    draw: Draw,
    cancel: CancelFlag,
    current: Mutex<Option<Current>>,
    done: Mutex<Vec<PhaseTiming>>,
    /// Show `stack` rather than `<action>: stack` (for one-action jobs).
    hide_action: bool,
}

impl Reporter {
    /// A reporter drawing as `mode` says (and nothing when `quiet`), cancelled by `cancel`.
    pub fn new(mode: ProgressMode, quiet: bool, cancel: CancelFlag) -> Self {
        let draw = match mode {
            _ if quiet => Draw::Nothing,
            ProgressMode::None => Draw::Nothing,
            ProgressMode::Plain => Draw::Lines,
            ProgressMode::Auto if std::io::stderr().is_terminal() => Draw::Bars,
            ProgressMode::Auto => Draw::Nothing,
        };
        Self {
            draw,
            cancel,
            current: Mutex::new(None),
            done: Mutex::new(Vec::new()),
            hide_action: false,
        }
    }

    /// Drops the `"<action>: "` part of phase names: for the one-action job behind
    /// `fstack stack`, where the action is the command itself.
    pub fn hide_action(mut self) -> Self {
        self.hide_action = true;
        self
    }

    /// The phases finished so far, in order (closing the current one).
    pub fn finish(&self) -> Vec<PhaseTiming> {
        self.close_current(false);
        self.done.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops drawing after an error or interruption, leaving the bar where it stopped.
    pub fn abandon(&self) {
        self.close_current(true);
    }

    /// Records and closes the current phase.
    fn close_current(&self, abandon: bool) {
        let Some(cur) = self.current.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let elapsed = cur.start.elapsed();
        if let Some(bar) = cur.bar {
            if abandon { bar.abandon() } else { bar.finish() }
        }
        if self.draw == Draw::Lines {
            let what = if abandon { "stopped" } else { "done" };
            eprintln!("fstack: {} {what} in {}", cur.name, seconds(elapsed));
        }
        self.done.lock().unwrap_or_else(|e| e.into_inner()).push(PhaseTiming {
            name: cur.name,
            steps: cur.total,
            seconds: elapsed.as_secs_f64(),
        });
    }
}

impl Progress for Reporter {
    fn phase(&self, name: &str, total: u64) {
        crate::hook::pause(name);
        self.close_current(false);
        let name = match name.split_once(": ") {
            Some((_, phase)) if self.hide_action => phase,
            _ => name,
        };
        let bar = (self.draw == Draw::Bars).then(|| {
            let style = ProgressStyle::with_template(
                "{prefix:>12.bold} [{bar:32}] {pos}/{len} {elapsed_precise} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                .with_style(style)
                .with_prefix(name.to_string());
            bar.tick();
            bar
        });
        if self.draw == Draw::Lines {
            eprintln!("fstack: {name} started ({total} steps)");
        }
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Current { name: name.to_string(), total, start: Instant::now(), bar });
    }

    fn step(&self, done: u64) {
        if let Some(cur) = self.current.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && let Some(bar) = &cur.bar
        {
            bar.set_position(done.min(cur.total));
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.is_set()
    }
}

/// "1.23 s" or "2 min 03 s".
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.2} s")
    } else {
        format!("{} min {:02} s", s as u64 / 60, s as u64 % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_timed_in_order_and_cancel_is_forwarded() {
        let flag = CancelFlag::new();
        let r = Reporter::new(ProgressMode::None, false, flag.clone());
        r.phase("read", 3);
        r.step(1);
        r.step(3);
        r.phase("write", 1);
        assert!(!r.is_cancelled());
        flag.cancel();
        assert!(r.is_cancelled());
        let t = r.finish();
        let hidden = Reporter::new(ProgressMode::None, false, CancelFlag::new()).hide_action();
        hidden.phase("bunch: bunch 1/2", 4);
        assert_eq!(hidden.finish()[0].name, "bunch 1/2");
        let names: Vec<_> = t.iter().map(|p| (p.name.as_str(), p.steps)).collect();
        assert_eq!(names, [("read", 3), ("write", 1)]);
        assert!(t.iter().all(|p| p.seconds >= 0.0));
        assert_eq!(r.finish().len(), 2, "finishing twice adds nothing");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(seconds(Duration::from_millis(1234)), "1.23 s");
        assert_eq!(seconds(Duration::from_secs(123)), "2 min 03 s");
    }
}
