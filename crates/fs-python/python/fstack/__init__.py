"""fstack: focus stacking from Python.

Fuses a series of images taken at different focus distances (a z-stack) into one
image that is sharp everywhere, with fstack's stackers (FocusMapStack by default;
ShineStacker's PyramidStack and DepthMapStack under their seed names).

The work runs in Rust with the GIL released: other Python threads go on meanwhile.
Ctrl-C stops it between frames and raises ``KeyboardInterrupt``. Errors carry the
messages of the ``fstack`` command: ``ValueError`` for options and shapes,
``FileNotFoundError`` / ``OSError`` for files.

Examples
--------
>>> import numpy as np, fstack
>>> z = np.random.default_rng(0).integers(0, 255, (4, 64, 48), dtype=np.uint8)
>>> fstack.stack(z, align=False).shape
(64, 48)
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _fstack

__all__ = ["stack", "stack_files", "run_job", "discover", "batch", "BatchStack", "imread",
           "imwrite",
           "STACKERS", "__version__"]

__version__: str = _fstack.__version__

#: Stacker names ``stack`` takes (short forms and the seed's names).
STACKERS = {
    "default": "FocusMapStack",
    "focusmap": "FocusMapStack",
    "pyramid": "PyramidStack",
    "tiles": "PyramidTilesStack",
    "auto": "PyramidAutoStack",
    "depthmap": "DepthMapStack",
}

Progress = Callable[[str, int, int], Any]


def _stacker_name(stacker: str) -> str:
    if not isinstance(stacker, str):
        raise TypeError(f"stacker must be a name, got {type(stacker).__name__}")
    return STACKERS.get(stacker.lower(), stacker)


def _options(
    stacker: str,
    align: bool,
    balance: Optional[bool],
    return_depth: bool,
    options: dict,
) -> str:
    """The JSON text of the flat option table the native module takes."""
    o = dict(options)
    for key in ("align", "balance"):
        if key in o:
            raise TypeError(f"give {key} as the keyword argument {key}=True/False")
    o["align"] = bool(align)
    o["balance"] = bool(align if balance is None else balance)
    if return_depth:
        if stacker == "FocusMapStack":
            o["depth_map"] = True
        elif stacker == "DepthMapStack":
            o["plot_depth_map"] = True
        else:
            raise ValueError(f"return_depth: {stacker} makes no depth map "
                             "(FocusMapStack and DepthMapStack do)")
    for key, value in o.items():
        if value is None:
            raise ValueError(f"invalid option `{key}`: None is not a value")
        if isinstance(value, os.PathLike):
            o[key] = os.fspath(value)
        elif isinstance(value, np.generic):
            o[key] = value.item()
    return json.dumps(o)


def _array(raw, squeeze: bool) -> np.ndarray:
    data, width, height, channels, bits = raw
    dtype = np.uint8 if bits == 8 else np.uint16
    a = np.frombuffer(data, dtype=dtype).reshape(height, width, channels)
    return a[:, :, 0] if squeeze else a


def _frames(frames) -> Tuple[list, Tuple[int, ...], np.dtype]:
    """The frames as C-contiguous arrays of one shape and dtype."""
    if isinstance(frames, np.ndarray):
        if frames.ndim not in (3, 4):
            raise ValueError(f"a z-stack array is (Z, Y, X) or (Z, Y, X, C), got shape {frames.shape}")
        items = [frames[k] for k in range(frames.shape[0])]
    else:
        items = [np.asarray(f) for f in frames]
    if not items:
        raise ValueError("a stack needs at least one frame")
    shape, dtype = items[0].shape, items[0].dtype
    for k, f in enumerate(items):
        if f.shape != shape or f.dtype != dtype:
            raise ValueError(f"frame {k} is {f.shape} {f.dtype}, frame 0 is {shape} {dtype}: "
                             "the frames of a stack share one shape and dtype")
    if len(shape) not in (2, 3):
        raise ValueError(f"a frame is (Y, X) or (Y, X, C), got shape {shape}")
    if dtype not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"dtype {dtype}: uint8, uint16 or float32")
    return items, shape, dtype


def stack(
    frames: Union[np.ndarray, Sequence[np.ndarray]],
    stacker: str = "default",
    align: bool = True,
    return_depth: bool = False,
    *,
    balance: Optional[bool] = None,
    decision_channel: Optional[int] = None,
    progress: Optional[Progress] = None,
    **options: Any,
):
    """Stack frames held in memory into one image.

    Parameters
    ----------
    frames : ndarray or sequence of ndarray
        One array shaped (Z, Y, X) or (Z, Y, X, C), or a sequence of Z arrays shaped
        (Y, X) or (Y, X, C); dtype uint8, uint16 or float32. C is 1 (gray), 3 (RGB)
        or 4 (RGBA, alpha premultiplied for the blend); any other C (multi-channel
        microscopy) needs ``decision_channel`` and ``align=False``.
    stacker : str
        ``"default"`` (FocusMapStack), ``"pyramid"``, ``"tiles"``, ``"auto"``,
        ``"depthmap"``, or a seed name such as ``"PyramidStack"``.
    align : bool
        Align (and, unless ``balance`` says otherwise, balance) the frames to the
        middle one, then crop to the area every frame covers, as ``fstack stack``.
    return_depth : bool
        Also return the depth map: per pixel, the (sub-frame) index of the frame in
        focus, as float32.
    balance : bool, optional
        Balance brightness and colour; default: as ``align``.
    decision_channel : int, optional
        Make the focus decision on this channel alone (0-based) and apply it to every
        channel (FocusMapStack): for multi-channel microscopy where one channel
        carries the structure. Default: the frames' luma.
    progress : callable, optional
        Called as ``progress(phase, done, total)`` on this thread, at most every 50 ms.
    **options
        Every option of the stacker and of the action by its seed name, as in a job
        file: ``pyramid_min_size=32``, ``energy="laplacian"``, ``denoise_amount=5``,
        ``sharpen_amount_percent=50``, ``crop=False``, ``focus_sigma=2.0``, ...

    Returns
    -------
    ndarray, or (ndarray, ndarray)
        The image, in the frames' dtype and layout ((Y, X) or (Y, X, C)); with
        ``return_depth``, also the depth map (Y, X) float32. float32 frames are
        stacked as 16-bit samples spanning the stack's range, and mapped back.
    """
    if decision_channel is not None:
        if "decision_channel" in options:
            raise TypeError("decision_channel given twice")
        options = dict(options, decision_channel=int(decision_channel))
    items, shape, dtype = _frames(frames)
    channels = 1 if len(shape) == 2 else shape[2]
    name = _stacker_name(stacker)
    if channels not in (1, 3, 4):
        return _stack_channels(items, channels, name, align, return_depth, balance,
                               decision_channel, progress, options)
    text = _options(name, align, balance, return_depth, options)
    lo = hi = 0.0
    if dtype == np.float32:
        items, lo, hi = _to_u16(items)
    bits = 8 if items[0].dtype == np.uint8 else 16
    data = [np.ascontiguousarray(f).tobytes() for f in items]
    image, depth, _confidence, _notes, count = _fstack.stack_raw(
        data, shape[1], shape[0], channels, bits, name, text, progress)
    out = _array(image, len(shape) == 2)
    out = _from_u16(out, lo, hi) if dtype == np.float32 else out.copy()
    if not return_depth:
        return out
    return out, _depth(depth, len(items))


def _to_u16(items):
    """float32 frames as 16-bit samples spanning the stack's range, and that range."""
    lo = float(min(np.min(f) for f in items))
    hi = float(max(np.max(f) for f in items))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("float32 frames hold NaN or infinity")
    scale = 65535.0 / (hi - lo) if hi > lo else 0.0
    return [np.round((f - lo) * scale).astype(np.uint16) for f in items], lo, hi


