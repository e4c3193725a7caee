r"""The search for a refit: from a neighbouring optimum, with the last template diagonal squared.

A refit to a simulated response (``simulate_lrt``, ``refit(newresp=)``)
starts next to its answer, and that answer is often on the boundary: under
the null hypothesis of a random-slope test, most simulated data put the
slope's conditional variance at 0. On theta itself such a boundary is a poor
place to search: the criterion depends on the last diagonal element
t = T[q-1, q-1] of the template only through t^2, so its derivative there is
0 whatever the data say, and a bounded search cannot tell a true boundary
optimum from a false stop (the full search, :func:`~hlmlab.lmm.optimize.minimize_theta`,
spends most of its evaluations on probes and restarts for that reason).

On s = t^2 instead the boundary s >= 0 is an ordinary bound. Since
Psi = T T' = (the other columns) + s e_q e_q', the derivative in s is
N[q-1, q-1], where N is the derivative of the criterion in Psi
(:meth:`~hlmlab.lmm.onelevel.OneLevel.value_and_psi_gradient`): positive at
s = 0 exactly when the boundary is a minimum in that direction.

The search (:func:`projected_newton`) is a projected quasi-Newton method
(Bertsekas 1982): a finite-difference Hessian of the exact gradient at the
start, BFGS updates after each step, coordinates with a positive gradient
held at their bound. From the neighbouring optimum it converges in a handful
of steps, interior or boundary alike (about 6 evaluations for a random
intercept, 10 for an intercept and slope).

The answer must then pass a check as strict as any fit's: a fresh
finite-difference Hessian over the free coordinates, positive definite;
the Newton step still to go below 1e-4 (the full search allows 1e-3); a positive derivative (inward) at
every coordinate held at its bound. Otherwise, or when another diagonal
element of the template ends on its bound (where the sign of its column is
arbitrary and the full search's probes are needed), it returns None and the
caller runs the full search (:func:`~hlmlab.lmm.optimize.minimize_theta`):
this is a shortcut, never a different answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from hlmlab import _numdiff
from hlmlab.lmm.checkconv import SINGULAR_MESSAGE, SINGULAR_TOL, is_singular
from hlmlab.lmm.onelevel import OneLevel
from hlmlab.lmm.optimize import OptResult

__all__ = ["warm_search", "projected_newton"]

METHOD = "projected quasi-Newton from a warm start (last template diagonal squared)"
#: largest Newton step still to go (on the free coordinates) at an accepted answer (the full search allows 1e-3)
STEP_TOL = 1e-4
#: Newton steps on fresh finite-difference Hessians allowed, when the quasi-Newton search stalls
#: further than STEP_TOL from the optimum (an ill-conditioned Hessian whose BFGS estimate lags)
EXTRA_NEWTON_STEPS = 2


def warm_search(
    one: OneLevel,
    theta0: np.ndarray,
    lower: np.ndarray,
    singular_tol: float | np.ndarray = SINGULAR_TOL,
    hessian0: np.ndarray | None = None,
) -> OptResult | None:
    """Minimise the criterion from ``theta0`` with s = T[q-1, q-1]^2 as the last coordinate.

    Parameters
    ----------
    one : OneLevel
        The criterion (one level of random effects).
    theta0 : ndarray
        The start: the optimum of a closely related problem.
    lower : ndarray
        The bounds of theta (0 on the template diagonal).
    singular_tol : float or ndarray
        Distance to a bound that counts as on it (see :func:`~hlmlab.lmm.checkconv.at_bound`).
    hessian0 : ndarray, optional
        The Hessian in theta at ``theta0`` of the related problem (the parent
        fit's): a first curvature estimate, saving the finite differences at
        the start. Used when finite and positive definite.

    Returns
    -------
    OptResult or None
        The checked optimum, or None when the search or its checks fail (the
        caller then runs the full search).
    """
    theta0 = np.asarray(theta0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    last, q = len(theta0) - 1, one.q
    nfev = 0

    def theta_of(phi: np.ndarray) -> np.ndarray:
        theta = phi.copy()
        theta[last] = math.sqrt(max(float(phi[last]), 0.0))
        return theta

    def fun_grad(phi: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal nfev
        nfev += 1
        val, N, T = one.value_and_psi_gradient(theta_of(phi))
        if N is None:
            return math.inf, np.zeros_like(phi)
        g = one.theta_gradient(N, T)
        g[last] = N[q - 1, q - 1]
        return val, g

    phi0 = np.maximum(theta0, lower)
    phi0[last] = theta0[last] ** 2
    H0 = None
    if hessian0 is not None and theta0[last] > 0:  # d2/ds2 = d2/dt2 / (4 t^2) at a stationary point
        J = np.ones_like(phi0)
        J[last] = 2.0 * theta0[last]
        H0 = np.asarray(hessian0, dtype=float) / np.outer(J, J)
    with np.errstate(all="ignore"):
        found = projected_newton(fun_grad, phi0, lower, H0)
    if found is None:
        return None
    phi, val, g, H, held = found
    if np.any(held[:last]):  # another diagonal on its bound: the full search's probes decide
        return None
    theta = theta_of(phi)
    # the gradient and Hessian in theta (chain rule through t = sqrt(s)), NaN where held at the bound
    t = theta[last]
    J = np.ones_like(phi)
    J[last] = 2.0 * t
    g_theta = g * J
    H_theta = np.full((len(phi), len(phi)), np.nan)
    free = np.flatnonzero(~held)
    H_theta[np.ix_(free, free)] = H[np.ix_(free, free)] * np.outer(J[free], J[free])
    if not held[last]:
        H_theta[last, last] += 2.0 * g[last]
    singular = is_singular(theta, lower, singular_tol)
    return OptResult(
        theta=theta,
        fun=float(val),
        nfev=nfev,
        converged=True,
        singular=singular,
        gradient=g_theta,
        hessian=H_theta,
        method=METHOD,
        messages=[SINGULAR_MESSAGE] if singular else [],
        notes=[],
    )


def _snap_to_bounds(fun_grad: Callable, x: np.ndarray, f: float, g: np.ndarray, lower: np.ndarray):
    """x with a coordinate whose derivative points to its bound set on it, if that costs only rounding.

    Near a flat boundary optimum (a variance estimated as 0 in a poorly
    conditioned model) the line search stalls a hair's breadth from the
    bound, where the decrease still available is below the rounding of the
    criterion. Each such coordinate in turn is set on its bound, and kept
    there when the criterion stays within 1e-10 (relative) of f. Returns the
    new (x, f, g), or None when no coordinate moved.
    """
    out = None
    for i in np.flatnonzero(np.isfinite(lower) & (x > lower) & (g > 0)):
        z = x.copy()
        z[i] = lower[i]
        fz, gz = fun_grad(z)
        if math.isfinite(fz) and fz <= f + 1e-10 * max(1.0, abs(f)):
            x, f, g = z, fz, gz
            out = (z, fz, gz)
    return out


def _newton_step(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """-H^-1 g, with H's eigenvalues made positive first where H is not (a step downhill all the same)."""
    w, V = np.linalg.eigh(H)
    if w[0] <= 1e-12 * max(float(w[-1]), 1e-300):
        w = np.maximum(np.abs(w), 1e-8 * max(float(np.abs(w).max()), 1e-300))
    return -(V @ ((V.T @ g) / w))


def _positive_definite(H: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(H)) and np.linalg.eigvalsh(H).min() > 0)


