"""Likelihood-ratio tests of nested fits and their parametric bootstrap.

``anova(fit0, fit1, ...)``: for consecutive fits, L.Ratio = 2 |logLik_i -
logLik_{i-1}| on |k_i - k_{i-1}| DF with a chi-square p-value (nlme's
``anova``), or R's F test of nested linear models when all fits are ``lm``:
F = ((RSS_0 - RSS_1)/(df_0 - df_1)) / (RSS_big / df_big).

``simulate_lrt(fit0, fit1)``: the null distribution of the likelihood ratio by
simulating from ``fit0`` and refitting both models, without the chi-square
approximation (conservative when the null puts a variance on its boundary).
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from hlmlab._format import caller_name, format_p, html_table
from hlmlab._parallel import resolve_jobs, run_chunks
from hlmlab.contract import check_count
from hlmlab.exceptions import ComparisonWarning, warn
from hlmlab.inference.grid import used_data
from hlmlab.ols.fit import response_name

__all__ = ["anova", "AnovaTable", "simulate_lrt", "LrtSimulation", "check_nested_pair"]


# ---------------------------------------------------------------------------
# likelihood-ratio tests
# ---------------------------------------------------------------------------
def _npar(fit) -> int:
    """Parameters counted in the log-likelihood, k = (AIC + 2 logLik) / 2 (so they agree with the AIC printed)."""
    try:
        k = (float(fit.aic) + 2 * float(fit.loglik)) / 2
    except (AttributeError, TypeError):
        k = fit.npar
    return int(round(float(k)))


def _method(fit) -> str:
    m = str(getattr(fit, "method", "")).upper()
    return "ML" if m in ("OLS", "ML") else m


def _X_of(fit) -> np.ndarray | None:
    design = getattr(fit, "design", None)
    return None if design is None else np.asarray(design.X, dtype=float)


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
        caption = "Likelihood-ratio test" if self.kind == "LRT" else "Analysis of variance"
        return html_table(self.table, caption, "{:.6g}")

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


def _check_pairs(fits: list, labels: list[str], k: np.ndarray) -> None:
    """Say so (ComparisonWarning) when consecutive fits are not a nested pair with the smaller first.

    Not nested: the same number of parameters, or fixed effects of the
    smaller fit that the larger one lacks. The test is still computed as nlme
    computes it (|difference| of log-likelihoods and of parameter counts),
    but it is not a likelihood-ratio test of one model within the other.
    """
    for i in range(1, len(fits)):
        a, b = labels[i - 1], labels[i]
        if k[i] == k[i - 1]:
            warn(
                f"{a} and {b} have the same number of parameters ({k[i]}): they are not nested, no test",
                ComparisonWarning,
            )
            continue
        small, big = (i - 1, i) if k[i - 1] < k[i] else (i, i - 1)
        if small == i:
            warn(
                f"{a} ({k[i - 1]} parameters) comes before the smaller {b} ({k[i]}): the test is computed all the "
                "same (as nlme does), but list the smaller model first",
                ComparisonWarning,
            )
        missing = [c for c in fits[small].fixef.index if c not in set(fits[big].fixef.index)]
        if missing:
            warn(
                f"{labels[small]} and {labels[big]} are not nested: {labels[small]} has fixed effects {missing} that "
                f"{labels[big]} lacks, so their likelihood-ratio test is not valid (compare AIC or BIC instead)",
                ComparisonWarning,
            )


def anova(*fits, names: list[str] | None = None, test: str | None = None) -> AnovaTable:
    """Likelihood-ratio tests of nested fits, in the order given.

    For consecutive fits i-1 and i: L.Ratio = 2 abs(logLik_i - logLik_{i-1})
    on abs(k_i - k_{i-1}) DF (k = parameters counted by logLik), with a
    chi-square p-value. All fits must use the same rows; REML fits must
    share their fixed part (otherwise refit with ML). Each pair should be
    nested with the smaller model first; a pair that is not (the larger
    first, the same number of parameters, or a fixed effect of the smaller
    model missing from the larger) gives a :class:`~hlmlab.exceptions.ComparisonWarning`. With only ``lm`` fits
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
        labels = [caller_name(f, frame=caller) or f"fit{i + 1}" for i, f in enumerate(fits)]
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
    _check_pairs(list(fits), labels, k)
    ll = np.array([float(f.loglik) for f in fits])
    lr = np.r_[np.nan, 2 * np.abs(np.diff(ll))]
    ddf = np.r_[np.nan, np.abs(np.diff(k))]
    with np.errstate(invalid="ignore"):
        p = np.where(ddf > 0, stats.chi2.sf(lr, np.where(ddf > 0, ddf, 1)), np.nan)
    tab = pd.DataFrame(
        {
            "Model": np.arange(1, len(fits) + 1),
            "df": k,
            "AIC": [float(f.aic) for f in fits],
            "BIC": [float(f.bic) for f in fits],
            "logLik": ll,
            "Test": [""] + [f"{i} vs {i + 1}" for i in range(1, len(fits))],
            "L.Ratio": lr,
            "p-value": p,
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


def check_nested_pair(fit0, fit1) -> None:
    """Refuse a pair of fits that is not (smaller, larger) and nested, saying why.

    The smaller model comes first: it has fewer parameters, and its fixed
    effects are among the larger model's (same names); both use the same rows.
    """
    k0, k1 = _npar(fit0), _npar(fit1)
    if k0 > k1:
        raise ValueError(
            f"the smaller model comes first: fit0 has {k0} parameters and fit1 {k1}; call simulate_lrt(smaller, larger)"
        )
    if k0 == k1:
        raise ValueError(f"the two fits have the same number of parameters ({k0}): they are not nested")
    missing = [c for c in fit0.fixef.index if c not in set(fit1.fixef.index)]
    if missing:
        raise ValueError(
            f"the fits are not nested: fit0 has fixed effects {missing} that fit1 does not; "
            "the likelihood-ratio test compares a model with one that contains it"
        )


def simulate_lrt(
    fit0, fit1, nsim: int = 100, seed: int | None = None, progress: bool = True, n_jobs: int | None = 1
) -> LrtSimulation:
    """Parametric bootstrap of the likelihood-ratio test of ``fit0`` within ``fit1``.

    For k = 1..nsim: y*_k from ``fit0.simulate`` (the null model), refit
    both models to y*_k, and record 2 (logLik_1* - logLik_0*). The share of
    these at or above the observed statistic estimates the p-value without
    the chi-square approximation, which is conservative when the null puts a
    variance on the boundary.

    Refits reuse each fit's design: only the response changes
    (``fit.refit(newresp=y)``, lme4's ``refit``), so no formula is evaluated
    in the loop, and each search starts from the fit's own optimum. The
    smaller model comes first, and the two must be nested
    (:func:`check_nested_pair`); ``nsim`` must be a positive integer.

    ``n_jobs`` worker processes share the refits (-1: one per core). All
    responses are simulated first, from ``seed``, so the result is the same
    whatever ``n_jobs``.
    """
    nsim = check_count(nsim, "nsim")
    jobs = resolve_jobs(n_jobs)
    _check_comparable([fit0, fit1], ["fit0", "fit1"])
    check_nested_pair(fit0, fit1)
    observed = 2 * (float(fit1.loglik) - float(fit0.loglik))
    df = _npar(fit1) - _npar(fit0)
    Y = np.asarray(fit0.simulate(nsim, seed), dtype=float).reshape(int(fit0.nobs), -1)
    sims = np.full(Y.shape[1], np.nan)
    messages: list[str] = []
    for idx, (values, notes) in run_chunks(_lrt_chunk, (fit0, fit1, Y), Y.shape[1], jobs, progress, "simulate_lrt"):
        sims[idx] = values
        messages += notes
    return LrtSimulation(observed, df, sims, int(np.sum(~np.isfinite(sims))), messages)


def _lrt_chunk(shared: tuple, idx: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The simulated statistics for the responses Y[:, idx] (a failed refit gives NaN and a message)."""
    fit0, fit1, Y = shared
    out = np.full(len(idx), np.nan)
    messages = []
    for i, k in enumerate(idx):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f0 = _refit_response(fit0, Y[:, k])
                f1 = _refit_response(fit1, Y[:, k])
            out[i] = 2 * (float(f1.loglik) - float(f0.loglik))
        except Exception as err:  # a failed refit is reported, not fatal
            messages.append(f"simulation {k + 1}: {err}")
    return out, messages


def _refit_response(fit, y: np.ndarray):
    """The fit refitted to a new response on its own rows: through ``refit(newresp=)`` when it has it."""
    try:
        return fit.refit(newresp=y)
    except TypeError:  # a fit without newresp (lm): rebuild from its formula on its rows
        data = used_data(fit).reset_index(drop=True).copy()
        data[response_name(fit)] = y
        return fit.refit(data=data)
