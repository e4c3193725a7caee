"""``LmeFit``: a fitted linear mixed model and what can be asked of it.

It honours the fitted-model contract (:class:`hlmlab.contract.FittedModel`).
Properties carry the names statisticians use: ``fixef`` (beta-hat), ``vcov``
(sigma² (R_X'R_X)^-1), ``se``, ``df`` (nlme's between/within rule), ``sigma``,
``G`` (Var b = sigma² T T'), ``theta``, ``loglik``, ``aic``, ``bic``,
``nobs``, ``ngroups``. Methods: ``ranef``, ``coef``, ``fitted``,
``residuals``, ``predict``, ``intervals``, ``varcorr``, ``summary``,
``refit``, ``simulate``, ``contrast_df``; ``varpar`` hands the variance
parameters and the likelihood around them to the DF methods.

Per-level results have one shape whatever the nesting: ``G``, ``ranef()`` and
``coef()`` give one DataFrame for one level (by default the innermost; pass
``level`` by name or index, 0 = outermost), and ``ngroups``, ``G_by_level``
and ``groups`` cover every level, keyed or columned by level name.

Rows: ``fitted`` and ``residuals`` have one value per row used by the fit,
indexed by the data's own index (rows with missing values are not there;
``design.rows`` marks the rows used, ``n_dropped`` counts the others).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as st

from hlmlab import ddf as ddf_methods
from hlmlab.contract import ContrastDF, check_count
from hlmlab.ddf.nlme import nlme_df
from hlmlab.lmm import predict as predict_module
from hlmlab.lmm.intervals import Intervals, lme_intervals
from hlmlab.lmm.optimize import OptResult
from hlmlab.lmm.pls import solve_upper
from hlmlab.lmm.solution import Solution, conditional_covariances, solve
from hlmlab.lmm.summary import LmeSummary, format_lme_summary, html_lme_summary
from hlmlab.lmm.varcorr import VarCorr
from hlmlab.lmm.varpar import ScaledLevel, VarPar, normalisers

if TYPE_CHECKING:  # pragma: no cover
    from hlmlab.lmm.model import LmeModel

__all__ = ["LmeFit"]

RESIDUAL_TYPES = {"response": "response", "raw": "response", "pearson": "pearson"}


class LmeFit:
    """A linear mixed model fitted by REML or ML.

    Attributes
    ----------
    model : LmeModel
        Formulas, data, designs and sufficient statistics.
    opt : OptResult
        The optimum of theta and the convergence checks.
    solution : Solution
        beta, sigma, R_X and BLUPs at the optimum, computed when first asked
        for (at once for a fresh fit; a refit in a simulation needs only the
        criterion). The BLUPs' conditional covariances (``ranef().attrs["condVar"]``,
        :meth:`ranef_se`) are computed when first asked for.
    """

    def __init__(self, model: LmeModel, opt: OptResult, refitter: Any):
        self.model = model
        self.opt = opt
        self._refitter = refitter

    @cached_property
    def solution(self) -> Solution:
        """The estimates at the optimum theta (:func:`hlmlab.lmm.solution.solve`), without the BLUPs' covariances."""
        model = self.model
        return solve(model.stats, self.opt.theta, model.reml, cond_cov=False).unscaled(normalisers(model.scales))

    @cached_property
    def _b_cov(self) -> list[np.ndarray]:
        """Var(b_j | y) at each level, computed when first asked for (as lme4's ``condVar``).

        From the solution's factorisation, which is for the Z columns divided
        by their scales a: Var(b | y) = A^-1 Var(b~ | y) A^-1.
        """
        sol = self.solution
        scaled = conditional_covariances(self.model.stats, sol.factor, sol.sigma)
        return [c / np.outer(a, a)[None, :, :] for c, a in zip(scaled, normalisers(self.model.scales))]

    # ----------------------------------------------------------------- basics
    @property
    def fixed(self) -> str:
        return self.model.fixed

    @property
    def random(self) -> Any:
        return self.model.random

    @property
    def method(self) -> str:
        return self.model.method

    @property
    def data(self) -> pd.DataFrame:
        """The data frame as given (all rows; ``design.rows`` marks those used)."""
        return self.model.data

    @property
    def data_name(self) -> str:
        return self.model.data_name

    @property
    def design(self):
        """The fixed design: ``names``, ``X``, ``y``, ``rows``, ``model_matrix(newdata)``."""
        return self.model.design

    @property
    def levels(self):
        """The random-effects levels (Z, codes, labels), outermost first."""
        return self.model.levels

    @property
    def level_names(self) -> list[str]:
        return [lev.name for lev in self.levels]

    @property
    def nobs(self) -> int:
        return self.design.n

    @property
    def n_dropped(self) -> int:
        """Rows dropped because a variable of the model is missing there."""
        return self.design.n_dropped

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of groups at each level, outermost first (nlme's "Number of Groups")."""
        return {lev.name: lev.ngroups for lev in self.levels}

    @property
    def groups(self) -> pd.DataFrame:
        """The group of each row used: one column per level, outermost first."""
        cols = {lev.name: np.asarray(lev.labels)[lev.codes] for lev in self.levels}
        return pd.DataFrame(cols, index=self._row_index)

    @property
    def _row_index(self) -> pd.Index:
        return self.data.index[self.design.rows]

    @property
    def converged(self) -> bool:
        return self.opt.converged

    @property
    def singular(self) -> bool:
        return self.opt.singular

    @property
    def messages(self) -> list[str]:
        """What the design cannot identify, then convergence and singularity messages (empty when all is well)."""
        return list(self.model.messages) + list(self.opt.messages)

    @property
    def notes(self) -> list[str]:
        """What the optimizer did on the way (restarts, polishing)."""
        return list(self.opt.notes)

    # ------------------------------------------------------------- estimates
    @property
    def theta(self) -> np.ndarray:
        """The relative covariance factor's parameters (templates' lower triangles, column by column)."""
        return self.solution.theta.copy()

    @property
    def fixef(self) -> pd.Series:
        """beta-hat."""
        return pd.Series(self.solution.beta, index=self.design.names, name="fixef")

    @cached_property
    def _RXinv(self) -> np.ndarray:
        return solve_upper(self.solution.RX, np.eye(self.design.p))

    @property
    def vcov(self) -> pd.DataFrame:
        """Cov(beta-hat) = sigma² (R_X'R_X)^-1 = (X'V^-1X)^-1 at the estimates."""
        V = self.sigma**2 * self._RXinv @ self._RXinv.T
        return pd.DataFrame(V, index=self.design.names, columns=self.design.names)

    @property
    def se(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.design.names, name="se")

    @cached_property
    def _ddf(self) -> dict[str, Any]:
        return nlme_df(self.design.X, self.design.names, [lev.codes for lev in self.levels])

    @property
    def df(self) -> pd.Series:
        """Denominator DF of each coefficient by nlme's between/within rule."""
        return pd.Series(self._ddf["df"], index=self.design.names, name="DF")

    @property
    def tvalue(self) -> pd.Series:
        return (self.fixef / self.se).rename("t-value")

    @property
    def pvalue(self) -> pd.Series:
        return pd.Series(2 * st.t.sf(np.abs(self.tvalue), self.df), index=self.design.names, name="p-value")

    @property
    def sigma(self) -> float:
        """Residual standard deviation (REML: r² / (n - p); ML: r² / n, square-rooted)."""
        return self.solution.sigma

    def varcorr(self) -> VarCorr:
        """Variance components by level and the residual SD (nlme's ``VarCorr``)."""
        return VarCorr(
            levels=tuple(self.level_names),
            terms=tuple(tuple(lev.znames) for lev in self.levels),
            G=tuple(self.sigma**2 * T @ T.T for T in self.solution.lambdas),
            sigma=self.sigma,
        )

    @property
    def G_by_level(self) -> dict[str, pd.DataFrame]:
        """Covariance of the random effects, sigma² T T', at every level (outermost first)."""
        vc = self.varcorr()
        return {name: vc.cov(l) for l, name in enumerate(vc.levels)}

    @property
    def G(self) -> pd.DataFrame:
        """Covariance of the innermost level's random effects, sigma² T T' (``G_by_level`` for all levels)."""
        return self.varcorr().cov()

    # ------------------------------------------------------------ likelihood
    @property
    def criterion(self) -> float:
        """-2 log-likelihood at the optimum: lme4's REML criterion (REML) or deviance (ML)."""
        return self.opt.fun if np.isfinite(self.opt.fun) and self.opt.fun < 1e300 else self.solution.criterion

    @property
    def loglik(self) -> float:
        """The maximised log-likelihood (REML: the restricted one, as nlme reports it)."""
        return -0.5 * self.criterion

    @property
    def npar(self) -> int:
        """Parameters counted in AIC and BIC: p fixed effects + variance parameters + sigma (nlme)."""
        return self.design.p + len(self.theta) + 1

    @property
    def aic(self) -> float:
        """-2 logLik + 2 npar."""
        return -2 * self.loglik + 2 * self.npar

    @property
    def bic(self) -> float:
        """-2 logLik + npar log(N*), nlme's convention: N* = N - p under REML, N under ML.

        (lme4 uses N in both cases, so its REML BIC differs from nlme's and ours.)
        """
        nstar = self.nobs - self.design.p if self.method == "REML" else self.nobs
        return -2 * self.loglik + self.npar * np.log(nstar)

    # ----------------------------------------------------------- random effects
    def _level_index(self, level: int | str | None) -> int:
        D = len(self.levels)
        if level is None:
            return D - 1
        if isinstance(level, str):
            if level not in self.level_names:
                raise KeyError(f"no level {level!r}; the levels are {self.level_names}")
            return self.level_names.index(level)
        if not 0 <= int(level) < D:
            raise ValueError(f"level must be between 0 and {D - 1} (outermost first), got {level}")
        return int(level)

    def ranef(self, level: int | str | None = None) -> pd.DataFrame:
        """The BLUPs b_j of one level (default the innermost), one row per group.

        ``attrs["condVar"]`` holds their conditional covariances
        Var(b_j | y) = sigma² T [(L L')^-1]_jj T' (m x q x q, beta taken as
        known, as lme4's ``condVar``); :meth:`ranef_se` gives the square roots
        of the diagonals.
        """
        l = self._level_index(level)
        lev = self.levels[l]
        out = pd.DataFrame(self.solution.b[l], index=lev.labels, columns=lev.znames)
        out.attrs["condVar"] = self._b_cov[l]
        return out

    def ranef_se(self, level: int | str | None = None) -> pd.DataFrame:
        """Conditional standard deviations of the BLUPs (square roots of condVar's diagonals)."""
        l = self._level_index(level)
        lev = self.levels[l]
        v = np.sqrt(np.diagonal(self._b_cov[l], axis1=1, axis2=2))
        return pd.DataFrame(v, index=lev.labels, columns=lev.znames)

    def _ancestors_b(self, l: int) -> list[tuple[int, np.ndarray]]:
        """For each level k <= l, the BLUPs of the level-k ancestor of each group at level l."""
        idx = np.arange(self.levels[l].ngroups)
        out = [(l, self.solution.b[l])]
        for k in range(l - 1, -1, -1):
            idx = self.levels[k + 1].parent[idx]
            out.append((k, self.solution.b[k][idx]))
        return out

    def coef(self, level: int | str | None = None) -> pd.DataFrame:
        """Group-specific coefficients: fixef plus the BLUPs of the group and of its ancestors (nlme's ``coef``)."""
        l = self._level_index(level)
        lev = self.levels[l]
        beta = self.fixef
        out = pd.DataFrame(np.tile(beta.to_numpy(), (lev.ngroups, 1)), index=lev.labels, columns=beta.index)
        for k, b in self._ancestors_b(l):
            for j, name in enumerate(self.levels[k].znames):
                if name not in out.columns:
                    out[name] = 0.0
                out[name] = out[name].to_numpy() + b[:, j]
        return out

    # ------------------------------------------------------- fitted, residuals
    def fitted(self, level: int | None = None) -> pd.Series:
        """Fitted values: level 0 is X beta-hat; level k adds Z b-hat of the k outermost levels.

        Default: the innermost level (1 for one grouping factor), as nlme.
        One value per row used, indexed like ``data``.
        """
        level = len(self.levels) if level is None else int(level)
        return pd.Series(predict_module.fitted_array(self, level), index=self._row_index, name=f"fitted{level}")

    def residuals(self, level: int | None = None, type: str = "response") -> pd.Series:  # noqa: A002 - R's name
        """Residuals y - fitted(level); ``type="pearson"`` divides them by sigma (nlme's standardised residuals).

        ``"raw"`` is accepted as another name for ``"response"``.
        """
        if type not in RESIDUAL_TYPES:
            raise ValueError(f"type must be 'response' or 'pearson', got {type!r}")
        level = len(self.levels) if level is None else int(level)
        r = self.design.y - predict_module.fitted_array(self, level)
        if RESIDUAL_TYPES[type] == "pearson":
            r = r / self.sigma
        return pd.Series(r, index=self._row_index, name=f"resid{level}")

    def predict(self, newdata: pd.DataFrame | None = None, level: int = 0, se: bool = False):
        """Predictions at a grouping level: see :func:`hlmlab.lmm.predict.predict`.

        Without ``newdata``, the fitted values at ``level``. Returns a Series,
        or with ``se=True`` (level 0 only) a DataFrame with columns ``fit`` and ``se``.
        """
        if newdata is None:
            if se:
                raise ValueError("se is available for predictions from newdata at level 0")
            return self.fitted(level)
        return predict_module.predict(self, newdata, level, se)

    # ---------------------------------------------------------------- DF
    @cached_property
    def varpar(self) -> VarPar:
        """The variance parameters phi = (theta, sigma) and the likelihood around them (for the DF methods)."""
        names = [f"theta[{k}]" for k in range(len(self.theta))] + ["sigma"]
        norm = normalisers(self.model.scales)
        return VarPar(
            phi=np.r_[self.opt.theta, self.sigma],
            names=names,
            reml=self.model.reml,
            stats=self.model.stats,
            X=self.design.X,
            levels=[ScaledLevel.of(lev, a) for lev, a in zip(self.levels, norm)],
            scales=norm,
            beta=self.solution.beta.copy(),
            beta_names=list(self.design.names),
        )

    def contrast_df(self, L: Any, ddf: str | None = None) -> ContrastDF:
        """Denominator DF for each row of L (k x p) and for the joint F test of L beta = 0.

        ``ddf=None`` or ``"nlme"``: each row takes the smallest between/within
        DF of the coefficients it involves; ``"satterthwaite"`` and
        ``"kenward-roger"`` (``"kr"``) are computed from :attr:`varpar`.
        See :func:`hlmlab.ddf.contrast_df`.
        """
        return ddf_methods.contrast_df(L, ddf, coef_df=self.df.to_numpy(), varpar=self.varpar)

    # -------------------------------------------------------- intervals
    def intervals(self, conf_level: float = 0.95) -> Intervals:
        """Confidence intervals as nlme's ``intervals``: see :func:`hlmlab.lmm.intervals.lme_intervals`."""
        return lme_intervals(self, conf_level)

    # ---------------------------------------------------------- printing
    def summary(self) -> LmeSummary:
        """nlme-style summary (text when printed, tables in a notebook)."""
        return LmeSummary(self)

    def __repr__(self) -> str:
        return format_lme_summary(self, brief=True)

    def _repr_html_(self) -> str:
        return html_lme_summary(self)

    # ----------------------------------------------------------- refit, simulate
    def refit(self, data: pd.DataFrame | None = None, newresp: Any = None, **changes: Any) -> LmeFit:
        """The same model on other data, or with ``fixed``, ``random``, ``method`` or ``data_name`` changed.

        ``newresp``: a new response for the rows of this fit (one value per
        row used, as from :meth:`simulate`), refitted on the same design
        without evaluating any formula, from this fit's optimum (lme4's
        ``refit``). Problems of such a refit are in its ``messages`` only.
        """
        if newresp is not None:
            if data is not None or changes:
                raise TypeError("refit takes either newresp or data and formula changes, not both")
            return self._refitter.response(self, newresp)
        allowed = {"fixed", "random", "method", "data_name"}
        bad = set(changes) - allowed
        if bad:
            raise TypeError(f"refit does not take {sorted(bad)}; it takes data, newresp and {sorted(allowed)}")
        args = {"fixed": self.fixed, "random": self.random, "method": self.method, "data_name": self.data_name}
        args.update(changes)
        data = self.data if data is None else data
        return self._refitter.formula(args["fixed"], data, args["random"], args["method"], args["data_name"])

    def refit_warm(self, data: pd.DataFrame) -> LmeFit:
        """The same model on other data (a subset, as in case deletion), searched from this fit's optimum.

        The formulas are evaluated afresh on ``data``; only the search's start
        differs from :meth:`refit`, so the answer is the same up to the
        optimizer's tolerance. Problems are in ``messages`` only.
        """
        return self._refitter.warm(self, data)

    def simulate(self, nsim: int = 1, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Responses simulated from the fitted model: an n x nsim array (rows used by the fit).

        y* = X beta-hat + sum_levels Z b*, b*_j = sigma T u_j, u_j ~ N(0, I_q),
        plus sigma epsilon, epsilon ~ N(0, I_n) (valid at singular G too).
        """
        nsim = check_count(nsim, "nsim")
        rng = np.random.default_rng(seed)
        n, s = self.nobs, self.sigma
        Y = np.repeat((self.design.X @ self.solution.beta)[:, None], nsim, axis=1)
        for l, lev in enumerate(self.levels):
            T = self.solution.lambdas[l]
            u = rng.standard_normal((lev.ngroups, lev.q, nsim))
            b = s * np.einsum("ik,mkr->mir", T, u)
            Y += np.einsum("nq,nqr->nr", lev.Z, b[lev.codes])
        Y += s * rng.standard_normal((n, nsim))
        return Y
