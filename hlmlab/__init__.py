"""hlmlab: hierarchical and mixed models for the course book.

The functions a chapter uses most are importable from the top level, and the
modules for pictures and simulation are attributes of the package::

    import hlmlab as hl
    hs = hl.load_data("hs")
    hs["ses_mean"] = hl.cvar(hs["ses"], hs["school"])
    fit = hl.lme("mathach ~ ses * Sector", hs, random="~ 1 + ses | school")
    hl.wald(fit, "Sector")
    hl.plots.shrinkage_beta(fit, "ses")       # hl.geometry, hl.simulation, hl.widgets too
"""
from . import geometry, plots, simulation, widgets
from .datasets import load_data
from .inference import anova, dropone, glh, ldiff, lgrid, lrows, pairwise, r2_multilevel, simulate_lrt, wald
from .lme import lme
from .ols import lm, lmlist
from .simulation import simulate_schools
from .tools import capply, cvar, dvar, gicc, gvars, some, tab, up

__version__ = "0.1.0"

__all__ = ["load_data", "capply", "cvar", "dvar", "gicc", "gvars", "some", "tab", "up"]
__all__ += ["lm", "lmlist", "wald", "glh", "lrows", "pairwise", "lgrid", "ldiff",
            "anova", "simulate_lrt", "dropone", "r2_multilevel"]
__all__ += ["lme", "simulate_schools", "geometry", "plots", "simulation", "widgets"]
