//! Reliability under races, interruptions and bad input (issue #17): no lost file, no
//! abort, no leftover. Races and interruptions are made deterministic with the
//! binary's test hook (`FSTACK_TEST_PAUSE`, see `src/hook.rs`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;

use super::*;

/// A run stopped by the test hook at `point`: resume it with [`Paused::resume`].
pub(super) struct Paused {
    child: Child,
    stdin: ChildStdin,
    log: JoinHandle<String>,
}

impl Paused {
    /// Starts `fstack args` in `dir` and waits until it is paused at `point`.
    pub(super) fn start(dir: &Path, args: &[&str], point: &str) -> Paused {
        Self::start_with_tmpdir(dir, args, point, &std::env::temp_dir())
    }

    /// [`Paused::start`] with `TMPDIR` set to `tmpdir`.
    fn start_with_tmpdir(dir: &Path, args: &[&str], point: &str, tmpdir: &Path) -> Paused {
        let mut child = fstack()
            .current_dir(dir)
            .env("TMPDIR", tmpdir)
            .args(args)
            .env("FSTACK_TEST_PAUSE", point)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap();
                if line.contains("test hook: paused at") {
                    let _ = tx.send(());
                }
                all += &line;
                all += "\n";
            }
            all
        });
        let paused = Paused { child, stdin, log };
        paused.wait_for(&rx, point);
        paused
    }

    fn wait_for(&self, rx: &Receiver<()>, point: &str) {
        rx.recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("the run never paused at {point}"));
    }

    pub(super) fn interrupt(&self) {
        // SAFETY: kill with a valid pid of our own child and a valid signal.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) }, 0);
        // Let the handler run before the run resumes (it only sets a flag).
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Lets the run go on and waits for it: its exit status and stderr.
    pub(super) fn resume(mut self) -> (ExitStatus, String) {
        let _ = self.stdin.write_all(b"\n");
        drop(self.stdin);
        let status = self.child.wait().unwrap();
        (status, self.log.join().unwrap())
    }
}

/// Entries of `dir` that fstack's temporary files and work folders would leave.
pub(super) fn fstack_leftovers(dir: &Path) -> Vec<String> {
    files_in(dir).into_iter().filter(|n| n.starts_with(".fstack-")).collect()
}

#[test]
fn an_output_that_appears_during_the_run_is_not_replaced_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    plain_stack(&tmp.path().join("in"), 3, 40, 30);
    let args = ["stack", "--no-align", "in", "-o", "out.png", "--depth-map", "d.png"];
    let run = Paused::start(tmp.path(), &args, "place");
    // Another program (or a second run) writes the output meanwhile.
    std::fs::write(tmp.path().join("out.png"), b"theirs").unwrap();
    let (status, log) = run.resume();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("out.png: already exists (created while fstack was working)"), "{log}");
    assert!(log.contains("use --force"), "{log}");
    assert_eq!(std::fs::read(tmp.path().join("out.png")).unwrap(), b"theirs");
    assert_eq!(files_in(tmp.path()), ["in", "out.png"], "no map, no leftover: {log}");

    // With --force the run's result replaces it.
    let mut forced = args.to_vec();
    forced.push("--force");
    let run = Paused::start(tmp.path(), &forced, "place");
    let (status, log) = run.resume();
    assert_eq!(status.code(), Some(0), "{log}");
    let out = read_frame(&tmp.path().join("out.png")).unwrap();
    assert_eq!((out.width(), out.height()), (40, 30));
    assert_eq!(files_in(tmp.path()), ["d.png", "in", "out.png"]);
}

#[test]
fn a_map_that_appears_during_the_run_is_kept_and_the_run_says_what_it_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    plain_stack(&tmp.path().join("in"), 3, 40, 30);
    let args = ["stack", "--no-align", "in", "-o", "out.tif", "--confidence-map", "c.tif"];
    let run = Paused::start(tmp.path(), &args, "place");
    std::fs::write(tmp.path().join("c.tif"), b"theirs").unwrap();
    let (status, log) = run.resume();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("out.tif was written, but not the confidence map"), "{log}");
    assert!(log.contains("c.tif: already exists"), "{log}");
    assert_eq!(std::fs::read(tmp.path().join("c.tif")).unwrap(), b"theirs");
    assert!(fstack_leftovers(tmp.path()).is_empty(), "{log}");
}

