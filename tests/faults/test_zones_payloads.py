"""Zone payloads from a fuzzer: every malformed polygon is a 422 that names what is wrong,
never a 500, and nothing a save accepts is refused when the config is loaded again."""

from __future__ import annotations

import math
import random

from pipeline.config.geometry import polygon_problem
from pipeline.settings import load_config
from tests.web.conftest import app, login, seeded_template, web_dir  # noqa: F401  (fixtures)


def _junk_point(rng: random.Random):
    x, y = round(rng.uniform(-0.2, 1.2), 3), round(rng.uniform(-0.2, 1.2), 3)
    return rng.choice(
        [
            [x, y],
            [x, y],
            [x, y],
            [],
            [x],
            [x, y, 0.5],
            [x, y, 0.5, 0.5],
            "0.1,0.2",
            None,
            {},
            {"x": x, "y": y},
            x,
            [[x, y]],
            [x, "a"],
            [True, False],
            [1e308, 1e308],
            [-0.0, 0.0],
            [str(x), str(y)],
        ]
    )


def _star(rng: random.Random):
    """A star-shaped polygon (angles sorted around a centre): simple, so valid when inside the frame."""
    cx, cy, n = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.randint(3, 12)
    angles = sorted(rng.uniform(0, 2 * math.pi) for _ in range(n))
    return [
        [round(cx + r * math.cos(a), 4), round(cy + r * math.sin(a), 4)]
        for a, r in ((a, rng.uniform(0.02, 0.25)) for a in angles)
    ]


def _junk_polygon(rng: random.Random):
    kind = rng.random()
    if kind < 0.3:
        star = _star(rng)
        if rng.random() < 0.3:  # one point swapped out of order: usually a self-crossing
            i = rng.randrange(len(star) - 1)
            star[i], star[i + 1] = star[i + 1], star[i]
        return star
    if kind < 0.05:
        return rng.choice([None, "poly", 3, {}, []])
    if kind < 0.1:
        return [[rng.random(), rng.random()] for _ in range(rng.choice([101, 500, 5000]))]
    return [_junk_point(rng) for _ in range(rng.randint(0, 7))]


def test_fuzzed_zone_payloads_never_500(login, web_dir):  # noqa: F811
    c, csrf = login("ann")
    rng = random.Random(20261202)
    base = c.get("/api/zones/cam5").json()
    counts = {200: 0, 422: 0}
    for case in range(300):
        body = {"posts": [dict(p) for p in base["posts"]], "waiting": [], "staff_area": []}
        where = rng.choice(["seat", "desk", "waiting", "body"])
        if where == "waiting":
            body["waiting"] = [_junk_polygon(rng)]
        elif where == "body":
            body = rng.choice(
                [
                    {"posts": "x"},
                    {"posts": [{"id": "P1"}]},
                    {"posts": [{"seat": []}]},
                    [],
                    {"posts": [], "waiting": [[[0.1, 0.1]] * 3], "extra": 1},
                    {"posts": None},
                ]
            )
        else:
            body["posts"][rng.randrange(len(body["posts"]))][where] = _junk_polygon(rng)
        r = c.put("/api/zones/cam5", json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code in (200, 422), (case, body, r.status_code, r.text[:500])
        counts[r.status_code] += 1
        detail = r.json().get("detail")
        if r.status_code == 422:
            assert detail and all(isinstance(x, str) and x for x in detail), (case, detail)
        else:  # accepted: valid geometry, and the file loads again
            cam = load_config(web_dir / "site.yaml").camera("cam5")
            for poly in [p.seat for p in cam.posts] + [p.desk for p in cam.posts if p.desk] + cam.waiting:
                assert polygon_problem(poly) is None, (case, poly)
            base = c.get("/api/zones/cam5").json()
    assert counts[422] > 150 and counts[200] > 10, counts  # the fuzzer reached both outcomes
