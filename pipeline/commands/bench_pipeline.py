"""`counterwatch bench pipeline`: what one analysed frame costs, optimised against naive, in one run.

The same clip goes through `analyze_file` (the whole pipeline: decode, models,
tracking, scene, rules, store, evidence clips) twice per round: once with the
config as it is, once in naive mode (every model on every analysed frame: motion
gating off, every cadence 0). With the `ultralytics` extra installed, a third
contender is a plain Ultralytics loop on the same frames: YOLO detection with its
ByteTrack tracker, then YOLO-pose on the whole frame. Rounds alternate the modes so
that load from other processes falls on all of them alike; the figures are medians
over rounds, and the ratios are taken within the run. CPU is process CPU time (all
threads), which is what a shared machine can compare; wall time is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError, SourceError

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "configs" / "demo.yaml"


def add_parser(sub: argparse._SubParsersAction) -> None:
    from pipeline.commands.bench_cmd import _bench_parser

    s = _bench_parser(sub)
    p = s.add_parser("pipeline", help="CPU per analysed frame, per stage, optimised vs naive (vs Ultralytics)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="site config (default configs/demo.yaml)")
    p.add_argument("--camera", help="camera id in the config (default: the first)")
    p.add_argument("--clip", help="video file (default: the camera's source, looked up in the sample folders)")
    p.add_argument("--fps", type=float, help="analysed fps (default: analysis.fps of the config)")
    p.add_argument("--rounds", type=int, default=3, help="paired rounds; figures are medians (default 3)")
    p.add_argument("--modes", default="optimised,naive,ultralytics",
                   help="comma-separated: optimised, naive, ultralytics (skipped when the extra is missing)")
    p.add_argument("--threads", type=int,
                   help="inference threads per model, for every mode (default: one per core, as a single camera "
                        "gets; 1 is what each model set gets in `batch --workers 2` and `run` on 2 cores)")
    p.add_argument("--json", help="write the figures to this JSON file")
    p.set_defaults(func=run_bench_pipeline)


def naive_config(cfg: Any) -> Any:
    """The same config with every model on every analysed frame: no motion gating, every cadence 0."""
    a = cfg.analysis
    gating = a.gating.model_copy(update={"enabled": False})
    cadence = a.cadence.model_copy(update={"pose_s": 0.0, "phone_s": 0.0, "desk_s": 0.0, "phone_needs_hands": False})
    return cfg.model_copy(update={"analysis": a.model_copy(update={"gating": gating, "cadence": cadence})})


def find_clip(cfg: Any, camera: Any, config_path: Path) -> Path:
    """The camera's source: a path (relative to the config), else a sample clip by file name."""
    spec = camera.source
    if not spec:
        raise ConfigError(f"{config_path}: camera {camera.id!r} field source is empty (pass --clip)")
    cands = [Path(spec), config_path.parent / spec]
    from pipeline import samples

    for s in samples.manifest():
        if s["file"] == Path(spec).name:
            cands.append(samples.SAMPLES_DIR / s["file"])
            if os.environ.get("COUNTERWATCH_SAMPLES_DIR") and s.get("mirror_path"):
                cands.append(Path(os.environ["COUNTERWATCH_SAMPLES_DIR"]) / s["mirror_path"])
    for c in cands:
        if c.is_file():
            return c
    raise SourceError(f"camera {camera.id!r} source {spec!r}: video file not found (tried "
                      f"{', '.join(str(c) for c in cands)}; run `counterwatch samples fetch` or pass --clip)")


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_counterwatch(cfg: Any, camera_id: str, clip: Path, fps: float, models: Any) -> dict[str, Any]:
    """One pass of analyze_file over the clip with the stage clock on."""
    from pipeline.analyze import analyze_file
    from pipeline.core.stages import StageClock
    from pipeline.events.store import EventStore

    clock = StageClock()
    with tempfile.TemporaryDirectory(prefix="cw-bench-pipeline-") as out:
        store = EventStore.for_dir(Path(out))
        try:
            c0, w0 = _cpu(), time.perf_counter()
            with clock.active():
                res = analyze_file(clip, cfg, camera_id, out, store=store, fps=fps, progress=False, models=models)
            cpu, wall = _cpu() - c0, time.perf_counter() - w0
        finally:
            store.close()
    if res.error:
        raise SourceError(res.error)
    n = max(1, res.frames)
    stages = {k: v / n for k, v in sorted(clock.cpu.items())}
    counts = {k: v for k, v in sorted(clock.calls.items())}
    return {"frames": res.frames, "cpu_s": cpu, "wall_s": wall, "cpu_per_frame_s": cpu / n,
            "analysed_fps": res.frames / wall if wall > 0 else 0.0, "x_realtime": res.video_s / wall if wall else 0.0,
            "stages_cpu_per_frame_s": stages, "counts": counts,
            "events": sorted((e["rule_id"], e.get("post_id") or "", round(e["start_s"], 2)) for e in res.events)}


