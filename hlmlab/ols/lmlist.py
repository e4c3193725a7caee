"""Per-group OLS: ``lmlist`` (R's ``lmList``) and the two-stage regression.

This is the one per-group least-squares fit in hlmlab. Every group g is fitted
by QR over the columns it can estimate,

    beta_g = (X_g'X_g)^{-1} X_g'y_g,   RSS_g = ||y_g - X_g beta_g||^2,

a column being aliased within g when the part of it orthogonal to the earlier
columns has norm at most ``ALIAS_TOL`` times its own norm (R's lm rule).

* :func:`lmlist` fits a formula within each group (the first stage of the
  two-stage approach: intercepts and slopes as outcomes);
* :meth:`LmList.regress` runs the second stage, one regression of each
  per-group coefficient on group-level variables (:class:`SecondStage`);
* :func:`group_coefficients` gives each group's line of y on x as numbers
  (intercept, slope, RSS, (X'X)^{-1}, means), for beta-space geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hlmlab._format import format_p, html_table
from hlmlab.ols.fit import OlsCore, OlsFit, _build_design, _design_rows, ols_matrices

__all__ = ["lmlist", "LmList", "SecondStage", "group_coefficients", "ALIAS_TOL"]

#: A column is aliased when the part of it orthogonal to the earlier columns
#: has norm below ``ALIAS_TOL`` times its own norm (R's lm uses 1e-7).
ALIAS_TOL = 1e-7


def _aliased_index(X: np.ndarray, tol: float = ALIAS_TOL) -> list[int]:
    """Columns of ``X`` that are linear combinations of earlier columns.

    Column j is aliased when ||x_j - P_{0..j-1} x_j|| <= tol * ||x_j||, with
    P the projection on the (non-aliased) earlier columns (a zero column is
    always aliased). As in R, the later of two dependent columns is the one
    reported. A group may have fewer rows than columns; the whole-data check
    is ``design.aliased_columns``.
    """
    X = np.asarray(X, dtype=float)
    if X.shape[1] == 0:
        return []
    norms = np.linalg.norm(X, axis=0)
    out: list[int] = []
    # sequential check, so an aliased column does not spoil later ones
    basis = np.empty((X.shape[0], 0))
    for j in range(X.shape[1]):
        x = X[:, j]
        if norms[j] == 0:
            out.append(j)
            continue
        resid = x - basis @ (basis.T @ x) if basis.shape[1] else x
        resid = resid - basis @ (basis.T @ resid) if basis.shape[1] else resid  # reorthogonalise
        r = np.linalg.norm(resid)
        if r <= tol * norms[j]:
            out.append(j)
        else:
            basis = np.column_stack([basis, resid / r])
    return out


def _group_fits(
    X: np.ndarray, y: np.ndarray, codes: np.ndarray, ngroups: int
) -> list[tuple[list[int], OlsCore | None]]:
    """The per-group OLS: for each group code g, (estimable columns, QR fit on them).

    The fit is ``None`` when the group can estimate no column.
    """
    out: list[tuple[list[int], OlsCore | None]] = []
    for g in range(ngroups):
        idx = np.flatnonzero(codes == g)
        Xg = X[idx]
        bad = set(_aliased_index(Xg))
        keep = [j for j in range(X.shape[1]) if j not in bad]
        out.append((keep, ols_matrices(Xg[:, keep], y[idx]) if keep else None))
    return out


def _safe_name(name: str) -> str:
    """A formula-friendly column name: ``(Intercept)`` -> ``Intercept``, ``a:b`` -> ``a_b``."""
    if name == "(Intercept)":
        return "Intercept"
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name).strip("_")
    return out or "x"


@dataclass
class LmList:
    """Per-group OLS fits (returned by :func:`lmlist`).

    Attributes
    ----------
    coef : DataFrame
        One row per group (index named as ``by``), one column per
        coefficient; NaN where the group cannot estimate it (too few rows,
        or the column is aliased within the group).
    se : DataFrame
        Standard errors s_g sqrt(diag (X_g'X_g)^{-1}) with the group's own
        residual SD; NaN where the group has no residual DF.
    n, df_resid, sigma : Series
        Rows, residual DF and residual SD of each group.
    """

    formula: str
    by: str
    coef: pd.DataFrame
    se: pd.DataFrame
    n: pd.Series
    df_resid: pd.Series
    sigma: pd.Series
    names: list[str] = field(default_factory=list)

    def frame(self, group_data: pd.DataFrame | None = None) -> pd.DataFrame:
        """Coefficients with formula-friendly names, plus ``n``, merged with ``group_data``.

        Column names: ``(Intercept)`` becomes ``Intercept`` and characters
        other than letters, digits and ``_`` become ``_`` (``ses:SexMale`` ->
        ``ses_SexMale``). ``group_data`` (for example ``up(hs, "school")``)
        is joined on the ``by`` column.
        """
        out = self.coef.rename(columns={c: _safe_name(c) for c in self.coef.columns}).copy()
        out["n"] = self.n
        out = out.reset_index()
        if group_data is not None:
            if self.by not in group_data.columns:
                raise KeyError(f"group_data has no column {self.by!r} to merge on")
            extra = [c for c in group_data.columns if c not in out.columns or c == self.by]
            out = out.merge(group_data[extra], on=self.by, how="left", validate="one_to_one")
        return out

    def regress(self, rhs: str, group_data: pd.DataFrame | None = None) -> SecondStage:
        """Second stage: regress each per-group coefficient on group variables.

        For each coefficient c, ``lm(f"{c} ~ {rhs}", frame(group_data))``
        over the groups where c is estimated. These are the rows of the
        two-stage (multivariate, MANOVA) regression: with the same design for
        every response, the multivariate least-squares estimates and their
        SEs are those of the separate regressions.
        """
        rhs = rhs.split("~", 1)[-1].strip()
        frame = self.frame(group_data)
        fits = SecondStage()
        for c in self.coef.columns:
            col = _safe_name(c)
            fits[c] = OlsFit(f"{col} ~ {rhs}", frame, _build_design(f"{col} ~ {rhs}", frame), "coefficients")
        return fits

    def __repr__(self) -> str:
        return f"Per-group OLS fits of {self.formula} by {self.by} ({len(self.coef)} groups)\n" + self.coef.to_string()

    def _repr_html_(self) -> str:
        return html_table(self.coef, f"lmlist({self.formula}) by {self.by}")


class SecondStage(dict):
    """Second-stage regressions, one per first-stage coefficient (a dict of :class:`OlsFit`)."""

    def table(self) -> pd.DataFrame:
        """All coefficient tables stacked, indexed by (response, term)."""
        return pd.concat({k: f.coef_table() for k, f in self.items()}, names=["response", "term"])

    def __repr__(self) -> str:
        parts = []
        for k, f in self.items():
            t = f.coef_table()
            t["Pr(>|t|)"] = t["Pr(>|t|)"].map(format_p)
            parts.append(f"Response {k}  (n = {f.nobs}, residual SE {f.sigma:.4g} on {f.df_resid} DF)\n{t.to_string()}")
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        return html_table(self.table(), "Second stage: per-group coefficients on group variables")


def lmlist(formula: str, data: pd.DataFrame, by: str) -> LmList:
    """OLS of the same model within each group.

    The design is built once on the whole data (so factor levels and
    column names agree across groups), then each group g is fitted by
    beta_g = (X_g'X_g)^{-1} X_g'y_g over its non-aliased columns, with
    SE_g = s_g sqrt(diag (X_g'X_g)^{-1}), s_g^2 = RSS_g / (n_g - p_g). Aliased
    columns (for example a slope in a group where the predictor does not
    vary, or a group with fewer rows than coefficients) get NaN.

    Parameters
    ----------
    formula : str
    data : DataFrame
    by : str
        Grouping column; rows whose group is missing are dropped.
    """
    if by not in data.columns:
        raise KeyError(f"grouping column {by!r} not found; available columns: {list(data.columns)}")
    design = _build_design(formula, data)
    X, y = np.asarray(design.X, dtype=float), np.asarray(design.y, dtype=float)
    names = [str(c) for c in design.names]
    rows = _design_rows(design)
    groups = data[by].to_numpy()[rows]
    ok = pd.notna(groups)
    X, y, groups = X[ok], y[ok], groups[ok]
    labels = pd.Index(pd.unique(groups)).sort_values()
    coef = pd.DataFrame(np.nan, index=labels, columns=names)
    se = coef.copy()
    codes = pd.Index(labels).get_indexer(groups)
    n = pd.Series(np.bincount(codes, minlength=len(labels)), index=labels, dtype=int)
    dfr = pd.Series(0, index=labels, dtype=int)
    sig = pd.Series(np.nan, index=labels)
    for lab, (keep, core) in zip(labels, _group_fits(X, y, codes, len(labels))):
        if core is None:
            continue
        cols = [names[j] for j in keep]
        coef.loc[lab, cols] = core.beta
        dfr[lab] = core.df_resid
        if core.df_resid > 0:
            s = np.sqrt(core.rss / core.df_resid)
            sig[lab] = s
            se.loc[lab, cols] = s * np.sqrt(np.diag(core.xtx_inv))
    for obj in (coef, se, n, dfr, sig):
        obj.index.name = by
    return LmList(formula, by, coef, se, n, dfr, sig, names)


def group_coefficients(data: pd.DataFrame, x: str, y: str, group: str, by: str | None = None) -> pd.DataFrame:
    r"""Least-squares line of y on x within each group (R's ``lmList``), as numbers.

    For group j with design X_j = [1, x_j], by the per-group OLS of :func:`lmlist`:

    .. math:: \hat\beta_j = (X_j'X_j)^{-1} X_j'y_j, \qquad
              \mathrm{RSS}_j = \lVert y_j - X_j\hat\beta_j \rVert^2 .

    Returns
    -------
    DataFrame
        One row per group (index: the group label, sorted), with ``n``,
        ``intercept``, ``slope``, ``rss``, the three distinct entries
        ``xtxi00``, ``xtxi01``, ``xtxi11`` of (X_j'X_j)^{-1}, the group means
        ``xbar`` and ``ybar``, and the ``by`` column (a group-level factor such
        as Sector) if given. A group whose slope is not estimable (one row, or
        no spread in x) has NaN for all but ``n`` and the means. Rows with a
        missing group, x or y are dropped.
    """
    cols = [group, x, y] + ([by] if by is not None else [])
    for c, role in zip(cols, ["group", "x", "y", "by"]):
        if c not in data.columns:
            raise KeyError(f"{role} column {c!r} not found in the data; available columns: {list(data.columns)}")
    d = data[cols].dropna(subset=[group, x, y])
    g = d.groupby(group, sort=True, observed=True)
    n = g[x].size()
    xbar, ybar = g[x].mean(), g[y].mean()
    codes = g.ngroup().to_numpy()
    xv = d[x].to_numpy(dtype=float)
    X = np.column_stack([np.ones(len(xv)), xv])
    est = np.full((len(n), 6), np.nan)  # intercept, slope, rss, xtxi00, xtxi01, xtxi11
    for j, (keep, core) in enumerate(_group_fits(X, d[y].to_numpy(dtype=float), codes, len(n))):
        if core is not None and keep == [0, 1]:
            V = core.xtx_inv
            est[j] = [core.beta[0], core.beta[1], core.rss, V[0, 0], V[0, 1], V[1, 1]]
    out = pd.DataFrame(est, index=n.index, columns=["intercept", "slope", "rss", "xtxi00", "xtxi01", "xtxi11"])
    out.insert(0, "n", n)
    out["xbar"] = xbar
    out["ybar"] = ybar
    if by is not None:
        nlev = g[by].nunique()
        if (nlev > 1).any():
            raise ValueError(f"{by!r} must be constant within each {group!r} (a group-level variable)")
        out[by] = g[by].first()
    out.index.name = group
    return out
