"""Users, sessions, CSRF, login throttling and the hashing gate for the web app.

Why this shape:
- Sessions are server-side rows (`web_sessions`): the cookie holds a random 256-bit
  token and the table holds its SHA-256, the user, the session's CSRF token and the
  times it was made and last used. Logout deletes the row, so a copied cookie is
  dead at once; so do a password reset (`users add --replace`), `users disable` and
  `users remove`. A session ends after `idle_s` without a request (default 1 h,
  COUNTERWATCH_SESSION_IDLE_S) and at most `max_age_s` after login (12 h). The role is
  read from the `users` table on every request.
- The cookie is HttpOnly + SameSite=Lax. State-changing requests (POST/PUT/PATCH/
  DELETE) must also carry the session's CSRF token in the `X-CSRF-Token` header or a
  `csrf_token` form field (double submit: a cross-site page can't read the token).
- Failed logins are counted per (username, client address) and per client address
  across user names (password spraying). A try takes its place in the count before the
  password is checked, under one lock, so parallel requests cannot all slip past the
  limit: 5 tries per name and address, 20 per address, in 5 minutes; then 429.
- Passwords are hashed with argon2id (argon2-cffi, 64 MiB each). At most
  `COUNTERWATCH_LOGIN_HASHES` (default 2) hashes run at once; a login waiting longer
  than 30 s for its turn, or finding 16 others already waiting, gets 503, so anonymous
  logins can exhaust neither memory nor the server's worker threads.

Other web modules use `require_user(min_role)` as a FastAPI dependency; it works on
HTTP routes and on WebSocket routes (it takes an HTTPConnection).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
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
from sqlalchemy import delete, select, update
from starlette.requests import HTTPConnection

from pipeline.core.errors import ConfigError, OutputError
from pipeline.events.schema import SessionRow, UserRow, utcnow
from pipeline.events.store import EventStore

ROLES: tuple[str, ...] = ("viewer", "supervisor", "admin")
ROLE_RANK: dict[str, int] = {r: i for i, r in enumerate(ROLES)}
SESSION_COOKIE = "cw_session"
LOGIN_CSRF_COOKIE = "cw_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
SECRET_FILE = ".session_secret"
SESSION_MAX_AGE_S = 12 * 3600
SESSION_IDLE_S = 3600
TOUCH_EVERY_S = 60  # last_seen is written at most once a minute per session
HASH_WAIT_S = 30.0
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
            s.execute(delete(SessionRow).where(SessionRow.username == username))  # a new password ends old sessions


def set_disabled(store: EventStore, username: str, disabled: bool = True) -> int:
    """Disable (or enable) a user; disabling ends its sessions at once. Returns the sessions ended."""
    with store.session() as s, s.begin():
        row = s.get(UserRow, username)
        if row is None:
            raise ConfigError(f"user {username!r}: no such user")
        row.disabled = disabled
        if not disabled:
            return 0
        return int(s.execute(delete(SessionRow).where(SessionRow.username == username)).rowcount or 0)


def remove_user(store: EventStore, username: str) -> int:
    """Delete a user and its sessions (its verdicts stay: reviews name the reviewer, they do not point at the row)."""
    with store.session() as s, s.begin():
        row = s.get(UserRow, username)
        if row is None:
            raise ConfigError(f"user {username!r}: no such user")
        n = int(s.execute(delete(SessionRow).where(SessionRow.username == username)).rowcount or 0)
        s.delete(row)
        return n


def list_users(store: EventStore) -> list[dict[str, Any]]:
    with store.session() as s:
        return [{"username": r.username, "role": r.role, "created_at": r.created_at.isoformat(),
                 "disabled": bool(r.disabled)}
                for r in s.scalars(select(UserRow).order_by(UserRow.username))]


def get_user(store: EventStore, username: str) -> dict[str, Any] | None:
    with store.session() as s:
        row = s.get(UserRow, username)
        if row is None:
            return None
        return {"username": row.username, "role": row.role, "password_hash": row.password_hash,
                "disabled": bool(row.disabled)}


def verify_user(store: EventStore, username: str, password: str) -> dict[str, Any] | None:
    """The user dict if the password matches and the user is not disabled, else None. Runs a hash
    even for unknown users so that response time does not reveal which usernames exist."""
    user = get_user(store, username)
    target = user["password_hash"] if user else _DUMMY_HASH
    try:
        _hasher.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or user["disabled"]:
        return None
    return user


_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


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
def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None


@dataclass
class LoginLimiter:
    """Failed logins per (username, address) and per address, each in a sliding window.

    `begin()` reserves a try under the lock before the password is checked, and the try counts
    against both limits until `finish()` says how it went: N parallel requests get at most
    `max_failures` evaluations, not N. Memory stays bounded (`max_keys`).
    """

    max_failures: int = 5
    window_s: float = 300.0
    max_keys: int = 10_000
    max_failures_per_ip: int = 20
    _fails: dict[tuple[str, ...], deque[float]] = field(default_factory=dict)
    _pending: dict[tuple[str, ...], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _keys(self, username: str, ip: str) -> tuple[tuple[tuple[str, ...], int], ...]:
        return (("u", username, ip), self.max_failures), (("ip", ip), self.max_failures_per_ip)

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_s
        for key in [k for k, q in self._fails.items() if (not q or q[-1] < cutoff) and not self._pending.get(k)]:
            del self._fails[key]

    def _wait(self, key: tuple[str, ...], limit: int, now: float) -> float:
        """Seconds until `key` is below its limit again (0: below it now). Call with the lock held."""
        q = self._fails.get(key)
        if q:
            while q and q[0] < now - self.window_s:
                q.popleft()
        n_fail = len(q) if q else 0
        if n_fail + self._pending.get(key, 0) < limit:
            return 0.0
        if n_fail >= limit and q:
            return max(0.0, q[-limit] + self.window_s - now)
        return 1.0  # full because of tries still being checked: ask again in a second

    def begin(self, username: str, ip: str, now: float | None = None) -> float:
        """Reserve a try: 0 when reserved (call `finish` afterwards), else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            wait = max(self._wait(k, lim, now) for k, lim in self._keys(username, ip))
            if wait > 0:
                return wait
            for k, _lim in self._keys(username, ip):
                self._pending[k] = self._pending.get(k, 0) + 1
            return 0.0

    def finish(self, username: str, ip: str, ok: bool, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for k, lim in self._keys(username, ip):
                left = self._pending.get(k, 0) - 1
                if left > 0:
                    self._pending[k] = left
                else:
                    self._pending.pop(k, None)
                if not ok:
                    self._record(k, lim, now)
            if ok:  # a good password clears its name's count, never the address's
                self._fails.pop(("u", username, ip), None)

    def _record(self, key: tuple[str, ...], limit: int, now: float) -> None:
        if len(self._fails) >= self.max_keys:
            self._prune(now)
        q = self._fails.get(key)
        if q is None:
            q = self._fails[key] = deque(maxlen=limit)
        q.append(now)

    def blocked(self, username: str, ip: str, now: float | None = None) -> float:
        """Seconds until another try is allowed (0 if allowed now); reserves nothing."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return max(self._wait(k, lim, now) for k, lim in self._keys(username, ip))

    def failed(self, username: str, ip: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for k, lim in self._keys(username, ip):
                self._record(k, lim, now)

    def succeeded(self, username: str, ip: str) -> None:
        with self._lock:
            self._fails.pop(("u", username, ip), None)

    def __len__(self) -> int:
        return len(self._fails)


class HashGate:
    """At most `limit` password hashes at once (argon2id takes 64 MiB each); 0 = no limit.

    A login waits up to `wait_s` for a free slot; at most `max_waiting` wait at once (each holds a
    server thread), so a flood of logins gets 503 at once instead of tying up every worker thread.
    `peak` is the most that ran at the same time, `refused` how many logins got 503.
    """

    def __init__(self, limit: int = 2, wait_s: float = HASH_WAIT_S, max_waiting: int = 16):
        if limit < 0:
            raise ConfigError(f"COUNTERWATCH_LOGIN_HASHES: must be 0 (no limit) or more, got {limit}")
        self.limit, self.wait_s, self.max_waiting = limit, wait_s, max_waiting
        self._sem = threading.BoundedSemaphore(limit) if limit else None
        self._lock = threading.Lock()
        self.running = self.waiting = self.peak = self.refused = 0

    def _refuse(self) -> HTTPException:
        with self._lock:
            self.refused += 1
        return HTTPException(503, "too many logins at once; try again in a few seconds", headers={"Retry-After": "5"})

    @contextlib.contextmanager
    def slot(self):
        """Hold a hashing slot; raises HTTPException(503) when none is free in time."""
        if self._sem is not None and not self._sem.acquire(blocking=False):
            with self._lock:
                full = self.waiting >= self.max_waiting
                if not full:
                    self.waiting += 1
            if full:
                raise self._refuse()
            try:
                got = self._sem.acquire(timeout=self.wait_s)
            finally:
                with self._lock:
                    self.waiting -= 1
            if not got:
                raise self._refuse()
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
            if self._sem is not None:
                self._sem.release()


# --------------------------------------------------------------------------------------------
# per-app auth state: server-side sessions
# --------------------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class AuthState:
    store: EventStore
    secret: bytes
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    secure_cookie: bool = False
    max_age_s: int = SESSION_MAX_AGE_S
    idle_s: int = field(default_factory=lambda: _env_int("COUNTERWATCH_SESSION_IDLE_S", SESSION_IDLE_S))
    hashes: HashGate = field(default_factory=lambda: HashGate(_env_int("COUNTERWATCH_LOGIN_HASHES", 2)))

    def new_session(self, user: dict[str, Any], client: str = "") -> tuple[str, str]:
        """(cookie value, csrf token) for a freshly logged-in user; the session row is stored now."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = utcnow()
        with self.store.session() as s, s.begin():
            s.execute(delete(SessionRow).where(
                (SessionRow.last_seen < now - dt.timedelta(seconds=self.idle_s))
                | (SessionRow.created_at < now - dt.timedelta(seconds=self.max_age_s))))
            s.add(SessionRow(token_hash=_token_hash(token), username=user["username"], csrf=csrf,
                             created_at=now, last_seen=now, client=client[:64]))
        return token, csrf

    def end_session(self, cookie: str | None) -> bool:
        """Revoke the session of this cookie (logout). True if there was one."""
        if not cookie:
            return False
        with self.store.session() as s, s.begin():
            return bool(s.execute(delete(SessionRow).where(SessionRow.token_hash == _token_hash(cookie))).rowcount)

    def session_user(self, cookie: str | None) -> dict[str, Any] | None:
        """The user dict {username, role, csrf} for a live session, else None."""
        if not cookie or len(cookie) > 256:
            return None
        key = _token_hash(cookie)
        now = utcnow()
        with self.store.session() as s:
            hit = s.execute(select(SessionRow, UserRow).join(UserRow, UserRow.username == SessionRow.username)
                            .where(SessionRow.token_hash == key)).first()
            if hit is None:
                return None
            sess, user = hit
            if (user.disabled or (now - sess.created_at).total_seconds() > self.max_age_s
                    or (now - sess.last_seen).total_seconds() > self.idle_s):
                s.execute(delete(SessionRow).where(SessionRow.token_hash == key))
                s.commit()
                return None
            if (now - sess.last_seen).total_seconds() > TOUCH_EVERY_S:
                s.execute(update(SessionRow).where(SessionRow.token_hash == key).values(last_seen=now))
                s.commit()
            return {"username": user.username, "role": user.role, "csrf": sess.csrf}

    def sessions_of(self, username: str) -> int:
        with self.store.session() as s:
            return len(s.scalars(select(SessionRow.token_hash).where(SessionRow.username == username)).all())


def auth_state(conn: HTTPConnection) -> AuthState:
    st = getattr(conn.app.state, "auth", None)
    if st is None:
        raise RuntimeError("app.state.auth is not set; build the app with pipeline.web.app.create_app")
    return st


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def origin_allowed(conn: HTTPConnection) -> bool:
    """A browser's `Origin` must name this server (its Host header) or one listed in
    COUNTERWATCH_ALLOWED_ORIGINS (comma separated, e.g. behind a proxy that rewrites Host).
    A client that sends no Origin is no browser page, so cross-site use does not apply; it
    still needs a session cookie."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    extra = {o.strip().rstrip("/") for o in os.environ.get("COUNTERWATCH_ALLOWED_ORIGINS", "").split(",") if o.strip()}
    if origin.rstrip("/") in extra:
        return True
    host = conn.headers.get("host", "")
    scheme, sep, rest = origin.partition("://")
    return bool(sep) and scheme in ("http", "https") and bool(host) and rest.rstrip("/").lower() == host.lower()


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
