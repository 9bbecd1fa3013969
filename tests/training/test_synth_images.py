"""Synthetic crops on still images of the labelled sets: originals only, the split of the source clip,
the images' own phones kept with their labels, and no pasting next to them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.core.errors import ConfigError
from pipeline.training import synth
from pipeline.training.dataset import backgrounds, merge, original_images, source_split
from pipeline.training.spec import Source, load_spec
from pipeline.training.split import group_of

RED = (0, 0, 255)
REAL_PHONE = (128, 132, 152, 168)  # x1, y1, x2, y2 in the 200x200 test image, at the right wrist


class _Arr:
    def __init__(self, a: np.ndarray) -> None:
        self.a = a

    def cpu(self) -> _Arr:
        return self

    def numpy(self) -> np.ndarray:
        return self.a


class _Res:
    def __init__(self, boxes: np.ndarray, kps: np.ndarray) -> None:
        self.boxes = type("B", (), {"xyxy": _Arr(boxes), "__len__": lambda s: len(boxes)})()
        self.keypoints = type("K", (), {"data": _Arr(kps)})()


class FakePose:
    """One seated person in every image; `wrists` are the wrist keypoints the model sees (9 left, 10 right)."""

    def __init__(self, wrists: tuple[int, ...] = (9, 10)) -> None:
        self.wrists = wrists

    def predict(self, img, **_kw):
        kp = np.zeros((1, 17, 3), np.float32)
        pts = {0: (100, 40), 5: (70, 62), 6: (130, 62), 7: (62, 110), 8: (138, 110), 9: (60, 150), 10: (140, 150),
               11: (80, 190), 12: (120, 190)}
        for k, (x, y) in pts.items():
            kp[0, k] = (x, y, 0.95 if (k in self.wrists or k not in (9, 10)) else 0.05)
        return [_Res(np.array([[30, 15, 170, 199]], np.float32), kp)]


def _image(path: Path, real_phone: bool) -> None:
    img = np.full((200, 200, 3), 110, np.uint8)
    img[:, :, 1] = np.linspace(60, 160, 200, dtype=np.uint8)[None, :]  # some texture for the brightness match
    if real_phone:
        x1, y1, x2, y2 = REAL_PHONE
        img[y1:y2, x1:x2] = RED
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def _yolo(box: tuple[int, int, int, int], cls: int = 0, w: int = 200, h: int = 200) -> str:
    x1, y1, x2, y2 = box
    return f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"


def _bank() -> dict[str, list[synth.PhoneCrop]]:
    ph = np.full((40, 22, 3), 20, np.uint8)
    ph[3:-3, 2:-2] = (200, 160, 40)  # a lit screen
    return {s: [synth.PhoneCrop(ph, f"{s}.jpg")] for s in ("train", "val", "test")}


def _boxes(lab: Path, w: int, h: int) -> list[tuple[int, tuple[float, float, float, float]]]:
    out = []
    for line in lab.read_text().splitlines():
        c, cx, cy, bw, bh = (float(v) for v in line.split())
        out.append((int(c), ((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h)))
    return out


def test_real_phones_keep_their_label_and_nothing_is_pasted_next_to_them(tmp_path):
    p = tmp_path / "src/images/clipA_f000001.jpg"
    _image(p, real_phone=True)
    bg = synth.Background(p, "src", "clipA", "train", [tuple(float(v) for v in _yolo(REAL_PHONE, 1).split()[1:])],
                          variants=12)
    out = tmp_path / "out"
    st = synth.synthesise_images([bg], out, _bank(), FakePose(), seed=0, p_positive=0.5, p_negative=0.5,
                                 negatives={"pen_held": 1, "writing": 1, "calculator": 1})
    assert st.positives > 0 and st.negatives > 0
    names = sorted(f.stem for f in (out / "images").glob("*.jpg"))
    assert names and all(n.startswith("src__gclipA__ktrain__clipA-f000001_") for n in names)
    ox, oy = None, None
    for n in names:
        img = cv2.imread(str(out / "images" / f"{n}.jpg"))
        h, w = img.shape[:2]
        boxes = _boxes(out / "labels" / f"{n}.txt", w, h)
        phones = [b for c, b in boxes if c == 1]
        real = [b for b in phones if img[int(b[1]) + 3 : int(b[3]) - 3, int(b[0]) + 3 : int(b[2]) - 3, 2].mean() > 200]
        red = (img[:, :, 2] > 200) & (img[:, :, 0] < 60) & (img[:, :, 1] < 60)
        if "_b_" in n:  # the upper body holds the real phone whole, with its label, and the person
            assert any(c == 0 for c, _ in boxes) and len(real) == 1, n
        elif not real:  # a hand square of the other hand: no part of the real phone in it
            assert red.sum() < 5, n
            continue
        assert len(real) == 1, n
        rx1, ry1, rx2, ry2 = real[0]
        patch = img[int(ry1) + 3 : int(ry2) - 3, int(rx1) + 3 : int(rx2) - 3]
        assert patch[:, :, 2].mean() > 200 and patch[:, :, 0].mean() < 60  # still red: nothing drawn over it
        pasted = [b for b in phones if b is not real[0]]
        assert len(pasted) == (1 if "_phone_" in n else 0), n
        for b in pasted:  # the pasted phone sits at the other (left) hand, apart from the real one
            assert b[2] < rx1 or b[0] > rx2 or b[3] < ry1 or b[1] > ry2, n
        ox, oy = w, h
    assert ox and oy and any("_b_" in n for n in names)
    # a person whose only seen wrist holds the real phone gives its crop as it is, once for all 12 variants
    st2 = synth.synthesise_images([bg], tmp_path / "out2", _bank(), FakePose(wrists=(10,)), seed=0)
    assert st2.positives == st2.negatives == 0 and st2.skipped.get("plain crop written already") == 11
    labs = [f.read_text() for f in (tmp_path / "out2/labels").glob("*_b_plain_*.txt")]
    assert len(labs) == 1 and sum(ln.startswith("1 ") for ln in labs[0].splitlines()) == 1
    # no wrist seen at all: nothing to paste at, nothing written
    st3 = synth.synthesise_images([bg], tmp_path / "out3", _bank(), FakePose(wrists=()), seed=0)
    assert st3.images == 0 and st3.skipped.get("no wrist seen") == 12


def test_a_crop_that_cuts_a_phone_is_not_written():
    phone = (1, (90, 90, 110, 130))
    assert synth._cut_phone([phone], (0, 0, 100, 200))  # half of it in the crop
    assert not synth._cut_phone([phone], (0, 0, 200, 200))  # all of it
    assert not synth._cut_phone([phone], (0, 0, 80, 80))  # none of it
    assert not synth._cut_phone([(0, (90, 90, 110, 130))], (0, 0, 100, 200))  # persons may be cut


def test_held_things_stand_in_for_unseen_wrists():
    boxes = np.array([[0, 0, 200, 200]], np.float32)
    kps = np.zeros((1, 17, 3), np.float32)
    out = synth.hands_as_wrists(boxes, kps, [(40, 40, 60, 80)])
    assert tuple(out[0, synth.L_WR]) == (50, 60, 1.0) and kps[0, synth.L_WR, 2] == 0  # a copy
    kps[0, synth.R_WR] = (150, 150, 0.9)  # a wrist is seen: left alone
    assert np.array_equal(synth.hands_as_wrists(boxes, kps, [(40, 40, 60, 80)]), kps)


SPEC = """classes: [person, phone]
split: {{val: 0.0, test: 0.4, seed: 1}}
sources:
  - name: cam
    path: set
    names: [phone, wallet]
    map: {{phone: phone, wallet: null}}
    group: '^(clip\\d\\d)'
    exclude_eval: '_rot'
    frame: '^(clip\\d\\d_f\\d)'
    force: {{test: 'clip00'}}
