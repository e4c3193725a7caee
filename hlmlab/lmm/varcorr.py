"""Variance components of a fitted mixed model: one type, used by the summary, the intervals and the plots.

At each level l of random effects, G_l = Var(b_j) = sigma² T_l T_l' (q_l x q_l);
its square-rooted diagonal gives the SDs, and R_l = D^-1 G_l D^-1 the
correlations (D = diag of the SDs). The residual SD sigma ends the table,
as in nlme's ``VarCorr``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hlmlab._format import g, html_table

__all__ = ["VarCorr"]


@dataclass(frozen=True, eq=False)
class VarCorr:
    """Random-effects covariances by level (outermost first) and the residual SD.

    Attributes
    ----------
    levels : tuple of str
        The grouping level of each block, outermost first.
    terms : tuple of tuple of str
        The random-effect names at each level, e.g. ("(Intercept)", "ses").
    G : tuple of ndarray
        sigma² T_l T_l' for each level.
    sigma : float
        The residual SD.
    """

    levels: tuple[str, ...]
    terms: tuple[tuple[str, ...], ...]
    G: tuple[np.ndarray, ...]
    sigma: float

    def _index(self, level: int | str | None) -> int:
        if level is None:
            return len(self.levels) - 1
        if isinstance(level, str):
            if level not in self.levels:
                raise KeyError(f"no level {level!r}; the levels are {list(self.levels)}")
            return self.levels.index(level)
        return int(level)

    def cov(self, level: int | str | None = None) -> pd.DataFrame:
        """G at one level (default the innermost), labelled by its terms."""
        l = self._index(level)
        return pd.DataFrame(self.G[l], index=list(self.terms[l]), columns=list(self.terms[l]))

    def sd(self, level: int | str | None = None) -> np.ndarray:
        """sqrt(diag(G_l))."""
        return np.sqrt(np.diag(self.G[self._index(level)]))

    def corr(self, level: int | str | None = None) -> np.ndarray:
        """R_l = D^-1 G_l D^-1 (NaN where an SD is zero)."""
        G = self.G[self._index(level)]
        sd = np.sqrt(np.diag(G))
        with np.errstate(invalid="ignore", divide="ignore"):
            return G / np.outer(sd, sd)

    def frame(self) -> pd.DataFrame:
        """The table: one row per (level, term) then the residual; Variance, StdDev, and correlations.

        The correlation columns are named ``Corr: <term>`` and hold, in each row,
        the correlation with each earlier term of the same level (numbers, NaN
        elsewhere), as nlme prints the lower triangle.
        """
        corr_cols = []
        for t in self.terms:
            for name in t[:-1]:
                if f"Corr: {name}" not in corr_cols:
                    corr_cols.append(f"Corr: {name}")
        rows, index = [], []
        for l, (lev, t) in enumerate(zip(self.levels, self.terms)):
            sd, R = self.sd(l), self.corr(l)
            for i, name in enumerate(t):
                row = {"Variance": self.G[l][i, i], "StdDev": sd[i]}
                row.update({c: np.nan for c in corr_cols})
                for j in range(i):
                    row[f"Corr: {t[j]}"] = R[i, j]
                rows.append(row)
                index.append((lev, name))
        rows.append({"Variance": self.sigma**2, "StdDev": self.sigma, **{c: np.nan for c in corr_cols}})
        index.append(("Residual", ""))
        return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["level", "term"]))

    def __repr__(self) -> str:
        df = self.frame()
        text = pd.DataFrame(index=df.index)
        for c in df.columns:
            fmt = (lambda v: f"{v:.3f}") if c.startswith("Corr") else (lambda v: g(v, 7))
            text[c] = [fmt(v) if np.isfinite(v) else "" for v in df[c]]
        return text.to_string()

    def _repr_html_(self) -> str:
        return html_table(self.frame(), "Variance components", floatfmt="{:.4g}")
