"""Event clips from real footage: H.264/yuv420p mp4s whose length follows the frame timestamps."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import pytest

from pipeline.core.errors import OutputError
from pipeline.events.clips import ClipRecorder, clip_relpath
from pipeline.sources import open_source

DESK = "dev/desk_videos/lintasartasolutions__cctv_region_counter/Office_CCTV.mp4"  # 440x360, 25 fps
OFFICE = "dev/office_cctv_unattended_seat/pgplarosa/resized_cctv_full_fast_cut.mov"  # 1600x900, 30 fps


def _frames(data_dir: Path, rel: str, fps: float, until_s: float) -> list:
    with open_source(data_dir / rel, camera_id="cam1", fps=fps) as src:
        return [f for f in src if f.timestamp_s <= until_s]


def _probe(path: Path) -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,pix_fmt,width,height:format=duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    info = json.loads(out)
    return {**info["streams"][0], "duration": float(info["format"]["duration"])}


class _Calls(list):
    def __call__(self, event_id, relpath, status, duration_s):
        self.append((event_id, relpath, status, duration_s))

    def by_id(self) -> dict:
        return {c[0]: c for c in self}


@pytest.fixture(scope="module")
def office_frames(data_dir):
    return _frames(data_dir, OFFICE, fps=5.0, until_s=16.0)


def _decode_errors(path: Path) -> str:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True,
                          text=True, check=True).stderr.strip()


def _key_flags(path: Path) -> list[int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout
    return [int(x.strip(",")) for x in out.split()]


@pytest.mark.data
def test_overlapping_events_make_h264_clips_of_pre_event_post(office_frames, tmp_path):
    calls = _Calls()
    rec = ClipRecorder(
        "cam1", tmp_path, pre_roll_s=2.0, post_roll_s=2.0, clip_fps=5.0, clip_max_width=640, on_clip=calls
    )
    reported_at = {}
    for f in office_frames:
        t = f.timestamp_s
        if abs(t - 4.0) < 1e-6:
            rec.start("ev_a", t)
        if abs(t - 6.0) < 1e-6:
            rec.start("ev_b", t)
        if abs(t - 8.0) < 1e-6:
            rec.stop("ev_a", t)
        if abs(t - 11.0) < 1e-6:
            rec.stop("ev_b", t)
        rec.push(f)
        rec.flush()  # the writer has written what it was handed; no clip is closed by this
        for c in calls:
            reported_at.setdefault(c[0], t)
    # both finished before close(): once the frame after their post-roll end left the 2 s pre-roll buffer
    assert set(reported_at) == {"ev_a", "ev_b"}
    assert abs(reported_at["ev_a"] - (10.0 + 0.2 + 2.0)) < 1e-6 and abs(reported_at["ev_b"] - 15.2) < 1e-6
    rec.close()
    assert len(calls) == 2 and not rec.errors and not rec.active
    # the frames of 2.0-13.0 s were encoded once each, though 4.0-10.0 s went into both clips
    assert rec.encoded == 56
    for event_id, expected, frames in (("ev_a", 2 + 4 + 2, 41), ("ev_b", 2 + 5 + 2, 46)):
        _, rel, status, duration = calls.by_id()[event_id]
        assert rel == clip_relpath(event_id) == f"clips/{event_id}.mp4" and status == "ready"
        path = tmp_path / rel
        info = _probe(path)
        assert info["codec_name"] == "h264" and info["pix_fmt"] == "yuv420p"
        assert info["width"] % 2 == 0 and info["height"] % 2 == 0 and info["width"] <= 640
        assert abs(info["duration"] - expected) <= 1.0, (event_id, info["duration"])
        assert abs(duration - info["duration"]) <= 0.5
        keys = _key_flags(path)
        assert len(keys) == frames and keys[0] == 1, (event_id, keys[:3])  # each clip opens on a keyframe
        assert _decode_errors(path) == ""
        head = path.read_bytes()
        assert head.find(b"moov") < head.find(b"mdat"), "+faststart puts the index first"
    assert not [p for p in (tmp_path / "clips").iterdir() if p.name.startswith(".")], "no temp files left"


@pytest.mark.data
def test_close_finishes_open_clip_as_partial(data_dir, tmp_path):
    calls = _Calls()
    rec = ClipRecorder("cam1", tmp_path, pre_roll_s=1.0, post_roll_s=5.0, clip_fps=5.0, on_clip=calls)
    frames = _frames(data_dir, DESK, fps=5.0, until_s=6.0)
    for f in frames:
        if abs(f.timestamp_s - 2.0) < 0.05:
            rec.start("open_ev", f.timestamp_s)
        if abs(f.timestamp_s - 4.0) < 0.05:
            rec.start("stopped_ev", f.timestamp_s)
            rec.stop("stopped_ev", f.timestamp_s + 0.5)  # post-roll (5 s) outlasts the frames
        rec.push(f)
    assert calls == []
    rec.close()
    got = calls.by_id()
    assert got["open_ev"][2] == "partial" and got["stopped_ev"][2] == "partial"
    info = _probe(tmp_path / got["open_ev"][1])
    assert info["codec_name"] == "h264" and abs(info["duration"] - (6.0 - 1.0)) <= 1.0


@pytest.mark.data
def test_unwritable_folder_fails_the_clip_not_the_pipeline(office_frames, tmp_path):
    blocker = tmp_path / "evidence"
    blocker.write_text("a file where the evidence folder should be")
    calls = _Calls()
    rec = ClipRecorder("cam9", blocker / "site", pre_roll_s=1.0, post_roll_s=1.0, clip_fps=5.0, on_clip=calls)
    for f in office_frames[:30]:
        if f.index == office_frames[5].index:
            rec.start("ev_x", f.timestamp_s)
        if f.index == office_frames[10].index:
            rec.stop("ev_x", f.timestamp_s)
        rec.push(f)  # never raises
    rec.close()
    assert [(c[0], c[2]) for c in calls] == [("ev_x", "failed")]
    assert len(rec.errors) == 1 and isinstance(rec.errors[0], OutputError)
    message = str(rec.errors[0])
    assert str(blocker / "site" / "clips" / "ev_x.mp4") in message and "cam9" in message


@pytest.mark.data
def test_missing_encoder_is_a_failed_clip(office_frames, tmp_path):
    calls = _Calls()
    rec = ClipRecorder("cam1", tmp_path, pre_roll_s=1.0, post_roll_s=0.0, on_clip=calls, codec="no-such-codec")
    rec.push(office_frames[0])
    rec.start("ev", office_frames[0].timestamp_s)
    rec.stop("ev", office_frames[1].timestamp_s)
    rec.push(office_frames[1])
    rec.close()
    assert calls and calls[0][2] == "failed" and "no-such-codec" in str(rec.errors[0])
    assert str(tmp_path / "clips" / "ev.mp4") in str(rec.errors[0])
    clips = tmp_path / "clips"
    assert not (clips.exists() and list(clips.iterdir())), "no file is left behind"


@pytest.mark.data
def test_variable_rate_clip_keeps_each_frame_once_at_its_time(office_frames, tmp_path):
    calls = _Calls()
    rec = ClipRecorder("cam1", tmp_path, pre_roll_s=0.0, post_roll_s=0.0, clip_fps=5.0, clip_max_width=320,
                       on_clip=calls)
    times = [0.0, 0.2, 0.4, 3.0, 3.2, 6.0]  # two gaps: no frames are repeated to fill them
    rec.start("ev_vfr", 0.0)
    for t, f in zip(times, office_frames, strict=False):
        rec.push(type(f)(f.source_id, f.index, t, f.image))
    rec.stop("ev_vfr", 6.0)
    rec.close()
    (_, rel, status, duration), = calls
    assert status == "ready" and abs(duration - 6.2) < 1e-6
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time",
                          "-of", "csv=p=0", str(tmp_path / rel)], capture_output=True, text=True, check=True).stdout
    pts = [float(x.strip(",")) for x in out.split()]
    assert len(pts) == len(times)
    assert [round(p - pts[0], 2) for p in pts] == times
    assert abs(_probe(tmp_path / rel)["duration"] - 6.2) <= 0.25


@pytest.mark.data
def test_a_busy_encoder_never_blocks_analysis(office_frames, tmp_path, monkeypatch):
    import threading

    from pipeline.events import clips as clips_mod

    release = threading.Event()
    real_encode = clips_mod._Encoder.encode

    def slow_encode(self, image, pts_ms, key):
        release.wait(60)  # the encoder is stuck until the test lets it go
        return real_encode(self, image, pts_ms, key)

    monkeypatch.setattr(clips_mod._Encoder, "encode", slow_encode)
    calls = _Calls()
    rec = ClipRecorder("cam1", tmp_path, pre_roll_s=0.0, post_roll_s=0.0, clip_fps=5.0, clip_max_width=320,
                       on_clip=calls, queue_frames=8)
    rec.start("ev_busy", 0.0)
    for i in range(40):  # pushes return while the writer is stuck; what does not fit in its queue is dropped
        f = office_frames[i % len(office_frames)]
        rec.push(type(f)(f.source_id, i, i * 0.2, f.image))
    assert calls == [] and rec.active == ["ev_busy"]
    release.set()
    rec.stop("ev_busy", 39 * 0.2)
    rec.close()
    assert calls[0][2] == "ready" and not rec.errors
    frames = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                             "stream=nb_read_frames", "-of", "csv=p=0", str(tmp_path / calls[0][1])],
                            capture_output=True, text=True, check=True).stdout
    assert 2 <= int(frames) < 40  # the queue held a few; the rest were dropped, not waited for
    path = tmp_path / calls[0][1]
    assert _key_flags(path)[0] == 1 and _decode_errors(path) == ""


@pytest.mark.data
def test_an_event_opened_late_gets_only_the_buffered_pre_roll(office_frames, tmp_path):
    calls = _Calls()
    rec = ClipRecorder("cam1", tmp_path, pre_roll_s=1.0, post_roll_s=0.0, clip_fps=5.0, clip_max_width=320,
                       on_clip=calls)
    f0 = office_frames[0]
    for i in range(21):  # 0.0 .. 4.0 s
        rec.push(type(f0)(f0.source_id, i, i * 0.2, office_frames[i].image))
    rec.start("late", 1.0)  # the rule opened the event 3 s after it began: frames before 3.0 s are gone
    rec.stop("late", 4.0)
    rec.close()
    (_, rel, status, duration), = calls
    assert status == "ready" and abs(duration - (4.0 - 3.0 + 0.2)) < 1e-6
    assert len(_key_flags(tmp_path / rel)) == 6


@pytest.mark.data
def test_full_disk_fails_the_clip_with_the_path(office_frames, tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if ok.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {ok.stderr.decode().strip()}")
    try:
        calls = _Calls()
        rec = ClipRecorder(
            "cam1",
            mnt,
            pre_roll_s=1.0,
            post_roll_s=1.0,
            clip_fps=5.0,
            clip_max_width=1600,
            crf=0,
            preset="ultrafast",
            on_clip=calls,
        )
        rec.start("ev_full", office_frames[0].timestamp_s)
        for f in office_frames[:25]:
            rec.push(f)
        rec.stop("ev_full", office_frames[20].timestamp_s)
        rec.close()
        assert calls[0][2] == "failed"
        assert str(mnt / "clips" / "ev_full.mp4") in str(rec.errors[0])
        assert not [p for p in (mnt / "clips").iterdir()], "the partial temp file is removed"
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.data
def test_blur_boxes_are_blurred_in_the_clip(office_frames, tmp_path):
    box = (1000.0, 150.0, 1300.0, 750.0)  # in source pixels (1600x900)
    rec = ClipRecorder("cam1", tmp_path, pre_roll_s=0.0, post_roll_s=0.0, clip_fps=5.0, clip_max_width=800)
    f0 = office_frames[0]
    rec.start("ev_blur", f0.timestamp_s)
    rec.push(f0, blur_boxes=[box])
    rec.push(office_frames[1], blur_boxes=[box])
    rec.stop("ev_blur", office_frames[1].timestamp_s)
    rec.close()
    cap = cv2.VideoCapture(str(tmp_path / "clips/ev_blur.mp4"))
    ok, decoded = cap.read()
    cap.release()
    assert ok and decoded.shape == (450, 800, 3)
    plain = cv2.resize(f0.image, (800, 450), interpolation=cv2.INTER_AREA)
    face = (slice(75, 75 + 120), slice(500, 650))  # upper part of the box, in clip pixels
    rest = (slice(300, 370), slice(500, 650))  # lower part: untouched

    def detail(img, region):
        return cv2.Laplacian(cv2.cvtColor(img[region], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()

    assert detail(decoded, face) < 0.2 * detail(plain, face)
    assert detail(decoded, rest) > 0.4 * detail(plain, rest)


@pytest.mark.data
def test_ring_buffer_memory_is_bounded_by_pre_roll(office_frames, tmp_path):
    rec = ClipRecorder("cam1", tmp_path, pre_roll_s=2.0, clip_fps=5.0, clip_max_width=320)
    t0 = office_frames[0].timestamp_s
    for i in range(600):  # two minutes of frames at 5 fps, no event
        f = office_frames[i % len(office_frames)]
        rec.push(type(f)(f.source_id, i, t0 + i / 5.0, f.image))
        assert len(rec._buffer) <= 2.0 * 5.0 + 1
    assert all(img.shape[1] == 320 for _, img in rec._buffer)
    assert not os.path.exists(tmp_path / "clips")