def _hessian(fun_grad: Callable, x: np.ndarray, g: np.ndarray, idx: np.ndarray) -> np.ndarray | None:
    """Forward differences of the exact gradient over the coordinates idx (steps inward from a bound)."""
    h = _numdiff.steps(x[idx], 1e-5)
    H = np.empty((idx.size, idx.size))
    for a, k in enumerate(idx):
        z = x.copy()
        z[k] += h[a]
        val, gz = fun_grad(z)
        if not math.isfinite(val):
            return None
        H[:, a] = (gz[idx] - g[idx]) / h[a]
    return (H + H.T) / 2


def projected_newton(
    fun_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    lower: np.ndarray,
    hessian0: np.ndarray | None = None,
    max_iter: int = 50,
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray] | None:
    """Minimise f(x) subject to x >= lower from a good start (a projected quasi-Newton method).

    At each step the coordinates held at their bound are those on it with a
    positive derivative (Bertsekas 1982); on the others the step is
    -H^-1 g, projected onto the bounds and halved until the criterion falls
    (Armijo's rule). H starts as a finite-difference Hessian of the exact
    gradient and is updated by BFGS after each step. The search stops when the
    Newton step still to go is below 1e-9 (relative), or when the line search
    can no longer lower the criterion (its rounding reached); then a fresh
    finite-difference Hessian over the free coordinates must be positive
    definite, the step still to go below ``STEP_TOL`` (that step is then
    taken, when it lowers the gradient), and the derivative positive at
    every held coordinate. When the quasi-Newton search stalled further
    away (its Hessian estimate lagging on an ill-conditioned problem), up to
    ``EXTRA_NEWTON_STEPS`` Newton steps on fresh Hessians are taken first,
    each kept only when it lowers the gradient without raising the criterion
    beyond its rounding.

    ``hessian0``, when given and positive definite, replaces the first
    finite-difference Hessian (a refit passes its parent fit's).

    Returns
    -------
    (x, f(x), gradient, Hessian (over all coordinates; only the free block is
    meaningful), held) or None when any of this fails.
    """
    bounded = np.isfinite(lower)
    x = np.maximum(np.asarray(x0, dtype=float), lower)
    f, g = fun_grad(x)
    if not math.isfinite(f):
        return None
    if hessian0 is not None and _positive_definite(hessian0):
        H = np.array(hessian0, dtype=float)
    else:
        H = _hessian(fun_grad, x, g, np.arange(len(x)))
    if H is None:
        return None
    converged = False
    for _ in range(max_iter):
        held = bounded & (x <= lower) & (g > 0)
        d = np.zeros_like(x)
        if not held.any():
            d = _newton_step(H, g)
        elif not held.all():
            free = np.flatnonzero(~held)
            d[free] = _newton_step(H[np.ix_(free, free)], g[free])
        scale = np.maximum(np.abs(x), 1.0)
        if np.max(np.abs(d) / scale) < 1e-9:
            converged = True
            break
        a = 1.0
        for _ in range(30):
            xn = np.maximum(x + a * d, lower)
            fn, gn = fun_grad(xn)
            if math.isfinite(fn) and fn <= f + 1e-4 * float(g @ (xn - x)):
                break
            a *= 0.5
        else:  # no descent left at this precision: a bound the gradient points to may still be the answer
            snapped = _snap_to_bounds(fun_grad, x, f, g, lower)
            if snapped is None:  # stalled at the rounding of f: the final check below decides
                converged = True
                break
            xn, fn, gn = snapped
        s, y = xn - x, gn - g
        x, g, f_old, f = xn, gn, f, fn
        sy = float(s @ y)
        if sy > 1e-12 * math.sqrt(float(s @ s) * float(y @ y)):  # BFGS update (skipped when not curving up)
            Hs = H @ s
            H = H - np.multiply.outer(Hs, Hs) / float(s @ Hs) + np.multiply.outer(y, y) / sy
        if abs(f_old - f) <= 1e-15 * max(1.0, abs(f)) and np.max(np.abs(s) / scale) < 1e-9:
            converged = True
            break
    if not converged:
        return None
    held = bounded & (x <= lower) & (g > 0)
    free = np.flatnonzero(~held)
    Hfull = np.full((len(x), len(x)), np.nan)
    if free.size:
        for newton in range(1 + EXTRA_NEWTON_STEPS):
            Hf = _hessian(fun_grad, x, g, free)
            if Hf is None or np.linalg.eigvalsh(Hf).min() <= 0:
                return None
            step = np.linalg.solve(Hf, g[free])
            small = np.max(np.abs(step)) <= STEP_TOL
            if not small and newton == EXTRA_NEWTON_STEPS:
                return None
            # a Newton step on the fresh Hessian: the answer to the limit of the arithmetic
            # (or, when the quasi-Newton search stalled short of it, a step closer)
            xn = x.copy()
            xn[free] = np.maximum(x[free] - step, lower[free])
            fn, gn = fun_grad(xn)
            # the final step must not raise f beyond 1e-12 (relative); a step from a stall may raise it within
            # the criterion's rounding (1e-10, as in _snap_to_bounds) when it cuts the gradient
            slack = 1e-12 if small else 1e-10
            better = math.isfinite(fn) and fn <= f + slack * max(1.0, abs(f))
            if better and np.abs(gn[free]).sum() < np.abs(g[free]).sum():
                x, f, g = xn, fn, gn
            elif not small:
                return None
            if small:
                break
        Hfull[np.ix_(free, free)] = Hf
    if np.any(bounded & (x <= lower) & (g <= 0) & (np.abs(g) > 0)):
        return None  # on a bound with the criterion falling inward
    return x, f, g, Hfull, held
