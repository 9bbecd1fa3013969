"""Webhook delivery through a persistent outbox in the database.

Why an outbox: a receiver that is down (a WeCom outage, a restarting integration)
must still get every alert afterwards, and a restart of counterwatch must not lose
what was queued. Each (webhook, event_id, state) is written once to `outbox`; a
dispatcher thread POSTs due rows, marks them delivered on a 2xx (and, for robot
webhooks, errcode 0), and otherwise retries that one alert with exponential backoff
until `alerts.retry_max_attempts`, after which the row is a dead letter (`dead_at`
set, logged with its delivery id, counted in /metrics and shown to admins). A failing
alert never holds back the others: only the later states of the same event wait
for it (start is delivered before end). Rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL so two
processes sharing one database never send the same row twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

import httpx
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from pipeline.alerts.payload import encode
from pipeline.config.models import WebhookConfig
from pipeline.core.types import SEVERITY_ORDER
from pipeline.events.schema import OutboxRow, utcnow
from pipeline.events.store import EventStore

log = logging.getLogger(__name__)


def wants(hook: WebhookConfig, alert: dict[str, Any]) -> bool:
    """Does this webhook take this alert (kind, state, severity, rule and camera filters)?"""
    if alert.get("kind", "event") != "event" or alert.get("state") not in hook.states:
        return False
    if SEVERITY_ORDER.get(alert.get("severity", "info"), 0) < SEVERITY_ORDER[hook.min_severity]:
        return False
    if hook.rules and alert.get("rule_id") not in hook.rules:
        return False
    return not (hook.cameras and alert.get("camera_id") not in hook.cameras)


class WebhookOutbox:
    """Enqueue alerts for the configured webhooks and deliver them (call `start()` for the thread)."""

    def __init__(self, store: EventStore, webhooks: list[WebhookConfig], *, retry_initial_s: float = 1.0,
                 retry_max_s: float = 300.0, poll_s: float = 0.5, client: httpx.Client | None = None,
                 max_attempts: int = 10):
        self.store = store
        self.hooks = {h.id: h for h in webhooks}
        self.retry_initial_s, self.retry_max_s, self.poll_s = retry_initial_s, retry_max_s, poll_s
        self.max_attempts = max_attempts
        self.dead = 0  # alerts given up on by this process (the outbox table keeps every one)
        self.client = client or httpx.Client(follow_redirects=False)
        self._own_client = client is None
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failures = 0
        self._lock = threading.Lock()

    # producer side -----------------------------------------------------------------------
    def enqueue(self, alert: dict[str, Any], session: Any = None) -> int:
        """Write one outbox row per webhook that wants the alert (idempotent); returns rows added.

        With `session`, the rows go into that open transaction (the event's own, see StoreSink):
        the event and its outbox rows are committed together or not at all.
        """
        if session is None:
            with self.store.session() as s, s.begin():
                added = self._add_rows(s, alert)
        else:
            added = self._add_rows(session, alert)
        if added:
            self._kick.set()
        return added

    def _add_rows(self, s: Any, alert: dict[str, Any]) -> int:
        added = 0
        for hook in self.hooks.values():
            if not wants(hook, alert):
                continue
            exists_ = s.scalar(select(OutboxRow.id).where(
                OutboxRow.sink == hook.id, OutboxRow.event_id == alert["event_id"],
                OutboxRow.state == alert["state"]).limit(1))
            if exists_ is None:
                s.add(OutboxRow(sink=hook.id, event_id=alert["event_id"], state=alert["state"], payload=alert,
                                attempts=0, next_at=utcnow()))
                added += 1
        return added

    # delivery side -----------------------------------------------------------------------
    def pending(self) -> int:
        """Alerts still to be delivered (dead letters are not pending)."""
        with self.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(OutboxRow)
                                .where(OutboxRow.delivered_at.is_(None), OutboxRow.dead_at.is_(None))) or 0)

    def dead_letters(self, limit: int = 50) -> list[dict[str, Any]]:
        return dead_letters(self.store, limit)

    def deliver_due(self, deadline: float | None = None) -> int:
        """One pass: per webhook, send every due row; a failed row waits out its own backoff.

        A webhook's pass ends after 3 failures in a row (the receiver is likely down), so a
        dead receiver is not hammered; the next pass starts again with whatever is due.
        """
        sent = 0
        for hook in self.hooks.values():
            failed_in_row = 0
            while (deadline is None or time.monotonic() < deadline) and failed_in_row < 3:
                outcome = self._deliver_one(hook)
                if outcome is None:
                    break
                if outcome:
                    sent += 1
                    failed_in_row = 0
                else:
                    failed_in_row += 1
        return sent

    def _deliver_one(self, hook: WebhookConfig) -> bool | None:
        """Claim and send the oldest due row of `hook`. None: nothing due; False: failed."""
        with self.store.session() as s, s.begin():
            earlier = aliased(OutboxRow)
            blocked = exists().where(and_(earlier.sink == OutboxRow.sink, earlier.event_id == OutboxRow.event_id,
                                          earlier.id < OutboxRow.id, earlier.delivered_at.is_(None),
                                          earlier.dead_at.is_(None)))
            q = (select(OutboxRow).where(OutboxRow.sink == hook.id, OutboxRow.delivered_at.is_(None),
                                         OutboxRow.dead_at.is_(None), OutboxRow.next_at <= utcnow(), ~blocked)
                 .order_by(OutboxRow.id).limit(1))
            if self.store.engine.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            row = s.scalars(q).first()
            if row is None:
                return None
            delivery_id = f"{hook.id}:{row.event_id}:{row.state}"
            error = self._post(hook, row.payload, delivery_id)
            if error is None:
                row.delivered_at = utcnow()
                row.attempts += 1
                with self._lock:
                    self.delivered += 1
                return True
            delay = min(self.retry_initial_s * (2 ** row.attempts), self.retry_max_s)
            row.attempts += 1
            row.next_at = utcnow() + dt.timedelta(seconds=delay)
            row.last_error = error[:500]
            with self._lock:
                self.failures += 1
            if row.attempts >= self.max_attempts:
                row.dead_at = utcnow()
                with self._lock:
                    self.dead += 1
                log.error("webhook %s: delivery %s dropped after %d attempts (last error: %s); kept as a dead "
                          "letter in the outbox", hook.id, delivery_id, row.attempts, error)
                return False
            log.warning("webhook %s: delivery %s failed (%s); retry in %.1f s", hook.id, delivery_id, error, delay)
            return False

    def _post(self, hook: WebhookConfig, alert: dict[str, Any], delivery_id: str) -> str | None:
        url, body, headers = encode(hook.kind, alert, hook.url, hook.secret, delivery_id)
        try:
            resp = self.client.post(url, content=body, headers=headers, timeout=hook.timeout_s)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if not 200 <= resp.status_code < 300:
            return f"HTTP {resp.status_code}"
        if hook.kind in ("wecom", "dingtalk"):  # robots answer 200 with errcode != 0 on errors
            try:
                code = resp.json().get("errcode", 0)
            except ValueError:
                code = 0
            if code not in (0, "0"):
                return f"errcode {code}: {resp.text[:200]}"
        return None

    # thread ------------------------------------------------------------------------------
    def start(self) -> WebhookOutbox:
        if self.hooks and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="webhook-outbox", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due(deadline=time.monotonic() + 10.0)
            except Exception:  # a DB hiccup must not kill delivery for good
                log.exception("webhook outbox pass failed")
            self._kick.wait(self.poll_s)
            self._kick.clear()

    def close(self, flush_timeout_s: float = 3.0) -> None:
        """Stop the thread after one last pass (undelivered rows stay in the outbox for the next start)."""
        if self._thread is not None:
            self._stop.set()
            self._kick.set()
            self._thread.join(timeout=30)
            self._thread = None
        if self.hooks and flush_timeout_s > 0:
            try:
                self.deliver_due(deadline=time.monotonic() + flush_timeout_s)
            except Exception:
                log.exception("webhook outbox: final pass failed")
        if self._own_client:
            self.client.close()


def dead_letters(store: EventStore, limit: int = 50) -> list[dict[str, Any]]:
    """The newest dead letters: alerts given up on after the attempt limit (for admins and /metrics)."""
    with store.session() as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.dead_at.is_not(None))
                         .order_by(OutboxRow.dead_at.desc()).limit(limit))
        return [{"id": r.id, "webhook": r.sink, "event_id": r.event_id, "state": r.state, "attempts": r.attempts,
                 "last_error": r.last_error, "dead_at": r.dead_at.isoformat() if r.dead_at else None} for r in rows]
