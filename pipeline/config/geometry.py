"""Checks of zone polygons (normalised 0..1 [x, y] points), shared by the config models
and the zone editor so that neither accepts a polygon the other would refuse.

A zone must be a simple polygon: 3 to MAX_POLYGON_POINTS points, each a pair of
numbers inside the frame, with an area and no edge crossing another (a figure of
eight has an ambiguous inside: the point-in-polygon test would flip between its lobes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MAX_POLYGON_POINTS = 100
MIN_AREA = 1e-6  # of the frame: about 1.4 px² of a 1600x900 picture


def _orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: tuple[float, float], b: tuple[float, float], p: tuple[float, float]) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_touch(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]
) -> bool:
    """Do segments ab and cd share a point (crossing, touching or overlapping)?"""
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if ((o1 > 0 and o2 < 0) or (o1 < 0 and o2 > 0)) and ((o3 > 0 and o4 < 0) or (o3 < 0 and o4 > 0)):
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


def area(points: Sequence[tuple[float, float]]) -> float:
    """Absolute shoelace area."""
    n = len(points)
    return abs(sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n))) / 2


def polygon_problem(poly: object) -> str | None:
    """What is wrong with `poly` as a zone, in words; None when it is a valid zone."""
    if not isinstance(poly, (list, tuple)):
        return f"a polygon is a list of [x, y] points, got {type(poly).__name__}"
    if len(poly) > MAX_POLYGON_POINTS:
        return f"{len(poly)} points; a zone has at most {MAX_POLYGON_POINTS}"
    pts: list[tuple[float, float]] = []
    for i, p in enumerate(poly, 1):
        if (
            not isinstance(p, (list, tuple))
            or len(p) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
        ):
            shown = repr(p) if len(repr(p)) <= 40 else repr(p)[:37] + "..."
            return f"point #{i} is {shown}; a point is a pair [x, y] of numbers"
        x, y = float(p[0]), float(p[1])
        if not (math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            return f"point [{p[0]}, {p[1]}] is outside 0..1 (zones use normalised coordinates)"
        pts.append((x, y))
    # repeated consecutive points (and a closing point equal to the first) carry no edge
    ring = [p for i, p in enumerate(pts) if i == 0 or p != pts[i - 1]]
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    if len(set(ring)) < 3:
        return f"a zone needs at least 3 distinct points, got {len(set(ring))}"
    if len(set(ring)) != len(ring):
        return "a point is visited twice (the outline touches itself)"
    far = max(ring, key=lambda p: (p[0] - ring[0][0]) ** 2 + (p[1] - ring[0][1]) ** 2)
    if all(abs(_orient(ring[0], far, p)) < MIN_AREA for p in ring):
        return "the polygon has no area (its points lie on one line)"
    n = len(ring)
    for i in range(n):
        a, b = ring[i], ring[(i + 1) % n]
        for j in range(i + 1, n):
            if j == i or (j + 1) % n == i or j == (i + 1) % n:
                continue  # neighbouring edges share a corner
            c, d = ring[j], ring[(j + 1) % n]
            if segments_touch(a, b, c, d):
                return (
                    f"edges {i + 1} and {j + 1} cross (the polygon intersects itself; "
                    "list its points in order around the outline)"
                )
    if area(ring) < MIN_AREA:
        return "the polygon has no area (its points lie on one line)"
    # neighbouring edges that fold back onto each other (a spike of zero width)
    for i in range(n):
        a, b, c = ring[i - 1], ring[i], ring[(i + 1) % n]
        if _orient(a, b, c) == 0 and (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) < 0:
            return f"edges {i} and {i + 1} fold back onto each other at point [{b[0]}, {b[1]}]"
    return None


def check_polygon(poly: object, where: str) -> None:
    """Raise ValueError(`where: problem`) for an invalid zone."""
    problem = polygon_problem(poly)
    if problem is not None:
        raise ValueError(f"{where}: {problem}")
