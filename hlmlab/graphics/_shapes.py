"""Checking the pieces of an ellipse: a shape matrix, a centre, radii; and the factor A with A A' = S.

An ellipse is { c + r A u : |u| = 1 } for a centre c, a radius r and a
shape S = A A' (symmetric, positive semi-definite).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["check_shape"]

_TOL = 1e-8


def check_shape(shape: Any, dim: int | None = None, name: str = "shape") -> np.ndarray:
    """Return ``shape`` as a float array after checking it is symmetric PSD.

    Parameters
    ----------
    shape : array-like, (d, d)
    dim : int, optional
        The required dimension d.
    name : str
        Used in error messages.

    Raises
    ------
    ValueError
        If ``shape`` is not square, not of dimension ``dim``, has non-finite
        entries, is not symmetric (relative tolerance 1e-8) or has a negative
        eigenvalue below -1e-8 times the largest absolute eigenvalue.
    """
    s = np.asarray(shape.to_numpy() if isinstance(shape, pd.DataFrame) else shape, dtype=float)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got an array of shape {s.shape}")
    if dim is not None and s.shape[0] != dim:
        raise ValueError(f"{name} must be {dim} x {dim} to match the centre; got {s.shape[0]} x {s.shape[1]}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name} has missing or infinite entries")
    scale = max(np.abs(s).max(), np.finfo(float).tiny)
    if np.abs(s - s.T).max() > _TOL * scale:
        raise ValueError(f"{name} must be symmetric; it differs from its transpose by {np.abs(s - s.T).max():.3g}")
    s = (s + s.T) / 2
    ev = np.linalg.eigvalsh(s)
    if ev.min() < -_TOL * max(np.abs(ev).max(), np.finfo(float).tiny):
        raise ValueError(f"{name} must be positive semi-definite; its smallest eigenvalue is {ev.min():.3g}")
    return s


def _factor(shape: np.ndarray) -> np.ndarray:
    r"""A with A A' = S from the SVD S = U D U': A = U D^{1/2} (works when S is singular).

    Singular values below 1e-12 times the largest are set to zero, so a shape
    that is singular up to rounding gives an exact segment.
    """
    u, d, _ = np.linalg.svd(shape, hermitian=True)
    d = np.where(d > 1e-12 * max(d.max(initial=0.0), np.finfo(float).tiny), d, 0.0)  # numerical rank
    return u * np.sqrt(d)


def _center(center: Any, dim: int | None = None) -> np.ndarray:
    c = np.asarray(center, dtype=float).ravel()
    if dim is not None and c.size != dim:
        raise ValueError(f"center has {c.size} values but the shape is {dim} x {dim}: their lengths must match")
    if not np.all(np.isfinite(c)):
        raise ValueError("center has missing or infinite values")
    return c


def _radii(radius: Any) -> np.ndarray:
    r = np.atleast_1d(np.asarray(radius, dtype=float))
    if r.ndim != 1 or r.size == 0 or not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError(f"radius must be a non-negative number or a 1-D list of them; got {radius!r}")
    return r
