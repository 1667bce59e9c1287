"""ONNX files are read back by a *new* process: every layer case, by file, by string and by download.

A process that has exported nothing has not loaded the exporter's modules, so anything that only
the exporter registers (the layer kinds' weight readers, such as BatchNormalization's counter) is
missing there. The parent exports every `LAYER_CASES` graph and its expected output; one child
process imports each file three ways (file, string, `download_model` from a loopback HTTP server)
and must reproduce the outputs bit for bit.
"""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import torch
from tests.eddl.layer_cases import LAYER_CASES, make_inputs
from tests.eddl.test_onnx_contract import forward, randomize_statistics

import deephealth.eddl as eddl
from deephealth.eddl.model import Model

CHILD = r"""
import json, os, sys
import numpy as np
from pathlib import Path
root, url = Path(sys.argv[1]), sys.argv[2]
import deephealth.eddl as eddl
import torch
os.chdir(root / "dl")
report = {}
for case in json.loads((root / "cases.json").read_text()):
    xs = [torch.from_numpy(a) for a in np.load(root / f"{case}.npz").values()]
    want = np.load(root / f"{case}.want.npy")
    got = {}
    nets = {
        "file": lambda: eddl.import_net_from_onnx_file(str(root / f"{case}.onnx")),
        "string": lambda: eddl.import_net_from_onnx_string((root / f"{case}.onnx").read_bytes()),
        "download": lambda: eddl.import_net_from_onnx_file(
            str(eddl.download_model(f"{case}.onnx", f"{url}/{case}.onnx", cache=root / "dl"))
        ),
    }
    for how, make in nets.items():
        try:
            net = make()
            net.graph.eval()
            with torch.no_grad():
                out = net.graph(*xs)[0].numpy()
            got[how] = "ok" if np.array_equal(out, want) else f"differs by {np.abs(out - want).max()}"
        except Exception as err:
            got[how] = f"{type(err).__name__}: {err}"
    report[case] = got
print(json.dumps(report))
"""


def _serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_every_layer_case_reimports_in_a_fresh_process(tmp_path: Path) -> None:
    cases = []
    for param in LAYER_CASES:
        builder = param.values[0]
        inputs, output = builder()
        net = Model(inputs, [output])
        randomize_statistics(net)
        xs = make_inputs(inputs, output, batch=2)
        np.save(tmp_path / f"{param.id}.want.npy", forward(net, xs))
        np.savez(tmp_path / f"{param.id}.npz", *[x.numpy() for x in xs])
        eddl.save_net_to_onnx_file(net, str(tmp_path / f"{param.id}.onnx"))
        cases.append(param.id)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "dl").mkdir()
    server, url = _serve(tmp_path)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(tmp_path), url],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    failed = {c: r for c, r in report.items() if set(r.values()) != {"ok"}}
    assert failed == {}
    assert sorted(report) == sorted(cases)


def test_batchnorm_network_trained_then_reimported_in_a_fresh_process(tmp_path: Path) -> None:
    """The reported case: a trained Conv+BatchNorm network, saved, imported by a new process."""
    x = eddl.Input([1, 8, 8])
    h = eddl.ReLu(eddl.BatchNormalization(eddl.Conv(x, 4, [3, 3]), True))
    out = eddl.Softmax(eddl.Dense(eddl.Flatten(h), 2))
    net = eddl.Model([x], [out])
    eddl.build(net, eddl.sgd(0.01), ["soft_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU())
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(16, 1, 8, 8)).astype(np.float32)
    ys = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 16)]
    eddl.fit(net, [eddl.Tensor.fromarray(xs)], [eddl.Tensor.fromarray(ys)], 8, 2)
    path = tmp_path / "bn.onnx"
    eddl.save_net_to_onnx_file(net, str(path))
    want = forward(net, [torch.from_numpy(xs)])
    np.save(tmp_path / "x.npy", xs)
    code = (
        "import sys, numpy as np, torch, deephealth.eddl as eddl\n"
        "net = eddl.import_net_from_onnx_file(sys.argv[1])\n"
        "net.graph.eval()\n"
        "with torch.no_grad():\n"
        "    out = net.graph(torch.from_numpy(np.load(sys.argv[2])))[0].numpy()\n"
        "np.save(sys.argv[3], out)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path), str(tmp_path / "x.npy"), str(tmp_path / "o.npy")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), want)
