"""The solution of the penalised least-squares problem at one theta.

From the factorisation of :mod:`hlmlab.lmm.pls`: beta-hat(theta), sigma-hat,
R_X, the spherical random effects u and the BLUPs b = Lambda u, with the
conditional covariances Var(b | y) (beta taken as known), by back-substitution
from the outermost level inwards. At the optimum this is the fitted model's
estimates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hlmlab.lmm.onelevel import OneLevel
from hlmlab.lmm.pls import (
    PLSFactor,
    batch_backward,
    batch_crossprod,
    batch_forward,
    batch_matmul,
    batch_t,
    criterion,
    factorize,
    mult,
    template_theta,
    tmul,
)
from hlmlab.lmm.suffstats import SufficientStats

__all__ = ["Solution", "solve", "conditional_covariances"]


@dataclass(frozen=True, eq=False)
class Solution:
    """Estimates at one theta.

    Attributes
    ----------
    theta, beta, sigma
    RX : (p, p) upper; Cov(beta-hat) = sigma^2 (R_X'R_X)^-1
    u : list of (m_l, q_l) spherical random effects
    b : list of (m_l, q_l) BLUPs, b_j = Lambda u_j
    b_cov : list of (m_l, q_l, q_l) conditional covariances
        Var(b_j | y) = sigma^2 Lambda [(L L')^-1]_jj Lambda' at beta = beta-hat
        (lme4's ``condVar``; the uncertainty of beta-hat is not added).
    criterion : the profiled criterion at theta
    """

    theta: np.ndarray
    beta: np.ndarray
    sigma: float
    RX: np.ndarray
    u: list[np.ndarray]
    b: list[np.ndarray]
    b_cov: list[np.ndarray]
    criterion: float
    factor: PLSFactor
    lambdas: list[np.ndarray] | None = None

    def unscaled(self, scales: Sequence[np.ndarray]) -> Solution:
        """The solution for the original Z columns, from one computed for Z_l A_l^-1 (A_l = diag(scales[l])).

        b = A^-1 b~, Var(b | y) = A^-1 Var(b~ | y) A^-1 and T = A^-1 T~ (still
        lower triangular), so theta lists the lower triangles of A^-1 T~.
        """
        lams = [T / a[:, None] for T, a in zip(self.factor.lambdas, scales)]
        b = [bl / a[None, :] for bl, a in zip(self.b, scales)]
        b_cov = [c / np.outer(a, a)[None, :, :] for c, a in zip(self.b_cov, scales)]
        return dataclasses.replace(self, theta=template_theta(lams), b=b, b_cov=b_cov, lambdas=lams)


def _ancestor_stack(vals: list[np.ndarray], stats: SufficientStats, l: int) -> np.ndarray:
    """For each group at level l, its ancestors' vectors (parent first) stacked: (Qa, m_l)."""
    parts, idx = [], np.arange(stats.levels[l].m)
    for k in range(l - 1, -1, -1):
        idx = stats.levels[k + 1].parent[idx]
        parts.append(vals[k][:, idx])
    return np.concatenate(parts, axis=0)


def solve(stats: SufficientStats, theta: np.ndarray, reml: bool = True, cond_cov: bool = True) -> Solution:
    """beta, sigma, R_X and the BLUPs at theta (back-substitution, outermost level first).

    u_j = L_j'^-1 (Cw_j [-beta; 1] - Ca_j u_ancestors(j)),  b_j = T u_j.

    With ``cond_cov``, also the BLUPs' conditional covariances
    (:func:`conditional_covariances`).
    """
    if len(stats.levels) == 1:  # the fast evaluator's factor (the same numbers to rounding)
        f = OneLevel(stats, reml).factorization(theta)
    else:
        f = factorize(stats, theta)
    beta = f.beta
    nu = f.n - f.p if reml else f.n
    sigma = float(np.sqrt(f.pwrss / nu))
    bw = np.r_[-beta, 1.0]
    us: list[np.ndarray] = []  # (q, m) per level
    for l in range(len(stats.levels)):
        L, Cw = f.L[l], f.Cw[l]
        rhs = np.tensordot(bw, Cw, axes=(0, 1))[:, None, :]  # (q, 1, m)
        if l > 0:
            ua = _ancestor_stack(us, stats, l)[None, :, :]  # (1, Qa, m)
            rhs = rhs - batch_matmul(f.Ca[l], np.swapaxes(ua, 0, 1))
        us.append(batch_backward(L, rhs)[:, 0, :])
    covs = conditional_covariances(stats, f, sigma) if cond_cov else []
    bs = [(T @ u).T for u, T in zip(us, f.lambdas)]
    RX = stats.RX_to_original(f.RX.copy())
    beta = stats.beta_to_original(beta)
    return Solution(f.theta, beta, sigma, RX, [u.T for u in us], bs, covs, criterion(f, reml), f)


def conditional_covariances(stats: SufficientStats, f: PLSFactor, sigma: float) -> list[np.ndarray]:
    """Var(b_j | y) = sigma^2 T Var(u_j | y) T' at each level, from the factorisation f (beta taken as known).

    With K_j = L_j'^-1 Ca_j and V_a the joint covariance of the ancestors' u,
    Var(u_j | y) = L_j'^-1 L_j^-1 + K_j V_a K_j' and Cov(u_j, u_a | y) = -K_j V_a
    (outermost level first). Returns one (m_l, q_l, q_l) array per level.
    """
    Vs: list[np.ndarray] = []  # joint covariance of [u_l, ancestors], (Q, Q, m)
    covs: list[np.ndarray] = []
    D = len(stats.levels)
    for l, lev in enumerate(stats.levels):
        L = f.L[l]
        eye = np.broadcast_to(np.eye(lev.q)[:, :, None], L.shape)
        Linv = batch_forward(L, np.ascontiguousarray(eye))
        Vuu = batch_crossprod(Linv, Linv)
        V = Vuu
        if l > 0:
            Va = Vs[l - 1][:, :, lev.parent]
            K = batch_backward(L, f.Ca[l])
            KVa = batch_matmul(K, Va)
            Vuu = Vuu + batch_matmul(KVa, batch_t(K))
            V = Vuu
            if l < D - 1:
                top = np.concatenate([Vuu, -KVa], axis=1)
                bottom = np.concatenate([-batch_t(KVa), Va], axis=1)
                V = np.concatenate([top, bottom], axis=0)
        Vs.append(V)
        T = f.lambdas[l]
        covs.append(sigma**2 * np.moveaxis(mult(tmul(T.T, Vuu), T.T), 2, 0))
    return covs
