r"""The profiled deviance and REML criterion of a linear mixed model.

The model (Bates, Mächler, Bolker and Walker 2015, JSS 67(1), section 3) is

.. math::

    y = X\beta + Zb + \varepsilon,\quad \varepsilon \sim N(0, \sigma^2 I),\quad
    b = \Lambda_\theta u,\quad u \sim N(0, \sigma^2 I),

so that Var(b) = sigma^2 Lambda Lambda'. Lambda is block diagonal: at each
level of random effects, one q x q lower-triangular template T(theta) per
group. For fixed theta, penalised least squares reduces everything to one
Cholesky factorisation of

.. math::

    \begin{pmatrix} \Lambda'Z'Z\Lambda + I & \Lambda'Z'X & \Lambda'Z'y \\
    \cdot & X'X & X'y \\ \cdot & \cdot & y'y \end{pmatrix}.

With nested grouping factors this matrix is block-structured: a group's
random effects touch only its own rows and its ancestors' effects. The
elimination therefore runs level by level from the innermost, one small
q x q Cholesky factor per group (batched over groups with numpy), passing
each group's Schur complement up to its parent (summed over the parent's
children). All it needs are per-group cross-products
(:class:`SufficientStats`), computed in one pass over the rows; an
evaluation costs O(J q^3 + J q p^2), independent of the number of rows.

What is left after eliminating every random effect is the (p+1) x (p+1)
matrix F = [X y]'[X y] - sum_j C_j'C_j, whose upper Cholesky factor holds
R_X (so that Cov(beta-hat) = sigma^2 (R_X'R_X)^-1), R_X beta-hat on its last
column, and the penalised residual sum of squares r^2 as its last diagonal
element squared.

Profiled criteria (n rows, p fixed effects, log|L|^2 = 2 sum log diag L):

- ML deviance:  log|L|^2 + n (1 + log(2 pi r^2 / n)),  sigma^2 = r^2 / n
- REML criterion: log|L|^2 + log|R_X|^2 + (n - p)(1 + log(2 pi r^2 / (n - p))),
  sigma^2 = r^2 / (n - p)

Using Lambda rather than G^-1 keeps the criterion defined at singular G
(theta on its bound), where methods that invert G break down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.linalg

from hlmlab.lmm.suffstats import SufficientStats

__all__ = [
    "theta_lower",
    "theta_start",
    "lambda_template",
    "PLSFactor",
    "factorize",
    "criterion",
    "deviance",
    "deviance_sigma",
    "deviance_and_gradient",
    "deviance_sigma_and_gradient",
]

LOG_2PI = float(np.log(2 * np.pi))


# ---------------------------------------------------------------------------
# theta and Lambda
# ---------------------------------------------------------------------------
def solve_upper(R: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve R X = B for upper-triangular R (p x p), B of shape (p,) or (p, k).

    Small systems (p <= 16) are solved by back-substitution in numpy: inside
    the optimisation loop this avoids LAPACK/BLAS calls whose thread start-up
    can cost milliseconds on a busy machine. Larger ones go to LAPACK.
    """
    p = R.shape[0]
    if p > 16:
        return scipy.linalg.solve_triangular(R, B, lower=False)
    X = np.array(B, dtype=float, copy=True)
    for i in range(p - 1, -1, -1):
        if i < p - 1:
            X[i] -= R[i, i + 1 :] @ X[i + 1 :]
        X[i] /= R[i, i]
    return X


