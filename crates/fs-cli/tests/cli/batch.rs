//! `fstack batch`: many stacks in one run, each output equal to `fstack stack` on
//! its frames, failures that stop nothing, resume, shards, capture-time splits and
//! manifests. Small generated stacks (64x48, 3 frames) keep it fast.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use exif::experimental::Writer;
use exif::{Field, In, Tag, Value};
use fs_core::synth::{SynthOptions, SynthStack, frame_file_name};
use fs_core::{FileFormat, WriteOptions, write_frame};

use super::reliability::{Paused, fstack_leftovers};
use super::{assert_code, run, stderr};

const FRAMES: usize = 3;

/// Writes a 64x48 generated stack of 3 PNG frames (scene `seed`) into `dir`; returns
/// the frame files in order.
fn write_stack(dir: &Path, seed: u64) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let options =
        SynthOptions { width: 64, height: 48, frames: FRAMES, seed, ..SynthOptions::default() };
    let stack = SynthStack::new(options).unwrap();
    (0..FRAMES)
        .map(|k| {
            let path = dir.join(frame_file_name(k, FRAMES, FileFormat::Png));
            write_frame(&path, &stack.frame(k), &WriteOptions::default()).unwrap();
            path
        })
        .collect()
}

/// The frames of `dir`, in natural order.
fn frames_of(dir: &Path) -> Vec<PathBuf> {
    fs_core::list_frames(dir).unwrap()
}

/// The log's lines as JSON objects.
fn log_lines(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("fstack-batch.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Status by id of log lines.
fn statuses(lines: &[serde_json::Value]) -> BTreeMap<String, String> {
    lines
        .iter()
        .map(|l| (l["id"].as_str().unwrap().to_string(), l["status"].as_str().unwrap().to_string()))
        .collect()
}

/// What `fstack stack FRAMES -o <tmp>` writes, as bytes.
fn stack_bytes(frames: &[PathBuf], tmp: &Path, extra: &[&str]) -> Vec<u8> {
    let reference = tmp.join("reference.png");
    let _ = std::fs::remove_file(&reference);
    let mut args: Vec<&str> = vec!["stack"];
    args.extend(frames.iter().map(|f| f.to_str().unwrap()));
    args.extend(["-o", reference.to_str().unwrap(), "--quiet"]);
    args.extend(extra);
    assert_code(&run(&args), 0);
    std::fs::read(&reference).unwrap()
}

/// Three good stacks (`a`, `b/c`, `d`) and one with a truncated frame (`e`) under
/// `<tmp>/root`.
fn root_with_a_broken_stack(tmp: &Path) -> PathBuf {
    let root = tmp.join("root");
    for (k, id) in ["a", "b/c", "d", "e"].into_iter().enumerate() {
        write_stack(&root.join(id), k as u64 + 1);
    }
    let cut = root.join("e").join(frame_file_name(1, FRAMES, FileFormat::Png));
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    root
}

#[test]
fn batch_goes_past_a_broken_stack_matches_stack_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = root_with_a_broken_stack(tmp.path());
    let out = tmp.path().join("out");
    let args = ["batch", root.to_str().unwrap(), "-o", out.to_str().unwrap(), "--jobs", "2"];
    let o = run(&args);
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("failed e:"), "{err}");
    assert!(err.contains("frame_002.png"), "the broken file is named: {err}");
    assert!(err.contains("1 of 4 stacks failed: e"), "{err}");

    let outputs = [("a", "a.png"), ("b/c", "b__c.png"), ("d", "d.png")];
    for (id, name) in outputs {
        let batch = std::fs::read(out.join(name)).unwrap();
        assert!(batch == stack_bytes(&frames_of(&root.join(id)), tmp.path(), &[]), "{id}");
    }
    assert!(!out.join("e.png").exists(), "no output for the broken stack");
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no work folders left: {leftovers:?}");
    let lines = log_lines(&out);
    assert_eq!(lines.len(), 4);
    let want = [("a", "done"), ("b/c", "done"), ("d", "done"), ("e", "failed")];
    let want: BTreeMap<String, String> =
        want.iter().map(|(i, s)| (i.to_string(), s.to_string())).collect();
    assert_eq!(statuses(&lines), want);
    let failed = lines.iter().find(|l| l["id"] == "e").unwrap();
    assert!(failed["error"].as_str().unwrap().contains("frame_002.png"), "{failed}");
    assert_eq!(failed["frames"], 3);

    // A rerun skips the three done stacks and leaves their files alone.
    let mtimes = |out: &Path| -> Vec<_> {
        outputs.iter().map(|(_, n)| out.join(n).metadata().unwrap().modified().unwrap()).collect()
    };
    let before = mtimes(&out);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let o = run(&args);
    assert_code(&o, 1);
    assert_eq!(mtimes(&out), before);
    let lines = log_lines(&out);
    assert_eq!(lines.len(), 8);
    let want = [("a", "skipped"), ("b/c", "skipped"), ("d", "skipped"), ("e", "failed")];
    let want: BTreeMap<String, String> =
        want.iter().map(|(i, s)| (i.to_string(), s.to_string())).collect();
    assert_eq!(statuses(&lines[4..]), want);
}

