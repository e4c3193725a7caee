r"""Effect plots: a fit's predictions along a covariate, and the gap between two levels.

The numbers (reference grid, pointwise Wald bands) come from
:mod:`hlmlab.inference.grid`.

===========  ==============================================================
effect_plot  predictions on a grid with pointwise bands
gap_plot     the difference between two levels along a covariate
===========  ==============================================================
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hlmlab.graphics._axes import need, new_axes
from hlmlab.graphics._fits import yname
from hlmlab.graphics.palette import palette
from hlmlab.inference.grid import factor_levels, gap_band, prediction_band, reference_grid, used_data

__all__ = ["effect_plot", "gap_plot"]


def effect_plot(
    fit: Any,
    x: str,
    by: str | None = None,
    grid: pd.DataFrame | None = None,
    conf_level: float = 0.95,
    ddf: Any = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""Population-level predictions along x, one curve per level of ``by``, with pointwise bands.

    For each grid row with design row l (``inference.lgrid``), the
    estimate l'beta-hat and the band l'beta-hat ± t(DF) sqrt(l' V l)
    (:func:`hlmlab.inference.grid.prediction_band`). Without ``grid``: x over its observed range
    crossed with the levels of ``by``, other numeric variables at their
    means and other factors at their reference level. A contextual
    variable computed in the formula must be given its intended value on
    the grid. The bands are pointwise, not simultaneous.
    """
    ax = new_axes(ax)
    grid = reference_grid(fit, x, by) if grid is None else grid.reset_index(drop=True)
    need(grid, x, by)
    band = prediction_band(fit, grid, conf_level, ddf)
    groups = (
        [(None, grid.index)] if by is None else [(lev, grid.index[grid[by] == lev]) for lev in factor_levels(grid[by])]
    )
    colors = palette([g for g, _ in groups])
    for lev, idx in groups:
        order = np.argsort(grid.loc[idx, x].to_numpy(float))
        xs = grid.loc[idx, x].to_numpy(float)[order]
        b = band.loc[idx].iloc[order]
        ax.plot(xs, b["fit"], color=colors[lev], lw=2, label=None if lev is None else str(lev))
        ax.fill_between(xs, b["lower"], b["upper"], color=colors[lev], alpha=0.2)
    ax.set_xlabel(x)
    ax.set_ylabel(f"predicted {yname(fit)}")
    if by is not None:
        ax.legend(title=by, fontsize=8)
    ax.set_title(f"predictions with pointwise {100 * conf_level:g}% bands", fontsize=10)
    return ax


def gap_plot(
    fit: Any,
    x: str,
    factor: str,
    levels: tuple[Any, Any] | None = None,
    grid: pd.DataFrame | None = None,
    conf_level: float = 0.95,
    ddf: Any = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""The gap between two levels of ``factor`` as a function of x, with a pointwise band.

    At each x, l = x'(level b) − x'(level a) and the band l'beta-hat ± t(DF) sqrt(l'Vl). Where the band
    excludes 0 the gap is significant at that x alone; the band does not
    give joint coverage over x (:func:`hlmlab.inference.grid.gap_band`).
    """
    ax = new_axes(ax)
    used = used_data(fit)
    need(used, factor)
    levs = factor_levels(used[factor]) if levels is None else list(levels)
    if len(levs) < 2:
        raise ValueError(f"{factor!r} needs two levels to compare; got {levs}")
    a, b = levs[0], levs[-1] if levels is None else levs[1]
    base = reference_grid(fit, x, None) if grid is None else grid.reset_index(drop=True)
    need(base, x)
    band = gap_band(fit, base, factor, a, b, conf_level, ddf)
    order = np.argsort(base[x].to_numpy(float))
    xs = base[x].to_numpy(float)[order]
    bd = band.iloc[order]
    ax.plot(xs, bd["fit"], color="tab:purple", lw=2, label=f"{b} − {a}")
    ax.fill_between(
        xs, bd["lower"], bd["upper"], color="tab:purple", alpha=0.2, label=f"pointwise {100 * conf_level:g}% band"
    )
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel(x)
    ax.set_ylabel(f"gap in {yname(fit)} ({b} − {a})")
    ax.legend(fontsize=8)
    return ax
