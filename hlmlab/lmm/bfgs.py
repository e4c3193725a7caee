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
  interpolation (:func:`wolfe_step`); they keep s'y > 0, so H stays
  positive definite;
- it stops, as L-BFGS-B does, when an iteration lowers f by less than
  ``ftol`` max(|f|, 1) (relative) or when max |g| <= ``gtol``.

The vectors and H are Python lists: for a few variables each numpy call
would cost more than its arithmetic (the BFGS update of a 3 x 3 H is some
20 microseconds in numpy, 2 in plain Python). Only the points handed to the
criterion are numpy arrays.

The answer is not trusted as such: the caller checks it with a
finite-difference Hessian and Newton steps, and runs the bounded search when
that check fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import mul

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


def _dot(a: list[float], b: list[float]) -> float:
    return sum(map(mul, a, b))


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
    phi: Callable[[float], tuple[float, float, object]],
    f0: float,
    d0: float,
    a1: float,
    max_evals: int = 20,
) -> tuple[float, float, object] | None:
    """A step length a meeting the strong Wolfe conditions for phi(a) = f(x + a d).

    Parameters
    ----------
    phi : callable
        a -> (f(x + a d), the derivative g(x + a d)'d, anything to hand back
        with the accepted step, such as the gradient).
    f0, d0 : float
        f(x) and g(x)'d (negative: d points downhill).
    a1 : float
        The first trial step.
    max_evals : int
        Budget of evaluations of phi.

    Returns
    -------
    (a, phi(a), the extra value of phi at a) or None
        Bracketing from ``a1`` (growing by up to 4 times per trial), then
        zooming by safeguarded cubic interpolation (Nocedal and Wright,
        algorithms 3.5 and 3.6). A non-finite f counts as too long a step.
        When the budget runs out, the best step with a sufficient decrease is
        returned; None when there is none.
    """
    best: tuple[float, float, object] | None = None
    evals = 0

    def probe(a: float) -> tuple[float, float, object]:
        nonlocal evals, best
        evals += 1
        fa, da, extra = phi(a)
        if not math.isfinite(fa):
            return math.inf, math.nan, extra
        if fa <= f0 + C1 * a * d0 and (best is None or fa < best[1]):
            best = (a, fa, extra)
        return fa, da, extra

    def zoom(lo: tuple[float, float, float], hi: tuple[float, float, float]):
        while evals < max_evals:
            (a_lo, f_lo, d_lo), (a_hi, f_hi, d_hi) = lo, hi
            width = a_hi - a_lo
            t = None
            if math.isfinite(f_hi) and math.isfinite(d_hi):
                t = _cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi)
            lo_edge, hi_edge = sorted((a_lo + 0.1 * width, a_hi - 0.1 * width))
            if t is None or not lo_edge <= t <= hi_edge:
                t = a_lo + 0.5 * width
            ft, dt, extra = probe(t)
            if not math.isfinite(ft) or ft > f0 + C1 * t * d0 or ft >= f_lo:
                hi = (t, ft, dt)
            else:
                if abs(dt) <= -C2 * d0:
                    return t, ft, extra
                if dt * (a_hi - a_lo) >= 0:
                    hi = lo
                lo = (t, ft, dt)
            if abs(hi[0] - lo[0]) <= 1e-12 * max(abs(lo[0]), 1e-300):
                break
        return best

    prev = (0.0, f0, d0)
    a = a1
    while evals < max_evals:
        fa, da, extra = probe(a)
        if not math.isfinite(fa) or fa > f0 + C1 * a * d0 or (evals > 1 and fa >= prev[1]):
            return zoom(prev, (a, fa, da))
        if abs(da) <= -C2 * d0:
            return a, fa, extra
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
    n = len(x0)
    x = [float(v) for v in x0]
    f, g = fun_grad(np.array(x))
    f, g = float(f), np.asarray(g, dtype=float).tolist()

    def result(nit: int, message: str, success: bool) -> BfgsResult:
        return BfgsResult(np.array(x), f, np.array(g), nit, message, success)

    if not math.isfinite(f):
        return result(0, "the criterion is not finite at the start", False)
    H: list[list[float]] | None = None
    for it in range(1, max_iter + 1):
        if max(map(abs, g)) <= gtol:
            return result(it - 1, "gradient below gtol", True)
        d = [-v for v in g] if H is None else [-_dot(row, g) for row in H]
        d0 = _dot(g, d)
        if H is not None and d0 >= 0:  # not a descent direction (rounding): steepest descent again
            H, d = None, [-v for v in g]
            d0 = _dot(g, d)
        a1 = 1.0 if H is not None else 1.0 / math.sqrt(-d0)

        def phi(a: float, x: list[float] = x, d: list[float] = d) -> tuple[float, float, list[float]]:
            fa, ga = fun_grad(np.array([xi + a * di for xi, di in zip(x, d)]))
            ga = np.asarray(ga, dtype=float).tolist()
            return float(fa), _dot(ga, d), ga

        step = wolfe_step(phi, f, d0, a1)
        if step is None:
            return result(it, "the line search found no lower point", True)
        a, fn, gn = step
        s = [a * di for di in d]
        y = [u - v for u, v in zip(gn, g)]
        f_old = f
        x, f, g = [xi + si for xi, si in zip(x, s)], fn, gn
        sy = _dot(s, y)
        if sy > 1e-12 * math.sqrt(_dot(s, s) * _dot(y, y)):
            if H is None:
                scale = sy / _dot(y, y)
                H = [[scale if i == j else 0.0 for j in range(n)] for i in range(n)]
            # H <- (I - rho s y') H (I - rho y s') + rho s s'
            #    = H + c s s' - rho (Hy s' + s Hy'),  rho = 1 / s'y, c = rho^2 (s'y + y'Hy)
            rho = 1.0 / sy
            Hy = [_dot(row, y) for row in H]
            c = rho * rho * (sy + _dot(y, Hy))
            H = [[H[i][j] + c * s[i] * s[j] - rho * (Hy[i] * s[j] + s[i] * Hy[j]) for j in range(n)] for i in range(n)]
        if f_old - f <= ftol * max(abs(f_old), abs(f), 1.0):
            return result(it, "relative reduction of f below ftol", True)
    return result(max_iter, "iteration limit reached", False)
