"""Gradient checks (float64, torch.autograd.gradcheck) of every differentiable layer case, with
respect to the inputs and the layer weights."""

from __future__ import annotations

import pytest
import torch
from tests.eddl.layer_cases import LAYER_CASES, make_inputs

from deephealth.eddl.model import Model

# cases whose output is not a differentiable function of their float inputs
NOT_DIFFERENTIABLE = {"Embedding", "Embedding-trailing1", "Embedding-LSTM"}


@pytest.mark.parametrize("builder", LAYER_CASES)
def test_gradcheck(builder, request):
    case = request.node.callspec.id
    if case in NOT_DIFFERENTIABLE:
        pytest.skip("index input")
    inputs, out = builder()
    net = Model(inputs, [out])
    graph = net.graph.double().eval()
    xs = [x.double().requires_grad_() for x in make_inputs(inputs, out, batch=2, seed=1)]
    weights = list(graph.parameters())
    # gradcheck over inputs, then over weights through torch.func.functional_call
    assert torch.autograd.gradcheck(lambda *a: graph(*a)[0], xs, eps=1e-6, atol=1e-5)
    if weights:
        names = [k for k, _ in graph.named_parameters()]
        ws = [w.detach().clone().requires_grad_() for w in weights]
        xs_fixed = [x.detach() for x in xs]

        def by_weights(*wv):
            return torch.func.functional_call(graph, dict(zip(names, wv)), tuple(xs_fixed))[0]

        assert torch.autograd.gradcheck(by_weights, ws, eps=1e-6, atol=1e-5)
