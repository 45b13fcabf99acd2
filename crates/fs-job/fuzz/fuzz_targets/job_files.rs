//! Feeds arbitrary text to both job-file parsers: they must return, never panic.
#![no_main]

use std::path::Path;

use fs_job::{ProjectOptions, parse_job_toml, parse_project};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let base = Path::new("/fuzz");
    let _ = parse_job_toml(text, base, Path::new("fuzz.toml"));
    for skip_unsupported in [false, true] {
        let _ =
            parse_project(text, base, Path::new("fuzz.fsp"), ProjectOptions { skip_unsupported });
    }
});
