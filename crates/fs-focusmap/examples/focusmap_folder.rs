//! Stacks a folder of frames with FocusMapStack and prints the wall time beside the
//! decode-only floor (every frame decoded once, as many at a time as there are
//! cores), measured in the same process just before.
//!
//! `cargo run --release -p fs-focusmap --example focusmap_folder DIR [OUT]`
//!
//! With `FOCUSMAP_PHASES=1` it also prints when each phase of the stacker starts.

use std::time::Instant;

use fs_core::{DecodeAhead, NoProgress, Progress, WriteOptions, list_frames, write_frame};
use fs_focusmap::{FocusMapOptions, FocusMapStack};

/// Prints each phase's start, in seconds since the stack began.
struct Phases(Instant);

impl Progress for Phases {
    fn phase(&self, name: &str, _total: u64) {
        println!("{:7.2} s  {name}", self.0.elapsed().as_secs_f64());
    }
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: focusmap_folder DIR [OUT]");
    let paths = list_frames(std::path::Path::new(&dir)).expect("frames");
    let t = Instant::now();
    let mut decoded = 0;
    for frame in DecodeAhead::all_cores(paths.clone()) {
        frame.expect("decode");
        decoded += 1;
    }
    let floor = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let stacker = FocusMapStack::new(FocusMapOptions::default()).expect("options");
    let phases = Phases(t);
    let progress: &dyn Progress =
        if std::env::var_os("FOCUSMAP_PHASES").is_some() { &phases } else { &NoProgress };
    // FOCUSMAP_SCRATCH: the scratch file's folder (default: the system's temporary one).
    let result = match std::env::var_os("FOCUSMAP_SCRATCH") {
        Some(dir) => stacker.stack_in(
            DecodeAhead::all_cores(paths.clone()),
            std::path::Path::new(&dir),
            progress,
        ),
        None => stacker.stack_paths(&paths, progress),
    }
    .expect("stack");
    let wall = t.elapsed().as_secs_f64();
    println!(
        "{decoded} frames: decode floor {floor:.2} s, focus map {wall:.2} s ({:.2}x)",
        wall / floor
    );
    if let Some(out) = std::env::args().nth(2) {
        write_frame(std::path::Path::new(&out), &result.image, &WriteOptions::default())
            .expect("write");
    }
}
