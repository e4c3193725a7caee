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

theta here is the one the criterion was searched in: for the columns
Z_l A_l^-1 of each level (A_l = diag(``scales[l]``), see :func:`normalisers`,
the identity for columns of ordinary scale), so that the levels' Z and the
templates agree. :meth:`VarPar.phi_of` maps covariance matrices G_l and sigma
to phi.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from hlmlab import _numdiff
from hlmlab._blas import single_threaded_blas
from hlmlab.lmm.checkconv import SINGULAR_TOL
from hlmlab.lmm.pls import (
    deviance_sigma,
    deviance_sigma_and_gradient,
    factorize,
    lambda_template,
    solve_upper,
    template_theta,
)
from hlmlab.lmm.suffstats import SufficientStats

__all__ = ["VarPar", "ScaledLevel", "column_scales", "normalisers", "singular_tolerances"]


def column_scales(Z: np.ndarray) -> np.ndarray:
    """The scale of each random-effects column: its root mean square (1 for the intercept).

    A random effect b_k moves y by about b_k s_k, so T_kk s_k (the SD of that
    movement relative to sigma) is the scale-free size of the k-th diagonal
    element of the template: the singular-fit test is made on it.
    """
    s = np.sqrt(np.einsum("ij,ij->j", Z, Z) / len(Z)) if len(Z) else np.ones(Z.shape[1])
    return np.where(np.isfinite(s) & (s > 0), s, 1.0)


#: columns whose scale lies outside [1 / NORMALISE_BEYOND, NORMALISE_BEYOND] are normalised
NORMALISE_BEYOND = 1e3


def normalisers(scales: list[np.ndarray]) -> list[np.ndarray]:
    """The factors a_k the criterion divides Z's columns by: a power of 2 near s_k for extreme scales, else 1.

    A predictor in extreme units (seconds for days, amounts in cents, x 1e9)
    makes theta tiny or huge and the search ill-conditioned; dividing its
    column by a = 2^round(log2 s) (exact in floating point) makes the search
    the same as in ordinary units. Columns of ordinary scale are left alone.
    """
    out = []
    for s in scales:
        extreme = (s > NORMALISE_BEYOND) | (s < 1 / NORMALISE_BEYOND)
        out.append(np.where(extreme, 2.0 ** np.round(np.log2(s)), 1.0))
    return out


def singular_tolerances(scales: list[np.ndarray]) -> np.ndarray:
    """For each element of the theta searched, the distance to its bound below which the fit is singular.

    The search runs on Z A^-1 (:func:`normalisers`), where a column has scale
    s_k / a_k; a diagonal element gets ``SINGULAR_TOL / (s_k / a_k)``, so that the
    test is T_kk s_k < SINGULAR_TOL on the original scale: the same whatever
    the predictor's units (a slope on days or on seconds).
    """
    out = []
    for s, a in zip(scales, normalisers(scales)):
        cols, rows = np.triu_indices(len(s))
        out.append(np.where(rows == cols, SINGULAR_TOL * a[cols] / s[cols], SINGULAR_TOL))
    return np.concatenate(out) if out else np.empty(0)


@dataclass(frozen=True, eq=False)
class ScaledLevel:
    """A level of random effects as the criterion sees it: Z A^-1 (see :func:`normalisers`), codes, parents."""

    Z: np.ndarray
    codes: np.ndarray
    parent: np.ndarray | None
    ngroups: int

    @classmethod
    def of(cls, level: Any, normaliser: np.ndarray) -> ScaledLevel:
        return cls(level.Z / normaliser, level.codes, level.parent, level.ngroups)


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
    levels : list of ScaledLevel
        The random-effects levels (Z A^-1, codes), outermost first.
    scales : list of ndarray
        The normalisers A_l of each level's Z columns.
    beta : ndarray
        beta-hat; ``beta_names`` its coefficient names.
    """

    phi: np.ndarray
    names: list[str]
    reml: bool
    stats: SufficientStats = field(repr=False)
    X: np.ndarray = field(repr=False)
    levels: list[Any] = field(repr=False)
    scales: list[np.ndarray] = field(repr=False)
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

    def phi_of(self, G: list[np.ndarray], sigma: float) -> np.ndarray | None:
        """phi for covariance matrices G_l of the original random effects and sigma (None if a G_l is not PD).

        T~_l = chol(A_l G_l A_l / sigma²), the template of the columns Z_l A_l^-1.
        """
        templates = []
        for Gl, a in zip(G, self.scales):
            try:
                templates.append(np.linalg.cholesky(np.outer(a, a) * Gl / sigma**2))
            except np.linalg.LinAlgError:
                return None
        return np.r_[template_theta(templates), sigma]

    def deviance(self, phi: np.ndarray) -> float:
        """-2 log-likelihood (REML or ML, beta profiled out, not sigma) at phi = (theta, sigma)."""
        phi = np.asarray(phi, dtype=float)
        return deviance_sigma(self.stats, phi[:-1], float(phi[-1]), self.reml)

    def vcov_beta(self, phi: np.ndarray) -> np.ndarray:
        """Cov(beta-hat) as a function of phi: sigma² (R_X(theta)'R_X(theta))^-1."""
        phi = np.asarray(phi, dtype=float)
        f = factorize(self.stats, phi[:-1])
        Ri = solve_upper(self.stats.RX_to_original(f.RX), np.eye(f.p))
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
