"""Per-group sufficient statistics of a linear mixed model.

Everything the profiled criterion needs (:mod:`hlmlab.lmm.pls`) is a sum over
groups of small cross-products, computed in one pass over the rows:

- at each level l of random effects and for each group j there,
  Z_j'Z_j (q x q), Z_j'A_j (q x the ancestors' columns), Z_j'[X_j y_j] (q x (p+1));
- the totals [X y]'[X y] ((p+1) x (p+1)).

After this step the number of rows no longer matters: an evaluation of the
criterion costs O(J q^3 + J q p^2) whatever n is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["LevelStats", "SufficientStats", "sufficient_stats", "with_response"]


# ---------------------------------------------------------------------------
# sufficient statistics
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LevelStats:
    """Per-group cross-products at one level of random effects.

    Attributes
    ----------
    q : int
        Random effects per group.
    ZtZ : ndarray, shape (q, q, m)
        Z_j'Z_j for each of the m groups (the group axis is last throughout,
        so that every elementwise operation runs over contiguous vectors).
    ZtA : ndarray, shape (q, Qa, m)
        Z_j' times the ancestors' columns on group j's rows (parent's first,
        then the grandparent's...); Qa = 0 at the outermost level.
    ZtW : ndarray, shape (q, p + 1, m)
        Z_j'[X_j y_j].
    parent : ndarray of int, shape (m,), or None
        Parent group of each group (nondecreasing), None at the outermost level.
    starts : ndarray of int or None
        Index of each parent's first child, for summing children per parent.
    """

    q: int
    ZtZ: np.ndarray
    ZtA: np.ndarray
    ZtW: np.ndarray
    parent: np.ndarray | None
    starts: np.ndarray | None

    @property
    def m(self) -> int:
        return int(self.ZtZ.shape[2])


@dataclass(frozen=True, eq=False)
class SufficientStats:
    """Everything the criterion needs, independent of the number of rows.

    ``levels`` are outermost first; ``WtW`` is [X y]'[X y] of the centred
    columns (see ``center``).

    ``center`` (length p + 1, or None): when X's first column is the
    intercept, the means m subtracted from y and from the columns of X whose
    mean exceeds their SD (0 for the others) before any cross-product is formed, so that a large offset in y or in a
    predictor (timestamps, y + 1e7) costs no digits. Centring is the
    reparametrisation X~ = X A, A = I - e_1 m_x' (det A = 1, so the criterion
    is unchanged), y~ = y - m_y; :meth:`beta_to_original` and
    :meth:`RX_to_original` map beta~ and R_X~ back.
    """

    levels: tuple[LevelStats, ...]
    WtW: np.ndarray
    n: int
    p: int
    center: np.ndarray | None = None

    def beta_to_original(self, beta: np.ndarray) -> np.ndarray:
        """beta = A beta~ + m_y e_1: only the intercept changes, by m_y - m_x'beta~."""
        if self.center is None:
            return beta
        out = np.array(beta, dtype=float)
        out[0] += self.center[self.p] - self.center[: self.p] @ beta
        return out

    def RX_to_original(self, RX: np.ndarray) -> np.ndarray:
        """R_X = R_X~ A^-1 = R_X~ + R_X~[:, 0] m_x' (still upper triangular: only row 0 changes)."""
        if self.center is None:
            return RX
        return RX + np.outer(RX[:, 0], self.center[: self.p])

    @property
    def qs(self) -> tuple[int, ...]:
        return tuple(lev.q for lev in self.levels)

    @property
    def ntheta(self) -> int:
        return sum(q * (q + 1) // 2 for q in self.qs)


def _group_cross(
    U: np.ndarray, V: np.ndarray, codes: np.ndarray, m: int, sym: bool = False, runs: np.ndarray | None = None
) -> np.ndarray:
    """Per-group sums sum_{i in j} u_i v_i' for columns of U (n x a) and V (n x b): shape (a, b, m).

    One pass over the rows per pair of columns: ``np.add.reduceat`` over the
    runs of each group when the rows are sorted by group (``runs`` gives
    where each group starts), else ``np.bincount``. A column of ones skips
    the product.
    """
    a, b = U.shape[1], V.shape[1]
    out = np.empty((a, b, m))
    ones_u = [bool(np.all(U[:, i] == 1.0)) for i in range(a)]
    for i in range(a):
        for k in range(b):
            if sym and k < i:
                out[i, k] = out[k, i]
                continue
            w = V[:, k] if ones_u[i] else U[:, i] * V[:, k]
            if runs is not None:
                out[i, k] = np.add.reduceat(w, runs)
            else:
                out[i, k] = np.bincount(codes, weights=w, minlength=m)
    return out


def _runs(codes: np.ndarray, m: int) -> np.ndarray | None:
    """Start of each group's run when the rows are sorted by group and every group is present, else None."""
    if len(codes) == 0 or np.any(codes[1:] < codes[:-1]):
        return None
    runs = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    return runs if len(runs) == m else None


def sufficient_stats(
    X: np.ndarray,
    y: np.ndarray,
    Zs: Sequence[np.ndarray],
    codes: Sequence[np.ndarray],
    parents: Sequence[np.ndarray | None],
) -> SufficientStats:
    """Cross-products per group, in one pass over the rows for each pair of columns.

    Parameters
    ----------
    X : (n, p) fixed design; y : (n,) response
    Zs : random-effects columns of each level (n, q_l), outermost first
    codes : group of each row at each level, 0..m_l-1
    parents : for each level, the parent group of each of its groups
        (nondecreasing), None for the outermost level
    """
    n, p = X.shape
    y = np.asarray(y, dtype=float)
    center = None
    if p and n and np.all(X[:, 0] == 1.0):
        # centre y, and the columns of X whose offset exceeds their spread (the
        # others lose less than a digit, and X is not copied for them)
        mx = X[:, 1:].mean(axis=0)
        mx[np.abs(mx) <= X[:, 1:].std(axis=0)] = 0.0
        center = np.r_[0.0, mx, y.mean()]
        if np.any(mx):
            X = X - center[:p]
        y = y - center[p]
    Xty = X.T @ y
    WtW = np.empty((p + 1, p + 1))
    WtW[:p, :p] = X.T @ X
    WtW[:p, p] = WtW[p, :p] = Xty
    WtW[p, p] = y @ y
    levels = []
    for l, (Z, c, par) in enumerate(zip(Zs, codes, parents)):
        m = int(c.max()) + 1 if len(c) else 0
        runs = _runs(c, m)
        ZtZ = _group_cross(Z, Z, c, m, sym=True, runs=runs)
        anc = [Zs[k] for k in range(l - 1, -1, -1)]
        A = np.column_stack(anc) if anc else np.empty((n, 0))
        ZtA = _group_cross(Z, A, c, m, runs=runs)
        ZtX = _group_cross(Z, X, c, m, runs=runs)
        ZtW = np.concatenate([ZtX, _group_cross(Z, y[:, None], c, m, runs=runs)], axis=1)
        starts = None
        if par is not None:
            par = np.asarray(par, dtype=np.int64)
            if np.any(np.diff(par) < 0):
                raise ValueError("groups of a nested level must be sorted by their parent")
            starts = np.flatnonzero(np.r_[True, np.diff(par) != 0])
        levels.append(LevelStats(Z.shape[1], ZtZ, ZtA, ZtW, par, starts))
    return SufficientStats(tuple(levels), WtW, int(n), int(p), center)


def with_response(
    stats: SufficientStats, X: np.ndarray, y: np.ndarray, Zs: Sequence[np.ndarray], codes: Sequence[np.ndarray]
) -> SufficientStats:
    """The statistics of the same design with a new response: only what involves y is recomputed.

    [X y]'[X y] gets its last row and column, and each level's Z_j'[X_j y_j]
    its last column: one pass over the rows for y, none for the design (a
    refit for a simulated response costs O(n q) here, not a formula evaluation).
    """
    y = np.asarray(y, dtype=float)
    if y.shape != (stats.n,):
        raise ValueError(f"the new response must have {stats.n} values (the rows of the fit), got {y.shape}")
    p = stats.p
    center = None if stats.center is None else stats.center.copy()
    if center is not None:
        center[p] = y.mean()
        y = y - center[p]
        if np.any(center[:p]):
            X = X - center[:p]
    WtW = stats.WtW.copy()
    WtW[:p, p] = WtW[p, :p] = X.T @ y
    WtW[p, p] = y @ y
    levels = []
    for lev, Z, c in zip(stats.levels, Zs, codes):
        ZtW = lev.ZtW.copy()
        ZtW[:, p : p + 1, :] = _group_cross(Z, y[:, None], c, lev.m, runs=_runs(c, lev.m))
        levels.append(dataclasses.replace(lev, ZtW=ZtW))
    return dataclasses.replace(stats, levels=tuple(levels), WtW=WtW, center=center)