/// Outputs, maps and copied-through frames all get the permissions of a new file
/// (0666 less the umask), never tempfile's private 0600.
#[cfg(unix)]
#[test]
fn every_output_gets_the_permissions_of_a_new_file() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    plain_stack(&tmp.path().join("in"), 3, 40, 30);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let o =
        run_in(tmp.path(), &["stack", "--no-align", "in", "-o", "o.png", "--depth-map", "d.tif"]);
    assert_code(&o, 0);
    // A bunch of one frame is copied through.
    let o = run_in(
        tmp.path(),
        &["stack", "--no-align", "--no-balance", "in", "-o", "b", "--bunch-frames", "2"],
    );
    assert_code(&o, 0);
    let plain = tmp.path().join("plain");
    std::fs::write(&plain, b"").unwrap();
    let expected = mode(&plain);
    assert_ne!(expected, 0o600);
    let mut outputs = vec![tmp.path().join("o.png"), tmp.path().join("d.tif")];
    outputs.extend(files_in(&tmp.path().join("b")).iter().map(|n| tmp.path().join("b").join(n)));
    assert!(outputs.len() >= 4, "{outputs:?}");
    for p in outputs.iter().filter(|p| FileFormat::from_path(p).is_some()) {
        assert_eq!(mode(p), expected, "{}", p.display());
    }
}

/// Ctrl-C during stacking: exit 130, no output, no temporary files (beside the output
/// or in TMPDIR), inputs untouched. The hook stops the run when stacking starts, so the
/// signal arrives mid-run however fast the machine is.
#[test]
fn interruption_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let tmpdir = tmp.path().join("tmpdir");
    std::fs::create_dir(&tmpdir).unwrap();
    plain_stack(&tmp.path().join("in"), 4, 64, 48);
    let before: Vec<Vec<u8>> = files_in(&tmp.path().join("in"))
        .iter()
        .map(|n| std::fs::read(tmp.path().join("in").join(n)).unwrap())
        .collect();
    for stacker in ["focusmap", "pyramid", "tiles", "depthmap"] {
        let args = ["stack", "--no-align", "in", "-o", "out.png", "--stacker", stacker];
        let run = Paused::start_with_tmpdir(tmp.path(), &args, "stack: stack", &tmpdir);
        run.interrupt();
        let (status, log) = run.resume();
        assert_eq!(status.code(), Some(130), "{stacker}: {log}");
        assert!(log.contains("fstack: interrupted; no output was written"), "{stacker}: {log}");
        assert_eq!(files_in(tmp.path()), ["in", "tmpdir"], "{stacker}: no leftovers: {log}");
        assert!(files_in(&tmpdir).is_empty(), "{stacker}: nothing left in TMPDIR");
    }
    let after: Vec<Vec<u8>> = files_in(&tmp.path().join("in"))
        .iter()
        .map(|n| std::fs::read(tmp.path().join("in").join(n)).unwrap())
        .collect();
    assert_eq!(before, after, "inputs untouched");
}

/// Ctrl-C during the second of three bunches: the first bunch's output stays and the
/// run names it, instead of claiming that nothing was written.
#[test]
fn an_interrupted_bunch_run_names_the_bunches_it_kept() {
    let tmp = tempfile::tempdir().unwrap();
    plain_stack(&tmp.path().join("in"), 6, 40, 30);
    let args = ["stack", "--no-align", "in", "-o", "b", "--bunch-frames", "2"];
    let run = Paused::start(tmp.path(), &args, "bunch: bunch 2/3");
    run.interrupt();
    let (status, log) = run.resume();
    assert_eq!(status.code(), Some(130), "{log}");
    let kept = tmp.path().canonicalize().unwrap().join("b/frame1.png");
    assert!(
        log.contains(&format!(
            "fstack: interrupted; the 1 output finished before were kept:\n  {}\n",
            kept.display()
        )),
        "{log}"
    );
    assert!(!log.contains("no output was written"), "{log}");
    assert_eq!(files_in(&tmp.path().join("b")), [".fstack-output", "frame1.png"], "{log}");
    assert!(fstack_leftovers(tmp.path()).is_empty(), "{log}");
}

