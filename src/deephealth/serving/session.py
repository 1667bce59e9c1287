"""`InferenceSession`: run an ONNX model with onnxruntime, preprocessing included, without torch.

The production path of DeepHealth: pipelines and the web server load a model exported by
`deephealth.eddl` (or any ONNX file) and call `run` on numpy arrays, one sample or a batch. The
session applies the preprocessing stored beside the model (see `preprocessing.py`), feeds
onnxruntime directly, and adds nothing per call beyond a dtype check, so it runs at onnxruntime's
own speed. Only numpy and onnxruntime are imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from deephealth.errors import ServerError
from deephealth.serving.preprocessing import Preprocessing, load_preprocessing

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


class ServingError(ServerError, RuntimeError):
    """A model cannot be loaded or run (bad file, unavailable device, wrong input)."""


def providers_for(device: str) -> list[str | tuple[str, dict[str, str]]]:
    """onnxruntime execution providers for `device` ("cpu", "cuda", "cuda:N" or "gpu").

    Raises:
        ServingError: for an unknown device, or CUDA asked but not available in this onnxruntime.
    """
    dev = device.lower().strip()
    if dev == "cpu":
        return ["CPUExecutionProvider"]
    kind, _, index = dev.partition(":")
    if kind not in ("cuda", "gpu") or (index and not index.isdigit()):
        raise ServingError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'")
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise ServingError(
            f"device {device!r} asked but onnxruntime has no CUDA provider (available: "
            f"{available}); install onnxruntime-gpu with a matching CUDA, or use device='cpu'"
        )
    return [("CUDAExecutionProvider", {"device_id": index or "0"}), "CPUExecutionProvider"]


class InferenceSession:
    """An ONNX model ready to serve predictions.

    Example:
        >>> sess = InferenceSession("classifier.onnx")            # doctest: +SKIP
        >>> probs = sess.run(batch)  # doctest: +SKIP
        >>> # (N, classes) for a batch, (classes,) for one sample

    Args:
        path: The `.onnx` file.
        device: "cpu" (default), "cuda" / "cuda:N" (CUDA provider, CPU fallback for other ops).
        threads: Intra-op threads (None: onnxruntime's default, all cores).
        preprocessing: Overrides the preprocessing stored beside the model.

    Attributes:
        path: The model file.
        device: The device asked for.
        preprocessing: What `run` applies to each input before the network.
        input_names, output_names: The graph's input and output names.
        input_shapes: Input shapes with the batch dimension (None where symbolic).

    Raises:
        FileNotFoundError: when `path` does not exist.
        ServingError: when the file is not a loadable ONNX model or the device is unavailable.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        device: str = "cpu",
        threads: int | None = None,
        preprocessing: Preprocessing | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no ONNX model at {self.path}")
        self.device = device
        options = ort.SessionOptions()
        if threads is not None:
            if threads < 1:
                raise ServingError(f"threads must be at least 1, got {threads}")
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=providers_for(device)
            )
        except ServingError:
            raise
        except Exception as err:  # onnxruntime raises its own exception classes
            raise ServingError(f"cannot load {self.path} as an ONNX model: {err}") from None
        meta = self._session.get_modelmeta().custom_metadata_map
        self.metadata: dict[str, str] = dict(meta)
        self.preprocessing = preprocessing or load_preprocessing(self.path, meta)
        inputs = self._session.get_inputs()
        self.input_names = [i.name for i in inputs]
        self.output_names = [o.name for o in self._session.get_outputs()]
        self.input_shapes = [
            tuple(d if isinstance(d, int) else None for d in i.shape) for i in inputs
        ]
        self._dtypes = [_ORT_DTYPES.get(i.type) for i in inputs]
        self._identity = self.preprocessing.is_identity
        layout = self.preprocessing.layout
        self._ranks = [len(layout) + 1 if layout else len(shape) for shape in self.input_shapes]

    @property
    def providers(self) -> list[str]:
        """The execution providers onnxruntime actually uses, in priority order."""
        return self._session.get_providers()

    @property
    def class_names(self) -> tuple[str, ...]:
        """Output class names stored with the model (empty when none)."""
        return self.preprocessing.class_names

    def _is_batched(self, i: int, x: np.ndarray) -> bool:
        rank = self._ranks[i]
        if x.ndim == rank:
            return True
        if x.ndim == rank - 1:
            return False
        raise ServingError(
            f"input '{self.input_names[i]}' takes {rank - 1}-D samples or {rank}-D batches "
            f"(model shape {self.input_shapes[i]}), got shape {x.shape}"
        )

    def _feed(self, i: int, x: np.ndarray) -> tuple[np.ndarray, bool]:
        """Input `i` ready for onnxruntime (preprocessed, cast, batched) and whether it was a batch."""
        if type(x) is np.ndarray and self._identity and x.dtype == self._dtypes[i]:
            if x.ndim == self._ranks[i]:  # the common case: a batch as the model wants it
                return x, True
        x = np.asarray(x)
        batched = self._is_batched(i, x)
        if not self._identity and self._dtypes[i] is np.float32:
            x = self.preprocessing.apply(x, batched=batched)
        elif self._dtypes[i] is not None and x.dtype != self._dtypes[i]:
            x = x.astype(self._dtypes[i])
        return (x if batched else x[None]), batched

    def _run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(inputs) != len(self.input_names):
            raise ServingError(
                f"{self.path.name} takes {len(self.input_names)} input(s) {self.input_names}, "
                f"got {len(inputs)}"
            )
        feeds: dict[str, np.ndarray] = {}
        batched = True
        for i, x in enumerate(inputs):
            feeds[self.input_names[i]], batched = self._feed(i, x)
        try:
            outs = self._session.run(None, feeds)
        except Exception as err:  # onnxruntime raises its own exception classes
            shapes = {k: v.shape for k, v in feeds.items()}
            raise ServingError(f"{self.path.name} failed on inputs {shapes}: {err}") from None
        return outs if batched else [o[0] for o in outs]

    def run_named(self, *inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run the model; returns every output by name (batch axis dropped for one sample)."""
        return dict(zip(self.output_names, self._run(inputs)))

    def run(self, *inputs: np.ndarray) -> np.ndarray | list[np.ndarray]:
        """Run the model on one sample or a batch per input.

        Args:
            *inputs: One array per model input, in `input_names` order: a batch (with the batch
                axis) or a single sample (without it), in the preprocessing's layout.

        Returns:
            The output array for a single-output model, else a list of arrays in `output_names`
            order. A single sample gives outputs without the batch axis.

        Raises:
            ServingError: wrong number of inputs, wrong rank, or onnxruntime rejecting the input.
        """
        outs = self._run(inputs)
        return outs[0] if len(outs) == 1 else outs

    def classify(self, x: np.ndarray) -> list[str]:
        """Names of the highest-scoring classes of a batch (or a one-item list for one sample).

        Raises:
            ServingError: when the model stores no class names or their number does not fit.
        """
        if not self.class_names:
            raise ServingError(f"{self.path.name} has no class names stored with it")
        scores = self.run_named(x)[self.output_names[0]]
        scores = scores.reshape(-1, scores.shape[-1])
        if scores.shape[-1] != len(self.class_names):
            raise ServingError(
                f"{self.path.name} gives {scores.shape[-1]} scores but stores "
                f"{len(self.class_names)} class names"
            )
        return [self.class_names[k] for k in scores.argmax(axis=1)]

    def __repr__(self) -> str:
        io = f"{self.input_names} -> {self.output_names}"
        return f"<InferenceSession {self.path.name} on {self.device}: {io}>"