#[test]
fn batch_passes_the_stack_flags_on() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    write_stack(&root.join("s"), 7);
    let out = tmp.path().join("out");
    let flags = ["--stacker", "pyramid", "--no-align", "--sharpen-amount-percent", "50"];
    let mut args = vec!["batch", root.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend(flags);
    assert_code(&run(&args), 0);
    let batch = std::fs::read(out.join("s.png")).unwrap();
    assert!(batch == stack_bytes(&frames_of(&root.join("s")), tmp.path(), &flags));
    // --memory-limit is the batch's budget, also with a stacker that has none.
    args.extend(["--memory-limit", "1G", "--force"]);
    assert_code(&run(&args), 0);
}

#[test]
fn two_shards_do_every_stack_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let ids = ["s1", "s2", "s3", "s4", "s5", "s6"];
    for (k, id) in ids.iter().enumerate() {
        write_stack(&root.join(id), k as u64);
    }
    let out = tmp.path().join("out");
    let mut per_shard = Vec::new();
    for shard in ["1/2", "2/2"] {
        let args = ["batch", root.to_str().unwrap(), "-o", out.to_str().unwrap()];
        assert_code(&run(&[&args[..], &["--shard", shard]].concat()), 0);
        per_shard.push(log_lines(&out).len());
    }
    let lines = log_lines(&out);
    let mut done: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert!(lines.iter().all(|l| l["status"] == "done"), "{lines:?}");
    done.sort();
    assert_eq!(done, ids, "every stack once, none twice");
    assert!(per_shard[0] > 0 && per_shard[0] < ids.len(), "both shards have work: {per_shard:?}");
    for id in ids {
        assert!(out.join(format!("{id}.png")).is_file());
    }
    let o = run(&["batch", root.to_str().unwrap(), "-o", "x", "--shard", "3/2"]);
    assert_code(&o, 2);
}

/// A raw EXIF block whose DateTimeOriginal is 2026-01-01 12:`minute`:`second`.
fn exif_at(minute: u32, second: u32) -> Vec<u8> {
    let date = format!("2026:01:01 12:{minute:02}:{second:02}");
    let field = Field {
        tag: Tag::DateTimeOriginal,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![date.into_bytes()]),
    };
    let mut writer = Writer::new();
    writer.push_field(&field);
    let mut block = std::io::Cursor::new(Vec::new());
    writer.write(&mut block, true).unwrap();
    block.into_inner()
}

