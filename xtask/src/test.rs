//! `cargo xtask test`: every test of the workspace, the Python package's included.
//!
//! 1. `cargo test --workspace --locked` (extra arguments go to it);
//! 2. the `fstack` binary the Python tests compare with: step 1 builds it (fs-cli's
//!    tests run it); with `--python-only`, `cargo build -p fs-cli --locked`;
//! 3. a virtual environment in `target/py` with `crates/fs-python/requirements-test.txt`
//!    (made once; reinstalled when that file changes);
//! 4. `maturin develop` of `crates/fs-python` into it (the dev profile, sharing the
//!    build of step 1);
//! 5. pytest on `crates/fs-python/tests`, with `FSTACK_BIN` naming the binary of step 2.
//!
//! Each step prints its duration; the first failure stops the run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Arguments of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Skip `cargo test` (run only the Python steps).
    #[arg(long)]
    python_only: bool,
    /// Arguments passed on to `cargo test` (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    cargo_args: Vec<OsString>,
}

pub fn run(args: &Args, root: &Path) -> Result<()> {
    let start = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    if !args.python_only {
        step("cargo test --workspace", || {
            let mut c = Command::new(&cargo);
            c.args(["test", "--workspace", "--locked"]).args(&args.cargo_args);
            status(c.current_dir(root))
        })?;
    }
    let fstack = root.join("target/debug/fstack");
    if args.python_only || !fstack.exists() {
        // Otherwise `cargo test` built it (fs-cli's tests run the binary).
        step("cargo build -p fs-cli", || {
            let mut c = Command::new(&cargo);
            status(c.args(["build", "-p", "fs-cli", "--locked"]).current_dir(root))
        })?;
    }
    let venv = root.join("target").join("py");
    let requirements = root.join("crates/fs-python/requirements-test.txt");
    step("python venv (target/py)", || make_venv(&venv, &requirements))?;
    let python = venv.join("bin").join("python");
    step("maturin develop (crates/fs-python)", || {
        let mut c = Command::new(venv.join("bin").join("maturin"));
        c.args(["develop", "--locked", "--manifest-path"])
            .arg(root.join("crates/fs-python/Cargo.toml"))
            .env("VIRTUAL_ENV", &venv)
            .env("CARGO", &cargo);
        status(c.current_dir(root))
    })?;
    step("pytest crates/fs-python/tests", || {
        let mut c = Command::new(&python);
        c.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(root.join("crates/fs-python/tests"))
            .env("FSTACK_BIN", &fstack);
        status(c.current_dir(root))
    })?;
    println!("== xtask test: {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Runs one step, printing its name and duration.
fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    println!("== {name}");
    let start = Instant::now();
    let result = f().with_context(|| format!("step `{name}` failed"));
    println!("== {name}: {:.0} s", start.elapsed().as_secs_f64());
    result
}

fn status(c: &mut Command) -> Result<()> {
    let s = c.status().with_context(|| format!("cannot run {:?}", c.get_program()))?;
    if !s.success() {
        bail!("{:?} exited with {s}", c.get_program());
    }
    Ok(())
}

/// The virtual environment with the requirements installed; a stamp (a copy of the
/// requirements) tells whether it is up to date.
pub(crate) fn make_venv(venv: &Path, requirements: &Path) -> Result<()> {
    let wanted = std::fs::read_to_string(requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let stamp: PathBuf = venv.join("fstack-requirements.txt");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        println!("up to date");
        return Ok(());
    }
    let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    if !venv.join("bin").join("python").exists() {
        status(Command::new(&python).args(["-m", "venv"]).arg(venv))?;
    }
    let pip = venv.join("bin").join("pip");
    status(
        Command::new(&pip)
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(requirements),
    )?;
    std::fs::write(&stamp, wanted).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(())
}
