"""`counterwatch bench models|phones`: speed and phone-finding figures on this machine.

Speed is measured here, in a command that prints figures, never in timed tests.
`bench phones` answers the question the design left open: on real frames labelled
as phone use, how often does a `cell phone` box land near a person's hands with the
whole-frame pass alone, and with the per-person crop cascade added.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from pipeline.core.errors import SourceError
from pipeline.core.skeleton import KP
from pipeline.core.types import Detections, Frame

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure model speed and phone finding on real images")
    s = p.add_subparsers(dest="bench_cmd", required=True)
    m = s.add_parser("models", help="median ms/frame of each detector and pose backend")
    m.add_argument("images", nargs="+", help="image files or folders (real frames)")
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--repeat", type=int, default=3, help="runs per image (the first run of all is warm-up)")
    m.add_argument("--detectors", default="yolo11n_int8.onnx,yolov8n_int8.onnx")
    m.add_argument("--pose", default="yolo_pose:yolo11n-pose_int8.tflite,mediapipe_pose:pose_landmarker_full.task")
    m.set_defaults(func=_bench_models)
    ph = s.add_parser("phones", help="frames with a phone near a person's hands, with and without the cascade")
    ph.add_argument("images", nargs="+", help="image files or folders, e.g. the 'using mobile' exam-hall frames")
    ph.add_argument("--match", default="", help="only files whose name contains this text (e.g. 'mobile')")
    ph.add_argument("--detectors", default="yolo11n_int8.onnx,yolov8n_int8.onnx")
    ph.add_argument("--conf", default="0.05,0.1,0.2", help="cell phone confidence thresholds, comma-separated")
    ph.add_argument("--negatives", default="", help="also count hits on files whose name contains this (e.g. copying)")
    ph.add_argument("--people", default="yolov8n_int8.onnx", help="detector that finds the persons")
    ph.add_argument("--threads", type=int, default=2)
    ph.set_defaults(func=_bench_phones)


def list_images(items: list[str], match: str = "") -> list[Path]:
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXT)
        elif p.is_file():
            out.append(p)
        else:
            raise SourceError(f"image path {p} does not exist")
    out = [p for p in out if match.lower() in p.name.lower().replace("_", " ")]
    if not out:
        raise SourceError(f"no images found in {', '.join(items)}" + (f" matching {match!r}" if match else ""))
    return out


def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SourceError(f"image file {path} could not be decoded")
    return img


def _median_ms(fn, frames: list[Frame], repeat: int) -> tuple[float, float]:
    """Median wall ms and median CPU ms (all threads) per call. CPU time is the figure to
    trust on a shared machine, where wall time includes waiting for other processes."""
    fn(frames[0])  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        for f in frames:
            t, c = time.perf_counter(), time.process_time()
            fn(f)
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def _bench_models(args: argparse.Namespace) -> int:
    from pipeline.detectors.mediapipe_pose import MediaPipePoseEstimator
    from pipeline.detectors.yolo_onnx import YoloOnnxDetector
    from pipeline.detectors.yolo_pose import YoloPoseEstimator, YoloPoseModel

    frames = [Frame("bench", i, float(i), _read(p)) for i, p in enumerate(list_images(args.images))]
    print(
        f"{len(frames)} image(s), {args.threads} thread(s), {args.repeat} run(s) each; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)"
    )
    persons: list[Detections] = []
    people_from = ""
    for name in [n for n in args.detectors.split(",") if n]:
        det = YoloOnnxDetector(name, threads=args.threads)
        ms = _median_ms(det.detect, frames, args.repeat)
        found = [d[d.class_name == "person"] for d in (det.detect(f) for f in frames)]
        print(
            f"detector {name:<26} {det.input_size[0]}px  {ms[0]:7.1f} ms/frame wall {ms[1]:7.1f} ms CPU  "
            f"{sum(map(len, found))} persons"
        )
        if sum(map(len, found)) > sum(map(len, persons)):
            persons, people_from = found, name  # pose is fed the detector that found the most people
    if not persons:
        return 0
    n_people = sum(len(p) for p in persons)
    print(f"pose inputs: {n_people} person box(es) from {people_from}")
    for spec in [s for s in args.pose.split(",") if s]:
        kind, _, model = spec.partition(":")
        if kind == "yolo_pose":
            pm = YoloPoseModel(model, threads=args.threads)
            estimators = {f"yolo_pose/{m}": YoloPoseEstimator(pm, mode=m) for m in ("frame", "crops", "hybrid")}
        elif kind == "mediapipe_pose":
            estimators = {"mediapipe_pose/crops": MediaPipePoseEstimator(model)}
        else:
            raise SourceError(f"--pose: unknown backend {kind!r} (yolo_pose, mediapipe_pose)")
        for label, est in estimators.items():
            lookup = {id(f): p for f, p in zip(frames, persons, strict=True)}
            ms = _median_ms(lambda f, e=est, lk=lookup: e.estimate(f, lk[id(f)]), frames, args.repeat)
            got = sum(
                int(((est.estimate(f, p).keypoint_conf > 0.5).sum(1) >= 5).sum())
                for f, p in zip(frames, persons, strict=True)
            )
            print(
                f"pose {label:<28} {ms[0]:7.1f} ms/frame wall {ms[1]:7.1f} ms CPU  "
                f"{got}/{n_people} persons with >=5 keypoints conf>0.5"
            )
            if hasattr(est, "close"):
                est.close()
    return 0


def phones_near_hands(phones: Detections, persons: Detections, min_kp_conf: float = 0.4) -> np.ndarray:
    """Which phone boxes sit at a person's hand: near a confident wrist, or inside the
    box of a person whose wrists were not seen. Returns a boolean mask over `phones`."""
    near = np.zeros(len(phones), bool)
    if len(phones) == 0 or len(persons) == 0:
        return near
    centers = phones.centers
    for i in range(len(persons)):
        x1, y1, x2, y2 = persons.xyxy[i]
        reach = 0.2 * max(x2 - x1, y2 - y1)
        wrists = []
        if persons.keypoints is not None:
            for k in (KP["left_wrist"], KP["right_wrist"]):
                if persons.keypoint_conf[i, k] >= min_kp_conf:
                    wrists.append(persons.keypoints[i, k])
        if wrists:
            d = np.min(np.linalg.norm(centers[:, None, :] - np.array(wrists)[None], axis=2), axis=1)
            near |= d <= reach
        else:
            near |= (centers[:, 0] >= x1) & (centers[:, 0] <= x2) & (centers[:, 1] >= y1) & (centers[:, 1] <= y2)
    return near


def _best_near_hands(phones: Detections, persons: Detections) -> float:
    near = phones[phones_near_hands(phones, persons)]
    return float(near.confidence.max()) if len(near) else 0.0


PHONE_NAMES = ("cell phone", "phone")  # COCO models / the project's phone model


def _bench_phones(args: argparse.Namespace) -> int:
    from pipeline.detectors.cascade import PhoneCascade
    from pipeline.detectors.yolo_onnx import YoloOnnxDetector
    from pipeline.detectors.yolo_pose import YoloPoseEstimator, YoloPoseModel

    thresholds = [float(t) for t in str(args.conf).split(",") if t]
    sets = {"positives": list_images(args.images, args.match)}
    if args.negatives:
        sets["negatives"] = list_images(args.images, args.negatives)
    people = YoloOnnxDetector(args.people, conf_threshold=0.3, threads=args.threads)
    pose = YoloPoseEstimator(YoloPoseModel("yolo11n-pose_int8.tflite", threads=args.threads))
    frames: dict[str, list[tuple[Frame, Detections]]] = {}
    for label, paths in sets.items():
        frames[label] = []
        for i, p in enumerate(paths):
            frame = Frame("bench", i, float(i), _read(p))
            d = people.detect(frame)
            frames[label].append((frame, pose.estimate(frame, d[d.class_name == "person"])))
    print(
        ", ".join(f"{k}: {len(v)} image(s)" for k, v in sets.items())
        + f"; persons from {args.people} + yolo11n-pose; a hit = a cell phone box near a wrist"
    )
    for name in [n for n in args.detectors.split(",") if n]:
        det = YoloOnnxDetector(name, conf_threshold=min(thresholds), threads=args.threads)
        cascade = PhoneCascade(det, min(thresholds), classes=PHONE_NAMES)
        ms = []
        for label, items in frames.items():
            whole, casc = [], []
            for frame, persons in items:
                d = det.detect(frame)
                whole.append(_best_near_hands(d[np.isin(d.class_name, PHONE_NAMES)], persons))
                t = time.perf_counter()
                casc.append(_best_near_hands(cascade.detect(frame, persons), persons))
                ms.append((time.perf_counter() - t) * 1000)
            for t in thresholds:
                w = sum(v >= t for v in whole)
                c = sum(v >= t for v in casc)
                e = sum(a >= t or b >= t for a, b in zip(whole, casc, strict=True))
                print(
                    f"{name:<20} {det.input_size[0]}px {label:<9} conf>={t:<5} whole frame {w:>3}/{len(items)}"
                    f"  cascade {c:>3}/{len(items)}  either {e:>3}/{len(items)}"
                )
        print(f"{name:<20} cascade cost {statistics.median(ms):.0f} ms/frame (median)")
    return 0
