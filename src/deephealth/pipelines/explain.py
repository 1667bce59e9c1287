"""Explanations of classification predictions: Grad-CAM, integrated gradients and occlusion.

The attributions are computed with Captum on the torch module of the EDDL network (an ONNX file is
imported with `deephealth.eddl.import_net_from_onnx_file`; a final softmax becomes a log-softmax,
so the explained score is the class log-probability). Each method returns a heat map of the
input's height and width scaled to [0, 1] (1 = most evidence for the explained class);
`heat_overlay` draws it over the image. `randomized_copy` re-draws every weight, for the
model-randomisation sanity check of Adebayo et al. (2018): a faithful map must change.
Captum is an optional dependency (the `explain` extra).
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from deephealth.errors import PipelineError

METHODS = ("gradcam", "integrated_gradients", "occlusion")
_cache: dict[str, tuple[float, nn.Module, nn.Module | None]] = {}
_lock = threading.Lock()
# one lock per module: Captum attaches hooks to the module itself, so two threads explaining with
# the same (cached) module would read each other's activations and gradients
_module_locks: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()


def _lock_of(module: nn.Module) -> threading.Lock:
    with _lock:
        lock = _module_locks.get(module)
        if lock is None:
            lock = _module_locks[module] = threading.Lock()
        return lock


class ExplainError(PipelineError, ValueError):
    """An explanation cannot be computed for this model or method (message says why)."""


def _captum() -> Any:
    try:
        import captum.attr as attr
    except ImportError:  # pragma: no cover - the extra is part of `all`
        raise ExplainError("explanations need Captum: pip install 'deephealth[explain]'") from None
    return attr


class _Scores(nn.Module):
    """The first output of a graph module, flattened to (N, classes); log-softmax of it when
    the network ended in a softmax (its class scores then contrast the classes)."""

    def __init__(self, graph: nn.Module, log_softmax: bool) -> None:
        super().__init__()
        self.graph = graph
        self.log_softmax = log_softmax

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.graph(x)[0]
        out = out.reshape(out.shape[0], -1)
        return torch.log_softmax(out, dim=1) if self.log_softmax else out


def scores_module(net: Any) -> tuple[nn.Module, nn.Module | None]:
    """The class-score module of an EDDL `Model` and its last spatial layer's module (the
    Grad-CAM layer; None when the network has no 2D feature map). A final softmax is replaced
    by a log-softmax: the explained score is the log-probability, whose gradient weighs the
    evidence for a class against the others (the raw logit of one class need not)."""
    from deephealth.eddl.model import Model

    out = net.outputs[0]
    softmax = out.kind == "Activation" and out.params.get("act") == "softmax" and out.parents
    if softmax:
        net = Model(net.inputs, [out.parents[0]])
    target = None
    for layer in net.layers:
        shape = tuple(layer.output_shape)
        if layer.module is not None and len(shape) == 3 and shape[1] > 1 and shape[2] > 1:
            target = layer.module
    module = _Scores(net.graph, bool(softmax)).eval()
    return module, target


def load_model(onnx_path: str | Path) -> tuple[nn.Module, nn.Module | None]:
    """`scores_module` of an ONNX file imported into EDDL (cached; reloaded when the file
    changes)."""
    from deephealth.eddl.onnx import OnnxError, import_net_from_onnx_file

    key = str(Path(onnx_path).resolve())
    mtime = Path(key).stat().st_mtime
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == mtime:
            return hit[1], hit[2]
    try:
        net = import_net_from_onnx_file(key)
    except OnnxError as err:
        raise ExplainError(f"cannot import {Path(key).name} into EDDL: {err}") from None
    module, layer = scores_module(net)
    with _lock:
        _cache[key] = (mtime, module, layer)
    return module, layer


def _normalize(heat: np.ndarray) -> np.ndarray:
    heat = np.nan_to_num(heat.astype(np.float64))
    hi = float(heat.max())
    return (heat / hi if hi > 0 else np.zeros_like(heat)).astype(np.float32)


def _gradcam(module: nn.Module, layer: nn.Module | None, x: torch.Tensor, target: int) -> Any:
    attr = _captum()
    if layer is None:
        raise ExplainError("Grad-CAM needs a network with a 2D feature map (a convolution)")
    cam = attr.LayerGradCam(module, layer).attribute(x, target=target, relu_attributions=True)
    return attr.LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), "bilinear")


def _integrated_gradients(
    module: nn.Module, _layer: nn.Module | None, x: torch.Tensor, target: int
) -> Any:
    ig = _captum().IntegratedGradients(module)
    return ig.attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=32).abs()


def _occlusion(module: nn.Module, _layer: nn.Module | None, x: torch.Tensor, target: int) -> Any:
    h, w = x.shape[-2:]
    win = max(2, min(h, w) // 8)
    stride = max(1, win // 2)
    occ = _captum().Occlusion(module)
    a = occ.attribute(
        x,
        target=target,
        sliding_window_shapes=(x.shape[1], win, win),
        strides=(x.shape[1], stride, stride),
        baselines=0.0,
        perturbations_per_eval=64,
    )
    return a.clamp(min=0)


_METHODS: dict[str, Callable[..., Any]] = {
    "gradcam": _gradcam,
    "integrated_gradients": _integrated_gradients,
    "occlusion": _occlusion,
}


def explain(
    module: nn.Module,
    layer: nn.Module | None,
    x: np.ndarray,
    method: str = "gradcam",
    target: int | None = None,
) -> tuple[np.ndarray, int]:
    """The heat map of one sample (thread-safe: calls with the same module run one at a time).

    Args:
        module: Class-score module (see `scores_module` / `load_model`).
        layer: Its Grad-CAM layer.
        x: One preprocessed sample (C, H, W), as the network takes it.
        method: One of `METHODS`.
        target: The class to explain (default: the predicted one).

    Returns:
        The (H, W) map in [0, 1] and the explained class index.

    Raises:
        ExplainError: unknown method, or a network the method cannot explain.
    """
    if method not in _METHODS:
        raise ExplainError(f"unknown explanation method {method!r}; choose one of {METHODS}")
    if x.ndim != 3:
        raise ExplainError(f"explanations are for 2D images (C, H, W), got shape {x.shape}")
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    t = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device)[None]
    with _lock_of(module):  # one explanation at a time per module (Captum hooks the module)
        with torch.no_grad():
            scores = module(t)
        if target is None:
            target = int(scores[0].argmax())
        if not 0 <= target < scores.shape[1]:
            raise ExplainError(
                f"class index {target} outside the model's {scores.shape[1]} classes"
            )
        with torch.enable_grad():
            a = _METHODS[method](module, layer, t.clone().requires_grad_(True), target)
    heat = a.detach()[0].sum(dim=0).cpu().numpy()
    return _normalize(heat), target


def randomized_copy(
    module: nn.Module, layer: nn.Module | None, seed: int = 0
) -> tuple[nn.Module, nn.Module | None]:
    """A copy of `module` (and the matching Grad-CAM layer) with every parameter re-drawn from
    a zero-mean normal distribution of the same spread: the model-randomisation sanity test."""
    memo: dict[int, Any] = {}
    clone = copy.deepcopy(module, memo)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in clone.parameters():
            std = float(p.std()) if p.numel() > 1 else 1.0
            p.copy_(torch.randn(p.shape, generator=gen) * (std or 1.0))
    return clone, (memo.get(id(layer)) if layer is not None else None)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (0 when one is constant)."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a.ravel(), b.ravel())[0])


def heat_overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """An RGB uint8 image with `heat` ((h, w) in [0, 1], resized to fit) drawn over it in the
    jet colour map; `image` is (H, W) or (H, W, 3) uint8."""
    rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
    rgb = rgb[:, :, :3].astype(np.uint8)
    h, w = rgb.shape[:2]
    heat = cv2.resize(heat.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    colored = cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)[
        :, :, ::-1
    ]
    weight = (alpha * np.clip(heat, 0, 1))[:, :, None]
    out: np.ndarray = (rgb * (1 - weight) + colored * weight).astype(np.uint8)
    return out


def explain_cases(
    net: Any, cases: list[dict[str, Any]], method: str = "gradcam"
) -> list[dict[str, Any]]:
    """Add a heat map (`heat`) and a display image (`image`) to the classification report cases
    of `cases` (those with an `input`), explaining their predicted class with `net` (an EDDL
    Model). Other cases pass unchanged; without Captum, or for a network the method cannot
    explain (e.g. 3D inputs), the classification cases are dropped."""
    todo = [c for c in cases if c.get("kind") == "classification"]
    rest = [c for c in cases if c.get("kind") != "classification"]
    if not todo:
        return cases
    try:
        _captum()
        module, layer = scores_module(net)
        out = []
        for case in todo:
            x = np.asarray(case.pop("input"))
            heat, _ = explain(module, layer, x, method, case["class_index"])
            img = x.mean(axis=0)
            lo, hi = float(img.min()), float(img.max())
            case["image"] = ((img - lo) / (hi - lo) if hi > lo else img * 0).astype(np.float32)
            case["heat"] = heat
            case["method"] = method
            out.append(case)
    except (ExplainError, RuntimeError, ValueError):  # the report goes on without them
        return rest
    return rest + sorted(out, key=lambda c: (c["true"], not c["correct"]))
