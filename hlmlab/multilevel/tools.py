"""Multilevel data tools, in the spirit of R's spida2 package.

Every function here works on ordinary pandas objects. A *grouping* (``by``) is
a column name of the data frame at hand, a list of column names, or an array
or Series of the same length as the data; rows whose group is missing are
kept and get NaN where a group summary is asked for. When the values and the
grouping are both pandas objects they are paired by index, as pandas pairs
them: a grouping whose index holds the same labels in another order is
aligned to the values, one with other labels is an error. Arrays are paired
by position.

=========  ================================================================
capply     apply a function within groups and broadcast back to the rows
cvar       group mean of a variable (a *contextual* variable)
dvar       deviation from the group mean (centred within group)
gvars      columns that are constant within every group (level-2 variables)
up         one row per group: the group-level file
tab        contingency table with Total margins (and percentages)
some       a few random rows, kept in their original order
gicc       intraclass correlation of every variable with respect to a grouping
=========  ================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["capply", "cvar", "dvar", "gvars", "up", "tab", "some", "gicc"]


# ---------------------------------------------------------------------------
# groupings
# ---------------------------------------------------------------------------
def _aligned(key: pd.Series, index: pd.Index | None) -> pd.Series:
    """A grouping Series put in the order of the values' index (labels must match), then made positional."""
    if index is not None and not key.index.equals(index):
        same = (
            len(key.index) == len(index)
            and key.index.is_unique
            and index.is_unique
            and key.index.sort_values().equals(index.sort_values())
        )
        if not same:
            raise ValueError(
                "the values and the grouping are pandas objects with different indexes, so their rows cannot "
                "be paired; give them the same index, or pass arrays (.to_numpy()) to pair them by position"
            )
        key = key.reindex(index)
    return key.reset_index(drop=True)


def _as_keys(by: Any, n: int, data: pd.DataFrame | None = None, index: pd.Index | None = None) -> list[pd.Series]:
    """Turn ``by`` into a list of key Series of length ``n`` (positional index).

    ``index`` is the values' index when they are a pandas object: a grouping
    given as a Series or DataFrame is aligned to it (:func:`_aligned`).
    """
    is_names = isinstance(by, str) or (
        data is not None
        and isinstance(by, (list, tuple))
        and by
        and all(isinstance(b, str) for b in by)
        and (all(b in data.columns for b in by) or len(by) != n)
    )
    if is_names:
        names = [by] if isinstance(by, str) else list(by)
        if data is None:
            raise TypeError(f"by={by!r} names a column, but no data frame was given to look it up in")
        missing = [b for b in names if b not in data.columns]
        if missing:
            raise KeyError(
                f"grouping column(s) {missing} not found in the data; available columns: {list(data.columns)}"
            )
        return [data[b].reset_index(drop=True) for b in names]
    if isinstance(by, pd.DataFrame):
        parts = [by.iloc[:, j] for j in range(by.shape[1])]
    elif isinstance(by, (list, tuple)) and by and all(np.ndim(b) == 1 and not isinstance(b, str) for b in by):
        parts = list(by)
    else:
        if np.ndim(by) != 1:
            raise ValueError("by must be a column name, a list of column names, or a 1-D array of group labels")
        parts = [by]
    keys = []
    for b in parts:
        if len(b) != n:
            raise ValueError(f"by has length {len(b)} but the data have length {n}: they must match row for row")
        keys.append(_aligned(b, index) if isinstance(b, pd.Series) else pd.Series(np.asarray(b)))
    return keys


def _group_indices(keys: list[pd.Series]) -> tuple[np.ndarray, int]:
    """Integer group codes (``-1`` where any key is missing) and the number of groups."""
    frame = pd.concat(keys, axis=1, ignore_index=True)
    codes = frame.groupby(list(frame.columns), sort=True, dropna=True, observed=True).ngroup()
    codes = codes.reindex(frame.index).fillna(-1).to_numpy(dtype=np.int64)
    return codes, int(codes.max() + 1 if codes.size else 0)


