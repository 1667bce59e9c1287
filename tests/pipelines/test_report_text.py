"""Report generation's text side: synthetic reports, findings parser, vocabulary, and the text
metrics against their reference libraries (sacrebleu, rouge-score, pycocoevalcap)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from deephealth.pipelines.report_generation import textmetrics as tm
from deephealth.pipelines.report_generation.findings import (
    finding_scores,
    parse_findings,
    true_findings,
)
from deephealth.pipelines.report_generation.synthetic import make_dataset
from deephealth.pipelines.report_generation.vocab import END, PAD, UNK, Vocabulary


@pytest.fixture(scope="module")
def data():
    return make_dataset(120, side=32, seed=3)


@pytest.fixture(scope="module")
def pairs(data):
    """Degraded hypotheses (shuffled words, cut endings) against the true reports."""
    rng = random.Random(0)
    refs, hyps = data["reports"], []
    for r in refs:
        w = r.split()
        if rng.random() < 0.3:
            rng.shuffle(w)
        hyps.append(" ".join(w[: max(1, len(w) - rng.randint(0, 4))]))
    return hyps, refs


def test_reports_state_exactly_the_generated_lesions(data):
    assert data["images"].shape == (120, 1, 32, 32)
    counts = [len(les) for les in data["lesions"]]
    assert set(counts) == {0, 1, 2}
    assert all(parse_findings(r) == f for r, f in zip(data["reports"], data["findings"]))
    assert len(set(data["reports"])) > 60  # several phrasings per finding
    # lesions are visible where the records say: nodules bright, cysts dark
    for img, lesions in zip(data["images"], data["lesions"]):
        for les in lesions:
            y, x = (int(round(c)) for c in les["center"])
            organ = np.median(img[0, 12:20, 12:20])
            value = img[0, y, x]
            assert value > organ + 0.15 if les["type"] == "nodule" else value < organ - 0.1


def test_findings_parser_synonyms_and_scores():
    text = "Two lesions are present. A big cystic lesion in the superior left region; tiny nodule at the lower right aspect."
    assert parse_findings(text) == {
        "abnormal", "count=2", "cyst", "cyst:large", "cyst@upper left",
        "nodule", "nodule:small", "nodule@lower right",
    }  # fmt: skip
    assert parse_findings("Unremarkable study.") == {"normal"}
    truth = [true_findings([]), true_findings([{"type": "cyst", "size": "small",
                                                 "vertical": "upper", "horizontal": "left"}])]  # fmt: skip
    pred = [{"normal"}, {"abnormal", "count=1", "cyst", "cyst:large", "cyst@upper left"}]
    scores = finding_scores(pred, truth)
    assert scores["per_finding"]["cyst:small"]["recall"] == 0.0
    assert scores["per_finding"]["cyst:large"]["precision"] == 0.0
    assert scores["per_finding"]["normal"]["f1"] == 1.0
    assert scores["micro"]["precision"] == pytest.approx(5 / 6)
    assert scores["micro"]["recall"] == pytest.approx(5 / 6)


def test_vocabulary_round_trip_and_unknown_words(data):
    voc = Vocabulary.build(data["reports"])
    assert voc.words[:3] == ["<pad>", "<end>", "<unk>"]
    ids = voc.encode(data["reports"][0], 40)
    assert ids.shape == (40,) and END in ids and ids[-1] == PAD
    assert voc.decode(ids) == data["reports"][0]
    assert voc.encode("a zebra .", 5).tolist()[1] == UNK
    assert voc.encode("one two three four five six", 4).tolist()[-1] == END  # cut, <end> kept


def test_bleu_matches_sacrebleu(pairs):
    sacrebleu = pytest.importorskip("sacrebleu")
    hyps, refs = pairs
    for n in range(1, 5):
        ref = sacrebleu.metrics.BLEU(
            tokenize="none", max_ngram_order=n, smooth_method="none", effective_order=False
        ).corpus_score(hyps, [refs])
        assert tm.bleu(hyps, refs, n) == pytest.approx(ref.score / 100, abs=1e-9)
    assert tm.bleu(refs, refs, 4) == pytest.approx(1.0)


def test_rouge_l_matches_rouge_score(pairs):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")

    class Spaces:
        def tokenize(self, text: str) -> list[str]:
            return text.split()

    hyps, refs = pairs
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=Spaces())
    want = np.mean([scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs)])
    assert tm.rouge_l(hyps, refs) == pytest.approx(want, abs=1e-12)


def test_cider_matches_pycocoevalcap(pairs):
    cider = pytest.importorskip("pycocoevalcap.cider.cider")
    hyps, refs = pairs
    want, _ = cider.Cider().compute_score(
        {i: [r] for i, r in enumerate(refs)}, {i: [h] for i, h in enumerate(hyps)}
    )
    assert tm.cider(hyps, refs) == pytest.approx(want, abs=1e-9)
