r"""The profiled criterion and its exact gradient for one level of random effects, prepared once.

The general elimination (:func:`hlmlab.lmm.pls.factorize`) handles any number
of nested levels. With a single grouping factor, the case of almost every
model in the course and of every refit in a simulation, the same arithmetic
fits in a few dozen vector operations over the m groups, with nothing built
per call but the q x q template T. :class:`OneLevel` holds the per-group
statistics laid out for that:

- K_j = T'Z_j'[Z_j  X_j  y_j]                       (one matrix product for all groups)
- L_j L_j' = T'Z_j'Z_j T + I                       (closed-form q x q Cholesky, elementwise over groups)
- [G_j  Cw_j] = L_j^-1 K_j                          (forward substitution, elementwise)
- F = [X y]'[X y] - sum_j Cw_j'Cw_j = R_F'R_F        ((p+1) x (p+1) Cholesky)

and the criterion and gradient follow as in :func:`hlmlab.lmm.pls.criterion`
and :func:`hlmlab.lmm.pls.deviance_and_gradient` (same formulas, same
numbers to rounding; ``tests/test_onelevel.py`` checks both against the
general code). An evaluation costs O(m q^2 (q + p)) with a small constant:
about 50 microseconds for the course's hs model (m = 160, q = 2, p = 4).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from hlmlab.lmm.pls import LOG_2PI, PLSFactor, _tril_colmajor, _upper_cholesky
from hlmlab.lmm.suffstats import SufficientStats

__all__ = ["OneLevel"]

_dtrtri = scipy.linalg.lapack.dtrtri
_dpotrf = scipy.linalg.lapack.dpotrf


def _group_cholesky(K: np.ndarray, T: np.ndarray) -> list[list[np.ndarray | None]]:
    """L_j with L_j L_j' = T'Z_j'Z_j T + I for every group: L[i][k] (i >= k) is a vector over the groups.

    K = T'Z'[Z X y] per group (q, q + p + 1, m), so (T'Z'Z T)_ik = sum_d K_id T_dk,
    T lower triangular. q = 1 and q = 2 are written out (the loops cost more
    there): with T = [[t00, 0], [t10, t11]], (T'Z'Z T)_00 = K_00 t00 + K_01 t10,
    (T'Z'Z T)_10 = K_10 t00 + K_11 t10, (T'Z'Z T)_11 = K_11 t11.
    """
    q = K.shape[0]
    if q == 1:
        return [[np.sqrt(K[0, 0] * T[0, 0] + 1.0)]]
    if q == 2:
        t00, t10, t11 = float(T[0, 0]), float(T[1, 0]), float(T[1, 1])
        A0 = K[:, 0] * t00 + K[:, 1] * t10  # (T'Z'Z T)_00 and _10 together
        L00 = np.sqrt(A0[0] + 1.0)
        L10 = A0[1] / L00
        return [[L00, None], [L10, np.sqrt(K[1, 1] * t11 + 1.0 - L10 * L10)]]
    L: list[list[np.ndarray | None]] = [[None] * q for _ in range(q)]
    for k in range(q):
        for i in range(k, q):
            a = K[i, k] * T[k, k]
            for d in range(k + 1, q):
                if T[d, k] != 0.0:
                    a = a + K[i, d] * T[d, k]
            for j in range(k):
                a = a - L[i][j] * L[k][j]
            if i == k:
                L[k][k] = np.sqrt(a + 1.0)
            else:
                L[i][k] = a / L[k][k]
    return L


def _forward(L: list[list[np.ndarray | None]], K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C = L^-1 K per group (forward substitution), and prod_i L_ii (the square root of |L L'|)."""
    q = K.shape[0]
    C = np.empty_like(K)
    diag = L[0][0]
    for i in range(q):
        acc = K[i]
        for j in range(i):
            acc = acc - L[i][j] * C[j]
        C[i] = acc / L[i][i]
        if i:
            diag = diag * L[i][i]
    return C, diag


