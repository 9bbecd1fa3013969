"""FastAPI app factory: login/logout, media (clips, snapshots), the review UI, the zone
editor and, when present, the live feed router.

Everything that shows data needs a login. Public are only `/api/health` (from the live
router), the login page/endpoint and `/static` (the app's own CSS/JS, no data).
Clips and snapshots are served from the data dir only after resolving the path and
checking it stays inside `clips/` or `snapshots/`; FileResponse answers HTTP Range
requests, so browsers can seek in the H.264 clips.
"""

from __future__ import annotations

import contextlib
import hmac
import importlib
import logging
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline import __version__
from pipeline.core.i18n import t
from pipeline.events.store import EventStore
from pipeline.settings import load_config
from pipeline.web import board, day, openapi, review_api, zones
from pipeline.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AuthState,
    ViewerUser,
    client_ip,
    load_or_create_secret,
    verify_user,
)
from pipeline.web.i18n import get_lang, render, translate_error
from pipeline.web.limits import RequestGuard, max_body_bytes_from_env
from pipeline.web.schemas import LoginOut, LoginRequest, UserOut

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent
MEDIA_KINDS = ("clips", "snapshots")
PUBLIC_PATHS = frozenset({"/api/health", "/login", "/api/login"})  # plus /static/*
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
}


def _safe_next(nxt: str | None) -> str:
    return nxt if nxt and nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/"


def _set_session(resp: Response, auth: AuthState, cookie: str) -> None:
    resp.set_cookie(SESSION_COOKIE, cookie, max_age=auth.max_age_s, httponly=True, samesite="lax",
                    secure=auth.secure_cookie, path="/")


def resolve_media(data_dir: Path, kind: str, rel: str) -> Path:
    """The file under data_dir/kind for `rel`; 404 for anything outside it (../, absolute, symlinks out)."""
    if kind not in MEDIA_KINDS:
        raise HTTPException(404, "not found")
    base = (data_dir / kind).resolve()
    if not rel or "\x00" in rel or rel.startswith(("/", "\\")) or ".." in rel.replace("\\", "/").split("/"):
        raise HTTPException(404, "not found")
    p = (base / rel).resolve()
    if not p.is_relative_to(base) or not p.is_file():
        raise HTTPException(404, "not found")
    return p


def _add_auth_routes(app: FastAPI) -> None:
    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str | None = None, error: str | None = None):  # noqa: A002
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        resp = render(request, "login.html", next=_safe_next(next), error=error, login_csrf=token,
                      status_code={"throttled": 429, "busy": 503}.get(error or "", 200))
        resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
        return resp

    def _attempt(request: Request, username: str, password: str) -> dict[str, Any] | str:
        """The user, or "failed" / "throttled:SECONDS". The try is counted before the hash runs
        (so parallel requests can't all pass the limit) and the hash waits for a free slot."""
        auth: AuthState = request.app.state.auth
        ip = client_ip(request)
        wait = auth.limiter.begin(username, ip)
        if wait > 0:
            log.warning("login for %r from %s throttled (%.0f s)", username, ip, wait)
            return f"throttled:{int(wait) + 1}"
        user = None
        try:
            with auth.hashes.slot():
                user = verify_user(auth.store, username, password)
        finally:
            auth.limiter.finish(username, ip, ok=user is not None)
        if user is None:
            log.warning("failed login for %r from %s", username, ip)
            return "failed"
        return user

    @app.post("/login", include_in_schema=False)
    def login_form(request: Request, username: str = Form(...), password: str = Form(...),
                   csrf_token: str = Form(""), next: str = Form("/")):  # noqa: A002
        cookie_tok = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie_tok or not hmac.compare_digest(cookie_tok, csrf_token):
            raise HTTPException(403, "CSRF token missing or wrong")
        try:
            got = _attempt(request, username, password)
        except HTTPException as exc:  # hashing gate full: the form says so in the page's language
            if exc.status_code != 503:
                raise
            resp = RedirectResponse(f"/login?error=busy&next={quote(_safe_next(next))}", status_code=303)
            resp.headers["Retry-After"] = "5"
            return resp
        if isinstance(got, str):
            err = "throttled" if got.startswith("throttled") else "failed"
            resp = RedirectResponse(f"/login?error={err}&next={_safe_next(next)}", status_code=303)
            if err == "throttled":  # the redirect target answers 429 too; say when to retry
                resp.headers["Retry-After"] = got.split(":")[1]
            return resp
        auth: AuthState = request.app.state.auth
        cookie, _csrf = auth.new_session(got, client_ip(request))
        resp = RedirectResponse(_safe_next(next), status_code=303)
        _set_session(resp, auth, cookie)
        return resp

    @app.post("/api/login", response_model=LoginOut, tags=["auth"])
    def api_login(body: LoginRequest, request: Request):
        """JSON login (a cross-site form can't send JSON without CORS, so no CSRF token is needed)."""
        got = _attempt(request, body.username, body.password)
        if isinstance(got, str):
            if got.startswith("throttled"):
                raise HTTPException(429, "too many failed logins; try again later",
                                    headers={"Retry-After": got.split(":")[1]})
            raise HTTPException(401, "wrong username or password")
        auth: AuthState = request.app.state.auth
        cookie, csrf = auth.new_session(got, client_ip(request))
        resp = JSONResponse(LoginOut(username=got["username"], role=got["role"], csrf_token=csrf).model_dump())
        _set_session(resp, auth, cookie)
        return resp

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, user: ViewerUser):
        """Ends the session on the server: the cookie, even a copy of it, is refused from now on."""
        request.app.state.auth.end_session(request.cookies.get(SESSION_COOKIE))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @app.get("/api/me", response_model=UserOut, tags=["auth"])
    def me(user: ViewerUser) -> UserOut:
        return UserOut(**user)


