"""fstack.dask: many stacks over a dask cluster, one task per stack.

:func:`batch` finds the stacks as ``fstack batch`` does (:func:`fstack.discover`) and
stacks each as one dask task exactly as ``fstack batch`` stacks it (the same code: the
outputs have the same bytes), on the client given (a
``distributed.LocalCluster``'s, a ``dask_jobqueue.SLURMCluster``'s, ...) or, without
one, on dask's local threaded scheduler. Every task stacks one stack with all the
cores of its worker (fstack is parallel inside a stack): give each worker one thread
and as many cores as a stack can use, e.g. ``LocalCluster(n_workers=2,
threads_per_worker=1)`` on a 2-socket machine, or one SLURM job per worker.

A stack whose output is newer than all of its frames is skipped unless
``overwrite=True``, as ``fstack batch`` skips it, so an interrupted batch resumes.
A failing stack is reported in its record; the others go on. Each task appends its
stack's line to ``out_dir/fstack-batch.jsonl`` as ``fstack batch`` does (the workers
need the output folder on a shared file system, as they write the outputs there).

Examples
--------
>>> from distributed import Client, LocalCluster                    # doctest: +SKIP
>>> import fstack.dask
>>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, \\
...         Client(cluster) as client:                               # doctest: +SKIP
...     records = fstack.dask.batch("shoot", "stacked", client=client)
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Union

import fstack
from fstack import _fstack

__all__ = ["batch"]


def _stack_one(stack: fstack.BatchStack, stacker: str, options: str, overwrite: bool,
               jpeg_quality: int, exif: bool, log: str) -> Dict[str, Any]:
    """One stack as one task, run as ``fstack batch`` runs each (skipped when up to
    date, its line appended to the log): its record, the log line (never raises for a
    stack's own failure; bad options raise ValueError)."""
    line = _fstack.batch_stack(stack.id, stack.frames, stack.output, stacker, options,
                               overwrite, jpeg_quality, exif, log)
    return json.loads(line)


def batch(root: Union[str, os.PathLike], out_dir: Union[str, os.PathLike],
          client: Optional[Any] = None, *, split_gap: Optional[float] = None,
          stacker: str = "default", align: bool = True, balance: Optional[bool] = None,
          overwrite: bool = False, jpeg_quality: int = 95, exif: bool = True,
          **options: Any) -> List[Dict[str, Any]]:
    """Stack every stack under ``root`` into ``out_dir``, one dask task per stack.

    Parameters
    ----------
    root, out_dir, split_gap
        As for :func:`fstack.discover` (``fstack batch ROOT -o OUT_DIR``).
    client : distributed.Client, optional
        Where the tasks run; without one, dask's local threaded scheduler.
    stacker, align, balance, jpeg_quality, exif, **options
        As for :func:`fstack.batch`, the same for every stack.
    overwrite : bool
        Redo stacks whose output is up to date (``fstack batch --force``).

    Returns
    -------
    list of dict
        One record per stack, in discovery order, the same as :func:`fstack.batch`'s
        (and the line each task appends to ``out_dir/fstack-batch.jsonl``, the log of
        ``fstack batch``): ``id``, ``status`` ("done", "skipped" or "failed"),
        ``output``, ``error`` (the message, as ``fstack batch`` logs it; None unless
        it failed), ``frames`` (how many), ``seconds``, ``started`` and ``notes``.
        Outputs have the bytes ``fstack batch`` writes for the same flags.
    """
    name = fstack._stacker_name(stacker)
    text = fstack._options(name, align, balance, False, options)
    os.makedirs(out_dir, exist_ok=True)
    stacks = fstack.discover(root, out_dir, split_gap)
    log = os.path.join(os.fspath(out_dir), "fstack-batch.jsonl")
    args = (name, text, overwrite, jpeg_quality, exif, log)
    if client is not None:
        futures = [client.submit(_stack_one, s, *args, key=f"fstack-{i}-{s.id}", pure=False)
                   for i, s in enumerate(stacks)]
        return client.gather(futures)
    import dask

    tasks = [dask.delayed(_stack_one, pure=False)(s, *args) for s in stacks]
    return list(dask.compute(*tasks, scheduler="threads"))
