//! `run_batch`'s scheduler: a failing (or panicking) stack stops no other, the
//! running stacks' memory estimates stay within the budget (a stack bigger than the
//! budget runs alone), and the results do not depend on the number of workers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use fs_core::{NoProgress, WriteOptions};
use fs_job::batch::{
    BatchOptions, BatchStack, StackDone, StackOutcome, StackStatus, discover, estimate_memory,
    run_batch,
};
use fs_job::{StackSpec, stack_files};

use crate::common::{gray8, rgb8, write_stack};

/// Stacks `ids` under `root`, each of three 24x16 frames (gray, or RGB for the ids
/// in `rgb`, which makes their estimate three times bigger).
fn stacks(root: &Path, ids: &[&str], rgb: &[&str]) -> Vec<BatchStack> {
    for id in ids {
        let format = if rgb.contains(id) { rgb8() } else { gray8() };
        write_stack(&root.join(id), 3, "png", format, None);
    }
    discover(root, &root.join("out"), &Default::default()).unwrap()
}

/// A stand-in stacking: copies the first frame to the output.
fn copy_first(stack: &BatchStack) -> Result<StackDone, String> {
    std::fs::copy(&stack.frames[0], &stack.output).map_err(|e| e.to_string())?;
    Ok(StackDone::default())
}

#[test]
fn a_failing_or_panicking_stack_stops_no_other() {
    let tmp = tempfile::tempdir().unwrap();
    let list = stacks(tmp.path(), &["a", "b", "c", "d", "e"], &[]);
    let log = tmp.path().join("out/log.jsonl");
    let options = BatchOptions { jobs: Some(2), log: Some(log.clone()), ..BatchOptions::default() };
    let summary = run_batch(
        &list,
        &options,
        |stack, _| match stack.id.as_str() {
            "b" => {
                // A partial output left behind is removed by the runner.
                std::fs::write(&stack.output, b"half").unwrap();
                Err("b broke".to_string())
            }
            "d" => panic!("d panicked"),
            _ => copy_first(stack),
        },
        &NoProgress,
    )
    .unwrap();
    let status: Vec<(&str, StackStatus)> =
        summary.results.iter().map(|r| (r.id.as_str(), r.status)).collect();
    use StackStatus::{Done, Failed};
    assert_eq!(status, [("a", Done), ("b", Failed), ("c", Done), ("d", Failed), ("e", Done)]);
    assert_eq!(summary.failed().collect::<Vec<_>>(), ["b", "d"]);
    assert_eq!(summary.results[1].error.as_deref(), Some("b broke"));
    assert!(summary.results[3].error.as_deref().unwrap().contains("d panicked"));
    for r in &summary.results {
        assert_eq!(r.output.is_file(), r.status == Done, "{}", r.id);
    }
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 5);
}

/// Runs `list` with a stacking that sleeps and records, per moment, which stacks
/// run; returns the largest sum of estimates seen at once, the most stacks seen at
/// once, and whether any stack in `alone` ever ran beside another.
fn watch(list: &[BatchStack], options: &BatchOptions, alone: &[&str]) -> (u64, usize, bool) {
    let running: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let seen = Mutex::new((0u64, 0usize, false));
    let look = |running: &BTreeMap<String, u64>| {
        let mut s = seen.lock().unwrap();
        s.0 = s.0.max(running.values().sum());
        s.1 = s.1.max(running.len());
        s.2 |= running.len() > 1 && running.keys().any(|id| alone.contains(&id.as_str()));
    };
    let summary = run_batch(
        list,
        options,
        |stack, _| {
            let estimate = estimate_memory(&stack.frames[0]).unwrap();
            look(&{
                let mut r = running.lock().unwrap();
                r.insert(stack.id.clone(), estimate);
                r.clone()
            });
            std::thread::sleep(Duration::from_millis(60));
            look(&running.lock().unwrap());
            let done = copy_first(stack);
            running.lock().unwrap().remove(&stack.id);
            done
        },
        &NoProgress,
    )
    .unwrap();
    assert_eq!(summary.failed().count(), 0);
    seen.into_inner().unwrap()
}

#[test]
fn running_estimates_stay_within_the_memory_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = ["s1", "s2", "s3", "s4", "s5", "s6", "s7"];
    let list = stacks(tmp.path(), &ids, &[]);
    let one = estimate_memory(&list[0].frames[0]).unwrap();
    assert_eq!(one, 24 * 16 * 4 * fs_job::batch::MEMORY_FACTOR);
    let options = BatchOptions { memory_limit: 3 * one, jobs: Some(6), ..BatchOptions::default() };
    let (bytes, at_once, _) = watch(&list, &options, &[]);
    assert!(bytes <= 3 * one, "{bytes} > limit {}", 3 * one);
    assert!(at_once >= 2, "stacks ran side by side ({at_once})");
}

#[test]
fn a_stack_bigger_than_the_limit_runs_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let list = stacks(tmp.path(), &["a", "big", "c", "d", "e"], &["big"]);
    let one = estimate_memory(&list[0].frames[0]).unwrap();
    let big = estimate_memory(&list[1].frames[0]).unwrap();
    assert_eq!(big, 3 * one);
    let options = BatchOptions { memory_limit: 2 * one, jobs: Some(4), ..BatchOptions::default() };
    let (bytes, at_once, shared) = watch(&list, &options, &["big"]);
    assert!(!shared, "the big stack ran beside another");
    assert_eq!(bytes, big, "only the big stack alone exceeds the limit");
    assert_eq!(at_once, 2, "two small stacks fit at once");
}

/// What a result says, without its times.
fn outcome(r: &StackOutcome) -> (String, StackStatus, usize, PathBuf, Option<String>) {
    (r.id.clone(), r.status, r.frames, r.output.clone(), r.error.clone())
}

#[test]
fn results_do_not_depend_on_the_number_of_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = ["p", "q", "r", "s", "t"];
    let list = stacks(tmp.path(), &ids, &["r"]);
    let cut = &list[3].frames[1];
    let bytes = std::fs::read(cut).unwrap();
    std::fs::write(cut, &bytes[..bytes.len() / 2]).unwrap();
    let mut runs = Vec::new();
    for jobs in [1, 2, 5] {
        let options = BatchOptions { jobs: Some(jobs), force: true, ..BatchOptions::default() };
        let summary = run_batch(
            &list,
            &options,
            |stack, progress| -> fs_job::Result<StackDone> {
                let result = stack_files(&stack.frames, &StackSpec::default(), progress)?;
                result
                    .write(&stack.output, &WriteOptions::default())
                    .map_err(fs_job::JobError::Batch)?;
                Ok(StackDone { notes: result.notes })
            },
            &NoProgress,
        )
        .unwrap();
        let outputs: Vec<Option<Vec<u8>>> =
            list.iter().map(|s| std::fs::read(&s.output).ok()).collect();
        runs.push((summary.results.iter().map(outcome).collect::<Vec<_>>(), outputs));
    }
    assert_eq!(runs[0].0[3].1, StackStatus::Failed);
    assert!(runs[0].1[3].is_none());
    assert_eq!(runs[0].1.iter().filter(|o| o.is_some()).count(), 4);
    assert!(runs[1] == runs[0], "--jobs 2 differs from --jobs 1");
    assert!(runs[2] == runs[0], "--jobs 5 differs from --jobs 1");
}
