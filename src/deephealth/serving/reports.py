"""Report generation served with onnxruntime: image encoder + one decoder step, beam search in numpy.

Reads the folder written by `deephealth.pipelines.report_generation.export.export_for_serving`
(`encoder.onnx`, `decoder_step.onnx`, `vocab.json`). The search is the torch path's
(`report_generation.model.beam_search`), step for step: beams are expanded per image, each step
adds the log-probabilities, `<end>` is forbidden before `min_len` tokens, finished beams continue
with padding at no cost, the best `beam` of beam × vocab continuations are kept, and the final
score is log-probability / length ** `length_penalty`. No torch import. The search
(`beam_search_steps`) takes a step function, so the same code drives both decoders: the LSTM's
step (previous word, image feature, states), and the Transformer's (`"decoder": "transformer"` in
`vocab.json`: the prefix so far, zero-padded to the model's length, and the encoder memory; the
probabilities at position t are read), and the torch path of the Transformer
(`report_generation.transformer.beam_search`).

The three files may also come as one, `report_generator.onnx` (what the REST server stores): the
decoder step whose metadata holds the encoder (`ENCODER_KEY`, base64 ONNX bytes) and the
vocabulary (`VOCAB_KEY`). `fit_image` turns any (H, W, C) image into the encoder's input.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.serving.session import ServingError

PAD, END = 0, 1
ENCODER_KEY = "deephealth.report_generation.encoder"
VOCAB_KEY = "deephealth.report_generation.vocab"
SINGLE_FILE = "report_generator.onnx"
FILES = ("encoder.onnx", "decoder_step.onnx", "vocab.json")


def is_report_generator(metadata: dict[str, str]) -> bool:
    """Whether an ONNX file's custom metadata marks it as a packed report generator."""
    return ENCODER_KEY in metadata and VOCAB_KEY in metadata


def fit_image(hwc: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """An (H, W, C) or (H, W) image as one encoder input `(C, H, W)` float32: resized (bilinear),
    channels averaged or repeated, scaled to [0, 1] (8-bit images / 255, others min-max). Training
    on a dataset YAML and serving use it alike."""
    import cv2

    channels, height, width = input_shape
    x = np.asarray(hwc)
    if x.ndim == 2:
        x = x[:, :, None]
    eight_bit = x.dtype == np.uint8
    x = x.astype(np.float32)
    if x.shape[:2] != (height, width):
        x = cv2.resize(x, (width, height), interpolation=cv2.INTER_LINEAR).reshape(
            height, width, -1
        )
    if x.shape[2] != channels:
        if channels == 1:
            x = x.mean(axis=2, keepdims=True)
        elif x.shape[2] == 1:
            x = np.repeat(x, channels, axis=2)
        else:
            x = x[:, :, :channels]
    if eight_bit:
        x = x / 255.0
    else:
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)


StepFn = Callable[[int, np.ndarray, "np.ndarray | None"], np.ndarray]


def shifted_prefix(tokens: np.ndarray, t: int, length: int) -> np.ndarray:
    """A Transformer decoder's input at step t: (B, length) float32, the start token 0 then
    `tokens[:, :t]`, zeros after (causal attention makes those irrelevant to position t)."""
    prefix = np.zeros((len(tokens), length), np.float32)
    prefix[:, 1 : t + 1] = tokens[:, :t]
    return prefix


def beam_search_steps(
    step: StepFn,
    n: int,
    vocab: int,
    beam: int = 3,
    max_len: int = 30,
    min_len: int = 1,
    length_penalty: float = 0.0,
) -> np.ndarray:
    """Beam search over a decoder step (see the module doc); token indices (n, max_len).

    `step(t, tokens, rows)` gives the next-word probabilities (n * beam, vocab) of the beams
    whose tokens so far are `tokens` (n * beam, max_len; positions < t are set); `rows` (None at
    t = 0) says which beam row of the previous step each beam continues, for a decoder that
    carries state (LSTM states, a repeated encoder memory) to reorder it.
    """
    scores = np.full((n, beam), -np.inf, np.float32)
    scores[:, 0] = 0.0
    tokens = np.zeros((n, beam, max_len), np.int64)
    done = np.zeros((n, beam), bool)
    lengths = np.zeros((n, beam), np.float32)
    rows: np.ndarray | None = None
    with np.errstate(divide="ignore"):
        for t in range(max_len):
            probs = step(t, tokens.reshape(n * beam, max_len), rows)
            logp = np.log(np.maximum(probs, 1e-12)).reshape(n, beam, vocab)
            if t < min_len:
                logp[..., END] = -np.inf
            logp[..., PAD] = -np.inf
            logp = np.where(done[..., None], -np.inf, logp)
            logp[..., PAD] = np.where(done, 0.0, -np.inf)
            total = (scores[..., None] + logp).reshape(n, beam * vocab)
            idx = np.argsort(-total, axis=1, kind="stable")[:, :beam]
            best = np.take_along_axis(total, idx, 1)
            src, tok = idx // vocab, idx % vocab
            rows = (np.arange(n)[:, None] * beam + src).reshape(-1)
            tokens = np.take_along_axis(tokens, src[..., None], 1).copy()
            tokens[..., t] = tok
            was_done = np.take_along_axis(done, src, 1)
            lengths = np.take_along_axis(lengths, src, 1) + (~was_done)
            done = was_done | (tok == END)
            scores = best.astype(np.float32)
            if done.all():
                break
    final = scores / np.maximum(lengths, 1) ** length_penalty
    return tokens[np.arange(n), final.argmax(1)]


