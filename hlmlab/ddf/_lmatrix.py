"""Hypothesis matrices L as arrays, and the one rule for the rank of L.

The lowest place that both the DF methods (:mod:`hlmlab.ddf`) and the L
builders (:mod:`hlmlab.inference.hypotheses`) can import:

* :func:`as_array` turns L (a vector, a matrix, or a Series/DataFrame named by
  coefficient) into an (m, p) float array aligned with the coefficients;
* :func:`row_basis` and :func:`rank`: with the singular values
  s_1 >= s_2 >= ... of L, the rank is r = #{k : s_k > RANK_TOL * s_1} and the
  row space of L is spanned by the first r right singular vectors (orthonormal
  rows). Tests of L beta = 0 depend on L only through that row space.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RANK_TOL", "CoefficientError", "as_array", "check_columns", "row_basis", "rank"]

#: Singular values of L below RANK_TOL times the largest count as zero.
RANK_TOL = 1e-10


class CoefficientError(KeyError, ValueError):
    """L (or a list of names) refers to something that is not a coefficient of the model."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def check_columns(columns: Sequence[Any], names: Sequence[str]) -> None:
    """Raise :class:`CoefficientError` when a column of L is not a coefficient name."""
    unknown = [str(c) for c in columns if str(c) not in set(names)]
    if unknown:
        raise CoefficientError(
            f"L has column(s) {unknown} that are not coefficients of the fit; the coefficients are {list(names)}"
        )


def as_array(L: Any, names: Sequence[str] | int) -> np.ndarray:
    """L as an (m, p) float array.

    Parameters
    ----------
    L : array_like (p,) or (m, p), Series, or DataFrame
        A 1-d array is one row. A Series (indexed by coefficient names) is one
        row; a DataFrame's columns are coefficient names, aligned to ``names``
        (coefficients it does not list get 0).
    names : list of str, or int
        The coefficient names, or just their number p.
    """
    p = names if isinstance(names, int) else len(names)
    known = None if isinstance(names, int) else [str(n) for n in names]
    if isinstance(L, pd.Series):
        L = L.to_frame().T
    if isinstance(L, pd.DataFrame) and known is not None:
        check_columns(L.columns, known)
        L = L.rename(columns=str).reindex(columns=known, fill_value=0.0)
    arr = np.atleast_2d(np.asarray(L, dtype=float))
    if arr.ndim != 2 or arr.shape[1] != p:
        got = arr.shape[1] if arr.ndim == 2 else np.shape(L)
        detail = f" ({p} coefficients: {known})" if known is not None else ""
        raise ValueError(
            f"L must have one column per coefficient: got {got} columns for the model's {p} fixed effects{detail}"
        )
    return arr


def row_basis(L: np.ndarray, tol: float = RANK_TOL) -> np.ndarray:
    """Orthonormal rows spanning the row space of L: W_r' from the SVD L = U S W'.

    r = #{k : s_k > tol * s_1} (0 for an all-zero L, giving a (0, p) array).
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    _, s, Wt = np.linalg.svd(L, full_matrices=False)
    r = int(np.sum(s > tol * s[0])) if s.size and s[0] > 0 else 0
    return Wt[:r]


def rank(L: np.ndarray, tol: float = RANK_TOL) -> int:
    """The rank of L: the number of rows of :func:`row_basis`."""
    return int(row_basis(L, tol).shape[0])
