"""Rectangular input for a static square YOLO export: no CPU spent on letterbox padding.

A 16:9 frame letterboxed into a 640x640 model fills 640x360 of it; 44 % of every
inference runs on grey padding. Ultralytics' own predictor avoids this by running
at a rectangle rounded up to the stride (640x384 for 16:9). A static ONNX export
cannot change its input, but its shapes live in a handful of constants of the
detection head: the anchor grid, the stride of each anchor, and the reshapes that
carry the anchor count. `rect_model` rewrites those for a rectangle and returns the
new model as bytes for onnxruntime; the weights are untouched, so a box inside the
frame is found by the same network at the same scale.

The rewrite is refused (None, and the caller keeps the square model) unless the graph
holds exactly the anchor grid and strides that Ultralytics builds for the square
input, so an unfamiliar head is never half-rewritten. The caller also runs the new
model once and keeps the square one if that fails: YOLO11's attention block reshapes
its last feature map with sizes of its own, so YOLO11 exports stay square (YOLOv8
exports, the default detector among them, give the same boxes at the rectangle).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

STRIDES = (8, 16, 32)


def rect_size(frame_hw: tuple[int, int], square: int, stride: int = STRIDES[-1]) -> tuple[int, int]:
    """The input (h, w) a frame of `frame_hw` needs: its longer side at `square`, the other rounded up to `stride`."""
    h, w = frame_hw
    if h <= 0 or w <= 0:
        raise ValueError(f"frame size must be positive, got {frame_hw}")
    if w >= h:
        return min(square, math.ceil(square * h / w / stride) * stride), square
    return square, min(square, math.ceil(square * w / h / stride) * stride)


def anchor_grid(hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Anchor centres (2, N) in grid units and the stride of each anchor (N,), in Ultralytics' order."""
    points, stride_of = [], []
    for s in strides:
        gh, gw = hw[0] // s, hw[1] // s
        sy, sx = np.meshgrid(np.arange(gh, dtype=np.float32) + 0.5, np.arange(gw, dtype=np.float32) + 0.5,
                             indexing="ij")
        points.append(np.stack([sx.ravel(), sy.ravel()]))
        stride_of.append(np.full(gh * gw, s, np.float32))
    return np.concatenate(points, axis=1), np.concatenate(stride_of)


def rect_model(path: Path, square: int, hw: tuple[int, int]) -> bytes | None:
    """The model of `path` (static [1, 3, square, square]) rewritten for input (1, 3, *hw), or None."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        log.info("%s: the onnx package is missing, so frames run at the square input (pip install onnx)", path.name)
        return None
    if hw[0] % STRIDES[-1] or hw[1] % STRIDES[-1]:
        return None
    model = onnx.load(str(path))
    graph = model.graph
    if len(graph.input) != 1 or [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] != [1, 3, square,
                                                                                                      square]:
        return None
    n_old = int(sum((square // s) ** 2 for s in STRIDES))
    anchors_old, strides_old = anchor_grid((square, square))
    anchors_new, strides_new = anchor_grid(hw)
    n_new = anchors_new.shape[1]

    def rewrite(arr: np.ndarray) -> tuple[str, np.ndarray] | None:
        """(what it is, its new value) for one constant, or None when it holds no anchor count."""
        if arr.dtype.kind == "f" and arr.size == 2 * n_old and arr.shape[-1] == n_old:
            if np.array_equal(arr.reshape(2, n_old), anchors_old):
                return "anchors", anchors_new.reshape(*arr.shape[:-1], n_new).astype(arr.dtype)
            raise _Unfamiliar("an anchor-sized constant that is not the anchor grid")
        if arr.dtype.kind == "f" and arr.size == n_old and arr.shape[-1] == n_old:
            if np.array_equal(arr.reshape(n_old), strides_old):
                return "strides", strides_new.reshape(*arr.shape[:-1], n_new).astype(arr.dtype)
            raise _Unfamiliar("an anchor-sized constant that is not the stride table")
        if arr.dtype.kind == "i" and arr.ndim == 1 and n_old in arr.tolist():
            return "shape", np.where(arr == n_old, n_new, arr).astype(arr.dtype)
        if arr.size and n_old in arr.shape:
            raise _Unfamiliar(f"a constant of shape {list(arr.shape)}")
        return None

    tensors = [attr.t for node in graph.node if node.op_type == "Constant"
               for attr in node.attribute if attr.name == "value"] + list(graph.initializer)
    found: set[str] = set()
    try:
        for tensor in tensors:
            got = rewrite(numpy_helper.to_array(tensor))
            if got is not None:
                found.add(got[0])
                tensor.CopyFrom(numpy_helper.from_array(got[1], tensor.name))
    except _Unfamiliar as exc:
        log.info("%s: head not rewritten for %s (%s); frames run at the square input", path.name, hw, exc)
        return None
    if not {"anchors", "strides"} <= found:
        return None
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = hw
    for out in graph.output:  # the anchor count of the output changes; let onnxruntime infer it
        for d in out.type.tensor_type.shape.dim:
            if d.dim_value == n_old:
                d.dim_value = n_new
    del graph.value_info[:]
    return model.SerializeToString()


class _Unfamiliar(Exception):
    pass

