"""Image labels in two formats, both turned into {image path: {rule_id: 1 | 0 | None}}.

- Image-level CSV (`image,<rule_id>,...`; cells 1, 0 or empty = cannot be judged): what a
  person writes by looking at each image.
- YOLO datasets (images/ + labels/ + data.yaml or classes.txt) with a map from the
  dataset's class names to rule ids: public datasets become accuracy figures for the
  rules without relabelling. An image holding a mapped class is a positive for that
  rule; holding none of the rule's classes, a negative.

Errors name the file, line and field, since labels are edited by hand.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import yaml

from pipeline.core.errors import ConfigError
from pipeline.rules import catalog  # noqa: F401  (registers every rule)
from pipeline.rules.base import RULES

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
Labels = dict[str, dict[str, int | None]]


log = logging.getLogger(__name__)

def known_rules() -> set[str]:
    return set(RULES)


def load_csv(path: str | Path, data_dir: str | Path, *, check_rules: bool = True) -> tuple[Labels, list[str]]:
    """Image-level labels -> (labels, rule ids in column order). Image paths stay relative to data_dir."""
    p, root = Path(path), Path(data_dir)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{p}: labels file not found") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or not rows[0] or rows[0][0].strip() != "image":
        raise ConfigError(f"{p}: line 1: header must start with 'image' followed by rule ids")
    rules = [c.strip() for c in rows[0][1:]]
    skip: set[str] = set()
    if check_rules:
        known = known_rules()
        skip = {r for r in rules if r not in known}
        for r in sorted(skip):  # e.g. a notes column: reported, not fatal
            log.warning("%s: line 1: column %r is not a rule id; ignored (known: %s)", p, r, ", ".join(sorted(known)))
        if len(skip) == len(rules):
            raise ConfigError(f"{p}: line 1: no rule id columns (unknown: {', '.join(sorted(skip))}; "
                              f"known: {', '.join(sorted(known))})")
    if len(set(rules)) != len(rules):
        raise ConfigError(f"{p}: line 1: a rule id appears twice")
    out: Labels = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) != len(rules) + 1:
            raise ConfigError(f"{p}: line {lineno}: {len(row)} fields, expected {len(rules) + 1}")
        image = row[0].strip()
        if image in out:
            raise ConfigError(f"{p}: line {lineno}: image {image!r} listed twice")
        if not (root / image).is_file():
            raise ConfigError(f"{p}: line {lineno}: image {image!r} not found under {root}")
        cells: dict[str, int | None] = {}
        for rule, cell in zip(rules, row[1:], strict=True):
            if rule in skip:
                continue
            v = cell.strip()
            if v not in ("", "0", "1"):
                raise ConfigError(f"{p}: line {lineno} field {rule!r}: {v!r} must be 1, 0 or empty")
            cells[rule] = None if v == "" else int(v)
        out[image] = cells
    if not out:
        raise ConfigError(f"{p}: no labelled images")
    return out, [r for r in rules if r not in skip]


def _class_names(root: Path) -> list[str]:
    """Class names from data.yaml (`names:` list or {id: name}) or classes.txt."""
    for name in ("data.yaml", "data.yml"):
        f = root / name
        if f.is_file():
            try:
                data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{f}: invalid YAML: {exc}") from None
            names = data.get("names") if isinstance(data, dict) else None
            if isinstance(names, dict):
                return [str(names[k]) for k in sorted(names, key=int)]
            if isinstance(names, list):
                return [str(n) for n in names]
            raise ConfigError(f"{f}: field 'names' must be a list or a mapping of class ids to names")
    f = root / "classes.txt"
    if f.is_file():
        return [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
    raise ConfigError(f"{root}: no data.yaml or classes.txt with the dataset's class names")


def load_class_map(path: str | Path) -> dict[str, str]:
    """MAP.yaml: `classes: {dataset_class_name: rule_id}`."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{p}: class map not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML: {exc}") from None
    classes = data.get("classes") if isinstance(data, dict) else None
    if not isinstance(classes, dict) or not classes:
        raise ConfigError(f"{p}: field 'classes' must map dataset class names to rule ids")
    known = known_rules()
    out = {}
    for name, rule in classes.items():
        if str(rule) not in known:
            raise ConfigError(f"{p}: field classes.{name}: unknown rule id {rule!r}")
        out[str(name)] = str(rule)
    return out


def _images_dir(root: Path) -> Path:
    d = root / "images"
    if not d.is_dir():
        raise ConfigError(f"{root}: no images/ folder (YOLO layout: images/ and labels/)")
    return d


def load_yolo(data_dir: str | Path, class_map: dict[str, str]) -> tuple[Labels, list[str]]:
    """YOLO dataset -> image-level labels for the mapped rules. Image paths are relative to data_dir.

    Images without a label file are negatives for every mapped rule (YOLO's own
    convention for background images).
    """
    root = Path(data_dir)
    names = _class_names(root)
    for cname in class_map:
        if cname not in names:
            raise ConfigError(f"class map: dataset class {cname!r} not in {root} (classes: {', '.join(names)})")
    rules = sorted(set(class_map.values()))
    images = _images_dir(root)
    labels_dir = root / "labels"
    out: Labels = {}
    for img in sorted(x for x in images.rglob("*") if x.suffix.lower() in IMAGE_EXTS):
        rel = img.relative_to(images)
        lab = (labels_dir / rel).with_suffix(".txt")
        present: set[str] = set()
        if lab.is_file():
            for lineno, line in enumerate(lab.read_text(encoding="utf-8").splitlines(), start=1):
                parts = line.split()
                if not parts:
                    continue
                try:
                    cid = int(float(parts[0]))
                except ValueError:
                    raise ConfigError(f"{lab}: line {lineno}: class id {parts[0]!r} is not a number") from None
                if not 0 <= cid < len(names):
                    raise ConfigError(f"{lab}: line {lineno}: class id {cid} outside 0..{len(names) - 1}")
                if names[cid] in class_map:
                    present.add(class_map[names[cid]])
        out[str(img.relative_to(root))] = {r: int(r in present) for r in rules}
    if not out:
        raise ConfigError(f"{images}: no images")
    return out, rules
