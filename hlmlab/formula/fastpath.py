"""Fast paths to the fixed model matrix, and the plan cache.

formulaic evaluates a formula through data frames, which costs memory and
time on large data and on repeated fits. Two shortcuts give formulaic's
numbers exactly (tested) for less:

- above ``FAST_PATH_ROWS`` rows, a formula made only of numeric columns,
  their products and an intercept is built column by column in place
  (:func:`fast_matrices`);
- a formula seen before on columns of the same types reuses formulaic's
  spec and a column-by-column plan of X, checked bit for bit against
  formulaic's X the first time (:func:`planned_matrices`,
  :func:`remember_plan`; the cache is ``_PLANS``, documented below).

Anything else goes through formulaic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix

from hlmlab.formula.terms import FORMULA_CONTEXT, formula_variables

#: above this many rows, formulas made of numeric columns, products of them and
#: an intercept skip formulaic's data frames (same numbers, a fraction of the memory)
FAST_PATH_ROWS = 10_000


def _numeric_lookup(data: pd.DataFrame, factor: Any) -> np.ndarray | None:
    """A numeric (not boolean) column named by a formula factor, as float64 (a view when possible)."""
    from formulaic.parser.types.factor import Factor

    if factor.eval_method != Factor.EvalMethod.LOOKUP or factor.expr not in data.columns:
        return None
    s = data[factor.expr]
    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return None
    return s.to_numpy(dtype=float)


def fast_model_matrix(spec: Any, data: pd.DataFrame) -> np.ndarray | None:
    """The model matrix of ``spec`` built column by column, or None when formulaic is needed.

    Works when every term is the intercept or a product of numeric columns
    (``x``, ``x:w``) and no value is missing: column j is filled in place with
    the product of its factors, exactly as formulaic computes it, without
    the intermediate data frames.
    """
    from formulaic.parser.types.factor import Factor

    plan: list[list[np.ndarray] | None] = []
    for t in spec.structure:
        if len(t.columns) != 1:
            return None
        factors = list(t.term.factors)
        if len(factors) == 1 and factors[0].eval_method == Factor.EvalMethod.LITERAL and factors[0].expr == "1":
            plan.append(None)
            continue
        cols = [_numeric_lookup(data, f) for f in factors]
        if any(c is None for c in cols):
            return None
        plan.append(cols)
    X = np.empty((len(data), len(plan)), order="F")
    for j, cols in enumerate(plan):
        if cols is None:
            X[:, j] = 1.0
            continue
        np.copyto(X[:, j], cols[0])
        for c in cols[1:]:
            X[:, j] *= c
    if np.isnan(X).any():
        return None
    return X


def head_spec(formula: Any, data: pd.DataFrame) -> tuple[Any, list[str]] | None:
    """formulaic's spec and column names from the first rows (enough for numeric-only formulas)."""
    try:
        mm = model_matrix(formula, data.iloc[:64], context=FORMULA_CONTEXT, na_action="ignore")
    except Exception:
        return None
    rhs = mm.rhs if hasattr(mm, "rhs") else mm
    return rhs.model_spec, list(rhs.columns)


#: The plan cache: for each key of :func:`plan_key` (a formula and the types of
#: the columns it names), formulaic's model spec, its column names, and a
#: column-by-column plan of X (None when the plan could not reproduce
#: formulaic's X exactly). Filled by :func:`remember_plan` the first time a
#: formula is seen on such columns, read by :func:`planned_matrices`; cleared
#: when it holds ``PLAN_CACHE_SIZE`` entries. A cached plan only replaces
#: formulaic's evaluation when it gave formulaic's X bit for bit.
_PLANS: dict[tuple, tuple[Any, list[str], list | None]] = {}
PLAN_CACHE_SIZE = 256


def plan_key(formula: str, data: pd.DataFrame) -> tuple | None:
    """What formulaic's design depends on besides the values: the formula, the types of the
    columns it names, and for each categorical column its categories and the levels present.

    None (formulaic every time) when a column the formula names is not numeric or
    unordered categorical, or has a missing value.
    """
    parts: list[Any] = [formula]
    for name in sorted(formula_variables(formula)):
        if name not in data.columns:
            continue
        s = data[name]
        dt = s.dtype
        if isinstance(dt, pd.CategoricalDtype):
            if dt.ordered:
                return None
            codes = s.array.codes
            if len(codes) and codes.min() < 0:
                return None
            present = np.flatnonzero(np.bincount(codes, minlength=len(dt.categories)))
            parts.append((name, "cat", tuple(str(c) for c in dt.categories), present.tobytes()))
        elif pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt):
            if dt.kind == "f" and np.isnan(s.to_numpy()).any():
                return None
            parts.append((name, str(dt)))
        else:
            return None
    return tuple(parts)


