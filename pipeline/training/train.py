"""Fine-tune an Ultralytics YOLO checkpoint on a merged dataset and export it to ONNX FP32.

The exported file carries the Ultralytics metadata (names, imgsz, stride) that
pipeline.detectors.yolo_onnx reads, with a dynamic batch so the phone cascade can send
all its crops in one call. A model card (Markdown) and a JSON of the figures are written
next to the weights.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.core.modelpath import models_dirs
from pipeline.training.deps import device as pick_device
from pipeline.training.deps import load_yolo, ultralytics

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_dir: Path
    best_pt: Path
    onnx: Path
    epochs: list[dict[str, float]] = field(default_factory=list)
    wall_s: float = 0.0
    device: str = "cpu"
    test: dict[str, Any] = field(default_factory=dict)


def _epoch_printer(echo):
    def on_fit_epoch_end(trainer) -> None:
        m = {k.split("/")[-1].replace("(B)", ""): round(float(v), 4) for k, v in (trainer.metrics or {}).items()}
        e = trainer.epoch + 1
        head = f"epoch {e}/{trainer.epochs}" if e <= trainer.epochs else "best.pt"
        echo(f"{head}: " + " ".join(f"{k}={v}" for k, v in m.items()))

    return on_fit_epoch_end


def read_results(run_dir: Path) -> list[dict[str, float]]:
    """Per-epoch figures from Ultralytics' results.csv (losses, precision, recall, mAP)."""
    import csv

    f = run_dir / "results.csv"
    if not f.is_file():
        return []
    rows = []
    with f.open(newline="") as fh:
        for r in csv.DictReader(fh):
            row = {}
            for k, v in r.items():
                k = (k or "").strip().replace("(B)", "").replace("metrics/", "")
                try:
                    row[k] = round(float(v), 4)
                except (TypeError, ValueError):
                    continue
            if "epoch" in row:
                row["epoch"] = int(row["epoch"])
            rows.append(row)
    return rows


def train(
    data_yaml: Path,
    checkpoint: str | Path,
    out_dir: Path,
    *,
    epochs: int = 10,
    imgsz: int = 320,
    batch: int = 16,
    device: str | None = None,
    workers: int = 2,
    seed: int = 0,
    patience: int = 50,
    name: str = "phone",
    fraction: float = 1.0,
    init_from: dict[str, int] | None = None,
    echo=print,
    extra: dict[str, Any] | None = None,
) -> TrainResult:
    """Train, keep best.pt, export ONNX FP32 (dynamic batch) to out_dir/<name>.onnx.

    init_from ({dataset class: checkpoint class id}, e.g. {"person": 0, "phone": 67}) starts those
    classes from the checkpoint's own head (see unfuse_checkpoint); the exported model then has the
    checkpoint's number of class slots, the dataset's classes first.
    """
    import yaml

    ultralytics()
    data_yaml = Path(data_yaml)
    if not data_yaml.is_file():
        raise ConfigError(f"dataset {data_yaml} not found")
    if not (32 <= imgsz <= 1280 and imgsz % 32 == 0):
        raise ConfigError(f"imgsz {imgsz}: expected a multiple of 32 between 32 and 1280")
    load_yolo(checkpoint)  # a clear error for a missing or bad checkpoint before anything else

    ck = Path(str(checkpoint))
    if not ck.is_file():
        ck = next(d / ck.name for d in models_dirs() if (d / ck.name).is_file())
    out_dir.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(data_yaml.read_text()) or {}
    names = data.get("names") or {}
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    if init_from:
        unknown = [c for c in init_from if c not in names]
        if unknown:
            raise ConfigError(f"init_from: class {unknown[0]!r} is not in {data_yaml} names {names}")
        keep = {int(init_from[c]): c for c in names if c in init_from}
        if len(keep) != len(names):
            raise ConfigError(f"init_from must give a checkpoint class for every class in {data_yaml}: {names}")
        ck = unfuse_checkpoint(ck, out_dir / "init.pt", keep, pad=True, calib_images=_calib(data, data_yaml))
    else:
        ck = unfuse_checkpoint(ck, out_dir / "init.pt", calib_images=_calib(data, data_yaml))
    if init_from:
        import torch  # lazy: the ultralytics extra

        slots = torch.load(str(ck), map_location="cpu", weights_only=False)["model"].names
        data = {**data, "names": {int(k): v for k, v in slots.items()}}
        data["path"] = str(Path(data.get("path") or data_yaml.parent).resolve())
        data_yaml = out_dir / "data_train.yaml"
        data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    model = load_yolo(ck)
    dev = device or pick_device()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.add_callback("on_fit_epoch_end", _epoch_printer(echo))
    t0 = time.perf_counter()
    echo(f"training {Path(str(checkpoint)).name} on {data_yaml} for {epochs} epochs at {imgsz} px on {dev}")
    model.train(
        data=str(data_yaml),
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        device=dev,
        workers=workers,
        seed=seed,
        deterministic=False,
        patience=patience,
        project=str(out_dir.resolve()),
        name="run",
        exist_ok=True,
        plots=False,
        verbose=False,
        amp=dev != "cpu",
        fraction=fraction,
        **(extra or {}),
    )
    wall = time.perf_counter() - t0
    run_dir = out_dir / "run"
    best = run_dir / "weights" / "best.pt"
    if not best.is_file():
        best = run_dir / "weights" / "last.pt"
    onnx = export_onnx(best, out_dir / f"{name}.onnx", imgsz)
    return TrainResult(run_dir=run_dir, best_pt=best, onnx=onnx, epochs=read_results(run_dir), wall_s=wall, device=dev)


