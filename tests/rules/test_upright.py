"""Judgeability, the seat's upright reference and evidence over time, on synthetic keypoint sequences."""

from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import text as sa_text

from pipeline.core.types import Frame
from pipeline.events.store import SCHEMA_VERSION, EventStore
from pipeline.processor import CameraPipeline, Models
from pipeline.rules.base import RuleContext
from pipeline.rules.gesture import ChinRest
from pipeline.rules.posture import HeadDown, LeanBack, Slouch
from pipeline.rules.upright import LEARN_SAMPLES, UprightModel
from pipeline.settings import parse_config
from tests.builders import detections, facts, pose, posed, run_rule, tilted

LENS_K = 28.0  # a wide lens: the local vertical turns by 28 degrees at the image edge
EDGE_X = 600.0  # shoulder centre of the person at the image edge (frame 640 wide)


def lens_tilt(x: float) -> float:
    return LENS_K * (x - 320.0) / 320.0


def hall(t, edge_deg, post_id=None):
    """Three seated people, each upright along the lens's local vertical, except the edge one at `edge_deg`."""
    people = [posed(tilted(lens_tilt(x)), track_id=i + 2, post_id=None, at=(x, 200.0), scale=0.5)
              for i, x in enumerate((60.0, 320.0))]
    edge = posed(tilted(edge_deg), track_id=1, post_id=post_id, at=(EDGE_X, 200.0), scale=0.5)
    return facts(t, [edge, *people])


def edge_finding(rule, f):
    return next(x for x in rule.judge(f) if x.track_ids == (1,))


def test_edge_of_wide_lens_upright_person_does_not_slouch():
    upright_here = lens_tilt(EDGE_X + 5)  # ~25 degrees in the image: past the threshold against the image axes
    alone = facts(0, [posed(tilted(upright_here), post_id=None, at=(EDGE_X, 200.0), scale=0.5)])
    f = Slouch(Slouch.Params(), RuleContext()).judge(alone)[0]
    assert f.cond is True and f.details["upright_ref"] == "image_vertical"  # what the image axes alone would say
    f = edge_finding(Slouch(Slouch.Params(), RuleContext()), hall(0, upright_here))
    assert f.cond is False and f.details["upright_ref"] == "lens", f.details
    assert abs(f.details["torso_lateral_deg"]) < 5
    # over a run of video frames: no event at all
    r = Slouch(Slouch.Params(), RuleContext())
    assert run_rule(r, [hall(t, upright_here) for t in range(0, 120)]) == []


def test_tilting_25_degrees_from_the_learned_upright_slouches():
    up = lens_tilt(EDGE_X + 5)
    r = Slouch(Slouch.Params(update_every_s=1000), RuleContext())
    person = lambda t, deg: facts(t, [posed(tilted(deg), at=(EDGE_X, 200.0), scale=0.5)])  # noqa: E731  alone at P1
    first = r.judge(person(0, up))[0]
    assert first.cond is None and "learning" in first.details["not_visible"]  # the post's usual posture is not known yet
    learning = [person(t, up) for t in range(0, 2 * LEARN_SAMPLES + 20)]
    assert run_rule(r, learning) == []  # upright at the edge for minutes: never an event
    assert r.upright.posts["P1"].angle_deg == pytest.approx(up, abs=0.5)
    t0 = learning[-1].t + 1
    evs = run_rule(r, [person(t0 + t, up + 25) for t in range(0, 45)])
    assert [s for _, s, _ in evs] == ["start"]
    t, _, ev = evs[0]
    assert t == t0 + 2 + 30  # 3-of-5 evidence, then the 30 s dwell
    assert ev.details["upright_ref"] == "learned"
    assert ev.details["series"]["median"] == pytest.approx(25, abs=1)
    assert ev.details["series"]["min"] <= ev.details["series"]["median"] <= ev.details["series"]["max"]


def test_configured_upright_wins():
    cfg = parse_config("""
cameras:
  - id: c
    posts: [{id: P1, seat: [[0, 0], [1, 0], [1, 1]], upright_tilt_deg: 20}]
""")
    r = Slouch(Slouch.Params(), RuleContext(upright=UprightModel(cfg.cameras[0])))
    f = r.judge(facts(0, [posed(tilted(20))]))[0]
    assert f.cond is False and f.details["upright_ref"] == "post_config"
    assert r.judge(facts(0, [posed(tilted(45))]))[0].cond is True
    cfg2 = parse_config("""
cameras:
  - id: c
    verticals: [[0.0, 0.5, -20], [1.0, 0.5, 20]]
""")
    model = UprightModel(cfg2.cameras[0])
    f = Slouch(Slouch.Params(), RuleContext(upright=model)).judge(
        facts(0, [posed(tilted(19), post_id=None, at=(EDGE_X, 200.0), scale=0.5)]))[0]
    assert f.cond is False and f.details["upright_ref"] == "camera_config"
    with pytest.raises(Exception, match="verticals"):
        parse_config("cameras: [{id: c, verticals: [[1.5, 0.5, 10]]}]")