def ultralytics_models(models_dir: Path, threads: int | None = None) -> tuple[Any, Any] | None:
    """The Ultralytics detector and pose model, with torch on `threads` threads (the plan's)."""
    try:
        import torch
        from ultralytics import YOLO  # lazy: the ultralytics extra
    except ImportError:
        return None
    if threads:
        torch.set_num_threads(threads)
    det, pose = models_dir / "yolov8n_dequant.pt", models_dir / "yolo11n-pose_dequant.pt"
    if not det.is_file() or not pose.is_file():
        return None
    return YOLO(str(det), task="detect"), YOLO(str(pose), task="pose")


_UL: tuple[Any, Any] | None = None  # in the contender's own process: its models


def _ul_init(models_dir: str, threads: int | None) -> None:
    global _UL
    if threads:
        import cv2

        cv2.setNumThreads(threads)
    _UL = ultralytics_models(Path(models_dir), threads)


def _ul_ready() -> bool:
    return _UL is not None


def _ul_run(clip: str, fps: float, camera_id: str) -> dict[str, Any]:
    assert _UL is not None
    return run_ultralytics(_UL, Path(clip), fps, camera_id)


class UltralyticsContender:
    """The Ultralytics loop in a process of its own.

    torch's thread pool and allocator would otherwise live in the process that measures
    the other modes, and their CPU would be counted against them (with torch loaded,
    the optimised mode measured about 15 % more CPU per frame). The child measures its
    own CPU around each loop; it idles while the other modes run.
    """

    def __init__(self, models_dir: Path, threads: int | None) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"),
                                         initializer=_ul_init, initargs=(str(models_dir), threads))
        self.ready = bool(self._pool.submit(_ul_ready).result())

    def run(self, clip: Path, fps: float, camera_id: str) -> dict[str, Any]:
        return self._pool.submit(_ul_run, str(clip), fps, camera_id).result()

    def close(self) -> None:
        self._pool.shutdown()


def run_ultralytics(pair: tuple[Any, Any], clip: Path, fps: float, camera_id: str) -> dict[str, Any]:
    """A plain Ultralytics loop on the same frames: detect + ByteTrack (persons), then pose on the whole frame."""
    from pipeline.sources import open_source

    det, pose = pair
    frames = 0
    c0, w0 = _cpu(), time.perf_counter()
    with open_source(str(clip), camera_id=camera_id, fps=fps) as src:
        for frame in src:
            det.track(frame.image, persist=frames > 0, tracker="bytetrack.yaml", classes=[0], imgsz=640,
                      verbose=False)
            pose.predict(frame.image, imgsz=640, verbose=False)
            frames += 1
    cpu, wall = _cpu() - c0, time.perf_counter() - w0
    n = max(1, frames)
    return {"frames": frames, "cpu_s": cpu, "wall_s": wall, "cpu_per_frame_s": cpu / n,
            "analysed_fps": frames / wall if wall > 0 else 0.0}


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": len(runs)}
    for key in ("frames", "cpu_s", "wall_s", "cpu_per_frame_s", "analysed_fps", "x_realtime"):
        vals = [r[key] for r in runs if key in r]
        if vals:
            out[key] = round(statistics.median(vals), 4)
    if runs and "stages_cpu_per_frame_s" in runs[0]:
        names = sorted({k for r in runs for k in r["stages_cpu_per_frame_s"]})
        out["stages_cpu_per_frame_s"] = {k: round(statistics.median(r["stages_cpu_per_frame_s"].get(k, 0.0)
                                                                    for r in runs), 4) for k in names}
        out["counts"] = runs[-1]["counts"]
        out["events"] = runs[-1]["events"]
    return out


