"""The fitted-model contract: what every fit (``lm`` or ``lme``) answers.

Inference, geometry and the plots ask a fit only for what :class:`FittedModel`
lists, so they never need to know whether it is an OLS or a mixed-model fit.
A contract test (``tests/test_contract.py``) runs the same checks on both.

Names follow R and the notes. Two argument names have one meaning each
everywhere in hlmlab:

* ``level`` is a *grouping* level (nlme's sense): 0 is the population, 1 the
  outermost grouping factor, and so on; ``None`` means the innermost;
* ``conf_level`` is a *confidence* level, a probability such as 0.95.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import pandas as pd

__all__ = ["ContrastDF", "Summary", "FittedModel", "check_conf_level", "check_count"]


class ContrastDF(NamedTuple):
    """Denominator degrees of freedom for a hypothesis matrix L (k x p).

    Attributes
    ----------
    row_df : ndarray, shape (k,)
        The DF of the t test of each row of L.
    joint_df : float
        The denominator DF of the F test of L beta = 0.
    """

    row_df: np.ndarray
    joint_df: float


@runtime_checkable
class Summary(Protocol):
    """A printed summary: R's layout as text, tables in a notebook."""

    def __str__(self) -> str: ...

    def _repr_html_(self) -> str: ...


@runtime_checkable
class FittedModel(Protocol):
    """What ``lm`` and ``lme`` fits both provide.

    Attributes
    ----------
    fixef : Series
        beta-hat, indexed by R-style coefficient names (``(Intercept)``, ``ses``,
        ``SectorPublic``, ``ses:SectorPublic``).
    vcov : DataFrame
        Cov(beta-hat).
    se : Series
        Standard errors, sqrt(diag(vcov)).
    df : Series
        The default denominator DF of each coefficient (OLS: n - p; lme: nlme's
        between/within rule).
    sigma : float
        Residual standard deviation.
    loglik, aic, bic : float
        Maximised log-likelihood (REML or ML for lme) and the criteria from it.
    nobs : int
        Rows used by the fit.
    method : str
        ``"OLS"``, ``"REML"`` or ``"ML"``.
    """

    @property
    def fixef(self) -> pd.Series: ...

    @property
    def vcov(self) -> pd.DataFrame: ...

    @property
    def se(self) -> pd.Series: ...

    @property
    def df(self) -> pd.Series: ...

    @property
    def sigma(self) -> float: ...

    @property
    def loglik(self) -> float: ...

    @property
    def aic(self) -> float: ...

    @property
    def bic(self) -> float: ...

    @property
    def nobs(self) -> int: ...

    @property
    def method(self) -> str: ...

    def coef(self, level: Any = None) -> pd.Series | pd.DataFrame:
        """OLS: beta-hat. lme: the coefficients of each group at ``level`` (fixef + BLUPs)."""
        ...

    def summary(self) -> Summary: ...

    def residuals(self, type: str = "response") -> pd.Series:  # noqa: A002 - R's name
        """``"response"``: y - fitted; ``"pearson"``: divided by sigma."""
        ...

    def predict(self, newdata: pd.DataFrame | None = None, **options: Any) -> pd.Series | pd.DataFrame: ...

    def intervals(self, conf_level: float = 0.95) -> Any:
        """Confidence intervals for the parameters at ``conf_level``."""
        ...

    def contrast_df(self, L: Any, ddf: str | None = None) -> ContrastDF: ...


def check_conf_level(conf_level: float) -> float:
    """A confidence level strictly between 0 and 1, or a ValueError that says what was given."""
    try:
        value = float(conf_level)
    except (TypeError, ValueError):
        raise ValueError(f"conf_level must be a probability such as 0.95, got {conf_level!r}") from None
    if not 0 < value < 1:
        hint = f" (did you mean {value / 100:g}?)" if 1 < value < 100 else ""
        raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}{hint}")
    return value


def check_count(value: object, name: str) -> int:
    """A positive whole number (a number of simulations, say), or a ValueError that names it and says what was given."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)
