"""Display names of posts, cameras and staff, from the site config.

The database stores ids (`P4`, `cam5`, `zhao`); a supervisor knows 4号窗口, 办公区 CAM 5
and 赵磊. Pages show the configured name and keep the id as secondary text. The config is
the served one (`--config`), else the one stored with the data folder by the run that
analysed it. Without either (or for an id the config does not know, e.g. a camera removed
since) the id is shown as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.events.siteconfig import load_stored


@dataclass(frozen=True)
class Names:
    posts: dict[str, str] = field(default_factory=dict)
    cameras: dict[str, str] = field(default_factory=dict)
    staff: dict[str, str] = field(default_factory=dict)
    post_camera: dict[str, str] = field(default_factory=dict)  # post id -> camera id

    @classmethod
    def from_config(cls, cfg: Any) -> Names:
        if cfg is None:
            return cls()
        posts, cams, post_cam = {}, {}, {}
        for c in cfg.cameras:
            cams[c.id] = c.name or c.id
            for p in c.posts:
                posts[p.id] = p.name or p.id
                post_cam[p.id] = c.id
        staff = {s.id: s.name or s.id for s in getattr(getattr(cfg, "roster", None), "staff", None) or []}
        return cls(posts, cams, staff, post_cam)

    def post(self, post_id: str | None) -> str:
        return self.posts.get(post_id or "", post_id or "—")

    def camera(self, camera_id: str | None) -> str:
        return self.cameras.get(camera_id or "", camera_id or "—")

    def person(self, staff_id: str | None) -> str:
        return self.staff.get(staff_id or "", staff_id or "—")

    def has_post(self, post_id: str | None) -> bool:
        return bool(post_id) and self.posts.get(post_id or "", post_id) != post_id

    def has_camera(self, camera_id: str | None) -> bool:
        return bool(camera_id) and self.cameras.get(camera_id or "", camera_id) != camera_id


def site_config_of(app: Any) -> Any:
    """The served config, else the one stored in the data folder (read once), else None."""
    cfg = getattr(app.state, "config", None)
    if cfg is not None:
        return cfg
    stored = getattr(app.state, "_stored_config", False)
    if stored is False:
        try:
            stored = load_stored(app.state.data_dir)
        except ConfigError:
            stored = None
        app.state._stored_config = stored
    return stored


def names_of(app: Any) -> Names:
    """The Names of the app's current config (rebuilt when the config object changes, e.g. a zone save)."""
    cfg = site_config_of(app)
    cached = getattr(app.state, "_names", None)
    if cached is not None and cached[0] is cfg:
        return cached[1]
    names = Names.from_config(cfg)
    app.state._names = (cfg, names)
    return names
