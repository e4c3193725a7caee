"""Ordinary least squares: ``lm`` and per-group fits with ``lmlist``.

``lm(formula, data)`` fits y = X beta + e, e ~ N(0, sigma^2 I) by a
Householder QR factorisation X = QR (no normal equations), with the fixed
design built by :func:`hlmlab.design.fixed_design` (R-style coefficient names,
``cvar``/``dvar`` inside formulas, rows with missing values dropped).

The fit honours the fitted-model contract of ``CONTRIBUTING.md`` (``fixef``,
``vcov``, ``se``, ``df``, ``sigma``, ``loglik``, ``aic``, ``bic``, ``nobs``,
``method``, ``design``, ``data``, ``contrast_df``, ``refit``, ``simulate``),
so the tests of :mod:`hlmlab.inference` work on it as on mixed models.

``lmlist(formula, data, by)`` fits the same model within every group (the
first stage of the two-stage approach: intercepts and slopes as outcomes);
:meth:`LmList.regress` runs the second stage, one regression of each
per-group coefficient on group-level variables.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, stats

__all__ = ["lm", "OlsFit", "OlsCore", "ols_matrices"]

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
    """Least squares of ``y`` on a full-rank ``X`` by QR (see :class:`OlsCore`)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    Q, R = np.linalg.qr(X, mode="reduced")
    beta = linalg.solve_triangular(R, Q.T @ y) if p else np.zeros(0)
    fitted = X @ beta
    resid = y - fitted
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
# the design (built by hlmlab.design)
# ---------------------------------------------------------------------------
def _build_design(formula: str, data: pd.DataFrame):
    from hlmlab.formula.design import fixed_design

    return fixed_design(formula, data)


def _design_X(design) -> np.ndarray:
    for attr in ("X", "matrix", "x"):
        if hasattr(design, attr):
            return np.asarray(getattr(design, attr), dtype=float)
    raise AttributeError("the fixed design has no model matrix attribute (X)")


def _design_y(design) -> np.ndarray:
    for attr in ("y", "response_values"):
        if hasattr(design, attr) and getattr(design, attr) is not None:
            y = np.asarray(getattr(design, attr), dtype=float)
            return y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y
    raise ValueError("the formula has no response (left-hand side): write it as 'y ~ x'")


def _design_rows(design, n_data: int) -> np.ndarray:
    rows = getattr(design, "rows", None)
    if rows is None:
        return np.arange(n_data)
    rows = np.asarray(rows)
    return np.flatnonzero(rows) if rows.dtype == bool else rows


def response_name(fit) -> str:
    """Name of the response column of a fit (from its design or its formula)."""
    design = getattr(fit, "design", None)
    for obj, attr in ((fit, "response"), (design, "response"), (design, "yname"), (design, "response_name")):
        v = getattr(obj, attr, None) if obj is not None else None
        if isinstance(v, str):
            return v
    formula = getattr(fit, "formula", None) or getattr(fit, "fixed", None)
    if isinstance(formula, str) and "~" in formula:
        return formula.split("~", 1)[0].strip()
    raise AttributeError("cannot tell the response of this fit")


def _caller_name(obj: Any, depth: int = 2, frame: Any = None) -> str | None:
    """The caller's variable name for ``obj``, for printed labels only.

    ``depth`` frames up from here, or in ``frame`` when given.
    """
    if frame is None:
        frame = inspect.currentframe()
        for _ in range(depth):
            frame = frame.f_back if frame is not None else None
    try:
        if frame is None:
            return None
        for name, val in frame.f_locals.items():
            if val is obj and not name.startswith("_"):
                return name
    except Exception:  # pragma: no cover - cosmetic only
        return None
    finally:
        del frame
    return None


# ---------------------------------------------------------------------------
# formatting helpers
# ---------------------------------------------------------------------------
def _stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    for cut, s in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return s
    return " "


def format_p(p: float, eps: float = 2.2e-16) -> str:
    """p-value as R prints it: ``< 2e-16`` below machine precision."""
    if not np.isfinite(p):
        return "NA"
    if p < eps:
        return "< 2e-16"
    if p < 1e-4:
        return f"{p:.2e}"
    return f"{p:.4f}"


def _fixed_decimals(x: pd.Series) -> pd.Series:
    """Format a column with a shared number of decimals (at least 4; more for tiny values)."""
    a = np.abs(x.to_numpy(dtype=float))
    a = a[np.isfinite(a) & (a > 0)]
    dec = 4 if a.size == 0 else int(np.clip(3 - np.floor(np.log10(a.min())), 4, 8))
    return x.map(lambda v: f"{v:.{dec}f}" if np.isfinite(v) else "NA")


def _html_table(df: pd.DataFrame, caption: str = "", floatfmt: str = "{:.4g}") -> str:
    body = df.to_html(float_format=lambda v: floatfmt.format(v), na_rep="NA", escape=True)
    return f"<div><p><b>{caption}</b></p>{body}</div>" if caption else body


