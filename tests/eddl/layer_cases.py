"""Shared layer cases: a tiny graph around each layer kind and each important option.

`LAYER_CASES` is a list of `pytest.param(builder, id=...)`; a builder takes no argument and returns
`(input_layers, output_layer)`. Every kind of `LAYER_TYPES` appears in at least one case
(`tests/eddl/test_layer_table.py` checks it). `make_inputs` draws input data that suits the graph
(valid indices for Embedding, positive values for Log/Sqrt/Pow). Random layers (Dropout,
GaussianNoise, Random*) are deterministic in eval mode, so parity tests run with `model.eval()`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.model import topological_order

Builder = Callable[[], tuple[list[Layer], Layer]]


def _one(shape: list[int], fn: Callable[[Layer], Layer]) -> Builder:
    def build() -> tuple[list[Layer], Layer]:
        x = eddl.Input(shape)
        return [x], fn(x)

    return build


def _two(a: list[int], b: list[int], fn: Callable[[Layer, Layer], Layer]) -> Builder:
    def build() -> tuple[list[Layer], Layer]:
        x, y = eddl.Input(a), eddl.Input(b)
        return [x, y], fn(x, y)

    return build


def _attention_qkv() -> tuple[list[Layer], Layer]:
    q, k, v = eddl.Input([3, 4]), eddl.Input([6, 5]), eddl.Input([6, 7])
    return [q, k, v], eddl.MultiHeadAttention(q, k, v, num_heads=3, embed_dim=6, causal=True)


def _case(case_id: str, builder: Builder) -> object:
    return pytest.param(builder, id=case_id)


IMG = [3, 8, 8]
E = eddl

LAYER_CASES = [
    # core
    _case("Dense", _one([5], lambda x: E.Dense(x, 4))),
    _case("Dense-nobias-3d", _one([2, 3, 5], lambda x: E.Dense(x, 4, use_bias=False))),
    _case("Activation-relu", _one([6], lambda x: E.ReLu(x))),
    _case("Activation-softmax-axis0", _one([4, 3], lambda x: E.Softmax(x, axis=0))),
    _case("Activation-leaky", _one([6], lambda x: E.LeakyReLu(x, 0.2))),
    _case("Dropout", _one([6], lambda x: E.Dropout(x, 0.5))),
    _case("Dropout-noiw", _one([6], lambda x: E.Dropout(x, 0.3, iw=False))),
    _case("GaussianNoise", _one([6], lambda x: E.GaussianNoise(x, 0.1))),
    _case("Flatten", _one(IMG, lambda x: E.Flatten(x))),
    _case("Reshape", _one([12], lambda x: E.Reshape(x, [3, -1]))),
    _case("Permute", _one([2, 3, 4], lambda x: E.Permute(x, [2, 0, 1]))),
    _case("Squeeze-all", _one([1, 3, 1], lambda x: E.Squeeze(x))),
    _case("Squeeze-axis", _one([1, 3, 1], lambda x: E.Squeeze(x, 2))),
    _case("Unsqueeze", _one([3, 4], lambda x: E.Unsqueeze(x, 1))),
    _case("Select", _one([4, 5, 6], lambda x: E.Select(x, ["1:3", ":", "2"]))),
    _case("Slice-negative", _one([6, 5], lambda x: E.Slice(x, ["-3:", "0:2"]))),
    _case("Split-concat", _one([6, 4], lambda x: E.Concat(E.Split(x, [2, 3], axis=0)[::-1]))),
    _case("Transpose", _one([3, 5], lambda x: E.Transpose(x))),
    _case("Embedding", _one([5], lambda x: E.Embedding(x, 10, 5, 4))),
    _case("Embedding-trailing1", _one([5, 1], lambda x: E.Embedding(x, 10, 5, 4))),
    _case("Pad-2", _one(IMG, lambda x: E.Pad(x, [1, 2]))),
    _case("Pad-4-constant", _one(IMG, lambda x: E.Pad(x, [1, 0, 2, 3], constant=0.5))),
    _case("UpSampling2D-nearest", _one(IMG, lambda x: E.UpSampling2D(x, [2, 2]))),
    _case("UpSampling2D-bilinear", _one(IMG, lambda x: E.UpSampling2D(x, [2, 3], "bilinear"))),
    _case("UpSampling3D-nearest", _one([2, 3, 4, 4], lambda x: E.UpSampling3D(x, [6, 8, 8]))),
    _case(
        "UpSampling3D-trilinear",
        _one([2, 3, 4, 4], lambda x: E.UpSampling3D(x, [6, 8, 8], interpolation="trilinear")),
    ),
    _case("Resize-down", _one(IMG, lambda x: E.Resize(x, [5, 6]))),
    _case("Resize-noreshape", _one(IMG, lambda x: E.Resize(x, [4, 12], reshape=False))),
    _case(
        "Resize-halfpixel",
        _one(IMG, lambda x: E.Resize(x, [12, 12], coordinate_transformation_mode="half_pixel")),
    ),
    # convolution
    _case("Conv1D-same", _one([3, 10], lambda x: E.Conv1D(x, 4, [3]))),
    _case("Conv1D-valid-stride2", _one([3, 11], lambda x: E.Conv1D(x, 4, [3], [2], "valid"))),
    _case("Conv2D-same", _one(IMG, lambda x: E.Conv2D(x, 4, [3, 3]))),
    _case("Conv2D-same-stride2", _one(IMG, lambda x: E.Conv2D(x, 4, [3, 3], [2, 2]))),
    _case("Conv2D-same-even-kernel", _one(IMG, lambda x: E.Conv2D(x, 4, [4, 2]))),
    _case("Conv2D-valid", _one(IMG, lambda x: E.Conv2D(x, 4, [3, 3], padding="valid"))),
    _case("Conv2D-none-nobias", _one(IMG, lambda x: E.Conv2D(x, 4, [3, 3], [1, 1], "none", False))),
    _case("Conv2D-explicit-pad", _one(IMG, lambda x: E.Conv2D(x, 4, [5, 5], padding=[1, 2]))),
    _case("Conv2D-groups", _one([4, 8, 8], lambda x: E.Conv2D(x, 6, [3, 3], groups=2))),
    _case("Conv2D-dilation", _one(IMG, lambda x: E.Conv2D(x, 4, [3, 3], dilation_rate=[2, 2]))),
    _case("Conv-alias", _one(IMG, lambda x: E.Conv(x, 2, [1, 1]))),
    _case("DepthwiseConv2D", _one(IMG, lambda x: E.DepthwiseConv2D(x, [3, 3]))),
    _case("PointwiseConv2D", _one(IMG, lambda x: E.PointwiseConv2D(x, 5))),
    _case("Conv3D-same", _one([2, 4, 6, 6], lambda x: E.Conv3D(x, 3, [3, 3, 3]))),
    _case("Conv3D-stride2", _one([2, 4, 6, 6], lambda x: E.Conv3D(x, 3, [2, 2, 2], [2, 2, 2]))),
    _case("ConvT2D-same-stride2", _one(IMG, lambda x: E.ConvT2D(x, 4, [3, 3], [2, 2]))),
    _case("ConvT2D-same-k2s2", _one(IMG, lambda x: E.ConvT2D(x, 4, [2, 2], [2, 2]))),
    _case("ConvT2D-valid", _one(IMG, lambda x: E.ConvT2D(x, 4, [3, 3], padding="valid"))),
    _case(
        "ConvT3D-same-stride2", _one([2, 3, 4, 4], lambda x: E.ConvT3D(x, 3, [2, 2, 2], [2, 2, 2]))
    ),
    # pooling
    _case("MaxPool1D", _one([3, 10], lambda x: E.MaxPool1D(x))),
    _case("MaxPool2D", _one(IMG, lambda x: E.MaxPool2D(x))),
    _case("MaxPool2D-same-k3s2", _one([3, 7, 7], lambda x: E.MaxPool2D(x, [3, 3], [2, 2], "same"))),
    _case("MaxPool2D-same-k2s1", _one(IMG, lambda x: E.MaxPool(x, [2, 2], [1, 1], "same"))),
    _case("MaxPool3D", _one([2, 4, 4, 4], lambda x: E.MaxPool3D(x))),
    _case("AveragePool1D", _one([3, 10], lambda x: E.AveragePool1D(x, [3], [1]))),
    _case("AveragePool2D", _one(IMG, lambda x: E.AveragePool2D(x))),
    _case("AveragePool2D-same-k2s1", _one(IMG, lambda x: E.AvgPool(x, [2, 2], [1, 1], "same"))),
    _case("AveragePool3D", _one([2, 4, 4, 4], lambda x: E.AveragePool3D(x))),
    _case("GlobalMaxPool1D", _one([3, 10], lambda x: E.GlobalMaxPool1D(x))),
    _case("GlobalMaxPool2D", _one(IMG, lambda x: E.GlobalMaxPool(x))),
    _case("GlobalMaxPool3D", _one([2, 3, 4, 4], lambda x: E.GlobalMaxPool3D(x))),
    _case("GlobalAveragePool1D", _one([3, 10], lambda x: E.GlobalAveragePool1D(x))),
    _case("GlobalAveragePool2D", _one(IMG, lambda x: E.GlobalAvgPool(x))),
    _case("GlobalAveragePool3D", _one([2, 3, 4, 4], lambda x: E.GlobalAveragePool3D(x))),
    # normalization
    _case("BatchNormalization-1d", _one([6], lambda x: E.BatchNormalization(x))),
    _case("BatchNormalization-2d", _one(IMG, lambda x: E.BatchNormalization(x, True, 0.99))),
    _case(
        "BatchNormalization-3d-noaffine",
        _one([2, 3, 4, 4], lambda x: E.BatchNormalization(x, False)),
    ),
    _case("LayerNormalization", _one([4, 5], lambda x: E.LayerNormalization(x))),
    _case("GroupNormalization", _one([4, 5, 5], lambda x: E.GroupNormalization(x, 2))),
    _case(
        "LayerNormalization-last-axis",
        _one([4, 5], lambda x: E.LayerNormalization(x, False, axis=-1)),
    ),
    # attention
    _case("MultiHeadAttention-self", _one([5, 8], lambda x: E.MultiHeadAttention(x, num_heads=2))),
    _case(
        "MultiHeadAttention-causal-nobias",
        _one([5, 8], lambda x: E.MultiHeadAttention(x, num_heads=4, causal=True, use_bias=False)),
    ),
    _case(
        "MultiHeadAttention-cross",
        _two([4, 6], [9, 5], lambda q, m: E.MultiHeadAttention(q, m, num_heads=2, embed_dim=8)),
    ),
    _case("MultiHeadAttention-qkv", _attention_qkv),
    _case("PositionalEmbedding", _one([5, 4], lambda x: E.PositionalEmbedding(x))),
    # repeating
    _case("Repeat-counts", _one([3, 4], lambda x: E.Repeat(x, [1, 0, 3], 0))),
    _case("Repeat-int", _one([3, 4], lambda x: E.Repeat(x, 2, 1))),
    _case("Tile", _one([2, 3, 4], lambda x: E.Tile(x, [2, 1, 3]))),
    _case("Expand", _one([1, 3, 1], lambda x: E.Expand(x, 4))),
    _case("Broadcast-inside", _two([3], [4, 3, 5], lambda a, b: E.Broadcast(a, b))),
    _case("Broadcast-numpy", _two([2, 4, 5], [4, 1], lambda a, b: E.Broadcast(a, b))),
    # auxiliary (generators with a zero spread are constants; tests/eddl/test_layers_auxiliary.py
    # checks the random ones)
    _case(
        "ConstOfTensor",
        _one([2, 3], lambda x: E.Add(x, E.ConstOfTensor(np.arange(6.0).reshape(2, 3)))),
    ),
    _case("GaussGenerator", _one([6], lambda x: E.Add(x, E.GaussGenerator(2.0, 0.0, [6])))),
    _case("UniformGenerator", _one([6], lambda x: E.Mult(x, E.UniformGenerator(1.5, 1.5, [6])))),
    _case("Shape", _one([3, 4], lambda x: E.Shape(x, include_batch=False))),
    _case("Where", _two([4, 3], [4, 3], lambda a, b: E.Where(a, b, E.ReLu(b)))),
    _case("Bypass", _one([4], lambda x: E.Bypass(E.Abs(x), "abs1"))),
    _case("Transform", _one(IMG, lambda x: E.Transform(x, 0, 0, 1, 0))),
    # merge and operators
    _case("Add", _two(IMG, IMG, lambda a, b: E.Add([a, b]))),
    _case("Add-three", _two([4], [4], lambda a, b: E.Add([a, b, a]))),
    _case("Add-broadcast", _two([3, 4], [1, 4], lambda a, b: E.Add(a, b))),
    _case("Subtract", _two([4], [4], lambda a, b: E.Subtract([a, b]))),
    _case("Diff-layers", _two([4], [4], lambda a, b: E.Diff(a, b))),
    _case("Mult", _two([4], [4], lambda a, b: E.Mult(a, b))),
    _case("Div", _two([4], [4], lambda a, b: E.Div(a, b))),
    _case("Pow-layers", _two([4], [4], lambda a, b: E.Pow(a, b))),
    _case("Maximum", _two([4], [4], lambda a, b: E.Maximum([a, b]))),
    _case("Minimum", _two([4], [4], lambda a, b: E.Minimum([a, b]))),
    _case("Average", _two([4], [4], lambda a, b: E.Average([a, b]))),
    _case("MatMul", _two([3, 4], [4, 2], lambda a, b: E.MatMul([a, b]))),
    _case("Concat-channels", _two([2, 4, 4], [3, 4, 4], lambda a, b: E.Concat([a, b]))),
    _case("Concat-last", _two([2, 4], [2, 3], lambda a, b: E.Concat([a, b], axis=-1))),
    _case("ScalarOp-sum", _one([4], lambda x: E.Sum(x, 2.0))),
    _case("ScalarOp-rsub", _one([4], lambda x: E.Diff(1.0, x))),
    _case("ScalarOp-mult", _one([4], lambda x: E.Mult(x, 3.0))),
    _case("ScalarOp-rdiv", _one([4], lambda x: E.Div(1.0, x))),
    _case("ScalarOp-pow", _one([4], lambda x: E.Pow(x, 2.0))),
    _case("Unary-abs", _one([4], lambda x: E.Abs(x))),
    _case("Unary-exp", _one([4], lambda x: E.Exp(x))),
    _case("Unary-log", _one([4], lambda x: E.Log(x))),
    _case("Unary-sqrt", _one([4], lambda x: E.Sqrt(x))),
    _case("Clamp", _one([4], lambda x: E.Clamp(x, -0.5, 0.5))),
    _case("ReduceMean", _one([3, 4], lambda x: E.ReduceMean(x, [1]))),
    _case("ReduceSum-keepdims", _one([3, 4], lambda x: E.ReduceSum(x, [0], True))),
    _case("ReduceMax", _one([3, 4, 5], lambda x: E.ReduceMax(x, [1, 2]))),
    _case("ReduceMin", _one([3, 4], lambda x: E.ReduceMin(x, [-1]))),
    _case("ReduceVar", _one([3, 4], lambda x: E.ReduceVar(x, [1]))),
    # recurrent
    _case("RNN", _one([5, 3], lambda x: E.RNN(x, 4))),
    _case("RNN-relu-sequence", _one([5, 3], lambda x: E.RNN(x, 4, "relu", return_sequences=True))),
    _case("LSTM", _one([5, 3], lambda x: E.LSTM(x, 4))),
    _case("LSTM-bidirectional", _one([5, 3], lambda x: E.LSTM(x, 4, bidirectional=True))),
    _case("LSTM-stacked", _one([5, 3], lambda x: E.LSTM(E.LSTM(x, 4), 3))),
    _case("GRU", _one([5, 3], lambda x: E.GRU(x, 4))),
    _case(
        "GRU-bidirectional-sequence",
        _one([5, 3], lambda x: E.GRU(x, 2, False, True, return_sequences=True)),
    ),
    _case("Embedding-LSTM", _one([6], lambda x: E.LSTM(E.Embedding(x, 10, 6, 4), 3))),
    _case("GetStates", _one([5, 3], lambda x: E.GetStates(E.LSTM(x, 4)))),
    _case("LSTM-one-step-states", _two([3], [2, 4], lambda x, s: E.LSTM([x, s], 4))),
    _case(
        "GRU-one-step-bidirectional", _two([3], [1, 4], lambda x, s: E.GRU([x, s], 2, False, True))
    ),
    # augmentation, deterministic
    _case("Flip-rows", _one(IMG, lambda x: E.Flip(x, 0))),
    _case("HorizontalFlip", _one(IMG, lambda x: E.HorizontalFlip(x))),
    _case("Crop", _one(IMG, lambda x: E.Crop(x, [1, 2], [5, 7]))),
    _case("Crop-noreshape", _one(IMG, lambda x: E.Crop(x, [1, 2], [5, 7], False, 0.5))),
    _case("CenteredCrop", _one(IMG, lambda x: E.CenteredCrop(x, [4, 6]))),
    _case("CropScale", _one(IMG, lambda x: E.CropScale(x, [0, 0], [3, 3]))),
    _case("Cutout", _one(IMG, lambda x: E.Cutout(x, [2, 2], [4, 5], 1.0))),
    _case("Rotate-90", _one(IMG, lambda x: E.Rotate(x, 90.0))),
    _case("Rotate-30-constant", _one(IMG, lambda x: E.Rotate(x, 30.0, da_mode="constant"))),
    _case("Shift", _one(IMG, lambda x: E.Shift(x, [1, -2]))),
    _case("Shift-constant", _one(IMG, lambda x: E.Shift(x, [2, 1], "constant", 0.5))),
    _case("Scale", _one(IMG, lambda x: E.Scale(x, [4, 4]))),
    # augmentation, random
    _case("RandomFlip", _one(IMG, lambda x: E.RandomFlip(x, 0))),
    _case("RandomHorizontalFlip", _one(IMG, lambda x: E.RandomHorizontalFlip(x))),
    _case("RandomVerticalFlip", _one(IMG, lambda x: E.RandomVerticalFlip(x))),
    _case("RandomCrop", _one(IMG, lambda x: E.RandomCrop(x, [5, 6]))),
    _case("RandomCropScale", _one(IMG, lambda x: E.RandomCropScale(x, [0.5, 0.9]))),
    _case("RandomCutout", _one(IMG, lambda x: E.RandomCutout(x, [0.2, 0.4], [0.2, 0.4]))),
    _case("RandomRotation", _one(IMG, lambda x: E.RandomRotation(x, [-30.0, 30.0]))),
    _case("RandomShift", _one(IMG, lambda x: E.RandomShift(x, [-0.2, 0.2], [-0.2, 0.2]))),
    _case("RandomScale", _one(IMG, lambda x: E.RandomScale(x, [0.8, 1.2]))),
]


def case_ids() -> list[str]:
    """The ids of `LAYER_CASES`."""
    return [p.id for p in LAYER_CASES]


def make_inputs(
    inputs: list[Layer], output: Layer, batch: int = 2, seed: int = 0
) -> list[torch.Tensor]:
    """Float32 data for `inputs` that every layer of the graph accepts.

    Inputs feeding an Embedding get integer indices below its vocabulary size; inputs feeding
    Log, Sqrt, Pow or a division get values in [0.5, 2].
    """
    gen = torch.Generator().manual_seed(seed)
    needs: dict[int, tuple[str, int]] = {}
    for layer in topological_order(inputs, [output]):
        for parent in layer.parents:
            if parent.kind != "Input":
                continue
            if layer.kind == "Embedding":
                needs[id(parent)] = ("index", layer.params["vocsize"])
            elif (
                layer.kind == "Unary" and layer.params["op"] in ("log", "log2", "log10", "sqrt")
            ) or (
                layer.kind in ("Pow", "Div")
                or (layer.kind == "ScalarOp" and layer.params["op"] in ("pow", "rdiv"))
            ):
                needs.setdefault(id(parent), ("positive", 0))
    out = []
    for x in inputs:
        shape = (batch, *x.output_shape)
        kind, n = needs.get(id(x), ("normal", 0))
        if kind == "index":
            out.append(torch.randint(0, n, shape, generator=gen).float())
        elif kind == "positive":
            out.append(torch.rand(shape, generator=gen) * 1.5 + 0.5)
        else:
            out.append(torch.randn(shape, generator=gen))
    return out


def run_graph(
    inputs: list[Layer], output: Layer, *xs: torch.Tensor, train: bool = False
) -> torch.Tensor:
    """Forward `xs` through the model inputs -> output, in training or eval mode."""
    from deephealth.eddl.model import Model

    net = Model(inputs, [output])
    net.graph.train(train)
    return net.graph(*xs)[0]
