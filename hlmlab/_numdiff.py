"""Finite-difference derivatives: the one set hlmlab uses.

One step rule everywhere: the step for coordinate k is

    h_k = rel * max(|x_k|, floor)

relative to the coordinate's size, with a floor so that a coordinate at or
near zero (a variance parameter on its boundary) still gets a usable step.
Callers choose ``rel`` (and rarely ``floor``) for their accuracy needs:

* :func:`gradient` - central differences, second-order one-sided ones where
  a lower bound is closer than h;
* :func:`hessian` - central second differences of a scalar function;
* :func:`jacobian` - central (or, given the value at x, forward) differences
  of a vector function, e.g. a Hessian from an exact gradient;
* :func:`richardson_hessian` and :func:`richardson_jacobian` - central
  differences at h, h/2, h/4, ... extrapolated as numDeriv does (lmerTest's
  choice), for the Satterthwaite and Kenward-Roger computations, where large
  relative steps keep a nearly flat deviance's curvature above rounding error.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["steps", "gradient", "hessian", "jacobian", "richardson_hessian", "richardson_jacobian"]


def steps(x: np.ndarray, rel: float, floor: float = 0.1) -> np.ndarray:
    """h_k = rel * max(|x_k|, floor)."""
    return rel * np.maximum(np.abs(np.asarray(x, dtype=float)), floor)


def gradient(
    fun: Callable[[np.ndarray], float], x: np.ndarray, rel: float = 1e-5, lower: np.ndarray | None = None
) -> np.ndarray:
    """Central-difference gradient; one-sided (second order) where a bound is too close.

    g_k = (f(x + h e_k) - f(x - h e_k)) / 2h, or, when x_k - h < lower_k,
    g_k = (-3 f(x) + 4 f(x + h e_k) - f(x + 2h e_k)) / 2h.
    """
    x = np.asarray(x, dtype=float)
    h = steps(x, rel)
    lower = np.full_like(x, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    g = np.empty_like(x)
    f0 = None
    for k in range(len(x)):
        e = np.zeros_like(x)
        e[k] = h[k]
        if x[k] - h[k] >= lower[k]:
            g[k] = (fun(x + e) - fun(x - e)) / (2 * h[k])
        else:
            f0 = fun(x) if f0 is None else f0
            g[k] = (-3 * f0 + 4 * fun(x + e) - fun(x + 2 * e)) / (2 * h[k])
    return g


def hessian(
    fun: Callable[[np.ndarray], float], x: np.ndarray, rel: float = 1e-4, f0: float | None = None
) -> np.ndarray:
    """Central-difference Hessian (the function must be defined on both sides of x).

    H_kk = (f(x + h_k) - 2 f(x) + f(x - h_k)) / h_k²;
    H_kl = (f(x + h_k + h_l) - f(x + h_k - h_l) - f(x - h_k + h_l) + f(x - h_k - h_l)) / (4 h_k h_l).
    """
    x = np.asarray(x, dtype=float)
    k = len(x)
    h = steps(x, rel)
    f0 = fun(x) if f0 is None else f0
    H = np.empty((k, k))
    E = np.diag(h)
    for i in range(k):
        H[i, i] = (fun(x + E[i]) - 2 * f0 + fun(x - E[i])) / h[i] ** 2
        for j in range(i):
            H[i, j] = H[j, i] = (
                fun(x + E[i] + E[j]) - fun(x + E[i] - E[j]) - fun(x - E[i] + E[j]) + fun(x - E[i] - E[j])
            ) / (4 * h[i] * h[j])
    return H


def jacobian(
    fun: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    rel: float = 1e-5,
    f0: np.ndarray | None = None,
    floor: float = 0.1,
) -> np.ndarray:
    """Jacobian J[:, k] = d fun / d x_k of a vector function.

    Central differences (fun(x + h e_k) - fun(x - h e_k)) / 2h; forward
    differences (fun(x + h e_k) - f0) / h when the value f0 = fun(x) is given
    (half the evaluations, first-order accurate).
    """
    x = np.asarray(x, dtype=float)
    h = steps(x, rel, floor)
    cols = []
    for k in range(len(x)):
        e = np.zeros_like(x)
        e[k] = h[k]
        if f0 is not None:
            cols.append((np.asarray(fun(x + e)) - f0) / h[k])
        else:
            cols.append((np.asarray(fun(x + e)) - np.asarray(fun(x - e))) / (2 * h[k]))
    return np.stack(cols, axis=-1)


def _richardson(table: list[np.ndarray]) -> np.ndarray:
    """Extrapolate differences at h, h/2, h/4, ...: error O(h^(2 levels))."""
    for m in range(1, len(table)):
        c = 4.0**m
        table = [(c * table[j + 1] - table[j]) / (c - 1) for j in range(len(table) - 1)]
    return table[0]


def richardson_hessian(
    fun: Callable[[np.ndarray], float], x: np.ndarray, rel: float = 0.1, levels: int = 4, floor: float = 1e-3
) -> np.ndarray:
    r"""Hessian by central differences at h, h/2, ..., h/2^(levels-1), Richardson-extrapolated.

    H_ij(h) = [f(x + h_i e_i + h_j e_j) - f(x + h_i e_i - h_j e_j)
               - f(x - h_i e_i + h_j e_j) + f(x - h_i e_i - h_j e_j)] / (4 h_i h_j),

    with h = :func:`steps` (x, rel, floor): 10% of each coordinate, 1e-4 at zero,
    as numDeriv's ``hessian``, which lmerTest uses.
    """
    x = np.asarray(x, dtype=float)
    k = x.size
    h0 = steps(x, rel, floor)
    table = []
    for lev in range(levels):
        h = h0 / 2**lev
        H = np.empty((k, k))
        for i in range(k):
            for j in range(i, k):
                ei = np.zeros(k)
                ej = np.zeros(k)
                ei[i], ej[j] = h[i], h[j]
                val = (fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej) + fun(x - ei - ej)) / (4 * h[i] * h[j])
                H[i, j] = H[j, i] = val
        table.append(H)
    return _richardson(table)


def richardson_jacobian(
    fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, rel: float = 1e-4, levels: int = 4, floor: float = 1e-3
) -> np.ndarray:
    """Derivatives d fun / d x_k (stacked on the first axis) by Richardson-extrapolated central differences."""
    x = np.asarray(x, dtype=float)
    h0 = steps(x, rel, floor)
    out = []
    for k in range(x.size):
        table = []
        for lev in range(levels):
            e = np.zeros(x.size)
            e[k] = h0[k] / 2**lev
            table.append((np.asarray(fun(x + e)) - np.asarray(fun(x - e))) / (2 * e[k]))
        out.append(_richardson(table))
    return np.array(out)
