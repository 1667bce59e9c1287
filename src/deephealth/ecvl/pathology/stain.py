"""Stain normalization (Macenko, Reinhard) and stain augmentation of RGB histology tiles.

Bright-field stains absorb light following Beer-Lambert, so in optical density
``OD = -log(I / I0)`` every pixel is a non-negative mix of a few stain vectors. Macenko (2009)
estimates the two stain vectors of an image from the extreme angles of its OD pixels in their
principal plane, then maps the source's stain concentrations onto the target's stain vectors and
concentration range. Reinhard (2001) matches the per-channel mean and standard deviation in the
Lab colour space. :class:`RandStainAugment` perturbs the stain concentrations (scale and shift
per stain, Tellez et al. 2018) on the Ruifrok H-E-DAB basis or on a Macenko estimate. All work on
``(H, W, 3)`` uint8 RGB arrays.
"""

from __future__ import annotations

import numpy as np

_I0 = 255.0


def _to_od(rgb: np.ndarray) -> np.ndarray:
    return -np.log((rgb.astype(np.float32) + 1.0) / (_I0 + 1.0))


def _from_od(od: np.ndarray) -> np.ndarray:
    return np.clip((_I0 + 1.0) * np.exp(-od) - 1.0, 0, 255).round().astype(np.uint8)


def _check_rgb(rgb: np.ndarray, what: str = "image") -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"stain processing needs an (H, W, 3) uint8 RGB {what}, got {rgb.shape} {rgb.dtype}"
        )
    return rgb


def macenko_stain_matrix(rgb: np.ndarray, *, beta: float = 0.15, alpha: float = 1.0) -> np.ndarray:
    """Estimate the H&E stain matrix of an RGB image by Macenko's method.

    Args:
        rgb: ``(H, W, 3)`` uint8 image.
        beta: optical-density threshold below which pixels count as background.
        alpha: percentile of the extreme angles (robust minimum / maximum).

    Returns:
        ``(2, 3)`` array of unit OD vectors: first the stain absorbing more red light
        (hematoxylin in H&E), then the other one.

    Raises:
        ValueError: too few stained pixels to estimate two stains.
    """
    od = _to_od(_check_rgb(rgb)).reshape(-1, 3)
    od = od[(od > beta).all(axis=1)]
    if len(od) < 16:
        raise ValueError(f"only {len(od)} stained pixels (OD > {beta}); cannot estimate stains")
    _, vecs = np.linalg.eigh(np.cov(od, rowvar=False))
    plane = vecs[:, 1:3]  # the two largest eigenvectors
    plane = plane * np.sign(plane.sum(axis=0, keepdims=True) + 1e-12)  # point into positive OD
    proj = od @ plane
    phi = np.arctan2(proj[:, 1], proj[:, 0])
    lo, hi = np.percentile(phi, [alpha, 100 - alpha])
    v1 = plane @ np.array([np.cos(lo), np.sin(lo)])
    v2 = plane @ np.array([np.cos(hi), np.sin(hi)])
    stains = np.stack([v1, v2]) if v1[0] > v2[0] else np.stack([v2, v1])
    stains = np.abs(stains)
    return (stains / np.linalg.norm(stains, axis=1, keepdims=True)).astype(np.float32)


def stain_concentrations(rgb: np.ndarray, stains: np.ndarray) -> np.ndarray:
    """Least-squares stain concentrations ``(H, W, k)`` of ``rgb`` for ``(k, 3)`` stain vectors."""
    od = _to_od(_check_rgb(rgb)).reshape(-1, 3)
    conc, *_ = np.linalg.lstsq(stains.T.astype(np.float64), od.T.astype(np.float64), rcond=None)
    return conc.T.reshape(rgb.shape[0], rgb.shape[1], -1).astype(np.float32)


