"""Zone editor (admin only): read and save a camera's polygons in the site YAML.

A save goes through the same validation as start-up (`parse_config` on the modified
YAML), so the editor can never write a config the pipeline would refuse; the named
errors go back to the page. The old file is kept as `site.yaml.bak-YYYYmmdd-HHMMSS`
and the new one is written to a temp file and renamed (atomic). The file's sha256 is
handed out with the zones and checked on save, so two admins can't silently overwrite
each other. Note: YAML comments are not preserved by the rewrite (PyYAML); the backup
keeps them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from pipeline.config.loader import parse_config
from pipeline.config.models import CameraConfig, SiteConfig
from pipeline.core.errors import ConfigError
from pipeline.events.schema import ClipRow, EventRow
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


def apply_zones(text: str, camera_id: str, upd: ZonesUpdate, origin: str) -> tuple[str, SiteConfig]:
    """The modified YAML text and its validated config; ConfigError lists what is wrong."""
    raw = yaml.safe_load(text) or {}
    cams = raw.get("cameras") if isinstance(raw, dict) else None
    cam = next((c for c in cams or [] if isinstance(c, dict) and c.get("id") == camera_id), None)
    if cam is None:
        raise ConfigError(f"{origin}: no camera {camera_id!r}")
    raw_posts = {p.get("id"): p for p in cam.get("posts") or [] if isinstance(p, dict)}
    errors = []
    for post in upd.posts:
        rp = raw_posts.get(post.id)
        if rp is None:
            errors.append(f"{origin}: camera {camera_id!r} post {post.id!r}: no such post on this camera")
            continue
        for name in ("seat", "desk", "customer"):
            poly = _round(getattr(post, name))
            if poly is None:
                rp.pop(name, None)
            else:
                rp[name] = poly
    if errors:
        raise ConfigError("\n".join(errors))
    for name in ("waiting", "staff_area"):
        polys = [_round(p) for p in getattr(upd, name)]
        if polys:
            cam[name] = polys
        else:
            cam.pop(name, None)
    new_text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    return new_text, parse_config(new_text, origin=origin)


def write_atomic_with_backup(path: Path, text: str) -> Path:
    """Copy the current file to `<name>.bak-YYYYmmdd-HHMMSS`, then replace it atomically."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    n = 1
    while backup.exists():
        n += 1
        backup = path.with_name(f"{path.name}.bak-{stamp}-{n}")
    shutil.copy2(path, backup)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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
            backup = write_atomic_with_backup(path, new_text)
        except OSError as exc:
            raise HTTPException(500, f"{path}: cannot write config ({exc.strerror})") from None
        new_sha = hashlib.sha256(new_text.encode("utf-8")).hexdigest()
    request.app.state.config = cfg
    out = _zones_out(_camera(cfg, camera_id, path), new_sha)
    out["backup"] = backup.name
    return out


# --------------------------------------------------------------------------------------------
# background picture: the newest snapshot of the camera, else one frame from its source
# --------------------------------------------------------------------------------------------
def _latest_snapshot(request: Request, camera_id: str) -> Path | None:
    data_dir: Path = request.app.state.data_dir
    with request.app.state.store.session() as s:
        rels = s.scalars(select(ClipRow.snapshot_path).join(EventRow, EventRow.event_id == ClipRow.event_id)
                         .where(EventRow.camera_id == camera_id, ClipRow.snapshot_path.is_not(None))
                         .order_by(EventRow.wall_start.desc(), ClipRow.updated_at.desc()).limit(5)).all()
    base = data_dir.resolve()
    for rel in rels:
        p = (base / rel).resolve()
        if p.is_relative_to(base) and p.is_file():
            return p
    return None


def grab_frame(source: str, config_dir: Path) -> bytes | None:
    """One JPEG frame from a camera source (file, URL or webcam:N); None if it can't be read."""
    import cv2

    if source.startswith("webcam:"):
        target: Any = int(source.split(":", 1)[1] or 0)
    elif "://" in source:
        target = source
    else:
        p = Path(source)
        if not p.is_absolute():
            p = config_dir / p
        if p.is_dir():  # an image folder: its first picture
            imgs = sorted(x for x in p.iterdir() if x.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
            if not imgs:
                return None
            img = cv2.imread(str(imgs[0]))
            ok, buf = cv2.imencode(".jpg", img) if img is not None else (False, None)
            return buf.tobytes() if ok else None
        target = str(p)
    cap = cv2.VideoCapture(target)
    try:
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok or frame is None:
        return None
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes() if ok else None


@router.get("/api/zones/{camera_id}/background.jpg", tags=["zones"])
def api_background(camera_id: str, request: Request, user: AdminUser) -> Response:
    snap = _latest_snapshot(request, camera_id)
    if snap is not None:
        return FileResponse(snap, headers={"Cache-Control": "no-store"})
    cfg: SiteConfig | None = request.app.state.config
    path = _config_path(request)
    cam = _camera(cfg, camera_id, path) if cfg else None
    cache: dict[tuple[str, str], bytes] = request.app.state.frame_cache
    if cam is None or not cam.source:
        raise HTTPException(404, f"camera {camera_id!r}: no snapshot and no source to grab a frame from")
    key = (camera_id, cam.source)
    if key not in cache:
        jpg = grab_frame(cam.source, path.parent)
        if jpg is None:
            raise HTTPException(404, f"camera {camera_id!r}: no snapshot, and no frame could be read from "
                                     f"{cam.source!r}")
        if len(cache) > 64:
            cache.clear()
        cache[key] = jpg
    return Response(cache[key], media_type="image/jpeg", headers={"Cache-Control": "no-store"})


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
