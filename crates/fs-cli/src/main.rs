//! `fstack`: the focus-stacking command line.
//!
//! Glue only: parse flags ([`cli`]), build a job, attach progress bars ([`progress`]),
//! run, report ([`report`]). The algorithms live in the library crates.
//!
//! Exit codes: 0 success, 1 error (bad input, I/O, a library error), 2 usage error
//! (clap's, and ours: an option that does not apply to the chosen stacker, an option
//! value out of range), 101 a bug (panic), 130 interrupted by Ctrl-C (or SIGTERM).

mod batch;
mod cli;
mod demo;
mod generate;
mod hook;
mod info;
mod inputs;
mod progress;
mod report;
mod run;
mod stack;

use std::process::ExitCode;

use clap::Parser;
use fs_core::{CancelFlag, CoreError};

use crate::cli::{Cli, Command, GlobalArgs};

/// An error the user made on the command line that clap could not see (exit 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns a usage error (exit code 2) from a command.
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::UsageError(format!($($arg)*))))
    };
}

/// The work was interrupted (exit code 130).
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// What every command gets: the global flags and the Ctrl-C flag.
#[derive(Debug, Clone)]
pub struct Context {
    /// --quiet, --json, --progress, --threads.
    pub global: GlobalArgs,
    /// Set by the Ctrl-C handler.
    pub cancel: CancelFlag,
}

impl Context {
    /// A progress reporter as the flags ask.
    pub fn reporter(&self) -> progress::Reporter {
        progress::Reporter::new(self.global.progress, self.global.quiet, self.cancel.clone())
    }
    /// Whether to print the human-readable report on stdout.
    pub fn text(&self) -> bool {
        !self.global.quiet && !self.global.json
    }
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`fstack man | head`) like other Unix tools,
    // instead of failing on the next write to stdout.
    // SAFETY: called first thing, before any other thread exists; SIG_DFL is valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A panic is fstack's bug, never the user's: say so in one line, without the
    // backtrace hint (RUST_BACKTRACE=1 still gets the full default report).
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        std::panic::set_hook(Box::new(|info| {
            let location = info.location().map(|l| format!(" at {l}")).unwrap_or_default();
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!("fstack: internal error (a bug, please report it): {message}{location}");
        }));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let cancel = CancelFlag::new();
    if matches!(
        cli.command,
        Command::Stack(_) | Command::Batch(_) | Command::Run(_) | Command::Demo(_)
    ) {
        install_interrupt_handler(cancel.clone());
    }
    if let Some(n) = cli.global.threads {
        // No pool exists this early, so this fails only when the system refuses the
        // threads (a process or memory limit): say so, rather than let rayon panic later.
        if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(n.into()).build_global() {
            eprintln!(
                "error: --threads {n}: the system cannot start {n} worker threads ({e}); \
                 ask for fewer, or leave --threads out (one per core)"
            );
            return ExitCode::FAILURE;
        }
    }
    fs_core::set_max_megapixels(cli.global.max_megapixels);
    let ctx = Context { global: cli.global.clone(), cancel: cancel.clone() };
    let result = match cli.command {
        Command::Stack(args) => stack::run(&ctx, *args),
        Command::Batch(args) => batch::run(&ctx, *args),
        Command::Run(args) => run::run(&ctx, args),
        Command::Demo(args) => demo::run(&ctx, args),
        Command::Info(args) => info::run(&ctx, args),
        Command::Completions(args) => generate::completions(args),
        Command::Man(args) => generate::man(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report_error(&e, cancel.is_set()),
    }
}

/// Ctrl-C (and SIGTERM) set the cancel flag; the library stops at its next check and
/// removes its temporary files. A second Ctrl-C exits at once.
fn install_interrupt_handler(cancel: CancelFlag) {
    let result = ctrlc::set_handler(move || {
        if cancel.is_set() {
            eprintln!("fstack: interrupted again, exiting now");
            std::process::exit(130);
        }
        cancel.cancel();
        eprintln!("fstack: interrupting (press Ctrl-C again to exit at once)");
    });
    if let Err(e) = result {
        eprintln!("fstack: warning: Ctrl-C will not stop cleanly: {e}");
    }
}

