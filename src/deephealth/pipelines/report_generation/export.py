"""Export a trained report generator for serving: `encoder.onnx`, `decoder_step.onnx`, `vocab.json`.

- `encoder.onnx`: image `(N, C, H, W)` -> image feature `(N, F)` (the trained net's layers).
- `decoder_step.onnx`: ONE decoder step, pyeddl's step-by-step form (`LSTM([x, States])`):
  inputs previous word one-hot `(N, vocab)`, image feature `(N, F)`, states `(N, 2, units)`;
  outputs next-word probabilities `(N, vocab)` and the new states `(N, 2, units)` (`GetStates`).
  Its weights are copied from the trained decoder (`copyParam`).
- `vocab.json`: the words, index order, and the decoding settings.

For the Transformer variant (`transformer.py`): `encoder.onnx` gives the memory `(N, h*w, d)`,
`decoder_step.onnx` takes the prefix so far `(N, T)` (start token, tokens, zero padding) and the
memory and gives the probabilities at every position `(N, T, vocab)` (the search reads position
t), and `vocab.json` says `"decoder": "transformer"`.
- `report_generator.onnx`: the same three in one file for upload (REST): the decoder step, with
  the encoder (ONNX bytes, base64) and the vocabulary JSON in its metadata (`ENCODER_KEY`,
  `VOCAB_KEY` of `deephealth.serving.reports`).

`deephealth.serving.reports.ReportGenerator` runs them with onnxruntime (beam search in numpy).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import deephealth.eddl as eddl
from deephealth.eddl.model import Model
from deephealth.pipelines.report_generation import transformer
from deephealth.pipelines.report_generation.vocab import Vocabulary
from deephealth.serving.reports import ENCODER_KEY, SINGLE_FILE, VOCAB_KEY


def step_decoder(net: Model) -> Model:
    """A one-step decoder model sharing the trained net's decoder weights (copied)."""
    emb, lstm, dense = (net.layer(n) for n in ("word_embedding", "decoder_lstm", "next_word"))
    vocab, feature = int(dense.output_shape[0]), int(net.layer("image_feature").output_shape[0])
    units = int(lstm.params["units"])
    word_in = eddl.Input([vocab], name="word")
    feat_in = eddl.Input([feature], name="feature")
    states_in = eddl.States([2, units], name="states")
    w = eddl.ReduceArgMax(word_in, [0], name="step_argmax")
    w = eddl.Embedding(w, vocab, 1, int(emb.params["output_dim"]), True, name="step_embedding")
    step = eddl.LSTM(
        [eddl.Concat([w, feat_in], name="step_concat"), states_in], units, True, name="step_lstm"
    )
    out = eddl.Softmax(eddl.Dense(step, vocab, name="step_dense"), name="probs")
    new_states = eddl.GetStates(step, name="new_states")
    for src, dst in ((emb, w), (lstm, step), (dense, out.parents[0])):
        eddl.copyParam(src, dst)
    return Model([word_in, feat_in, states_in], [out, new_states], name="decoder_step")


def export_for_serving(net: Model, vocab: Vocabulary, folder: str | Path, max_len: int) -> Path:
    """Write the three serving files into `folder` (created); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if transformer.is_transformer(net):
        encoder, step = transformer.split(net)
        eddl.save_net_to_onnx_file(encoder, str(folder / "encoder.onnx"), checkpoint=False)
        eddl.save_net_to_onnx_file(step, str(folder / "decoder_step.onnx"), checkpoint=False)
        length = int(net.inputs[1].output_shape[0])
        meta = {"words": vocab.words, "max_len": length, "decoder": "transformer"}
        (folder / "vocab.json").write_text(json.dumps(meta))
        pack_single_file(folder)
        return folder
    encoder = Model([net.inputs[0]], [net.layer("image_feature")], name="report_encoder")
    eddl.save_net_to_onnx_file(encoder, str(folder / "encoder.onnx"), checkpoint=False)
    eddl.save_net_to_onnx_file(
        step_decoder(net), str(folder / "decoder_step.onnx"), checkpoint=False
    )
    units = int(net.layer("decoder_lstm").params["units"])
    meta = {"words": vocab.words, "max_len": int(max_len), "units": units, "states": 2}
    (folder / "vocab.json").write_text(json.dumps(meta))
    pack_single_file(folder)
    return folder


def pack_single_file(folder: str | Path) -> Path:
    """Write `report_generator.onnx` (decoder step + encoder and vocabulary as metadata)."""
    import onnx

    folder = Path(folder)
    proto = onnx.load(str(folder / "decoder_step.onnx"))
    encoded = base64.b64encode((folder / "encoder.onnx").read_bytes()).decode("ascii")
    for key, value in ((ENCODER_KEY, encoded), (VOCAB_KEY, (folder / "vocab.json").read_text())):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    path = folder / SINGLE_FILE
    onnx.save(proto, str(path))
    return path
