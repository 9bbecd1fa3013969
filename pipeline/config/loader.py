"""Read and validate config YAML; turn pydantic errors into lines that name camera, post and field.

The site config model itself is composed with the rule registry in `pipeline.settings`,
which is where `load_config` and `parse_config` live.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _describe_loc(raw: Any, loc: tuple) -> str:
    """cameras.0.posts.1.seat -> camera 'cam5' post 'P2' field 'seat'"""
    parts: list[str] = []
    node = raw
    i = 0
    while i < len(loc):
        key = loc[i]
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if key in ("cameras", "posts", "duties", "staff") and isinstance(nxt, int):
            item = None
            try:
                item = node[key][nxt]
            except (KeyError, IndexError, TypeError):
                pass
            label = {"cameras": "camera", "posts": "post", "duties": "duty", "staff": "staff"}[key]
            ident = item.get("id") if isinstance(item, dict) else None
            parts.append(f"{label} {ident!r}" if ident else f"{label} #{nxt + 1}")
            node = item if isinstance(item, dict) else {}
            i += 2
            continue
        if isinstance(node, dict):
            node = node.get(key, {}) if isinstance(key, str) else {}
        parts.append(str(key))
        i += 1
    if not parts:
        return "top level"
    if i >= len(loc) and loc and isinstance(loc[-1], int) and len(loc) >= 2 and loc[-2] in (
            "cameras", "posts", "duties", "staff"):
        return " ".join(parts)  # the error is about the whole camera/post
    return " ".join(parts[:-1] + [f"field {parts[-1]!r}"])


def format_errors(exc: ValidationError, raw: Any, origin: str) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")
        where = _describe_loc(raw, loc)
        # a whole-camera/post check names its own field: "camera 'c1' post 'P1' field 'seat': ..."
        lines.append(f"{origin}: {where} {msg}" if msg.startswith("field ") else f"{origin}: {where}: {msg}")
    return lines


def read_config_text(path: str | Path) -> str:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config ({exc.strerror})") from None


def parse_as(model: type[M], text: str, origin: str = "<config>") -> M:
    """YAML text validated as `model`; a ConfigError whose lines name camera, post and field."""
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{origin}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: top level must be a mapping, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(format_errors(exc, raw, origin))) from None


def schema_of(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(by_alias=True), ensure_ascii=False, indent=2)


def dump_yaml(cfg: BaseModel) -> str:
    data = cfg.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
