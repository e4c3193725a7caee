"""Prototype: faster per-group cross-products for one grouping factor.

hlmlab.deviance.sufficient_stats makes one ``np.bincount`` per pair of
columns (13 passes over the rows for y ~ x * w, random ~ 1 + x | g). The
alternatives timed here:

- ``sparse``: one CSR indicator matrix S (J x n, built once from the codes)
  times the dense block [Z_a * W] for each random-effect column a:
  q sparse-dense products, each a single compiled pass over the rows.
- ``sorted``: when the rows are already sorted by group (common), one
  ``np.add.reduceat`` per column block, with no scatter.

Run:  python benchmarks/prototypes/suffstats.py [n_groups]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_lme import simulate  # noqa: E402


def by_bincount(Z, W, codes, J):
    """One bincount per (a, k) pair: the current approach (ZtZ from the Z columns of W)."""
    q, P = Z.shape[1], W.shape[1]
    out = np.empty((q, P, J))
    for a in range(q):
        for k in range(P):
            out[a, k] = np.bincount(codes, weights=Z[:, a] * W[:, k], minlength=J)
    return out


def by_sparse(Z, W, codes, J):
    """S @ (Z_a * W) for each a: q sparse-dense products."""
    n = len(codes)
    S = sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(J, n))
    out = np.empty((q := Z.shape[1], W.shape[1], J))
    for a in range(q):
        za = Z[:, a]
        block = W if np.all(za == 1.0) else za[:, None] * W
        out[a] = (S @ block).T
    return out


def by_reduceat(Z, W, codes, J):
    """Rows sorted by group: np.add.reduceat over contiguous runs."""
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out = np.empty((q := Z.shape[1], W.shape[1], J))
    for a in range(q):
        za = Z[:, a]
        block = W if np.all(za == 1.0) else za[:, None] * W
        out[a] = np.add.reduceat(block, starts, axis=0).T
    return out


def best(f, reps=5):
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = f()
        t.append(time.perf_counter() - t0)
    return min(t), r


if __name__ == "__main__":
    J = int(sys.argv[1]) if len(sys.argv) > 1 else 33000
    df = simulate(J)
    x, w, y, codes = (df[c].to_numpy() for c in ("x", "w", "y", "g"))
    n = len(codes)
    X = np.column_stack([np.ones(n), x, w, x * w])
    W = np.column_stack([X, y])
    Z = X[:, :2]
    t0, ref = best(lambda: by_bincount(Z, W, codes, J))
    print(f"n = {n}, J = {J}")
    print(f"bincount per pair : {t0 * 1e3:7.1f} ms")
    for name, f in [("sparse indicator", by_sparse), ("sorted reduceat", by_reduceat)]:
        t, r = best(lambda: f(Z, W, codes, J))
        err = np.max(np.abs(r - ref)) / np.max(np.abs(ref))
        print(f"{name:18s}: {t * 1e3:7.1f} ms   ({t0 / t:4.1f}x, max rel diff {err:.1e})")