/// Prints the error chain in one line (plus a hint line when there is a known fix) and
/// picks the exit code.
fn report_error(e: &anyhow::Error, cancelled: bool) -> ExitCode {
    let interrupted = e.downcast_ref::<Interrupted>().is_some()
        || e.chain().any(|c| matches!(c.downcast_ref::<CoreError>(), Some(CoreError::Cancelled)))
        || cancelled;
    if interrupted {
        let written = e.chain().find_map(|c| c.downcast_ref::<fs_job::JobError>());
        match written.map(fs_job::JobError::written).unwrap_or_default() {
            [] => eprintln!("fstack: interrupted; no output was written"),
            files => {
                let n = files.len();
                let s = if n == 1 { "" } else { "s" };
                eprintln!("fstack: interrupted; the {n} output{s} finished before were kept:");
                for f in files {
                    eprintln!("  {}", f.display());
                }
            }
        }
        return ExitCode::from(130);
    }
    if let Some(u) = e.downcast_ref::<UsageError>() {
        eprintln!("error: {u}");
        eprintln!("\nFor more information, try '--help'.");
        return ExitCode::from(2);
    }
    eprintln!("error: {}", chain_message(e));
    if let Some(hint) = hint(e) {
        eprintln!("hint: {hint}");
    }
    ExitCode::FAILURE
}

/// The error and its causes on one line, skipping a cause whose text the message
/// already holds (library errors often print their source themselves).
fn chain_message(e: &anyhow::Error) -> String {
    let mut message = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
    }
    message
}

/// The usual fix for the library errors users run into.
fn hint(e: &anyhow::Error) -> Option<&'static str> {
    // fs-core carries fs-align's error as a transparent `Stage`: look inside.
    let align_failed = |c: &(dyn std::error::Error + 'static)| {
        let inner = match c.downcast_ref::<CoreError>() {
            Some(CoreError::Stage(inner)) => inner.downcast_ref::<fs_job::AlignError>(),
            _ => c.downcast_ref::<fs_job::AlignError>(),
        };
        matches!(inner, Some(fs_job::AlignError::Failed { .. }))
    };
    if e.chain().any(align_failed) {
        return Some(
            "frames this small or this plain have too few features to align; if they need \
             no alignment, stack them with --no-align",
        );
    }
    let core = e.chain().find_map(|c| c.downcast_ref::<CoreError>())?;
    Some(match core {
        CoreError::EmptyFolder { .. } => {
            "give a folder holding the frames (.jpg, .png, .tif, or camera RAW such as .dng, \
             .cr2, .nef, .arw)"
        }
        CoreError::FrameMismatch { .. } => {
            "all frames of a stack must have the same size, channels and bit depth: \
             remove or convert that file"
        }
        CoreError::Decode { .. } => "remove or replace that file, it is not a readable image",
        // The RAW errors say what to do themselves.
        CoreError::Unsupported { what, .. } if what.contains("RAW") => return None,
        CoreError::Unsupported { .. } => "convert that file to 8- or 16-bit JPEG, PNG or TIFF",
        CoreError::Exists { .. } => {
            "nothing was written there; use --force to overwrite it, or choose another name"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that prints its source in its own message, as thiserror's
    /// `#[error("...: {source}")]` variants do.
    #[derive(Debug)]
    struct Echoing(std::io::Error);

    impl std::fmt::Display for Echoing {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "stacking failed: {}", self.0)
        }
    }

    impl std::error::Error for Echoing {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn chain_is_one_line_without_repeats() {
        let io = || std::io::Error::other("disk full");
        let e = anyhow::Error::new(Echoing(io())).context("a.png");
        assert_eq!(chain_message(&e), "a.png: stacking failed: disk full");
        let e = anyhow::Error::new(io()).context("b.png: cannot write");
        assert_eq!(chain_message(&e), "b.png: cannot write: disk full");
    }

    #[test]
    fn hints_name_the_fix_for_common_input_errors() {
        let e = anyhow::Error::new(CoreError::EmptyFolder { path: "x".into() });
        assert!(hint(&e).unwrap().contains("folder"));
        assert_eq!(hint(&anyhow::anyhow!("other")), None);
    }
}
