"""Each detector/pose plugin owns its config model; the site config's sections are their union."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.config.backends import BackendConfig, NoPoseConfig
from pipeline.core.threads import thread_plan
from pipeline.detectors.mediapipe_pose import MediaPipePoseConfig
from pipeline.detectors.registry import DETECTOR_CONFIGS, POSE_CONFIGS, pose_backend
from pipeline.detectors.ultralytics_backend import UltralyticsConfig
from pipeline.detectors.yolo_onnx import YoloOnnxConfig
from pipeline.detectors.yolo_pose import YoloPoseConfig
from pipeline.settings import DetectorConfig, ModelsConfig, PoseConfig, SiteConfig


def test_every_plugin_registers_its_config():
    assert DETECTOR_CONFIGS == {"yolo_onnx": YoloOnnxConfig, "ultralytics": UltralyticsConfig}
    assert POSE_CONFIGS == {"none": NoPoseConfig, "yolo_pose": YoloPoseConfig, "mediapipe_pose": MediaPipePoseConfig}


def test_a_section_without_type_gets_the_default_backend():
    m = ModelsConfig.model_validate({"detector": {"model": "a.onnx", "threads": 3}, "pose": {"mode": "crops"}})
    assert isinstance(m.detector, YoloOnnxConfig) and m.detector.threads == 3
    assert isinstance(m.pose, YoloPoseConfig) and m.pose.mode == "crops"
    assert isinstance(ModelsConfig().detector, YoloOnnxConfig) and isinstance(ModelsConfig().pose, YoloPoseConfig)
    assert DetectorConfig() == YoloOnnxConfig() and PoseConfig() == YoloPoseConfig()


@pytest.mark.parametrize(("section", "data", "field"), [
    ("pose", {"type": "mediapipe_pose", "threads": 2}, "threads"),  # MediaPipe has no thread setting
    ("pose", {"type": "mediapipe_pose", "mode": "frame"}, "mode"),
    ("pose", {"type": "mediapipe_pose", "model": "yolo11n-pose_int8.tflite"}, "model"),
    ("pose", {"type": "none", "model": "yolo11n-pose_int8.tflite"}, "model"),
    ("detector", {"type": "ultralytics", "threads": 4}, "threads"),
    ("detector", {"type": "tensorrt"}, "type"),
])
def test_a_field_the_backend_would_ignore_is_an_error(section, data, field):
    with pytest.raises(ValidationError) as err:
        SiteConfig.model_validate({"models": {section: data}})
    assert any(e["loc"][:2] == ("models", section) and field in str(e["loc"][-1]) + e["msg"]
               for e in err.value.errors()), err.value


def test_thread_budget_only_touches_backends_that_take_threads():
    cfg = SiteConfig.model_validate({"models": {"detector": {"type": "yolo_onnx", "threads": 8},
                                                "pose": {"type": "mediapipe_pose"}}})
    planned = thread_plan(workers=2, cores=8).apply(cfg)
    assert planned.models.detector.threads == 4
    assert planned.models.pose == cfg.models.pose and "threads" not in planned.models.pose.model_dump()
    assert UltralyticsConfig().threads_or(3) == 3 and YoloOnnxConfig(threads=5).threads_or(3) == 5


def test_a_plugin_config_must_default_to_its_own_type():
    class Odd(BackendConfig):
        type: str = "other"

    with pytest.raises(TypeError, match="must default to 'odd'"):
        pose_backend("odd", Odd)
