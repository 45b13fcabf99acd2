//! End-to-end tests of the `fstack` binary: each command, the errors people run into,
//! `--json`, and Ctrl-C. They drive the real binary on small generated stacks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{
    BitDepth, ChannelLayout, FileFormat, Frame, FrameInfo, PixelFormat, Samples, WriteOptions,
    metrics, read_frame, write_frame,
};

fn fstack() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fstack"))
}

fn run(args: &[&str]) -> Output {
    fstack().args(args).output().expect("the binary runs")
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    fstack().current_dir(dir).args(args).output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts the exit code, showing stderr when it differs, and that nothing panicked.
#[track_caller]
fn assert_code(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "stdout:\n{}\nstderr:\n{}", stdout(o), stderr(o));
    assert!(!stderr(o).contains("panicked"), "panic: {}", stderr(o));
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A plain RGB 8-bit frame with a gradient, enough for the error paths.
fn plain_frame(w: usize, h: usize, seed: u8) -> Frame {
    let info = FrameInfo {
        width: w,
        height: h,
        format: PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Eight },
    };
    let samples = (0..w * h * 3).map(|i| ((i / 3 % w) as u8).wrapping_add(seed)).collect();
    Frame::new(info, Samples::U8(samples)).unwrap()
}

/// `n` plain frames `frame1.png ... frameN.png` in `dir`.
fn plain_stack(dir: &Path, n: usize, w: usize, h: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for k in 0..n {
        let path = dir.join(format!("frame{}.png", k + 1));
        write_frame(&path, &plain_frame(w, h, k as u8 * 10), &WriteOptions::default()).unwrap();
    }
}

#[test]
fn help_groups_flags_by_purpose_and_version_works() {
    let o = run(&["stack", "--help"]);
    assert_code(&o, 0);
    let help = stdout(&o);
    for heading in [
        "Output:",
        "Stacker:",
        "Focus map options (--stacker focusmap):",
        "Pyramid options",
        "Tiled pyramid options",
        "Depth map options",
        "Post-filters",
        "Bunches",
        "Global options:",
    ] {
        assert!(help.contains(heading), "missing heading {heading}");
    }
    for flag in [
        "--focus-sigma",
        "--consistency",
        "--confidence-ratio",
        "--flat-average",
        "--linear-blend",
        "--confidence-map",
        "--pyramid-min-size",
        "--kernel-size",
        "--gen-kernel",
        "--noise-guard",
        "--float-type",
        "--energy",
        "--map-type",
        "--denoise-amount",
        "--sharpen-amount-percent",
        "--sharpen-radius",
        "--sharpen-threshold",
        "--memory-limit",
        "--tile-size",
        "--depth-map",
        "--bunch-frames",
        "--bunch-overlap",
        "--threads",
        "--no-exif",
        "--jpeg-quality",
        "--prefix",
        "--force",
    ] {
        assert!(help.contains(flag), "missing flag {flag}");
    }
    // The focus-map defaults shown are the options' own.
    let d = fs_job::FocusMapOptions::default();
    // Help text wraps, also inside `[default: 2]`: compare with whitespace collapsed.
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let shown = |flag: &str| {
        let at = flat.find(&format!("{flag} <")).unwrap_or_else(|| panic!("{flag}"));
        let rest = &flat[at..];
        let start = rest.find("[default: ").unwrap() + "[default: ".len();
        rest[start..].split(']').next().unwrap().to_string()
    };
    assert_eq!(shown("--focus-sigma"), d.focus_sigma.to_string());
    assert_eq!(shown("--consistency"), d.consistency.to_string());
    assert_eq!(shown("--confidence-ratio"), d.confidence_ratio.to_string());
    assert_eq!(shown("--flat-average"), d.flat_average.to_string());
    assert_eq!(shown("--stacker"), "focusmap");
    let o = run(&["--version"]);
    assert_code(&o, 0);
    assert!(stdout(&o).starts_with("fstack "));
}

