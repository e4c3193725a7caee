"""Small drawing helpers shared by the plots: a new Axes, column checks, lines, ellipses, limits."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hlmlab.graphics.geometry import Ellipse

__all__ = ["new_axes", "need", "smooth", "ls_line", "draw_ellipse", "include_zero", "equal_limits"]


def new_axes(ax: plt.Axes | None, figsize: tuple[float, float] = (6, 4.5)) -> plt.Axes:
    """``ax``, or the Axes of a new figure of size ``figsize``."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def need(data: pd.DataFrame, *cols: str | None) -> None:
    """KeyError naming the columns (None ignored) missing from ``data``."""
    missing = [c for c in cols if c is not None and c not in data.columns]
    if missing:
        raise KeyError(f"column(s) {missing} not found in the data; available columns: {list(data.columns)}")


def smooth(x: Any, y: Any, frac: float = 0.75, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    r"""Local-linear smoother with a tricube kernel (a LOWESS without robustness steps).

    At each of ``n`` grid points x0 between min(x) and max(x), fit y = a + b (x - x0)
    by weighted least squares with weights w_i = (1 - (abs(x_i - x0) / h)³)³ for
    abs(x_i - x0) < h, where h is the distance to the ceil(frac · n_obs)-th
    nearest x_i; the smooth value is a.

    Returns
    -------
    (grid, fitted) : two arrays of length ``n`` (fewer finite values when the
    data have fewer than 3 distinct x).
    """
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    if xs.size != ys.size:
        raise ValueError(f"x has {xs.size} values and y has {ys.size}: their lengths must match")
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if not 0 < frac <= 1:
        raise ValueError(f"frac must be in (0, 1]; got {frac}")
    if xs.size < 3 or np.ptp(xs) == 0:
        return np.array([]), np.array([])
    grid = np.linspace(xs.min(), xs.max(), int(n))
    k = max(3, int(np.ceil(frac * xs.size)))
    dist = np.abs(xs[None, :] - grid[:, None])
    h = np.sort(dist, axis=1)[:, min(k, xs.size) - 1] * 1.0001 + 1e-12
    w = np.clip(1 - (dist / h[:, None]) ** 3, 0, None) ** 3
    dx = xs[None, :] - grid[:, None]
    s0, s1, s2 = w.sum(1), (w * dx).sum(1), (w * dx**2).sum(1)
    t0, t1 = (w * ys).sum(1), (w * dx * ys).sum(1)
    det = s0 * s2 - s1**2
    with np.errstate(invalid="ignore", divide="ignore"):
        fit = np.where(det > 1e-12 * s0 * s2, (s2 * t0 - s1 * t1) / det, t0 / s0)
    return grid, fit


def ls_line(ax: plt.Axes, x: np.ndarray, y: np.ndarray, **kw: Any) -> Any:
    """The least-squares line y = b0 + b1 x over the range of x (None with < 2 points or no spread in x)."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return None
    b1, b0 = np.polyfit(x[ok], y[ok], 1)
    xx = np.array([x[ok].min(), x[ok].max()])
    return ax.plot(xx, b0 + b1 * xx, **kw)[0]


def draw_ellipse(
    e: Ellipse, ax: plt.Axes | None = None, radius: float | None = None, n: int = 200, center: bool = False, **kw: Any
) -> plt.Line2D:
    """Draw an :class:`~hlmlab.geometry.Ellipse` as a closed curve.

    ``radius`` overrides the ellipse's own; ``center=True`` also marks the centre.
    Returns the curve's Line2D.
    """
    ax = new_axes(ax)
    pts = (e if radius is None else e.scaled(radius)).points(n)
    kw.setdefault("label", e.label or None)
    line = ax.plot(pts[:, 0], pts[:, 1], **kw)[0]
    if center:
        ax.plot(*e.center, marker="+", color=line.get_color(), ms=10, mew=2, ls="none")
    return line


def include_zero(lim: tuple[float, float], pad: float = 0.05) -> tuple[float, float]:
    """Axis limits widened to contain 0 with a margin of ``pad`` times the new range."""
    lo, hi = float(lim[0]), float(lim[1])
    if lo < 0 < hi:
        return lo, hi
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    m = pad * (hi - lo)
    return (lo - m, hi) if lo == 0.0 else (lo, hi + m)


def equal_limits(ax: Any, pts: np.ndarray) -> None:
    """Cube limits m_k ± h around the midpoints of the points' ranges, and a cubic box."""
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if not len(pts):
        return
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    mid = (lo + hi) / 2
    h = float((hi - lo).max()) / 2
    h = h * 1.02 if h > 0 else 1.0
    ax.set_xlim(mid[0] - h, mid[0] + h)
    ax.set_ylim(mid[1] - h, mid[1] + h)
    ax.set_zlim(mid[2] - h, mid[2] + h)
    ax.set_box_aspect((1, 1, 1))
