"""The dataset description (YAML) for `counterwatch train`: loaded, checked and resolved into a `DatasetSpec`.

Every error names the YAML file and the field. The format is described in
`pipeline.training.dataset`, which builds the merged YOLO dataset from the spec.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.errors import ConfigError
from pipeline.training.painters import NEGATIVE_KINDS

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
    negatives: dict[str, float] | None = None  # kind -> weight (NEGATIVE_KINDS); None: pen/paper/cup


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
            raise _err(file, f"{where}.negatives", f"expected a mapping kind -> weight ({', '.join(NEGATIVE_KINDS)})")
        for k, w in negatives.items():
            if k not in NEGATIVE_KINDS:
                raise _err(file, f"{where}.negatives", f"unknown kind {k!r} (kinds are {', '.join(NEGATIVE_KINDS)})")
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
