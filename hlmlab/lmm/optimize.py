"""Bounded optimisation of theta, with the checks that say whether to trust the optimum.

The profiled criterion d(theta) (:mod:`hlmlab.lmm.pls`) is minimised
subject to theta_k >= 0 for the diagonal elements of each template (the
others are free). The bound is what makes a singular fit (a variance or a
correlation on the edge of its space) reachable.

The search uses the exact gradient (one level of random effects,
:class:`hlmlab.lmm.onelevel.OneLevel`) or finite differences (nested
levels), in two stages: first BFGS without bounds on nlme's log scale for
the diagonal elements (:mod:`hlmlab.lmm.bfgs`; it cannot stop on a false
boundary optimum), then, unless Newton steps from there already reach a
checked interior optimum, L-BFGS-B on theta itself within the bounds (which
can reach a true boundary optimum). Compared with a bounded search alone
(and with Powell, Nelder-Mead and COBYQA) this reached R's polished optimum
on every reference case with the fewest evaluations. Then the answer is
checked:

- the gradient g and a finite-difference Hessian H over the free
  coordinates (those not held at a bound); the scaled gradient H^-1 g
  (roughly, the Newton step still to go) should be tiny, and H positive
  definite;
- if a diagonal element of theta is at or within 1e-4 of 0, the fit is
  flagged singular (a boundary fit); the search restarts from a point moved
  inward and from a derivative-free search (Powell), and keeps whichever
  criterion is lowest;
- a few Newton steps on that Hessian polish the answer to the limit of the
  arithmetic (so that equivalent data give the same fit to many digits);
- a singular answer with 3 or more parameters (exact gradient) is searched
  for again from two other starts, since the boundary can hold several
  local minima (:func:`minimize_theta`, ``EXTRA_START_SCALES``).

Every message is kept on the result (and later on the fit), never hidden.

A refit starts from its parent's optimum instead (:mod:`hlmlab.lmm.warm`)
and comes here only when that shorter search fails its own check.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize

from hlmlab import _numdiff
from hlmlab.lmm.bfgs import bfgs
from hlmlab.lmm.checkconv import (
    SINGULAR_MESSAGE,
    SINGULAR_TOL,
    at_bound,
    boundary_confirmed,
    check_convergence,
    inward_probes,
    is_singular,
)

__all__ = ["OptResult", "Counted", "Derivatives", "final_check", "minimize_theta"]


@dataclass
class OptResult:
    """The optimum of the criterion and what the checks found.

    Attributes
    ----------
    theta : ndarray
        The minimiser.
    fun : float
        The criterion there.
    nfev : int
        Criterion evaluations used (search, restarts and checks).
    converged : bool
        The search ended normally and the final check passed.
    singular : bool
        A diagonal element of theta is within ``SINGULAR_TOL`` of 0.
    gradient, hessian : ndarray
        Finite-difference gradient and Hessian at theta (Hessian over all
        coordinates; coordinates held at a bound are excluded from the check).
    messages : list of str
        What a user must know: failed convergence checks, a singular fit.
    notes : list of str
        What the search did on the way: restarts, polishing, the
        optimizer's own complaints when the final check later passed.
    """

    theta: np.ndarray
    fun: float
    nfev: int
    converged: bool
    singular: bool
    gradient: np.ndarray
    hessian: np.ndarray
    method: str
    messages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Counted:
    """A function that counts its calls and remembers the best point seen."""

    def __init__(self, fun: Callable[[np.ndarray], float]):
        self.fun = fun
        self.nfev = 0
        self.best_x: np.ndarray | None = None
        self.best_f = np.inf
        self._memo: dict[bytes, float] = {}  # criterion at the points evaluated (the same x twice costs nothing)
        self._last_gradient: tuple[bytes, float, np.ndarray] | None = None

    def __call__(self, x: np.ndarray) -> float:
        x = np.asarray(x, dtype=float)
        f = self._memo.get(x.tobytes())
        if f is None:
            f = float(self.fun(x))
            self.record(x, f)
        return f if np.isfinite(f) else 1e300

    def gradient_at(self, x: np.ndarray) -> tuple[float, np.ndarray] | None:
        """(criterion, gradient) at x when the latest evaluation with a gradient was there, else None."""
        last = self._last_gradient
        if last is None or last[0] != np.asarray(x, dtype=float).tobytes():
            return None
        return last[1], last[2].copy()

    def record(self, x: np.ndarray, f: float, gradient: np.ndarray | None = None) -> None:
        """Count an evaluation made elsewhere (with the gradient) and keep the best point.

        The gradient of the latest such evaluation is kept too (:meth:`gradient_at`):
        the check after a search starts where the search's last evaluation was.
        """
        self.nfev += 1
        x = np.asarray(x, dtype=float)
        key = x.tobytes()
        if len(self._memo) < 10000:
            self._memo[key] = float(f)
        self._last_gradient = None if gradient is None else (key, float(f), np.array(gradient, dtype=float))
        if np.isfinite(f) and f < self.best_f:
            self.best_f, self.best_x = float(f), np.array(x, dtype=float)


def _lbfgsb(f: Counted, x0: np.ndarray, lower: np.ndarray, fg: Callable | None = None) -> scipy.optimize.OptimizeResult:
    """L-BFGS-B with the exact gradient when ``fg`` (theta -> (f, g)) is given, else central differences."""
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    opts = {"ftol": 1e-14, "gtol": 1e-7, "maxiter": 2000, "maxls": 40}
    if fg is not None:

        def fun_jac(x: np.ndarray) -> tuple[float, np.ndarray]:
            val, g = fg(x)
            f.record(x, val, g)
            return (val, g) if np.isfinite(val) else (1e300, np.zeros_like(x))

        return scipy.optimize.minimize(
            fun_jac, np.maximum(x0, lower), jac=True, method="L-BFGS-B", bounds=bounds, options=opts
        )

    def jac(x: np.ndarray) -> np.ndarray:
        return _numdiff.gradient(f, x, rel=1e-6, lower=lower)

    return scipy.optimize.minimize(f, np.maximum(x0, lower), jac=jac, method="L-BFGS-B", bounds=bounds, options=opts)


def _powell(f: Counted, x0: np.ndarray, lower: np.ndarray) -> scipy.optimize.OptimizeResult:
    """A derivative-free look around a boundary answer (Powell's method, a bounded budget).

    A safety net only: the inward probes (:func:`_leave_false_bounds`) already
    catch false boundary stops; on the reference and stress cases this never
    lowered the criterion, so its budget is kept small.
    """
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    opts = {"xtol": 1e-6, "ftol": 1e-11, "maxfev": 40 * len(x0) + 60}
    return scipy.optimize.minimize(f, np.maximum(x0, lower), method="Powell", bounds=bounds, options=opts)


def _embed(x: np.ndarray, idx: np.ndarray, z: np.ndarray) -> np.ndarray:
    out = x.copy()
    out[idx] = z
    return out


class Derivatives:
    """Gradient and Hessian of the criterion: exact gradient when available, else finite differences."""

    def __init__(self, f: Counted, lower: np.ndarray, fg: Callable | None, tol: float | np.ndarray = SINGULAR_TOL):
        self.f, self.lower, self.fg, self.tol = f, lower, fg, tol

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self.value_and_gradient(x)[1]

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The criterion and its gradient at x (one evaluation with the exact gradient)."""
        if self.fg is not None:
            known = self.f.gradient_at(x)
            if known is not None:
                val, g = known
            else:
                val, g = self.fg(x)
                self.f.record(x, val, g)
            return (float(val) if np.isfinite(val) else 1e300), np.asarray(g, dtype=float)
        return self.f(x), _numdiff.gradient(self.f, x, rel=1e-5, lower=self.lower)

    def hessian(self, x: np.ndarray, idx: np.ndarray, g0: np.ndarray | None = None) -> np.ndarray:
        """Hessian over the coordinates idx (differences of the gradient, or second differences).

        With the exact gradient g0 at x given, forward differences of the
        gradient (one evaluation per coordinate, accurate to about 1e-5
        relative: ample for the Newton polish and the checks); without it,
        central differences.
        """
        if self.fg is not None:
            h = _numdiff.steps(x[idx], 1e-5)
            H = np.empty((idx.size, idx.size))
            for a, k in enumerate(idx):
                e = np.zeros_like(x)
                e[k] = h[a]
                if g0 is not None:
                    H[:, a] = (self.gradient(x + e)[idx] - g0[idx]) / h[a]
                else:
                    H[:, a] = (self.gradient(x + e)[idx] - self.gradient(x - e)[idx]) / (2 * h[a])
            return (H + H.T) / 2
        sub = lambda z: self.f(_embed(x, idx, z))  # noqa: E731
        return _numdiff.hessian(sub, x[idx], rel=1e-4, f0=self.f(x))


def _newton_polish(
    d: Derivatives, x: np.ndarray, g: np.ndarray, idx: np.ndarray, H: np.ndarray, steps: int = 4, tol: float = 1e-9
) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps z <- z - H^-1 g on the free coordinates idx, with H held fixed.

    A step is kept when it shrinks the gradient without raising the criterion
    beyond rounding; it stops once |H^-1 g| < tol. Near the optimum this takes
    the answer from the search's tolerance to the limit of the arithmetic, so
    that equivalent data (rows reordered, groups relabelled) give the same fit.
    """
    f, lower = d.f, d.lower
    fx = f(x)
    for _ in range(steps):
        step = np.linalg.solve(H, g[idx])
        if np.max(np.abs(step)) < tol:
            break
        xn = _embed(x, idx, np.maximum(x[idx] - step, lower[idx]))
        fn, gn = d.value_and_gradient(xn)
        if fn > fx + 1e-12 * max(1.0, abs(fx)) or np.linalg.norm(gn[idx]) >= np.linalg.norm(g[idx]):
            break
        x, fx, g = xn, fn, gn
    return x, g


def _log_diagonal_search(f: Counted, theta0: np.ndarray, lower: np.ndarray, fg: Callable | None) -> np.ndarray:
    """Stage 1: unbounded BFGS with each bounded element written as exp(phi) (nlme's log scale).

    On this scale no bound can stop the search, so it heads for the interior
    optimum without the false stops at 0 that the bounded search can make;
    if the optimum is on the boundary, phi drifts down and stage 2 (bounded
    theta, :func:`_lbfgsb`) finishes the job. The search is
    :func:`hlmlab.lmm.bfgs.bfgs`: for a few variables, the method that
    L-BFGS-B approximates, without scipy's per-iteration overhead. Returns theta at the end
    of stage 1.
    """
    idx = np.flatnonzero(np.isfinite(lower) & (theta0 > lower))
    if idx.size == 0:
        return theta0
    low = lower[idx]
    pairs = list(zip(idx.tolist(), low.tolist()))  # a few elements: plain Python is quicker than numpy calls

    def theta_of(phi: np.ndarray) -> np.ndarray:
        th = phi.copy()
        for k, lo in pairs:
            th[k] = lo + math.exp(min(max(float(phi[k]), -50.0), 50.0))
        return th

    def fun_grad(phi: np.ndarray) -> tuple[float, np.ndarray]:
        th = theta_of(phi)
        if fg is not None:
            val, g = fg(th)
            f.record(th, val, g)
            g = np.array(g, dtype=float)
            for k, lo in pairs:
                g[k] *= th[k] - lo
            return (val, g) if math.isfinite(val) else (math.inf, np.zeros_like(phi))
        # forward differences in phi: k + 1 evaluations (stage 2 refines with central ones)
        val = f(th)
        g = np.empty_like(phi)
        for k in range(len(phi)):
            h = 1e-7 * max(abs(phi[k]), 1.0)
            e = np.zeros_like(phi)
            e[k] = h
            g[k] = (f(theta_of(phi + e)) - val) / h
        return (val, g) if np.isfinite(val) else (1e300, np.zeros_like(phi))

    phi0 = theta0.copy()
    phi0[idx] = np.log(theta0[idx] - low)
    return theta_of(bfgs(fun_grad, phi0, max_iter=200, ftol=1e-10).x)


def _leave_false_bounds(
    f: Counted,
    x: np.ndarray,
    lower: np.ndarray,
    fg: Callable | None,
    notes: list[str],
    tol: float | np.ndarray = SINGULAR_TOL,
    tries: int = 4,
) -> tuple[np.ndarray, bool]:
    """Restart L-BFGS-B from inside while moving off a bound lowers the criterion."""
    restarted = False
    for _ in range(tries):
        bound = np.flatnonzero(at_bound(x, lower, tol))
        if bound.size == 0:
            break
        fx = f(x)
        scale = max(float(np.max(np.abs(x))), 1.0)
        best = None
        for k in bound:
            for z in inward_probes(x, k, lower, scale * np.array([1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0])):
                fz = f(z)
                if fz < fx - 1e-12 * max(1.0, abs(fx)) and (best is None or fz < best[1]):
                    best = (z, fz)
        if best is None:
            break
        _lbfgsb(f, best[0], lower, fg)
        x = np.array(f.best_x)
        restarted = True
        notes.append(
            f"the search stopped on a bound where the criterion still decreases inward; "
            f"restarted from inside (criterion lowered by {fx - f.best_f:.3g})"
        )
    return x, restarted


def final_check(d: Derivatives, x: np.ndarray, steps: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Gradient and Hessian at x (free coordinates), a Newton polish, then the checks of :mod:`checkconv`.

    Returns (x, gradient, Hessian, failure messages).
    """
    idx = np.flatnonzero(~at_bound(x, d.lower, d.tol))
    g = d.gradient(x)
    H = np.full((len(x), len(x)), np.nan)
    if idx.size:
        Hf = d.hessian(x, idx, g0=g)
        if np.linalg.eigvalsh(Hf).min() > 0:
            x, g = _newton_polish(d, x, g, idx, Hf, steps=steps)
        H[np.ix_(idx, idx)] = Hf
    return x, g, H, check_convergence(d.f, x, g, H, d.lower, d.tol)


#: a bounded element of theta is "well inside" when farther than this (relative) from its bound
INTERIOR_MARGIN = 1e-2
#: the Newton step still to go below which a polished interior optimum is accepted without stage 2
POLISHED_TOL = 1e-8


def _finish_interior(d: Derivatives, x: np.ndarray, steps: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Skip the bounded stage when stage 1 ended well inside the bounds and Newton steps finish the job.

    From the end of stage 1 (exact gradient only), the final check's Newton
    polish takes x to the optimum; the answer is kept when every bounded
    element stays well inside its bound (``INTERIOR_MARGIN``), the Hessian is
    positive definite, every check passes, the remaining Newton step is below
    ``POLISHED_TOL`` and the criterion is the lowest seen. Otherwise returns
    None and the bounded stage runs from x as usual. Returns (x, gradient, Hessian).
    """
    f, lower = d.f, d.lower
    fin = np.isfinite(lower)

    def inside(z: np.ndarray) -> bool:
        scale = max(float(np.max(np.abs(z))), 1e-2)
        return bool(np.all(z[fin] - lower[fin] > INTERIOR_MARGIN * scale))

    if not np.all(np.isfinite(x)) or not inside(x):
        return None
    xs, g, H, failures = final_check(d, x, steps)
    if failures or not inside(xs) or not np.all(np.isfinite(H)):
        return None
    if np.max(np.abs(np.linalg.solve(H, g))) >= POLISHED_TOL:
        return None
    fx = f(xs)
    if fx > f.best_f + 1e-12 * max(1.0, abs(fx)):
        return None
    return xs, g, H


def _interior_result(f: Counted, done: tuple, method: str, notes: list[str]) -> OptResult:
    """A checked interior optimum (from :func:`_finish_interior`): converged, not singular, no messages."""
    x, g, H = done
    return OptResult(
        theta=x,
        fun=float(f(x)),
        nfev=f.nfev,
        converged=True,
        singular=False,
        gradient=g,
        hessian=H,
        method=method,
        messages=[],
        notes=notes,
    )


def _search(
    fun: Callable[[np.ndarray], float],
    theta0: np.ndarray,
    lower: np.ndarray,
    fun_grad: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
    singular_tol: float | np.ndarray = SINGULAR_TOL,
    warm: bool = False,
) -> OptResult:
    """One search from theta0 and its checks; the arguments are :func:`minimize_theta`'s."""
    f = Counted(fun)
    lower = np.asarray(lower, dtype=float)
    d = Derivatives(f, lower, fun_grad, singular_tol)
    messages: list[str] = []  # what a user must know: failed checks, singular fit
    notes: list[str] = []  # what the search did: restarts, polishing
    if warm and fun_grad is not None:
        done = _finish_interior(d, np.asarray(theta0, dtype=float), steps=12)
        if done is not None:  # Newton steps from the neighbouring optimum reached this one
            return _interior_result(f, done, "Newton from a warm start", notes)
    start = _log_diagonal_search(f, np.asarray(theta0, dtype=float), lower, fun_grad)
    gradient_kind = " (exact gradient)" if fun_grad is not None else " (numerical gradient)"
    done = _finish_interior(d, start) if fun_grad is not None else None
    if done is not None:  # stage 1 ended inside, and Newton steps from there reached the optimum
        return _interior_result(f, done, "BFGS on the log scale" + gradient_kind, notes)
    method = "BFGS on the log scale, then L-BFGS-B" + gradient_kind
    res = _lbfgsb(f, start, lower, fun_grad)
    ok = bool(res.success)
    if not ok:
        notes.append(f"L-BFGS-B did not report convergence: {res.message}")
    x = np.array(f.best_x if f.best_x is not None else res.x)
    # On a bound: the criterion depends on a template's diagonal element only
    # through its square, so its derivative there is 0 and L-BFGS-B can stop on
    # a false boundary optimum. Probe inward along each bound coordinate and
    # restart from the probe whenever it is lower.
    x, restarted = _leave_false_bounds(f, x, lower, fun_grad, notes, d.tol)
    if restarted:
        method += " + restart"
    if at_bound(x, lower, d.tol).any() and not boundary_confirmed(
        d.gradient if fun_grad is not None else None, x, lower, d.tol
    ):
        # a boundary fit the gradient does not confirm: a derivative-free search
        start_f = f.best_f
        _powell(f, x, lower)
        if f.best_f < start_f - 1e-10 * max(1.0, abs(start_f)):
            notes.append(f"a derivative-free search (Powell) lowered the criterion by {start_f - f.best_f:.3g}")
            method += " + Powell"
        x = np.array(f.best_x)
    # final check; if it fails, one recovery (bounded search from the best
    # point, then Powell) before the failure is reported
    x, g, H, failures = final_check(d, x)
    if failures:
        before = f.best_f
        _lbfgsb(f, x, lower, fun_grad)
        _powell(f, f.best_x, lower)
        notes.append(
            f"the first answer failed its check ({failures[0]}); searched again from it "
            f"(criterion lowered by {before - f.best_f:.3g})"
        )
        method += " + recovery"
        x, g, H, failures = final_check(d, np.array(f.best_x))
    converged = not failures
    messages += failures
    singular = is_singular(x, lower, d.tol)
    if singular:
        messages.append(SINGULAR_MESSAGE)
    return OptResult(
        theta=x,
        fun=float(f(x)),
        nfev=f.nfev,
        converged=bool(converged),
        singular=singular,
        gradient=g,
        hessian=H,
        method=method,
        messages=messages,
        notes=notes,
    )


#: further starts (lme4's identity template times these) for a singular fit with the exact gradient
EXTRA_START_SCALES = (0.1, 10.0)


def minimize_theta(
    fun: Callable[[np.ndarray], float],
    theta0: np.ndarray,
    lower: np.ndarray,
    fun_grad: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
    singular_tol: float | np.ndarray = SINGULAR_TOL,
    warm: bool = False,
) -> OptResult:
    """Minimise the profiled criterion over theta >= lower, then check the answer.

    Parameters
    ----------
    fun : callable
        theta -> criterion (-2 log-likelihood, profiled).
    theta0 : ndarray
        Start (lme4's: the identity template).
    lower : ndarray
        Lower bounds (0 for template diagonals, -inf otherwise).
    fun_grad : callable, optional
        theta -> (criterion, exact gradient); without it the gradient is
        taken by central differences.
    singular_tol : float or ndarray
        Distance to a bound that counts as on it (one per element of theta
        allowed; see :func:`hlmlab.lmm.checkconv.at_bound`).
    warm : bool
        theta0 is the optimum of a closely related problem (a refit to a
        simulated response): with the exact gradient, Newton steps from it are
        tried first, and the full search runs only if they do not reach a
        checked interior optimum.

    Returns
    -------
    OptResult

    Notes
    -----
    On the boundary the criterion can have several local minima (a
    covariance matrix of rank 1 or of rank 2, say, each a minimum on its
    face), and which one a local search reaches depends on its path. So when
    the answer is singular and theta has 3 or more elements, the search runs
    again from the identity template times each of ``EXTRA_START_SCALES``
    (exact gradient only: with finite differences it would cost too much),
    and the lowest converged criterion wins. On random designs with
    correlations near +-1 and variances near 0 this found a lower optimum in
    about 1 singular fit in 16; it costs about twice the evaluations of a
    singular fit, and nothing for any other fit.
    """
    opt = _search(fun, theta0, lower, fun_grad, singular_tol, warm)
    if not opt.singular or fun_grad is None or len(theta0) < 3:
        return opt
    lower = np.asarray(lower, dtype=float)
    nfev = opt.nfev
    for scale in EXTRA_START_SCALES:
        start = np.where(np.isfinite(lower), scale, 0.0)
        alt = _search(fun, start, lower, fun_grad, singular_tol)
        nfev += alt.nfev
        lower_by = opt.fun - alt.fun
        if alt.converged and (not opt.converged or lower_by > 1e-10 * max(1.0, abs(opt.fun))):
            alt.notes = (
                opt.notes
                + alt.notes
                + [
                    f"a singular answer: a second start (the identity template times {scale:g}) reached "
                    f"a criterion lower by {lower_by:.3g}"
                ]
            )
            alt.method += f" (start x{scale:g})"
            opt = alt
    opt.nfev = nfev
    return opt