#[test]
fn unknown_values_and_inapplicable_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    plain_stack(&dir.path().join("s"), 2, 16, 12);
    let s = dir.path().join("s");
    let s = s.to_str().unwrap();
    for (args, needle) in [
        (vec!["stack", s, "--stacker", "magic"], "magic"),
        (vec!["stack", s, "--float-type", "f16"], "f16"),
        (vec!["stack", s, "--energy", "fourier", "--stacker", "depthmap"], "fourier"),
        (vec!["stack", s, "--jpeg-quality", "0"], "jpeg-quality"),
        (vec!["stack", s, "--memory-limit", "2X", "--stacker", "auto"], "2X"),
        (vec!["stack", s, "--no-such-flag"], "no-such-flag"),
        (vec!["stack", s, "--energy", "sobel"], "--stacker depthmap"),
        (vec!["stack", s, "--tile-size", "256"], "--stacker tiles or auto"),
        (vec!["stack", s, "--stacker", "depthmap", "--gen-kernel", "0.3"], "pyramid"),
        (vec!["stack", s, "--stacker", "depthmap", "--noise-guard", "0"], "--noise-guard"),
        (
            vec!["stack", s, "--stacker", "pyramid", "--noise-guard", "-1"],
            "--noise-guard: must be 0 (off) to 100, got -1",
        ),
        (vec!["stack", s, "--stacker", "tiles", "--noise-guard", "101"], "--noise-guard"),
        (vec!["info", s, "--noise-guard", "-1"], "--noise-guard: must be 0 (off) to 100"),
        (vec!["stack", s, "--stacker", "auto", "--memory-limit", "1M"], "--memory-limit"),
        (
            vec!["stack", s, "--memory-limit", "1M"],
            "invalid value for --memory-limit: must be at least 64 MiB",
        ),
        (
            vec!["stack", s, "--stacker", "pyramid", "--memory-limit", "1G"],
            "--memory-limit applies to --stacker focusmap or auto",
        ),
        (vec!["stack", s, "--stacker", "depthmap", "--depth-map", "d.jpg"], ".png"),
        // Pyramid and depth-map flags with the default stacker, FocusMapStack.
        (vec!["stack", s, "--noise-guard", "0"], "--noise-guard applies to the pyramid stackers"),
        (vec!["stack", s, "--gen-kernel", "0.3"], "not to --stacker focusmap"),
        (vec!["stack", s, "--kernel-size", "5"], "--kernel-size applies to the pyramid and depth"),
        (vec!["stack", s, "--float-type", "f64"], "--float-type applies to the pyramid and depth"),
        (vec!["stack", s, "--stacker", "focusmap", "--temperature", "0"], "--stacker depthmap"),
        // Focus-map flags with the other stackers.
        (
            vec!["stack", s, "--stacker", "pyramid", "--focus-sigma", "3"],
            "--focus-sigma applies to --stacker focusmap only, not to --stacker pyramid",
        ),
        (
            vec!["stack", s, "--stacker", "depthmap", "--consistency", "1"],
            "--consistency applies to --stacker focusmap",
        ),
        (
            vec!["stack", s, "--stacker", "tiles", "--confidence-ratio", "4"],
            "--confidence-ratio applies to --stacker focusmap",
        ),
        (
            vec!["stack", s, "--stacker", "auto", "--flat-average", "1"],
            "--flat-average applies to --stacker focusmap",
        ),
        (
            vec!["stack", s, "--stacker", "pyramid", "--linear-blend"],
            "--linear-blend applies to --stacker focusmap",
        ),
        (
            vec!["stack", s, "--stacker", "depthmap", "--confidence-map", "c.png"],
            "--confidence-map applies to --stacker focusmap",
        ),
        (
            vec!["stack", s, "--stacker", "pyramid", "--depth-map", "d.png"],
            "--depth-map applies to --stacker focusmap or depthmap",
        ),
        // Focus-map values out of range: the option's own check, naming the flag.
        (
            vec!["stack", s, "--focus-sigma", "0.1"],
            "invalid value for --focus-sigma: must be in 0.5..=16, got 0.1",
        ),
        (vec!["stack", s, "--focus-sigma", "-1"], "--focus-sigma: must be in 0.5..=16, got -1"),
        (
            vec!["stack", s, "--consistency", "9"],
            "invalid value for --consistency: must be in 0..=8, got 9",
        ),
        (
            vec!["stack", s, "--confidence-ratio", "1"],
            "invalid value for --confidence-ratio: must be > 1 and <= 1000, got 1",
        ),
        (
            vec!["stack", s, "--flat-average", "17"],
            "invalid value for --flat-average: must be in 0..=16, got 17",
        ),
        (vec!["stack", s, "--consistency", "-1"], "-1"),
        // Map files: PNG or TIFF, one file each, not with bunches.
        (vec!["stack", s, "--depth-map", "d.jpg"], "name a .png or .tif file"),
        (vec!["stack", s, "--confidence-map", "c.bmp"], "--confidence-map c.bmp"),
        (vec!["stack", s, "--depth-map", "d.png", "--bunch-frames", "2"], "--bunch-frames"),
        (
            vec!["stack", s, "--depth-map", "m.png", "--confidence-map", "m.png"],
            "name the same file",
        ),
        (vec!["stack", s, "--stacker", "depthmap", "--blur-size", "4"], "--blur-size"),
        (vec!["stack", s, "--bunch-frames", "3", "--bunch-overlap", "3"], "less than"),
        (vec!["stack"], "DIR | FILES"),
        (vec!["frobnicate"], "frobnicate"),
    ] {
        let o = run(&args);
        assert_code(&o, 2);
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(files_in(dir.path()), ["s"], "a usage error writes nothing");
}

#[test]
fn bad_paths_and_empty_folders_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let o = run(&["stack", missing.to_str().unwrap()]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("nope") && stderr(&o).contains("no such file"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "one line: {}", stderr(&o));

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "not a frame").unwrap();
    for cmd in ["stack", "info"] {
        let o = run(&[cmd, empty.to_str().unwrap()]);
        assert_code(&o, 1);
        let e = stderr(&o);
        assert!(e.contains("empty") && e.contains("no image files"), "{cmd}: {e}");
        assert!(e.lines().count() <= 2, "{e}");
    }

    let not_image = empty.join("notes.txt");
    let o = run(&["stack", not_image.to_str().unwrap()]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));
}

#[test]
fn mixed_sizes_are_refused_naming_the_odd_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("mixed");
    plain_stack(&s, 3, 16, 12);
    write_frame(&s.join("frame10.png"), &plain_frame(20, 12, 0), &WriteOptions::default()).unwrap();
    let o = run(&["stack", s.to_str().unwrap()]);
    assert_code(&o, 1);
    let e = stderr(&o);
    assert!(e.contains("frame10.png") && e.contains("20x12") && e.contains("16x12"), "{e}");
    assert!(e.contains("hint:"), "{e}");
    assert_eq!(files_in(dir.path()), ["mixed"], "nothing written");

    // info lists every frame, marks the odd one and fails too.
    let o = run(&["info", s.to_str().unwrap()]);
    assert_code(&o, 1);
    let out = stdout(&o);
    assert!(out.contains("frame10.png") && out.contains("PROBLEM"), "{out}");
}