def run_bench_pipeline(args: argparse.Namespace) -> int:
    from pipeline.core.threads import thread_plan
    from pipeline.processor import build_models
    from pipeline.settings import load_config

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = sorted(set(modes) - {"optimised", "naive", "ultralytics"})
    if bad or not modes:
        raise ConfigError(f"--modes: unknown mode(s) {bad} (known: optimised, naive, ultralytics)")
    if args.rounds < 1:
        raise ConfigError(f"--rounds must be >= 1, got {args.rounds}")
    config_path = Path(args.config)
    cfg = load_config(config_path)
    camera = cfg.camera(args.camera) if args.camera else (cfg.cameras[0] if cfg.cameras else None)
    if camera is None:
        raise ConfigError(f"{config_path}: no camera (the bench needs a camera with posts)")
    clip = Path(args.clip) if args.clip else find_clip(cfg, camera, config_path)
    if not clip.is_file():
        raise SourceError(f"--clip {clip}: video file not found")
    fps = args.fps or cfg.analysis.fps
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    plan = thread_plan(workers=1)
    if args.threads:
        plan = replace(plan, intra_op=args.threads, opencv=args.threads)
    cfg = plan.apply(cfg)
    configs = {"optimised": cfg, "naive": naive_config(cfg)}
    models = {m: build_models(configs[m]) for m in modes if m in configs}
    ul = None
    if "ultralytics" in modes:
        ul = UltralyticsContender(Path(os.environ.get("COUNTERWATCH_MODELS_DIR", REPO / "models")), plan.intra_op)
        if not ul.ready:
            ul.close()
            ul = None
            print("bench pipeline: ultralytics extra or its .pt files missing; that comparison is skipped")
            modes.remove("ultralytics")
    try:
        result = _rounds(args, cfg, configs, models, ul, modes, clip, fps, camera, plan, config_path)
    finally:
        if ul is not None:
            ul.close()
    _print(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def _rounds(args: argparse.Namespace, cfg: Any, configs: dict[str, Any], models: dict[str, Any],
            ul: UltralyticsContender | None, modes: list[str], clip: Path, fps: float, camera: Any, plan: Any,
            config_path: Path) -> dict[str, Any]:
    """Warm-up, then the paired rounds; the medians and ratios."""
    print(f"bench pipeline: {clip.name} at {fps:g} analysed fps, camera {camera.id} "
          f"({len(camera.posts)} posts), modes {', '.join(modes)}, {args.rounds} round(s); {plan.describe()}",
          flush=True)
    for m in modes:  # warm-up: first inference of each model, Ultralytics' fuse and tracker set-up
        if m == "ultralytics":
            ul.run(clip, min(fps, 0.5), camera.id)
        else:
            run_counterwatch(configs[m], camera.id, clip, min(fps, 0.5), models[m])
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for r in range(args.rounds):
        order = modes if r % 2 == 0 else modes[::-1]
        for m in order:
            got = (ul.run(clip, fps, camera.id) if m == "ultralytics"
                   else run_counterwatch(configs[m], camera.id, clip, fps, models[m]))
            runs[m].append(got)
            print(f"  round {r + 1} {m:<11} {got['cpu_per_frame_s']:.3f} CPU-s/frame, "
                  f"{got['analysed_fps']:.2f} analysed fps ({got['frames']} frames)", flush=True)
    result: dict[str, Any] = {"clip": clip.name, "config": str(config_path), "camera": camera.id,
                              "fps": fps, "cpu_cores": os.cpu_count(), "threads": plan.as_dict(),
                              "detector": cfg.models.detector.model, "pose": cfg.models.pose.model,
                              "post_crops_model": cfg.models.post_crops_model,
                              "phone_cascade": cfg.models.phone_cascade.model if cfg.models.phone_cascade.enabled
                              else None,
                              "modes": {m: _median_of(v) for m, v in runs.items()},
                              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    ratios = {}
    for m in ("naive", "ultralytics"):
        if m in runs and "optimised" in runs:
            pairs = [a["cpu_s"] / b["cpu_s"] for a, b in zip(runs[m], runs["optimised"], strict=True) if b["cpu_s"]]
            ratios[f"{m}_over_optimised_cpu"] = round(statistics.median(pairs), 2) if pairs else None
    result["ratios"] = ratios
    if "naive" in runs and "optimised" in runs:
        result["same_events"] = result["modes"]["naive"]["events"] == result["modes"]["optimised"]["events"]
    return result


def _print(result: dict[str, Any]) -> None:
    modes = result["modes"]
    print(f"\n{'mode':<12} {'CPU-s/frame':>11} {'analysed fps':>12} {'x real time':>11} {'frames':>6}")
    for m, v in modes.items():
        xr = f"{v['x_realtime']:.2f}" if "x_realtime" in v else "-"
        print(f"{m:<12} {v['cpu_per_frame_s']:>11.3f} {v['analysed_fps']:>12.2f} {xr:>11} {int(v['frames']):>6}")
    names = sorted({k for v in modes.values() for k in v.get("stages_cpu_per_frame_s", {})})
    if names:
        cols = [m for m in modes if "stages_cpu_per_frame_s" in modes[m]]
        print(f"\n{'stage (CPU-s/frame)':<20}" + "".join(f"{m:>12}" for m in cols))
        for k in names:
            print(f"{k:<20}" + "".join(f"{modes[m]['stages_cpu_per_frame_s'].get(k, 0.0):>12.4f}" for m in cols))
    for k, v in result["ratios"].items():
        print(f"{k}: {v}")
    if "same_events" in result:
        print(f"same events in both modes: {result['same_events']}")
    print(f"threads: {result['threads']}; peak RSS {result['peak_rss_mb']:.0f} MB")
