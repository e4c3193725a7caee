"""hlmlab: hierarchical and mixed models for the course book.

Data and multilevel tools are importable from the top level::

    import hlmlab as hl
    hs = hl.load_data("hs")
    hs["ses_mean"] = hl.cvar(hs["ses"], hs["school"])
"""
from .datasets import load_data
from .tools import capply, cvar, dvar, gicc, gvars, some, tab, up
from .ols import lm, lmlist
from .lme import lme
from .inference import anova, dropone, glh, ldiff, lgrid, lrows, pairwise, r2_multilevel, simulate_lrt, wald

__version__ = "0.1.0"

__all__ = ["load_data", "capply", "cvar", "dvar", "gicc", "gvars", "some", "tab", "up"]
__all__ += ["lm", "lmlist", "wald", "glh", "lrows", "pairwise", "lgrid", "ldiff",
            "anova", "simulate_lrt", "dropone", "r2_multilevel"]
__all__ += ["lme"]
