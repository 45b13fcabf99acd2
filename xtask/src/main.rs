//! fstack developer tasks, run as `cargo xtask <task>` (an alias for
//! `cargo run -p xtask --release -- <task>`, see `.cargo/config.toml`).
//!
//! Each task is one module with a clap `Args` struct and a `run` function; adding a task
//! is one more module and one more [`Command`] variant.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod align_run;
mod bench;
mod bench_many;
mod gen_testdata;
mod report;
mod test;

/// fstack developer tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate synthetic focus stacks with known truth (frames, truth, depth map).
    GenTestdata(gen_testdata::Args),
    /// Benchmark whole runs of the release `fstack` (and, with --peers, other tools)
    /// and the alignment; updates the measured sections of docs/benchmarks.md.
    Bench(bench::BenchArgs),
    /// Run every test: `cargo test --workspace`, then the Python package's pytest
    /// suite in a virtual environment it makes (target/py). The README's test command.
    Test(test::Args),
    /// Run a command and print its wall time, CPU time and peak RSS (used by `bench`).
    #[command(hide = true)]
    Measure {
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Align every frame to the middle one in memory (decode, estimate, warp,
    /// balance), print the largest magnification change and the common area on
    /// stderr, and exit: the alignment work `bench` times.
    #[command(hide = true)]
    AlignRun {
        /// Skip the balance.
        #[arg(long)]
        no_balance: bool,
        /// The frames.
        #[arg(required = true)]
        frames: Vec<std::path::PathBuf>,
    },
    /// Decode every frame once and exit: the decode-only floor `bench` measures.
    #[command(hide = true)]
    DecodeFloor {
        /// The frames.
        #[arg(required = true)]
        frames: Vec<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::GenTestdata(args) => gen_testdata::run(args),
        Command::Bench(args) => bench::run(&args, &gen_testdata::workspace_root()),
        Command::Test(args) => test::run(&args, &gen_testdata::workspace_root()),
        Command::DecodeFloor { frames } => bench::decode_floor(&frames),
        Command::AlignRun { frames, no_balance } => align_run::run(&frames, no_balance),
        Command::Measure { command } => bench::measure_command(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
