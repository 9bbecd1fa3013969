"""Files and folders on real footage: sampling on container time, and bad input."""

from __future__ import annotations

import shutil
import subprocess

import cv2
import numpy as np
import pytest

from pipeline.core.errors import SourceError
from pipeline.sources import ImageFolderSource, VideoFileSource, is_live_spec, open_source

OFFICE = "dev/office_cctv_unattended_seat/pgplarosa/resized_cctv_full_fast_cut.mov"  # 30 fps, 500 frames
DESK = "dev/desk_videos/lintasartasolutions__cctv_region_counter/Office_CCTV.mp4"  # 25 fps, 63 s


def _container_times(path) -> np.ndarray:
    """Frame timestamps as ffprobe reads them from the container (independent of OpenCV)."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return np.sort(np.array([float(x.strip().strip(",")) for x in out.split() if x.strip().strip(",")]))


@pytest.mark.data
@pytest.mark.parametrize("rel, native_fps", [(OFFICE, 30.0), (DESK, 25.0)])
def test_sampling_at_2fps_follows_container_time(data_dir, rel, native_fps):
    path = data_dir / rel
    with open_source(path, camera_id="cam1", fps=2.0) as src:
        assert isinstance(src, VideoFileSource)
        assert src.info.kind == "file" and src.info.native_fps == pytest.approx(native_fps, rel=0.01)
        frames = list(src)
    duration = src.info.duration_s
    ts = np.array([f.timestamp_s for f in frames])
    # about two frames per second of media
    assert abs(len(frames) - duration * 2) <= 2, (len(frames), duration)
    assert np.all(np.diff(ts) > 0)
    # gaps are 0.5 s give or take one source frame
    assert np.all(np.abs(np.diff(ts) - 0.5) <= 1.0 / native_fps + 1e-3)
    # every timestamp is a real container timestamp of that frame (index -> pts)
    pts = _container_times(path)
    pts = pts - pts[0]
    idx = np.array([f.index for f in frames])
    np.testing.assert_allclose(ts, pts[idx], atol=2e-3)
    assert all(f.source_id == "cam1" and f.image.shape == (src.info.height, src.info.width, 3) for f in frames)
    assert src.stats["received"] >= idx[-1] + 1 and src.stats["delivered"] == len(frames)


@pytest.mark.data
def test_kept_frame_is_the_decoded_frame_at_that_time(data_dir):
    """A sampled frame's pixels equal a full decode's frame with the same index (grab/retrieve is right)."""
    path = data_dir / OFFICE
    with open_source(path, camera_id="c", fps=1.0) as src:
        frames = [next(src) for _ in range(3)]
    cap = cv2.VideoCapture(str(path))
    full = [cap.read()[1] for _ in range(frames[-1].index + 1)]
    cap.release()
    for f in frames:
        assert np.array_equal(f.image, full[f.index])


@pytest.mark.data
def test_truncated_file_yields_frames_or_names_the_file(data_dir, tmp_path):
    for rel in (OFFICE, DESK):
        src_path = data_dir / rel
        cut = tmp_path / ("cut_" + src_path.name)
        data = src_path.read_bytes()
        cut.write_bytes(data[: int(len(data) * 0.4)])
        try:
            with open_source(cut, camera_id="cam7", fps=2.0) as src:
                frames = list(src)
        except SourceError as e:
            assert str(cut) in str(e) and "cam7" in str(e)
        else:
            assert frames, "a truncated file that opens must yield the frames it has"
            ts = [f.timestamp_s for f in frames]
            assert ts == sorted(ts) and ts[-1] < src.info.duration_s


@pytest.mark.data
def test_truncated_faststart_copy_yields_its_frames(data_dir, tmp_path):
    """With the index at the front, 40 % of the bytes still decode: frames up to the cut, then a clean stop."""
    full = tmp_path / "fs.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(data_dir / DESK),
            "-t",
            "20",
            "-an",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            str(full),
        ],
        check=True,
    )
    cut = tmp_path / "fs_cut.mp4"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.4)])
    with open_source(cut, camera_id="cam7", fps=2.0) as src:
        frames = list(src)
    assert 4 <= len(frames) < 40
    assert frames[-1].timestamp_s < 20 * 0.6


@pytest.mark.parametrize(
    "content, name",
    [(b"this is not a video\n" * 50, "notes.mp4"), (b"", "empty.mov"), (b"\x00\x01garbage" * 1000, "noise.avi")],
)
def test_non_video_file_raises_source_error(tmp_path, content, name):
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(SourceError) as err:
        with open_source(bad, camera_id="gate", fps=2.0) as src:
            list(src)
    assert str(bad) in str(err.value) and "gate" in str(err.value)


def test_missing_file_raises_source_error(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(SourceError, match="nope.mp4") as err:
        open_source(missing, camera_id="cam3", fps=2.0)
    assert "cam3" in str(err.value) and "not found" in str(err.value)


@pytest.mark.data
def test_image_folder_sorted_with_index_timestamps(data_dir, tmp_path):
    images = sorted((data_dir / "dev/exam_hall_phone_headdown").rglob("*.jpg"))[:5]
    assert len(images) == 5
    for i, p in enumerate(reversed(images)):  # names decide the order, not copy order
        shutil.copy(p, tmp_path / f"{i:03d}.jpg")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    (tmp_path / "readme.txt").write_text("ignored")
    with open_source(tmp_path, camera_id="still", fps=4.0) as src:
        assert isinstance(src, ImageFolderSource)
        frames = list(src)
    assert [f.timestamp_s for f in frames] == [0.0, 0.25, 0.5, 0.75, 1.0]
    first = cv2.imread(str(images[-1]))
    assert np.array_equal(frames[0].image, first)


def test_empty_folder_and_bad_specs(tmp_path):
    with pytest.raises(SourceError, match="holds no images"):
        open_source(tmp_path, camera_id="c", fps=1)
    with pytest.raises(SourceError, match="fps"):
        open_source(tmp_path, camera_id="c", fps=0)
    with pytest.raises(SourceError, match="webcam"):
        open_source("webcam:front", camera_id="c", fps=1)
    with pytest.raises(SourceError, match="URL"):
        open_source("rtsp://127.0.0.1:1/x", camera_id="c", fps=1, live=False)
    assert is_live_spec("rtsp://h/x") and is_live_spec("webcam:0") and is_live_spec("https://h/s.m3u8")
    assert not is_live_spec("/videos/a.mp4")


@pytest.mark.data
@pytest.mark.parametrize("fps", [2.0, 0.25, 0.1])
def test_skipping_decoder_gives_the_frames_a_full_decode_gives(data_dir, fps):
    """Non-reference frames skipped (2 fps) or keyframe seeks (0.25 fps): the kept frames are the
    first frames at or after each instant, pixel for pixel as OpenCV decodes every frame."""
    from pipeline.sources.file import OpenCVFileSource, PyAVFileSource

    path = data_dir / DESK
    with PyAVFileSource(path, camera_id="c", fps=fps) as src:
        fast = [f for _, f in zip(range(6), src, strict=False)]
        received = src.stats["received"]
    with OpenCVFileSource(path, camera_id="c", fps=fps) as src:
        full = [f for _, f in zip(range(6), src, strict=False)]
    assert [f.index for f in fast] == [f.index for f in full]
    np.testing.assert_allclose([f.timestamp_s for f in fast], [f.timestamp_s for f in full], atol=2e-3)
    for a, b in zip(fast, full, strict=True):
        assert np.array_equal(a.image, b.image)
    assert received <= fast[-1].index + 8  # never more packets than a straight read (plus the reorder look-ahead)
    if fps == 0.1:  # 10 s apart, keyframes every 5.12 s: seeking skips whole groups of pictures
        assert received < 0.8 * fast[-1].index
