"""AlertBus: filters, bounded per-subscriber queues, many threads publishing at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pipeline.alerts.bus import AlertBus, AlertFilter


def alert(i: int = 0, camera: str = "cam1", post: str = "P1", rule: str = "post.unattended", sev: str = "medium"):
    return {"kind": "event", "event_id": f"e{i}", "state": "start", "camera_id": camera, "post_id": post,
            "rule_id": rule, "severity": sev}


@pytest.mark.parametrize("flt, a, expected", [
    (AlertFilter(), alert(), True),
    (AlertFilter.parse(camera="cam2"), alert(), False),
    (AlertFilter.parse(camera="cam2,cam1"), alert(), True),
    (AlertFilter.parse(post="P2"), alert(), False),
    (AlertFilter.parse(rule="phone.use"), alert(), False),
    (AlertFilter.parse(min_severity="high"), alert(sev="medium"), False),
    (AlertFilter.parse(min_severity="medium"), alert(sev="high"), True),
    (AlertFilter(), {**alert(), "kind": "tick"}, False),
])
def test_filter(flt, a, expected):
    assert flt.matches(a) is expected


def test_bad_severity_is_rejected():
    with pytest.raises(ValueError, match="severity"):
        AlertFilter.parse(min_severity="urgent")


def test_slow_subscriber_loses_oldest_and_never_blocks_the_publisher():
    bus = AlertBus()
    slow = bus.subscribe(maxsize=5)
    picky = bus.subscribe(AlertFilter.parse(camera="cam9"))
    for i in range(20):
        bus.publish(alert(i))
    assert slow.pending() == 5 and slow.dropped == 15
    assert [slow.get(0)["event_id"] for _ in range(5)] == ["e15", "e16", "e17", "e18", "e19"]
    assert picky.get(0.01) is None
    slow.close()
    assert bus.subscribers == 1


def test_concurrent_publishers_deliver_everything():
    bus = AlertBus()
    sub = bus.subscribe(maxsize=10_000)
    threads = [threading.Thread(target=lambda k=k: [bus.publish(alert(k * 1000 + i)) for i in range(500)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = set()
    while (a := sub.get(0)) is not None:
        got.add(a["event_id"])
    assert len(got) == 2000 and bus.published == 2000


def test_async_subscriber_is_woken_from_another_thread():
    bus = AlertBus()

    async def main():
        sub = bus.subscribe()
        sub.bind_loop()
        threading.Timer(0.05, bus.publish, args=(alert(7),)).start()
        got = await sub.aget(2.0)
        none = await sub.aget(0.05)
        sub.close()
        return got, none

    got, none = asyncio.run(main())
    assert got["event_id"] == "e7" and none is None
