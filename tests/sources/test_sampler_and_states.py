"""Sampling instants and the live state machine, without footage."""

from __future__ import annotations

import socket
import time

import pytest

from pipeline.sources import Sampler, open_source


def _kept(fps: float, times: list[float]) -> list[float]:
    s, out = Sampler(fps), []
    for t in times:
        if s.due(t):
            s.keep(t)
            out.append(t)
    return out


@pytest.mark.parametrize(
    "fps, times, expected",
    [
        (2.0, [i / 30 for i in range(61)], [0.0, 0.5, 1.0, 1.5, 2.0]),  # 30 fps -> every 15th frame
        (2.0, [i * 0.04 for i in range(51)], [0.0, 0.52, 1.0, 1.52, 2.0]),  # 25 fps: first frame at/after
        (1.0, [0.0, 0.4, 5.2, 5.3, 6.1, 6.2, 7.0], [0.0, 5.2, 6.1, 7.0]),  # a gap does not cause a burst
        (10.0, [0.0, 1.0, 2.0], [0.0, 1.0, 2.0]),  # slower source than fps: every frame
    ],
)
def test_sampler_keeps_first_frame_at_or_after_each_instant(fps, times, expected):
    assert _kept(fps, times) == pytest.approx(expected)


def test_sampler_rejects_bad_fps():
    with pytest.raises(ValueError, match="fps"):
        Sampler(0)


def test_unreachable_camera_goes_reconnecting_then_offline_and_closes_fast():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    seen: list[tuple[str, str]] = []
    src = open_source(
        f"rtsp://127.0.0.1:{port}/cam",
        camera_id="lobby",
        fps=2.0,
        on_state=lambda cam, state, reason: seen.append((state, reason)),
        open_timeout_s=1.0,
        stall_timeout_s=1.0,
        backoff_initial_s=0.1,
        backoff_max_s=0.4,
        offline_after_s=1.0,
    )
    try:
        assert src.next_frame(timeout_s=2.5) is None
        states = [s for s, _ in seen]
        assert states[:2] == ["reconnecting", "offline"], seen
        assert src.stats.received == 0 and src.stats.delivered == 0
    finally:
        t0 = time.time()
        src.close()
        assert time.time() - t0 < 3.0
    assert src.state == "offline"
    assert list(src) == []
