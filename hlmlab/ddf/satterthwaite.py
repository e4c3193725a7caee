r"""Satterthwaite denominator degrees of freedom for contrasts of fixed effects.

For a linear mixed model with variance parameters phi (lmerTest uses
phi = (theta, sigma); any smooth parameterisation gives the same answer at
an interior optimum), write

- C(phi) = Cov(beta-hat) as a function of phi, e.g. sigma^2 (R_X'R_X)^{-1}(theta);
- A = the asymptotic covariance of phi-hat, twice the inverse Hessian of the
  deviance (-2 log-likelihood, REML or ML, beta profiled out) in phi.

**One contrast** l (Kuznetsova, Brockhoff and Christensen 2017, J. Stat.
Softw. 82(13), eqs. 5-7; Satterthwaite 1946): l'C l is approximated by a
scaled chi-square whose DF matches its first two moments,

.. math::

    \nu = \frac{2 (l'Cl)^2}{g'Ag}, \qquad g_i = l' \frac{\partial C}{\partial\phi_i} l .

**Several contrasts** L (m x p, the joint F test of L beta = 0), as lmerTest's
``contestMD``: eigen-decompose L C L' = P D P'; the rank r counts the
eigenvalues d_k > eps d_1 (eps = sqrt(machine epsilon)); each direction
l_k = P_k'L has its own nu_k = 2 d_k^2 / (g_k'A g_k); then

.. math::

    E = \sum_{k=1}^{r} \frac{\nu_k}{\nu_k - 2}, \qquad
    \nu_F = \frac{2E}{E - r}

(nu_F = nu_1 when r = 1, the mean of the nu_k when they are all equal, and
2 when some nu_k <= 2).

The derivatives dC/dphi_i are central differences with Richardson
extrapolation (as numDeriv's ``jacobian``, which lmerTest uses): about ten
significant digits, at 8 evaluations of C per parameter.

The fit supplies C(phi), phi-hat and A through three attributes (see
:func:`satterthwaite_parts`); everything else here is plain linear algebra
on p x p matrices, independent of the number of rows.

At a boundary fit (a template diagonal theta_k = 0), C(phi) is even in
theta_k, so dC/dtheta_k = 0 and that parameter costs no DF; DF can then
jump relative to a nearby interior fit (hs by ML: lmerTest's interior
optimum, 9e-4 away, gives ``ses`` 197 DF, the boundary optimum 687).
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ContrastDF",
    "SatterthwaiteParts",
    "satterthwaite_df",
    "satterthwaite_parts",
    "vcov_jacobian",
    "satterthwaite_nu",
    "joint_df",
    "contrast_matrix",
    "hessian",
    "varpar_cov",
    "satterthwaite_contrast_df",
]

#: Relative eigenvalue tolerance of the rank of L C L' (lmerTest: sqrt(.Machine$double.eps)).
RANK_TOL = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class ContrastDF:
    """Denominator DF of each row of L and of the joint F test of L beta = 0.

    Attributes
    ----------
    df : ndarray, shape (m,)
        Satterthwaite DF of each row l of L (NaN for a row with l'Cl = 0).
    df_joint : float
        Denominator DF of the joint F test (nu_F above).
    rank : int
        Numerator DF of the joint test: the rank of L C L'.
    nu : ndarray, shape (rank,)
        DF of each eigen-direction of L C L' (largest eigenvalue first).
    F : float
        The Wald F statistic (L beta)'(L C L')^+ (L beta) / rank, from the
        eigen-directions kept.
    """

    df: np.ndarray
    df_joint: float
    rank: int
    nu: np.ndarray
    F: float


@dataclass(frozen=True, eq=False)
class SatterthwaiteParts:
    """What the Satterthwaite DF needs from a fit, at its optimum.

    Attributes
    ----------
    vcov : Callable[[ndarray], ndarray]
        phi -> Cov(beta-hat) (p x p) at those variance parameters.
    phi : ndarray, shape (k,)
        The estimated variance parameters.
    A : ndarray, shape (k, k)
        Asymptotic covariance of phi-hat (2 x inverse Hessian of the deviance).
    beta : ndarray, shape (p,)
        beta-hat (for the F statistic).
    names : list of str or None
        Coefficient names, to align an L given as a DataFrame.
    """

    vcov: Callable[[np.ndarray], np.ndarray]
    phi: np.ndarray
    A: np.ndarray
    beta: np.ndarray
    names: list[str] | None = None

    @property
    def C(self) -> np.ndarray:
        """Cov(beta-hat) at phi-hat."""
        return np.asarray(self.vcov(self.phi), dtype=float)


# ---------------------------------------------------------------------------
# getting the parts from a fit
# ---------------------------------------------------------------------------
#: Attribute names tried, in order, on a fit: C(phi), phi-hat, A.
_VCOV_HOOKS = ("vcov_at", "vcov_beta_at", "vcov_fn")
_PHI_HOOKS = ("varpar", "phi")
_A_HOOKS = ("varpar_cov", "vcov_varpar", "phi_cov")


def _first_attr(fit: Any, names: tuple[str, ...], what: str) -> Any:
    for name in names:
        val = getattr(fit, name, None)
        if val is not None:
            return val
    raise AttributeError(
        f"the fit does not expose {what} (looked for {', '.join(names)}); "
        "Satterthwaite DF need Cov(beta-hat) as a function of the variance parameters "
        "and the asymptotic covariance of those parameters"
    )


def satterthwaite_parts(fit: Any) -> SatterthwaiteParts:
    """C(phi), phi-hat, A and beta-hat from a fitted model (cached per fit).

    A :class:`SatterthwaiteParts` is returned as is. Otherwise the fit must
    expose Cov(beta-hat) as a function of the variance parameters
    (``vcov_beta_at(phi)``), the estimated parameters (``varpar``) and their
    asymptotic covariance (``vcov_varpar``); see ``_VCOV_HOOKS`` etc. for the
    names accepted. When that covariance is not finite (the fit found its
    Hessian not positive definite) and the fit has ``deviance_at(phi)``, A is
    recomputed here as 2 H^+ (:func:`varpar_cov`), as lmerTest does.
    """
    if isinstance(fit, SatterthwaiteParts):
        return fit
    try:
        return _PARTS_CACHE[fit]
    except (KeyError, TypeError):
        pass
    vcov = _first_attr(fit, _VCOV_HOOKS, "Cov(beta-hat) as a function of the variance parameters")
    phi = _first_attr(fit, _PHI_HOOKS, "the variance parameters")
    A = _first_attr(fit, _A_HOOKS, "the asymptotic covariance of the variance parameters")
    A = np.asarray(A() if callable(A) else A, dtype=float)
    phi = np.asarray(phi() if callable(phi) else phi, dtype=float)
    deviance_at = getattr(fit, "deviance_at", None)
    if not np.all(np.isfinite(A)) and callable(deviance_at):
        # the fit's Hessian was not positive definite (e.g. a boundary fit):
        # use the Moore-Penrose inverse over the determined directions, as lmerTest
        A = varpar_cov(deviance_at, phi)
    beta = getattr(fit, "fixef")
    names = list(beta.index) if isinstance(beta, pd.Series) else None
    parts = SatterthwaiteParts(
        vcov=vcov,
        phi=phi,
        A=A,
        beta=np.asarray(beta, dtype=float),
        names=names,
    )
    try:
        _PARTS_CACHE[fit] = parts
    except TypeError:
        pass
    return parts


_PARTS_CACHE: "weakref.WeakKeyDictionary[Any, SatterthwaiteParts]" = weakref.WeakKeyDictionary()
_JAC_CACHE: "weakref.WeakKeyDictionary[SatterthwaiteParts, np.ndarray]" = weakref.WeakKeyDictionary()


def contrast_matrix(L: Any, p: int, names: list[str] | None = None) -> np.ndarray:
    """L as an (m, p) float array.

    A 1-d array is one row; a DataFrame (or Series) with coefficient names
    as columns (index) is aligned to ``names`` (missing names count as 0).
    """
    if isinstance(L, pd.Series):
        L = L.to_frame().T
    if isinstance(L, pd.DataFrame) and names is not None:
        unknown = [c for c in L.columns if c not in names]
        if unknown:
            raise KeyError(f"L has columns that are not coefficients: {unknown}; coefficients are {names}")
        L = L.reindex(columns=names, fill_value=0.0)
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if L.ndim != 2 or L.shape[1] != p:
        raise ValueError(f"L must have {p} columns (one per fixed effect), got shape {L.shape}")
    return L


# ---------------------------------------------------------------------------
# the math
# ---------------------------------------------------------------------------
def vcov_jacobian(
    vcov: Callable[[np.ndarray], np.ndarray],
    phi: np.ndarray,
    rel_step: float = 1e-4,
    levels: int = 4,
) -> np.ndarray:
    r"""dC/dphi_i for each variance parameter: shape (k, p, p).

    Central differences D(h) = [C(phi + h e_i) - C(phi - h e_i)] / (2h) at
    h, h/2, ..., h/2^(levels-1), combined by Richardson extrapolation
    (error O(h^(2 levels))); h = rel_step (|phi_i| + 1e-3) as numDeriv's
    default (d = 1e-4). Parameters on a bound (theta_i = 0) are differenced
    symmetrically too: C is defined, and smooth, on both sides.
    """
    phi = np.asarray(phi, dtype=float)
    k = phi.size
    out = []
    for i in range(k):
        h = rel_step * (abs(phi[i]) + 1e-3)
        table = []
        for lev in range(levels):
            e = np.zeros(k)
            e[i] = h / 2**lev
            table.append((np.asarray(vcov(phi + e)) - np.asarray(vcov(phi - e))) / (2 * e[i]))
        for m in range(1, levels):
            f = 4.0**m
            table = [(f * table[j + 1] - table[j]) / (f - 1) for j in range(len(table) - 1)]
        D = table[0]
        out.append((D + D.T) / 2)
    return np.array(out).reshape(k, *np.shape(vcov(phi)))


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, rel_step: float = 0.1, levels: int = 4) -> np.ndarray:
    r"""Hessian of a scalar function by central differences with Richardson extrapolation.

    H_ij(h) = [f(x + h_i e_i + h_j e_j) - f(x + h_i e_i - h_j e_j)
               - f(x - h_i e_i + h_j e_j) + f(x - h_i e_i - h_j e_j)] / (4 h_i h_j)

    (for i = j the second difference with step 2 h_i), at h, h/2, ...,
    h/2^(levels-1), extrapolated (error O(h^(2 levels))). Steps as numDeriv's
    ``hessian`` (which lmerTest uses): h_i = rel_step |x_i|, or 1e-4 when
    |x_i| < 1.8e-5. Large relative steps matter near a boundary: there the
    deviance is nearly flat (even) in a diagonal theta, and small steps drown
    its curvature in rounding error.
    """
    x = np.asarray(x, dtype=float)
    k = x.size
    zero_tol = np.sqrt(np.finfo(float).eps / 7e-7)
    h0 = np.where(np.abs(x) < zero_tol, 1e-4, rel_step * np.abs(x))
    table = []
    for lev in range(levels):
        h = h0 / 2**lev
        H = np.empty((k, k))
        for i in range(k):
            for j in range(i, k):
                ei = np.zeros(k)
                ej = np.zeros(k)
                ei[i], ej[j] = h[i], h[j]
                val = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
                H[i, j] = H[j, i] = val
        table.append(H)
    for m in range(1, levels):
        c = 4.0**m
        table = [(c * table[j + 1] - table[j]) / (c - 1) for j in range(len(table) - 1)]
    return table[0]


def varpar_cov(deviance: Callable[[np.ndarray], float], phi: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    r"""A = 2 H^+: asymptotic covariance of the variance parameters.

    H is the Hessian of the deviance (-2 log-likelihood with beta profiled
    out, not sigma) at phi-hat; ``^+`` is the Moore-Penrose inverse over the
    eigenvalues above ``tol``, as lmerTest does, so a boundary fit (a zero
    eigenvalue) still gives DF for the directions that are determined.
    """
    H = hessian(deviance, phi)
    w, V = np.linalg.eigh((H + H.T) / 2)
    pos = w > tol
    return 2.0 * (V[:, pos] / w[pos]) @ V[:, pos].T


def satterthwaite_nu(l: np.ndarray, C: np.ndarray, jac: np.ndarray, A: np.ndarray) -> float:
    r"""nu = 2 (l'Cl)^2 / (g'Ag), g_i = l' (dC/dphi_i) l, for one contrast l.

    NaN when l'Cl = 0 (a null contrast); inf when g'Ag = 0 (the contrast's
    variance does not depend on the estimated variance parameters).
    """
    v = float(l @ C @ l)
    if v <= 0:
        return float("nan")
    g = np.einsum("p,kpq,q->k", l, jac, l)
    denom = float(g @ A @ g)
    return float("inf") if denom <= 0 else 2.0 * v * v / denom


def joint_df(nu: np.ndarray, tol: float = 1e-8) -> float:
    r"""Denominator DF of an F test from the DF of its eigen-directions.

    nu_F = 2E / (E - r), E = sum nu_k / (nu_k - 2) (Fai and Cornelius 1996;
    lmerTest's ``get_Fstat_ddf``): nu_1 for one direction, the mean when all
    are equal (within ``tol``), 2 when some nu_k <= 2.
    """
    nu = np.asarray(nu, dtype=float)
    if nu.size == 0:
        return float("nan")
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2)))
    return 2 * E / (E - nu.size)


def satterthwaite_df_parts(parts: SatterthwaiteParts, L: Any, jac: np.ndarray | None = None) -> ContrastDF:
    """:func:`satterthwaite_df` on explicit parts (C(phi), phi-hat, A, beta-hat)."""
    C = parts.C
    p = C.shape[0]
    L = contrast_matrix(L, p, parts.names)
    if jac is None:
        jac = _JAC_CACHE.get(parts)
        if jac is None:
            jac = vcov_jacobian(parts.vcov, parts.phi)
            _JAC_CACHE[parts] = jac
    A = parts.A
    rows = np.array([satterthwaite_nu(l, C, jac, A) for l in L])
    # joint test: eigen-directions of L C L'
    d, P = np.linalg.eigh(L @ C @ L.T)
    order = np.argsort(d)[::-1]
    d, P = d[order], P[:, order]
    keep = d > max(RANK_TOL * d[0], 0.0) if d.size else np.zeros(0, bool)
    r = int(keep.sum())
    PtL = P[:, keep].T @ L
    nu = np.array([satterthwaite_nu(PtL[k], C, jac, A) for k in range(r)])
    est = PtL @ parts.beta
    F = float(np.sum(est**2 / d[keep]) / r) if r else float("nan")
    return ContrastDF(df=rows, df_joint=joint_df(nu), rank=r, nu=nu, F=F)


def satterthwaite_df(fit: Any, L: Any) -> ContrastDF:
    r"""Satterthwaite DF of each row of L and of the joint F test of L beta = 0.

    Parameters
    ----------
    fit : fitted mixed model
        Exposes Cov(beta-hat) as a function of the variance parameters, their
        estimate and their asymptotic covariance (see
        :func:`satterthwaite_parts`), or a :class:`SatterthwaiteParts`.
    L : array_like, shape (p,) or (m, p), or DataFrame with coefficient names as columns
        The contrasts, one per row.

    Returns
    -------
    ContrastDF
        ``df`` per row: nu = 2 (l'Cl)^2 / (g'Ag), g_i = l'(dC/dphi_i)l;
        ``df_joint``: 2E/(E - r) over the eigen-directions of L C L'
        (Kuznetsova et al. 2017; lmerTest's ``contest``); ``rank`` r and
        ``F``, the Wald F statistic.

    Notes
    -----
    The derivatives of C are computed once per fit (8 evaluations of C per
    variance parameter) and cached, so further contrasts cost O(m p^2 k).
    """
    return satterthwaite_df_parts(satterthwaite_parts(fit), L)


def satterthwaite_contrast_df(fit: Any, L: Any) -> tuple[np.ndarray, float]:
    """``(row_df, joint_df)`` as :func:`hlmlab.ddf.contrast_df` expects.

    Register with ``ddf.METHODS["satterthwaite"] = satterthwaite_contrast_df``.
    """
    res = satterthwaite_df(fit, L)
    return res.df, res.df_joint
