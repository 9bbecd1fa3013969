"""EventStore: the one place that writes and reads the database.

An event is committed the moment it starts, so it survives a crash even if its
clip is never finished (the clip row then stays `pending` and is reported as
partial). SQLite runs in WAL mode; PostgreSQL is selected by URL.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select, text, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.core import private
from pipeline.core.errors import OutputError
from pipeline.core.types import Event
from pipeline.events import migrations, queries, serialize
from pipeline.events.schema import (
    CameraStateRow,
    ClipRow,
    EventRow,
    OutageRow,
    PresenceRow,
    ReviewRow,
    UprightRefRow,
)

log = logging.getLogger(__name__)
DB_NAME = "counterwatch.db"


# The schema version: the number of the newest Alembic revision (pipeline/events/migrations/versions).
SCHEMA_VERSION = migrations.version_of(migrations.head())


def db_url_for(data_dir: str | Path, url: str | None = None) -> str:
    return url or f"sqlite:///{Path(data_dir) / DB_NAME}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    if isinstance(dbapi_conn, sqlite3.Connection):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()


OPEN_STATES = ("start", "update")


def _as_wall(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch)


class EventStore:
    def __init__(self, url: str, *, create: bool = True):
        self.url = url
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        if create:
            self.migrate()

    @classmethod
    def for_dir(cls, data_dir: str | Path, url: str | None = None) -> EventStore:
        d = Path(data_dir)
        if url is None:
            try:
                private.make_dir(d)
                # a private probe file: parallel batch workers open the same folder at once
                with tempfile.NamedTemporaryFile(dir=d, prefix=".write-test-"):
                    pass
                # the database holds the password hashes: 0600 from the start (SQLite gives its
                # -wal and -shm files the database file's mode); older files are tightened
                os.close(os.open(d / DB_NAME, os.O_WRONLY | os.O_CREAT, private.FILE_MODE))
                for suffix in ("", "-wal", "-shm", "-journal"):
                    private.tighten(d / (DB_NAME + suffix))
            except OSError as exc:
                raise OutputError(f"{d}: output folder cannot be written ({exc.strerror})") from None
        try:
            return cls(db_url_for(d, url))
        except OperationalError as exc:
            raise OutputError(f"{db_url_for(d, url)}: cannot open database ({exc.orig})") from None

    def session(self) -> Session:
        return self._session()

    # schema --------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Bring the schema to the newest revision (Alembic); a database from before Alembic is stamped
        at the step it reached first. Nothing happens on a database already there."""
        return migrations.version_of(migrations.upgrade(self.engine))

    def schema_version(self) -> int:
        return migrations.version_of(migrations.current_revision(self.engine))

    # events --------------------------------------------------------------------------------
    def record_event(self, ev: Event, *, source: str = "live", recording: str | None = None,
                     also: Callable[[Session], Any] | None = None) -> None:
        """Insert on start, update on update/end. Commits at once; `also(session)` joins the same transaction."""
        try:
            with self.session() as s, s.begin():
                row = s.get(EventRow, ev.event_id)
                if row is None:
                    row = EventRow(event_id=ev.event_id)
                    s.add(row)
                    new = True
                else:
                    new = False
                row.site_id = ev.site_id
                row.source = source
                row.camera_id = ev.source_id
                row.post_id = ev.post_id
                row.rule_id = ev.rule_id
                row.article = ev.article
                row.severity = ev.severity
                row.state = ev.state
                row.start_s = ev.start_s
                row.end_s = ev.end_s
                row.wall_start = _as_wall(ev.wall_start)
                if ev.wall_start is not None and ev.end_s is not None:
                    row.wall_end = _as_wall(ev.wall_start + (ev.end_s - ev.start_s))
                row.track_ids = list(ev.track_ids)
                row.score = float(ev.score)
                row.details = serialize.jsonable(ev.details)
                row.superseded_at = None  # found (again) by this analysis
                if recording is not None:
                    row.recording = recording
                if new:
                    s.flush()  # the event row first: clips refer to it
                    if s.get(ClipRow, ev.event_id) is None:
                        s.add(ClipRow(event_id=ev.event_id, status="pending"))
                if also is not None:
                    s.flush()
                    also(s)
        except SQLAlchemyError as exc:
            raise OutputError(f"{self.url}: cannot write event {ev.event_id} ({exc.__class__.__name__}: {exc})") from None

    def set_evidence(self, event_id: str, *, clip: str | None = None, snapshot: str | None = None,
                     status: str | None = None, duration_s: float | None = None) -> None:
        with self.session() as s, s.begin():
            row = s.get(ClipRow, event_id)
            if row is None:
                row = ClipRow(event_id=event_id)
                s.add(row)
            if clip is not None:
                row.clip_path = clip
            if snapshot is not None:
                row.snapshot_path = snapshot
            if status is not None:
                row.status = status
            if duration_s is not None:
                row.duration_s = duration_s

    def mark_unfinished_clips_partial(self) -> int:
        """After a crash: clips still pending will never be finished."""
        with self.session() as s, s.begin():
            res = s.execute(text("UPDATE clips SET status='partial' WHERE status='pending'"))
            return int(res.rowcount or 0)

    def close_interrupted(self, *, source: str | None = None, recordings: Iterable[str] | None = None,
                          camera_ids: Iterable[str] | None = None, recorded: bool | None = None,
                          site_id: str | None = None) -> list[str]:
        """After a crash: events still open (start/update) are closed as `interrupted`; their clips go partial.

        Scoped to a source and to recordings or cameras, so a run never closes what a
        parallel run of another recording or camera has open. Returns the event ids.
        """
        with self.session() as s, s.begin():
            q = select(EventRow).where(EventRow.state.in_(OPEN_STATES))
            if site_id is not None:  # several sites may share one database (PostgreSQL)
                q = q.where(EventRow.site_id == site_id)
            if source is not None:
                q = q.where(EventRow.source == source)
            if recordings is not None:
                q = q.where(EventRow.recording.in_(list(recordings)))
            if camera_ids is not None:
                q = q.where(EventRow.camera_id.in_(list(camera_ids)))
            if recorded is not None:  # events of recordings (analyze, batch) or of live cameras
                q = q.where(EventRow.recording.is_not(None) if recorded else EventRow.recording.is_(None))
            ids = []
            for row in s.scalars(q):
                row.state = "interrupted"
                if row.end_s is None:
                    row.end_s = row.start_s
                    row.wall_end = row.wall_start
                ids.append(row.event_id)
            if ids:
                s.execute(update(ClipRow).where(ClipRow.event_id.in_(ids), ClipRow.status == "pending")
                          .values(status="partial"))
        if ids:
            log.warning("closed %d event(s) a crashed run left open as interrupted: %s", len(ids), ", ".join(ids))
        return ids

    def repair_evidence(self, evidence_dir: str | Path, event_ids: Iterable[str] | None = None,
                        site_id: str | None = None) -> dict[str, int]:
        """After a crash: remove orphan `.part.mp4` files and clear clip rows that point at missing files.

        A `.part.mp4` file (named `.<event id>.<random>.part.mp4` or `<event id>.part.mp4`) is an orphan when its
        event's clip is no longer pending; with `event_ids`, only those events' files are
        looked at (parallel writers of other events are left alone).
        """
        root = Path(evidence_dir)
        wanted = None if event_ids is None else set(event_ids)
        removed = missing = 0
        with self.session() as s, s.begin():
            for part in sorted((root / "clips").glob("*.part.mp4")):  # `.<id>.<random>.part.mp4` or `<id>.part.mp4`
                eid = part.name.lstrip(".").split(".", 1)[0]
                if wanted is not None and eid not in wanted:
                    continue
                row = s.get(ClipRow, eid)
                if row is not None and row.status == "pending":
                    continue  # still being written
                try:
                    part.unlink()
                    removed += 1
                    log.warning("removed orphan clip file %s (event %s)", part, eid)
                except OSError as exc:
                    log.error("cannot remove orphan clip file %s: %s", part, exc.strerror)
            q = select(ClipRow).where(ClipRow.status.in_(("partial", "ready")), ClipRow.clip_path.is_not(None))
            if wanted is not None:
                q = q.where(ClipRow.event_id.in_(list(wanted)))
            if site_id is not None:  # another site's clips live in its own data folder
                q = q.where(ClipRow.event_id.in_(select(EventRow.event_id).where(EventRow.site_id == site_id)))
            for row in s.scalars(q):
                if not (root / row.clip_path).exists():
                    log.warning("event %s: clip %s does not exist: marked missing", row.event_id, row.clip_path)
                    row.clip_path = None
                    row.status = "missing"
                    missing += 1
        return {"orphans_removed": removed, "clips_missing": missing}

    def get_event(self, event_id: str) -> dict[str, Any] | None:
        rec = queries.event(self, event_id)
        return None if rec is None else serialize.event_dict(rec)

    def list_events(self, *, camera_id: str | None = None, post_id: str | None = None, rule_id: str | None = None,
                    severity: str | None = None, source: str | None = None, site_id: str | None = None,
                    since: dt.datetime | None = None, until: dt.datetime | None = None,
                    limit: int = 500, offset: int = 0, include_superseded: bool = False) -> list[dict[str, Any]]:
        q = queries.EventQuery(camera_id=camera_id, post_id=post_id, rule_id=rule_id, severity=severity,
                               source=source, site_id=site_id, since=since, until=until,
                               include_superseded=include_superseded)
        return [serialize.event_dict(r) for r in queries.events(self, q, limit=limit, offset=offset)]

    def events_changed_since(self, since: dt.datetime | None, limit: int = 500) -> list[dict[str, Any]]:
        """Events inserted or updated after `since` (UTC, as stored), oldest change first."""
        q = queries.EventQuery(changed_after=since, include_superseded=True)
        return [{**serialize.event_dict(r), "updated_at": r.updated_at}
                for r in queries.events(self, q, order="changed", limit=limit)]

    def last_change(self) -> dt.datetime | None:
        return queries.last_change(self)

    def count_events(self, *, include_superseded: bool = False) -> int:
        return queries.count_events(self, queries.EventQuery(include_superseded=include_superseded))

    # reviews -------------------------------------------------------------------------------
    def add_review(self, event_id: str, verdict: str, reason: str, reviewer: str, note: str = "") -> None:
        if verdict not in ("confirmed", "dismissed", "withdrawn"):  # withdrawn: back to unreviewed (an undo)
            raise ValueError(f"verdict must be confirmed, dismissed or withdrawn, got {verdict!r}")
        with self.session() as s, s.begin():
            if s.get(EventRow, event_id) is None:
                raise KeyError(event_id)
            s.add(ReviewRow(event_id=event_id, verdict=verdict, reason=reason, reviewer=reviewer, note=note))

    def reviews(self, event_id: str) -> list[dict[str, Any]]:
        return [{"verdict": r.verdict, "reason": r.reason, "reviewer": r.reviewer, "note": r.note,
                 "at": r.at.isoformat()} for r in queries.reviews(self, event_id)]

    # presence and outages ------------------------------------------------------------------
    def add_presence(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        with self.session() as s, s.begin():
            s.add_all(PresenceRow(**r) for r in rows)

    def open_outage(self, camera_id: str, start: dt.datetime, reason: str, site_id: str = "default") -> int:
        with self.session() as s, s.begin():
            row = OutageRow(camera_id=camera_id, start=start, reason=reason, site_id=site_id)
            s.add(row)
            s.flush()
            return int(row.id)

    def close_outage(self, outage_id: int, end: dt.datetime) -> None:
        with self.session() as s, s.begin():
            row = s.get(OutageRow, outage_id)
            if row is not None:
                row.end = end

    def set_camera_state(self, camera_id: str, state: str, *, site_id: str = "default", fps: float = 0.0,
                         drop_rate: float = 0.0, latency_s: float = 0.0) -> None:
        with self.session() as s, s.begin():
            row = s.get(CameraStateRow, camera_id)
            if row is None:
                row = CameraStateRow(camera_id=camera_id)
                s.add(row)
            row.site_id, row.state, row.fps, row.drop_rate, row.latency_s = site_id, state, fps, drop_rate, latency_s

    # learned upright references -----------------------------------------------------------
    def save_upright(self, rows: Iterable[dict[str, Any]], site_id: str = "default") -> None:
        """Upsert learned references: rows of {camera_id, post_id, angle_deg, n_samples, samples}."""
        rows = list(rows)
        if not rows:
            return
        with self.session() as s, s.begin():
            for r in rows:
                key = (site_id, str(r["camera_id"]), str(r["post_id"]))
                row = s.get(UprightRefRow, key)
                if row is None:
                    row = UprightRefRow(site_id=key[0], camera_id=key[1], post_id=key[2])
                    s.add(row)
                row.angle_deg = None if r.get("angle_deg") is None else float(r["angle_deg"])
                row.n_samples = int(r.get("n_samples") or 0)
                row.samples = [float(x) for x in r.get("samples") or []]

    def load_upright(self, camera_id: str, site_id: str = "default") -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.scalars(select(UprightRefRow).where(UprightRefRow.site_id == site_id,
                                                         UprightRefRow.camera_id == camera_id))
            return [{"camera_id": r.camera_id, "post_id": r.post_id, "angle_deg": r.angle_deg,
                     "n_samples": r.n_samples, "samples": list(r.samples or [])} for r in rows]

    def close(self) -> None:
        self.engine.dispose()
