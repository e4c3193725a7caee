r"""The course's pictures, one function each.

Every function draws with matplotlib (seaborn for faceted panels), returns
what it drew (an Axes, an array of Axes, or a seaborn FacetGrid), takes
``ax=`` when it draws a single panel, and labels its axes. The numbers behind
the pictures live in :mod:`hlmlab.geometry`.

==================  =========================================================
quantile_plots      uniform or normal quantile plot of every column of a frame
trellis             a panel per group (ordered by a variable): points, LS line,
                    data ellipse, smoother
panels              panels by a factor, colour groups within, a line per group
draw_ellipse        one Ellipse on an Axes
confidence_plot     coverage and shadows ellipses of two coefficients (or L beta)
beta_space          per-group OLS lines as points, per-level data ellipses and
                    the four methods' confidence ellipses
beta_difference     the difference between two levels in beta space
lines_and_points    the same lines in data space and in beta space
dispersion_plot     G, sigma²(X_j'X_j)^{-1} and V_j around gamma
shrinkage           BLUE to BLUP against group size (one-way model);
                    shrinkage_points draws it from arrays
shrinkage_beta      BLUE to BLUP in beta space, with both ellipses
effect_plot         predictions on a grid with pointwise bands
gap_plot            the difference between two levels along a covariate
qq_plot             normal quantile plot of values, by a factor
qq_residuals        ... of a fit's (level-1) residuals
qq_ranef            ... of the BLUPs, a panel per random effect
residuals_fitted    residuals against fitted values, with a smoother
scale_location      sqrt|standardized residual| against fitted
influence_plot      change in each coefficient when each group is dropped
scatter3d           3-D scatter, optionally with an ellipsoid
ranef3d             BLUPs of three random effects with the G ellipsoid
==================  =========================================================
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

__all__ = [
    "SECTOR_COLORS",
    "smooth",
    "quantile_plots",
    "trellis",
    "panels",
    "draw_ellipse",
    "confidence_plot",
    "beta_space",
    "beta_difference",
    "lines_and_points",
    "dispersion_plot",
    "shrinkage",
    "shrinkage_beta",
    "effect_plot",
    "gap_plot",
    "qq_plot",
    "residuals_fitted",
    "scale_location",
    "influence_plot",
    "scatter3d",
    "shrinkage_points",
    "qq_residuals",
    "qq_ranef",
    "ranef3d",
]

METHOD_COLORS = {"pooled": "black", "fixed": "tab:green", "two-stage": "tab:purple", "between": "tab:orange"}
METHOD_LABELS = {"pooled": "pooled OLS", "fixed": "fixed effects", "two-stage": "two-stage (MANOVA)",
                 "between": "between groups"}


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------
def _ax(ax: plt.Axes | None, figsize: tuple[float, float] = (6, 4.5)) -> plt.Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _need(data: pd.DataFrame, *cols: str | None) -> None:
    missing = [c for c in cols if c is not None and c not in data.columns]
    if missing:
        raise KeyError(f"column(s) {missing} not found in the data; available columns: {list(data.columns)}")


def _levels(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [lev for lev in s.cat.categories if (s == lev).any()]
    return sorted(s.dropna().unique())


LEVEL_COLORS = ["tab:blue", "tab:red", "tab:cyan", "tab:pink", "tab:olive", "tab:brown", "tab:gray"]
#: The book's one colouring of the school sector, used by every plot and chapter.
SECTOR_COLORS = {"Catholic": "tab:blue", "Public": "tab:red"}


def _palette(levels: Sequence, palette: Any = None) -> dict:
    """Colours for the levels of a factor (kept apart from the methods' colours).

    The sector's levels always get :data:`SECTOR_COLORS`, whatever their order.
    """
    if palette is None and set(levels) <= set(SECTOR_COLORS):
        return {lev: SECTOR_COLORS[lev] for lev in levels}
    if palette is None and len(levels) <= len(LEVEL_COLORS):
        return dict(zip(levels, LEVEL_COLORS))
    cols = sns.color_palette(palette or "husl", len(levels))
    return dict(zip(levels, cols))


def smooth(x: Any, y: Any, frac: float = 0.75, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    r"""Local-linear smoother with a tricube kernel (a LOWESS without robustness steps).

    At each of ``n`` grid points x0 between min(x) and max(x), fit y = a + b (x - x0)
    by weighted least squares with weights w_i = (1 - (|x_i - x0| / h)³)³ for
    |x_i - x0| < h, where h is the distance to the ceil(frac · n_obs)-th
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


def _ls_line(ax: plt.Axes, x: np.ndarray, y: np.ndarray, **kw: Any) -> Any:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return None
    b1, b0 = np.polyfit(x[ok], y[ok], 1)
    xx = np.array([x[ok].min(), x[ok].max()])
    return ax.plot(xx, b0 + b1 * xx, **kw)[0]


def draw_ellipse(e: geo.Ellipse, ax: plt.Axes | None = None, radius: float | None = None,
                 n: int = 200, center: bool = False, **kw: Any) -> plt.Line2D:
    """Draw an :class:`~hlmlab.geometry.Ellipse` as a closed curve.

    ``radius`` overrides the ellipse's own; ``center=True`` also marks the centre.
    Returns the curve's Line2D.
    """
    ax = _ax(ax)
    pts = (e if radius is None else e.scaled(radius)).points(n)
    kw.setdefault("label", e.label or None)
    line = ax.plot(pts[:, 0], pts[:, 1], **kw)[0]
    if center:
        ax.plot(*e.center, marker="+", color=line.get_color(), ms=10, mew=2, ls="none")
    return line


# ---------------------------------------------------------------------------
# quantile plots of every column
# ---------------------------------------------------------------------------
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
    levels = [str(lev) for lev in (_levels(s))] + (["NA"] if s.isna().any() else [])
    counts.index = counts.index.map(str)
    counts = counts.reindex(levels, fill_value=0)
    ax.bar(range(len(counts)), counts.to_numpy(), color=["tab:blue"] * (len(counts) - s.isna().any())
           + ["tab:gray"] * int(s.isna().any()))
    ax.set_xticks(range(len(counts)), counts.index, rotation=30 if len(counts) > 4 else 0)
    ax.set_ylabel("count")


def quantile_plots(data: pd.DataFrame, kind: str = "uniform", columns: Sequence[str] | None = None,
                   ncols: int = 4, max_levels: int = 25, height: float = 2.4) -> np.ndarray:
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
    _need(data, *columns)
    numeric = [pd.api.types.is_numeric_dtype(data[c].dtype) and data[c].dtype != bool for c in columns]
    keep = [c for c, num in zip(columns, numeric) if num or data[c].nunique() <= max_levels]
    if not keep:
        raise ValueError("no column to plot")
    nrows = int(np.ceil(len(keep) / ncols))
    fig, axes = plt.subplots(nrows, min(ncols, len(keep)), figsize=(height * 1.25 * min(ncols, len(keep)),
                                                                     height * nrows), squeeze=False)
    axes = axes.ravel()
    for ax, c in zip(axes, keep):
        s = data[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and s.dtype != bool:
            _quantile_numeric(ax, s, kind)
        else:
            _quantile_factor(ax, s)
        ax.set_title(f"{c}" + (f" (NA: {int(s.isna().sum())})" if s.isna().any() else ""), fontsize=10)
    for ax in axes[len(keep):]:
        fig.delaxes(ax)
    fig.tight_layout()
    return axes[: len(keep)]


# ---------------------------------------------------------------------------
# trellis panels
# ---------------------------------------------------------------------------
def _group_order(data: pd.DataFrame, group: str, order_by: str | Sequence[str] | None) -> list:
    """Groups sorted by the group mean (numeric) or first value (factor) of ``order_by``."""
    if order_by is None:
        return _levels(data[group])
    keys = [order_by] if isinstance(order_by, str) else list(order_by)
    _need(data, *keys)
    g = data.groupby(group, observed=True, sort=True)
    summ = pd.DataFrame({
        k: (g[k].mean() if pd.api.types.is_numeric_dtype(data[k].dtype) and data[k].dtype != bool
            else g[k].first().astype("category").cat.codes if isinstance(data[k].dtype, pd.CategoricalDtype)
            else g[k].first())
        for k in keys
    })
    return list(summ.sort_values(keys, kind="stable").index)


def _panel_title(data: pd.DataFrame, group: str, label_by: str | Sequence[str] | None) -> dict:
    if label_by is None:
        return {}
    keys = [label_by] if isinstance(label_by, str) else list(label_by)
    _need(data, *keys)
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
    _need(data, x, y, group, hue)
    order = _group_order(data, group, order_by)
    titles = _panel_title(data, group, label_by)
    hue_order = _levels(data[hue]) if hue is not None else None
    g = sns.FacetGrid(data, col=group, col_order=order, col_wrap=min(col_wrap, len(order)), height=height,
                      hue=hue, hue_order=hue_order, palette=_palette(hue_order) if hue else None,
                      despine=False, sharex=True, sharey=True)
    scatter_kws = {"s": 6, "alpha": 0.6, **scatter_kws}
    radii = [] if ellipse is None else list(np.atleast_1d(ellipse))

    def panel(*_: Any, data: pd.DataFrame, color: Any = None, label: Any = None, **__: Any) -> None:
        d = data
        ax = plt.gca()
        xv, yv = d[x].to_numpy(dtype=float), d[y].to_numpy(dtype=float)
        ax.scatter(xv, yv, color=color, label=label, **scatter_kws)
        _ls_line(ax, xv, yv, color=color if hue else "tab:red", lw=1.2)
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
    _need(data, x, y, col, row, hue, lines_by)
    hue_order = _levels(data[hue]) if hue is not None else None
    g = sns.FacetGrid(data, col=col, row=row, hue=hue, hue_order=hue_order, height=height,
                      palette=_palette(hue_order) if hue else None,
                      col_order=_levels(data[col]), row_order=_levels(data[row]) if row else None,
                      despine=False)
    scatter_kws = {"s": 6, "alpha": 0.4, **scatter_kws}

    def panel(*_: Any, data: pd.DataFrame, color: Any = None, label: Any = None, **__: Any) -> None:
        d = data
        ax = plt.gca()
        if lines_by is None:
            ax.scatter(d[x], d[y], color=color, **scatter_kws)
        else:
            for _, dd in d.groupby(lines_by, observed=True):
                _ls_line(ax, dd[x].to_numpy(float), dd[y].to_numpy(float), color=color, lw=0.7, alpha=0.7)
        _ls_line(ax, d[x].to_numpy(float), d[y].to_numpy(float), color=color if hue else "black", lw=2.5,
                 label=label)

    g.map_dataframe(panel)
    g.set_titles("{row_name} | {col_name}" if row else "{col_name}", size=9)
    g.set_axis_labels(x, y)
    if hue is not None:
        g.add_legend(title=hue)
    return g


# ---------------------------------------------------------------------------
# confidence ellipses of a fit
# ---------------------------------------------------------------------------
def confidence_plot(fit: Any, coefs: Any = None, L: Any = None, level: float = 0.95,
                    ax: plt.Axes | None = None, ddf: str | None = None,
                    show_origin: bool = False) -> plt.Axes:
    r"""The two conventions side by side: the "coverage" and the "shadows" ellipse.

    Both have centre L beta-hat and shape L Var(beta-hat) L'; the coverage
    ellipse (radius sqrt(2 F(level; 2, df))) is a joint confidence region,
    the shadows ellipse (radius t((1 + level)/2, df)) projects onto the
    axes as the ordinary intervals, drawn as bars along the axes.

    Parameters
    ----------
    show_origin : bool
        Widen the limits to include (0, 0) and mark it with thin cross-hair
        lines x = 0 and y = 0 (default False: the limits fit the ellipses).
        For differences (e.g. between sectors) the origin is "no
        difference": the coverage ellipse excludes it when the joint F test
        of L beta = 0 rejects at ``1 - level``; a shadow excludes 0 when
        that single coefficient's t test rejects.
    """
    ax = _ax(ax)
    cov = geo.confidence_ellipse(fit, coefs, L, kind="coverage", level=level, ddf=ddf)
    sha = geo.confidence_ellipse(fit, coefs, L, kind="shadows", level=level, ddf=ddf)
    draw_ellipse(cov, ax, color="tab:blue", lw=1.5, label=f"coverage (r = {cov.radius:.2f})")
    draw_ellipse(sha, ax, color="tab:red", lw=1.5, ls="--", label=f"shadows (r = {sha.radius:.2f})",
                 center=True)
    sh = sha.shadows()
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    if show_origin:
        xlim, ylim = _include_zero(xlim), _include_zero(ylim)
    bar = {"color": "tab:red", "lw": 5, "solid_capstyle": "butt", "alpha": 0.7}
    ax.plot(sh.iloc[0][["lower", "upper"]].to_numpy(float), [ylim[0]] * 2, label=f"{100 * level:g}% intervals",
            **bar)
    ax.plot([xlim[0]] * 2, sh.iloc[1][["lower", "upper"]].to_numpy(float), **bar)
    for v in sh.iloc[0][["lower", "upper"]]:
        ax.axvline(v, color="tab:red", lw=0.5, ls=":")
    for v in sh.iloc[1][["lower", "upper"]]:
        ax.axhline(v, color="tab:red", lw=0.5, ls=":")
    if show_origin:
        ax.axhline(0, color="black", lw=0.6)
        ax.axvline(0, color="black", lw=0.6)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_xlabel(cov.names[0])
    ax.set_ylabel(cov.names[1])
    ax.legend(fontsize=8)
    return ax


def _include_zero(lim: tuple[float, float], pad: float = 0.05) -> tuple[float, float]:
    """Axis limits widened to contain 0 with a margin of ``pad`` times the new range."""
    lo, hi = float(lim[0]), float(lim[1])
    if lo < 0 < hi:
        return lo, hi
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    m = pad * (hi - lo)
    return (lo - m, hi) if lo == 0.0 else (lo, hi + m)


# ---------------------------------------------------------------------------
# beta space
# ---------------------------------------------------------------------------
def _beta_points(ax: plt.Axes, coefs: pd.DataFrame, by: str | None, colors: dict,
                 data_ellipse: float | None) -> None:
    ok = coefs.dropna(subset=["slope"])
    for lev, col in colors.items():
        c = ok if by is None else ok[ok[by] == lev]
        ax.scatter(c["intercept"], c["slope"], s=14, color=col, alpha=0.8,
                   label=f"groups: {lev}" if by is not None else "groups")
        if data_ellipse is not None and len(c) > 2:
            e = geo.data_ellipse(c["intercept"], c["slope"])
            draw_ellipse(e, ax, radius=data_ellipse, color=col, lw=0.8, ls=":", label=None)


def beta_space(
    data: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    by: str | None = None,
    methods: Sequence[str] = geo.METHODS,
    kind: str = "coverage",
    level: float = 0.95,
    data_ellipse: float | None = 1.0,
    extra: Sequence[geo.Ellipse] = (),
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""Each group's least-squares line as a point (intercept, slope), and what the methods make of them.

    Points: the groups' OLS lines (:func:`hlmlab.geometry.group_ols`),
    coloured by ``by``, with a data ellipse per level (radius
    ``data_ellipse``). Ellipses: the confidence ellipse of each level's line
    from each method of :func:`hlmlab.geometry.method_ellipses`, with the
    ``kind`` convention. The fixed-effects and two-stage ellipses share a
    centre: the first ignores the spread between groups, the second uses it.
    ``extra`` ellipses (e.g. :func:`hlmlab.geometry.confidence_ellipse` of a
    mixed model's sector lines) are drawn as they are, with their labels.
    """
    _need(data, x, y, group, by)
    ax = _ax(ax, (6.5, 5))
    coefs = geo.group_ols(data, x, y, group, by)
    levels = geo._levels(data, by)
    colors = _palette(levels) if by is not None else {"all": "tab:blue"}
    _beta_points(ax, coefs, by, colors, data_ellipse)
    ells = geo.method_ellipses(data, x, y, group, by, methods)
    styles = ["-", "--", "-.", ":"]
    for m, per in ells.items():
        for i, (lev, e) in enumerate(per.items()):
            draw_ellipse(e, ax, radius=geo.radius(kind, e.df, level), color=METHOD_COLORS[m], lw=1.6,
                         ls=styles[i % 4], center=True, label=METHOD_LABELS[m] if i == 0 else None)
    for e in extra:
        draw_ellipse(e, ax, color="tab:brown", lw=1.6, center=True)
    ax.set_xlabel(f"intercept (value of {y} at {x} = 0)")
    ax.set_ylabel(f"slope of {x}")
    ax.set_title(f"beta space: {100 * level:g}% {kind} ellipses", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return ax


def beta_difference(
    data: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    by: str,
    methods: Sequence[str] = geo.METHODS,
    kinds: Sequence[str] = ("coverage", "shadows"),
    level: float = 0.95,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""The difference between the last and first level of ``by`` in beta space.

    For each method, the ellipse of (Δ intercept, Δ slope) with centre
    c_2 − c_1 and shape S_1 + S_2 (:func:`hlmlab.geometry.difference_ellipse`),
    drawn with each convention in ``kinds`` (solid: coverage, dashed:
    shadows). The origin (no difference) is marked: a coverage ellipse that
    excludes it rejects "no difference" jointly; a shadows ellipse whose
    shadow on an axis excludes 0 rejects that single difference.
    """
    _need(data, x, y, group, by)
    ax = _ax(ax, (6, 5))
    ells = geo.method_ellipses(data, x, y, group, by, methods)
    ls = {"coverage": "-", "shadows": "--"}
    for m, per in ells.items():
        d = geo.difference_ellipse(per)
        for k in kinds:
            draw_ellipse(d, ax, radius=geo.radius(k, d.df, level), color=METHOD_COLORS[m], ls=ls.get(k, "-"),
                         lw=1.5, center=True, label=f"{METHOD_LABELS[m]} ({k})")
    ax.axhline(0, color="gray", lw=0.6)
    ax.axvline(0, color="gray", lw=0.6)
    ax.plot(0, 0, "ko", ms=4)
    levels = list(next(iter(ells.values())))
    ax.set_xlabel(f"difference in intercept ({levels[-1]} − {levels[0]})")
    ax.set_ylabel(f"difference in slope of {x}")
    ax.legend(fontsize=7)
    return ax


def lines_and_points(
    data: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    by: str | None = None,
    highlight: Sequence[Any] | None = None,
    axes: Sequence[plt.Axes] | None = None,
) -> np.ndarray:
    r"""The same least-squares lines twice: as lines in data space, as points in beta space.

    A line y = b0 + b1 x (drawn over the range of its group's x) is the
    point (b0, b1): a steep line is a high point, a line that is high at
    x = 0 is a point far right. ``highlight`` groups are drawn thick and
    labelled in both panels.
    """
    _need(data, x, y, group, by)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    axes = np.asarray(axes).ravel()
    if axes.size != 2:
        raise ValueError(f"axes must hold 2 Axes; got {axes.size}")
    coefs = geo.group_ols(data, x, y, group, by).dropna(subset=["slope"])
    colors = _palette(geo._levels(data, by)) if by is not None else {"all": "tab:blue"}
    rng = data.groupby(group, observed=True)[x].agg(["min", "max"])
    hl = set(highlight or [])
    for gval, row in coefs.iterrows():
        col = colors[row[by]] if by is not None else colors["all"]
        xx = rng.loc[gval].to_numpy(float)
        thick = gval in hl
        axes[0].plot(xx, row["intercept"] + row["slope"] * xx, color=col, lw=2.5 if thick else 0.7,
                     alpha=1 if thick else 0.7)
        axes[1].plot(row["intercept"], row["slope"], "o", color=col, ms=8 if thick else 4,
                     mec="black" if thick else col)
        if thick:
            axes[0].annotate(str(gval), (xx[1], row["intercept"] + row["slope"] * xx[1]), fontsize=8)
            axes[1].annotate(str(gval), (row["intercept"], row["slope"]), fontsize=8,
                             xytext=(4, 4), textcoords="offset points")
    for lev, col in colors.items():
        axes[1].plot([], [], "o", color=col, label=str(lev))
    if by is not None:
        axes[1].legend(title=by, fontsize=8)
    axes[0].set_xlabel(x)
    axes[0].set_ylabel(y)
    axes[0].set_title("data space: a line per group", fontsize=10)
    axes[1].set_xlabel("intercept")
    axes[1].set_ylabel(f"slope of {x}")
    axes[1].set_title("beta space: a point per group", fontsize=10)
    return axes


def dispersion_plot(
    G: Any,
    sigma: float,
    X: Any,
    gamma: Any,
    beta_true: Any = None,
    beta_hat: Any = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""The population line gamma and the three dispersion ellipses (radius 1).

    G around gamma: where the groups' true lines beta_j fall (its shadows
    are gamma ± 1 SD); sigma² (X_j'X_j)^{-1} around beta_j (if given) or
    gamma: how far the group's OLS line falls from its true line;
    V_j = G + sigma² (X_j'X_j)^{-1} around gamma: how far the OLS line
    falls from gamma.
    """
    ax = _ax(ax, (5.5, 5))
    d = geo.dispersion_ellipses(G, sigma, X=X, center=gamma)
    ax.plot(*np.asarray(gamma, float), "o", color="tab:green", ms=7, label="γ (population line)")
    draw_ellipse(d["G"], ax, color="tab:green", lw=1.6)
    samp = d["sampling"] if beta_true is None else geo.Ellipse(beta_true, d["sampling"].shape, 1.0,
                                                                d["sampling"].names, d["sampling"].label)
    draw_ellipse(samp, ax, color="tab:red", lw=1.2, ls="--")
    draw_ellipse(d["V"], ax, color="tab:blue", lw=1.2)
    if beta_true is not None:
        ax.plot(*np.asarray(beta_true, float), "s", color="tab:red", ms=6, label="β_j (true line)")
    if beta_hat is not None:
        ax.plot(*np.asarray(beta_hat, float), "^", color="tab:blue", ms=7, label="β̂_j (OLS line)")
    ax.set_xlabel("intercept")
    ax.set_ylabel("slope")
    ax.legend(fontsize=7)
    return ax


# ---------------------------------------------------------------------------
# fits: rows used, groups, responses (through the contract)
# ---------------------------------------------------------------------------
def _used_data(fit: Any) -> pd.DataFrame:
    """The rows of ``fit.data`` that entered the fit (``design.rows``), in fit order."""
    data = fit.data
    rows = getattr(getattr(fit, "design", None), "rows", None)
    if rows is None:
        return data
    rows = np.asarray(rows)
    return data.loc[rows] if rows.dtype == bool else data.iloc[rows]


def _group_column(fit: Any, group: str | None = None) -> str:
    """Name of the (innermost) grouping column of an lme fit."""
    if group is not None:
        _need(fit.data, group)
        return group
    g = getattr(fit, "groups", None)
    if isinstance(g, str):
        return g
    if isinstance(g, (list, tuple)) and g and isinstance(g[-1], str):
        return g[-1]
    if isinstance(g, pd.DataFrame):
        return str(g.columns[-1])
    if isinstance(g, pd.Series) and g.name in fit.data.columns:
        return str(g.name)
    raise ValueError("cannot tell the grouping column of this fit; pass group='...'")


def _response(fit: Any) -> np.ndarray:
    """y of the rows used: fitted + raw residuals (at the same level)."""
    return np.asarray(_fitted(fit), float) + np.asarray(_resid(fit), float)


def _is_mixed(fit: Any) -> bool:
    return hasattr(fit, "ranef")


def _fitted(fit: Any, level: int | None = None) -> pd.Series:
    """Fitted values; for an lme fit at ``level`` (None: the innermost, 0: population)."""
    if not _is_mixed(fit):
        return fit.fitted()
    return fit.fitted() if level is None else fit.fitted(level=level)


def _resid(fit: Any, level: int | None = None, type: str = "raw") -> pd.Series:  # noqa: A002
    """Residuals: ``"raw"`` (y − fitted) or ``"pearson"`` (over sigma for lme; standardized for lm)."""
    if not _is_mixed(fit):
        return fit.residuals(type="response" if type == "raw" else type)
    return fit.residuals(type=type) if level is None else fit.residuals(level=level, type=type)


# ---------------------------------------------------------------------------
# shrinkage
# ---------------------------------------------------------------------------
def shrinkage(
    fit: Any,
    group: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""BLUE to BLUP for a one-way (random intercept only) model, against group size.

    BLUE: the group's mean response ybar_j (its OLS estimate). BLUP: the
    group's coefficient from ``fit.coef()``,

    .. math:: \tilde\beta_{0j} = \hat\gamma_{00} + \frac{g_{00}}{g_{00} + \sigma^2/n_j}
              (\bar y_j - \hat\gamma_{00}),

    so arrows are long for small groups and for groups far from gamma.
    """
    ax = _ax(ax, (7, 4.5))
    gcol = _group_column(fit, group)
    used = _used_data(fit)
    y = pd.Series(_response(fit), index=used.index)
    labels = used[gcol]
    blue = y.groupby(labels, observed=True).mean()
    n = labels.value_counts().reindex(blue.index)
    co = fit.coef()
    blup = co.iloc[:, 0].reindex(blue.index) if isinstance(co, pd.DataFrame) else pd.Series(co).reindex(blue.index)
    return shrinkage_points(blue, blup, n, float(fit.fixef.iloc[0]), ax=ax)


def shrinkage_points(blue: Any, blup: Any, n: Any, center: float | None = None,
                     ax: plt.Axes | None = None) -> plt.Axes:
    """BLUE and BLUP per group against group size n, with an arrow from each BLUE to its BLUP."""
    b, p, m = (np.asarray(v, dtype=float).ravel() for v in (blue, blup, n))
    if not (b.size == p.size == m.size):
        raise ValueError(f"blue, blup and n must have equal lengths; got {b.size}, {p.size}, {m.size}")
    ax = _ax(ax, (7, 4.5))
    ax.scatter(m, b, color="tab:blue", s=30, label="BLUE (group mean)", zorder=3)
    ax.scatter(m, p, color="tab:red", s=18, label="BLUP", zorder=4)
    for mi, bi, pi in zip(m, b, p):
        if abs(pi - bi) > 1e-9 * (1 + abs(bi)):
            ax.annotate("", xy=(mi, pi), xytext=(mi, bi),
                        arrowprops={"arrowstyle": "->", "color": "gray", "lw": 0.8})
    if center is not None:
        ax.axhline(center, color="tab:green", lw=2, label="γ̂ (GLS estimate)")
    ax.set_xlabel("group size n")
    ax.set_ylabel("estimate of the group's mean")
    ax.legend(fontsize=8)
    return ax


def _design_matrix(fit: Any, used: pd.DataFrame) -> np.ndarray:
    """The fixed-effects model matrix of the rows used (``design.X``, else ``model_matrix``)."""
    design = fit.design
    X = getattr(design, "X", None)
    if X is not None and np.shape(X)[0] == len(used):
        return np.asarray(X, dtype=float)
    return np.asarray(design.model_matrix(used), dtype=float)


def _random_names(fit: Any) -> list[str]:
    G = fit.G
    if isinstance(G, dict):
        raise ValueError(
            "shrinkage_beta draws one grouping level; this fit has nested random effects "
            f"({', '.join(map(str, G))}). Fit the model with a single grouping factor"
        )
    return [str(c) for c in (G.columns if isinstance(G, pd.DataFrame) else pd.DataFrame(G).columns)]


def _line_terms(fit: Any, x: str, gcol: str, used: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""Each fixed-effect column as a line in x within each group: X_k = a_jk + s_jk x.

    A column qualifies when it is exactly linear in x within every group:
    the intercept, x itself, group-level variables (Sector, cvar(x, g)), and
    their products with x. a and s are the least-squares coefficients of
    X_k on (1, x) within the group, checked to fit exactly (relative 1e-8).

    Returns
    -------
    (a, s) : two DataFrames, groups × columns (NaN where x has no spread in
    the group).

    Raises
    ------
    ValueError
        Naming the first column that is not linear in x within some group.
    """
    names = [str(n) for n in fit.design.names]
    X = pd.DataFrame(_design_matrix(fit, used), columns=names, index=used.index)
    xv = used[x].astype(float)
    lab = used[gcol]
    grp = X.groupby(lab, observed=True, sort=True)
    xbar = xv.groupby(lab, observed=True, sort=True).transform("mean")
    dx = xv - xbar
    Xbar = grp.transform("mean")
    dX = X - Xbar
    sxx = (dx * dx).groupby(lab, observed=True, sort=True).sum()
    sxk = dX.mul(dx, axis=0).groupby(lab, observed=True, sort=True).sum()
    ok = sxx > 1e-12 * (1 + xv.abs().max() ** 2)
    s = sxk.div(sxx.where(ok), axis=0)
    xb = xv.groupby(lab, observed=True, sort=True).mean()
    a = grp.mean() - s.mul(xb, axis=0)
    # exactly linear in x within each group?
    srow = s.reindex(lab.to_numpy()).set_axis(X.index)
    arow = a.reindex(lab.to_numpy()).set_axis(X.index)
    resid = (X - arow - srow.mul(xv, axis=0)).abs()
    scale = 1e-8 * (1 + X.abs().max())
    bad = resid.gt(scale, axis=1) & srow.notna()
    if bad.to_numpy().any():
        col = bad.columns[bad.any().to_numpy()][0]
        where = lab[bad[col]].iloc[0]
        raise ValueError(
            f"shrinkage_beta draws each group's line in {x!r}, so every fixed-effect column must be "
            f"a + b * {x} within each group ({x} itself, group-level variables such as a sector or "
            f"cvar({x}, group), and their products with {x}); column {col!r} varies otherwise within "
            f"group {where!r}. Use a model whose other student-level variables are centred within "
            "groups and left out, or draw the lines yourself from fit.coef()"
        )
    return a, s


def _group_lines(fit: Any, x: str, gcol: str, used: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""BLUP and population (intercept, slope) in x of each group, from ``fit.coef()`` and ``fit.fixef``.

    With X_k = a_jk + s_jk x within group j (:func:`_line_terms`) and the
    group's coefficients c_j = beta-hat + b_j (``coef()``), the group's
    predicted line is sum_k c_jk a_jk + (sum_k c_jk s_jk) x; with beta-hat
    alone it is the fixed part of the line for that group's values of the
    group-level variables.
    """
    zn = _random_names(fit)
    if zn != ["(Intercept)", x]:
        raise ValueError(
            f"shrinkage_beta needs the random part '~ 1 + {x} | group' (a random intercept and a "
            f"random slope of {x!r}, in that order); this fit's random effects are {zn}. "
            "For a random-intercept model use plots.shrinkage"
        )
    a, s = _line_terms(fit, x, gcol, used)
    co = fit.coef()
    if isinstance(co, dict):  # pragma: no cover - nested fits are refused above
        co = list(co.values())[-1]
    keys = a.index.map(str)
    co = co.set_axis(co.index.map(str)).reindex(keys)
    if co.isna().all(axis=1).any():
        missing = list(a.index[co.isna().all(axis=1).to_numpy()])[:5]
        raise ValueError(f"fit.coef() has no row for group(s) {missing}")
    names = list(a.columns)
    extra = [c for c in co.columns if c not in names]
    C = co.reindex(columns=names).fillna(0.0).to_numpy()
    blup = pd.DataFrame({"intercept": (C * a.to_numpy()).sum(axis=1),
                         "slope": (C * s.to_numpy()).sum(axis=1)}, index=a.index)
    for c in extra:  # a random effect without a fixed counterpart
        if c == "(Intercept)":
            blup["intercept"] += co[c].to_numpy()
        elif c == x:
            blup["slope"] += co[c].to_numpy()
    beta = fit.fixef.reindex(names).fillna(0.0).to_numpy()
    pop = pd.DataFrame({"intercept": a.to_numpy() @ beta, "slope": s.to_numpy() @ beta}, index=a.index)
    return blup, pop


def shrinkage_beta(
    fit: Any,
    x: str,
    group: str | None = None,
    by: str | None = None,
    radius: float = 1.0,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""BLUEs and BLUPs of each group's line in beta space (the notes' Figure 19).

    BLUE: the group's OLS line of y on x. BLUP: the group's predicted line
    from ``fit.coef()`` (fixed effects plus the group's random effects), which
    combines the two by inverse-variance weights,

    .. math:: \tilde\beta_j = \{G^{-1} + [\sigma^2 (X_j'X_j)^{-1}]^{-1}\}^{-1}
              \{G^{-1}\gamma_j + [\sigma^2 (X_j'X_j)^{-1}]^{-1}\hat\beta_j\},

    gamma_j being the population line for the group's values of the
    group-level variables. Every fixed-effect column must be a + b x within
    each group (x, group-level variables such as Sector or ``cvar(x, g)``,
    and their products with x), so that each group has one line; the
    intercept of the BLUP line is then sum_k c_jk a_jk and its slope
    sum_k c_jk b_jk, c_j the group's row of ``coef()``. A contextual
    variable stays at the group's own value (predicting at x = 0 and x = 1
    would recompute a group mean inside the formula).

    Arrows go from BLUE to BLUP. Without ``by``: BLUEs blue, BLUPs red, with
    their data ellipses (radius ``radius``). With ``by`` (a group-level
    factor such as Sector): points coloured by level (BLUEs open circles,
    BLUPs filled), a legend, and per-level data ellipses (BLUEs dashed,
    BLUPs solid). Green diamonds: the population (fixed-part) lines; with
    ``by`` one per level, the average over the level's groups of their
    fixed-part lines (the level's line when no numeric contextual variable
    is in the model); without ``by`` each distinct fixed-part line. The
    BLUPs vary less than G, the BLUEs more.

    Raises
    ------
    ValueError
        If the random part is not ``~ 1 + x | group`` (one grouping level),
        or a fixed-effect column is not linear in x within groups.
    """
    ax = _ax(ax, (6.5, 5))
    gcol = _group_column(fit, group)
    used = _used_data(fit).copy()
    _need(used, x, by)
    yname = "__y__"
    used[yname] = _response(fit)
    blup_all, pop_all = _group_lines(fit, x, gcol, used)
    blue = geo.group_ols(used, x, yname, gcol, by)
    key = blue.index.map(str)
    blup = blup_all.set_axis(blup_all.index.map(str)).reindex(key).set_axis(blue.index)
    pop = pop_all.set_axis(pop_all.index.map(str)).reindex(key).set_axis(blue.index)
    ok = blue["slope"].notna()
    for (gval, b), (_, p) in zip(blue[ok].iterrows(), blup[ok].iterrows()):
        ax.annotate("", xy=(p["intercept"], p["slope"]), xytext=(b["intercept"], b["slope"]),
                    arrowprops={"arrowstyle": "->", "color": "gray", "lw": 0.6, "alpha": 0.7})
    if by is None:
        ax.scatter(blue.loc[ok, "intercept"], blue.loc[ok, "slope"], color="tab:blue", s=16, label="BLUE (OLS)")
        ax.scatter(blup["intercept"], blup["slope"], color="tab:red", s=16, label="BLUP")
        draw_ellipse(geo.data_ellipse(blue.loc[ok, "intercept"], blue.loc[ok, "slope"]), ax, radius=radius,
                     color="tab:blue", lw=1.2, label=None)
        draw_ellipse(geo.data_ellipse(blup["intercept"], blup["slope"]), ax, radius=radius, color="tab:red",
                     lw=1.2, label=None)
        popu = pop.round(10).drop_duplicates()  # one line, or one per value of the group-level variables
    else:
        levels = _levels(blue[by])
        colors = _palette(levels)
        for lev in levels:
            m = (blue[by] == lev).to_numpy() & ok.to_numpy()
            ax.scatter(blue.loc[m, "intercept"], blue.loc[m, "slope"], facecolors="none", edgecolors=colors[lev],
                       s=22, lw=1.0, label=f"BLUE (OLS): {lev}")
        for lev in levels:
            m = (blue[by] == lev).to_numpy()
            ax.scatter(blup.loc[m, "intercept"], blup.loc[m, "slope"], color=colors[lev], s=16,
                       label=f"BLUP: {lev}")
        for lev in levels:
            m = (blue[by] == lev).to_numpy()
            if (m & ok.to_numpy()).sum() > 2:
                draw_ellipse(geo.data_ellipse(blue.loc[m & ok.to_numpy(), "intercept"],
                                              blue.loc[m & ok.to_numpy(), "slope"]),
                             ax, radius=radius, color=colors[lev], lw=1.0, ls="--", label=None)
            if m.sum() > 2:
                draw_ellipse(geo.data_ellipse(blup.loc[m, "intercept"], blup.loc[m, "slope"]), ax,
                             radius=radius, color=colors[lev], lw=1.4, label=None)
        popu = pop.groupby(blue[by].to_numpy()).mean().reindex(levels)
    ax.scatter(popu["intercept"], popu["slope"], color="tab:green", s=60, marker="D", zorder=5,
               edgecolors="black", linewidths=0.5,
               label="population line" + (f" (by {by})" if by else ""))
    ax.set_xlabel("intercept")
    ax.set_ylabel(f"slope of {x}")
    ax.legend(fontsize=8, title=by)
    return ax


# ---------------------------------------------------------------------------
# effect plots
# ---------------------------------------------------------------------------
def _reference_grid(fit: Any, x: str, by: str | Sequence[str] | None, n: int = 50) -> pd.DataFrame:
    """x over its observed range crossed with the levels of ``by``; other numerics at
    their mean, other factors at their first level."""
    formula = str(getattr(fit, "fixed", None) or getattr(fit, "formula", ""))
    if "cvar(" in formula or "dvar(" in formula:
        raise ValueError(
            f"the model {formula!r} computes group summaries inside its formula (cvar/dvar); on a "
            "default grid they would be recomputed from the grid's own rows, not the groups' data. "
            "Put the group mean in the data as a column, refit with it, and pass grid= explicitly"
        )
    used = _used_data(fit)
    byl = [] if by is None else ([by] if isinstance(by, str) else list(by))
    _need(used, x, *byl)
    xs = used[x].astype(float)
    grid = pd.DataFrame({x: np.linspace(xs.min(), xs.max(), n)})
    for b in byl:
        levels = _levels(used[b])
        grid = grid.merge(pd.DataFrame({b: pd.Categorical(levels, categories=_levels(used[b]))
                                        if isinstance(used[b].dtype, pd.CategoricalDtype) else levels}),
                          how="cross")
    for c in used.columns:
        if c in grid.columns:
            continue
        s = used[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            grid[c] = pd.Categorical([s.cat.categories[0]] * len(grid), categories=s.cat.categories)
        elif pd.api.types.is_numeric_dtype(s.dtype) and s.dtype != bool:
            grid[c] = float(s.mean())
        else:
            grid[c] = _levels(s)[0] if s.notna().any() else np.nan
    return grid


def _wald_band(fit: Any, L: pd.DataFrame, level: float, ddf: Any) -> pd.DataFrame:
    """Estimate, SE and limits of each row of L, through ``inference.wald``."""
    from hlmlab.inference.inference import wald

    t = wald(fit, L, ddf=ddf, level=level).estimate
    return pd.DataFrame({"fit": t["Estimate"].to_numpy(), "se": t["Std.Error"].to_numpy(),
                         "lower": t.iloc[:, 5].to_numpy(), "upper": t.iloc[:, 6].to_numpy()})


def effect_plot(
    fit: Any,
    x: str,
    by: str | None = None,
    grid: pd.DataFrame | None = None,
    level: float = 0.95,
    ddf: Any = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""Population-level predictions along x, one curve per level of ``by``, with pointwise bands.

    For each grid row with design row l (``inference.lgrid``), the
    estimate l'beta-hat and the band l'beta-hat ± t(DF) sqrt(l' V l)
    (``inference.wald``). Without ``grid``: x over its observed range
    crossed with the levels of ``by``, other numeric variables at their
    means and other factors at their reference level. A contextual
    variable computed in the formula must be given its intended value on
    the grid. The bands are pointwise, not simultaneous.
    """
    from hlmlab.inference.inference import lgrid

    ax = _ax(ax)
    grid = _reference_grid(fit, x, by) if grid is None else grid.reset_index(drop=True)
    _need(grid, x, by)
    band = _wald_band(fit, lgrid(fit, grid), level, ddf)
    groups = [(None, grid.index)] if by is None else [(lev, grid.index[grid[by] == lev]) for lev in _levels(grid[by])]
    colors = _palette([g for g, _ in groups])
    for lev, idx in groups:
        order = np.argsort(grid.loc[idx, x].to_numpy(float))
        xs = grid.loc[idx, x].to_numpy(float)[order]
        b = band.loc[idx].iloc[order]
        ax.plot(xs, b["fit"], color=colors[lev], lw=2, label=None if lev is None else str(lev))
        ax.fill_between(xs, b["lower"], b["upper"], color=colors[lev], alpha=0.2)
    ax.set_xlabel(x)
    ax.set_ylabel(f"predicted {_yname(fit)}")
    if by is not None:
        ax.legend(title=by, fontsize=8)
    ax.set_title(f"predictions with pointwise {100 * level:g}% bands", fontsize=10)
    return ax


def _yname(fit: Any) -> str:
    try:
        from hlmlab.ols.fit import response_name

        return response_name(fit)
    except (ImportError, AttributeError):
        return "response"


def gap_plot(
    fit: Any,
    x: str,
    factor: str,
    levels: tuple[Any, Any] | None = None,
    grid: pd.DataFrame | None = None,
    level: float = 0.95,
    ddf: Any = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""The gap between two levels of ``factor`` as a function of x, with a pointwise band.

    At each x, l = x'(level b) − x'(level a) (``inference.ldiff`` of two
    ``lgrid``s) and the band l'beta-hat ± t(DF) sqrt(l'Vl). Where the band
    excludes 0 the gap is significant at that x alone; the band does not
    give joint coverage over x.
    """
    from hlmlab.inference.inference import ldiff, lgrid

    ax = _ax(ax)
    used = _used_data(fit)
    _need(used, factor)
    levs = _levels(used[factor]) if levels is None else list(levels)
    if len(levs) < 2:
        raise ValueError(f"{factor!r} needs two levels to compare; got {levs}")
    a, b = levs[0], levs[-1] if levels is None else levs[1]
    base = _reference_grid(fit, x, None) if grid is None else grid.reset_index(drop=True)
    _need(base, x)

    def at(lev: Any) -> pd.DataFrame:
        g = base.copy()
        s = used[factor]
        g[factor] = pd.Categorical([lev] * len(g), categories=s.cat.categories) \
            if isinstance(s.dtype, pd.CategoricalDtype) else lev
        return g

    L = ldiff(lgrid(fit, at(b)), lgrid(fit, at(a)))
    band = _wald_band(fit, L, level, ddf)
    order = np.argsort(base[x].to_numpy(float))
    xs = base[x].to_numpy(float)[order]
    bd = band.iloc[order]
    ax.plot(xs, bd["fit"], color="tab:purple", lw=2, label=f"{b} − {a}")
    ax.fill_between(xs, bd["lower"], bd["upper"], color="tab:purple", alpha=0.2,
                    label=f"pointwise {100 * level:g}% band")
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel(x)
    ax.set_ylabel(f"gap in {_yname(fit)} ({b} − {a})")
    ax.legend(fontsize=8)
    return ax


# ---------------------------------------------------------------------------
# diagnostics
# ---------------------------------------------------------------------------
def qq_plot(values: Any, by: Any = None, ax: plt.Axes | None = None, label: str = "value",
            line: bool = True) -> plt.Axes:
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
    ax = _ax(ax, (5, 4.5))
    levels = _levels(groups)
    colors = _palette(levels)
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


def qq_residuals(fit: Any, level: int | None = None, type: str = "pearson", by: str | None = None,  # noqa: A002
                 ax: plt.Axes | None = None) -> plt.Axes:
    """Normal quantile plot of the fit's residuals (level-1 for an lme fit), optionally by a factor."""
    r = _resid(fit, level, type)
    groups = None if by is None else _used_data(fit)[by].reset_index(drop=True)
    ax = qq_plot(r, groups, ax=ax, label=f"{type} residual")
    ax.set_title("residuals", fontsize=10)
    return ax


def _ranef(fit: Any, level: Any = None) -> pd.DataFrame:
    """BLUPs of one level as a DataFrame (the innermost level of a nested model by default)."""
    re = fit.ranef() if level is None else fit.ranef(level)
    if isinstance(re, dict):
        re = list(re.values())[-1]
    return re if isinstance(re, pd.DataFrame) else pd.DataFrame(re)


def qq_ranef(fit: Any, by: str | None = None, group: str | None = None, level: Any = None) -> np.ndarray:
    """Normal quantile plot of the BLUPs, one panel per random effect, coloured by a group-level factor.

    ``level`` picks a level of a nested model (default: the innermost), and
    ``group`` is then its grouping column.
    """
    re = _ranef(fit, level)
    groups = None
    if by is not None:
        gcol = _group_column(fit, group)
        used = _used_data(fit)
        _need(used, by)
        groups = used.groupby(gcol, observed=True)[by].first().reindex(re.index).to_numpy()
    fig, axes = plt.subplots(1, re.shape[1], figsize=(4.2 * re.shape[1], 4), squeeze=False)
    for ax, c in zip(axes.ravel(), re.columns):
        qq_plot(re[c], groups, ax=ax, label=f"BLUP of {c}")
    fig.tight_layout()
    return axes.ravel()


def residuals_fitted(fit: Any, level: int | None = None, by: str | None = None, frac: float = 0.5,
                     ax: plt.Axes | None = None) -> plt.Axes:
    r"""Residuals e_i against fitted values, with a zero line and a local-linear smoother per level of ``by``.

    For an lme fit at level 1 the smoother slopes upward: the BLUPs shrink
    each group's fitted values toward the population line, so residuals
    keep part of the group effect and correlate with the fitted values.
    """
    f = np.asarray(_fitted(fit, level), float)
    r = np.asarray(_resid(fit, level), float)
    return _scatter_smooth(f, r, None if by is None else _used_data(fit)[by].reset_index(drop=True), frac, ax,
                           "fitted", "residual", zero=True)


def scale_location(fit: Any, level: int | None = None, by: str | None = None, frac: float = 0.5,
                   ax: plt.Axes | None = None) -> plt.Axes:
    r"""sqrt(|standardized residual|) against fitted values, with a smoother per level of ``by``.

    A flat smoother means constant residual spread; rising means the
    spread grows with the fitted value; separate smoothers show whether
    the levels of ``by`` have different residual variances.
    """
    f = np.asarray(_fitted(fit, level), float)
    r = np.asarray(_resid(fit, level, "pearson"), float)
    return _scatter_smooth(f, np.sqrt(np.abs(r)), None if by is None else _used_data(fit)[by].reset_index(drop=True),
                           frac, ax, "fitted", "√|standardized residual|", zero=False)


def _scatter_smooth(x, y, groups, frac, ax, xlabel, ylabel, zero):
    ax = _ax(ax)
    g = pd.Series(["all"] * len(x)) if groups is None else pd.Series(groups)
    levels = _levels(g)
    colors = _palette(levels)
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
    ``top`` groups with the largest |change| in each are labelled.
    """
    ch = getattr(result, "changes", result)
    if not isinstance(ch, pd.DataFrame):
        raise TypeError("result must be a dropone result or a DataFrame of changes (groups × coefficients)")
    ax = _ax(ax, (max(5, 1.3 * ch.shape[1]), 4.5))
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


# ---------------------------------------------------------------------------
# 3-D
# ---------------------------------------------------------------------------
def scatter3d(
    data: pd.DataFrame,
    x: str,
    y: str,
    z: str,
    hue: str | None = None,
    shape: Any = None,
    center: Any = None,
    radius: float = 1.0,
    ax: Any = None,
    elev: float = 20,
    azim: float = -60,
    equal_aspect: bool = False,
) -> Any:
    r"""3-D scatter of three columns, coloured by ``hue``, optionally with an ellipsoid.

    With ``shape`` (a 3 × 3 PSD matrix, e.g. G), the wireframe of the
    ellipsoid {c + r A u : |u| = 1}, A A' = shape, centred at ``center``
    (default the origin); a flat ellipsoid means a nearly singular shape
    (see :func:`hlmlab.geometry.shape_summary`).

    Parameters
    ----------
    equal_aspect : bool
        Same scale on the three axes: each axis gets the limits
        m_k ± h, m_k the midpoint of the k-th coordinate's range (points and
        ellipsoid) and h the largest half-range, and the box is a cube
        (``ax.set_box_aspect((1, 1, 1))``). Then lengths and angles are true
        and a flat ("pancake") ellipsoid looks flat; with the default
        (False) matplotlib stretches each axis to its own range, which can
        make a pancake look round.
    """
    _need(data, x, y, z, hue)
    if ax is None:
        fig = plt.figure(figsize=(6.5, 5.5))
        ax = fig.add_subplot(projection="3d")
    levels = _levels(data[hue]) if hue is not None else ["all"]
    colors = _palette(levels)
    for lev in levels:
        d = data if hue is None else data[data[hue] == lev]
        ax.scatter(d[x], d[y], d[z], color=colors[lev], s=14, label=None if hue is None else str(lev))
    pts = [data[[x, y, z]].to_numpy(dtype=float)]
    if shape is not None:
        X, Y, Z = geo.ellipsoid(np.zeros(3) if center is None else center, shape, radius, n=25)
        ax.plot_wireframe(X, Y, Z, color="gray", lw=0.4, alpha=0.6)
        pts.append(np.column_stack([X.ravel(), Y.ravel(), Z.ravel()]))
    if equal_aspect:
        _equal_limits(ax, np.vstack(pts))
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_zlabel(z)
    ax.view_init(elev=elev, azim=azim)
    if hue is not None:
        ax.legend(title=hue, fontsize=8)
    return ax


def _equal_limits(ax: Any, pts: np.ndarray) -> None:
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


def ranef3d(fit: Any, by: str | None = None, group: str | None = None, radius: float = 1.0, **kw: Any) -> Any:
    """BLUPs of three random effects in 3-D with the dispersion ellipsoid of G (radius 1: ± 1 SD shadows).

    The ellipsoid is centred at 0, the mean of the random effects; the
    BLUPs vary less than G (shrinkage), so most lie well inside it. Other
    keywords go to :func:`scatter3d` (``equal_aspect=True`` shows a flat G
    truthfully; ``elev``, ``azim``, ``ax``).
    """
    re = _ranef(fit)
    if re.shape[1] != 3:
        raise ValueError(f"ranef3d needs 3 random effects; the fit has {re.shape[1]}")
    frame = re.copy()
    if by is not None:
        gcol = _group_column(fit, group)
        used = _used_data(fit)
        _need(used, by)
        frame[by] = used.groupby(gcol, observed=True)[by].first().reindex(re.index).to_numpy()
    G = fit.G if not isinstance(fit.G, dict) else list(fit.G.values())[-1]
    cols = [str(c) for c in re.columns]
    frame.columns = cols + ([by] if by is not None else [])
    return scatter3d(frame, *cols, hue=by, shape=np.asarray(G, float), radius=radius, **kw)
