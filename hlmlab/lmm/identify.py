r"""Random effects the data cannot tell apart: a check on the design, before any fit.

A group's random effects enter its rows only through Z_j b_j. When
rank(Z_j) < q in *every* group, no single group can separate the q effects:
some combination of them is invisible within each group, and the covariance
matrix Psi is identified, if at all, only through how the between-group
variance changes from group to group. The usual cause is a random slope of
a variable that is constant within groups (a school-level variable such as
``Sector`` or ``cvar(ses, school)`` in ``~ 1 + Sector | school``): within a
school, x_ij = x_j, so the school's line is only seen through
b_0j + x_j b_1j, and

.. math::

    \operatorname{Var}(b_{0j} + x_j b_{1j}) = \psi_{00} + 2 x_j \psi_{01} + x_j^2 \psi_{11},

a quadratic in x_j. With two distinct values of x_j (a binary variable),
two variances determine three parameters: Psi is not identified, the
criterion is flat along a line, and the fit reports a singular fit or a
Hessian that is not positive definite without saying why. With three or more
values it is identified only through that quadratic: weakly.

:func:`design_messages` says so before the fit, naming the columns, and
:func:`hlmlab.lmm.model.lme` issues it as an
:class:`~hlmlab.exceptions.IdentifiabilityWarning`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hlmlab.formula.random import RandomLevel

__all__ = ["deficient_in_every_group", "constant_within_groups", "design_messages"]

#: a group's Z_j'Z_j (columns at unit scale) with smallest/largest eigenvalue below this is rank deficient
RANK_TOL = 1e-10


def deficient_in_every_group(ZtZ: np.ndarray) -> bool:
    """Whether rank(Z_j) < q in every group, from the per-group Z_j'Z_j (q, q, m).

    A group is deficient when the smallest eigenvalue of Z_j'Z_j (columns
    scaled to unit length over all rows, so units do not matter) is below
    ``RANK_TOL`` times its largest. Always False for q = 1.
    """
    q, _, m = ZtZ.shape
    if q < 2 or m == 0:
        return False
    d = np.sqrt(np.maximum(np.einsum("iij->i", ZtZ), 1e-300))
    A = ZtZ / np.multiply.outer(d, d)[:, :, None]
    if q == 2:  # eigenvalues of [[a, b], [b, c]] in closed form: l_max = t/2 + sqrt(t^2/4 - det), l_min = det / l_max
        a, b, c = A[0, 0], A[1, 0], A[1, 1]
        half = (a + c) / 2
        l_max = half + np.sqrt(np.maximum(half * half - (a * c - b * b), 0.0))
        l_min = (a * c - b * b) / np.maximum(l_max, 1e-300)
    else:
        w = np.linalg.eigvalsh(np.moveaxis(A, 2, 0))
        l_min, l_max = w[:, 0], w[:, -1]
    return bool(np.all(l_min <= RANK_TOL * np.maximum(l_max, 1e-300)))


def _first_of_each_group(codes: np.ndarray, m: int) -> np.ndarray:
    """Index of each group's first row."""
    if len(codes) and np.all(codes[1:] >= codes[:-1]):
        return np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    first = np.full(m, len(codes))
    np.minimum.at(first, codes, np.arange(len(codes)))
    return first


def constant_within_groups(Z: np.ndarray, codes: np.ndarray, m: int) -> list[int]:
    """Columns of Z (other than an intercept) that take a single value within every group."""
    first = _first_of_each_group(codes, m)
    out = []
    for k in range(Z.shape[1]):
        z = Z[:, k]
        if np.all(z == 1.0):
            continue
        if np.array_equal(z, z[first][codes]):
            out.append(k)
    return out


def design_messages(levels: Sequence[RandomLevel], ZtZs: Sequence[np.ndarray]) -> list[str]:
    """What the data cannot identify at each level of random effects (empty when all is well).

    Parameters
    ----------
    levels : the random-effects levels (Z, its column names, group codes)
    ZtZs : for each level, Z_j'Z_j per group (q, q, m)
    """
    messages = []
    for lev, ZtZ in zip(levels, ZtZs):
        if not deficient_in_every_group(ZtZ):
            continue
        m = ZtZ.shape[2]
        has_intercept = any(np.all(lev.Z[:, k] == 1.0) for k in range(lev.Z.shape[1]))
        constant = constant_within_groups(lev.Z, lev.codes, m) if has_intercept else []
        if constant:
            first = _first_of_each_group(lev.codes, m)
            for k in constant:
                distinct = np.unique(lev.Z[first, k]).size
                name = lev.znames[k]
                if distinct <= 2:
                    what = "not identified"
                    how = (
                        f"it takes only {distinct} distinct value(s) over the groups, so its variance and its "
                        "covariance with the intercept are not identified (the criterion is flat along a line)"
                    )
                else:
                    what = "weakly identified"
                    how = (
                        "its variance is identified only through how the between-group variance changes with it "
                        f"across the {distinct} values it takes over the groups"
                    )
                messages.append(
                    f"random effects {what}: {name!r} is constant within every {lev.grouping!r} group, so its "
                    f"random slope at that level is confounded with the random intercept; {how}. Consider "
                    "dropping it from the random part (keep it, and its interactions, in the fixed part)"
                )
        else:
            messages.append(
                f"random effects not identified: the columns {lev.znames} of {lev.formula!r} are linearly "
                f"dependent within every {lev.grouping!r} group (rank(Z_j) < {lev.Z.shape[1]}), so no group "
                "can tell its random effects apart; their covariance is identified, if at all, only through "
                "how the between-group variance changes across groups"
            )
    return messages
