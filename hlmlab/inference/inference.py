"""Inference on fitted models: Wald tests of linear hypotheses, likelihood-ratio
tests, their parametric bootstrap, drop-one-group influence and multilevel R².

Everything here talks to a fit only through the fitted-model contract of
``CONTRIBUTING.md`` (``fixef``, ``vcov``, ``contrast_df``, ``loglik``, ``aic``,
``nobs``, ``method``, ``design``, ``data``, ``refit``, ``simulate``), so the
same calls work on :func:`hlmlab.lm` and :func:`hlmlab.lme` fits.

=============  ==============================================================
wald / glh     F and t tests of L beta = 0, with confidence limits
lrows          rows of L picking coefficients by a regular expression
pairwise       rows of L for differences between the levels of a factor
lgrid          rows of L evaluated on a data grid (effects, gap curves)
ldiff          differences of two sets of rows (e.g. Public - Catholic)
anova          likelihood-ratio tests of nested fits (F tests for lm fits)
simulate_lrt   parametric bootstrap of the likelihood-ratio statistic
dropone        refit without each group: coefficient changes in SE units
r2_multilevel  proportional reduction of each variance component
=============  ==============================================================
"""
from __future__ import annotations

import inspect
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from hlmlab.ols.fit import _caller_name, _html_table, format_p, response_name

__all__ = [
    "wald", "glh", "WaldTest", "WaldTests", "as_L", "lrows", "pairwise", "lgrid", "ldiff",
    "anova", "AnovaTable", "simulate_lrt", "LrtSimulation", "dropone", "DropOne", "r2_multilevel",
]

#: Singular values of L below RANK_TOL times the largest count as zero.
RANK_TOL = 1e-10


# ---------------------------------------------------------------------------
# building L
# ---------------------------------------------------------------------------
def _names(fit) -> list[str]:
    return [str(n) for n in fit.fixef.index]


def lrows(fit, pattern: str) -> pd.DataFrame:
    """Rows of L that pick every coefficient whose name matches ``pattern``.

    ``pattern`` is a regular expression searched in each name (``re.search``):
    ``"ses"`` picks ``ses``, ``ses:SectorPublic`` and ``cvar(ses, id)``;
    ``"^ses$"`` picks ``ses`` alone. Row i of the result is the unit vector
    e_j of the i-th matching coefficient j, so L beta lists those estimates.

    Raises
    ------
    ValueError
        If nothing matches (the message lists the coefficient names).
    """
    names = _names(fit)
    try:
        rx = re.compile(pattern)
    except re.error as err:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {err}") from None
    hits = [n for n in names if rx.search(n)]
    if not hits:
        raise ValueError(f"the pattern {pattern!r} matches no coefficient; the coefficients are {names}")
    L = pd.DataFrame(0.0, index=hits, columns=names)
    for h in hits:
        L.loc[h, h] = 1.0
    return L