#[test]
fn split_gap_cuts_one_folder_into_bursts() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let burst = root.join("burst");
    std::fs::create_dir_all(&burst).unwrap();
    // Two bursts of three frames one second apart, five minutes between them.
    let mut written = Vec::new();
    for (part, minute) in [(0u64, 0u32), (1, 5)] {
        let options = SynthOptions {
            width: 64,
            height: 48,
            frames: FRAMES,
            seed: part,
            ..SynthOptions::default()
        };
        let stack = SynthStack::new(options).unwrap();
        for k in 0..FRAMES {
            let mut frame = stack.frame(k);
            frame.metadata.exif = Some(exif_at(minute, k as u32));
            let path = burst.join(format!("img{}.png", part as usize * FRAMES + k + 1));
            write_frame(&path, &frame, &WriteOptions::default()).unwrap();
            written.push(path);
        }
    }
    let out = tmp.path().join("out");
    let args = ["batch", root.to_str().unwrap(), "-o", out.to_str().unwrap(), "--split-gap", "60"];
    assert_code(&run(&args), 0);
    let lines = log_lines(&out);
    // Log lines come in the order the stacks end.
    let mut parts: Vec<(&str, u64)> =
        lines.iter().map(|l| (l["id"].as_str().unwrap(), l["frames"].as_u64().unwrap())).collect();
    parts.sort();
    assert_eq!(parts, [("burst-001", 3), ("burst-002", 3)]);
    for (k, name) in ["burst-001.png", "burst-002.png"].into_iter().enumerate() {
        let batch = std::fs::read(out.join(name)).unwrap();
        let frames = &written[k * FRAMES..(k + 1) * FRAMES];
        assert!(batch == stack_bytes(frames, tmp.path(), &[]), "{name}");
    }
    // A gap wider than the pause keeps one part.
    let out2 = tmp.path().join("out2");
    let args =
        ["batch", root.to_str().unwrap(), "-o", out2.to_str().unwrap(), "--split-gap", "600"];
    assert_code(&run(&args), 0);
    let lines = log_lines(&out2);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0]["id"].as_str(), lines[0]["frames"].as_u64()),
        (Some("burst-001"), Some(6))
    );
}

#[test]
fn manifests_in_csv_and_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let shots = tmp.path().join("shots");
    let one = write_stack(&shots.join("one"), 1);
    let two = write_stack(&shots.join("two"), 2);
    let csv = tmp.path().join("stacks.csv");
    let list = two.iter().map(|p| p.to_str().unwrap()).collect::<Vec<_>>().join(";");
    std::fs::write(
        &csv,
        format!("id,frames,output\nfirst,shots/one,\nsecond,\"{list}\",second.tif\n"),
    )
    .unwrap();
    let out = tmp.path().join("out-csv");
    let o = run(&["batch", "--manifest", csv.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_code(&o, 0);
    assert!(std::fs::read(out.join("first.png")).unwrap() == stack_bytes(&one, tmp.path(), &[]));
    assert!(out.join("second.tif").is_file());
    let mut ids: Vec<String> =
        log_lines(&out).iter().map(|l| l["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["first", "second"]);

    let jsonl = tmp.path().join("stacks.jsonl");
    std::fs::write(
        &jsonl,
        "{\"id\": \"first\", \"frames\": \"shots/one/*.png\"}\n\
         # a comment\n\
         {\"id\": \"second\", \"frames\": [\"shots/two/frame_001.png\", \"shots/two/frame_002.png\", \"shots/two/frame_003.png\"]}\n",
    )
    .unwrap();
    let out = tmp.path().join("out-json");
    let o = run(&["batch", "--manifest", jsonl.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_code(&o, 0);
    assert!(std::fs::read(out.join("first.png")).unwrap() == stack_bytes(&one, tmp.path(), &[]));
    assert!(std::fs::read(out.join("second.png")).unwrap() == stack_bytes(&two, tmp.path(), &[]));

    // Per-stack options are refused, clearly, rather than ignored.
    std::fs::write(
        &jsonl,
        "{\"id\": \"first\", \"frames\": \"shots/one\", \"stacker\": \"pyramid\"}\n",
    )
    .unwrap();
    let o = run(&["batch", "--manifest", jsonl.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("per-stack options (stacker)"), "{}", stderr(&o));
}

#[test]
fn ctrl_c_keeps_the_stacks_done_and_starts_no_other() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    for (k, id) in ["a", "b", "c"].into_iter().enumerate() {
        write_stack(&root.join(id), k as u64);
    }
    let out = tmp.path().join("out");
    let args = ["batch", root.to_str().unwrap(), "-o", out.to_str().unwrap(), "--jobs", "1"];
    // Stopped as the first stack's output is about to be moved into place.
    let paused = Paused::start(tmp.path(), &args, "place");
    paused.interrupt();
    let (status, err) = paused.resume();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("the 1 output finished before were kept"), "{err}");
    assert!(out.join("a.png").is_file());
    assert!(!out.join("b.png").exists() && !out.join("c.png").exists());
    assert!(fstack_leftovers(&out).is_empty(), "{:?}", fstack_leftovers(&out));
    let want: BTreeMap<String, String> = [("a", "done"), ("b", "cancelled"), ("c", "cancelled")]
        .iter()
        .map(|(i, s)| (i.to_string(), s.to_string()))
        .collect();
    assert_eq!(statuses(&log_lines(&out)), want);
}
