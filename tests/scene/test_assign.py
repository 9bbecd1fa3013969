import numpy as np
import pytest

from pipeline.config.models import CameraConfig
from pipeline.core.skeleton import KP
from pipeline.scene.assign import SceneAssigner
from tests.builders import detections

SIZE = (1000, 500)
CAM = CameraConfig(
    id="cam1",
    posts=[
        {"id": "P1", "seat": [[0.0, 0.0], [0.3, 0.0], [0.3, 0.6], [0.0, 0.6]],
         "desk": [[0.3, 0.0], [0.5, 0.0], [0.5, 0.6], [0.3, 0.6]],
         "customer": [[0.5, 0.0], [0.7, 0.0], [0.7, 0.6], [0.5, 0.6]]},
        {"id": "P2", "seat": [[0.7, 0.0], [1.0, 0.0], [1.0, 0.6], [0.7, 0.6]]},
    ],
    waiting=[[[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]],
)


@pytest.mark.parametrize("box, role, post", [
    ((50, 50, 250, 250), "staff", "P1"),        # anchor (150, 190) in P1 seat
    ((800, 20, 900, 260), "staff", "P2"),
    ((550, 50, 650, 250), "customer", None),    # in P1's customer zone
    ((100, 300, 200, 480), "customer", None),   # waiting area
])
def test_roles_by_zone(box, role, post):
    a = SceneAssigner(CAM)
    roles, posts, _ = a.roles(detections([box]), SIZE)
    assert (roles[0], posts[0]) == (role, post)


def test_hip_keypoints_override_box_anchor():
    # box anchor lands in the waiting area, but visible hips sit in P1's seat
    d = detections([(50, 150, 250, 480)])
    kps = np.zeros((1, 17, 2), np.float32)
    kc = np.zeros((1, 17), np.float32)
    kps[0, KP["left_hip"]] = (120, 250)
    kps[0, KP["right_hip"]] = (180, 250)
    kc[0, [KP["left_hip"], KP["right_hip"]]] = 0.9
    a = SceneAssigner(CAM)
    assert a.roles(d, SIZE)[0] == ["customer"]
    assert a.roles(d.with_(keypoints=kps, keypoint_conf=kc), SIZE)[:2] == (["staff"], ["P1"])


def test_facts_posts_customers_and_desk_objects():
    a = SceneAssigner(CAM)
    persons = detections([(50, 50, 250, 250), (550, 50, 650, 250), (100, 300, 200, 480)], tracker_ids=[1, 2, 3])
    objects = detections([(380, 100, 420, 160), (900, 400, 950, 450)], classes=["bottle", "cup"])
    f = a.facts("cam1", 10.0, None, SIZE, persons, objects)
    assert f.posts["P1"].staff_track_ids == (1,)
    assert f.posts["P1"].customer_count == 1
    assert f.posts["P2"].staff_present is False
    assert f.waiting_count == 1
    bottle, cup = f.objects
    assert (bottle.post_id, bottle.on_desk) == ("P1", True)
    assert (cup.post_id, cup.on_desk) == (None, False)


def test_bare_image_everyone_is_staff_and_table_items_on_desk():
    a = SceneAssigner(CameraConfig(id="img"))
    persons = detections([(10, 10, 100, 200), (300, 10, 400, 200)])
    objects = detections([(120, 150, 140, 190), (500, 10, 520, 30), (100, 140, 300, 260)],
                         classes=["bottle", "cup", "dining table"])
    f = a.facts("img", 0.0, None, SIZE, persons, objects)
    assert [p.role for p in f.persons] == ["staff", "staff"]
    assert all(p.post_id is None for p in f.persons)
    names = {o.class_name: o.on_desk for o in f.objects}
    assert names == {"bottle": True, "cup": False}  # the table itself is not an item
