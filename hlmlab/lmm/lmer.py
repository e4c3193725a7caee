"""``lmer``: lme4's one-formula syntax as a second door to the same engine as ``lme``.

``hl.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy)`` is
``hl.lme("Reaction ~ Days", sleepstudy, "~ Days | Subject")``: the formula is
split into the fixed part and the random terms
(:func:`hlmlab.formula.rsyntax.split_lme4`) and fitted by
:func:`hlmlab.lmm.model.lme`, so the fit, its criterion and every method are
the same.

=========================================  =====================================
lme4                                       the same model with ``lme``
=========================================  =====================================
``(1 | g)``                                ``"~ 1 | g"``
``(x | g)``, ``(1 + x | g)``               ``"~ 1 + x | g"`` (correlated)
``(x || g)``                               ``"~ 1 + x || g"``: levels ``g`` and
                                           ``g.1``, uncorrelated (pdDiag)
``(1 | g) + (0 + x | g)``                  the same as ``(x || g)``
``(1 | a/b)``, ``(1 | a) + (1 | a:b)``     ``"~ 1 | a/b"`` (b nested in a)
``(1 | a) + (1 | b)``, b not within a      crossed: not supported (ValueError)
=========================================  =====================================
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from hlmlab._format import caller_name
from hlmlab.formula.rsyntax import split_lme4
from hlmlab.lmm.fit import LmeFit
from hlmlab.lmm.model import lme

__all__ = ["lmer"]


def lmer(formula: str, data: pd.DataFrame, REML: bool = True, data_name: str | None = None) -> LmeFit:  # noqa: N803 - lme4's name
    """Fit a linear mixed model written in lme4's syntax.

    Parameters
    ----------
    formula : str
        ``"y ~ fixed terms + (effects | group) + ..."``: the fixed part as
        in :func:`hlmlab.lm` (R's formula syntax), each random-effects term
        in parentheses with a bar. ``y ~ (1 | g)`` has an intercept-only fixed
        part, as in R.
    data : DataFrame
    REML : bool
        True (default) for REML, False for maximum likelihood, as in lme4.
    data_name : str, optional
        The data's name in printed output (default: the caller's variable name).

    Returns
    -------
    LmeFit
        The fit of ``lme(fixed, data, random, method)``: REML criterion (or
        ML deviance) ``fit.criterion``, as lme4's ``REMLcrit``/``deviance``.

    Raises
    ------
    TypeError
        ``data`` is not a pandas DataFrame.
    ValueError
        No random-effects term, a bar outside parentheses, a fixed part with
        no terms, crossed grouping factors (not supported), or anything
        ``lme`` refuses.

    Examples
    --------
    >>> fit = hl.lmer("Reaction ~ Days + (Days || Subject)", sleepstudy)
    >>> fit.criterion   # 1743.669, as lme4
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if not isinstance(REML, bool):
        raise TypeError(f"REML must be True or False, got {REML!r}")
    fixed, random = split_lme4(formula)
    name: Any = data_name if data_name is not None else caller_name(data) or data.attrs.get("name")
    return lme(fixed, data, random if len(random) > 1 else random[0], "REML" if REML else "ML", name)
