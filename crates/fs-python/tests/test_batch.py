"""Many stacks from Python: fstack.discover and fstack.dask.batch against `fstack batch`.

Three small stacks (the z-stacks of test_fstack.py, different seeds and layouts) in
nested folders, one of them with a damaged frame. `fstack batch` of the same root
(env ``FSTACK_BIN``) is the reference: the same stacks found, the same outputs, the
same failure.
"""

from __future__ import annotations

import os
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

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        records = fstack.dask.batch(root, tmp_path / "dask", client=client)
    assert [(r["id"], r["status"]) for r in records] == [
        ("bugs/ant", "done"), ("bugs/bee", "failed"), ("coin", "done")]
    assert str(broken) in records[1]["error"]
    for r in records:
        name = Path(r["output"]).name
        if r["status"] == "failed":
            assert not (tmp_path / "dask" / name).exists()
            continue
        mine, theirs = fstack.imread(r["output"]), fstack.imread(tmp_path / "cli" / name)
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), name

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
