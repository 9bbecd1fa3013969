"""Zone editor (admin only): read and save a camera's polygons in the site YAML.

A save goes through the same validation as start-up (`parse_config` on the modified
YAML), so the editor can never write a config the pipeline would refuse; the named
errors go back to the page (geometry: pipeline/config/geometry.py). The YAML is
round-tripped (ruamel.yaml): only the points that moved change; comments and style stay.
The old file is kept as `site.yaml.bak-YYYYmmdd-HHMMSS` (the newest `zone_editor.backups`
are kept) and the new one is written to a temp file and renamed (atomic); a symlinked
config is written through its link. The file's sha256 is handed out with the zones and
checked on save, so two admins can't silently overwrite each other. Under `counterwatch
run` the cameras of this process take the new zones at once.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import io
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.comments import CommentedSeq

from pipeline.config.geometry import polygon_problem
from pipeline.config.models import CameraConfig
from pipeline.core.errors import ConfigError, SourceError
from pipeline.events import queries
from pipeline.settings import SiteConfig, parse_config
from pipeline.sources import VideoFileSource, config_dir, still_frame
from pipeline.web.auth import AdminUser
from pipeline.web.i18n import render
from pipeline.web.schemas import PostZones, ZonesOut, ZonesSaved, ZonesUpdate

router = APIRouter()
_save_lock = threading.Lock()


def _config_path(request: Request) -> Path:
    p = getattr(request.app.state, "config_path", None)
    if p is None:
        raise HTTPException(409, "the server was started without --config; zones cannot be edited")
    return Path(p)


def _read(path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HTTPException(500, f"{path}: cannot read config ({exc.strerror})") from None
    return data.decode("utf-8"), hashlib.sha256(data).hexdigest()


def _camera(cfg: SiteConfig, camera_id: str, path: Path) -> CameraConfig:
    for c in cfg.cameras:
        if c.id == camera_id:
            return c
    raise HTTPException(404, f"{path}: no camera {camera_id!r} (cameras: {', '.join(c.id for c in cfg.cameras)})")


def _zones_out(cam: CameraConfig, sha: str) -> dict[str, Any]:
    return {"camera_id": cam.id,
            "posts": [PostZones(id=p.id, seat=p.seat, desk=p.desk, customer=p.customer) for p in cam.posts],
            "waiting": cam.waiting, "staff_area": cam.staff_area, "sha256": sha}


def _round(poly: list[list[float]] | None) -> list[list[float]] | None:
    return None if poly is None else [[round(float(x), 4), round(float(y), 4)] for x, y in poly]


# --------------------------------------------------------------------------------------------
# round-trip YAML: only the points that change are rewritten; comments, order, quoting,
# flow/block style and indentation of everything else stay as they were
# --------------------------------------------------------------------------------------------
def guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, offset of a block sequence's dash under its key), as the file writes them."""
    mapping, offset = None, None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for prev, cur in zip(lines, lines[1:], strict=False):
        if not prev.rstrip().endswith(":") or prev.lstrip().startswith("- "):
            continue
        pi, ci = len(prev) - len(prev.lstrip()), len(cur) - len(cur.lstrip())
        if cur.lstrip().startswith("- "):
            offset = ci - pi if offset is None else offset
        elif ci > pi and mapping is None:
            mapping = ci - pi
    return mapping or 2, max(0, offset or 0)


def _yaml(text: str) -> YAML:
    y = YAML()  # round-trip mode
    y.preserve_quotes = True
    y.width = 4096  # never fold a long flow sequence onto new lines
    mapping, offset = guess_indent(text)
    y.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return y


def _flow(items: list) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _set_point(seq: Any, i: int, pt: list[float]) -> None:
    old = seq[i]
    if isinstance(old, list) and len(old) == 2:
        for k in (0, 1):
            if not isinstance(old[k], (int, float)) or float(old[k]) != pt[k]:
                old[k] = pt[k]  # an unchanged coordinate keeps its spelling (0.30 stays 0.30)
    else:
        seq[i] = _flow(list(pt))


def _set_polygon(node: Any, key: Any, poly: list[list[float]] | None) -> None:
    """Write `poly` into node[key], changing only the points that differ."""
    if poly is None:
        if key in node:
            del node[key]
        return
    present = key in node if isinstance(node, dict) else key < len(node)
    old = node[key] if present else None
    if not isinstance(old, list):
        new = _flow([_flow(list(p)) for p in poly])
        if isinstance(node, list) and not present:
            node.append(new)
        else:
            node[key] = new
        return
    for i, pt in enumerate(poly):
        if i < len(old):
            _set_point(old, i, pt)
        else:
            old.append(_flow(list(pt)))
    del old[len(poly):]