def _from_u16(a, lo, hi):
    return (lo + a.astype(np.float32) * np.float32((hi - lo) / 65535.0)).astype(np.float32)


def _stack_channels(items, channels, name, align, return_depth, balance, decision_channel,
                    progress, options):
    """Frames of 2 or more than 4 channels: stacked as 3-channel groups that all hold
    the decision channel (made on it alone, so every group takes the same decision),
    the channels then put back in order."""
    if decision_channel is None:
        raise ValueError(f"{channels} channels: give decision_channel=k, the channel the "
                         "focus decision is made on (1, 3 or 4 channels also work without)")
    k = int(decision_channel)
    if not 0 <= k < channels:
        raise ValueError(f"invalid option `decision_channel`: channel {k} does not exist: "
                         f"the frames have {channels} channel(s), 0..={channels - 1}")
    if align or balance:
        raise ValueError(f"{channels} channels: alignment and balance work on 1, 3 or 4 "
                         "channels; align the frames first and pass align=False")
    if name != "FocusMapStack":
        raise ValueError(f"{channels} channels: {name} has no decision_channel "
                         "(FocusMapStack has)")
    options = {key: v for key, v in options.items() if key != "decision_channel"}
    lo = hi = None
    if items[0].dtype == np.float32:
        items, lo, hi = _to_u16(items)
    others = [c for c in range(channels) if c != k]
    groups = [others[i:i + 2] for i in range(0, len(others), 2)]
    out = depth = None
    for group in groups:
        picked = [k] + group + [k] * (2 - len(group))
        part = stack([f[..., picked] for f in items], name, False, return_depth,
                     balance=False, decision_channel=0, progress=progress, **options)
        if return_depth:
            part, depth = part
        if out is None:
            out = np.empty(part.shape[:2] + (channels,), dtype=part.dtype)
            out[..., k] = part[..., 0]
        for i, c in enumerate(group):
            out[..., c] = part[..., 1 + i]
    if lo is not None:
        out = _from_u16(out, lo, hi)
    return (out, depth) if return_depth else out


