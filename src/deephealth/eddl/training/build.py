"""`build`, `toCPU`/`toGPU` and `setlr`: prepare a `Model` to train on a computing service.

`build(net, o, lo, me, cs, init_weights)` follows pyeddl: one loss per output, one metric (or a
list of metrics, an extension) per output, optionally initializing every layer's weights with its
initializer (GlorotUniform by default). Where an output is a softmax/sigmoid `Activation` and its
loss knows that activation, training computes the loss from the pre-activation values (same value,
stable numerics); predictions still come out of the activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from deephealth.eddl.computing import CS_CPU, CS_GPU, ComputingService
from deephealth.eddl.layers.init import initialize_layer
from deephealth.eddl.model import set_builder
from deephealth.eddl.training.losses import Loss, as_loss
from deephealth.eddl.training.metrics import Metric, as_metric
from deephealth.eddl.training.optimizers import OptimizerSpec, as_optimizer
from deephealth.eddl.training.state import TrainState, get_state
from deephealth.eddl.training.strategy import DataParallelStrategy, Strategy, default_strategy

if TYPE_CHECKING:
    from deephealth.eddl.layers.base import Layer
    from deephealth.eddl.model import Model


def initialize(layer: Layer) -> None:
    """(Re)initialize one layer's weights with its initializer (GlorotUniform by default)."""
    initialize_layer(layer)


def build(
    net: Model,
    o: OptimizerSpec | str | None = None,
    lo: Sequence[str | Loss | Any] | None = None,
    me: Sequence[str | Metric | Any] | None = None,
    cs: ComputingService | None = None,
    init_weights: bool = True,
    strategy: Strategy | None = None,
) -> None:
    """Attach optimizer, losses, metrics and computing service to `net` (pyeddl's build).

    Args:
        net: The model.
        o: Optimizer (`sgd(...)`, `adam(...)`, ... or a name).
        lo: One loss per output (names, `Loss` objects or callables); [] for newloss workflows.
        me: One metric per output (a name, `Metric`, callable, or a list of them).
        cs: Computing service (default `CS_CPU()`, or the one set by `toGPU`/`toCPU`).
        init_weights: Initialize every layer's weights; False keeps the current ones.
        strategy: Distributed-training hooks (default: one process; several GPUs: data-parallel).

    Raises:
        ValueError: loss/metric counts that do not match the outputs, unknown names.
        DeviceError: a GPU service on a machine without the GPU.
    """
    if (lo is None) != (me is None):
        raise ValueError("build: lo (losses) and me (metrics) must be both given or both None")
    spec = as_optimizer(o)
    n_out = len(net.outputs)
    losses = [as_loss(x) for x in (lo or [])]
    if losses and len(losses) != n_out:
        raise ValueError(
            f"build: model '{net.name}' has {n_out} output(s) "
            f"{[l.name for l in net.outputs]} but {len(losses)} loss(es) were given"
        )
    me = list(me or [])
    if me and len(me) != n_out:
        raise ValueError(
            f"build: model '{net.name}' has {n_out} output(s) but {len(me)} metric entries were given"
        )
    metrics: list[tuple[int, Metric]] = []
    for i, entry in enumerate(me):
        for m in entry if isinstance(entry, (list, tuple)) else [entry]:
            metrics.append((i, as_metric(m)))
    cs = cs or net.cs or CS_CPU()
    devices = cs.devices()
    device = devices[0]
    strategy, device = default_strategy(cs, device, strategy)
    if init_weights:
        for layer in net.layers:
            initialize(layer)
    graph = net.compile().to(device)
    fused = [_fusable(out, loss) for out, loss in zip(net.outputs, losses)] or [None] * n_out
    train_graph = graph
    if any(fused):
        outs = [out.parents[0] if f else out for out, f in zip(net.outputs, fused)]
        train_graph = type(net)(net.inputs, outs, name=f"{net.name}_train").graph.to(device)
    if cs.channels_last:
        graph.to(memory_format=torch.channels_last)
    optimizer = spec.make(graph.parameters()) if spec is not None else None
    scaler = None
    if cs.precision == "fp16" and device.type == "cuda":
        scaler = torch.amp.GradScaler("cuda")
    strategy = strategy or (DataParallelStrategy(devices) if len(devices) > 1 else Strategy())
    state = TrainState(
        net=net,
        spec=spec,
        optimizer=optimizer,
        losses=losses,
        metrics=metrics,
        cs=cs,
        device=device,
        graph=graph,
        train_graph=train_graph,
        fused=fused,
        strategy=strategy,
        reg_layers=[layer for layer in net.layers if layer.regularizer is not None],
        scaler=scaler,
    )
    strategy.setup(state)
    if cs.compile:
        state.train_graph = cast(nn.Module, torch.compile(state.train_graph))
        state.graph = cast(nn.Module, torch.compile(state.graph))
    _apply_trainable(net)
    old = net.train_state
    if old is not None:
        state.log_callbacks = old.log_callbacks
    net.train_state = state
    net.cs = cs
    state.set_mode(1)


def _fusable(out: Layer, loss: Loss) -> tuple[str, int] | None:
    act = getattr(loss, "fused_act", None)
    if act is None or out.kind != "Activation" or out.params.get("act") != act:
        return None
    if getattr(loss, "logits_fn", True) is None or not out.parents:
        return None
    axis = int(out.params["params"][0]) if act == "softmax" else -1
    return act, axis + 1 if axis >= 0 else axis


def _apply_trainable(net: Model) -> None:
    for layer in net.layers:
        if layer.module is not None:
            for p in layer.module.parameters():
                p.requires_grad_(bool(layer.trainable))


def rebuild(net: Model, cs: ComputingService | None = None) -> None:
    """Build again with the same optimizer/losses/metrics, keeping weights and optimizer state."""
    st = get_state(net)
    opt_state = st.optimizer.state_dict() if st.optimizer is not None else None
    by_output: list[list[Metric]] = [[] for _ in net.outputs]
    for i, m in st.metrics:
        by_output[i].append(m)
    build(
        net,
        st.spec,
        st.losses,
        by_output if st.metrics else [],
        cs or st.cs,
        init_weights=False,
        strategy=st.strategy if not isinstance(st.strategy, DataParallelStrategy) else None,
    )
    new = get_state(net)
    new.history = st.history
    if opt_state is not None and new.optimizer is not None:
        new.optimizer.load_state_dict(opt_state)  # casts the state to the new device


def toCPU(net: Model, th: int = -1) -> None:
    """Move a network (weights and optimizer state) to the CPU with `th` threads."""
    cs = CS_CPU(th)
    if net.train_state is None:
        net.cs = cs
        return
    rebuild(net, cs)


def toGPU(net: Model, g: Sequence[int] = (1,), lsb: int = 1, mem: str = "full_mem") -> None:
    """Move a network to the GPUs selected by `g` (raises `DeviceError` when there is none)."""
    cs = CS_GPU(g, lsb, mem)
    cs.devices()  # fail early, before touching the network
    if net.train_state is None:
        net.cs = cs
        return
    rebuild(net, cs)


def setlr(net: Model, p: Sequence[float]) -> None:
    """Change the learning rate (and, positionally, further hyperparameters) of the optimizer."""
    st = get_state(net)
    if st.spec is None:
        raise ValueError(f"setlr: model '{net.name}' was built without an optimizer")
    if isinstance(p, (int, float)):
        p = [p]
    st.spec.set(list(p), st.optimizer)


set_builder(build)
