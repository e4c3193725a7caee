"""An independent evaluator of the profiled REML criterion, for the benchmark.

Every engine in the benchmark reports its own optimum, each in its own
parameterisation (lme4 and ``mixedlm``: theta; statsmodels: G and sigma²;
hlmlab: G and sigma). To compare optima on one scale, the benchmark
converts each engine's estimate to the relative covariance factor

    theta = lower triangle of chol(G / sigma²), column by column,

and evaluates the profiled REML criterion of Bates et al. (2015, JSS 67(1),
eq. 41) at that theta with this module, which shares no code with hlmlab:

    -2 l_R(theta) = log|L|² + log|R_X|² + (n - p)(1 + log(2 pi r² / (n - p)))

from per-group sufficient statistics (one grouping factor, q random effects
per group; see ``engine-notes.md``, "One grouping factor"):

    L_j = chol(T' Z_j'Z_j T + I),  c_j = L_j^{-1} T' Z_j'y_j,
    C_j = L_j^{-1} T' Z_j'X_j,     R_X'R_X = X'X - sum_j C_j'C_j,
    beta = (R_X'R_X)^{-1} (X'y - sum_j C_j'c_j),
    r² = y'y - sum_j |c_j|² - (X'y - sum_j C_j'c_j)'beta.

The profiled criterion at an engine's theta is never above the criterion at
its (theta, sigma, beta), so this measures how good a theta each engine found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SuffStats:
    """Per-group and total cross-products of one grouping-factor model.

    Attributes
    ----------
    ZtZ : (J, q, q) array, Z_j'Z_j
    ZtX : (J, q, p) array, Z_j'X_j
    Zty : (J, q) array, Z_j'y_j
    XtX : (p, p) array;  Xty : (p,) array;  yty : float
    n : int, number of rows
    """

    ZtZ: np.ndarray
    ZtX: np.ndarray
    Zty: np.ndarray
    XtX: np.ndarray
    Xty: np.ndarray
    yty: float
    n: int


def group_sums(codes: np.ndarray, values: np.ndarray, J: int) -> np.ndarray:
    """Sum ``values`` (n,) within groups ``codes`` (0..J-1) with a bincount."""
    return np.bincount(codes, weights=values, minlength=J)


def suff_stats(y: np.ndarray, X: np.ndarray, Z: np.ndarray, codes: np.ndarray) -> SuffStats:
    """Cross-products Z_j'Z_j, Z_j'X_j, Z_j'y_j by group and X'X, X'y, y'y.

    One weighted bincount per distinct product column, so the cost is
    O(n (q² + q p)) with no per-group Python loop.
    """
    J = int(codes.max()) + 1
    q, p = Z.shape[1], X.shape[1]
    ZtZ = np.empty((J, q, q))
    for a in range(q):
        for b in range(a + 1):
            ZtZ[:, a, b] = ZtZ[:, b, a] = group_sums(codes, Z[:, a] * Z[:, b], J)
    ZtX = np.empty((J, q, p))
    for a in range(q):
        for k in range(p):
            ZtX[:, a, k] = group_sums(codes, Z[:, a] * X[:, k], J)
    Zty = np.stack([group_sums(codes, Z[:, a] * y, J) for a in range(q)], axis=1)
    return SuffStats(ZtZ, ZtX, Zty, X.T @ X, X.T @ y, float(y @ y), len(y))


def theta_to_template(theta: np.ndarray, q: int) -> np.ndarray:
    """Lower-triangular q × q template T from theta (lower triangle, column-major)."""
    T = np.zeros((q, q))
    rows, cols = np.tril_indices(q)
    order = np.lexsort((rows, cols))  # column by column, as lme4
    T[rows[order], cols[order]] = theta
    return T


def theta_from_G(G: np.ndarray, sigma2: float) -> np.ndarray:
    """theta = lower triangle of chol(G / sigma²), column by column.

    A singular G (a boundary fit) is handled by an eigen-clipped square root
    followed by a QR step, which gives a lower-triangular factor with the
    same cross-product.
    """
    G = np.asarray(G, float) / sigma2
    q = G.shape[0]
    try:
        T = np.linalg.cholesky(G)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(G)
        S = V * np.sqrt(np.clip(w, 0, None))
        # G = S S' ; find lower-triangular T with T T' = G via QR of S'
        _, R = np.linalg.qr(S.T)
        T = R.T * np.sign(np.diag(R))
    rows, cols = np.tril_indices(q)
    order = np.lexsort((rows, cols))
    return T[rows[order], cols[order]]


def reml_criterion(theta: np.ndarray, s: SuffStats) -> float:
    """Profiled REML criterion -2 l_R(theta) of Bates et al. (2015)."""
    q, p = s.ZtZ.shape[1], s.XtX.shape[0]
    T = theta_to_template(np.asarray(theta, float), q)
    M = T.T @ s.ZtZ @ T + np.eye(q)
    L = np.linalg.cholesky(M)
    c = np.linalg.solve(L, (T.T @ s.Zty[..., None]))[..., 0]
    C = np.linalg.solve(L, T.T @ s.ZtX)
    RXtRX = s.XtX - np.einsum("jqa,jqb->ab", C, C)
    rhs = s.Xty - np.einsum("jqa,jq->a", C, c)
    RX = np.linalg.cholesky(RXtRX)
    beta = np.linalg.solve(RXtRX, rhs)
    r2 = s.yty - np.sum(c * c) - rhs @ beta
    logdetL2 = 2.0 * np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)))
    logdetRX2 = 2.0 * np.sum(np.log(np.diag(RX)))
    dof = s.n - p
    return float(logdetL2 + logdetRX2 + dof * (1.0 + np.log(2.0 * np.pi * r2 / dof)))
