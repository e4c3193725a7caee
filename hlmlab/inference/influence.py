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


def dropone(fit, by: str, groups: list | None = None, progress: bool = True) -> DropOne:
    """Refit the model without each group of ``by`` in turn.

    Returns a :class:`DropOne` with the coefficient changes in SE units,
    (beta_(-g) - beta) / SE(beta), one row per group; coefficients a refit
    cannot estimate (its group held the only data for them) are NaN.
    ``groups`` restricts the groups dropped (default: all groups in the fit).
    A refit that fails leaves a row of NaN and a line in ``messages``.
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
    from tqdm.auto import tqdm

    for g in tqdm(groups, desc="dropone", disable=not progress):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = fit.refit(data=data[data[by] != g])
            rows[g] = f.fixef.reindex(b.index)
        except Exception as err:
            messages.append(f"{by}={g}: {err}")
            rows[g] = pd.Series(np.nan, index=b.index)
    fixef = pd.DataFrame(rows).T
    fixef.index.name = by
    changes = (fixef - b) / se
    d = (fixef - b).to_numpy()
    with np.errstate(invalid="ignore"):
        cook = pd.Series(np.einsum("ij,jk,ik->i", d, Vinv, d) / len(b), index=fixef.index, name="cook")
    return DropOne(by, fixef, changes, cook, messages)
