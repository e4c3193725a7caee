r"""Diagnostic plots of a fit: normal quantiles, residuals, spread, influence.

================  =========================================================
qq_plot           normal quantile plot of values, by a factor
qq_residuals      ... of a fit's (level-1) residuals
qq_ranef          ... of the BLUPs, a panel per random effect
residuals_fitted  residuals against fitted values, with a smoother
scale_location    sqrt|standardized residual| against fitted
influence_plot    change in each coefficient when each group is dropped
================  =========================================================
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from hlmlab.graphics._axes import new_axes, smooth
from hlmlab.graphics._fits import fitted, group_values, ranef_frame, resid
from hlmlab.graphics.palette import palette
from hlmlab.inference.grid import factor_levels, used_data

__all__ = ["qq_plot", "qq_residuals", "qq_ranef", "residuals_fitted", "scale_location", "influence_plot"]


def qq_plot(
    values: Any, by: Any = None, ax: plt.Axes | None = None, label: str = "value", line: bool = True
) -> plt.Axes:
    r"""Normal quantile plot, one colour per level of ``by``.

    Each level's sorted values v_(i) against Φ^{-1}((i − 1/2)/n_level), with
    a reference line through the level's quartiles (slope IQR / 1.349).
    """
    v = pd.Series(np.asarray(values, dtype=float).ravel())
    if by is None:
        groups = pd.Series(["all"] * len(v))
    else:
        groups = pd.Series(np.asarray(by).ravel())
        if len(groups) != len(v):
            raise ValueError(f"by has {len(groups)} values but there are {len(v)} values: lengths must match")
    ax = new_axes(ax, (5, 4.5))
    levels = factor_levels(groups)
    colors = palette(levels)
    for lev in levels:
        s = np.sort(v[(groups == lev).to_numpy()].dropna().to_numpy())
        if s.size == 0:
            continue
        q = stats.norm.ppf((np.arange(1, s.size + 1) - 0.5) / s.size)
        ax.plot(q, s, "o", ms=3, color=colors[lev], label=None if by is None else str(lev))
        if line and s.size > 3:
            q1, q3 = np.quantile(s, [0.25, 0.75])
            slope = (q3 - q1) / (2 * stats.norm.ppf(0.75))
            ax.plot(q[[0, -1]], np.median(s) + slope * q[[0, -1]], color=colors[lev], lw=1)
    ax.set_xlabel("normal quantile")
    ax.set_ylabel(label)
    if by is not None:
        ax.legend(fontsize=8)
    return ax


def qq_residuals(
    fit: Any,
    level: int | None = None,
    type: str = "pearson",
    by: str | None = None,  # noqa: A002
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Normal quantile plot of the fit's residuals (level-1 for an lme fit), optionally by a factor."""
    r = resid(fit, level, type)
    groups = None if by is None else used_data(fit)[by].reset_index(drop=True)
    ax = qq_plot(r, groups, ax=ax, label=f"{type} residual")
    ax.set_title("residuals", fontsize=10)
    return ax


def qq_ranef(fit: Any, by: str | None = None, group: str | None = None, level: Any = None) -> np.ndarray:
    """Normal quantile plot of the BLUPs, one panel per random effect, coloured by a group-level factor.

    ``level`` picks a level of a nested model (default: the innermost), and
    ``group`` is then its grouping column.
    """
    re = ranef_frame(fit, level)
    groups = None
    if by is not None:
        groups = group_values(fit, by, re.index, group)
    fig, axes = plt.subplots(1, re.shape[1], figsize=(4.2 * re.shape[1], 4), squeeze=False)
    for ax, c in zip(axes.ravel(), re.columns):
        qq_plot(re[c], groups, ax=ax, label=f"BLUP of {c}")
    fig.tight_layout()
    return axes.ravel()


def residuals_fitted(
    fit: Any, level: int | None = None, by: str | None = None, frac: float = 0.5, ax: plt.Axes | None = None
) -> plt.Axes:
    r"""Residuals e_i against fitted values, with a zero line and a local-linear smoother per level of ``by``.

    For an lme fit at level 1 the smoother slopes upward: the BLUPs shrink
    each group's fitted values toward the population line, so residuals
    keep part of the group effect and correlate with the fitted values.
    """
    f = np.asarray(fitted(fit, level), float)
    r = np.asarray(resid(fit, level), float)
    return _scatter_smooth(
        f,
        r,
        None if by is None else used_data(fit)[by].reset_index(drop=True),
        frac,
        ax,
        "fitted",
        "residual",
        zero=True,
    )


def scale_location(
    fit: Any, level: int | None = None, by: str | None = None, frac: float = 0.5, ax: plt.Axes | None = None
) -> plt.Axes:
    r"""sqrt(abs(standardized residual)) against fitted values, with a smoother per level of ``by``.

    A flat smoother means constant residual spread; rising means the
    spread grows with the fitted value; separate smoothers show whether
    the levels of ``by`` have different residual variances.
    """
    f = np.asarray(fitted(fit, level), float)
    r = np.asarray(resid(fit, level, "pearson"), float)
    return _scatter_smooth(
        f,
        np.sqrt(np.abs(r)),
        None if by is None else used_data(fit)[by].reset_index(drop=True),
        frac,
        ax,
        "fitted",
        "√|standardized residual|",
        zero=False,
    )


def _scatter_smooth(x, y, groups, frac, ax, xlabel, ylabel, zero):
    ax = new_axes(ax)
    g = pd.Series(["all"] * len(x)) if groups is None else pd.Series(groups)
    levels = factor_levels(g)
    colors = palette(levels)
    for lev in levels:
        m = (g == lev).to_numpy()
        ax.scatter(x[m], y[m], s=5, alpha=0.35, color=colors[lev])
        gx, gy = smooth(x[m], y[m], frac=frac)
        ax.plot(gx, gy, color=colors[lev], lw=2, label=None if groups is None else str(lev))
    if zero:
        ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if groups is not None:
        ax.legend(fontsize=8)
    return ax


def influence_plot(result: Any, top: int = 3, ax: plt.Axes | None = None) -> plt.Axes:
    r"""Change in each coefficient, in SE units, when each group is dropped.

    ``result`` is an ``inference.dropone`` result (its ``changes``:
    (beta_(-g) − beta) / SE(beta)) or such a DataFrame (rows: groups,
    columns: coefficients). One column of points per coefficient; the
    ``top`` groups with the largest absolute change in each are labelled.
    """
    ch = getattr(result, "changes", result)
    if not isinstance(ch, pd.DataFrame):
        raise TypeError("result must be a dropone result or a DataFrame of changes (groups × coefficients)")
    ax = new_axes(ax, (max(5, 1.3 * ch.shape[1]), 4.5))
    rng = np.random.default_rng(0)
    for k, c in enumerate(ch.columns):
        v = ch[c].to_numpy(float)
        xj = k + rng.uniform(-0.15, 0.15, v.size)
        ax.scatter(xj, v, s=12, color="tab:blue", alpha=0.7)
        worst = np.argsort(-np.nan_to_num(np.abs(v), nan=-1))[:top]
        for i in worst:
            ax.annotate(str(ch.index[i]), (xj[i], v[i]), fontsize=7, xytext=(3, 0), textcoords="offset points")
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xticks(range(ch.shape[1]), [str(c) for c in ch.columns], rotation=30, ha="right")
    ax.set_ylabel("change when the group is dropped (SE units)")
    return ax
