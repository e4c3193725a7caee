"""Denominator degrees of freedom for t and F tests of L beta = 0: one dispatch.

=====================================  ==========================================
``ddf``                                rule
=====================================  ==========================================
``None``, ``"nlme"``,                  nlme's between/within rule
``"between-within"``                   (:mod:`hlmlab.ddf.nlme`): each row of L
                                       takes the smallest DF among the
                                       coefficients it involves
``"satterthwaite"``, ``"sat"``         Satterthwaite (:mod:`hlmlab.ddf.satterthwaite`)
``"kenward-roger"``, ``"kr"``,         Kenward-Roger (:mod:`hlmlab.ddf.kenward_roger`);
``"kenward_roger"``                    its adjusted covariance and F scale come
                                       from :func:`~hlmlab.ddf.kenward_roger.kenward_roger`
=====================================  ==========================================

Names are case-insensitive. This package is pure math on explicit inputs: a
fit hands over its coefficients' default DF and, for Satterthwaite and
Kenward-Roger, its variance parameters (a ``VarPar``, ``fit.varpar``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hlmlab.contract import ContrastDF
from hlmlab.ddf._lmatrix import as_array
from hlmlab.ddf.kenward_roger import kenward_roger
from hlmlab.ddf.nlme import nlme_contrast_df
from hlmlab.ddf.satterthwaite import satterthwaite_df

if TYPE_CHECKING:  # pragma: no cover
    from hlmlab.lmm.varpar import VarPar

__all__ = ["METHODS", "ALIASES", "method_name", "contrast_df"]

#: The methods, by their canonical names.
METHODS = ("nlme", "satterthwaite", "kenward-roger")

#: Every name accepted (lower case), with the method it selects.
ALIASES = {
    "nlme": "nlme",
    "between-within": "nlme",
    "satterthwaite": "satterthwaite",
    "sat": "satterthwaite",
    "kenward-roger": "kenward-roger",
    "kr": "kenward-roger",
    "kenward_roger": "kenward-roger",
}


def method_name(ddf: str | None) -> str:
    """The canonical name of a ddf method: ``"nlme"`` (also for None), ``"satterthwaite"`` or ``"kenward-roger"``.

    Raises
    ------
    ValueError
        For any other value; the message lists the names accepted.
    """
    if ddf is None:
        return "nlme"
    key = ddf.strip().lower() if isinstance(ddf, str) else None
    if key not in ALIASES:
        known = ", ".join(repr(k) for k in ALIASES)
        raise ValueError(f"unknown ddf {ddf!r}; known: None, {known}")
    return ALIASES[key]


def contrast_df(L: Any, ddf: str | None = None, *, coef_df: Any, varpar: VarPar | None = None) -> ContrastDF:
    """Denominator DF for each row of L (m x p) and for the joint F test of L beta = 0.

    Parameters
    ----------
    L : array_like (p,) or (m, p), Series or DataFrame named by coefficient
    ddf : str or None
        A name of :data:`ALIASES` (see the module's table); None is nlme's rule.
    coef_df : array_like or Series, shape (p,)
        The default DF of each coefficient (a fit's ``df``), for nlme's rule.
    varpar : VarPar, optional
        The fit's variance parameters; needed by Satterthwaite and Kenward-Roger.

    Returns
    -------
    ContrastDF
        ``row_df`` (m,) and ``joint_df``.
    """
    name = method_name(ddf)
    if isinstance(coef_df, pd.Series):
        names: Any = [str(n) for n in coef_df.index]
    elif varpar is not None:
        names = list(varpar.beta_names)
    else:
        names = int(np.size(coef_df))
    Lm = as_array(L, names)
    if name == "nlme":
        rows, joint = nlme_contrast_df(np.asarray(coef_df, dtype=float), Lm)
        return ContrastDF(rows, joint)
    if varpar is None:
        raise ValueError(f"ddf={ddf!r} needs the variance parameters of a mixed model (varpar=fit.varpar)")
    res = satterthwaite_df(varpar, Lm) if name == "satterthwaite" else kenward_roger(varpar, Lm)
    return ContrastDF(np.asarray(res.df, dtype=float), float(res.df_joint))
