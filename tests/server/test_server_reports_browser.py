"""Report generation in the web front-end (Debian's Chromium through Playwright, against a real
`deephealth serve`): a packed Transformer report generator uploaded to a `report_generation`
project; on the model page, "Run inference" on a phantom shows the image with the generated report
(the text the served generator gives); an inference job over the dataset's test split shows each
image with its generated and true reports. Screenshots go to test-artifacts/server/."""

from __future__ import annotations

import re

import _server_helpers as helpers
import cv2
import numpy as np
import pytest
import torch
from _server_process import ServerProcess
from test_server_browser import browser_page, shot  # noqa: F401 (the fixture)
from test_server_browser_explain import _project, _signup

MAX_LEN = 28


def _generator(folder):
    """A small Transformer report generator trained briefly on synthetic phantoms, packed."""
    import deephealth.eddl as eddl
    from deephealth.pipelines.report_generation import transformer
    from deephealth.pipelines.report_generation.export import export_for_serving
    from deephealth.pipelines.report_generation.model import one_hot
    from deephealth.pipelines.report_generation.synthetic import make_dataset
    from deephealth.pipelines.report_generation.vocab import Vocabulary

    torch.manual_seed(0)
    data = make_dataset(300, 32, seed=0)
    voc = Vocabulary.build(data["reports"])
    ids = np.stack([voc.encode(r, MAX_LEN) for r in data["reports"]])
    net = transformer.build_transformer_captioner(len(voc), (1, 32, 32), MAX_LEN, d_model=32,
                                                  heads=4, layers=1, ff=64)  # fmt: skip
    eddl.build(net, eddl.adam(0.004), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU())
    x = [data["images"], transformer.teacher_prefix(ids)]
    eddl.fit(net, x, [one_hot(ids, len(voc))], 16, 3, verbose=0)
    return export_for_serving(net, voc, folder, MAX_LEN) / "report_generator.onnx"


@pytest.mark.browser
def test_browser_report_generation_views(tmp_path, browser_page):  # noqa: F811
    from deephealth.pipelines.report_generation.synthetic import write_dataset
    from deephealth.serving.reports import ReportGenerator

    page, errors = browser_page
    packed = _generator(tmp_path / "served")
    write_dataset(tmp_path / "reports", 4, 4, side=32, seed=7)
    zip_path = tmp_path / "reports.zip"
    zip_path.write_bytes(helpers.zip_folder(tmp_path / "reports"))
    probe = tmp_path / "reports" / "images" / "case00005.png"
    pixels = cv2.imread(str(probe), cv2.IMREAD_GRAYSCALE)
    want = ReportGenerator(packed).generate((pixels / 255.0).astype(np.float32)[None, None])[0]
    server = ServerProcess(tmp_path / "data").start()
    try:
        base = server.url
        _signup(page, base)
        _project(page, base, "Chest reports", "report_generation")
        page.set_input_files("#dataset-form input[name=file]", str(zip_path))
        page.click("#dataset-form button[type=submit]")
        page.wait_for_selector("#datasets tbody tr a")
        page.set_input_files("#weights-form input[name=file]", str(packed))
        page.fill("#weights-form input[name=pretrained_on]", "synthetic phantoms")
        page.click("#weights-form button[type=submit]")
        page.click("#weights tbody tr a")

        # model page: the uploaded image with its generated report
        page.wait_for_selector("#infer-form")
        page.set_input_files("#infer-form input[name=file]", str(probe))
        page.click("#infer-form button[type=submit]")
        page.wait_for_selector("#report-view .generated-report")
        assert page.inner_text("#report-view .generated-report") == want
        page.wait_for_function(
            "() => document.querySelector('#report-view img').naturalWidth === 32"
        )
        shot(page, "20-report-generation-model")

        # inference over the test split: images with generated and true reports
        page.select_option("#split-form select[name=split]", "test")
        page.click("#split-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/jobs/\d+$"))
        page.wait_for_selector("#report-results:not([hidden]) .report-figure")
        figures = page.locator("#generated-reports .report-figure")
        assert figures.count() == 4
        truth = page.inner_text("#generated-reports .report-figure >> nth=1 >> .true-report")
        assert truth.startswith("True: ") and len(truth) > 12
        generated = page.inner_text(
            "#generated-reports .report-figure >> nth=1 >> .generated-report"
        )
        assert generated == want
        page.wait_for_function(
            "() => [...document.querySelectorAll('#generated-reports img')]"
            ".every(i => i.naturalWidth > 0)"
        )
        shot(page, "21-report-generation-inference")
        assert not errors, errors
    finally:
        server.stop()
