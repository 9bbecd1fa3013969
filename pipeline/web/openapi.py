"""The OpenAPI document, made to say what the server really answers.

FastAPI documents 200 and its own 422 body; this server also answers 400 (unparseable body), 401 (no session), 403 (role
or CSRF), 404 (unknown id), 409 (zones changed meanwhile), 413 (body over the limit), 429
(throttled login) and 503 (feed or hashing busy), all with the `ErrorOut` body `{"detail": ...}`,
and its 422 body is `ErrorOut` too (one line per field). Each operation gets the codes that its
route can produce: derived from the route (public or not, role, method, path parameters, body)
plus a short table of route-specific ones. Media routes answer files, not JSON.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from pipeline.web.i18n import SEVERITIES
from pipeline.web.schemas import ErrorOut

PUBLIC = {"/api/health", "/api/login"}
UNSAFE = {"post", "put", "patch", "delete"}
TEXT = {
    400: "Body cannot be parsed (not JSON, or a bad Content-Length)",
    401: "Not logged in (no live session)",
    403: "Role too low, or the CSRF token is missing or wrong",
    404: "Not found",
    409: "Changed by someone else since it was read",
    413: "Request body over the size limit",
    422: "Invalid parameter or body (one line per field)",
    429: "Too many failed logins; see Retry-After",
    503: "Busy or not running in this process; see Retry-After where given",
}
# route-specific codes and bodies: (method, path) -> codes, and 200 bodies that are not JSON
EXTRA: dict[tuple[str, str], set[int]] = {
    ("post", "/api/login"): {401, 429, 503},
    ("put", "/api/zones/{camera_id}"): {409},
    ("get", "/api/events/stream"): {503},
    ("get", "/metrics"): {401},
}
NOT_JSON: dict[str, dict[str, Any]] = {
    "/media/{kind}/{rel}": {"video/mp4": {}, "image/jpeg": {}, "image/png": {}, "application/octet-stream": {}},
    "/api/zones/{camera_id}/background.jpg": {"image/jpeg": {}},
    "/api/events/stream": {"text/event-stream": {}},
}
# query parameters whose accepted values the handlers check by hand
PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "since": {"type": "string", "format": "date"},
    "until": {"type": "string", "format": "date"},
    "verdict": {"type": "string", "enum": ["confirmed", "dismissed", "none"]},
}


def _min_role(route: APIRoute) -> str | None:
    names = []
    stack = [route.dependant]
    while stack:
        d = stack.pop()
        if d.call is not None:
            names.append(getattr(d.call, "__name__", ""))
        stack.extend(d.dependencies)
    roles = [n.removeprefix("require_") for n in names if n.startswith("require_")]
    return roles[0] if roles else None


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with the corrected document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        comps = spec.setdefault("components", {}).setdefault("schemas", {})
        comps["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        routes = {(m.lower(), r.path): r for r in app.routes if isinstance(r, APIRoute) for m in r.methods}

        params = {**PARAM_SCHEMAS, "severity": {"type": "string", "enum": list(SEVERITIES)}}
        for path, ops in spec.get("paths", {}).items():
            for method, op in ops.items():
                route = routes.get((method, path))
                codes = set(EXTRA.get((method, path), set()))
                role = _min_role(route) if route is not None else None
                if path not in PUBLIC:
                    codes.add(401)
                    if method in UNSAFE or role not in (None, "viewer"):
                        codes.add(403)
                if "{" in path:
                    codes.add(404)
                if "requestBody" in op or method in UNSAFE:
                    codes |= {400, 413, 422}
                if op.get("parameters"):
                    codes.add(422)
                for p in op.get("parameters", []):
                    if p.get("in") == "query" and p["name"] in params:
                        p["schema"] = {"anyOf": [params[p["name"]], {"type": "null"}]}
                resp = op.setdefault("responses", {})
                resp.pop("422", None)  # FastAPI's HTTPValidationError: not what this server sends
                for code in sorted(codes):
                    resp[str(code)] = {"description": TEXT[code], "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
                if path in NOT_JSON and "200" in resp:
                    resp["200"]["content"] = NOT_JSON[path]
                if path.startswith("/media/"):
                    resp["206"] = {"description": "Part of the file (Range request)", "content": NOT_JSON[path]}
                    resp["416"] = {"description": "Range not satisfiable"}
        comps.pop("HTTPValidationError", None)
        comps.pop("ValidationError", None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
