"""Evidence snapshots on a real frame: banner text in Chinese and English, drawings, blur, JPEG output."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.core.errors import OutputError
from pipeline.core.fonts import cjk_font_path
from pipeline.core.types import Frame
from pipeline.events.snapshot import (
    BANNER_BG,
    HIGHLIGHT_COLOR,
    ZONE_COLORS,
    render_snapshot,
    write_snapshot,
)
from pipeline.sources import open_source

DESK = "dev/desk_videos/lintasartasolutions__cctv_region_counter/Office_CCTV.mp4"  # 440x360
OFFICE = "dev/office_cctv_unattended_seat/pgplarosa/resized_cctv_full_fast_cut.mov"  # 1600x900


@pytest.fixture(scope="module")
def frame(data_dir) -> Frame:
    with open_source(data_dir / DESK, camera_id="front", fps=1.0) as src:
        for f in src:
            if f.timestamp_s >= 5.0:
                return f
    raise AssertionError("clip too short")


def _banner_height(out: np.ndarray, frame: Frame) -> int:
    return out.shape[0] - frame.height


def _render(frame: Frame, zh: str, en: str = "Phone use · Art. 52", **kw) -> np.ndarray:
    return render_snapshot(
        frame, zones={}, persons=[], objects=[], highlight_track_ids=(), title_zh=zh, title_en=en, **kw
    )


@pytest.mark.data
def test_banner_holds_chinese_and_english_text(frame):
    assert cjk_font_path() is not None, "fonts-noto-cjk is installed on dev machines and CI"
    out = _render(frame, "玩手机 第五十二条 严禁玩手机")
    bh = _banner_height(out, frame)
    assert out.shape[1] == frame.width and bh > 30
    assert np.array_equal(out[bh:], frame.image), "no drawings asked, the frame is unchanged"
    banner = out[:bh, frame.width // 50 :]
    text_px = np.any(np.abs(banner.astype(int) - BANNER_BG) > 60, axis=2).sum()
    assert text_px > 300
    # Chinese text is really drawn: empty vs. text differ, and two different strings of the same length
    # differ too (a font without CJK glyphs draws the same "tofu" boxes for both).
    empty = _render(frame, "")
    other = _render(frame, "聚众聊天 第五十二条 不得聚众")
    first_line = slice(0, bh // 2)
    assert np.any(out[first_line] != empty[first_line], axis=2).sum() > 300
    assert np.any(out[first_line] != other[first_line], axis=2).sum() > 200
    # English line
    no_en = _render(frame, "玩手机 第五十二条 严禁玩手机", en="")
    second_line = slice(bh // 2, bh)
    assert np.any(out[second_line] != no_en[second_line], axis=2).sum() > 100


@pytest.mark.data
def test_zones_people_skeleton_and_objects_are_drawn(frame):
    seat = np.array([[20, 250], [150, 250], [150, 340], [20, 340]], np.float32)
    kps = np.array(
        [
            [220, 120],
            [215, 115],
            [225, 115],
            [210, 118],
            [230, 118],
            [200, 150],
            [240, 150],
            [190, 185],
            [250, 185],
            [195, 215],
            [245, 215],
            [205, 230],
            [235, 230],
            [205, 280],
            [235, 280],
            [205, 330],
            [235, 330],
        ],
        np.float32,
    )
    conf = np.full(17, 0.9, np.float32)
    conf[13:] = 0.05  # legs hidden by the counter: not drawn
    out = render_snapshot(
        frame,
        zones={"seat": [seat]},
        persons=[
            ((180, 95, 260, 300), "A #3", "staff", kps, conf, 3),
            ((300, 90, 380, 300), "顾客", "customer", None, None, 8),
        ],
        objects=[((250, 200, 270, 225), "cell phone")],
        highlight_track_ids=[3],
        title_zh="玩手机",
        title_en="Phone",
    )
    bh = _banner_height(out, frame)
    body = out[bh:]
    assert tuple(int(v) for v in body[250, 80]) != tuple(int(v) for v in frame.image[250, 80])  # zone edge
    # the seat fill is tinted toward the zone colour
    inside = body[300, 60].astype(int) - frame.image[300, 60].astype(int)
    assert inside[1] > 0  # green channel up for a green zone
    assert np.abs(body[100:200, 180].astype(int) - HIGHLIGHT_COLOR).sum(axis=1).min() < 30  # red box of track 3
    skeleton_px = np.all(np.abs(body[150:216, 185:256].astype(int) - (0, 230, 255)) < 40, axis=2).sum()
    assert skeleton_px > 30
    legs = np.all(np.abs(body[285:335, 200:240].astype(int) - (0, 230, 255)) < 40, axis=2).sum()
    assert legs == 0
    assert ZONE_COLORS["seat"] != HIGHLIGHT_COLOR


@pytest.mark.data
def test_customer_face_is_blurred_staff_is_not(data_dir):
    with open_source(data_dir / OFFICE, camera_id="cam5", fps=1.0) as src:
        f = next(src)
    box = (1000, 150, 1300, 750)
    out = render_snapshot(
        f,
        zones={},
        persons=[],
        objects=[],
        highlight_track_ids=(),
        title_zh="测试",
        title_en="test",
        blur_boxes=[box],
        max_width=None,
    )
    body = out[out.shape[0] - f.height :]

    def detail(img, ys, xs):
        return cv2.Laplacian(cv2.cvtColor(np.ascontiguousarray(img[ys, xs]), cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()

    face, lower = (slice(150, 380), slice(1000, 1300)), (slice(500, 740), slice(1000, 1300))
    assert detail(body, *face) < 0.2 * detail(f.image, *face)
    assert np.array_equal(body[lower], f.image[lower])
    assert np.array_equal(body[:, :990], f.image[:, :990])


@pytest.mark.data
def test_large_frames_are_scaled_to_max_width(data_dir):
    with open_source(data_dir / OFFICE, camera_id="cam5", fps=1.0) as src:
        f = next(src)
    out = render_snapshot(
        f,
        zones={"desk": [np.array([[100, 100], [1500, 100], [1500, 800]])]},
        persons=[],
        objects=[],
        highlight_track_ids=(),
        title_zh="桌面个人物品",
        title_en="Personal items",
        max_width=800,
    )
    assert out.shape[1] == 800 and out.shape[0] - 450 > 0


@pytest.mark.data
def test_write_snapshot_is_an_atomic_jpeg(frame, tmp_path):
    out = _render(frame, "人不在岗 第二十条")
    path = write_snapshot(tmp_path / "snapshots" / "ev1.jpg", out)
    back = cv2.imread(str(path))
    assert back.shape == out.shape and np.abs(back.astype(int) - out.astype(int)).mean() < 6
    assert [p.name for p in path.parent.iterdir()] == ["ev1.jpg"]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="snapshot") as err:
        write_snapshot(blocker / "ev2.jpg", out)
    assert str(blocker / "ev2.jpg") in str(err.value)
