"""Per-rule precision from the latest verdict per event, on a real SQLite store."""

from __future__ import annotations

import json

import pytest

from pipeline import cli
from pipeline.core.types import Event
from pipeline.evaluation.reviews import open_store, review_counts, reviews_json
from pipeline.events.store import EventStore


def _event(i: int, rule: str) -> Event:
    return Event(event_id=f"e{i:03d}", rule_id=rule, article="第五十二条", source_id="cam1", post_id="P1",
                 track_ids=(1,), state="end", severity="medium", start_s=float(i), end_s=float(i) + 5)


def main(argv: list[str]) -> int:
    """The real CLI entry point, with only this command family loaded."""
    return cli.main(argv)


@pytest.fixture(autouse=True)
def only_eval_commands(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["pipeline.commands.eval_cmd"])


@pytest.fixture
def data_folder(tmp_path):
    store = EventStore.for_dir(tmp_path)
    for i in range(6):
        store.record_event(_event(i, "phone.use"))
    for i in range(6, 9):
        store.record_event(_event(i, "posture.head_down"))
    # phone.use: e000..e002 confirmed, e003 dismissed, e004 dismissed then re-confirmed, e005 unreviewed
    for i in range(3):
        store.add_review(f"e{i:03d}", "confirmed", "", "alice")
    store.add_review("e003", "dismissed", "writing", "alice")
    store.add_review("e004", "dismissed", "not_a_phone", "alice")
    store.add_review("e004", "confirmed", "", "bob")
    # head_down: one confirmed, then changed to dismissed (the latest counts)
    store.add_review("e006", "confirmed", "", "alice")
    store.add_review("e006", "dismissed", "writing", "bob")
    store.close()
    return tmp_path


def test_latest_verdict_counts(data_folder):
    store = open_store(data_folder)
    counts, totals, reasons = review_counts(store)
    store.close()
    assert (counts["phone.use"].tp, counts["phone.use"].fp) == (4, 1)
    assert (counts["posture.head_down"].tp, counts["posture.head_down"].fp) == (0, 1)
    assert totals == {"phone.use": 6, "posture.head_down": 3}
    doc = reviews_json(counts, totals, reasons)
    assert doc["rules"]["phone.use"]["precision"] == 0.8
    assert doc["rules"]["phone.use"]["coverage"] == round(5 / 6, 4)
    assert doc["rules"]["phone.use"]["dismissal_reasons"] == {"writing": 1}
    assert doc["rules"]["posture.head_down"]["precision"] == 0.0


def test_cli_reviews_prints_and_writes_json(data_folder, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["eval", "reviews", "--data", str(data_folder), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "phone.use" in text and "0.800" in text
    assert json.loads(out.read_text())["rules"]["phone.use"]["confirmed"] == 4


def test_cli_reviews_without_database_is_a_one_line_error(tmp_path, capsys):
    assert main(["eval", "reviews", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no database in this data folder" in err and str(tmp_path) in err
    assert not (tmp_path / "counterwatch.db").exists()  # reading never creates a database