def _depth(raw, frames: int) -> np.ndarray:
    """The 16-bit depth map as float32 frame indices."""
    if raw is None:
        raise RuntimeError("the stacker returned no depth map")
    d = _array(raw, True).astype(np.float32)
    return d * np.float32(max(frames - 1, 0) / 65535.0)


def stack_files(
    paths: Sequence[Union[str, os.PathLike]],
    output: Optional[Union[str, os.PathLike]] = None,
    stacker: str = "default",
    align: bool = True,
    return_depth: bool = False,
    *,
    balance: Optional[bool] = None,
    overwrite: bool = False,
    progress: Optional[Progress] = None,
    **options: Any,
):
    """Stack image files (JPEG, PNG, TIFF; 8 or 16 bits) into one image.

    Parameters
    ----------
    paths : sequence of path-like
        The frames, in stack order.
    output : path-like, optional
        Also write the image there (format by extension, EXIF/ICC of the first frame),
        atomically; an existing file only with ``overwrite=True``, never an input.
    stacker, align, return_depth, balance, progress, **options
        As for :func:`stack`.

    Returns
    -------
    ndarray, or (ndarray, ndarray)
        The image as (Y, X) or (Y, X, C) uint8 / uint16, and with ``return_depth``
        the depth map.
    """
    files = [os.fspath(p) for p in paths]
    name = _stacker_name(stacker)
    text = _options(name, align, balance, return_depth, options)
    out = None if output is None else os.fspath(output)
    image, depth, _confidence, _notes, _count = _fstack.stack_files(
        files, name, text, out, overwrite, progress)
    channels = image[3]
    result = _array(image, channels == 1).copy()
    if not return_depth:
        return result
    return result, _depth(depth, len(files))


def run_job(path: Union[str, os.PathLike], skip_unsupported: bool = False,
            progress: Optional[Progress] = None) -> list:
    """Run a job file (``.toml``) or a ShineStacker project (``.fsp``), as ``fstack run``.

    Returns
    -------
    list of str
        The files written, in order.
    """
    return [os.fspath(p) for p in _fstack.run_job(os.fspath(path), skip_unsupported, progress)]