def _calib(data: dict, data_yaml: Path, n: int = 64) -> list[Path]:
    """Up to n training images, spread over the list, to calibrate batch-norms."""
    root = Path(data.get("path") or data_yaml.parent)
    tr = Path(str(data.get("train", "images/train")))
    tr = tr if tr.is_absolute() else root / tr
    if tr.is_file():
        files = [Path(x) for x in tr.read_text().split()]
    else:
        files = sorted(p for p in tr.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    step = max(1, len(files) // n)
    return files[::step][:n]


def export_onnx(pt: Path, dest: Path, imgsz: int) -> Path:
    """ONNX FP32 with Ultralytics metadata and a dynamic batch (height and width fixed at imgsz)."""
    model = load_yolo(pt)
    path = Path(
        model.export(
            format="onnx",
            imgsz=imgsz,
            dynamic=True,
            simplify=False,
            opset=17,
            half=False,
            batch=1,
            device="cpu",
            verbose=False,
        )
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    if path.resolve() != dest.resolve():
        shutil.move(str(path), dest)
    return dest


def evaluate(pt_or_onnx: Path, data_yaml: Path, split: str = "test", imgsz: int = 320, conf: float = 0.001) -> dict:
    """Ultralytics box mAP/P/R on one split of the merged dataset (per class)."""
    model = load_yolo(pt_or_onnx, what="model")
    r = model.val(
        data=str(data_yaml), split=split, imgsz=imgsz, conf=conf, device="cpu", plots=False, verbose=False, batch=8
    )
    names = r.names
    out = {
        "split": split,
        "map50": round(float(r.box.map50), 4),
        "map50_95": round(float(r.box.map), 4),
        "per_class": {},
    }
    for i, c in enumerate(r.box.ap_class_index):
        p, rc, ap50, ap = r.box.class_result(i)
        out["per_class"][names[int(c)]] = {
            "precision": round(float(p), 4),
            "recall": round(float(rc), 4),
            "ap50": round(float(ap50), 4),
            "ap50_95": round(float(ap), 4),
        }
    return out


def write_card(path: Path, info: dict[str, Any]) -> None:
    """The model card: what it is, data and licences, class map, training, figures."""
    lines = [f"# {info.get('title', path.stem)}", ""]
    for sec, body in info.get("sections", []):
        lines += [f"## {sec}", "", body.rstrip(), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    (path.with_suffix(".json")).write_text(json.dumps(info.get("figures", {}), indent=1, ensure_ascii=False))


def _conv_stats(model, images: list[Path], imgsz: int = 320) -> dict[str, tuple]:
    """Per-channel mean and variance of each fused convolution's output (before its bias) on real images."""
    import cv2
    import numpy as np
    import torch  # lazy: the ultralytics extra

    sums: dict[str, list] = {}
    hooks = []
    for name, mod in model.named_modules():
        conv = getattr(mod, "conv", None)
        if isinstance(conv, torch.nn.Conv2d) and conv.bias is not None and not hasattr(mod, "bn"):
            def hook(_m, _inp, out, name=name, bias=conv.bias):
                x = (out - bias.view(1, -1, 1, 1)).double()
                acc = sums.setdefault(name, [0.0, 0.0, 0])
                acc[0] = acc[0] + x.sum(dim=(0, 2, 3))
                acc[1] = acc[1] + (x * x).sum(dim=(0, 2, 3))
                acc[2] += x.numel() // x.shape[1]

            hooks.append(conv.register_forward_hook(hook))
    batch = []
    for p in images:
        im = cv2.imread(str(p))
        if im is not None:
            im = cv2.cvtColor(cv2.resize(im, (imgsz, imgsz)), cv2.COLOR_BGR2RGB)
            batch.append(torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1))).float() / 255.0)
    model.eval()
    with torch.no_grad():
        for i in range(0, len(batch), 8):
            model(torch.stack(batch[i : i + 8]))
    for h in hooks:
        h.remove()
    out = {}
    for name, (s1, s2, n) in sums.items():
        mean = s1 / n
        out[name] = (mean.float(), (s2 / n - mean * mean).clamp(min=1e-6).float())
    return out


def unfuse_checkpoint(pt: Path, dest: Path, keep_classes: dict[int, str] | None = None, *, pad: bool = False,
                      calib_images: list[Path] | None = None) -> Path:
    """A trainable copy of a checkpoint whose Conv+BatchNorm pairs were fused (conv has a bias, no bn).

    Ultralytics rebuilds the model un-fused before training and copies weights by name, so a fused
    checkpoint would lose every convolution bias. Here each fused conv goes back into a Conv+BN pair
    with a batch-norm that gives back the same function. An identity batch-norm would not do: in
    training a batch-norm normalises by the batch's own statistics, which would wreck the fused
    network from the first step. So each batch-norm is calibrated on real images (calib_images):
    running mean/var = the statistics of the conv's output, weight = its standard deviation, bias =
    its mean plus the fused bias. In eval mode that is exactly the fused function; in training it
    starts from it.

    keep_classes ({source class id: new name}, in the new order) also cuts the classification
    head down to those classes, so fine-tuning starts from what the COCO model already knows
    about, e.g., `person` and `cell phone` instead of from a random head. YOLO11's class branches
    are max(channels, nc) wide, so with few classes they would not fit: `pad` keeps all the
    checkpoint's class slots (the kept classes first, the rest named `unusedN`, which training
    teaches to stay silent) so that the whole head carries over.
    """
    import torch  # lazy: the ultralytics extra
    from ultralytics.nn.modules import Conv
    from ultralytics.nn.tasks import DetectionModel

    ck = torch.load(str(pt), map_location="cpu", weights_only=False)
    src = (ck.get("ema") or ck.get("model")) if isinstance(ck, dict) else None
    if src is None:
        raise ConfigError(f"checkpoint {pt}: no model inside (expected an Ultralytics .pt file)")
    sd = {k: v.float() for k, v in src.state_dict().items()}
    fused = not any(".bn." in k for k in sd)
    if not fused and not keep_classes:
        return pt
    cfg = dict(src.yaml)
    nc0 = int(cfg.get("nc", 80))
    if keep_classes and pad:
        rest = [i for i in range(nc0) if i not in keep_classes]
        keep_classes = {**keep_classes, **{i: f"unused{j}" for j, i in enumerate(rest, len(keep_classes))}}
    nc = len(keep_classes) if keep_classes else nc0
    cfg["nc"] = nc
    if keep_classes:
        rows = torch.tensor(list(keep_classes), dtype=torch.long)
        for k in list(sd):
            if ".cv3." in k and k.rsplit(".", 2)[-2] == "2" and sd[k].shape[0] == int(src.yaml.get("nc", 80)):
                sd[k] = sd[k][rows].clone()  # the last 1x1 conv of each class branch: one row per class
    stats = _conv_stats(src.float(), calib_images or []) if fused and calib_images else {}
    if fused and not stats:
        log.warning("%s: fused checkpoint without calibration images: batch-norms start as identities", pt.name)
    fresh = DetectionModel(cfg=cfg, nc=nc, verbose=False).float()
    new_sd = fresh.state_dict()
    used = set()
    for name, mod in fresh.named_modules():
        if fused and isinstance(mod, Conv) and hasattr(mod, "bn"):
            w, b = sd.get(f"{name}.conv.weight"), sd.get(f"{name}.conv.bias")
            if w is None or w.shape != mod.conv.weight.shape:
                continue
            eps = mod.bn.eps
            b = b if b is not None else torch.zeros_like(mod.bn.bias)
            mean, var = stats.get(name, (torch.zeros_like(b), torch.full_like(b, 1.0 - eps)))
            new_sd[f"{name}.conv.weight"] = w
            new_sd[f"{name}.bn.weight"] = torch.sqrt(var + eps)
            new_sd[f"{name}.bn.bias"] = mean + b
            new_sd[f"{name}.bn.running_mean"] = mean
            new_sd[f"{name}.bn.running_var"] = var
            used |= {f"{name}.conv.weight", f"{name}.conv.bias"}
    for k, v in sd.items():
        if k not in used and k in new_sd and new_sd[k].shape == v.shape:
            new_sd[k] = v
            used.add(k)
    missing = [k for k in sd if k not in used]
    if keep_classes:  # YOLO11's class branches are as wide as max(channels, nc): fewer classes, narrower branch
        dropped = [k for k in missing if ".cv3." in k]
        if dropped:
            log.info(
                "%s: %d class-branch tensors do not fit %d classes; they are learned afresh", pt.name, len(dropped), nc
            )
        missing = [k for k in missing if ".cv3." not in k]
    if missing:
        raise ConfigError(f"checkpoint {pt}: {len(missing)} tensors did not map onto the model (first: {missing[0]})")
    fresh.load_state_dict(new_sd)
    fresh.names = (
        dict(enumerate(keep_classes.values())) if keep_classes else (getattr(src, "names", None) or fresh.names)
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "model": fresh,
            "train_args": ck.get("train_args", {}),
            "date": ck.get("date"),
            "version": ck.get("version"),
            "license": ck.get("license"),
            "docs": ck.get("docs"),
        },
        str(dest),
    )
    return dest
