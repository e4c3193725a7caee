"""The book's colours: the one place hlmlab defines them.

Every plot takes its colours from here, so a sector, a method or a level of a
factor has the same colour in every chapter.

===============  ============================================================
SECTOR_COLORS    the school sector: Catholic blue, Public red
METHOD_COLORS    the four methods of beta space (pooled, fixed, two-stage,
                 between), kept apart from the levels' colours
METHOD_LABELS    the methods' names in legends
LEVEL_COLORS     the levels of any other factor, in order
palette          colours for the levels of a factor
===============  ============================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["SECTOR_COLORS", "METHOD_COLORS", "METHOD_LABELS", "LEVEL_COLORS", "palette"]

#: The book's one colouring of the school sector, used by every plot and chapter.
SECTOR_COLORS = {"Catholic": "tab:blue", "Public": "tab:red"}

#: The four methods of beta space (:mod:`hlmlab.graphics.betaspace`).
METHOD_COLORS = {"pooled": "black", "fixed": "tab:green", "two-stage": "tab:purple", "between": "tab:orange"}
METHOD_LABELS = {
    "pooled": "pooled OLS",
    "fixed": "fixed effects",
    "two-stage": "two-stage (MANOVA)",
    "between": "between groups",
}

#: Levels of a factor other than the sector, in order (none of the methods' colours).
LEVEL_COLORS = ["tab:blue", "tab:red", "tab:cyan", "tab:pink", "tab:olive", "tab:brown", "tab:gray"]


def palette(levels: Sequence, palette: Any = None) -> dict:
    """Colours for the levels of a factor, as ``{level: colour}``.

    The sector's levels always get :data:`SECTOR_COLORS`, whatever their
    order; up to seven other levels get :data:`LEVEL_COLORS` in order; more
    levels, or a named seaborn ``palette``, get that palette (``"husl"`` by
    default) spread over the levels.
    """
    if palette is None and set(levels) <= set(SECTOR_COLORS):
        return {lev: SECTOR_COLORS[lev] for lev in levels}
    if palette is None and len(levels) <= len(LEVEL_COLORS):
        return dict(zip(levels, LEVEL_COLORS))
    import seaborn as sns  # only for many levels or a named palette

    cols = sns.color_palette(palette or "husl", len(levels))
    return dict(zip(levels, cols))
