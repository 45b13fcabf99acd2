"""Tests of the Python package `fstack` (run by `cargo xtask test`).

The frames are a small synthetic z-stack: a random texture, each frame sharp in one
band of rows and box-blurred elsewhere, so that each frame holds detail the others
lack. The CLI's output on the same frames (env ``FSTACK_BIN``, the `fstack` binary
built by the same checkout) is the reference the package must reproduce exactly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import fstack

FRAMES = 5
HEIGHT, WIDTH = 120, 160


def _box_blur(a: np.ndarray, r: int) -> np.ndarray:
    """A (2r+1)-wide box blur over rows and columns, edges clamped."""
    out = a.astype(np.float64)
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis)
        n = out.shape[axis]
        hi = np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
        lo = np.take(c, np.arange(0, n), axis=axis)
        out = (hi - lo) / (2 * r + 1)
    return out


def zstack(channels: int, bits: int, frames: int = FRAMES, height: int = HEIGHT,
           width: int = WIDTH, seed: int = 7) -> np.ndarray:
    """(Z, Y, X) or (Z, Y, X, C) frames, frame k sharp in the k-th band of rows."""
    rng = np.random.default_rng(seed)
    full = 255 if bits == 8 else 65535
    shape = (height, width) if channels == 1 else (height, width, channels)
    texture = rng.uniform(0.1, 0.9, shape)
    if channels == 4:
        texture[..., 3] = 1.0
    blurred = _box_blur(texture, 3)
    rows = np.arange(height) * frames // height
    out = []
    for k in range(frames):
        sharp = (rows == k).reshape((height, 1) + (1,) * (len(shape) - 2))
        f = np.where(sharp, texture, blurred)
        out.append(np.round(f * full))
    return np.array(out).astype(np.uint8 if bits == 8 else np.uint16)


def fstack_bin() -> str:
    path = os.environ.get("FSTACK_BIN")
    if not path:
        pytest.skip("FSTACK_BIN names no fstack binary (cargo xtask test sets it)")
    return path


def write_frames(z: np.ndarray, folder: Path) -> list:
    folder.mkdir()
    paths = []
    for k in range(z.shape[0]):
        p = folder / f"frame_{k:02}.png"
        fstack.imwrite(p, z[k])
        paths.append(p)
    return paths


def cli_stack(folder: Path, output: Path, *flags: str) -> np.ndarray:
    run = subprocess.run([fstack_bin(), "stack", str(folder), "-o", str(output), *flags],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return fstack.imread(output)


LAYOUTS = [(1, 8), (3, 8), (4, 8), (1, 16), (3, 16)]


@pytest.mark.parametrize("channels,bits", LAYOUTS)
def test_arrays_and_files_equal_the_cli(tmp_path, channels, bits):
    z = zstack(channels, bits)
    paths = write_frames(z, tmp_path / "frames")
    # The files written are the arrays, sample for sample.
    assert np.array_equal(fstack.imread(paths[2]), z[2])
    reference = cli_stack(tmp_path / "frames", tmp_path / "cli.png")
    # Aligned and cropped to the area every frame covers: a pixel or two less.
    expected_shape = reference.shape
    assert reference.dtype == z.dtype and expected_shape[2:] == z.shape[3:]
    assert 0 <= z.shape[1] - expected_shape[0] <= 4 and 0 <= z.shape[2] - expected_shape[1] <= 4

    from_array = fstack.stack(z)
    from_list = fstack.stack(list(z))
    from_files = fstack.stack_files(paths)
    assert from_array.dtype == z.dtype and from_array.shape == expected_shape
    assert np.array_equal(from_array, reference)
    assert np.array_equal(from_list, reference)
    assert np.array_equal(from_files, reference)


def test_the_stack_is_sharper_than_any_frame():
    z = zstack(1, 8)
    truth = np.round(np.random.default_rng(7).uniform(0.1, 0.9, (HEIGHT, WIDTH)) * 255)
    out = fstack.stack(z, align=False).astype(np.float64)
    err = np.sqrt(np.mean((out - truth) ** 2))
    best_frame = min(np.sqrt(np.mean((f.astype(np.float64) - truth) ** 2)) for f in z)
    assert err < 0.25 * best_frame, (err, best_frame)


def test_seed_stackers_and_options_by_their_seed_names(tmp_path):
    z = zstack(3, 8)
    paths = write_frames(z, tmp_path / "frames")
    reference = cli_stack(tmp_path / "frames", tmp_path / "cli.png", "--stacker", "pyramid",
                          "--pyramid-min-size", "16", "--no-align")
    ours = fstack.stack(z, stacker="pyramid", align=False, pyramid_min_size=16)
    assert np.array_equal(ours, reference)
    depthmap = fstack.stack(z, stacker="DepthMapStack", align=False, energy="laplacian")
    assert depthmap.shape == z.shape[1:]
    assert not np.array_equal(depthmap, ours)


def test_decision_channel_equals_the_cli_flag(tmp_path):
    z = zstack(3, 8)
    # Channel 2 sharp in the frames where the other channels are blurred.
    blurred = np.stack([_box_blur(f.astype(np.float64), 2) for f in z]).round().astype(np.uint8)
    z[..., 2] = blurred[::-1, ..., 2]
    paths = write_frames(z, tmp_path / "frames")
    for k in (0, 2):
        reference = cli_stack(tmp_path / "frames", tmp_path / f"cli{k}.png", "--no-align",
                              "--decision-channel", str(k))
        assert np.array_equal(fstack.stack(z, align=False, decision_channel=k), reference)
    assert not np.array_equal(fstack.stack(z, align=False, decision_channel=0),
                              fstack.stack(z, align=False, decision_channel=2))
    with pytest.raises(ValueError, match="decision_channel"):
        fstack.stack(z, align=False, decision_channel=3)
    with pytest.raises(ValueError, match="decision_channel"):
        fstack.stack(z, stacker="pyramid", align=False, decision_channel=0)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_many_channels_take_one_decision_for_all(dtype):
    rgb = zstack(3, 16)
    extra = zstack(3, 16, seed=11)
    # Five channels: the RGB stack's three, two more of another texture (focused in
    # the same frames).
    z = np.concatenate([rgb, extra[..., :2]], axis=3)
    if dtype == np.float32:
        z[0, 0, 0, :], z[1, 0, 1, :] = 0, 65535
        z = (z.astype(np.float32) / np.float32(65535.0)).astype(np.float32)
    out, depth = fstack.stack(z, align=False, decision_channel=1, return_depth=True)
    assert out.shape == z.shape[1:] and out.dtype == z.dtype
    # Each channel as the 3-channel stack with the same decision channel gives it.
    for picked in ([1, 0, 2], [1, 3, 4], [1, 4, 0]):
        part, part_depth = fstack.stack(z[..., picked], align=False, decision_channel=0,
                                        return_depth=True)
        np.testing.assert_array_equal(out[..., picked], part)
        np.testing.assert_array_equal(depth, part_depth)
    # And it is a focus stack: sharper than any frame against the truth of channel 3.
    truth = np.round(np.random.default_rng(11).uniform(0.1, 0.9, (HEIGHT, WIDTH, 3)) * 65535)
    scale = 65535.0 if dtype == np.float32 else 1.0
    err = np.sqrt(np.mean((out[..., 3].astype(np.float64) * scale - truth[..., 0]) ** 2))
    best = min(np.sqrt(np.mean((f[..., 3].astype(np.float64) * scale - truth[..., 0]) ** 2))
               for f in z)
    assert err < 0.5 * best, (err, best)


def test_float32_is_stacked_over_its_range():
    z16 = zstack(1, 16)
    z16[0, 0, 0], z16[1, 0, 1] = 0, 65535  # the float frames span 0..1 exactly
    z32 = (z16.astype(np.float32) / np.float32(65535.0)).astype(np.float32)
    out16 = fstack.stack(z16, align=False)
    out32 = fstack.stack(z32, align=False)
    assert out32.dtype == np.float32 and out32.shape == out16.shape
    np.testing.assert_allclose(out32, out16.astype(np.float32) / 65535.0, atol=1e-6)


def test_depth_map_tells_which_frame_is_in_focus():
    z = zstack(1, 8)
    image, depth = fstack.stack(z, align=False, return_depth=True)
    assert depth.dtype == np.float32 and depth.shape == (HEIGHT, WIDTH)
    rows = np.arange(HEIGHT) * FRAMES // HEIGHT
    # Inside each band (away from its edges, where the blur reaches across), the
    # depth is that band's frame.
    for k in range(FRAMES):
        band = np.nonzero(rows == k)[0]
        inner = depth[band[4]:band[-4], 8:-8]
        assert abs(float(np.median(inner)) - k) < 0.25, (k, np.median(inner))
    assert np.array_equal(image, fstack.stack(z, align=False))


def test_stack_files_writes_the_output_and_never_clobbers(tmp_path):
    z = zstack(3, 8)
    paths = write_frames(z, tmp_path / "frames")
    out = tmp_path / "out.png"
    image = fstack.stack_files(paths, output=out)
    assert np.array_equal(fstack.imread(out), image)
    before = out.read_bytes()
    with pytest.raises(FileExistsError, match="out.png"):
        fstack.stack_files(paths, output=out)
    assert out.read_bytes() == before
    fstack.stack_files(paths, output=out, overwrite=True, align=False)
    # Never over an input, even when asked to overwrite.
    frame = paths[0].read_bytes()
    with pytest.raises(ValueError, match="frame_00.png"):
        fstack.stack_files(paths, output=paths[0], overwrite=True)
    assert paths[0].read_bytes() == frame


def test_run_job_equals_stack_files(tmp_path):
    z = zstack(1, 16)
    paths = write_frames(z, tmp_path / "frames")
    job = tmp_path / "job.toml"
    job.write_text(
        'name = "py"\ninput_path = "frames"\n\n'
        '[[action]]\ntype = "FocusStack"\nname = "stacked"\n\n'
        '[action.stacker]\ntype = "FocusMapStack"\n')
    written = fstack.run_job(job)
    assert len(written) == 1 and Path(written[0]).parent == tmp_path / "stacked", written
    assert np.array_equal(fstack.imread(written[0]), fstack.stack_files(paths, align=False))


def test_bad_options_raise_value_error_naming_them():
    z = zstack(1, 8)
    with pytest.raises(ValueError, match="no_such_option"):
        fstack.stack(z, no_such_option=3)
    with pytest.raises(ValueError, match="pyramid_min_size"):
        fstack.stack(z, stacker="pyramid", pyramid_min_size=-4)
    with pytest.raises(ValueError, match="energy"):
        fstack.stack(z, stacker="depthmap", energy="bogus")
    with pytest.raises(ValueError, match="NoSuchStack"):
        fstack.stack(z, stacker="NoSuchStack")
    with pytest.raises(ValueError, match="return_depth"):
        fstack.stack(z, stacker="pyramid", return_depth=True)
    with pytest.raises(TypeError, match="stacker must be a name"):
        fstack.stack(z, stacker=3)


def test_bad_arrays_raise_value_error():
    z = zstack(1, 8)
    with pytest.raises(ValueError, match="frame 1"):
        fstack.stack([z[0], z[1][:, :-1], z[2]])
    with pytest.raises(ValueError, match="frame 1"):
        fstack.stack([z[0], z[1].astype(np.uint16)])
    with pytest.raises(ValueError, match="int32"):
        fstack.stack(z.astype(np.int32))
    with pytest.raises(ValueError, match="at least one frame"):
        fstack.stack([])
    with pytest.raises(ValueError, match="2 channels: give decision_channel"):
        fstack.stack(np.zeros((3, 16, 16, 2), np.uint8))
    with pytest.raises(ValueError, match="align=False"):
        fstack.stack(np.zeros((3, 16, 16, 5), np.uint8), decision_channel=0)
    with pytest.raises(ValueError, match="NaN"):
        fstack.stack(np.full((3, 16, 16), np.nan, np.float32))


def test_bad_files_raise_os_errors_naming_the_file(tmp_path):
    z = zstack(1, 8)
    paths = write_frames(z, tmp_path / "frames")
    missing = tmp_path / "frames" / "gone.png"
    with pytest.raises(FileNotFoundError, match="gone.png"):
        fstack.stack_files(paths + [missing])
    truncated = tmp_path / "frames" / "frame_03.png"
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(OSError, match="frame_03.png") as caught:
        fstack.stack_files(paths)
    assert not isinstance(caught.value, FileNotFoundError)
    # The CLI says the same of the same file.
    run = subprocess.run([fstack_bin(), "stack", str(tmp_path / "frames"), "-o",
                          str(tmp_path / "x.png")], capture_output=True, text=True)
    assert run.returncode != 0 and "frame_03.png" in run.stderr
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(FileNotFoundError, match="nothing.tif"):
        fstack.imread(tmp_path / "nothing.tif")


def test_the_gil_is_released_while_stacking():
    z = zstack(3, 16, frames=8, height=720, width=960)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.002)

    t = threading.Thread(target=count)
    t.start()
    try:
        start = time.perf_counter()
        fstack.stack(z, align=False)
        end = time.perf_counter()
    finally:
        done.set()
        t.join()
    during = [x for x in ticks if start < x < end]
    # With the GIL held the counter would stand still for the whole stack.
    assert end - start > 0.05
    assert len(during) >= 10, (len(during), end - start)


def test_progress_reaches_the_end_of_each_phase():
    z = zstack(1, 8, frames=6, height=480, width=640)
    events = []
    fstack.stack(z, align=True, progress=lambda phase, done, total: events.append(
        (phase, done, total)))
    assert events, "no progress reported"
    phases = {p for p, _, _ in events}
    for phase in phases:
        last = [e for e in events if e[0] == phase][-1]
        assert last[1] == last[2] > 0, last
    assert any("stack" in p for p in phases), phases


def test_an_exception_in_the_callback_cancels_and_propagates():
    z = zstack(1, 8)

    def boom(phase, done, total):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        fstack.stack(z, align=False, progress=boom)


def test_ctrl_c_cancels_and_raises_keyboard_interrupt():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    z = zstack(3, 16, frames=24, height=1200, width=1600)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            fstack.stack(z, align=False)
    finally:
        timer.cancel()
    # Stopped soon after the signal, not at the end of the stack.
    assert time.perf_counter() - start < 5.0


def test_imwrite_refuses_to_clobber(tmp_path):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    p = tmp_path / "a.png"
    fstack.imwrite(p, a)
    with pytest.raises(FileExistsError, match="a.png"):
        fstack.imwrite(p, a + 1)
    assert np.array_equal(fstack.imread(p), a)
    fstack.imwrite(p, a + 1, overwrite=True)
    assert np.array_equal(fstack.imread(p), a + 1)


def test_version_matches_the_cli():
    run = subprocess.run([fstack_bin(), "--version"], capture_output=True, text=True)
    assert fstack.__version__ in run.stdout
    assert json.loads(json.dumps(fstack.STACKERS))["default"] == "FocusMapStack"
