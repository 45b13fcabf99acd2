//! Runs a job file and prints each phase and the summary, with timings:
//! `cargo run --release -p fs-job --example run_job -- JOB.toml|PROJECT.fsp`.
//! Unsupported ShineStacker actions are skipped with a warning.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use fs_core::Progress;
use fs_job::{ProjectOptions, load_job_file};

/// Prints each phase with the time the previous one took.
struct Printer(Mutex<Option<(String, Instant)>>);

impl Progress for Printer {
    fn phase(&self, name: &str, total: u64) {
        let mut current = self.0.lock().unwrap();
        if let Some((previous, started)) = current.take() {
            eprintln!("  {previous}: {:.2} s", started.elapsed().as_secs_f64());
        }
        eprintln!("{name} ({total} steps)");
        *current = Some((name.to_string(), Instant::now()));
    }
}

fn main() -> std::process::ExitCode {
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: run_job JOB.toml|PROJECT.fsp");
        return std::process::ExitCode::FAILURE;
    };
    let loaded = match load_job_file(Path::new(&file), ProjectOptions { skip_unsupported: true }) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    for job in &loaded.jobs {
        let printer = Printer(Mutex::new(None));
        match job.run(&printer) {
            Ok(summary) => {
                println!("job `{}`: {:.2} s", summary.name, summary.elapsed.as_secs_f64());
                for a in &summary.actions {
                    let state = if !a.enabled {
                        "skipped"
                    } else if a.output_deleted {
                        "output deleted"
                    } else {
                        "done"
                    };
                    println!(
                        "  {} `{}`: {} frames -> {} file(s), {:.2} s, {state}",
                        a.kind.name(),
                        a.name,
                        a.frames_read,
                        a.outputs.len(),
                        a.elapsed.as_secs_f64()
                    );
                    for note in &a.notes {
                        println!("    {note}");
                    }
                    for plot in &a.plots {
                        println!("    plot {}", plot.display());
                    }
                }
                for out in summary.outputs() {
                    println!("  wrote {}", out.display());
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