def as_L(fit, spec: Any) -> pd.DataFrame:
    """Turn a hypothesis specification into an L matrix with named rows and columns.

    ``spec`` may be a regular expression (see :func:`lrows`), a list of
    coefficient names, a 1-D vector (one row), a 2-D array with one column per
    coefficient, a Series indexed by coefficient names (one row), or a
    DataFrame whose columns are coefficient names (missing coefficients get 0).
    """
    names = _names(fit)
    p = len(names)
    if isinstance(spec, str):
        return lrows(fit, spec)
    if isinstance(spec, (list, tuple)) and spec and all(isinstance(s, str) for s in spec):
        unknown = [s for s in spec if s not in names]
        if unknown:
            raise ValueError(f"unknown coefficient(s) {unknown}; the coefficients are {names}")
        L = pd.DataFrame(0.0, index=list(spec), columns=names)
        for s in spec:
            L.loc[s, s] = 1.0
        return L
    if isinstance(spec, pd.Series):
        spec = spec.to_frame().T if spec.name is not None else pd.DataFrame([spec], index=["L1"])
    if isinstance(spec, pd.DataFrame):
        unknown = [str(c) for c in spec.columns if str(c) not in names]
        if unknown:
            raise ValueError(f"L has column(s) {unknown} that are not coefficients; the coefficients are {names}")
        L = spec.rename(columns=str).reindex(columns=names, fill_value=0.0).astype(float)
        L.index = [str(i) for i in L.index]
        return L
    arr = np.asarray(spec, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != p:
        raise ValueError(
            f"L must have one column per coefficient ({p}: {names}); got shape {np.shape(spec)}"
        )
    return pd.DataFrame(arr, index=[f"L{i + 1}" for i in range(arr.shape[0])], columns=names)


def pairwise(fit, factor: str, prefix: str | None = None, levels: list | None = None) -> pd.DataFrame:
    """Rows of L for the differences between every pair of levels of a factor.

    With treatment coding, the effect of level k is the coefficient named
    ``prefix + str(k)`` (e.g. ``SectorPublic``) and the reference level's is
    0, so the row for "b - a" is e_b - e_a (a zero vector stands for the
    reference). Without an intercept every level has a coefficient.
    Interactions are not involved: for level differences at given values of
    other variables use :func:`lgrid` with :func:`ldiff`.

    Parameters
    ----------
    factor : str
        Column of ``fit.data``; its levels (categories, or sorted values).
    prefix : str, optional
        Start of the coefficient names (default ``factor``; for a formula
        term like ``C(school)``, pass the term as it appears in the names).
    levels : list, optional
        The levels to compare (default: all levels present in the fit).
    """
    names = _names(fit)
    prefix = factor if prefix is None else prefix
    if levels is None:
        col = fit.data[factor] if factor in fit.data.columns else None
        if col is None:
            raise KeyError(f"{factor!r} is not a column of the fitted data; pass levels=")
        levels = list(col.cat.categories) if isinstance(col.dtype, pd.CategoricalDtype) else sorted(col.dropna().unique())
    vec = {}
    for lev in levels:
        v = pd.Series(0.0, index=names)
        key = f"{prefix}{lev}"
        if key in names:
            v[key] = 1.0
        vec[lev] = v
    if not any(f"{prefix}{lev}" in names for lev in levels):
        raise ValueError(f"no coefficient is named {prefix!r} followed by a level of {factor!r}; the coefficients are {names}")
    rows = {}
    for i, a in enumerate(levels):
        for b in levels[i + 1:]:
            rows[f"{b} - {a}"] = vec[b] - vec[a]
    return pd.DataFrame(rows).T


def _row_label(row: pd.Series) -> str:
    parts = []
    for k, v in row.items():
        parts.append(f"{k}={v:g}" if isinstance(v, (float, np.floating)) else f"{k}={v}")
    return ", ".join(parts)


def lgrid(fit, newdata: pd.DataFrame) -> pd.DataFrame:
    """Rows of L evaluated on a data grid: x(newdata_i)' for each row i.

    ``L beta`` are then the population-level predictions at the grid's
    rows, with SEs from the Wald machinery. The rows go through
    ``fit.design.model_matrix(newdata)``, so factors, interactions and
    transformations are coded exactly as in the fit (``newdata`` needs every
    variable of the fixed formula). Rows are labelled by their values.
    """
    X0 = fit.design.model_matrix(newdata)
    X0 = np.asarray(X0, dtype=float)
    names = _names(fit)
    if X0.shape[1] != len(names):
        raise ValueError(f"the grid gives {X0.shape[1]} columns but the fit has {len(names)} coefficients")
    labels = [_row_label(r) for _, r in newdata.reset_index(drop=True).iterrows()]
    return pd.DataFrame(X0, index=labels, columns=names)


def _parse_label(label: str) -> dict[str, str] | None:
    parts = [p.split("=", 1) for p in label.split(", ")]
    return dict(parts) if all(len(p) == 2 for p in parts) else None


def _diff_label(a: str, b: str) -> str:
    """``"Sector: Public - Catholic at ses=-2"`` for grid labels that differ in some variables."""
    pa, pb = _parse_label(a), _parse_label(b)
    if pa is None or pb is None or list(pa) != list(pb):
        return f"{a} - {b}"
    diff = [f"{k}: {pa[k]} - {pb[k]}" for k in pa if pa[k] != pb[k]]
    same = [f"{k}={pa[k]}" for k in pa if pa[k] == pb[k]]
    if not diff:
        return f"{a} - {b}"
    return "; ".join(diff) + (" at " + ", ".join(same) if same else "")


def ldiff(L1: pd.DataFrame, L2: pd.DataFrame, labels: list[str] | None = None) -> pd.DataFrame:
    """Row-by-row differences L1 - L2 (a single-row L2 is subtracted from every row).

    For gap curves: ``ldiff(lgrid(fit, public_grid), lgrid(fit, catholic_grid))``
    estimates Public minus Catholic at each grid point.
    """
    if list(L1.columns) != list(L2.columns):
        raise ValueError("L1 and L2 must have the same columns (the same fit's coefficients)")
    if len(L2) not in (1, len(L1)):
        raise ValueError(f"L2 must have one row or as many rows as L1 ({len(L1)}); it has {len(L2)}")
    a = L1.to_numpy()
    b = L2.to_numpy()
    out = pd.DataFrame(a - b, columns=L1.columns)
    if labels is None:
        l2 = list(L2.index) * (len(L1) if len(L2) == 1 else 1)
        labels = [_diff_label(str(x), str(y)) for x, y in zip(L1.index, l2)]
    out.index = labels
    return out


# ---------------------------------------------------------------------------
# Wald tests
# ---------------------------------------------------------------------------
def _contrast_df(fit, L: np.ndarray, ddf: Any) -> tuple[np.ndarray, float]:
    """Row DFs and the joint DF, through the contract (or a number given by the user)."""
    k = L.shape[0]
    if isinstance(ddf, (int, float, np.integer, np.floating)) and not isinstance(ddf, bool):
        return np.full(k, float(ddf)), float(ddf)
    res = fit.contrast_df(L, ddf) if ddf is not None else fit.contrast_df(L)
    if isinstance(res, dict):
        rows, joint = res.get("rows", res.get("df")), res.get("joint", res.get("F"))
    elif isinstance(res, tuple) and len(res) == 2:
        rows, joint = res
    elif hasattr(res, "rows"):
        rows, joint = res.rows, getattr(res, "joint", None)
    else:
        rows, joint = res, None
    rows = np.broadcast_to(np.asarray(rows, dtype=float), (k,)).copy()
    if joint is None:
        joint = float(np.min(rows))
    return rows, float(joint)


@dataclass
class WaldTest:
    """A Wald test of H0: L beta = 0.

    With V = vcov(beta-hat) and r = rank(L), take the SVD L = U S W' and
    L_r = U_r' L (r independent rows spanning the row space of L); then

        F = (L_r b)' (L_r V L_r')^{-1} (L_r b) / r  on (r, denDF) DF,

    which does not change when L's rows are rescaled, recombined or
    repeated. Each row l of L also gets its estimate l'b, SE sqrt(l'Vl),
    t = l'b / SE on its own DF, a two-sided p-value and t-based limits.
    """

    name: str
    L: pd.DataFrame
    estimate: pd.DataFrame
    num_df: int
    den_df: float
    F: float
    p_value: float
    level: float = 0.95

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
                "denDF": [_fmt_df(self.den_df)],
                "F.value": [f"{self.F:.7g}"],
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
                "Estimate": t["Estimate"].map(lambda v: f"{v:.7g}"),
                "Std.Error": t["Std.Error"].map(lambda v: f"{v:.7g}"),
                "DF": t["DF"].map(_fmt_df),
                "t-value": t["t-value"].map(lambda v: f"{v:.6g}"),
                "p-value": t["p-value"].map(format_p),
                t.columns[5]: t.iloc[:, 5].map(lambda v: f"{v:.7g}"),
                t.columns[6]: t.iloc[:, 6].map(lambda v: f"{v:.7g}"),
            },
            index=t.index,
        )
        shown = shown.reset_index(names="Coefficients")
        shown["Coefficients"] = shown["Coefficients"].astype(str).str.ljust(shown["Coefficients"].astype(str).str.len().max())
        return shown

    def __repr__(self) -> str:
        return "Wald test\n" + self._text()

    def _repr_html_(self) -> str:
        return (
            _html_table(self._head().set_index(pd.Index([self.name])), f"Wald test: {self.name}")
            + _html_table(self._shown_html(), "")
        )


