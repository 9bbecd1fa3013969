"""Hand-drawn things at a hand for the synthetic training crops: fingers over a pasted phone, and
hard negatives (pens, a pen held in the fingers, writing on a sheet, calculators, paper, cups).

Every painter draws into the frame in place, in BGR, scaled by the person's shoulder width `sw`.
`pipeline.training.synth` decides where they go.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pipeline.core.skeleton import KP


def skin_at(frame: np.ndarray, x: float, y: float) -> tuple[int, int, int]:
    H, W = frame.shape[:2]
    x, y = int(np.clip(x, 2, W - 3)), int(np.clip(y, 2, H - 3))
    c = np.median(frame[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3), axis=0)
    return int(c[0]), int(c[1]), int(c[2])


SKIN_TONES = ((60, 80, 120), (90, 120, 170), (120, 150, 200), (150, 180, 225), (45, 60, 90))  # BGR


def skin_tone(frame: np.ndarray, x: float, y: float, rng: np.random.Generator) -> tuple[int, int, int]:
    """The colour at the wrist when it looks like skin (YCrCb test), else a skin tone: a sleeve colour
    would draw the fingers as blobs of cloth."""
    b, g, r = skin_at(frame, x, y)
    _, cr, cb = cv2.cvtColor(np.uint8([[[b, g, r]]]), cv2.COLOR_BGR2YCrCb)[0, 0]
    if 135 <= cr <= 180 and 85 <= cb <= 135:
        return b, g, r
    return SKIN_TONES[int(rng.integers(0, len(SKIN_TONES)))]


def fingers(frame: np.ndarray, box: tuple, colour: tuple, rng: np.random.Generator) -> None:
    """One or two finger-sized blobs across the edge of the pasted phone."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    for _ in range(int(rng.integers(1, 3))):
        side = rng.integers(0, 4)
        ex = x1 if side == 0 else x2 if side == 1 else rng.uniform(x1, x2)
        ey = y1 if side == 2 else y2 if side == 3 else rng.uniform(y1, y2)
        ax = max(1, int(rng.uniform(0.15, 0.35) * max(w, h)))
        ay = max(1, int(ax * rng.uniform(0.3, 0.6)))
        cv2.ellipse(frame, (int(ex), int(ey)), (ax, ay), float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)


# Hard negatives at the hand: what a pen held like a phone, a sheet being written on, or a
# calculator look like in a crop. The first three are the kinds of the video sections.
NEGATIVE_KINDS = ("pen", "paper", "cup", "pen_held", "writing", "calculator")
VIDEO_NEGATIVES = {"pen": 0.45, "paper": 0.4, "cup": 0.15}


