r"""Reference grids and pointwise Wald bands: the numbers behind effect plots.

A *reference grid* holds the values of the variables at which a fit is
evaluated: one variable x over its observed range, crossed with the levels of
some factors, every other variable held at a typical value. Each grid row i
gives a row l_i = x(row_i)' of L (``inference.lgrid``) and the band

.. math:: l_i'\hat\beta \pm t_{(1 + \text{conf\_level})/2}(\nu_i)\, \sqrt{l_i' \widehat{\mathrm{Var}}(\hat\beta)\, l_i},

each row's own interval (pointwise, not simultaneous over the grid).

==============  ===============================================================
used_data       the rows of a fit's data that entered the fit
factor_levels   the levels of a factor that occur, in their order
reference_grid  x over its range crossed with factor levels, others typical
wald_band       estimate, SE and limits of each row of L
prediction_band population-level predictions on a grid with their band
gap_band        the difference between two levels of a factor along a grid
==============  ===============================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hlmlab.inference.hypotheses import ldiff, lgrid
from hlmlab.inference.wald import wald

__all__ = ["used_data", "factor_levels", "reference_grid", "wald_band", "prediction_band", "gap_band"]


def used_data(fit: Any) -> pd.DataFrame:
    """The rows of ``fit.data`` that entered the fit (``fit.design.rows``), in fit order, with their index."""
    data = fit.data
    rows = getattr(getattr(fit, "design", None), "rows", None)
    if rows is None:
        return data
    rows = np.asarray(rows)
    return data.loc[rows] if rows.dtype == bool else data.iloc[rows]


def factor_levels(s: pd.Series) -> list:
    """The levels of ``s`` that occur: a categorical's in category order, other values sorted."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [lev for lev in s.cat.categories if (s == lev).any()]
    return sorted(s.dropna().unique())


def _need(data: pd.DataFrame, *cols: str | None) -> None:
    missing = [c for c in cols if c is not None and c not in data.columns]
    if missing:
        raise KeyError(f"column(s) {missing} not found in the data; available columns: {list(data.columns)}")


def reference_grid(fit: Any, x: str, by: str | Sequence[str] | None = None, n: int = 50) -> pd.DataFrame:
    """x at ``n`` equally spaced values over its observed range, crossed with the levels of ``by``.

    Every other column of the data used by the fit is held at a typical
    value: a numeric column at its mean, a factor at its first category (the
    reference level), any other column at its first level. A factor in
    ``by`` keeps its categories, so the fit codes it as in the data.

    Raises
    ------
    ValueError
        If the fit's formula computes group summaries (``cvar``/``dvar``):
        on a grid they would be recomputed from the grid's own rows.
    KeyError
        If x or a ``by`` column is not in the data.
    """
    formula = str(getattr(fit, "fixed", None) or getattr(fit, "formula", ""))
    if "cvar(" in formula or "dvar(" in formula:
        raise ValueError(
            f"the model {formula!r} computes group summaries inside its formula (cvar/dvar); on a "
            "default grid they would be recomputed from the grid's own rows, not the groups' data. "
            "Put the group mean in the data as a column, refit with it, and pass grid= explicitly"
        )
    used = used_data(fit)
    byl = [] if by is None else ([by] if isinstance(by, str) else list(by))
    _need(used, x, *byl)
    xs = used[x].astype(float)
    grid = pd.DataFrame({x: np.linspace(xs.min(), xs.max(), n)})
    for b in byl:
        levels = factor_levels(used[b])
        grid = grid.merge(
            pd.DataFrame(
                {
                    b: pd.Categorical(levels, categories=factor_levels(used[b]))
                    if isinstance(used[b].dtype, pd.CategoricalDtype)
                    else levels
                }
            ),
            how="cross",
        )
    for c in used.columns:
        if c in grid.columns:
            continue
        s = used[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            grid[c] = pd.Categorical([s.cat.categories[0]] * len(grid), categories=s.cat.categories)
        elif pd.api.types.is_numeric_dtype(s.dtype) and s.dtype != bool:
            grid[c] = float(s.mean())
        else:
            grid[c] = factor_levels(s)[0] if s.notna().any() else np.nan
    return grid


def wald_band(fit: Any, L: pd.DataFrame, conf_level: float = 0.95, ddf: Any = None) -> pd.DataFrame:
    r"""Estimate, SE and pointwise limits of each row of L, by ``inference.wald``.

    Row i: l_i'beta-hat, SE_i = sqrt(l_i' V l_i) and l_i'beta-hat ± t((1 + conf_level)/2, nu_i) SE_i,
    nu_i the row's denominator DF under ``ddf``.

    Returns
    -------
    DataFrame with columns ``fit``, ``se``, ``lower``, ``upper`` (index 0..k-1).
    """
    t = wald(fit, L, ddf=ddf, conf_level=conf_level).estimate
    return pd.DataFrame(
        {
            "fit": t["Estimate"].to_numpy(),
            "se": t["Std.Error"].to_numpy(),
            "lower": t.iloc[:, 5].to_numpy(),
            "upper": t.iloc[:, 6].to_numpy(),
        }
    )


def prediction_band(fit: Any, grid: pd.DataFrame, conf_level: float = 0.95, ddf: Any = None) -> pd.DataFrame:
    """Population-level predictions x(row)'beta-hat on each grid row with their pointwise band.

    :func:`wald_band` of L = ``lgrid(fit, grid)``.
    """
    return wald_band(fit, lgrid(fit, grid), conf_level, ddf)


def gap_band(
    fit: Any, grid: pd.DataFrame, factor: str, first: Any, second: Any, conf_level: float = 0.95, ddf: Any = None
) -> pd.DataFrame:
    r"""The gap between two levels of ``factor`` at each grid row, with its pointwise band.

    Row i of L is l_i = x(row_i with factor = second)' − x(row_i with factor = first)'
    (``ldiff`` of two ``lgrid``\ s), so l_i'beta-hat is the gap second − first
    there; the band is :func:`wald_band` of L. The factor keeps the
    categories it has in the data used by the fit.
    """
    used = used_data(fit)
    _need(used, factor)
    s = used[factor]

    def at(lev: Any) -> pd.DataFrame:
        g = grid.copy()
        g[factor] = (
            pd.Categorical([lev] * len(g), categories=s.cat.categories)
            if isinstance(s.dtype, pd.CategoricalDtype)
            else lev
        )
        return g

    return wald_band(fit, ldiff(lgrid(fit, at(second)), lgrid(fit, at(first))), conf_level, ddf)
