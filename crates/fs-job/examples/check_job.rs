//! Loads job files and prints what they say, or the error: `cargo run -p fs-job
//! --example check_job -- FILE...`. Plans each job (folders and frame headers are
//! checked) without stacking anything.

use std::path::Path;

use fs_job::{ProjectOptions, load_job_file};

fn main() -> std::process::ExitCode {
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        match load_job_file(Path::new(&arg), ProjectOptions::default()) {
            Err(e) => {
                println!("{e}");
                failed = true;
            }
            Ok(loaded) => {
                for w in &loaded.warnings {
                    println!("{arg}: warning: {w}");
                }
                for job in &loaded.jobs {
                    println!("{arg}: job `{}`, {} action(s)", job.name, job.actions.len());
                    match job.plan() {
                        Ok(plan) => {
                            for a in plan.actions.iter().filter(|a| a.enabled) {
                                println!(
                                    "  {} `{}`: {} -> {}",
                                    a.kind.name(),
                                    a.name,
                                    a.input_dir.display(),
                                    a.output_dir.display()
                                );
                            }
                        }
                        Err(e) => println!("  not runnable here: {e}"),
                    }
                }
            }
        }
    }
    if failed { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS }
}