def _set_polygon_list(cam: Any, key: str, polys: list[list[list[float]]]) -> None:
    if not polys:
        if key in cam:
            del cam[key]
        return
    if not isinstance(cam.get(key), list):
        cam[key] = CommentedSeq()
    seq = cam[key]
    for i, poly in enumerate(polys):
        _set_polygon(seq, i, poly)
    del seq[len(polys):]


def _geometry_errors(origin: str, camera_id: str, upd: ZonesUpdate) -> list[str]:
    errors = []
    for post in upd.posts:
        for name in ("seat", "desk", "customer"):
            poly = getattr(post, name)
            problem = polygon_problem(poly) if poly is not None else None
            if problem:
                errors.append(f"{origin}: camera {camera_id!r} post {post.id!r} field {name!r}: {problem}")
    for name in ("waiting", "staff_area"):
        for i, poly in enumerate(getattr(upd, name)):
            problem = polygon_problem(poly)
            if problem:
                errors.append(f"{origin}: camera {camera_id!r} field '{name}[{i}]': {problem}")
    return errors


def apply_zones(text: str, camera_id: str, upd: ZonesUpdate, origin: str) -> tuple[str, SiteConfig]:
    """The modified YAML text and its validated config; ConfigError lists what is wrong."""
    errors = _geometry_errors(origin, camera_id, upd)
    if errors:
        raise ConfigError("\n".join(errors))
    y = _yaml(text)
    try:
        raw = y.load(text) or {}
    except YAMLError as exc:
        raise ConfigError(f"{origin}: invalid YAML: {exc}") from None
    cams = raw.get("cameras") if isinstance(raw, dict) else None
    cam = next((c for c in cams or [] if isinstance(c, dict) and c.get("id") == camera_id), None)
    if cam is None:
        raise ConfigError(f"{origin}: no camera {camera_id!r}")
    raw_posts = {p.get("id"): p for p in cam.get("posts") or [] if isinstance(p, dict)}
    for post in upd.posts:
        rp = raw_posts.get(post.id)
        if rp is None:
            errors.append(f"{origin}: camera {camera_id!r} post {post.id!r}: no such post on this camera")
            continue
        for name in ("seat", "desk", "customer"):
            _set_polygon(rp, name, _round(getattr(post, name)))
    if errors:
        raise ConfigError("\n".join(errors))
    for name in ("waiting", "staff_area"):
        _set_polygon_list(cam, name, [_round(p) for p in getattr(upd, name)])
    buf = io.StringIO()
    y.dump(raw, buf)
    new_text = buf.getvalue()
    return new_text, parse_config(new_text, origin=origin)


def _prune_backups(target: Path, keep: int) -> list[Path]:
    """Remove all but the `keep` newest `<name>.bak-*` files next to `target`; the removed ones."""
    backups = sorted(target.parent.glob(f"{glob.escape(target.name)}.bak-*"),
                     key=lambda p: (p.stat().st_mtime_ns, p.name))
    gone = backups[:max(0, len(backups) - keep)]
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def write_atomic_with_backup(path: Path, text: str, keep_backups: int = 10) -> Path | None:
    """Copy the current file to `<name>.bak-YYYYmmdd-HHMMSS` (the newest `keep_backups` are kept),
    then replace it atomically. A symlinked config is written through: the link's target is
    replaced and the link stays a link."""
    target = Path(os.path.realpath(path))
    backup = None
    if keep_backups > 0:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        backup = target.with_name(f"{target.name}.bak-{stamp}")
        n = 1
        while backup.exists():
            n += 1
            backup = target.with_name(f"{target.name}.bak-{stamp}-{n}")
        shutil.copy2(target, backup)
        os.chmod(backup, 0o600)  # backups are private, whatever the config's own mode
        os.utime(backup)  # the backup's age is when it was taken (pruning goes by it)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _prune_backups(target, keep_backups)
    return backup


@router.get("/api/zones/{camera_id}", response_model=ZonesOut, tags=["zones"])
def api_get_zones(camera_id: str, request: Request, user: AdminUser) -> dict[str, Any]:
    path = _config_path(request)
    text, sha = _read(path)
    try:
        cfg = parse_config(text, origin=str(path))
    except ConfigError as exc:
        raise HTTPException(422, str(exc).splitlines()) from None
    return _zones_out(_camera(cfg, camera_id, path), sha)


