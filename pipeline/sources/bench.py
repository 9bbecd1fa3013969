"""Benchmark: how fast a file is read at an analysis fps, against decoding every frame.

    python -m pipeline.sources.bench VIDEO [--fps 2]

Prints media seconds, wall seconds and the speed-up over real time for both
ways, so the cost of sampling (grab without retrieve) can be checked on a
given machine and file.
"""

from __future__ import annotations

import argparse
import time

import cv2

from pipeline.sources import open_source


def bench(path: str, fps: float) -> dict[str, float]:
    """Seconds to read `path` sampled at `fps`, and to decode it whole with cv2.read()."""
    t0 = time.perf_counter()
    with open_source(path, camera_id="bench", fps=fps) as src:
        kept = sum(1 for _ in src)
        media_s = src.info.duration_s or 0.0
    sampled_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cap = cv2.VideoCapture(path)
    decoded = 0
    while cap.read()[0]:
        decoded += 1
    cap.release()
    full_s = time.perf_counter() - t0
    return {"media_s": media_s, "kept": kept, "sampled_s": sampled_s, "decoded": decoded, "full_s": full_s}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m pipeline.sources.bench", description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--fps", type=float, default=2.0)
    a = ap.parse_args(argv)
    r = bench(a.video, a.fps)
    print(f"{a.video}: {r['media_s']:.1f} s of media")
    print(
        f"  sampled at {a.fps:g} fps: {r['kept']} frames in {r['sampled_s']:.2f} s "
        f"({r['media_s'] / r['sampled_s']:.1f}x real time)"
    )
    print(
        f"  every frame decoded: {r['decoded']} frames in {r['full_s']:.2f} s "
        f"({r['media_s'] / r['full_s']:.1f}x real time)"
    )


if __name__ == "__main__":
    main()
