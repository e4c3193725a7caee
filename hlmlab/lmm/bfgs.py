r"""Unconstrained BFGS with a Wolfe line search, for the first stage of a fresh fit.

The first stage of :func:`~hlmlab.lmm.optimize.minimize_theta` searches
without bounds on nlme's log scale: a smooth problem in a handful of
variables (3 for a random intercept and slope), where each evaluation of the
criterion and its gradient costs some 50-100 microseconds. scipy's
L-BFGS-B spent more than that again per iteration in its Python wrappers, so
this stage uses the textbook method written for small dense problems
(Nocedal and Wright 2006, algorithms 6.1, 3.5 and 3.6):

- the direction is d = -H g, with H the BFGS approximation of the inverse
  Hessian; H starts as (s'y / y'y) I after the first step (their eq. 6.20),
  which is L-BFGS-B's scaling too;
- the first step is -g / |g| (unit length, as L-BFGS-B's), later steps try
  the full quasi-Newton step a = 1 first;
- the step length satisfies the strong Wolfe conditions
  f(x + a d) <= f(x) + c1 a g'd and |g(x + a d)'d| <= c2 |g'd|
  (c1 = 1e-4, c2 = 0.9), found by bracketing and safeguarded cubic
  interpolation; they keep s'y > 0, so H stays positive definite;
- it stops, as L-BFGS-B does, when an iteration lowers f by less than
  ``ftol`` max(|f|, 1) (relative) or when max |g| <= ``gtol``.

The answer is not trusted as such: the caller checks it with a
finite-difference Hessian and Newton steps, and runs the bounded search when
that check fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["BfgsResult", "bfgs", "wolfe_step"]

C1, C2 = 1e-4, 0.9


@dataclass
class BfgsResult:
    """Where the search ended: x, f(x), the gradient there, iterations, and why it stopped."""

    x: np.ndarray
    fun: float
    grad: np.ndarray
    nit: int
    message: str
    success: bool


def _cubic_min(a: float, fa: float, da: float, b: float, fb: float, db: float) -> float | None:
    """The minimiser of the cubic through (a, fa, fa') and (b, fb, fb'), or None when it has none."""
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    if disc < 0 or not math.isfinite(disc):
        return None
    d2 = math.copysign(math.sqrt(disc), b - a)
    denom = db - da + 2.0 * d2
    if denom == 0:
        return None
    t = b - (b - a) * (db + d2 - d1) / denom
    return t if math.isfinite(t) else None


def wolfe_step(
    fun_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x: np.ndarray,
    f0: float,
    g0: np.ndarray,
    d: np.ndarray,
    a1: float,
    max_evals: int = 20,
) -> tuple[float, float, np.ndarray] | None:
    """A step length a along d meeting the strong Wolfe conditions: (a, f(x + a d), g(x + a d)).

    Bracketing from ``a1`` (growing by up to 4 times per trial), then
    zooming by safeguarded cubic interpolation (Nocedal and Wright,
    algorithms 3.5 and 3.6). A non-finite criterion counts as too long a step.
    Returns the best point found with a sufficient decrease when the budget
    of ``max_evals`` evaluations runs out, and None when there is none.
    """
    dg0 = float(g0 @ d)
    best: tuple[float, float, np.ndarray] | None = None
    evals = 0

    def probe(a: float) -> tuple[float, np.ndarray, float]:
        nonlocal evals, best
        evals += 1
        fa, ga = fun_grad(x + a * d)
        fa = float(fa)
        if not math.isfinite(fa):
            return math.inf, ga, math.nan
        if fa <= f0 + C1 * a * dg0 and (best is None or fa < best[1]):
            best = (a, fa, ga)
        return fa, ga, float(ga @ d)

    def wolfe(a: float, fa: float, da: float) -> bool:
        return fa <= f0 + C1 * a * dg0 and abs(da) <= -C2 * dg0

    def zoom(lo: tuple, hi: tuple) -> tuple[float, float, np.ndarray] | None:
        while evals < max_evals:
            (a_lo, f_lo, d_lo), (a_hi, f_hi, d_hi) = lo, hi
            width = a_hi - a_lo
            t = None
            if math.isfinite(f_hi) and math.isfinite(d_hi):
                t = _cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi)
            lo_edge, hi_edge = sorted((a_lo + 0.1 * width, a_hi - 0.1 * width))
            if t is None or not lo_edge <= t <= hi_edge:
                t = a_lo + 0.5 * width
            ft, gt, dt = probe(t)
            if not math.isfinite(ft) or ft > f0 + C1 * t * dg0 or ft >= f_lo:
                hi = (t, ft, dt)
            else:
                if abs(dt) <= -C2 * dg0:
                    return t, ft, gt
                if dt * (a_hi - a_lo) >= 0:
                    hi = lo
                lo = (t, ft, dt)
            if abs(hi[0] - lo[0]) <= 1e-12 * max(abs(lo[0]), 1e-300):
                break
        return best

    prev = (0.0, f0, dg0)
    a = a1
    while evals < max_evals:
        fa, ga, da = probe(a)
        if not math.isfinite(fa) or fa > f0 + C1 * a * dg0 or (evals > 1 and fa >= prev[1]):
            return zoom(prev, (a, fa, da))
        if wolfe(a, fa, da):
            return a, fa, ga
        if da >= 0:
            return zoom((a, fa, da), prev)
        t = _cubic_min(prev[0], prev[1], prev[2], a, fa, da)
        step = a - prev[0]
        t = a + 4.0 * step if t is None or not a + 1.1 * step <= t <= a + 4.0 * step else t
        prev, a = (a, fa, da), t
    return best


def bfgs(
    fun_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    max_iter: int = 200,
    ftol: float = 1e-10,
    gtol: float = 1e-5,
    H0: np.ndarray | None = None,
) -> BfgsResult:
    """Minimise f without bounds by BFGS from x0 (see the module's notes).

    Parameters
    ----------
    fun_grad : callable
        x -> (f(x), gradient); f may be +inf where it is not defined.
    x0 : ndarray
    max_iter : int
    ftol : float
        Stop when an iteration lowers f by less than ftol max(|f_old|, |f|, 1).
    gtol : float
        Stop when max |g| <= gtol.

    Returns
    -------
    BfgsResult
    """
    x = np.array(x0, dtype=float)
    f, g = fun_grad(x)
    f, g = float(f), np.asarray(g, dtype=float)
    if not math.isfinite(f):
        return BfgsResult(x, f, g, 0, "the criterion is not finite at the start", False)
    n = len(x)
    H: np.ndarray | None = H0
    for it in range(1, max_iter + 1):
        if np.max(np.abs(g)) <= gtol:
            return BfgsResult(x, f, g, it - 1, "gradient below gtol", True)
        if H is None:
            d = -g
            a1 = 1.0 / math.sqrt(float(g @ g))
        else:
            d = -(H @ g)
            a1 = 1.0
            if float(g @ d) >= 0:  # not a descent direction (rounding): start again from steepest descent
                H, d, a1 = None, -g, 1.0 / math.sqrt(float(g @ g))
        step = wolfe_step(fun_grad, x, f, g, d, a1)
        if step is None:
            return BfgsResult(x, f, g, it, "the line search found no lower point", f < math.inf)
        a, fn, gn = step
        gn = np.asarray(gn, dtype=float)
        s, y = a * d, gn - g
        f_old = f
        x, f, g = x + s, fn, gn
        sy = float(s @ y)
        if sy > 1e-12 * math.sqrt(float(s @ s) * float(y @ y)):
            if H is None:
                H = np.eye(n) * (sy / float(y @ y))
            rho = 1.0 / sy
            Hy = H @ y
            H = H + ((sy + float(y @ Hy)) * rho * rho) * np.multiply.outer(s, s) - rho * (
                np.multiply.outer(Hy, s) + np.multiply.outer(s, Hy)
            )
        if f_old - f <= ftol * max(abs(f_old), abs(f), 1.0):
            return BfgsResult(x, f, g, it, "relative reduction of f below ftol", True)
    return BfgsResult(x, f, g, max_iter, "iteration limit reached", False)
