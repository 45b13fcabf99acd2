//! Cutting a batch further: one capture into bursts by time gaps, and one
//! machine's share of a batch.
//!
//! Shards are chosen by a hash of the stack's id (64-bit FNV-1a, fixed on every
//! machine and every Rust version), not by its place in the list: a machine that
//! sees one stack more or less than another (a folder still being copied) moves
//! only that stack between shards, and the others stay where they were, so the N
//! machines still do each stack they all see exactly once.

use std::path::{Path, PathBuf};

use super::BatchStack;
use crate::{JobError, Result};

/// Checks a split gap: seconds, a finite number above 0 (the reason otherwise).
pub fn check_split_gap(gap_seconds: f64) -> std::result::Result<f64, String> {
    if gap_seconds > 0.0 && gap_seconds.is_finite() {
        Ok(gap_seconds)
    } else {
        Err(format!("`{gap_seconds}` is not a number of seconds above 0"))
    }
}

/// Every stack of `stacks` cut by [`split_by_gap`], in order.
pub fn split_all_by_gap(stacks: &[BatchStack], gap_seconds: f64) -> Result<Vec<BatchStack>> {
    let mut parts = Vec::new();
    for stack in stacks {
        parts.extend(split_by_gap(stack, gap_seconds)?);
    }
    Ok(parts)
}

/// `stack` cut where the capture time of consecutive frames (in the stack's order)
/// differs by more than `gap_seconds`: the parts are named `<id>-001`, `<id>-002`,
/// ... (also when there is only one), their outputs `<stem>-001.<ext>` beside the
/// stack's output. Capture times: [`fs_core::read_capture_time`]; a frame without
/// one is an error naming it.
pub fn split_by_gap(stack: &BatchStack, gap_seconds: f64) -> Result<Vec<BatchStack>> {
    let mut times = Vec::with_capacity(stack.frames.len());
    for frame in &stack.frames {
        match fs_core::read_capture_time(frame).map_err(JobError::Batch)? {
            Some(t) => times.push(t.seconds),
            None => return Err(JobError::NoCaptureTime { path: frame.clone() }),
        }
    }
    let mut parts: Vec<Vec<PathBuf>> = Vec::new();
    for (k, frame) in stack.frames.iter().enumerate() {
        let jump = k > 0 && (times[k] - times[k - 1]).abs() > gap_seconds;
        match parts.last_mut() {
            Some(part) if !jump => part.push(frame.clone()),
            _ => parts.push(vec![frame.clone()]),
        }
    }
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(k, frames)| {
            let suffix = format!("-{:03}", k + 1);
            BatchStack {
                id: format!("{}{suffix}", stack.id),
                frames,
                output: with_suffix(&stack.output, &suffix),
                options: stack.options.clone(),
            }
        })
        .collect())
}

/// `path` with `suffix` after its file stem: `out/a.jpg` -> `out/a-001.jpg`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}{suffix}"),
    };
    path.with_file_name(name)
}

/// Parses a shard `K/N` (1 <= K <= N): `2/8` is the second of eight.
pub fn parse_shard(spec: &str) -> Result<(usize, usize)> {
    let bad = |reason: &str| JobError::Shard { spec: spec.into(), reason: reason.into() };
    let (k, n) = spec.split_once('/').ok_or_else(|| bad("write it K/N, e.g. 1/4"))?;
    let number = |s: &str| s.trim().parse::<usize>().ok();
    let (Some(k), Some(n)) = (number(k), number(n)) else {
        return Err(bad("K and N must be whole numbers, e.g. 1/4"));
    };
    if n == 0 {
        return Err(bad("N, the number of shards, must be 1 or more"));
    }
    if k == 0 || k > n {
        return Err(bad(&format!("K must be 1 to {n} (shards count from 1)")));
    }
    Ok((k, n))
}

/// The stacks of shard `k` of `n` (1 <= k <= n), in their order: see the module
/// docs. The `n` shards of one list hold each of its stacks exactly once.
pub fn shard(stacks: Vec<BatchStack>, k: usize, n: usize) -> Result<Vec<BatchStack>> {
    if n == 0 || k == 0 || k > n {
        return Err(JobError::Shard {
            spec: format!("{k}/{n}"),
            reason: "K must be 1 to N, N at least 1".into(),
        });
    }
    Ok(stacks.into_iter().filter(|s| shard_of(&s.id, n) == k).collect())
}

/// The shard (1..=n) of the stack `id`.
fn shard_of(id: &str, n: usize) -> usize {
    (fnv1a(id.as_bytes()) % n as u64) as usize + 1
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(id: &str) -> BatchStack {
        BatchStack {
            id: id.into(),
            frames: vec![PathBuf::from(format!("{id}/1.jpg"))],
            output: PathBuf::from(format!("out/{id}.jpg")),
            options: Default::default(),
        }
    }

    #[test]
    fn shards_cover_every_stack_once_and_do_not_depend_on_the_machine() {
        let stacks: Vec<BatchStack> = (0..50).map(|i| stack(&format!("s{i}"))).collect();
        for n in 1..=4 {
            let mut seen: Vec<String> = Vec::new();
            for k in 1..=n {
                let part = shard(stacks.clone(), k, n).unwrap();
                assert_eq!(part, shard(stacks.clone(), k, n).unwrap(), "deterministic");
                seen.extend(part.into_iter().map(|s| s.id));
            }
            seen.sort();
            let mut all: Vec<String> = stacks.iter().map(|s| s.id.clone()).collect();
            all.sort();
            assert_eq!(seen, all, "{n} shards");
        }
        // Fixed values: the hash is FNV-1a, the same everywhere.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        // A stack more in the list moves no other stack.
        let mut more = stacks.clone();
        more.insert(7, stack("late"));
        for k in 1..=3 {
            let a: Vec<String> =
                shard(stacks.clone(), k, 3).unwrap().into_iter().map(|s| s.id).collect();
            let b: Vec<String> = shard(more.clone(), k, 3)
                .unwrap()
                .into_iter()
                .map(|s| s.id)
                .filter(|id| id != "late")
                .collect();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn shard_specs_parse_with_clear_errors() {
        assert_eq!(parse_shard("1/2").unwrap(), (1, 2));
        assert_eq!(parse_shard(" 3 / 3 ").unwrap(), (3, 3));
        for (spec, words) in [
            ("2", "K/N"),
            ("a/2", "whole numbers"),
            ("0/2", "1 to 2"),
            ("3/2", "1 to 2"),
            ("1/0", "1 or more"),
        ] {
            let e = parse_shard(spec).unwrap_err().to_string();
            assert!(e.contains(spec.trim()) && e.contains(words), "{spec}: {e}");
        }
        assert!(shard(vec![], 0, 2).is_err());
    }

    #[test]
    fn suffixes_go_after_the_stem() {
        assert_eq!(with_suffix(Path::new("out/a.b.jpg"), "-001"), PathBuf::from("out/a.b-001.jpg"));
        assert_eq!(with_suffix(Path::new("x"), "-002"), PathBuf::from("x-002"));
    }
}