/// CRC-32 (PNG's), for hand-made chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

/// A PNG whose header claims `w`x`h` RGB 8-bit pixels (and holds almost no data).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        let body = [kind, data].concat();
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    };
    let ihdr = [&w.to_be_bytes()[..], &h.to_be_bytes(), &[8, 2, 0, 0, 0]].concat();
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

/// A little-endian gray 8-bit TIFF whose header claims `w`x`h` pixels.
fn tiff_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    // (tag, type, value); type 3 = SHORT, 4 = LONG; one value each.
    let entries: [(u16, u16, u32); 9] = [
        (256, 4, w),
        (257, 4, h),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 200),
        (277, 3, 1),
        (278, 4, h),
        (279, 4, 16),
    ];
    out.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(value.to_le_bytes());
    }
    out.extend(0u32.to_le_bytes());
    out.resize(216, 7);
    out
}

/// The bad-input corpus: each case is a stack with one bad frame. `stack` exits 1 with
/// one error line naming the file and the problem; nothing is written and nothing is
/// left beside the output or in TMPDIR; the inputs are byte-identical afterwards;
/// `info` flags the same file (exit 1).
#[test]
fn bad_input_corpus_fails_cleanly_naming_the_file() {
    let good = {
        let dir = tempfile::tempdir().unwrap();
        plain_stack(dir.path(), 1, 40, 30);
        std::fs::read(dir.path().join("frame1.png")).unwrap()
    };
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "huge-tiff",
            "frame2.tif",
            tiff_claiming(100_000, 100_000),
            "the header claims 100000x100000 pixels (10000 megapixels, 9.3 GiB decoded), \
             more than the 1000-megapixel limit",
        ),
        (
            "huge-png",
            "frame2.png",
            png_claiming(100_000, 100_000),
            "the header claims 100000x100000 pixels (10000 megapixels, 27.9 GiB decoded)",
        ),
        (
            "png-2^31",
            "frame2.png",
            png_claiming(1 << 31, 1 << 31),
            "frame2.png: cannot decode image: the header claims an impossible size (memory limit \
             exceeded)",
        ),
        ("empty", "frame2.png", Vec::new(), "empty file (0 bytes)"),
        ("not-an-image", "frame2.png", b"hello, world\n".to_vec(), "not a JPEG, PNG or TIFF"),
        ("truncated", "frame2.png", good[..good.len() / 2].to_vec(), "frame2.png: "),
    ];
    for (name, file, bytes, needle) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let tmpdir = tmp.path().join("tmpdir");
        std::fs::create_dir(&tmpdir).unwrap();
        let input = tmp.path().join("in");
        plain_stack(&input, 3, 40, 30);
        let same_kind = file.ends_with(".png");
        if same_kind {
            std::fs::write(input.join(file), &bytes).unwrap();
        } else {
            std::fs::remove_file(input.join("frame2.png")).unwrap();
            std::fs::write(input.join(file), &bytes).unwrap();
        }
        let snapshot = || -> Vec<(String, Vec<u8>)> {
            files_in(&input)
                .into_iter()
                .map(|n| (n.clone(), std::fs::read(input.join(&n)).unwrap()))
                .collect()
        };
        let before = snapshot();
        for stacker in ["focusmap", "tiles"] {
            let o = fstack()
                .current_dir(tmp.path())
                .env("TMPDIR", &tmpdir)
                .args(["stack", "in", "-o", "out.png", "--stacker", stacker])
                .output()
                .unwrap();
            assert_code(&o, 1);
            let err = stderr(&o);
            assert!(err.contains(file) && err.contains(needle), "{name} ({stacker}): {err}");
            assert!(err.lines().count() <= 2, "{name}: one error line and a hint: {err}");
            assert_eq!(files_in(tmp.path()), ["in", "tmpdir"], "{name} ({stacker}): {err}");
            assert!(files_in(&tmpdir).is_empty(), "{name} ({stacker}): TMPDIR");
        }
        // `info` reads headers only: it flags every case but a cut-off pixel stream.
        if name != "truncated" {
            let o = fstack().current_dir(tmp.path()).args(["info", "in"]).output().unwrap();
            assert_code(&o, 1);
            let all = stdout(&o) + &stderr(&o);
            assert!(all.contains(file) && all.contains(needle), "{name}: info: {all}");
        }
        assert_eq!(snapshot(), before, "{name}: inputs byte-identical");
    }
}

