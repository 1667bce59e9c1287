"""A layer kind is complete or a test says what it lacks: its spec in the layer table, an ONNX
exporter, an importer for the ops it writes, a shared case in `layer_cases.py`, a line in
`docs/layers.md` (the checklist of `docs/architecture.md`, "add a layer")."""

from __future__ import annotations

import re
from pathlib import Path

import onnx
import pytest
from tests.eddl.layer_cases import LAYER_CASES

import deephealth.eddl as eddl
import deephealth.eddl.onnx.mapping  # noqa: F401 (fills the ONNX tables)
from deephealth.eddl.layers.base import LAYER_TYPES, LayerSpec
from deephealth.eddl.model import Model, topological_order
from deephealth.eddl.onnx import graph_import
from deephealth.eddl.onnx.registry import DECLARED_KINDS, EXPORTERS, OP_IMPORTERS

DOC = Path(__file__).resolve().parents[2] / "docs" / "layers.md"


def _word(kind: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(kind)}(?![A-Za-z0-9_])", text) is not None


def _cases_by_kind() -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for param in LAYER_CASES:
        inputs, output = param.values[0]()
        for layer in topological_order(inputs, [output]):
            out.setdefault(layer.kind, []).append(param)
    return out


def test_every_spec_is_a_complete_layer_spec() -> None:
    for kind, spec in LAYER_TYPES.items():
        assert isinstance(spec, LayerSpec) and spec.kind == kind
        assert type(spec).infer_shape is not LayerSpec.infer_shape, kind
        assert type(spec).build is not LayerSpec.build, kind


def test_every_mapping_names_a_spec_and_every_spec_has_an_exporter() -> None:
    assert sorted(DECLARED_KINDS - set(LAYER_TYPES)) == [], "mappings for kinds with no spec"
    assert sorted(set(LAYER_TYPES) - set(EXPORTERS)) == [], "kinds without an ONNX exporter"


def test_every_kind_has_a_shared_case() -> None:
    assert sorted(set(LAYER_TYPES) - set(_cases_by_kind())) == []


def test_every_kind_has_a_line_in_the_layers_page() -> None:
    text = DOC.read_text()
    assert [kind for kind in LAYER_TYPES if not _word(kind, text)] == []


def test_every_op_our_exporters_write_has_an_importer() -> None:
    """What we write, we can read as a foreign graph too: each op type has an op importer, or is
    one the importer folds (shape computations) or passes through (aliases)."""
    known = set(OP_IMPORTERS) | graph_import._ALIASES | graph_import._SHAPE_OPS
    missing: dict[str, set[str]] = {}
    for param in LAYER_CASES:
        inputs, output = param.values[0]()
        data = eddl.serialize_net_to_onnx_string(Model(inputs, [output]))
        for node in onnx.load_from_string(data).graph.node:
            if node.op_type not in known:
                missing.setdefault(node.op_type, set()).add(param.id)
    assert missing == {}


def test_a_kind_without_exporter_fails_the_import_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from deephealth.eddl.onnx.registry import check_complete

    monkeypatch.delitem(EXPORTERS, "Dense")
    with pytest.raises(eddl.OnnxError, match=r"without exporter \['Dense'\]"):
        check_complete()
