"""Formulas as hlmlab reads them: the names usable inside them, R's coefficient names, checks.

The fixed part of a model is an R-style formula, ``"mathach ~ ses * Sector"``,
turned into the response and the model matrix by formulaic, with R's
coefficient names (``(Intercept)``, ``SectorPublic``, ``ses:SectorPublic``)
and treatment contrasts that take the first level of a factor as reference.
Inside a formula, ``cvar``, ``dvar``, ``C``, ``I`` and numpy functions
(``np.log`` or plain ``log``, ``exp``, ``sqrt``) can be used
(:data:`FORMULA_CONTEXT`).
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula

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


#: Names usable inside a formula besides the data's columns.
FORMULA_CONTEXT: dict[str, Any] = {
    "np": np,
    "numpy": np,
    "cvar": _by_level(cvar),
    "dvar": _by_level(dvar),
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


@lru_cache(maxsize=256)
def parsed_formula(formula: str) -> Formula:
    """formulaic's parse of a formula string, once per string."""
    return Formula(formula)


@lru_cache(maxsize=256)
def formula_variables(formula: str) -> frozenset[str]:
    """Names a formula refers to (columns, and functions such as cvar), parsed once per formula."""
    return frozenset(str(v) for v in parsed_formula(formula).required_variables)


def check_columns(formula: Any, data: pd.DataFrame, text: str | None = None) -> None:
    """Raise a KeyError naming any variable of the formula that is not in the data."""
    text = text if text is not None else str(formula)
    needed = formula_variables(str(formula)) if isinstance(formula, str) else {str(v) for v in formula.required_variables}
    missing = sorted(v for v in needed if v not in data.columns and v not in FORMULA_CONTEXT)
    if missing:
        raise KeyError(
            f"variable(s) {missing} in the formula {text!r} not found in the data; "
            f"available columns: {list(data.columns)}"
        )


_LEVEL = re.compile(r"\[(?:T\.)?([^\[\]]*)\]")


def r_name(name: str) -> str:
    """formulaic's column name in R's spelling.

    ``Intercept`` becomes ``(Intercept)`` and the level suffix of a factor
    loses its brackets: ``Sector[T.Public]`` -> ``SectorPublic``,
    ``ses:Sector[T.Public]`` -> ``ses:SectorPublic``,
    ``C(school)[T.1906]`` -> ``C(school)1906``.
    """
    if name == "Intercept":
        return "(Intercept)"
    return _LEVEL.sub(r"\1", name)


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
