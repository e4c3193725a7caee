r"""Beta space: each level's line (intercept, slope) by four methods, as ellipses.

Each group's least-squares line y = b_0j + b_1j x is a point in beta space
(:func:`hlmlab.ols.lmlist.group_coefficients`). The four methods average
them, or not, in four ways, and each gives an estimate of a level's line
(e.g. a sector's) with its covariance: an ellipse of
:mod:`hlmlab.graphics.geometry` whose centre is the estimate, whose shape is
its estimated covariance and whose ``df`` are its degrees of freedom.

==================  ============================================================
METHODS             the four methods: pooled, fixed, two-stage, between
method_ellipses     a level's line by each method, as an ellipse
difference_ellipse  the difference between two levels' estimates
==================  ============================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hlmlab.graphics.geometry import Ellipse
from hlmlab.inference.grid import factor_levels
from hlmlab.ols.lmlist import group_coefficients

__all__ = ["METHODS", "method_ellipses", "difference_ellipse"]

METHODS = ("pooled", "fixed", "two-stage", "between")


def _subset(frame: pd.DataFrame, by: str | None, level: Any) -> pd.DataFrame:
    """The rows of ``frame`` at one level of ``by`` (all rows without ``by``)."""
    return frame if by is None else frame[frame[by] == level]


def _pooled(data, x, y, by, levels):
    r"""OLS of y on x within each level: b_s = (X_s'X_s)^{-1} X_s'y_s, Var = s² (X_s'X_s)^{-1}.

    s² = sum_s RSS_s / (N − 2k) is pooled over the k levels, with N − 2k DF.
    Returns ``{level: (b, Var, df)}``.
    """
    out, rss, dfr = {}, 0.0, 0
    for lev in levels:
        d = _subset(data, by, lev)[[x, y]].dropna()
        X = np.column_stack([np.ones(len(d)), d[x].to_numpy(float)])
        b, res, *_ = np.linalg.lstsq(X, d[y].to_numpy(float), rcond=None)
        rss += float(((d[y].to_numpy(float) - X @ b) ** 2).sum())
        dfr += len(d) - 2
        out[lev] = (b, np.linalg.inv(X.T @ X))
    s2 = rss / dfr
    return {lev: (b, s2 * xtxi, dfr) for lev, (b, xtxi) in out.items()}


def _fixed(coefs, by, levels):
    r"""The mean of the level's m_s group lines, with the within-group error only.

    Var = s²_w / m_s² · sum_j (X_j'X_j)^{-1}, s²_w = sum_j RSS_j / (N − 2J) over the J
    groups with a slope, N − 2J DF. Returns ``{level: (b, Var, df)}``.
    """
    ok = coefs.dropna(subset=["slope"])
    s2 = ok["rss"].sum() / (ok["n"].sum() - 2 * len(ok))
    dfr = int(ok["n"].sum() - 2 * len(ok))
    out = {}
    for lev in levels:
        c = _subset(ok, by, lev)
        m = len(c)
        xtxi = np.array([[c["xtxi00"].sum(), c["xtxi01"].sum()], [c["xtxi01"].sum(), c["xtxi11"].sum()]])
        out[lev] = (c[["intercept", "slope"]].mean().to_numpy(), s2 * xtxi / m**2, dfr)
    return out


def _two_stage(coefs, by, levels):
    r"""The mean of the level's m_s group lines, with the spread of the lines.

    Var = W / m_s, W = sum_s sum_j (b_j − b̄_s)(b_j − b̄_s)' / (J − k), J − k DF.
    Returns ``{level: (b, Var, df)}``.
    """
    ok = coefs.dropna(subset=["slope"])
    groups = [_subset(ok, by, lev)[["intercept", "slope"]].to_numpy() for lev in levels]
    dfr = sum(len(b) for b in groups) - len(groups)
    if dfr < 1:
        raise ValueError("the two-stage method needs more groups than levels of the by variable")
    W = sum((b - b.mean(axis=0)).T @ (b - b.mean(axis=0)) for b in groups) / dfr
    return {lev: (b.mean(axis=0), W / len(b), dfr) for lev, b in zip(levels, groups)}


def _between(coefs, by, levels):
    r"""OLS of the group means ybar_j on xbar_j within each level (the ecological regression).

    Var = s² (X_s'X_s)^{-1}, X_s = [1, xbar], s² = sum_s RSS_s / (J − 2k), J − 2k DF.
    Returns ``{level: (b, Var, df)}``.
    """
    out, rss, dfr = {}, 0.0, 0
    for lev in levels:
        c = _subset(coefs, by, lev)
        X = np.column_stack([np.ones(len(c)), c["xbar"].to_numpy(float)])
        yb = c["ybar"].to_numpy(float)
        b, *_ = np.linalg.lstsq(X, yb, rcond=None)
        rss += float(((yb - X @ b) ** 2).sum())
        dfr += len(c) - 2
        out[lev] = (b, np.linalg.inv(X.T @ X))
    if dfr < 1:
        raise ValueError("the between-group regression needs more than 2 groups per level")
    s2 = rss / dfr
    return {lev: (b, s2 * xtxi, dfr) for lev, (b, xtxi) in out.items()}


def method_ellipses(
    data: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    by: str | None = None,
    methods: Any = METHODS,
) -> dict[str, dict[Any, Ellipse]]:
    r"""Estimates of each level's line (intercept, slope) by four methods, as ellipses.

    For each level s of ``by`` (e.g. Sector), with m_s groups in the level:

    pooled
        OLS of y on x within the level, ignoring groups; Var = s² (X_s'X_s)^{-1},
        s² pooled over levels, df = N − 2k.
    fixed
        the average of the groups' OLS lines, with the within-group error
        only: Var = s²_w / m_s² · Σ_j (X_j'X_j)^{-1}, s²_w = Σ RSS_j / (N − 2J),
        df = N − 2J (valid for new students in the same groups).
    two-stage
        the same average, with the spread of the groups' lines ("MANOVA"):
        Var = W / m_s, W the pooled within-level covariance of the
        (intercept, slope) pairs, df = J − k (generalises to new groups).
    between
        OLS of group means ybar_j on xbar_j (the ecological regression),
        df = J − 2k.

    Returns
    -------
    dict
        ``{method: {level: Ellipse}}`` with radius 1 (the centre is the
        estimate, the shape its estimated covariance, ``df`` its DF); rescale
        with ``e.scaled(radius(kind, e.df))``. Without ``by`` the single level
        is ``"all"``.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    for c, role in [(group, "group"), (x, "x"), (y, "y")] + ([(by, "by")] if by else []):
        if c not in data.columns:
            raise KeyError(f"{role} column {c!r} not found in the data; available columns: {list(data.columns)}")
    levels = ["all"] if by is None else factor_levels(data[by])
    coefs = group_coefficients(data, x, y, group, by)
    make = {
        "pooled": lambda: _pooled(data, x, y, by, levels),
        "fixed": lambda: _fixed(coefs, by, levels),
        "two-stage": lambda: _two_stage(coefs, by, levels),
        "between": lambda: _between(coefs, by, levels),
    }
    names = ("(Intercept)", x)
    out: dict[str, dict[Any, Ellipse]] = {}
    for m in methods:
        out[m] = {lev: Ellipse(b, V, 1.0, names, f"{m}: {lev}", float(dfr)) for lev, (b, V, dfr) in make[m]().items()}
    return out


def difference_ellipse(ellipses: dict[Any, Ellipse], first: Any = None, second: Any = None, label: str = "") -> Ellipse:
    r"""Ellipse of the difference between two levels' independent estimates.

    .. math:: c = c_2 - c_1, \qquad S = S_1 + S_2

    (the levels' estimates are independent in all four methods of
    :func:`method_ellipses`; the DF are those of the first). By default the
    last level minus the first (Public − Catholic).
    """
    levels = list(ellipses)
    if len(levels) < 2:
        raise ValueError("a difference needs at least two levels")
    first = levels[0] if first is None else first
    second = levels[-1] if second is None else second
    for lev in (first, second):
        if lev not in ellipses:
            raise KeyError(f"level {lev!r} not found; levels are {levels}")
    e1, e2 = ellipses[first], ellipses[second]
    return Ellipse(e2.center - e1.center, e1.shape + e2.shape, 1.0, e1.names, label or f"{second} − {first}", e1.df)
