"""``LmeFit``: a fitted linear mixed model and what can be asked of it.

Properties carry the names statisticians use: ``fixef`` (beta-hat),
``vcov`` (sigma^2 (R_X'R_X)^-1), ``se``, ``df`` (nlme's between/within rule),
``sigma``, ``G`` (Var b = sigma^2 T T'), ``theta``, ``loglik``, ``aic``,
``bic``, ``nobs``, ``ngroups``. Methods: ``ranef``, ``coef``, ``fitted``,
``residuals``, ``predict``, ``intervals``, ``varcorr``, ``summary``,
``refit``, ``simulate``, ``contrast_df``, and the hooks Satterthwaite's DF
need (``vcov_beta_at``, ``vcov_varpar``).

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

from hlmlab.ddf import nlme as ddf_module
from hlmlab._blas import single_threaded_blas
from hlmlab.lmm.deviance import Solution, deviance_sigma, deviance_sigma_and_gradient, factorize, solve_upper
from hlmlab.lmm.optimize import OptResult, fd_hessian
from hlmlab.lmm.intervals import lme_intervals
from hlmlab.lmm.summary import Intervals, format_lme_summary, html_lme_summary

if TYPE_CHECKING:  # pragma: no cover
    from hlmlab.lmm.lme import LmeModel

__all__ = ["LmeFit"]


class LmeFit:
    """A linear mixed model fitted by REML or ML.

    Attributes
    ----------
    model : LmeModel
        Formulas, data, designs and sufficient statistics.
    opt : OptResult
        The optimum of theta and the convergence checks.
    solution : Solution
        beta, sigma, R_X and BLUPs at the optimum.
    """

    def __init__(self, model: LmeModel, opt: OptResult, solution: Solution):
        self.model = model
        self.opt = opt
        self.solution = solution

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
    def nobs(self) -> int:
        return self.design.n

    @property
    def n_dropped(self) -> int:
        """Rows dropped because a variable of the model is missing there."""
        return self.design.n_dropped

    @property
    def ngroups(self) -> int | dict[str, int]:
        """Number of groups (a dict by level for nested models)."""
        if len(self.levels) == 1:
            return self.levels[0].ngroups
        return {lev.name: lev.ngroups for lev in self.levels}

    @property
    def groups(self) -> pd.Series | pd.DataFrame:
        """The group of each row used (a column per level for nested models)."""
        idx = self._row_index
        cols = {lev.name: np.asarray(lev.labels)[lev.codes] for lev in self.levels}
        if len(cols) == 1:
            (name, v), = cols.items()
            return pd.Series(v, index=idx, name=name)
        return pd.DataFrame(cols, index=idx)

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
        """Convergence and singularity messages (empty when all is well)."""
        return list(self.opt.messages)

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
        p = self.design.p
        return solve_upper(self.solution.RX, np.eye(p))

    @property
    def vcov(self) -> pd.DataFrame:
        """Cov(beta-hat) = sigma^2 (R_X'R_X)^-1 = (X'V^-1X)^-1 at the estimates."""
        V = self.sigma**2 * self._RXinv @ self._RXinv.T
        return pd.DataFrame(V, index=self.design.names, columns=self.design.names)

    @property
    def se(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.design.names, name="se")

    @cached_property
    def _ddf(self) -> dict[str, Any]:
        return ddf_module.nlme_df(self.design.X, self.design.names, [lev.codes for lev in self.levels])

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
        """Residual standard deviation (REML: r^2 / (n - p); ML: r^2 / n, squared root)."""
        return self.solution.sigma

    def _G(self, l: int) -> pd.DataFrame:
        T = self.solution.factor.lambdas[l]
        names = self.levels[l].znames
        return pd.DataFrame(self.sigma**2 * T @ T.T, index=names, columns=names)

    @property
    def G(self) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """Covariance of the random effects, sigma^2 T T' (a dict by level, outermost first, when nested)."""
        if len(self.levels) == 1:
            return self._G(0)
        return {lev.name: self._G(l) for l, lev in enumerate(self.levels)}

    # ------------------------------------------------------------ likelihood
    @property
    def criterion(self) -> float:
        """-2 log-likelihood at the optimum: lme4's REML criterion (REML) or deviance (ML)."""
        return self.solution.criterion

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
            names = [lev.name for lev in self.levels]
            if level not in names:
                raise KeyError(f"no level {level!r}; the levels are {names}")
            return names.index(level)
        if not 0 <= int(level) < D:
            raise ValueError(f"level must be between 0 and {D - 1} (outermost first)")
        return int(level)

    def _ranef_frame(self, l: int) -> pd.DataFrame:
        lev = self.levels[l]
        out = pd.DataFrame(self.solution.b[l], index=lev.labels, columns=lev.znames)
        out.attrs["condVar"] = self.solution.b_cov[l]
        return out

    def ranef(self, level: int | str | None = None) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """The BLUPs b_j, one row per group.

        ``attrs["condVar"]`` holds their conditional covariances
        Var(b_j | y) = sigma^2 T [(L L')^-1]_jj T' (m x q x q, beta taken as
        known, as lme4's ``condVar``); :meth:`ranef_se` gives the square roots
        of the diagonals. For a nested model, ``level=None`` gives a dict of
        all levels; pass a level's name or index (0 = outermost) for one.
        """
        if len(self.levels) == 1 or level is not None:
            return self._ranef_frame(self._level_index(level))
        return {lev.name: self._ranef_frame(l) for l, lev in enumerate(self.levels)}

    def ranef_se(self, level: int | str | None = None) -> pd.DataFrame:
        """Conditional standard deviations of the BLUPs (square roots of condVar's diagonals)."""
        l = self._level_index(level)
        lev = self.levels[l]
        v = np.sqrt(np.diagonal(self.solution.b_cov[l], axis1=1, axis2=2))
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
    def _fitted_array(self, level: int) -> np.ndarray:
        D = len(self.levels)
        if not 0 <= level <= D:
            raise ValueError(f"level must be between 0 (population) and {D} (innermost groups)")
        f = self.design.X @ self.solution.beta
        for k in range(level):
            lev = self.levels[k]
            f = f + np.einsum("nq,nq->n", lev.Z, self.solution.b[k][lev.codes])
        return f

    def fitted(self, level: int | None = None) -> pd.Series:
        """Fitted values: level 0 is X beta-hat; level k adds Z b-hat of the k outermost levels.

        Default: the innermost level (1 for one grouping factor), as nlme.
        One value per row used, indexed like ``data``.
        """
        level = len(self.levels) if level is None else int(level)
        return pd.Series(self._fitted_array(level), index=self._row_index, name=f"fitted{level}")

    def residuals(self, level: int | None = None, type: str = "raw") -> pd.Series:  # noqa: A002
        """Residuals y - fitted(level); ``type="pearson"`` divides by sigma (nlme's standardised residuals)."""
        level = len(self.levels) if level is None else int(level)
        r = self.design.y - self._fitted_array(level)
        if type == "pearson":
            r = r / self.sigma
        elif type != "raw":
            raise ValueError(f"type must be 'raw' or 'pearson', got {type!r}")
        return pd.Series(r, index=self._row_index, name=f"resid{level}")

    # -------------------------------------------------------------- predict
    def _labels_of(self, lev, newdata: pd.DataFrame) -> np.ndarray:
        """Position of each new row's group among the fitted groups (-1 for a new group)."""
        def label(factor: str) -> pd.Series:
            parts = factor.split(":")
            if len(parts) == 1:
                return newdata[parts[0]]
            return newdata[parts].astype(str).agg(":".join, axis=1)

        if len(lev.factors) == 1:
            keys = label(lev.factors[0])
        else:
            keys = pd.concat([label(f).astype(str) for f in lev.factors], axis=1).agg("/".join, axis=1)
        return lev.labels.get_indexer(pd.Index(keys))

    def predict(self, newdata: pd.DataFrame | None = None, level: int = 0, se: bool = False):
        """Predictions for new data.

        Level 0: x'beta-hat, with ``se=True`` its standard error sqrt(x' Cov(beta-hat) x).
        Level k >= 1: adds z'b-hat for the group of each row at the k outermost
        levels; a group the fit has not seen gives NaN (as nlme).

        Returns a Series, or with ``se=True`` (level 0 only) a DataFrame with
        columns ``fit`` and ``se``.
        """
        if newdata is None:
            out = self.fitted(level)
            if se:
                raise ValueError("se is available for predictions from newdata at level 0")
            return out
        new = newdata.reset_index(drop=True)
        X0 = self.design.model_matrix(new)
        fit = X0 @ self.solution.beta
        D = len(self.levels)
        if not 0 <= level <= D:
            raise ValueError(f"level must be between 0 and {D}")
        for k in range(level):
            lev = self.levels[k]
            pos = self._labels_of(lev, new)
            Z0 = lev.z_matrix(new)
            b = np.where((pos >= 0)[:, None], self.solution.b[k][np.maximum(pos, 0)], np.nan)
            fit = fit + np.einsum("nq,nq->n", Z0, b)
        if not se:
            return pd.Series(fit, index=newdata.index, name="fit")
        if level != 0:
            raise ValueError("standard errors are given for level-0 (population) predictions only")
        V = self.vcov.to_numpy()
        s = np.sqrt(np.einsum("ij,jk,ik->i", X0, V, X0))
        return pd.DataFrame({"fit": fit, "se": s}, index=newdata.index)

    # ---------------------------------------------------------------- DF
    def contrast_df(self, L: Any, ddf: str | None = None) -> tuple[np.ndarray, float]:
        """Denominator DF for each row of L (k x p) and for the joint F test.

        ``ddf=None`` or ``"nlme"``: each row takes the smallest between/within
        DF of the coefficients it involves; the joint test the smallest of all
        involved. Other methods are dispatched by :func:`hlmlab.ddf.contrast_df`.
        Returns ``(row_df, joint_df)``.
        """
        return ddf_module.contrast_df(self, L, ddf)

    # ------------------------------------------------- Satterthwaite hooks
    @property
    def varpar(self) -> np.ndarray:
        """The variance parameters phi = (theta, sigma) (lmerTest's ``varpar``)."""
        return np.r_[self.theta, self.sigma]

    def vcov_beta_at(self, varpar: np.ndarray) -> np.ndarray:
        """Cov(beta-hat) as a function of phi = (theta, sigma): sigma^2 (R_X(theta)'R_X(theta))^-1."""
        varpar = np.asarray(varpar, dtype=float)
        f = factorize(self.model.stats, varpar[:-1])
        Ri = solve_upper(f.RX, np.eye(f.p))
        return varpar[-1] ** 2 * Ri @ Ri.T

    def deviance_at(self, varpar: np.ndarray) -> float:
        """-2 log-likelihood (REML or ML, beta profiled) at phi = (theta, sigma)."""
        varpar = np.asarray(varpar, dtype=float)
        return deviance_sigma(self.model.stats, varpar[:-1], float(varpar[-1]), self.model.reml)

    @cached_property
    def varpar_hessian(self) -> np.ndarray:
        """Hessian of :meth:`deviance_at` in phi = (theta, sigma) at the estimates.

        Central differences of the exact gradient for one level of random
        effects (accurate to about 1e-8 relative); second differences of
        the criterion with steps of 1e-3 relative for nested models.
        """
        phi = self.varpar
        if len(self.levels) > 1:
            with single_threaded_blas():
                return fd_hessian(self.deviance_at, phi, rel=1e-3)
        stats, reml = self.model.stats, self.model.reml

        def grad(v: np.ndarray) -> np.ndarray:
            return deviance_sigma_and_gradient(stats, v[:-1], float(v[-1]), reml)[1]

        h = 1e-5 * np.maximum(np.abs(phi), 0.1)
        H = np.empty((len(phi), len(phi)))
        with single_threaded_blas():
            for k in range(len(phi)):
                e = np.zeros_like(phi)
                e[k] = h[k]
                H[:, k] = (grad(phi + e) - grad(phi - e)) / (2 * h[k])
        return (H + H.T) / 2

    @cached_property
    def vcov_varpar(self) -> np.ndarray:
        """Asymptotic covariance of phi-hat = (theta-hat, sigma-hat): 2 H^-1, H = :attr:`varpar_hessian`.

        NaN when H is not positive definite (e.g. a singular fit).
        """
        H = self.varpar_hessian
        try:
            np.linalg.cholesky((H + H.T) / 2)
        except np.linalg.LinAlgError:
            return np.full(H.shape, np.nan)
        return 2 * np.linalg.inv((H + H.T) / 2)

    # -------------------------------------------------------- intervals
    def intervals(self, level: float = 0.95) -> Intervals:
        """Confidence intervals as nlme's ``intervals``: see :func:`hlmlab.lme_intervals.lme_intervals`."""
        return lme_intervals(self, level)

    # ---------------------------------------------------------- VarCorr
    def varcorr(self) -> pd.DataFrame:
        """Variance components: variance, SD and correlations per level, then the residual (nlme's VarCorr).

        Index: (level, term); columns ``Variance``, ``StdDev`` and ``Corr``
        with the correlations of each term with the terms above it in the
        same level (the lower triangle, as a tuple), empty for the first term.
        """
        rows = []
        for l, lev in enumerate(self.levels):
            G = self._G(l).to_numpy()
            sd = np.sqrt(np.diag(G))
            with np.errstate(invalid="ignore", divide="ignore"):
                R = G / np.outer(sd, sd)
            for i, name in enumerate(lev.znames):
                rows.append((lev.name, name, G[i, i], sd[i], tuple(R[i, :i])))
        rows.append(("Residual", "", self.sigma**2, self.sigma, ()))
        out = pd.DataFrame(rows, columns=["level", "term", "Variance", "StdDev", "Corr"])
        return out.set_index(["level", "term"])

    # ---------------------------------------------------------- printing
    def summary(self) -> "LmeSummary":
        """nlme-style summary (text when printed, tables in a notebook)."""
        return LmeSummary(self)

    def __repr__(self) -> str:
        return format_lme_summary(self, brief=True)

    def _repr_html_(self) -> str:
        return html_lme_summary(self)

    # ----------------------------------------------------------- refit, simulate
    def refit(self, data: pd.DataFrame | None = None, **changes: Any) -> LmeFit:
        """The same model on other data, or with ``fixed``, ``random``, ``method`` or ``data_name`` changed."""
        from hlmlab.lmm.lme import lme

        allowed = {"fixed", "random", "method", "data_name"}
        bad = set(changes) - allowed
        if bad:
            raise TypeError(f"refit does not take {sorted(bad)}; it takes data and {sorted(allowed)}")
        args = {"fixed": self.fixed, "random": self.random, "method": self.method, "data_name": self.data_name}
        args.update(changes)
        data = self.data if data is None else data
        return lme(args["fixed"], data, args["random"], args["method"], args["data_name"])

    def simulate(self, nsim: int = 1, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Responses simulated from the fitted model: an n x nsim array (rows used by the fit).

        y* = X beta-hat + sum_levels Z b*, b*_j = sigma T u_j, u_j ~ N(0, I_q),
        plus sigma epsilon, epsilon ~ N(0, I_n) (valid at singular G too).
        """
        rng = np.random.default_rng(seed)
        n, s = self.nobs, self.sigma
        Y = np.repeat((self.design.X @ self.solution.beta)[:, None], nsim, axis=1)
        for l, lev in enumerate(self.levels):
            T = self.solution.factor.lambdas[l]
            u = rng.standard_normal((lev.ngroups, lev.q, nsim))
            b = s * np.einsum("ik,mkr->mir", T, u)
            Y += np.einsum("nq,nqr->nr", lev.Z, b[lev.codes])
        Y += s * rng.standard_normal((n, nsim))
        return Y


class LmeSummary:
    """The printed summary of an :class:`LmeFit` (nlme's layout)."""

    def __init__(self, fit: LmeFit):
        self.fit = fit

    def __repr__(self) -> str:
        return format_lme_summary(self.fit)

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_html_(self) -> str:
        return html_lme_summary(self.fit, full=True)
