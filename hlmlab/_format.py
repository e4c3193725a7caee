"""How hlmlab prints numbers and tables (for reading only; results keep full precision).

One place for the conventions every printed result shares:

* p-values as R prints them (``< 2e-16`` below machine precision);
* significance stars;
* significant digits (``g``) and a shared number of decimals per column;
* degrees of freedom as integers when whole, two decimals otherwise;
* text tables, and HTML tables with a caption for notebooks;
* the caller's variable name, used only as a label.
"""

from __future__ import annotations

import html
import inspect
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["format_p", "stars", "g", "fixed_decimals", "format_df", "text_table", "html_table", "caller_name"]


def format_p(p: float, eps: float = 2.2e-16) -> str:
    """p-value as R prints it: ``< 2e-16`` below machine precision, else 4 decimals or 3 significant digits."""
    if not np.isfinite(p):
        return "NA"
    if p < eps:
        return "< 2e-16"
    if p < 1e-4:
        return f"{p:.2e}"
    return f"{p:.4f}"


def stars(p: float) -> str:
    """R's significance codes: *** < 0.001 < ** < 0.01 < * < 0.05 < . < 0.1."""
    if not np.isfinite(p):
        return ""
    for cut, s in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return s
    return " "


def g(x: float, digits: int = 7) -> str:
    """``digits`` significant digits; ``NA`` for a missing or infinite value."""
    return f"{x:.{digits}g}" if np.isfinite(x) else "NA"


def fixed_decimals(x: pd.Series) -> pd.Series:
    """A column formatted with one shared number of decimals (at least 4; more for tiny values)."""
    a = np.abs(x.to_numpy(dtype=float))
    a = a[np.isfinite(a) & (a > 0)]
    dec = 4 if a.size == 0 else int(np.clip(3 - np.floor(np.log10(a.min())), 4, 8))
    return x.map(lambda v: f"{v:.{dec}f}" if np.isfinite(v) else "NA")


def format_df(v: float) -> str:
    """Degrees of freedom: an integer when whole (3602), else two decimals (77.35)."""
    if not np.isfinite(v):
        return "NA"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"


def text_table(df: pd.DataFrame, digits: int = 7) -> str:
    """A data frame as text, floats to ``digits`` significant digits."""
    out = df.copy().astype(object)
    for c in df.columns:
        if pd.api.types.is_numeric_dtype(df[c]):
            out[c] = [g(v, digits) if isinstance(v, (float, np.floating)) else str(v) for v in df[c]]
    return out.to_string()


def html_table(df: pd.DataFrame, caption: str = "", floatfmt: str = "{:.4g}") -> str:
    """A data frame as an HTML table with a bold caption above it."""
    body = df.to_html(float_format=lambda v: floatfmt.format(v), na_rep="NA", escape=True)
    return f"<div><p><b>{html.escape(caption)}</b></p>{body}</div>" if caption else body


def caller_name(obj: Any, depth: int = 2, frame: Any = None) -> str | None:
    """The caller's variable name for ``obj`` (``depth`` frames up, or in ``frame``), for labels only."""
    if frame is None:
        frame = inspect.currentframe()
        for _ in range(depth):
            frame = frame.f_back if frame is not None else None
    try:
        if frame is None:
            return None
        for name, val in frame.f_locals.items():
            if val is obj and not name.startswith("_"):
                return name
    except Exception:  # pragma: no cover - cosmetic only
        return None
    finally:
        del frame
    return None
