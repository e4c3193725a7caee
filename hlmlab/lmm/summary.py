"""Printing a mixed-model fit as nlme does: text for the console, tables for notebooks.

Numbers are rounded here, for reading, never in the fit itself.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hlmlab._format import g, text_table

__all__ = ["Intervals", "LmeSummary", "format_lme_summary", "html_lme_summary"]


def _abbrev(name: str, width: int = 6) -> str:
    """Short column labels for correlation tables, like R's abbreviate: (Intercept) -> (Intr)."""
    if name == "(Intercept)":
        return "(Intr)"
    if len(name) <= width:
        return name
    keep = "".join(ch for i, ch in enumerate(name) if i == 0 or ch not in "aeiou")
    return keep[:width]


def _random_block(fit: Any) -> list[str]:
    lines = ["Random effects:"]
    D = len(fit.levels)
    vc = fit.varcorr()
    for l, lev in enumerate(fit.levels):
        sd = vc.sd(l)
        last = l == D - 1
        lines.append(f" Formula: {lev.formula.split('|')[0].strip()} | {_nlme_group_name(fit, l)}")
        if lev.q == 1:
            names = list(lev.znames) + (["Residual"] if last else [])
            vals = list(sd) + ([fit.sigma] if last else [])
            w = [max(len(n), len(g(v))) for n, v in zip(names, vals)]
            lines.append("        " + " ".join(n.rjust(k) for n, k in zip(names, w)))
            lines.append("StdDev: " + " ".join(g(v).rjust(k) for v, k in zip(vals, w)))
        else:
            lines.append(" Structure: General positive-definite")
            R = vc.corr(l)
            names = list(lev.znames) + (["Residual"] if last else [])
            nw = max(len(n) for n in names)
            sds = [g(v) for v in sd] + ([g(fit.sigma)] if last else [])
            sw = max(len(v) for v in sds + ["StdDev"])
            lines.append(" " * nw + " " + "StdDev".ljust(sw) + " Corr")
            abbr = " ".join(_abbrev(z).ljust(6) for z in lev.znames[:-1])
            for i, z in enumerate(lev.znames):
                cors = abbr if i == 0 else " ".join(f"{R[i, j]:.3f}".ljust(6) for j in range(i))
                lines.append(z.ljust(nw) + " " + sds[i].ljust(sw) + " " + cors)
            if last:
                lines.append("Residual".ljust(nw) + " " + sds[-1].ljust(sw))
        lines.append("")
    return lines


def _nlme_group_name(fit: Any, l: int) -> str:
    """nlme writes an inner level of board/school as 'school %in% board'; a level of an
    uncorrelated term (``||``) that repeats a grouping keeps its own name (``Subject.1``, as lme4)."""
    lev = fit.levels[l]
    f = lev.factors
    if any(other.factors == f for other in fit.levels[:l]):
        return lev.name
    if len(f) == 1:
        return f[0]
    return f"{f[-1]} %in% {'/'.join(f[:-1])}"


def _fixedtext_table(fit: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Value": fit.fixef,
            "Std.Error": fit.se,
            "DF": fit.df.astype(int),
            "t-value": fit.tvalue,
            "p-value": fit.pvalue,
        }
    )


def _fixed_text(fit: Any) -> list[str]:
    t = _fixedtext_table(fit).astype(object)
    t["p-value"] = [f"{p:.4f}" for p in _fixedtext_table(fit)["p-value"]]
    for c in ("Value", "Std.Error", "t-value"):
        t[c] = [g(v) for v in _fixedtext_table(fit)[c]]
    t["DF"] = [str(int(v)) for v in _fixedtext_table(fit)["DF"]]
    return [f"Fixed effects:  {fit.fixed}", t.to_string()]


def _corr_text(fit: Any) -> list[str]:
    V = fit.vcov.to_numpy()
    p = V.shape[0]
    if p < 2:
        return []
    s = np.sqrt(np.diag(V))
    C = V / np.outer(s, s)
    names = fit.design.names
    abbr = [_abbrev(n) for n in names[:-1]]
    nw = max(len(n) for n in names[1:])
    lines = [" Correlation: ", " " * (nw + 1) + " ".join(a.ljust(6) for a in abbr)]
    for i in range(1, p):
        lines.append(names[i].ljust(nw) + " " + " ".join(f"{C[i, j]:.3f}".rjust(6) for j in range(i)))
    return lines


def _resid_text(fit: Any) -> list[str]:
    r = fit.residuals(type="pearson").to_numpy()
    q = np.quantile(r, [0, 0.25, 0.5, 0.75, 1])
    names = ["Min", "Q1", "Med", "Q3", "Max"]
    vals = [g(v) for v in q]
    w = [max(len(a), len(b)) + 1 for a, b in zip(names, vals)]
    return [
        "Standardized Within-Group Residuals:",
        "".join(n.rjust(k) for n, k in zip(names, w)),
        "".join(v.rjust(k) for v, k in zip(vals, w)),
    ]


