r"""The variance parameters phi = (theta, sigma) of a fitted mixed model.

Satterthwaite's and Kenward-Roger's degrees of freedom, and nlme-style
intervals, need the likelihood as a function of the variance parameters
rather than only its optimum. :class:`VarPar` packages exactly that, and
the fit hands it to them explicitly (``fit.varpar``):

* ``phi`` = (theta, sigma): theta the relative covariance factor's
  parameters (templates' lower triangles, column by column), sigma the
  residual SD;
* :meth:`VarPar.deviance`, -2 log L(phi) with beta profiled out (REML or ML);
* :meth:`VarPar.vcov_beta`, Cov(beta-hat)(phi) = sigma² (R_X(theta)'R_X(theta))^-1;
* :attr:`VarPar.hessian`, the Hessian H of the deviance at phi-hat, and
  :attr:`VarPar.cov` = 2 H^-1, the asymptotic covariance of phi-hat (NaN when
  H is not positive definite, e.g. at a singular fit);
* the model's structure for Kenward-Roger: ``X``, ``levels`` and the
  templates T(theta) (:meth:`VarPar.templates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from hlmlab import _numdiff
from hlmlab._blas import single_threaded_blas
from hlmlab.lmm.suffstats import SufficientStats
from hlmlab.lmm.pls import deviance_sigma, deviance_sigma_and_gradient, factorize, lambda_template, solve_upper

__all__ = ["VarPar"]


@dataclass(frozen=True, eq=False)
class VarPar:
    """phi-hat = (theta-hat, sigma-hat) with the likelihood around it.

    Attributes
    ----------
    phi : ndarray
        (theta..., sigma) at the estimates.
    names : list of str
        A label for each element of phi.
    reml : bool
        Whether the deviance is the REML criterion.
    stats : SufficientStats
        The per-group cross-products the deviance is computed from.
    X : ndarray (n, p)
        The fixed-effects design (rows used).
    levels : list
        The random-effects levels (Z, codes), outermost first.
    beta : ndarray
        beta-hat; ``beta_names`` its coefficient names.
    """

    phi: np.ndarray
    names: list[str]
    reml: bool
    stats: SufficientStats = field(repr=False)
    X: np.ndarray = field(repr=False)
    levels: list[Any] = field(repr=False)
    beta: np.ndarray = field(repr=False)
    beta_names: list[str] = field(repr=False)
    #: results that methods computing from phi-hat keep for reuse (e.g. the Kenward-Roger model)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def theta(self) -> np.ndarray:
        return self.phi[:-1]

    @property
    def sigma(self) -> float:
        return float(self.phi[-1])

    @property
    def qs(self) -> list[int]:
        """Number of random effects per group at each level."""
        return [lev.Z.shape[1] for lev in self.levels]

    def templates(self, theta: np.ndarray | None = None) -> list[np.ndarray]:
        """The lower-triangular templates T_l(theta), one per level (Var b = sigma² T T')."""
        return lambda_template(np.asarray(self.theta if theta is None else theta, float), self.qs)

    def deviance(self, phi: np.ndarray) -> float:
        """-2 log-likelihood (REML or ML, beta profiled out, not sigma) at phi = (theta, sigma)."""
        phi = np.asarray(phi, dtype=float)
        return deviance_sigma(self.stats, phi[:-1], float(phi[-1]), self.reml)

    def vcov_beta(self, phi: np.ndarray) -> np.ndarray:
        """Cov(beta-hat) as a function of phi: sigma² (R_X(theta)'R_X(theta))^-1."""
        phi = np.asarray(phi, dtype=float)
        f = factorize(self.stats, phi[:-1])
        Ri = solve_upper(f.RX, np.eye(f.p))
        return phi[-1] ** 2 * Ri @ Ri.T

    @cached_property
    def hessian(self) -> np.ndarray:
        """Hessian of :meth:`deviance` at phi-hat.

        One level of random effects: central differences of the exact gradient
        (about 1e-8 relative). Nested levels: second differences of the
        deviance with steps of 1e-3 relative.
        """
        phi = self.phi
        with single_threaded_blas():
            if len(self.levels) > 1:
                return _numdiff.hessian(self.deviance, phi, rel=1e-3)

            def grad(v: np.ndarray) -> np.ndarray:
                return deviance_sigma_and_gradient(self.stats, v[:-1], float(v[-1]), self.reml)[1]

            H = _numdiff.jacobian(grad, phi, rel=1e-5)
        return (H + H.T) / 2

    @cached_property
    def cov(self) -> np.ndarray:
        """Asymptotic covariance of phi-hat: 2 H^-1; NaN when H is not positive definite."""
        H = (self.hessian + self.hessian.T) / 2
        try:
            np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            return np.full(H.shape, np.nan)
        return 2 * np.linalg.inv(H)
