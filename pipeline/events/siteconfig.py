"""The site config a data folder was analysed with, stored in the folder itself.

`analyze`, `batch` and `run` write it as `site-config.yaml` (alert receivers
left out: they hold secrets and no report needs them) before they write the
first event, and keep every earlier version under `site-configs/`. The report
then never needs `--config` repeated, and a `--config` that differs from the
stored one is refused (or, with `--config-override`, used with a warning):
never silently.

`site-config.json` lists the runs: which config (by fingerprint) each command
used, and for which day when the day is known, so a report of an older day
uses the config that day was analysed with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.errors import ConfigError, OutputError
from pipeline.settings import SiteConfig, load_config

log = logging.getLogger(__name__)

CONFIG_FILE = "site-config.yaml"
META_FILE = "site-config.json"
HISTORY_DIR = "site-configs"
_EXCLUDE = {"alerts"}


def _plain(cfg: SiteConfig) -> dict[str, Any]:
    return cfg.model_dump(mode="json", by_alias=True, exclude=_EXCLUDE)


def fingerprint(cfg: SiteConfig) -> str:
    """A stable hash of what the config means (comments, key order and alert receivers do not count)."""
    text = json.dumps(_plain(cfg), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _dump(cfg: SiteConfig, origin: str) -> str:
    data = cfg.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude=_EXCLUDE)
    head = (f"# Site config this data folder was analysed with (from {origin}).\n"
            "# Written by counterwatch; alert receivers are left out. Earlier versions: site-configs/.\n")
    return head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _meta(data_dir: Path) -> dict[str, Any]:
    try:
        meta = json.loads((data_dir / META_FILE).read_text(encoding="utf-8"))
        return meta if isinstance(meta, dict) else {"runs": []}
    except (OSError, ValueError):
        return {"runs": []}


def remember(data_dir: str | Path, cfg: SiteConfig, *, origin: str, command: str,
             day: dt.date | None = None) -> str:
    """Store `cfg` as the data folder's site config; warn when it replaces a different one. Returns its fingerprint."""
    d = Path(data_dir)
    fp = fingerprint(cfg)
    text = _dump(cfg, origin)
    try:
        (d / HISTORY_DIR).mkdir(parents=True, exist_ok=True)
        old = load_stored(d)
        if old is not None and fingerprint(old) != fp:
            log.warning("%s: the site config differs from the one stored in %s (%s); %s now uses %s, the "
                        "earlier one stays in %s/", origin, d / CONFIG_FILE, ", ".join(differences(old, cfg)),
                        command, origin, HISTORY_DIR)
        _write(d / HISTORY_DIR / f"{fp}.yaml", text)
        _write(d / CONFIG_FILE, text)
        meta = _meta(d)
        meta.setdefault("runs", []).append({
            "fingerprint": fp, "site_id": cfg.site.id, "origin": str(origin), "command": command,
            "day": day.isoformat() if day else None, "at": dt.datetime.now().isoformat(timespec="seconds"),
        })
        meta["runs"] = meta["runs"][-1000:]
        meta["current"] = fp
        _write(d / META_FILE, json.dumps(meta, ensure_ascii=False, indent=1))
    except OSError as exc:
        raise OutputError(f"{d}: cannot store the site config ({exc.strerror})") from None
    return fp


def _parse(path: Path) -> SiteConfig:
    return load_config(path)


def load_stored(data_dir: str | Path, day: dt.date | None = None) -> SiteConfig | None:
    """The stored config (the one `day` was analysed with, when known), or None if the folder has none."""
    d = Path(data_dir)
    if day is not None:
        runs = [r for r in _meta(d).get("runs", []) if r.get("day") == day.isoformat()]
        if runs:
            path = d / HISTORY_DIR / f"{runs[-1]['fingerprint']}.yaml"
            if path.is_file():
                return _parse(path)
    path = d / CONFIG_FILE
    return _parse(path) if path.is_file() else None


def differences(a: SiteConfig, b: SiteConfig) -> list[str]:
    """Where two configs differ, as short paths: site.opening_hours, camera 'cam5', roster.staff ..."""
    pa, pb = _plain(a), _plain(b)
    out: list[str] = []
    for key in pa.keys() | pb.keys():
        va, vb = pa.get(key), pb.get(key)
        if va == vb:
            continue
        if key == "cameras":
            ca = {c["id"]: c for c in va or []}
            cb = {c["id"]: c for c in vb or []}
            out += [f"camera {cid!r}" for cid in sorted(ca.keys() | cb.keys()) if ca.get(cid) != cb.get(cid)]
        elif isinstance(va, dict) and isinstance(vb, dict):
            out += [f"{key}.{k}" for k in sorted(va.keys() | vb.keys()) if va.get(k) != vb.get(k)]
        else:
            out.append(key)
    return sorted(out)


POST_ZONES = ("seat", "desk", "customer")
CAMERA_ZONES = ("waiting", "staff_area", "verticals")


def _without_zones(cfg: SiteConfig) -> dict[str, Any]:
    """The config with zone geometry left out: what the report reads (names, hours, roster, rules)."""
    d = _plain(cfg)
    for cam in d.get("cameras") or []:
        for k in CAMERA_ZONES:
            cam.pop(k, None)
        for post in cam.get("posts") or []:
            for k in POST_ZONES:
                post.pop(k, None)
    return d


def config_for_report(data_dir: str | Path, day: dt.date, config_path: str | None, *,
                      override: bool = False) -> tuple[SiteConfig | None, list[str]]:
    """The config a report of `day` uses, and warnings to print.

    No --config: the stored one. A --config equal to the stored one: fine. One that differs
    only in zone geometry (a zone edit since the analysis): a warning. One that differs in
    what the report reads: ConfigError, unless `override` (then a warning). No stored config
    (a folder analysed by an older version): the --config, or None with a warning.
    """

    stored = load_stored(data_dir, day)
    warnings: list[str] = []
    if config_path is None:
        if stored is None:
            warnings.append(f"warning: {data_dir} has no stored site config (analysed by an older version): "
                            "post names, opening hours and roster are unknown; pass --config")
        return stored, warnings
    given = load_config(config_path)
    if stored is None:
        warnings.append(f"warning: {data_dir} has no stored site config; using --config {config_path} "
                        "as given (it cannot be checked against the analysis)")
        return given, warnings
    if fingerprint(given) == fingerprint(stored):
        return given, warnings
    diff = ", ".join(differences(stored, given))
    where = Path(data_dir) / CONFIG_FILE
    if _without_zones(given) == _without_zones(stored):  # a zone edit since: nothing the report reads changed
        warnings.append(f"warning: --config {config_path} has other zones than the site config the data was "
                        f"analysed with ({where}, {diff}); the report does not use zones, so it goes on")
        return given, warnings
    if not override:
        raise ConfigError(f"--config {config_path}: differs from the site config {data_dir} was analysed with "
                          f"({where}) in {diff}; omit --config to use the stored one, or add --config-override "
                          "to report with this one anyway")
    warnings.append(f"warning: --config {config_path} differs from the site config the data was analysed with "
                    f"({where}) in {diff}; reporting with {config_path} as asked (--config-override)")
    return given, warnings