@cache
def _tril_colmajor(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a q x q lower triangle, column by column (lme4's order)."""
    cols, rows = np.triu_indices(q)
    rows.flags.writeable = False
    cols.flags.writeable = False
    return rows, cols


def theta_lower(qs: Sequence[int]) -> np.ndarray:
    """Lower bounds of theta: 0 for diagonal elements of each template, -inf otherwise."""
    out = []
    for q in qs:
        r, c = _tril_colmajor(q)
        out.append(np.where(r == c, 0.0, -np.inf))
    return np.concatenate(out) if out else np.empty(0)


def theta_start(qs: Sequence[int]) -> np.ndarray:
    """The identity template at every level (lme4's default start)."""
    return np.where(np.isfinite(theta_lower(qs)), 1.0, 0.0)


def lambda_template(theta: np.ndarray, qs: Sequence[int]) -> list[np.ndarray]:
    """Split theta into the lower-triangular templates T_l (q_l x q_l), outermost level first.

    theta lists each template's lower triangle column by column: for q = 2,
    (T11, T21, T22).
    """
    out, k = [], 0
    for q in qs:
        r, c = _tril_colmajor(q)
        T = np.zeros((q, q))
        T[r, c] = theta[k : k + len(r)]
        out.append(T)
        k += len(r)
    return out


def template_theta(templates: Sequence[np.ndarray]) -> np.ndarray:
    """theta from templates: each lower triangle column by column (the inverse of :func:`lambda_template`)."""
    parts = [T[_tril_colmajor(T.shape[0])] for T in templates]
    return np.concatenate(parts) if parts else np.empty(0)


# ---------------------------------------------------------------------------
# small batched linear algebra: stacks of small matrices with the group axis
# last, shape (rows, cols, m); loops run over the small dimensions only
# ---------------------------------------------------------------------------
def batch_cholesky(A: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of m positive-definite q x q matrices, A of shape (q, q, m)."""
    q = A.shape[0]
    L = np.zeros_like(A)
    for j in range(q):
        s = A[j, j] - sum(L[j, k] ** 2 for k in range(j)) if j else A[j, j]
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, q):
            t = A[i, j] - sum(L[i, k] * L[j, k] for k in range(j)) if j else A[i, j]
            L[i, j] = t / L[j, j]
    return L


def batch_forward(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """X = L^-1 B for each group: L (q, q, m) lower triangular, B (q, k, m)."""
    q = L.shape[0]
    X = np.empty_like(B)
    for i in range(q):
        acc = B[i] - sum(L[i, j] * X[j] for j in range(i)) if i else B[i]
        X[i] = acc / L[i, i]
    return X


def batch_backward(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """X = L'^-1 B for each group: L (q, q, m) lower triangular, B (q, k, m)."""
    q = L.shape[0]
    X = np.empty_like(B)
    for i in range(q - 1, -1, -1):
        acc = B[i] - sum(L[j, i] * X[j] for j in range(i + 1, q)) if i < q - 1 else B[i]
        X[i] = acc / L[i, i]
    return X


def batch_crossprod(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A_j'B_j for each group: A (r, a, m), B (r, b, m) -> (a, b, m)."""
    r = A.shape[0]
    return sum(A[k][:, None, :] * B[k][None, :, :] for k in range(r))


def batch_matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A_j B_j for each group: A (a, r, m), B (r, b, m) -> (a, b, m)."""
    r = A.shape[1]
    return sum(A[:, k][:, None, :] * B[k][None, :, :] for k in range(r))


def tmul(T: np.ndarray, A: np.ndarray) -> np.ndarray:
    """T'A_j for a fixed matrix T (r, a) and a stack A (r, k, m) -> (a, k, m)."""
    r, k, m = A.shape
    return (T.T @ A.reshape(r, k * m)).reshape(T.shape[1], k, m)


def mult(A: np.ndarray, T: np.ndarray) -> np.ndarray:
    """A_j T for a stack A (a, r, m) and a fixed matrix T (r, c) -> (a, c, m)."""
    return np.einsum("arm,rc->acm", A, T)


def batch_t(A: np.ndarray) -> np.ndarray:
    """Transpose each group's matrix: (a, b, m) -> (b, a, m)."""
    return np.swapaxes(A, 0, 1)


# ---------------------------------------------------------------------------
# the factorisation at one theta
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PLSFactor:
    """The Cholesky factorisation of the penalised system at one theta.

    Attributes
    ----------
    theta : ndarray
    lambdas : list of (q_l, q_l) templates, outermost level first
    L : list of (q_l, q_l, m_l) lower factors, one per group
    Ca : list of (q_l, Qa_l, m_l): L_j^-1 times the (updated) cross-block with the ancestors' effects
    Cw : list of (q_l, p + 1, m_l): L_j^-1 times the (updated) cross-block with [X y]
    RF : (p + 1, p + 1) upper Cholesky factor of F (R_X in the top-left p x p block)
    logdet_L : log|L|^2 = 2 sum log diag L over all groups and levels
    """

    theta: np.ndarray
    lambdas: list[np.ndarray]
    L: list[np.ndarray]
    Ca: list[np.ndarray]
    Cw: list[np.ndarray]
    RF: np.ndarray
    logdet_L: float
    n: int
    p: int

    @property
    def RX(self) -> np.ndarray:
        """R_X, upper triangular: R_X'R_X = X'X - sum C_j'C_j (= sigma^2 X'V^-1X)."""
        return self.RF[: self.p, : self.p]

    @property
    def logdet_RX(self) -> float:
        """log|R_X|^2."""
        return float(2 * np.sum(np.log(np.abs(np.diag(self.RX))))) if self.p else 0.0

    @property
    def pwrss(self) -> float:
        """Penalised residual sum of squares r^2 = |y - X beta - Z b|^2 + |u|^2."""
        return float(self.RF[self.p, self.p] ** 2)

    @property
    def beta(self) -> np.ndarray:
        """beta-hat(theta), from R_X beta = R_Xy."""
        if self.p == 0:
            return np.empty(0)
        return solve_upper(self.RX, self.RF[: self.p, self.p])


def factorize(stats: SufficientStats, theta: np.ndarray) -> PLSFactor:
    """Eliminate the random effects level by level, innermost first.

    For each group j at level l, with T the level's template and the
    children's Schur complements S already summed into the group:

    - L_j L_j' = T'Z_j'Z_j T + I - S_uu
    - Ca_j = L_j^-1 (T'Z_j'Z_a T_a - S_ua)   (T_a: the ancestors' templates)
    - Cw_j = L_j^-1 (T'Z_j'W_j - S_uw)        (W = [X y])

    and Ca_j'Ca_j, Ca_j'Cw_j are passed up to the parent (summed over its
    children). Finally F = W'W - sum_j Cw_j'Cw_j over all groups and levels.
    """
    theta = np.asarray(theta, dtype=float)
    qs = stats.qs
    lams = lambda_template(theta, qs)
    D = len(qs)
    pend_u: list[np.ndarray | None] = [None] * D  # sums of C'C over [u_l, ancestors]^2
    pend_w: list[np.ndarray | None] = [None] * D  # sums of C'Cw over [u_l, ancestors] x W
    Ls: list[np.ndarray] = [np.empty(0)] * D
    Cas: list[np.ndarray] = [np.empty(0)] * D
    Cws: list[np.ndarray] = [np.empty(0)] * D
    FW = stats.WtW.copy()
    logdet = 0.0
    for l in range(D - 1, -1, -1):
        lev = stats.levels[l]
        q, T = lev.q, lams[l]
        anc = [lams[k] for k in range(l - 1, -1, -1)]
        Muu = mult(tmul(T, lev.ZtZ), T)
        for i in range(q):
            Muu[i, i] += 1.0
        Mua = mult(tmul(T, lev.ZtA), scipy.linalg.block_diag(*anc)) if anc else None
        Muw = tmul(T, lev.ZtW)
        Paa = Paw = None
        if pend_u[l] is not None:
            Pu, Pw = pend_u[l], pend_w[l]
            Muu -= Pu[:q, :q]
            Muw -= Pw[:q]
            if Mua is not None:
                Mua -= Pu[:q, q:]
                Paa, Paw = Pu[q:, q:], Pw[q:]
        L = batch_cholesky(Muu)
        Cw = batch_forward(L, Muw)
        logdet += 2.0 * float(sum(np.log(L[i, i]).sum() for i in range(q)))
        for i in range(q):
            FW -= Cw[i] @ Cw[i].T
        if Mua is not None:
            Ca = batch_forward(L, Mua)
            Saa = batch_crossprod(Ca, Ca)
            Saw = batch_crossprod(Ca, Cw)
            if Paa is not None:
                Saa += Paa
                Saw += Paw
            pend_u[l - 1] = np.add.reduceat(Saa, lev.starts, axis=2)
            pend_w[l - 1] = np.add.reduceat(Saw, lev.starts, axis=2)
            Cas[l] = Ca
        Ls[l], Cws[l] = L, Cw
    RF = _upper_cholesky(FW)
    return PLSFactor(theta, lams, Ls, Cas, Cws, RF, logdet, stats.n, stats.p)


def _upper_cholesky(F: np.ndarray) -> np.ndarray:
    """Upper Cholesky factor of F.

    A tiny negative last pivot (an exact fit) is set to 0. When the X block
    itself is not numerically positive definite (X'V^-1X singular: at an
    extreme theta a random slope with a huge variance absorbs its fixed
    effect, and X'X - sum C'C cancels) the factor is returned as NaN, which
    makes the criterion +inf there: the optimizer backs away instead of
    failing (lme4 stops with "downdated VtV is not positive definite").
    """
    F = (F + F.T) / 2
    try:
        return np.linalg.cholesky(F).T
    except np.linalg.LinAlgError:
        p = F.shape[0] - 1
        R = np.zeros_like(F)
        try:
            R[:p, :p] = np.linalg.cholesky(F[:p, :p]).T
        except np.linalg.LinAlgError:
            return np.full_like(F, np.nan)
        R[:p, p] = scipy.linalg.solve_triangular(R[:p, :p], F[:p, p], trans="T")
        R[p, p] = np.sqrt(max(F[p, p] - R[:p, p] @ R[:p, p], 0.0))
        return R


# ---------------------------------------------------------------------------
# criteria
# ---------------------------------------------------------------------------
def criterion(f: PLSFactor, reml: bool = True) -> float:
    """Profiled -2 log-likelihood at f.theta (the REML criterion when ``reml``).

    ML:   log|L|^2 + n (1 + log(2 pi r^2 / n))
    REML: log|L|^2 + log|R_X|^2 + (n - p)(1 + log(2 pi r^2 / (n - p)))
    """
    nu = f.n - f.p if reml else f.n
    r2 = f.pwrss
    if not np.isfinite(r2):
        return np.inf
    if r2 <= 0:
        return -np.inf
    val = f.logdet_L + nu * (1.0 + LOG_2PI + np.log(r2 / nu))
    return float(val + f.logdet_RX) if reml else float(val)


def deviance(stats: SufficientStats, theta: np.ndarray, reml: bool = True) -> float:
    """The profiled criterion as a function of theta alone (what the optimizer sees)."""
    return criterion(factorize(stats, theta), reml)


def deviance_and_gradient(stats: SufficientStats, theta: np.ndarray, reml: bool = True) -> tuple[float, np.ndarray]:
    r"""The profiled criterion and its exact gradient in theta (one level of random effects).

    With V = I + Z Lambda Lambda' Z' (so Var y = sigma^2 V), e = y - X beta-hat,
    M = (X'V^-1X)^-1 = (R_X'R_X)^-1 and nu = n - p (REML) or n (ML),

    .. math::

        \partial d / \partial\theta_k = \mathrm{tr}(V^{-1}\dot V_k)
            - [\mathrm{tr}(M X'V^{-1}\dot V_k V^{-1}X)]_{REML}
            - (\nu / r^2)\, e'V^{-1}\dot V_k V^{-1}e,

    with dV_k = Z (E_k T' + T E_k') Z' and E_k = dT/d theta_k. Every term is a
    sum over groups of q x q matrices: with G_j = L_j^-1 T'Z_j'Z_j and
    H_j = Z_j'W_j - G_j'Cw_j (that is, Z_j'V_j^-1 [X_j y_j]),

    N = sum_j (Z_j'Z_j - G_j'G_j) - [sum_j Q_j M Q_j'] - (nu / r^2) sum_j w_j w_j',

    Q_j = H_j[:, :p], w_j = H_j [-beta; 1], and the gradient is
    2 (N T)[r_k, c_k] for theta_k = T[r_k, c_k].
    """
    f, NB, ww, T = _gradient_parts(stats, theta, reml)
    if f is None:
        return np.inf, np.zeros(len(theta))
    nu = f.n - f.p if reml else f.n
    rows, cols = _tril_colmajor(T.shape[0])
    grad = 2.0 * ((NB - (nu / f.pwrss) * ww) @ T)[rows, cols]
    return criterion(f, reml), grad


def _gradient_parts(stats: SufficientStats, theta: np.ndarray, reml: bool):
    """The factor and the q x q sums of :func:`deviance_and_gradient`: sum (Z'Z - G'G) - [sum Q M Q'], sum w w', T."""
    if len(stats.levels) != 1:
        raise NotImplementedError("the exact gradient is implemented for one level of random effects")
    f = factorize(stats, theta)
    if not np.isfinite(f.pwrss):
        return None, None, None, None
    lev = stats.levels[0]
    q, p = lev.q, stats.p
    T, L, Cw = f.lambdas[0], f.L[0], f.Cw[0]
    G = batch_forward(L, tmul(T, lev.ZtZ))
    H = lev.ZtW - batch_crossprod(G, Cw)
    NB = lev.ZtZ.sum(axis=2) - sum(G[r] @ G[r].T for r in range(q))
    if reml and p:
        RXinv = solve_upper(f.RX, np.eye(p))
        U = np.einsum("qpm,pk->qkm", H[:, :p, :], RXinv)
        NB -= sum(U[:, k, :] @ U[:, k, :].T for k in range(p))
    bw = np.empty(p + 1)
    bw[:p] = -f.beta
    bw[p] = 1.0
    w = np.tensordot(bw, H, axes=(0, 1))  # (q, m)
    return f, NB, w @ w.T, T


def deviance_sigma_and_gradient(
    stats: SufficientStats, theta: np.ndarray, sigma: float, reml: bool = True
) -> tuple[float, np.ndarray]:
    """:func:`deviance_sigma` and its exact gradient in (theta, sigma) (one level of random effects).

    As in :func:`deviance_and_gradient` with nu / r^2 replaced by 1 / sigma^2
    for theta, and d/d sigma = 2 nu / sigma - 2 r^2 / sigma^3.
    """
    f, NB, ww, T = _gradient_parts(stats, theta, reml)
    if f is None:
        return np.inf, np.zeros(len(theta) + 1)
    nu = f.n - f.p if reml else f.n
    rows, cols = _tril_colmajor(T.shape[0])
    g_theta = 2.0 * ((NB - ww / sigma**2) @ T)[rows, cols]
    g_sigma = 2.0 * nu / sigma - 2.0 * f.pwrss / sigma**3
    val = f.logdet_L + nu * (LOG_2PI + 2 * np.log(sigma)) + f.pwrss / sigma**2
    val = float(val + f.logdet_RX) if reml else float(val)
    return val, np.r_[g_theta, g_sigma]


def deviance_sigma(stats: SufficientStats, theta: np.ndarray, sigma: float, reml: bool = True) -> float:
    """-2 log-likelihood at (theta, sigma), beta profiled out (not sigma).

    ML:   log|L|^2 + n log(2 pi sigma^2) + r^2 / sigma^2
    REML: log|L|^2 + log|R_X|^2 + (n - p) log(2 pi sigma^2) + r^2 / sigma^2

    Minimising over sigma gives :func:`criterion`. Its Hessian in the
    variance parameters gives their asymptotic covariance (nlme's apVar,
    lmerTest's Satterthwaite).
    """
    f = factorize(stats, theta)
    nu = f.n - f.p if reml else f.n
    val = f.logdet_L + nu * (LOG_2PI + 2 * np.log(sigma)) + f.pwrss / sigma**2
    return float(val + f.logdet_RX) if reml else float(val)
