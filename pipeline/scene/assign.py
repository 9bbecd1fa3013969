"""Zones -> who is staff of which post, who is a customer, which objects lie on which desk.

A person's anchor is the mid-hip keypoint when visible (counters hide feet), else a
point at 70 % of the box height. A person whose anchor falls in a post's seat zone
is staff of that post; in the staff area, staff without a post; in a post's customer
zone or a waiting area, a customer. A camera with no zones at all (a bare image)
treats everyone as staff, so the frame-level judgement of the rules still applies.
"""

from __future__ import annotations

import datetime as dt

import cv2
import numpy as np

from pipeline.config.models import CameraConfig
from pipeline.core.skeleton import KP
from pipeline.core.types import Detections
from pipeline.scene.facts import ObjectFact, PersonFact, PostFacts, SceneFacts

HIP_CONF = 0.3
TABLE_CLASSES = frozenset({"dining table", "desk", "table"})


def to_pixels(poly: list[list[float]], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return (np.asarray(poly, np.float32) * np.array([w, h], np.float32)).astype(np.float32)


def in_polygon(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(n,) bool: which of the (n,2) points lie inside the polygon or on its edge (cv2.pointPolygonTest)."""
    contour = np.asarray(poly, np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0
                     for x, y in np.asarray(pts, np.float64).reshape(-1, 2)], bool)


def in_any(polys: list[np.ndarray], pts: np.ndarray) -> np.ndarray:
    """(n,) bool: which points lie in at least one of the polygons."""
    out = np.zeros(len(pts), bool)
    for poly in polys:
        out |= in_polygon(poly, pts)
    return out


def person_anchors(persons: Detections) -> np.ndarray:
    """(n,2) anchor points: mid-hip when both hips are visible, else 70 % down the box."""
    x = persons.xyxy
    anchors = np.stack([(x[:, 0] + x[:, 2]) / 2, x[:, 1] + 0.7 * (x[:, 3] - x[:, 1])], axis=1)
    if persons.keypoints is not None and len(persons):
        hips = persons.keypoints[:, [KP["left_hip"], KP["right_hip"]]]
        ok = (persons.keypoint_conf[:, [KP["left_hip"], KP["right_hip"]]] >= HIP_CONF).all(axis=1)
        anchors[ok] = hips[ok].mean(axis=1)
    return anchors


class SceneAssigner:
    """Turns one frame's tracked persons and objects into SceneFacts for one camera."""

    def __init__(self, camera: CameraConfig):
        self.camera = camera
        self._size: tuple[int, int] | None = None
        self._zones: dict[str, object] = {}
        self.has_zones = bool(camera.posts or camera.waiting or camera.staff_area)

    def zones_px(self, size: tuple[int, int]) -> dict:
        """Pixel polygons, cached per frame size: {'posts': {id: {seat, desk, customer}}, 'waiting': [...], ...}"""
        if self._size != size:
            self._size = size
            self._zones = {
                "posts": {
                    p.id: {k: to_pixels(getattr(p, k), size) for k in ("seat", "desk", "customer")
                           if getattr(p, k) is not None}
                    for p in self.camera.posts
                },
                "waiting": [to_pixels(z, size) for z in self.camera.waiting],
                "staff_area": [to_pixels(z, size) for z in self.camera.staff_area],
            }
        return self._zones

    def roles(self, persons: Detections, size: tuple[int, int]) -> tuple[list[str], list[str | None], list[bool]]:
        """role, post_id and in_staff_area for each person."""
        n = len(persons)
        if not self.has_zones:
            return ["staff"] * n, [None] * n, [False] * n
        z = self.zones_px(size)
        anchors = person_anchors(persons)
        centers = persons.centers
        seated = {pid: in_polygon(pz["seat"], anchors) | in_polygon(pz["seat"], centers)
                  for pid, pz in z["posts"].items()}
        in_staff_area = in_any(z["staff_area"], anchors)
        in_customer = in_any([pz["customer"] for pz in z["posts"].values() if "customer" in pz], anchors)
        in_customer |= in_any(z["waiting"], anchors)
        roles: list[str] = []
        posts: list[str | None] = []
        area: list[bool] = []
        for i in range(n):
            role, post, in_area = "unknown", None, False
            for pid, seat in seated.items():
                if seat[i]:
                    role, post = "staff", pid
                    break
            if role == "unknown" and in_staff_area[i]:
                role, in_area = "staff", True
            if role == "unknown" and in_customer[i]:
                role = "customer"
            roles.append(role)
            posts.append(post)
            area.append(in_area)
        return roles, posts, area

    def facts(self, source_id: str, t: float, wall: dt.datetime | None, size: tuple[int, int],
              persons: Detections, objects: Detections, *, online: bool = True,
              assigned: tuple[list[str], list[str | None], list[bool]] | None = None) -> SceneFacts:
        """`assigned`: the result of `roles(persons, size)` when the caller already has it."""
        roles, post_ids, in_area = assigned if assigned is not None else self.roles(persons, size)
        tids = persons.tracker_id if persons.tracker_id is not None else -np.arange(1, len(persons) + 1)
        pfacts = []
        pose_t = persons.data.get("pose_t")
        for i in range(len(persons)):
            pfacts.append(PersonFact(
                track_id=int(tids[i]), xyxy=persons.xyxy[i], confidence=float(persons.confidence[i]),
                role=roles[i], post_id=post_ids[i],  # type: ignore[arg-type]
                keypoints=None if persons.keypoints is None else persons.keypoints[i],
                keypoint_conf=None if persons.keypoint_conf is None else persons.keypoint_conf[i],
                in_staff_area=in_area[i],
                pose_t=None if pose_t is None or not np.isfinite(pose_t[i]) else float(pose_t[i]),
            ))
        ofacts = self._objects(objects, size, pfacts)
        posts: dict[str, PostFacts] = {}
        waiting = 0
        if self.has_zones:
            z = self.zones_px(size)
            anchors = person_anchors(persons)
            for pid, pz in z["posts"].items():
                staff = tuple(p.track_id for p in pfacts if p.role == "staff" and p.post_id == pid)
                cust = 0
                if "customer" in pz:
                    here = in_polygon(pz["customer"], anchors)
                    cust = sum(1 for i, p in enumerate(pfacts) if p.role == "customer" and here[i])
                posts[pid] = PostFacts(pid, staff, cust)
            in_waiting = in_any(z["waiting"], anchors)
            waiting = sum(1 for i, p in enumerate(pfacts) if p.role == "customer" and in_waiting[i])
        return SceneFacts(source_id=source_id, t=t, wall=wall, frame_size=size, persons=tuple(pfacts),
                          objects=tuple(ofacts), posts=posts, waiting_count=waiting, online=online)

    def _objects(self, objects: Detections, size: tuple[int, int], persons: list[PersonFact]) -> list[ObjectFact]:
        out: list[ObjectFact] = []
        if not len(objects):
            return out
        centers = objects.centers
        tables = objects.xyxy[np.isin(objects.class_name.astype(str), list(TABLE_CLASSES))]
        z = self.zones_px(size) if self.has_zones else None
        on_desks = {} if z is None else {pid: in_polygon(pz["desk"], centers)
                                         for pid, pz in z["posts"].items() if "desk" in pz}
        for i in range(len(objects)):
            name = str(objects.class_name[i])
            if name in TABLE_CLASSES:
                continue
            post_id, on_desk = None, False
            if z is not None:
                for pid, here in on_desks.items():
                    if here[i]:
                        post_id, on_desk = pid, True
                        break
            else:
                on_desk = _on_table(centers[i], tables) or _at_desk_level(objects.xyxy[i], persons)
            out.append(ObjectFact(class_name=name, xyxy=objects.xyxy[i], confidence=float(objects.confidence[i]),
                                  post_id=post_id, on_desk=on_desk,
                                  track_id=None if objects.tracker_id is None else int(objects.tracker_id[i])))
        return out


def _on_table(center: np.ndarray, tables: np.ndarray) -> bool:
    for x1, y1, x2, y2 in tables:
        pad_x, pad_y = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
        if x1 - pad_x <= center[0] <= x2 + pad_x and y1 - pad_y <= center[1] <= y2 + pad_y:
            return True
    return False


def _at_desk_level(box: np.ndarray, persons: list[PersonFact]) -> bool:
    """No table detected: an object whose bottom is below a seated person's mid-height, beside them."""
    bx = (box[0] + box[2]) / 2
    for p in persons:
        x1, y1, x2, y2 = p.xyxy
        w, h = x2 - x1, y2 - y1
        if x1 - 0.75 * w <= bx <= x2 + 0.75 * w and y1 + 0.45 * h <= box[3] <= y2 + 0.3 * h:
            return True
    return False
