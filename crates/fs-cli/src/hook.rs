//! A test hook that makes races and interruptions reproducible: with
//! `FSTACK_TEST_PAUSE=<point>`, a debug build stops at that point, prints
//! `fstack: test hook: paused at <point>` on stderr and waits until a line arrives on
//! its stdin (or stdin closes). A test can then act (create a file, send Ctrl-C) at a
//! known moment instead of sleeping and hoping. Release builds have no hook.
//!
//! Points: `<phase>` when a progress phase starts, as the library names it
//! (`stack: stack`, `bunch: bunch 2/3`), and `place` just before `stack` moves the
//! finished output into place.

/// Stops at `point` when the hook asks for it (see the module docs).
pub fn pause(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("FSTACK_TEST_PAUSE").is_ok_and(|p| p == point) {
        eprintln!("fstack: test hook: paused at {point}");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}
