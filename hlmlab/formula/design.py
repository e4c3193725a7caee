"""Formulas to matrices: the fixed design and the random-effects terms.

The fixed part of a model is an R-style formula, ``"mathach ~ ses * Sector"``,
turned into the response ``y`` and the model matrix ``X`` by formulaic, with
R's coefficient names (``(Intercept)``, ``SectorPublic``, ``ses:SectorPublic``)
and treatment contrasts that take the first level of a factor as reference.
Inside a formula, ``cvar``, ``dvar``, ``C``, ``I`` and numpy functions
(``np.log`` or plain ``log``, ``exp``, ``sqrt``) can be used.

The random part is written as in nlme: ``"~ 1 + ses | school"`` (one grouping
factor, unstructured covariance), ``"~ 1 | board/school"`` (schools nested in
boards: two levels, ``board`` and ``board/school``), or a list of such terms
for nested grouping factors.

Rows with a missing value in any variable the model uses are dropped; the
design records which rows were kept (``rows``) and how many were dropped
(``n_dropped``). A grouping factor with missing values is an error.

Speed: on large data (over ``FAST_PATH_ROWS`` rows) a formula made only of
numeric columns, their products and an intercept is built column by column
in place, and random-effect terms that are sums of numeric columns are
always built directly; both give formulaic's numbers exactly (tested) with
a fraction of its memory. Everything else goes through formulaic.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
from formulaic import Formula, model_matrix

from hlmlab.multilevel.tools import cvar, dvar

__all__ = [
    "FORMULA_CONTEXT",
    "FixedDesign",
    "fixed_design",
    "RandomTerm",
    "RandomLevel",
    "parse_random",
    "random_design",
]

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


# ---------------------------------------------------------------------------
# the fixed design
# ---------------------------------------------------------------------------
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
        newdata = _positional(newdata, "newdata")
        _check_columns(str(self.spec.formula), newdata)
        mm = _strict(lambda: self.spec.get_model_matrix(newdata, context=FORMULA_CONTEXT, na_action="ignore"))
        X = np.asarray(mm, dtype=float)
        if X.shape[1] != self.p:  # pragma: no cover - formulaic keeps the structure
            raise ValueError(f"new data gave {X.shape[1]} columns, the fit has {self.p}: {self.names}")
        return X


def _strict(build: Any) -> Any:
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


def _positional(data: Any, what: str = "data") -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    idx = data.index
    if isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1:
        return data  # already positional (read only here): no copy
    return data.reset_index(drop=True)


@lru_cache(maxsize=256)
def _formula(formula: str) -> Formula:
    """formulaic's parse of a formula string, once per string."""
    return Formula(formula)


@lru_cache(maxsize=256)
def _variables(formula: str) -> frozenset[str]:
    """Names a formula refers to (columns, and functions such as cvar), parsed once per formula."""
    return frozenset(str(v) for v in _formula(formula).required_variables)


def _check_columns(formula: Any, data: pd.DataFrame, text: str | None = None) -> None:
    """Raise a KeyError naming any variable of the formula that is not in the data."""
    text = text if text is not None else str(formula)
    needed = _variables(str(formula)) if isinstance(formula, str) else {str(v) for v in formula.required_variables}
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


def _check_response(formula: Formula, data: pd.DataFrame) -> None:
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


def _head_spec(formula: Any, data: pd.DataFrame) -> tuple[Any, list[str]] | None:
    """formulaic's spec and column names from the first rows (enough for numeric-only formulas)."""
    try:
        mm = model_matrix(formula, data.iloc[:64], context=FORMULA_CONTEXT, na_action="ignore")
    except Exception:
        return None
    rhs = mm.rhs if hasattr(mm, "rhs") else mm
    return rhs.model_spec, list(rhs.columns)


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
    A = _unit_columns(X, norms)
    d = np.abs(np.diag(scipy.linalg.qr(A, mode="r", pivoting=True)[0][:p]))
    rank = int(np.sum(d > tol * d[0])) if d[0] > 0 else 0
    if rank == p:
        return []
    seq = np.abs(np.diag(scipy.linalg.qr(A, mode="r")[0][:p]))
    bad = np.sort(np.argsort(seq, kind="stable")[: p - rank])
    return [names[j] for j in bad]


#: formulaic's spec, column names and a column-by-column plan, by formula and column types (see _plan_key)
_PLANS: dict[tuple, tuple[Any, list[str], list | None]] = {}