/// `--max-megapixels` lowers (or raises) the limit, and `info` says which frame.
#[test]
fn max_megapixels_bounds_the_frames() {
    let tmp = tempfile::tempdir().unwrap();
    plain_stack(&tmp.path().join("in"), 2, 2000, 1000);
    let o = run_in(tmp.path(), &["--max-megapixels", "1", "stack", "in", "-o", "o.png"]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("frame1.png: the header claims 2000x1000 pixels (2 megapixels"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("the 1-megapixel limit (raise it with --max-megapixels"));
    assert_eq!(files_in(tmp.path()), ["in"]);
    let o = run_in(tmp.path(), &["--max-megapixels", "0", "info", "in"]);
    assert_code(&o, 2);
}

/// `--threads` beyond what the system allows (here an address-space limit, as
/// `ulimit -v 3000000` sets): a clear error, not rayon's GlobalPoolAlreadyInitialized
/// panic.
///
/// A run can lose a race inside std: a worker thread that got its stack but then finds
/// no address space for its signal stack panics in std's thread start ("failed to
/// allocate an alternative stack"), outside fstack's reach. Such a run is repeated (a
/// few times at most); every other outcome is judged.
#[cfg(unix)]
#[test]
fn too_many_threads_is_a_clear_error() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    plain_stack(&tmp.path().join("in"), 2, 40, 30);
    let run = || {
        let mut cmd = fstack();
        cmd.current_dir(tmp.path()).args(["--threads", "5000", "stack", "in", "-o", "o.png"]);
        // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit { rlim_cur: 3_000_000 * 1024, rlim_max: 3_000_000 * 1024 };
                libc::setrlimit(libc::RLIMIT_AS, &limit);
                Ok(())
            });
        }
        cmd.output().unwrap()
    };
    let std_race =
        |o: &std::process::Output| stderr(o).contains("failed to allocate an alternative stack");
    let mut o = run();
    for _ in 0..4 {
        if !std_race(&o) {
            break;
        }
        o = run();
    }
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("--threads 5000: the system cannot start 5000 worker threads"),
        "{}",
        stderr(&o)
    );
    assert_eq!(files_in(tmp.path()), ["in"]);
}

/// A huge `--weight-power` sharpens the depth-map weights towards the hard max; it
/// used to overflow to NaN and give a black image.
#[test]
fn a_huge_weight_power_does_not_give_a_black_output() {
    let s = synth(64, 48, 3);
    for power in ["100", "1e308"] {
        let o = run_in(
            s.tmp.path(),
            &["stack", "--no-align", "frames", "-o", "o.png", "--stacker", "depthmap"],
        );
        assert_code(&o, 0);
        let plain = read_frame(&s.tmp.path().join("o.png")).unwrap();
        std::fs::remove_file(s.tmp.path().join("o.png")).unwrap();
        let o = run_in(
            s.tmp.path(),
            &[
                "stack",
                "--no-align",
                "frames",
                "-o",
                "o.png",
                "--stacker",
                "depthmap",
                "--weight-power",
                power,
            ],
        );
        assert_code(&o, 0);
        let sharp = read_frame(&s.tmp.path().join("o.png")).unwrap();
        std::fs::remove_file(s.tmp.path().join("o.png")).unwrap();
        let mean = |f: &Frame| match f.samples() {
            Samples::U8(v) => v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64,
            Samples::U16(v) => {
                v.iter().map(|&x| f64::from(x) / 257.0).sum::<f64>() / v.len() as f64
            }
        };
        let (a, b) = (mean(&plain), mean(&sharp));
        assert!(b > 0.5 * a && (a - b).abs() < 0.1 * a, "power {power}: mean {b} vs {a}");
    }
}