def _add_media_routes(app: FastAPI) -> None:
    @app.get("/media/{kind}/{rel:path}", tags=["media"])
    def media(kind: str, rel: str, request: Request, user: ViewerUser) -> FileResponse:
        """A clip or snapshot; clips answer Range requests (seeking)."""
        p = resolve_media(request.app.state.data_dir, kind, rel)
        media_type = "video/mp4" if p.suffix.lower() == ".mp4" else None
        return FileResponse(p, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(user: ViewerUser) -> JSONResponse:
        return JSONResponse(app.openapi())


def _add_error_handlers(app: FastAPI) -> None:
    def wants_html(request: Request) -> bool:
        return (request.method == "GET" and not request.url.path.startswith(("/api/", "/media/", "/fragments/"))
                and "text/html" in request.headers.get("accept", ""))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if wants_html(request):
            if exc.status_code == 401:
                nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={_safe_next(nxt)}", status_code=303)
            lang = get_lang(request)
            title = {403: t("forbidden", lang), 404: t("not_found", lang)}.get(exc.status_code, t("error", lang))
            return render(request, "error.html", status_code=exc.status_code, title=title,
                          detail=translate_error(exc.detail, lang))
        # `detail` stays English (API clients match on it); `message` is for people, in the UI's language
        return JSONResponse({"detail": exc.detail, "message": translate_error(exc.detail, get_lang(request))},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        lines = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        lang = get_lang(request)
        return JSONResponse({"detail": lines, "message": [translate_error(e["msg"], lang) for e in exc.errors()]},
                            status_code=422)


def _include_live(app: FastAPI) -> None:
    """The live feed (SSE/WebSocket/health/metrics) is a separate module; include it when present."""
    try:
        live = importlib.import_module("pipeline.web.live_api")
    except ModuleNotFoundError as exc:
        if exc.name != "pipeline.web.live_api":
            raise
        log.info("pipeline.web.live_api not present; live feed routes are off")
        app.state.live = False
        return
    app.include_router(live.router)
    app.state.live = True


def create_app(data_dir: Path, *, config_path: Path | None = None, db_url: str | None = None,
               alert_bus: Any = None, secure_cookie: bool = False, max_body_bytes: int | None = None) -> FastAPI:
    """The web app over one data dir (DB, clips, snapshots, session secret).

    `max_body_bytes` caps request bodies (413 beyond it; default COUNTERWATCH_MAX_BODY_BYTES or 1 MiB).

    `config_path` enables the zone editor and names cameras/posts in filters; it is
    validated now, so a bad config fails at start-up with a message naming the field.
    """
    data_dir = Path(data_dir).resolve()
    store = EventStore.for_dir(data_dir, db_url)
    config = load_config(config_path) if config_path is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        store.close()

    app = FastAPI(title="counterwatch", version=__version__, openapi_url=None, docs_url=None, redoc_url=None,
                  lifespan=lifespan,
                  description="Review API of the counterwatch conduct monitor. The spec is at /api/openapi.json.")
    app.state.store = store
    app.state.data_dir = data_dir
    app.state.config = config
    app.state.config_path = Path(os.path.abspath(config_path)) if config_path is not None else None  # a link stays a link
    app.state.alert_bus = alert_bus
    app.state.frame_cache = {}
    app.state.auth = AuthState(store=store, secret=load_or_create_secret(data_dir), secure_cookie=secure_cookie)

    app.add_middleware(RequestGuard, max_bytes=max_body_bytes or max_body_bytes_from_env())

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        resp = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        if getattr(request.state, "cw_user", None) is not None and "Cache-Control" not in resp.headers:
            resp.headers["Cache-Control"] = "no-store"
        return resp

    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    _add_error_handlers(app)
    _add_auth_routes(app)
    _add_media_routes(app)
    _include_live(app)  # first: /api/events/stream must win over /api/events/{event_id}
    app.include_router(review_api.router)
    app.include_router(zones.router)
    app.include_router(day.router)
    openapi.install(app)  # document every error code and body the routes answer
    app.include_router(board.router)  # the hall board (/board) and camera status (/cameras)

    return app