def imread(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read an image file (JPEG, PNG, TIFF) as fstack reads frames: (Y, X) or (Y, X, C),
    uint8 or uint16."""
    raw = _fstack.read_frame(os.fspath(path))
    return _array(raw, raw[3] == 1).copy()


class BatchStack(NamedTuple):
    """One stack of a batch: its name, its frames in order, and its output file."""
    id: str
    frames: List[str]
    output: str


def discover(root: Union[str, os.PathLike], out_dir: Union[str, os.PathLike],
             split_gap: Optional[float] = None) -> List[BatchStack]:
    """The stacks ``fstack batch ROOT -o OUT_DIR [--split-gap S]`` would stack.

    Every folder under ``root`` (nested ones too) that holds frames is one stack,
    named by its path below ``root`` and written to ``OUT_DIR/<path, / as __>.<ext of
    its first frame>``; with ``split_gap`` each is split where the EXIF capture time of
    consecutive frames jumps by more than that many seconds (ID-001, ID-002, ...).
    Feed them to :func:`stack_files`, or to :func:`fstack.dask.batch`.
    """
    found = _fstack.discover(os.fspath(root), os.fspath(out_dir), split_gap)
    return [BatchStack(i, [os.fspath(f) for f in frames], os.fspath(out))
            for i, frames, out in found]


def batch(
    root_or_manifest: Union[str, os.PathLike],
    out_dir: Union[str, os.PathLike],
    *,
    split_gap: Optional[float] = None,
    shard: Optional[Union[Tuple[int, int], str]] = None,
    jobs: Optional[int] = None,
    memory_limit: Optional[Union[int, str]] = None,
    overwrite: bool = False,
    stacker: str = "default",
    align: bool = True,
    balance: Optional[bool] = None,
    jpeg_quality: int = 95,
    exif: bool = True,
    progress: Optional[Progress] = None,
    **options: Any,
) -> List[Dict[str, Any]]:
    """Stack many stacks into ``out_dir``, as ``fstack batch`` does.

    The same engine as the command, not a wrapper around it: the same stacks (every
    folder under a root that holds frames, or the stacks a manifest names), the same
    split, shard and resume rules, the same log (one JSON line per stack appended to
    ``out_dir/fstack-batch.jsonl``), the same scheduler (stacks in parallel within one
    memory budget) and the same per-stack run, so the outputs are byte for byte those
    of ``fstack batch`` with the matching flags. The GIL is released while it works;
    Ctrl-C stops it (no new stack starts, running ones stop between frames; the log
    keeps every stack that ended) and raises ``KeyboardInterrupt``.

    A stack that fails does not stop the others and raises nothing: its record says
    ``"failed"`` and holds the error, and nothing is left at its output path. Only
    bad arguments raise: ``ValueError`` (options, shard, manifest) or ``OSError``
    (a missing root, an ``out_dir`` that is a file, a log that cannot be opened).

    Parameters
    ----------
    root_or_manifest : path-like
        A folder of stacks (``fstack batch ROOT``), or a CSV / JSON-lines manifest
        naming each stack's id, frames and output (``fstack batch --manifest FILE``).
    out_dir : path-like
        The folder for the outputs and the log (``-o OUT``), created when missing.
    split_gap : float, optional
        Split each stack where the EXIF capture time of consecutive frames jumps by
        more than this many seconds (``--split-gap``).
    shard : (int, int) or str, optional
        ``(k, n)`` or ``"k/n"``: do only shard k of n (``--shard k/n``); n machines
        given 1..n do every stack exactly once between them.
    jobs : int, optional
        Stacks run at once at most (``--jobs``); default: one per core.
    memory_limit : int or str, optional
        The batch's memory budget in bytes, or as ``"8G"`` (``--memory-limit``): the
        running stacks' estimates stay under it; also the limit of the stackers that
        have one (FocusMapStack, PyramidAutoStack). Default 8 GiB.
    overwrite : bool
        Redo stacks whose output is up to date, overwriting it (``--force``).
        Without, a stack whose output is newer than all its frames is skipped.
    stacker, align, balance, **options
        As for :func:`stack_files`, the same for every stack (``--stacker`` and the
        stacking flags).
    jpeg_quality : int
        JPEG quality of the outputs, 1 to 100 (``--jpeg-quality``).
    exif : bool
        Copy each stack's first frame's EXIF and ICC into its output; ``False`` is
        ``--no-exif``.
    progress : callable, optional
        Called as ``progress("batch", stacks_finished, stacks)`` on this thread.

    Returns
    -------
    list of dict
        Per stack, in list order, its log line: ``id``, ``status`` (``"done"``,
        ``"skipped"``, ``"failed"`` or ``"cancelled"``), ``output``, ``error`` (the
        message, as the CLI logs it; None unless it failed), ``frames`` (how many),
        ``seconds``, ``started`` and ``notes``.

    Examples
    --------
    >>> records = fstack.batch("shoot", "stacked", jobs=2)         # doctest: +SKIP
    >>> [r["id"] for r in records if r["status"] == "failed"]      # doctest: +SKIP
    []
    """
    name = _stacker_name(stacker)
    text = _options(name, align, balance, False, options)
    if isinstance(shard, str):
        k, sep, n = shard.partition("/")
        if not sep or not k.strip().isdigit() or not n.strip().isdigit():
            raise ValueError(f"shard `{shard}`: write it K/N, e.g. 1/4")
        shard = (int(k), int(n))
    elif shard is not None:
        k, n = shard
        if int(k) < 1 or int(n) < 1:
            raise ValueError(f"shard `{k}/{n}`: K must be 1 to N, N at least 1")
        shard = (int(k), int(n))
    limit = None if memory_limit is None else str(memory_limit)
    lines = _fstack.batch(os.fspath(root_or_manifest), os.fspath(out_dir), name, text,
                          split_gap, shard, jobs, limit, overwrite, jpeg_quality, exif,
                          progress)
    return [json.loads(line) for line in lines]


def imwrite(path: Union[str, os.PathLike], image: np.ndarray, overwrite: bool = False) -> None:
    """Write a (Y, X) or (Y, X, C) uint8 / uint16 array as an image file (format by
    extension), atomically; an existing file only with ``overwrite=True``."""
    a = np.ascontiguousarray(image)
    if a.dtype not in (np.uint8, np.uint16) or a.ndim not in (2, 3):
        raise ValueError(f"imwrite: a (Y, X) or (Y, X, C) uint8 or uint16 array, got {a.shape} {a.dtype}")
    channels = 1 if a.ndim == 2 else a.shape[2]
    _fstack.write_frame(os.fspath(path), a.tobytes(), a.shape[1], a.shape[0], channels,
                        8 if a.dtype == np.uint8 else 16, overwrite)
