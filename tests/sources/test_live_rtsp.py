"""A real RTSP stream on 127.0.0.1: frames, a server that dies, reconnect, frames again.

The server is Debian's rtsp-server-perl (apt package `rtsp-server-perl`); ffmpeg
publishes a real recorded clip to it in real time (-re), and the source reads it
as any IP camera. A second test serves MPEG-TS over HTTP with ffmpeg alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from pipeline.sources import LiveSource, open_source

DESK = "dev/desk_videos/lintasartasolutions__cctv_region_counter/Office_CCTV.mp4"  # 440x360, 25 fps
RTSP_SERVER = "/usr/bin/rtsp-server-perl"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _wait_listening(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


class _States:
    def __init__(self) -> None:
        self.seen: list[tuple[float, str, str]] = []

    def __call__(self, camera_id: str, state: str, reason: str) -> None:
        assert camera_id == "door"
        self.seen.append((time.time(), state, reason))

    def wait_for(self, state: str, after: float, timeout_s: float) -> bool:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if any(s == state and t >= after for t, s, _ in self.seen):
                return True
            time.sleep(0.05)
        return False


def _frames_after(src: LiveSource, after: float, n: int, timeout_s: float) -> list:
    frames, deadline = [], time.time() + timeout_s
    while len(frames) < n and time.time() < deadline:
        f = src.next_frame(timeout_s=max(0.1, deadline - time.time()))
        if f is not None and f.timestamp_s >= after:
            frames.append(f)
    return frames


def _need_rtsp_server() -> None:
    if not os.path.exists(RTSP_SERVER):
        msg = f"{RTSP_SERVER} missing: apt-get install rtsp-server-perl"
        if os.environ.get("COUNTERWATCH_REQUIRE_MODELS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.mark.data
def test_rtsp_reconnects_after_server_restart(data_dir):
    _need_rtsp_server()
    clip = data_dir / DESK
    client_port, source_port = _free_port(), _free_port()
    server_cmd = [
        RTSP_SERVER,
        "--clientport",
        str(client_port),
        "--serverport",
        str(source_port),
        "--client_listen_address",
        "127.0.0.1",
        "--source_listen_address",
        "127.0.0.1",
        "--loglevel",
        "0",
    ]
    publish_cmd = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-re",
        "-stream_loop",
        "-1",
        "-i",
        str(clip),
        "-an",
        "-c",
        "copy",
        "-f",
        "rtsp",
        f"rtsp://127.0.0.1:{source_port}/cam",
    ]

    def serve() -> tuple[subprocess.Popen, subprocess.Popen]:
        server = _start(server_cmd)
        _wait_listening(source_port)
        _wait_listening(client_port)
        return server, _start(publish_cmd)

    states = _States()
    server, publisher = serve()
    src = None
    try:
        src = open_source(
            f"rtsp://127.0.0.1:{client_port}/cam",
            camera_id="door",
            fps=5.0,
            on_state=states,
            stall_timeout_s=2.0,
            open_timeout_s=3.0,
            backoff_max_s=1.0,
            offline_after_s=3.0,
            rtsp_transport="udp",
        )
        assert isinstance(src, LiveSource) and src.info.kind == "rtsp"
        t0 = time.time()
        frames = _frames_after(src, t0 - 60, 5, timeout_s=15)
        assert len(frames) == 5, f"no RTSP frames; states {states.seen}"
        assert all(f.image.shape == (360, 440, 3) for f in frames)
        ts = [f.timestamp_s for f in frames]
        assert ts == sorted(ts) and abs(ts[-1] - time.time()) < 2.0  # wall-clock time
        assert states.wait_for("online", 0, 1)

        # A slow consumer gets the newest frame, and the frames it missed are counted as dropped.
        time.sleep(1.0)
        fresh = src.next_frame(timeout_s=2)
        assert fresh is not None and time.time() - fresh.timestamp_s < 0.5
        stats = src.stats
        assert stats.dropped >= 1 and stats.received > stats.delivered and 0 < stats.drop_rate < 1

        killed = time.time()
        _stop(publisher)
        _stop(server)
        assert states.wait_for("reconnecting", killed, 6), states.seen
        assert states.wait_for("offline", killed, 10), states.seen
        assert src.next_frame(timeout_s=0.5) is None or src.state != "online"

        restarted = time.time()
        server, publisher = serve()
        assert states.wait_for("online", restarted, 15), states.seen
        again = _frames_after(src, restarted, 3, timeout_s=10)
        assert len(again) == 3 and all(f.timestamp_s > restarted for f in again)
        assert src.stats.reconnects >= 1
    finally:
        if src is not None:
            src.close()
        _stop(publisher)
        _stop(server)
    assert states.seen[-1][1] == "offline" and states.seen[-1][2] == "closed"


@pytest.mark.data
def test_http_mpegts_stream_and_stall(data_dir):
    """ffmpeg serves MPEG-TS over HTTP (one client); the stream dies, the source reports it and recovers."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg missing")
    port = _free_port()
    serve_cmd = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-re",
        "-i",
        str(data_dir / DESK),
        "-an",
        "-c",
        "copy",
        "-f",
        "mpegts",
        "-listen",
        "1",
        f"http://127.0.0.1:{port}/cam.ts",
    ]
    states = _States()
    server = _start(serve_cmd)
    time.sleep(0.5)
    src = open_source(
        f"http://127.0.0.1:{port}/cam.ts",
        camera_id="door",
        fps=2.0,
        on_state=states,
        stall_timeout_s=2.0,
        open_timeout_s=3.0,
        backoff_max_s=1.0,
        offline_after_s=30.0,
    )
    try:
        frames = _frames_after(src, 0, 3, timeout_s=10)
        assert len(frames) == 3 and src.info.kind == "http", states.seen
        killed = time.time()
        _stop(server)
        assert states.wait_for("reconnecting", killed, 6), states.seen
        restarted = time.time()
        server = _start(serve_cmd)
        assert states.wait_for("online", restarted, 10), states.seen
        assert len(_frames_after(src, restarted, 2, timeout_s=8)) == 2
    finally:
        src.close()
        _stop(server)