def test_implausible_skeleton_is_not_visible():
    kp, kc = pose("upright")
    kp[9] = kp[7] + (0, 250)  # a forearm 2.5 shoulder widths long: a wrist found on the desk below
    from tests.builders import person

    p = person(keypoints=kp, kconf=kc, box=(kp[:, 0].min() - 20, kp[:, 1].min() - 20,
                                             kp[:, 0].max() + 20, kp[:, 1].max() + 20))
    for cls in (Slouch, LeanBack, HeadDown, ChinRest):
        (f,) = cls(cls.Params(), RuleContext(upright=_fixed())).judge(facts(0, [p]))
        assert f.cond is None and f.details["not_visible"].startswith("implausible"), (cls, f.details)


def test_tiny_person_is_not_visible():
    (f,) = Slouch(Slouch.Params(), RuleContext(upright=_fixed())).judge(facts(0, [posed(tilted(40), scale=0.12)]))
    assert f.cond is None and f.details["not_visible"].startswith("too small")


def _fixed():
    u = UprightModel()
    u.post_tilt["P1"] = 0.0
    return u


def _moving_wrists(frames, amp=40.0, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        kp = f.persons[0].keypoints.copy()
        kp[9] += (rng.uniform(-amp, amp), rng.uniform(-10, 10))
        kp[10] += (rng.uniform(-amp, amp), rng.uniform(-10, 10))
        out.append(replace(f, persons=(replace(f.persons[0], keypoints=kp),)))
    return out


@pytest.mark.parametrize("hide_face", [False, True])
def test_writing_with_head_bowed_is_not_head_down_but_asleep_is(hide_face):
    p = HeadDown.Params(update_every_s=1000)
    hide = (0, 1, 2) if hide_face else ()
    frames = [facts(t, [posed("head_low_hands_on_paper", hide=hide)]) for t in range(90)]
    asleep = run_rule(HeadDown(p, RuleContext()), frames)
    assert [s for _, s, _ in asleep] == ["start"] and asleep[0][2].details["cue"] == "still"
    writing = run_rule(HeadDown(p, RuleContext()), _moving_wrists(frames))
    assert writing == []
    judged = HeadDown(p, RuleContext())
    run_rule(judged, _moving_wrists(frames)[:30])
    f = judged.judge(_moving_wrists(frames)[30])[0]
    assert f.cond is False and f.details["moving"] is True


def test_one_bad_frame_never_starts_a_dwell():
    r = Slouch(Slouch.Params(min_duration_s=0, update_every_s=1000), RuleContext(upright=_fixed()))
    frames = [facts(t, [posed(tilted(40) if t % 5 == 0 else "upright")]) for t in range(60)]
    assert run_rule(r, frames) == []  # 1 frame in 5 past the threshold: below the 3-of-5 evidence


def test_a_reused_skeleton_votes_once():
    """Gating hands one measurement on to later frames: it counts as one vote, however many frames show it."""
    def frames(reused: bool):
        out = []
        for t in range(60):
            bad = t % 5 < 3
            measured = t - t % 5 if bad and reused else t
            out.append(facts(t, [replace(posed(tilted(40) if bad else "upright"), pose_t=float(measured))]))
        return out
    rule = lambda: Slouch(Slouch.Params(min_duration_s=0, update_every_s=1000), RuleContext(upright=_fixed()))  # noqa: E731
    # one bad skeleton in five, shown again on the next two frames: one vote in five, no event
    assert run_rule(rule(), frames(reused=True)) == []
    # the same frames as three fresh measurements in five: 3-of-5 evidence starts the dwell
    assert [s for _, s, _ in run_rule(rule(), frames(reused=False))][:1] == ["start"]


class ScriptedPose:
    """Gives each person box the same seated skeleton, tilted by `deg` in the image."""

    def __init__(self, deg):
        self.deg = deg

    def estimate(self, frame, persons):
        kps, kcs = [], []
        for x1, y1, x2, _y2 in persons.xyxy:
            kp, kc = pose(tilted(self.deg), at=((x1 + x2) / 2, y1 + 50), scale=0.5)
            kps.append(kp)
            kcs.append(kc)
        return persons.with_(keypoints=np.asarray(kps, np.float32), keypoint_conf=np.asarray(kcs, np.float32))


class OneClerk:
    def detect(self, frame):
        return detections([(260, 0, 380, 200)], conf=[0.9])


CFG = """
analysis: {fps: 1, presence_window_s: 0}
models: {post_crops: false}
cameras:
  - id: cam1
    posts:
      - {id: P1, seat: [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]}
"""


def test_learned_reference_survives_a_restart(tmp_path):
    cfg = parse_config(CFG)
    img = np.zeros((480, 640, 3), np.uint8)
    store = EventStore.for_dir(tmp_path)
    assert store.schema_version() >= 4
    with store.engine.begin() as conn:  # revision 4 again on a database that has the table: it is left as it is
        conn.execute(sa_text("UPDATE alembic_version SET version_num = '0003'"))
    assert store.migrate() == SCHEMA_VERSION
    pipe = CameraPipeline(cfg, cfg.cameras[0], Models(OneClerk(), ScriptedPose(12.0), None), references=store)
    for i in range(2 * LEARN_SAMPLES + 10):
        pipe.process(Frame("cam1", i, float(i), img))
    pipe.close()
    learned = pipe.upright.posts["P1"].angle_deg
    assert learned == pytest.approx(12.0, abs=0.5)
    store.close()
    # a new process: the reference is read back from the database, no learning period
    store2 = EventStore.for_dir(tmp_path)
    rows = store2.load_upright("cam1", cfg.site.id)
    assert [r["post_id"] for r in rows] == ["P1"] and rows[0]["angle_deg"] == pytest.approx(learned)
    pipe2 = CameraPipeline(cfg, cfg.cameras[0], Models(OneClerk(), ScriptedPose(12.0), None), references=store2)
    assert pipe2.upright.posts["P1"].angle_deg == pytest.approx(learned)
    slouch = next(r for r in pipe2.rules if r.rule_id == "posture.slouch")
    res = pipe2.process(Frame("cam1", 0, 1000.0, img))
    (f,) = slouch.judge(res.facts)
    assert f.cond is False and f.details["upright_ref"] == "learned"
    store2.close()


def test_upright_state_is_bounded():
    r = Slouch(Slouch.Params(), RuleContext())
    for t in range(2000):
        r.update(facts(t, [posed(tilted(5), track_id=t // 4, post_id=None)]))
    assert r.state_size < 80 and len(r.upright._lens) <= 400


@pytest.mark.parametrize("wrist,elbow,expected", [
    ((14, -45), (30, 45), True),  # left hand at the left cheek, forearm up
    ((-8, -30), (-35, 45), True),  # right hand under the chin
    ((14, -45), (90, -40), False),  # hand at the cheek but the forearm lies flat: not propping
    ((-32, -55), (-60, 30), False),  # wrist at the ear: a phone call
])
def test_chin_rest_either_hand_chin_or_cheek(wrist, elbow, expected):
    from tests.builders import POSES, _shift

    side = "left" if wrist[0] > 0 else "right"
    name = f"prop_{wrist}_{elbow}"
    POSES.setdefault(name, _shift(POSES["upright"], **{f"{side}_wrist": wrist, f"{side}_elbow": elbow}))
    (f,) = ChinRest(ChinRest.Params(), RuleContext()).judge(facts(0, [posed(name)]))
    assert f.cond is expected, f.details


def test_migration_4_adds_the_table_to_an_older_database(tmp_path):
    from sqlalchemy import inspect, text

    store = EventStore.for_dir(tmp_path)
    with store.engine.begin() as conn:  # make it look like a database from before the table existed
        conn.execute(text("DROP TABLE upright_reference"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    store.close()
    store = EventStore.for_dir(tmp_path)
    assert "upright_reference" in inspect(store.engine).get_table_names()
    assert store.schema_version() == SCHEMA_VERSION >= 4
    store.save_upright([{"camera_id": "c", "post_id": "P1", "angle_deg": 3.0, "n_samples": 30, "samples": [3.0]}])
    store.save_upright([{"camera_id": "c", "post_id": "P1", "angle_deg": 4.0, "n_samples": 31, "samples": [4.0]}])
    assert store.load_upright("c") == [{"camera_id": "c", "post_id": "P1", "angle_deg": 4.0, "n_samples": 31,
                                        "samples": [4.0]}]
    store.close()
