"""REST report generation: a packed `report_generator.onnx` uploaded as a project's weights answers
`POST /api/v1/predict/{id}` with an image by the generated report text (the numpy beam search over
onnxruntime of `deephealth.serving.reports`) and the findings the text states."""

from urllib.parse import unquote

import cv2
import numpy as np
import pytest
import torch


@pytest.fixture(scope="module", params=["lstm", "transformer"])
def packed(request, tmp_path_factory):
    import deephealth.eddl as eddl
    from deephealth.pipelines.report_generation import transformer
    from deephealth.pipelines.report_generation.export import export_for_serving
    from deephealth.pipelines.report_generation.model import build_captioner, one_hot
    from deephealth.pipelines.report_generation.synthetic import make_dataset
    from deephealth.pipelines.report_generation.vocab import Vocabulary

    torch.manual_seed(0)
    data = make_dataset(96, 32, seed=3)
    voc = Vocabulary.build(data["reports"])
    ids = np.stack([voc.encode(r, 16) for r in data["reports"]])
    x = [data["images"]]
    if request.param == "transformer":  # a packed Transformer generator is served the same way
        net = transformer.build_transformer_captioner(len(voc), (1, 32, 32), 16, d_model=16)
        x.append(transformer.teacher_prefix(ids))
    else:
        net = build_captioner(len(voc), (1, 32, 32))
    eddl.build(net, eddl.adam(0.005), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU())
    eddl.fit(net, x, [one_hot(ids, len(voc))], 32, 1, verbose=0)
    folder = export_for_serving(net, voc, tmp_path_factory.mktemp("rg") / "served", 16)
    return folder, data["images"][:2]


def test_report_over_http_equals_the_served_generator(users, packed, tmp_path):
    from deephealth.pipelines.report_generation.findings import parse_findings
    from deephealth.serving.reports import ReportGenerator

    folder, images = packed
    owner = users["owner"]
    project = owner.post("/api/projects", json={"name": "uc5", "task": "classification"}).json()
    w = owner.post(
        f"/api/projects/{project['id']}/weights",
        files={"file": ("rg.onnx", (folder / "report_generator.onnx").read_bytes(), "x/y")},
    )
    assert w.status_code == 201, w.text
    pixels = np.round(images[0, 0] * 255).astype(np.uint8)
    ok, png = cv2.imencode(".png", pixels)
    r = owner.post(f"/api/v1/predict/{w.json()['id']}", content=png.tobytes())
    assert r.status_code == 200, r.text
    out = r.json()
    # the same text as the three-file folder gives for the same 8-bit pixels
    want = ReportGenerator(folder).generate((pixels / 255.0).astype(np.float32)[None, None])[0]
    assert out["task"] == "report_generation" and out["report"] == want
    assert out["findings"] == sorted(parse_findings(want))
    # the inference page's form: the image with the report as its caption and header
    shown = owner.post(f"/api/v1/predict/{w.json()['id']}?format=overlay", content=png.tobytes())
    assert shown.status_code == 200 and shown.content[:4] == b"\x89PNG"
    assert unquote(shown.headers["X-Prediction"]) == want
    # the packed single file and the folder are the same generator
    single = ReportGenerator(folder / "report_generator.onnx")
    np.testing.assert_array_equal(
        single.beam_search(images, beam=2), ReportGenerator(folder).beam_search(images, beam=2)
    )
    # a larger RGB image is resized and its channels averaged
    rgb = cv2.resize(np.repeat(pixels[:, :, None], 3, 2), (64, 64))
    ok, png = cv2.imencode(".png", rgb)
    r = owner.post(f"/api/v1/predict/{w.json()['id']}", content=png.tobytes())
    assert r.status_code == 200 and isinstance(r.json()["report"], str)