/// Work folders a killed run left beside the output (`.fstack-*` with a lock nobody
/// holds) are removed by the next run; a live run's folder is not.
#[test]
fn stale_work_folders_go_and_live_ones_stay() {
    let tmp = tempfile::tempdir().unwrap();
    plain_stack(&tmp.path().join("in"), 3, 40, 30);
    let dead = tmp.path().join(".fstack-dead01");
    std::fs::create_dir_all(dead.join("out")).unwrap();
    std::fs::write(dead.join("lock"), b"").unwrap();
    std::fs::write(dead.join("out/frame1.png"), b"half").unwrap();
    let live =
        Paused::start(tmp.path(), &["stack", "--no-align", "in", "-o", "a.png"], "stack: stack");
    assert!(!dead.exists(), "the dead run's folder is gone");
    let work = fstack_leftovers(tmp.path());
    assert_eq!(work.len(), 1, "the live run's folder: {work:?}");
    let o = run_in(tmp.path(), &["stack", "--no-align", "in", "-o", "b.png"]);
    assert_code(&o, 0);
    assert_eq!(fstack_leftovers(tmp.path()), work, "a live run's folder stays");
    let (status, log) = live.resume();
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(files_in(tmp.path()), ["a.png", "b.png", "in"]);
}

/// A command of the message corpus: its arguments, a `TMPDIR` override, the exit code
/// and what stderr must say.
struct MessageCase {
    args: &'static [&'static str],
    tmpdir: Option<&'static str>,
    code: i32,
    says: &'static [&'static str],
}

