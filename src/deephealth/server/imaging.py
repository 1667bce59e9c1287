"""Pictures for the pages: thumbnails of dataset samples (DICOM and NIfTI slices with CT
windowing) and segmentation overlays, as PNG bytes.

Images are read with ECVL (`ImRead`, any format it knows); a volume shows its middle slice. CT
images (DICOM `Modality` CT, or a window asked for) are windowed in Hounsfield units: the window
comes from the request (`center,width` or a preset name), else the file's `WindowCenter` /
`WindowWidth`, else the soft-tissue preset. Other images are stretched between their 1st and 99th
percentiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

WINDOW_PRESETS = {
    "soft": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}


def parse_window(text: str | None) -> tuple[float, float] | None:
    """A (center, width) window from a preset name or "center,width"; None when empty.

    Raises:
        ValueError: for anything else.
    """
    if not text:
        return None
    if text in WINDOW_PRESETS:
        return WINDOW_PRESETS[text]
    try:
        center, width = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(
            f"window {text!r}: use a preset {sorted(WINDOW_PRESETS)} or 'center,width'"
        ) from None
    if width <= 0:
        raise ValueError(f"window {text!r}: width must be > 0")
    return center, width


def _first(value: Any) -> float | None:
    if isinstance(value, list | tuple | np.ndarray):
        value = value[0] if len(value) else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def image_hwc(img: Any) -> np.ndarray:
    """An ECVL Image as a (H, W, C) array (the middle slice of a volume)."""
    data = np.asarray(img.data)
    layout = img.channels
    if "z" in layout:
        z = layout.index("z")
        data = np.take(data, data.shape[z] // 2, axis=z)
        layout = layout.replace("z", "")
    if "c" not in layout:
        data, layout = data[..., None], layout + "c"
    return np.transpose(data, [layout.index("y"), layout.index("x"), layout.index("c")])


def image_dhwc(img: Any) -> np.ndarray:
    """An ECVL Image as a (D, H, W, C) array (a 2D image is a volume of one slice)."""
    data = np.asarray(img.data)
    layout = img.channels
    if "z" not in layout:
        data, layout = data[..., None], layout + "z"
    if "c" not in layout:
        data, layout = data[..., None], layout + "c"
    return np.transpose(data, [layout.index(a) for a in "zyxc"])


def display(
    hwc: np.ndarray, meta: dict | None = None, window: tuple[float, float] | None = None
) -> np.ndarray:
    """An (H, W, C) image as 8-bit (H, W) or (H, W, 3) for display, windowed as described above."""
    data = hwc.astype(np.float32)
    if data.shape[2] not in (1, 3):
        data = data[:, :, :1]
    if data.shape[2] == 1:
        data = data[:, :, 0]
    meta = meta or {}
    if window is None and str(meta.get("Modality", "")).upper() == "CT":
        center, width = _first(meta.get("WindowCenter")), _first(meta.get("WindowWidth"))
        window = (center, width) if center is not None and width else WINDOW_PRESETS["soft"]
    if window is not None:
        lo, hi = window[0] - window[1] / 2, window[0] + window[1] / 2
    elif hwc.dtype == np.uint8:
        lo, hi = 0.0, 255.0
    else:
        lo, hi = (float(v) for v in np.percentile(data, [1, 99])) if data.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    return (np.clip((data - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def to_display(img: Any, window: tuple[float, float] | None = None) -> np.ndarray:
    """An ECVL Image as an 8-bit array for display (middle slice of volumes)."""
    return display(image_hwc(img), getattr(img, "meta", None), window)


def png_bytes(array: np.ndarray) -> bytes:
    """Encode an 8-bit (H, W) or RGB (H, W, 3) array as PNG."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", array)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def fit(array: np.ndarray, size: int) -> np.ndarray:
    """Resize so that the longer side is `size` pixels (nearest for masks is the caller's job)."""
    h, w = array.shape[:2]
    scale = size / max(h, w)
    if scale == 1:
        return array
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(
        array, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp
    )


def thumbnail(
    path: str | Path, size: int = 128, window: tuple[float, float] | None = None
) -> bytes:
    """A PNG thumbnail of an image file (any format ECVL reads)."""
    from deephealth.ecvl import ImRead

    return png_bytes(fit(to_display(ImRead(str(path)), window), size))


def caption(gray_or_rgb: np.ndarray, text: str, size: int = 512) -> np.ndarray:
    """The image fitted to `size` with `text` written in a band under it; returns RGB."""
    base = fit(gray_or_rgb, size)
    base = base if base.ndim == 3 else np.repeat(base[:, :, None], 3, axis=2)
    band = np.full((28, base.shape[1], 3), 255, np.uint8)
    cv2.putText(
        band, text[:60], (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (11, 111, 184), 1, cv2.LINE_AA
    )
    return np.concatenate([base, band], axis=0)


def overlay(gray_or_rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a label mask (H, W; 0 = background) in colour over an 8-bit image; returns RGB."""
    base = gray_or_rgb if gray_or_rgb.ndim == 3 else np.repeat(gray_or_rgb[:, :, None], 3, axis=2)
    if mask.shape != base.shape[:2]:
        mask = cv2.resize(
            mask.astype(np.uint8), (base.shape[1], base.shape[0]), interpolation=cv2.INTER_NEAREST
        )
    palette = np.array(
        [[0, 0, 0], [255, 60, 60], [60, 200, 60], [60, 120, 255], [255, 200, 0], [200, 60, 255]],
        np.float32,
    )
    colors = palette[np.clip(mask.astype(np.int64), 0, len(palette) - 1)]
    out = base.astype(np.float32)
    sel = mask > 0
    out[sel] = (1 - alpha) * out[sel] + alpha * colors[sel]
    return out.astype(np.uint8)


def draw_boxes(
    gray_or_rgb: np.ndarray, boxes: list[list[float]], color: tuple[int, int, int] = (255, 60, 60)
) -> np.ndarray:
    """Draw corner boxes [x0, y0, x1, y1] (pixels of the image) on an 8-bit image; returns RGB."""
    out = gray_or_rgb if gray_or_rgb.ndim == 3 else np.repeat(gray_or_rgb[:, :, None], 3, axis=2)
    out = np.ascontiguousarray(out, dtype=np.uint8)
    for b in boxes:
        x0, y0, x1, y1 = (int(round(v)) for v in b)
        cv2.rectangle(out, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), color, 1)
    return out
