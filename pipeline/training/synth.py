"""In-domain training images: phones pasted into the hands of people in CCTV video frames.

The public phone sets are close-ups, webcams and car cabins; the phone step sees crops of
seated staff in wide CCTV. This module makes the missing data from real CCTV videos:

- frames are sampled from each video, and any frame that looks like one of the excluded
  images (the images figures are measured on) is dropped with a time window around it;
- the pose model finds each person's wrists, elbows, shoulders and nose;
- a phone crop from the labelled sets is pasted at a wrist (sometimes at the face), scaled to
  the shoulder width, rotated, squashed (held edge-on), partly covered by finger-coloured blobs,
  and blurred, darkened and noised to the frame;
- hard negatives get a pen, a sheet of paper or a cup at the wrist instead, with no phone label;
- what is written is what the phone step will see: the upper-body crop of each person (and
  sometimes the square around a wrist), with the person and phone boxes in YOLO format.

The same pasting runs on still images of the labelled sets (`synthesise_images`): each background
keeps its own labelled phones (nothing is pasted next to them, and a crop that cuts one is not
written), and the hand holding a labelled non-phone (a wallet, earbuds) can stand in for a wrist the
pose model does not see. The hard negatives there can also be pens held in the fingers, writing on
a sheet and calculators (`painters.NEGATIVE_KINDS`).

File names start with `<video>__s<segment>` so that a dataset can be split by clip and time; crops of
still images start with `<source>__g<clip>__k<split>` (`background_name`), so that they land in the
split their source clip has in its own set.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pipeline.core.regions import crop_region, hand_regions
from pipeline.training.painters import fingers, forearm, negative_object, skin_at, skin_tone

log = logging.getLogger(__name__)

# COCO-17 keypoint indices
NOSE, L_SH, R_SH, L_EL, R_EL, L_WR, R_WR = 0, 5, 6, 7, 8, 9, 10


@dataclass
class PhoneCrop:
    rgb: np.ndarray  # BGR pixels of the phone
    source: str


@dataclass
class SynthStats:
    frames: int = 0
    frames_excluded: int = 0
    persons: int = 0
    positives: int = 0
    negatives: int = 0
    images: int = 0
    excluded_windows: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # why a person variant or a crop was not written

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def _thumb(img: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    t = cv2.resize(g, (48, 27), interpolation=cv2.INTER_AREA).astype(np.float32)
    t = cv2.GaussianBlur(t, (3, 3), 0)
    return (t - t.mean()) / (t.std() + 1e-6)


class ExcludedImages:
    """Thumbnails of images that must never be trained on, to find video frames showing them."""

    def __init__(self, paths: list[Path]) -> None:
        self.names, thumbs = [], []
        for p in paths:
            im = cv2.imread(str(p))
            if im is not None:
                self.names.append(str(p))
                thumbs.append(_thumb(im))
        self.thumbs = np.stack(thumbs) if thumbs else np.zeros((0, 27, 48), np.float32)

    def distances(self, frame: np.ndarray) -> np.ndarray:
        if not len(self.thumbs):
            return np.zeros((0,), np.float32)
        t = _thumb(frame)
        return np.abs(self.thumbs - t[None]).mean(axis=(1, 2))


def sample_video(path: Path, every_s: float, max_frames: int) -> list[tuple[float, np.ndarray]]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"video {path} could not be opened")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    step = max(1, int(round(every_s * fps)))
    out = []
    idx = 0
    while True:
        ok = cap.grab()
        if not ok:
            break
        if idx % step == 0:
            ok, img = cap.retrieve()
            if ok:
                out.append((idx / fps, img))
        idx += 1
    cap.release()
    if len(out) > max_frames:
        keep = np.linspace(0, len(out) - 1, max_frames).round().astype(int)
        out = [out[i] for i in keep]
    log.info("%s: %d frames (%d in file)", path.name, len(out), n)
    return out


def drop_excluded(
    frames: list[tuple[float, np.ndarray]],
    excluded: ExcludedImages,
    video: str,
    stats: SynthStats,
    max_dist: float = 0.35,
    window_s: float = 3.0,
) -> list[tuple[float, np.ndarray]]:
    """Frames that are not (near) an excluded image: a match drops +-window_s around it."""
    if not frames or not len(excluded.thumbs):
        return frames
    d = np.stack([excluded.distances(img) for _, img in frames])  # (frames, excluded)
    bad_t = []
    for j in range(d.shape[1]):
        i = int(d[:, j].argmin())
        if d[i, j] <= max_dist:
            bad_t.append(frames[i][0])
            stats.excluded_windows.append(
                f"{video} t={frames[i][0]:.1f}s ~ {Path(excluded.names[j]).name} (distance {d[i, j]:.2f})"
            )
    keep = [(t, im) for t, im in frames if all(abs(t - b) > window_s for b in bad_t)]
    stats.frames_excluded += len(frames) - len(keep)
    return keep


def phone_bank(label_files: list[tuple[Path, Path, set[int]]], min_side: int = 6) -> list[PhoneCrop]:
    """Phone crops from YOLO-labelled images: (image, label file, class ids that are phones)."""
    out = []
    for img_p, lab_p, ids in label_files:
        img = cv2.imread(str(img_p))
        if img is None or not lab_p.is_file():
            continue
        h, w = img.shape[:2]
        for line in lab_p.read_text().splitlines():
            parts = line.split()
            if len(parts) < 5 or int(float(parts[0])) not in ids:
                continue
            cx, cy, bw, bh = (float(v) for v in parts[1:5])
            x1, y1 = int(max(0, (cx - bw / 2) * w)), int(max(0, (cy - bh / 2) * h))
            x2, y2 = int(min(w, (cx + bw / 2) * w)), int(min(h, (cy + bh / 2) * h))
            if x2 - x1 >= min_side and y2 - y1 >= min_side:
                out.append(PhoneCrop(img[y1:y2, x1:x2].copy(), img_p.name))
    return out


def _rotated_rgba(crop: np.ndarray, angle: float, squash: float, size: float) -> tuple[np.ndarray, np.ndarray]:
    """The crop scaled so its long side is `size`, squashed across, rotated; returns (bgr, alpha 0..1)."""
    h, w = crop.shape[:2]
    s = size / max(h, w)
    nw, nh = max(2, int(round(w * s))), max(2, int(round(h * s)))
    if nw < nh:
        nw = max(2, int(round(nw * squash)))
    else:
        nh = max(2, int(round(nh * squash)))
    img = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
    alpha = np.ones((nh, nw), np.float32)
    r = max(1, min(nw, nh) // 6)  # rounded corners
    for cx, cy in ((r, r), (nw - 1 - r, r), (r, nh - 1 - r), (nw - 1 - r, nh - 1 - r)):
        yy, xx = np.ogrid[:nh, :nw]
        corner = ((xx < r) if cx == r else (xx > nw - 1 - r)) & ((yy < r) if cy == r else (yy > nh - 1 - r))
        alpha[corner & ((xx - cx) ** 2 + (yy - cy) ** 2 > r * r)] = 0
    diag = int(math.ceil(math.hypot(nw, nh))) + 4
    m = cv2.getRotationMatrix2D((nw / 2, nh / 2), angle, 1.0)
    m[0, 2] += diag / 2 - nw / 2
    m[1, 2] += diag / 2 - nh / 2
    img_r = cv2.warpAffine(img, m, (diag, diag), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    a_r = cv2.warpAffine(alpha, m, (diag, diag), flags=cv2.INTER_LINEAR, borderValue=0)
    return img_r, a_r


def _blend(frame: np.ndarray, patch: np.ndarray, alpha: np.ndarray, cx: float, cy: float) -> tuple | None:
    """Alpha-blend patch centred at (cx, cy); returns the visible alpha>0.5 box in frame pixels."""
    H, W = frame.shape[:2]
    ph, pw = alpha.shape
    x0, y0 = int(round(cx - pw / 2)), int(round(cy - ph / 2))
    fx1, fy1, fx2, fy2 = max(0, x0), max(0, y0), min(W, x0 + pw), min(H, y0 + ph)
    if fx2 - fx1 < 2 or fy2 - fy1 < 2:
        return None
    px1, py1 = fx1 - x0, fy1 - y0
    a = alpha[py1 : py1 + fy2 - fy1, px1 : px1 + fx2 - fx1, None]
    p = patch[py1 : py1 + fy2 - fy1, px1 : px1 + fx2 - fx1].astype(np.float32)
    roi = frame[fy1:fy2, fx1:fx2].astype(np.float32)
    frame[fy1:fy2, fx1:fx2] = np.clip(roi * (1 - a) + p * a, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(a[..., 0] > 0.5)
    if len(xs) == 0:
        return None
    return (fx1 + xs.min(), fy1 + ys.min(), fx1 + xs.max() + 1, fy1 + ys.max() + 1)


def _match_frame(patch: np.ndarray, frame: np.ndarray, cx: float, cy: float, rng: np.random.Generator) -> np.ndarray:
    """Brightness to the surroundings, blur and noise to the frame's look."""
    H, W = frame.shape[:2]
    r = max(8, patch.shape[0])
    x1, y1, x2, y2 = int(max(0, cx - r)), int(max(0, cy - r)), int(min(W, cx + r)), int(min(H, cy + r))
    local = frame[y1:y2, x1:x2]
    if local.size:
        ratio = (local.mean() + 1) / (patch[patch.sum(axis=2) > 0].mean() + 1 if (patch.sum(axis=2) > 0).any() else 1)
        ratio = float(np.clip(ratio, 0.5, 1.6))
        patch = np.clip(patch.astype(np.float32) * (0.5 + 0.5 * ratio), 0, 255).astype(np.uint8)
    f = rng.uniform(1.0, 2.2)
    if f > 1.15 and min(patch.shape[:2]) > 8:
        small = cv2.resize(
            patch, (max(2, int(patch.shape[1] / f)), max(2, int(patch.shape[0] / f))), interpolation=cv2.INTER_AREA
        )
        patch = cv2.resize(small, (patch.shape[1], patch.shape[0]), interpolation=cv2.INTER_LINEAR)
    sigma = rng.uniform(0, 0.9)
    if sigma > 0.2:
        patch = cv2.GaussianBlur(patch, (0, 0), sigma)
    noise = rng.normal(0, rng.uniform(1, 4), patch.shape)
    return np.clip(patch.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def upper_body_crop(
    box: np.ndarray, kp: np.ndarray, W: int, H: int, min_conf: float = 0.4
) -> tuple[int, int, int, int]:
    """The same region the phone cascade crops at run time (pipeline.core.regions.crop_region)."""
    return crop_region(box, kp[:, :2], kp[:, 2], W, H, 0.2, min_conf)


def hand_square(box: np.ndarray, kp: np.ndarray, wrist: int, W: int, H: int) -> tuple[int, int, int, int] | None:
    kc = np.zeros(17, np.float32)
    kc[wrist] = 1.0
    r = hand_regions(box, kp[:, :2], kc, W, H)
    return r[0] if r else None


def _yolo_lines(boxes: list[tuple[int, tuple]], crop: tuple[int, int, int, int]) -> list[str]:
    cx1, cy1, cx2, cy2 = crop
    cw, ch = cx2 - cx1, cy2 - cy1
    out = []
    for cls, (x1, y1, x2, y2) in boxes:
        ox1, oy1, ox2, oy2 = max(x1, cx1), max(y1, cy1), min(x2, cx2), min(y2, cy2)
        if ox2 - ox1 < 2 or oy2 - oy1 < 2:
            continue
        area = (x2 - x1) * (y2 - y1)
        if (ox2 - ox1) * (oy2 - oy1) < (0.6 if cls == 1 else 0.3) * area:
            continue  # a phone cut by the crop edge is not labelled... and not kept either (below)
        out.append(
            f"{cls} {((ox1 + ox2) / 2 - cx1) / cw:.6f} {((oy1 + oy2) / 2 - cy1) / ch:.6f} "
            f"{(ox2 - ox1) / cw:.6f} {(oy2 - oy1) / ch:.6f}"
        )
    return out


def _cut_phone(boxes: list[tuple[int, tuple]], crop: tuple[int, int, int, int], keep: float = 0.6) -> bool:
    """Whether a phone box is partly inside the crop (some of it visible, less than `keep` of it).

    Such a crop shows part of a phone with no label (_yolo_lines drops it), so it is not written.
    """
    cx1, cy1, cx2, cy2 = crop
    for cls, (x1, y1, x2, y2) in boxes:
        if cls != 1:
            continue
        ow, oh = min(x2, cx2) - max(x1, cx1), min(y2, cy2) - max(y1, cy1)
        area = max(1, (x2 - x1) * (y2 - y1))
        if ow > 0 and oh > 0 and ow * oh < keep * area:
            return True
    return False


def _overlaps(box: tuple[float, float, float, float], others: list[tuple], margin: float) -> bool:
    x1, y1, x2, y2 = box
    return any(
        x1 - margin < ox2 and ox1 < x2 + margin and y1 - margin < oy2 and oy1 < y2 + margin
        for ox1, oy1, ox2, oy2 in others
    )


@dataclass
class _Paste:
    """What one person's crops get: the options shared by the video and the image backgrounds."""

    phones: list[PhoneCrop]
    p_positive: float = 0.6
    p_negative: float = 0.3
    negatives: dict[str, float] | None = None  # None: the video sections' pen/paper/cup


def _person_crops(
    img: np.ndarray,
    pboxes: np.ndarray,
    kps: np.ndarray,
    i: int,
    v: int,
    opts: _Paste,
    rng: np.random.Generator,
    stats: SynthStats,
    out_dir: Path,
    name_prefix: str,
    key_prefix: str,
    real_phones: list[tuple[int, int, int, int]] | None = None,
    plain_seen: set | None = None,
) -> None:
    """One variant of person i: maybe a phone (positive) or a non-phone (negative) at a hand; writes its crops.

    real_phones are phone boxes (frame pixels) the background already has: they keep their label in
    every crop, nothing is pasted over or next to them, and a crop that cuts one is not written.
    With plain_seen, a person's crops with nothing pasted are written once, not once per variant.
    """
    H, W = img.shape[:2]
    box, kp = pboxes[i], kps[i]
    real = list(real_phones or [])
    sh_ok = kp[L_SH, 2] > 0.5 and kp[R_SH, 2] > 0.5
    sw = float(np.hypot(*(kp[L_SH, :2] - kp[R_SH, :2]))) if sh_ok else 0.0
    sw = max(sw, 0.25 * float(box[3] - box[1]), 12.0)
    wrists = [w for w in (L_WR, R_WR) if kp[w, 2] > 0.4]
    seen = wrists
    if real:  # paste only at a hand that holds no phone already
        wrists = [w for w in wrists if not _overlaps((*kp[w, :2], *kp[w, :2]), real, 0.9 * sw)]
    if not wrists and not (real and seen):
        stats.skip("no free wrist" if seen else "no wrist seen")
        return
    canvas = img.copy()
    u = rng.random() if wrists else 1.0  # every hand holds a real phone: its crop as it is
    labels: list[tuple[int, tuple]] = [(0, tuple(int(c) for c in ob)) for ob in pboxes]
    labels += [(1, tuple(int(c) for c in rb)) for rb in real]
    wrist = int(rng.choice(wrists)) if wrists else seen[0]
    kind = "plain"
    if u < opts.p_positive:
        ph = opts.phones[int(rng.integers(0, len(opts.phones)))]
        size = rng.uniform(0.3, 0.6) * sw
        if size < 6:
            return
        squash = 1.0 if rng.random() < 0.5 else rng.uniform(0.25, 0.8)
        angle = rng.uniform(-180, 180) if rng.random() < 0.5 else rng.uniform(-30, 30)
        patch, alpha = _rotated_rgba(ph.rgb, angle, squash, size)
        if rng.random() < 0.15 and kp[NOSE, 2] > 0.5:
            cx = kp[NOSE, 0] + rng.choice([-1, 1]) * rng.uniform(0.25, 0.45) * sw
            cy = kp[NOSE, 1] + rng.uniform(0.0, 0.2) * sw
        else:
            el = L_EL if wrist == L_WR else R_EL
            d = kp[wrist, :2] - kp[el, :2] if kp[el, 2] > 0.4 else np.zeros(2)
            off = rng.uniform(0.05, 0.35)
            cx, cy = kp[wrist, :2] + d * off + rng.normal(0, 0.05 * sw, 2)
        ph_, pw_ = alpha.shape
        if real and _overlaps((cx - pw_ / 2, cy - ph_ / 2, cx + pw_ / 2, cy + ph_ / 2), real, 0.2 * sw):
            stats.skip("paste next to a real phone")
            return
        patch = _match_frame(patch, canvas, cx, cy, rng)
        pbox = _blend(canvas, patch, alpha, cx, cy)
        if pbox is None:
            return
        if rng.random() < 0.7:
            fingers(canvas, pbox, skin_at(img, *kp[wrist, :2]), rng)
        labels.append((1, pbox))
        kind = "phone"
        stats.positives += 1
    elif u < opts.p_positive + opts.p_negative:
        if opts.negatives is None:
            kind = negative_object(canvas, float(kp[wrist, 0]), float(kp[wrist, 1]), sw, rng)
        else:
            kind = negative_object(
                canvas, float(kp[wrist, 0]), float(kp[wrist, 1]), sw, rng, opts.negatives,
                forearm(kp, wrist, rng), skin_tone(img, *kp[wrist, :2], rng),
            )
        stats.negatives += 1
    elif plain_seen is not None:
        if (name_prefix, i) in plain_seen:
            stats.skip("plain crop written already")
            return  # nothing pasted: the crop an earlier variant wrote
        plain_seen.add((name_prefix, i))
    crops = [("b", upper_body_crop(box, kp, W, H))]
    if rng.random() < 0.4:
        hs = hand_square(box, kp, wrist, W, H)
        if hs is not None:
            crops.append(("h", hs))
    for tag, crop in crops:
        x1, y1, x2, y2 = (int(c) for c in crop)
        if x2 - x1 < 16 or y2 - y1 < 16:
            continue
        lines = _yolo_lines(labels, (x1, y1, x2, y2))
        if _cut_phone(labels, (x1, y1, x2, y2)):
            stats.skip("crop cuts a phone")
            continue  # part of a phone without its label
        if kind == "phone" and not any(ln.startswith("1 ") for ln in lines):
            continue  # the phone fell outside this crop
        key = hashlib.sha1(f"{key_prefix}{i}{v}{tag}".encode()).hexdigest()[:8]
        name = f"{name_prefix}_p{i}v{v}_{tag}_{kind}_{key}"
        q = int(rng.integers(60, 92))
        cv2.imwrite(str(out_dir / "images" / f"{name}.jpg"), canvas[y1:y2, x1:x2], [cv2.IMWRITE_JPEG_QUALITY, q])
        (out_dir / "labels" / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        stats.images += 1


def _pose(pose_model, img: np.ndarray):
    H, W = img.shape[:2]
    res = pose_model.predict(img, imgsz=min(960, int(math.ceil(max(H, W) / 32)) * 32), conf=0.3, verbose=False)[0]
    if res.boxes is None or not len(res.boxes):
        return None, None
    return res.boxes.xyxy.cpu().numpy(), res.keypoints.data.cpu().numpy()  # (n, 4), (n, 17, 3)


def synthesise(
    videos: list[Path],
    out_dir: Path,
    phones: list[PhoneCrop],
    pose_model,
    excluded: ExcludedImages,
    *,
    every_s: float = 1.0,
    max_frames: int = 40,
    seed: int = 0,
    segment_s: float = 5.0,
    p_positive: float = 0.6,
    p_negative: float = 0.3,
    variants: int = 1,
    negatives: dict[str, float] | None = None,
    progress=None,
) -> SynthStats:
    """Write synthetic crops (images/ and labels/) for each video; returns counts."""
    rng = np.random.default_rng(seed)
    stats = SynthStats()
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "labels").mkdir(parents=True, exist_ok=True)
    if not phones:
        raise ValueError("no phone crops to paste")
    opts = _Paste(phones, p_positive, p_negative, negatives)
    for video in videos:
        vname = re.sub(r"[^A-Za-z0-9]+", "_", video.stem)[:40]
        frames = sample_video(video, every_s, max_frames)
        stats.frames += len(frames)
        frames = drop_excluded(frames, excluded, video.name, stats)
        it = progress(frames, desc=f"synth {video.name}") if progress else frames
        for t, img in it:
            pboxes, kps = _pose(pose_model, img)
            if pboxes is None:
                continue
            seg = int(t // segment_s)
            for i in range(len(pboxes)):
                for v in range(variants):
                    stats.persons += v == 0
                    _person_crops(img, pboxes, kps, i, v, opts, rng, stats, out_dir,
                                  f"{vname}__s{seg:03d}__t{t:06.1f}", f"{vname}{t}")
    return stats


@dataclass
class Background:
    """A still image of a labelled set to paste into; its crops go to the split of its source clip."""

    path: Path
    source: str
    group: str  # the source clip (the source's group regex)
    split: str  # train, val or test
    phones: list[tuple[float, float, float, float]] = field(default_factory=list)  # YOLO cx, cy, w, h (its labels)
    variants: int = 2
    hands: list[tuple[float, float, float, float]] = field(default_factory=list)  # boxes of other things held


def hands_as_wrists(pboxes: np.ndarray, kps: np.ndarray, hands: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Keypoints with a wrist put at each labelled held thing (a wallet, earbuds) whose person shows
    no wrist: in webcam close-ups the hand holding it up is often out of the pose model's reach."""
    kps = kps.copy()
    for x1, y1, x2, y2 in hands:
        hx, hy = (x1 + x2) / 2, (y1 + y2) / 2
        inside = [
            i for i, (bx1, by1, bx2, by2) in enumerate(pboxes)
            if bx1 - 0.1 * (bx2 - bx1) <= hx <= bx2 + 0.1 * (bx2 - bx1) and by1 - 0.1 * (by2 - by1) <= hy <= by2
        ]
        if not inside:
            continue
        i = max(inside, key=lambda j: (pboxes[j][2] - pboxes[j][0]) * (pboxes[j][3] - pboxes[j][1]))
        if kps[i, L_WR, 2] > 0.4 or kps[i, R_WR, 2] > 0.4:
            continue
        w = L_WR if kps[i, L_WR, 2] >= kps[i, R_WR, 2] else R_WR
        kps[i, w] = (hx, hy, 1.0)
    return kps


def background_name(bg: Background) -> str:
    """File-name prefix of a background's crops: `<source>__g<clip>__k<split>__<frame>`.

    The group regex `IMAGE_GROUP` reads the clip and split back, so the merge keeps every crop of
    one source clip in the split that clip has in its own source.
    """
    def clean(s: str, n: int) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-")[:n] or "x"

    return f"{clean(bg.source, 24)}__g{clean(bg.group, 40)}__k{bg.split}__{clean(bg.path.stem, 48)}"


def _px(b: tuple[float, float, float, float], W: int, H: int) -> tuple[int, int, int, int]:
    cx, cy, w, h = b
    return (int(round((cx - w / 2) * W)), int(round((cy - h / 2) * H)),
            int(round((cx + w / 2) * W)), int(round((cy + h / 2) * H)))


IMAGE_GROUP = r"^(.*?__k(?:train|val|test))__"
IMAGE_FORCE = {s: f"__k{s}$" for s in ("train", "val", "test")}


def synthesise_images(
    backgrounds: list[Background],
    out_dir: Path,
    phones: dict[str, list[PhoneCrop]],
    pose_model,
    excluded: ExcludedImages | None = None,
    *,
    seed: int = 0,
    p_positive: float = 0.45,
    p_negative: float = 0.45,
    negatives: dict[str, float] | None = None,
    progress=None,
) -> SynthStats:
    """Write synthetic crops of still images (images/ and labels/); phones[split] are the crops pasted
    into that split's backgrounds (so no held-out image shows a phone of a training image)."""
    rng = np.random.default_rng(seed)
    stats = SynthStats()
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "labels").mkdir(parents=True, exist_ok=True)
    it = progress(backgrounds, desc="synth images") if progress else backgrounds
    for bg in it:
        bank = phones.get(bg.split) or []
        if not bank:
            raise ValueError(f"no phone crops to paste into {bg.split} images")
        img = cv2.imread(str(bg.path))
        if img is None:
            continue
        stats.frames += 1
        if excluded is not None and len(excluded.thumbs):
            d = excluded.distances(img)
            j = int(d.argmin())
            if d[j] <= 0.35:
                stats.frames_excluded += 1
                stats.excluded_windows.append(f"{bg.path.name} ~ {Path(excluded.names[j]).name} ({d[j]:.2f})")
                continue
        H, W = img.shape[:2]
        real = [_px(b, W, H) for b in bg.phones]
        pboxes, kps = _pose(pose_model, img)
        if pboxes is None:
            continue
        if bg.hands:
            kps = hands_as_wrists(pboxes, kps, [_px(b, W, H) for b in bg.hands])
        opts = _Paste(bank, p_positive, p_negative, negatives)
        prefix = background_name(bg)
        plain: set = set()
        for i in range(len(pboxes)):
            for v in range(bg.variants):
                stats.persons += v == 0
                _person_crops(img, pboxes, kps, i, v, opts, rng, stats, out_dir, prefix, prefix, real, plain)
    return stats