def _plan_key(formula: str, data: pd.DataFrame) -> tuple | None:
    """What formulaic's design depends on besides the values: the formula, the types of the
    columns it names, and for each categorical column its categories and the levels present.

    None (formulaic every time) when a column the formula names is not numeric or
    unordered categorical, or has a missing value.
    """
    parts: list[Any] = [formula]
    for name in sorted(_variables(formula)):
        if name not in data.columns:
            continue
        s = data[name]
        dt = s.dtype
        if isinstance(dt, pd.CategoricalDtype):
            if dt.ordered:
                return None
            codes = s.cat.codes.to_numpy()
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
                    codes[c[1]] = data[c[1]].cat.codes.to_numpy()
                v = (codes[c[1]] == c[2]).astype(float)
            if i == 0:
                X[:, j] = v
            else:
                X[:, j] *= v
    return X


def _fixed_matrices(f: Formula, formula: str, data: pd.DataFrame) -> tuple:
    """y, X, the rows used, formulaic's spec and column names.

    Fast paths: large numeric designs are built column by column; a formula
    seen before on columns of the same types (and, for factors, the same
    categories and levels present) without missing values reuses formulaic's
    spec and a column plan checked against formulaic's X the first time.
    """
    lhs_name = str(f.lhs)
    if len(data) > FAST_PATH_ROWS and lhs_name in data.columns:
        head = _head_spec(Formula(str(f.rhs)), data)
        y = data[lhs_name].to_numpy(dtype=float)
        if head is not None and not np.isnan(y).any():
            X = fast_model_matrix(head[0], data)
            if X is not None:
                return y, X, np.ones(len(data), dtype=bool), head[0], head[1]
    key = _plan_key(formula, data) if lhs_name in data.columns else None
    if key is not None and key in _PLANS and _PLANS[key][2] is not None:
        spec, colnames, plan = _PLANS[key]
        y = data[lhs_name].to_numpy(dtype=float)
        if not np.isnan(y).any():
            return y, _planned_matrix(plan, data), np.ones(len(data), dtype=bool), spec, list(colnames)
    mm = model_matrix(f, data, context=FORMULA_CONTEXT, na_action="drop")
    if key is not None and key not in _PLANS and mm.lhs.shape[1] == 1 and len(mm.rhs) == len(data):
        spec, colnames = mm.rhs.model_spec, list(mm.rhs.columns)
        plan = _column_plan(spec, colnames, data)
        if plan is not None and not np.array_equal(_planned_matrix(plan, data), np.asarray(mm.rhs, dtype=float)):
            plan = None
        if len(_PLANS) >= 256:
            _PLANS.clear()
        _PLANS[key] = (spec, colnames, plan)
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
    KeyError
        A variable of the formula is not a column of the data.
    ValueError
        The response is not numeric; no rows are left; X is rank deficient
        (the message names the aliased columns).
    """
    data = _positional(data)
    f = _formula(formula)
    _check_columns(formula, data)
    _check_response(f, data)
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


# ---------------------------------------------------------------------------
# random-effects terms
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``~ lhs | group``.

    Attributes
    ----------
    lhs : str
        The formula of the random effects' columns, ``"1 + ses"``.
    factors : tuple of str
        The columns whose combinations define the groups: ``("school",)``, or
        ``("board", "school")`` for schools within boards.
    """

    lhs: str
    factors: tuple[str, ...]

    @property
    def name(self) -> str:
        """The level's name as nlme prints it: ``school``, or ``board/school`` for a nested level."""
        return self.factors[-1] if len(self.factors) == 1 else "/".join(self.factors)

    @property
    def formula(self) -> str:
        return f"~{self.lhs} | {self.name}"


def parse_random(random: str | list[str] | tuple[str, ...]) -> list[RandomTerm]:
    """Parse random-effects formulas into terms, outermost level first.

    ``"~ 1 + ses | school"`` -> one term; ``"~ 1 | board/school"`` -> two terms,
    groups ``board`` and ``board/school`` (each school within its board);
    a list of strings gives one term each (levels are put in order later, by
    nesting).
    """
    if isinstance(random, str):
        random = [random]
    if not isinstance(random, (list, tuple)) or not random:
        raise TypeError("random must be a formula such as '~ 1 + ses | school' or a list of them")
    terms: list[RandomTerm] = []
    for r in random:
        if not isinstance(r, str) or r.count("|") != 1:
            raise ValueError(f"random term {r!r} must look like '~ 1 + ses | school' (one '|')")
        left, right = r.split("|")
        left = left.strip()
        if left.startswith("~"):
            left = left[1:].strip()
        if not left:
            raise ValueError(f"random term {r!r} has nothing left of '|'; write '~ 1 | group' for intercepts")
        factors = tuple(g.strip() for g in right.split("/"))
        if any(not g or not re.fullmatch(r"[A-Za-z_.][\w.]*(:[A-Za-z_.][\w.]*)*", g) for g in factors):
            raise ValueError(f"grouping {right.strip()!r} of {r!r} must be column names separated by '/' or ':'")
        for depth in range(1, len(factors) + 1):
            terms.append(RandomTerm(lhs=left, factors=factors[:depth]))
    return terms


