"""Small pure pieces of the web app: detail phrases, signed cookies, login limiter, secret file."""

from __future__ import annotations

import os
import stat

import pytest

from pipeline.core.errors import ConfigError
from pipeline.core.i18n import CATALOGUE, t
from pipeline.web.auth import LoginLimiter, load_or_create_secret, sign, unsign
from pipeline.web.i18n import format_details, format_details_bilingual, format_duration


@pytest.mark.parametrize("details, lang, expected", [
    ({"head_below_shoulder_s": 34}, "zh", ["头部低于肩线 34 秒"]),
    ({"head_below_shoulder_s": 34}, "en", ["head below shoulder line 34 s"]),
    ({"torso_angle_deg": 41.4}, "en", ["torso angle 41°"]),
    ({"phone_conf": 0.42}, "zh", ["手机置信度 42%"]),
    ({"customers_waiting": 3}, "zh", ["等候客户 3 人"]),
    ({"cue": "head_on_arms"}, "en", ["cue head resting on the arms"]),
    ({"cue": "new_cue"}, "en", ["cue new_cue"]),
    ({"a_on_leave": True}, "zh", ["A角请假 是"]),
    ({"away_s": 125}, "en", ["away_s: 2 min 5 s"]),
    ({"lean_deg": 12.6}, "en", ["lean_deg: 13°"]),
    ({"ratio": 0.12345}, "en", ["ratio: 0.123"]),
    ({"items": ["cup", "bottle"]}, "en", ["items cup, bottle"]),
    ({"phone_to_wrist": None}, "zh", ["手机到手腕距离（相对肩宽） 不可见"]),
    ({}, "zh", []),
])
def test_format_details(details, lang, expected):
    assert format_details(details, lang) == expected


def test_bilingual_details_and_durations():
    assert format_details_bilingual({"torso_angle_deg": 41}) == ["躯干角度 41° (torso angle 41°)"]
    assert format_duration(None, "zh") == "进行中"
    assert format_duration(3725, "en") == "1 h 2 min"
    assert t("selected_n", "en", n=3) == "3 selected"
    assert t("selected_n", "zh", n=3) == "已选 3 条"
    assert format_duration(125, "en") == "2 min 5 s"


def test_every_string_the_templates_use_is_translated():
    import re
    from pathlib import Path

    import pipeline.web

    used = set()
    for f in (Path(pipeline.web.__file__).parent / "templates").glob("*.html"):
        used |= set(re.findall(r"""\b(?:t|label)\(['"]([a-z_]+)['"]""", f.read_text(encoding="utf-8")))
    prefixes = {k for k in used if k.endswith("_")}  # t('sev_' ~ s), label('sev_', ev.severity) and the like
    assert prefixes == {"day_source_", "day_state_", "reason_", "role_", "sev_", "state_", "verdict_"}
    used -= prefixes
    from pipeline.web.auth import ROLES
    from pipeline.web.i18n import REASONS, SEVERITIES, VERDICTS

    used |= {f"reason_{r}" for r in REASONS} | {f"role_{r}" for r in ROLES} | {f"sev_{s}" for s in SEVERITIES}
    used |= {f"verdict_{v}" for v in (*VERDICTS, "none", "withdrawn")}
    used |= {f"state_{s}" for s in ("online", "connecting", "reconnecting", "offline", "unknown")}
    used |= {f"day_source_{s}" for s in ("batch", "live", "none")}
    used |= {f"day_state_{s}" for s in ("present", "absent", "unknown")}
    assert len(used) > 40
    assert used <= set(CATALOGUE), sorted(used - set(CATALOGUE))


def test_signed_cookie_rejects_tampering():
    key = b"k" * 64
    tok = sign(key, {"u": "ann", "t": 1})
    assert unsign(key, tok) == {"u": "ann", "t": 1}
    body, mac = tok.split(".")
    forged = sign(b"x" * 64, {"u": "root", "t": 1}).split(".")[0] + "." + mac
    assert unsign(key, forged) is None
    assert unsign(b"j" * 64, tok) is None
    assert unsign(key, "garbage") is None and unsign(key, "a.b.c") is None


def test_login_limiter_window_and_bounded_memory():
    lim = LoginLimiter(max_failures=5, window_s=300, max_keys=100)
    for i in range(5):
        assert lim.blocked("sam", "1.2.3.4", now=i) == 0
        lim.failed("sam", "1.2.3.4", now=i)
    assert lim.blocked("sam", "1.2.3.4", now=10) == pytest.approx(290)
    assert lim.blocked("sam", "5.6.7.8", now=10) == 0
    assert lim.blocked("sam", "1.2.3.4", now=301) == 0  # the oldest failure left the window
    for i in range(1000):  # a spray of usernames does not grow the map without bound
        lim.failed(f"user{i}", "9.9.9.9", now=1000 + i * 400)
    assert len(lim) <= 101
    lim.succeeded("user999", "9.9.9.9")
    assert lim.blocked("user999", "9.9.9.9", now=1000 + 999 * 400) == 0


def test_secret_file_is_private_and_stable(tmp_path):
    a = load_or_create_secret(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / ".session_secret").st_mode) == 0o600
    assert load_or_create_secret(tmp_path) == a and len(a) >= 32


def test_bad_roles_and_passwords_are_named(tmp_path):
    from pipeline.events.store import EventStore
    from pipeline.web.auth import add_user

    store = EventStore.for_dir(tmp_path)
    with pytest.raises(ConfigError, match="role"):
        add_user(store, "x", "root", "password123")
    with pytest.raises(ConfigError, match="password"):
        add_user(store, "x", "viewer", "short")
    with pytest.raises(ConfigError, match="username"):
        add_user(store, "a b", "viewer", "password123")