synthetic:
  - name: synth_lic
    images_from: [{{source: cam, variants: 3, hands: [wallet]}}]
    phones_from: [cam]
    negatives: {negatives}
    licence: CC BY 4.0
"""


def _set(root: Path) -> None:
    for c in range(8):
        for k in range(2):
            for suffix in ("", "_rot15", "_aug.rf.1", "_aug.rf.2"):
                stem = f"clip{c:02d}_f{k}{suffix}"
                _image(root / "images" / f"{stem}.jpg", real_phone=True)
                (root / "labels").mkdir(parents=True, exist_ok=True)
                (root / "labels" / f"{stem}.txt").write_text(_yolo(REAL_PHONE, 0) + "\n" + _yolo((20, 20, 40, 40), 1))


def test_backgrounds_are_originals_and_crops_land_in_the_split_of_their_source_clip(tmp_path):
    _set(tmp_path / "set")
    ds = tmp_path / "ds.yaml"
    ds.write_text(SPEC.format(negatives="{pen_held: 1, writing: 1}"))
    spec = load_spec(ds)
    src = spec.sources[0]
    origs = original_images(src)
    # copies out (exclude_eval), one image per original frame (frame): the first by path
    assert sorted(p.stem for p in origs) == sorted(f"clip{c:02d}_f{k}" for c in range(8) for k in range(2))
    bgs = backgrounds(spec, spec.synthetic[0])
    assert len(bgs) == 16
    for b in bgs:
        assert (b.group, b.split) == source_split(spec, src, b.path)
        assert len(b.phones) == 1 and len(b.hands) == 1 and b.variants == 3
    assert {b.split for b in bgs} == {"train", "test"} and all(b.split == "test" for b in bgs if b.group == "clip00")
    # the merge reads the clip and split back from the file names
    out = tmp_path / "syn"
    synth.synthesise_images(bgs, out, _bank(), FakePose(), seed=0)
    made = Source(name="synth_lic", path=out, names=["person", "phone"], map={"person": "person", "phone": "phone"},
                  group=synth.IMAGE_GROUP, force=dict(synth.IMAGE_FORCE))
    spec.sources.append(made)
    merge(spec, tmp_path / "merged")
    split_of_clip = {b.group: b.split for b in bgs}
    n = 0
    for split in ("train", "val", "test"):
        for f in (tmp_path / "merged/images" / split).glob("synth_lic__*"):
            clip = f.name.split("__g")[1].split("__")[0]
            assert split_of_clip[clip] == split, f.name
            assert group_of(f.name.split("synth_lic__", 1)[1], synth.IMAGE_GROUP).endswith(f"__k{split}")
            n += 1
    assert n > 0
    # eval-only sections never reach train
    made.eval_only = True
    merge(spec, tmp_path / "merged2")
    assert not list((tmp_path / "merged2/images/train").glob("synth_lic__*"))
    assert list((tmp_path / "merged2/images/test").glob("synth_lic__*"))


@pytest.mark.parametrize(
    "negatives,msg",
    [("{pencil: 1}", "unknown kind 'pencil'"), ("{pen_held: -1}", "expected a weight >= 0"),
     ("{pen_held: 0}", "add up to 0")],
)
def test_bad_negatives_name_file_and_field(tmp_path, negatives, msg):
    _set(tmp_path / "set")
    ds = tmp_path / "ds.yaml"
    ds.write_text(SPEC.format(negatives=negatives))
    with pytest.raises(ConfigError) as e:
        load_spec(ds)
    assert str(ds) in str(e.value) and "synthetic[0] (synth_lic).negatives" in str(e.value) and msg in str(e.value)


def test_bad_images_from_names_file_and_field(tmp_path):
    _set(tmp_path / "set")
    ds = tmp_path / "ds.yaml"
    ds.write_text(SPEC.format(negatives="{cup: 1}").replace("source: cam,", "source: nope,"))
    with pytest.raises(ConfigError, match=r"images_from\[0\]: unknown source 'nope'"):
        load_spec(ds)
    ds.write_text(SPEC.format(negatives="{cup: 1}").replace("hands: [wallet]", "hands: [purse]"))
    with pytest.raises(ConfigError, match=r"images_from\[0\].hands: expected class names of source cam"):
        load_spec(ds)


def test_eval_only_must_name_a_synthetic_section(tmp_path, capsys):
    from pipeline.cli import main

    _set(tmp_path / "set")
    ds = tmp_path / "ds.yaml"
    ds.write_text(SPEC.format(negatives="{cup: 1}"))
    assert main(["train", "--dataset", str(ds), "--eval-only", "synthx", "--check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--eval-only 'synthx' is not a synthetic section" in err[0] and "synth_lic" in err[0]


def test_project_licensed_section_uses_only_licensed_sources(data_dir):
    spec = load_spec(Path(__file__).resolve().parents[2] / "configs/train/phone.yaml", data_dir)
    lic = next(s for s in spec.synthetic if s.name == "synth_licensed")
    assert not lic.videos and {n for n, *_ in lic.images_from} <= {"bws_cctv", "ait_webcam", "bsai_cabin"}
    assert "GPL-3.0" in lic.licence and "CC BY 4.0" in lic.licence
    bgs = backgrounds(spec, lic)
    assert bgs and not any(("_aug" in b.path.stem or "_rot" in b.path.stem) for b in bgs if b.source == "bws_cctv")
    ait = [b.path.stem.split("_png")[0] for b in bgs if b.source == "ait_webcam"]
    assert len(ait) == len(set(ait))  # one image per webcam frame, not its Roboflow copies
