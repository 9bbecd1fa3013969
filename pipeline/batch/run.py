"""Nightly batch: analyse a day's recordings in parallel, resumable and idempotent.

Files are spread over a spawn-context process pool (one store connection per
worker) or, with `executor="ray"`, over Ray tasks running the very same
`analyze_one`. The overall progress bar sits on line 0 and each worker draws
its file's bar on its own line. Throughput is reported as seconds of video per
second of wall clock ("x real time").
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pipeline.batch.discover import discover
from pipeline.batch.ledger import config_version
from pipeline.batch.worker import Job, Outcome, analyze_one, init_worker
from pipeline.core.errors import ConfigError, CounterwatchError
from pipeline.events.sinks import rewrite_jsonl
from pipeline.events.siteconfig import remember as remember_config
from pipeline.events.store import EventStore
from pipeline.settings import SiteConfig

EXECUTORS = ("process", "ray")


@dataclass
class BatchSummary:
    day: dt.date
    found: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def of(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def video_s(self) -> float:
        return sum(o.video_s for o in self.of("done"))

    @property
    def x_real_time(self) -> float:
        return self.video_s / self.wall_s if self.wall_s > 0 else 0.0

    def lines(self) -> list[str]:
        done, skipped, failed = self.of("done"), self.of("skipped"), self.of("failed")
        errors = self.of("error")
        out = [f"batch {self.day}: {self.found} recording(s): {len(done)} analysed, {len(skipped)} skipped "
               f"(already done), {len(failed)} failed; {sum(o.events for o in done)} new event(s)"]
        if errors:
            out[0] += f"; {len(errors)} not analysed because of an installation error (retried next run)"
        for o in failed:
            out.append(f"FAILED {o.path}: {_reason(o)}")
        for o in errors:
            out.append(f"ERROR  {o.path}: not analysed: {_reason(o)}")
        if done:
            out.append(f"{self.video_s:.1f} s of video in {self.wall_s:.1f} s wall clock = "
                       f"{self.x_real_time:.2f} x real time")
        else:
            out.append("nothing new to analyse (0.00 x real time)")
        return out


def run_batch(cfg: SiteConfig, day: dt.date, recordings_dir: str | Path, data_dir: str | Path, *,
              workers: int | None = None, fps: float | None = None, executor: str = "process",
              ray_address: str | None = None, db_url: str | None = None, progress: bool = True,
              retry_failed: bool = False, echo: Callable[[str], None] | None = None,
              config_origin: str | None = None) -> BatchSummary:
    """Analyse every recording of `day` not yet in the ledger; returns what happened to each file."""
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor: unknown executor {executor!r} (choose {', '.join(EXECUTORS)})")
    if fps is not None and not (0 < fps <= 60):
        raise ConfigError(f"--fps: must be between 0 and 60, got {fps}")
    echo = echo or (lambda line: tqdm.write(line, file=sys.stdout))
    found = discover(recordings_dir, cfg, day)
    store = EventStore.for_dir(data_dir, db_url)  # migrate once here, before the workers race to
    remember_config(data_dir, cfg, origin=config_origin or "batch", command="batch", day=day)
    store.close()
    result = BatchSummary(day=day, found=len(found.recordings), unmatched=[str(p) for p in found.unmatched])
    if not found.recordings:
        return result
    cfg_json = cfg.model_dump(mode="json", by_alias=True)
    version = config_version(cfg_json, fps)
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(found.recordings)))
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    jobs = [Job(path=str(r.path), camera_id=r.camera_id, start=r.start, config=cfg_json, config_version=version,
                data_dir=str(data_dir), db_url=db_url, fps=fps, progress=progress, retry_failed=retry_failed,
                threads=min(threads, cfg.models.detector.threads_or(threads)))
            for r in found.recordings]
    t0 = time.perf_counter()
    bar = tqdm(total=len(jobs), desc=f"batch {day}", unit="file", position=0, disable=not progress,
               dynamic_ncols=True, leave=True)
    try:
        runner = _run_ray(jobs, n_workers, ray_address) if executor == "ray" else _run_pool(jobs, n_workers, progress)
        for outcome in runner:
            result.outcomes.append(outcome)
            bar.update(1)
            echo(_outcome_line(outcome))
    finally:
        bar.close()
    result.wall_s = time.perf_counter() - t0
    try:  # a resumed or re-run batch: events.jsonl follows the database (no stale or duplicate lines)
        store = EventStore.for_dir(data_dir, db_url)
        try:
            rewrite_jsonl(store, Path(data_dir) / "events.jsonl")
        finally:
            store.close()
    except CounterwatchError as exc:
        echo(f"ERROR   {exc}")
    order = {j.path: i for i, j in enumerate(jobs)}
    result.outcomes.sort(key=lambda o: order.get(o.path, 0))
    return result


def _outcome_line(o: Outcome) -> str:
    name = Path(o.path).name
    if o.status == "done":
        speed = o.video_s / o.wall_s if o.wall_s > 0 else 0.0
        return f"done    {o.camera_id} {name}: {o.events} event(s), {o.video_s:.1f} s video in {o.wall_s:.1f} s " \
               f"({speed:.2f} x real time)"
    if o.status == "skipped":
        return f"skipped {o.camera_id} {name}: {o.note}"
    if o.status == "error":
        return f"ERROR   {o.camera_id} {o.path}: not analysed (installation error, retried next run): {_reason(o)}"
    return f"FAILED  {o.camera_id} {o.path}: {_reason(o)}"


def _reason(o: Outcome) -> str:
    """The error without a leading copy of the path (the line already starts with it)."""
    return o.error.removeprefix(f"{o.path}: ")


def _run_pool(jobs: list[Job], n_workers: int, progress: bool) -> Iterator[Outcome]:
    ctx = get_context("spawn")
    slots = ctx.Queue()
    for i in range(n_workers):
        slots.put(i + 1)
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=init_worker,
                             initargs=(slots,)) as pool:
        pending = {pool.submit(analyze_one, j): j for j in jobs}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                job = pending.pop(fut)
                try:
                    yield fut.result()
                except Exception as exc:  # noqa: BLE001 - a crashed worker fails only its file
                    yield Outcome(path=job.path, camera_id=job.camera_id, status="failed",
                                  error=f"{job.path}: worker crashed ({exc.__class__.__name__}: {exc})")


def _import_ray() -> Any:
    try:
        import ray  # lazy: the ray extra
    except ImportError:
        raise CounterwatchError("--executor ray needs Ray, which is not installed: pip install counterwatch[ray]") \
            from None
    return ray


def _run_ray(jobs: list[Job], n_workers: int, address: str | None) -> Iterator[Outcome]:
    """The same per-file function as Ray tasks; local Ray unless an address is given."""
    ray = _import_ray()
    started_here = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "ignore_reinit_error": True, "configure_logging": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = n_workers
        try:
            ray.init(**kwargs)
        except Exception as exc:  # noqa: BLE001 - connection errors come in many types
            where = address or "a local Ray instance"
            raise CounterwatchError(f"--executor ray: cannot start or reach {where} ({exc})") from None
        started_here = True
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(analyze_one)
        refs = {task.remote(j): j for j in jobs}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                job = refs.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a lost task fails only its file
                    yield Outcome(path=job.path, camera_id=job.camera_id, status="failed",
                                  error=f"{job.path}: Ray task failed ({exc.__class__.__name__}: {exc})")
    finally:
        if started_here:
            ray.shutdown()
