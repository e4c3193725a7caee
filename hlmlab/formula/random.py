"""The random part of a model: terms, levels, Z columns and group codes.

The random part is written as in nlme: ``"~ 1 + ses | school"`` (one grouping
factor, unstructured covariance), ``"~ 1 | board/school"`` (schools nested in
boards: two levels, ``board`` and ``board/school``), or a list of such terms
for nested grouping factors. ``"~ 1 + ses || school"`` (lme4's double bar)
makes the effects uncorrelated (nlme's pdDiag): one level per column, all
with the grouping ``school``, named as lme4 names them (``school``,
``school.1``); terms listed separately with the same grouping
(``["~ 1 | g", "~ 0 + x | g"]``) give such block-diagonal levels too. :func:`random_design` gives, for each level
(outermost first), its Z columns, each row's group code, the groups' labels
and each group's parent in the level above. A grouping factor with missing
values is an error. Terms that are sums of numeric columns are built
directly, without formulaic.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from formulaic import model_matrix

from hlmlab.formula import fastpath
from hlmlab.formula.fastpath import fast_model_matrix, head_spec
from hlmlab.formula.fixed import FixedDesign
from hlmlab.formula.rsyntax import top_level_split
from hlmlab.formula.terms import (
    FORMULA_CONTEXT,
    check_columns,
    check_unique_columns,
    drop_unused_levels,
    formula_variables,
    formulaic_errors,
    missing_values,
    parsed_formula,
    positional,
    r_name,
    strict_levels,
)


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
    copy: int = 0

    @property
    def grouping(self) -> str:
        """The grouping as written: ``school``, or ``board/school`` for a nested level."""
        return self.factors[-1] if len(self.factors) == 1 else "/".join(self.factors)

    @property
    def name(self) -> str:
        """The level's name: its grouping, with ``.1``, ``.2`` for further terms of the same grouping (lme4's names)."""
        return self.grouping if not self.copy else f"{self.grouping}.{self.copy}"

    @property
    def formula(self) -> str:
        return f"~{self.lhs} | {self.grouping}"


def split_columns(lhs: str) -> list[str]:
    """The terms of a double-bar term, one random effect each: ``"1 + x"`` -> ``["1", "0 + x"]``.

    As lme4's ``expandDoubleVerts``: the intercept (implicit unless ``0`` or
    ``- 1`` removes it) becomes ``1``, every other term ``0 + term``.
    """
    intercept = True
    terms: list[str] = []
    for piece in top_level_split(lhs, "+"):
        for k, part in enumerate(top_level_split(piece, "-")):
            part = part.strip()
            if part == "0" or (k > 0 and part == "1"):
                intercept = False
            elif k > 0 and part:
                raise ValueError(f"cannot remove {part!r} from the double-bar term {lhs!r}; only '- 1' is understood")
            elif part and part != "1":
                terms.append(part)
    return (["1"] if intercept else []) + [f"0 + {t}" for t in terms]


def _nested_interaction(factors: tuple[str, ...], known: set[tuple[str, ...]]) -> tuple[str, ...]:
    """``a:b`` next to a term grouped by ``a`` is the level ``a/b`` (lme4 writes a/b as a + a:b).

    ``a:b:c`` becomes ``a/b/c`` when ``a`` and ``a:b`` (or ``a/b``) are groupings too.
    """
    if len(factors) != 1 or ":" not in factors[0]:
        return factors
    parts = tuple(p.strip() for p in factors[0].split(":"))
    for k in range(1, len(parts)):
        if (":".join(parts[:k]),) not in known and parts[:k] not in known:
            return factors
    return parts


def parse_random(random: str | list[str] | tuple[str, ...]) -> list[RandomTerm]:
    """Parse random-effects formulas into terms, outermost level first.

    ``"~ 1 + ses | school"`` -> one term; ``"~ 1 | board/school"`` -> two terms,
    groups ``board`` and ``board/school`` (each school within its board);
    ``"~ 1 + ses || school"`` -> two terms ``1`` and ``0 + ses``, both grouped
    by school (uncorrelated effects); a list of strings gives one term each
    (levels are put in order later, by nesting). A term grouped by ``a:b``
    next to one grouped by ``a`` is the nested level ``a/b``. Further terms
    of an existing grouping are named ``g.1``, ``g.2`` (lme4's names).
    """
    if isinstance(random, str):
        random = [random]
    if not isinstance(random, (list, tuple)) or not random:
        raise TypeError("random must be a formula such as '~ 1 + ses | school' or a list of them")
    raw: list[tuple[str, tuple[str, ...]]] = []
    for r in random:
        if not isinstance(r, str) or r.replace("||", "|").count("|") != 1:
            raise ValueError(f"random term {r!r} must look like '~ 1 + ses | school' (one '|', or '||')")
        double = "||" in r
        left, right = r.split("||" if double else "|")
        left = left.strip()
        if left.startswith("~"):
            left = left[1:].strip()
        if not left:
            raise ValueError(f"random term {r!r} has nothing left of '|'; write '~ 1 | group' for intercepts")
        # column names (R's names, or any name in backticks) separated by '/' (nesting) or ':' (interaction)
        factors = tuple(":".join(p.strip().strip("`") for p in g.split(":")) for g in right.split("/"))
        if any(not p or "`" in p or "|" in p for g in factors for p in g.split(":")):
            raise ValueError(f"grouping {right.strip()!r} of {r!r} must be column names separated by '/' or ':'")
        lhss = split_columns(left) if double else [left]
        if not lhss:
            raise ValueError(f"random term {r!r} has no random effects left of '||'")
        for depth in range(1, len(factors) + 1):
            raw.extend((lhs, factors[:depth]) for lhs in lhss)
    known = {f for _, f in raw}
    terms: list[RandomTerm] = []
    count: dict[tuple[str, ...], int] = {}
    for lhs, factors in raw:
        factors = _nested_interaction(factors, known)
        terms.append(RandomTerm(lhs=lhs, factors=factors, copy=count.get(factors, 0)))
        count[factors] = count.get(factors, 0) + 1
    return terms


@dataclass(frozen=True, eq=False)
class RandomLevel:
    """One level of random effects on the rows of the fit.

    Attributes
    ----------
    name : str
        The grouping, ``school`` or ``board/school``; ``school.1`` for a
        further term of the same grouping (from ``||``).
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
    def grouping(self) -> str:
        """The grouping factor(s) as written, ``school`` or ``board/school`` (the name without ``.1``)."""
        return self.factors[-1] if len(self.factors) == 1 else "/".join(self.factors)

    @property
    def q(self) -> int:
        return int(self.Z.shape[1])

    @property
    def ngroups(self) -> int:
        return len(self.labels)

    def z_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """Z columns for new data (NaN rows where a variable is missing)."""
        newdata = positional(newdata, "newdata")
        if self.spec is None:  # built directly from numeric columns: formulaic gives the same columns
            lhs = self.formula.split("|")[0].strip().lstrip("~")
            with formulaic_errors(self.formula):
                mm = model_matrix(parsed_formula(f"~ {lhs}"), newdata, context=FORMULA_CONTEXT, na_action="ignore")
            return np.asarray(mm, dtype=float)
        with formulaic_errors(self.formula):
            mm = strict_levels(lambda: self.spec.get_model_matrix(newdata, context=FORMULA_CONTEXT, na_action="ignore"))
        return np.asarray(mm, dtype=float)


def random_variables(terms: list[RandomTerm], data: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Variables used by the random part: (grouping factors, columns of the terms)."""
    data = positional(data)
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
        check_columns(f"~ {t.lhs}", data, t.formula)
        for v in sorted(formula_variables(f"~ {t.lhs}")):
            if v in data.columns and v not in cols:
                cols.append(v)
    check_unique_columns(data, groups)
    return groups, cols


def check_groups(groups: list[str], data: pd.DataFrame) -> None:
    """A grouping factor with missing values is an error (never a silent drop)."""
    for g in groups:
        miss = missing_values(data[g])
        nmiss = 0 if miss is None else int(miss.sum())
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


def _z_matrix(t: RandomTerm, data: pd.DataFrame, rows: np.ndarray | None = None) -> tuple[np.ndarray, Any, list[str]]:
    """Z columns of a term, formulaic's spec (None when built directly) and column names.

    Categorical columns lose the levels that no row used has (``rows``, R's
    ``droplevels``), so a subset of the data gives no all-zero column.
    """
    simple = _simple_z(t.lhs, data)
    if simple is not None:
        return simple[0], None, simple[1]
    formula = parsed_formula(f"~ {t.lhs}")
    data = drop_unused_levels(data, formula_variables(f"~ {t.lhs}"), rows)
    if len(data) > fastpath.FAST_PATH_ROWS:
        head = head_spec(formula, data)
        if head is not None:
            Z = fast_model_matrix(head[0], data)
            if Z is not None:
                return Z, head[0], head[1]
    with formulaic_errors(t.formula):
        zmm = model_matrix(formula, data, context=FORMULA_CONTEXT, na_action="ignore")
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
    single outer group (crossed factors are not supported). Several terms
    with the same grouping (from ``||``, or listed separately) are
    consecutive levels whose groups are the same: each group's parent is
    itself (parent map the identity), which makes their random effects
    independent (a block-diagonal covariance, nlme's pdDiag).

    Raises
    ------
    ValueError
        Missing values in a grouping factor, crossed (non-nested) factors,
        two terms of the same grouping with a column in common, or more
        random effects than the data can support (q times the number of
        groups >= n).
    """
    full = positional(data)
    subset = rows is not None and not bool(np.all(rows))
    data = full.loc[np.asarray(rows, dtype=bool)].reset_index(drop=True) if subset else full
    groups, _ = random_variables(terms, data)
    check_groups(groups, data)
    raw: list[tuple[RandomTerm, np.ndarray, list[Any]]] = []
    first: dict[tuple[str, ...], int] = {}
    for t in terms:
        first.setdefault(t.factors, len(first))
        codes, labels = _factor_codes(data, t.factors[-1])
        raw.append((t, codes, labels))
    # order by number of groups within the nesting chain: outer = fewer groups;
    # terms of the same grouping stay together, in the order written
    raw.sort(key=lambda r: (len(r[0].factors), len(r[2]), first[r[0].factors]))
    n = len(data)
    levels: list[RandomLevel] = []
    outer_codes: np.ndarray | None = None
    outer_labels: list[str] = []
    labels: list[Any] = []
    columns: dict[tuple[str, ...], set[str]] = {}
    for t, rcodes, rlabels in raw:
        if outer_codes is None:
            codes, parent = rcodes, None
            labels = list(rlabels)
        elif levels[-1].factors == t.factors:
            # another term of the same grouping: the same groups, each its own parent
            codes, parent = outer_codes, np.arange(len(labels), dtype=np.int64)
        else:
            codes, parent, rsel = _nest(outer_codes, rcodes)
            if len(t.factors) == 1:
                # a separate term: its groups must each lie in one outer group
                if len(np.unique(rsel)) != len(rsel):
                    prev = levels[-1].grouping
                    raise ValueError(
                        f"grouping factors {prev!r} and {t.grouping!r} are crossed, not nested "
                        f"(some {t.grouping!r} groups appear in more than one {prev!r} group); "
                        f"if the {prev!r} labels are reused within each {t.grouping!r} group (implicit "
                        f"nesting), write '~ ... | {t.grouping}/{prev}'; "
                        "crossed random effects are not supported"
                    )
                labels = [rlabels[i] for i in rsel]
            else:
                labels = [f"{outer_labels[pa]}/{rlabels[r]}" for pa, r in zip(parent, rsel)]
        shared = _shared_z(t.lhs, data, fixed)
        if shared is not None:
            Z, zspec, zcols = shared[0], None, shared[1]
        else:
            Z, zspec, zcols = _z_matrix(t, full, rows)
            if subset:
                Z = Z[np.asarray(rows, dtype=bool)]
        if Z.shape[1] == 0:
            raise ValueError(f"random term {t.formula!r} has no columns")
        if not np.all(np.isfinite(Z)):
            raise ValueError(f"random term {t.formula!r} has missing or infinite values on rows used by the fit")
        znames = [r_name(c) for c in zcols]
        common = columns.setdefault(t.factors, set()) & set(znames)
        if common:
            raise ValueError(
                f"two random terms of the grouping {t.grouping!r} both have the column(s) {sorted(common)}: "
                "a random effect can appear in only one of them (write '~ 0 + x | g' for a slope alone)"
            )
        columns[t.factors] |= set(znames)
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
                znames=znames,
                codes=codes,
                labels=pd.Index(labels, name=t.name),
                parent=parent,
                spec=zspec,
                factors=t.factors,
            )
        )
        outer_codes, outer_labels = codes, [str(x) for x in labels]
    return levels
