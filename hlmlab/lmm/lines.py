r"""Each group's line a + b x from a mixed fit: the numbers behind shrinkage plots.

A model ``y ~ ...`` with random part ``~ 1 + x | group`` gives each group j a
predicted line in x when every fixed-effect column is itself a line in x
within the group, X_k = a_jk + s_jk x: the intercept, x, group-level variables
(a sector, ``cvar(x, g)``) and their products with x. With the group's
coefficients c_j = beta-hat + b_j (``fit.coef()``) the group's BLUP line is

.. math:: \tilde y_j(x) = \sum_k c_{jk} a_{jk} + \Bigl(\sum_k c_{jk} s_{jk}\Bigr) x,

and with beta-hat alone its population (fixed-part) line. A contextual
variable keeps the group's own value, which predicting at x = 0 and x = 1
would not (the formula would recompute the group mean from the new rows).

===========  ================================================================
group_means  each group's mean response (BLUE) and intercept BLUP, one-way
line_terms   each fixed-effect column as a + s x within each group
group_lines  the BLUP and population (intercept, slope) of each group
===========  ================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["group_means", "line_terms", "group_lines"]


def _design_matrix(fit: Any, data: pd.DataFrame) -> np.ndarray:
    """The fixed-effects model matrix of ``data`` (``design.X`` when it has these rows, else ``model_matrix``)."""
    design = fit.design
    X = getattr(design, "X", None)
    if X is not None and np.shape(X)[0] == len(data):
        return np.asarray(X, dtype=float)
    return np.asarray(design.model_matrix(data), dtype=float)


def _random_names(fit: Any) -> list[str]:
    """Names of the random effects of a fit with one grouping level."""
    G = fit.G
    if isinstance(G, dict):
        raise ValueError(
            "shrinkage_beta draws one grouping level; this fit has nested random effects "
            f"({', '.join(map(str, G))}). Fit the model with a single grouping factor"
        )
    return [str(c) for c in (G.columns if isinstance(G, pd.DataFrame) else pd.DataFrame(G).columns)]


def group_means(fit: Any, group: str, data: pd.DataFrame, y: Any) -> pd.DataFrame:
    r"""Each group's size, mean response (its BLUE) and intercept BLUP, for a one-way model.

    .. math:: n_j, \qquad \bar y_j = \frac{1}{n_j}\sum_i y_{ij}, \qquad
              \tilde\beta_{0j} = \text{first column of } ``fit.coef()`` \text{ for group } j,

    which for ``y ~ 1`` with random part ``~ 1 | group`` is
    gamma-hat + g_00 / (g_00 + sigma²/n_j) (ybar_j − gamma-hat).

    Parameters
    ----------
    fit : a mixed fit (``coef()``)
    group : str
        The grouping column of ``data``.
    data : DataFrame
        The rows used by the fit, in fit order.
    y : array-like
        The response of those rows.

    Returns
    -------
    DataFrame indexed by group (sorted) with ``n``, ``blue`` and ``blup``.
    """
    labels = data[group]
    blue = pd.Series(np.asarray(y, dtype=float), index=data.index).groupby(labels, observed=True).mean()
    n = labels.value_counts().reindex(blue.index)
    co = fit.coef()
    blup = co.iloc[:, 0].reindex(blue.index) if isinstance(co, pd.DataFrame) else pd.Series(co).reindex(blue.index)
    return pd.DataFrame({"n": n, "blue": blue, "blup": blup})


def line_terms(fit: Any, x: str, group: str, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""Each fixed-effect column as a line in x within each group: X_k = a_jk + s_jk x.

    a and s are the least-squares coefficients of X_k on (1, x) within group j,

    .. math:: s_{jk} = \frac{\sum_i (x_i - \bar x_j)(X_{ik} - \bar X_{jk})}{\sum_i (x_i - \bar x_j)^2},
              \qquad a_{jk} = \bar X_{jk} - s_{jk} \bar x_j,

    checked to fit exactly (|X_ik − a_jk − s_jk x_i| ≤ 1e-8 (1 + max |X_k|)).

    Parameters
    ----------
    fit : a fit with ``design`` (``names`` and ``X`` or ``model_matrix``)
    x : str
        The column the lines are drawn in.
    group : str
        The grouping column.
    data : DataFrame
        The rows used by the fit, in fit order (``inference.grid.used_data``).

    Returns
    -------
    (a, s) : two DataFrames, groups × columns (NaN where x has no spread in the group).

    Raises
    ------
    ValueError
        Naming the first column that is not linear in x within some group.
    """
    names = [str(n) for n in fit.design.names]
    X = pd.DataFrame(_design_matrix(fit, data), columns=names, index=data.index)
    xv = data[x].astype(float)
    lab = data[group]
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


def group_lines(fit: Any, x: str, group: str, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""BLUP and population (intercept, slope) in x of each group, from ``fit.coef()`` and ``fit.fixef``.

    With X_k = a_jk + s_jk x within group j (:func:`line_terms`) and the
    group's coefficients c_j = beta-hat + b_j,

    .. math:: \text{BLUP}_j = \Bigl(\sum_k c_{jk} a_{jk},\ \sum_k c_{jk} s_{jk}\Bigr), \qquad
              \text{population}_j = \Bigl(\sum_k \hat\beta_k a_{jk},\ \sum_k \hat\beta_k s_{jk}\Bigr),

    the second the fixed part of the line at the group's values of the
    group-level variables. A random effect without a fixed counterpart
    (``(Intercept)`` or x) is added to the intercept or slope.

    Parameters are those of :func:`line_terms`; the fit must have the random
    part ``~ 1 + x | group`` (one grouping level).

    Returns
    -------
    (blup, population) : two DataFrames indexed by group with ``intercept`` and ``slope``.

    Raises
    ------
    ValueError
        If the random part is not ``~ 1 + x | group``, a column is not linear
        in x within groups, or ``fit.coef()`` lacks a group.
    """
    zn = _random_names(fit)
    if zn != ["(Intercept)", x]:
        raise ValueError(
            f"shrinkage_beta needs the random part '~ 1 + {x} | group' (a random intercept and a "
            f"random slope of {x!r}, in that order); this fit's random effects are {zn}. "
            "For a random-intercept model use plots.shrinkage"
        )
    a, s = line_terms(fit, x, group, data)
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
    blup = pd.DataFrame(
        {"intercept": (C * a.to_numpy()).sum(axis=1), "slope": (C * s.to_numpy()).sum(axis=1)}, index=a.index
    )
    for c in extra:  # a random effect without a fixed counterpart
        if c == "(Intercept)":
            blup["intercept"] += co[c].to_numpy()
        elif c == x:
            blup["slope"] += co[c].to_numpy()
    beta = fit.fixef.reindex(names).fillna(0.0).to_numpy()
    pop = pd.DataFrame({"intercept": a.to_numpy() @ beta, "slope": s.to_numpy() @ beta}, index=a.index)
    return blup, pop