def forearm(kp: np.ndarray, wrist: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vector elbow -> wrist (a random direction when the elbow is not seen)."""
    el = KP["left_elbow"] if wrist == KP["left_wrist"] else KP["right_elbow"]
    d = kp[wrist, :2] - kp[el, :2] if kp[el, 2] > 0.4 else np.zeros(2)
    n = float(np.hypot(*d))
    if n < 1e-3:
        a = rng.uniform(0, 2 * math.pi)
        return np.array([math.cos(a), math.sin(a)])
    return d / n


def _pen_held(frame, cx, cy, sw, d, skin, rng) -> None:
    """A pen in the fingers, pointing on from the forearm, with a tip and finger blobs across it."""
    px, py = np.array([cx, cy]) + d * rng.uniform(0.05, 0.3) * sw + rng.normal(0, 0.04 * sw, 2)
    ang = math.atan2(d[1], d[0]) + math.radians(rng.uniform(-70, 70))
    ln = rng.uniform(0.4, 0.75) * sw
    ux, uy = math.cos(ang), math.sin(ang)
    a = (px - ux * ln * 0.5, py - uy * ln * 0.5)
    b = (px + ux * ln * 0.5, py + uy * ln * 0.5)
    th = max(2, int(round(rng.uniform(0.035, 0.075) * sw)))
    col = [(30, 30, 30), (140, 60, 20), (230, 230, 230), (20, 20, 170), (30, 140, 200), (40, 120, 40)][
        int(rng.integers(0, 6))
    ]
    cv2.line(frame, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), col, th, cv2.LINE_AA)
    tip = (b[0] + ux * 0.08 * ln, b[1] + uy * 0.08 * ln)
    cv2.line(frame, (int(b[0]), int(b[1])), (int(tip[0]), int(tip[1])), (170, 170, 170), max(1, th // 2), cv2.LINE_AA)
    if rng.random() < 0.5:  # a cap or clip at the other end
        cap = (a[0] + ux * 0.2 * ln, a[1] + uy * 0.2 * ln)
        cv2.line(frame, (int(a[0]), int(a[1])), (int(cap[0]), int(cap[1])), tuple(max(0, c - 25) for c in col),
                 th + 1, cv2.LINE_AA)
    for _ in range(int(rng.integers(1, 4))):  # fingers round the barrel, near the tip
        t = rng.uniform(0.45, 0.9)
        fx, fy = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        ax = max(1, int(rng.uniform(0.04, 0.08) * sw))
        cv2.ellipse(frame, (int(fx), int(fy)), (ax, max(1, int(ax * rng.uniform(0.5, 0.8)))),
                    float(rng.uniform(0, 180)), 0, 360, skin, -1, cv2.LINE_AA)


def _calculator(frame, cx, cy, sw, d, skin, rng) -> None:
    """A calculator in or under the hand: a box with a display strip and a grid of keys."""
    px, py = np.array([cx, cy]) + d * rng.uniform(0.1, 0.4) * sw
    w, h = rng.uniform(0.3, 0.5) * sw, rng.uniform(0.45, 0.75) * sw
    ang = rng.uniform(-60, 60)
    body = tuple(int(v) for v in rng.integers(20, 200, 3))
    rect = cv2.boxPoints(((px, py), (w, h), ang)).astype(np.float32)  # corners: bl, tl, tr, br
    cv2.fillConvexPoly(frame, rect.astype(np.int32), body, cv2.LINE_AA)
    tl, tr, bl = rect[1], rect[2], rect[0]

    def at(u: float, v: float) -> np.ndarray:  # u across, v down the face
        return tl + (tr - tl) * u + (bl - tl) * v

    disp = np.array([at(0.12, 0.08), at(0.88, 0.08), at(0.88, 0.25), at(0.12, 0.25)], np.int32)
    g = int(rng.uniform(120, 200))
    cv2.fillConvexPoly(frame, disp, (g - 20, g, g - 10), cv2.LINE_AA)
    key = tuple(min(255, c + int(rng.uniform(40, 90))) for c in body)
    r = max(1, int(0.035 * min(w, h)))
    for row in range(5):
        for col in range(4):
            c = at(0.2 + 0.2 * col, 0.38 + 0.13 * row)
            cv2.circle(frame, (int(c[0]), int(c[1])), r, key, -1, cv2.LINE_AA)
    if rng.random() < 0.6:
        f = at(rng.uniform(0.2, 0.8), rng.uniform(0.5, 1.0))
        ax = max(1, int(rng.uniform(0.05, 0.1) * sw))
        cv2.ellipse(frame, (int(f[0]), int(f[1])), (ax, max(1, ax // 2)), float(rng.uniform(0, 180)), 0, 360, skin,
                    -1, cv2.LINE_AA)


def negative_object(
    frame: np.ndarray,
    cx: float,
    cy: float,
    sw: float,
    rng: np.random.Generator,
    kinds: dict[str, float] | None = None,
    forearm: np.ndarray | None = None,
    skin: tuple[int, int, int] = (150, 170, 200),
) -> str:
    """A pen, a sheet of paper, a cup (and with `kinds`, a pen in the fingers, writing, a calculator) at the
    hand: things that are not phones. Without `kinds` it draws exactly what the video sections always drew."""
    if kinds is None:
        kind = rng.choice(list(VIDEO_NEGATIVES), p=list(VIDEO_NEGATIVES.values()))
    else:
        names = list(kinds)
        w = np.asarray([kinds[k] for k in names], np.float64)
        kind = names[int(rng.choice(len(names), p=w / w.sum()))]
    d = forearm if forearm is not None else np.array([0.0, 1.0])
    if kind == "pen_held":
        _pen_held(frame, cx, cy, sw, d, skin, rng)
    elif kind == "writing":  # a sheet on the desk under the hand, the pen in the fingers on it
        draw_paper(frame, cx + d[0] * 0.3 * sw, cy + d[1] * 0.3 * sw, sw, rng)
        _pen_held(frame, cx, cy, sw, d, skin, rng)
    elif kind == "calculator":
        _calculator(frame, cx, cy, sw, d, skin, rng)
    elif kind == "pen":
        ang = rng.uniform(0, math.pi)
        ln = rng.uniform(0.35, 0.6) * sw
        dx, dy = math.cos(ang) * ln / 2, math.sin(ang) * ln / 2
        col = [(30, 30, 30), (120, 40, 20), (230, 230, 230), (20, 20, 160)][int(rng.integers(0, 4))]
        th = max(1, int(round(0.035 * sw)))
        cv2.line(frame, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)), col, th, cv2.LINE_AA)
    elif kind == "paper":
        draw_paper(frame, cx, cy, sw, rng)
    else:
        draw_cup(frame, cx, cy, sw, rng)
    return str(kind)


def draw_cup(frame: np.ndarray, cx: float, cy: float, sw: float, rng: np.random.Generator) -> None:
    w, h = rng.uniform(0.18, 0.28) * sw, rng.uniform(0.25, 0.4) * sw
    col = tuple(int(v) for v in rng.integers(40, 240, 3))
    cv2.rectangle(frame, (int(cx - w / 2), int(cy - h)), (int(cx + w / 2), int(cy)), col, -1, cv2.LINE_AA)
    cv2.ellipse(frame, (int(cx), int(cy - h)), (max(1, int(w / 2)), max(1, int(w / 6))), 0, 0, 360,
                tuple(max(0, c - 40) for c in col), -1, cv2.LINE_AA)


def draw_paper(frame: np.ndarray, cx: float, cy: float, sw: float, rng: np.random.Generator) -> None:
    w, h = rng.uniform(0.7, 1.3) * sw, rng.uniform(0.5, 0.9) * sw
    ang = rng.uniform(-35, 35)
    rect = cv2.boxPoints(((cx, cy + 0.2 * h), (w, h * rng.uniform(0.4, 1.0)), ang)).astype(np.int32)
    g = int(rng.uniform(190, 245))
    overlay = frame.copy()
    cv2.fillConvexPoly(overlay, rect, (g, g, min(255, g + int(rng.integers(-5, 10)))), cv2.LINE_AA)
    if rng.random() < 0.6:  # lines of writing
        for k in range(3):
            t = (k + 1) / 4
            p1 = rect[0] + (rect[1] - rect[0]) * t
            p2 = rect[3] + (rect[2] - rect[3]) * t
            cv2.line(overlay, tuple(p1.astype(int)), tuple(p2.astype(int)), (90, 90, 90), 1, cv2.LINE_AA)
    cv2.addWeighted(overlay, 0.9, frame, 0.1, 0, frame)
