"""JSON-lines logs for log shippers (Loki, ELK): COUNTERWATCH_LOG_JSON=1.

One object per line with time, level, logger, message and the exception text, so a
24/7 deployment can alert on camera state changes without parsing free text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "msg": record.getMessage(),
            "thread": record.threadName,
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def install_json_logging(force: bool = False) -> bool:
    """Switch every root handler to JSON lines when COUNTERWATCH_LOG_JSON=1 (or force). Returns whether it did."""
    if not force and os.environ.get("COUNTERWATCH_LOG_JSON") != "1":
        return False
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for h in root.handlers:
        h.setFormatter(JsonFormatter())
    return True