# ---------------------------------------------------------------------------
# capply, cvar, dvar
# ---------------------------------------------------------------------------
def capply(x: Any, by: Any, fun: Callable, *args: Any, **kwargs: Any) -> pd.Series | np.ndarray:
    """Apply ``fun`` within each group and broadcast the result back to the rows.

    For each group g with rows i in g, ``fun(x[g], *args, **kwargs)`` is
    computed; a scalar result is repeated on every row of the group, a result
    with one value per row of the group is returned in the group's row order.
    Rows whose group is missing get NaN.

    Parameters
    ----------
    x : Series, array or DataFrame
        The values; a DataFrame passes each group's sub-frame to ``fun``.
    by : column name(s) of ``x`` (when ``x`` is a DataFrame), or array(s) of labels
        The grouping, of the same length as ``x``. A Series is paired with a
        pandas ``x`` by index (same labels in any order; other labels are a
        ValueError), an array by position.
    fun : callable
        Summary (scalar) or within-group transformation (vector).

    Returns
    -------
    pandas.Series
        Aligned with ``x`` (same index when ``x`` is a pandas object).

    Examples
    --------
    >>> hs["n"] = capply(hs["school"], hs["school"], len)          # school size
    >>> hs["ses_mean"] = capply(hs["ses"], hs["school"], np.mean)   # = cvar
    >>> hs["ses_rank"] = capply(hs["ses"], hs["school"], lambda s: s.rank())
    """
    frame = x if isinstance(x, pd.DataFrame) else None
    pandas = isinstance(x, (pd.Series, pd.DataFrame))
    obj = x if pandas else pd.Series(np.asarray(x))
    n = len(obj)
    keys = _as_keys(by, n, frame, obj.index if pandas else None)
    codes, ngroups = _group_indices(keys)
    out = np.full(n, np.nan, dtype=object)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(-1, ngroups + 1))
    numeric = True
    for g in range(ngroups):
        rows = order[bounds[g + 1] : bounds[g + 2]]
        value = fun(obj.iloc[rows], *args, **kwargs)
        if np.ndim(value) == 0:
            out[rows] = value
            numeric &= isinstance(value, (int, float, np.number, bool, np.bool_))
        else:
            value = np.asarray(value).ravel()
            if len(value) != len(rows):
                raise ValueError(
                    f"fun returned {len(value)} values for a group of {len(rows)} rows: "
                    "it must return a scalar or one value per row"
                )
            out[rows] = value
            numeric &= np.issubdtype(value.dtype, np.number) or value.dtype == bool
    result = pd.Series(out, index=obj.index, name=getattr(x, "name", None))
    if numeric:
        result = pd.to_numeric(result)
    else:
        result = result.infer_objects()
    return result


def _factor_dummies(x: pd.Series) -> pd.DataFrame:
    """Indicators of the non-reference levels of a categorical (NaN where x is missing)."""
    cat = x.astype("category")
    levels = list(cat.cat.categories)
    miss = cat.isna().to_numpy()
    cols = {}
    for lev in levels[1:]:
        v = (cat == lev).to_numpy(dtype=float)
        v[miss] = np.nan
        cols[f"{x.name}{lev}" if x.name is not None else str(lev)] = v
    return pd.DataFrame(cols, index=x.index)


def _is_factor(x: pd.Series) -> bool:
    dt = x.dtype
    return (
        isinstance(dt, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dt)
        or pd.api.types.is_string_dtype(dt)
        or pd.api.types.is_bool_dtype(dt)
    )


def cvar(x: Any, by: Any) -> pd.Series | pd.DataFrame:
    r"""Contextual variable: the mean of ``x`` in each row's group.

    .. math:: \bar x_{j} = \frac{1}{n_j}\sum_{i \in j} x_{i}

    computed over the non-missing values of the group, and broadcast to
    every row. For a categorical ``x`` the result is a DataFrame with the
    proportion of each non-reference level in the group (column names are
    the variable name followed by the level, as in a model matrix). Rows
    whose group is missing get NaN. A grouping Series is paired with a
    Series ``x`` by index (same labels in any order; other labels are a
    ValueError).
    """
    s, keys = _values_and_keys(x, by)
    return _cvar(s, keys)


