"""Warnings hlmlab issues, as classes a user's code can catch or filter.

Every problem with a fit is kept on the fit (``fit.messages``, and in its
summary) and also issued through Python's :mod:`warnings`, pointing at the
user's line, so that a script or a notebook shows it::

    import warnings
    import hlmlab as hl

    with warnings.catch_warnings():
        warnings.simplefilter("error", hl.SingularFitWarning)   # make it an exception
        fit = hl.lme(...)

A well-posed fit at its optimum issues none.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = [
    "HlmlabWarning",
    "ConvergenceWarning",
    "SingularFitWarning",
    "HessianWarning",
    "DroppedRowsWarning",
    "ComparisonWarning",
    "IdentifiabilityWarning",
    "warn",
]

_PACKAGE_DIR = str(Path(__file__).resolve().parent)


class HlmlabWarning(UserWarning):
    """Base class of hlmlab's warnings."""


class ConvergenceWarning(HlmlabWarning):
    """The optimum failed a convergence check: the estimates may not be the maximum likelihood ones."""


class SingularFitWarning(HlmlabWarning):
    """The random-effects covariance is on the boundary: a zero SD or a correlation of +-1."""


class HessianWarning(HlmlabWarning):
    """The Hessian of the criterion is not positive definite: standard errors or intervals may be unreliable."""


class DroppedRowsWarning(HlmlabWarning):
    """Rows with missing values in a variable of the model were left out of the fit."""


class IdentifiabilityWarning(HlmlabWarning):
    """The design cannot tell some random effects apart (a random slope of a variable constant within groups)."""


class ComparisonWarning(HlmlabWarning):
    """Fits compared by ``anova`` are not a nested pair in order: the smaller first, its terms in the larger."""


def _user_stacklevel() -> int:
    """The stacklevel of the first frame outside hlmlab (the user's line), as :func:`warnings.warn` counts."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def warn(message: str, category: type[HlmlabWarning]) -> None:
    """Issue ``message`` as ``category``, attributed to the user's line that called into hlmlab."""
    warnings.warn(message, category, stacklevel=_user_stacklevel())
