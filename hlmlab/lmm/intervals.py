"""Confidence intervals for a mixed-model fit, as nlme's ``intervals``.

Fixed effects: beta-hat +- t(DF) SE, with nlme's between/within DF.

Variance parameters (Pinheiro and Bates 2000, section 2.4.3): on nlme's
natural scale, where the log-likelihood is closest to quadratic,

    per level: log SD of each random effect, Fisher z = atanh(rho) of each
    correlation; then log sigma,

the approximate covariance of the estimates is the inverse of the Hessian of
-log-likelihood (REML or ML, with beta profiled out, sigma not), obtained
from the fit's Hessian in (theta, sigma) by the chain rule. Each interval is estimate +- z(1 - alpha/2) SE on that
scale, mapped back with exp or tanh. At a singular fit (an SD of 0 or a
correlation of +-1) the natural scale is undefined, and where the Hessian is
not positive definite the approximation fails: the intervals are then
replaced by a message saying so, as nlme refuses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as st

from hlmlab import _numdiff
from hlmlab.contract import check_conf_level
from hlmlab.lmm.summary import Intervals

__all__ = ["natural_parameters", "varpar_of_natural", "deviance_natural", "natural_hessian", "lme_intervals"]


def natural_parameters(fit: Any) -> tuple[np.ndarray, list[str], list[str]]:
    """The variance parameters on nlme's natural scale, their names and kinds ("sd", "cor", "sigma")."""
    vals, names, kinds = [], [], []
    vc = fit.varcorr()
    for l, lev in enumerate(fit.levels):
        sd = vc.sd(l)
        with np.errstate(divide="ignore"):
            vals += list(np.log(sd))
        names += [f"{lev.name}: sd({z})" for z in lev.znames]
        kinds += ["sd"] * lev.q
        R = vc.corr(l)
        for j in range(lev.q):
            for i in range(j + 1, lev.q):
                vals.append(np.arctanh(np.clip(R[i, j], -1, 1)))
                names.append(f"{lev.name}: cor({lev.znames[i]},{lev.znames[j]})")
                kinds.append("cor")
    vals.append(np.log(fit.sigma))
    names.append("sigma")
    kinds.append("sigma")
    return np.array(vals), names, kinds


def varpar_of_natural(fit: Any, nat: np.ndarray) -> np.ndarray | None:
    """phi = (theta, sigma) of ``fit.varpar`` from natural parameters (log SDs, Fisher z, log sigma).

    G_l = D R D (D the SDs, R the correlations), then :meth:`VarPar.phi_of`;
    None when a G_l is not positive definite.
    """
    sigma = float(np.exp(nat[-1]))
    Gs, k = [], 0
    for lev in fit.levels:
        q = lev.q
        sd = np.exp(nat[k : k + q])
        k += q
        R = np.eye(q)
        for j in range(q):
            for i in range(j + 1, q):
                R[i, j] = R[j, i] = np.tanh(nat[k])
                k += 1
        Gs.append(np.outer(sd, sd) * R)
    return fit.varpar.phi_of(Gs, sigma)


def deviance_natural(fit: Any, nat: np.ndarray) -> float:
    """-2 log-likelihood at natural parameters (log SDs, Fisher z, log sigma)."""
    phi = varpar_of_natural(fit, nat)
    return np.inf if phi is None else fit.varpar.deviance(phi)


def natural_hessian(fit: Any, nat: np.ndarray) -> np.ndarray:
    """Hessian of -2 log-likelihood in the natural parameters at the estimates.

    At the optimum the gradient in phi = (theta, sigma) vanishes, so the
    Hessian transforms as J' H_phi J with J = d phi / d nat (central
    differences of the cheap, smooth map :func:`varpar_of_natural`) and
    H_phi the Hessian of the fit's :attr:`~hlmlab.lmm.fit.LmeFit.varpar`.
    """

    def phi_of(z: np.ndarray) -> np.ndarray:
        phi = varpar_of_natural(fit, z)
        return np.full(len(z), np.nan) if phi is None else phi

    J = _numdiff.jacobian(phi_of, nat, rel=1e-6, floor=1.0)
    if not np.all(np.isfinite(J)):
        return np.full((len(nat), len(nat)), np.nan)
    return J.T @ fit.varpar.hessian @ J


def lme_intervals(fit: Any, conf_level: float = 0.95) -> Intervals:
    """Intervals for the fixed effects and the variance parameters of an lme fit, at ``conf_level``."""
    level = check_conf_level(conf_level)
    a = 1 - (1 - level) / 2
    tq = st.t.ppf(a, fit.df.to_numpy())
    est, se = fit.fixef.to_numpy(), fit.se.to_numpy()
    fixed = pd.DataFrame({"lower": est - tq * se, "est.": est, "upper": est + tq * se}, index=fit.design.names)
    nat, names, kinds = natural_parameters(fit)
    if fit.singular or not np.all(np.isfinite(nat)):
        return Intervals(
            level,
            fixed,
            None,
            (
                "cannot compute intervals for the variance parameters: the fit is singular "
                "(a standard deviation is zero or a correlation is +-1), so the approximate "
                "covariance matrix of the variance parameters is not defined"
            ),
        )
    H = natural_hessian(fit, nat) / 2  # Hessian of -log-likelihood
    H = (H + H.T) / 2
    if not (np.all(np.isfinite(H)) and np.linalg.eigvalsh(H).min() > 0):
        return Intervals(
            level,
            fixed,
            None,
            (
                "cannot compute intervals for the variance parameters: the Hessian of the "
                "log-likelihood is not negative definite at the estimates (non-positive definite "
                "approximate variance-covariance); the fit may be at or near a boundary"
            ),
        )
    half = st.norm.ppf(a) * np.sqrt(np.diag(np.linalg.inv(H)))
    back = {"sd": np.exp, "sigma": np.exp, "cor": np.tanh}
    rows = [(n, back[k](v - h), back[k](v), back[k](v + h)) for n, k, v, h in zip(names, kinds, nat, half)]
    table = pd.DataFrame(rows, columns=["name", "lower", "est.", "upper"]).set_index("name")
    return Intervals(level, fixed, table, None)