# ---------------------------------------------------------------------------
# the fit
# ---------------------------------------------------------------------------
class OlsFit:
    """An ordinary least-squares fit (returned by :func:`lm`).

    Attributes
    ----------
    fixef : Series
        beta-hat = (X'X)^{-1} X'y, named as the design's columns.
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
        X = _design_X(design)
        y = _design_y(design)
        names = [str(c) for c in design.names]
        if y.ndim != 1:
            raise ValueError("lm fits one response; for several, use lmlist(...).regress or one lm per response")
        if X.shape[0] == 0:
            raise ValueError(f"no complete rows to fit {formula!r}: every row has a missing value")
        if X.shape[0] <= X.shape[1]:
            raise ValueError(
                f"{X.shape[0]} rows cannot estimate {X.shape[1]} coefficients and a residual variance"
            )
        self.X, self.y, self.names = X, y, names
        self.rows = _design_rows(design, len(data))
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

    coef = fixef

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

    def contrast_df(self, L, ddf: Any = None):
        """Denominator DF of each row of ``L`` and of the joint F test.

        For OLS every contrast has the residual DF n - p (nlme's rule and
        Satterthwaite's both give it), so ``ddf`` only selects among names
        that agree here. Returns ``(row_df, joint_df)``.
        """
        if ddf not in (None, "nlme", "residual", "satterthwaite", "kenward-roger"):
            raise ValueError(f"unknown ddf {ddf!r}; use None, 'nlme', 'residual' or 'satterthwaite'")
        k = np.atleast_2d(np.asarray(L, dtype=float)).shape[0]
        return np.full(k, float(self.df_resid)), float(self.df_resid)

    def refit(self, data: pd.DataFrame | None = None, formula: str | None = None, **changes) -> OlsFit:
        """The same model on other data (or another formula)."""
        if changes:
            raise TypeError(f"lm refit does not take {sorted(changes)}; it takes data and formula")
        data = self.data if data is None else data
        formula = self.formula if formula is None else formula
        return OlsFit(formula, data, _build_design(formula, data), self.data_name)

    def simulate(self, nsim: int = 1, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Responses y* = X beta-hat + s z, z ~ N(0, I): an n x nsim array."""
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
        """Residuals: ``"response"`` e_i, ``"pearson"`` e_i / s (nlme's convention),
        ``"standardized"`` (rstandard) or ``"studentized"`` (rstudent)."""
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
        if newdata is None:
            return pd.DataFrame(self.X, columns=self.names, index=self.fitted().index)
        X0 = self.design.model_matrix(newdata)
        X0 = pd.DataFrame(np.asarray(X0, dtype=float), columns=self.names,
                          index=getattr(X0, "index", None))
        return X0

    def predict(self, newdata: pd.DataFrame | None = None, se: bool = False,
                interval: str | None = None, level: float = 0.95):
        """Predictions x0' beta-hat, optionally with SE sqrt(x0' V x0) and limits.

        ``interval="confidence"`` gives limits for the mean,
        ``"prediction"`` for a new observation (variance s^2 + x0'V x0),
        both with t quantiles on n - p DF.
        """
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
            q = stats.t.ppf(0.5 + level / 2, self.df_resid)
            out["lower"] = fit - q * np.sqrt(v)
            out["upper"] = fit + q * np.sqrt(v)
        return out

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

    def _shown_table(self) -> pd.DataFrame:
        """The coefficient table formatted as R prints it (shared decimals, R's p-values)."""
        tab = self.coef_table()
        return pd.DataFrame(
            {
                "Estimate": _fixed_decimals(tab["Estimate"]),
                "Std. Error": _fixed_decimals(tab["Std. Error"]),
                "t value": tab["t value"].map(lambda v: f"{v:.3f}"),
                "Pr(>|t|)": tab["Pr(>|t|)"].map(format_p),
                "": tab["Pr(>|t|)"].map(_stars),
            }
        )

    def summary(self) -> str:
        """R's ``summary.lm`` layout as text."""
        q = np.quantile(self._core.resid, [0, 0.25, 0.5, 0.75, 1])
        rq = pd.DataFrame([[f"{v:.4g}" for v in q]], columns=["Min", "1Q", "Median", "3Q", "Max"]).to_string(index=False)
        shown = self._shown_table()
        f, df1, df2 = self.fstatistic
        fp = stats.f.sf(f, df1, df2) if np.isfinite(f) else np.nan
        dropped = len(self.data) - self.nobs
        lines = [
            "Call:",
            f"lm(formula = {self.formula}, data = {self.data_name})",
            "",
            "Residuals:",
            rq,
            "",
            "Coefficients:",
            shown.to_string(),
            "---",
            "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1",
            "",
            f"Residual standard error: {self.sigma:.4g} on {self.df_resid} degrees of freedom",
        ]
        if dropped > 0:
            lines.append(f"  ({dropped} observation{'s' if dropped > 1 else ''} deleted due to missingness)")
        lines.append(f"Multiple R-squared:  {self.r_squared:.4g},\tAdjusted R-squared:  {self.adj_r_squared:.4g}")
        if np.isfinite(f):
            lines.append(f"F-statistic: {f:.4g} on {df1} and {df2} DF,  p-value: {format_p(fp)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        tab = self._shown_table()
        f, df1, df2 = self.fstatistic
        foot = (
            f"<p>Residual standard error {self.sigma:.4g} on {df2} DF; "
            f"R² = {self.r_squared:.4f}, adjusted R² = {self.adj_r_squared:.4f}"
            + (f"; F = {f:.4g} on {df1} and {df2} DF, p = {format_p(stats.f.sf(f, df1, df2))}" if np.isfinite(f) else "")
            + f"; n = {self.nobs}.</p>"
        )
        return _html_table(tab, f"lm({self.formula}, data = {self.data_name})") + foot


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
    name = data_name or _caller_name(data)
    return OlsFit(formula, data, _build_design(formula, data), name)
