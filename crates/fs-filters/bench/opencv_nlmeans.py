#!/usr/bin/env python3
"""Times OpenCV's fastNlMeansDenoisingColored on an image file, next to
`cargo run --release -p fs-filters --example nlmeans_time` on the same file.

OpenCV is not a dependency of fstack; install it in a throw-away venv:

    python3 -m venv /tmp/cv && /tmp/cv/bin/pip install opencv-python-headless
    /tmp/cv/bin/python crates/fs-filters/bench/opencv_nlmeans.py \
        ../shared/stacks/noisy/0001.jpg 3 3

Arguments: image, h (also used as hColor), runs. Prints the best wall time
and the best process CPU time, all threads (decode not included), with OpenCV's defaults templateWindowSize 7 and
searchWindowSize 21, using all cores (cv2.getNumThreads()). Also times the
gray fastNlMeansDenoising on the luma, the closest match to one pass over
all channels.
"""
import sys
import time

import cv2


def best_of(runs, fn):
    """Best wall time and best process CPU time (all threads) of `runs` calls."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return best, best_cpu


def main():
    path = sys.argv[1]
    h = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        sys.exit(f"{path}: cannot read")
    rows, cols = img.shape[:2]
    info = f"{path} {cols}x{rows}, h {h}, 7x7 patch, 21x21 search, {cv2.getNumThreads()} threads"
    t, cpu = best_of(runs, lambda: cv2.fastNlMeansDenoisingColored(img, None, h, h, 7, 21))
    print(f"OpenCV {cv2.__version__} fastNlMeansDenoisingColored: {info}: "
          f"best of {runs}: {t:.3f} s wall, {cpu:.3f} s CPU")
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    t, cpu = best_of(runs, lambda: cv2.fastNlMeansDenoising(gray, None, h, 7, 21))
    print(f"OpenCV {cv2.__version__} fastNlMeansDenoising (gray): {info}: "
          f"best of {runs}: {t:.3f} s wall, {cpu:.3f} s CPU")


if __name__ == "__main__":
    main()
