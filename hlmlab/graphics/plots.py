r"""The course's pictures, one function each: the public namespace ``hl.plots``.

Every function draws with matplotlib (seaborn for faceted panels), returns
what it drew (an Axes, an array of Axes, or a seaborn FacetGrid), takes
``ax=`` when it draws a single panel, and labels its axes. They live in
modules by family and are all importable from here; the numbers behind the
pictures live below the graphics (:mod:`hlmlab.graphics.geometry`,
:mod:`hlmlab.graphics.betaspace`, :mod:`hlmlab.lmm.lines`,
:mod:`hlmlab.inference.grid`), and the colours in
:mod:`hlmlab.graphics.palette`.

==================  =========================================================
*data*              :mod:`hlmlab.graphics.data`
quantile_plots      uniform or normal quantile plot of every column of a frame
trellis             a panel per group (ordered by a variable): points, LS line,
                    data ellipse, smoother
panels              panels by a factor, colour groups within, a line per group
*beta space*        :mod:`hlmlab.graphics.betaplots`
confidence_plot     coverage and shadows ellipses of two coefficients (or L beta)
beta_space          per-group OLS lines as points, per-level data ellipses and
                    the four methods' confidence ellipses
beta_difference     the difference between two levels in beta space
lines_and_points    the same lines in data space and in beta space
dispersion_plot     G, sigma²(X_j'X_j)^{-1} and V_j around gamma
*shrinkage*         :mod:`hlmlab.graphics.shrinkage`
shrinkage           BLUE to BLUP against group size (one-way model);
                    shrinkage_points draws it from arrays
shrinkage_beta      BLUE to BLUP in beta space, with both ellipses
*effects*           :mod:`hlmlab.graphics.effects`
effect_plot         predictions on a grid with pointwise bands
gap_plot            the difference between two levels along a covariate
*diagnostics*       :mod:`hlmlab.graphics.diagnostics`
qq_plot             normal quantile plot of values, by a factor
qq_residuals        ... of a fit's (level-1) residuals
qq_ranef            ... of the BLUPs, a panel per random effect
residuals_fitted    residuals against fitted values, with a smoother
scale_location      sqrt|standardized residual| against fitted
influence_plot      change in each coefficient when each group is dropped
*3-D*               :mod:`hlmlab.graphics.three_d`
scatter3d           3-D scatter, optionally with an ellipsoid
ranef3d             BLUPs of three random effects with the G ellipsoid
*helpers*           :mod:`hlmlab.graphics._axes`
draw_ellipse        one Ellipse on an Axes
smooth              a local-linear smoother
==================  =========================================================
"""

from __future__ import annotations

from hlmlab.graphics._axes import draw_ellipse, smooth
from hlmlab.graphics.betaplots import beta_difference, beta_space, confidence_plot, dispersion_plot, lines_and_points
from hlmlab.graphics.data import panels, quantile_plots, trellis
from hlmlab.graphics.diagnostics import (
    influence_plot,
    qq_plot,
    qq_ranef,
    qq_residuals,
    residuals_fitted,
    scale_location,
)
from hlmlab.graphics.effects import effect_plot, gap_plot
from hlmlab.graphics.palette import LEVEL_COLORS, METHOD_COLORS, METHOD_LABELS, SECTOR_COLORS, palette
from hlmlab.graphics.shrinkage import shrinkage, shrinkage_beta, shrinkage_points
from hlmlab.graphics.three_d import ranef3d, scatter3d

__all__ = [
    "SECTOR_COLORS",
    "METHOD_COLORS",
    "METHOD_LABELS",
    "LEVEL_COLORS",
    "palette",
    "smooth",
    "quantile_plots",
    "trellis",
    "panels",
    "draw_ellipse",
    "confidence_plot",
    "beta_space",
    "beta_difference",
    "lines_and_points",
    "dispersion_plot",
    "shrinkage",
    "shrinkage_beta",
    "effect_plot",
    "gap_plot",
    "qq_plot",
    "residuals_fitted",
    "scale_location",
    "influence_plot",
    "scatter3d",
    "shrinkage_points",
    "qq_residuals",
    "qq_ranef",
    "ranef3d",
]
