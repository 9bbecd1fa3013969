"""Dataset description (YAML) for `counterwatch train`, its checks, and the merge into one YOLO dataset.

    classes: [person, phone]            # the project's classes, in model order
    split: {val: 0.15, test: 0.15, seed: 0}
    sources:
      - name: bws_cctv
        path: train/bws_phone_usage/yolo_dataset   # relative to the YAML, or to --data-root
        names: [phone]                  # the source's class ids, in order
        map: {phone: phone}             # source class -> project class (null: drop)
        include: '^2025071'             # only image stems matching this (optional)
        exclude: '_rot|_aug'            # leave these out of val/test (copies of train frames)
        group: '^(\\d{8}_\\d{6}_[0-9a-f]{8})'   # the source clip: a whole group lands in one split
        force: {test: '20250718_150650'}        # groups that must be in one split (optional)
        pseudo_label: [person]          # classes the source does not label: the COCO model fills them in
        frame: '^(.*_f\\d{6})'          # the original frame of an image: images sharing it are copies (optional)
        licence: GPL-3.0
    synthetic:                          # phones pasted at the wrists of people (pipeline.training.synth)
      - name: synth_licensed
        images_from: [bws_cctv, {source: ait_webcam, variants: 1}]  # still images of these sources
        phones_from: [bws_cctv, ait_webcam]
        negatives: {pen_held: 0.4, writing: 0.3, calculator: 0.1, paper: 0.1, cup: 0.1}
        licence: CC BY 4.0

A synthetic section takes `videos` (frames sampled from CCTV videos) and/or `images_from` (the
original images of sources above, each crop in the split its source clip has, with the image's own
phone labels kept).

Images are every .jpg/.png under `path`; a label file is the image path with `/images/` replaced
by `/labels/` and a .txt suffix (a missing label file is an image with nothing in it).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pipeline.core.boxes import box_iou
from pipeline.core.errors import ConfigError
from pipeline.training import synth
from pipeline.training.split import group_of, split_of

log = logging.getLogger(__name__)

IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp")
SPLITS = ("train", "val", "test")


@dataclass
class Source:
    name: str
    path: Path
    names: list[str]
    map: dict[str, str | None]
    include: str | None = None
    exclude_eval: str | None = None
    group: str | None = None
    force: dict[str, str] = field(default_factory=dict)
    pseudo_label: list[str] = field(default_factory=list)
    licence: str = "not stated"
    max_images: int | None = None
    frame: str | None = None  # regex: the original frame an image is a copy of (for synthetic backgrounds)
    eval_only: bool = False  # its train-split images are left out (val/test only)


@dataclass
class SynthSpec:
    """Phones pasted into people's hands in CCTV videos (pipeline.training.synth)."""

    name: str
    videos: list[Path]
    phones_from: list[str]  # source names whose train-split phone boxes are pasted
    exclude_images: list[Path]  # never train on these (nor on video frames that show them)
    force: dict[str, str] = field(default_factory=dict)
    every_s: float = 1.0
    max_frames: int = 40
    variants: int = 2
    seed: int = 0
    licence: str = "not stated"
    images_from: list[tuple[str, int, list[str]]] = field(default_factory=list)  # (source, variants, hands)
    p_positive: float | None = None  # None: 0.6 for videos, 0.45 for images
    p_negative: float | None = None  # None: 0.3 for videos, 0.45 for images
    negatives: dict[str, float] | None = None  # kind -> weight (synth.NEGATIVE_KINDS); None: pen/paper/cup


@dataclass
class DatasetSpec:
    file: Path
    classes: list[str]
    sources: list[Source]
    synthetic: list[SynthSpec] = field(default_factory=list)
    pose_model: str = "yolo11n-pose_dequant.pt"
    val: float = 0.15
    test: float = 0.15
    seed: int = 0
    pseudo_model: str = "yolo11n_dequant.pt"
    pseudo_conf: float = 0.4


def _err(file: Path, where: str, msg: str) -> ConfigError:
    return ConfigError(f"{file}: {where}: {msg}")


