r"""Beta space: confidence ellipses of a fit, groups' lines as points, the four methods.

================  =========================================================
confidence_plot   coverage and shadows ellipses of two coefficients (or L beta)
beta_space        per-group OLS lines as points, per-level data ellipses and
                  the four methods' confidence ellipses
beta_difference   the difference between two levels in beta space
lines_and_points  the same lines in data space and in beta space
dispersion_plot   G, sigma²(X_j'X_j)^{-1} and V_j around gamma
================  =========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hlmlab.graphics import geometry as geo
from hlmlab.graphics._axes import draw_ellipse, include_zero, need, new_axes
from hlmlab.graphics.betaspace import METHODS, difference_ellipse, method_ellipses
from hlmlab.graphics.palette import METHOD_COLORS, METHOD_LABELS, palette
from hlmlab.inference.grid import factor_levels
from hlmlab.ols.lmlist import group_coefficients

__all__ = ["confidence_plot", "beta_space", "beta_difference", "lines_and_points", "dispersion_plot"]


def confidence_plot(
    fit: Any,
    coefs: Any = None,
    L: Any = None,
    conf_level: float = 0.95,
    ax: plt.Axes | None = None,
    ddf: str | None = None,
    show_origin: bool = False,
) -> plt.Axes:
    r"""The two conventions side by side: the "coverage" and the "shadows" ellipse.

    Both have centre L beta-hat and shape L Var(beta-hat) L'; the coverage
    ellipse (radius sqrt(2 F(conf_level; 2, df))) is a joint confidence region,
    the shadows ellipse (radius t((1 + conf_level)/2, df)) projects onto the
    axes as the ordinary intervals, drawn as bars along the axes.

    Parameters
    ----------
    show_origin : bool
        Widen the limits to include (0, 0) and mark it with thin cross-hair
        lines x = 0 and y = 0 (default False: the limits fit the ellipses).
        For differences (e.g. between sectors) the origin is "no
        difference": the coverage ellipse excludes it when the joint F test
        of L beta = 0 rejects at ``1 - conf_level``; a shadow excludes 0 when
        that single coefficient's t test rejects.
    """
    ax = new_axes(ax)
    cov = geo.confidence_ellipse(fit, coefs, L, kind="coverage", conf_level=conf_level, ddf=ddf)
    sha = geo.confidence_ellipse(fit, coefs, L, kind="shadows", conf_level=conf_level, ddf=ddf)
    draw_ellipse(cov, ax, color="tab:blue", lw=1.5, label=f"coverage (r = {cov.radius:.2f})")
    draw_ellipse(sha, ax, color="tab:red", lw=1.5, ls="--", label=f"shadows (r = {sha.radius:.2f})", center=True)
    sh = sha.shadows()
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    if show_origin:
        xlim, ylim = include_zero(xlim), include_zero(ylim)
    bar = {"color": "tab:red", "lw": 5, "solid_capstyle": "butt", "alpha": 0.7}
    ax.plot(
        sh.iloc[0][["lower", "upper"]].to_numpy(float), [ylim[0]] * 2, label=f"{100 * conf_level:g}% intervals", **bar
    )
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


def _beta_points(ax: plt.Axes, coefs: pd.DataFrame, by: str | None, colors: dict, data_ellipse: float | None) -> None:
    ok = coefs.dropna(subset=["slope"])
    for lev, col in colors.items():
        c = ok if by is None else ok[ok[by] == lev]
        ax.scatter(
            c["intercept"],
            c["slope"],
            s=14,
            color=col,
            alpha=0.8,
            label=f"groups: {lev}" if by is not None else "groups",
        )
        if data_ellipse is not None and len(c) > 2:
            e = geo.data_ellipse(c["intercept"], c["slope"])
            draw_ellipse(e, ax, radius=data_ellipse, color=col, lw=0.8, ls=":", label=None)


def beta_space(
    data: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    by: str | None = None,
    methods: Sequence[str] = METHODS,
    kind: str = "coverage",
    conf_level: float = 0.95,
    data_ellipse: float | None = 1.0,
    extra: Sequence[geo.Ellipse] = (),
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""Each group's least-squares line as a point (intercept, slope), and what the methods make of them.

    Points: the groups' OLS lines (:func:`hlmlab.ols.lmlist.group_coefficients`),
    coloured by ``by``, with a data ellipse per level (radius
    ``data_ellipse``). Ellipses: the confidence ellipse of each level's line
    from each method of :func:`hlmlab.graphics.betaspace.method_ellipses`, with the
    ``kind`` convention. The fixed-effects and two-stage ellipses share a
    centre: the first ignores the spread between groups, the second uses it.
    ``extra`` ellipses (e.g. :func:`hlmlab.geometry.confidence_ellipse` of a
    mixed model's sector lines) are drawn as they are, with their labels.
    """
    need(data, x, y, group, by)
    ax = new_axes(ax, (6.5, 5))
    coefs = group_coefficients(data, x, y, group, by)
    colors = palette(factor_levels(data[by])) if by is not None else {"all": "tab:blue"}
    _beta_points(ax, coefs, by, colors, data_ellipse)
    ells = method_ellipses(data, x, y, group, by, methods)
    styles = ["-", "--", "-.", ":"]
    for m, per in ells.items():
        for i, e in enumerate(per.values()):
            draw_ellipse(
                e,
                ax,
                radius=geo.radius(kind, e.df, conf_level),
                color=METHOD_COLORS[m],
                lw=1.6,
                ls=styles[i % 4],
                center=True,
                label=METHOD_LABELS[m] if i == 0 else None,
            )
    for e in extra:
        draw_ellipse(e, ax, color="tab:brown", lw=1.6, center=True)
    ax.set_xlabel(f"intercept (value of {y} at {x} = 0)")
    ax.set_ylabel(f"slope of {x}")
    ax.set_title(f"beta space: {100 * conf_level:g}% {kind} ellipses", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return ax


def beta_difference(
    data: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    by: str,
    methods: Sequence[str] = METHODS,
    kinds: Sequence[str] = ("coverage", "shadows"),
    conf_level: float = 0.95,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    r"""The difference between the last and first level of ``by`` in beta space.

    For each method, the ellipse of (Δ intercept, Δ slope) with centre
    c_2 − c_1 and shape S_1 + S_2 (:func:`hlmlab.graphics.betaspace.difference_ellipse`),
    drawn with each convention in ``kinds`` (solid: coverage, dashed:
    shadows). The origin (no difference) is marked: a coverage ellipse that
    excludes it rejects "no difference" jointly; a shadows ellipse whose
    shadow on an axis excludes 0 rejects that single difference.
    """
    need(data, x, y, group, by)
    ax = new_axes(ax, (6, 5))
    ells = method_ellipses(data, x, y, group, by, methods)
    ls = {"coverage": "-", "shadows": "--"}
    for m, per in ells.items():
        d = difference_ellipse(per)
        for k in kinds:
            draw_ellipse(
                d,
                ax,
                radius=geo.radius(k, d.df, conf_level),
                color=METHOD_COLORS[m],
                ls=ls.get(k, "-"),
                lw=1.5,
                center=True,
                label=f"{METHOD_LABELS[m]} ({k})",
            )
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
    need(data, x, y, group, by)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    axes = np.asarray(axes).ravel()
    if axes.size != 2:
        raise ValueError(f"axes must hold 2 Axes; got {axes.size}")
    coefs = group_coefficients(data, x, y, group, by).dropna(subset=["slope"])
    colors = palette(factor_levels(data[by])) if by is not None else {"all": "tab:blue"}
    rng = data.groupby(group, observed=True)[x].agg(["min", "max"])
    hl = set(highlight or [])
    for gval, row in coefs.iterrows():
        col = colors[row[by]] if by is not None else colors["all"]
        xx = rng.loc[gval].to_numpy(float)
        thick = gval in hl
        axes[0].plot(
            xx, row["intercept"] + row["slope"] * xx, color=col, lw=2.5 if thick else 0.7, alpha=1 if thick else 0.7
        )
        axes[1].plot(
            row["intercept"], row["slope"], "o", color=col, ms=8 if thick else 4, mec="black" if thick else col
        )
        if thick:
            axes[0].annotate(str(gval), (xx[1], row["intercept"] + row["slope"] * xx[1]), fontsize=8)
            axes[1].annotate(
                str(gval), (row["intercept"], row["slope"]), fontsize=8, xytext=(4, 4), textcoords="offset points"
            )
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
    ax = new_axes(ax, (5.5, 5))
    d = geo.dispersion_ellipses(G, sigma, X=X, center=gamma)
    ax.plot(*np.asarray(gamma, float), "o", color="tab:green", ms=7, label="γ (population line)")
    draw_ellipse(d["G"], ax, color="tab:green", lw=1.6)
    samp = (
        d["sampling"]
        if beta_true is None
        else geo.Ellipse(beta_true, d["sampling"].shape, 1.0, d["sampling"].names, d["sampling"].label)
    )
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
