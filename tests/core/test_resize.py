"""`core.resize.shrink`: fast anti-aliased downscaling with exact pixel-centre geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.core.resize import shrink


def _smooth(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)  # camera-like: no pixel-level noise


@pytest.mark.parametrize("src,dst", [((900, 1600), (360, 640)), ((1080, 1920), (384, 640)), ((900, 1600), (540, 960)),
                                     ((719, 1281), (240, 427))])
def test_shrink_matches_inter_area_closely_at_the_exact_size(src, dst):
    img = _smooth(*src)
    out = shrink(img, (dst[1], dst[0]))
    area = cv2.resize(img, (dst[1], dst[0]), interpolation=cv2.INTER_AREA)
    assert out.shape == area.shape
    assert float(np.abs(out.astype(int) - area).mean()) < 1.5


def test_shrink_keeps_pixel_centre_geometry():
    img = np.zeros((900, 1600, 3), np.uint8)
    img[400:410, 1200:1210] = 255  # a 10 px square centred on (1204.5, 404.5)
    out = shrink(img, (640, 360)).astype(np.float64)[..., 0]
    ys, xs = np.nonzero(out)
    wts = out[ys, xs]
    cx, cy = (xs * wts).sum() / wts.sum(), (ys * wts).sum() / wts.sum()
    s = 640 / 1600
    assert abs(cx - ((1204.5 + 0.5) * s - 0.5)) < 0.2 and abs(cy - ((404.5 + 0.5) * s - 0.5)) < 0.2


def test_shrink_grows_bilinearly_and_returns_same_size_unchanged():
    img = _smooth(100, 160)
    assert shrink(img, (160, 100)) is img
    np.testing.assert_array_equal(shrink(img, (320, 200)), cv2.resize(img, (320, 200), interpolation=cv2.INTER_LINEAR))
    with pytest.raises(ValueError, match="positive"):
        shrink(img, (0, 10))
