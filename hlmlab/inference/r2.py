"""Multilevel R²: the proportional reduction of each variance component against a null model."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["r2_multilevel"]


def _variances(fit) -> pd.Series:
    """Variance components of a fit: diagonal of G per level, and the residual."""
    out = {}
    G = getattr(fit, "G", None)
    if isinstance(G, dict):
        for lev, g in G.items():
            for name, v in zip(g.index, np.diag(np.asarray(g, dtype=float))):
                out[f"{lev}: {name}"] = v
    elif G is not None:
        g = G if isinstance(G, pd.DataFrame) else pd.DataFrame(np.atleast_2d(G))
        for name, v in zip(g.index, np.diag(g.to_numpy(dtype=float))):
            out[str(name)] = v
    out["Residual"] = float(fit.sigma) ** 2
    return pd.Series(out, dtype=float)


def r2_multilevel(fit, null_fit) -> pd.DataFrame:
    """Proportional reduction of each variance component against a null model.

    R²_c = (v_c(null) - v_c(fit)) / v_c(null) for each component c present in
    both fits (the residual sigma² and the diagonal of G, e.g. the intercept
    variance tau_00 of a random-intercept null model). A negative value
    means the component grew (which can happen when level-1 predictors
    explain within-group variance that masked between-group variance).

    Returns
    -------
    DataFrame
        Columns ``null``, ``model`` (variances) and ``R2``; components present
        in one fit only have NaN.
    """
    v0, v1 = _variances(null_fit), _variances(fit)
    comps = list(dict.fromkeys([*v0.index, *v1.index]))
    tab = pd.DataFrame({"null": v0.reindex(comps), "model": v1.reindex(comps)})
    tab["R2"] = (tab["null"] - tab["model"]) / tab["null"]
    tab.index.name = "component"
    return tab
