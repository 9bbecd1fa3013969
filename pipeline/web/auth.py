"""Users, sessions, CSRF and login throttling for the web app.

Why this shape:
- Sessions are a signed cookie (HMAC-SHA256, stdlib only) holding the username, a
  CSRF token, the issue time and a fingerprint of the password hash. The role is
  read from the `users` table on every request, so demoting or deleting a user, or
  changing a password, takes effect at once without a server-side session table.
- The cookie is HttpOnly + SameSite=Lax. State-changing requests (POST/PUT/PATCH/
  DELETE) must also carry the session's CSRF token in the `X-CSRF-Token` header or a
  `csrf_token` form field (double submit: a cross-site page can't read the token).
- Failed logins are counted per (username, client IP); 5 failures in 5 minutes
  give 429 until the window passes. The counter map is pruned so it stays bounded.
- Passwords are hashed with argon2id (argon2-cffi).

Other web modules use `require_user(min_role)` as a FastAPI dependency; it works on
HTTP routes and on WebSocket routes (it takes an HTTPConnection).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, HTTPException
from sqlalchemy import select
from starlette.requests import HTTPConnection

from pipeline.core.errors import ConfigError, OutputError
from pipeline.events.schema import UserRow
from pipeline.events.store import EventStore

ROLES: tuple[str, ...] = ("viewer", "supervisor", "admin")
ROLE_RANK: dict[str, int] = {r: i for i, r in enumerate(ROLES)}
SESSION_COOKIE = "cw_session"
LOGIN_CSRF_COOKIE = "cw_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
SECRET_FILE = ".session_secret"
SESSION_MAX_AGE_S = 12 * 3600
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_hasher = PasswordHasher()


# --------------------------------------------------------------------------------------------
# users
# --------------------------------------------------------------------------------------------
def _check_role(role: str) -> str:
    if role not in ROLE_RANK:
        raise ConfigError(f"role: must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def _check_username(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise ConfigError(f"username: 1-64 characters without spaces, got {name!r}")
    return name


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ConfigError("password: at least 8 characters")
    return _hasher.hash(password)


def add_user(store: EventStore, username: str, role: str, password: str, *, replace: bool = False) -> None:
    """Create a user (or, with replace=True, reset its role and password)."""
    username, role = _check_username(username), _check_role(role)
    pw_hash = hash_password(password)
    with store.session() as s, s.begin():
        row = s.get(UserRow, username)
        if row is not None and not replace:
            raise ConfigError(f"user {username!r} already exists (use --replace to reset it)")
        if row is None:
            s.add(UserRow(username=username, password_hash=pw_hash, role=role))
        else:
            row.password_hash, row.role = pw_hash, role


def list_users(store: EventStore) -> list[dict[str, Any]]:
    with store.session() as s:
        return [{"username": r.username, "role": r.role, "created_at": r.created_at.isoformat()}
                for r in s.scalars(select(UserRow).order_by(UserRow.username))]


def get_user(store: EventStore, username: str) -> dict[str, Any] | None:
    with store.session() as s:
        row = s.get(UserRow, username)
        if row is None:
            return None
        return {"username": row.username, "role": row.role, "password_hash": row.password_hash}


def verify_user(store: EventStore, username: str, password: str) -> dict[str, Any] | None:
    """The user dict if the password matches, else None. Runs a hash even for unknown users
    so that response time does not reveal which usernames exist."""
    user = get_user(store, username)
    target = user["password_hash"] if user else _DUMMY_HASH
    try:
        _hasher.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return user


_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


def _pw_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# secret and signed session cookie
# --------------------------------------------------------------------------------------------
def load_or_create_secret(data_dir: Path) -> bytes:
    """The signing key lives in the data dir (0600), made on first start, so sessions survive restarts."""
    path = Path(data_dir) / SECRET_FILE
    try:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise OutputError(f"{path}: cannot create session secret ({exc.strerror})") from None
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise OutputError(f"{path}: cannot read session secret ({exc.strerror})") from None
    if len(key) < 32:
        raise OutputError(f"{path}: session secret is too short; delete it to make a new one")
    return key.encode()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sign(secret: bytes, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def unsign(secret: bytes, token: str) -> dict[str, Any] | None:
    try:
        body, mac = token.split(".", 1)
        want = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac, want):
            return None
        data = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------------------------
# login throttling
# --------------------------------------------------------------------------------------------
@dataclass
class LoginLimiter:
    """At most `max_failures` failed logins per (username, ip) per `window_s`; memory stays bounded."""

    max_failures: int = 5
    window_s: float = 300.0
    max_keys: int = 10_000
    _fails: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_s
        for key in [k for k, q in self._fails.items() if not q or q[-1] < cutoff]:
            del self._fails[key]

    def blocked(self, username: str, ip: str, now: float | None = None) -> float:
        """Seconds until another try is allowed (0 if allowed now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._fails.get((username, ip))
            if not q:
                return 0.0
            while q and q[0] < now - self.window_s:
                q.popleft()
            if len(q) < self.max_failures:
                return 0.0
            return max(0.0, q[0] + self.window_s - now)

    def failed(self, username: str, ip: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._fails) >= self.max_keys:
                self._prune(now)
            q = self._fails.setdefault((username, ip), deque(maxlen=self.max_failures))
            q.append(now)

    def succeeded(self, username: str, ip: str) -> None:
        with self._lock:
            self._fails.pop((username, ip), None)

    def __len__(self) -> int:
        return len(self._fails)


# --------------------------------------------------------------------------------------------
# per-app auth state and the FastAPI dependency
# --------------------------------------------------------------------------------------------
@dataclass
class AuthState:
    store: EventStore
    secret: bytes
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    secure_cookie: bool = False
    max_age_s: int = SESSION_MAX_AGE_S

    def new_session(self, user: dict[str, Any]) -> tuple[str, str]:
        """(cookie value, csrf token) for a freshly logged-in user."""
        csrf = secrets.token_urlsafe(24)
        payload = {"u": user["username"], "c": csrf, "t": int(time.time()),
                   "p": _pw_fingerprint(user["password_hash"])}
        return sign(self.secret, payload), csrf

    def session_user(self, cookie: str | None) -> dict[str, Any] | None:
        """The user dict {username, role, csrf} for a valid cookie, else None."""
        if not cookie:
            return None
        data = unsign(self.secret, cookie)
        if not data or not isinstance(data.get("t"), int) or time.time() - data["t"] > self.max_age_s:
            return None
        user = get_user(self.store, str(data.get("u", "")))
        if user is None or _pw_fingerprint(user["password_hash"]) != data.get("p"):
            return None
        return {"username": user["username"], "role": user["role"], "csrf": str(data.get("c", ""))}


def auth_state(conn: HTTPConnection) -> AuthState:
    st = getattr(conn.app.state, "auth", None)
    if st is None:
        raise RuntimeError("app.state.auth is not set; build the app with pipeline.web.app.create_app")
    return st


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def current_user(conn: HTTPConnection) -> dict[str, Any] | None:
    """The logged-in user or None; cached on the connection's state."""
    if hasattr(conn.state, "cw_user"):
        return conn.state.cw_user
    user = auth_state(conn).session_user(conn.cookies.get(SESSION_COOKIE))
    conn.state.cw_user = user
    return user


async def _csrf_ok(conn: HTTPConnection, expected: str) -> bool:
    sent = conn.headers.get(CSRF_HEADER)
    if not sent and conn.scope.get("type") == "http":
        ctype = conn.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await conn.form()  # type: ignore[attr-defined]  # Request caches the parsed form
            v = form.get(CSRF_FORM_FIELD)
            sent = v if isinstance(v, str) else None
    return bool(sent) and bool(expected) and hmac.compare_digest(str(sent), expected)


def require_user(min_role: str = "viewer") -> Callable[..., Any]:
    """FastAPI dependency: the logged-in user {username, role} with at least `min_role`.

    401 when not logged in, 403 when the role is too low or (for POST/PUT/PATCH/DELETE)
    the CSRF token is missing or wrong.
    """
    _check_role(min_role)
    need = ROLE_RANK[min_role]

    async def dependency(conn: HTTPConnection) -> dict[str, Any]:
        user = current_user(conn)
        if user is None:
            raise HTTPException(status_code=401, detail="login required")
        if conn.scope.get("type") == "http" and conn.scope.get("method", "GET") in UNSAFE_METHODS:
            if not await _csrf_ok(conn, user["csrf"]):
                raise HTTPException(status_code=403, detail="CSRF token missing or wrong")
        if ROLE_RANK.get(user["role"], -1) < need:
            raise HTTPException(status_code=403, detail=f"needs role {min_role}")
        return {"username": user["username"], "role": user["role"]}

    dependency.__name__ = f"require_{min_role}"
    return dependency


def has_role(user: dict[str, Any] | None, role: str) -> bool:
    return bool(user) and ROLE_RANK.get(user["role"], -1) >= ROLE_RANK[role]


# Annotated shorthands for route signatures: `def route(user: ViewerUser): ...`
ViewerUser = Annotated[dict[str, Any], Depends(require_user("viewer"))]
SupervisorUser = Annotated[dict[str, Any], Depends(require_user("supervisor"))]
AdminUser = Annotated[dict[str, Any], Depends(require_user("admin"))]
