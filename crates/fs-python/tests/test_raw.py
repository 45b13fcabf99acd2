"""Camera RAW against an independent reader: LibRaw, through the rawpy package.

The frames are a generated Bayer DNG stack (``fstack demo --raw``: 14-bit RGGB, a black
level, a colour cast and a colour matrix) with its truth. LibRaw must accept both the
generated frames and the linear DNG that ``fstack stack -o x.dng`` writes; developed by
LibRaw, that DNG must match fstack's own 16-bit TIFF of the same stack, and fstack's
development of the frames must stack at least as well as LibRaw's AHD development.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import fstack
from test_fstack import fstack_bin

rawpy = pytest.importorskip("rawpy")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    err = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(65535.0**2 / err))


def run(*args: str) -> None:
    done = subprocess.run([fstack_bin(), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def libraw(path: Path, **options) -> np.ndarray:
    """LibRaw's development: the file's white balance, sRGB, 16-bit, no auto-brightness."""
    with rawpy.imread(str(path)) as raw:
        return raw.postprocess(use_camera_wb=True, no_auto_bright=True, output_bps=16,
                               gamma=(2.4, 12.92), output_color=rawpy.ColorSpace.sRGB,
                               **options)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("raw") / "demo"
    run("demo", "--raw", "--size", "320x240", "--frames", "5", "--out", str(out))
    return out


def test_libraw_reads_the_generated_frames_as_the_generator_wrote_them(demo):
    with rawpy.imread(str(demo / "frames" / "frame_001.dng")) as raw:
        assert raw.raw_type == rawpy.RawType.Flat
        assert raw.raw_pattern.tolist() == [[0, 1], [3, 2]]  # RGGB
        assert raw.black_level_per_channel == [512, 512, 512, 512]
        assert raw.white_level == 16383
        wb = raw.camera_whitebalance
        assert wb[0] / wb[1] == pytest.approx(1 / 0.55, rel=1e-3)
        assert wb[2] / wb[1] == pytest.approx(1 / 0.72, rel=1e-3)
        assert raw.raw_image_visible.shape == (240, 320)


def test_the_linear_dng_developed_by_libraw_matches_the_tiff(demo, tmp_path):
    frames = demo / "frames"
    run("stack", str(frames), "--no-align", "-o", str(tmp_path / "r.tif"))
    run("stack", str(frames), "--no-align", "-o", str(tmp_path / "r.dng"))
    ours = fstack.imread(tmp_path / "r.tif")
    theirs = libraw(tmp_path / "r.dng")
    assert theirs.shape == ours.shape and theirs.dtype == np.uint16
    truth = fstack.imread(demo / "truth.tif")
    ours_db, theirs_db = psnr(ours, truth), psnr(theirs, truth)
    print(f"against the truth: fstack TIFF {ours_db:.2f} dB, LibRaw on the DNG {theirs_db:.2f} dB, "
          f"the two {psnr(ours, theirs):.2f} dB apart")
    assert theirs_db > ours_db - 1.0
    means = theirs.reshape(-1, 3).mean(axis=0) / ours.reshape(-1, 3).mean(axis=0)
    assert np.all(np.abs(means - 1) < 0.02), means


def test_fstack_development_stacks_at_least_as_well_as_libraw_ahd(demo, tmp_path):
    frames = sorted((demo / "frames").glob("*.dng"))
    ahd = tmp_path / "ahd"
    ahd.mkdir()
    for f in frames:
        dev = libraw(f, demosaic_algorithm=rawpy.DemosaicAlgorithm.AHD)
        fstack.imwrite(ahd / (f.stem + ".tif"), dev)
    run("stack", str(demo / "frames"), "--no-align", "-o", str(tmp_path / "ours.tif"))
    run("stack", str(ahd), "--no-align", "-o", str(tmp_path / "ahd.tif"))
    truth = fstack.imread(demo / "truth.tif")
    ours_db = psnr(fstack.imread(tmp_path / "ours.tif"), truth)
    ahd_db = psnr(fstack.imread(tmp_path / "ahd.tif"), truth)
    print(f"stacked against the truth: fstack's development {ours_db:.2f} dB, "
          f"LibRaw AHD {ahd_db:.2f} dB")
    assert ours_db >= ahd_db


def test_stack_files_takes_raw_frames_and_the_white_balance_like_the_cli(demo, tmp_path):
    frames = sorted((demo / "frames").glob("*.dng"))
    run("stack", str(demo / "frames"), "--no-align", "--no-balance", "--white-balance", "auto",
        "-o", str(tmp_path / "cli.tif"))
    image = fstack.stack_files(frames, align=False, white_balance="auto")
    assert image.dtype == np.uint16 and image.shape == (240, 320, 3)
    np.testing.assert_array_equal(image, fstack.imread(tmp_path / "cli.tif"))
    as_shot = fstack.stack_files(frames, align=False)
    assert not np.array_equal(image, as_shot)
    with pytest.raises(ValueError, match="white_balance"):
        fstack.stack_files(frames, align=False, white_balance="warm")