@dataclass(frozen=True, eq=False)
class RandomLevel:
    """One level of random effects on the rows of the fit.

    Attributes
    ----------
    name : str
        The grouping, ``school`` or ``board/school``.
    formula : str
        The term, ``~1 + ses | school``.
    Z : ndarray, shape (n, q)
        The random effects' columns on the rows used.
    znames : list of str
        Their names (R style).
    codes : ndarray of int, shape (n,)
        Group of each row, 0..m-1; groups are numbered in sorted order of the
        outer levels first, so the groups of a parent unit are consecutive.
    labels : Index
        The group labels (``1317``, or ``"3/1317"`` for nested groups).
    parent : ndarray of int, shape (m,), or None
        For a nested level, the code of each group's unit at the level above.
    spec : formulaic ModelSpec or None
        What builds Z for new data (None when Z was built directly from
        numeric columns; :meth:`z_matrix` then asks formulaic afresh).
    """

    name: str
    formula: str
    Z: np.ndarray
    znames: list[str]
    codes: np.ndarray
    labels: pd.Index
    parent: np.ndarray | None
    spec: Any = field(repr=False)
    factors: tuple[str, ...] = ()

    @property
    def q(self) -> int:
        return int(self.Z.shape[1])

    @property
    def ngroups(self) -> int:
        return len(self.labels)

    def z_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """Z columns for new data (NaN rows where a variable is missing)."""
        newdata = _positional(newdata, "newdata")
        if self.spec is None:  # built directly from numeric columns: formulaic gives the same columns
            lhs = self.formula.split("|")[0].strip().lstrip("~")
            mm = model_matrix(f"~ {lhs}", newdata, context=FORMULA_CONTEXT, na_action="ignore")
            return np.asarray(mm, dtype=float)
        mm = _strict(lambda: self.spec.get_model_matrix(newdata, context=FORMULA_CONTEXT, na_action="ignore"))
        return np.asarray(mm, dtype=float)


