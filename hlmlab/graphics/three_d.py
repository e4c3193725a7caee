r"""Three dimensions: a 3-D scatter with an ellipsoid, and the BLUPs of three random effects.

=========  ================================================================
scatter3d  3-D scatter, optionally with an ellipsoid
ranef3d    BLUPs of three random effects with the G ellipsoid
=========  ================================================================
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hlmlab.graphics import geometry as geo
from hlmlab.graphics._axes import equal_limits, need
from hlmlab.graphics._fits import group_values, ranef_frame
from hlmlab.graphics.palette import palette
from hlmlab.inference.grid import factor_levels

__all__ = ["scatter3d", "ranef3d"]


def scatter3d(
    data: pd.DataFrame,
    x: str,
    y: str,
    z: str,
    hue: str | None = None,
    shape: Any = None,
    center: Any = None,
    radius: float = 1.0,
    ax: Any = None,
    elev: float = 20,
    azim: float = -60,
    equal_aspect: bool = False,
) -> Any:
    r"""3-D scatter of three columns, coloured by ``hue``, optionally with an ellipsoid.

    With ``shape`` (a 3 × 3 PSD matrix, e.g. G), the wireframe of the
    ellipsoid {c + r A u : ``|u|`` = 1}, A A' = shape, centred at ``center``
    (default the origin); a flat ellipsoid means a nearly singular shape
    (see :func:`hlmlab.geometry.shape_summary`).

    Parameters
    ----------
    equal_aspect : bool
        Same scale on the three axes: each axis gets the limits
        m_k ± h, m_k the midpoint of the k-th coordinate's range (points and
        ellipsoid) and h the largest half-range, and the box is a cube
        (``ax.set_box_aspect((1, 1, 1))``). Then lengths and angles are true
        and a flat ("pancake") ellipsoid looks flat; with the default
        (False) matplotlib stretches each axis to its own range, which can
        make a pancake look round.
    """
    need(data, x, y, z, hue)
    if ax is None:
        fig = plt.figure(figsize=(6.5, 5.5))
        ax = fig.add_subplot(projection="3d")
    levels = factor_levels(data[hue]) if hue is not None else ["all"]
    colors = palette(levels)
    for lev in levels:
        d = data if hue is None else data[data[hue] == lev]
        ax.scatter(d[x], d[y], d[z], color=colors[lev], s=14, label=None if hue is None else str(lev))
    pts = [data[[x, y, z]].to_numpy(dtype=float)]
    if shape is not None:
        X, Y, Z = geo.ellipsoid(np.zeros(3) if center is None else center, shape, radius, n=25)
        ax.plot_wireframe(X, Y, Z, color="gray", lw=0.4, alpha=0.6)
        pts.append(np.column_stack([X.ravel(), Y.ravel(), Z.ravel()]))
    if equal_aspect:
        equal_limits(ax, np.vstack(pts))
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_zlabel(z)
    ax.view_init(elev=elev, azim=azim)
    if hue is not None:
        ax.legend(title=hue, fontsize=8)
    return ax


def ranef3d(fit: Any, by: str | None = None, group: str | None = None, radius: float = 1.0, **kw: Any) -> Any:
    """BLUPs of three random effects in 3-D with the dispersion ellipsoid of G (radius 1: ± 1 SD shadows).

    The ellipsoid is centred at 0, the mean of the random effects; the
    BLUPs vary less than G (shrinkage), so most lie well inside it. Other
    keywords go to :func:`scatter3d` (``equal_aspect=True`` shows a flat G
    truthfully; ``elev``, ``azim``, ``ax``).
    """
    re = ranef_frame(fit)
    if re.shape[1] != 3:
        raise ValueError(f"ranef3d needs 3 random effects; the fit has {re.shape[1]}")
    frame = re.copy()
    if by is not None:
        frame[by] = group_values(fit, by, re.index, group)
    G = fit.G if not isinstance(fit.G, dict) else list(fit.G.values())[-1]
    cols = [str(c) for c in re.columns]
    frame.columns = cols + ([by] if by is not None else [])
    return scatter3d(frame, *cols, hue=by, shape=np.asarray(G, float), radius=radius, **kw)