@router.put("/api/zones/{camera_id}", response_model=ZonesSaved, tags=["zones"])
@router.post("/api/zones/{camera_id}", response_model=ZonesSaved, tags=["zones"], include_in_schema=False)
def api_save_zones(camera_id: str, body: ZonesUpdate, request: Request, user: AdminUser) -> dict[str, Any]:
    path = _config_path(request)
    with _save_lock:
        text, sha = _read(path)
        if body.base_sha256 and body.base_sha256 != sha:
            raise HTTPException(409, f"{path}: changed since it was loaded; reload the editor and redo the edit")
        try:
            new_text, cfg = apply_zones(text, camera_id, body, str(path))
        except ConfigError as exc:
            raise HTTPException(422, str(exc).splitlines()) from None
        try:
            backup = write_atomic_with_backup(path, new_text, cfg.zone_editor.backups)
        except OSError as exc:
            raise HTTPException(500, f"{path}: cannot write config ({exc.strerror})") from None
        new_sha = hashlib.sha256(new_text.encode("utf-8")).hexdigest()
    request.app.state.config = cfg
    request.app.state.frame_cache.clear()
    out = _zones_out(_camera(cfg, camera_id, path), new_sha)
    out["backup"] = backup.name if backup is not None else None
    runner = getattr(request.app.state, "live_runner", None)  # `counterwatch run`: cameras in this process
    out["reloaded"] = runner.reload_zones(cfg) if runner is not None else []
    return out


# --------------------------------------------------------------------------------------------
# background picture: a clean current frame from the camera's source (pipeline.sources), else
# the first frame of the camera's newest evidence clip (raw frames, no overlays); never an
# annotated snapshot, whose banner, old zones and skeletons would mislead the drawing
# --------------------------------------------------------------------------------------------
BACKGROUND_TTL_S = 30.0  # a "current" frame: read again after this long


def _latest_clip(request: Request, camera_id: str) -> Path | None:
    data_dir: Path = request.app.state.data_dir
    rels = queries.ready_clips(request.app.state.store, camera_id, limit=5)
    base = data_dir.resolve()
    for rel in rels:
        p = (base / rel).resolve()
        if p.is_relative_to(base) and p.is_file():
            return p
    return None


def _jpeg(img) -> bytes | None:
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes() if ok else None


def background(request: Request, cam: CameraConfig, config_path: Path) -> tuple[bytes, str]:
    """(JPEG, where it came from: 'source' or 'clip'); HTTPException 404 says why there is none."""
    cache: dict[tuple[str, str], tuple[float, bytes, str]] = request.app.state.frame_cache
    key = (cam.id, cam.source)
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < BACKGROUND_TTL_S:
        return hit[1], hit[2]
    why = ""
    jpg, kind = None, "source"
    try:
        jpg = _jpeg(still_frame(cam, config_dir(config_path)))
    except SourceError as exc:
        why = str(exc)
    if jpg is None:
        clip = _latest_clip(request, cam.id)
        if clip is not None:
            try:
                with VideoFileSource(clip, camera_id=cam.id, fps=1.0) as src:
                    frame = next(iter(src), None)
                jpg, kind = (_jpeg(frame.image) if frame is not None else None), "clip"
            except SourceError as exc:
                why += f"; {exc}"
    if jpg is None:
        raise HTTPException(404, f"camera {cam.id!r}: no frame could be read from its source "
                                 f"{cam.source!r} ({why or 'no frame'}) and it has no evidence clip yet")
    if len(cache) > 64:
        cache.clear()
    cache[key] = (time.monotonic(), jpg, kind)
    return jpg, kind


@router.get("/api/zones/{camera_id}/background.jpg", tags=["zones"])
def api_background(camera_id: str, request: Request, user: AdminUser) -> Response:
    """A clean current frame from the camera (X-Background: source), else the first frame of its
    newest evidence clip (X-Background: clip)."""
    path = _config_path(request)
    cfg: SiteConfig = request.app.state.config
    jpg, kind = background(request, _camera(cfg, camera_id, path), path)
    return Response(jpg, media_type="image/jpeg", headers={"Cache-Control": "no-store", "X-Background": kind})


# --------------------------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------------------------
@router.get("/zones", include_in_schema=False)
def page_zones_index(request: Request, user: AdminUser):
    cfg: SiteConfig | None = request.app.state.config
    if cfg is None or not cfg.cameras:
        return render(request, "zones.html", camera=None, cameras=[], status_code=409 if cfg is None else 200)
    return RedirectResponse(f"/zones/{cfg.cameras[0].id}", status_code=303)


@router.get("/zones/{camera_id}", response_class=HTMLResponse, include_in_schema=False)
def page_zones(camera_id: str, request: Request, user: AdminUser):
    cfg: SiteConfig | None = request.app.state.config
    if cfg is None:
        return render(request, "zones.html", camera=None, cameras=[], status_code=409)
    cam = _camera(cfg, camera_id, _config_path(request))
    return render(request, "zones.html", camera=cam, cameras=[c.id for c in cfg.cameras])
