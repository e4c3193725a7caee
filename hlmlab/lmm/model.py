"""``lme``: linear mixed models by REML or ML, in four steps as in lme4.

1. parse: the fixed formula into y and X (:func:`hlmlab.formula.fixed.fixed_design`),
   the random part into levels of Z columns and group codes
   (:func:`hlmlab.formula.random.random_design`);
2. build the criterion: per-group sufficient statistics
   (:func:`hlmlab.lmm.suffstats.sufficient_stats`), so that the profiled
   criterion (:mod:`hlmlab.lmm.pls`) is a function of theta alone;
3. optimise theta within its bounds (:func:`hlmlab.lmm.optimize.minimize_theta`)
   and check the answer (:mod:`hlmlab.lmm.checkconv`);
4. package the estimates at the optimum into an
   :class:`~hlmlab.lmm.fit.LmeFit`.

Rows with a missing value in any variable of the model (fixed or random
part) are dropped and counted on the fit (``n_dropped``); a grouping factor
with missing values is an error.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hlmlab._blas import single_threaded_blas
from hlmlab._format import caller_name
from hlmlab.exceptions import (
    ConvergenceWarning,
    DroppedRowsWarning,
    HessianWarning,
    IdentifiabilityWarning,
    SingularFitWarning,
    warn,
)
from hlmlab.formula.fixed import FixedDesign, fixed_design
from hlmlab.formula.random import RandomLevel, RandomTerm, check_groups, parse_random, random_design, random_variables
from hlmlab.formula.terms import complete_rows, positional
from hlmlab.lmm.fit import LmeFit
from hlmlab.lmm.identify import design_messages
from hlmlab.lmm.onelevel import OneLevel
from hlmlab.lmm.optimize import minimize_theta
from hlmlab.lmm.pls import deviance, theta_lower, theta_start
from hlmlab.lmm.suffstats import SufficientStats, sufficient_stats, with_response
from hlmlab.lmm.varpar import column_scales, normalisers, singular_tolerances
from hlmlab.lmm.warm import warm_search

__all__ = ["lme", "LmeModel", "build_model", "fit_model"]

METHODS = ("REML", "ML")


@dataclass(frozen=True, eq=False)
class LmeModel:
    """A linear mixed model before fitting: its data, designs and statistics.

    Attributes
    ----------
    fixed, random : the formulas as given
    method : "REML" or "ML"
    data : the data frame as given (all rows)
    data_name : its name for printing
    design : FixedDesign on the rows used
    terms : the random-effects terms, outermost level first
    levels : RandomLevel for each level, outermost first
    stats : SufficientStats (what the criterion needs)
    scales : the scale of each Z column at each level (see :func:`column_scales`)
    messages : what the design cannot identify (:func:`hlmlab.lmm.identify.design_messages`)
    """

    fixed: str
    random: Any
    method: str
    data: pd.DataFrame
    data_name: str
    design: FixedDesign
    terms: list[RandomTerm]
    levels: list[RandomLevel]
    stats: SufficientStats
    scales: list[np.ndarray]
    messages: tuple[str, ...] = ()

    @property
    def reml(self) -> bool:
        return self.method == "REML"


def _method(method: str) -> str:
    m = str(method).upper()
    if m not in METHODS:
        raise ValueError(f"method must be 'REML' or 'ML', got {method!r}")
    return m


def build_model(
    fixed: str, data: pd.DataFrame, random: str | list[str], method: str = "REML", data_name: str | None = None
) -> LmeModel:
    """Steps 1 and 2: designs, group codes and sufficient statistics."""
    method = _method(method)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    terms = parse_random(random)
    frame = positional(data)
    groups, zcols = random_variables(terms, frame)
    check_groups(groups, frame)
    keep = complete_rows(frame, zcols) if zcols else None
    design = fixed_design(fixed, frame, keep=keep)
    levels = random_design(terms, frame, design.rows, fixed=design)
    scales = [column_scales(lev.Z) for lev in levels]
    stats = sufficient_stats(
        design.X,
        design.y,
        [lev.Z if np.all(a == 1.0) else lev.Z / a for lev, a in zip(levels, normalisers(scales))],
        [lev.codes for lev in levels],
        [lev.parent for lev in levels],
    )
    name = data_name if data_name is not None else str(data.attrs.get("name", "data"))
    messages = tuple(design_messages(levels, [lev.ZtZ for lev in stats.levels]))
    return LmeModel(fixed, random, method, data, name, design, terms, levels, stats, scales, messages)


def fit_model(model: LmeModel, theta0: np.ndarray | None = None, hessian0: np.ndarray | None = None) -> LmeFit:
    """Steps 3 and 4: optimise theta (from lme4's start, or warm from ``theta0``), then solve at the optimum.

    ``hessian0``: with ``theta0``, the Hessian of the related problem there (see :func:`~hlmlab.lmm.warm.warm_search`).
    """
    stats, reml = model.stats, model.reml

    one = fun_grad = None
    if len(stats.levels) == 1:  # the fast evaluator, with the exact gradient
        one = OneLevel(stats, reml)
        crit, fun_grad = one.value, one.value_and_gradient
    else:

        def crit(theta: np.ndarray) -> float:
            return deviance(stats, theta, reml)

    start = theta_start(stats.qs) if theta0 is None else np.asarray(theta0, dtype=float)
    tol = singular_tolerances(model.scales)
    opt = None
    if theta0 is not None and one is not None:
        opt = warm_search(one, start, theta_lower(stats.qs), tol, hessian0)
    if opt is None:
        opt = minimize_theta(crit, start, theta_lower(stats.qs), fun_grad, singular_tol=tol, warm=theta0 is not None)
        if not opt.converged and one is not None:  # one more try, on the squared scale, from the best point
            again = warm_search(one, opt.theta, theta_lower(stats.qs), tol)
            if again is not None and again.fun <= opt.fun + 1e-10 * max(1.0, abs(opt.fun)):
                again.nfev += opt.nfev
                again.method = opt.method + " + squared-diagonal search"
                again.notes = opt.notes + [
                    f"the full search failed its check ({opt.messages[0]}); a search with the last template "
                    f"diagonal squared from its answer passed (criterion lowered by {opt.fun - again.fun:.3g})"
                ]
                opt = again
    fit = LmeFit(model, opt, REFITTER)
    if theta0 is None:  # a fresh fit has its estimates at once; a refit (warm start) when asked for
        _ = fit.solution
    return fit


class Refitter:
    """How an :class:`LmeFit` refits itself (handed to it, so that fit.py need not import this module)."""

    @staticmethod
    def formula(fixed: str, data: pd.DataFrame, random: Any, method: str, data_name: str | None) -> LmeFit:
        """The model rebuilt from its formulas (other data, another method or formula)."""
        return lme(fixed, data, random, method, data_name)

    @staticmethod
    def response(fit: LmeFit, y: np.ndarray) -> LmeFit:
        """The same design with a new response (lme4's ``refit(object, newresp)``).

        Only what involves y is recomputed (:func:`~hlmlab.lmm.suffstats.with_response`),
        and the search starts from the fit's optimum: the cheap refit that
        simulation (``simulate_lrt``) needs. Problems are kept in ``messages``
        but not issued as warnings (a simulation would issue hundreds).
        """
        model = fit.model
        y = np.asarray(y, dtype=float)
        Zs = [lev.Z if np.all(a == 1.0) else lev.Z / a for lev, a in zip(model.levels, normalisers(model.scales))]
        stats = with_response(model.stats, model.design.X, y, Zs, [lev.codes for lev in model.levels])
        design = dataclasses.replace(model.design, y=y)
        with single_threaded_blas():
            return fit_model(dataclasses.replace(model, stats=stats, design=design), fit.opt.theta, fit.opt.hessian)

    @staticmethod
    def warm(fit: LmeFit, data: pd.DataFrame) -> LmeFit:
        """The model rebuilt on ``data`` and searched from ``fit``'s optimum (when theta has the same shape)."""
        model = build_model(fit.fixed, data, fit.random, fit.method, fit.data_name)
        same = model.stats.qs == fit.model.stats.qs
        with single_threaded_blas():
            return fit_model(model, fit.opt.theta if same else None, fit.opt.hessian if same else None)


REFITTER = Refitter()


def lme(
    fixed: str,
    data: pd.DataFrame,
    random: str | list[str],
    method: str = "REML",
    data_name: str | None = None,
) -> LmeFit:
    """Fit a linear mixed model, as nlme's ``lme``.

    Parameters
    ----------
    fixed : str
        The fixed part, an R-style formula: ``"mathach ~ ses * Sector"``.
        Treatment contrasts with the first level as reference; ``cvar``,
        ``dvar``, ``C``, ``I`` and numpy functions work inside it.
    data : DataFrame
    random : str or list of str
        ``"~ 1 + ses | school"`` (random intercept and slope, unstructured
        covariance), ``"~ 1 | board/school"`` (nested levels), or a list of
        terms for nested grouping factors.
    method : {"REML", "ML"}
    data_name : str, optional
        The data's name in printed output (default: the caller's variable
        name for the data frame, else ``data.attrs["name"]``, else "data").

    Returns
    -------
    LmeFit

    Notes
    -----
    The criterion is the profiled deviance (ML) or REML criterion of Bates
    et al. (2015), minimised over the relative covariance factor theta with
    its diagonal bounded below by 0, so singular fits are reached and flagged.

    Examples
    --------
    >>> hs = hl.load_data("hs")
    >>> fit = hl.lme("mathach ~ ses * Sector", hs, "~ 1 + ses | school", data_name="hs")
    >>> fit.loglik   # -6419.695
    """
    if data_name is None:
        data_name = caller_name(data) or getattr(data, "attrs", {}).get("name")
    with single_threaded_blas():
        fit = fit_model(build_model(fixed, data, random, method, data_name))
    report(fit)
    return fit


def report(fit: LmeFit) -> None:
    """Issue each problem of a fit as a warning the user's code can catch (they stay in ``fit.messages``)."""
    if fit.n_dropped:
        warn(
            f"{fit.n_dropped} row(s) with missing values in a variable of the model were left out of the fit "
            f"({fit.nobs} used)",
            DroppedRowsWarning,
        )
    for message in fit.messages:
        if message.startswith("random effects"):
            warn(message, IdentifiabilityWarning)
        elif message.startswith("singular fit"):
            warn(message, SingularFitWarning)
        elif "not positive definite" in message:
            warn(message, HessianWarning)
        else:
            warn(message, ConvergenceWarning)
