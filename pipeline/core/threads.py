"""Threads chosen together from the core count: onnxruntime intra-op, OpenCV, and model-set workers.

K workers (model sets analysing frames at once) on C cores get max(1, C // K)
intra-op threads each, so the process never runs more busy threads than cores.
OpenCV's own thread pool is set to the same figure (1 when several workers share
the process: resize and colour conversion then run on the worker's thread).
onnxruntime sessions are made with intra-op spinning off (see yolo_onnx._session):
on a shared machine a spinning pool burns CPU waiting for work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


def cpu_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ThreadPlan:
    cores: int
    workers: int
    intra_op: int
    opencv: int

    def apply(self, cfg: Any) -> Any:
        """The config with every model's inference threads set to the plan; OpenCV's pool set once."""
        import cv2

        cv2.setNumThreads(self.opencv)
        m = cfg.models
        det = m.detector.with_threads(self.intra_op)
        pose = m.pose.with_threads(self.intra_op)
        return cfg.model_copy(update={"models": m.model_copy(update={"detector": det, "pose": pose})})

    def as_dict(self) -> dict[str, int | bool]:
        return {"cores": self.cores, "workers": self.workers, "onnxruntime_intra_op": self.intra_op,
                "opencv": self.opencv, "onnxruntime_spinning": False}

    def describe(self) -> str:
        return (f"{self.cores} core(s), {self.workers} worker(s) x {self.intra_op} onnxruntime thread(s) "
                f"(spinning off), OpenCV {self.opencv} thread(s)")


def thread_plan(workers: int = 1, cores: int | None = None) -> ThreadPlan:
    cores = cores or cpu_cores()
    workers = max(1, int(workers))
    intra = max(1, cores // workers)
    return ThreadPlan(cores=cores, workers=workers, intra_op=intra, opencv=intra if workers == 1 else 1)
