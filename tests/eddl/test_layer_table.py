"""The layer table and the shared layer cases: every kind has a case, every case builds, infers the
shape its module really produces, and can be re-created from plain (kind, params)."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from tests.eddl.layer_cases import LAYER_CASES, make_inputs

import deephealth.eddl  # noqa: F401 (fills the layer table)
from deephealth.eddl.layers.base import LAYER_TYPES, Layer
from deephealth.eddl.model import Model, topological_order


def _kinds_in_cases() -> set[str]:
    kinds = set()
    for param in LAYER_CASES:
        inputs, out = param.values[0]()
        kinds |= {layer.kind for layer in topological_order(inputs, [out])}
    return kinds


def test_every_registered_kind_has_a_case():
    missing = sorted(set(LAYER_TYPES) - _kinds_in_cases())
    assert not missing, f"layer kinds without a case in layer_cases.py: {missing}"


def test_case_ids_are_unique():
    ids = [p.id for p in LAYER_CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("builder", LAYER_CASES)
def test_case_shapes_and_plain_params(builder):
    inputs, out = builder()
    net = Model(inputs, [out])
    net.graph.eval()
    xs = make_inputs(inputs, out, batch=3)
    with torch.no_grad():
        got = net.graph(*xs)[0]
    assert tuple(got.shape) == (3, *out.output_shape)
    assert torch.isfinite(got).all()
    net.graph.train()  # random layers act in training mode; the shape must not change
    with torch.no_grad():
        assert tuple(net.graph(*xs)[0].shape) == (3, *out.output_shape)
    # every layer re-created from JSON (kind, params) gets the same shape and parameter count
    for layer in net.layers:
        params = json.loads(json.dumps(layer.params))
        assert params == layer.params
        if layer.kind == "Input":
            continue
        twin = Layer(layer.kind, layer.parents, params)
        assert twin.output_shape == layer.output_shape
        assert twin.num_parameters() == layer.num_parameters()


@pytest.mark.parametrize("builder", LAYER_CASES)
def test_case_graph_pickles_and_copies(builder):
    """Whole modules survive pickling (checkpoints, worker processes) and compute the same."""
    inputs, out = builder()
    graph = Model(inputs, [out]).graph.eval()
    xs = make_inputs(inputs, out, batch=2)
    clone = pickle.loads(pickle.dumps(graph))
    with torch.no_grad():
        torch.testing.assert_close(clone(*xs)[0], graph(*xs)[0])