/// Messages name what the user typed and what to do, never fstack's internals: each
/// case fails with its exit code and message, writes nothing, leaves nothing beside
/// the output or in TMPDIR, and leaves the inputs byte-identical.
#[test]
fn messages_name_what_the_user_typed() {
    let cases = [
        // --exif-path on a non-image: the user's path, not the work folder's link.
        MessageCase {
            args: &["stack", "in", "-o", "out.png", "--exif-path", "extra/notes.txt"],
            tmpdir: None,
            code: 1,
            says: &[
                "error: --exif-path: extra/notes.txt: cannot decode image: not a JPEG, PNG or TIFF",
            ],
        },
        // A missing TMPDIR is named as such (not the input folder, not an action).
        MessageCase {
            args: &["stack", "--no-align", "in", "-o", "out.png"],
            tmpdir: Some("/nonexistent-fstack-tmp"),
            code: 1,
            says: &["error: /nonexistent-fstack-tmp: the folder for temporary files (from TMPDIR)"],
        },
        // Sizes with exponents are numbers, too large here; not "unknown unit".
        MessageCase {
            args: &["stack", "in", "-o", "out.png", "--memory-limit", "1e30"],
            tmpdir: None,
            code: 2,
            says: &["`1e30` is not a size (examples: 512M, 8G, 1.5GiB, 1048576): too large"],
        },
        MessageCase {
            args: &["stack", "in", "-o", "out.png", "--memory-limit", "1e400G"],
            tmpdir: None,
            code: 2,
            says: &["`1e400G` is not a size (examples: 512M, 8G, 1.5GiB, 1048576): too large"],
        },
        // Negative numbers say so, with or without `=`.
        MessageCase {
            args: &["stack", "in", "-o", "out.png", "--ref-idx", "-3"],
            tmpdir: None,
            code: 2,
            says: &["'--ref-idx <N>': `-3` is negative; give a whole number, 0 or more"],
        },
        MessageCase {
            args: &["stack", "in", "-o", "out.png", "--stacker", "depthmap", "--blur-size=-2"],
            tmpdir: None,
            code: 2,
            says: &["'--blur-size <PX>': `-2` is negative; give a whole number, 0 or more"],
        },
        MessageCase {
            args: &["--max-megapixels", "-2", "stack", "in", "-o", "out.png"],
            tmpdir: None,
            code: 2,
            says: &["'--max-megapixels <MP>': `-2` is negative; give a whole number, 1 or more"],
        },
        // A symbolic link loop is not a missing file; a dangling link names its target.
        MessageCase {
            args: &["stack", "extra/loop", "-o", "out.png"],
            tmpdir: None,
            code: 1,
            says: &["error: extra/loop: a loop of symbolic links"],
        },
        MessageCase {
            args: &["stack", "extra/dangling", "-o", "out.png"],
            tmpdir: None,
            code: 1,
            says: &["error: extra/dangling: a symbolic link to gone, which does not exist"],
        },
        // --gen-kernel past 0.7 clips pixels: refused.
        MessageCase {
            args: &["stack", "in", "-o", "out.png", "--stacker", "pyramid", "--gen-kernel", "0.8"],
            tmpdir: None,
            code: 2,
            says: &["invalid value for --gen-kernel: must be more than 0 and at most 0.7"],
        },
        // --ref-idx out of range, also without alignment (balance uses it).
        MessageCase {
            args: &["stack", "in", "-o", "out.png", "--no-align", "--ref-idx", "5"],
            tmpdir: None,
            code: 2,
            says: &["invalid value for --ref-idx: must be < the number of frames (3), got 5"],
        },
        MessageCase {
            args: &["stack", "in", "-o", "out.png", "--no-align", "--no-balance", "--ref-idx", "0"],
            tmpdir: None,
            code: 2,
            says: &["--ref-idx chooses the frame to align and balance to; with --no-align and \
                     --no-balance there is none"],
        },
        // Frames too small to align: the hint names --no-align.
        MessageCase {
            args: &["stack", "extra/tiny", "-o", "out.png"],
            tmpdir: None,
            code: 1,
            says: &[
                "cannot be aligned: the reference frame has too few features",
                "hint: frames this small or this plain have too few features to align; if they \
                 need no alignment, stack them with --no-align",
            ],
        },
        MessageCase {
            args: &["stack", "extra/one-pixel", "-o", "out.png"],
            tmpdir: None,
            code: 1,
            says: &["hint: frames this small or this plain have too few features to align"],
        },
        MessageCase {
            args: &["stack", "extra/strip", "-o", "out.png"],
            tmpdir: None,
            code: 1,
            says: &["hint: frames this small or this plain have too few features to align"],
        },
        // A loop of symbolic links inside the input folder, named like a frame: named,
        // not silently left out of the stack.
        MessageCase {
            args: &["stack", "--no-align", "extra/looped", "-o", "out.png"],
            tmpdir: None,
            code: 1,
            says: &["extra/looped/0003.png: a loop of symbolic links"],
        },
        // Side outputs obey the output's rules: never an input, never the output.
        MessageCase {
            args: &[
                "stack",
                "--no-align",
                "in",
                "-o",
                "out.png",
                "--stacker",
                "depthmap",
                "--depth-map",
                "in/frame1.png",
                "--force",
            ],
            tmpdir: None,
            code: 1,
            says: &["in/frame1.png: is one of the input frames; choose another --depth-map"],
        },
        MessageCase {
            args: &[
                "stack",
                "--no-align",
                "in",
                "-o",
                "out.png",
                "--stacker",
                "focusmap",
                "--confidence-map",
                "out.png",
                "--force",
            ],
            tmpdir: None,
            code: 1,
            says: &["out.png: is the output; choose another --confidence-map"],
        },
        // A listed frame that fails to decode is named as given, not as its link in
        // the work folder; for a single output and for bunches.
        MessageCase {
            args: &["stack", "--no-align", "in/frame1.png", "extra/cut.png", "-o", "out.png"],
            tmpdir: None,
            code: 1,
            says: &["error: extra/cut.png: cannot decode image: file is truncated"],
        },
        MessageCase {
            args: &[
                "stack",
                "--no-align",
                "--no-balance",
                "in/frame1.png",
                "in/frame2.png",
                "extra/cut.png",
                "-o",
                "bunches",
                "--bunch-frames",
                "2",
            ],
            tmpdir: None,
            code: 1,
            says: &["error: extra/cut.png: cannot decode image: file is truncated"],
        },
    ];
    for case in cases {
        let tmp = tempfile::tempdir().unwrap();
        let tmpdir = tmp.path().join("tmpdir");
        std::fs::create_dir(&tmpdir).unwrap();
        plain_stack(&tmp.path().join("in"), 3, 40, 30);
        let extra = tmp.path().join("extra");
        std::fs::create_dir(&extra).unwrap();
        std::fs::write(extra.join("notes.txt"), b"not an image\n").unwrap();
        std::os::unix::fs::symlink("loop", extra.join("loop")).unwrap();
        std::os::unix::fs::symlink("gone", extra.join("dangling")).unwrap();
        plain_stack(&extra.join("tiny"), 3, 3, 2);
        plain_stack(&extra.join("one-pixel"), 3, 1, 1);
        plain_stack(&extra.join("strip"), 3, 4000, 8);
        plain_stack(&extra.join("looped"), 2, 40, 30);
        let whole = std::fs::read(tmp.path().join("in/frame3.png")).unwrap();
        std::fs::write(extra.join("cut.png"), &whole[..whole.len() / 2]).unwrap();
        std::os::unix::fs::symlink("0003.png", extra.join("looped/0003.png")).unwrap();
        let snapshot = || -> Vec<(String, Vec<u8>)> {
            let mut all = Vec::new();
            for dir in ["in", "extra/tiny", "extra/one-pixel", "extra/strip"] {
                for n in files_in(&tmp.path().join(dir)) {
                    all.push((n.clone(), std::fs::read(tmp.path().join(dir).join(&n)).unwrap()));
                }
            }
            all.push(("notes".into(), std::fs::read(extra.join("notes.txt")).unwrap()));
            all
        };
        let before = snapshot();
        let o = fstack()
            .current_dir(tmp.path())
            .env("TMPDIR", case.tmpdir.map_or(tmpdir.clone(), PathBuf::from))
            .args(case.args)
            .output()
            .unwrap();
        let what = case.args.join(" ");
        assert_code(&o, case.code);
        let err = stderr(&o);
        for needle in case.says {
            assert!(err.contains(needle), "{what}: {err}");
        }
        for internal in [".fstack-", "action `", "invalid digit", "unknown unit"] {
            assert!(!err.contains(internal), "{what}: {internal:?} in {err}");
        }
        assert_eq!(files_in(tmp.path()), ["extra", "in", "tmpdir"], "{what}: {err}");
        assert!(files_in(&tmpdir).is_empty(), "{what}: TMPDIR");
        assert_eq!(snapshot(), before, "{what}: inputs byte-identical");
    }
}

