"""Checks that say whether to trust an optimum of the criterion (as lme4's ``checkConv``).

Kept apart from the search (:mod:`hlmlab.lmm.optimize`), which calls them:

- :func:`check_convergence`: at the optimum x, with gradient g and Hessian H
  of the criterion over the free coordinates (those not held at a bound),
  H must be positive definite and the scaled gradient |H^-1 g| (roughly, the
  Newton step still to go) at most ``GRAD_TOL``; and moving any coordinate
  held at its bound inward must not lower the criterion;
- :func:`at_bound` and :func:`is_singular`: a diagonal element of a template
  within ``SINGULAR_TOL`` of 0 is a boundary (singular) fit: a random-effect
  SD of zero or a correlation of +-1;
- :func:`boundary_confirmed`: with the exact gradient, whether a boundary
  optimum is a true one (the derivative one step inward is positive).

Every failure is returned as a message for the user, never hidden.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "SINGULAR_TOL",
    "GRAD_TOL",
    "SINGULAR_MESSAGE",
    "at_bound",
    "is_singular",
    "column_below",
    "inward_probes",
    "check_convergence",
    "boundary_confirmed",
]

#: a diagonal element of theta this close to 0 makes the fit "singular"
SINGULAR_TOL = 1e-4
#: largest acceptable |H^-1 g| (lme4 uses 2e-3 on the same scaled gradient)
GRAD_TOL = 1e-3

SINGULAR_MESSAGE = (
    "singular fit: a random-effect standard deviation is (close to) zero or a correlation is +-1, "
    "i.e. the estimated covariance matrix of the random effects is on the boundary of its space"
)


def at_bound(x: np.ndarray, lower: np.ndarray, tol: float | np.ndarray = SINGULAR_TOL) -> np.ndarray:
    """Which coordinates are held at (within ``tol`` of) a finite lower bound.

    ``tol`` may be one number or one per coordinate: the model passes
    ``SINGULAR_TOL / s_k`` for a template diagonal whose column has scale s_k,
    so that the test does not depend on the predictor's units.
    """
    return np.isfinite(lower) & (x - lower <= tol)


def is_singular(theta: np.ndarray, lower: np.ndarray, tol: float | np.ndarray = SINGULAR_TOL) -> bool:
    """A boundary fit: some template diagonal at (or within ``tol`` of) 0."""
    return bool(at_bound(np.asarray(theta, float), np.asarray(lower, float), tol).any())


def column_below(k: int, lower: np.ndarray) -> np.ndarray:
    """Indices of the free elements below diagonal element k in its template column.

    theta lists each template column by column, the diagonal (bounded) first,
    then the elements below it (free), so they are the free indices that follow k.
    """
    j = k + 1
    while j < len(lower) and not np.isfinite(lower[j]):
        j += 1
    return np.arange(k + 1, j)


def inward_probes(x: np.ndarray, k: int, lower: np.ndarray, steps: np.ndarray) -> list[np.ndarray]:
    """Points that move diagonal element k off its bound, keeping or flipping the sign of its column.

    When T_kk = 0 the sign of the rest of column k is arbitrary (T T' does not
    change when a whole column changes sign), but once T_kk > 0 it is not:
    the continuation of the optimum may need the opposite sign, which no
    search with T_kk >= 0 can reach continuously.
    """
    below = column_below(k, lower)
    out = []
    for step in steps:
        for flip in (False, True) if below.size and np.any(x[below] != 0) else (False,):
            z = x.copy()
            z[k] = lower[k] + step
            if flip:
                z[below] = -z[below]
            out.append(z)
    return out


def _positive_definite(H: np.ndarray) -> tuple[bool, float]:
    eig = np.linalg.eigvalsh(H)
    return bool(eig.min() > 0), float(eig.min())


def check_convergence(
    fun: Callable[[np.ndarray], float],
    x: np.ndarray,
    g: np.ndarray,
    H: np.ndarray,
    lower: np.ndarray,
    tol: float | np.ndarray = SINGULAR_TOL,
) -> list[str]:
    """What fails at x: the Hessian test, the scaled-gradient test, the inward test at bounds.

    Parameters
    ----------
    fun : the criterion; x : the optimum; g : its gradient at x;
    H : its Hessian at x (NaN on the coordinates held at a bound); lower : the bounds;
    tol : the distance to a bound that counts as on it (see :func:`at_bound`).

    Returns
    -------
    list of str
        One message per failed check (empty when the optimum passes).
    """
    bound = at_bound(x, lower, tol)
    idx = np.flatnonzero(~bound)
    failures: list[str] = []
    if idx.size:
        Hf = H[np.ix_(idx, idx)]
        pd_, smallest = _positive_definite(Hf)
        if pd_:
            scaled = np.linalg.solve(Hf, g[idx])
            if np.max(np.abs(scaled)) > GRAD_TOL:
                failures.append(
                    f"convergence check failed: scaled gradient |H^-1 g| = {np.max(np.abs(scaled)):.3g} > {GRAD_TOL}"
                )
        else:
            failures.append(
                f"the Hessian of the criterion is not positive definite at the optimum (smallest eigenvalue "
                f"{smallest:.3g}): the optimum may be a saddle point or poorly determined"
            )
    fx = fun(x)
    for k in np.flatnonzero(bound):
        step = np.array([1e-3 * max(float(np.max(np.abs(x))), 1e-2)])
        if any(fun(z) < fx - 1e-9 * max(1.0, abs(fx)) for z in inward_probes(x, k, lower, step)):
            failures.append(f"theta[{k}] is on its bound but the criterion decreases inward")
    return failures


def boundary_confirmed(
    gradient: Callable[[np.ndarray], np.ndarray] | None,
    x: np.ndarray,
    lower: np.ndarray,
    tol: float | np.ndarray = SINGULAR_TOL,
) -> bool:
    """Whether the gradient confirms a boundary optimum (exact gradient only).

    The criterion is even in a zero diagonal element theta_k of the
    template, so at theta_k = 0 its derivative vanishes; one step inward
    (theta_k = eps, with the column below kept or flipped in sign) the
    derivative is positive exactly when moving inward raises the criterion.
    Confirmed when it is positive at every such probe and the gradient in the
    free coordinates is small (the bounded search has converged there).
    """
    if gradient is None:
        return False
    bound = np.flatnonzero(at_bound(x, lower, tol))
    free = np.flatnonzero(~at_bound(x, lower, tol))
    if free.size:
        g = gradient(x)
        if not np.all(np.isfinite(g)) or np.max(np.abs(g[free])) > 1e-3:
            return False
    step = np.array([1e-3 * max(float(np.max(np.abs(x))), 1e-2)])
    for k in bound:
        for z in inward_probes(x, k, lower, step):
            gz = gradient(z)
            if not np.isfinite(gz[k]) or gz[k] <= 0:
                return False
    return True
