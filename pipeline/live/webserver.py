"""uvicorn inside `counterwatch run`: the signal is handled, not re-raised.

uvicorn re-raises a captured SIGINT/SIGTERM after it stops serving, which would kill
the process before the cameras finish their clips and flush the database. Here the
server stops, the signal is swallowed, and the caller shuts the cameras down.
A second signal during that shutdown kills the process as usual.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any

import uvicorn


class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            self.stop_signals = list(getattr(self, "_captured_signals", []))
            if hasattr(self, "_captured_signals"):
                self._captured_signals.clear()


def make_server(app: Any, host: str, port: int, **kw: Any) -> Server:
    return Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                                 timeout_graceful_shutdown=kw.pop("timeout_graceful_shutdown", 3), **kw))