class OneLevel:
    """The criterion of a model with one level of random effects, as a fast function of theta.

    Parameters
    ----------
    stats : SufficientStats
        With exactly one level.
    reml : bool
        REML criterion (True) or ML deviance.

    Notes
    -----
    Call :meth:`value` for the criterion alone and :meth:`value_and_gradient`
    for the criterion and its gradient; both return +inf where the fixed
    block of F is not positive definite (an extreme theta), as the general
    code does.
    """

    def __init__(self, stats: SufficientStats, reml: bool = True):
        if len(stats.levels) != 1:
            raise ValueError("OneLevel takes a model with exactly one level of random effects")
        lev = stats.levels[0]
        self.q, self.p, self.m, self.n = lev.q, stats.p, lev.m, stats.n
        self.reml = bool(reml)
        self.nu = self.n - self.p if reml else self.n
        q, p, m = self.q, self.p, self.m
        V = np.ascontiguousarray(np.concatenate([lev.ZtZ, lev.ZtW], axis=1))  # (q, q + p + 1, m)
        self._Vflat = V.reshape(q, (q + p + 1) * m)
        self._ZtW = np.ascontiguousarray(lev.ZtW)
        self._ZtZsum = lev.ZtZ.sum(axis=2)
        self._WtW = np.array(stats.WtW, dtype=float)
        self._rows, self._cols = _tril_colmajor(q)
        self._ones = np.ones(m)
        self._pairs = list(zip(self._rows.tolist(), self._cols.tolist()))

    # -- the factorisation ---------------------------------------------------
    def _template(self, theta: np.ndarray) -> np.ndarray:
        T = np.zeros((self.q, self.q))
        for k, (r, c) in enumerate(self._pairs):
            T[r, c] = theta[k]
        return T

    def _factor(self, T: np.ndarray):
        """(C, logdet_L, R_F, L): C = L^-1 T'Z'[Z X y] per group (q, q + p + 1, m)."""
        q, p, m = self.q, self.p, self.m
        K = (T.T @ self._Vflat).reshape(q, q + p + 1, m)
        L = _group_cholesky(K, T)
        C, diag = _forward(L, K)
        return C, 2.0 * float(np.log(diag) @ self._ones), self._final_factor(C), L

    def _final_factor(self, C: np.ndarray) -> np.ndarray:
        """R_F, the upper Cholesky factor of F = [X y]'[X y] - sum_j Cw_j'Cw_j."""
        q, p, m = self.q, self.p, self.m
        Cw = C[:, q:].transpose(1, 0, 2).reshape(p + 1, q * m)  # [Cw_1 ... Cw_m] side by side
        F = self._WtW - Cw @ Cw.T
        RF, info = _dpotrf(F, lower=0, clean=1)
        if info:  # not positive definite: the general code's careful factor (or NaN)
            RF = _upper_cholesky(F)
        return RF

    def _criterion(self, logdet: float, RF: np.ndarray) -> float:
        p, nu = self.p, self.nu
        r2 = RF.item(p, p) ** 2
        if not math.isfinite(r2):
            return math.inf
        if r2 <= 0:
            return -math.inf
        val = logdet + nu * (1.0 + LOG_2PI + math.log(r2 / nu))
        if self.reml:
            for i in range(p):
                val += 2.0 * math.log(abs(RF.item(i, i)))
        return float(val)

    # -- public --------------------------------------------------------------
    def value(self, theta: np.ndarray) -> float:
        """The profiled criterion at theta (-2 log REML likelihood or ML deviance)."""
        _, logdet, RF, _ = self._factor(self._template(theta))
        return self._criterion(logdet, RF)

    def factorization(self, theta: np.ndarray) -> PLSFactor:
        """The factorisation at theta in the form of :func:`hlmlab.lmm.pls.factorize` (for the solution)."""
        q, m = self.q, self.m
        theta = np.asarray(theta, dtype=float)
        T = self._template(theta)
        C, logdet, RF, L = self._factor(T)
        Lfull = np.zeros((q, q, m))
        for i in range(q):
            for k in range(i + 1):
                Lfull[i, k] = L[i][k]
        return PLSFactor(theta, [T], [Lfull], [np.empty(0)], [C[:, q:]], RF, logdet, self.n, self.p)

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        r"""The criterion and its exact gradient in theta.

        With G_j = L_j^-1 T'Z_j'Z_j, H_j = Z_j'W_j - G_j'Cw_j (= Z_j'V_j^-1 W_j),
        Q_j = H_j[:, :p], w_j = H_j [-beta; 1], M = (R_X'R_X)^-1:

        .. math::

            N = \sum_j (Z_j'Z_j - G_j'G_j) - [\sum_j Q_j M Q_j']_{REML}
                - (\nu / r^2) \sum_j w_j w_j',\qquad
            \partial d / \partial\theta_k = 2 (N T)[r_k, c_k].
        """
        val, N, T = self.value_and_psi_gradient(theta)
        if N is None:
            return val, np.zeros(len(theta))
        return val, self.theta_gradient(N, T)

    def theta_gradient(self, N: np.ndarray, T: np.ndarray) -> np.ndarray:
        """The gradient in theta from the derivative N in Psi = T T': 2 (N T)[r_k, c_k]."""
        return 2.0 * (N @ T)[self._rows, self._cols]

    def value_and_psi_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray | None, np.ndarray]:
        """The criterion, its derivative N in Psi = T T' (symmetric q x q), and T.

        The gradient in theta is 2 (N T)[r_k, c_k]; N[q-1, q-1] is the
        derivative in s = T[q-1, q-1]^2, the one that decides whether a fit
        with that element at 0 is a minimum (None for N where the criterion
        is not finite).
        """
        q, p, nu = self.q, self.p, self.nu
        T = self._template(theta)
        C, logdet, RF, _ = self._factor(T)
        val = self._criterion(logdet, RF)
        if not math.isfinite(val):
            return math.inf, None, T
        G, Cw = C[:, :q], C[:, q:]
        Gs = G.transpose(1, 0, 2).reshape(q, q * self.m)  # [G_1 ... G_m] side by side: sum_j G_j'G_j = Gs Gs'
        N = self._ZtZsum - Gs @ Gs.T
        H = self._ZtW - (G[:, :, None, :] * Cw[:, None, :, :]).sum(axis=0)  # Z_j'W_j - G_j'Cw_j
        # one product gives U_j = Q_j R_X^-1 (REML) and w_j = H_j [-beta; 1], the
        # latter scaled by sqrt(nu / r^2), so that N -= sum_j [U_j w_j][U_j w_j]'
        k = p if self.reml else 0
        P = np.zeros((p + 1, k + 1))
        P[p, k] = scale = math.sqrt(nu) / abs(RF.item(p, p))
        if p:
            RXinv = _dtrtri(RF[:p, :p], lower=0)[0]
            P[:p, k] = -scale * (RXinv @ RF[:p, p])
            if k:
                P[:p, :p] = RXinv
        Y = np.matmul(P.T, H).reshape(q, -1)
        N -= Y @ Y.T
        return val, N, T