/// A write that fails (a full disk; here the file-size limit, which fails the same
/// way) names the -o path, not the work folder's file, and leaves nothing behind.
#[cfg(unix)]
#[test]
fn a_failed_write_names_the_output() {
    use std::os::unix::process::CommandExt;
    let s = synth(200, 150, 3);
    std::fs::create_dir(s.tmp.path().join("tmpdir")).unwrap();
    let mut cmd = fstack();
    cmd.current_dir(s.tmp.path()).env("TMPDIR", s.tmp.path().join("tmpdir")).args([
        "stack",
        "--no-align",
        "frames",
        "-o",
        "out.png",
        "--stacker",
        "pyramid",
    ]);
    // SAFETY: only setrlimit and signal, async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Ignored, SIGXFSZ makes a write past the limit fail with EFBIG instead.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: 4096, rlim_max: 4096 };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(err.starts_with("error: out.png: ") && err.contains("File too large"), "{err}");
    assert!(!err.contains(".fstack-"), "{err}");
    assert_eq!(files_in(s.tmp.path()), ["frames", "tmpdir"]);
    assert!(files_in(&s.tmp.path().join("tmpdir")).is_empty());
}

/// `--ref-idx` with `--no-align` is balance's reference: the frames are balanced to
/// the frame asked for, not to the middle one.
#[test]
fn ref_idx_without_alignment_is_the_balance_reference() {
    let tmp = tempfile::tempdir().unwrap();
    plain_stack(&tmp.path().join("in"), 3, 40, 30);
    for (idx, file) in [(None, "frame2.png"), (Some("0"), "frame1.png"), (Some("2"), "frame3.png")]
    {
        let mut args = vec!["stack", "--no-align", "in", "-o", "o.png", "--force"];
        if let Some(i) = idx {
            args.extend(["--ref-idx", i]);
        }
        let o = run_in(tmp.path(), &args);
        assert_code(&o, 0);
        assert!(
            stderr(&o).contains(&format!("fstack: balanced to {file}: gains")),
            "{}",
            stderr(&o)
        );
    }
}

