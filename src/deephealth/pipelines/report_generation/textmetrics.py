"""Text metrics of generated reports: corpus BLEU-1..4, ROUGE-L (F) and CIDEr.

Inputs are tokenized strings (tokens separated by spaces). BLEU is Papineni et al.'s corpus BLEU
(clipped n-gram precisions, geometric mean of orders 1..n, brevity penalty with the reference
length closest to each hypothesis), as sacrebleu computes it with `tokenize="none"` and no
smoothing. ROUGE-L is the LCS F-measure per pair (as `rouge-score` without stemming), averaged.
CIDEr follows pycocoevalcap's `Cider` (see `cider`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(hypotheses: Sequence[str], references: Sequence[str], order: int = 4) -> float:
    """Corpus BLEU-`order` in [0, 1] (one reference per hypothesis)."""
    match = [0] * order
    total = [0] * order
    hyp_len = ref_len = 0
    for hyp, ref in zip(hypotheses, references, strict=True):
        h, r = hyp.split(), ref.split()
        hyp_len += len(h)
        ref_len += len(r)
        for n in range(1, order + 1):
            hc, rc = _ngrams(h, n), _ngrams(r, n)
            match[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            total[n - 1] += max(len(h) - n + 1, 0)
    if min(match) == 0 or hyp_len == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(match, total)) / order
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(log_p)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F-measure."""
    scores = []
    for hyp, ref in zip(hypotheses, references, strict=True):
        h, r = hyp.split(), ref.split()
        lcs = _lcs(h, r)
        if not h or not r or lcs == 0:
            scores.append(0.0)
            continue
        p, rec = lcs / len(h), lcs / len(r)
        scores.append(2 * p * rec / (p + rec))
    return sum(scores) / len(scores) if scores else 0.0


def cider(hypotheses: Sequence[str], references: Sequence[str], sigma: float = 6.0) -> float:
    """CIDEr as pycocoevalcap's `Cider` scorer computes it (one reference per hypothesis).

    TF-IDF vectors of the 1..4-grams (document frequencies over the references), cosine similarity
    per order with the hypothesis weights clipped at the reference's, a Gaussian penalty on the
    length difference (pycocoevalcap measures length in bigrams), mean over orders, ×10.
    """
    refs = [[_ngrams(r.split(), n) for n in range(1, 5)] for r in references]
    df: Counter = Counter()
    for grams in refs:
        for counts in grams:
            df.update(counts.keys())
    log_n = math.log(float(len(references)))

    def vec(grams: list[Counter]) -> tuple[list[dict], list[float], int]:
        vecs, norms = [], []
        for counts in grams:
            v = {g: c * (log_n - math.log(max(1.0, df[g]))) for g, c in counts.items()}
            vecs.append(v)
            norms.append(math.sqrt(sum(x * x for x in v.values())))
        return vecs, norms, sum(grams[1].values())

    total = 0.0
    for hyp, rgrams in zip(hypotheses, refs, strict=True):
        hv, hn, hl = vec([_ngrams(hyp.split(), n) for n in range(1, 5)])
        rv, rn, rl = vec(rgrams)
        score = 0.0
        for n in range(4):
            val = sum(min(x, rv[n].get(g, 0.0)) * rv[n].get(g, 0.0) for g, x in hv[n].items())
            if hn[n] != 0 and rn[n] != 0:
                val /= hn[n] * rn[n]
            score += val * math.exp(-((hl - rl) ** 2) / (2 * sigma**2))
        total += score / 4 * 10.0
    return total / len(hypotheses) if hypotheses else 0.0