class MacenkoNormalizer:
    """Macenko stain normalization: fit on a target image, transform other images to its stains.

    Args:
        beta: background optical-density threshold.
        alpha: robust percentile of the extreme angles.
        percentile: concentration percentile used as each stain's maximum.
    """

    def __init__(self, beta: float = 0.15, alpha: float = 1.0, percentile: float = 99.0) -> None:
        self.beta = beta
        self.alpha = alpha
        self.percentile = percentile
        self.stains: np.ndarray | None = None
        self.max_concentrations: np.ndarray | None = None

    def _estimate(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        stains = macenko_stain_matrix(rgb, beta=self.beta, alpha=self.alpha)
        conc = stain_concentrations(rgb, stains)
        cmax = np.percentile(conc.reshape(-1, conc.shape[-1]), self.percentile, axis=0)
        return stains, conc, np.maximum(cmax, 1e-6)

    def fit(self, target: np.ndarray) -> MacenkoNormalizer:
        """Learn the target's stain vectors and concentration maxima."""
        self.stains, _, self.max_concentrations = self._estimate(target)
        return self

    def transform(self, rgb: np.ndarray) -> np.ndarray:
        """Return ``rgb`` re-stained with the target's stains (uint8, same shape)."""
        if self.stains is None or self.max_concentrations is None:
            raise RuntimeError("MacenkoNormalizer.transform called before fit")
        _, conc, cmax = self._estimate(rgb)
        conc = conc * (self.max_concentrations / cmax)
        return _from_od(conc @ self.stains)

    __call__ = transform


def _lab_stats(lab: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    pixels = lab.reshape(-1, 3) if mask is None else lab[mask]
    return pixels.mean(axis=0), np.maximum(pixels.std(axis=0), 1e-6)


class ReinhardNormalizer:
    """Reinhard colour normalization: match mean and standard deviation in Lab space.

    Args:
        ignore_background: compute statistics on non-white pixels only (Lab ``L`` below
            ``background_l``) and leave white background untouched.
        background_l: ``L`` (0-100) above which a pixel counts as background.
    """

    def __init__(self, ignore_background: bool = True, background_l: float = 90.0) -> None:
        self.ignore_background = ignore_background
        self.background_l = background_l
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def _lab(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        import cv2

        lab = cv2.cvtColor(_check_rgb(rgb).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        mask = lab[:, :, 0] < self.background_l if self.ignore_background else None
        if mask is not None and mask.sum() < 16:
            mask = None
        return lab, mask

    def fit(self, target: np.ndarray) -> ReinhardNormalizer:
        """Learn the target's Lab mean and standard deviation."""
        lab, mask = self._lab(target)
        self.mean, self.std = _lab_stats(lab, mask)
        return self

    def transform(self, rgb: np.ndarray) -> np.ndarray:
        """Return ``rgb`` with the target's Lab statistics (uint8, same shape)."""
        import cv2

        if self.mean is None or self.std is None:
            raise RuntimeError("ReinhardNormalizer.transform called before fit")
        lab, mask = self._lab(rgb)
        mean, std = _lab_stats(lab, mask)
        out = (lab - mean) / std * self.std + self.mean
        if mask is not None:
            out[~mask] = lab[~mask]
        rgb_out = cv2.cvtColor(out.astype(np.float32), cv2.COLOR_Lab2RGB)
        return np.clip(rgb_out * 255.0, 0, 255).round().astype(np.uint8)

    __call__ = transform


def _ruifrok_hed() -> np.ndarray:
    from skimage.color import rgb_from_hed

    m = np.asarray(rgb_from_hed, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


class RandStainAugment:
    """Random stain augmentation: scale and shift each stain's concentration.

    For every call, each stain concentration ``c`` becomes ``c * a + b * w`` with
    ``a ~ U(1 - sigma_scale, 1 + sigma_scale)`` and ``b ~ U(-sigma_shift, sigma_shift)``; ``w``
    is the pixel's stain weight (0 on glass, 1 on tissue), so the background stays white.

    Args:
        sigma_scale: half-width of the concentration scale range.
        sigma_shift: half-width of the concentration shift range (optical density).
        method: ``"hed"`` (Ruifrok H, E, DAB basis) or ``"macenko"`` (the image's own two
            stains, estimated per call).
        seed: seed of the generator (a ``numpy.random.Generator`` may be passed to ``__call__``).
    """

    def __init__(
        self,
        sigma_scale: float = 0.05,
        sigma_shift: float = 0.05,
        method: str = "hed",
        seed: int | None = None,
    ) -> None:
        if method not in ("hed", "macenko"):
            raise ValueError(f"method must be 'hed' or 'macenko', got '{method}'")
        self.sigma_scale = sigma_scale
        self.sigma_shift = sigma_shift
        self.method = method
        self.rng = np.random.default_rng(seed)

    def __call__(self, rgb: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Return an augmented copy of ``rgb`` (uint8, same shape)."""
        rng = rng or self.rng
        rgb = _check_rgb(rgb)
        stains = _ruifrok_hed() if self.method == "hed" else macenko_stain_matrix(rgb)
        conc = stain_concentrations(rgb, stains)
        k = stains.shape[0]
        scale = rng.uniform(1 - self.sigma_scale, 1 + self.sigma_scale, size=k).astype(np.float32)
        shift = rng.uniform(-self.sigma_shift, self.sigma_shift, size=k).astype(np.float32)
        weight = np.clip(_to_od(rgb).sum(axis=2, keepdims=True) / 0.3, 0.0, 1.0)
        residual = _to_od(rgb) - conc @ stains
        return _from_od((conc * scale + shift * weight) @ stains + residual)
