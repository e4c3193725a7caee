r"""Pictures of the data: quantile plots of every column, a panel per group, panels by a factor.

==============  ===========================================================
quantile_plots  uniform or normal quantile plot of every column of a frame
trellis         a panel per group (ordered by a variable): points, LS line,
                data ellipse, smoother
panels          panels by a factor, colour groups within, a line per group
==============  ===========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy import stats

from hlmlab.graphics import geometry as geo
from hlmlab.graphics._axes import draw_ellipse, ls_line, need, smooth
from hlmlab.graphics.palette import palette
from hlmlab.inference.grid import factor_levels

__all__ = ["quantile_plots", "trellis", "panels"]


def _quantile_numeric(ax: plt.Axes, s: pd.Series, kind: str) -> None:
    v = np.sort(s.dropna().to_numpy(dtype=float))
    n = v.size
    p = (np.arange(1, n + 1) - 0.5) / n
    xq = p if kind == "uniform" else stats.norm.ppf(p)
    ax.plot(xq, v, ".", ms=2.5, color="tab:blue")
    m, sd = v.mean() if n else np.nan, v.std(ddof=1) if n > 1 else np.nan
    ax.axhline(m, color="tab:red", lw=1, label="mean")
    for k in (-1, 1):
        ax.axhline(m + k * sd, color="tab:red", lw=0.8, ls="--", label="± 1 SD" if k == 1 else None)
    ax.set_xlabel("fraction of data" if kind == "uniform" else "normal quantile")


def _quantile_factor(ax: plt.Axes, s: pd.Series) -> None:
    counts = s.astype("object").where(s.notna(), "NA").value_counts(sort=False)
    levels = [str(lev) for lev in (factor_levels(s))] + (["NA"] if s.isna().any() else [])
    counts.index = counts.index.map(str)
    counts = counts.reindex(levels, fill_value=0)
    ax.bar(
        range(len(counts)),
        counts.to_numpy(),
        color=["tab:blue"] * (len(counts) - s.isna().any()) + ["tab:gray"] * int(s.isna().any()),
    )
    ax.set_xticks(range(len(counts)), counts.index, rotation=30 if len(counts) > 4 else 0)
    ax.set_ylabel("count")


def quantile_plots(
    data: pd.DataFrame,
    kind: str = "uniform",
    columns: Sequence[str] | None = None,
    ncols: int = 4,
    max_levels: int = 25,
    height: float = 2.4,
) -> np.ndarray:
    r"""A quantile plot of every column: the data's shape at a glance (R's ``xqplot``).

    Numeric columns: sorted values y_(i) against the fractions (i − 1/2)/n
    (``kind="uniform"``) or their normal quantiles Φ^{-1}((i − 1/2)/n)
    (``kind="normal"``), with horizontal lines at the mean and mean ± 1 SD.
    Factors (and numeric columns with few distinct values are *not* treated
    as factors): a bar chart of counts with missing values as an ``NA`` bar.
    Factors with more than ``max_levels`` levels (identifiers) are plotted
    as numbers if numeric, otherwise skipped. Titles give the number of NAs.

    Returns
    -------
    numpy.ndarray of Axes, one per column plotted (unused panels removed).
    """
    if kind not in ("uniform", "normal"):
        raise ValueError(f"kind must be 'uniform' or 'normal'; got {kind!r}")
    columns = list(data.columns) if columns is None else list(columns)
    need(data, *columns)
    numeric = [pd.api.types.is_numeric_dtype(data[c].dtype) and data[c].dtype != bool for c in columns]
    keep = [c for c, num in zip(columns, numeric) if num or data[c].nunique() <= max_levels]
    if not keep:
        raise ValueError("no column to plot")
    nrows = int(np.ceil(len(keep) / ncols))
    fig, axes = plt.subplots(
        nrows, min(ncols, len(keep)), figsize=(height * 1.25 * min(ncols, len(keep)), height * nrows), squeeze=False
    )
    axes = axes.ravel()
    for ax, c in zip(axes, keep):
        s = data[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and s.dtype != bool:
            _quantile_numeric(ax, s, kind)
        else:
            _quantile_factor(ax, s)
        ax.set_title(f"{c}" + (f" (NA: {int(s.isna().sum())})" if s.isna().any() else ""), fontsize=10)
    for ax in axes[len(keep) :]:
        fig.delaxes(ax)
    fig.tight_layout()
    return axes[: len(keep)]


# ---------------------------------------------------------------------------
# trellis panels
# ---------------------------------------------------------------------------
def _group_order(data: pd.DataFrame, group: str, order_by: str | Sequence[str] | None) -> list:
    """Groups sorted by the group mean (numeric) or first value (factor) of ``order_by``."""
    if order_by is None:
        return factor_levels(data[group])
    keys = [order_by] if isinstance(order_by, str) else list(order_by)
    need(data, *keys)
    g = data.groupby(group, observed=True, sort=True)
    summ = pd.DataFrame(
        {
            k: (
                g[k].mean()
                if pd.api.types.is_numeric_dtype(data[k].dtype) and data[k].dtype != bool
                else g[k].first().astype("category").cat.codes
                if isinstance(data[k].dtype, pd.CategoricalDtype)
                else g[k].first()
            )
            for k in keys
        }
    )
    return list(summ.sort_values(keys, kind="stable").index)


def _panel_title(data: pd.DataFrame, group: str, label_by: str | Sequence[str] | None) -> dict:
    if label_by is None:
        return {}
    keys = [label_by] if isinstance(label_by, str) else list(label_by)
    need(data, *keys)
    first = data.groupby(group, observed=True)[keys].first()
    return {gval: f"{gval} " + " ".join(str(v) for v in row) for gval, row in first.iterrows()}


def trellis(
    data: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    order_by: str | Sequence[str] | None = None,
    label_by: str | Sequence[str] | None = None,
    hue: str | None = None,
    ellipse: float | Sequence[float] | None = None,
    smoother: bool = False,
    frac: float = 0.75,
    col_wrap: int = 8,
    height: float = 1.6,
    **scatter_kws: Any,
) -> sns.FacetGrid:
    r"""One panel per group: the points, the least-squares line, optional data ellipse and smoother.

    Panels run in the order of the groups' mean of ``order_by`` (for a
    factor, its level), so a trend across panels reflects that variable.
    With ``hue`` (e.g. Sex) the points are coloured by its levels and each
    level gets its own LS line within the panel.

    Parameters
    ----------
    ellipse : float or list of floats, optional
        Radii of the data ellipse (1: shadows are mean ± 1 SD).
    smoother : bool
        Add the local-linear smoother of :func:`smooth` (span ``frac``).
    label_by : column(s) constant within groups added to panel titles (e.g. Sector).
    """
    need(data, x, y, group, hue)
    order = _group_order(data, group, order_by)
    titles = _panel_title(data, group, label_by)
    hue_order = factor_levels(data[hue]) if hue is not None else None
    g = sns.FacetGrid(
        data,
        col=group,
        col_order=order,
        col_wrap=min(col_wrap, len(order)),
        height=height,
        hue=hue,
        hue_order=hue_order,
        palette=palette(hue_order) if hue else None,
        despine=False,
        sharex=True,
        sharey=True,
    )
    scatter_kws = {"s": 6, "alpha": 0.6, **scatter_kws}
    radii = [] if ellipse is None else list(np.atleast_1d(ellipse))

    def panel(*_: Any, data: pd.DataFrame, color: Any = None, label: Any = None, **__: Any) -> None:
        d = data
        ax = plt.gca()
        xv, yv = d[x].to_numpy(dtype=float), d[y].to_numpy(dtype=float)
        ax.scatter(xv, yv, color=color, label=label, **scatter_kws)
        ls_line(ax, xv, yv, color=color if hue else "tab:red", lw=1.2)
        ok = np.isfinite(xv) & np.isfinite(yv)
        if radii and ok.sum() > 2:
            e = geo.data_ellipse(xv[ok], yv[ok])
            for r in radii:
                draw_ellipse(e, ax, radius=r, color=color if hue else "tab:blue", lw=0.8, label=None)
        if smoother:
            gx, gy = smooth(xv, yv, frac=frac)
            ax.plot(gx, gy, color=color if hue else "tab:green", lw=1, ls="--")

    g.map_dataframe(panel)
    g.set_titles("{col_name}", size=8)
    for ax, name in zip(g.axes.flat, order):
        if name in titles:
            ax.set_title(titles[name], fontsize=8)
    g.set_axis_labels(x, y)
    if hue is not None:
        g.add_legend(title=hue)
    return g


def panels(
    data: pd.DataFrame,
    x: str,
    y: str,
    col: str,
    row: str | None = None,
    hue: str | None = None,
    lines_by: str | None = None,
    height: float = 3.2,
    **scatter_kws: Any,
) -> sns.FacetGrid:
    r"""Panels by a factor (and optionally a second one), colour groups within.

    Each panel shows the points coloured by ``hue`` with a least-squares
    line per ``hue`` level; with ``lines_by`` (e.g. school) each group's own
    LS line is drawn thin in its ``hue`` colour instead of the points, which
    shows how the groups' lines vary within each panel (e.g. schools within
    sector, or sector crossed with tertiles of mean ses).
    """
    need(data, x, y, col, row, hue, lines_by)
    hue_order = factor_levels(data[hue]) if hue is not None else None
    g = sns.FacetGrid(
        data,
        col=col,
        row=row,
        hue=hue,
        hue_order=hue_order,
        height=height,
        palette=palette(hue_order) if hue else None,
        col_order=factor_levels(data[col]),
        row_order=factor_levels(data[row]) if row else None,
        despine=False,
    )
    scatter_kws = {"s": 6, "alpha": 0.4, **scatter_kws}

    def panel(*_: Any, data: pd.DataFrame, color: Any = None, label: Any = None, **__: Any) -> None:
        d = data
        ax = plt.gca()
        if lines_by is None:
            ax.scatter(d[x], d[y], color=color, **scatter_kws)
        else:
            for _, dd in d.groupby(lines_by, observed=True):
                ls_line(ax, dd[x].to_numpy(float), dd[y].to_numpy(float), color=color, lw=0.7, alpha=0.7)
        ls_line(ax, d[x].to_numpy(float), d[y].to_numpy(float), color=color if hue else "black", lw=2.5, label=label)

    g.map_dataframe(panel)
    g.set_titles("{row_name} | {col_name}" if row else "{col_name}", size=9)
    g.set_axis_labels(x, y)
    if hue is not None:
        g.add_legend(title=hue)
    return g
