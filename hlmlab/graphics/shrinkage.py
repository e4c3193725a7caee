r"""Shrinkage: from each group's own estimate (BLUE) to its prediction (BLUP).

===============  ==========================================================
shrinkage        BLUE to BLUP against group size (one-way model)
shrinkage_points the same from arrays
shrinkage_beta   BLUE to BLUP in beta space, with both data ellipses
===============  ==========================================================

The lines come from :func:`hlmlab.lmm.lines.group_lines` and the groups' OLS
lines from :func:`hlmlab.ols.lmlist.group_coefficients`.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from hlmlab.graphics import geometry as geo
from hlmlab.graphics._axes import draw_ellipse, need, new_axes
from hlmlab.graphics._fits import group_column, response
from hlmlab.graphics.palette import palette
from hlmlab.inference.grid import factor_levels, used_data
from hlmlab.lmm.lines import group_lines, group_means
from hlmlab.ols.lmlist import group_coefficients

__all__ = ["shrinkage", "shrinkage_points", "shrinkage_beta"]


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

    so arrows are long for small groups and for groups far from gamma
    (the numbers: :func:`hlmlab.lmm.lines.group_means`).
    """
    ax = new_axes(ax, (7, 4.5))
    est = group_means(fit, group_column(fit, group), used_data(fit), response(fit))
    return shrinkage_points(est["blue"], est["blup"], est["n"], float(fit.fixef.iloc[0]), ax=ax)


def shrinkage_points(blue: Any, blup: Any, n: Any, center: float | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """BLUE and BLUP per group against group size n, with an arrow from each BLUE to its BLUP."""
    b, p, m = (np.asarray(v, dtype=float).ravel() for v in (blue, blup, n))
    if not (b.size == p.size == m.size):
        raise ValueError(f"blue, blup and n must have equal lengths; got {b.size}, {p.size}, {m.size}")
    ax = new_axes(ax, (7, 4.5))
    ax.scatter(m, b, color="tab:blue", s=30, label="BLUE (group mean)", zorder=3)
    ax.scatter(m, p, color="tab:red", s=18, label="BLUP", zorder=4)
    for mi, bi, pi in zip(m, b, p):
        if abs(pi - bi) > 1e-9 * (1 + abs(bi)):
            ax.annotate("", xy=(mi, pi), xytext=(mi, bi), arrowprops={"arrowstyle": "->", "color": "gray", "lw": 0.8})
    if center is not None:
        ax.axhline(center, color="tab:green", lw=2, label="γ̂ (GLS estimate)")
    ax.set_xlabel("group size n")
    ax.set_ylabel("estimate of the group's mean")
    ax.legend(fontsize=8)
    return ax


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
    would recompute a group mean inside the formula). The lines are
    :func:`hlmlab.lmm.lines.group_lines`.

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
    ax = new_axes(ax, (6.5, 5))
    gcol = group_column(fit, group)
    used = used_data(fit).copy()
    need(used, x, by)
    yname = "__y__"
    used[yname] = response(fit)
    blup_all, pop_all = group_lines(fit, x, gcol, used)
    blue = group_coefficients(used, x, yname, gcol, by)
    key = blue.index.map(str)
    blup = blup_all.set_axis(blup_all.index.map(str)).reindex(key).set_axis(blue.index)
    pop = pop_all.set_axis(pop_all.index.map(str)).reindex(key).set_axis(blue.index)
    ok = blue["slope"].notna()
    for (_, b), (_, p) in zip(blue[ok].iterrows(), blup[ok].iterrows()):
        ax.annotate(
            "",
            xy=(p["intercept"], p["slope"]),
            xytext=(b["intercept"], b["slope"]),
            arrowprops={"arrowstyle": "->", "color": "gray", "lw": 0.6, "alpha": 0.7},
        )
    if by is None:
        ax.scatter(blue.loc[ok, "intercept"], blue.loc[ok, "slope"], color="tab:blue", s=16, label="BLUE (OLS)")
        ax.scatter(blup["intercept"], blup["slope"], color="tab:red", s=16, label="BLUP")
        draw_ellipse(
            geo.data_ellipse(blue.loc[ok, "intercept"], blue.loc[ok, "slope"]),
            ax,
            radius=radius,
            color="tab:blue",
            lw=1.2,
            label=None,
        )
        draw_ellipse(
            geo.data_ellipse(blup["intercept"], blup["slope"]), ax, radius=radius, color="tab:red", lw=1.2, label=None
        )
        popu = pop.round(10).drop_duplicates()  # one line, or one per value of the group-level variables
    else:
        levels = factor_levels(blue[by])
        colors = palette(levels)
        for lev in levels:
            m = (blue[by] == lev).to_numpy() & ok.to_numpy()
            ax.scatter(
                blue.loc[m, "intercept"],
                blue.loc[m, "slope"],
                facecolors="none",
                edgecolors=colors[lev],
                s=22,
                lw=1.0,
                label=f"BLUE (OLS): {lev}",
            )
        for lev in levels:
            m = (blue[by] == lev).to_numpy()
            ax.scatter(blup.loc[m, "intercept"], blup.loc[m, "slope"], color=colors[lev], s=16, label=f"BLUP: {lev}")
        for lev in levels:
            m = (blue[by] == lev).to_numpy()
            if (m & ok.to_numpy()).sum() > 2:
                draw_ellipse(
                    geo.data_ellipse(blue.loc[m & ok.to_numpy(), "intercept"], blue.loc[m & ok.to_numpy(), "slope"]),
                    ax,
                    radius=radius,
                    color=colors[lev],
                    lw=1.0,
                    ls="--",
                    label=None,
                )
            if m.sum() > 2:
                draw_ellipse(
                    geo.data_ellipse(blup.loc[m, "intercept"], blup.loc[m, "slope"]),
                    ax,
                    radius=radius,
                    color=colors[lev],
                    lw=1.4,
                    label=None,
                )
        popu = pop.groupby(blue[by].to_numpy()).mean().reindex(levels)
    ax.scatter(
        popu["intercept"],
        popu["slope"],
        color="tab:green",
        s=60,
        marker="D",
        zorder=5,
        edgecolors="black",
        linewidths=0.5,
        label="population line" + (f" (by {by})" if by else ""),
    )
    ax.set_xlabel("intercept")
    ax.set_ylabel(f"slope of {x}")
    ax.legend(fontsize=8, title=by)
    return ax
