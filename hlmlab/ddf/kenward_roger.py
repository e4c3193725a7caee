r"""Kenward-Roger adjusted covariance, denominator DF and F scaling, from per-group sums.

Kenward and Roger (1997, Biometrics 53), as implemented by pbkrtest
(Halekoh and Højsgaard 2014, J. Stat. Softw. 59(9)). The marginal covariance
is linear in the variance parameters gamma (the elements of each level's G
on and below the diagonal, then sigma^2):

.. math::

    V = \sum_r \gamma_r G_r,\qquad G_r = Z_l E_r Z_l' \ (\text{an element of } G_l),
    \quad G_{\sigma^2} = I .

With Phi = (X'V^{-1}X)^{-1} (= Cov(beta-hat)):

- P_r = -X'V^{-1} G_r V^{-1} X,   Q_rs = X'V^{-1} G_r V^{-1} G_s V^{-1} X
- I_rs = tr(V^{-1}G_r V^{-1}G_s) - 2 tr(Phi Q_rs) + tr(Phi P_r Phi P_s)  (REML information x 2)
- W = 2 I^{-1} (asymptotic covariance of gamma-hat)
- U = sum_rs W_rs (Q_rs - P_r Phi P_s),  Phi_A = Phi + 2 Phi U Phi  (R_rs = 0: V is linear)

For L (rank q), Theta = L'(L Phi L')^{-1} L and

- A1 = sum_rs W_rs tr(Theta Phi P_r Phi) tr(Theta Phi P_s Phi),
  A2 = sum_rs W_rs tr(Theta Phi P_r Phi Theta Phi P_s Phi)
- B = (A1 + 6 A2) / (2q),  g = ((q+1) A1 - (q+4) A2) / ((q+2) A2),
  c1 = g / (3q + 2(1-g)),  c2 = (q-g) / (3q + 2(1-g)),  c3 = (q+2-g) / (3q + 2(1-g))
- rho = (1/q) ((1 - A2/q) / (1 - c2 B))^2 (1 + c1 B) / (1 - c3 B)
- DF m = 4 + (q + 2) / (q rho - 1);  F scale lambda = m (1 - A2/q) / (m - 2)
- F = lambda (L beta)'(L Phi_A L')^{-1}(L beta) / q  ~  F(q, m).

**No n x n matrix.** V is block diagonal over the outermost groups. Within
group j, with U_j all random-effect columns on its rows (its own and its
nested groups', padded to the same width), V_j = sigma^2 (I + U_j Lambda
Lambda' U_j') and Woodbury gives V_j^{-1} = sigma^{-2}(I - U_j K U_j'),
K = Lambda (Lambda'S Lambda + I)^{-1} Lambda', S = U_j'U_j. Every product
and trace above is then a small matrix expression in the per-group Gram
matrix of [X_j U_j] (see :func:`group_terms`), summed over groups; the
cost is O(J Q^3) plus one pass over the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.linalg

from hlmlab.ddf._lmatrix import as_array, rank, row_basis

if TYPE_CHECKING:  # pragma: no cover
    from hlmlab.lmm.varpar import VarPar

__all__ = ["KRResult", "KRModel", "kr_model", "kenward_roger", "kenward_roger_from_model", "kr_model_of"]


@dataclass(frozen=True)
class KRResult:
    """Kenward-Roger inference for L beta.

    Attributes
    ----------
    vcov_adjusted : (p, p) Phi_A, the adjusted Cov(beta-hat)
    df : (m,) DF of each row of L (as pbkrtest's ``get_Lb_ddf``)
    se : (m,) adjusted standard error of each row, sqrt(l' Phi_A l)
    df_joint : denominator DF of the joint F test
    F_scaling : lambda, the scale applied to the Wald F
    F : the scaled F statistic (compare with F(rank, df_joint))
    rank : numerator DF q
    """

    vcov_adjusted: np.ndarray
    df: np.ndarray
    se: np.ndarray
    df_joint: float
    F_scaling: float
    F: float
    rank: int


@dataclass(frozen=True, eq=False)
class KRModel:
    """What the adjustment needs, computed once per fit.

    Attributes
    ----------
    Phi : (p, p) (X'V^-1X)^-1
    P : (k, p, p) P_r
    W : (k, k) 2 I^{-1}
    Phi_A : (p, p) adjusted covariance
    beta : (p,)
    names : coefficient names or None
    """

    Phi: np.ndarray
    P: np.ndarray
    W: np.ndarray
    Phi_A: np.ndarray
    beta: np.ndarray
    names: list[str] | None = None


# ---------------------------------------------------------------------------
# the padded per-outer-group layout
# ---------------------------------------------------------------------------
def _outer_layout(levels: Sequence[Any]) -> tuple[np.ndarray, list[np.ndarray], list[int], list[int]]:
    """Outer group of each row; each row's local slot at every level; slots per level; offsets.

    ``levels`` are outermost first, each with ``Z`` (n, q), ``codes`` (n,)
    and ``parent`` (groups' parent codes, None at the outermost level).
    A level-l group's slot is its index among the level-l groups of its
    outermost ancestor (groups of one ancestor are numbered consecutively).
    """
    outer = np.asarray(levels[0].codes)
    slots = [np.zeros(len(outer), dtype=np.int64)]
    widths = [1]
    anc = None  # outermost ancestor of each group at the current level
    for l in range(1, len(levels)):
        par = np.asarray(levels[l].parent)
        anc = par if l == 1 else anc[par]
        first = np.r_[0, np.flatnonzero(np.diff(anc)) + 1]
        count = np.diff(np.r_[first, len(anc)])
        local = np.arange(len(anc)) - np.repeat(first, count)
        slots.append(local[np.asarray(levels[l].codes)])
        widths.append(int(count.max()))
    offsets = []
    off = 0
    for lv, w in zip(levels, widths):
        offsets.append(off)
        off += w * lv.Z.shape[1]
    return outer, slots, widths, offsets


def padded_columns(levels: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """U (n, Q): every random-effect column in its group's padded slot; outer codes; widths; offsets."""
    outer, slots, widths, offsets = _outer_layout(levels)
    n = len(outer)
    Q = sum(w * lv.Z.shape[1] for lv, w in zip(levels, widths))
    U = np.zeros((n, Q))
    rows = np.arange(n)
    for lv, s, off in zip(levels, slots, offsets):
        q = lv.Z.shape[1]
        for a in range(q):
            U[rows, off + s * q + a] = lv.Z[:, a]
    return U, outer, widths, offsets


def group_gram(W: np.ndarray, codes: np.ndarray, J: int) -> np.ndarray:
    """Per-group Gram matrices W_j'W_j, shape (J, P, P), one bincount per pair of columns."""
    P = W.shape[1]
    G = np.empty((J, P, P))
    for a in range(P):
        for b in range(a + 1):
            G[:, a, b] = G[:, b, a] = np.bincount(codes, weights=W[:, a] * W[:, b], minlength=J)
    return G


# ---------------------------------------------------------------------------
# per-group terms and their sums
# ---------------------------------------------------------------------------
def _t(A: np.ndarray) -> np.ndarray:
    return np.swapaxes(A, -1, -2)


def group_terms(Gram: np.ndarray, nj: np.ndarray, p: int, Lam: np.ndarray, sigma2: float) -> dict[str, np.ndarray]:
    r"""Per-group products of V_j^{-1} with X_j and U_j, from Gram = [X_j U_j]'[X_j U_j].

    With S = U'U, B = U'X, XX = X'X, K = Lambda (Lambda'S Lambda + I)^{-1} Lambda',
    s2 = sigma^2, N = I - K S, D = B - S K B:

    - H = U'V^-1 U = (S - S K S)/s2;   Y = U'V^-1 X = D/s2
    - XVX = X'V^-1 X = (XX - B'K B)/s2
    - UV2U = U'V^-2 U = N'S N/s2^2;    UV2X = U'V^-2 X = N'D/s2^2
    - XV2X = X'V^-2 X = (XX - 2 B'K B + B'K S K B)/s2^2
    - XV3X = X'V^-3 X = (XX - 2 B'K B + B'K S K B - D'K D)/s2^3
    - trV2 = tr V^-2 = (n_j - 2 tr(K S) + tr(K S K S))/s2^2
    """
    XX, B, S = Gram[:, :p, :p], Gram[:, p:, :p], Gram[:, p:, p:]
    Q = S.shape[1]
    M = Lam.T @ S @ Lam + np.eye(Q)
    K = Lam @ np.linalg.solve(M, np.broadcast_to(Lam.T, M.shape))
    KS, KB = K @ S, K @ B
    SKB = S @ KB
    D = B - SKB
    BKB = _t(B) @ KB
    BKSKB = _t(KB) @ SKB
    N = np.eye(Q) - KS
    s2 = sigma2
    return {
        "H": (S - S @ KS) / s2,
        "Y": D / s2,
        "XVX": (XX - BKB) / s2,
        "UV2U": _t(N) @ S @ N / s2**2,
        "UV2X": _t(N) @ D / s2**2,
        "XV2X": (XX - 2 * BKB + BKSKB) / s2**2,
        "XV3X": (XX - 2 * BKB + BKSKB - _t(D) @ K @ D) / s2**3,
        "trV2": (nj - 2 * np.trace(KS, axis1=1, axis2=2) + np.einsum("jab,jba->j", KS, KS)) / s2**2,
    }


def derivative_patterns(qs: Sequence[int], widths: Sequence[int], offsets: Sequence[int], Q: int) -> list[np.ndarray]:
    """E_r (Q x Q) for each element of each level's G, lower triangle column by column.

    E_r = e_a e_b' + e_b e_a' (a != b) or e_a e_a' in every slot of its level.
    """
    out = []
    for q, w, off in zip(qs, widths, offsets):
        cols, rows = np.triu_indices(q)
        for a, b in zip(rows, cols):
            E1 = np.zeros((q, q))
            E1[a, b] = E1[b, a] = 1.0
            E = np.zeros((Q, Q))
            E[off : off + w * q, off : off + w * q] = np.kron(np.eye(w), E1)
            out.append(E)
    return out


def kr_sums(t: dict[str, np.ndarray], Es: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""X'V^-1X, P_r, Q_rs and tr(V^-1 G_r V^-1 G_s), summed over groups.

    Parameters are the G elements (patterns ``Es``) and then sigma^2 (G = I):

    - P_r = -Y'E_r Y;  P_sigma = -XV2X
    - Q_rs = Y'E_r H E_s Y;  Q_r,sigma = Y'E_r UV2X;  Q_sigma,sigma = XV3X
    - tr_rs = tr(E_r H E_s H);  tr_r,sigma = tr(E_r UV2U);  tr_sigma,sigma = tr V^-2
    """
    H, Y = t["H"], t["Y"]
    k = len(Es) + 1
    p = Y.shape[2]
    EY = [E @ Y for E in Es]  # (J, Q, p)
    EH = [E @ H for E in Es]  # (J, Q, Q)
    P = np.empty((k, p, p))
    Qm = np.empty((k, k, p, p))
    tr = np.empty((k, k))
    for r in range(k - 1):
        P[r] = -np.einsum("jqa,jqb->ab", Y, EY[r])
        for s in range(k - 1):
            HEsY = H @ EY[s]
            Qm[r, s] = np.einsum("jqa,jqb->ab", EY[r], HEsY)
            tr[r, s] = np.einsum("jab,jba->", EH[r], EH[s])
        Qm[r, k - 1] = np.einsum("jqa,jqb->ab", EY[r], t["UV2X"])
        Qm[k - 1, r] = Qm[r, k - 1].T
        tr[r, k - 1] = tr[k - 1, r] = np.einsum("ab,jba->", Es[r], t["UV2U"])
    P[k - 1] = -t["XV2X"].sum(0)
    Qm[k - 1, k - 1] = t["XV3X"].sum(0)
    tr[k - 1, k - 1] = t["trV2"].sum()
    return t["XVX"].sum(0), P, Qm, tr


def adjusted_vcov(
    XVX: np.ndarray, P: np.ndarray, Qm: np.ndarray, tr: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phi, W = 2 I^{-1} and Phi_A = Phi + 2 Phi U Phi (pbkrtest's ``vcovAdj``)."""
    Phi = np.linalg.inv(XVX)
    Phi = (Phi + Phi.T) / 2
    k = P.shape[0]
    I = np.empty((k, k))
    for r in range(k):
        for s in range(r, k):
            I[r, s] = I[s, r] = tr[r, s] - 2 * np.sum(Phi * Qm[r, s]) + np.sum((Phi @ P[r]) * (P[s] @ Phi))
    cond = np.min(np.abs(np.linalg.eigvalsh(I)))
    W = 2 * (np.linalg.inv(I) if cond > 1e-10 else np.linalg.pinv(I))
    W = (W + W.T) / 2
    U = sum(W[r, s] * (Qm[r, s] - P[r] @ Phi @ P[s]) for r in range(k) for s in range(k))
    Phi_A = Phi + 2 * Phi @ U @ Phi
    return Phi, W, (Phi_A + Phi_A.T) / 2


# ---------------------------------------------------------------------------
# the DF of L
# ---------------------------------------------------------------------------
def _div0(x: float, y: float, tol: float = 1e-14) -> float:
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


def kr_ddf(L: np.ndarray, Phi: np.ndarray, P: np.ndarray, W: np.ndarray) -> tuple[float, float, int]:
    """Denominator DF m and F scaling lambda for L (pbkrtest's ``.KR_adjust``); q = rank(L)."""
    L = np.atleast_2d(L)
    q = rank(L)
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    TP = Theta @ Phi
    u = [TP @ Pr @ Phi for Pr in P]
    tr_u = np.array([np.trace(x) for x in u])
    A1 = float(tr_u @ W @ tr_u)
    A2 = float(sum(W[r, s] * np.sum(u[r] * u[s].T) for r in range(len(u)) for s in range(len(u))))
    B = (A1 + 6 * A2) / (2 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    c1 = g / (3 * q + 2 * (1 - g))
    c2 = (q - g) / (3 * q + 2 * (1 - g))
    c3 = (q + 2 - g) / (3 * q + 2 * (1 - g))
    V0 = 1 + c1 * B
    V0 = 0.0 if abs(V0) < 1e-10 else V0
    V1, V2 = 1 - c2 * B, 1 - c3 * B
    rho = (1 / q) * _div0(1 - A2 / q, V1) ** 2 * V0 / V2
    m = 4 + (q + 2) / (q * rho - 1)
    scale = 1.0 if abs(m - 4.0) < 1e-2 else m * (1 - A2 / q) / (m - 2)
    return float(m), float(scale), q


# ---------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------
def kr_model(
    X: np.ndarray,
    levels: Sequence[Any],
    templates: Sequence[np.ndarray],
    sigma: float,
    beta: np.ndarray,
    names: list[str] | None = None,
) -> KRModel:
    """Build the Kenward-Roger pieces from the design and the estimates.

    Parameters
    ----------
    X : (n, p) fixed design on the rows used
    levels : random-effects levels, outermost first (``Z``, ``codes``, ``parent``)
    templates : the lower-triangular T_l of each level (G_l = sigma^2 T_l T_l')
    sigma : residual SD;  beta : fixed effects
    """
    U, outer, widths, offsets = padded_columns(levels)
    p = X.shape[1]
    J = int(outer.max()) + 1
    Gram = group_gram(np.column_stack([X, U]), outer, J)
    nj = np.bincount(outer, minlength=J).astype(float)
    Lam = scipy.linalg.block_diag(*[np.kron(np.eye(w), T) for T, w in zip(templates, widths)])
    terms = group_terms(Gram, nj, p, Lam, sigma**2)
    Es = derivative_patterns([lv.Z.shape[1] for lv in levels], widths, offsets, U.shape[1])
    XVX, P, Qm, tr = kr_sums(terms, Es)
    Phi, W, Phi_A = adjusted_vcov(XVX, P, Qm, tr)
    return KRModel(Phi, P, W, Phi_A, np.asarray(beta, float), names)


def kenward_roger_from_model(model: KRModel, L: Any) -> KRResult:
    """Per-row DF and SE, and the joint F test of L beta = 0 (on the row space of L), from a :class:`KRModel`."""
    L = as_array(L, model.names if model.names is not None else model.Phi.shape[0])
    rows = [kr_ddf(l[None, :], model.Phi, model.P, model.W)[0] for l in L]
    se = np.sqrt(np.einsum("mp,pq,mq->m", L, model.Phi_A, L))
    Lr = row_basis(L)
    m, scale, q = kr_ddf(Lr, model.Phi, model.P, model.W)
    Lb = Lr @ model.beta
    wald = float(Lb @ np.linalg.solve(Lr @ model.Phi_A @ Lr.T, Lb)) / q
    return KRResult(model.Phi_A, np.array(rows), se, m, scale, scale * wald, q)


def kr_model_of(varpar: VarPar) -> KRModel:
    """The :class:`KRModel` of a fit's variance parameters, built once and kept in ``varpar.cache``.

    Uses ``varpar.X``, ``levels``, ``templates()``, ``sigma``, ``beta``,
    ``beta_names`` and ``reml`` (Kenward-Roger is defined for REML fits).
    """
    model = varpar.cache.get("kenward_roger")
    if model is None:
        if not varpar.reml:
            raise ValueError("Kenward-Roger needs a REML fit; refit with method='REML'")
        model = kr_model(
            np.asarray(varpar.X, dtype=float),
            varpar.levels,
            varpar.templates(),
            float(varpar.sigma),
            np.asarray(varpar.beta, dtype=float),
            list(varpar.beta_names),
        )
        varpar.cache["kenward_roger"] = model
    return model


def kenward_roger(varpar: VarPar, L: Any) -> KRResult:
    r"""Kenward-Roger adjusted covariance, DF and F scaling for L beta (REML fits).

    Parameters
    ----------
    varpar : VarPar
        The variance parameters of a REML ``lme`` fit (``fit.varpar``).
    L : array_like (p,) or (m, p), or DataFrame with coefficient names as columns

    Returns
    -------
    KRResult
        ``vcov_adjusted`` Phi_A; per-row ``df`` and ``se``; ``df_joint``,
        ``F_scaling`` and the scaled ``F`` of the joint test.
    """
    return kenward_roger_from_model(kr_model_of(varpar), L)