def _values_and_keys(x: Any, by: Any) -> tuple[pd.Series, list[pd.Series]]:
    """x as a Series and the grouping as positional keys paired with its rows."""
    if isinstance(x, pd.Series):
        return x, _as_keys(by, len(x), index=x.index)
    s = pd.Series(np.asarray(x))
    return s, _as_keys(by, len(s))


def _cvar(s: pd.Series, keys: list[pd.Series]) -> pd.Series | pd.DataFrame:
    """Group means of s (or of its level indicators) for positional keys."""
    if _is_factor(s):
        d = _factor_dummies(s)
        return pd.DataFrame({c: _cvar(d[c], keys) for c in d.columns}, index=s.index)
    vals = pd.to_numeric(s, errors="raise").to_numpy(dtype=float)
    codes, ngroups = _group_indices(keys)
    ok = (codes >= 0) & ~np.isnan(vals)
    sums = np.bincount(codes[ok], weights=vals[ok], minlength=ngroups)
    counts = np.bincount(codes[ok], minlength=ngroups)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    out = np.where(codes >= 0, means[np.maximum(codes, 0)], np.nan)
    return pd.Series(out, index=s.index, name=s.name)


def dvar(x: Any, by: Any) -> pd.Series | pd.DataFrame:
    r"""Deviation from the group mean (centred within group, CWG).

    .. math:: x_{ij} - \bar x_{j}

    For a categorical, each non-reference indicator minus its group
    proportion. ``x == cvar(x, by) + dvar(x, by)`` on every row with a group.
    Series are paired by index, as in :func:`cvar`.
    """
    s, keys = _values_and_keys(x, by)
    if _is_factor(s):
        return _factor_dummies(s) - _cvar(s, keys)
    return pd.to_numeric(s) - _cvar(s, keys)


# ---------------------------------------------------------------------------
# up, gvars
# ---------------------------------------------------------------------------
def _by_names(by: str | Sequence[str]) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def gvars(df: pd.DataFrame, by: str | Sequence[str]) -> list[str]:
    """Names of the columns that are constant within every group of ``by``.

    These are the group-level (level-2) variables: characteristics of the
    group, or summaries already broadcast to its rows. A missing value counts
    as a value, so a column that is missing on some rows of a group and not
    others is not constant.
    """
    names = _by_names(by)
    _as_keys(names, len(df), df)
    g = df.groupby(names, sort=True, dropna=True, observed=True)
    rest = [c for c in df.columns if c not in names]
    if not rest:
        return []
    nun = g[rest].nunique(dropna=False)
    return [c for c in rest if bool((nun[c] <= 1).all())]


def _mode(s: pd.Series) -> Any:
    counts = s.value_counts(sort=True, dropna=True)
    return counts.index[0] if len(counts) else np.nan


