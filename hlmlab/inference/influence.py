"""Influence of groups: refit without each group (``dropone``).

For each group g of ``by``: beta_(-g), the fit without g; the change
(beta_(-g) - beta) / SE(beta) in SE units of the full fit; and a group-level
Cook's distance (beta - beta_(-g))' V^{-1} (beta - beta_(-g)) / p.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hlmlab._format import html_table
from hlmlab._parallel import resolve_jobs, run_chunks
from hlmlab.inference.grid import used_data

__all__ = ["dropone", "DropOne"]


@dataclass
class DropOne:
    """Coefficients refitted without each group.

    ``fixef``: one row per dropped group, the refitted beta_(-g);
    ``changes``: (beta_(-g) - beta) / SE(beta), in SE units of the full fit;
    ``cook``: (beta - beta_(-g))' V^{-1} (beta - beta_(-g)) / p, a group-level
    Cook's distance.
    """

    by: str
    fixef: pd.DataFrame
    changes: pd.DataFrame
    cook: pd.Series
    messages: list[str] = field(default_factory=list)

    def most_influential(self, k: int = 5) -> pd.DataFrame:
        """The k groups with the largest absolute change in any coefficient."""
        big = self.changes.abs().max(axis=1)
        worst = self.changes.abs().idxmax(axis=1)
        out = pd.DataFrame({"max |change| (SE)": big, "coefficient": worst, "cook": self.cook})
        return out.sort_values("max |change| (SE)", ascending=False).head(k)

    def __repr__(self) -> str:
        head = f"Drop-one-{self.by} influence ({len(self.changes)} groups); most influential:\n"
        return head + self.most_influential().to_string()

    def _repr_html_(self) -> str:
        return html_table(self.most_influential(), f"Drop one {self.by}: most influential", "{:.4g}")


def _refit_without(fit, data: pd.DataFrame):
    """The fit from its formula on other data, searched from the fit's own optimum when it can be."""
    warm = getattr(fit, "refit_warm", None)
    return warm(data) if warm is not None else fit.refit(data=data)


def _drop_chunk(shared: tuple, idx: np.ndarray) -> tuple[list[pd.Series], list[str]]:
    """beta refitted without each of the groups ``groups[i]``, i in idx (NaN and a message when a refit fails)."""
    fit, by, groups = shared
    data = fit.data
    out, messages = [], []
    for i in idx:
        g = groups[i]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = _refit_without(fit, data[data[by] != g])
            if not getattr(f, "converged", True):
                messages.append(f"{by}={g}: the refit did not pass its convergence check ({'; '.join(f.messages)})")
            out.append(f.fixef)
        except Exception as err:
            messages.append(f"{by}={g}: {err}")
            out.append(pd.Series(np.nan, index=fit.fixef.index))
    return out, messages


def dropone(fit, by: str, groups: list | None = None, progress: bool = True, n_jobs: int | None = 1) -> DropOne:
    """Refit the model without each group of ``by`` in turn.

    Returns a :class:`DropOne` with the coefficient changes in SE units,
    (beta_(-g) - beta) / SE(beta), one row per group; coefficients a refit
    cannot estimate (its group held the only data for them) are NaN.
    ``groups`` restricts the groups dropped (default: all groups in the fit).
    A refit that fails leaves a row of NaN and a line in ``messages``.

    Each refit evaluates the formulas afresh on the other rows (as R would:
    a factor level, a centring or a group mean that depends on the rows left
    is recomputed), and a mixed model's search starts from the full fit's
    optimum (:meth:`~hlmlab.lmm.fit.LmeFit.refit_warm`), which roughly halves
    the cost of each refit. ``n_jobs`` worker processes share the refits
    (-1: one per core); the result does not depend on it.
    """
    data = fit.data
    if by not in data.columns:
        raise KeyError(f"grouping column {by!r} not found; available columns: {list(data.columns)}")
    b = fit.fixef
    se = fit.se
    Vinv = np.linalg.inv(np.asarray(fit.vcov, dtype=float))
    used = used_data(fit).reset_index(drop=True)
    present = pd.unique(used[by].dropna())
    present = np.sort(present) if np.asarray(present).dtype.kind in "iufU" else present
    if groups is None:
        groups = present
    else:
        unknown = [g for g in groups if g not in set(present)]
        if unknown:
            raise ValueError(f"group(s) {unknown} of {by!r} are not in the fit")
    rows, messages = {}, []
    groups = list(groups)
    jobs = resolve_jobs(n_jobs)
    for idx, (betas, notes) in run_chunks(_drop_chunk, (fit, by, groups), len(groups), jobs, progress, "dropone"):
        for i, beta in zip(idx, betas):
            rows[groups[i]] = beta.reindex(b.index)
        messages += notes
    fixef = pd.DataFrame(rows).T
    fixef.index.name = by
    changes = (fixef - b) / se
    d = (fixef - b).to_numpy()
    with np.errstate(invalid="ignore"):
        cook = pd.Series(np.einsum("ij,jk,ik->i", d, Vinv, d) / len(b), index=fixef.index, name="cook")
    return DropOne(by, fixef, changes, cook, messages)
