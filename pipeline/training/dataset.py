"""The merge into one YOLO dataset for `counterwatch train`, from its description (YAML; loaded and
checked by `pipeline.training.spec`):

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
from pipeline.training.spec import IMAGE_EXT, SPLITS, DatasetSpec, Source, SynthSpec
from pipeline.training.split import group_of, split_of

log = logging.getLogger(__name__)

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