def _column_plan(spec: Any, colnames: list[str], data: pd.DataFrame) -> list | None:
    """For each column of X: None (the intercept) or its factors, ("num", col) or ("ind", col, level code).

    Read from formulaic's spec and column names (``ses:Sector[T.Public]``); None when a
    term is anything else (a transform, a function, a name the plan cannot read).
    """
    from formulaic.parser.types.factor import Factor

    plan: list = []
    names = iter(colnames)
    for t in spec.structure:
        factors = list(t.term.factors)
        for col in t.columns:
            if col != next(names, None):
                return None
            if len(factors) == 1 and factors[0].eval_method == Factor.EvalMethod.LITERAL and factors[0].expr == "1":
                plan.append(None)
                continue
            pieces = col.split(":")
            if len(pieces) != len(factors):
                return None
            cols = []
            for fac, piece in zip(factors, pieces):
                if fac.eval_method != Factor.EvalMethod.LOOKUP or fac.expr not in data.columns:
                    return None
                s = data[fac.expr]
                if isinstance(s.dtype, pd.CategoricalDtype):
                    cats = [str(c) for c in s.dtype.categories]
                    hits = [k for k, c in enumerate(cats) if piece in (f"{fac.expr}[T.{c}]", f"{fac.expr}[{c}]")]
                    if len(hits) != 1:
                        return None
                    cols.append(("ind", fac.expr, hits[0]))
                elif piece == fac.expr:
                    cols.append(("num", fac.expr))
                else:
                    return None
            plan.append(cols)
    return plan


def _planned_matrix(plan: list, data: pd.DataFrame) -> np.ndarray:
    """X from a column plan: products of numeric columns and level indicators."""
    X = np.empty((len(data), len(plan)), order="F")  # formulaic's layout (same sums, bit for bit)
    codes: dict[str, np.ndarray] = {}
    for j, cols in enumerate(plan):
        if cols is None:
            X[:, j] = 1.0
            continue
        for i, c in enumerate(cols):
            if c[0] == "num":
                v = data[c[1]].to_numpy(dtype=float)
            else:
                if c[1] not in codes:
                    codes[c[1]] = data[c[1]].array.codes
                v = (codes[c[1]] == c[2]).astype(float)
            if i == 0:
                X[:, j] = v
            else:
                X[:, j] *= v
    return X


def fast_matrices(f: Formula, data: pd.DataFrame) -> tuple | None:
    """Large numeric designs, column by column: (y, X, rows, spec, names), or None to use formulaic.

    Used above ``FAST_PATH_ROWS`` rows when the response has no missing value
    and every term is numeric (see :func:`fast_model_matrix`).
    """
    lhs_name = str(f.lhs)
    if len(data) <= FAST_PATH_ROWS or lhs_name not in data.columns:
        return None
    head = head_spec(Formula(str(f.rhs)), data)
    y = data[lhs_name].to_numpy(dtype=float)
    if head is None or np.isnan(y).any():
        return None
    X = fast_model_matrix(head[0], data)
    if X is None:
        return None
    return y, X, np.ones(len(data), dtype=bool), head[0], head[1]


def planned_matrices(key: tuple | None, lhs_name: str, data: pd.DataFrame) -> tuple | None:
    """(y, X, rows, spec, names) from the plan cache, or None when the formula has no usable plan."""
    if key is None or key not in _PLANS or _PLANS[key][2] is None:
        return None
    spec, colnames, plan = _PLANS[key]
    y = data[lhs_name].to_numpy(dtype=float)
    if np.isnan(y).any():
        return None
    return y, _planned_matrix(plan, data), np.ones(len(data), dtype=bool), spec, list(colnames)


def remember_plan(key: tuple | None, mm: Any, data: pd.DataFrame) -> None:
    """Store formulaic's spec and a column plan for ``key``, if the plan reproduces formulaic's X exactly."""
    if key is None or key in _PLANS or mm.lhs.shape[1] != 1 or len(mm.rhs) != len(data):
        return
    spec, colnames = mm.rhs.model_spec, list(mm.rhs.columns)
    plan = _column_plan(spec, colnames, data)
    if plan is not None and not np.array_equal(_planned_matrix(plan, data), np.asarray(mm.rhs, dtype=float)):
        plan = None
    if len(_PLANS) >= PLAN_CACHE_SIZE:
        _PLANS.clear()
    _PLANS[key] = (spec, colnames, plan)
