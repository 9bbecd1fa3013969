"""`counterwatch train` end to end on a tiny slice: 1 epoch, ONNX export, the ONNX backend loads it and detects."""

from __future__ import annotations

import json

import cv2

from pipeline.cli import main

SLICE = """classes: [person, phone]
split: {{val: 0.0, test: 0.3, seed: 0}}
sources:
  - name: bws_cctv
    path: {root}/train/bws_phone_usage/yolo_dataset
    names: [phone]
    map: {{phone: phone}}
    include: '^20250715_14'
    exclude_eval: '_aug|_rot'
    group: '^(\\d{{8}}_\\d{{6}}_[0-9a-f]{{8}})'
    force: {{test: '20250715_142638'}}
    pseudo_label: [person]
    max_images: 6
    licence: GPL-3.0
  - name: ait_webcam
    path: {root}/train/ait_wallet_phone_airpod/detection-2
    names: [airpods, phone, wallet]
    map: {{airpods: null, phone: phone, wallet: null}}
    include: '^opencv_frame_10'
    group: 'opencv_frame_(\\d+)'
    pseudo_label: [person]
    max_images: 6
    licence: CC BY 4.0
"""


def test_one_epoch_on_a_tiny_slice_exports_an_onnx_that_detects(
    ultralytics_extra, data_dir, models_dir, model_file, tmp_path, monkeypatch, capsys
):
    model_file("yolo11n_dequant.pt")
    monkeypatch.setenv("COUNTERWATCH_MODELS_DIR", str(models_dir))
    ds = tmp_path / "slice.yaml"
    ds.write_text(SLICE.format(root=data_dir))
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "--dataset",
            str(ds),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--imgsz",
            "160",
            "--batch",
            "4",
            "--name",
            "tiny",
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "epoch 1/1" in text and "model:" in text
    onnx = out / "tiny.onnx"
    card = out / "tiny.md"
    assert onnx.is_file() and card.is_file()
    assert "GPL-3.0" in card.read_text() and "person" in card.read_text()
    figures = json.loads(card.with_suffix(".json").read_text())
    assert len(figures["epochs"]) == 1 and figures["boxes"]["train"]["person"] > 0  # persons were pseudo-labelled
    merged = json.loads((out / "dataset/merge.json").read_text())
    assert merged["counts"]["bws_cctv"]["test"] > 0 and merged["pseudo_boxes"] > 0

    from pipeline.detectors.yolo_onnx import YoloOnnxDetector

    det = YoloOnnxDetector(onnx, conf_threshold=0.25, threads=1)
    assert det.input_size == (160, 160) and det.dynamic_batch
    assert det.names[0] == "person" and det.names[1] == "phone"
    img = cv2.imread(
        str(
            next(
                (data_dir / "train/ait_wallet_phone_airpod/detection-2/train/images").glob(
                    "opencv_frame_101_png.rf.*.jpg"
                )
            )
        )
    )
    outs = det.detect_batch([img, img[:, : img.shape[1] // 2]])
    assert len(outs) == 2
    assert "person" in outs[0].class_name.tolist()  # the person at the webcam (the head starts from COCO's)
    assert (outs[0].xyxy[:, 2] <= img.shape[1]).all() and (outs[0].xyxy[:, 3] <= img.shape[0]).all()