def random_variables(terms: list[RandomTerm], data: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Variables used by the random part: (grouping factors, columns of the terms)."""
    data = _positional(data)
    groups: list[str] = []
    cols: list[str] = []
    for t in terms:
        for g in t.factors:
            for part in g.split(":"):
                if part not in data.columns:
                    raise KeyError(
                        f"grouping factor {part!r} of {t.formula!r} not found in the data; "
                        f"available columns: {list(data.columns)}"
                    )
                if part not in groups:
                    groups.append(part)
        _check_columns(f"~ {t.lhs}", data, t.formula)
        for v in sorted(_variables(f"~ {t.lhs}")):
            if v in data.columns and v not in cols:
                cols.append(v)
    return groups, cols


def check_groups(groups: list[str], data: pd.DataFrame) -> None:
    """A grouping factor with missing values is an error (never a silent drop)."""
    for g in groups:
        nmiss = int(data[g].isna().sum())
        if nmiss:
            raise ValueError(
                f"grouping factor {g!r} has {nmiss} missing value(s): every row must belong to a group; "
                f"drop those rows (e.g. data.dropna(subset=[{g!r}])) or give them a group"
            )


def _sorted_integer_codes(s: pd.Series) -> tuple[np.ndarray, list[Any]] | None:
    """Codes of an integer column already sorted (rows grouped in order): a running count of changes.

    Same codes and labels as ``pd.factorize(s, sort=True)``, with one n-vector
    of work space instead of a hash table; None when the column is not an
    integer column in nondecreasing order.
    """
    if not pd.api.types.is_integer_dtype(s.dtype) or isinstance(s.dtype, pd.CategoricalDtype):
        return None
    x = s.to_numpy()
    if x.dtype.kind not in "iu" or len(x) == 0:
        return None
    change = x[1:] != x[:-1]
    if np.any(x[1:] < x[:-1]):
        return None
    codes = np.empty(len(x), dtype=np.int64)
    codes[0] = 0
    np.cumsum(change, out=codes[1:])
    starts = np.r_[0, np.flatnonzero(change) + 1]
    return codes, x[starts].tolist()


def _factor_codes(data: pd.DataFrame, factor: str) -> tuple[np.ndarray, list[Any]]:
    """Codes 0..m-1 (sorted labels) of one grouping factor, ``a:b`` for interactions."""
    parts = factor.split(":")
    if len(parts) == 1:
        sorted_codes = _sorted_integer_codes(data[factor])
        if sorted_codes is not None:
            return sorted_codes
        c, u = pd.factorize(data[factor], sort=True)
        return c.astype(np.int64, copy=False), list(u)
    codes = np.zeros(len(data), dtype=np.int64)
    labels: list[Any] | None = None
    for part in parts:
        c, u = pd.factorize(data[part], sort=True)
        codes = codes * len(u) + c
        lab = list(u)
        labels = lab if labels is None else [f"{a}:{b}" for a in labels for b in lab]
    uniq, codes = np.unique(codes, return_inverse=True)
    assert labels is not None
    return codes.astype(np.int64), [labels[i] for i in uniq]


def _nest(outer: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of (outer, raw) combinations in sorted order, their parent codes and raw codes."""
    key = outer * (int(raw.max()) + 1) + raw
    uniq, codes = np.unique(key, return_inverse=True)
    width = int(raw.max()) + 1
    return codes.astype(np.int64), (uniq // width).astype(np.int64), (uniq % width).astype(np.int64)


_SIMPLE_TERM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _simple_names(lhs: str, data: pd.DataFrame) -> list[str] | None:
    """Column names of a random term that is a sum of numeric columns ("1 + x", "x - 1", "0 + x"), else None."""
    text = lhs.replace(" ", "")
    intercept = True
    for drop in ("-1", "+0"):
        if text.endswith(drop):
            text, intercept = text[: -len(drop)], False
    if text.startswith("0+"):
        text, intercept = text[2:], False
    parts = [p for p in text.split("+") if p]
    if "1" in parts:
        parts.remove("1")
    if not all(_SIMPLE_TERM.fullmatch(p) and p in data.columns for p in parts) or len(set(parts)) != len(parts):
        return None
    dtypes = [data[p].dtype for p in parts]
    if any(not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in dtypes):
        return None
    names = (["(Intercept)"] if intercept else []) + parts
    return names or None


def _simple_z(lhs: str, data: pd.DataFrame) -> tuple[np.ndarray, list[str]] | None:
    """Z for a sum of numeric column names with or without an intercept, built directly.

    formulaic would give the same columns (intercept first); None for any other term.
    """
    names = _simple_names(lhs, data)
    if names is None:
        return None
    Z = np.empty((len(data), len(names)), order="F")
    for j, name in enumerate(names):
        Z[:, j] = 1.0 if name == "(Intercept)" else data[name].to_numpy(dtype=float)
    return Z, names


def _shared_z(lhs: str, data: pd.DataFrame, fixed: FixedDesign | None) -> tuple[np.ndarray, list[str]] | None:
    """A view of the fixed design's columns when the term's columns are a run of them (no copy)."""
    if fixed is None:
        return None
    names = _simple_names(lhs, data)
    if names is None:
        return None
    q = len(names)
    for start in range(fixed.p - q + 1):
        if fixed.names[start : start + q] == names:
            return fixed.X[:, start : start + q], names
    return None


def _z_matrix(t: RandomTerm, data: pd.DataFrame) -> tuple[np.ndarray, Any, list[str]]:
    """Z columns of a term, formulaic's spec (None when built directly) and column names."""
    simple = _simple_z(t.lhs, data)
    if simple is not None:
        return simple[0], None, simple[1]
    if len(data) > FAST_PATH_ROWS:
        head = _head_spec(f"~ {t.lhs}", data)
        if head is not None:
            Z = fast_model_matrix(head[0], data)
            if Z is not None:
                return Z, head[0], head[1]
    zmm = model_matrix(f"~ {t.lhs}", data, context=FORMULA_CONTEXT, na_action="ignore")
    return np.asarray(zmm, dtype=float), zmm.model_spec, list(zmm.columns)


def random_design(
    terms: list[RandomTerm], data: pd.DataFrame, rows: np.ndarray | None = None, fixed: FixedDesign | None = None
) -> list[RandomLevel]:
    """Build the random-effects levels on the rows used by the fit.

    ``rows`` (boolean, default all) marks the rows used. The Z columns are
    evaluated on all rows of ``data`` and then restricted to those rows, as
    the fixed design is (so a group summary such as ``dvar(x, g)`` sees the
    same data in both parts, as in R's model frames); groups are formed from
    the rows used. Given the ``fixed`` design, a term whose columns are a run
    of its columns (``~ 1 + x`` next to ``y ~ x * w``) shares X's memory.

    Levels come out outermost first. Terms from ``a/b`` are nested by
    construction; for separate terms, a grouping factor with fewer groups is
    taken as the outer one and each of the inner groups must lie within a
    single outer group (crossed factors are not supported).

    Raises
    ------
    ValueError
        Missing values in a grouping factor, crossed (non-nested) factors,
        two terms with the same grouping, or more random effects than the
        data can support (q times the number of groups >= n).
    """
    full = _positional(data)
    subset = rows is not None and not bool(np.all(rows))
    data = full.loc[np.asarray(rows, dtype=bool)].reset_index(drop=True) if subset else full
    groups, _ = random_variables(terms, data)
    check_groups(groups, data)
    raw: list[tuple[RandomTerm, np.ndarray, list[Any]]] = []
    seen: set[tuple[str, ...]] = set()
    for t in terms:
        if t.factors in seen:
            raise ValueError(
                f"two random terms have the same grouping {t.name!r}: put all of its random effects in one "
                "term, e.g. '~ 1 + x | g' (diagonal structures are not supported)"
            )
        seen.add(t.factors)
        codes, labels = _factor_codes(data, t.factors[-1])
        raw.append((t, codes, labels))
    # order by number of groups within the nesting chain: outer = fewer groups
    raw.sort(key=lambda r: (len(r[0].factors), len(r[2])))
    n = len(data)
    levels: list[RandomLevel] = []
    outer_codes: np.ndarray | None = None
    outer_labels: list[str] = []
    for t, rcodes, rlabels in raw:
        if outer_codes is None:
            codes, parent = rcodes, None
            labels = list(rlabels)
        else:
            codes, parent, rsel = _nest(outer_codes, rcodes)
            if len(t.factors) == 1:
                # a separate term: its groups must each lie in one outer group
                if len(np.unique(rsel)) != len(rsel):
                    prev = levels[-1].name
                    raise ValueError(
                        f"grouping factors {prev!r} and {t.name!r} are crossed, not nested "
                        f"(some {t.name!r} groups appear in more than one {prev!r} group); "
                        f"write '~ ... | {prev}/{t.name}' if the labels repeat within {prev!r}, "
                        "crossed random effects are not supported"
                    )
                labels = [rlabels[i] for i in rsel]
            else:
                labels = [f"{outer_labels[pa]}/{rlabels[r]}" for pa, r in zip(parent, rsel)]
        shared = _shared_z(t.lhs, data, fixed)
        if shared is not None:
            Z, zspec, zcols = shared[0], None, shared[1]
        else:
            Z, zspec, zcols = _z_matrix(t, full)
            if subset:
                Z = Z[np.asarray(rows, dtype=bool)]
        if Z.shape[1] == 0:
            raise ValueError(f"random term {t.formula!r} has no columns")
        if not np.all(np.isfinite(Z)):
            raise ValueError(f"random term {t.formula!r} has missing or infinite values on rows used by the fit")
        m = len(labels)
        q = Z.shape[1]
        if q * m >= n:
            raise ValueError(
                f"too many random effects for {t.formula!r}: {q} per group x {m} groups = {q * m} "
                f">= {n} observations, so they cannot be told apart from the residual"
            )
        npar = q * (q + 1) // 2
        if m <= npar:
            warnings.warn(
                f"random term {t.formula!r}: only {m} groups to estimate a {q}x{q} covariance matrix "
                f"({npar} parameters); expect a singular or poorly determined fit",
                stacklevel=3,
            )
        levels.append(
            RandomLevel(
                name=t.name,
                formula=t.formula,
                Z=Z,
                znames=[r_name(c) for c in zcols],
                codes=codes,
                labels=pd.Index(labels, name=t.name),
                parent=parent,
                spec=zspec,
                factors=t.factors,
            )
        )
        outer_codes, outer_labels = codes, [str(x) for x in labels]
    return levels
