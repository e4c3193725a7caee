"""Ordinary least squares: ``lm``.

``lm(formula, data)`` fits y = X beta + e, e ~ N(0, sigma^2 I) by a
Householder QR factorisation X = QR (no normal equations), with the fixed
design built by :func:`hlmlab.formula.fixed.fixed_design` (R-style
coefficient names, ``cvar``/``dvar`` inside formulas, rows with missing values
dropped).

:class:`OlsFit` honours the fitted-model contract
(:class:`hlmlab.contract.FittedModel`): ``fixef``, ``vcov``, ``se``, ``df``,
``sigma``, ``loglik``, ``aic``, ``bic``, ``nobs``, ``method``; ``coef()``,
``summary()``, ``residuals(type)``, ``predict(newdata, se, interval,
conf_level)``, ``intervals(conf_level)``, ``contrast_df(L, ddf)``; and
``design``, ``data``, ``refit``, ``simulate`` for :mod:`hlmlab.inference`.
How a fit prints is in :mod:`hlmlab.ols.summary`; per-group fits in
:mod:`hlmlab.ols.lmlist`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, stats

from hlmlab._format import caller_name
from hlmlab.contract import ContrastDF, check_conf_level, check_count
from hlmlab.ddf import method_name
from hlmlab.ddf._lmatrix import as_array
from hlmlab.exceptions import DroppedRowsWarning, warn
from hlmlab.formula.fixed import fixed_design
from hlmlab.ols.summary import OlsSummary

__all__ = ["lm", "OlsFit", "OlsCore", "ols_matrices", "response_name"]


# ---------------------------------------------------------------------------
# linear algebra
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class OlsCore:
    """The numbers of one least-squares fit, computed from X = QR.

    beta = R^{-1} Q'y; e = y - X beta; RSS = e'e; df = n - p;
    s^2 = RSS / df; (X'X)^{-1} = R^{-1} R^{-T}; h_i = sum_k Q_ik^2.
    """

    beta: np.ndarray
    fitted: np.ndarray
    resid: np.ndarray
    rss: float
    df_resid: int
    xtx_inv: np.ndarray
    hat: np.ndarray


def ols_matrices(X: np.ndarray, y: np.ndarray) -> OlsCore:
    """Least squares of ``y`` on a full-rank ``X`` by QR (see :class:`OlsCore`).

    When X's first column is the intercept, y is centred first and its mean
    added back to the intercept, so residuals keep their digits whatever y's offset.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    # with an intercept, fit y - mean(y) (only the intercept changes): a large
    # offset in y (y + 1e9, timestamps) then costs no digits in the residuals
    shift = float(y.mean()) if p and n and np.all(X[:, 0] == 1.0) else 0.0
    Q, R = np.linalg.qr(X, mode="reduced")
    beta = linalg.solve_triangular(R, Q.T @ (y - shift)) if p else np.zeros(0)
    resid = (y - shift) - X @ beta
    if p:
        beta[0] += shift
    fitted = y - resid
    rinv = linalg.solve_triangular(R, np.eye(p)) if p else np.zeros((0, 0))
    return OlsCore(
        beta=beta,
        fitted=fitted,
        resid=resid,
        rss=float(resid @ resid),
        df_resid=n - p,
        xtx_inv=rinv @ rinv.T,
        hat=np.sum(Q**2, axis=1),
    )


# ---------------------------------------------------------------------------
# the design (built by hlmlab.formula)
# ---------------------------------------------------------------------------
def _build_design(formula: str, data: pd.DataFrame):
    design = fixed_design(formula, data)
    if design.y is None:
        raise ValueError("the formula has no response (left-hand side): write it as 'y ~ x'")
    return design


def _design_rows(design) -> np.ndarray:
    """Positions of the data rows the design used."""
    rows = np.asarray(design.rows)
    return np.flatnonzero(rows) if rows.dtype == bool else rows


def response_name(fit: Any) -> str:
    """Name of the response column of a fit (``fit.design.response``, else the formula's left side)."""
    response = getattr(getattr(fit, "design", None), "response", None)
    if isinstance(response, str):
        return response
    formula = getattr(fit, "formula", None) or getattr(fit, "fixed", None)
    if isinstance(formula, str) and "~" in formula:
        return formula.split("~", 1)[0].strip()
    raise AttributeError("cannot tell the response of this fit")


# ---------------------------------------------------------------------------
# the fit
# ---------------------------------------------------------------------------
class OlsFit:
    """An ordinary least-squares fit (returned by :func:`lm`).

    Attributes
    ----------
    fixef : Series
        beta-hat = (X'X)^{-1} X'y, named as the design's columns (also ``coef()``).
    vcov : DataFrame
        s^2 (X'X)^{-1}, with s^2 = RSS / (n - p).
    se, df : Series
        Standard errors sqrt(diag vcov); the residual DF n - p for every
        coefficient.
    sigma : float
        Residual standard error s.
    loglik, aic, bic : float
        Gaussian log-likelihood at the ML variance RSS/n, counting p + 1
        parameters, as R's ``logLik.lm``: -n/2 (log(2 pi RSS / n) + 1);
        AIC = -2 logLik + 2 (p + 1); BIC = -2 logLik + log(n) (p + 1).
    nobs : int
        Rows used (rows with missing values are dropped by the design).
    method : str
        ``"OLS"``.
    design, data
        The fixed design and the data frame given to :func:`lm`.
    """

    method = "OLS"

    def __init__(self, formula: str, data: pd.DataFrame, design, data_name: str | None = None):
        self.formula = formula
        self.data = data
        self.design = design
        self.data_name = data_name or "data"
        X = np.asarray(design.X, dtype=float)
        y = np.asarray(design.y, dtype=float)
        names = [str(c) for c in design.names]
        if y.ndim != 1:
            raise ValueError("lm fits one response; for several, use lmlist(...).regress or one lm per response")
        if X.shape[0] == 0:
            raise ValueError(f"no complete rows to fit {formula!r}: every row has a missing value")
        if X.shape[0] <= X.shape[1]:
            raise ValueError(f"{X.shape[0]} rows cannot estimate {X.shape[1]} coefficients and a residual variance")
        self.X, self.y, self.names = X, y, names
        self.rows = _design_rows(design)
        self._core = ols_matrices(X, y)

    # -- the contract -------------------------------------------------------
    @property
    def nobs(self) -> int:
        return int(self.X.shape[0])

    @property
    def df_resid(self) -> int:
        return self._core.df_resid

    @property
    def fixef(self) -> pd.Series:
        return pd.Series(self._core.beta, index=self.names, name="Estimate")

    def coef(self, level: int | None = None) -> pd.Series:
        """beta-hat, as R's ``coef(lm)``. An lm fit has one level, the population (``level`` None or 0)."""
        if level not in (None, 0):
            raise ValueError(f"an lm fit has no grouping levels; level must be None or 0, got {level!r}")
        return self.fixef

    @property
    def sigma(self) -> float:
        return float(np.sqrt(self._core.rss / self.df_resid))

    @property
    def vcov(self) -> pd.DataFrame:
        return pd.DataFrame(self.sigma**2 * self._core.xtx_inv, index=self.names, columns=self.names)

    @property
    def se(self) -> pd.Series:
        return pd.Series(self.sigma * np.sqrt(np.diag(self._core.xtx_inv)), index=self.names, name="Std. Error")

    @property
    def df(self) -> pd.Series:
        return pd.Series(float(self.df_resid), index=self.names, name="DF")

    @property
    def npar(self) -> int:
        """Parameters counted by logLik: p coefficients and sigma."""
        return len(self.names) + 1

    @property
    def loglik(self) -> float:
        n = self.nobs
        return float(-0.5 * n * (np.log(2 * np.pi * self._core.rss / n) + 1))

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.npar

    @property
    def bic(self) -> float:
        return -2 * self.loglik + np.log(self.nobs) * self.npar

    def contrast_df(self, L: Any, ddf: str | None = None) -> ContrastDF:
        """Denominator DF of each row of ``L`` and of the joint F test: n - p for all.

        For OLS every rule gives the residual DF n - p (nlme's, Satterthwaite's
        and Kenward-Roger's), so ``ddf`` is only checked to be one of the names
        of :func:`hlmlab.ddf.method_name` (a ValueError lists them).
        """
        method_name(ddf)
        k = as_array(L, self.names).shape[0]
        return ContrastDF(np.full(k, float(self.df_resid)), float(self.df_resid))

    def refit(self, data: pd.DataFrame | None = None, formula: str | None = None, **changes) -> OlsFit:
        """The same model on other data (or another formula)."""
        if changes:
            raise TypeError(f"lm refit does not take {sorted(changes)}; it takes data and formula")
        data = self.data if data is None else data
        formula = self.formula if formula is None else formula
        return OlsFit(formula, data, _build_design(formula, data), self.data_name)

    def simulate(self, nsim: int = 1, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Responses y* = X beta-hat + s z, z ~ N(0, I): an n x nsim array."""
        nsim = check_count(nsim, "nsim")
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((self.nobs, nsim))
        return self._core.fitted[:, None] + self.sigma * z

    # -- fitted values, residuals, prediction -------------------------------
    def _on_rows(self, values: np.ndarray, name: str) -> pd.Series:
        index = self.data.index[self.rows] if len(self.data) >= len(self.rows) else None
        return pd.Series(values, index=index, name=name)

    def fitted(self) -> pd.Series:
        return self._on_rows(self._core.fitted, "fitted")

    def residuals(self, type: str = "response") -> pd.Series:  # noqa: A002 - R's name
        """Residuals: ``"response"`` (alias ``"raw"``) e_i = y_i - fitted_i, ``"pearson"`` e_i / s
        (nlme's convention), ``"standardized"`` (rstandard) or ``"studentized"`` (rstudent)."""
        if type in ("response", "raw"):
            return self._on_rows(self._core.resid, "residuals")
        if type == "pearson":
            return self._on_rows(self._core.resid / self.sigma, "residuals")
        if type == "standardized":
            return self.influence()["rstandard"]
        if type in ("studentized", "rstudent"):
            return self.influence()["rstudent"]
        raise ValueError(f"unknown residual type {type!r}; use 'response', 'pearson', 'standardized' or 'studentized'")

    def model_matrix(self, newdata: pd.DataFrame | None = None) -> pd.DataFrame:
        """X (or the rows x(newdata_i)' coded as in the fit), columns named by coefficient."""
        if newdata is None:
            return pd.DataFrame(self.X, columns=self.names, index=self.fitted().index)
        X0 = self.design.model_matrix(newdata)
        return pd.DataFrame(np.asarray(X0, dtype=float), columns=self.names, index=getattr(X0, "index", None))

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        se: bool = False,
        interval: str | None = None,
        conf_level: float = 0.95,
    ) -> pd.Series | pd.DataFrame:
        """Predictions x0' beta-hat, optionally with SE sqrt(x0' V x0) and limits.

        ``interval="confidence"`` gives limits for the mean,
        ``"prediction"`` for a new observation (variance s^2 + x0'V x0),
        both x0'beta-hat ± t((1 + conf_level)/2; n - p) sqrt(variance).
        """
        conf_level = check_conf_level(conf_level)
        X0 = self.model_matrix(newdata)
        fit = X0.to_numpy() @ self._core.beta
        if not se and interval is None:
            return pd.Series(fit, index=X0.index, name="fit")
        var = np.einsum("ij,jk,ik->i", X0.to_numpy(), self.vcov.to_numpy(), X0.to_numpy())
        out = pd.DataFrame({"fit": fit, "se": np.sqrt(var)}, index=X0.index)
        if interval is not None:
            if interval not in ("confidence", "prediction"):
                raise ValueError("interval must be 'confidence' or 'prediction'")
            v = var + (self.sigma**2 if interval == "prediction" else 0.0)
            q = stats.t.ppf(0.5 + conf_level / 2, self.df_resid)
            out["lower"] = fit - q * np.sqrt(v)
            out["upper"] = fit + q * np.sqrt(v)
        return out

    def intervals(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Confidence intervals for the coefficients, as R's ``confint``.

        beta-hat_j ± t((1 + conf_level)/2; n - p) SE_j, in columns
        ``estimate``, ``lower``, ``upper``.
        """
        conf_level = check_conf_level(conf_level)
        q = stats.t.ppf(0.5 + conf_level / 2, self.df_resid)
        b, se = self.fixef, self.se
        return pd.DataFrame({"estimate": b, "lower": b - q * se, "upper": b + q * se}, index=self.names)

    # -- influence -----------------------------------------------------------
    def influence(self) -> pd.DataFrame:
        """Leverage and leave-one-out diagnostics, one row per observation.

        h_i = diag of H = X (X'X)^{-1} X';
        rstandard_i = e_i / (s sqrt(1 - h_i));
        s_(i)^2 = ((n - p) s^2 - e_i^2 / (1 - h_i)) / (n - p - 1), the residual
        variance without row i;
        rstudent_i = e_i / (s_(i) sqrt(1 - h_i));
        Cook's D_i = e_i^2 h_i / (p s^2 (1 - h_i)^2).

        A row fitted exactly (h_i within 1e-10 of 1, for example one of two
        students alone in a class of a per-group model) gets h_i = 1 and NaN
        for the other columns, as in R: its residual carries no information.
        """
        e, h = self._core.resid, self._core.hat.copy()
        exact = h > 1 - 1e-10
        h[exact] = 1.0
        n, p = self.X.shape
        s2 = self.sigma**2
        with np.errstate(divide="ignore", invalid="ignore"):
            one_h = np.where(exact, np.nan, 1 - h)
            s2_i = ((n - p) * s2 - e**2 / one_h) / (n - p - 1)
            out = pd.DataFrame(
                {
                    "hat": h,
                    "rstandard": e / np.sqrt(s2 * one_h),
                    "rstudent": e / np.sqrt(s2_i * one_h),
                    "cooks": e**2 * h / (p * s2 * one_h**2),
                    "sigma_i": np.sqrt(s2_i),
                },
                index=self.fitted().index,
            )
        return out

    def hatvalues(self) -> pd.Series:
        return self.influence()["hat"]

    def cooks_distance(self) -> pd.Series:
        return self.influence()["cooks"]

    def rstudent(self) -> pd.Series:
        return self.influence()["rstudent"]

    # -- summaries -------------------------------------------------------------
    @property
    def has_intercept(self) -> bool:
        return "(Intercept)" in self.names

    @property
    def r_squared(self) -> float:
        """1 - RSS/TSS; TSS about the mean with an intercept, about 0 without (as R)."""
        y = self.y
        tss = float(np.sum((y - y.mean()) ** 2)) if self.has_intercept else float(y @ y)
        return 1 - self._core.rss / tss

    @property
    def adj_r_squared(self) -> float:
        """1 - (1 - R^2) (n - k) / (n - p), k = 1 with an intercept, 0 without."""
        n, p = self.X.shape
        k = int(self.has_intercept)
        return 1 - (1 - self.r_squared) * (n - k) / (n - p)

    @property
    def fstatistic(self) -> tuple[float, int, int]:
        """Overall F = (R^2 / df1) / ((1 - R^2) / (n - p)), df1 = p - 1 with an intercept (p without)."""
        n, p = self.X.shape
        df1 = p - int(self.has_intercept)
        r2 = self.r_squared
        f = (r2 / df1) / ((1 - r2) / (n - p)) if df1 > 0 else np.nan
        return float(f), df1, n - p

    def coef_table(self) -> pd.DataFrame:
        """Estimate, Std. Error, t value and two-sided Pr(>|t|) on n - p DF."""
        b, se = self.fixef, self.se
        t = b / se
        p = 2 * stats.t.sf(np.abs(t), self.df_resid)
        return pd.DataFrame({"Estimate": b, "Std. Error": se, "t value": t, "Pr(>|t|)": p})

    def summary(self) -> OlsSummary:
        """R's ``summary.lm``: prints as R's text, renders as HTML tables in a notebook."""
        return OlsSummary(self)

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def lm(formula: str, data: pd.DataFrame, data_name: str | None = None) -> OlsFit:
    """Fit a linear model by ordinary least squares.

    Parameters
    ----------
    formula : str
        R-style formula, e.g. ``"mathach ~ ses * Sector"``; factors use
        treatment contrasts with the first level as reference.
    data : DataFrame
        Rows with a missing value in a variable of the formula are dropped.
    data_name : str, optional
        Name shown in the ``Call:`` line (default: the caller's variable name).

    Returns
    -------
    OlsFit
        beta-hat = (X'X)^{-1} X'y computed from X = QR; print it for R's
        summary, or use ``fixef``, ``vcov``, ``predict``, ``influence``.

    Raises
    ------
    ValueError
        When the design is rank deficient (the aliased columns are named) or
        has more columns than rows.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError("data must be a pandas DataFrame")
    name = data_name or caller_name(data)
    design = _build_design(formula, data)
    dropped = int(getattr(design, "n_dropped", 0))
    if dropped:
        warn(
            f"{dropped} row(s) with missing values in a variable of the model were left out of the fit "
            f"({design.n} used)",
            DroppedRowsWarning,
        )
    return OlsFit(formula, data, design, name)