def _fmt_df(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"


class WaldTests(dict):
    """Several named Wald tests (from a dict spec); prints each in turn."""

    @property
    def anova(self) -> pd.DataFrame:
        return pd.concat([t.anova for t in self.values()])

    def __repr__(self) -> str:
        return "Wald tests\n" + "\n\n".join(t._text() for t in self.values())

    def _repr_html_(self) -> str:
        return "".join(t._repr_html_() for t in self.values())


def _kenward_roger(fit, Lm: np.ndarray, ddf: Any):
    """The Kenward-Roger result for L when ``ddf`` asks for it, else None."""
    if not (isinstance(ddf, str) and ddf.lower().replace("_", "-") in ("kenward-roger", "kr")):
        return None
    from hlmlab.ddf.kenward_roger import kenward_roger

    return kenward_roger(fit, Lm)


def _wald_one(fit, L: pd.DataFrame, name: str, ddf: Any, level: float) -> WaldTest:
    b = fit.fixef.to_numpy(dtype=float)
    V = fit.vcov
    if isinstance(V, pd.DataFrame):
        V = V.loc[fit.fixef.index, fit.fixef.index]
    V = np.asarray(V, dtype=float)
    Lm = L.to_numpy(dtype=float)
    if not np.all(np.isfinite(Lm)):
        raise ValueError(f"L for {name!r} has missing or infinite entries")
    kr = _kenward_roger(fit, Lm, ddf)
    if kr is not None:  # Kenward-Roger: adjusted covariance, DF and F scale
        V = kr.vcov_adjusted
    est = Lm @ b
    var = np.einsum("ij,jk,ik->i", Lm, V, Lm)
    se = np.sqrt(np.maximum(var, 0.0))
    rows_df, joint_df = (np.asarray(kr.df, float), float(kr.df_joint)) if kr is not None else _contrast_df(fit, Lm, ddf)
    t = np.divide(est, se, out=np.full_like(est, np.nan), where=se > 0)
    p = 2 * stats.t.sf(np.abs(t), rows_df)
    q = stats.t.ppf(0.5 + level / 2, rows_df)
    pct = f"{100 * level:g}"
    table = pd.DataFrame(
        {
            "Estimate": est, "Std.Error": se, "DF": rows_df, "t-value": t, "p-value": p,
            f"Lower {pct}%": est - q * se, f"Upper {pct}%": est + q * se,
        },
        index=L.index,
    )
    # joint F on the row space of L
    U, s, _ = np.linalg.svd(Lm, full_matrices=False)
    r = int(np.sum(s > RANK_TOL * (s[0] if s.size else 0.0))) if s.size and s[0] > 0 else 0
    if r == 0:
        raise ValueError(f"L for {name!r} is all zeros: there is nothing to test")
    Lr = U[:, :r].T @ Lm
    d = Lr @ b
    M = Lr @ V @ Lr.T
    try:
        F = float(d @ np.linalg.solve(M, d)) / r
    except np.linalg.LinAlgError:  # L V L' singular: the generalised inverse
        F = float(d @ np.linalg.pinv(M) @ d) / r
    if kr is not None:
        F = float(kr.F)
    pF = float(stats.f.sf(F, r, joint_df)) if np.isfinite(joint_df) else float(stats.chi2.sf(F * r, r))
    return WaldTest(name, L, table, r, joint_df, F, pF, level)


def wald(fit, spec: Any, ddf: Any = None, level: float = 0.95, name: str | None = None) -> WaldTest | WaldTests:
    """Wald test of the linear hypothesis L beta = 0 (alias :func:`glh`).

    Parameters
    ----------
    fit : a fit honouring the contract (``lm`` or ``lme``)
    spec : str, list, array, Series, DataFrame or dict
        A regular expression on coefficient names (each match is a row), a
        list of names, an L matrix (see :func:`as_L`), or a dict mapping test
        names to any of these (one test each).
    ddf : None, str or number
        Denominator DF: passed to ``fit.contrast_df(L, ddf)`` (for lme,
        ``"nlme"`` — each row takes the smallest DF of the coefficients it
        involves —, ``"satterthwaite"``, or ``"kenward-roger"``, which also
        replaces Cov(beta-hat) by its adjusted version and scales F); a
        number overrides it.
    level : float
        Confidence level of the limits l'b ± t(DF) SE.
    name : str, optional
        A label for the test (default: the pattern, the L matrix's ``name``
        attribute, or ``"L"``).

    Returns
    -------
    WaldTest or WaldTests
        ``F``, ``num_df`` (= rank of L), ``den_df``, ``p_value`` and the
        per-row table ``estimate`` (Estimate, Std.Error, DF, t-value,
        p-value, limits). Prints like nlme/spida2; renders as HTML.

    Notes
    -----
    F = (L_r b)'(L_r V L_r')^{-1}(L_r b) / r with L_r spanning the row space
    of L (SVD), so dependent rows reduce the numerator DF.
    """
    if isinstance(spec, dict):
        if not spec:
            raise ValueError("the dict of hypotheses is empty")
        return WaldTests({str(k): _wald_one(fit, as_L(fit, v), str(k), ddf, level) for k, v in spec.items()})
    if name is None:
        name = spec if isinstance(spec, str) else (getattr(spec, "name", None) or "L")
    return _wald_one(fit, as_L(fit, spec), str(name), ddf, level)


glh = wald


# ---------------------------------------------------------------------------
# likelihood-ratio tests
# ---------------------------------------------------------------------------
def _npar(fit) -> int:
    """Parameters counted in the log-likelihood, k = (AIC + 2 logLik) / 2 (so they agree with the AIC printed)."""
    try:
        k = (float(fit.aic) + 2 * float(fit.loglik)) / 2
    except (AttributeError, TypeError):
        k = getattr(fit, "npar")
    return int(round(float(k)))


def _method(fit) -> str:
    m = str(getattr(fit, "method", "")).upper()
    return "ML" if m in ("OLS", "ML") else m


def _X_of(fit):
    d = getattr(fit, "design", None)
    for a in ("X", "matrix"):
        if d is not None and hasattr(d, a):
            return np.asarray(getattr(d, a), dtype=float)
    return None


def _check_comparable(fits: list, labels: list[str]) -> None:
    n = [int(f.nobs) for f in fits]
    if len(set(n)) > 1:
        raise ValueError(
            "the fits use different numbers of observations "
            + ", ".join(f"{lab}: {k}" for lab, k in zip(labels, n))
            + "; likelihoods on different data cannot be compared (check missing values)"
        )
    methods = [_method(f) for f in fits]
    if len(set(methods)) > 1:
        raise ValueError(
            f"the fits use different methods ({dict(zip(labels, methods))}): refit all with method='ML' "
            "(or all with REML when only the random part differs)"
        )
    if methods[0] == "REML":
        ref = list(fits[0].fixef.index)
        X0 = _X_of(fits[0])
        for f, lab in zip(fits[1:], labels[1:]):
            same = list(f.fixef.index) == ref
            X1 = _X_of(f)
            if same and X0 is not None and X1 is not None:
                same = X0.shape == X1.shape and np.allclose(X0, X1)
            if not same:
                raise ValueError(
                    f"REML fits with different fixed effects ({labels[0]}: {ref}; {lab}: "
                    f"{list(f.fixef.index)}) have REML likelihoods that cannot be compared: "
                    "refit both with method='ML'"
                )


@dataclass
class AnovaTable:
    """Comparison of nested fits: a table like nlme's ``anova`` (or R's ``anova.lm``)."""

    table: pd.DataFrame
    kind: str = "LRT"

    def __repr__(self) -> str:
        t = self.table.copy()
        for c in t.columns:
            if c in ("p-value", "Pr(>F)"):
                t[c] = [format_p(v) if np.isfinite(v) else "" for v in t[c]]
            elif t[c].dtype.kind == "f":
                t[c] = [f"{v:.7g}" if np.isfinite(v) else "" for v in t[c]]
        return t.to_string()

    def _repr_html_(self) -> str:
        return _html_table(self.table, "Likelihood-ratio test" if self.kind == "LRT" else "Analysis of variance", "{:.6g}")

    def __getitem__(self, key):
        return self.table[key]


def _anova_f(fits: list, labels: list[str]) -> AnovaTable:
    """R's anova.lm: F = ((RSS_0 - RSS_1)/(df_0 - df_1)) / (RSS_big / df_big)."""
    rdf = np.array([f.df_resid for f in fits], dtype=float)
    rss = np.array([f.sigma**2 * f.df_resid for f in fits])
    big = int(np.argmin(rdf))
    scale = rss[big] / rdf[big]
    ddf = np.r_[np.nan, -np.diff(rdf)]
    dss = np.r_[np.nan, -np.diff(rss)]
    with np.errstate(invalid="ignore", divide="ignore"):
        F = np.abs(dss / ddf) / scale
        p = stats.f.sf(F, np.abs(ddf), rdf[big])
    tab = pd.DataFrame({"Res.Df": rdf, "RSS": rss, "Df": ddf, "Sum of Sq": dss, "F": F, "Pr(>F)": p}, index=labels)
    return AnovaTable(tab, "F")


def anova(*fits, names: list[str] | None = None, test: str | None = None) -> AnovaTable:
    """Likelihood-ratio tests of nested fits, in the order given.

    For consecutive fits i-1 and i: L.Ratio = 2 |logLik_i - logLik_{i-1}|
    on |k_i - k_{i-1}| DF (k = parameters counted by logLik), with a
    chi-square p-value. All fits must use the same rows; REML fits must
    share their fixed part (otherwise refit with ML). With only ``lm`` fits
    (or ``test="F"``), R's F test of nested linear models instead.

    Returns
    -------
    AnovaTable
        Columns Model, df, AIC, BIC, logLik, Test, L.Ratio, p-value.
    """
    if len(fits) < 2:
        raise ValueError("anova needs at least two fits to compare")
    if names is None:
        caller = inspect.currentframe().f_back
        labels = [_caller_name(f, frame=caller) or f"fit{i + 1}" for i, f in enumerate(fits)]
        del caller
    else:
        labels = [str(n) for n in names]
    if len(set(labels)) < len(labels):
        labels = [f"{lab}.{i + 1}" for i, lab in enumerate(labels)]
    _check_comparable(list(fits), labels)
    if test is None:
        test = "F" if all(getattr(f, "method", "") == "OLS" for f in fits) else "LRT"
    if test == "F":
        return _anova_f(list(fits), labels)
    k = np.array([_npar(f) for f in fits])
    ll = np.array([float(f.loglik) for f in fits])
    lr = np.r_[np.nan, 2 * np.abs(np.diff(ll))]
    ddf = np.r_[np.nan, np.abs(np.diff(k))]
    with np.errstate(invalid="ignore"):
        p = np.where(ddf > 0, stats.chi2.sf(lr, np.where(ddf > 0, ddf, 1)), np.nan)
    tab = pd.DataFrame(
        {
            "Model": np.arange(1, len(fits) + 1), "df": k,
            "AIC": [float(f.aic) for f in fits], "BIC": [float(f.bic) for f in fits], "logLik": ll,
            "Test": [""] + [f"{i} vs {i + 1}" for i in range(1, len(fits))],
            "L.Ratio": lr, "p-value": p,
        },
        index=labels,
    )
    return AnovaTable(tab, "LRT")


# ---------------------------------------------------------------------------
# parametric bootstrap of the LRT
# ---------------------------------------------------------------------------
@dataclass
class LrtSimulation:
    """The parametric bootstrap of a likelihood-ratio statistic.

    ``observed`` = 2 (logLik_1 - logLik_0); ``p_nominal`` = P(chi2_df >=
    observed); ``p_empirical`` = share of simulated statistics >= observed
    (``p_empirical_plus1`` = (1 + count) / (1 + nsim), never 0);
    ``simulated`` holds the statistics (NaN where a refit failed).
    """

    observed: float
    df: int
    simulated: np.ndarray
    failures: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def nsim(self) -> int:
        return int(np.sum(np.isfinite(self.simulated)))

    @property
    def p_nominal(self) -> float:
        return float(stats.chi2.sf(self.observed, self.df))

    @property
    def p_empirical(self) -> float:
        s = self.simulated[np.isfinite(self.simulated)]
        return float(np.mean(s >= self.observed)) if s.size else np.nan

    @property
    def p_empirical_plus1(self) -> float:
        s = self.simulated[np.isfinite(self.simulated)]
        return float((1 + np.sum(s >= self.observed)) / (1 + s.size))

    @property
    def se_empirical(self) -> float:
        p = self.p_empirical
        return float(np.sqrt(p * (1 - p) / max(self.nsim, 1)))

    def __repr__(self) -> str:
        lines = [
            "Parametric bootstrap of the likelihood-ratio test",
            f"  observed L.Ratio {self.observed:.4g} on {self.df} DF",
            f"  nominal p (chi-square): {format_p(self.p_nominal)}",
            f"  empirical p: {self.p_empirical:.4g} (SE {self.se_empirical:.2g}) from {self.nsim} simulations",
        ]
        if self.failures:
            lines.append(f"  {self.failures} simulation(s) failed to refit and were dropped")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<pre>" + repr(self) + "</pre>"

    def plot(self, ax=None):
        """Simulated statistics against chi-square(df) quantiles, with the observed value."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 4))
        s = np.sort(self.simulated[np.isfinite(self.simulated)])
        q = stats.chi2.ppf((np.arange(1, s.size + 1) - 0.5) / s.size, self.df)
        ax.plot(q, s, "o", ms=3)
        top = max(float(q.max(initial=0)), float(s.max(initial=0)))
        ax.plot([0, top], [0, top], "k--", lw=1)
        ax.axhline(self.observed, color="C3", lw=1, label=f"observed {self.observed:.3g}")
        ax.set_xlabel(f"chi-square({self.df}) quantiles")
        ax.set_ylabel("simulated L.Ratio")
        ax.legend()
        return ax


def _used_data(fit) -> pd.DataFrame:
    data = fit.data
    rows = getattr(fit.design, "rows", None)
    if rows is None:
        return data.reset_index(drop=True)
    rows = np.asarray(rows)
    return (data.loc[rows] if rows.dtype == bool else data.iloc[rows]).reset_index(drop=True)


def simulate_lrt(fit0, fit1, nsim: int = 100, seed: int | None = None, progress: bool = True) -> LrtSimulation:
    """Parametric bootstrap of the likelihood-ratio test of ``fit0`` within ``fit1``.

    For k = 1..nsim: y*_k from ``fit0.simulate`` (the null model), refit
    both models to y*_k, and record 2 (logLik_1* - logLik_0*). The share of
    these at or above the observed statistic estimates the p-value without
    the chi-square approximation, which is conservative when the null puts a
    variance on the boundary.
    """
    _check_comparable([fit0, fit1], ["fit0", "fit1"])
    observed = 2 * (float(fit1.loglik) - float(fit0.loglik))
    df = abs(_npar(fit1) - _npar(fit0))
    data = _used_data(fit0)
    resp = response_name(fit0)
    Y = np.asarray(fit0.simulate(nsim, seed), dtype=float).reshape(len(data), -1)
    sims = np.full(Y.shape[1], np.nan)
    messages: list[str] = []
    from tqdm.auto import tqdm

    for k in tqdm(range(Y.shape[1]), desc="simulate_lrt", disable=not progress):
        d = data.copy()
        d[resp] = Y[:, k]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f0 = fit0.refit(data=d)
                f1 = fit1.refit(data=d)
            sims[k] = 2 * (float(f1.loglik) - float(f0.loglik))
        except Exception as err:  # a failed refit is reported, not fatal
            messages.append(f"simulation {k + 1}: {err}")
    return LrtSimulation(observed, df, sims, int(np.sum(~np.isfinite(sims))), messages)


# ---------------------------------------------------------------------------
# influence of groups
# ---------------------------------------------------------------------------
@dataclass
class DropOne:
    """Coefficients refitted without each group.

    ``fixef``: one row per dropped group, the refitted beta_(-g);
    ``changes``: (beta_(-g) - beta) / SE(beta), in SE units of the full fit;
    ``cook``: (beta - beta_(-g))' V^{-1} (beta - beta_(-g)) / p, a group-level
    Cook's distance.
    """

    by: str
    fixef: pd.DataFrame
    changes: pd.DataFrame
    cook: pd.Series
    messages: list[str] = field(default_factory=list)

    def most_influential(self, k: int = 5) -> pd.DataFrame:
        """The k groups with the largest absolute change in any coefficient."""
        big = self.changes.abs().max(axis=1)
        worst = self.changes.abs().idxmax(axis=1)
        out = pd.DataFrame({"max |change| (SE)": big, "coefficient": worst, "cook": self.cook})
        return out.sort_values("max |change| (SE)", ascending=False).head(k)

    def __repr__(self) -> str:
        return f"Drop-one-{self.by} influence ({len(self.changes)} groups); most influential:\n" + self.most_influential().to_string()

    def _repr_html_(self) -> str:
        return _html_table(self.most_influential(), f"Drop one {self.by}: most influential", "{:.4g}")


def dropone(fit, by: str, groups: list | None = None, progress: bool = True) -> DropOne:
    """Refit the model without each group of ``by`` in turn.

    Returns a :class:`DropOne` with the coefficient changes in SE units,
    (beta_(-g) - beta) / SE(beta), one row per group; coefficients a refit
    cannot estimate (its group held the only data for them) are NaN.
    ``groups`` restricts the groups dropped (default: all groups in the fit).
    A refit that fails leaves a row of NaN and a line in ``messages``.
    """
    data = fit.data
    if by not in data.columns:
        raise KeyError(f"grouping column {by!r} not found; available columns: {list(data.columns)}")
    b = fit.fixef
    se = fit.se
    Vinv = np.linalg.inv(np.asarray(fit.vcov, dtype=float))
    used = _used_data(fit)
    present = pd.unique(used[by].dropna())
    present = np.sort(present) if np.asarray(present).dtype.kind in "iufU" else present
    if groups is None:
        groups = present
    else:
        unknown = [g for g in groups if g not in set(present)]
        if unknown:
            raise ValueError(f"group(s) {unknown} of {by!r} are not in the fit")
    rows, messages = {}, []
    from tqdm.auto import tqdm

    for g in tqdm(groups, desc="dropone", disable=not progress):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = fit.refit(data=data[data[by] != g])
            rows[g] = f.fixef.reindex(b.index)
        except Exception as err:
            messages.append(f"{by}={g}: {err}")
            rows[g] = pd.Series(np.nan, index=b.index)
    fixef = pd.DataFrame(rows).T
    fixef.index.name = by
    changes = (fixef - b) / se
    d = (fixef - b).to_numpy()
    with np.errstate(invalid="ignore"):
        cook = pd.Series(np.einsum("ij,jk,ik->i", d, Vinv, d) / len(b), index=fixef.index, name="cook")
    return DropOne(by, fixef, changes, cook, messages)


# ---------------------------------------------------------------------------
# multilevel R²
# ---------------------------------------------------------------------------
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
