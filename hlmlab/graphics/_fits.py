"""What the plots ask of a fit: its grouping column, response, fitted values, residuals and BLUPs.

Only through the fitted-model contract (``hlmlab.contract``) and, for mixed
fits, ``ranef``/``groups``; the rows used come from ``inference.grid.used_data``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hlmlab.graphics._axes import need
from hlmlab.inference.grid import used_data
from hlmlab.ols.fit import response_name

__all__ = ["group_column", "response", "is_mixed", "fitted", "resid", "ranef_frame", "group_values", "yname"]


def group_column(fit: Any, group: str | None = None) -> str:
    """Name of the (innermost) grouping column of an lme fit (``group`` if given and in the data)."""
    if group is not None:
        need(fit.data, group)
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


def is_mixed(fit: Any) -> bool:
    """True for a fit with random effects."""
    return hasattr(fit, "ranef")


def fitted(fit: Any, level: int | None = None) -> pd.Series:
    """Fitted values; for an lme fit at ``level`` (None: the innermost, 0: population)."""
    if not is_mixed(fit):
        return fit.fitted()
    return fit.fitted() if level is None else fit.fitted(level=level)


def resid(fit: Any, level: int | None = None, type: str = "raw") -> pd.Series:  # noqa: A002
    """Residuals: ``"raw"`` (y − fitted) or ``"pearson"`` (over sigma for lme; standardized for lm)."""
    if not is_mixed(fit):
        return fit.residuals(type="response" if type == "raw" else type)
    return fit.residuals(type=type) if level is None else fit.residuals(level=level, type=type)


def response(fit: Any) -> np.ndarray:
    """y of the rows used: fitted + raw residuals (at the same level)."""
    return np.asarray(fitted(fit), float) + np.asarray(resid(fit), float)


def ranef_frame(fit: Any, level: Any = None) -> pd.DataFrame:
    """BLUPs of one level as a DataFrame (the innermost level of a nested model by default)."""
    re = fit.ranef() if level is None else fit.ranef(level)
    if isinstance(re, dict):
        re = list(re.values())[-1]
    return re if isinstance(re, pd.DataFrame) else pd.DataFrame(re)


def group_values(fit: Any, by: str, index: Any, group: str | None = None) -> np.ndarray:
    """The group-level column ``by`` for each group in ``index`` (its first value in the group)."""
    gcol = group_column(fit, group)
    used = used_data(fit)
    need(used, by)
    return used.groupby(gcol, observed=True)[by].first().reindex(index).to_numpy()


def yname(fit: Any) -> str:
    """The fit's response name, or ``"response"``."""
    try:
        return response_name(fit)
    except AttributeError:
        return "response"
