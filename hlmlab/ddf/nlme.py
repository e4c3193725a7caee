"""Denominator degrees of freedom for Wald tests in a mixed model.

The default is nlme's "between/within" rule (Pinheiro and Bates 2000,
section 2.4.2), the one the notes use. The data are split into strata, from
the outermost grouping level to the residual:

    stratum 1: the m_1 outermost groups,
    stratum s (1 < s <= Q): m_s - m_{s-1} groups of level s within level s-1,
    stratum Q + 1: the N - m_Q residual (within-innermost-group) differences.

A column of X belongs to stratum 1 + (number of levels within whose groups it
varies, in at least one group): a school-level variable such as Sector or the
school mean of ses is estimated between schools, a student-level one such as
ses within them. Each stratum's DF is its count minus the columns it owns;
the intercept takes one DF from stratum 1 and is given the largest DF. With
no intercept, every stratum but the first gets one back (nlme's rule).
Random slopes do not change the DF.

For a contrast, :func:`nlme_contrast_df` gives each row of L the smallest DF
among the coefficients it involves. The choice among this rule,
Satterthwaite's and Kenward-Roger's is :func:`hlmlab.ddf.contrast_df`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["varies_within", "nlme_df", "nlme_contrast_df"]


def varies_within(x: np.ndarray, codes: np.ndarray, m: int, rtol: float = 1e-10) -> bool:
    """True when x is not constant within at least one group.

    Each value is compared with the first value of its group; differences
    within rounding (rtol times the size of the values) do not count.
    """
    first = np.empty(m)
    first[codes[::-1]] = x[::-1]  # the last write wins: each group's first value
    scale = max(float(np.max(np.abs(x))), 1.0) if x.size else 1.0
    return bool(np.any(np.abs(x - first[codes]) > rtol * scale))


def _is_constant(x: np.ndarray, rtol: float = 1e-10) -> bool:
    return bool(np.ptp(x) <= rtol * max(float(np.max(np.abs(x))), 1.0)) if x.size else True


def nlme_df(X: np.ndarray, names: Sequence[str], codes: Sequence[np.ndarray]) -> dict[str, Any]:
    """nlme's between/within degrees of freedom for each column of X.

    Parameters
    ----------
    X : (N, p) fixed-effects design
    names : the column names
    codes : group codes of each row at each level, outermost first

    Returns
    -------
    dict
        ``df``: one DF per column (array); ``stratum``: the stratum of each
        column (1 = between outermost groups, Q + 1 = residual);
        ``strata``: the DF left in each stratum.
    """
    N, p = X.shape
    Q = len(codes)
    counts = [int(c.max()) + 1 if len(c) else 0 for c in codes]
    strata = np.array([counts[0]] + [counts[s] - counts[s - 1] for s in range(1, Q)] + [N - counts[-1]], float)
    const = np.array([_is_constant(X[:, j]) for j in range(p)], dtype=bool)
    stratum = np.zeros(p, dtype=int)
    for j in np.flatnonzero(~const):
        nvary = sum(varies_within(X[:, j], c, m) for c, m in zip(codes, counts))
        stratum[j] = 1 + nvary
    left = strata.copy()
    for j in np.flatnonzero(~const):
        left[stratum[j] - 1] -= 1
    if const.any():
        left[0] -= 1
    else:
        left[1:] += 1
    df = np.where(const, left.max(), left[np.maximum(stratum, 1) - 1])
    return {"df": df.astype(float), "stratum": stratum, "strata": left, "names": list(names)}


def nlme_contrast_df(df: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, float]:
    """nlme's DF for the rows of L and for the joint F test of L beta = 0.

    row_df_i = min{df_j : L_ij != 0} (NaN for an all-zero row);
    joint_df = min{df_j : L_ij != 0 for some i}.
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    df = np.asarray(df, dtype=float)
    used = np.abs(L) > 0
    rows = np.array([df[u].min() if u.any() else np.nan for u in used])
    allused = used.any(axis=0)
    joint = float(df[allused].min()) if allused.any() else float("nan")
    return rows, joint
