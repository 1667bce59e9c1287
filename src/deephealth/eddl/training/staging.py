"""Batches gathered straight into pinned host memory and copied to the GPU without blocking.

A batch gathered into ordinary (pageable) memory is copied to the GPU synchronously: the Python
thread waits for the copy, and the GPU waits for the next kernels. `PinnedStaging` gathers each
batch (`index_select`) into one of two alternating page-locked buffers per input, then starts an
asynchronous copy, so the copy needs no extra host pass and the training loop runs ahead of the
GPU. A buffer is reused only after the copy out of it has finished (a CUDA event per buffer).
"""

from __future__ import annotations

import torch

SLOTS = 2  # buffers per input: one being copied while the next batch is gathered


class PinnedStaging:
    """Gather host batches into alternating pinned buffers and send them to a CUDA device.

    Args:
        device: The CUDA device the batches go to.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.buffers: dict[tuple[int, int], tuple[torch.Tensor, torch.cuda.Event | None]] = {}
        self.turn = 0

    def next_batch(self, tensors: list[torch.Tensor], idx: torch.Tensor) -> list[torch.Tensor]:
        """Rows `idx` of each host tensor, on the device (the copies run asynchronously)."""
        slot = self.turn
        self.turn = (self.turn + 1) % SLOTS
        return [self._send(i, slot, t, idx) for i, t in enumerate(tensors)]

    def _send(self, key: int, slot: int, host: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        n = int(idx.numel())
        buf, done = self.buffers.get((key, slot), (None, None))
        if (
            buf is None
            or buf.dtype != host.dtype
            or buf.shape[1:] != host.shape[1:]
            or len(buf) < n
        ):
            buf = torch.empty((n, *host.shape[1:]), dtype=host.dtype, pin_memory=True)
        elif done is not None:
            done.synchronize()  # the copy out of this buffer two batches ago has finished
        view = buf[:n]
        torch.index_select(host, 0, idx, out=view)
        out = view.to(self.device, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        self.buffers[(key, slot)] = (buf, event)
        return out
