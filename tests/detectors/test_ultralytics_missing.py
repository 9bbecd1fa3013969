"""Without the ultralytics extra, asking for its backend says what to install."""

from __future__ import annotations

import sys

import pytest

from pipeline.core.errors import CounterwatchError
from pipeline.detectors.registry import build_detector
from pipeline.detectors.ultralytics_backend import MissingExtraError, from_ultralytics_result
from pipeline.settings import DetectorConfig


def test_missing_extra_error_says_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # as if not installed, whatever this machine has
    with pytest.raises(MissingExtraError) as err:
        build_detector(DetectorConfig(type="ultralytics", model="yolo11n.pt"))
    assert isinstance(err.value, ImportError) and isinstance(err.value, CounterwatchError)
    assert "pip install 'counterwatch[ultralytics]'" in str(err.value)


def test_cli_prints_one_line(monkeypatch, capsys):
    from pipeline.cli import main

    monkeypatch.setitem(sys.modules, "ultralytics", None)
    assert main(["models", "export", "yolo11n.pt", "--imgsz", "640"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "counterwatch[ultralytics]" in err[0] and "Traceback" not in err[0]


class _Arr:
    """Stands in for a torch tensor: has .cpu().numpy(), as the adapter reads by attribute."""

    def __init__(self, v):
        import numpy as np

        self.v = np.asarray(v)

    def cpu(self):
        return self

    def numpy(self):
        return self.v

    def __len__(self):
        return len(self.v)


def test_adapter_reads_results_by_attribute():
    from types import SimpleNamespace

    boxes = SimpleNamespace(xyxy=_Arr([[1, 2, 3, 4]]), conf=_Arr([0.8]), cls=_Arr([67.0]))
    result = SimpleNamespace(boxes=_Boxes(boxes), names={67: "cell phone"}, keypoints=None)
    d = from_ultralytics_result(result)
    assert d.class_name.tolist() == ["cell phone"] and d.class_id.tolist() == [67] and d.xyxy.shape == (1, 4)


class _Boxes:
    def __init__(self, ns):
        self.xyxy, self.conf, self.cls = ns.xyxy, ns.conf, ns.cls

    def __len__(self):
        return len(self.conf)
