"""Many stacks from Python: fstack.discover and fstack.dask.batch against `fstack batch`.

Three small stacks (the z-stacks of test_fstack.py, different seeds and layouts) in
nested folders, one of them with a damaged frame. `fstack batch` of the same root
(env ``FSTACK_BIN``) is the reference: the same stacks found, the same outputs, the
same failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import fstack
import fstack.dask
from test_fstack import fstack_bin, write_frames, zstack


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "shoot"
    root.mkdir()
    (root / "bugs").mkdir()
    write_frames(zstack(1, 8, seed=1), root / "bugs" / "ant")
    write_frames(zstack(3, 8, seed=2), root / "bugs" / "bee")
    write_frames(zstack(3, 16, seed=3), root / "coin")
    return root


def cli_batch(root: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([fstack_bin(), "batch", str(root), "-o", str(out)],
                          capture_output=True, text=True)


def test_discover_finds_the_stacks_fstack_batch_stacks(tmp_path):
    root = make_root(tmp_path)
    stacks = fstack.discover(root, tmp_path / "out")
    assert [s.id for s in stacks] == ["bugs/ant", "bugs/bee", "coin"]
    assert [Path(s.output).name for s in stacks] == ["bugs__ant.png", "bugs__bee.png", "coin.png"]
    assert stacks[2].frames == [str(root / "coin" / f"frame_{k:02}.png") for k in range(5)]
    run = cli_batch(root, tmp_path / "cli")
    assert run.returncode == 0, run.stderr
    assert sorted(os.listdir(tmp_path / "cli")) == sorted(
        [Path(s.output).name for s in stacks] + ["fstack-batch.jsonl"])


def test_discover_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        fstack.discover(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ValueError, match="split_gap"):
        fstack.discover(tmp_path, tmp_path / "out", split_gap=0)


def test_dask_batch_on_a_local_cluster_equals_fstack_batch(tmp_path):
    distributed = pytest.importorskip("distributed")
    root = make_root(tmp_path)
    # A damaged frame: that stack fails, the others are done.
    broken = root / "bugs" / "bee" / "frame_03.png"
    broken.write_bytes(broken.read_bytes()[:300])
    cli = cli_batch(root, tmp_path / "cli")
    assert cli.returncode == 1 and "bugs/bee" in cli.stderr

    # Two worker processes, as on a real cluster.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        records = fstack.dask.batch(root, tmp_path / "dask", client=client)
    assert [(r["id"], r["status"]) for r in records] == [
        ("bugs/ant", "done"), ("bugs/bee", "failed"), ("coin", "done")]
    assert str(broken) in records[1]["error"]
    assert records[1]["error"] in cli.stderr
    for r in records:
        name = Path(r["output"]).name
        if r["status"] == "failed":
            assert not (tmp_path / "dask" / name).exists()
            continue
        # The bytes `fstack batch` writes.
        assert Path(r["output"]).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name

    # Resumes: the finished stacks are skipped, without a client (threads).
    again = fstack.dask.batch(root, tmp_path / "dask")
    assert [r["status"] for r in again] == ["skipped", "failed", "skipped"]
    # A frame newer than its output: that stack is redone (fstack batch's rule).
    frame = root / "coin" / "frame_01.png"
    later = os.stat(records[2]["output"]).st_mtime + 10
    os.utime(frame, (later, later))
    assert fstack._fstack.up_to_date([str(frame)], records[2]["output"]) is False
    touched = fstack.dask.batch(root, tmp_path / "dask")
    assert [r["status"] for r in touched] == ["skipped", "failed", "done"]
    redone = fstack.dask.batch(root, tmp_path / "dask", overwrite=True)
    assert [r["status"] for r in redone] == ["done", "failed", "done"]


RECORD_KEYS = {"id", "status", "frames", "output", "seconds", "started", "error", "notes"}


def test_dask_batch_records_are_the_records_and_log_lines_of_fstack_batch(tmp_path):
    root = make_root(tmp_path)
    broken = root / "bugs" / "bee" / "frame_03.png"
    broken.write_bytes(broken.read_bytes()[:300])
    ref = fstack.batch(root, tmp_path / "py")
    records = fstack.dask.batch(root, tmp_path / "dask")
    assert [set(r) for r in records] == [RECORD_KEYS] * 3
    assert [set(r) for r in ref] == [RECORD_KEYS] * 3
    frame_counts = [len(list((root / i).iterdir())) for i in ("bugs/ant", "bugs/bee", "coin")]
    for r, want, frames in zip(records, ref, frame_counts):
        same = ("id", "status", "frames", "error", "notes")
        assert {k: r[k] for k in same} == {k: want[k] for k in same}
        assert r["frames"] == frames
        assert Path(r["output"]) == tmp_path / "dask" / Path(want["output"]).name
        assert isinstance(r["seconds"], float) and r["seconds"] > 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["started"])
    assert [r["status"] for r in records] == ["done", "failed", "done"]
    assert str(broken) in records[1]["error"] and records[1]["notes"] == []
    assert records[0]["error"] is None
    # Each task appended its record to the log, as fstack batch appends its lines.
    log = [json.loads(line)
           for line in (tmp_path / "dask" / "fstack-batch.jsonl").read_text().splitlines()]
    assert sorted(log, key=lambda r: r["id"]) == records

    # A rerun: the skipped records too are fstack.batch's.
    again, ref_again = fstack.dask.batch(root, tmp_path / "dask"), fstack.batch(root, tmp_path / "py")
    for r, want in zip(again, ref_again):
        assert set(r) == RECORD_KEYS
        assert (r["id"], r["status"], r["error"], r["notes"]) == \
            (want["id"], want["status"], want["error"], want["notes"])
        if r["status"] == "skipped":
            assert r["seconds"] == want["seconds"] == 0.0
    assert [r["status"] for r in again] == ["skipped", "failed", "skipped"]
    assert len((tmp_path / "dask" / "fstack-batch.jsonl").read_text().splitlines()) == 6


def write_jpegs(z: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True)
    for k in range(z.shape[0]):
        fstack.imwrite(folder / f"frame_{k:02}.jpg", z[k])


def mixed_root(tmp_path: Path) -> Path:
    """PNG stacks (8 and 16 bits), a JPEG stack, a TIFF stack and a broken PNG one."""
    root = make_root(tmp_path)
    write_jpegs(zstack(3, 8, seed=4), root / "jpeg")
    (root / "tiff").mkdir()
    for k, frame in enumerate(zstack(1, 16, seed=5)):
        fstack.imwrite(root / "tiff" / f"frame_{k:02}.tif", frame)
    broken = root / "bugs" / "bee" / "frame_03.png"
    broken.write_bytes(broken.read_bytes()[:300])
    return root


def log_statuses(out: Path, run: int) -> list:
    """(id, status) of the log lines of run `run` (0, 1, ...: 5 lines each), sorted:
    lines are appended as stacks end, in whatever order they end."""
    lines = (out / "fstack-batch.jsonl").read_text().splitlines()[5 * run:5 * run + 5]
    return sorted((r["id"], r["status"]) for r in map(json.loads, lines))


IDS = ["bugs/ant", "bugs/bee", "coin", "jpeg", "tiff"]


def test_batch_gives_the_bytes_and_the_log_of_fstack_batch(tmp_path):
    root = mixed_root(tmp_path)
    cli = cli_batch(root, tmp_path / "cli")
    assert cli.returncode == 1 and "bugs/bee" in cli.stderr

    seen = []
    records = fstack.batch(root, tmp_path / "py", progress=lambda *a: seen.append(a))
    assert [r["id"] for r in records] == IDS
    assert [r["status"] for r in records] == ["done", "failed", "done", "done", "done"]
    assert "frame_03.png" in records[1]["error"]
    assert records[1]["error"] in cli.stderr
    assert seen and seen[-1] == ("batch", 5, 5)
    # Byte for byte the CLI's files, PNG (8 and 16 bits), JPEG and TIFF.
    names = sorted(os.listdir(tmp_path / "cli"))
    assert sorted(os.listdir(tmp_path / "py")) == names
    assert {Path(n).suffix for n in names} == {".png", ".jpg", ".tif", ".jsonl"}
    for name in names:
        if name.endswith(".jsonl"):
            continue
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert not (tmp_path / "py" / "bugs__bee.png").exists()
    # The same log lines (the stacks' statuses; times and order differ).
    assert log_statuses(tmp_path / "py", 0) == log_statuses(tmp_path / "cli", 0)
    logged = {r["id"]: r for r in map(json.loads, (tmp_path / "py" / "fstack-batch.jsonl")
                                      .read_text().splitlines())}
    assert [logged[r["id"]] for r in records] == records

    # A rerun resumes: the done stacks are skipped, the broken one tried again.
    again = fstack.batch(root, tmp_path / "py")
    assert [r["status"] for r in again] == ["skipped", "failed", "skipped", "skipped", "skipped"]
    assert log_statuses(tmp_path / "py", 1) == sorted((r["id"], r["status"]) for r in again)
    cli_again = cli_batch(root, tmp_path / "cli")
    assert log_statuses(tmp_path / "cli", 1) == log_statuses(tmp_path / "py", 1)
    assert cli_again.returncode == 1
    # overwrite=True redoes them, to the same bytes.
    redone = fstack.batch(root, tmp_path / "py", overwrite=True, jobs=1)
    assert [r["status"] for r in redone] == ["done", "failed", "done", "done", "done"]
    for name in names:
        if not name.endswith(".jsonl"):
            assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    # No work folder or temporary file is left behind.
    assert not [n for n in os.listdir(tmp_path / "py") if n.startswith(".")]


def test_batch_options_give_the_bytes_of_the_matching_flags(tmp_path):
    root = tmp_path / "shoot"
    root.mkdir()
    write_jpegs(zstack(3, 8, seed=6), root / "a")
    write_frames(zstack(3, 8, seed=7), root / "b")
    flags = ["--stacker", "pyramid", "--no-align", "--jpeg-quality", "80", "--no-exif"]
    run = subprocess.run([fstack_bin(), "batch", str(root), "-o", str(tmp_path / "cli"),
                          *flags], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    records = fstack.batch(root, tmp_path / "py", stacker="pyramid", align=False,
                           jpeg_quality=80, exif=False)
    assert [r["status"] for r in records] == ["done", "done"]
    for name in ["a.jpg", "b.png"]:
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()


def test_batch_shards_cover_every_stack_once(tmp_path):
    root = mixed_root(tmp_path)
    first = fstack.batch(root, tmp_path / "out", shard=(1, 2))
    second = fstack.batch(root, tmp_path / "out", shard="2/2")
    ids = [r["id"] for r in first] + [r["id"] for r in second]
    assert sorted(ids) == IDS and len(set(ids)) == len(IDS)
    assert first and second
    # Together they did what one unsharded batch does: a rerun only retries the failure.
    rest = fstack.batch(root, tmp_path / "out")
    assert [r["status"] for r in rest] == ["skipped", "failed", "skipped", "skipped", "skipped"]


def test_batch_from_a_manifest(tmp_path):
    root = make_root(tmp_path)
    manifest = tmp_path / "stacks.csv"
    frames = sorted(str(p) for p in (root / "coin").iterdir())
    manifest.write_text("id,frames,output\ncoin," + ";".join(frames) + ",coin.png\n")
    run = subprocess.run([fstack_bin(), "batch", "--manifest", str(manifest), "-o",
                          str(tmp_path / "cli")], capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"manifest spelling differs: {run.stderr}")
    records = fstack.batch(manifest, tmp_path / "py")
    assert [(r["id"], r["status"]) for r in records] == [("coin", "done")]
    name = Path(records[0]["output"]).name
    assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()


def test_batch_bad_arguments_raise_with_the_cli_messages(tmp_path):
    root = make_root(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        fstack.batch(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ValueError, match="split_gap"):
        fstack.batch(root, tmp_path / "out", split_gap=0)
    with pytest.raises(ValueError, match="K must be 1 to N"):
        fstack.batch(root, tmp_path / "out", shard=(3, 2))
    with pytest.raises(ValueError, match="K/N"):
        fstack.batch(root, tmp_path / "out", shard="half")
    with pytest.raises(ValueError, match="memory_limit"):
        fstack.batch(root, tmp_path / "out", memory_limit="lots")
    with pytest.raises(ValueError, match="unknown stacker"):
        fstack.batch(root, tmp_path / "out", stacker="nope")
    with pytest.raises(ValueError, match="pyramid_min_size"):
        fstack.batch(root, tmp_path / "out", stacker="pyramid", pyramid_min_size=-1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="is a file"):
        fstack.batch(root, tmp_path / "file")
    # Nothing ran: no log was started.
    assert not (tmp_path / "out" / "fstack-batch.jsonl").exists()


def test_ctrl_c_cancels_the_batch_and_keeps_its_log(tmp_path):
    import signal
    import threading
    import time
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    root = tmp_path / "shoot"
    root.mkdir()
    for k in range(4):
        write_frames(zstack(3, 8, frames=10, height=600, width=800, seed=k), root / f"s{k}")
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            fstack.batch(root, tmp_path / "out", jobs=1)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 10.0
    lines = [json.loads(line) for line in
             (tmp_path / "out" / "fstack-batch.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == ["s0", "s1", "s2", "s3"]
    assert "cancelled" in {r["status"] for r in lines}
    # A cancelled stack leaves no output, and no work folder stays.
    left = set(os.listdir(tmp_path / "out"))
    for r in lines:
        assert (Path(r["output"]).name in left) == (r["status"] == "done"), r
    assert not [n for n in left if n.startswith(".")]


def test_dask_batch_writes_the_bytes_of_fstack_batch_for_every_format(tmp_path):
    root = mixed_root(tmp_path)
    cli = subprocess.run([fstack_bin(), "batch", str(root), "-o", str(tmp_path / "cli"),
                          "--jpeg-quality", "80"], capture_output=True, text=True)
    assert cli.returncode == 1, cli.stderr
    records = fstack.dask.batch(root, tmp_path / "dask", jpeg_quality=80)
    done = [r for r in records if r["status"] == "done"]
    assert {Path(r["output"]).suffix for r in done} >= {".png", ".jpg", ".tif"}
    assert [r["status"] for r in records].count("failed") == 1
    for r in done:
        name = Path(r["output"]).name
        assert Path(r["output"]).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    with pytest.raises(ValueError, match="jpeg_quality"):
        fstack.dask.batch(root, tmp_path / "bad", jpeg_quality=0, overwrite=True)
