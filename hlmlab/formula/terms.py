"""Formulas as hlmlab reads them: the names usable inside them, R's coefficient names, checks.

The fixed part of a model is an R-style formula, ``"mathach ~ ses * Sector"``,
turned into the response and the model matrix by formulaic, with R's
coefficient names (``(Intercept)``, ``SectorPublic``, ``ses:SectorPublic``)
and treatment contrasts that take the first level of a factor as reference.
Inside a formula, ``cvar``, ``dvar``, ``C``, ``factor``, ``I`` and numpy
functions (``np.log`` or plain ``log``, ``exp``, ``sqrt``) can be used
(:data:`FORMULA_CONTEXT`). Formulas are read as R reads them
(:mod:`hlmlab.formula.rsyntax`): ``^`` inside ``I()`` is a power, ``x.1`` a
name. Errors from formulaic come back as a ValueError that names the formula,
without terminal colour codes (:func:`formulaic_errors`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula

from hlmlab.formula.rsyntax import backtick_names, plain_identifiers, r_formula
from hlmlab.multilevel.tools import cvar, dvar


def _by_level(fun: Any) -> Any:
    """Wrap a group summary for use inside a formula.

    For a numeric x it returns the summary as it is; for a factor (whose
    summary is one column per non-reference level) it returns a dict keyed by
    level, which formulaic turns into one model-matrix column per level,
    named in R's style: ``cvar(Minority, school)Yes``.
    """

    def wrapped(x: Any, by: Any) -> Any:
        out = fun(x, by)
        if isinstance(out, pd.DataFrame):
            levels = pd.Series(x).astype("category").cat.categories[1:]
            return {str(lev): out[c].to_numpy() for lev, c in zip(levels, out.columns)}
        return out

    wrapped.__name__ = fun.__name__
    wrapped.__doc__ = fun.__doc__
    return wrapped


def factor(x: Any) -> pd.Series:
    """R's ``factor(x)``: x as a categorical whose levels are its values present, sorted.

    A categorical keeps its level order and loses the levels not present (R's
    ``factor`` of a factor). In a formula, ``factor(x)`` gives treatment
    contrasts with the smallest value as reference, named ``factor(x)2``.
    """
    s = x if isinstance(x, pd.Series) else pd.Series(x)
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.remove_unused_categories()
    return pd.Series(pd.Categorical(s), index=s.index, name=s.name)


#: Names usable inside a formula besides the data's columns.
FORMULA_CONTEXT: dict[str, Any] = {
    "np": np,
    "numpy": np,
    "cvar": _by_level(cvar),
    "dvar": _by_level(dvar),
    "factor": factor,
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
}


def strict_levels(build: Any) -> Any:
    """Run a formulaic call on new data; a factor level the fit never saw is an error, not a NaN row."""
    from formulaic.errors import DataMismatchWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataMismatchWarning)
        try:
            return build()
        except DataMismatchWarning as w:
            found = re.search(r"\{.*\}", str(w))
            levels = found.group(0) if found else str(w)
            raise ValueError(
                f"new data have factor level(s) {levels} that the fitted data did not have; "
                "predictions need levels the model has coefficients for"
            ) from None


def positional(data: Any, what: str = "data") -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    idx = data.index
    if isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1:
        return data  # already positional (read only here): no copy
    return data.reset_index(drop=True)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain_message(error: BaseException) -> str:
    """An exception's message without terminal colour codes."""
    return _ANSI.sub("", str(error))


@contextmanager
def formulaic_errors(formula: str) -> Iterator[None]:
    """Re-raise formulaic's errors as a ValueError naming the formula, colour codes stripped.

    formulaic names the term it could not evaluate (``Unable to evaluate
    factor `I(x ** 2)`...``); that text is kept. Python syntax errors inside a
    term (``I(b +* c)``) are reported the same way.
    """
    from formulaic.errors import FormulaicError

    try:
        yield
    except SyntaxError as e:
        term = (e.text or "").strip()
        raise ValueError(f"cannot build the formula {formula!r}: the term {term!r} is not valid ({e.msg})") from None
    except FormulaicError as e:
        raise ValueError(f"cannot build the formula {formula!r}: {plain_message(e)}") from None


@lru_cache(maxsize=256)
def parsed_formula(formula: str) -> Formula:
    """formulaic's parse of a formula string read as R reads it (:func:`r_formula`), once per string."""
    with formulaic_errors(formula):
        return Formula(r_formula(formula))


@lru_cache(maxsize=256)
def formula_variables(formula: str) -> frozenset[str]:
    """Names a formula refers to (columns, and functions such as cvar), parsed once per formula.

    A backticked or dotted name (`` `my var` ``, ``x.1``) counts whole; the
    piece formulaic reports for ``x.1`` (``x``) counts only when ``x`` is
    also written on its own.
    """
    text = r_formula(formula)
    quoted = backtick_names(text)
    fragments = {q.split(".")[0] for q in quoted if "." in q}
    plain = plain_identifiers(text)
    found = {str(v) for v in parsed_formula(formula).required_variables}
    return frozenset({v for v in found if v not in fragments or v in plain} | quoted)


