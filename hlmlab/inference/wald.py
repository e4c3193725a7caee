"""Wald tests of linear hypotheses L beta = 0 (``wald``, alias ``glh``).

For a fit honouring the contract (``fixef``, ``vcov``, ``contrast_df``), with
V = Cov(beta-hat), r = rank(L) and W_r' the orthonormal rows spanning the row
space of L (:func:`hlmlab.ddf._lmatrix.row_basis`):

    F = (W_r'b)' (W_r' V W_r)^{-1} (W_r'b) / r   on (r, denDF) DF,

and each row l of L gets l'b, SE sqrt(l'Vl), t = l'b / SE on its own DF, a
two-sided p-value and limits l'b ± t((1 + conf_level)/2; DF) SE. The DF come
from ``fit.contrast_df(L, ddf)``; with Kenward-Roger, V is replaced by the
adjusted covariance and F is scaled (:func:`hlmlab.ddf.kenward_roger.kenward_roger`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from hlmlab._format import format_df, format_p, g, html_table
from hlmlab.contract import check_conf_level
from hlmlab.ddf import method_name
from hlmlab.ddf.kenward_roger import KRResult, kenward_roger
from hlmlab.inference.hypotheses import as_L, row_basis

__all__ = ["wald", "glh", "WaldTest", "WaldTests"]


@dataclass
class WaldTest:
    """A Wald test of H0: L beta = 0.

    With V = vcov(beta-hat) and r = rank(L), take the SVD L = U S W' and
    W_r' (r orthonormal rows spanning the row space of L); then

        F = (W_r'b)' (W_r' V W_r)^{-1} (W_r'b) / r  on (r, denDF) DF,

    which does not change when L's rows are rescaled, recombined or
    repeated. Each row l of L also gets its estimate l'b, SE sqrt(l'Vl),
    t = l'b / SE on its own DF, a two-sided p-value and t-based limits at
    ``conf_level``.
    """

    name: str
    L: pd.DataFrame
    estimate: pd.DataFrame
    num_df: int
    den_df: float
    F: float
    p_value: float
    conf_level: float = 0.95

    @property
    def anova(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"numDF": [self.num_df], "denDF": [self.den_df], "F.value": [self.F], "p.value": [self.p_value]},
            index=[self.name],
        )

    def _head(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "numDF": [f"{self.num_df:d}"],
                "denDF": [format_df(self.den_df)],
                "F.value": [g(self.F)],
                "p.value": [format_p(self.p_value)],
            }
        )

    def _text(self) -> str:
        head = self._head().to_string(index=False)
        return f"{self.name}\n{head}\n\n{self._shown().to_string(index=False)}"

    def _shown_html(self) -> pd.DataFrame:
        sh = self._shown()
        sh.index = pd.Index(sh.pop("Coefficients").str.strip(), name=None)
        return sh

    def _shown(self) -> pd.DataFrame:
        """The per-row table formatted for reading (7 significant digits, DF as integers when whole)."""
        t = self.estimate
        shown = pd.DataFrame(
            {
                "Estimate": t["Estimate"].map(g),
                "Std.Error": t["Std.Error"].map(g),
                "DF": t["DF"].map(format_df),
                "t-value": t["t-value"].map(lambda v: g(v, 6)),
                "p-value": t["p-value"].map(format_p),
                t.columns[5]: t.iloc[:, 5].map(g),
                t.columns[6]: t.iloc[:, 6].map(g),
            },
            index=t.index,
        )
        shown = shown.reset_index(names="Coefficients")
        labels = shown["Coefficients"].astype(str)
        shown["Coefficients"] = labels.str.ljust(labels.str.len().max())
        return shown

    def __repr__(self) -> str:
        return "Wald test\n" + self._text()

    def _repr_html_(self) -> str:
        return html_table(self._head().set_index(pd.Index([self.name])), f"Wald test: {self.name}") + html_table(
            self._shown_html(), ""
        )


class WaldTests(dict):
    """Several named Wald tests (from a dict spec); prints each in turn."""

    @property
    def anova(self) -> pd.DataFrame:
        return pd.concat([t.anova for t in self.values()])

    def __repr__(self) -> str:
        return "Wald tests\n" + "\n\n".join(t._text() for t in self.values())

    def _repr_html_(self) -> str:
        return "".join(t._repr_html_() for t in self.values())


def _denominator_df(fit, L: np.ndarray, ddf: Any) -> tuple[np.ndarray, float]:
    """Row DFs and the joint DF: ``fit.contrast_df(L, ddf)``, or a number given by the user."""
    k = L.shape[0]
    if isinstance(ddf, (int, float, np.integer, np.floating)) and not isinstance(ddf, bool):
        return np.full(k, float(ddf)), float(ddf)
    rows, joint = fit.contrast_df(L, ddf)
    return np.broadcast_to(np.asarray(rows, dtype=float), (k,)).copy(), float(joint)


def _kenward_roger(fit, Lm: np.ndarray, ddf: Any) -> KRResult | None:
    """The Kenward-Roger result for L when ``ddf`` names it and the fit has variance parameters.

    An lm fit has none: there the KR covariance and F equal the plain ones.
    """
    if not isinstance(ddf, str) or method_name(ddf) != "kenward-roger":
        return None
    varpar = getattr(fit, "varpar", None)
    return None if varpar is None else kenward_roger(varpar, Lm)


def _wald_one(fit, L: pd.DataFrame, name: str, ddf: Any, conf_level: float) -> WaldTest:
    b = fit.fixef.to_numpy(dtype=float)
    V = fit.vcov
    if isinstance(V, pd.DataFrame):
        V = V.loc[fit.fixef.index, fit.fixef.index]
    V = np.asarray(V, dtype=float)
    Lm = L.to_numpy(dtype=float)
    if not np.all(np.isfinite(Lm)):
        raise ValueError(f"L for {name!r} has missing or infinite entries")
    kr = _kenward_roger(fit, Lm, ddf)
    if kr is not None:  # Kenward-Roger: adjusted covariance and F scale
        V = kr.vcov_adjusted
    est = Lm @ b
    var = np.einsum("ij,jk,ik->i", Lm, V, Lm)
    se = np.sqrt(np.maximum(var, 0.0))
    rows_df, joint_df = _denominator_df(fit, Lm, ddf)
    t = np.divide(est, se, out=np.full_like(est, np.nan), where=se > 0)
    p = 2 * stats.t.sf(np.abs(t), rows_df)
    q = stats.t.ppf(0.5 + conf_level / 2, rows_df)
    pct = f"{100 * conf_level:g}"
    table = pd.DataFrame(
        {
            "Estimate": est,
            "Std.Error": se,
            "DF": rows_df,
            "t-value": t,
            "p-value": p,
            f"Lower {pct}%": est - q * se,
            f"Upper {pct}%": est + q * se,
        },
        index=L.index,
    )
    # joint F on the row space of L
    Lr = row_basis(Lm)
    r = Lr.shape[0]
    if r == 0:
        raise ValueError(f"L for {name!r} is all zeros: there is nothing to test")
    d = Lr @ b
    M = Lr @ V @ Lr.T
    try:
        F = float(d @ np.linalg.solve(M, d)) / r
    except np.linalg.LinAlgError:  # L V L' singular: the generalised inverse
        F = float(d @ np.linalg.pinv(M) @ d) / r
    if kr is not None:
        F = float(kr.F)
    pF = float(stats.f.sf(F, r, joint_df)) if np.isfinite(joint_df) else float(stats.chi2.sf(F * r, r))
    return WaldTest(name, L, table, r, joint_df, F, pF, conf_level)


def wald(fit, spec: Any, ddf: Any = None, conf_level: float = 0.95, name: str | None = None) -> WaldTest | WaldTests:
    """Wald test of the linear hypothesis L beta = 0 (alias :func:`glh`).

    Parameters
    ----------
    fit : a fit honouring the contract (``lm`` or ``lme``)
    spec : str, list, array, Series, DataFrame or dict
        A regular expression on coefficient names (each match is a row), a
        list of names, an L matrix (see :func:`hlmlab.inference.hypotheses.as_L`),
        or a dict mapping test names to any of these (one test each).
    ddf : None, str or number
        Denominator DF: passed to ``fit.contrast_df(L, ddf)`` — None or
        ``"nlme"`` (each row takes the smallest DF of the coefficients it
        involves), ``"satterthwaite"`` (``"sat"``) or ``"kenward-roger"``
        (``"kr"``), which also replaces Cov(beta-hat) by its adjusted version
        and scales F; a number overrides it. Other names raise a ValueError
        listing the known ones.
    conf_level : float
        Confidence level of the limits l'b ± t(DF) SE, strictly between 0 and 1.
    name : str, optional
        A label for the test (default: the pattern, the L matrix's ``name``
        attribute, or ``"L"``).

    Returns
    -------
    WaldTest or WaldTests
        ``F``, ``num_df`` (= rank of L), ``den_df``, ``p_value`` and the
        per-row table ``estimate`` (Estimate, Std.Error, DF, t-value,
        p-value, limits). Prints like nlme/spida2; renders as HTML.
    """
    conf_level = check_conf_level(conf_level)
    if ddf is None or isinstance(ddf, str):
        method_name(ddf)
    if isinstance(spec, dict):
        if not spec:
            raise ValueError("the dict of hypotheses is empty")
        return WaldTests({str(k): _wald_one(fit, as_L(fit, v), str(k), ddf, conf_level) for k, v in spec.items()})
    if name is None:
        name = spec if isinstance(spec, str) else (getattr(spec, "name", None) or "L")
    return _wald_one(fit, as_L(fit, spec), str(name), ddf, conf_level)


glh = wald
