"""Pay only for change: motion gating per post region and per-track model cadence.

`MotionGate` keeps a small grey copy of each post region as it was when the region
was last analysed. A region whose pixels have not changed (fewer than `min_area`
of them by more than `pixel_delta` grey levels) is still: its post reuses the
persons, skeletons and findings of its last analysis, while detection, tracking
and the rules run on every frame, so rule timers keep running. The reference is
the frame of the last refresh, not the previous frame, so slow changes add up
and are seen. `refresh_s` bounds how old a reused result can be. A region that
keeps moving (a clerk typing) is analysed again every `moving_every_s`, not on
every analysed frame: the pose cadence per track, applied to the post crop.

`TrackMemo` remembers one model's last result per track id, with its time and
box; a result is reused while it is younger than the cadence and (optionally)
while the track has not moved. A person the tracker has not confirmed is
remembered by place (a box overlapping the remembered one) instead of by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from pipeline.config.models import GatingConfig
from pipeline.core.boxes import box_iou


@dataclass
class _Region:
    box: np.ndarray  # frame pixels
    ref: np.ndarray | None = None  # small grey copy at the last refresh
    t: float | None = None  # time of the last refresh
    result: Any = None  # what the post's analysis gave at the last refresh
    peak: int = 0  # most entries seen recently, and when (a drop below it is re-checked)
    peak_t: float | None = None
    recheck: bool = False  # the last result was a drop: analyse again at the moving cadence


@dataclass
class MotionGate:
    cfg: GatingConfig
    regions: list[_Region] = field(default_factory=list)
    _key: tuple | None = None
    last_changed: list[float] = field(default_factory=list)  # changed fraction per region, last frame

    def _small(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = image.shape[:2]
        sw = min(self.cfg.width, w)
        sh = max(1, round(h * sw / w))
        grey = cv2.cvtColor(cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (3, 3), 0), sw / w

    def due(self, image: np.ndarray, t: float, boxes: list[np.ndarray]) -> list[bool]:
        """Which regions must be analysed now: moved (and last analysed moving_every_s ago or more), never
        seen, re-checking a drop, older than refresh_s, or gating off.

        Due regions take this frame as their new reference; the caller stores their
        new result with `store`.
        """
        key = (image.shape[:2], tuple(tuple(np.round(b, 1)) for b in boxes))
        if key != self._key:
            self._key = key
            self.regions = [_Region(box=np.asarray(b, np.float32)) for b in boxes]
        if not self.cfg.enabled:
            self.last_changed = [1.0] * len(boxes)
            return [True] * len(boxes)
        small, scale = self._small(image)
        out, changed = [], []
        for r in self.regions:
            x1, y1, x2, y2 = (int(v) for v in np.round(r.box * scale))
            x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
            cur = small[y1:y2, x1:x2]
            if r.ref is None or r.t is None or t - r.t >= self.cfg.refresh_s or r.ref.shape != cur.shape:
                frac = 1.0
            else:
                frac = float(np.count_nonzero(cv2.absdiff(cur, r.ref) > self.cfg.pixel_delta)) / max(1, cur.size)
            age = None if r.t is None else t - r.t
            moved = (frac > self.cfg.min_area or r.recheck) and (age is None or age >= self.cfg.moving_every_s)
            go = moved or r.ref is None or age is None or age >= self.cfg.refresh_s
            if go:
                r.ref, r.t = cur.copy(), t
            out.append(go)
            changed.append(frac)
        self.last_changed = changed
        return out

    def store(self, i: int, result: Any) -> None:
        """Keep region i's new result. A result with fewer entries than the region held within the last
        refresh_s is a drop: the region is due again every moving_every_s (as if it moved) until the
        entries are back or the drop has lasted refresh_s. A model's miss is never held as an emptier
        post for longer than moving_every_s."""
        r = self.regions[i]
        n = len(result) if result is not None else 0
        now = r.t
        if n >= r.peak or r.peak_t is None or now is None or now - r.peak_t >= self.cfg.refresh_s:
            r.peak, r.peak_t = n, now
            r.recheck = False
        else:
            r.recheck = True  # due again at the moving cadence: the drop must hold for refresh_s to be believed
        r.result = result

    def result(self, i: int) -> Any:
        return self.regions[i].result


@dataclass
class TrackMemo:
    """One model's last result per track: (time, box, result).

    A person the tracker has not confirmed (a weak detection, such as a seated clerk
    found only on a post crop at low confidence) has a provisional id that changes
    every frame. Their results are kept by place instead: a provisional person whose
    box overlaps a remembered provisional box by at least `spot_iou` (IoU) is taken
    to be the same person sitting still, and gets that result while it is young enough.
    """

    entries: dict[int, tuple[float, np.ndarray, Any]] = field(default_factory=dict)
    spots: list[tuple[float, np.ndarray, Any]] = field(default_factory=list)  # provisional persons, by place
    spot_iou: float = 0.8

    def get(self, track_id: int, t: float, box: np.ndarray, max_age_s: float, move_iou: float = 0.0) -> Any:
        """The remembered result, or None when there is none, it is too old, or the track moved."""
        got = self.lookup(track_id, t, box, max_age_s, move_iou)
        return None if got is None else got[1]

    def lookup(self, track_id: int, t: float, box: np.ndarray, max_age_s: float,
               move_iou: float = 0.0) -> tuple[float, Any] | None:
        """(time measured, result) as `get` finds it, or None."""
        if max_age_s <= 0:
            return None
        if track_id <= 0:
            return self._spot(t, box, max_age_s)
        got = self.entries.get(int(track_id))
        if got is None:
            return None
        t0, box0, res = got
        if t - t0 >= max_age_s or t < t0:
            return None
        if move_iou > 0 and float(box_iou(box0[None], np.asarray(box)[None])[0, 0]) < move_iou:
            return None
        return t0, res

    def _spot(self, t: float, box: np.ndarray, max_age_s: float) -> tuple[float, Any] | None:
        young = [(t0, b, r) for t0, b, r in self.spots if 0 <= t - t0 < max_age_s]
        if not young:
            return None
        ious = box_iou(np.asarray(box, np.float32)[None], np.stack([b for _, b, _ in young]))[0]
        k = int(np.argmax(ious))
        return (young[k][0], young[k][2]) if float(ious[k]) >= self.spot_iou else None

    def put(self, track_id: int, t: float, box: np.ndarray, result: Any) -> None:
        b = np.asarray(box, np.float32).copy()
        if track_id > 0:
            self.entries[int(track_id)] = (t, b, result)
            return
        if self.spots:  # one spot per place: the newest result replaces the ones it overlaps
            ious = box_iou(b[None], np.stack([sb for _, sb, _ in self.spots]))[0]
            self.spots = [sp for sp, iou in zip(self.spots, ious, strict=True) if float(iou) < self.spot_iou]
        self.spots.append((t, b, result))

    def prune(self, t: float, keep_s: float) -> None:
        for k in [k for k, (t0, _, _) in self.entries.items() if t - t0 > keep_s]:
            del self.entries[k]
        self.spots = [sp for sp in self.spots if t - sp[0] <= keep_s]