def check_columns(formula: Any, data: pd.DataFrame, text: str | None = None) -> None:
    """Raise a KeyError naming any variable of the formula that is not in the data.

    A variable whose name is duplicated among the data's columns is a
    ValueError (which of the columns is meant cannot be told).
    """
    text = text if text is not None else str(formula)
    needed = formula_variables(str(formula))
    missing = sorted(v for v in needed if v not in data.columns and v not in FORMULA_CONTEXT)
    called = {v for v in missing if re.search(rf"(?<![\w.`]){re.escape(v)}\s*\(", str(formula))}
    if called:
        raise ValueError(
            f"function(s) {sorted(called)} in the formula {text!r} are not known; inside a formula you can use "
            f"{sorted(k for k in FORMULA_CONTEXT if k not in ('np', 'numpy'))}, I(), C(), numpy as np.<function> "
            "and formulaic's own transforms (scale, center, poly)"
        )
    if missing:
        raise KeyError(
            f"variable(s) {missing} in the formula {text!r} not found in the data; "
            f"available columns: {list(data.columns)}"
        )
    check_unique_columns(data, needed)


def check_unique_columns(data: pd.DataFrame, names: Any) -> None:
    """A ValueError when one of ``names`` is the name of more than one column of ``data``."""
    if not data.columns.has_duplicates:
        return
    dup = sorted({str(c) for c in data.columns[data.columns.duplicated()]} & {str(v) for v in names})
    if dup:
        raise ValueError(
            f"the data have more than one column named {dup}: rename or drop the duplicates "
            "(e.g. data.loc[:, ~data.columns.duplicated()])"
        )


def missing_values(s: pd.Series) -> np.ndarray | None:
    """Where the column ``s`` is missing (boolean array), or None when it cannot be (numpy integers, booleans).

    The same as ``s.isna().to_numpy()``, read from the column's own array:
    NaN for numpy floats, code -1 for categoricals, ``pd.isna`` otherwise
    (``Series.isna`` spends far longer on its own overhead than on the
    comparison, and a fit looks at several columns).
    """
    values = s.array
    if isinstance(values, pd.Categorical):
        return values.codes < 0
    dtype = s.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in "iub":
            return None
        if dtype.kind in "fc":
            return np.isnan(s.to_numpy())
    return np.asarray(pd.isna(values), dtype=bool)


def complete_rows(data: pd.DataFrame, names: Any) -> np.ndarray:
    """Rows with no missing value in any of the columns ``names`` (boolean array; all True for no names).

    The same as ``data[names].notna().all(axis=1)``, column by column, without
    building the sub-frame (:func:`missing_values`).
    """
    ok = np.ones(len(data), dtype=bool)
    for v in names:
        miss = missing_values(data[v])
        if miss is not None:
            ok &= ~miss
    return ok


def drop_unused_levels(data: pd.DataFrame, names: Any, rows: np.ndarray | None = None) -> pd.DataFrame:
    """R's ``droplevels`` in a model frame: categorical columns lose the levels absent from ``rows``.

    ``rows`` (boolean, default all) are the rows the model uses. Returns
    ``data`` itself when nothing changes, else a shallow copy with the new
    columns (the caller decides whether a factor left with one level is an
    error, as R's "contrasts can be applied only to factors with 2 or more levels").
    """
    out = data
    for v in sorted(names):
        if v not in data.columns:
            continue
        s = data[v]
        if not isinstance(s.dtype, pd.CategoricalDtype):
            continue
        codes = s.array.codes
        if rows is not None:
            codes = codes[np.asarray(rows, dtype=bool)]
        present = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(s.cat.categories)))
        if len(present) == len(s.cat.categories):
            continue
        if out is data:
            out = data.copy(deep=False)
        out[v] = s.cat.remove_unused_categories() if rows is None else s.cat.set_categories(s.cat.categories[present])
    return out


_LEVEL = re.compile(r"\[(?:T\.)?([^\[\]]*)\]")
_QUOTED = re.compile(r"`([^`]*)`")
_R_NAME = re.compile(r"(?:[A-Za-z]|\.(?![0-9]))[\w.]*")


def r_name(name: str) -> str:
    """formulaic's column name in R's spelling.

    ``Intercept`` becomes ``(Intercept)`` and the level suffix of a factor
    loses its brackets: ``Sector[T.Public]`` -> ``SectorPublic``,
    ``ses:Sector[T.Public]`` -> ``ses:SectorPublic``,
    ``C(school)[T.1906]`` -> ``C(school)1906``; a name quoted only for
    formulaic loses its backticks: ``log(`x.1`)`` -> ``log(x.1)``.
    """
    if name == "Intercept":
        return "(Intercept)"
    return _QUOTED.sub(lambda m: m.group(1) if _R_NAME.fullmatch(m.group(1)) else m.group(0), _LEVEL.sub(r"\1", name))


def check_response(formula: Formula, data: pd.DataFrame) -> None:
    lhs = [str(t) for t in formula.lhs] if hasattr(formula, "lhs") else []
    if len(lhs) != 1:
        raise ValueError(f"the formula must have one response on the left of '~'; got {lhs or 'none'}")
    name = lhs[0]
    if name in data.columns:
        s = data[name]
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            raise ValueError(
                f"the response {name!r} is not numeric (dtype {s.dtype}); "
                "a linear model needs a numeric response (recode it, e.g. as 0/1, if that is meant)"
            )
