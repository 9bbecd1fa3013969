"""Zone editor API: admin only, validation through the site config models, backup and
atomic rewrite, conflict detection, and the background picture."""

from __future__ import annotations

import difflib
import os
import shutil

import pytest
import yaml

from pipeline.settings import load_config


def _body(c):
    z = c.get("/api/zones/cam5").json()
    return {"posts": z["posts"], "waiting": z["waiting"], "staff_area": z["staff_area"], "base_sha256": z["sha256"]}


def test_admin_saves_zones_with_backup(login, web_dir):
    c, csrf = login("ann")
    before = (web_dir / "site.yaml").read_text()
    body = _body(c)
    assert [p["id"] for p in body["posts"]] == ["P1", "P2", "P3", "P4"]
    body["posts"][0]["seat"][0] = [0.7712345, 0.41]
    body["posts"][2]["desk"] = [[0.5, 0.1], [0.56, 0.1], [0.56, 0.2], [0.5, 0.2]]
    body["waiting"] = [[[0.0, 0.7], [0.3, 0.7], [0.3, 1.0], [0.0, 1.0]]]
    r = c.put("/api/zones/cam5", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["backup"].startswith("site.yaml.bak-") and (web_dir / out["backup"]).read_text() == before
    cfg = load_config(web_dir / "site.yaml")
    cam = cfg.camera("cam5")
    assert cam.posts[0].seat[0] == [0.7712, 0.41]
    assert cam.posts[2].desk == [[0.5, 0.1], [0.56, 0.1], [0.56, 0.2], [0.5, 0.2]]
    assert cam.waiting == [[[0.0, 0.7], [0.3, 0.7], [0.3, 1.0], [0.0, 1.0]]]
    # everything else in the file is unchanged
    old, new = yaml.safe_load(before), yaml.safe_load((web_dir / "site.yaml").read_text())
    assert new["roster"] == old["roster"] and new["rules"] == old["rules"] and new["site"] == old["site"]
    assert not list(web_dir.glob(".site.yaml.*")), "temp file left behind"
    # the server's config follows the file
    assert c.get("/api/zones/cam5").json()["sha256"] == out["sha256"]


def test_invalid_zones_are_refused_with_named_errors(login, web_dir):
    c, csrf = login("ann")
    before = (web_dir / "site.yaml").read_bytes()
    body = _body(c)
    body["posts"][1]["seat"][2] = [1.4, 0.5]
    r = c.put("/api/zones/cam5", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422
    detail = " ".join(r.json()["detail"])
    assert "post 'P2'" in detail and "'seat'" in detail and "outside 0..1" in detail
    body = _body(c)
    body["posts"][0]["seat"] = [[0.1, 0.1], [0.2, 0.2]]
    r = c.put("/api/zones/cam5", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and "seat" in " ".join(r.json()["detail"])
    body = _body(c)
    body["posts"].append({"id": "P9", "seat": [[0.1, 0.1], [0.2, 0.1], [0.2, 0.2]]})
    r = c.put("/api/zones/cam5", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and "P9" in " ".join(r.json()["detail"])
    assert c.put("/api/zones/cam9", json=_body(c), headers={"X-CSRF-Token": csrf}).status_code == 422
    assert (web_dir / "site.yaml").read_bytes() == before
    assert not list(web_dir.glob("site.yaml.bak-*"))


def test_concurrent_edit_is_detected(login, web_dir):
    c, csrf = login("ann")
    stale = _body(c)
    fresh = _body(c)
    fresh["posts"][3]["seat"][0] = [0.27, 0.35]
    assert c.put("/api/zones/cam5", json=fresh, headers={"X-CSRF-Token": csrf}).status_code == 200
    r = c.put("/api/zones/cam5", json=stale, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409
    assert load_config(web_dir / "site.yaml").camera("cam5").posts[3].seat[0] == [0.27, 0.35]


def _put(c, csrf, body, cam="cam5"):
    return c.put(f"/api/zones/{cam}", json=body, headers={"X-CSRF-Token": csrf})


BAD_GEOMETRY = [
    # (what, seat, words the message must contain)
    ("a point of three numbers", [[0.1, 0.1, 0.3], [0.2, 0.1], [0.2, 0.2]], ["point #1", "pair [x, y]"]),
    ("a point of one number", [[0.1, 0.1], [0.2], [0.2, 0.2]], ["point #2", "pair [x, y]"]),
    ("an empty point", [[0.1, 0.1], [0.2, 0.1], []], ["point #3", "pair [x, y]"]),
    ("two distinct points", [[0.1, 0.1], [0.2, 0.2], [0.1, 0.1]], ["3 distinct points"]),
    ("collinear points", [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.4, 0.4]], ["no area"]),
    ("a bow tie", [[0.1, 0.1], [0.3, 0.3], [0.3, 0.1], [0.1, 0.3]], ["edges 1 and 3 cross"]),
    ("a point outside the frame", [[0.1, 0.1], [1.2, 0.1], [0.2, 0.3]], ["outside 0..1"]),
    ("a negative coordinate", [[0.1, -0.01], [0.2, 0.1], [0.2, 0.3]], ["outside 0..1"]),
]


@pytest.mark.parametrize("what,seat,words", BAD_GEOMETRY, ids=[b[0] for b in BAD_GEOMETRY])
def test_bad_geometry_is_a_named_422(login, web_dir, what, seat, words):
    c, csrf = login("ann")
    before = (web_dir / "site.yaml").read_bytes()
    body = _body(c)
    body["posts"][1]["seat"] = seat
    r = _put(c, csrf, body)
    assert r.status_code == 422, (what, r.status_code, r.text)
    detail = " ".join(r.json()["detail"])
    assert "camera 'cam5' post 'P2' field 'seat'" in detail, detail
    for w in words:
        assert w in detail, (what, detail)
    assert (web_dir / "site.yaml").read_bytes() == before


def test_waiting_area_geometry_and_size_bounds(login, web_dir):
    c, csrf = login("ann")
    body = _body(c)
    body["waiting"] = [[[0.0, 0.7], [0.3, 0.7], [0.3, 1.0], [0.0, 1.0]], [[0.5, 0.5], [0.6, 0.6, 0.7], [0.5, 0.6]]]
    r = _put(c, csrf, body)
    assert r.status_code == 422 and "field 'waiting[1]': point #2" in " ".join(r.json()["detail"])
    # a polygon of 20,000 points is refused before anything is parsed further
    body = _body(c)
    body["posts"][0]["seat"] = [[0.5 + 0.4 * (i % 2), i / 20000] for i in range(20000)]
    r = _put(c, csrf, body)
    assert r.status_code == 422 and "at most 100" in " ".join(r.json()["detail"]), r.text[:300]
    # a point that is not a list at all, and a coordinate that is not a number: 422, never 500
    for bad in ([0.1, 0.1, 0.2], [["a", "b"], [0.2, 0.1], [0.2, 0.2]], [None, [0.2, 0.1], [0.2, 0.2]]):
        body = _body(c)
        body["posts"][0]["seat"] = bad
        assert _put(c, csrf, body).status_code == 422, bad
    # the largest allowed polygon (a 100-gon) is accepted
    import math

    body = _body(c)
    body["posts"][0]["seat"] = [[round(0.85 + 0.08 * math.cos(2 * math.pi * k / 100), 4),
                                 round(0.6 + 0.1 * math.sin(2 * math.pi * k / 100), 4)] for k in range(100)]
    r = _put(c, csrf, body)
    assert r.status_code == 200, r.text
    assert len(load_config(web_dir / "site.yaml").camera("cam5").posts[0].seat) == 100


def test_moving_one_point_changes_one_line_and_keeps_comments(login, web_dir):
    c, csrf = login("ann")
    before = (web_dir / "site.yaml").read_text(encoding="utf-8")
    assert "# Demo: real office CCTV" in before
    body = _body(c)
    body["posts"][1]["seat"][2] = [0.79, 0.44]
    assert _put(c, csrf, body).status_code == 200
    after = (web_dir / "site.yaml").read_text(encoding="utf-8")
    diff = [ln for ln in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert diff == ["-        seat: [[0.665, 0.22], [0.78, 0.22], [0.78, 0.43], [0.665, 0.43]]",
                    "+        seat: [[0.665, 0.22], [0.78, 0.22], [0.79, 0.44], [0.665, 0.43]]"], diff
    assert [ln for ln in before.splitlines() if ln.lstrip().startswith("#")] == \
        [ln for ln in after.splitlines() if ln.lstrip().startswith("#")]
    # a new polygon (a waiting area) adds lines in the file's own style, changes none
    body = _body(c)
    body["waiting"] = [[[0.0, 0.7], [0.3, 0.7], [0.3, 1.0], [0.0, 1.0]]]
    assert _put(c, csrf, body).status_code == 200
    again = (web_dir / "site.yaml").read_text(encoding="utf-8")
    diff = [ln for ln in difflib.unified_diff(after.splitlines(), again.splitlines(), lineterm="", n=0)
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert diff == ["+    waiting:", "+      - [[0.0, 0.7], [0.3, 0.7], [0.3, 1.0], [0.0, 1.0]]"], diff


def test_save_through_a_symlink_keeps_the_link(tmp_path, web_dir, login):
    c, csrf = login("ann")
    real_dir = tmp_path / "etc"
    real_dir.mkdir()
    real = real_dir / "site.yaml"
    shutil.move(web_dir / "site.yaml", real)
    os.symlink(real, web_dir / "site.yaml")
    body = _body(c)
    body["posts"][0]["seat"][0] = [0.78, 0.45]
    r = _put(c, csrf, body)
    assert r.status_code == 200, r.text
    link = web_dir / "site.yaml"
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load_config(real).camera("cam5").posts[0].seat[0] == [0.78, 0.45]
    assert (real_dir / r.json()["backup"]).is_file(), "the backup sits beside the real file"
    assert not list(real_dir.glob(".site.yaml.*")) and not list(web_dir.glob(".site.yaml.*"))


def test_only_the_newest_backups_are_kept(login, web_dir):
    cfg = web_dir / "site.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "zone_editor: {backups: 2}\n", encoding="utf-8")
    c, csrf = login("ann")
    names = []
    for i in range(4):
        body = _body(c)
        body["posts"][3]["seat"][0] = [0.28 - 0.01 * (i + 1), 0.36]
        r = _put(c, csrf, body)
        assert r.status_code == 200, r.text
        names.append(r.json()["backup"])
    left = sorted(p.name for p in web_dir.glob("site.yaml.bak-*"))
    assert left == sorted(names[-2:]), (left, names)
    # the newest backup holds the version before the last save
    assert load_config(web_dir / names[-1]).camera("cam5").posts[3].seat[0] == [0.25, 0.36]
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("backups: 2", "backups: 0"), encoding="utf-8")
    body = _body(c)
    body["posts"][3]["seat"][0] = [0.2, 0.36]
    r = _put(c, csrf, body)
    assert r.status_code == 200 and r.json()["backup"] is None
    assert not list(web_dir.glob("site.yaml.bak-*"))


def _decode(content: bytes):
    import cv2
    import numpy as np

    return cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)


def test_background_is_a_clean_source_frame_else_a_clip_frame(login, web_dir, demo_clip, monkeypatch):
    """The config's source (relative to the config file, not the working directory) is read
    through pipeline.sources: the clip's first frame, full size and untouched."""
    import cv2
    import numpy as np

    c, _ = login("ann")
    cfg = web_dir / "site.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("source: ../sample_videos/office_cctv_cam5.mov",
                                                           "source: cams/office_cctv_cam5.mov"), encoding="utf-8")
    (web_dir / "cams").mkdir()
    shutil.copy(demo_clip, web_dir / "cams/office_cctv_cam5.mov")
    c.app.state.config = load_config(cfg)
    monkeypatch.chdir(web_dir / "snapshots")  # a working directory where the relative source means nothing
    r = c.get("/api/zones/cam5/background.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", r.text
    assert r.headers["x-background"] == "source"
    got = _decode(r.content)
    cap = cv2.VideoCapture(str(demo_clip))
    ok, first = cap.read()
    cap.release()
    assert ok and got.shape == first.shape == (900, 1600, 3)
    assert np.abs(got.astype(int) - first.astype(int)).mean() < 4  # the frame itself: no banner, no overlay
    # without a readable source: the first frame of the newest evidence clip (raw frames, 640 px wide)
    (web_dir / "cams/office_cctv_cam5.mov").unlink()
    c.app.state.frame_cache.clear()
    r = c.get("/api/zones/cam5/background.jpg")
    assert r.status_code == 200 and r.headers["x-background"] == "clip" and _decode(r.content).shape[:2] == (360, 640)
    # neither: a 404 that names the source and why
    shutil.rmtree(web_dir / "clips")
    c.app.state.frame_cache.clear()
    r = c.get("/api/zones/cam5/background.jpg")
    assert r.status_code == 404, r.text
    detail = r.json()["detail"]
    assert "cams/office_cctv_cam5.mov" in detail and "does not exist" in detail and "evidence clip" in detail


def test_zone_page_and_no_config(login, web_dir):
    c, _ = login("ann")
    page = c.get("/zones/cam5").text
    assert 'id="zone-editor"' in page and 'data-camera="cam5"' in page and "/static/zones.js" in page
    assert c.get("/zones", follow_redirects=False).headers["location"] == "/zones/cam5"
    assert c.get("/zones/nope").status_code == 404

    from fastapi.testclient import TestClient

    from pipeline.web.app import create_app
    from tests.web.conftest import PASSWORD

    bare = TestClient(create_app(web_dir))
    bare.post("/api/login", json={"username": "ann", "password": PASSWORD})
    assert bare.get("/api/zones/cam5").status_code == 409
    assert "--config" in bare.get("/zones").text