#[test]
fn info_lists_frames_in_natural_order_with_memory_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    plain_stack(&s, 11, 30, 10);
    let o = run(&["info", s.to_str().unwrap()]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("11 frames, 30x10 RGB 8-bit"), "{out}");
    let pos = |name: &str| out.find(&format!(" {name} ")).unwrap_or_else(|| panic!("{name}"));
    assert!(pos("frame2.png") < pos("frame10.png"), "natural order: {out}");
    assert!(out.contains("(no EXIF)"), "{out}");
    assert!(out.contains("memory: the in-memory pyramid stacker"), "{out}");
    assert!(out.contains("stacker: `fstack stack` uses FocusMapStack by default"), "{out}");

    let o = run(&["info", "--json", s.to_str().unwrap()]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["command"], "info");
    assert_eq!(v["frames"]["count"], 11);
    assert_eq!(v["frames"]["width"], 30);
    assert_eq!(v["frames"]["bit_depth"], 8);
    // The CLI reports fs-pyramid's estimate for these frames and options.
    let info = fs_core::read_frame_info(&s.join("frame1.png")).unwrap();
    let options = fs_pyramid::PyramidOptions {
        float_type: fs_core::FloatType::F64,
        pyramid_min_size: 8,
        noise_guard: 0.0,
        ..Default::default()
    };
    let o = run(&[
        "info",
        "--json",
        s.to_str().unwrap(),
        "--float-type",
        "f64",
        "--pyramid-min-size",
        "8",
        "--noise-guard",
        "0",
    ]);
    assert_code(&o, 0);
    let v8: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v8["options"]["noise_guard"], 0.0);
    assert_eq!(v["options"]["noise_guard"], 2.0, "the default");
    let expected = fs_pyramid::memory_estimate(info, &options, 11);
    assert_eq!(v8["results"]["memory_estimate_bytes"].as_u64(), Some(expected));
    assert!(v["results"]["memory_estimate_bytes"].as_u64().unwrap() < expected, "f32 < f64");
    assert_eq!(v["results"]["stackable"], true);
    assert_eq!(v["results"]["default_stacker"], "FocusMapStack");
    assert_eq!(v["results"]["memory_estimate_stacker"], "PyramidStack");
    assert!(v["results"]["frames"][1]["path"].as_str().unwrap().ends_with("frame2.png"));
}

#[test]
fn completions_and_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert_code(&o, 0);
        assert!(stdout(&o).contains("pyramid-min-size"), "{shell}");
    }
    let o = run(&["man"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains(".TH fstack 1"), "{}", stdout(&o));
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_code(&o, 0);
    let pages = files_in(dir.path());
    assert!(pages.contains(&"fstack.1".to_string()), "{pages:?}");
    assert!(pages.contains(&"fstack-stack.1".to_string()), "{pages:?}");
}

