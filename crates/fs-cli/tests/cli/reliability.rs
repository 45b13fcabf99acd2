//! Reliability under races, interruptions and bad input (issue #17): no lost file, no
//! abort, no leftover. Races and interruptions are made deterministic with the
//! binary's test hook (`FSTACK_TEST_PAUSE`, see `src/hook.rs`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;

use super::*;

/// A run stopped by the test hook at `point`: resume it with [`Paused::resume`].
struct Paused {
    child: Child,
    stdin: ChildStdin,
    log: JoinHandle<String>,
}

impl Paused {
    /// Starts `fstack args` in `dir` and waits until it is paused at `point`.
    fn start(dir: &Path, args: &[&str], point: &str) -> Paused {
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

    fn interrupt(&self) {
        // SAFETY: kill with a valid pid of our own child and a valid signal.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) }, 0);
        // Let the handler run before the run resumes (it only sets a flag).
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Lets the run go on and waits for it: its exit status and stderr.
    fn resume(mut self) -> (ExitStatus, String) {
        let _ = self.stdin.write_all(b"\n");
        drop(self.stdin);
        let status = self.child.wait().unwrap();
        (status, self.log.join().unwrap())
    }
}

/// Entries of `dir` that fstack's temporary files and work folders would leave.
fn fstack_leftovers(dir: &Path) -> Vec<String> {
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
