"""hlmlab: hierarchical and mixed models for the course book.

The package follows the path of a fit, and imports only go down this list:

========================  ===================================================
``hlmlab.multilevel``     the course data and the multilevel data tools
``hlmlab.formula``        formulas to fixed and random designs
``hlmlab.ddf``            denominator degrees of freedom (nlme, Satterthwaite, Kenward-Roger)
``hlmlab.ols``            OLS: ``lm`` and ``lmlist`` (the one per-group OLS)
``hlmlab.lmm``            linear mixed models: parse, criterion, optimise, package
``hlmlab.inference``      L matrices, Wald tests, likelihood ratios, influence, R²
``hlmlab.graphics``       ellipses, beta space and the course's plots
``hlmlab.teaching``       the notes' simulation and its widgets
========================  ===================================================

The names a chapter uses most are importable from the top level, and the
plotting modules are attributes of the package; both load on first use
(PEP 562), so ``import hlmlab`` loads no plotting or widget library::

    import hlmlab as hl
    hs = hl.load_data("hs")
    hs["ses_mean"] = hl.cvar(hs["ses"], hs["school"])
    fit = hl.lme("mathach ~ ses * Sector", hs, random="~ 1 + ses | school")
    hl.wald(fit, "Sector")
    hl.plots.shrinkage_beta(fit, "ses")       # hl.geometry, hl.betaspace, hl.simulation, hl.widgets too
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_NAMES = {
    "load_data": "hlmlab.multilevel.datasets",
    **dict.fromkeys(["capply", "cvar", "dvar", "gicc", "gvars", "some", "tab", "up"], "hlmlab.multilevel.tools"),
    "lm": "hlmlab.ols.fit",
    "lmlist": "hlmlab.ols.lmlist",
    "lme": "hlmlab.lmm.model",
    "lmer": "hlmlab.lmm.lmer",
    **dict.fromkeys(["lrows", "pairwise", "lgrid", "ldiff"], "hlmlab.inference.hypotheses"),
    **dict.fromkeys(["wald", "glh"], "hlmlab.inference.wald"),
    **dict.fromkeys(["anova", "simulate_lrt"], "hlmlab.inference.lrt"),
    "dropone": "hlmlab.inference.influence",
    "r2_multilevel": "hlmlab.inference.r2",
    "simulate_schools": "hlmlab.teaching.simulation",
    **dict.fromkeys(
        [
            "HlmlabWarning",
            "ConvergenceWarning",
            "SingularFitWarning",
            "HessianWarning",
            "DroppedRowsWarning",
            "ComparisonWarning",
            "IdentifiabilityWarning",
        ],
        "hlmlab.exceptions",
    ),
}

#: modules reachable as attributes, e.g. ``hl.plots``
_MODULES = {
    "plots": "hlmlab.graphics.plots",
    "geometry": "hlmlab.graphics.geometry",
    "betaspace": "hlmlab.graphics.betaspace",
    "simulation": "hlmlab.teaching.simulation",
    "widgets": "hlmlab.teaching.widgets",
}

__all__ = sorted(_NAMES) + sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    else:
        raise AttributeError(f"module 'hlmlab' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