#[test]
fn relative_paths_work_from_the_current_folder() {
    let dir = tempfile::tempdir().unwrap();
    plain_stack(&dir.path().join("s"), 2, 16, 12);
    let o = run_in(dir.path(), &["info", "s"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("2 frames"), "{}", stdout(&o));
}

/// A synthetic stack of `n` PNG frames in `<tmp>/frames`, its truth beside the folder.
struct Synth {
    tmp: tempfile::TempDir,
    frames: PathBuf,
    truth: Frame,
}

fn synth(width: usize, height: usize, n: usize) -> Synth {
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames");
    let stack =
        SynthStack::new(SynthOptions { width, height, frames: n, ..Default::default() }).unwrap();
    let files = stack.write_stack(tmp.path(), FileFormat::Png, &WriteOptions::default()).unwrap();
    // Only the frames stay in the folder that gets stacked.
    std::fs::remove_file(&files.truth).unwrap();
    std::fs::remove_file(&files.depth).unwrap();
    Synth { truth: stack.truth(), frames, tmp }
}

fn psnr(a: &Frame, b: &Frame) -> f64 {
    metrics::psnr(&a.to_image::<f32>(), &b.to_image::<f32>(), 255.0)
}

fn best_frame_psnr(s: &Synth) -> f64 {
    fs_core::list_frames(&s.frames)
        .unwrap()
        .iter()
        .map(|p| psnr(&read_frame(p).unwrap(), &s.truth))
        .fold(f64::NEG_INFINITY, f64::max)
}

fn exif_field(path: &Path, tag: exif::Tag) -> Option<String> {
    let file = std::fs::File::open(path).unwrap();
    let exif = exif::Reader::new().read_from_container(&mut std::io::BufReader::new(file)).ok()?;
    let f = exif.get_field(tag, exif::In::PRIMARY)?;
    Some(f.display_value().to_string())
}

/// Image quality of the default stacker, FocusMapStack (the method is fs-focusmap's).
#[test]
fn default_stack_is_sharper_than_every_frame() {
    let s = synth(320, 240, 5);
    let o = run(&["stack", "--no-align", s.frames.to_str().unwrap()]);
    assert_code(&o, 0);
    let result = read_frame(&s.tmp.path().join("frames-stacked.png")).unwrap();
    let best = best_frame_psnr(&s);
    let got = psnr(&result, &s.truth);
    assert!(got > best + 1.0, "stacked {got:.2} dB, best frame {best:.2} dB");
}

#[test]
fn default_stack_uses_focus_map_keeps_exif_and_never_overwrites() {
    let s = synth(320, 240, 5);
    let o = run(&["stack", "--no-align", s.frames.to_str().unwrap()]);
    assert_code(&o, 0);
    let out = s.tmp.path().join("frames-stacked.png");
    assert!(stdout(&o).contains(out.to_str().unwrap()), "says where: {}", stdout(&o));
    assert!(stdout(&o).contains("with FocusMapStack in"), "says which: {}", stdout(&o));
    // No progress off a terminal: only notes (what balance did).
    assert!(stderr(&o).lines().all(|l| l.starts_with("fstack: ")), "{}", stderr(&o));

    let result = read_frame(&out).unwrap();
    assert_eq!(result.info(), read_frame(&s.frames.join("frame_001.png")).unwrap().info());
    assert_eq!(exif_field(&out, exif::Tag::Model).as_deref(), Some("\"synthetic\""));
    // Readable like any new file (0666 less the umask), not private like a temp file.
    // SAFETY: umask swaps the process's mask and is restored at once.
    let umask = unsafe {
        let m = libc::umask(0o022);
        libc::umask(m);
        m as u32
    };
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o666 & !umask);

    // Run again: refused, the file untouched; --force replaces it.
    let before = std::fs::read(&out).unwrap();
    std::fs::write(&out, b"precious").unwrap();
    let o = run(&["stack", "--no-align", s.frames.to_str().unwrap()]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("already exists") && stderr(&o).contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    let o = run(&[
        "stack",
        "--no-align",
        s.frames.to_str().unwrap(),
        "--force",
        "-q",
        "--threads",
        "1",
    ]);
    assert_code(&o, 0);
    assert!(stdout(&o).is_empty(), "--quiet: {}", stdout(&o));
    assert_eq!(std::fs::read(&out).unwrap(), before, "same output with one thread");
    assert_eq!(files_in(s.tmp.path()), ["frames", "frames-stacked.png"], "no leftovers");
}

#[test]
fn json_summary_has_the_fields_and_options_reach_the_output() {
    let s = synth(96, 64, 3);
    let out = s.tmp.path().join("out.tif");
    let o = run(&[
        "stack",
        "--no-align",
        s.frames.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--json",
        "--no-exif",
        "--stacker",
        "pyramid",
        "--pyramid-min-size",
        "16",
        "--float-type",
        "f64",
        "--noise-guard",
        "0",
        "--threads",
        "1",
    ]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["command"], "stack");
    assert_eq!(v["inputs"].as_array().unwrap().len(), 3);
    assert!(v["inputs"][0].as_str().unwrap().ends_with("frame_001.png"));
    assert_eq!(v["outputs"][0].as_str().unwrap(), out.to_str().unwrap());
    assert_eq!(v["stacker"], "PyramidStack");
    assert_eq!(v["options"]["pyramid_min_size"], 16);
    assert_eq!(v["options"]["kernel_size"], 5);
    assert_eq!(v["options"]["noise_guard"], 0.0);
    assert_eq!(v["options"]["float_type"], "FLOAT_64");
    assert_eq!(v["options"]["exif"], false);
    assert_eq!(v["frames"]["width"], 96);
    assert_eq!(v["frames"]["count"], 3);
    assert!(!v["timings"]["phases"].as_array().unwrap().is_empty(), "{v}");
    assert!(v["timings"]["total_seconds"].as_f64().unwrap() > 0.0);
    assert!(v["peak_memory_bytes"].as_u64().unwrap() > 1 << 20);
    let result = read_frame(&out).unwrap();
    assert_eq!((result.width(), result.height()), (96, 64));
    assert_eq!(exif_field(&out, exif::Tag::Model), None, "--no-exif");
}

#[test]
fn files_are_stacked_in_natural_order_and_bunches_fill_a_folder() {
    let s = synth(64, 48, 5);
    let f = |k: usize| s.frames.join(format!("frame_00{k}.png")).to_str().unwrap().to_string();
    // Files given out of order: sorted naturally, output named after the folder.
    let out = s.tmp.path().join("three.png");
    let o = run(&[
        "stack",
        "--no-align",
        "--stacker",
        "pyramid",
        &f(3),
        &f(1),
        &f(2),
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let inputs: Vec<&str> =
        v["inputs"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(inputs, [f(1), f(2), f(3)]);
    assert_eq!(v["options"]["noise_guard"], 2.0, "the default");
    assert!(out.is_file());

    let bunches = s.tmp.path().join("bunches");
    let o = run(&[
        "stack",
        "--no-align",
        s.frames.to_str().unwrap(),
        "--bunch-frames",
        "2",
        "-o",
        bunches.to_str().unwrap(),
        "--prefix",
        "b_",
    ]);
    assert_code(&o, 0);
    let images: Vec<String> =
        files_in(&bunches).into_iter().filter(|n| !n.starts_with('.')).collect();
    assert_eq!(images, ["b_frame_001.png", "b_frame_003.png", "b_frame_005.png"]);
}

#[test]
fn output_mistakes_are_refused_before_any_work() {
    let s = synth(32, 24, 2);
    let dir = s.frames.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 5] = [
        (&["-o", "x.bmp"], 2, "unknown image extension"),
        (&["-o", "no/such/folder/x.png"], 1, "does not exist"),
        (&["-o", "frames/frame_001.png", "--force"], 1, "is one of the input frames"),
        (&["-o", "x.png", "--prefix", "p_"], 2, "--prefix"),
        (&["--exif-path", "nowhere"], 1, "nowhere"),
    ];
    for (extra, code, needle) in cases {
        let mut args = vec!["stack", "--no-align", dir];
        args.extend_from_slice(extra);
        let o = run_in(s.tmp.path(), &args);
        assert_code(&o, code);
        assert!(stderr(&o).contains(needle), "{extra:?}: {}", stderr(&o));
    }
    assert_eq!(files_in(s.tmp.path()), ["frames"]);
}

#[test]
fn run_executes_a_job_file() {
    let s = synth(64, 48, 3);
    let job = s.tmp.path().join("job.toml");
    std::fs::write(
        &job,
        "name = \"t\"\ninput_path = \"frames\"\n\n[[action]]\ntype = \"FocusStack\"\n\
         name = \"stacked\"\nprefix = \"pyr_\"\n[action.stacker]\ntype = \"PyramidStack\"\n",
    )
    .unwrap();
    let o = run(&["run", job.to_str().unwrap()]);
    assert_code(&o, 0);
    let out = s.tmp.path().join("stacked/pyr_frame_001.png");
    assert!(out.is_file(), "{}", stdout(&o));
    assert!(psnr(&read_frame(&out).unwrap(), &s.truth) > best_frame_psnr(&s));
    assert!(stdout(&o).contains("stacked"), "{}", stdout(&o));

    // A ShineStacker project with an alignment step fstack does not implement.
    let fsp = s.tmp.path().join("project.fsp");
    let project = serde_json::json!({
        "version": 1,
        "project": [{
            "type_name": "Job",
            "params": { "name": "j", "working_path": ".", "input_path": "frames" },
            "sub_actions": [
                { "type_name": "AlignFrames", "params": { "name": "align" }, "sub_actions": [] },
                { "type_name": "FocusStack",
                  "params": { "name": "fused", "stacker": "Pyramid", "prefix": "p_" },
                  "sub_actions": [] }
            ]
        }]
    });
    std::fs::write(&fsp, project.to_string()).unwrap();
    let o = run(&["run", fsp.to_str().unwrap()]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("align") && stderr(&o).contains("not implemented"));
    assert!(!s.tmp.path().join("fused").exists());
    let o = run(&["run", fsp.to_str().unwrap(), "--skip-unsupported", "--json"]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains("warning") && stderr(&o).contains("align"), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["command"], "run");
    assert_eq!(v["results"]["jobs"][0]["actions"][0]["frames_read"], 3);
    assert!(v["outputs"][0].as_str().unwrap().ends_with("fused/p_frame_001.png"), "{v}");
    assert!(s.tmp.path().join("fused/p_frame_001.png").is_file());

    std::fs::write(&job, "name = \"t\"\nbogus = 1\n").unwrap();
    let o = run(&["run", job.to_str().unwrap()]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("bogus"), "{}", stderr(&o));
    let o = run(&["run", "/no/such/job.toml"]);
    assert_code(&o, 1);
}

/// Image quality of the default stacker, FocusMapStack, in the demo.
#[test]
fn demo_beats_the_best_frame_against_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = run(&[
        "demo",
        "--out",
        out.to_str().unwrap(),
        "--size",
        "160x120",
        "--frames",
        "4",
        "--json",
    ]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let result = v["results"]["psnr_result_db"].as_f64().unwrap();
    let best = v["results"]["psnr_best_frame_db"].as_f64().unwrap();
    assert!(result > best, "{result} <= {best}");
}

#[test]
fn demo_uses_the_default_stacker_writes_its_files_and_refuses_a_used_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = run(&[
        "demo",
        "--out",
        out.to_str().unwrap(),
        "--size",
        "160x120",
        "--frames",
        "4",
        "--json",
    ]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stacker"], "FocusMapStack");
    let d = fs_job::FocusMapOptions::default();
    assert_eq!(v["options"]["focus_sigma"], d.focus_sigma);
    assert_eq!(v["options"]["consistency"], d.consistency);
    assert_eq!(v["options"]["linear_blend"], d.linear_blend);
    assert!(v["results"]["psnr_result_db"].as_f64().is_some(), "{v}");
    assert!(out.join("stacked.png").is_file() && out.join("truth.png").is_file());
    let stacked = read_frame(&out.join("stacked.png")).unwrap();
    assert_eq!((stacked.width(), stacked.height()), (160, 120));

    // Text mode says where, how long and the PSNR values; a used folder is refused.
    let o = run(&["demo", "--out", out.to_str().unwrap(), "--size", "64x48", "--frames", "3"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    let o = run(&[
        "demo",
        "--out",
        out.to_str().unwrap(),
        "--size",
        "64x48",
        "--frames",
        "3",
        "--force",
    ]);
    assert_code(&o, 0);
    let text = stdout(&o);
    assert!(text.contains("PSNR") && text.contains("dB") && text.contains(" s"), "{text}");
    assert!(text.contains("stacked with FocusMapStack in"), "{text}");
    assert!(text.contains(out.to_str().unwrap()), "{text}");
}

/// `info` on the real camera stacks (FS_REAL_STACKS): headers and EXIF only, quick.
#[test]
fn info_reads_real_camera_stacks() {
    let Some(root) = std::env::var_os("FS_REAL_STACKS") else {
        println!("FS_REAL_STACKS not set: skipping the real-stack test");
        return;
    };
    let amber = PathBuf::from(root).join("amber");
    assert!(amber.is_dir(), "FS_REAL_STACKS is set but {} is missing", amber.display());
    let o = run(&["info", amber.to_str().unwrap()]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("6 frames, 2000x1300 RGB 8-bit"), "{out}");
    assert!(out.contains("camera: Canon EOS 5D Mark II"), "{out}");
    assert!(out.contains("memory: the in-memory pyramid stacker"), "{out}");
}

#[test]
fn sixteen_bit_stacks_keep_their_depth_unless_written_as_jpeg() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames");
    let options = SynthOptions {
        width: 64,
        height: 48,
        frames: 3,
        depth: BitDepth::Sixteen,
        ..Default::default()
    };
    let files = SynthStack::new(options)
        .unwrap()
        .write_stack(tmp.path(), FileFormat::Tiff, &WriteOptions::default())
        .unwrap();
    std::fs::remove_file(files.truth).unwrap();
    std::fs::remove_file(files.depth).unwrap();
    let o = run(&["stack", "--no-align", frames.to_str().unwrap()]);
    assert_code(&o, 0);
    let out = read_frame(&tmp.path().join("frames-stacked.tif")).unwrap();
    assert_eq!(out.format().depth, BitDepth::Sixteen);
    let jpg = tmp.path().join("eight.jpg");
    let o = run(&["stack", "--no-align", frames.to_str().unwrap(), "-o", jpg.to_str().unwrap()]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains("rounded to 8 bits"), "{}", stderr(&o));
    assert_eq!(read_frame(&jpg).unwrap().format().depth, BitDepth::Eight);
}

#[test]
fn every_cpu_level_gives_the_same_bytes() {
    // The SIMD paths (fs_core::cpu, capped by FSTACK_CPU_TARGET) change no bit: the
    // default pipeline (alignment, the focus measure, the composition) on 8-bit RGB,
    // in linear light, and on 16-bit RGBA (the alpha path), at every level the CPU has.
    let tmp = tempfile::tempdir().unwrap();
    let stacks = [
        (ChannelLayout::Rgb, BitDepth::Eight, FileFormat::Png, "rgb8"),
        (ChannelLayout::Rgba, BitDepth::Sixteen, FileFormat::Tiff, "rgba16"),
    ];
    for (layout, depth, format, name) in stacks {
        let dir = tmp.path().join(name);
        let options = SynthOptions {
            width: 97,
            height: 75,
            frames: 4,
            layout,
            depth,
            shift: 2.0,
            ..Default::default()
        };
        let files = SynthStack::new(options)
            .unwrap()
            .write_stack(&dir, format, &WriteOptions::default())
            .unwrap();
        std::fs::remove_file(files.truth).unwrap();
        std::fs::remove_file(files.depth).unwrap();
        let frames = dir.join("frames");
        for extra in [&[][..], &["--linear-blend"][..]] {
            let mut outputs = Vec::new();
            for level in ["scalar", "avx2", "avx512"] {
                let out = dir.join(format!("{level}{}.png", extra.len()));
                let mut args = vec!["stack", frames.to_str().unwrap(), "-o", out.to_str().unwrap()];
                args.extend(extra);
                let o = fstack().env("FSTACK_CPU_TARGET", level).args(&args).output().unwrap();
                assert_code(&o, 0);
                outputs.push((level, std::fs::read(&out).unwrap()));
            }
            for (level, bytes) in &outputs[1..] {
                assert!(bytes == &outputs[0].1, "{name} {extra:?}: {level} differs from scalar");
            }
        }
    }
}

#[test]
fn every_stacker_beats_the_best_frame() {
    let s = synth(96, 64, 4);
    let best = best_frame_psnr(&s);
    // FocusMapStack last: its quality is fs-focusmap's, the others' come first.
    for stacker in ["pyramid", "tiles", "auto", "depthmap", "focusmap"] {
        let out = s.tmp.path().join(format!("{stacker}.png"));
        let mut args =
            vec!["stack", "--no-align", s.frames.to_str().unwrap(), "-o", out.to_str().unwrap()];
        args.extend(["--stacker", stacker, "--json"]);
        let map = s.tmp.path().join(format!("{stacker}-depth-map.png"));
        if stacker == "depthmap" || stacker == "focusmap" {
            args.extend(["--depth-map", map.to_str().unwrap()]);
        }
        if stacker == "tiles" {
            args.extend(["--tile-size", "64", "--n-tiled-layers", "1"]);
        }
        let o = run(&args);
        assert_code(&o, 0);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let got = psnr(&read_frame(&out).unwrap(), &s.truth);
        assert!(got > best, "{stacker}: {got:.2} dB, best frame {best:.2} dB");
        if stacker == "depthmap" {
            let depth = read_frame(&map).unwrap();
            assert_eq!((depth.width(), depth.height()), (96, 64));
            assert_eq!(v["options"]["plot_depth_map"], true);
        }
        if stacker == "tiles" {
            assert_eq!(v["options"]["tile_size"], 64);
        }
    }
    let mut names = files_in(s.tmp.path());
    names.retain(|n| n.starts_with('.'));
    assert!(names.is_empty(), "no work folders left: {names:?}");
}

#[test]
fn stack_aligns_a_moving_stack_by_default_and_crops() {
    let tmp = tempfile::tempdir().unwrap();
    let options = SynthOptions {
        width: 480,
        height: 360,
        frames: 5,
        breathing: 0.03,
        rotation: 0.3,
        shift: 5.0,
        ..Default::default()
    };
    let stack = SynthStack::new(options).unwrap();
    stack.write_stack(tmp.path(), FileFormat::Png, &WriteOptions::default()).unwrap();
    let frames = tmp.path().join("frames");
    let aligned = tmp.path().join("aligned.png");
    let plain = tmp.path().join("plain.png");
    // PyramidStack on both: this measures alignment, not the stacker.
    let o = run(&[
        "stack",
        "--stacker",
        "pyramid",
        frames.to_str().unwrap(),
        "-o",
        aligned.to_str().unwrap(),
    ]);
    assert_code(&o, 0);
    let err = stderr(&o);
    assert!(err.contains("fstack: aligned 5 frames to frame_003.png"), "{err}");
    assert!(err.contains("fstack: cropped to "), "{err}");
    let o = run(&[
        "stack",
        "--stacker",
        "pyramid",
        "--no-align",
        frames.to_str().unwrap(),
        "-o",
        plain.to_str().unwrap(),
    ]);
    assert_code(&o, 0);
    assert!(!stderr(&o).contains("aligned"), "{}", stderr(&o));

    // Compare both with the truth inside the aligned result's crop.
    let a = read_frame(&aligned).unwrap();
    let (w, h) = (a.width(), a.height());
    assert!(w < 480 && h < 360 && w > 440 && h > 320, "{w}x{h}");
    let note = err.lines().find(|l| l.contains("cropped to")).unwrap();
    let nums: Vec<usize> = note
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let (x0, y0) = (nums[2], nums[3]);
    let crop = |f: &Frame| -> Frame {
        let img: fs_core::Image<f32> = f.to_image();
        let planes = (0..3)
            .map(|c| (y0..y0 + h).flat_map(|y| img.plane(c).row(y)[x0..x0 + w].to_vec()).collect())
            .collect();
        Frame::from_image(&fs_core::Image::from_planes(w, h, planes).unwrap(), f.format()).unwrap()
    };
    let truth = crop(&stack.truth());
    let p_aligned = psnr(&a, &truth);
    let p_plain = psnr(&crop(&read_frame(&plain).unwrap()), &truth);
    assert!(p_aligned > p_plain + 3.0, "aligned {p_aligned:.2} dB, unaligned {p_plain:.2} dB");
}

#[test]
fn focus_map_flags_reach_the_options_and_the_json() {
    let s = synth(64, 48, 3);
    let out = s.tmp.path().join("fm.png");
    let base = ["stack", "--no-align", s.frames.to_str().unwrap(), "-o", out.to_str().unwrap()];
    let o = run(&[&base[..], &["--json"]].concat());
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stacker"], "FocusMapStack");
    let d = fs_job::FocusMapOptions::default();
    assert_eq!(v["options"]["stacker"], "FocusMapStack");
    assert_eq!(v["options"]["focus_sigma"], d.focus_sigma);
    assert_eq!(v["options"]["consistency"], d.consistency);
    assert_eq!(v["options"]["confidence_ratio"], d.confidence_ratio);
    assert_eq!(v["options"]["flat_average"], d.flat_average);
    assert_eq!(v["options"]["linear_blend"], d.linear_blend);
    assert_eq!(v["options"]["depth_map"], false);
    assert_eq!(v["options"]["confidence_map"], false);
    assert!(v["options"].get("noise_guard").is_none(), "no pyramid options: {v}");
    assert!(v["options"].get("map_type").is_none(), "no depth-map options: {v}");

    let flags = [
        "--focus-sigma",
        "3.5",
        "--consistency",
        "4",
        "--confidence-ratio",
        "10",
        "--flat-average",
        "5",
        "--linear-blend",
        "--force",
        "--json",
    ];
    let o = run(&[&base[..], &flags[..]].concat());
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["options"]["focus_sigma"], 3.5);
    assert_eq!(v["options"]["consistency"], 4);
    assert_eq!(v["options"]["confidence_ratio"], 10.0);
    assert_eq!(v["options"]["flat_average"], 5);
    assert_eq!(v["options"]["linear_blend"], true);
    let result = read_frame(&out).unwrap();
    assert_eq!((result.width(), result.height()), (64, 48));
    // `--stacker FocusMapStack` (the seed-style name) is the same stacker.
    let o = run(&[&base[..], &["--stacker", "FocusMapStack", "--force", "--json"]].concat());
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stacker"], "FocusMapStack");
}

/// Needs the method: fs-focusmap's placeholder returned no maps.
#[test]
fn depth_and_confidence_maps_are_16_bit_gray_files_of_the_inputs_size() {
    let s = synth(96, 64, 4);
    let out = s.tmp.path().join("out.png");
    let depth = s.tmp.path().join("depth.png");
    let confidence = s.tmp.path().join("confidence.tif");
    let o = run(&[
        "stack",
        "--no-align",
        s.frames.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--depth-map",
        depth.to_str().unwrap(),
        "--confidence-map",
        confidence.to_str().unwrap(),
        "--json",
    ]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["options"]["depth_map"], true);
    assert_eq!(v["options"]["confidence_map"], true);
    assert_eq!(v["results"]["depth_map"], depth.to_str().unwrap());
    assert_eq!(v["results"]["confidence_map"], confidence.to_str().unwrap());
    for (path, format) in [(&depth, FileFormat::Png), (&confidence, FileFormat::Tiff)] {
        let head = std::fs::read(path).unwrap()[..4].to_vec();
        let magic: &[&[u8]] = match format {
            FileFormat::Png => &[b"\x89PNG"],
            _ => &[b"II*\0", b"MM\0*"],
        };
        assert!(magic.contains(&head.as_slice()), "{}: {head:?}", path.display());
        let map = read_frame(path).unwrap();
        assert_eq!((map.width(), map.height()), (96, 64), "{}", path.display());
        assert_eq!(map.format().layout, ChannelLayout::Gray, "{}", path.display());
        assert_eq!(map.format().depth, BitDepth::Sixteen, "{}", path.display());
    }
    assert_eq!(files_in(s.tmp.path()), ["confidence.tif", "depth.png", "frames", "out.png"]);
    // Aligned (the default) and written as TIFF: the depth map keeps the result's size.
    let depth_tif = s.tmp.path().join("depth.tif");
    let o = run(&[
        "stack",
        s.frames.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--force",
        "--depth-map",
        depth_tif.to_str().unwrap(),
    ]);
    assert_code(&o, 0);
    let result = read_frame(&out).unwrap();
    let map = read_frame(&depth_tif).unwrap();
    assert_eq!((map.width(), map.height()), (result.width(), result.height()));
    assert_eq!(map.format().depth, BitDepth::Sixteen);
}

#[test]
fn map_files_must_not_be_an_input_frame_the_output_or_each_other() {
    let s = synth(32, 24, 2);
    let frame = s.frames.join("frame_001.png");
    let before = std::fs::read(&frame).unwrap();
    let cases: [(&[&str], i32, &str); 6] = [
        (&["--depth-map", "frames/frame_001.png", "--force"], 1, "is one of the input frames"),
        (&["--confidence-map", "frames/frame_002.png", "--force"], 1, "is one of the input frames"),
        (&["-o", "out.png", "--depth-map", "out.png"], 1, "is the output"),
        (&["-o", "out.tif", "--confidence-map", "./out.tif"], 1, "is the output"),
        (&["--depth-map", "m.png", "--confidence-map", "./m.png"], 2, "name the same file"),
        (&["--stacker", "depthmap", "--depth-map", "frames/frame_001.png", "--force"], 1, "input"),
    ];
    for (extra, code, needle) in cases {
        let mut args = vec!["stack", "--no-align", "frames"];
        args.extend_from_slice(extra);
        let o = run_in(s.tmp.path(), &args);
        assert_code(&o, code);
        assert!(stderr(&o).contains(needle), "{extra:?}: {}", stderr(&o));
    }
    assert_eq!(files_in(s.tmp.path()), ["frames"], "nothing written");
    assert_eq!(std::fs::read(&frame).unwrap(), before, "the input is untouched");
    // An existing map file needs --force.
    std::fs::write(s.tmp.path().join("c.png"), b"keep").unwrap();
    let o = run_in(s.tmp.path(), &["stack", "--no-align", "frames", "--confidence-map", "c.png"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("already exists") && stderr(&o).contains("--force"));
    assert_eq!(std::fs::read(s.tmp.path().join("c.png")).unwrap(), b"keep");
}

#[test]
fn bunches_and_post_filters_run_with_the_default_stacker() {
    let s = synth(64, 48, 5);
    let bunches = s.tmp.path().join("bunches");
    let o = run(&[
        "stack",
        "--no-align",
        s.frames.to_str().unwrap(),
        "--bunch-frames",
        "3",
        "--bunch-overlap",
        "1",
        "-o",
        bunches.to_str().unwrap(),
        "--sharpen-amount-percent",
        "50",
        "--denoise-amount",
        "1",
        "--json",
    ]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stacker"], "FocusMapStack");
    assert_eq!(v["options"]["frames"], 3);
    let images: Vec<String> =
        files_in(&bunches).into_iter().filter(|n| !n.starts_with('.')).collect();
    assert_eq!(images, ["frame_001.png", "frame_003.png"]);
    for name in images {
        let frame = read_frame(&bunches.join(name)).unwrap();
        assert_eq!((frame.width(), frame.height()), (64, 48));
    }
}

#[test]
fn stack_keeps_frames_defocused_beyond_the_subject_and_leaves_out_a_black_frame() {
    // Frames 5 and 6 focus beyond the subject (smallest blur 14.4 px, 3 % of the
    // width: no feature survives); an eighth frame is black.
    let tmp = tempfile::tempdir().unwrap();
    let options = SynthOptions {
        width: 480,
        height: 360,
        frames: 7,
        beyond_frames: 2,
        beyond_blur: 14.4,
        lens_blur: 1.0,
        breathing: 0.03,
        rotation: 0.3,
        shift: 5.0,
        ..Default::default()
    };
    let stack = SynthStack::new(options).unwrap();
    stack.write_stack(tmp.path(), FileFormat::Png, &WriteOptions::default()).unwrap();
    let frames = tmp.path().join("frames");
    let black = Frame::new(stack.info(), Samples::U8(vec![0; 480 * 360 * 3])).unwrap();
    write_frame(&frames.join("frame_008.png"), &black, &WriteOptions::default()).unwrap();
    let out = tmp.path().join("out.png");
    let args = ["stack", frames.to_str().unwrap(), "-o", out.to_str().unwrap()];
    let o = run(&[&args[..], &["--json"]].concat());
    assert_code(&o, 0);
    let err = stderr(&o);
    assert!(
        err.contains("fstack: warning: left out ")
            && err.contains("frame_008.png: cannot be aligned: matches nothing"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["options"]["strict_align"], false);
    assert_eq!(v["options"]["on_failure"], "recover");
    let frames_log = v["results"]["alignment"].as_array().unwrap();
    let methods: Vec<&str> = frames_log.iter().map(|f| f["method"].as_str().unwrap()).collect();
    assert_eq!(methods.len(), 8, "{methods:?}");
    assert_eq!(methods[4], "reference");
    assert!(methods[..4].iter().all(|m| *m == "features"), "{methods:?}");
    // Aligned by intensity (against their neighbour blurred by a defocus disc), or
    // predicted by the breathing model where their own estimate departs from it.
    assert!(methods[5..7].iter().all(|m| ["intensity", "predicted"].contains(m)), "{methods:?}");
    let predicted = methods.iter().filter(|m| **m == "predicted").count();
    assert_eq!(methods[7], "left out");
    assert!(frames_log[7]["left_out"].as_str().unwrap().starts_with("matches nothing"));
    assert!(frames_log[6]["features_failed"].as_str().unwrap().starts_with("too few matches"));
    let m = frames_log[6]["magnification_percent"].as_f64().unwrap();
    // The truth, against frame 4 (the aligner's reference; the generator's is 3).
    let scale = |k: usize| {
        let t = stack.frame_transform(k);
        (t[0] * t[4] - t[1] * t[3]).sqrt()
    };
    let truth = (scale(6) / scale(4) - 1.0) * 100.0;
    assert!((m - truth).abs() < 0.1, "{m} % vs {truth} %");
    // The report says what was stacked: 7 of the 8 frames, at the cropped size.
    let written = read_frame(&out).unwrap();
    let (w, h) = (written.width(), written.height());
    assert!(w < 480 && h < 360, "cropped: {w}x{h}");
    assert_eq!(
        v["results"]["stacked"],
        serde_json::json!([{ "frames": 7, "width": w, "height": h }])
    );
    let o = run(&[&args[..], &["--force"]].concat());
    assert_code(&o, 0);
    let text = stdout(&o);
    assert!(
        text.starts_with(&format!("stacked 7 of 8 frames ({w}x{h} RGB 8-bit) with ")),
        "{text}"
    );
    // --skip-unaligned also leaves out what would be predicted (the frames aligned by
    // intensity are kept).
    let o = run(&[&args[..], &["--force", "--skip-unaligned"]].concat());
    assert_code(&o, 0);
    let text = stdout(&o);
    let kept = format!("stacked {} of 8 frames (", 7 - predicted);
    assert!(text.starts_with(&kept), "--skip-unaligned: {text}");

    let o = run(&[&args[..], &["--strict-align", "--force"]].concat());
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("frame_008.png: cannot be aligned: matches nothing"),
        "{}",
        stderr(&o)
    );
    let o = run(&[&args[..], &["--strict-align", "--skip-unaligned"]].concat());
    assert_code(&o, 2);
}

#[path = "cli/reliability.rs"]
mod reliability;

#[path = "cli/batch.rs"]
mod batch;

#[path = "cli/raw.rs"]
mod raw;