/// A bunch whose write fails (the file-size limit, as a full disk) names the file in
/// the output folder the user gave, never an internal `.fstack-` name, and leaves
/// nothing behind.
#[cfg(unix)]
#[test]
fn a_failed_bunch_write_names_the_bunch_file() {
    use std::os::unix::process::CommandExt;
    let s = synth(200, 150, 4);
    let mut cmd = fstack();
    cmd.current_dir(s.tmp.path()).args([
        "stack",
        "--no-align",
        "frames",
        "-o",
        "bunches",
        "--bunch-frames",
        "2",
        "--stacker",
        "pyramid",
    ]);
    // SAFETY: only setrlimit and signal, async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: 4096, rlim_max: 4096 };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("bunches/frame_001.png: ") && err.contains("File too large"), "{err}");
    assert!(!err.contains(".fstack-"), "{err}");
    // The folder it created for bunches that never came is removed too.
    assert_eq!(files_in(s.tmp.path()), ["frames"], "no leftover");
}

/// `--force` replacing an output and a map keeps their permission bits (as `sed -i`
/// does); a file created new gets 0666 less the umask.
#[cfg(unix)]
#[test]
fn a_forced_replacement_keeps_the_replaced_files_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    plain_stack(&tmp.path().join("in"), 3, 40, 30);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let set =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    let (out, map, fresh) =
        (tmp.path().join("o.png"), tmp.path().join("d.tif"), tmp.path().join("c.png"));
    std::fs::write(&out, b"old").unwrap();
    set(&out, 0o600);
    std::fs::write(&map, b"old").unwrap();
    set(&map, 0o640);
    let args = [
        "stack",
        "--no-align",
        "in",
        "-o",
        "o.png",
        "--stacker",
        "focusmap",
        "--depth-map",
        "d.tif",
        "--confidence-map",
        "c.png",
        "--force",
    ];
    let o = run_in(tmp.path(), &args);
    assert_code(&o, 0);
    assert_eq!(read_frame(&out).unwrap().width(), 40, "replaced");
    assert_eq!(read_frame(&map).unwrap().width(), 40, "replaced");
    assert_eq!((mode(&out), mode(&map)), (0o600, 0o640));
    let plain = tmp.path().join("plain");
    std::fs::write(&plain, b"").unwrap();
    assert_eq!(mode(&fresh), mode(&plain), "a new file");
    assert!(fstack_leftovers(tmp.path()).is_empty());
}