def up(
    df: pd.DataFrame,
    by: str | Sequence[str],
    all: bool = False,  # noqa: A002 - spida2's name
    agg: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Go *up* a level: one row per group, with the group-level columns.

    Parameters
    ----------
    df : DataFrame
        A multilevel ("long") file, one row per level-1 unit.
    by : str or list of str
        Column(s) identifying the groups. Rows with a missing group are dropped.
    all : bool
        If True, also summarise the columns that vary within groups: the mean
        of numeric columns, the proportion of True for booleans, and the most
        frequent level of categoricals (a factor keeps its categories; a tie
        goes to the level that comes first in the category order, so prefer
        ``agg=`` proportions when a group is evenly split).
    agg : str or list of str, optional
        Factors whose within-group proportions are added, one column per
        level, named ``<factor>_<level>`` (for example ``Sex_Female``).

    Returns
    -------
    DataFrame
        One row per group, sorted by group, with the ``by`` columns first,
        then the columns constant within every group (or all columns when
        ``all=True``) in their original order, then the proportions, then
        ``Freq``, the number of rows in the group. With no constant column
        it is just the group columns and ``Freq``.
    """
    names = _by_names(by)
    _as_keys(names, len(df), df)
    g = df.groupby(names, sort=True, dropna=True, observed=True)
    invariant = set(gvars(df, names))
    cols: dict[str, pd.Series] = {}
    for c in df.columns:
        if c in names:
            continue
        if c in invariant:
            # first() skips NaN; a group where c is all-missing stays missing
            cols[c] = g[c].agg(lambda s: s.iloc[0])
        elif all:
            s = df[c]
            if s.dtype == bool:
                cols[c] = g[c].mean()
            elif pd.api.types.is_numeric_dtype(s.dtype):
                cols[c] = g[c].mean()
            else:
                cols[c] = g[c].agg(_mode)
            if isinstance(s.dtype, pd.CategoricalDtype):
                cols[c] = pd.Series(pd.Categorical(cols[c], categories=s.cat.categories), index=cols[c].index)
    sizes = g.size()
    out = pd.DataFrame(cols, index=sizes.index)  # one row per group, even with no constant column
    for f in _by_names(agg) if agg is not None else []:
        if f not in df.columns:
            raise KeyError(f"agg factor {f!r} not found in the data; available columns: {list(df.columns)}")
        levels = df[f].astype("category").cat.categories
        props = pd.crosstab([df[n] for n in names], df[f].astype("category"), normalize="index", dropna=False)
        for lev in levels:
            out[f"{f}_{lev}"] = props[lev].reindex(out.index).to_numpy() if lev in props else 0.0
    out["Freq"] = sizes.to_numpy()
    out = out.reset_index()
    for n in names:  # keep the group column's dtype (categories, integers)
        if isinstance(df[n].dtype, pd.CategoricalDtype):
            out[n] = pd.Categorical(out[n], categories=df[n].cat.categories)
    return out


# ---------------------------------------------------------------------------
# tab, some
# ---------------------------------------------------------------------------
def _formula_vars(formula: str, df: pd.DataFrame) -> list[str]:
    rhs = formula.split("~", 1)[-1]
    names = [v.strip() for v in rhs.split("+") if v.strip()]
    if not names:
        raise ValueError(f"formula {formula!r} names no variables; write it like '~ Sex + school'")
    missing = [v for v in names if v not in df.columns]
    if missing:
        raise KeyError(f"tab: variable(s) {missing} not found in the data; available columns: {list(df.columns)}")
    return names


def tab(
    df: pd.DataFrame,
    formula: str,
    pct: str | None = None,
    total: bool = True,
    dropna: bool = True,
) -> pd.DataFrame | pd.Series:
    """Frequency or contingency table, with ``Total`` margins.

    Parameters
    ----------
    df : DataFrame
    formula : str
        ``"~ a"`` for a one-way table, ``"~ a + b"`` for a two-way table (``a``
        in rows, ``b`` in columns); with more variables, all but the last form
        the rows.
    pct : {None, "row", "col", "all"}
        Percentages instead of counts: of each row, of each column, or of the
        grand total. The margins then show 100 (or the marginal percentage).
    total : bool
        Add the ``Total`` margins.
    dropna : bool
        If False, missing values are counted in a level labelled ``NA``.
    """
    names = _formula_vars(formula, df)
    normalize = {None: False, "row": "index", "col": "columns", "all": "all"}
    if pct not in normalize:
        raise ValueError(f"pct must be one of None, 'row', 'col', 'all'; got {pct!r}")
    data = df[names].copy()
    if not dropna:
        for c in names:
            s = data[c].astype("object")
            data[c] = s.where(s.notna(), "NA")
    if len(names) == 1:
        counts = data[names[0]].value_counts(sort=False, dropna=dropna)
        if not isinstance(data[names[0]].dtype, pd.CategoricalDtype):
            counts = counts.sort_index()
        if pct is not None:
            counts = 100 * counts / counts.sum()
        if total:
            counts.loc["Total"] = counts.sum()
        counts.name = "Freq" if pct is None else "Percent"
        return counts
    rows, col = names[:-1], names[-1]
    table = pd.crosstab(
        [data[r] for r in rows],
        data[col],
        margins=total,
        margins_name="Total",
        normalize=normalize[pct],
        dropna=True,
    )
    if pct is not None:
        table = 100 * table
        if total and pct == "row" and "Total" not in table.columns:
            table["Total"] = table.sum(axis=1)
        if total and pct == "col" and "Total" not in table.index:
            table.loc["Total"] = table.sum(axis=0)
    return table


def some(df: pd.DataFrame, n: int = 10, seed: int | np.random.Generator | None = None) -> pd.DataFrame:
    """A random sample of ``n`` rows, shown in their original order.

    Handier than ``head`` for a first look: it shows rows from many groups.
    Pass ``seed`` for a reproducible sample.
    """
    n = min(n, len(df))
    rng = np.random.default_rng(seed)
    pos = np.sort(rng.choice(len(df), size=n, replace=False))
    return df.iloc[pos]


# ---------------------------------------------------------------------------
# gicc
# ---------------------------------------------------------------------------
def _icc_numeric(y: np.ndarray, codes: np.ndarray) -> float:
    """One-way ANOVA estimate of the intraclass correlation, ICC(1).

    (MSB - MSW) / (MSB + (n0 - 1) MSW) with n0 = (N - sum n_j^2 / N) / (J - 1);
    1 for a variable that is constant within every group.
    """
    ok = (codes >= 0) & ~np.isnan(y)
    y, codes = y[ok], codes[ok]
    _, codes = np.unique(codes, return_inverse=True)
    n_j = np.bincount(codes)
    J, N = len(n_j), len(y)
    if J < 2 or N <= J:
        return np.nan
    means = np.bincount(codes, weights=y) / n_j
    ssb = float(np.sum(n_j * (means - y.mean()) ** 2))
    ssw = float(np.sum((y - means[codes]) ** 2))
    msb, msw = ssb / (J - 1), ssw / (N - J)
    if msw <= 1e-14 * max(msb, 1e-300):
        return 1.0
    n0 = (N - np.sum(n_j**2) / N) / (J - 1)
    return (msb - msw) / (msb + (n0 - 1) * msw)


def _gk_tau(x: pd.Series, codes: np.ndarray) -> float:
    """Goodman-Kruskal tau: proportional reduction in Gini variation of x given the group."""
    ok = (codes >= 0) & x.notna().to_numpy()
    if ok.sum() == 0:
        return np.nan
    t = pd.crosstab(codes[ok], x[ok].to_numpy()).to_numpy(dtype=float)
    n = t.sum()
    p_k = t.sum(axis=0) / n
    v_total = 1 - np.sum(p_k**2)
    if v_total <= 0:
        return np.nan
    p_j = t.sum(axis=1) / n
    v_within = 1 - np.sum((t / n) ** 2 / p_j[:, None])
    return (v_total - v_within) / v_total


def gicc(df: pd.DataFrame, by: str | Sequence[str], ranks: bool = False) -> pd.Series:
    """Intraclass correlation of every variable with respect to a grouping.

    For numeric columns, the one-way ANOVA estimate ICC(1) (``ranks=True``
    uses the ranks of the values, which resists outliers); for categorical,
    string and boolean columns, the Goodman-Kruskal tau of the category given
    the group. Both are 1 for a variable that is constant within groups (a
    level-2 variable) and near 0 for one whose groups look alike.
    """
    names = _by_names(by)
    keys = _as_keys(names, len(df), df)
    codes, _ = _group_indices(keys)
    out = {}
    for c in df.columns:
        if c in names:
            continue
        s = df[c].reset_index(drop=True)
        if _is_factor(s):
            out[c] = _gk_tau(s, codes)
        else:
            v = s.rank().to_numpy(dtype=float) if ranks else s.to_numpy(dtype=float)
            out[c] = _icc_numeric(v, codes)
    return pd.Series(out, name="icc")