class ReportGenerator:
    """Generates report texts for images with the exported encoder and decoder step."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        """Open a folder with the three files, or one packed `report_generator.onnx`.

        Raises:
            ServingError: naming the missing files or metadata.
        """
        import onnxruntime as ort

        path = Path(path)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        encoder: Any
        if path.is_file():
            self.decoder = ort.InferenceSession(str(path), opts, providers=providers)
            meta = self.decoder.get_modelmeta().custom_metadata_map
            if not is_report_generator(meta):
                raise ServingError(f"{path}: not a packed report generator (no {VOCAB_KEY})")
            encoder, vocab_text = base64.b64decode(meta[ENCODER_KEY]), meta[VOCAB_KEY]
        else:
            missing = [n for n in FILES if not (path / n).is_file()]
            if missing:
                raise ServingError(f"{path}: missing report-generation file(s) {missing}")
            self.decoder = ort.InferenceSession(
                str(path / "decoder_step.onnx"), opts, providers=providers
            )
            encoder, vocab_text = str(path / "encoder.onnx"), (path / "vocab.json").read_text()
        self.encoder = ort.InferenceSession(encoder, opts, providers=providers)
        meta = json.loads(vocab_text)
        self.words: list[str] = meta["words"]
        self.max_len = int(meta["max_len"])
        self.units, self.num_states = meta.get("units", 0), meta.get("states", 0)
        self.decoder_kind: str = meta.get("decoder", "lstm")
        self._dec_in = [i.name for i in self.decoder.get_inputs()]
        self._enc_in = self.encoder.get_inputs()[0].name
        self.input_shape = tuple(int(d) for d in self.encoder.get_inputs()[0].shape[1:])

    def fit_image(self, hwc: np.ndarray) -> np.ndarray:
        """An (H, W, C) image as one encoder input (see the module function `fit_image`)."""
        return fit_image(hwc, self.input_shape)

    def decode_text(self, ids: np.ndarray) -> str:
        """Words up to the first `<end>` or padding."""
        out = []
        for i in ids:
            if int(i) in (PAD, END):
                break
            out.append(self.words[int(i)])
        return " ".join(out)

    def beam_search(
        self,
        images: np.ndarray,
        beam: int = 3,
        max_len: int | None = None,
        min_len: int = 1,
        length_penalty: float = 0.0,
    ) -> np.ndarray:
        """Token indices (N, max_len) of the best beam per image (see the module doc)."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        if images.ndim != 4:
            raise ServingError(f"images must be (N, C, H, W), got shape {list(images.shape)}")
        max_len = int(max_len or self.max_len)
        n, vocab = images.shape[0], len(self.words)
        memory = np.repeat(self.encoder.run(None, {self._enc_in: images})[0], beam, axis=0)
        if self.decoder_kind == "transformer":
            max_len = min(max_len, self.max_len)  # the decoder step's fixed prefix length
            step = self._transformer_step(memory, self.max_len)
        else:
            step = self._lstm_step(memory, vocab)
        return beam_search_steps(step, n, vocab, beam, max_len, min_len, length_penalty)

    def _lstm_step(self, feat: np.ndarray, vocab: int) -> StepFn:
        """The LSTM decoder step: previous word one-hot, image feature, states (reordered)."""
        carry = {"feat": feat, "states": np.zeros((len(feat), self.num_states, self.units), "f4")}

        def step(t: int, tokens: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
            if rows is not None:
                carry["feat"], carry["states"] = carry["feat"][rows], carry["states"][rows]
            word = np.zeros((len(tokens), vocab), np.float32)
            if t > 0:
                word[np.arange(len(tokens)), tokens[:, t - 1]] = 1.0
            probs, carry["states"] = self.decoder.run(
                None, dict(zip(self._dec_in, (word, carry["feat"], carry["states"])))
            )
            return probs

        return step

    def _transformer_step(self, memory: np.ndarray, length: int) -> StepFn:
        """The Transformer decoder step: the prefix so far (start token 0, then the tokens,
        zero-padded to the model's length) and the encoder memory; the probabilities at t."""
        carry = {"memory": memory}

        def step(t: int, tokens: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
            if rows is not None:
                carry["memory"] = carry["memory"][rows]
            prefix = shifted_prefix(tokens, t, length)
            probs = self.decoder.run(None, dict(zip(self._dec_in, (prefix, carry["memory"]))))[0]
            return probs[:, t]

        return step

    def generate(self, images: np.ndarray, **kwargs: float) -> list[str]:
        """The report text for each image (beam search options as `beam_search`)."""
        return [self.decode_text(ids) for ids in self.beam_search(images, **kwargs)]
