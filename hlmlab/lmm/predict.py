"""Fitted values and predictions of a mixed model, at any grouping level.

Level 0 is the population: x'beta-hat. Level k adds z'b-hat for the groups
of the k outermost levels (nlme's convention; the innermost level is the
default for fitted values). For new data, a group the fit has not seen
has no BLUP, and its prediction at that level is NaN (as nlme).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fitted_array", "group_positions", "predict"]


def fitted_array(fit: Any, level: int) -> np.ndarray:
    """X beta-hat + sum over the ``level`` outermost levels of Z_k b-hat_k (rows used by the fit)."""
    D = len(fit.levels)
    if not 0 <= level <= D:
        raise ValueError(f"level must be between 0 (population) and {D} (innermost groups), got {level}")
    f = fit.design.X @ fit.solution.beta
    for k in range(level):
        lev = fit.levels[k]
        f = f + np.einsum("nq,nq->n", lev.Z, fit.solution.b[k][lev.codes])
    return f


def group_positions(lev: Any, newdata: pd.DataFrame) -> np.ndarray:
    """Position of each new row's group among the fitted groups of a level (-1 for a new group)."""

    def label(factor: str) -> pd.Series:
        parts = factor.split(":")
        if len(parts) == 1:
            return newdata[parts[0]]
        return newdata[parts].astype(str).agg(":".join, axis=1)

    if len(lev.factors) == 1:
        keys = label(lev.factors[0])
    else:
        keys = pd.concat([label(f).astype(str) for f in lev.factors], axis=1).agg("/".join, axis=1)
    return lev.labels.get_indexer(pd.Index(keys))


def predict(fit: Any, newdata: pd.DataFrame, level: int = 0, se: bool = False) -> pd.Series | pd.DataFrame:
    """Predictions for new data at a grouping level.

    Level 0: x'beta-hat and, with ``se=True``, its standard error
    sqrt(x' Cov(beta-hat) x). Level k >= 1: adds z'b-hat of the row's group at
    each of the k outermost levels (NaN for a group not in the fit).
    """
    D = len(fit.levels)
    if not 0 <= level <= D:
        raise ValueError(f"level must be between 0 (population) and {D} (innermost groups), got {level}")
    if se and level != 0:
        raise ValueError("standard errors are given for level-0 (population) predictions only")
    new = newdata.reset_index(drop=True)
    X0 = fit.design.model_matrix(new)
    out = X0 @ fit.solution.beta
    for k in range(level):
        lev = fit.levels[k]
        pos = group_positions(lev, new)
        Z0 = lev.z_matrix(new)
        b = np.where((pos >= 0)[:, None], fit.solution.b[k][np.maximum(pos, 0)], np.nan)
        out = out + np.einsum("nq,nq->n", Z0, b)
    if not se:
        return pd.Series(out, index=newdata.index, name="fit")
    V = fit.vcov.to_numpy()
    s = np.sqrt(np.einsum("ij,jk,ik->i", X0, V, X0))
    return pd.DataFrame({"fit": out, "se": s}, index=newdata.index)
