"""How an OLS fit prints: R's ``summary.lm`` layout as text, its tables as HTML.

:class:`OlsSummary` (``lm(...).summary()``) prints, via ``str``/``repr``::

    Call / Residuals (five-number summary) / Coefficients (Estimate,
    Std. Error, t value, Pr(>|t|), significance stars) / Residual standard
    error on n - p degrees of freedom / Multiple and adjusted R-squared /
    F-statistic on (df1, n - p) DF with its p-value

and renders the coefficient table as HTML in a notebook (``_repr_html_``).
Numbers are formatted by :mod:`hlmlab._format`; they are computed by the fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from hlmlab._format import fixed_decimals, format_p, html_table, stars

if TYPE_CHECKING:  # pragma: no cover
    from hlmlab.ols.fit import OlsFit

__all__ = ["OlsSummary", "coefficient_table"]

SIGNIF_CODES = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def coefficient_table(fit: OlsFit) -> pd.DataFrame:
    """The coefficient table formatted as R prints it (shared decimals, R's p-values and stars)."""
    tab = fit.coef_table()
    return pd.DataFrame(
        {
            "Estimate": fixed_decimals(tab["Estimate"]),
            "Std. Error": fixed_decimals(tab["Std. Error"]),
            "t value": tab["t value"].map(lambda v: f"{v:.3f}"),
            "Pr(>|t|)": tab["Pr(>|t|)"].map(format_p),
            "": tab["Pr(>|t|)"].map(stars),
        }
    )


class OlsSummary:
    """R's ``summary.lm`` of an :class:`~hlmlab.ols.fit.OlsFit`: text by ``str``, tables by ``_repr_html_``."""

    def __init__(self, fit: OlsFit):
        self.fit = fit

    @property
    def coefficients(self) -> pd.DataFrame:
        """The numbers of the coefficient table (Estimate, Std. Error, t value, Pr(>|t|))."""
        return self.fit.coef_table()

    def _f_test(self) -> tuple[float, int, int, float]:
        f, df1, df2 = self.fit.fstatistic
        return f, df1, df2, (stats.f.sf(f, df1, df2) if np.isfinite(f) else np.nan)

    def __str__(self) -> str:
        fit = self.fit
        q = np.quantile(fit._core.resid, [0, 0.25, 0.5, 0.75, 1])
        rq = pd.DataFrame([[f"{v:.4g}" for v in q]], columns=["Min", "1Q", "Median", "3Q", "Max"])
        f, df1, df2, fp = self._f_test()
        dropped = len(fit.data) - fit.nobs
        lines = [
            "Call:",
            f"lm(formula = {fit.formula}, data = {fit.data_name})",
            "",
            "Residuals:",
            rq.to_string(index=False),
            "",
            "Coefficients:",
            coefficient_table(fit).to_string(),
            "---",
            SIGNIF_CODES,
            "",
            f"Residual standard error: {fit.sigma:.4g} on {fit.df_resid} degrees of freedom",
        ]
        if dropped > 0:
            lines.append(f"  ({dropped} observation{'s' if dropped > 1 else ''} deleted due to missingness)")
        lines.append(f"Multiple R-squared:  {fit.r_squared:.4g},\tAdjusted R-squared:  {fit.adj_r_squared:.4g}")
        if np.isfinite(f):
            lines.append(f"F-statistic: {f:.4g} on {df1} and {df2} DF,  p-value: {format_p(fp)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        fit = self.fit
        f, df1, df2, fp = self._f_test()
        ftext = f"; F = {f:.4g} on {df1} and {df2} DF, p = {format_p(fp)}" if np.isfinite(f) else ""
        foot = (
            f"<p>Residual standard error {fit.sigma:.4g} on {df2} DF; "
            f"R² = {fit.r_squared:.4f}, adjusted R² = {fit.adj_r_squared:.4f}"
            f"{ftext}; n = {fit.nobs}.</p>"
        )
        return html_table(coefficient_table(fit), f"lm({fit.formula}, data = {fit.data_name})") + foot
