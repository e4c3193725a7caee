"""Hypotheses L beta = 0: the L matrices, built from names, patterns, grids and factors.

Every builder returns a DataFrame with one row per hypothesis (named) and one
column per coefficient of the fit, so ``L @ fit.fixef`` lists the estimates
and :func:`hlmlab.inference.wald.wald` tests them.

================  ===============================================================
lrows             rows picking every coefficient whose name matches a regex
as_L              any specification (regex, names, vector, matrix, Series, DataFrame) as L
contrast_matrix   rows picking given coefficients (names or positions) or combinations
pairwise          rows for the differences between the levels of a factor
lgrid             rows x(newdata_i)' evaluated on a data grid (effects, gap curves)
ldiff             differences of two sets of rows (e.g. Public - Catholic)
row_basis, rank   the row space of L and its dimension (hlmlab's one rank rule)
================  ===============================================================
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from hlmlab.ddf._lmatrix import RANK_TOL, CoefficientError, as_array, rank, row_basis

__all__ = [
    "lrows",
    "as_L",
    "contrast_matrix",
    "pairwise",
    "lgrid",
    "ldiff",
    "row_basis",
    "rank",
    "RANK_TOL",
    "CoefficientError",
]


def _names(fit) -> list[str]:
    return [str(n) for n in fit.fixef.index]


def lrows(fit, pattern: str) -> pd.DataFrame:
    """Rows of L that pick every coefficient whose name matches ``pattern``.

    ``pattern`` is a regular expression searched in each name (``re.search``):
    ``"ses"`` picks ``ses``, ``ses:SectorPublic`` and ``cvar(ses, id)``;
    ``"^ses$"`` picks ``ses`` alone. Row i of the result is the unit vector
    e_j of the i-th matching coefficient j, so L beta lists those estimates.

    Raises
    ------
    ValueError
        If nothing matches (the message lists the coefficient names).
    """
    names = _names(fit)
    try:
        rx = re.compile(pattern)
    except re.error as err:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {err}") from None
    hits = [n for n in names if rx.search(n)]
    if not hits:
        raise ValueError(f"the pattern {pattern!r} matches no coefficient; the coefficients are {names}")
    L = pd.DataFrame(0.0, index=hits, columns=names)
    for h in hits:
        L.loc[h, h] = 1.0
    return L


def as_L(fit, spec: Any) -> pd.DataFrame:
    """Turn a hypothesis specification into an L matrix with named rows and columns.

    ``spec`` may be a regular expression (see :func:`lrows`), a list of
    coefficient names, a 1-D vector (one row), a 2-D array with one column per
    coefficient, a Series indexed by coefficient names (one row), or a
    DataFrame whose columns are coefficient names (missing coefficients get 0).
    Rows are named by the names, the Series' name or the DataFrame's index,
    else ``L1``, ``L2``, ...
    """
    names = _names(fit)
    if isinstance(spec, str):
        return lrows(fit, spec)
    if isinstance(spec, (list, tuple)) and spec and all(isinstance(s, str) for s in spec):
        unknown = [s for s in spec if s not in names]
        if unknown:
            raise CoefficientError(f"coefficient(s) {unknown} not in the fit; the coefficients are {names}")
        L = pd.DataFrame(0.0, index=list(spec), columns=names)
        for s in spec:
            L.loc[s, s] = 1.0
        return L
    if isinstance(spec, pd.Series):
        spec = spec.to_frame().T if spec.name is not None else pd.DataFrame([spec], index=["L1"])
    arr = as_array(spec, names)
    index = [str(i) for i in spec.index] if isinstance(spec, pd.DataFrame) else [f"L{i + 1}" for i in range(len(arr))]
    return pd.DataFrame(arr, index=index, columns=names)


_COUNT = {1: "one", 2: "two", 3: "three", 4: "four"}


def contrast_matrix(fit, coefs: Any = None, L: Any = None, *, nrow: int | None = None) -> pd.DataFrame:
    """L with named rows picking coefficients (``coefs``) or combinations of them (``L``).

    Parameters
    ----------
    coefs : list of coefficient names or positions, optional
        Row i of the result is the unit vector of the i-th coefficient.
    L : any specification :func:`as_L` accepts, optional
    nrow : int, optional
        The number of rows required (e.g. 2 for a confidence ellipse); with
        neither ``coefs`` nor ``L``, the first ``nrow`` coefficients.

    Raises
    ------
    KeyError
        For a coefficient name or position not in the fit.
    ValueError
        For both ``coefs`` and ``L``, or a number of rows other than ``nrow``.
    """
    names = _names(fit)
    p = len(names)
    if L is not None and coefs is not None:
        raise ValueError("give either coefs or L, not both")
    if L is None and coefs is None:
        if nrow is None:
            raise ValueError("give coefs (coefficient names) or L (a hypothesis matrix)")
        coefs = names[:nrow]
    if L is None:
        coefs = [coefs] if isinstance(coefs, (str, int, np.integer)) else list(coefs)
        if nrow is not None and len(coefs) != nrow:
            raise ValueError(f"coefs must name exactly {_COUNT.get(nrow, nrow)} coefficients; got {coefs!r}")
        picked = []
        for c in coefs:
            if isinstance(c, (int, np.integer)):
                if not 0 <= c < p:
                    raise CoefficientError(f"coefficient position {c} is out of range 0..{p - 1}")
                c = names[c]
            picked.append(str(c))
        return as_L(fit, picked)
    out = as_L(fit, L)
    if nrow is not None and out.shape[0] != nrow:
        raise ValueError(f"L must have exactly {nrow} rows here; got {out.shape[0]}")
    return out


def pairwise(fit, factor: str, prefix: str | None = None, levels: list | None = None) -> pd.DataFrame:
    """Rows of L for the differences between every pair of levels of a factor.

    With treatment coding, the effect of level k is the coefficient named
    ``prefix + str(k)`` (e.g. ``SectorPublic``) and the reference level's is
    0, so the row for "b - a" is e_b - e_a (a zero vector stands for the
    reference). Without an intercept every level has a coefficient.
    Interactions are not involved: for level differences at given values of
    other variables use :func:`lgrid` with :func:`ldiff`.

    Parameters
    ----------
    factor : str
        Column of ``fit.data``; its levels (categories, or sorted values).
    prefix : str, optional
        Start of the coefficient names (default ``factor``; for a formula
        term like ``C(school)``, pass the term as it appears in the names).
    levels : list, optional
        The levels to compare (default: all levels present in the fit).
    """
    names = _names(fit)
    prefix = factor if prefix is None else prefix
    if levels is None:
        col = fit.data[factor] if factor in fit.data.columns else None
        if col is None:
            raise KeyError(f"{factor!r} is not a column of the fitted data; pass levels=")
        categorical = isinstance(col.dtype, pd.CategoricalDtype)
        levels = list(col.cat.categories) if categorical else sorted(col.dropna().unique())
    vec = {}
    for lev in levels:
        v = pd.Series(0.0, index=names)
        key = f"{prefix}{lev}"
        if key in names:
            v[key] = 1.0
        vec[lev] = v
    if not any(f"{prefix}{lev}" in names for lev in levels):
        raise ValueError(
            f"no coefficient is named {prefix!r} followed by a level of {factor!r}; the coefficients are {names}"
        )
    rows = {}
    for i, a in enumerate(levels):
        for b in levels[i + 1 :]:
            rows[f"{b} - {a}"] = vec[b] - vec[a]
    return pd.DataFrame(rows).T


def _row_label(row: pd.Series) -> str:
    parts = []
    for k, v in row.items():
        parts.append(f"{k}={v:g}" if isinstance(v, (float, np.floating)) else f"{k}={v}")
    return ", ".join(parts)


def lgrid(fit, newdata: pd.DataFrame) -> pd.DataFrame:
    """Rows of L evaluated on a data grid: x(newdata_i)' for each row i.

    ``L beta`` are then the population-level predictions at the grid's
    rows, with SEs from the Wald machinery. The rows go through
    ``fit.design.model_matrix(newdata)``, so factors, interactions and
    transformations are coded exactly as in the fit (``newdata`` needs every
    variable of the fixed formula). Rows are labelled by their values.
    """
    X0 = fit.design.model_matrix(newdata)
    X0 = np.asarray(X0, dtype=float)
    names = _names(fit)
    if X0.shape[1] != len(names):
        raise ValueError(f"the grid gives {X0.shape[1]} columns but the fit has {len(names)} coefficients")
    labels = [_row_label(r) for _, r in newdata.reset_index(drop=True).iterrows()]
    return pd.DataFrame(X0, index=labels, columns=names)


def _parse_label(label: str) -> dict[str, str] | None:
    parts = [p.split("=", 1) for p in label.split(", ")]
    return dict(parts) if all(len(p) == 2 for p in parts) else None


def _diff_label(a: str, b: str) -> str:
    """``"Sector: Public - Catholic at ses=-2"`` for grid labels that differ in some variables."""
    pa, pb = _parse_label(a), _parse_label(b)
    if pa is None or pb is None or list(pa) != list(pb):
        return f"{a} - {b}"
    diff = [f"{k}: {pa[k]} - {pb[k]}" for k in pa if pa[k] != pb[k]]
    same = [f"{k}={pa[k]}" for k in pa if pa[k] == pb[k]]
    if not diff:
        return f"{a} - {b}"
    return "; ".join(diff) + (" at " + ", ".join(same) if same else "")


def ldiff(L1: pd.DataFrame, L2: pd.DataFrame, labels: list[str] | None = None) -> pd.DataFrame:
    """Row-by-row differences L1 - L2 (a single-row L2 is subtracted from every row).

    For gap curves: ``ldiff(lgrid(fit, public_grid), lgrid(fit, catholic_grid))``
    estimates Public minus Catholic at each grid point.
    """
    if list(L1.columns) != list(L2.columns):
        raise ValueError("L1 and L2 must have the same columns (the same fit's coefficients)")
    if len(L2) not in (1, len(L1)):
        raise ValueError(f"L2 must have one row or as many rows as L1 ({len(L1)}); it has {len(L2)}")
    a = L1.to_numpy()
    b = L2.to_numpy()
    out = pd.DataFrame(a - b, columns=L1.columns)
    if labels is None:
        l2 = list(L2.index) * (len(L1) if len(L2) == 1 else 1)
        labels = [_diff_label(str(x), str(y)) for x, y in zip(L1.index, l2)]
    out.index = labels
    return out
