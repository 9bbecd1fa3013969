"""A day of a three-post hall written into a real EventStore, with known answers for the report tests.

Thursday 2026-11-26, opening 08:30-17:30 with a 12:00-12:30 break.
- P1 (1号窗口, 张三): seen absent 08:20-08:35, so 5 min late; present until 17:31 except 11:05-11:18
  and 12:00-12:40.
- P2 (2号窗口, 李四): at the post from 08:10 (on time), absent 11:00-11:20, leaves at 17:00 (30 min early).
- P3 (3号窗口, 王五 on leave): camera cam2 offline 08:00-10:00 (unknown), present 10:00-17:30.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.core.types import Event
from pipeline.events.store import EventStore
from pipeline.settings import SiteConfig, parse_config

DAY = dt.date(2026, 11, 26)

CONFIG_YAML = """
site:
  id: hall1
  name: 示范客服大厅
  opening_hours:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      start: "08:30"
      end: "17:30"
  breaks:
    - {start: "12:00", end: "12:30"}
cameras:
  - id: cam1
    filename_pattern: cam1_%Y%m%d_%H%M%S
    posts:
      - {id: P1, name: 1号窗口, seat: [[0, 0.3], [0.5, 0.3], [0.5, 1], [0, 1]]}
      - {id: P2, name: 2号窗口, seat: [[0.5, 0.3], [1, 0.3], [1, 1], [0.5, 1]]}
  - id: cam2
    filename_pattern: cam2_%Y%m%d_%H%M%S
    posts:
      - {id: P3, name: 3号窗口, seat: [[0, 0.3], [1, 0.3], [1, 1], [0, 1]]}
roster:
  staff:
    - {id: s1, name: 张三, post: P1}
    - {id: s2, name: 李四, post: P2}
    - {id: s3, name: 王五, post: P3}
  duties:
    - {id: D1, name: 综合业务, a: {staff: s1, post: P1}, b: {staff: s2, post: P2}}
  leave:
    - {staff: s3, date: 2026-11-26}
"""

PRESENCE = {
    ("cam1", "P1"): [("08:20", "08:35", "absent"), ("08:35", "11:05", "present"), ("11:05", "11:18", "absent"),
                     ("11:18", "12:00", "present"), ("12:00", "12:40", "absent"), ("12:40", "17:31", "present")],
    ("cam1", "P2"): [("08:10", "11:00", "present"), ("11:00", "11:20", "absent"), ("11:20", "17:00", "present"),
                     ("17:00", "17:40", "absent")],
    ("cam2", "P3"): [("10:00", "17:30", "present")],
}

# rule_id, article, camera, post, start, end, severity, source, verdict
EVENTS = [
    ("post.unattended", "第二十条", "cam1", "P1", "12:02", "12:38", "medium", "batch", "confirmed"),
    ("post.unattended", "第二十条", "cam1", "P2", "17:02", "17:30", "high", "batch", None),
    ("roster.ab_both_absent", "第二十一条", "cam1", "P1", "11:06", "11:17", "high", "batch", "confirmed"),
    ("phone.use", "第五十二条", "cam1", "P1", "09:12", "09:14", "medium", "batch", "confirmed"),
    ("phone.use", "第五十二条", "cam1", "P1", "15:40", "15:41", "high", "batch", "dismissed"),
    ("posture.head_down", "第五十三条", "cam1", "P2", "14:05", "14:07", "medium", "batch", None),
    ("desk.personal_items", "第四十七条", "cam2", "P3", "10:30", "11:45", "low", "batch", None),
    ("gesture.arms_crossed", "第二十九条", "cam2", "P3", "16:20", "16:21", "low", "batch", "dismissed"),
    # the live monitor saw fewer of them
    ("post.unattended", "第二十条", "cam1", "P1", "12:03", "12:37", "medium", "live", None),
    ("phone.use", "第五十二条", "cam1", "P1", "09:12", "09:14", "medium", "live", None),
]
PAST_LIVE = {1: 3, 2: 5, 4: 2, 6: 1}  # days before DAY -> live events that day


def config() -> SiteConfig:
    return parse_config(CONFIG_YAML, origin="seed")


def at(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=h, minutes=m)


def _event(i: int, rule: str, art: str, cam: str, post: str, start: dt.datetime, end: dt.datetime,
           sev: str) -> Event:
    base = dt.datetime.combine(start.date(), dt.time(8))
    s = (start - base).total_seconds()
    return Event(event_id=f"ev{start:%m%d}{i:04d}{cam}", rule_id=rule, article=art, source_id=cam, post_id=post,
                 track_ids=(i,), state="end", severity=sev, start_s=s, end_s=s + (end - start).total_seconds(),
                 site_id="hall1", wall_start=start.timestamp(), details={"duration_s": (end - start).total_seconds()})


def seed(data_dir: Path, snapshot_image: Path | None = None) -> EventStore:
    """Fill a fresh store in data_dir; snapshots are written from `snapshot_image` when given."""
    import cv2

    store = EventStore.for_dir(data_dir)
    img = cv2.imread(str(snapshot_image)) if snapshot_image else None
    for i, (rule, art, cam, post, s, e, sev, source, verdict) in enumerate(EVENTS):
        ev = _event(i, rule, art, cam, post, at(s), at(e), sev)
        if rule == "roster.ab_both_absent":
            ev = ev.with_(details={**ev.details, "duty": "D1"})
        store.record_event(ev, source=source, recording=f"/rec/{cam}_{DAY:%Y%m%d}_080000.mp4")
        if img is not None:
            rel = f"snapshots/{ev.event_id}.jpg"
            (data_dir / "snapshots").mkdir(exist_ok=True)
            cv2.imwrite(str(data_dir / rel), img)
            store.set_evidence(ev.event_id, snapshot=rel, status="ready")
        if verdict:
            store.add_review(ev.event_id, verdict, "seen on clip", "supervisor1")
    for back, n in PAST_LIVE.items():
        day = DAY - dt.timedelta(days=back)
        for j in range(n):
            store.record_event(_event(100 + j, "phone.use", "第五十二条", "cam1", "P1", at("10:00", day),
                                      at("10:01", day), "medium"), source="live")
    rows = []
    for (cam, post), ivs in PRESENCE.items():
        for s, e, st in ivs:
            for source in ("batch", "live"):
                rows.append({"site_id": "hall1", "source": source, "camera_id": cam, "post_id": post, "state": st,
                             "start_s": 0.0, "end_s": (at(e) - at(s)).total_seconds(), "wall_start": at(s),
                             "wall_end": at(e), "recording": f"/rec/{cam}_{DAY:%Y%m%d}_080000.mp4"})
    store.add_presence(rows)
    oid = store.open_outage("cam2", at("08:00"), "stream lost", site_id="hall1")
    store.close_outage(oid, at("10:00"))
    return store
