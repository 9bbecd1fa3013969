"""CameraPipeline with a scripted detector: presence hold and rule wiring, no models needed."""

import numpy as np

from pipeline.config.loader import parse_config
from pipeline.core.types import Frame
from pipeline.processor import CameraPipeline, Models
from tests.builders import detections

CFG = """
analysis: {fps: 2, presence_hold_s: 5}
models: {post_crops: false}
cameras:
  - id: cam1
    posts:
      - {id: P1, seat: [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]}
rules:
  post.unattended: {min_duration_s: 2, clear_after_s: 1, active: always}
"""


class ScriptedDetector:
    """Returns a seated clerk in P1 except at the times listed as absent."""

    def __init__(self, absent):
        self.absent = absent

    def detect(self, frame):
        if any(a <= frame.timestamp_s < b for a, b in self.absent):
            return detections([])
        return detections([(50, 50, 150, 250)], conf=[0.9])


def run(absent, until=40.0):
    cfg = parse_config(CFG)
    models = Models(detector=ScriptedDetector(absent), pose=None, cascade=None)
    pipe = CameraPipeline(cfg, cfg.cameras[0], models)
    img = np.zeros((300, 400, 3), np.uint8)
    events = []
    for i in range(int(until * 2)):
        events += pipe.process(Frame("cam1", i, i * 0.5, img)).events
    events += pipe.close()
    return events


def test_short_detector_miss_is_held_as_present():
    assert run([(10.0, 13.0)]) == []


def test_real_departure_is_seen_after_the_hold():
    evs = run([(10.0, 30.0)])
    starts = [e for e in evs if e.state == "start"]
    assert len(starts) == 1 and starts[0].post_id == "P1"
    # last seen at 9.5 s, held until 14.5 s, then 2 s of dwell
    assert 14.5 <= starts[0].start_s <= 15.5
    end = [e for e in evs if e.state == "end"][0]
    assert 29.0 <= end.end_s <= 30.0
