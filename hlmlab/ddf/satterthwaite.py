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
``contestMD``: eigen-decompose L C L' = P D P' (d_1 >= d_2 >= ...); keep the
r = rank(L) leading directions (hlmlab's one rank rule,
:func:`hlmlab.ddf._lmatrix.rank`); each direction l_k = P_k'L has its own
nu_k = 2 d_k^2 / (g_k'A g_k); then

.. math::

    E = \sum_{k=1}^{r} \frac{\nu_k}{\nu_k - 2}, \qquad
    \nu_F = \frac{2E}{E - r}

(nu_F = nu_1 when r = 1, the mean of the nu_k when they are all equal, and
2 when some nu_k <= 2).

The derivatives dC/dphi_i are central differences with Richardson
extrapolation (:func:`hlmlab._numdiff.richardson_jacobian`, as numDeriv's
``jacobian``, which lmerTest uses): about ten significant digits, at 8
evaluations of C per parameter.

A mixed-model fit hands its variance parameters over explicitly as a
``VarPar`` (``fit.varpar``: ``phi``, ``vcov_beta(phi)``, ``cov`` = A,
``deviance(phi)``, ``beta``, ``beta_names`` and a ``cache``); everything else
here is plain linear algebra on p x p matrices, independent of the number of
rows.

At a boundary fit (a template diagonal theta_k = 0), C(phi) is even in
theta_k, so dC/dtheta_k = 0 and that parameter costs no DF; DF can then
jump relative to a nearby interior fit (hs by ML: lmerTest's interior
optimum, 9e-4 away, gives ``ses`` 197 DF, the boundary optimum 687).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hlmlab import _numdiff
from hlmlab.ddf._lmatrix import as_array, rank

if TYPE_CHECKING:  # pragma: no cover
    from hlmlab.lmm.varpar import VarPar

__all__ = [
    "SatterthwaiteResult",
    "SatterthwaiteParts",
    "satterthwaite_df",
    "satterthwaite_parts",
    "vcov_jacobian",
    "satterthwaite_nu",
    "joint_df",
    "varpar_cov",
]


@dataclass(frozen=True)
class SatterthwaiteResult:
    """Denominator DF of each row of L and of the joint F test of L beta = 0.

    Attributes
    ----------
    df : ndarray, shape (m,)
        Satterthwaite DF of each row l of L (NaN for a row with l'Cl = 0).
    df_joint : float
        Denominator DF of the joint F test (nu_F above).
    rank : int
        Numerator DF of the joint test: the rank of L.
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
    """What the Satterthwaite DF need, at the optimum: C(phi), phi-hat, A, beta-hat.

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
    cache : dict
        Where the Jacobian of C is kept once computed.
    """

    vcov: Callable[[np.ndarray], np.ndarray]
    phi: np.ndarray
    A: np.ndarray
    beta: np.ndarray
    names: list[str] | None = None
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def C(self) -> np.ndarray:
        """Cov(beta-hat) at phi-hat."""
        return np.asarray(self.vcov(self.phi), dtype=float)

    @property
    def jacobian(self) -> np.ndarray:
        """dC/dphi at phi-hat (:func:`vcov_jacobian`), computed once."""
        if "satterthwaite_jacobian" not in self.cache:
            self.cache["satterthwaite_jacobian"] = vcov_jacobian(self.vcov, self.phi)
        return self.cache["satterthwaite_jacobian"]


def satterthwaite_parts(varpar: VarPar) -> SatterthwaiteParts:
    """C(phi), phi-hat, A and beta-hat from a fit's variance parameters.

    A = ``varpar.cov`` (2 H^-1). When that is not finite (the Hessian H of the
    deviance is not positive definite, e.g. at a boundary fit), A = 2 H^+ from
    ``varpar.deviance`` (:func:`varpar_cov`), as lmerTest does. The parts are
    kept in ``varpar.cache``, so the Jacobian of C is computed once per fit.
    """
    cache = varpar.cache
    parts = cache.get("satterthwaite_parts")
    if parts is None:
        phi = np.asarray(varpar.phi, dtype=float)
        A = np.asarray(varpar.cov, dtype=float)
        if not np.all(np.isfinite(A)):
            A = varpar_cov(varpar.deviance, phi)
        parts = SatterthwaiteParts(
            vcov=varpar.vcov_beta,
            phi=phi,
            A=A,
            beta=np.asarray(varpar.beta, dtype=float),
            names=list(varpar.beta_names),
            cache=cache,
        )
        cache["satterthwaite_parts"] = parts
    return parts


# ---------------------------------------------------------------------------
# the math
# ---------------------------------------------------------------------------
def vcov_jacobian(
    vcov: Callable[[np.ndarray], np.ndarray],
    phi: np.ndarray,
    rel_step: float = 1e-4,
    levels: int = 4,
) -> np.ndarray:
    r"""dC/dphi_i for each variance parameter: shape (k, p, p), each slice symmetrised.

    Central differences D(h) = [C(phi + h e_i) - C(phi - h e_i)] / (2h) at
    h, h/2, ..., h/2^(levels-1), combined by Richardson extrapolation
    (error O(h^(2 levels))), with h = rel_step max(|phi_i|, 1e-3)
    (:func:`hlmlab._numdiff.richardson_jacobian`; numDeriv's d = 1e-4).
    Parameters on a bound (theta_i = 0) are differenced symmetrically too:
    C is defined, and smooth, on both sides.
    """
    phi = np.asarray(phi, dtype=float)
    J = _numdiff.richardson_jacobian(vcov, phi, rel=rel_step, levels=levels)
    return (J + np.swapaxes(J, -1, -2)) / 2


def varpar_cov(deviance: Callable[[np.ndarray], float], phi: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    r"""A = 2 H^+: asymptotic covariance of the variance parameters.

    H is the Hessian of the deviance (-2 log-likelihood with beta profiled
    out, not sigma) at phi-hat; ``^+`` is the Moore-Penrose inverse over the
    eigenvalues above ``tol``, as lmerTest does, so a boundary fit (a zero
    eigenvalue) still gives DF for the directions that are determined.
    H is :func:`hlmlab._numdiff.richardson_hessian` with numDeriv's steps
    (10% of each parameter, 1e-4 at zero): near a boundary the deviance is
    nearly flat (even) in a diagonal theta, and small steps would drown its
    curvature in rounding error.
    """
    H = _numdiff.richardson_hessian(deviance, np.asarray(phi, dtype=float), rel=0.1, levels=4)
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


def satterthwaite_df(source: VarPar | SatterthwaiteParts, L: Any) -> SatterthwaiteResult:
    r"""Satterthwaite DF of each row of L and of the joint F test of L beta = 0.

    Parameters
    ----------
    source : VarPar or SatterthwaiteParts
        A fit's variance parameters (``fit.varpar``), or the parts given
        explicitly.
    L : array_like, shape (p,) or (m, p), or DataFrame with coefficient names as columns
        The contrasts, one per row.

    Returns
    -------
    SatterthwaiteResult
        ``df`` per row: nu = 2 (l'Cl)^2 / (g'Ag), g_i = l'(dC/dphi_i)l;
        ``df_joint``: 2E/(E - r) over the r = rank(L) leading eigen-directions
        of L C L' (Kuznetsova et al. 2017; lmerTest's ``contest``); ``rank`` r
        and ``F``, the Wald F statistic.

    Notes
    -----
    The derivatives of C are computed once per fit (8 evaluations of C per
    variance parameter) and cached, so further contrasts cost O(m p^2 k).
    """
    parts = source if isinstance(source, SatterthwaiteParts) else satterthwaite_parts(source)
    C = parts.C
    L = as_array(L, parts.names if parts.names is not None else C.shape[0])
    jac = parts.jacobian
    A = parts.A
    rows = np.array([satterthwaite_nu(l, C, jac, A) for l in L])
    # joint test: the rank(L) leading eigen-directions of L C L'
    d, P = np.linalg.eigh(L @ C @ L.T)
    order = np.argsort(d)[::-1]
    d, P = d[order], P[:, order]
    r = rank(L)
    PtL = P[:, :r].T @ L
    nu = np.array([satterthwaite_nu(PtL[k], C, jac, A) for k in range(r)])
    est = PtL @ parts.beta
    F = float(np.sum(est**2 / d[:r]) / r) if r else float("nan")
    return SatterthwaiteResult(df=rows, df_joint=joint_df(nu), rank=r, nu=nu, F=F)