def _groups_text(fit: Any) -> list[str]:
    lines = [f"Number of Observations: {fit.nobs}"]
    if fit.n_dropped:
        lines[0] += f" ({fit.n_dropped} rows with missing values dropped)"
    if len(fit.levels) == 1:
        lines.append(f"Number of Groups: {fit.levels[0].ngroups}")
    else:
        names = [_nlme_group_name(fit, l) for l in range(len(fit.levels))]
        counts = [str(lev.ngroups) for lev in fit.levels]
        w = [max(len(a), len(b)) for a, b in zip(names, counts)]
        lines.append("Number of Groups: ")
        lines.append(" ".join(n.rjust(k) for n, k in zip(names, w)))
        lines.append(" ".join(c.rjust(k) for c, k in zip(counts, w)))
    return lines


def _warnings_text(fit: Any) -> list[str]:
    out = []
    if not fit.converged:
        out.append("WARNING: the fit did not pass its convergence check.")
    out += [f"Note: {m}" for m in fit.messages]
    return out


def format_lme_summary(fit: Any, brief: bool = False) -> str:
    """nlme's ``summary`` (or, with ``brief``, ``print``) layout as text."""
    header = [
        f"Linear mixed-effects model fit by {'REML' if fit.method == 'REML' else 'maximum likelihood'}",
        f"  Data: {fit.data_name}",
    ]
    if brief:
        like = "Log-restricted-likelihood" if fit.method == "REML" else "Log-likelihood"
        fe = fit.fixef
        lines = header + [f"  {like}: {g(fit.loglik)}", f"  Fixed: {fit.fixed}"]
        lines += [
            pd.DataFrame([fe.to_numpy()], columns=fe.index).to_string(index=False, float_format=lambda v: g(v)),
            "",
        ]
        lines += _random_block(fit) + _groups_text(fit) + _warnings_text(fit)
        return "\n".join(lines)
    crit = pd.DataFrame({"AIC": [fit.aic], "BIC": [fit.bic], "logLik": [fit.loglik]})
    lines = header + [
        "\n".join("  " + s for s in crit.to_string(index=False, float_format=lambda v: g(v)).splitlines()),
        "",
    ]
    lines += _random_block(fit)
    lines += _fixed_text(fit) + _corr_text(fit) + [""] + _resid_text(fit) + [""]
    lines += _groups_text(fit) + _warnings_text(fit)
    return "\n".join(lines)


def _html(df: pd.DataFrame, caption: str, digits: int = 7) -> str:
    table = df.to_html(float_format=lambda v: g(v, digits), border=0, na_rep="")
    head, rest = table.split(">", 1)
    return f"{head}><caption>{html.escape(caption)}</caption>{rest}"


def html_lme_summary(fit: Any, full: bool = False) -> str:
    """Tables for a notebook: criteria, variance components, fixed effects."""
    method = "REML" if fit.method == "REML" else "maximum likelihood"
    head = (
        f"<p><b>Linear mixed-effects model fit by {method}</b><br>"
        f"Data: {html.escape(str(fit.data_name))}; fixed: <code>{html.escape(fit.fixed)}</code>; "
        f"random: <code>{html.escape(str(fit.random))}</code><br>"
        f"{fit.nobs} observations"
        + (f" ({fit.n_dropped} rows with missing values dropped)" if fit.n_dropped else "")
        + "; groups: "
        + ", ".join(f"{html.escape(lev.name)} {lev.ngroups}" for lev in fit.levels)
        + "</p>"
    )
    crit = pd.DataFrame({"AIC": [fit.aic], "BIC": [fit.bic], "logLik": [fit.loglik]}, index=[""])
    vc = fit.varcorr().frame()
    vc = vc.astype(object).where(vc.notna(), "")
    fixed = _fixedtext_table(fit).astype(object)
    fixed["p-value"] = [f"{p:.4f}" for p in fit.pvalue]  # as the text summary prints it
    parts = [head, _html(crit, "Criteria"), _html(vc, "Random effects"), _html(fixed, "Fixed effects")]
    warn = _warnings_text(fit)
    if warn:
        parts.append("<p style='color:#a00'>" + "<br>".join(html.escape(w) for w in warn) + "</p>")
    return "\n".join(parts)


@dataclass
class Intervals:
    """Confidence intervals of a mixed-model fit (nlme's ``intervals``).

    Attributes
    ----------
    level : float
    fixed : DataFrame (lower, est., upper) for the fixed effects
    varpar : DataFrame or None
        SDs, correlations (per level) and sigma; None when they could not be computed.
    message : str or None
        Why the variance intervals are missing.
    """

    level: float
    fixed: pd.DataFrame
    varpar: pd.DataFrame | None
    message: str | None = None

    def __repr__(self) -> str:
        lines = [
            f"Approximate {self.level:.0%} confidence intervals",
            "",
            " Fixed effects:",
            text_table(self.fixed),
            "",
        ]
        if self.varpar is not None:
            lines += [" Random effects and residual SD:", text_table(self.varpar)]
        else:
            lines += [f" Random effects: {self.message}"]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [_html(self.fixed, f"Fixed effects ({self.level:.0%})")]
        if self.varpar is not None:
            parts.append(_html(self.varpar, "Random effects and residual SD"))
        else:
            parts.append(f"<p>{html.escape(str(self.message))}</p>")
        return "\n".join(parts)


class LmeSummary:
    """The printed summary of a mixed-model fit (nlme's layout as text, tables in a notebook)."""

    def __init__(self, fit: Any):
        self.fit = fit

    def __repr__(self) -> str:
        return format_lme_summary(self.fit)

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_html_(self) -> str:
        return html_lme_summary(self.fit, full=True)