def load_spec(path: str | Path, data_root: str | Path | None = None) -> DatasetSpec:
    """Read and check a dataset YAML; every problem is one line naming the file and field."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"dataset file {file} not found")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(raw, dict):
        raise _err(file, "top level", "expected a mapping with classes and sources")
    classes = raw.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes):
        raise _err(file, "classes", "expected a list of class names, e.g. [person, phone]")
    if len(set(classes)) != len(classes):
        raise _err(file, "classes", "a class is listed twice")
    split = raw.get("split") or {}
    if not isinstance(split, dict):
        raise _err(file, "split", "expected a mapping {val: 0.15, test: 0.15, seed: 0}")
    val, test = float(split.get("val", 0.15)), float(split.get("test", 0.15))
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise _err(file, "split", f"val ({val}) and test ({test}) must be fractions that add up to less than 1")
    roots = [file.parent] + ([Path(data_root)] if data_root else [])
    srcs_raw = raw.get("sources")
    if not isinstance(srcs_raw, list) or not srcs_raw:
        raise _err(file, "sources", "expected a list of sources")
    sources = []
    for i, s in enumerate(srcs_raw):
        where = f"sources[{i}]"
        if not isinstance(s, dict):
            raise _err(file, where, "expected a mapping")
        name = str(s.get("name") or f"source{i}")
        where = f"sources[{i}] ({name})"
        if "path" not in s:
            raise _err(file, f"{where}.path", "missing")
        p = Path(str(s["path"]))
        cands = [p] if p.is_absolute() else [r / p for r in roots]
        found = next((c for c in cands if c.is_dir()), None)
        if found is None:
            raise _err(file, f"{where}.path", f"folder {p} not found (looked in {', '.join(str(c) for c in cands)})")
        names = s.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _err(file, f"{where}.names", "expected the source's class names in id order")
        cmap = s.get("map")
        if not isinstance(cmap, dict) or not cmap:
            raise _err(file, f"{where}.map", "expected a mapping from source class to project class")
        for k, v in cmap.items():
            if k not in names:
                raise _err(file, f"{where}.map", f"unknown source class {k!r} (the source has {names})")
            if v is not None and v not in classes:
                raise _err(file, f"{where}.map.{k}", f"unknown class {v!r} (classes are {classes})")
        pseudo = s.get("pseudo_label") or []
        for c in pseudo:
            if c not in classes:
                raise _err(file, f"{where}.pseudo_label", f"unknown class {c!r} (classes are {classes})")
        for key in ("include", "exclude_eval", "group", "frame"):
            if s.get(key) is not None:
                try:
                    re.compile(str(s[key]))
                except re.error as exc:
                    raise _err(file, f"{where}.{key}", f"not a valid regular expression: {exc}") from exc
        force = s.get("force") or {}
        if not isinstance(force, dict) or any(k not in SPLITS for k in force):
            raise _err(file, f"{where}.force", f"expected a mapping from a split ({', '.join(SPLITS)}) to a regex")
        sources.append(
            Source(
                name=name,
                path=found,
                names=list(names),
                map=dict(cmap),
                include=s.get("include"),
                exclude_eval=s.get("exclude_eval"),
                group=s.get("group"),
                force={k: str(v) for k, v in force.items()},
                pseudo_label=list(pseudo),
                licence=str(s.get("licence", "not stated")),
                max_images=int(s["max_images"]) if s.get("max_images") else None,
                frame=s.get("frame"),
            )
        )
    pm = raw.get("pseudo_label_model") or {}
    synthetic = [
        _synth_spec(file, roots, i, s, [x.name for x in sources], classes, [x.names for x in sources])
        for i, s in enumerate(raw.get("synthetic") or [])
    ]
    return DatasetSpec(
        file=file,
        classes=list(classes),
        sources=sources,
        val=val,
        test=test,
        seed=int(split.get("seed", 0)),
        pseudo_model=str(pm.get("model", "yolo11n_dequant.pt")),
        pseudo_conf=float(pm.get("conf", 0.4)),
        synthetic=synthetic,
        pose_model=str(raw.get("pose_model", "yolo11n-pose_dequant.pt")),
    )


def _find(file: Path, roots: list[Path], where: str, p: str, *, folder: bool) -> Path:
    q = Path(p)
    cands = [q] if q.is_absolute() else [r / q for r in roots]
    found = next((c for c in cands if (c.is_dir() if folder else c.is_file())), None)
    if found is None:
        what = "folder" if folder else "file"
        raise _err(file, where, f"{what} {p} not found (looked in {', '.join(str(c) for c in cands)})")
    return found


def _synth_spec(
    file: Path,
    roots: list[Path],
    i: int,
    s: Any,
    source_names: list[str],
    classes: list[str],
    source_classes: list[list[str]] | None = None,
) -> SynthSpec:
    where = f"synthetic[{i}]"
    source_classes = source_classes or [[] for _ in source_names]
    if not isinstance(s, dict):
        raise _err(file, where, "expected a mapping")
    name = str(s.get("name") or f"synth{i}")
    where = f"synthetic[{i}] ({name})"
    if "phone" not in classes or "person" not in classes:
        raise _err(file, where, "synthetic data labels 'person' and 'phone': both must be in classes")
    vids = s.get("videos") or []
    if not isinstance(vids, list):
        raise _err(file, f"{where}.videos", "expected a list of video files")
    videos = [_find(file, roots, f"{where}.videos[{j}]", str(v), folder=False) for j, v in enumerate(vids)]
    images_from: list[tuple[str, int, list[str]]] = []
    raw_imgs = s.get("images_from") or []
    if not isinstance(raw_imgs, list):
        raise _err(
            file, f"{where}.images_from", "expected a list of source names (or {source: name, variants: n, hands: [...]})"
        )
    for j, e in enumerate(raw_imgs):
        e = e if isinstance(e, dict) else {"source": e}
        n = e.get("source")
        if n not in source_names:
            raise _err(file, f"{where}.images_from[{j}]", f"unknown source {n!r} (sources are {source_names})")
        hands = e.get("hands") or []
        src_names = source_classes[source_names.index(n)]
        bad = [h for h in hands if h not in src_names]
        if not isinstance(hands, list) or bad:
            raise _err(file, f"{where}.images_from[{j}].hands",
                       f"expected class names of source {n} ({src_names}), got {bad[0] if bad else hands!r}")
        images_from.append((str(n), int(e.get("variants", s.get("variants", 2))), [str(h) for h in hands]))
    if not videos and not images_from:
        raise _err(file, where, "expected videos (a list of video files) or images_from (a list of sources)")
    negatives = s.get("negatives")
    if negatives is not None:
        if not isinstance(negatives, dict) or not negatives:
            raise _err(file, f"{where}.negatives", f"expected a mapping kind -> weight ({', '.join(synth.NEGATIVE_KINDS)})")
        for k, w in negatives.items():
            if k not in synth.NEGATIVE_KINDS:
                raise _err(file, f"{where}.negatives", f"unknown kind {k!r} (kinds are {', '.join(synth.NEGATIVE_KINDS)})")
            if not isinstance(w, (int, float)) or w < 0:
                raise _err(file, f"{where}.negatives.{k}", f"expected a weight >= 0, got {w!r}")
        negatives = {str(k): float(w) for k, w in negatives.items()}
        if not sum(negatives.values()) > 0:
            raise _err(file, f"{where}.negatives", "the weights add up to 0")
    probs = {}
    for key in ("p_positive", "p_negative"):
        if s.get(key) is not None:
            v = s[key]
            if not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise _err(file, f"{where}.{key}", f"expected a fraction 0..1, got {v!r}")
            probs[key] = float(v)
    if sum(probs.values()) > 1 + 1e-9:
        raise _err(file, where, "p_positive + p_negative must be at most 1")
    phones_from = s.get("phones_from") or []
    for n in phones_from:
        if n not in source_names:
            raise _err(file, f"{where}.phones_from", f"unknown source {n!r} (sources are {source_names})")
    excl: list[Path] = []
    ex = s.get("exclude_images_csv")
    if ex:
        csv_p = _find(file, roots, f"{where}.exclude_images_csv", str(ex), folder=False)
        root = _find(file, roots, f"{where}.exclude_root", str(s.get("exclude_root", ".")), folder=True)
        import csv

        with csv_p.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                img = row.get("image")
                if img:
                    excl.append(root / img)
    force = s.get("force") or {}
    if not isinstance(force, dict) or any(k not in SPLITS for k in force):
        raise _err(file, f"{where}.force", f"expected a mapping from a split ({', '.join(SPLITS)}) to a regex")
    return SynthSpec(
        name=name,
        videos=videos,
        phones_from=list(phones_from),
        exclude_images=excl,
        force={k: str(v) for k, v in force.items()},
        every_s=float(s.get("every_s", 1.0)),
        max_frames=int(s.get("max_frames", 40)),
        variants=int(s.get("variants", 2)),
        seed=int(s.get("seed", 0)),
        licence=str(s.get("licence", "not stated")),
        images_from=images_from,
        p_positive=probs.get("p_positive"),
        p_negative=probs.get("p_negative"),
        negatives=negatives,
    )


def source_split(spec: DatasetSpec, src: Source, img: Path) -> tuple[str, str]:
    """(group, split) of one image of a source: every image of a source clip lands in the same split."""
    g = group_of(img.stem, src.group)
    return g, split_of(
        f"{src.name}/{g}",
        spec.val,
        spec.test,
        spec.seed,
        force={k: f"^{re.escape(src.name)}/.*(?:{v})" for k, v in src.force.items()},
    )


def original_images(src: Source) -> list[Path]:
    """A source's images less its copies: `exclude_eval` matches are left out and, with `frame`, one
    image is kept per original frame (the first by path)."""
    out, seen = [], set()
    for img in source_images(src):
        if src.exclude_eval and re.search(src.exclude_eval, img.stem):
            continue
        if src.frame:
            m = re.search(src.frame, img.stem)
            key = (m.group(1) if m and m.groups() else m.group(0)) if m else img.stem
            if key in seen:
                continue
            seen.add(key)
        out.append(img)
    return out


def backgrounds(spec: DatasetSpec, sy: SynthSpec) -> list[synth.Background]:
    """The still images a synthetic section pastes into: original images of its `images_from` sources,
    each with its split (that of its source clip) and its own phone boxes."""
    out = []
    by_name = {s.name: s for s in spec.sources}
    for name, variants, hands in sy.images_from:
        src = by_name[name]
        ids = {i for i, n in enumerate(src.names) if src.map.get(n) == "phone"}
        held = {i for i, n in enumerate(src.names) if n in hands and i not in ids}
        for img in original_images(src):
            g, sp = source_split(spec, src, img)
            rows = read_labels(label_path(img), len(src.names))
            phones = [(cx, cy, w, h) for c, cx, cy, w, h in rows if c in ids]
            others = [(cx, cy, w, h) for c, cx, cy, w, h in rows if c in held]
            out.append(synth.Background(img, src.name, g, sp, phones, variants, others))
    return out


def phone_files(spec: DatasetSpec, names: list[str], split: str) -> list[tuple[Path, Path, set[int]]]:
    """(image, label file, phone class ids) of the given sources' images that fall in `split`.

    Only original frames (not the sources' augmented copies) are used, so a pasted crop comes
    from one image, and crops for a held-out synthetic set come from held-out images only.
    """
    out = []
    for src in spec.sources:
        if src.name not in names:
            continue
        ids = {i for i, n in enumerate(src.names) if src.map.get(n) == "phone"}
        for img in source_images(src):
            if src.exclude_eval and re.search(src.exclude_eval, img.stem):
                continue
            _, sp = source_split(spec, src, img)
            if sp == split:
                out.append((img, label_path(img), ids))
    return out


def make_synthetic(spec: DatasetSpec, work: Path, pose_model, *, progress=None) -> list[Source]:
    """Run each synthetic section; returns the sources to merge (one folder each under work)."""

    out = []
    for sy in spec.synthetic:
        d = work / sy.name
        if d.exists():
            shutil.rmtree(d)
        excluded = synth.ExcludedImages(sy.exclude_images)
        if sy.videos:
            held_out = "test" in sy.force and sy.force["test"] in (".", ".*")
            bank = synth.phone_bank(phone_files(spec, sy.phones_from, "test" if held_out else "train"))
            if not bank:
                raise ConfigError(f"{spec.file}: synthetic ({sy.name}).phones_from: no phone boxes found")
            stats = synth.synthesise(
                sy.videos,
                d / "videos",
                bank,
                pose_model,
                excluded,
                every_s=sy.every_s,
                max_frames=sy.max_frames,
                seed=sy.seed,
                variants=sy.variants,
                p_positive=0.6 if sy.p_positive is None else sy.p_positive,
                p_negative=0.3 if sy.p_negative is None else sy.p_negative,
                negatives=sy.negatives,
                progress=progress,
            )
            out.append(_synthetic_source(spec, sy, sy.name, d / "videos", stats, group=r"^(.*?__s\d+)",
                                         force=dict(sy.force)))
        if sy.images_from:
            bgs = backgrounds(spec, sy)
            banks = {s: synth.phone_bank(phone_files(spec, sy.phones_from, s)) for s in SPLITS}
            banks["val"] = banks["val"] or banks["train"]  # val only picks the epoch
            for s in {b.split for b in bgs}:
                if not banks[s]:
                    raise ConfigError(
                        f"{spec.file}: synthetic ({sy.name}).phones_from: no {s}-split phone boxes to paste "
                        f"into the {s}-split images"
                    )
            stats = synth.synthesise_images(
                bgs,
                d / "images_from",
                banks,
                pose_model,
                excluded,
                seed=sy.seed,
                p_positive=0.45 if sy.p_positive is None else sy.p_positive,
                p_negative=0.45 if sy.p_negative is None else sy.p_negative,
                negatives=sy.negatives,
                progress=progress,
            )
            out.append(_synthetic_source(spec, sy, f"{sy.name}_images" if sy.videos else sy.name,
                                         d / "images_from", stats, group=synth.IMAGE_GROUP,
                                         force=dict(synth.IMAGE_FORCE)))  # the split of each crop's source clip
    return out


def _synthetic_source(spec: DatasetSpec, sy: Any, name: str, path: Path, stats: Any, *, group: str,
                      force: dict[str, str]) -> Source:
    """Log and keep a synthetic section's figures (stats.json beside its images); the source to merge."""
    log.info("%s (%s): %s", sy.name, path.name, stats)
    (path / "stats.json").write_text(json.dumps(stats.__dict__, indent=1))
    return Source(name=name, path=path, names=list(spec.classes), map={c: c for c in spec.classes}, group=group,
                  force=force, licence=sy.licence)


def label_path(img: Path) -> Path:
    parts = list(img.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return img.with_suffix(".txt")


def read_labels(lab: Path, n_names: int) -> list[tuple[int, float, float, float, float]]:
    """YOLO label rows; a bad row raises one line naming the file, line and field."""
    if not lab.is_file():
        return []
    out = []
    for ln, line in enumerate(lab.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5:
            raise ConfigError(f"{lab}:{ln}: expected 'class cx cy w h', got {line.strip()!r}")
        try:
            cls = int(float(parts[0]))
            cx, cy, w, h = (float(v) for v in parts[1:5])
        except ValueError as exc:
            raise ConfigError(f"{lab}:{ln}: not a number in {line.strip()!r}") from exc
        if not 0 <= cls < n_names:
            raise ConfigError(f"{lab}:{ln}: class id {cls} out of range (the source has {n_names} classes)")
        for fname, v in (("cx", cx), ("cy", cy), ("w", w), ("h", h)):
            if not 0.0 <= v <= 1.0 + 1e-6:
                raise ConfigError(f"{lab}:{ln}: {fname}={v} out of range (YOLO coordinates are fractions 0..1)")
        if len(parts) > 5:  # polygon rows (Roboflow): keep the box
            pass
        out.append((cls, cx, cy, w, h))
    return out


def source_images(src: Source) -> list[Path]:
    imgs = sorted(p for p in src.path.rglob("*") if p.suffix.lower() in IMAGE_EXT and "images" in p.parts)
    if not imgs:
        imgs = sorted(p for p in src.path.rglob("*") if p.suffix.lower() in IMAGE_EXT)
    if src.include:
        imgs = [p for p in imgs if re.search(src.include, p.stem)]
    if src.max_images and len(imgs) > src.max_images:
        step = len(imgs) / src.max_images
        imgs = [imgs[int(i * step)] for i in range(src.max_images)]
    return imgs


@dataclass
class MergeReport:
    out: Path
    data_yaml: Path
    counts: dict[str, dict[str, int]]  # source -> split -> images
    boxes: dict[str, dict[str, int]]  # split -> class -> boxes
    pseudo_boxes: int = 0
    groups: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> split -> groups

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "counts": self.counts,
            "boxes": self.boxes,
            "pseudo_boxes": self.pseudo_boxes,
            "groups": self.groups,
        }


def check_spec(spec: DatasetSpec) -> dict[str, int]:
    """Read every label file once (so a bad one fails before training starts); images per source."""
    out = {}
    for src in spec.sources:
        imgs = source_images(src)
        if not imgs:
            raise ConfigError(f"{spec.file}: sources ({src.name}).path: no images under {src.path}")
        for img in imgs:
            read_labels(label_path(img), len(src.names))
        out[src.name] = len(imgs)
    return out


def merge(spec: DatasetSpec, out: Path, *, pseudo_model=None, progress=None) -> MergeReport:
    """Write one YOLO dataset (images/{split}, labels/{split}, data.yaml) from the spec's sources."""
    check_spec(spec)
    if out.exists():
        shutil.rmtree(out)
    for s in SPLITS:
        (out / "images" / s).mkdir(parents=True)
        (out / "labels" / s).mkdir(parents=True)
    cid = {c: i for i, c in enumerate(spec.classes)}
    counts: dict[str, dict[str, int]] = {}
    groups: dict[str, dict[str, set]] = {}
    boxes = {s: dict.fromkeys(spec.classes, 0) for s in SPLITS}
    n_pseudo = 0
    coco_names = None
    for src in spec.sources:
        imgs = source_images(src)
        counts[src.name] = dict.fromkeys(SPLITS, 0)
        groups[src.name] = {s: set() for s in SPLITS}
        it = progress(imgs, desc=f"merge {src.name}") if progress else imgs
        for img in it:
            g, split = source_split(spec, src, img)
            if split != "train" and src.exclude_eval and re.search(src.exclude_eval, img.stem):
                continue  # an augmented or rotated copy: only where its original trains
            if split == "train" and src.eval_only:
                continue  # measured on, never trained on
            rows = []
            for cls, cx, cy, w, h in read_labels(label_path(img), len(src.names)):
                target = src.map.get(src.names[cls])
                if target is not None:
                    rows.append((cid[target], cx, cy, w, h))
            if src.pseudo_label:
                if pseudo_model is None:
                    raise ConfigError(
                        f"{spec.file}: sources ({src.name}).pseudo_label needs the COCO model {spec.pseudo_model}"
                    )
                res = pseudo_model.predict(str(img), conf=spec.pseudo_conf, verbose=False, imgsz=640)[0]
                coco_names = coco_names or res.names
                ih, iw = res.orig_shape
                have = [(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2) for _, cx, cy, w, h in rows]
                for b, c in zip(res.boxes.xyxyn.cpu().numpy(), res.boxes.cls.cpu().numpy().astype(int), strict=True):
                    name = coco_names.get(int(c), "")
                    if name in src.pseudo_label and (not have or float(box_iou(b, np.asarray(have)).max()) < 0.5):
                        x1, y1, x2, y2 = (float(v) for v in b)
                        rows.append((cid[name], (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1))
                        n_pseudo += 1
            stem = f"{src.name}__{img.stem}"
            dst = out / "images" / split / f"{stem}{img.suffix.lower()}"
            try:
                dst.symlink_to(img.resolve())
            except OSError:
                shutil.copy2(img, dst)
            (out / "labels" / split / f"{stem}.txt").write_text(
                "".join(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for c, cx, cy, w, h in rows)
            )
            counts[src.name][split] += 1
            groups[src.name][split].add(g)
            for c, *_ in rows:
                boxes[split][spec.classes[c]] += 1
    data_yaml = out / "data.yaml"
    n_split = {s: sum(c[s] for c in counts.values()) for s in SPLITS}
    if not n_split["train"]:
        raise ConfigError(f"{spec.file}: split: no image landed in train (check force and the split fractions)")
    val_dir = next(f"images/{s}" for s in ("val", "test", "train") if n_split[s])  # Ultralytics needs a val set
    if val_dir != "images/val":
        log.warning("no validation images: the per-epoch figures use %s", val_dir)
    data_yaml.write_text(
        yaml.safe_dump(
            {
                "path": str(out.resolve()),
                "train": "images/train",
                "val": val_dir,
                "test": "images/test",
                "names": dict(enumerate(spec.classes)),
            },
            sort_keys=False,
        )
    )
    rep = MergeReport(
        out=out,
        data_yaml=data_yaml,
        counts=counts,
        boxes=boxes,
        pseudo_boxes=n_pseudo,
        groups={k: {s: len(v) for s, v in d.items()} for k, d in groups.items()},
    )
    (out / "merge.json").write_text(__import__("json").dumps(rep.as_dict(), indent=1))
    return rep
