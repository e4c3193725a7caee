"""The fixed design of a model: the response y and the model matrix X.

:func:`fixed_design` turns an R-style formula and a data frame into a
:class:`FixedDesign`: y, X with R's column names, which rows were used
(rows with a missing value in any variable the model uses are dropped and
counted), and a way to build X for new data. Aliased (linearly dependent)
columns are an error that names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
from formulaic import Formula, model_matrix

from hlmlab.formula.fastpath import fast_matrices, plan_key, planned_matrices, remember_plan
from hlmlab.formula.terms import (
    FORMULA_CONTEXT,
    check_columns,
    check_response,
    complete_rows,
    drop_unused_levels,
    formula_variables,
    formulaic_errors,
    parsed_formula,
    positional,
    r_name,
    strict_levels,
)


@dataclass(frozen=True, eq=False)
class FixedDesign:
    """The fixed part of a model as matrices.

    Attributes
    ----------
    formula : str
        The formula as given, ``"y ~ x1 + x2"``.
    response : str
        The left-hand side (the response's name).
    y : ndarray, shape (n,)
        The response on the rows used.
    X : ndarray, shape (n, p)
        The model matrix, treatment contrasts, R column order.
    names : list of str
        R-style names of the columns of ``X``.
    rows : ndarray of bool, shape (N,)
        Which rows of the data frame given were used (``True``) or dropped
        because a variable the model uses is missing there.
    n_dropped : int
        ``N - n``, the number of rows dropped.
    spec : formulaic ModelSpec
        What turns new data into the same columns (see :meth:`model_matrix`).
    """

    formula: str
    response: str
    y: np.ndarray
    X: np.ndarray
    names: list[str]
    rows: np.ndarray
    n_dropped: int
    spec: Any = field(repr=False)

    @property
    def n(self) -> int:
        """Number of rows used."""
        return int(self.X.shape[0])

    @property
    def p(self) -> int:
        """Number of fixed-effect columns."""
        return int(self.X.shape[1])

    @property
    def has_intercept(self) -> bool:
        return "(Intercept)" in self.names

    def model_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """Rows of X for new data, with the same columns as the fit.

        Factor levels are those of the fitted data (a level the fit never saw
        is an error). Group summaries inside the formula (``cvar``, ``dvar``)
        are recomputed from ``newdata``, as R's ``predict`` does; to predict at
        chosen values of a contextual variable, put it in ``newdata`` as its
        own column and use that column in the formula.

        Returns
        -------
        ndarray, shape (len(newdata), p)
            Rows with a missing value come back as NaN rows (never dropped).
        """
        newdata = positional(newdata, "newdata")
        check_columns(str(self.spec.formula), newdata)
        with formulaic_errors(self.formula):
            mm = strict_levels(lambda: self.spec.get_model_matrix(newdata, context=FORMULA_CONTEXT, na_action="ignore"))
        X = np.asarray(mm, dtype=float)
        if X.shape[1] != self.p:  # pragma: no cover - formulaic keeps the structure
            raise ValueError(f"new data gave {X.shape[1]} columns, the fit has {self.p}: {self.names}")
        return X


def _unit_columns(X: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """A matrix A with A'A = D^-1 X'X D^-1 (D = diag(norms)): X's columns at unit length.

    Short X: X / norms itself. Tall X (over 4096 rows): the p x p square root
    diag(sqrt(w)) V' of the scaled Gram matrix V diag(w) V'. A QR
    decomposition, pivoted or not, depends on the columns only through
    their inner products, so A gives the same R and pivots at a cost
    independent of n and without copying X.
    """
    if X.shape[0] <= 4096:
        return X / norms
    G = (X.T @ X) / np.outer(norms, norms)
    w, V = np.linalg.eigh((G + G.T) / 2)
    return np.sqrt(np.clip(w, 0, None))[:, None] * V.T


def aliased_columns(X: np.ndarray, names: list[str], tol: float = 1e-7) -> list[str]:
    """Columns of X that are linear combinations of earlier ones (R's "aliased").

    Columns are scaled to unit length (units of measurement must not matter).
    The rank r comes from QR with column pivoting, X P = Q R: the number of
    diagonal elements with |R_kk| > tol |R_11| (tol = 1e-7, as R's ``lm``).
    Which columns to blame follows R's convention: in an unpivoted QR,
    |R_jj| is the length of column j's part orthogonal to the columns before
    it, and the p - r columns with the smallest such lengths are named.
    """
    p = X.shape[1]
    if p == 0:
        return []
    norms = np.sqrt(np.einsum("ij,ij->j", X, X))
    if np.any(norms == 0):
        return [names[j] for j in np.flatnonzero(norms == 0)]
    if not np.all(np.isfinite(norms)):
        raise ValueError("the model matrix has infinite or missing values, or values too large to square")
    # X is finite and A is a fresh array: LAPACK may work in place, unchecked
    R = scipy.linalg.qr(_unit_columns(X, norms), mode="r", pivoting=True, overwrite_a=True, check_finite=False)[0]
    d = np.abs(np.diag(R[:p]))
    rank = int(np.sum(d > tol * d[0])) if d[0] > 0 else 0
    if rank == p:
        return []
    seq = np.abs(np.diag(scipy.linalg.qr(_unit_columns(X, norms), mode="r", overwrite_a=True)[0][:p]))
    bad = np.sort(np.argsort(seq, kind="stable")[: p - rank])
    return [names[j] for j in bad]


def _fixed_matrices(f: Formula, formula: str, data: pd.DataFrame) -> tuple:
    """y, X, the rows used, formulaic's spec and column names.

    Fast paths (:mod:`hlmlab.formula.fastpath`): large numeric designs are
    built column by column; a formula seen before on columns of the same types
    (and, for factors, the same categories and levels present) without missing
    values reuses formulaic's spec and a column plan checked against
    formulaic's X the first time.
    """
    lhs_name = str(f.lhs)
    fast = fast_matrices(f, data)
    if fast is not None:
        return fast
    key = plan_key(formula, data) if lhs_name in data.columns else None
    cached = planned_matrices(key, lhs_name, data)
    if cached is not None:
        return cached
    with formulaic_errors(formula):
        mm = model_matrix(f, data, context=FORMULA_CONTEXT, na_action="drop")
    remember_plan(key, mm, data)
    lhs, rhs = mm.lhs, mm.rhs
    if lhs.shape[1] != 1:
        raise ValueError(
            f"the response of {formula!r} gave {lhs.shape[1]} columns {list(lhs.columns)}; "
            "it must be a single numeric variable"
        )
    rows = np.zeros(len(data), dtype=bool)
    rows[np.asarray(rhs.index)] = True
    y = np.asarray(lhs.iloc[:, 0], dtype=float)
    X = np.asarray(rhs, dtype=float)
    return y, X, rows, rhs.model_spec, list(rhs.columns)


def model_frame(formula: str, data: pd.DataFrame, keep: np.ndarray | None = None) -> pd.DataFrame:
    """The data as the model sees them: categorical columns without the levels absent from the rows used.

    As R's ``model.frame`` (``drop.unused.levels``): the rows used are those
    with no missing value in the formula's columns (and ``keep``); a level
    that none of them has gets no column (a subset of the data would
    otherwise leave an all-zero, aliased column). A categorical term with a
    single level left is a ValueError, as in R.
    """
    names = [v for v in formula_variables(formula) if v in data.columns]
    factors = [v for v in names if isinstance(data[v].dtype, pd.CategoricalDtype)]
    if not factors:
        return data
    ok = complete_rows(data, names)
    if keep is not None:
        ok = ok & np.asarray(keep, dtype=bool)
    out = drop_unused_levels(data, factors, ok)
    f = parsed_formula(formula)
    direct = {str(fac.expr).strip("`") for term in f.rhs for fac in term.factors}
    for v in factors:
        categories = out[v].cat.categories
        if v in direct and len(categories) < 2:
            levels = [str(c) for c in categories]
            raise ValueError(
                f"the factor {v!r} of {formula!r} has only the level(s) {levels} in the rows used: a factor "
                "needs 2 or more levels to have a contrast (as R's 'contrasts can be applied only to factors "
                "with 2 or more levels'); drop it from the formula"
            )
    return out


def fixed_design(formula: str, data: pd.DataFrame, keep: np.ndarray | None = None) -> FixedDesign:
    """Build y and X from an R-style formula.

    Parameters
    ----------
    formula : str
        ``"response ~ terms"``; ``a * b`` expands to ``a + b + a:b``; ``- 1``
        removes the intercept.
    data : DataFrame
    keep : ndarray of bool, optional
        Rows that must also be dropped where False (for example where a
        variable of the random part is missing).

    Returns
    -------
    FixedDesign

    Raises
    ------
    TypeError
        ``data`` is not a DataFrame.
    KeyError
        A variable of the formula is not a column of the data.
    ValueError
        The response is not numeric; a variable names more than one column;
        formulaic cannot build a term (the message names it); ``offset()`` or
        a random-effects bar in the formula; no rows are left; X is rank
        deficient (the message names the aliased columns).

    Notes
    -----
    The formula is read as in R (:mod:`hlmlab.formula.rsyntax`): ``I(x^2)``
    is x squared, ``(a + b + c)^2`` the main effects and two-way
    interactions, ``x.1`` and `` `my var` `` are names, ``factor(x)`` a
    categorical. Unused levels of categorical columns are dropped first
    (:func:`model_frame`).
    """
    data = positional(data)
    f = parsed_formula(formula)
    check_columns(formula, data)
    check_response(f, data)
    data = model_frame(formula, data, keep)
    y, X, rows, spec, colnames = _fixed_matrices(f, formula, data)
    if keep is not None:
        keep = np.asarray(keep, dtype=bool)
        sub = keep[rows]
        rows &= keep
        if not sub.all():  # copying X costs a full-size array: only when rows go
            y, X = y[sub], X[sub]
    if not np.all(np.isfinite(y)):
        raise ValueError(f"the response {str(f.lhs)!r} has infinite values")
    if not np.all(np.isfinite(X)):
        raise ValueError("the model matrix has infinite values (a log of zero?)")
    n = len(y)
    names = [r_name(c) for c in colnames]
    if n == 0:
        raise ValueError(f"no rows left for {formula!r}: every row has a missing value in a variable it uses")
    bad = aliased_columns(X, names)
    if bad:
        raise ValueError(
            f"the fixed-effects design of {formula!r} is rank deficient: column(s) {bad} are linear "
            "combinations of the others (aliased); drop or recode them"
        )
    return FixedDesign(
        formula=formula,
        response=str(f.lhs),
        y=y,
        X=X,
        names=names,
        rows=rows,
        n_dropped=int(len(data) - n),
        spec=spec,
    )
